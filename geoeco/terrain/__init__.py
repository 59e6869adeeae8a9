"""Terrain from a DEM: slope, flow routing, slope length and steepness (LS), basins.

Owns: Horn slope (:mod:`.slope`), depression filling and D8/MFD routing (:mod:`.routing`), the
LS methods ``dg``, ``lstool`` and ``invest`` and their settings (:mod:`.ls`: ``LSOptions``),
and routing basin by basin in bounded
memory (:mod:`.basins`, :mod:`.ls_tiled`).

May import: :mod:`geoeco.core`.
"""
