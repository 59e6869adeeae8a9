"""The raster value objects: :class:`Grid` (where pixels are) and :class:`Raster` (their values).

Everything in geoeco that computes on pixels takes and returns these. They are frozen, and a
``Raster``'s array is made read-only, so a function can never change its caller's data.
Files are read and written only in :mod:`geoeco.core.io`.

Examples
--------
>>> import numpy as np
>>> from affine import Affine
>>> g = Grid(Affine(10, 0, 500000, 0, -10, 4000040), 4, 4, "EPSG:32631")
>>> g.bounds
(500000.0, 4000000.0, 500040.0, 4000040.0)
>>> r = Raster.from_array(np.arange(16, dtype="float32").reshape(4, 4), g, nodata=0)
>>> float(r.array.mean()), int(r.array.count())
(8.0, 15)
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from affine import Affine
from pyproj import CRS

from .errors import CRSError, GridMismatch


def as_crs(crs: CRS | str | int | None, *, what: str = "data") -> CRS:
    """Parse ``crs`` into a :class:`pyproj.CRS`, or raise :class:`CRSError` naming ``what``.

    >>> as_crs(4490).name
    'China Geodetic Coordinate System 2000'
    """
    if crs is None or crs == "":
        raise CRSError(f"{what} has no coordinate reference system; declare one (e.g. EPSG:4490)")
    if isinstance(crs, CRS):
        return crs
    try:
        return CRS.from_user_input(crs)
    except Exception as exc:  # pyproj raises CRSError of its own with long text
        raise CRSError(f"{what}: {crs!r} is not a coordinate reference system") from exc


@dataclass(frozen=True, init=False)
class Grid:
    """A north-up pixel grid: affine transform, size and CRS.

    Parameters
    ----------
    transform : Affine
        Pixel-corner transform (GDAL convention), north-up: ``transform.b == transform.d == 0``.
    width, height : int
        Number of columns and rows.
    crs : CRS or str
        Coordinate reference system of the transform.
    """

    transform: Affine
    width: int
    height: int
    crs: CRS = field(compare=False)

    def __init__(self, transform: Affine, width: int, height: int, crs: CRS | str | int) -> None:
        object.__setattr__(self, "width", width)
        object.__setattr__(self, "height", height)
        object.__setattr__(self, "crs", as_crs(crs, what="grid"))
        object.__setattr__(self, "transform", Affine(*tuple(transform)[:6]))
        if self.transform.b != 0 or self.transform.d != 0:
            raise GridMismatch("rotated grids are not supported; warp to a north-up grid first")
        if self.width <= 0 or self.height <= 0:
            raise GridMismatch(f"grid must have at least one pixel, got {self.width}x{self.height}")

    @classmethod
    def from_bounds(
        cls, bounds: tuple[float, float, float, float], res: float, crs: CRS | str | int
    ) -> Grid:
        """Grid of square ``res`` pixels covering ``bounds`` (snapped outward to ``res``).

        >>> Grid.from_bounds((0, 0, 95, 40), 10, "EPSG:4546").shape
        (4, 10)
        """
        left, bottom, right, top = bounds
        left = math.floor(left / res) * res
        top = math.ceil(top / res) * res
        width = max(1, math.ceil((right - left) / res - 1e-9))
        height = max(1, math.ceil((top - bottom) / res - 1e-9))
        return cls(Affine(res, 0, left, 0, -res, top), width, height, crs)

    @property
    def shape(self) -> tuple[int, int]:
        """``(height, width)``, as numpy orders it."""
        return (self.height, self.width)

    @property
    def res(self) -> tuple[float, float]:
        """Pixel size ``(x, y)`` in CRS units, both positive."""
        return (abs(self.transform.a), abs(self.transform.e))

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """``(left, bottom, right, top)`` in CRS units."""
        t = self.transform
        x0, y0 = t.c, t.f
        x1, y1 = t.c + t.a * self.width, t.f + t.e * self.height
        return (min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))

    @property
    def cell_area(self) -> float:
        """Area of one pixel in squared CRS units (m² on a projected grid)."""
        return self.res[0] * self.res[1]

    def window(self, row_off: int, col_off: int, height: int, width: int) -> Grid:
        """The sub-grid of a pixel window (clipped to this grid)."""
        height = min(height, self.height - row_off)
        width = min(width, self.width - col_off)
        t = self.transform @ Affine.translation(col_off, row_off)
        return Grid(t, width, height, self.crs)

    def blocks(self, size: int = 1024) -> Iterator[tuple[int, int, int, int]]:
        """Yield ``(row_off, col_off, height, width)`` windows of at most ``size`` pixels a side.

        >>> list(Grid(Affine(1, 0, 0, 0, -1, 3), 3, 3, "EPSG:4546").blocks(2))
        [(0, 0, 2, 2), (0, 2, 2, 1), (2, 0, 1, 2), (2, 2, 1, 1)]
        """
        for r in range(0, self.height, size):
            for c in range(0, self.width, size):
                yield (r, c, min(size, self.height - r), min(size, self.width - c))

    def aligned_with(self, other: Grid, *, rtol: float = 1e-9) -> bool:
        """True when both grids have the same CRS, size and transform (to ``rtol`` of a pixel)."""
        if self.shape != other.shape or self.crs != other.crs:
            return False
        tol = rtol * max(self.res)
        return all(abs(a - b) <= tol for a, b in zip(self.transform, other.transform, strict=True))

    def check_aligned(self, other: Grid, *, what: str = "rasters") -> None:
        """Raise :class:`GridMismatch` with the differences unless the grids are aligned."""
        if self.aligned_with(other):
            return
        diffs = []
        if self.crs != other.crs:
            diffs.append(f"CRS {self.crs.to_string()} vs {other.crs.to_string()}")
        if self.shape != other.shape:
            diffs.append(f"shape {self.shape} vs {other.shape}")
        if tuple(self.transform) != tuple(other.transform):
            diffs.append(
                f"origin/resolution {tuple(self.transform)[:6]} vs {tuple(other.transform)[:6]}"
            )
        raise GridMismatch(
            f"{what} are not on the same grid ({'; '.join(diffs)}); align them first "
            "(geoeco.core.align.align_to)"
        )


def as_bounds(values: Iterable[Any]) -> tuple[float, float, float, float]:
    """Four numbers ``(left, bottom, right, top)`` as floats (ValueError unless four).

    >>> as_bounds(np.array([1, 2, 3, 4]))
    (1.0, 2.0, 3.0, 4.0)
    """
    left, bottom, right, top = (float(v) for v in values)
    return left, bottom, right, top


def _readonly(a: np.ma.MaskedArray) -> np.ma.MaskedArray:
    a.flags.writeable = False
    mask = np.ma.getmaskarray(a)
    a.mask = mask
    a.mask.flags.writeable = False
    return a


class _Same:
    """Marker of :meth:`Raster.with_array`: keep the raster's own value."""


