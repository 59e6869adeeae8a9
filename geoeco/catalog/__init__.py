"""What geoeco knows about data: layer manifests, where layers come from, user layers,
built-in boundaries, programmes and parks, class tables and styles, and the demo region.

Owns: ``LayerSpec``/``LayerRegistry`` (:mod:`.layers`), resolving a layer to data
(:mod:`.sources`), registering user files (:mod:`.validate`) and the user-layer store of
the CLI and the service (:mod:`.store`), Tianditu boundaries
(:mod:`.admin`), Three-North and battle areas (:mod:`.programmes`), national parks
(:mod:`.parks`), every classification table (:mod:`.classes`), QGIS styles (:mod:`.styles`)
and the synthetic demo region (:mod:`.demo_region`).

May import: :mod:`geoeco.core`.
"""
