"""OGC API - Features parts 2 and 3 on an indexed layer: CRSs, queryables, property filters.

What the Features routes need beyond :mod:`geoeco.service.features`:

* the CRSs a client may ask for by URI (:data:`CRS_URIS`): OGC CRS84 (lon, lat), EPSG:4326
  and EPSG:4490 (CGCS2000), both in their EPSG axis order (lat, lon). Layers are stored in
  CGCS2000; CGCS2000 and WGS 84 agree to a few centimetres, so, as PROJ's own ballpark
  transformation between them, coordinates are not shifted between the three: only the axes
  are swapped for the two EPSG CRSs;
* :func:`queryables` - the filterable properties of a layer as a JSON Schema ``properties``
  mapping (string, integer, number or boolean columns);
* :func:`parse_filters` and :func:`filtered_page` - one page of the features intersecting a
  lon-lat bbox whose properties equal the given values (``?unit_class=1``).

Examples
--------
>>> import geopandas as gpd, shapely
>>> from geoeco.service.features import index_frame
>>> gdf = gpd.GeoDataFrame({"code": ["a", "b", "c"], "cls": [1, 2, 1]},
...     geometry=[shapely.box(100, 30, 101, 31), shapely.box(102, 30, 103, 31),
...               shapely.box(104, 30, 105, 31)], crs=4490)
>>> lyr = index_frame("t", gdf)
>>> sorted(queryables(lyr))
['cls', 'code']
>>> page = filtered_page(lyr, None, parse_filters(lyr, {"cls": "1"}), limit=10, offset=0)
>>> page.number_matched, [f["id"] for f in page.features]
(2, ['a', 'c'])
>>> swap_axes({"type": "Point", "coordinates": [100.0, 30.0]})
{'type': 'Point', 'coordinates': [30.0, 100.0]}
"""

from __future__ import annotations

import math
import threading
import weakref
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import shapely

from geoeco.core.errors import InvalidInput
from geoeco.query.context import IndexedLayer
from geoeco.query.models import FeaturePage
from geoeco.query.point import MAX_PAGE, json_value

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
EPSG4326 = "http://www.opengis.net/def/crs/EPSG/0/4326"
EPSG4490 = "http://www.opengis.net/def/crs/EPSG/0/4490"
#: CRS URI -> whether its axis order is (lat, lon).
CRS_URIS: dict[str, bool] = {CRS84: False, EPSG4326: True, EPSG4490: True}
#: The CRS the layers are stored in (CGCS2000).
STORAGE_CRS = EPSG4490

_JSON_TYPES = {"i": "integer", "u": "integer", "f": "number", "b": "boolean"}


def lat_lon(crs: str) -> bool:
    """Whether coordinates in ``crs`` (one of :data:`CRS_URIS`) are (lat, lon).

    >>> lat_lon(CRS84), lat_lon(EPSG4490)
    (False, True)
    """
    if crs not in CRS_URIS:
        raise InvalidInput(f"unsupported CRS {crs!r}; supported: {', '.join(CRS_URIS)}")
    return CRS_URIS[crs]


def _swap(coords: Any) -> Any:
    if coords and isinstance(coords[0], (int, float)):
        return [coords[1], coords[0], *coords[2:]]
    return [_swap(c) for c in coords]


def swap_axes(geometry: dict[str, Any] | None) -> dict[str, Any] | None:
    """A GeoJSON geometry with x and y exchanged (for the lat-lon CRSs)."""
    if geometry is None:
        return None
    if geometry.get("type") == "GeometryCollection":
        return {**geometry, "geometries": [swap_axes(g) for g in geometry["geometries"]]}
    return {**geometry, "coordinates": _swap(geometry["coordinates"])}


def lonlat_bbox(values: Sequence[float], crs: str) -> tuple[float, float, float, float]:
    """A 4- or 6-number bbox in ``crs`` as ``(minlon, minlat, maxlon, maxlat)`` (checked).

    >>> lonlat_bbox([30, 100, 0, 31, 101, 10], EPSG4326)
    (100.0, 30.0, 101.0, 31.0)
    """
    if len(values) == 6:
        values = [values[0], values[1], values[3], values[4]]
    if len(values) != 4 or not all(math.isfinite(v) for v in values):
        raise InvalidInput("bbox must be 4 or 6 finite numbers")
    a0, b0, a1, b1 = (float(v) for v in values)
    x0, y0, x1, y1 = (b0, a0, b1, a1) if lat_lon(crs) else (a0, b0, a1, b1)
    if not (-180 <= x0 < x1 <= 180 and -90 <= y0 < y1 <= 90):
        raise InvalidInput(
            "bbox corners must be lower-left then upper-right with lon in [-180, 180] and "
            f"lat in [-90, 90] (axis order of {crs})"
        )
    return x0, y0, x1, y1


def _json_type(values: Any) -> str | None:
    kind = getattr(values.dtype, "kind", "O")
    if kind in _JSON_TYPES:
        return _JSON_TYPES[kind]
    sample = values.dropna()
    if kind == "O" and len(sample) and all(isinstance(v, str) for v in sample[:100]):
        return "string"
    return None


_QCACHE: dict[int, tuple[weakref.ref[IndexedLayer], dict[str, dict[str, str]]]] = {}
_QLOCK = threading.Lock()


