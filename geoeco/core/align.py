"""Put every input on one grid, explicitly.

geoeco never multiplies rasters that are on different grids: the caller (or a pipeline)
chooses a target :class:`~geoeco.core.raster.Grid` and each input is warped onto it with the
resampling its kind calls for: ``nearest`` for classes, ``bilinear`` for continuous values,
``average`` when going much coarser. Nodata propagates (a target pixel whose source pixels
are nodata stays nodata), and :func:`mutual_mask` makes one mask for all inputs so that a
missing input never silently becomes zero.

Reading is windowed through a GDAL warped VRT, so a pipeline can walk the target grid block
by block without holding whole inputs in memory. Files are opened through
:func:`geoeco.core.userdata.open_user_raster` (GeoTIFF only, no network, header limits); the warped
VRT is an in-memory rasterio object, never a user's file.

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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
from rasterio.enums import Resampling as _R
from rasterio.vrt import WarpedVRT
from rasterio.warp import reproject
from rasterio.windows import Window

from .errors import CRSError, GridMismatch
from .raster import Grid, Raster
from .userdata import display_name, open_user_raster

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
    with open_user_raster(path, name=shown) as ds:
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
        a: np.ma.MaskedArray = self._vrt.read(self.band, window=win, masked=True)
        if a.dtype.kind == "f":
            a = np.ma.masked_invalid(a)
        return a

    def read_raster(self, window: tuple[int, int, int, int] | None = None) -> Raster:
        """Like :meth:`read`, wrapped as a Raster on the window's grid."""
        g = self.grid if window is None else self.grid.window(*window)
        return Raster(self.read(window), g, self.units, self.name)


@dataclass(frozen=True)
class AlignedFile:
    """A raster file read on a target grid, opened anew by every read: picklable, so that a
    worker process (e.g. of a Dask engine) can read its windows itself.

    Made by :func:`aligned_file`, which checks the file once. Each :meth:`read` opens the file
    through :func:`aligned_source` and closes it again, so nothing stays open between reads and
    any thread or process may read any window. The file must be at the same path wherever it
    is read (one machine, or a shared file system).
    """

    path: str = field(repr=False)
    grid: Grid
    resampling: Resampling = "nearest"
    name: str | None = None
    band: int | tuple[int, ...] = 1
    src_nodata: float | None = None

    @contextlib.contextmanager
    def open(self) -> Iterator[AlignedSource]:
        """The file opened on the grid (:func:`aligned_source`), for several reads at once."""
        band = list(self.band) if isinstance(self.band, tuple) else self.band
        with aligned_source(
            self.path,
            self.grid,
            resampling=self.resampling,
            name=self.name,
            band=band,
            src_nodata=self.src_nodata,
        ) as src:
            yield src

    def read(self, window: tuple[int, int, int, int] | None = None) -> np.ma.MaskedArray:
        """Masked values of ``window`` = ``(row_off, col_off, height, width)`` on the grid."""
        with self.open() as src:
            return src.read(window)

    def read_raster(self, window: tuple[int, int, int, int] | None = None) -> Raster:
        """Like :meth:`read`, wrapped as a Raster on the window's grid."""
        with self.open() as src:
            return src.read_raster(window)


def aligned_file(
    path: str | Path,
    grid: Grid,
    *,
    resampling: Resampling = "nearest",
    name: str | None = None,
    band: int | list[int] | tuple[int, ...] = 1,
    src_nodata: float | None = None,
) -> AlignedFile:
    """Check that ``path`` opens on ``grid`` (like :func:`aligned_source`) and return a
    picklable :class:`AlignedFile` reader of it.

    A local path is made absolute, so that a reader unpickled in a process with another
    working directory still finds the file.

    >>> import pickle, tempfile
    >>> from affine import Affine
    >>> from geoeco.core.io import write_raster
    >>> g = Grid(Affine(10, 0, 0, 0, -10, 20), 2, 2, "EPSG:32650")
    >>> p = Path(tempfile.mkdtemp()) / "a.tif"
    >>> _ = write_raster(Raster.from_array(np.array([[1, 2], [3, 4]], "uint8"), g), p,
    ...                  nodata=0)
    >>> reader = pickle.loads(pickle.dumps(aligned_file(p, g)))
    >>> reader.read((1, 0, 1, 2)).tolist()
    [[3, 4]]
    """
    p = Path(path)
    where = str(p.resolve()) if p.exists() else str(path)
    bands = tuple(band) if isinstance(band, list | tuple) else band
    src = AlignedFile(where, grid, resampling, display_name(path, name), bands, src_nodata)
    with src.open():
        pass
    return src


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
