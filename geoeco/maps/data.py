"""Compact map data: simplified, quantised, delta-encoded polygons and columnar attributes.

A folium ``GeoJson`` of every control unit of the Three-North counties (about 12,000 units)
writes the full-precision GeoJSON, a style per feature and the long access-list texts once per
unit: hundreds of MB of HTML that no browser opens quickly (folium#787, Leaflet#8075). The maps
of :mod:`geoeco.maps.zone` instead embed

* geometries simplified as a coverage (:func:`shapely.coverage_simplify`, so neighbouring
  units keep a common edge), rounded to ``precision`` decimals (never more than 6) and stored
  as integer deltas: ring ``[x0, y0, dx1, dy1, ...]`` in units of ``10**-precision`` degrees,
  the closing vertex dropped (:func:`encode_polygons`; decoded by a few lines of JS);
* attributes column by column, with repeated strings (county names, access-list texts per
  class and add-on combination) stored once in a dictionary and referenced by index
  (:func:`intern`).

Examples
--------
>>> from shapely.geometry import box
>>> encode_polygons([box(0, 0, 1, 1)], precision=1)
[[[[10, 0, 0, 10, -10, 0, 0, -10]]]]
>>> intern(["a", "b", "a"])
([0, 1, 0], ['a', 'b'])
"""

from __future__ import annotations

import json
import math
from collections.abc import Hashable, Iterable, Sequence
from typing import Any

import numpy as np
import shapely

from geoeco.core.errors import InvalidInput

MAX_PRECISION = 6


def auto_tolerance(bounds: Sequence[float], *, pixels: float = 6000.0) -> float:
    """Simplification tolerance (degrees) for data spanning ``bounds``: extent / ``pixels``.

    >>> auto_tolerance((100.0, 30.0, 106.0, 33.0))
    0.001
    """
    w, s, e, n = (float(b) for b in bounds)
    span = max(e - w, n - s, 1e-6)
    return span / pixels


def precision_for(tolerance: float) -> int:
    """Decimals that keep rounding error an order below ``tolerance`` (1..6).

    >>> precision_for(0.001), precision_for(1e-9)
    (4, 6)
    """
    if not tolerance > 0:
        return MAX_PRECISION
    return int(min(MAX_PRECISION, max(1, math.ceil(-math.log10(tolerance)) + 1)))


def simplify_coverage(geoms: Any, tolerance: float) -> np.ndarray:
    """Simplify polygons by ``tolerance``; a coverage keeps shared edges shared.

    Falls back to topology-preserving per-polygon simplification when the input is not a
    valid coverage (overlaps) or GEOS is older than 3.12.

    >>> from shapely.geometry import box
    >>> [g.wkt for g in simplify_coverage([box(0, 0, 1, 1)], 0.1)]
    ['POLYGON ((1 0, 1 1, 0 1, 0 0, 1 0))']
    """
    arr = np.asarray(geoms, dtype=object)
    if tolerance <= 0 or arr.size == 0:
        return arr
    try:
        if bool(shapely.coverage_is_valid(arr)):
            out = shapely.coverage_simplify(arr, tolerance)
            if not np.any(shapely.is_empty(out) & ~shapely.is_empty(arr)):
                return np.asarray(out, dtype=object)
    except (AttributeError, shapely.errors.GEOSException):
        pass
    return np.asarray(shapely.simplify(arr, tolerance, preserve_topology=True), dtype=object)


def encode_polygons(geoms: Any, *, precision: int = MAX_PRECISION) -> list[list[list[list[int]]]]:
    """Delta-encode (Multi)Polygons in lon/lat: unit -> polygons -> rings -> ``[x, y, dx, ...]``.

    Coordinates are multiplied by ``10**precision`` and rounded; the first vertex of a ring is
    absolute, the others are differences to the previous vertex; repeated vertices (after
    rounding) and the closing vertex are dropped. Empty geometries give ``[]``.

    >>> from shapely.geometry import Polygon
    >>> encode_polygons([Polygon([(1, 1), (1.04, 1), (1.04, 1.04)])], precision=1)
    [[[[10, 10]]]]
    """
    if not 0 <= precision <= MAX_PRECISION:
        raise InvalidInput(f"precision must be 0..{MAX_PRECISION} decimals, got {precision}")
    arr = np.asarray(geoms, dtype=object)
    kinds = shapely.get_type_id(arr)
    if np.any((kinds != 3) & (kinds != 6) & ~shapely.is_empty(arr)):
        raise InvalidInput("encode_polygons expects Polygon or MultiPolygon geometries")
    polys, unit_of_poly = shapely.get_parts(arr, return_index=True)
    rings, poly_of_ring = shapely.get_rings(polys, return_index=True)
    flat = _encode_paths(rings, precision, closed=True)
    out: list[list[list[list[int]]]] = [[] for _ in range(len(arr))]
    poly_rings: list[list[list[int]]] = [[] for _ in range(len(polys))]
    for r, path in enumerate(flat):
        poly_rings[int(poly_of_ring[r])].append(path)
    for p in range(len(polys)):
        out[int(unit_of_poly[p])].append(poly_rings[p])
    return out


