"""Real inputs from public catalogs: recipes, catalog access, remote windowed reads, a cache.

Owns: the declarative source recipes (:mod:`.recipes`, files in ``geoeco/data/recipes``),
the configured catalogs and their URL allow-lists (:mod:`.config`), STAC search of an API or a
static catalog and item selection by a recipe's temporal rule (:mod:`.stac`), asset signing
(:mod:`.signing`), windowed reads of COGs and VRTs over HTTP (GDAL ``/vsicurl/``) with
mosaicking, compositing and warping onto a target grid (:mod:`.remote`), Zarr reads through
xarray (:mod:`.zarr`), the on-disk cache of fetched windows and progress hooks
(:mod:`.cache`), the [R] derivations (:mod:`.derive`), fetching one input with its
provenance record (:mod:`.fetch`), the whole input stack of a grid written as a raw inputs
folder with its manifest (:mod:`.build`, derived inputs by published rules in
:mod:`.derived_inputs`) and a local mirror of what a build reads (:mod:`.mirror`).

This is the trusted network path, separate from :mod:`geoeco.core.userdata` (which keeps user
files network-free): only URLs under a configured catalog's allow-list are opened.

May import: :mod:`geoeco.core`, :mod:`geoeco.catalog`.
"""
