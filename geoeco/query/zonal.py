"""Zonal statistics of rasters over a user geometry, with exact pixel coverage fractions.

Edge pixels matter (anchors B2: two endpoints that count them differently disagree), so every
statistic here is exactextract's: each pixel is weighted by the fraction of it the polygon
covers. :func:`zonal_stats` computes that coverage **once per grid**
(:func:`geoeco.query.coverage.grid_coverage`: exactextract's ``cell_id`` and ``coverage``),
then, for every raster on the grid, from its values at the covered cells
(:func:`geoeco.query.coverage.pixel_stats`):

* ``count`` — valid (not nodata, not NaN) pixels weighted by coverage, so ``count × pixel
  area`` is the covered valid area;
* ``sum`` (Σ value × coverage), ``mean`` (sum / count), ``min`` and ``max`` (over pixels with
  any coverage);
* for class rasters, the coverage-weighted share of each class (``np.bincount`` on the
  coverage weights; exactextract's ``unique`` and ``frac``), turned into a histogram with class
  names from :mod:`geoeco.catalog.classes`.

The numbers are exactextract's own (tests/test_coverage_stats.py compares every one with
exactextract's ``count``/``sum``/``mean``/``min``/``max``/``unique``/``frac`` on the same
rasters); only the class counting and the per-raster passes are gone.

Areas are equal-area km²: ``count × pixel area`` in the raster's CRS, times the ratio of the
geometry's :data:`~geoeco.core.crs.ALBERS_CHINA` area to its area in the raster CRS (exactly 1 on
the Albers grids of a zoning run; the local scale correction on Gauss–Krüger or geographic
grids).

Rasters are read once, through :func:`geoeco.core.io.read_raster`, and held in memory by a
:class:`RasterLayer` (rasters above ``max_memory_pixels`` are read window by window instead:
the window around the covered cells, once per query).

A :class:`RasterLayer` may be shared between threads: its arrays are read-only and its
point-lookup and flat-pixel state is built at construction; exactextract runs under
:data:`EXACTEXTRACT_LOCK` on objects built for the call.

Examples
--------
>>> import numpy as np, shapely
>>> from affine import Affine
>>> from geoeco.core.crs import ALBERS_CHINA
>>> from geoeco.core.raster import Grid, Raster
>>> g = Grid(Affine(100, 0, 0, 0, -100, 4_200_000), 2, 1, ALBERS_CHINA)
>>> lyr = RasterLayer.from_raster("v", Raster.from_array(np.array([[2.0, 4.0]]), g))
>>> site = shapely.box(50, 4_199_900, 200, 4_200_000)   # half of pixel 1, all of pixel 2
>>> s = zonal_stats(site, [lyr], crs=ALBERS_CHINA)[0]
>>> s.count, s.sum, round(s.mean, 4), round(s.area_km2, 4)
(1.5, 5.0, 3.3333, 0.015)
"""

from __future__ import annotations

import math
import re
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from pyproj import CRS, Transformer

from geoeco.catalog.classes import ClassTable, get_table
from geoeco.core.crs import ALBERS_CHINA, CGCS2000
from geoeco.core.errors import InvalidInput
from geoeco.core.raster import Grid, Raster

from .coverage import EXACTEXTRACT_LOCK, Coverage, FlatPixels, PixelStats, grid_coverage
from .models import ClassArea, ZonalStat

#: Rasters up to this many pixels are held in memory; larger ones are read by window.
MAX_MEMORY_PIXELS = 25_000_000
_TAG = re.compile(r"^(.*\S)\s+\(([^()]*)\)$")


def table_from_tag(tag: str | None) -> ClassTable | None:
    """The class table named by a raster's ``class_table`` tag (``"name (version)"``), if known.

    >>> table_from_tag("SL190-2007/water (2007)").name
    'SL190-2007/water'
    >>> table_from_tag("CumShare(0.5,0.8) (1)").classes[2].name_en
    'extremely important'
    """
    if not tag:
        return None
    m = _TAG.match(tag.strip())
    name = m.group(1) if m else tag.strip()
    try:
        return get_table(name)
    except Exception:  # an unknown or user table: values without names
        return None


@lru_cache(maxsize=64)
def _transformer(src_wkt: str, dst_wkt: str) -> Transformer:
    return Transformer.from_crs(CRS.from_wkt(src_wkt), CRS.from_wkt(dst_wkt), always_xy=True)


