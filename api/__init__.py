"""geoeco HTTP API (FastAPI), installed as the import package ``geoeco_api``."""
