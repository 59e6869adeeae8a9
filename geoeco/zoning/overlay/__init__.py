"""The zoning overlay engine: rule set + aligned inputs -> zone class, red line and flags.

Owns: binding inputs (:mod:`.inputs`), lookup tables and numba kernels (:mod:`.kernels`),
pass 1 (:mod:`.pass1`), the red line after pass 1 (:mod:`.redline`), the output sink and summary
(:mod:`.outputs`), the raster run (:mod:`.run`: ``compute_zones``), the exact vector mode
(:mod:`.vector`) and every per-tile step on a cluster (:mod:`.distributed`).

May import: :mod:`geoeco.zoning.patches`, :mod:`geoeco.zoning.rules` and the rooms below zoning.
"""
