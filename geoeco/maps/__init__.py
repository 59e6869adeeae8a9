"""Web maps that work offline: folium maps of zoning runs, screenings and scenario comparisons.

The only room that imports folium. Owns: the map frame and offline assets (:mod:`.base`,
:mod:`.assets`), compact map data (:mod:`.data`), the small JavaScript runtime (:mod:`.js`),
vector and raster layers (:mod:`.layers`, :mod:`.overlay`), the zone map (:mod:`.zone`; its
restoration-effectiveness layer in :mod:`.effect`) and screening / comparison maps
(:mod:`.screening`). The public functions are re-exported here.

May import: :mod:`geoeco.restoration`, :mod:`geoeco.evaluation` and the rooms below them.
"""

from .base import map_html
from .screening import compare_map, screening_map
from .zone import zone_map, zone_map_from_run

__all__ = ["compare_map", "map_html", "screening_map", "zone_map", "zone_map_from_run"]
