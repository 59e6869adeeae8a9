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
    "Grid": "geoeco.raster",
    "Raster": "geoeco.raster",
    "GeoecoError": "geoeco.errors",
    # layers
    "LayerSpec": "geoeco.layers",
    "LayerRegistry": "geoeco.layers",
    "builtin_registry": "geoeco.layers",
    "load_registry": "geoeco.layers",
    "read_layer_vector": "geoeco.sources",
    "layer_raster_path": "geoeco.sources",
    "inspect_layer_file": "geoeco.validate",
    "user_layer_spec": "geoeco.validate",
    # I/O and grids
    "read_raster": "geoeco.io",
    "write_raster": "geoeco.io",
    "read_vector": "geoeco.io",
    "write_vector": "geoeco.io",
    "align_to": "geoeco.align",
    # coordinate systems
    "ALBERS_CHINA": "geoeco.crs",
    "CGCS2000": "geoeco.crs",
    "gcj02_to_wgs84": "geoeco.crs",
    "wgs84_to_gcj02": "geoeco.crs",
    "detect_gcj02": "geoeco.crs",
    # analyses
    "ErosionConfig": "geoeco.erosion",
    "make_config": "geoeco.erosion",
    "load_config": "geoeco.erosion",
    "run_erosion": "geoeco.erosion",
    "run_desertification": "geoeco.desertification",
    "ls_factor": "geoeco.ls",
    "build_demo_region": "geoeco.demo",
    "run_demo": "geoeco.demo_run",
    "get_table": "geoeco.classes",
    "list_tables": "geoeco.classes",
    "run_evaluation": "geoeco.evaluation",
    "run_zoning": "geoeco.zoning",
    "load_rule_set": "geoeco.rules",
    "list_rule_sets": "geoeco.rules",
    "resolve_aoi": "geoeco.aoi",
    # queries
    "QueryContext": "geoeco.query",
    "lookup_point": "geoeco.query",
    "features_in_bbox": "geoeco.query",
    "screen_site": "geoeco.screening",
    "screen_batch": "geoeco.screening",
    "zonal_stats": "geoeco.zonal",
    "parse_geometry": "geoeco.geometry_input",
    "write_report": "geoeco.report",
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
