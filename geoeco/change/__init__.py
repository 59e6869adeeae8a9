"""Change over time: trends of yearly raster stacks and transitions between two dates.

Owns: Theil–Sen slopes, the Mann–Kendall test (with the Hamed–Rao variance correction for
autocorrelated series), trend classes and RESTREND residual trends, vectorised over pixels in
chunks (:mod:`.trend`); transition matrices between two class rasters, "improved by at least
one grade" shares and per-zone change tables (:mod:`.transition`).

May import: :mod:`geoeco.catalog`, :mod:`geoeco.core`.
"""
