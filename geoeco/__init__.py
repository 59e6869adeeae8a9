"""geoeco: ecological control zones for China."""

__version__ = "0.1.0"
