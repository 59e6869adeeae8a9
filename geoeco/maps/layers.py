"""Map layer data from zoning outputs (no folium here): units, outlines, legends, overlays.

Everything a map shows about a class - colour, Chinese and English name - comes from
:func:`geoeco.catalog.classes.get_table`, the same tables that classify the rasters and the units.

Examples
--------
>>> class_items("ZHGKDYFL")[0]
['#1b7837', '优先保护单元 priority protection']
>>> raster_legend("erosion_grade")["title"]
'土壤侵蚀强度 Soil-loss grade (SL 190-2007)'
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import shapely

from geoeco.catalog.classes import get_table
from geoeco.core.errors import CRSError, InvalidInput
from geoeco.core.raster import Raster

from .data import (
    encode_lines,
    encode_polygons,
    intern,
    precision_for,
    rounded,
    simplify_coverage,
)
from .overlay import Overlay, class_overlay, ramp_overlay, warp_file_to_mercator

#: Raster outputs a zone map can show: name -> (zh, en, class table, "class" | "ramp").
RASTER_OUTPUTS: dict[str, tuple[str, str, str, str]] = {
    "erosion_grade": ("土壤侵蚀强度", "Soil-loss grade (SL 190-2007)", "SL190-2007/water", "class"),
    "desertification_degree": ("沙化程度", "Desertification degree", "WangTao-2003", "class"),
    "restoration_rank": ("修复优先级", "Restoration rank", "Restoration-selection", "ramp"),
    "ndvi_trend": ("植被变化趋势", "NDVI trend (Mann-Kendall)", "Trend-class", "class"),
}
#: Where :func:`read_run` finds each raster, relative to the run folder.
RUN_RASTERS: dict[str, str] = {
    "restoration_rank": "restoration_rank.tif",
    "erosion_grade": "../erosion/erosion_grade.tif",
    "desertification_degree": "../desertification/desertification_degree.tif",
    "ndvi_trend": "../trends/ndvi_trend_class.tif",
}


def class_items(table: str, *, codes: bool = False) -> Any:
    """Legend items ``[colour, "zh en"]`` of a class table (and the codes if ``codes``).

    >>> class_items("LXBM", codes=True)[0][:2]
    [11, 12]
    """
    t = get_table(table)
    items = [[c.colour, f"{c.name_zh} {c.name_en}"] for c in t.classes]
    return ([c.code for c in t.classes], items) if codes else items


def _names(table: str) -> dict[str, list[str]]:
    return {str(c.code): [c.name_zh, c.name_en, c.colour] for c in get_table(table).classes}


def raster_legend(name: str) -> dict[str, Any]:
    """Legend spec (title and items or colour ramp) of a raster output."""
    zh, en, table, kind = RASTER_OUTPUTS[name]
    spec: dict[str, Any] = {"title": f"{zh} {en}"}
    if kind == "class":
        spec["items"] = class_items(table)
    else:
        lo, hi = get_table(table).classes[0], get_table(table).classes[-1]
        spec["ramp"] = [lo.colour, hi.colour]
        spec["ends"] = ["0 低 low", "1 高 high"]
        spec["items"] = [[hi.colour, f"{hi.name_zh} {hi.name_en} (rank → 1)"]]
    return spec


def standalone_overlay(name: str, value: Raster | str | Path, *, max_size: int = 2048) -> Overlay:
    """Warp a raster output to Web Mercator and colour it by its table (see RASTER_OUTPUTS)."""
    _, _, table, kind = RASTER_OUTPUTS[name]
    if isinstance(value, Raster):
        raster = value
    else:
        raster = warp_file_to_mercator(value, max_size=max_size, nodata=0, name=Path(value).name)
    t = get_table(table)
    if kind == "class":
        return class_overlay(raster, {c.code: c.colour for c in t.classes}, max_size=max_size)
    return ramp_overlay(raster, t.classes[0].colour, t.classes[-1].colour, max_size=max_size)


def to_lonlat(gdf: Any, *, what: str) -> Any:
    """``gdf`` in EPSG:4326 lon/lat (CGCS2000 is taken as equal to WGS 84, as PROJ does)."""
    if gdf.crs is None:
        raise CRSError(f"{what}: the data has no CRS; set it (e.g. EPSG:4490) before mapping")
    return gdf if gdf.crs.to_epsg() == 4326 else gdf.to_crs(4326)


def _col(gdf: Any, name: str, default: Any = None) -> list[Any]:
    if name in gdf.columns:
        return [None if _isna(v) else v for v in gdf[name].tolist()]
    return [default] * len(gdf)


def _isna(v: Any) -> bool:
    try:
        return bool(v is None or (isinstance(v, float) and np.isnan(v)))
    except TypeError:
        return False


def _int(v: Any) -> int:
    try:
        return 0 if _isna(v) else int(v)
    except (TypeError, ValueError):
        return 0


def encode_units(units: Any, *, tolerance: float, battles: Any = None) -> dict[str, Any]:
    """The units' JS data: geometry, columnar attributes, shared texts and class tables.

    ``units`` must be in lon/lat; only ``code`` and ``unit_class`` are required.
    """
    from geoeco.zoning.access import DIMENSIONS

    for col in ("code", "unit_class"):
        if col not in units.columns:
            raise InvalidInput(f"units need a {col!r} column; found {list(units.columns)[:12]}")
    geoms = simplify_coverage(units.geometry.values, tolerance)
    prec = precision_for(tolerance)
    county_idx, counties = intern(str(v or "") for v in _col(units, "county_name", ""))
    text_cols = [f"{d.key}_{lang}" for d in DIMENSIONS for lang in ("zh", "en")]
    texts = zip(*(_col(units, c, "") for c in text_cols), strict=True)
    acc_idx, acc = intern(tuple(str(t or "") for t in row) for row in texts)
    battle_names: dict[str, list[str]] = {}
    if battles is not None and "battle_id" in getattr(battles, "columns", []):
        for bid, zh, en in zip(
            battles["battle_id"],
            _col(battles, "name_zh", ""),
            _col(battles, "name_en", ""),
            strict=True,
        ):
            battle_names[str(bid)] = [str(zh or bid), str(en or "")]
    bats = [str(v or "") for v in _col(units, "battles", "")]
    for b in {x for v in bats for x in v.split(",") if x}:
        battle_names.setdefault(b, [b, ""])
    return {
        "p": prec,
        "g": encode_polygons(geoms, precision=prec),
        "code": [str(v) for v in units["code"]],
        "cls": [_int(v) for v in units["unit_class"]],
        "county": county_idx,
        "counties": counties,
        "area": rounded(_col(units, "area_km2"), 2),
        "area_gk": rounded(_col(units, "area_gk_km2"), 2),
        "rl": rounded(_col(units, "redline_share"), 3),
        "rlm": [_int(v) for v in _col(units, "redline_main", 0)],
        "eg": [_int(v) for v in _col(units, "erosion_grade_main", 0)],
        "dd": [_int(v) for v in _col(units, "desert_degree_main", 0)],
        "park": rounded(_col(units, "park_share"), 3),
        "tn": [int(bool(v)) for v in _col(units, "in_three_north", False)],
        "bat": bats,
        "apx": [int(bool(v)) for v in _col(units, "depends_on_approximation", False)],
        "syn": [int(bool(v)) for v in _col(units, "depends_on_synthetic", False)],
        "acc": acc_idx,
        "texts": [list(t) for t in acc],
        "dims": [[d.zh, d.en] for d in DIMENSIONS],
        "classes": _names("ZHGKDYFL"),
        "lxbm": _names("LXBM"),
        "erosion": _names("SL190-2007/water"),
        "desert": _names("WangTao-2003"),
        "battles": battle_names,
    }


def encode_outline(
    gdf: Any,
    *,
    tolerance: float,
    clip: tuple[float, float, float, float] | None = None,
    name_col: str | None = None,
    column: str | None = None,
    lines: bool = False,
) -> dict[str, Any]:
    """Polygons (or, with ``lines``, their boundaries) simplified, for :func:`geoeco.maps.zone`.

    With ``lines`` the boundaries are clipped to ``clip`` (lon/lat box), so a huge layer such
    as the Three-North area adds only what is near the map and no false edge along the box.
    ``name_col`` gives tooltips, ``column`` integer values to colour by.

    >>> import geopandas as gpd
    >>> from shapely.geometry import box
    >>> g = gpd.GeoDataFrame({"n": ["a"]}, geometry=[box(0, 0, 2, 2)], crs=4326)
    >>> d = encode_outline(g, tolerance=0.1, clip=(-1, -1, 1, 1), name_col="n", lines=True)
    >>> d["name"], d["g"]
    (['a'], [[[0, 100, 0, -100, 100, 0]]])
    """
    ll = to_lonlat(gdf, what="layer")
    geoms = shapely.make_valid(np.asarray(ll.geometry.values, dtype=object))
    polys = np.array([_polygonal(g) for g in geoms], dtype=object)
    polys = shapely.simplify(polys, tolerance, preserve_topology=True)
    prec = precision_for(tolerance)
    if lines:
        geoms = shapely.line_merge(shapely.boundary(polys))
        if clip is not None:
            geoms = shapely.clip_by_rect(geoms, *clip)
        geoms = np.array([_lineal(g) for g in geoms], dtype=object)
        keep = ~shapely.is_empty(geoms)
        encoded: Any = encode_lines(geoms[keep], precision=prec)
    else:
        keep = ~shapely.is_empty(polys)
        encoded = encode_polygons(polys[keep], precision=prec)
    out: dict[str, Any] = {"p": prec, "g": encoded, "l": int(lines)}
    if name_col and name_col in ll.columns:
        out["name"] = [str(v) for v in np.asarray(ll[name_col].tolist(), dtype=object)[keep]]
    if column and column in ll.columns:
        out["v"] = [_int(v) for v in np.asarray(ll[column].tolist(), dtype=object)[keep]]
    return out


def _lineal(g: Any) -> Any:
    if g is None or shapely.is_empty(g):
        return shapely.LineString()
    if shapely.get_type_id(g) in (1, 5):
        return g
    if shapely.get_type_id(g) == 2:  # LinearRing
        return shapely.LineString(shapely.get_coordinates(g))
    parts = [p for p in shapely.get_parts(g) if shapely.get_type_id(p) in (1, 2)]
    parts = [shapely.LineString(shapely.get_coordinates(p)) for p in parts]
    return shapely.MultiLineString(parts) if parts else shapely.LineString()


def _polygonal(g: Any) -> Any:
    """The polygon part of a geometry (collections from clipping keep only their polygons)."""
    if g is None or shapely.is_empty(g):
        return shapely.Polygon()
    kind = shapely.get_type_id(g)
    if kind in (3, 6):
        return g
    parts = [p for p in shapely.get_parts(g) if shapely.get_type_id(p) in (3, 6)]
    return shapely.union_all(parts) if parts else shapely.Polygon()


def read_effectiveness(run_dir: Path) -> Any:
    """The effectiveness table next to a zoning run (NDVI's first), or ``None``; the variable
    is in ``table.attrs["variable"]``."""
    import pandas as pd

    folder = run_dir / ".." / "change"
    found = sorted(folder.glob("*_effectiveness.csv")) if folder.is_dir() else []
    if not found:
        return None
    path = next((p for p in found if p.name == "ndvi_effectiveness.csv"), found[0])
    table = pd.read_csv(path, encoding="utf-8-sig", dtype={"id": str, "kind": str})
    table.attrs["variable"] = path.name.removesuffix("_effectiveness.csv")
    return table


def read_run(
    run_dir: Path,
    *,
    rasters: Mapping[str, Any] | None = None,
    open_rasters: bool = True,
    context_pad_deg: float = 8.0,
) -> dict[str, Any]:
    """Everything :func:`geoeco.maps.zone.zone_map` draws for a ``geoeco zone`` run folder.

    Rasters are returned as paths (``None`` for a missing one when ``open_rasters`` is False,
    so a tile-serving map still lists the layer); reference layers come from the built-in
    registry and are clipped later by the map.
    """
    import pyogrio

    from geoeco.catalog.layers import builtin_registry
    from geoeco.catalog.sources import read_layer_vector
    from geoeco.core.io import read_vector

    gpkg = run_dir / "zones.gpkg"
    names = {str(n) for n in pyogrio.list_layers(gpkg)[:, 0]} if gpkg.exists() else set()
    units = read_vector(gpkg, layer="units", name="zones.gpkg")
    out: dict[str, Any] = {"units": units}
    for layer in ("redline", "restoration"):
        if layer in names:
            gdf = read_vector(gpkg, layer=layer, name="zones.gpkg")
            out[layer] = gdf if len(gdf) and gdf.geometry.notna().any() else None
    found: dict[str, Any] = {}
    for key, rel in RUN_RASTERS.items():
        path = run_dir / rel
        if rasters is not None and key in rasters:
            found[key] = rasters[key]
        elif path.exists():
            found[key] = path
        elif not open_rasters:
            found[key] = None
    out["rasters"] = found
    out["effectiveness"] = read_effectiveness(run_dir)
    reg = builtin_registry()
    w, s, e, n = (float(v) for v in units.to_crs(4326).total_bounds)
    pad = max(e - w, n - s, 2.0 * context_pad_deg) * 0.5
    bbox = shapely.box(w - pad, s - pad, e + pad, n + pad)
    for key, lid in (
        ("parks", "protected.national_parks"),
        ("three_north", "programme.three_north"),
        ("battles", "programme.battles"),
        ("context", "admin.province"),
    ):
        gdf = read_layer_vector(reg.get(lid))
        out[key] = gdf[gdf.intersects(bbox)] if gdf.crs.to_epsg() in (4326, 4490) else gdf
    return out


__all__ = [
    "RASTER_OUTPUTS",
    "RUN_RASTERS",
    "class_items",
    "encode_outline",
    "encode_units",
    "raster_legend",
    "read_effectiveness",
    "read_run",
    "standalone_overlay",
    "to_lonlat",
]
