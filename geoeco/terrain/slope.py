"""Slope and aspect from a DEM by Horn's (1981) 3×3 finite differences.

Functions work on plain 2-D arrays (NaN or a masked array marks nodata) plus the cell size;
``*_raster`` wrappers take and return :class:`geoeco.core.raster.Raster`.

Edge handling
-------------
A neighbour that is missing (outside the array or nodata) is replaced by its reflection
through the centre cell, ``2·z0 − z_opposite``, which is exact on a plane. If the opposite
neighbour is missing too, a cardinal neighbour takes the centre value ``z0`` (no gradient
along that line) and a diagonal one the plane through its two cardinal neighbours
(``z_row + z_col − z0``). So border, corner and coast cells get a one-sided estimate
instead of a halved gradient, and a plane has the same slope everywhere. Nodata
cells give NaN. (Tools differ here: GDAL's ``gdaldem`` leaves the border as nodata unless
``-compute_edges``; pygeoprocessing, used by InVEST, has its own rule, so InVEST's slope can
differ from ours in the outermost ring of valid cells.)

Examples
--------
>>> import numpy as np
>>> plane = np.tile(np.arange(4.0)[::-1, None], (1, 4))  # 1 m drop per 10 m row, southward
>>> float(slope_horn(plane, 10.0)[1, 1].round(4))
5.7106
>>> float(aspect(plane, 10.0)[1, 1])
180.0
"""

from __future__ import annotations

import math

import numpy as np

from geoeco.core.errors import InvalidInput
from geoeco.core.jit import kernel
from geoeco.core.raster import Raster

__all__ = [
    "aspect",
    "aspect_raster",
    "cellsize_of",
    "horn_gradient",
    "slope_horn",
    "slope_raster",
]

CellSize = float | tuple[float, float]


def _res(cellsize: CellSize) -> tuple[float, float]:
    if isinstance(cellsize, tuple):
        xres, yres = float(cellsize[0]), float(cellsize[1])
    else:
        xres = yres = float(cellsize)
    if not (xres > 0 and yres > 0 and math.isfinite(xres) and math.isfinite(yres)):
        raise InvalidInput(f"cell size must be positive and finite, got {cellsize!r}")
    return xres, yres


def as_float_dem(
    dem: np.ndarray, nodata_mask: np.ndarray | None = None, dtype: type = np.float64
) -> np.ndarray:
    """Copy ``dem`` to a float array with NaN where it is masked, NaN or ``nodata_mask``."""
    a = np.asarray(np.ma.getdata(dem))
    if a.ndim != 2:
        raise InvalidInput(f"a DEM must be a 2-D array, got {a.ndim} dimensions")
    out: np.ndarray = a.astype(dtype, copy=True)
    mask = np.ma.getmask(dem)
    if mask is not np.ma.nomask:
        out[mask] = np.nan
    if nodata_mask is not None:
        if nodata_mask.shape != out.shape:
            raise InvalidInput(
                f"nodata mask shape {nodata_mask.shape} differs from DEM shape {out.shape}"
            )
        out[nodata_mask] = np.nan
    return out


@kernel
def _zn(z: np.ndarray, r: int, c: int, dr: int, dc: int) -> float:
    """Neighbour value, or its reflection ``2·z0 − z_opposite``, or NaN when both are missing."""
    nr, nc = z.shape
    r1, c1 = r + dr, c + dc
    if 0 <= r1 < nr and 0 <= c1 < nc and not np.isnan(z[r1, c1]):
        v: float = z[r1, c1]
        return v
    r2, c2 = r - dr, c - dc
    if 0 <= r2 < nr and 0 <= c2 < nc and not np.isnan(z[r2, c2]):
        w: float = 2.0 * z[r, c] - z[r2, c2]
        return w
    return np.nan


@kernel
def _zcard(z: np.ndarray, r: int, c: int, dr: int, dc: int) -> float:
    v = _zn(z, r, c, dr, dc)
    return z[r, c] if np.isnan(v) else v


@kernel
def _zdiag(z: np.ndarray, r: int, c: int, dr: int, dc: int, zrow: float, zcol: float) -> float:
    v = _zn(z, r, c, dr, dc)
    # corner of the array / coast: plane through the two cardinal neighbours
    return zrow + zcol - z[r, c] if np.isnan(v) else v


@kernel
def _horn_kernel(z: np.ndarray, xres: float, yres: float, gx: np.ndarray, gs: np.ndarray) -> None:
    """Fill ``gx`` (dz/dx, eastward) and ``gs`` (dz/dy, southward, i.e. along rows)."""
    nr, nc = z.shape
    for r in range(nr):
        for c in range(nc):
            if np.isnan(z[r, c]):
                gx[r, c] = np.nan
                gs[r, c] = np.nan
                continue
            if 0 < r < nr - 1 and 0 < c < nc - 1:  # fast path: all neighbours present
                a, b, cc = z[r - 1, c - 1], z[r - 1, c], z[r - 1, c + 1]
                d, f = z[r, c - 1], z[r, c + 1]
                g, h, i = z[r + 1, c - 1], z[r + 1, c], z[r + 1, c + 1]
                total = a + b + cc + d + f + g + h + i
                if not np.isnan(total):
                    gx[r, c] = ((cc + 2.0 * f + i) - (a + 2.0 * d + g)) / (8.0 * xres)
                    gs[r, c] = ((g + 2.0 * h + i) - (a + 2.0 * b + cc)) / (8.0 * yres)
                    continue
            b = _zcard(z, r, c, -1, 0)
            d = _zcard(z, r, c, 0, -1)
            f = _zcard(z, r, c, 0, 1)
            h = _zcard(z, r, c, 1, 0)
            a = _zdiag(z, r, c, -1, -1, b, d)
            cc = _zdiag(z, r, c, -1, 1, b, f)
            g = _zdiag(z, r, c, 1, -1, h, d)
            i = _zdiag(z, r, c, 1, 1, h, f)
            gx[r, c] = ((cc + 2.0 * f + i) - (a + 2.0 * d + g)) / (8.0 * xres)
            gs[r, c] = ((g + 2.0 * h + i) - (a + 2.0 * b + cc)) / (8.0 * yres)


