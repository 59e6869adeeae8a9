"""Control units from the zone raster: labels, slivers, county batches, attributes.

Owns: building units per county (:mod:`.build`), labelling and sliver merging (:mod:`.labels`),
county batches in bounded memory (:mod:`.batches`) and per-unit attributes (:mod:`.attributes`).

May import: :mod:`geoeco.zoning.access`, :mod:`geoeco.zoning.rules` and the rooms below zoning.
"""
