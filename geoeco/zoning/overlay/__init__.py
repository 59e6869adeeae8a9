"""geoeco.workflows.zoning.overlay."""