def horn_gradient(
    dem: np.ndarray, cellsize: CellSize, *, dtype: type = np.float64
) -> tuple[np.ndarray, np.ndarray]:
    """Horn gradient ``(dz/dx eastward, dz/dy southward)`` in m/m; NaN at nodata.

    Parameters
    ----------
    dem : ndarray or MaskedArray
        Elevations (m), rows running north to south; NaN or masked cells are nodata.
    cellsize : float or (float, float)
        Pixel size (m), or ``(xres, yres)``.
    dtype : numpy float type
        Output dtype (``float32`` halves memory).

    Examples
    --------
    >>> gx, gs = horn_gradient(np.array([[0.0, 1, 2], [0, 1, 2], [0, 1, 2]]), 1.0)
    >>> float(gx[1, 1]), float(gs[1, 1])
    (1.0, 0.0)
    """
    xres, yres = _res(cellsize)
    src = np.asarray(np.ma.getdata(dem)).dtype
    z = as_float_dem(dem, dtype=np.float64 if src == np.float64 else np.float32)
    gx: np.ndarray = np.empty(z.shape, dtype=dtype)
    gs: np.ndarray = np.empty(z.shape, dtype=dtype)
    _horn_kernel(z, xres, yres, gx, gs)
    return gx, gs


def slope_horn(dem: np.ndarray, cellsize: CellSize) -> np.ndarray:
    """Slope angle in degrees by Horn's method; NaN at nodata (edges: see module docstring).

    Examples
    --------
    >>> z = np.array([[3.0, 3, 3], [2, 2, 2], [1, 1, 1]])  # drop 1 m per 1 m cell
    >>> float(slope_horn(z, 1.0)[0, 0])
    45.0
    """
    gx, gs = horn_gradient(dem, cellsize)
    slope: np.ndarray = np.degrees(np.arctan(np.hypot(gx, gs)))
    return slope


def aspect(dem: np.ndarray, cellsize: CellSize) -> np.ndarray:
    """Direction the slope faces (downhill), degrees clockwise from north in ``[0, 360)``.

    Flat cells (zero gradient) get ``-1``; nodata cells NaN. Rows are assumed to run north
    to south (a north-up grid).

    Examples
    --------
    >>> z = np.array([[2.0, 1, 0], [2, 1, 0], [2, 1, 0]])  # falls towards the east
    >>> float(aspect(z, 1.0)[1, 1]), float(aspect(np.zeros((2, 2)), 1.0)[0, 0])
    (90.0, -1.0)
    """
    gx, gs = horn_gradient(dem, cellsize)
    # downhill vector: east = -dz/dx, north = -dz/dnorth = +dz/dsouth
    out: np.ndarray = np.degrees(np.arctan2(-gx, gs)) % 360.0
    flat = (gx == 0) & (gs == 0)
    out[flat] = -1.0
    return out


def cellsize_of(raster: Raster) -> tuple[float, float]:
    """``(xres, yres)`` of a raster in metres; refuse geographic or non-metre grids.

    >>> from affine import Affine
    >>> from geoeco.core.raster import Grid
    >>> g = Grid(Affine(30, 0, 0, 0, -30, 300), 2, 2, "EPSG:32650")
    >>> cellsize_of(Raster.from_array(np.zeros((2, 2)), g))
    (30.0, 30.0)
    """
    from geoeco.core.errors import CRSError

    crs = raster.grid.crs
    if crs.is_geographic:
        raise CRSError(
            "slope and flow routing need a projected DEM with cells in metres, got a geographic "
            f"CRS ({crs.name}); reproject it first (e.g. to a Gauss-Krüger or UTM zone)"
        )
    axes = crs.axis_info[:2]
    if not axes or any(abs(ax.unit_conversion_factor - 1.0) > 1e-9 for ax in axes):
        units = ", ".join(sorted({ax.unit_name for ax in axes})) or "none"
        raise CRSError(f"DEM CRS units must be metres, got {units}")
    return raster.grid.res


def slope_raster(dem: Raster) -> Raster:
    """:func:`slope_horn` on a :class:`Raster` (units ``degree``)."""
    s = slope_horn(dem.array, cellsize_of(dem))
    return Raster(np.ma.masked_invalid(s), dem.grid, units="degree", name="slope")


def aspect_raster(dem: Raster) -> Raster:
    """:func:`aspect` on a :class:`Raster` (units ``degree``, ``-1`` on flats)."""
    a = aspect(dem.array, cellsize_of(dem))
    return Raster(np.ma.masked_invalid(a), dem.grid, units="degree", name="aspect")
