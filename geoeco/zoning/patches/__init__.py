"""geoeco.workflows.zoning.patches."""
