"""geoeco.workflows.zoning."""
