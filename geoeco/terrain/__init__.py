"""geoeco.terrain.slope."""
