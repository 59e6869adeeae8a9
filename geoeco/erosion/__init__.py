"""geoeco.erosion.run."""