def queryables(lyr: IndexedLayer) -> dict[str, dict[str, str]]:
    """The layer's properties usable as equality filters: ``{name: {"type", "title"}}``.

    Computed once per layer object (the layers are cached and never mutated); copies are
    returned.
    """
    with _QLOCK:
        hit = _QCACHE.get(id(lyr))
    if hit is not None and hit[0]() is lyr:
        return {k: dict(v) for k, v in hit[1].items()}
    out = _queryables(lyr)
    with _QLOCK:
        for key in [k for k, (ref, _) in _QCACHE.items() if ref() is None]:
            del _QCACHE[key]
        _QCACHE[id(lyr)] = (weakref.ref(lyr), out)
    return {k: dict(v) for k, v in out.items()}


def _queryables(lyr: IndexedLayer) -> dict[str, dict[str, str]]:
    frame = lyr.frame
    out: dict[str, dict[str, str]] = {}
    for col in frame.columns:
        if col == frame.geometry.name:
            continue
        kind = _json_type(frame[col])
        if kind is not None:
            out[str(col)] = {"type": kind, "title": str(col)}
    return out


def _typed(name: str, kind: str, text: str) -> Any:
    try:
        if kind == "integer":
            return int(text)
        if kind == "number":
            value = float(text)
            if not math.isfinite(value):
                raise ValueError(text)
            return value
    except ValueError:
        raise InvalidInput(f"property {name!r} is a {kind}; got {text[:50]!r}") from None
    if kind == "boolean":
        if text.lower() not in ("true", "false"):
            raise InvalidInput(f"property {name!r} is a boolean (true/false); got {text[:50]!r}")
        return text.lower() == "true"
    return text


def parse_filters(lyr: IndexedLayer, params: Mapping[str, str]) -> list[tuple[str, Any]]:
    """``(property, value)`` equality filters from query parameters naming queryables."""
    q = queryables(lyr)
    return [(k, _typed(k, q[k]["type"], v)) for k, v in params.items() if k in q]


def _rows(
    lyr: IndexedLayer, bbox: Sequence[float] | None, filters: Sequence[tuple[str, Any]]
) -> np.ndarray:
    rows: np.ndarray
    if bbox is None:
        rows = np.arange(len(lyr.lonlat))
    else:
        rows = lyr.hits(shapely.box(*bbox))
    for name, value in filters:
        col = lyr.column(name)
        rows = rows[np.fromiter((col[i] == value for i in rows), bool, len(rows))]
    return rows


def property_columns(lyr: IndexedLayer) -> list[str]:
    """The layer's columns other than the geometry."""
    geom_col = lyr.frame.geometry.name
    return [c for c in lyr.frame.columns if c != geom_col]


def render(
    lyr: IndexedLayer, i: int, *, swap: bool = False, cols: Sequence[str] | None = None
) -> dict[str, Any]:
    """Row ``i`` of ``lyr`` as a GeoJSON feature (lon-lat, or lat-lon when ``swap``)."""
    cols = property_columns(lyr) if cols is None else cols
    geom = shapely.geometry.mapping(lyr.lonlat[i])
    return {
        "type": "Feature",
        "id": lyr.feature_id(i),
        "geometry": swap_axes(geom) if swap else geom,
        "properties": {c: json_value(lyr.column(c)[i]) for c in cols},
    }


def filtered_page(
    lyr: IndexedLayer,
    bbox: Sequence[float] | None,
    filters: Sequence[tuple[str, Any]],
    *,
    limit: int,
    offset: int,
    swap: bool = False,
) -> FeaturePage:
    """One page of the features intersecting ``bbox`` (lon-lat) that pass ``filters``.

    Features come in the layer's row order, so ``offset`` paging is stable; ``limit`` is
    clamped to :data:`geoeco.query.point.MAX_PAGE`.
    """
    if limit < 1 or offset < 0:
        raise InvalidInput(f"limit must be >= 1 and offset >= 0, got {limit}, {offset}")
    limit = min(limit, MAX_PAGE)
    rows = _rows(lyr, bbox, filters)
    page = rows[offset : offset + limit].tolist()
    cols = property_columns(lyr)
    feats = [render(lyr, i, swap=swap, cols=cols) for i in page]
    box = tuple(bbox) if bbox is not None else (-180.0, -90.0, 180.0, 90.0)
    return FeaturePage(
        layer=lyr.name,
        bbox=(box[0], box[1], box[2], box[3]),
        features=feats,
        number_matched=len(rows),
        number_returned=len(feats),
        limit=limit,
        offset=offset,
    )


def feature_row(lyr: IndexedLayer, fid: str) -> int | None:
    """The row of the feature with id ``fid`` (``None`` if there is none)."""
    if lyr.id_col is not None:
        ids = lyr.column(lyr.id_col)
        return next((i for i, v in enumerate(ids) if str(v) == fid), None)
    i = int(fid) if fid.isdigit() and len(fid) < 12 else -1
    return i if 0 <= i < len(lyr.lonlat) else None


__all__ = [
    "CRS84",
    "CRS_URIS",
    "EPSG4326",
    "EPSG4490",
    "STORAGE_CRS",
    "feature_row",
    "filtered_page",
    "lat_lon",
    "lonlat_bbox",
    "parse_filters",
    "property_columns",
    "queryables",
    "render",
    "swap_axes",
]
