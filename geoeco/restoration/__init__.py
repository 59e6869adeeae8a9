"""Restoration priorities: score, Zonation-style rank, budget or target selection, coverage.

Owns: the configuration (:mod:`.config`), scoring (:mod:`.scoring`), ranking (:mod:`.ranking`)
and ``prioritise`` (:mod:`.run`).

May import: :mod:`geoeco.erosion` and the rooms below it.
"""
