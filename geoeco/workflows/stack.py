"""A folder of yearly rasters read as stacks: which file is which variable and year.

One GeoTIFF per variable and year, all on one grid. The **year** comes from the file name (a
4-digit year 1800–2999 not touching other digits: ``ndvi_2005.tif``, ``2005-ndvi.tif``), or,
when the name has none, from the file's ``GEOECO_YEAR`` tag or the year of its
``TIFFTAG_DATETIME``. The **variable** is the name with the year and the separators around it
removed (``ndvi_2005.tif`` → ``ndvi``; ``soil_loss_2005.tif`` → ``soil_loss``), so one folder may
hold several variables, one stack per name prefix.

Examples
--------
>>> year_in_name("ndvi_2005.tif"), variable_of("ndvi_2005.tif")
(2005, 'ndvi')
>>> year_in_name("soil_loss-1999_v2.tif"), variable_of("soil_loss-1999_v2.tif")
(1999, 'soil_loss_v2')
>>> year_in_name("ndvi_20050101.tif") is None   # 8 digits: not a year
True
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from geoeco.core.errors import GridMismatch, InvalidInput
from geoeco.core.io import raster_info, read_raster
from geoeco.core.raster import Grid
from geoeco.core.userdata import open_user_raster

_YEAR = re.compile(r"(?<![0-9])(1[89][0-9]{2}|2[0-9]{3})(?![0-9])")
#: GeoTIFF suffixes taken from a stack folder (other files are ignored).
SUFFIXES = (".tif", ".tiff")
#: Variable name of files named by their year alone (``2005.tif``).
UNNAMED = "value"


def year_in_name(name: str) -> int | None:
    """The 4-digit year in a file name, or ``None`` (none, or more than one)."""
    found = _YEAR.findall(Path(name).stem)
    return int(found[0]) if len(found) == 1 else None


def variable_of(name: str) -> str:
    """The variable a file name stands for: its stem without the year and the separators
    around it (:data:`UNNAMED` when nothing is left)."""
    stem = _YEAR.sub("_", Path(name).stem, count=1)
    var = re.sub(r"[_\-. ]+", "_", stem).strip("_")
    return var or UNNAMED


def year_from_tags(path: Path) -> int | None:
    """The year in a raster's ``GEOECO_YEAR`` tag, else in its ``TIFFTAG_DATETIME``."""
    with open_user_raster(path) as ds:
        tags = ds.tags()
    for key in ("GEOECO_YEAR", "TIFFTAG_DATETIME"):
        m = re.match(r"\s*([0-9]{4})", tags.get(key, ""))
        if m:
            return int(m.group(1))
    return None


@dataclass(frozen=True)
class YearlyStack:
    """The files of one variable, sorted by year, all on ``grid``."""

    variable: str
    years: tuple[int, ...]
    paths: tuple[Path, ...]
    grid: Grid
    units: str | None

    def read(self, window: tuple[int, int, int, int]) -> npt.NDArray[np.float64]:
        """The stack's values in a ``(row, col, height, width)`` window, shaped (years, h, w),
        NaN where a year is nodata."""
        out = np.empty((len(self.paths), window[2], window[3]), dtype=np.float64)
        for i, p in enumerate(self.paths):
            r = read_raster(p, window=window, name=p.name)
            out[i] = np.ma.filled(r.array.astype(np.float64), np.nan)
        return out


def _stack_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise InvalidInput(f"stack folder {folder.name!r} does not exist or is not a folder")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in SUFFIXES and p.is_file())
    if not files:
        raise InvalidInput(f"stack folder {folder.name!r} holds no GeoTIFF (.tif)")
    return files


def _year_of(p: Path) -> int:
    year = year_in_name(p.name)
    if year is None:
        year = year_from_tags(p)
    if year is None:
        raise InvalidInput(
            f"{p.name}: no year in the file name and no GEOECO_YEAR or TIFFTAG_DATETIME tag"
        )
    return year


