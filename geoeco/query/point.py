"""Spatial queries on a zoning run: point lookup and paged features in a bounding box.

:class:`QueryContext` opens a run folder (the ``out_dir`` of
:func:`geoeco.workflows.zoning.run_zoning`) once and keeps everything a query needs in memory:

* the ``units`` and ``redline`` layers of ``zones.gpkg`` in an :class:`shapely.STRtree`
  (lon-lat, for point-in-polygon) and in :data:`~geoeco.core.crs.ALBERS_CHINA` (for areas);
* the national parks and battle areas (built-in layers ``protected.national_parks`` and
  ``programme.battles``, or frames the caller gives), also indexed;
* the run's rasters (``zone_class``, ``redline``, ``restoration_rank``) and, when present,
  the analysis rasters in sibling folders (``../erosion``, ``../desertification``,
  ``../evaluation``, as :func:`geoeco.workflows.demo.run_demo` lays them out), each as a
  :class:`~geoeco.query.zonal.RasterLayer` with its class table (from the raster's
  ``class_table`` tag).

The context and its :class:`~geoeco.query.context.IndexedLayer` live in
:mod:`geoeco.query.context`. A warm :func:`lookup_point` then costs a few tens of microseconds
per index plus one pixel read per raster (``bench/bench_query.py``). A point outside every unit
is a normal answer (``inside_analysed_area=False``, ``unit=None``), not an error.

Examples
--------
>>> ctx = QueryContext.from_frames(_doctest_units())
>>> lookup_point(ctx, 105.001, 38.001).unit.code
'ZH62000010001'
>>> lookup_point(ctx, 106.0, 38.0).message
'outside the analysed area'
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np
import shapely

from geoeco.core.crs import CGCS2000
from geoeco.core.errors import InvalidInput, LayerNotFound
from geoeco.core.geometry import SwapPolicy, normalise_crs, parse_point
from geoeco.zoning.rules import REDLINE_CODES

from .context import (
    OUTSIDE,
    IndexedLayer,
    QueryContext,
    redline_reason,
)
from .models import FeaturePage, FeatureRef, LayerValue, PointResult, RedlineStatus

#: Largest page :func:`features_in_bbox` returns (bigger ``limit`` values are clamped).
MAX_PAGE = 1000


def _member(layer: IndexedLayer | None, pt: Any, name_cols: tuple[str, str]) -> FeatureRef | None:
    if layer is None:
        return None
    hit = layer.hits(pt)
    if len(hit) == 0:
        return None
    i = int(hit[0])
    return FeatureRef(
        layer=layer.name,
        id=layer.feature_id(i),
        name_zh=layer.text(i, name_cols[0]),
        name_en=layer.text(i, name_cols[1]),
        status=layer.text(i, "status"),
        distance_km=0.0,
        inside=True,
    )


def nearest(layer: IndexedLayer, geom_albers: Any) -> tuple[int, float] | None:
    """Row and distance (km) of the feature of ``layer`` nearest to an Albers geometry."""
    idx, dist = layer.tree_albers.query_nearest(
        geom_albers, return_distance=True, all_matches=False
    )
    if len(idx) == 0:
        return None
    return int(idx[0]), float(dist[0]) / 1000.0


def lookup_point(
    ctx: QueryContext,
    lon: float,
    lat: float,
    *,
    crs: str | int | None = "wgs84",
    swap: SwapPolicy = "auto",
) -> PointResult:
    """Everything known at one place: unit, access list, red line, park, battle, layer values.

    Parameters
    ----------
    ctx : QueryContext
        The opened run.
    lon, lat : float
        Coordinates in ``crs`` (``wgs84``, ``cgcs2000`` or ``gcj02``; GCJ-02 is converted).
    swap : {"auto", "error", "never"}
        Handling of (lat, lon) given as (lon, lat): see :mod:`geoeco.core.geometry`.

    Returns
    -------
    PointResult
        ``lon``/``lat`` are the WGS 84 coordinates used. Outside every unit:
        ``inside_analysed_area=False``, ``unit=None`` and ``message="outside the analysed area"``.
    """
    p = parse_point(lon, lat, crs=crs, swap=swap)
    pt = p.geometry
    x, y = pt.x, pt.y
    notes = list(p.notes)
    hit = ctx.units.hits(pt)
    unit = ctx.unit_info(int(hit[0])) if len(hit) else None
    if len(hit) > 1:
        codes = ", ".join(ctx.units.feature_id(int(i)) for i in hit)
        notes.append(f"the point lies on a boundary shared by units {codes}; the first is given")
    values = _layer_values(ctx, x, y)
    park = _member(ctx.parks, pt, ("name_zh", "name_en"))
    return PointResult(
        lon=x,
        lat=y,
        input_crs=p.input_crs,
        inside_analysed_area=unit is not None,
        coverage_share=1.0 if unit is not None else 0.0,
        message=None if unit is not None else OUTSIDE,
        unit=unit,
        redline=_redline_status(ctx, pt, values) if unit is not None else None,
        national_park=park,
        battle=_member(ctx.battles, pt, ("name_zh", "name_en")),
        nearest_national_park=park if park is not None else _nearest_park(ctx, x, y),
        layers=values if unit is not None else [v for v in values if v.value is not None],
        notes=notes,
    )


def _layer_values(ctx: QueryContext, x: float, y: float) -> list[LayerValue]:
    """The value of every raster of the run at lon-lat ``(x, y)``, in the run's layer order."""
    values: list[tuple[int, LayerValue]] = []
    for tr, group in ctx.point_plan():
        rx, ry = tr.transform(x, y)
        values.extend((r.index, r.value(rx, ry)) for r in group)
    values.sort(key=lambda t: t[0])
    return [v for _, v in values]


