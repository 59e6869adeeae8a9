"""Soil erosion and desertification: factors, grades, vegetation cover, and the windowed runs.

Owns: R, K, C, P and the RUSLE/CSLE products (:mod:`.factors`), SL 190-2007 grades
(:mod:`.grades`), FVC and desertification degree (:mod:`.vegetation`), its settings (:mod:`.config`:
``ErosionConfig``), one window of it (:mod:`.window`), the erosion run (:mod:`.run`:
``run_erosion``), the desertification run
(:mod:`.desertification`) and what they return (:mod:`.results`: ``ErosionResult``,
``DesertificationResult``).

May import: :mod:`geoeco.zoning`, :mod:`geoeco.terrain`, :mod:`geoeco.catalog`,
:mod:`geoeco.core`.
"""