#: ``crs.to_wkt()`` per CRS object (the object is kept, so its id is not reused).
_WKT: dict[int, tuple[CRS, str]] = {}


def _wkt(crs: CRS) -> str:
    """``crs.to_wkt()``, remembered per CRS object: it costs about 0.1 ms, and a zonal query
    of a small site needs it several times."""
    hit = _WKT.get(id(crs))
    if hit is not None and hit[0] is crs:
        return hit[1]
    if len(_WKT) >= 256:
        _WKT.clear()
    wkt = crs.to_wkt()
    _WKT[id(crs)] = (crs, wkt)
    return wkt


@lru_cache(maxsize=64)
def _same_crs(src_wkt: str, dst_wkt: str) -> bool:
    return src_wkt == dst_wkt or CRS.from_wkt(src_wkt) == CRS.from_wkt(dst_wkt)


def project(geom: Any, src: CRS, dst: CRS) -> Any:
    """Reproject a shapely geometry (scalar or array) between CRSs (transformers cached)."""
    s, d = _wkt(src), _wkt(dst)
    if _same_crs(s, d):
        return geom
    tr = _transformer(s, d)

    def xy(c: np.ndarray) -> np.ndarray:
        x, y = tr.transform(c[:, 0], c[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(geom, xy)


@dataclass
class RasterLayer:
    """A raster opened once for point values and zonal statistics.

    Build it with :meth:`open` (a file) or :meth:`from_raster` (an in-memory Raster).
    """

    name: str
    grid: Grid
    units: str | None = None
    table: ClassTable | None = None
    path: Path | None = None
    names: dict[int, tuple[str, str]] | None = None
    table_name: str | None = None
    _array: np.ma.MaskedArray | None = field(default=None, repr=False)
    _inv: tuple[float, ...] = field(default=(), repr=False, init=False)
    _pixels: tuple[np.ndarray, np.ndarray] | None = field(default=None, repr=False, init=False)
    _flat: FlatPixels | None = field(default=None, repr=False, init=False)

    def __post_init__(self) -> None:
        # point-lookup and zonal state, built now so that threads sharing the layer only read it
        t = ~self.grid.transform
        self._inv = (t.a, t.b, t.c, t.d, t.e, t.f)
        if self._array is not None:
            data, mask = np.ma.getdata(self._array), np.ma.getmaskarray(self._array)
            self._pixels = (data, mask)
            self._flat = FlatPixels.of(data, _valid(data, mask), classes=self.is_class)

    @classmethod
    def open(
        cls,
        name: str,
        path: str | Path,
        *,
        table: ClassTable | str | None = None,
        units: str | None = None,
        names: Mapping[int, tuple[str, str]] | None = None,
        table_name: str | None = None,
        max_memory_pixels: int = MAX_MEMORY_PIXELS,
    ) -> RasterLayer:
        """Open ``path`` (metadata now; pixels now if small enough, else window by window).

        ``table`` (a class table or its name) gives class names; without it the raster's
        ``class_table`` tag is used. ``names`` (code -> (zh, en)) and ``table_name`` name the
        codes of a class raster that has no class table (e.g. zone class, red-line type).
        """
        from geoeco.core.io import raster_info, read_raster

        info = raster_info(path, name=name)
        if info.grid is None:
            raise InvalidInput(f"raster {name!r} has no CRS")
        tags = _tags(path)
        t = get_table(table) if isinstance(table, str) else table
        if t is None:
            t = table_from_tag(tags.get("class_table"))
        u = units or (info.units[0] if info.units else None) or None
        small = info.grid.width * info.grid.height <= max_memory_pixels
        return cls(
            name,
            info.grid,
            u,
            t,
            Path(path),
            dict(names) if names else None,
            table_name,
            _array=read_raster(path, name=name).array if small else None,
        )

    @classmethod
    def from_raster(
        cls,
        name: str,
        raster: Raster,
        *,
        table: ClassTable | str | None = None,
        names: Mapping[int, tuple[str, str]] | None = None,
        table_name: str | None = None,
    ) -> RasterLayer:
        """Wrap an in-memory :class:`~geoeco.core.raster.Raster` (arguments as for :meth:`open`)."""
        t = get_table(table) if isinstance(table, str) else table
        return cls(
            name,
            raster.grid,
            raster.units,
            t,
            names=dict(names) if names else None,
            table_name=table_name,
            _array=raster.array,
        )

    @property
    def is_class(self) -> bool:
        """True for class rasters (those with a class table or code names)."""
        return self.table is not None or self.names is not None

    @property
    def class_names(self) -> dict[int, tuple[str, str]]:
        """Code -> (zh, en) class names (empty for continuous rasters)."""
        if self.names is not None:
            return self.names
        if self.table is not None:
            return {c.code: (c.name_zh, c.name_en) for c in self.table.classes}
        return {}

    @property
    def class_table(self) -> str | None:
        """Name of the class table (or code list) of a class raster."""
        return self.table.name if self.table is not None else self.table_name

    def stats(self, cov: Coverage) -> PixelStats:
        """exactextract's statistics of this raster over ``cov`` (a coverage of its grid)."""
        if cov.empty:
            return PixelStats.nothing(self.is_class)
        if self._flat is not None:
            return self._flat.stats(cov, classes=self.is_class)
        from geoeco.core.io import read_raster

        r0, c0, h, w = cov.window()
        arr = read_raster(self.file(), window=(r0, c0, h, w), name=self.name).array
        data, mask = np.ma.getdata(arr), np.ma.getmaskarray(arr)
        flat = FlatPixels.of(data, _valid(data, mask, finite=True), classes=False)
        rows, cols = np.divmod(cov.cell_ids, self.grid.width)
        return flat.stats(cov, classes=self.is_class, cells=(rows - r0) * w + (cols - c0))

    def value_at(self, x: float, y: float) -> float | None:
        """Pixel value at ``(x, y)`` in the raster CRS; ``None`` outside or nodata."""
        a, b, c0, d, e, f = self._inv
        col, row = a * x + b * y + c0, d * x + e * y + f
        if not (0 <= row < self.grid.height and 0 <= col < self.grid.width):
            return None
        r, c = int(row), int(col)
        if self._pixels is not None:
            data, mask = self._pixels
            if mask[r, c]:
                return None
            v = float(data[r, c])
        else:
            from geoeco.core.io import read_raster

            arr = read_raster(self.file(), window=(r, c, 1, 1), name=self.name).array
            if np.ma.getmaskarray(arr)[0, 0]:
                return None
            v = float(arr.data[0, 0])
        return None if math.isnan(v) else v

    def file(self) -> Path:
        """The raster's file (a layer whose pixels are not held in memory has one)."""
        if self.path is None:
            raise InvalidInput(f"raster {self.name!r} has neither its pixels in memory nor a file")
        return self.path


def _valid(data: np.ndarray, mask: np.ndarray, *, finite: bool = False) -> np.ndarray:
    """Pixels exactextract counts: not masked and, for floats, not NaN (not ±inf either with
    ``finite``, as for rasters read by window, which were masked with ``masked_invalid``).

    >>> _valid(np.array([1.0, np.nan, np.inf]), np.array([False, False, False])).tolist()
    [True, False, True]
    """
    if data.dtype.kind != "f":
        ok: np.ndarray = ~mask
        return ok
    bad = ~np.isfinite(data) if finite else np.isnan(data)
    ok = ~(mask | bad)
    return ok


def _tags(path: str | Path) -> dict[str, str]:
    from geoeco.core.userdata import open_user_raster

    with open_user_raster(path) as ds:  # metadata only; pixels go through geoeco.core.io
        return dict(ds.tags())


def _histogram(
    names: Mapping[int, tuple[str, str]],
    classes: Sequence[tuple[float, float]],
    count: float,
    area: float,
) -> list[ClassArea]:
    out = []
    for v, weight in classes:
        f = weight / count
        code = int(round(v))
        c = names.get(code)
        out.append(
            ClassArea(
                code=code,
                name_zh=c[0] if c else None,
                name_en=c[1] if c else None,
                pixels=f * count,
                area_km2=f * area,
                share=f,
            )
        )
    return out


def _num(v: Any) -> float | None:
    if v is None:
        return None
    v = float(v)
    return None if np.isnan(v) else v


def zonal_stats(
    geometry: Any,
    layers: Sequence[RasterLayer] | Mapping[str, str | Path],
    *,
    crs: CRS | str | int = CGCS2000,
) -> list[ZonalStat]:
    """Coverage-fraction statistics of each raster over ``geometry`` (see the module docstring).

    Parameters
    ----------
    geometry : shapely Polygon or MultiPolygon
        The area, in ``crs`` (lon-lat CGCS2000/WGS 84 by default).
    layers : list of RasterLayer, or mapping of name to raster path
        The rasters; paths are opened with :meth:`RasterLayer.open`.
    crs : CRS
        CRS of ``geometry``.

    Returns
    -------
    list of ZonalStat
        One per raster, in the given order. A raster the geometry misses has ``count`` 0 and
        ``None`` statistics.
    """
    if geometry.geom_type not in ("Polygon", "MultiPolygon") or geometry.is_empty:
        raise InvalidInput(f"zonal statistics need a polygon, got {geometry.geom_type}")
    src_crs = crs if isinstance(crs, CRS) else CRS.from_user_input(crs)
    lyrs: list[RasterLayer] = (
        [RasterLayer.open(k, v) for k, v in layers.items()]
        if isinstance(layers, Mapping)
        else list(layers)
    )
    names = [lyr.name for lyr in lyrs]
    if len(set(names)) != len(names):
        raise InvalidInput(f"raster layer names must be unique, got {names}")
    albers_area = project(geometry, src_crs, ALBERS_CHINA).area
    stats: dict[str, ZonalStat] = {}
    for group in _grid_groups(lyrs):
        g = project(geometry, src_crs, group[0].grid.crs)
        cov = grid_coverage(g, group[0].grid)  # once per grid, shared by its rasters
        factor = albers_area / g.area if g.area > 0 else 1.0
        for lyr in group:
            stats[lyr.name] = _stat(lyr, lyr.stats(cov), factor)
    return [stats[lyr.name] for lyr in lyrs]


#: Grid groups (as positions) per list of layer objects, with weak references to the layers
#: (a dead layer's id may be reused: the reference then no longer matches).
_GROUPS: dict[tuple[int, ...], tuple[list[weakref.ref[RasterLayer]], list[list[int]]]] = {}


def _grid_groups(layers: Sequence[RasterLayer]) -> list[list[RasterLayer]]:
    """Layers grouped by identical grid: the coverage is computed once per group (remembered
    per list of layer objects: an opened run asks with the same layers every time)."""
    key = tuple(id(lyr) for lyr in layers)
    hit = _GROUPS.get(key)
    if hit is None or not all(r() is lyr for r, lyr in zip(hit[0], layers, strict=True)):
        if len(_GROUPS) >= 64:
            _GROUPS.clear()
        pos = {id(lyr): i for i, lyr in enumerate(layers)}
        groups = [[pos[id(lyr)] for lyr in g] for g in _group(layers)]
        hit = _GROUPS[key] = ([weakref.ref(lyr) for lyr in layers], groups)
    return [[layers[i] for i in g] for g in hit[1]]


def _group(layers: Sequence[RasterLayer]) -> list[list[RasterLayer]]:
    groups: list[list[RasterLayer]] = []
    for lyr in layers:
        for g in groups:
            if _aligned(g[0].grid, lyr.grid):
                g.append(lyr)
                break
        else:
            groups.append([lyr])
    return groups


def _aligned(a: Grid, b: Grid) -> bool:
    """:meth:`Grid.aligned_with` (same CRS, size and transform to 1e-9 of a pixel), with the
    CRS comparison cached (pyproj's takes about 30 µs)."""
    if a.shape != b.shape or not _same_crs(_wkt(a.crs), _wkt(b.crs)):
        return False
    tol = 1e-9 * max(a.res)
    return all(abs(x - y) <= tol for x, y in zip(a.transform, b.transform, strict=True))


def _stat(lyr: RasterLayer, p: PixelStats, factor: float) -> ZonalStat:
    count = p.count
    area = count * lyr.grid.cell_area * factor / 1e6
    hist = None
    if lyr.is_class:
        hist = _histogram(lyr.class_names, p.classes or (), count, area)
    ok = count > 0
    return ZonalStat(
        layer=lyr.name,
        units=lyr.units,
        class_table=lyr.class_table,
        count=count,
        area_km2=area,
        sum=_num(p.sum) if ok else None,
        mean=_num(p.mean) if ok else None,
        min=_num(p.min) if ok else None,
        max=_num(p.max) if ok else None,
        histogram=hist,
    )


__all__ = [
    "EXACTEXTRACT_LOCK",
    "MAX_MEMORY_PIXELS",
    "RasterLayer",
    "project",
    "table_from_tag",
    "zonal_stats",
]