_SAME = _Same()


@dataclass(frozen=True, init=False)
class Raster:
    """Georeferenced values on a :class:`Grid`: a masked array (nodata masked) plus metadata.

    ``array`` is 2-D ``(rows, cols)`` or 3-D ``(bands, rows, cols)``; it is read-only. A plain
    array given is masked where it is NaN.
    """

    array: np.ma.MaskedArray
    grid: Grid
    units: str | None = None
    name: str | None = None
    band_names: tuple[str, ...] | None = None

    def __init__(
        self,
        array: np.ndarray,
        grid: Grid,
        units: str | None = None,
        name: str | None = None,
        band_names: tuple[str, ...] | None = None,
    ) -> None:
        a = (
            array
            if isinstance(array, np.ma.MaskedArray)
            else np.ma.masked_invalid(np.asarray(array))
        )
        if a.ndim not in (2, 3) or a.shape[-2:] != grid.shape:
            raise GridMismatch(f"array shape {a.shape} does not fit grid shape {grid.shape}")
        object.__setattr__(self, "array", _readonly(a))
        object.__setattr__(self, "grid", grid)
        object.__setattr__(self, "units", units)
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "band_names", band_names)

    @classmethod
    def from_array(
        cls,
        data: np.ndarray,
        grid: Grid,
        *,
        nodata: float | None = None,
        units: str | None = None,
        name: str | None = None,
        band_names: tuple[str, ...] | None = None,
    ) -> Raster:
        """Wrap a plain array, masking ``nodata`` (and NaN for float arrays)."""
        data = np.asarray(data)
        mask = np.zeros(data.shape, dtype=bool)
        if nodata is not None and not (isinstance(nodata, float) and math.isnan(nodata)):
            mask |= data == nodata
        if data.dtype.kind == "f":
            mask |= np.isnan(data)
        return cls(np.ma.MaskedArray(data, mask=mask), grid, units, name, band_names)

    @property
    def transform(self) -> Affine:
        """The grid's affine transform."""
        return self.grid.transform

    @property
    def crs(self) -> CRS:
        """The grid's CRS."""
        return self.grid.crs

    @property
    def dtype(self) -> np.dtype:
        """Data type of the values."""
        return self.array.dtype

    def filled(self, fill: float) -> np.ndarray:
        """Plain array with masked pixels set to ``fill`` (a copy)."""
        return np.ma.filled(self.array, fill)

    def with_array(
        self,
        array: np.ndarray,
        *,
        units: str | None | _Same = _SAME,
        name: str | None | _Same = _SAME,
    ) -> Raster:
        """A new Raster on the same grid with other values (and optionally units/name); it
        has no band names."""
        return Raster(
            array,
            self.grid,
            units=self.units if isinstance(units, _Same) else units,
            name=self.name if isinstance(name, _Same) else name,
        )
