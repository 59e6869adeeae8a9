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
5. **Attributes** (:mod:`geoeco.unit_attributes`): class (zh/en), county, equal-area and
   Gauss–Krüger areas, red-line share per LXBM reason, driver shares (erosion grade,
   desertification degree, parks, battles), mean soil loss, and the access list
   (:mod:`geoeco.access`).

**County batches** (:func:`build_units_batched`, or ``build_units(..., batch_pixels=n)``):
units never cross a county line, so counties are independent. Counties are grouped (in
Z-order of their centres) into batches whose bounding pixel window stays under a budget (a
larger county is a batch of its own); only those windows of the rasters are read (any object
with ``grid`` and ``read(window)``, e.g. :class:`geoeco.align.AlignedSource`, or a Raster),
the pixels of other counties inside a window are ignored, and the units are concatenated.
Every step above depends only on a county's own pixels in row-major order, so the result is
identical to the whole-grid run (same codes, geometries and attributes) while memory is that
of the largest window, not of the grid. (Counties are rasterised in grid pixel coordinates
shifted by whole pixels, which is exact; only a county edge passing within ~1e-12 pixel of a
pixel centre could be decided differently by GDAL's scan-line rounding.) A first pass in
row strips under the same budget validates the classes and counts the warnings exactly as
the whole-grid run does.

Areas: ``area_km2`` is the equal-area figure (the geometry's area when the grid CRS is equal
area, else the geometry projected to :data:`~geoeco.crs.ALBERS_CHINA`); ``area_gk_km2`` is the
planar area in the CGCS2000 3-degree Gauss–Krüger zone of the unit's centroid (EPSG:4534–4554),
the official figure for 三线一单 updates (methodology §4.2). Driver shares count the unit's
pixels (before simplification), with the unit's pixel count as denominator.

Examples
--------
>>> import geopandas as gpd
>>> from shapely import box
>>> from geoeco.crs import ALBERS_CHINA
>>> from geoeco.raster import Grid, Raster
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

import heapq
import re
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numba
import numpy as np
import pandas as pd
import shapely
from affine import Affine

from .access import AccessLists, assign_access, load_access_lists
from .errors import CRSError, EmptyArea, GeoecoWarning, InvalidInput
from .raster import Grid, Raster
from .unit_attributes import (
    GRADED_DRIVERS,
    LXBM,
    count_table,
    driver_columns,
    identity_columns,
    redline_columns,
    unit_areas,
    unit_code,
)

UNIT_CODE_RE = re.compile(r"^ZH\d{6}[123]\d{4}$")
#: Default pixel budget of one county batch (16 Mpx ≈ 4000 × 4000 pixels, ~0.5 GB peak).
DEFAULT_BATCH_PIXELS = 16_000_000
#: A pixel window ``(row_off, col_off, height, width)`` on the zone grid.
Window = tuple[int, int, int, int]


# --------------------------------------------------------------------------- labelling


@numba.njit(cache=True)
def _find(parent: np.ndarray, i: int) -> int:
    while parent[i] != i:
        parent[i] = parent[parent[i]]
        i = parent[i]
    return i


@numba.njit(cache=True)
def _label4(key: np.ndarray) -> tuple[np.ndarray, int, np.ndarray]:  # pragma: no cover - numba
    """4-connected components of equal non-zero ``key``; labels 1..n in first-pixel order."""
    h, w = key.shape
    lab = np.zeros((h, w), np.int32)
    cap = 1024
    parent = np.empty(cap, np.int64)
    parent[0] = 0
    nxt = 1
    for r in range(h):
        for c in range(w):
            k = key[r, c]
            if k == 0:
                continue
            up = lab[r - 1, c] if r > 0 and key[r - 1, c] == k else 0
            lf = lab[r, c - 1] if c > 0 and key[r, c - 1] == k else 0
            if up == 0 and lf == 0:
                if nxt >= cap:
                    grown = np.empty(cap * 2, np.int64)
                    grown[:cap] = parent
                    parent = grown
                    cap *= 2
                parent[nxt] = nxt
                lab[r, c] = nxt
                nxt += 1
            elif up == 0:
                lab[r, c] = lf
            elif lf == 0 or up == lf:
                lab[r, c] = up
            else:
                a = _find(parent, up)
                b = _find(parent, lf)
                if a < b:
                    parent[b] = a
                else:
                    parent[a] = b
                lab[r, c] = min(a, b)
    remap = np.zeros(nxt, np.int32)
    first = np.zeros(nxt, np.int64)
    n = 0
    for r in range(h):
        for c in range(w):
            lbl = lab[r, c]
            if lbl:
                root = _find(parent, lbl)
                if remap[root] == 0:
                    n += 1
                    remap[root] = n
                    first[n] = r * w + c
                lab[r, c] = remap[root]
    return lab, n, first[: n + 1]


def _shared_edges(
    labels: np.ndarray, res_x: float, res_y: float, strip_pixels: int = 1 << 20
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairs ``i < j`` of 4-adjacent labels and their shared border length.

    Works in row strips of about ``strip_pixels`` and counts edges as integers, so the
    lengths do not depend on the strips (nor on the window).
    """
    base = np.int64(int(labels.max()) + 1)
    keys: list[np.ndarray] = []
    counts: list[np.ndarray] = []  # column 0: vertical edges (left/right), 1: horizontal

    def add(a: np.ndarray, b: np.ndarray, vertical: bool) -> None:
        m = (a != b) & (a > 0) & (b > 0)
        if not m.any():
            return
        a, b = a[m].astype(np.int64), b[m].astype(np.int64)
        k, cnt = np.unique(np.minimum(a, b) * base + np.maximum(a, b), return_counts=True)
        keys.append(k)
        counts.append(np.column_stack([cnt, np.zeros_like(cnt)][:: 1 if vertical else -1]))

    h, w = labels.shape
    strip = max(1, strip_pixels // max(w, 1))
    for r0 in range(0, h, strip):
        blk = labels[r0 : min(h, r0 + strip + 1)]
        core = blk[: min(strip, h - r0)]
        add(core[:, :-1], core[:, 1:], True)  # left/right neighbours share a vertical edge
        add(blk[:-1], blk[1:], False)  # up/down neighbours share a horizontal edge
    if not keys:
        e = np.zeros(0, np.int64)
        return e, e, np.zeros(0)
    uk, inv = np.unique(np.concatenate(keys), return_inverse=True)
    cnt = np.concatenate(counts)
    nv = np.bincount(inv, weights=cnt[:, 0], minlength=len(uk))
    nh = np.bincount(inv, weights=cnt[:, 1], minlength=len(uk))
    return uk // base, uk % base, nv * res_y + nh * res_x


def _merge_slivers(
    area: np.ndarray,
    cls: np.ndarray,
    first: np.ndarray,
    edges: tuple[np.ndarray, np.ndarray, np.ndarray],
    min_area: float,
    into_priority: bool,
) -> np.ndarray:
    """Root component of every component after merging slivers (see module docstring)."""
    area = area.astype("float64").copy()
    first = first.copy()
    n = len(area) - 1
    parent = np.arange(n + 1)
    small = area < min_area
    small[0] = False
    ei, ej, ew = edges
    keep = small[ei] | small[ej]
    adj: dict[int, dict[int, float]] = {}
    for i, j, w in zip(ei[keep].tolist(), ej[keep].tolist(), ew[keep].tolist(), strict=True):
        adj.setdefault(i, {})[j] = w
        adj.setdefault(j, {})[i] = w
    ver = np.zeros(n + 1, np.int64)
    heap = [(float(area[i]), int(first[i]), int(i), 0) for i in np.flatnonzero(small)]
    heapq.heapify(heap)
    alive = np.ones(n + 1, bool)
    while heap:
        _, _, i, v = heapq.heappop(heap)
        if not alive[i] or v != ver[i] or area[i] >= min_area:
            continue
        ci = cls[i]
        best, best_key = -1, (0.0, 0.0, 0)
        for j, w in adj.get(i, {}).items():
            cj = cls[j]
            if (ci == 1 and cj != 1) or (ci != 1 and cj == 1 and not into_priority):
                continue
            k = (w, float(area[j]), -int(first[j]))
            if best < 0 or k > best_key:
                best, best_key = j, k
        if best < 0:
            continue  # stays a unit (e.g. a priority sliver without a priority neighbour)
        t = best
        parent[i], alive[i] = t, False
        area[t] += area[i]
        first[t] = min(first[t], first[i])
        ai = adj.pop(i, {})
        at = adj.setdefault(t, {})
        at.pop(i, None)
        for j, w in ai.items():
            if j == t:
                continue
            at[j] = at.get(j, 0.0) + w
            aj = adj.setdefault(j, {})
            aj.pop(i, None)
            aj[t] = aj.get(t, 0.0) + w
        for j in [t, *ai]:  # units whose candidate neighbours changed
            if alive[j] and area[j] < min_area:
                ver[j] += 1
                heapq.heappush(heap, (float(area[j]), int(first[j]), int(j), int(ver[j])))
    root = parent
    while True:
        nxt = root[root]
        if np.array_equal(nxt, root):
            return root
        root = nxt


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
    return shapely.normalize(out)


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

    return shapely.orient_polygons(shapely.transform(geoms, affine))


# --------------------------------------------------------------------------- inputs

Reader = Callable[[Window], np.ma.MaskedArray]


def _reader(src: Any, what: str) -> tuple[Grid, Reader]:
    """Grid and window reader of a Raster or of any object with ``grid`` and ``read(window)``."""
    if isinstance(src, Raster):
        a = src.array
        if a.ndim != 2:
            raise InvalidInput(f"{what} must be a single-band raster")
        return src.grid, lambda w: a[w[0] : w[0] + w[2], w[1] : w[1] + w[3]]
    if isinstance(getattr(src, "grid", None), Grid) and callable(getattr(src, "read", None)):

        def read(w: Window) -> np.ma.MaskedArray:
            a = np.ma.asarray(src.read(w))
            if a.ndim != 2:
                raise InvalidInput(f"{what} must be a single-band raster")
            return a

        return src.grid, read
    raise InvalidInput(
        f"{what} must be a Raster or a window reader with .grid and .read(window), "
        f"got {type(src).__name__}"
    )


def _present(a: np.ndarray) -> np.ndarray:
    """Distinct values of ``a`` (a histogram for small non-negative integers, else sorting)."""
    if a.dtype.kind in "ub" or (a.dtype.kind == "i" and a.size and a.min() >= 0):
        if not a.size or a.max() < 65536:
            return np.flatnonzero(count_table(a, int(a.max(initial=0)))[:, 0])
    return np.unique(a)


def _scan_classes(
    zone: np.ma.MaskedArray, red: np.ma.MaskedArray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
    """Classes and red line as uint8 (red line promoted to priority), the invalid values found
    in each, and the number of promoted pixels."""
    cls = np.asarray(np.ma.filled(zone, 0))
    rl = np.asarray(np.ma.filled(red, 0))
    bad_c = np.setdiff1d(_present(cls), [0, 1, 2, 3])
    bad_r = np.setdiff1d(_present(rl), [0, *LXBM])
    if bad_c.size or bad_r.size:
        return cls, rl, bad_c, bad_r, 0
    cls, rl = cls.astype(np.uint8), rl.astype(np.uint8)
    promote = (rl > 0) & (cls != 1)
    n = int(np.count_nonzero(promote))
    if n:
        cls = np.where(promote, np.uint8(1), cls)
    return cls, rl, bad_c, bad_r, n


def _check_scan(bad_c: np.ndarray, bad_r: np.ndarray, promoted: int, outside: int) -> None:
    if bad_c.size:
        raise InvalidInput(f"zone_class holds {bad_c[:5].tolist()}; expected 0 (none) or 1, 2, 3")
    if bad_r.size:
        raise InvalidInput(
            f"redline holds {bad_r[:5].tolist()}; expected 0 or an LXBM code 11–15, 21–25"
        )
    if promoted:
        warnings.warn(
            f"{promoted} red-line pixels were not priority protection (class 1); "
            "they are made priority, as the red line always is",
            GeoecoWarning,
            stacklevel=4,
        )
    if outside:
        warnings.warn(
            f"{outside} zoned pixels lie outside every county and are left out of the units",
            GeoecoWarning,
            stacklevel=4,
        )


def _county_table(counties):  # type: ignore[no-untyped-def]
    """Counties dissolved by code and sorted by code (so input row order never matters)."""
    import geopandas as gpd

    for col in ("code", "name"):
        if col not in counties.columns:
            raise InvalidInput(f"counties need columns 'code' and 'name'; '{col}' is missing")
    if counties.crs is None:
        raise CRSError("counties have no CRS; declare one (e.g. EPSG:4490)")
    c = counties[counties.geometry.notna() & ~counties.geometry.is_empty].copy()
    c["code"] = c["code"].astype(str)
    bad = c.loc[~c["code"].str.fullmatch(r"\d{6}"), "code"]
    if len(bad):
        raise InvalidInput(f"county codes must be 6 digits, found {bad.head(3).tolist()}")
    extra = [x for x in ("province_name", "city_name") if x in c.columns]
    rows = []
    for code, grp in c.groupby("code", sort=True):
        geom = grp.geometry.iloc[0] if len(grp) == 1 else shapely.union_all(grp.geometry.values)
        rows.append(
            {
                "code": code,
                "name": str(grp["name"].iloc[0]),
                **{x: grp[x].iloc[0] for x in extra},
                "geometry": geom,
            }
        )
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=c.crs)


def _county_pixels(table, grid: Grid) -> tuple[np.ndarray, np.ndarray]:  # type: ignore[no-untyped-def]
    """County geometries in pixel coordinates of ``grid`` and their windows ``(r0, c0, r1, c1)``
    (clipped to the grid, one pixel of margin; empty when a county misses the grid)."""
    t = grid.transform
    geoms = table.to_crs(grid.crs).geometry.values.to_numpy()
    scale = np.array([t.a, t.e])
    origin = np.array([t.c, t.f])
    pxg = shapely.transform(geoms, lambda xy: (xy - origin) / scale)
    x0, y0, x1, y1 = shapely.bounds(pxg).T
    win = np.column_stack(
        [
            np.clip(np.floor(y0) - 1, 0, grid.height),
            np.clip(np.floor(x0) - 1, 0, grid.width),
            np.clip(np.ceil(y1) + 1, 0, grid.height),
            np.clip(np.ceil(x1) + 1, 0, grid.width),
        ]
    )
    return pxg, np.nan_to_num(win).astype(np.int64)


def _touching(windows: np.ndarray, win: Window) -> np.ndarray:
    """Indices (ascending) of the county windows that overlap ``win``."""
    r0, c0, h, w = win
    return np.flatnonzero(
        (windows[:, 0] < r0 + h)
        & (windows[:, 2] > r0)
        & (windows[:, 1] < c0 + w)
        & (windows[:, 3] > c0)
    )


def _rasterize(
    pxg: np.ndarray, ids: np.ndarray, win: Window, burn: int | None = None
) -> np.ndarray:
    """County index + 1 (or ``burn``) of every pixel centre of ``win``; later ids win overlaps."""
    from rasterio.features import rasterize

    r0, c0, h, w = win
    shift = np.array([c0, r0], dtype="float64")
    geoms = shapely.transform(pxg[ids], lambda xy: xy - shift)  # integer shift: exact
    pairs = [
        (g, int(i) + 1 if burn is None else burn)
        for g, i in zip(geoms, ids, strict=True)
        if g is not None and not g.is_empty
    ]
    if not pairs:
        return np.zeros((h, w), np.int32)
    return rasterize(pairs, out_shape=(h, w), transform=Affine.identity(), dtype="int32")


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
    table,  # type: ignore[no-untyped-def]
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


def county_batches(windows: np.ndarray, batch_pixels: int) -> list[tuple[np.ndarray, Window]]:
    """Group county windows into batches whose bounding window has at most ``batch_pixels``.

    ``windows`` holds one ``(r0, c0, r1, c1)`` row per county (end-exclusive); empty windows
    are left out. Counties are visited in Z-order of their window centres and added to the
    current batch while its bounding window stays within the budget; a county larger than
    the budget is a batch of its own. Returns ``(county indices ascending, (row_off, col_off,
    height, width))`` per batch.

    >>> w = np.array([[0, 0, 10, 10], [0, 10, 10, 20], [50, 50, 60, 60], [0, 0, 0, 0]])
    >>> [(ids.tolist(), win) for ids, win in county_batches(w, 200)]
    [([0, 1], (0, 0, 10, 20)), ([2], (50, 50, 10, 10))]
    """
    if not batch_pixels >= 1:
        raise InvalidInput(f"batch_pixels must be >= 1, got {batch_pixels}")
    w = np.asarray(windows, dtype=np.int64).reshape(-1, 4)
    live = np.flatnonzero((w[:, 2] > w[:, 0]) & (w[:, 3] > w[:, 1]))
    cr = ((w[live, 0] + w[live, 2]) // 2).astype(np.uint64)
    cc = ((w[live, 1] + w[live, 3]) // 2).astype(np.uint64)
    z = np.zeros(len(live), np.uint64)
    for b in range(32):  # interleave the bits of row and column: Z-order (Morton) key
        z |= ((cr >> np.uint64(b)) & np.uint64(1)) << np.uint64(2 * b + 1)
        z |= ((cc >> np.uint64(b)) & np.uint64(1)) << np.uint64(2 * b)
    out: list[tuple[np.ndarray, Window]] = []
    cur: list[int] = []
    box = np.zeros(4, np.int64)

    def flush() -> None:
        out.append(
            (np.sort(np.array(cur)), (int(box[0]), int(box[1]), int(box[2] - box[0]),
                                      int(box[3] - box[1])))
        )  # fmt: skip

    for i in live[np.argsort(z, kind="stable")].tolist():
        if cur:
            nb = np.concatenate([np.minimum(box[:2], w[i, :2]), np.maximum(box[2:], w[i, 2:])])
            if (nb[2] - nb[0]) * (nb[3] - nb[1]) <= batch_pixels:
                cur.append(i)
                box = nb
                continue
            flush()
        cur, box = [i], w[i].copy()
    if cur:
        flush()
    return out


def build_units(
    zone_class: Raster,
    redline: Raster,
    counties,  # type: ignore[no-untyped-def]
    *,
    drivers: Mapping[str, Raster] | None = None,
    min_area_km2: float = 0.1,
    simplify_m: float | None = None,
    code_prefix: str = "ZH",
    serial_digits: int = 4,
    merge_into_priority: bool = True,
    access: AccessLists | str | Path | None = None,
    batch_pixels: int | None = None,
):
    """Control units from a zone-class raster, a red-line raster and county polygons.

    Parameters
    ----------
    zone_class : Raster
        ``uint8`` 1 priority protection, 2 key control, 3 general control, 0/masked outside, on
        a projected grid (equal-area, e.g. :data:`~geoeco.crs.ALBERS_CHINA`).
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
    cty = _rasterize(pxg, np.arange(len(table)), full) if not (bad_c.size or bad_r.size) else None
    outside = 0 if cty is None else int(np.count_nonzero((cls > 0) & (cty == 0)))
    _check_scan(bad_c, bad_r, promoted, outside)
    drv = {name: readers[name](full) for name in drivers or {}}
    got = _window_units(cls, rl, cty, drv, table, grid, (0, 0), opt)
    if got is None:
        raise EmptyArea("no zoned pixel (class 1–3) lies inside the counties")
    lists = access if isinstance(access, AccessLists) else load_access_lists(access)
    return assign_access(got[0], lists)


def build_units_batched(
    zone_class: Any,
    redline: Any,
    counties,  # type: ignore[no-untyped-def]
    *,
    drivers: Mapping[str, Any] | None = None,
    batch_pixels: int = DEFAULT_BATCH_PIXELS,
    min_area_km2: float = 0.1,
    simplify_m: float | None = None,
    code_prefix: str = "ZH",
    serial_digits: int = 4,
    merge_into_priority: bool = True,
    access: AccessLists | str | Path | None = None,
):
    """:func:`build_units` in county batches, reading only each batch's window of the rasters.

    ``zone_class``, ``redline`` and the ``drivers`` are Rasters or window readers on one grid
    (objects with ``grid`` and ``read((row_off, col_off, height, width))`` returning a masked
    array, e.g. :class:`geoeco.align.AlignedSource`). Batches (:func:`county_batches`) are
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


def _readers(zone_class: Any, redline: Any, drivers: Mapping[str, Any] | None):  # type: ignore[no-untyped-def]
    grid, rz = _reader(zone_class, "zone_class")
    if not grid.crs.is_projected:
        raise CRSError(
            f"zone rasters must be on a projected (equal-area) grid, got {grid.crs.name}; "
            "warp them to geoeco.crs.ALBERS_CHINA"
        )
    g, rr = _reader(redline, "redline")
    grid.check_aligned(g, what="zone_class and redline")
    readers = {"zone_class": rz, "redline": rr}
    for name, src in (drivers or {}).items():
        g, readers[name] = _reader(src, f"driver {name!r}")
        grid.check_aligned(g, what=f"driver {name!r} and zone_class")
    return grid, readers


def _build_batched(zone_class, redline, counties, drivers, opt, access, batch_pixels):  # type: ignore[no-untyped-def]
    grid, readers = _readers(zone_class, redline, drivers)
    table = _county_table(counties)
    batches = county_batches(np.zeros((0, 4)), batch_pixels)  # validates batch_pixels
    pxg, windows = _county_pixels(table, grid)
    # pass 1, row strips: validate classes, count promoted and outside pixels
    rows = max(1, batch_pixels // grid.width)
    bad_c, bad_r, promoted, outside = set(), set(), 0, 0
    for r0 in range(0, grid.height, rows):
        win = (r0, 0, min(rows, grid.height - r0), grid.width)
        cls, _, bc, br, p = _scan_classes(readers["zone_class"](win), readers["redline"](win))
        bad_c.update(bc.tolist())
        bad_r.update(br.tolist())
        promoted += p
        if not (bad_c or bad_r):
            inside = _rasterize(pxg, _touching(windows, win), win, burn=1)
            outside += int(np.count_nonzero((cls > 0) & (inside == 0)))
    _check_scan(np.array(sorted(bad_c)), np.array(sorted(bad_r)), promoted, outside)
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
    "DEFAULT_BATCH_PIXELS",
    "GRADED_DRIVERS",
    "LXBM",
    "UNIT_CODE_RE",
    "build_units",
    "build_units_batched",
    "county_batches",
    "unit_code",
]
