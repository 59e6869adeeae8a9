"""geoeco.maps.zone."""