def encode_lines(geoms: Any, *, precision: int = MAX_PRECISION) -> list[list[list[int]]]:
    """Delta-encode (Multi)LineStrings: geometry -> lines -> ``[x, y, dx, dy, ...]``.

    >>> from shapely.geometry import LineString
    >>> encode_lines([LineString([(0, 0), (1, 0), (1, 1)])], precision=0)
    [[[0, 0, 1, 0, 0, 1]]]
    """
    if not 0 <= precision <= MAX_PRECISION:
        raise InvalidInput(f"precision must be 0..{MAX_PRECISION} decimals, got {precision}")
    arr = np.asarray(geoms, dtype=object)
    kinds = shapely.get_type_id(arr)
    if np.any((kinds != 1) & (kinds != 5) & ~shapely.is_empty(arr)):
        raise InvalidInput("encode_lines expects LineString or MultiLineString geometries")
    lines, owner = shapely.get_parts(arr, return_index=True)
    out: list[list[list[int]]] = [[] for _ in range(len(arr))]
    for i, path in enumerate(_encode_paths(lines, precision, closed=False)):
        out[int(owner[i])].append(path)
    return out


def _encode_paths(paths: np.ndarray, precision: int, *, closed: bool) -> list[list[int]]:
    """Quantise and delta-encode each LinearRing/LineString (closing vertex dropped if closed)."""
    coords, path_of_pt = shapely.get_coordinates(paths, return_index=True)
    q = np.round(coords * 10.0**precision).astype(np.int64)
    n_pts = np.bincount(path_of_pt, minlength=len(paths))
    starts = np.concatenate([[0], np.cumsum(n_pts)[:-1]]).astype(np.int64)
    keep = np.ones(len(q), dtype=bool)
    if closed:
        keep[(starts + n_pts - 1)[n_pts > 0]] = False
    d = q.copy()
    d[1:] -= q[:-1]
    first = np.zeros(len(q), dtype=bool)
    first[starts[n_pts > 0]] = True
    d[first] = q[first]
    keep &= first | np.any(d != 0, axis=1)
    flat = d[keep].ravel().tolist()
    bounds = np.concatenate(
        [[0], np.cumsum(np.bincount(path_of_pt[keep], minlength=len(paths)) * 2)]
    )
    b = bounds.tolist()
    return [flat[b[i] : b[i + 1]] for i in range(len(paths))]


def decode_ring(ring: Sequence[int], precision: int) -> list[tuple[float, float]]:
    """Inverse of one ring of :func:`encode_polygons`: ``[(lon, lat), ...]`` (not closed).

    >>> decode_ring([10, 0, 0, 10, -10, 0], 1)
    [(1.0, 0.0), (1.0, 1.0), (0.0, 1.0)]
    """
    xy = np.cumsum(np.asarray(ring, dtype=np.int64).reshape(-1, 2), axis=0) / 10.0**precision
    return [(float(x), float(y)) for x, y in xy]


def intern(values: Iterable[Hashable]) -> tuple[list[int], list[Any]]:
    """Replace repeated values by indices into a list of distinct values (first-seen order).

    >>> intern([("x", 1), ("y", 2), ("x", 1)])
    ([0, 1, 0], [('x', 1), ('y', 2)])
    """
    index: dict[Hashable, int] = {}
    codes = [index.setdefault(v, len(index)) for v in values]
    return codes, list(index)


def to_json(obj: Any) -> str:
    """Compact JSON safe to embed in a ``<script>`` (``</`` escaped, NaN -> null).

    >>> to_json({"a": [1, float("nan")], "b": "</script>"})
    '{"a":[1,null],"b":"<\\\\/script>"}'
    """
    text = json.dumps(_nan_to_none(obj), separators=(",", ":"), ensure_ascii=False)
    return text.replace("</", "<\\/").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def _nan_to_none(obj: Any) -> Any:
    if isinstance(obj, float):
        return None if math.isnan(obj) or math.isinf(obj) else obj
    if isinstance(obj, dict):
        return {k: _nan_to_none(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_nan_to_none(v) for v in obj]
    return obj


def rounded(values: Iterable[Any], digits: int) -> list[float | None]:
    """Floats rounded to ``digits`` (None for missing values).

    >>> rounded([1.23456, None, float("nan")], 2)
    [1.23, None, None]
    """
    out: list[float | None] = []
    for v in values:
        try:
            f = float(v)
        except (TypeError, ValueError):
            out.append(None)
            continue
        out.append(None if math.isnan(f) else round(f, digits))
    return out


__all__ = [
    "auto_tolerance",
    "decode_ring",
    "encode_lines",
    "encode_polygons",
    "intern",
    "precision_for",
    "rounded",
    "simplify_coverage",
    "to_json",
]
