"""Whole runs that chain the rooms: the zoning run and the demo, end to end.

Owns: ``run_zoning`` (:mod:`.zoning`: inputs -> zones, units, statistics, restoration, map,
summary), ``run_demo`` (:mod:`.demo`) and the cached demo run (:mod:`.demo_cache`).

May import: :mod:`geoeco.maps`, :mod:`geoeco.query` and every room below them.
"""
