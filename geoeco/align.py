"""Put every input on one grid, explicitly.

geoeco never multiplies rasters that are on different grids: the caller (or a pipeline)
chooses a target :class:`~geoeco.raster.Grid` and each input is warped onto it with the
resampling its kind calls for: ``nearest`` for classes, ``bilinear`` for continuous values,
``average`` when going much coarser. Nodata propagates (a target pixel whose source pixels
are nodata stays nodata), and :func:`mutual_mask` makes one mask for all inputs so that a
missing input never silently becomes zero.

Reading is windowed through a GDAL warped VRT, so a pipeline can walk the target grid block
by block without holding whole inputs in memory.

Examples
--------
>>> import numpy as np
>>> from affine import Affine
>>> src = Raster.from_array(np.arange(16, dtype="float32").reshape(4, 4),
...                         Grid(Affine(10, 0, 0, 0, -10, 40), 4, 4, "EPSG:32650"))
>>> coarse = Grid(Affine(20, 0, 0, 0, -20, 40), 2, 2, "EPSG:32650")
>>> align_to(src, coarse, resampling="average").array.tolist()
[[2.5, 4.5], [10.5, 12.5]]
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import numpy as np
import rasterio
from rasterio.enums import Resampling as _R
from rasterio.vrt import WarpedVRT
from rasterio.warp import reproject
from rasterio.windows import Window

from .errors import CRSError, GridMismatch
from .io import display_name
from .raster import Grid, Raster

Resampling = Literal["nearest", "bilinear", "average", "mode", "cubic"]


def _nodata_for(dtype: np.dtype) -> float:
    return float("nan") if dtype.kind == "f" else (0 if dtype.kind == "u" else -(2**31) + 1)


def align_to(raster: Raster, grid: Grid, *, resampling: Resampling = "nearest") -> Raster:
    """Warp an in-memory Raster onto ``grid`` (band by band); masked pixels stay masked."""
    if raster.grid.aligned_with(grid):
        return raster
    src = raster.array
    dtype = src.dtype if src.dtype.kind == "f" or resampling in ("nearest", "mode") else np.float32
    nd = _nodata_for(np.dtype(dtype))
    data = np.ma.filled(src.astype(dtype), nd)
    bands = data if data.ndim == 3 else data[np.newaxis]
    out = np.full((bands.shape[0], *grid.shape), nd, dtype=dtype)
    for i in range(bands.shape[0]):
        reproject(
            bands[i],
            out[i],
            src_transform=raster.transform,
            src_crs=raster.crs,
            src_nodata=nd,
            dst_transform=grid.transform,
            dst_crs=grid.crs,
            dst_nodata=nd,
            resampling=_R[resampling],
        )
    result = out if data.ndim == 3 else out[0]
    mask = np.isnan(result) if np.dtype(dtype).kind == "f" else result == nd
    return Raster(
        np.ma.MaskedArray(result, mask=mask), grid, raster.units, raster.name, raster.band_names
    )


@contextlib.contextmanager
def aligned_source(
    path: str | Path,
    grid: Grid,
    *,
    resampling: Resampling = "nearest",
    name: str | None = None,
    band: int | list[int] = 1,
    src_nodata: float | None = None,
) -> Iterator[AlignedSource]:
    """Open ``path`` warped onto ``grid``; ``read(window)`` returns masked values for a window.

    ``src_nodata`` states the file's nodata when the file declares none.
    """
    shown = display_name(path, name)
    try:
        ds = rasterio.open(path)
    except Exception as exc:
        from .errors import DataSourceError

        raise DataSourceError(f"{shown}: not a readable raster") from exc
    with ds:
        if ds.crs is None:
            raise CRSError(f"{shown}: raster has no CRS")
        nodata = ds.nodata if ds.nodata is not None else src_nodata
        if nodata is None and ds.dtypes[0][0] != "f":
            raise GridMismatch(f"{shown}: raster declares no nodata; state it before aligning")
        vrt_kw = {
            "crs": grid.crs,
            "transform": grid.transform,
            "width": grid.width,
            "height": grid.height,
            "resampling": _R[resampling],
        }
        if nodata is not None:
            vrt_kw["src_nodata"] = nodata
            vrt_kw["nodata"] = nodata
        with WarpedVRT(ds, **vrt_kw) as vrt:
            yield AlignedSource(vrt, grid, band, shown)


class AlignedSource:
    """A raster warped onto a target grid, read window by window (see :func:`aligned_source`)."""

    def __init__(self, vrt: WarpedVRT, grid: Grid, band: int | list[int], name: str) -> None:
        self._vrt = vrt
        self.grid = grid
        self.band = band
        self.name = name
        self.units = vrt.units[0] if vrt.units else None

    def read(self, window: tuple[int, int, int, int] | None = None) -> np.ma.MaskedArray:
        """Masked values of ``window`` = ``(row_off, col_off, height, width)`` on the grid."""
        win = Window(window[1], window[0], window[3], window[2]) if window else None
        a = self._vrt.read(self.band, window=win, masked=True)
        if a.dtype.kind == "f":
            a = np.ma.masked_invalid(a)
        return a

    def read_raster(self, window: tuple[int, int, int, int] | None = None) -> Raster:
        """Like :meth:`read`, wrapped as a Raster on the window's grid."""
        g = self.grid if window is None else self.grid.window(*window)
        return Raster(self.read(window), g, self.units, self.name)


def mutual_mask(*arrays: np.ma.MaskedArray | np.ndarray | float) -> np.ndarray:
    """One boolean mask: True where ANY array input is masked or NaN (scalars mask nothing).

    >>> a = np.ma.MaskedArray([1.0, 2.0, 3.0], mask=[True, False, False])
    >>> mutual_mask(a, np.array([1.0, np.nan, 1.0]), 5.0).tolist()
    [True, True, False]
    """
    shape = None
    for a in arrays:
        if np.ndim(a):
            shape = np.shape(a)
            break
    if shape is None:
        return np.zeros((), dtype=bool)
    m = np.zeros(shape, dtype=bool)
    for a in arrays:
        if not np.ndim(a):
            continue
        m |= np.ma.getmaskarray(a)
        data = np.ma.getdata(a)
        if data.dtype.kind == "f":
            m |= np.isnan(data)
    return m
