"""geoeco.workflows.zoning.units."""
