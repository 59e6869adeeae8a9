"""Ecological control zones: rule sets, area of interest, the overlay, red-line patches, control
units, access lists and zone statistics.

Owns: zoning rule sets (:mod:`.rules`; shown by :mod:`.rules_view`), the area of interest
(:mod:`.aoi`), the overlay engine (:mod:`.overlay`: zone class, red line, flags; raster, vector
and distributed), red-line patch
clean-up (:mod:`.patches`), control units (:mod:`.units`), access lists and the 三线一单 export
(:mod:`.access`) and area tables (:mod:`.zonestats`).

May import: :mod:`geoeco.catalog`, :mod:`geoeco.core`.
"""