def _one_stack(variable: str, items: list[tuple[int, Path]], grid: Grid | None) -> YearlyStack:
    items.sort()
    years = [y for y, _ in items]
    dup = sorted({y for y in years if years.count(y) > 1})
    if dup:
        raise InvalidInput(f"variable {variable!r}: more than one file for year(s) {dup}")
    info = raster_info(items[0][1], name=items[0][1].name)
    if info.grid is None:
        raise InvalidInput(f"{items[0][1].name}: raster has no CRS")
    ref = grid or info.grid
    for _, p in items:
        g = raster_info(p, name=p.name).grid
        if g is None or not g.aligned_with(ref):
            raise GridMismatch(f"{p.name} is not on the grid of {items[0][1].name}")
    paths = tuple(p for _, p in items)
    return YearlyStack(variable, tuple(years), paths, ref, info.units[0])


def discover_stacks(
    folder: str | os.PathLike[str], *, variables: Sequence[str] | None = None
) -> dict[str, YearlyStack]:
    """The yearly stacks of a folder, by variable (all on the grid of the first file).

    ``variables`` keeps only those names (an unknown one raises
    :class:`~geoeco.core.errors.InvalidInput`).
    """
    by_var: dict[str, list[tuple[int, Path]]] = {}
    for p in _stack_files(Path(folder)):
        by_var.setdefault(variable_of(p.name), []).append((_year_of(p), p))
    if variables is not None:
        missing = sorted(set(variables) - set(by_var))
        if missing:
            raise InvalidInput(f"no files for variable(s) {missing}; found {sorted(by_var)}")
        by_var = {v: by_var[v] for v in variables}
    out: dict[str, YearlyStack] = {}
    grid: Grid | None = None
    for var in sorted(by_var):
        st = _one_stack(var, by_var[var], grid)
        grid = st.grid
        out[var] = st
    return out


def row_areas_km2(grid: Grid) -> npt.NDArray[np.float64]:
    """Equal-area size (km²) of one pixel of each row of ``grid``.

    Projected grids: the planar pixel area times the grid's equal-area factor
    (:func:`~geoeco.core.windows.equal_area_factor`, 1 on Albers); geographic grids: the
    ellipsoidal (GRS 80 ≈ CGCS2000) area of a cell of each row.

    >>> g = Grid.from_bounds((500_000, 4e6, 503_000, 4_002_000), 1000.0, "EPSG:4546")
    >>> row_areas_km2(g).round(3).tolist()
    [1.0, 1.0]
    """
    if grid.crs.is_geographic:
        from pyproj import Geod

        geod = Geod(ellps="GRS80")
        t = grid.transform
        x0, x1 = t.c, t.c + t.a
        tops = t.f + t.e * np.arange(grid.height)
        areas = [
            abs(geod.polygon_area_perimeter([x0, x1, x1, x0], [y, y, y + t.e, y + t.e])[0])
            for y in tops
        ]
        return np.asarray(areas, dtype=np.float64) / 1e6
    from geoeco.core.windows import equal_area_factor

    area = grid.cell_area * equal_area_factor(grid) / 1e6
    return np.full(grid.height, area, dtype=np.float64)


def strips(grid: Grid, n_layers: int, window_mib: float) -> Iterator[tuple[int, int, int, int]]:
    """Full-width ``(row, col, height, width)`` strips whose stack of ``n_layers`` float64
    layers fits in ``window_mib`` MiB (at least one row).

    >>> g = Grid.from_bounds((0, 0, 100, 40), 10.0, 32650)
    >>> [w[2] for w in strips(g, 2, 0.0003)]   # 0.0003 MiB ≈ 314 bytes → 1 row of 10 px × 2
    [1, 1, 1, 1]
    """
    per_row = grid.width * max(1, n_layers) * 8
    rows = max(1, int(window_mib * 2**20 // per_row))
    for r0 in range(0, grid.height, rows):
        yield (r0, 0, min(rows, grid.height - r0), grid.width)


__all__ = [
    "SUFFIXES",
    "UNNAMED",
    "YearlyStack",
    "discover_stacks",
    "row_areas_km2",
    "strips",
    "variable_of",
    "year_from_tags",
    "year_in_name",
]
