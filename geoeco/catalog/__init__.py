"""geoeco.catalog."""
