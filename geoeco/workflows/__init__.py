"""geoeco.workflows."""
