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
   with a minimum area. Polygons are built and simplified in pixel coordinates (exact
   integers, every pixel corner a vertex) and moved to the grid CRS by its affine transform,
   so neighbours share identical vertices.
4. **Number** deterministically: ``ZH`` + county code + class digit + serial, the serial
   counting per county and class in the order of each unit's first pixel (row-major).
5. **Attributes**: class (zh/en), county, equal-area and Gauss–Krüger areas, red-line share
   per LXBM reason, driver shares (erosion grade, desertification degree, parks, battles),
   mean soil loss, and the access list (:mod:`geoeco.access`).

Areas: ``area_km2`` is the equal-area figure (the geometry's area when the grid CRS is equal
area, else the geometry projected to :data:`~geoeco.crs.ALBERS_CHINA`); ``area_gk_km2`` is the
planar area in the CGCS2000 3-degree Gauss–Krüger zone of the unit's centroid (EPSG:4534–4554),
the official figure for 三线一单 updates (methodology §4.2). Driver shares count the unit's
pixels (before simplification), with the unit's pixel count as denominator.

Examples
--------
>>> import geopandas as gpd
>>> from shapely import box
>>> from geoeco.raster import Grid, Raster
>>> g = Grid.from_bounds((0, 4_000_000, 400, 4_000_400), 100, ALBERS_CHINA)
>>> zc = Raster.from_array(np.array([[1, 1, 3, 3]] * 4, "uint8"), g, nodata=0)
>>> rl = Raster.from_array(np.array([[13, 13, 0, 0]] * 4, "uint8"), g)
>>> cty = gpd.GeoDataFrame({"code": ["150822"], "name": ["磴口县"]},
...     geometry=[box(-100, 3_999_900, 500, 4_000_500)], crs=ALBERS_CHINA).to_crs(4490)
>>> u = build_units(zc, rl, cty, min_area_km2=0)
>>> u[["code", "unit_class", "area_km2", "redline_share"]].values.tolist()
[['ZH15082210001', 1, 0.08, 1.0], ['ZH15082230001', 3, 0.08, 0.0]]
"""

from __future__ import annotations

import heapq
import re
import warnings
from collections.abc import Mapping
from pathlib import Path

import numba
import numpy as np
import pandas as pd
import shapely
from affine import Affine
from pyproj import CRS, Transformer

from .access import CLASS_NAMES, AccessLists, assign_access, load_access_lists
from .crs import ALBERS_CHINA, CGCS2000, gk_zone_epsg
from .errors import CRSError, EmptyArea, GeoecoWarning, InvalidInput
from .raster import Grid, Raster

#: Red-line patch type codes (LXBM, methodology §4.1): code -> (zh, en).
LXBM: dict[int, tuple[str, str]] = {
    11: ("水源涵养", "water conservation"),
    12: ("生物多样性维护", "biodiversity maintenance"),
    13: ("水土保持", "soil and water conservation"),
    14: ("防风固沙", "windbreak and sand fixation"),
    15: ("其他生态功能", "other ecological function"),
    21: ("水土流失", "soil erosion"),
    22: ("土地沙化", "land sanding"),
    23: ("石漠化", "rocky desertification"),
    24: ("盐渍化", "salinisation"),
    25: ("其他生态环境敏感脆弱", "other ecological sensitivity"),
}
#: Graded drivers: name -> (column stem, number of grades, name of the dominant-grade column).
GRADED_DRIVERS: dict[str, tuple[str, int, str]] = {
    "erosion_grade": ("erosion_g", 6, "erosion_grade_main"),  # SL 190-2007, 1 slight … 6 severe
    "desertification": ("desert_d", 5, "desert_degree_main"),  # 1 none … 5 extremely severe
}
UNIT_CODE_RE = re.compile(r"^ZH\d{6}[123]\d{4}$")
_EQUAL_AREA_METHODS = ("equal area", "equal earth", "mollweide", "sinusoidal", "eckert iv")


def unit_code(
    county_code: str, unit_class: int, serial: int, *, prefix: str = "ZH", serial_digits: int = 4
) -> str:
    """Control-unit code: ``prefix`` + 6-digit county code + class digit + zero-padded serial.

    The format follows the published example ZH440606\\ **2**\\ 0001 (methodology §4.2; only
    the class digits 1/2/3 are verified), hence ``prefix`` and ``serial_digits`` are options.

    >>> unit_code("150822", 2, 7)
    'ZH15082220007'
    >>> unit_code("150822", 4, 1)
    Traceback (most recent call last):
    ...
    geoeco.errors.InvalidInput: unit class must be 1, 2 or 3, got 4
    """
    if not re.fullmatch(r"\d{6}", str(county_code)):
        raise InvalidInput(f"county code must be 6 digits, got {county_code!r}")
    if unit_class not in (1, 2, 3):
        raise InvalidInput(f"unit class must be 1, 2 or 3, got {unit_class!r}")
    if not 1 <= serial < 10**serial_digits:
        raise InvalidInput(
            f"serial {serial} does not fit {serial_digits} digits; raise serial_digits"
        )
    return f"{prefix}{county_code}{unit_class}{serial:0{serial_digits}d}"


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
    labels: np.ndarray, res_x: float, res_y: float, strip: int = 2048
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairs ``i < j`` of 4-adjacent labels and their shared border length (row strips)."""
    base = np.int64(int(labels.max()) + 1)
    keys: list[np.ndarray] = []
    lens: list[np.ndarray] = []

    def add(a: np.ndarray, b: np.ndarray, edge: float) -> None:
        m = (a != b) & (a > 0) & (b > 0)
        if not m.any():
            return
        a, b = a[m].astype(np.int64), b[m].astype(np.int64)
        k, cnt = np.unique(np.minimum(a, b) * base + np.maximum(a, b), return_counts=True)
        keys.append(k)
        lens.append(cnt * edge)

    h = labels.shape[0]
    for r0 in range(0, h, strip):
        blk = labels[r0 : min(h, r0 + strip + 1)]
        core = blk[: min(strip, h - r0)]
        add(core[:, :-1], core[:, 1:], res_y)  # left/right neighbours share a vertical edge
        add(blk[:-1], blk[1:], res_x)  # up/down neighbours share a horizontal edge
    if not keys:
        e = np.zeros(0, np.int64)
        return e, e, np.zeros(0)
    k_all = np.concatenate(keys)
    uk, inv = np.unique(k_all, return_inverse=True)
    length = np.bincount(inv, weights=np.concatenate(lens))
    return uk // base, uk % base, length


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


