"""geoeco.core."""
