"""Inputs of control units in county batches (helpers of :mod:`geoeco.zoning.units.build`).

Window readers of Rasters or of any object with ``grid`` and ``read(window)``, the scan that
validates the zone classes and the red line (promoting red-line pixels to priority), the
county table and its rasterisation onto pixel windows, and :func:`county_batches`, which
groups county windows into batches under a pixel budget (see :mod:`geoeco.zoning.units.build`).

Examples
--------
>>> w = np.array([[0, 0, 10, 10], [0, 10, 10, 20]])
>>> _touching(w, (0, 12, 5, 5)).tolist()
[1]
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import shapely
from affine import Affine

from geoeco.core.errors import CRSError, GeoecoWarning, InvalidInput
from geoeco.core.raster import Grid, Raster

from .attributes import LXBM, count_table

#: Default pixel budget of one county batch (16 Mpx ≈ 4000 × 4000 pixels, ~0.5 GB peak).
DEFAULT_BATCH_PIXELS = 16_000_000
#: A pixel window ``(row_off, col_off, height, width)`` on the zone grid.
Window = tuple[int, int, int, int]


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


def _check_codes(bad_c: np.ndarray, bad_r: np.ndarray) -> None:
    """Refuse zone classes other than 0–3 and red-line codes other than 0 and LXBM codes."""
    if bad_c.size:
        raise InvalidInput(f"zone_class holds {bad_c[:5].tolist()}; expected 0 (none) or 1, 2, 3")
    if bad_r.size:
        raise InvalidInput(
            f"redline holds {bad_r[:5].tolist()}; expected 0 or an LXBM code 11–15, 21–25"
        )


def _warn_scan(promoted: int, outside: int) -> None:
    """Warn of red-line pixels made priority and of zoned pixels outside every county."""
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


def _county_table(counties: Any) -> Any:
    """Counties (GeoDataFrame) dissolved by code and sorted by code (so input row order never
    matters)."""
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


def _county_pixels(table: Any, grid: Grid) -> tuple[np.ndarray, np.ndarray]:
    """County geometries in pixel coordinates of ``grid`` and their windows ``(r0, c0, r1, c1)``
    (clipped to the grid, one pixel of margin; empty when a county misses the grid)."""
    t = grid.transform
    geoms = table.to_crs(grid.crs).geometry.values.to_numpy()
    scale = np.array([t.a, t.e])
    origin = np.array([t.c, t.f])
    pxg: np.ndarray = shapely.transform(geoms, lambda xy: (xy - origin) / scale)
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
    out: np.ndarray = rasterize(pairs, out_shape=(h, w), transform=Affine.identity(), dtype="int32")
    return out


# --------------------------------------------------------------------------- batches


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


__all__ = ["DEFAULT_BATCH_PIXELS", "Window", "county_batches"]
