"""Layers as OGC API - Features collections: descriptions, paged features, single features.

What a web catalogue (and a notebook) needs from a :class:`~geoeco.catalog.layers.LayerSpec`:

* :func:`describe_layer` - id, titles, kind, role, ``status`` (real / approximation /
  synthetic), CRS, units, version, licence, provenance, the legend of a categorical layer
  (``code``, ``zh``, ``en``, ``colour``) and, on request, the WGS 84 extent;
* :func:`layer_features` - one page of GeoJSON features intersecting a lon-lat bbox, via
  :func:`geoeco.query.point.features_in_bbox`, on an index built once per layer version;
* :func:`layer_feature` - one feature by id.

Feature ids are the layer's ``code`` column when it is unique (administrative layers), else
the row number of the cleaned layer; both are stable for a given layer version.

Examples
--------
>>> import geopandas as gpd, shapely
>>> from geoeco.catalog.layers import LayerSpec
>>> gdf = gpd.GeoDataFrame({"code": ["a", "b"]},
...     geometry=[shapely.box(100, 30, 101, 31), shapely.box(102, 30, 103, 31)], crs=4490)
>>> page = features_from_frame("t", gdf, bbox=(99, 29, 101.5, 32), limit=10)
>>> page.number_matched, [f["id"] for f in page.features]
(1, ['a'])
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import shapely

from geoeco.catalog.layers import LayerSpec
from geoeco.core.errors import InvalidInput, LayerNotFound
from geoeco.query.context import IndexedLayer, QueryContext
from geoeco.query.models import FeaturePage
from geoeco.query.point import features_in_bbox, json_value

#: Bbox of the whole lon-lat world, used when a request gives none.
WORLD = (-180.0, -90.0, 180.0, 90.0)
#: Column used as the feature id when its values are unique.
ID_COLUMNS = ("code", "id", "fid")


def _id_column(gdf: Any) -> str | None:
    for col in ID_COLUMNS:
        if col in gdf.columns and gdf[col].notna().all() and gdf[col].is_unique:
            return col
    return None


def index_frame(name: str, gdf: Any) -> IndexedLayer:
    """Index a GeoDataFrame for paging (ids from a unique ``code``/``id``/``fid`` column)."""
    clean = gdf[gdf.geometry.notna() & ~gdf.geometry.is_empty].reset_index(drop=True)
    return IndexedLayer.build(name, clean, id_col=_id_column(clean))


def _file_stamp(spec: LayerSpec) -> int:
    p = spec.file_path()
    try:
        return p.stat().st_mtime_ns if p is not None else 0
    except OSError:
        return 0


_CACHE_SIZE = 16
_cache: OrderedDict[tuple[Any, ...], IndexedLayer] = OrderedDict()
_lock = threading.Lock()


def layer_index(spec: LayerSpec) -> IndexedLayer:
    """The paging index of a vector layer, built once per layer version and file time."""
    if spec.kind != "vector":
        raise InvalidInput(f"layer {spec.id!r} is a raster layer; it has no features")
    key = (
        spec.id,
        spec.version,
        spec.source.model_dump_json(),
        str(spec.file_path()),
        _file_stamp(spec),
    )
    with _lock:
        hit = _cache.get(key)
        if hit is not None:
            _cache.move_to_end(key)
            return hit
    from geoeco.catalog.sources import read_layer_vector

    lyr = index_frame(spec.id, read_layer_vector(spec))
    with _lock:
        _cache[key] = lyr
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return lyr


def _page(
    lyr: IndexedLayer,
    bbox: Sequence[float] | None,
    limit: int,
    offset: int,
    properties: Sequence[str] | None,
) -> FeaturePage:
    ctx = QueryContext(units=lyr, extra_layers={lyr.name: lyr})
    return features_in_bbox(
        lyr.name,
        tuple(WORLD if bbox is None else bbox),
        ctx=ctx,
        limit=limit,
        offset=offset,
        crs="wgs84",
        properties=properties,
    )


def features_from_frame(
    name: str,
    gdf: Any,
    *,
    bbox: Sequence[float] | None = None,
    limit: int = 100,
    offset: int = 0,
    properties: Sequence[str] | None = None,
) -> FeaturePage:
    """One page of the features of an in-memory GeoDataFrame (see :func:`layer_features`)."""
    return _page(index_frame(name, gdf), bbox, limit, offset, properties)


def layer_features(
    spec: LayerSpec,
    *,
    bbox: Sequence[float] | None = None,
    limit: int = 100,
    offset: int = 0,
    properties: Sequence[str] | None = None,
) -> FeaturePage:
    """One page of a vector layer's features intersecting ``bbox`` (lon-lat; default all).

    Features come in the layer's row order, so ``offset`` paging is stable; ``limit`` is
    clamped to :data:`geoeco.query.point.MAX_PAGE`. Geometries are CGCS2000 lon-lat GeoJSON.
    """
    return _page(layer_index(spec), bbox, limit, offset, properties)


def _feature(lyr: IndexedLayer, i: int) -> dict[str, Any]:
    cols = [c for c in lyr.frame.columns if c != lyr.frame.geometry.name]
    return {
        "type": "Feature",
        "id": lyr.feature_id(i),
        "geometry": shapely.geometry.mapping(lyr.lonlat[i]),
        "properties": {c: json_value(lyr.column(c)[i]) for c in cols},
    }


def layer_feature(spec: LayerSpec, fid: str) -> dict[str, Any]:
    """One feature of a vector layer by id, as a GeoJSON dict; ``LayerNotFound`` if absent."""
    lyr = layer_index(spec)
    n = len(lyr.frame)
    if lyr.id_col is not None:
        ids = lyr.column(lyr.id_col)
        matches = [i for i, v in enumerate(ids) if str(v) == fid]
        i = matches[0] if matches else -1
    else:
        i = int(fid) if fid.isdigit() else -1
    if not 0 <= i < n:
        raise LayerNotFound(f"layer {spec.id!r} has no feature {fid!r}")
    return _feature(lyr, i)


def legend(spec: LayerSpec) -> list[dict[str, Any]]:
    """Legend of a categorical layer: ``[{"code", "zh", "en", "colour"}, ...]`` (may be empty).

    From the manifest's ``classes``, or from the class table named by its
    ``attributes.class_table``.
    """
    if spec.classes:
        return [
            {"code": c.code, "zh": c.name_zh, "en": c.name_en, "colour": c.color}
            for c in spec.classes
        ]
    table = spec.attributes.get("class_table")
    if isinstance(table, str) and table:
        from geoeco.catalog.classes import get_table

        return [
            {"code": code, "zh": zh, "en": en, "colour": colour}
            for code, zh, en, colour in get_table(table).legend()
        ]
    return []


def _wgs84_bounds(bounds: Sequence[float], crs: Any) -> list[float]:
    from rasterio.warp import transform_bounds

    b = transform_bounds(crs, "EPSG:4326", *bounds, densify_pts=21)
    return [round(float(v), 6) for v in b]


def layer_extent(spec: LayerSpec, *, cache_dir: str | Path | None = None) -> dict[str, Any]:
    """Spatial extent of a layer in WGS 84 (``{"bbox": [[minx, miny, maxx, maxy]], "crs"}``).

    Rasters also report their grid (native CRS, size, resolution, dtype, nodata, bands).
    Generated layers are built into ``cache_dir`` first.
    """
    from geoeco.core.crs import CGCS2000

    crs84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
    if spec.kind == "vector":
        lyr = layer_index(spec)
        if len(lyr.lonlat) == 0:
            return {"spatial": {"bbox": [], "crs": crs84}}
        b = shapely.total_bounds(lyr.lonlat)
        return {"spatial": {"bbox": [_wgs84_bounds(b, CGCS2000)], "crs": crs84}}
    from geoeco.catalog.sources import layer_raster_path
    from geoeco.core.io import raster_info

    info = raster_info(layer_raster_path(spec, cache_dir=cache_dir), name=spec.id)
    if info.grid is None:
        raise InvalidInput(f"layer {spec.id!r}: raster has no CRS")
    res = (abs(info.grid.transform.a), abs(info.grid.transform.e))
    nodata = info.nodata if info.nodata is None or math.isfinite(info.nodata) else None
    return {
        "spatial": {"bbox": [_wgs84_bounds(info.bounds, info.grid.crs)], "crs": crs84},
        "grid": {
            "width": info.grid.width,
            "height": info.grid.height,
            "resolution": [float(np.float64(r)) for r in res],
            "dtype": info.dtype,
            "nodata": nodata,
            "bands": info.count,
            "band_names": [n for n in info.band_names if n] or None,
        },
    }


def describe_layer(
    spec: LayerSpec, *, extent: bool = False, cache_dir: str | Path | None = None
) -> dict[str, Any]:
    """A JSON-ready description of a layer (see the module docstring).

    ``extent=True`` adds ``extent`` (and the raster grid), which reads the data: vector layers
    are indexed, generated rasters are built into ``cache_dir``.

    >>> from geoeco.catalog.layers import builtin_registry
    >>> d = describe_layer(builtin_registry().get("demo.landcover"))
    >>> d["status"], d["legend"][0]
    ('synthetic', {'code': 1, 'zh': '耕地', 'en': 'cropland', 'colour': '#f2d45c'})
    """
    leg = legend(spec)
    out: dict[str, Any] = {
        "id": spec.id,
        "title": spec.title_en,
        "title_zh": spec.title_zh,
        "title_en": spec.title_en,
        "description": spec.description,
        "kind": spec.kind,
        "role": spec.role,
        "status": spec.status,
        "version": spec.version,
        "crs": spec.crs,
        "units": spec.units,
        "variable": spec.variable,
        "licence": spec.licence,
        "provenance": spec.provenance,
        "categorical": bool(leg),
        "legend": leg,
    }
    if spec.kind == "raster":
        out["nodata"] = spec.nodata
    else:
        out["geometry_type"] = spec.geometry_type
    if extent:
        out["extent"] = layer_extent(spec, cache_dir=cache_dir)
    return out


__all__ = [
    "ID_COLUMNS",
    "WORLD",
    "describe_layer",
    "features_from_frame",
    "index_frame",
    "layer_extent",
    "layer_feature",
    "layer_features",
    "layer_index",
    "legend",
]
