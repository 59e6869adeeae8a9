"""Zone statistics: area by county × zone class × erosion grade × desertification degree.

:func:`area_table` walks the grid window by window and counts pixels per combination with one
``np.bincount`` on a combined integer key, so memory depends on the window size and on the
number of combinations, not on the area. Areas are pixel counts × the cell area of the
(equal-area) grid, in km².

Counties (any polygon partition with an id column) are assigned to pixels either by pixel
centre (``coverage="centre"``, ``rasterio.features.rasterize``) or by **exact coverage
fractions** (``coverage="exact"``, the ``exactextract`` package): a pixel on a county border
then counts in each county by the fraction of its area inside it, so county areas equal the
polygon areas (within the nodata pixels) instead of a pixel-centre approximation.

Codes: ``zone_class`` 1 priority / 2 key / 3 general (0 = nodata, not counted);
``erosion_grade`` SL190-2007/water 1..6 and ``desertification_degree`` WangTao-2003 1..5 (other
class tables via ``erosion_table`` / ``desertification_table``), 0 meaning "no data for this
input" (such pixels are still counted, under 0).

Examples
--------
>>> import numpy as np
>>> from affine import Affine
>>> from geoeco.core.crs import ALBERS_CHINA
>>> g = Grid(Affine(1000, 0, 0, 0, -1000, 4_000_000), 2, 2, ALBERS_CHINA)
>>> zone = Raster.from_array(np.array([[1, 2], [2, 0]], "uint8"), g, nodata=0)
>>> ero = Raster.from_array(np.array([[1, 3], [4, 1]], "uint8"), g, nodata=0)
>>> t = area_table(zone, erosion=ero)
>>> t[["zone_class", "erosion_grade"]].values.tolist(), t["area_km2"].tolist()
([[1, 1], [2, 3], [2, 4]], [1.0, 1.0, 1.0])
>>> class_totals(t)["area_km2"].tolist()
[1.0, 2.0, 0.0, 3.0]
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import numpy as np
import pandas as pd
from rasterio.features import rasterize
from shapely.geometry import box

from geoeco.catalog.classes import get_table
from geoeco.core.errors import CRSError, EmptyArea, InvalidInput
from geoeco.core.raster import Grid, Raster

Window = tuple[int, int, int, int]
_ZONES = 4  # codes 0..3


def _reader(src: Any, grid: Grid, what: str) -> Callable[[Window], np.ndarray]:
    """A function window → uint8 codes (0 = nodata) for a Raster, reader or callable."""
    if isinstance(src, Raster):
        src.grid.check_aligned(grid, what=f"{what} and the zone grid")
        arr = src.array

        def read(w: Window) -> Any:
            return arr[w[0] : w[0] + w[2], w[1] : w[1] + w[3]]

    elif hasattr(src, "read") and callable(src.read):
        g = getattr(src, "grid", None)
        if isinstance(g, Grid):
            g.check_aligned(grid, what=f"{what} and the zone grid")
        read = src.read
    elif callable(src):
        read = src
    else:
        raise InvalidInput(f"{what}: expected a Raster, a reader or a callable")

    def codes(w: Window) -> np.ndarray:
        a = read(w)
        data = np.ma.getdata(a)
        bad = np.ma.getmaskarray(a)
        if data.dtype.kind == "f":
            bad = bad | ~np.isfinite(data)
        return np.where(bad, 0, data).astype(np.int64)

    return codes


def _county_frame(counties: Any, field: str, grid: Grid) -> Any:
    if field not in counties.columns:
        raise InvalidInput(f"counties: column {field!r} not found")
    if counties.crs is None:
        raise CRSError("counties: vector layer has no CRS")
    c = counties.to_crs(grid.crs) if not grid.crs.equals(counties.crs) else counties
    c = c[~(c.geometry.isna() | c.geometry.is_empty)].reset_index(drop=True)
    if not len(c) or not box(*c.total_bounds).intersects(box(*grid.bounds)):
        raise EmptyArea("no county overlaps the zone grid")
    return c


def _county_centre(frame: Any, wgrid: Grid) -> np.ndarray:
    """County index + 1 at each pixel centre (0 = outside every county)."""
    idx = frame.sindex.query(box(*wgrid.bounds), predicate="intersects")
    if not len(idx):
        return np.zeros(wgrid.shape, np.int64)
    idx = np.sort(idx)
    shapes = zip(frame.geometry.values[idx], (idx + 1).tolist(), strict=True)
    out: np.ndarray = rasterize(
        shapes,
        out_shape=wgrid.shape,
        transform=wgrid.transform,
        fill=0,
        all_touched=False,
        dtype="int32",
    ).astype(np.int64)
    return out


def _county_exact(frame: Any, wgrid: Grid) -> list[tuple[int, np.ndarray, np.ndarray]]:
    """``[(county index + 1, flat cell ids, coverage fractions)]`` for one window."""
    try:
        from exactextract import exact_extract
        from exactextract.raster import NumPyRasterSource
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise InvalidInput(
            'coverage="exact" needs the exactextract package (pip install exactextract)'
        ) from exc
    idx = frame.sindex.query(box(*wgrid.bounds), predicate="intersects")
    if not len(idx):
        return []
    sub = frame.iloc[np.sort(idx)][["geometry"]].copy()
    sub["_k"] = np.sort(idx) + 1
    left, bottom, right, top = wgrid.bounds
    src = NumPyRasterSource(
        np.zeros(wgrid.shape, np.float32), left, bottom, right, top, srs_wkt=wgrid.crs.to_wkt()
    )
    res = exact_extract(src, sub, ["cell_id", "coverage"], include_cols=["_k"], output="pandas")
    return [
        (int(k), np.asarray(ids, np.int64), np.asarray(cov, np.float64))
        for k, ids, cov in zip(res["_k"], res["cell_id"], res["coverage"], strict=True)
    ]


def area_table(
    zone_class: Any,
    *,
    grid: Grid | None = None,
    counties: Any = None,
    county_field: str = "code",
    erosion: Any = None,
    desertification: Any = None,
    erosion_table: str = "SL190-2007/water",
    desertification_table: str = "WangTao-2003",
    coverage: Literal["centre", "exact"] = "centre",
    block_size: int = 1024,
) -> pd.DataFrame:
    """Tidy area table: one row per (county, zone class, erosion grade, desertification degree).

    Parameters
    ----------
    zone_class : Raster, reader or callable
        Zone classes (uint8, 0 = nodata), e.g.
        :attr:`geoeco.zoning.overlay.run.ZoningResult.zone_class`.
    grid : Grid, optional
        Needed when ``zone_class`` is not a Raster (and has no ``grid`` attribute).
    counties : GeoDataFrame, optional
        Polygons with an id column ``county_field``; pixels outside every county are left out.
        Without counties the ``county`` column is ``""``.
    erosion, desertification : Raster, reader or callable, optional
        Class rasters on the same grid; absent ones give 0 throughout.
    coverage : {"centre", "exact"}
        How county membership of a pixel is decided (see the module docstring).

    Returns
    -------
    DataFrame
        Columns ``county, zone_class, erosion_grade, desertification_degree, pixels,
        area_km2``, sorted; ``pixels`` is fractional with exact coverage. ``attrs`` holds
        ``cell_area_m2`` and ``area_analysed_km2``.
    """
    if grid is None:
        grid = zone_class.grid if hasattr(zone_class, "grid") else None
    if not isinstance(grid, Grid):
        raise InvalidInput("area_table: give `grid` when zone_class is not a Raster")
    if coverage not in ("centre", "exact"):
        raise InvalidInput(f"coverage must be 'centre' or 'exact', got {coverage!r}")
    n_ero = len(get_table(erosion_table).classes) + 1
    n_des = len(get_table(desertification_table).classes) + 1
    read_z = _reader(zone_class, grid, "zone_class")
    read_e = _reader(erosion, grid, "erosion") if erosion is not None else None
    read_d = (
        _reader(desertification, grid, "desertification") if desertification is not None else None
    )
    frame = _county_frame(counties, county_field, grid) if counties is not None else None
    n_cty = (len(frame) if frame is not None else 0) + 1
    size = n_cty * _ZONES * n_ero * n_des
    counts = np.zeros(size, np.float64)
    for win in grid.blocks(block_size):
        wgrid = grid.window(*win)
        z = read_z(win)
        e = read_e(win) if read_e else np.zeros_like(z)
        d = read_d(win) if read_d else np.zeros_like(z)
        for arr, n, what in (
            (z, _ZONES, "zone_class"),
            (e, n_ero, erosion_table),
            (d, n_des, desertification_table),
        ):
            if arr.size and (arr.min() < 0 or arr.max() >= n):
                raise InvalidInput(f"{what}: codes must be 0..{n - 1}, found {int(arr.max())}")
        key = (z * n_ero + e) * n_des + d  # county 0 part of the key
        stride = _ZONES * n_ero * n_des
        if frame is None:
            counts += np.bincount(key.ravel(), minlength=size)
        elif coverage == "centre":
            k = _county_centre(frame, wgrid) * stride + key
            counts += np.bincount(k.ravel(), minlength=size)
        else:
            flat = key.ravel()
            for cty, ids, cov in _county_exact(frame, wgrid):
                counts += np.bincount(cty * stride + flat[ids], weights=cov, minlength=size)
    return _tidy(counts, n_cty, n_ero, n_des, frame, county_field, grid)


def _tidy(
    counts: np.ndarray, n_cty: int, n_ero: int, n_des: int, frame: Any, field: str, grid: Grid
) -> pd.DataFrame:
    cube = counts.reshape(n_cty, _ZONES, n_ero, n_des)
    cube[:, 0] = 0  # zone nodata is not analysed
    if frame is not None:
        cube[0] = 0  # outside every county
    nz = np.nonzero(cube > 1e-12)
    ids = np.array(
        [""] + [str(v) for v in frame[field].tolist()] if frame is not None else [""], dtype=object
    )
    km2 = grid.cell_area / 1e6
    px = cube[nz]
    df = pd.DataFrame(
        {
            "county": ids[nz[0]],
            "zone_class": nz[1].astype(np.int64),
            "erosion_grade": nz[2].astype(np.int64),
            "desertification_degree": nz[3].astype(np.int64),
            "pixels": px,
            "area_km2": px * km2,
        }
    )
    df = df.sort_values(["county", "zone_class", "erosion_grade", "desertification_degree"])
    df = df.reset_index(drop=True)
    df.attrs["cell_area_m2"] = grid.cell_area
    df.attrs["area_analysed_km2"] = float(px.sum() * km2)
    return df


def class_totals(table: pd.DataFrame, by: str = "zone_class") -> pd.DataFrame:
    """Area per class of ``by`` (1, 2, 3 for zone classes) plus a ``total`` row.

    The total equals ``table.attrs["area_analysed_km2"]``, the area of every zoned pixel.
    """
    codes = [1, 2, 3] if by == "zone_class" else sorted(table[by].unique().tolist())
    s = table.groupby(by)["area_km2"].sum().reindex(codes, fill_value=0.0)
    out = pd.DataFrame(
        {by: [str(c) for c in codes] + ["total"], "area_km2": [*s.tolist(), float(s.sum())]}
    )
    return out


__all__ = ["area_table", "class_totals"]
