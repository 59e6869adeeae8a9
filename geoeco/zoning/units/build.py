"""Environmental control units (环境管控单元) from zone rasters.

:func:`build_units` turns the zone rasters of the overlay engine into 三线一单 control units:

1. **Vectorise, split by county.** Counties are rasterised onto the zone grid (pixel centres;
   where county polygons overlap, the larger code wins, so row order never matters). A unit
   starts as a 4-connected set of pixels of one class in one county, so units never cross a
   county line and together cover exactly the analysed pixels (zone class 1–3 inside a county).
2. **Merge slivers.** A unit smaller than ``min_area_km2`` joins the neighbour *in the same
   county* with which it shares the longest border (ties: the larger neighbour, then the one
   whose first pixel comes first). Smallest slivers go first, and a merged unit that is still
   small keeps merging; a sliver with no eligible neighbour in its county stays a unit. A
   priority (优先保护) sliver only joins a priority unit, and stays a unit when it has none,
   so priority protection and the red line never shrink. A key or general sliver may join a
   priority unit (``merge_into_priority=True``, the default): that extends protection over
   the sliver, which can only make control stricter; pass ``False`` to forbid it.
3. **Simplify** with :func:`shapely.coverage_simplify` per county with
   ``simplify_boundary=False``: the county outline (as rasterised) and every edge of a
   priority unit (which holds all red-line pixels) stay exactly on pixel edges, so neither
   the red line nor priority protection gains or loses any area; only edges between two key
   or general units of one county are smoothed (Visvalingam–Whyatt, tolerance ≈ the square
   root of the triangle areas removed). The result stays a valid polygon coverage (no gaps,
   no overlaps, same union). Simplification can halve a one-pixel unit, so use it together
   with a minimum area. Polygons are built and simplified in pixel coordinates of the grid
   (exact integers, every pixel corner a vertex, rings normalised) and moved to the grid CRS
   by its affine transform, so neighbours share identical vertices.
4. **Number** deterministically: ``ZH`` + county code + class digit + serial, the serial
   counting per county and class in the order of each unit's first pixel (row-major).
5. **Attributes** (:mod:`geoeco.zoning.units.attributes`): class (zh/en), county, equal-area and
   Gauss–Krüger areas, red-line share per LXBM reason, driver shares (erosion grade,
   desertification degree, parks, battles), mean soil loss, and the access list
   (:mod:`geoeco.zoning.access`).

**County batches** (:func:`build_units_batched`, or ``build_units(..., batch_pixels=n)``):
units never cross a county line, so counties are independent. Counties are grouped (in
Z-order of their centres) into batches whose bounding pixel window stays under a budget (a
larger county is a batch of its own); only those windows of the rasters are read (any object
with ``grid`` and ``read(window)``, e.g. :class:`geoeco.core.align.AlignedSource`, or a Raster),
the pixels of other counties inside a window are ignored, and the units are concatenated.
Every step above depends only on a county's own pixels in row-major order, so the result is
identical to the whole-grid run (same codes, geometries and attributes) while memory is that
of the largest window, not of the grid. (Counties are rasterised in grid pixel coordinates
shifted by whole pixels, which is exact; only a county edge passing within ~1e-12 pixel of a
pixel centre could be decided differently by GDAL's scan-line rounding.) A first pass in
row strips under the same budget validates the classes and counts the warnings exactly as
the whole-grid run does.

Areas: ``area_km2`` is the equal-area figure (the geometry's area when the grid CRS is equal
area, else the geometry projected to :data:`~geoeco.core.crs.ALBERS_CHINA`); ``area_gk_km2`` is the
planar area in the CGCS2000 3-degree Gauss–Krüger zone of the unit's centroid (EPSG:4534–4554),
the official figure for 三线一单 updates (methodology §4.2). Driver shares count the unit's
pixels (before simplification), with the unit's pixel count as denominator.

Examples
--------
>>> import geopandas as gpd
>>> from shapely import box
>>> from geoeco.core.crs import ALBERS_CHINA
>>> from geoeco.core.raster import Grid, Raster
>>> g = Grid.from_bounds((0, 4_000_000, 400, 4_000_400), 100, ALBERS_CHINA)
>>> zc = Raster.from_array(np.array([[1, 1, 3, 3]] * 4, "uint8"), g, nodata=0)
>>> rl = Raster.from_array(np.array([[13, 13, 0, 0]] * 4, "uint8"), g)
>>> cty = gpd.GeoDataFrame({"code": ["150822"], "name": ["磴口县"]},
...     geometry=[box(-100, 3_999_900, 500, 4_000_500)], crs=ALBERS_CHINA).to_crs(4490)
>>> u = build_units(zc, rl, cty, min_area_km2=0)
>>> u[["code", "unit_class", "area_km2", "redline_share"]].values.tolist()
[['ZH15082210001', 1, 0.08, 1.0], ['ZH15082230001', 3, 0.08, 0.0]]
>>> b = build_units(zc, rl, cty, min_area_km2=0, batch_pixels=4)
>>> b.drop(columns="geometry").equals(u.drop(columns="geometry"))
True
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import shapely
from affine import Affine

from geoeco.core.errors import CRSError, EmptyArea, InvalidInput
from geoeco.core.raster import Grid, Raster
from geoeco.zoning.access import AccessLists, assign_access, load_access_lists

from .attributes import (
    count_table,
    driver_columns,
    identity_columns,
    redline_columns,
    unit_areas,
)
from .batches import (
    DEFAULT_BATCH_PIXELS,
    Reader,
    _check_codes,
    _county_pixels,
    _county_table,
    _rasterize,
    _reader,
    _scan_classes,
    _touching,
    _warn_scan,
    county_batches,
)
from .labels import _label4, _merge_slivers, _shared_edges

UNIT_CODE_RE = re.compile(r"^ZH\d{6}[123]\d{4}$")


# --------------------------------------------------------------------------- geometry


def _pixel_polygons(final: np.ndarray, n: int, off: tuple[int, int]) -> np.ndarray:
    """One polygon per unit id 1..n in pixel coordinates of the grid (x = column, y = row;
    ``off`` = window's ``(row_off, col_off)``), every pixel corner on its boundary a vertex
    (so neighbours share identical vertices), rings normalised (so the result does not
    depend on the window)."""
    from rasterio.features import shapes

    parts: list[list[shapely.Geometry]] = [[] for _ in range(n)]
    for geom, val in shapes(final, mask=final > 0, connectivity=4, transform=Affine.identity()):
        rings = [np.asarray(r, dtype="float64") for r in geom["coordinates"]]
        parts[int(val) - 1].append(shapely.Polygon(rings[0], rings[1:]))
    out = np.array(
        [p[0] if len(p) == 1 else shapely.coverage_union_all(p) for p in parts], dtype=object
    )
    out = shapely.segmentize(out, 1.0)
    if off != (0, 0):  # integers: exact
        shift = np.array([off[1], off[0]], dtype="float64")
        out = shapely.transform(out, lambda xy: xy + shift)
    normalised: np.ndarray = shapely.normalize(out)
    return normalised


def _simplify(geoms: np.ndarray, county: np.ndarray, fixed: np.ndarray, tol_px: float) -> None:
    """Coverage-simplify, in place, the edges shared by two non-fixed units of one county."""
    if tol_px <= 0:
        return
    for c in np.unique(county):
        idx = np.flatnonzero((county == c) & ~fixed)
        if len(idx) >= 2:
            geoms[idx] = shapely.coverage_simplify(geoms[idx], tol_px, simplify_boundary=False)


def _to_world(geoms: np.ndarray, t: Affine) -> np.ndarray:
    def affine(xy: np.ndarray) -> np.ndarray:
        return np.column_stack([t.c + t.a * xy[:, 0], t.f + t.e * xy[:, 1]])

    oriented: np.ndarray = shapely.orient_polygons(shapely.transform(geoms, affine))
    return oriented


# --------------------------------------------------------------------------- units of a window


@dataclass(frozen=True)
class _Options:
    min_area_km2: float
    simplify_m: float | None
    code_prefix: str
    serial_digits: int
    merge_into_priority: bool


def _window_units(
    cls: np.ndarray,
    rl: np.ndarray,
    cty: np.ndarray,
    drivers: Mapping[str, np.ma.MaskedArray],
    table: Any,
    grid: Grid,
    off: tuple[int, int],
    opt: _Options,
) -> tuple[Any, np.ndarray] | None:
    """Units (without access lists) of the pixels ``cty > 0`` of one window at ``off``, and
    each unit's county index; None when the window holds no zoned county pixel."""
    import geopandas as gpd

    key = cty * np.int32(4)  # county * 4 + class; 0 outside a county or unzoned
    key += cls
    key[(cls == 0) | (cty == 0)] = 0
    if not key.any():
        return None
    labels, n, first = _label4(key)
    del key
    flat_cls, flat_cty = cls.ravel(), cty.ravel()
    comp_cls = flat_cls[first].astype(np.int64)
    comp_cls[0] = 0
    comp_cty = flat_cty[first].astype(np.int64)
    comp_cty[0] = 0
    area = count_table(labels, n)[:, 0] * (grid.cell_area / 1e6)
    ei, ej, ew = _shared_edges(labels, *grid.res)
    same = comp_cty[ei] == comp_cty[ej]
    root = _merge_slivers(
        area, comp_cls, first, (ei[same], ej[same], ew[same]), opt.min_area_km2,
        opt.merge_into_priority,
    )  # fmt: skip
    # number the merged units: county (code order), class, first pixel (window row-major
    # order = grid row-major order within a county)
    roots = np.unique(root[1:])
    ufirst = np.full(n + 1, np.iinfo(np.int64).max)
    np.minimum.at(ufirst, root[1:], first[1:])
    roots = roots[np.lexsort((ufirst[roots], comp_cls[roots], comp_cty[roots]))]
    unit_of = np.zeros(n + 1, np.int32)
    unit_of[roots] = np.arange(1, len(roots) + 1)
    final = unit_of[root][labels]
    del labels
    nu = len(roots)
    u_cls, u_cty = comp_cls[roots], comp_cty[roots] - 1
    px = count_table(final, nu)[1:, 0].astype("float64")

    res = float(np.mean(grid.res))
    geoms = _pixel_polygons(final, nu, off)
    tol = res if opt.simplify_m is None else float(opt.simplify_m)
    _simplify(geoms, u_cty, u_cls == 1, tol / res)
    geoms = _to_world(geoms, grid.transform)
    area_ea, area_gk, gk_epsg = unit_areas(geoms, grid.crs)

    data = identity_columns(
        table, u_cty, u_cls, prefix=opt.code_prefix, serial_digits=opt.serial_digits
    )
    data |= {"pixels": px.astype(np.int64), "area_km2": area_ea, "area_gk_km2": area_gk}
    data |= {"gk_epsg": gk_epsg, **redline_columns(final, rl, nu, px)}
    for name in sorted(drivers):
        data |= driver_columns(name, drivers[name], final, nu, px)
    return gpd.GeoDataFrame(data, geometry=geoms, crs=grid.crs), u_cty


# --------------------------------------------------------------------------- public API


def build_units(
    zone_class: Raster,
    redline: Raster,
    counties: Any,
    *,
    drivers: Mapping[str, Raster] | None = None,
    min_area_km2: float = 0.1,
    simplify_m: float | None = None,
    code_prefix: str = "ZH",
    serial_digits: int = 4,
    merge_into_priority: bool = True,
    access: AccessLists | str | Path | None = None,
    batch_pixels: int | None = None,
) -> Any:
    """Control units from a zone-class raster, a red-line raster and county polygons.

    Parameters
    ----------
    zone_class : Raster
        ``uint8`` 1 priority protection, 2 key control, 3 general control, 0/masked outside, on
        a projected grid (equal-area, e.g. :data:`~geoeco.core.crs.ALBERS_CHINA`).
    redline : Raster
        Red-line patch type (LXBM 11–15, 21–25; 0 none) on the same grid. Red-line pixels are
        always priority; any that are not are made so (with a warning).
    counties : GeoDataFrame
        ``code`` (6 digits), ``name`` and polygons in any CRS (EPSG:4490 usually); optional
        ``province_name``/``city_name`` are carried to the units.
    drivers : mapping of name to Raster, optional
        Rasters on the same grid summarised per unit: ``erosion_grade`` (1–6) and
        ``desertification`` (1–5) give ``erosion_g<k>_share``/``desert_d<k>_share`` and the
        dominant grade; ``park`` and ``battle`` (and any other integer raster) give
        ``<name>_share`` (value > 0) and ``<name>_ids``; float rasters (e.g. ``soil_loss``)
        give ``<name>_mean``.
    min_area_km2 : float
        Units below this area are merged (see the module docstring); 0 keeps every component.
    simplify_m : float, optional
        Coverage-simplification tolerance in CRS units; default one pixel, 0 disables.
    code_prefix, serial_digits :
        Unit-code format (:func:`unit_code`).
    merge_into_priority : bool
        Whether a key or general sliver may join a priority unit.
    access : AccessLists or path, optional
        Access-list templates (default: the built-in ``data/access_lists.toml``).
    batch_pixels : int, optional
        Work in county batches of at most this many pixels (:func:`build_units_batched`);
        the result is the same. Default: the whole grid at once.

    Returns
    -------
    GeoDataFrame
        One row per unit, sorted by code, in the grid CRS; see the module docstring.
    """
    opt = _options(min_area_km2, simplify_m, code_prefix, serial_digits, merge_into_priority)
    if batch_pixels is not None:
        return _build_batched(zone_class, redline, counties, drivers, opt, access, batch_pixels)
    grid, readers = _readers(zone_class, redline, drivers)
    full = (0, 0, grid.height, grid.width)
    cls, rl, bad_c, bad_r, promoted = _scan_classes(
        readers["zone_class"](full), readers["redline"](full)
    )
    table = _county_table(counties)
    pxg, _ = _county_pixels(table, grid)
    _check_codes(bad_c, bad_r)
    cty = _rasterize(pxg, np.arange(len(table)), full)
    _warn_scan(promoted, int(np.count_nonzero((cls > 0) & (cty == 0))))
    drv = {name: readers[name](full) for name in drivers or {}}
    got = _window_units(cls, rl, cty, drv, table, grid, (0, 0), opt)
    if got is None:
        raise EmptyArea("no zoned pixel (class 1–3) lies inside the counties")
    lists = access if isinstance(access, AccessLists) else load_access_lists(access)
    return assign_access(got[0], lists)


def build_units_batched(
    zone_class: Any,
    redline: Any,
    counties: Any,
    *,
    drivers: Mapping[str, Any] | None = None,
    batch_pixels: int = DEFAULT_BATCH_PIXELS,
    min_area_km2: float = 0.1,
    simplify_m: float | None = None,
    code_prefix: str = "ZH",
    serial_digits: int = 4,
    merge_into_priority: bool = True,
    access: AccessLists | str | Path | None = None,
) -> Any:
    """:func:`build_units` in county batches, reading only each batch's window of the rasters.

    ``zone_class``, ``redline`` and the ``drivers`` are Rasters or window readers on one grid
    (objects with ``grid`` and ``read((row_off, col_off, height, width))`` returning a masked
    array, e.g. :class:`geoeco.core.align.AlignedSource`). Batches (:func:`county_batches`) are
    windows of at most ``batch_pixels`` pixels, or one county's window when that is larger;
    the validation pass reads row strips of ``max(batch_pixels, width)`` pixels. Peak memory
    follows the largest window (about 30 bytes per pixel) plus the units themselves. The
    result equals ``build_units(...)`` on the whole grid: same rows, codes, geometries and
    attributes (see the module docstring); the other parameters are those of
    :func:`build_units`.
    """
    opt = _options(min_area_km2, simplify_m, code_prefix, serial_digits, merge_into_priority)
    return _build_batched(zone_class, redline, counties, drivers, opt, access, batch_pixels)


def _options(
    min_area_km2: float, simplify_m: float | None, prefix: str, digits: int, into: bool
) -> _Options:
    if not min_area_km2 >= 0 or (simplify_m is not None and not simplify_m >= 0):
        raise InvalidInput(
            f"min_area_km2 and simplify_m must be >= 0, got {min_area_km2}, {simplify_m}"
        )
    return _Options(min_area_km2, simplify_m, prefix, digits, into)


def _readers(
    zone_class: Any, redline: Any, drivers: Mapping[str, Any] | None
) -> tuple[Grid, dict[str, Reader]]:
    """The grid and window readers of the zone class, the red line and the drivers (checked:
    projected, all on one grid)."""
    grid, rz = _reader(zone_class, "zone_class")
    if not grid.crs.is_projected:
        raise CRSError(
            f"zone rasters must be on a projected (equal-area) grid, got {grid.crs.name}; "
            "warp them to geoeco.core.crs.ALBERS_CHINA"
        )
    g, rr = _reader(redline, "redline")
    grid.check_aligned(g, what="zone_class and redline")
    readers = {"zone_class": rz, "redline": rr}
    for name, src in (drivers or {}).items():
        g, readers[name] = _reader(src, f"driver {name!r}")
        grid.check_aligned(g, what=f"driver {name!r} and zone_class")
    return grid, readers


def _build_batched(
    zone_class: Any,
    redline: Any,
    counties: Any,
    drivers: Mapping[str, Any] | None,
    opt: _Options,
    access: AccessLists | str | Path | None,
    batch_pixels: int,
) -> Any:
    """:func:`build_units_batched` with checked options."""
    grid, readers = _readers(zone_class, redline, drivers)
    table = _county_table(counties)
    batches = county_batches(np.zeros((0, 4)), batch_pixels)  # validates batch_pixels
    pxg, windows = _county_pixels(table, grid)
    # pass 1, row strips: validate classes, count promoted and outside pixels
    rows = max(1, batch_pixels // grid.width)
    bad_c: set[int] = set()
    bad_r: set[int] = set()
    promoted, outside = 0, 0
    for r0 in range(0, grid.height, rows):
        win = (r0, 0, min(rows, grid.height - r0), grid.width)
        cls, _, bc, br, p = _scan_classes(readers["zone_class"](win), readers["redline"](win))
        bad_c.update(bc.tolist())
        bad_r.update(br.tolist())
        promoted += p
        if not (bad_c or bad_r):
            inside = _rasterize(pxg, _touching(windows, win), win, burn=1)
            outside += int(np.count_nonzero((cls > 0) & (inside == 0)))
    _check_codes(np.array(sorted(bad_c)), np.array(sorted(bad_r)))
    _warn_scan(promoted, outside)
    # pass 2, county batches
    batches = county_batches(windows, batch_pixels)
    keep = np.zeros(len(table) + 1, bool)
    parts, county = [], []
    for ids, win in batches:
        cls, rl, *_ = _scan_classes(readers["zone_class"](win), readers["redline"](win))
        cty = _rasterize(pxg, _touching(windows, win), win)
        keep[:] = False
        keep[ids + 1] = True
        cty[~keep[cty]] = 0  # pixels of counties of other batches
        drv = {name: readers[name](win) for name in drivers or {}}
        got = _window_units(cls, rl, cty, drv, table, grid, win[:2], opt)
        if got is not None:
            parts.append(got[0])
            county.append(got[1])
    if not parts:
        raise EmptyArea("no zoned pixel (class 1–3) lies inside the counties")
    order = np.argsort(np.concatenate(county), kind="stable")
    units = pd.concat(parts, ignore_index=True).take(order).reset_index(drop=True)
    lists = access if isinstance(access, AccessLists) else load_access_lists(access)
    return assign_access(units, lists)


__all__ = [
    "UNIT_CODE_RE",
    "build_units",
    "build_units_batched",
]
