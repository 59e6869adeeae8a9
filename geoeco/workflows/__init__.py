"""Whole runs that chain the rooms: the zoning run and the demo, end to end.

Owns: ``run_zoning`` (:mod:`.zoning`: inputs -> zones, units, statistics, restoration, map,
summary; its inputs :mod:`.zoning_inputs`, found in folders by :mod:`.input_folders`, and
files :mod:`.zoning_outputs`), raw inputs folders (``inputs.json``) checked (:mod:`.raw_inputs`)
and analysed -- erosion, desertification, evaluation -- before zoning (:mod:`.analyses`), the
demo region
as zoning input (:mod:`.demo_inputs`), ``run_demo`` and ``zone_demo`` (:mod:`.demo`), the
one cache of demo builds (:mod:`.demo_cache`), zoning runs opened for queries
(:mod:`.runs`), erosion and desertification runs from user options (:mod:`.erosion`), trends
of yearly stacks (:mod:`.stack`, :mod:`.trends`), change between two dates (:mod:`.changes`),
restoration effectiveness (:mod:`.effectiveness`), the demo's series (:mod:`.demo_change`), wind
erosion from user inputs or the demo (:mod:`.wind`), and
the small shared parts of every run (:mod:`.progress`, :mod:`.summaries`).

May import: :mod:`geoeco.maps`, :mod:`geoeco.query` and every room below them.
"""
