"""geoeco.evaluation.run."""
