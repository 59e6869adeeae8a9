"""geoeco.service."""