def _redline_status(ctx: QueryContext, pt: Any, values: list[LayerValue]) -> RedlineStatus:
    """Whether a point of the analysed area is in the red line, and its type and reason: from
    the red-line raster's value there, else from the red-line polygons."""
    red = next((v for v in values if v.layer == "redline"), None)
    code = red.class_code if red is not None else None
    if red is None and ctx.redline is not None:
        rh = ctx.redline.hits(pt)
        code = int(ctx.redline.column("LXBM")[int(rh[0])]) if len(rh) else None
    if not code:
        return RedlineStatus(inside=False)
    zh, en = REDLINE_CODES.get(code, ("", ""))
    rz, re_ = redline_reason(code)
    return RedlineStatus(
        inside=True, lxbm=code, type_zh=zh, type_en=en, reason_zh=rz, reason_en=re_
    )


def _km(found: tuple[int, float]) -> tuple[int, float]:
    """A row and a distance in metres as the row and the distance in km."""
    return found[0], found[1] / 1000.0


def _nearest_park(ctx: QueryContext, x: float, y: float) -> FeatureRef | None:
    """The national park nearest to lon-lat ``(x, y)`` (outside every park), with its distance."""
    if ctx.parks is None:
        return None
    pt = shapely.Point(*ctx.to_albers().transform(x, y))
    facets = ctx.parks.facets()  # the point is in no park: its boundary segments suffice
    n = nearest(ctx.parks, pt) if facets is None else _km(facets.nearest(pt))
    if n is None:
        return None
    i, d = n
    return FeatureRef(
        layer=ctx.parks.name,
        id=ctx.parks.feature_id(i),
        name_zh=ctx.parks.text(i, "name_zh"),
        name_en=ctx.parks.text(i, "name_en"),
        status=ctx.parks.text(i, "status"),
        distance_km=d,
        inside=False,
    )


# --------------------------------------------------------------------------- bbox paging


@lru_cache(maxsize=16)
def _builtin_indexed(layer_id: str) -> IndexedLayer:
    from geoeco.catalog.layers import builtin_registry
    from geoeco.catalog.sources import read_layer_vector

    reg = builtin_registry()
    spec = reg.get(layer_id)
    if spec.kind != "vector":
        raise InvalidInput(f"layer {layer_id!r} is a raster; bbox paging serves vector layers")
    gdf = read_layer_vector(spec)
    return IndexedLayer.build(layer_id, gdf)


def json_value(v: Any) -> Any:
    if v is None:
        return None
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, str | int | float | bool):
        return v
    return str(v)


def _resolve_layer(layer: str, ctx: QueryContext | None, registry: Any) -> IndexedLayer:
    if ctx is not None:
        if layer == "units":
            return ctx.units
        if layer == "redline" and ctx.redline is not None:
            return ctx.redline
        if layer in ctx.extra_layers:
            return ctx.extra_layers[layer]
    if registry is not None:
        from geoeco.catalog.sources import read_layer_vector

        return IndexedLayer.build(layer, read_layer_vector(registry.get(layer)))
    try:
        return _builtin_indexed(layer)
    except LayerNotFound:
        run = "units, redline, " if ctx is not None else ""
        raise LayerNotFound(
            f"unknown vector layer {layer!r}; give {run}or a built-in layer id "
            "(e.g. protected.national_parks, programme.battles, admin.county)"
        ) from None


