"""geoeco: ecological control zones for China.

Soil erosion (RUSLE/CSLE, SL 190-2007 grades), desertification, sensitivity and importance,
and (in later releases) the ecological protection red line and 三线一单 control units, with
the built-in Tianditu boundaries, Three-North programme areas and national parks.

The public API is re-exported here and imported on first use, so ``import geoeco`` stays
fast::

    >>> import geoeco
    >>> reg = geoeco.builtin_registry()
    >>> reg.get("admin.county").status
    'real'
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    # value objects and errors
    "Grid": "geoeco.core.raster",
    "Raster": "geoeco.core.raster",
    "GeoecoError": "geoeco.core.errors",
    # layers
    "LayerSpec": "geoeco.catalog.layers",
    "LayerRegistry": "geoeco.catalog.layers",
    "builtin_registry": "geoeco.catalog.layers",
    "load_registry": "geoeco.catalog.layers",
    "read_layer_vector": "geoeco.catalog.sources",
    "layer_raster_path": "geoeco.catalog.sources",
    "inspect_layer_file": "geoeco.core.inspect",
    "user_layer_spec": "geoeco.catalog.validate",
    # I/O and grids
    "read_raster": "geoeco.core.io",
    "write_raster": "geoeco.core.io",
    "read_vector": "geoeco.core.io",
    "write_vector": "geoeco.core.io",
    "align_to": "geoeco.core.align",
    # coordinate systems
    "ALBERS_CHINA": "geoeco.core.crs",
    "CGCS2000": "geoeco.core.crs",
    "gcj02_to_wgs84": "geoeco.core.crs",
    "wgs84_to_gcj02": "geoeco.core.crs",
    "detect_gcj02": "geoeco.core.crs",
    # analyses
    "ErosionConfig": "geoeco.erosion.config",
    "make_config": "geoeco.erosion.config",
    "load_config": "geoeco.erosion.config",
    "run_erosion": "geoeco.erosion.run",
    "run_desertification": "geoeco.erosion.desertification",
    "ls_factor": "geoeco.terrain.ls",
    "build_demo_region": "geoeco.catalog.demo_region",
    "run_demo": "geoeco.workflows.demo",
    "get_table": "geoeco.catalog.classes",
    "list_tables": "geoeco.catalog.classes",
    "run_evaluation": "geoeco.evaluation.run",
    "run_zoning": "geoeco.workflows.zoning",
    "load_rule_set": "geoeco.zoning.rules",
    "list_rule_sets": "geoeco.zoning.rules",
    "AOI": "geoeco.zoning.aoi",
    "resolve_aoi": "geoeco.zoning.aoi",
    "demo_aoi": "geoeco.workflows.demo_inputs",
    "zone_demo": "geoeco.workflows.demo",
    "build_inputs": "geoeco.workflows.build_inputs",
    # queries
    "QueryContext": "geoeco.query.context",
    "lookup_point": "geoeco.query.point",
    "features_in_bbox": "geoeco.query.point",
    "screen_site": "geoeco.query.screening",
    "screen_batch": "geoeco.query.screening",
    "zonal_stats": "geoeco.query.zonal",
    "parse_geometry": "geoeco.core.geometry",
    "write_report": "geoeco.query.report",
}

__all__ = ["__version__", *sorted(_EXPORTS)]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'geoeco' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
