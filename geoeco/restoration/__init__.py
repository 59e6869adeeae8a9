"""geoeco.restoration.run."""
