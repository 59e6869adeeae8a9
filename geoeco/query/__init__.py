"""geoeco.query.point."""