def _pixel_polygons(final: np.ndarray, n: int) -> np.ndarray:
    """One polygon per unit id 1..n in pixel coordinates (x = column, y = row), every pixel
    corner on its boundary a vertex (so neighbours share identical vertices)."""
    from rasterio.features import shapes

    parts: list[list[shapely.Geometry]] = [[] for _ in range(n)]
    for geom, val in shapes(final, mask=final > 0, connectivity=4, transform=Affine.identity()):
        rings = [np.asarray(r, dtype="float64") for r in geom["coordinates"]]
        parts[int(val) - 1].append(shapely.Polygon(rings[0], rings[1:]))
    out = np.array(
        [p[0] if len(p) == 1 else shapely.coverage_union_all(p) for p in parts], dtype=object
    )
    return shapely.segmentize(out, 1.0)


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


def _is_equal_area(crs: CRS) -> bool:
    op = crs.coordinate_operation
    name = (op.method_name if op is not None else "").lower()
    return any(m in name for m in _EQUAL_AREA_METHODS)


def _project(geoms: np.ndarray, src: CRS, dst: CRS | int, step: float) -> np.ndarray:
    tr = Transformer.from_crs(src, dst, always_xy=True)

    def f(xy: np.ndarray) -> np.ndarray:
        x, y = tr.transform(xy[:, 0], xy[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(shapely.segmentize(geoms, step), f)


def _areas(geoms: np.ndarray, crs: CRS) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Equal-area km², Gauss–Krüger km² and GK EPSG per geometry (grid CRS ``crs``)."""
    if _is_equal_area(crs):
        ea = shapely.area(geoms) / 1e6
    else:
        ea = shapely.area(_project(geoms, crs, ALBERS_CHINA, 1000.0)) / 1e6
    cx, cy = shapely.get_coordinates(shapely.centroid(geoms)).T
    lon, _ = Transformer.from_crs(crs, CGCS2000, always_xy=True).transform(cx, cy)
    epsg = np.array([gk_zone_epsg(x) for x in np.atleast_1d(lon)], dtype=np.int32)
    gk = np.zeros(len(geoms))
    for code in np.unique(epsg):
        m = epsg == code
        gk[m] = shapely.area(_project(geoms[m], crs, int(code), 500.0)) / 1e6
    return ea, gk, epsg


# --------------------------------------------------------------------------- inputs


def _present(a: np.ndarray) -> np.ndarray:
    """Distinct values of ``a`` (a histogram for small non-negative integers, else sorting)."""
    if a.dtype.kind in "ub" or (a.dtype.kind == "i" and a.size and a.min() >= 0):
        if not a.size or a.max() < 65536:
            return np.flatnonzero(np.bincount(a.ravel().astype(np.int64), minlength=1))
    return np.unique(a)


def _class_arrays(zone_class: Raster, redline: Raster) -> tuple[np.ndarray, np.ndarray]:
    grid = zone_class.grid
    if not grid.crs.is_projected:
        raise CRSError(
            f"zone rasters must be on a projected (equal-area) grid, got {grid.crs.name}; "
            "warp them to geoeco.crs.ALBERS_CHINA"
        )
    grid.check_aligned(redline.grid, what="zone_class and redline")
    if zone_class.array.ndim != 2 or redline.array.ndim != 2:
        raise InvalidInput("zone_class and redline must be single-band rasters")
    cls = np.asarray(np.ma.filled(zone_class.array, 0))
    rl = np.asarray(np.ma.filled(redline.array, 0))
    bad = np.setdiff1d(_present(cls), [0, 1, 2, 3])
    if bad.size:
        raise InvalidInput(f"zone_class holds {bad[:5].tolist()}; expected 0 (none) or 1, 2, 3")
    bad = np.setdiff1d(_present(rl), [0, *LXBM])
    if bad.size:
        raise InvalidInput(
            f"redline holds {bad[:5].tolist()}; expected 0 or an LXBM code 11–15, 21–25"
        )
    promote = (rl > 0) & (cls != 1)
    if promote.any():
        warnings.warn(
            f"{int(promote.sum())} red-line pixels were not priority protection (class 1); "
            "they are made priority, as the red line always is",
            GeoecoWarning,
            stacklevel=3,
        )
        cls = np.where(rl > 0, 1, cls)
    return cls.astype(np.uint8), rl.astype(np.uint8)


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


def _rasterize_counties(table, grid: Grid) -> np.ndarray:  # type: ignore[no-untyped-def]
    from rasterio.features import rasterize

    geoms = table.to_crs(grid.crs).geometry.values
    pairs = [(g, i + 1) for i, g in enumerate(geoms) if g is not None and not g.is_empty]
    if not pairs:
        return np.zeros(grid.shape, np.int32)
    return rasterize(pairs, out_shape=grid.shape, transform=grid.transform, dtype="int32")


# --------------------------------------------------------------------------- attributes


def _redline_columns(final: np.ndarray, rl: np.ndarray, n: int, px: np.ndarray) -> dict:
    codes = list(LXBM)
    lut = np.zeros(256, np.int64)
    lut[codes] = np.arange(1, len(codes) + 1)
    k = len(codes) + 1
    tab = np.bincount((final.astype(np.int64) * k + lut[rl]).ravel(), minlength=(n + 1) * k)
    tab = tab.reshape(n + 1, k)[1:, 1:]
    out: dict = {"redline_share": tab.sum(axis=1) / px}
    main = np.where(tab.sum(axis=1) > 0, np.asarray(codes)[tab.argmax(axis=1)], 0)
    out["redline_main"] = main
    out["redline_main_zh"] = [LXBM[m][0] if m else "" for m in main.tolist()]
    out["redline_main_en"] = [LXBM[m][1] if m else "" for m in main.tolist()]
    for j, code in enumerate(codes):
        out[f"redline_{code}_share"] = tab[:, j] / px
    return out


def _driver_columns(
    name: str, r: Raster, grid: Grid, final: np.ndarray, n: int, px: np.ndarray
) -> dict:
    grid.check_aligned(r.grid, what=f"driver {name!r} and zone_class")
    if r.array.ndim != 2:
        raise InvalidInput(f"driver {name!r} must be a single-band raster")
    valid = ~np.ma.getmaskarray(r.array) & (final > 0)
    fl = final[valid].astype(np.int64)
    raw = np.asarray(r.array.data)[valid]
    if name in GRADED_DRIVERS:
        stem, k, main_col = GRADED_DRIVERS[name]
        vals = raw.astype(np.int64)
        if vals.size and (vals.min() < 0 or vals.max() > k):
            raise InvalidInput(f"driver {name!r} holds values outside 0..{k}")
        tab = np.bincount(fl * (k + 1) + vals, minlength=(n + 1) * (k + 1))
        tab = tab.reshape(n + 1, k + 1)[1:, 1:]
        out: dict = {f"{stem}{g}_share": tab[:, g - 1] / px for g in range(1, k + 1)}
        out[main_col] = np.where(tab.sum(axis=1) > 0, tab.argmax(axis=1) + 1, 0)
        return out
    if r.dtype.kind == "f" and name not in ("park", "battle"):
        vals = raw.astype("float64")
        ok = np.isfinite(vals)
        s = np.bincount(fl[ok], weights=vals[ok], minlength=n + 1)[1:]
        c = np.bincount(fl[ok], minlength=n + 1)[1:]
        return {f"{name}_mean": np.where(c > 0, s / np.maximum(c, 1), np.nan)}
    ids = np.nan_to_num(raw.astype("float64")).astype(np.int64)
    inside = ids > 0
    share = np.bincount(fl[inside], minlength=n + 1)[1:] / px
    pairs = np.unique(np.column_stack([fl[inside], ids[inside]]), axis=0)
    lists: list[list[str]] = [[] for _ in range(n)]
    for u, v in pairs.tolist():
        lists[u - 1].append(str(v))
    return {f"{name}_share": share, f"{name}_ids": [",".join(x) for x in lists]}


# --------------------------------------------------------------------------- public API


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

    Returns
    -------
    GeoDataFrame
        One row per unit, sorted by code, in the grid CRS; see the module docstring.
    """
    import geopandas as gpd

    grid = zone_class.grid
    if not min_area_km2 >= 0 or (simplify_m is not None and not simplify_m >= 0):
        raise InvalidInput(
            f"min_area_km2 and simplify_m must be >= 0, got {min_area_km2}, {simplify_m}"
        )
    cls, rl = _class_arrays(zone_class, redline)
    for name, r in (drivers or {}).items():
        grid.check_aligned(r.grid, what=f"driver {name!r} and zone_class")
    table = _county_table(counties)
    cty = _rasterize_counties(table, grid)
    outside = int(((cls > 0) & (cty == 0)).sum())
    if outside:
        warnings.warn(
            f"{outside} zoned pixels lie outside every county and are left out of the units",
            GeoecoWarning,
            stacklevel=2,
        )
    key = np.where((cls > 0) & (cty > 0), cty.astype(np.int64) * 4 + cls, 0)
    if not key.any():
        raise EmptyArea("no zoned pixel (class 1–3) lies inside the counties")
    labels, n, first = _label4(key)
    flat_cls, flat_cty = cls.ravel(), cty.ravel()
    comp_cls = flat_cls[first].astype(np.int64)
    comp_cls[0] = 0
    comp_cty = flat_cty[first].astype(np.int64)
    comp_cty[0] = 0
    cell_km2 = grid.cell_area / 1e6
    area = np.bincount(labels.ravel(), minlength=n + 1) * cell_km2
    ei, ej, ew = _shared_edges(labels, *grid.res)
    same = comp_cty[ei] == comp_cty[ej]
    root = _merge_slivers(
        area, comp_cls, first, (ei[same], ej[same], ew[same]), min_area_km2, merge_into_priority
    )
    # number the merged units: county (code order), class, first pixel
    roots = np.unique(root[1:])
    ufirst = np.full(n + 1, np.iinfo(np.int64).max)
    np.minimum.at(ufirst, root[1:], first[1:])
    order = np.lexsort((ufirst[roots], comp_cls[roots], comp_cty[roots]))
    roots = roots[order]
    unit_of = np.zeros(n + 1, np.int32)
    unit_of[roots] = np.arange(1, len(roots) + 1)
    final = unit_of[root][labels]
    del labels, key
    nu = len(roots)
    u_cls, u_cty = comp_cls[roots], comp_cty[roots] - 1
    px = np.bincount(final.ravel(), minlength=nu + 1)[1:].astype("float64")
    rl_cols = _redline_columns(final, rl, nu, px)

    geoms = _pixel_polygons(final, nu)
    tol = float(np.mean(grid.res)) if simplify_m is None else float(simplify_m)
    _simplify(geoms, u_cty, u_cls == 1, tol / float(np.mean(grid.res)))
    geoms = _to_world(geoms, grid.transform)
    area_ea, area_gk, gk_epsg = _areas(geoms, grid.crs)

    codes = table["code"].to_numpy()[u_cty]
    names = table["name"].to_numpy()[u_cty]
    grp = pd.Series(list(zip(codes, u_cls, strict=True)))
    serial = grp.groupby(grp).cumcount().to_numpy() + 1
    cz = [CLASS_NAMES[int(c)][0] for c in u_cls]
    ce = [CLASS_NAMES[int(c)][1] for c in u_cls]
    data: dict = {
        "code": [
            unit_code(c, int(k), int(s), prefix=code_prefix, serial_digits=serial_digits)
            for c, k, s in zip(codes, u_cls, serial, strict=True)
        ],
        "name_zh": [f"{nm}{z}单元{s}" for nm, z, s in zip(names, cz, serial, strict=True)],
        "name_en": [f"{nm} {e} unit {s}" for nm, e, s in zip(names, ce, serial, strict=True)],
        "unit_class": u_cls.astype(int),
        "class_zh": cz,
        "class_en": ce,
        "county_code": codes,
        "county_name": names,
        "province_code": [c[:2] + "0000" for c in codes],
        "city_code": [c[:4] + "00" for c in codes],
    }
    for x in ("province_name", "city_name"):
        if x in table.columns:
            data[x] = table[x].to_numpy()[u_cty]
    data |= {
        "serial": serial,
        "pixels": px.astype(np.int64),
        "area_km2": area_ea,
        "area_gk_km2": area_gk,
        "gk_epsg": gk_epsg,
        **rl_cols,
    }
    for name in sorted(drivers or {}):
        data |= _driver_columns(name, (drivers or {})[name], grid, final, nu, px)
    units = gpd.GeoDataFrame(data, geometry=geoms, crs=grid.crs)
    lists = access if isinstance(access, AccessLists) else load_access_lists(access)
    return assign_access(units, lists)