def features_in_bbox(
    layer: str,
    bbox: Sequence[float],
    *,
    ctx: QueryContext | None = None,
    limit: int = 100,
    offset: int = 0,
    crs: str | int | None = "wgs84",
    properties: Sequence[str] | None = None,
    simplify_m: float | None = None,
    registry: Any = None,
) -> FeaturePage:
    """Features of a vector layer intersecting a lon-lat bounding box, one page at a time.

    Parameters
    ----------
    layer : str
        ``units`` or ``redline`` of the run in ``ctx``, or a built-in vector layer id.
    bbox : (minlon, minlat, maxlon, maxlat)
        In ``crs`` (``wgs84``, ``cgcs2000``; ``gcj02`` corners are converted).
    limit, offset : int
        Page size (clamped to :data:`MAX_PAGE`) and number of matches to skip. Features come
        in the layer's row order, so pages are stable.
    properties : list of str, optional
        Properties to return (default all).
    simplify_m : float, optional
        Simplify returned geometries to this tolerance (metres, approximated in degrees).

    Returns
    -------
    FeaturePage
        GeoJSON features (CGCS2000 lon-lat) with ``number_matched`` and ``number_returned``.

    Examples
    --------
    >>> ctx = QueryContext.from_frames(_doctest_units())
    >>> page = features_in_bbox("units", (104.9, 37.9, 105.1, 38.1), ctx=ctx, limit=1)
    >>> page.number_matched, page.number_returned, page.features[0]["id"]
    (2, 1, 'ZH62000010001')
    """
    x0, y0, x1, y1 = _lonlat_bbox(bbox, crs)
    if limit < 0 or offset < 0:
        raise InvalidInput(f"limit and offset must be >= 0, got {limit}, {offset}")
    limit = min(int(limit), MAX_PAGE)
    lyr = _resolve_layer(layer, ctx, registry)
    matched = lyr.hits(shapely.box(x0, y0, x1, y1))
    page = matched[offset : offset + limit]
    cols = _columns(lyr, properties)
    feats = _features(lyr, page, cols, simplify_m)
    return FeaturePage(
        layer=layer,
        bbox=(x0, y0, x1, y1),
        features=feats,
        number_matched=len(matched),
        number_returned=len(feats),
        limit=limit,
        offset=offset,
    )


def _lonlat_bbox(bbox: Sequence[float], crs: str | int | None) -> tuple[float, float, float, float]:
    """``(minlon, minlat, maxlon, maxlat)`` checked, in WGS 84 (GCJ-02 corners converted)."""
    if len(bbox) != 4:
        raise InvalidInput(
            f"bbox needs 4 numbers (minlon, minlat, maxlon, maxlat), got {len(bbox)}"
        )
    x0, y0, x1, y1 = (float(v) for v in bbox)
    if not all(math.isfinite(v) for v in (x0, y0, x1, y1)) or x0 >= x1 or y0 >= y1:
        raise InvalidInput(f"bbox must be (minlon, minlat, maxlon, maxlat), got {tuple(bbox)}")
    if normalise_crs(crs) == "gcj02":
        from geoeco.core.crs import gcj02_to_wgs84

        xs, ys = gcj02_to_wgs84(np.array([x0, x1, x0, x1]), np.array([y0, y0, y1, y1]))
        x0, x1, y0, y1 = float(xs.min()), float(xs.max()), float(ys.min()), float(ys.max())
    return x0, y0, x1, y1


def _columns(lyr: IndexedLayer, properties: Sequence[str] | None) -> list[str]:
    """The property columns to return: ``properties`` (checked), default every column."""
    cols = [c for c in lyr.frame.columns if c != lyr.frame.geometry.name]
    if properties is None:
        return cols
    unknown = [c for c in properties if c not in cols]
    if unknown:
        raise InvalidInput(f"unknown properties {unknown}; the layer has: {', '.join(cols)}")
    return list(properties)


def _features(
    lyr: IndexedLayer, page: np.ndarray, cols: list[str], simplify_m: float | None
) -> list[dict[str, Any]]:
    """The rows ``page`` of ``lyr`` as GeoJSON features (lon-lat), optionally simplified."""
    geoms = lyr.lonlat[page]
    if simplify_m:
        geoms = shapely.simplify(geoms, simplify_m / 111_000.0, preserve_topology=True)
    sub = lyr.frame.iloc[page]
    feats = []
    for k, (i, g) in enumerate(zip(page.tolist(), geoms, strict=True)):
        feats.append(
            {
                "type": "Feature",
                "id": lyr.feature_id(i),
                "geometry": shapely.geometry.mapping(g),
                "properties": {c: json_value(sub[c].iloc[k]) for c in cols},
            }
        )
    return feats


def _doctest_units() -> Any:
    """Two 0.01° units at 105°E 38°N (priority and general), for the doctests."""
    import geopandas as gpd

    return gpd.GeoDataFrame(
        {"code": ["ZH62000010001", "ZH62000030001"], "unit_class": [1, 3]},
        geometry=[shapely.box(105, 38, 105.01, 38.01), shapely.box(105.01, 38, 105.02, 38.01)],
        crs=CGCS2000,
    )


__all__ = [
    "MAX_PAGE",
    "features_in_bbox",
    "lookup_point",
    "nearest",
]
