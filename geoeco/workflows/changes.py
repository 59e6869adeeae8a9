"""Change between two dates of a class raster: ``geoeco change`` and the ``change`` process.

:func:`run_change` reads two class rasters of one grid (erosion grades, desertification
degrees: codes ordered least to most severe, 0 nodata) strip by strip and writes

* ``<variable>_transition.csv``: km² (equal-area) from each first-date class (rows, with its
  name) to each second-date class, plus ``to_nodata`` and the row ``total`` (= the class's area
  at the first date);
* ``<variable>_change.tif``: 1 improved by at least one grade, 2 unchanged, 3 worsened,
  0 nodata at either date (the trend class colours);
* with control units (a zoning run's folder or its ``units.parquet``/``zones.gpkg``):
  ``<variable>_units.csv`` and ``<variable>_counties.csv``: per unit (``code``) and per county
  (``county_code``) the area with a class at both dates, improved / unchanged / worsened km²
  and the share "improved by at least one grade";
* ``summary.json``.

``variable`` defaults to the first file's name without its year (:func:`.stack.variable_of`);
the classes come from a class table (``table``, e.g. ``SL190-2007/water``) or, without one,
are the codes found in either raster in increasing order.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from geoeco.change.transition import (
    TransitionMatrix,
    change_summary,
    transition_matrix,
    zone_transitions,
)
from geoeco.core.errors import InvalidInput
from geoeco.core.io import open_raster_writer, raster_info, read_raster, read_vector, write_table
from geoeco.core.raster import Grid
from geoeco.core.windows import engine_info, file_digest, write_json

from .progress import Progress
from .stack import row_areas_km2, strips, variable_of
from .trends import CLASS_COLOURS

Window = tuple[int, int, int, int]
#: Codes of the change map.
CHANGE_NAMES = {1: "improved", 2: "unchanged", 3: "worsened"}


@dataclass(frozen=True)
class ChangeOptions:
    """Settings of :func:`run_change`: the class ``table`` (or explicit ``classes``, least to
    most severe), the ``variable`` name of the outputs, whether a higher class is worse, and
    the memory of one strip (MiB)."""

    table: str | None = None
    classes: tuple[int, ...] | None = None
    variable: str | None = None
    higher_is_worse: bool = True
    window_mib: float = 64.0


@dataclass(frozen=True)
class ChangeRunResult:
    """A change run: folder, variable, classes with names, the whole-area matrix, the
    per-unit and per-county rows (empty without units), inputs and files written."""

    out: Path
    variable: str
    classes: tuple[tuple[int, str], ...]
    matrix: TransitionMatrix
    unit_rows: tuple[dict[str, Any], ...]
    county_rows: tuple[dict[str, Any], ...]
    inputs: tuple[dict[str, Any], ...]
    outputs: tuple[str, ...]
    higher_is_worse: bool

    def summary(self) -> dict[str, Any]:
        """The content of ``summary.json``."""
        s = change_summary(self.matrix, higher_is_worse=self.higher_is_worse)
        return {
            "kind": "change",
            "variable": self.variable,
            "classes": [{"code": c, "name": n} for c, n in self.classes],
            "higher_is_worse": self.higher_is_worse,
            "area_units": "km² (equal-area)",
            "from_area_km2": dict(
                zip(self._codes(), self.matrix.from_area_km2.tolist(), strict=True)
            ),
            "to_area_km2": dict(zip(self._codes(), self.matrix.to_area_km2.tolist(), strict=True)),
            "improved_km2": s.improved_km2,
            "unchanged_km2": s.unchanged_km2,
            "worsened_km2": s.worsened_km2,
            "improved_share": s.improved_share,
            "units": len(self.unit_rows),
            "counties": len(self.county_rows),
            "outputs": list(self.outputs),
            "inputs": list(self.inputs),
            "engine": engine_info(),
        }

    to_dict = summary

    def _codes(self) -> list[str]:
        return [str(c) for c, _ in self.classes]


# ------------------------------------------------------------------------------------------


def _grid_of(path: Path) -> Grid:
    info = raster_info(path, name=path.name)
    if info.grid is None:
        raise InvalidInput(f"{path.name}: raster has no CRS")
    return info.grid


def _present_codes(path: Path, grid: Grid, window_mib: float) -> set[int]:
    found: set[int] = set()
    for win in strips(grid, 1, window_mib):
        a = read_raster(path, window=win, name=path.name).array
        vals = np.unique(np.ma.compressed(a))
        if vals.size and (vals != np.round(vals)).any():
            raise InvalidInput(f"{path.name}: a class raster holds integer codes")
        found.update(int(v) for v in vals if v != 0)
    return found


def _classes(opts: ChangeOptions, paths: Sequence[Path], grid: Grid) -> tuple[tuple[int, str], ...]:
    """The classes (code, name) in order, from the table, the options or the rasters."""
    if opts.table is not None:
        from geoeco.catalog.classes import resolve

        return tuple((code, en) for code, _zh, en, _c in resolve(opts.table).legend())
    if opts.classes is not None:
        return tuple((int(c), f"class_{c}") for c in opts.classes)
    codes: set[int] = set()
    for p in paths:
        codes |= _present_codes(p, grid, opts.window_mib)
    if not codes:
        raise InvalidInput("neither raster holds a class (every pixel is nodata)")
    return tuple((c, f"class_{c}") for c in sorted(codes))


def _change_codes(
    before: Any, after: Any, order: dict[int, int], higher_is_worse: bool
) -> npt.NDArray[np.uint8]:
    """1 improved, 2 unchanged, 3 worsened, 0 nodata at either date."""
    lookup = np.full(max(order) + 2, -1, dtype=np.int64)
    for code, pos in order.items():
        lookup[code] = pos
    b = np.ma.filled(before, 0).astype(np.int64)
    a = np.ma.filled(after, 0).astype(np.int64)
    bi = lookup[np.clip(b, 0, len(lookup) - 1)]
    ai = lookup[np.clip(a, 0, len(lookup) - 1)]
    valid = (bi >= 0) & (ai >= 0) & (b > 0) & (a > 0)
    better = ai < bi if higher_is_worse else ai > bi
    worse = ai > bi if higher_is_worse else ai < bi
    out = np.where(better, 1, np.where(worse, 3, 2)).astype(np.uint8)
    out[~valid] = 0
    return out


def load_units(source: str | os.PathLike[str]) -> Any:
    """Control units of a zoning run: its folder (``units.parquet`` in it or in ``zones/``),
    a ``units.parquet``, or a ``zones.gpkg`` (layer ``units``); needs a ``code`` column
    (``county_code`` for the county table)."""
    p = Path(source)
    if p.is_dir():
        found = [q for q in (p / "units.parquet", p / "zones" / "units.parquet") if q.is_file()]
        if not found:
            raise InvalidInput(f"{p.name}: no units.parquet in this zoning run folder")
        p = found[0]
    layer = "units" if p.suffix.lower() == ".gpkg" else None
    units = read_vector(p, layer=layer, name=p.name)
    if "code" not in units.columns:
        raise InvalidInput(f"{p.name}: the units have no 'code' column")
    return units.reset_index(drop=True)


def _unit_labels(units: Any, grid: Grid, win: Window) -> npt.NDArray[np.int64]:
    """Row number + 1 of the unit covering each pixel of a window (0 outside every unit)."""
    from rasterio.features import rasterize

    sub = grid.window(*win)
    shapes = ((g, i + 1) for i, g in enumerate(units.geometry) if g is not None and not g.is_empty)
    out = rasterize(shapes, out_shape=sub.shape, transform=sub.transform, fill=0, dtype="int32")
    return np.asarray(out, dtype=np.int64)


def _zone_rows(
    tables: npt.NDArray[np.float64],
    keys: Sequence[Any],
    name: str,
    codes: tuple[int, ...],
    higher_is_worse: bool,
) -> list[dict[str, Any]]:
    """Improved / unchanged / worsened km² of each zone's (K+1, K+1) table."""
    from geoeco.change.transition import ZoneTransitions

    zt = ZoneTransitions(np.arange(1, len(keys) + 1, dtype=np.int64), codes, tables)
    rows = zt.summary_rows(higher_is_worse=higher_is_worse)
    for row, key in zip(rows, keys, strict=True):
        del row["zone"]
        row[name] = key
    return [{name: r.pop(name), **r} for r in rows]


def _county_tables(
    units: Any, tables: npt.NDArray[np.float64]
) -> tuple[list[Any], npt.NDArray[np.float64]]:
    keys = sorted(set(units["county_code"].astype(str)))
    idx = {k: i for i, k in enumerate(keys)}
    out = np.zeros((len(keys), *tables.shape[1:]))
    for i, c in enumerate(units["county_code"].astype(str)):
        out[idx[c]] += tables[i]
    return keys, out


@dataclass
class _Sums:
    """What the strips add up: the whole-area matrix and one table per unit."""

    matrix: TransitionMatrix | None
    units: npt.NDArray[np.float64]


def _strip_pass(
    b: Path,
    a: Path,
    out_tif: Path,
    grid: Grid,
    codes: tuple[int, ...],
    units: Any,
    opts: ChangeOptions,
    tags: dict[str, str],
) -> _Sums:
    """Read both rasters strip by strip; write the change map and add up the matrices."""
    areas = row_areas_km2(grid)
    order = {c: i for i, c in enumerate(codes)}
    k1 = len(codes) + 1
    sums = _Sums(None, np.zeros((0 if units is None else len(units), k1, k1)))
    with open_raster_writer(
        out_tif, grid, dtype="uint8", nodata=0, colormap=CLASS_COLOURS, tags=tags
    ) as w:
        for win in strips(grid, 4, opts.window_mib):
            bw = read_raster(b, window=win, name=b.name).array
            aw = read_raster(a, window=win, name=a.name).array
            px = np.broadcast_to(areas[win[0] : win[0] + win[2], None], bw.shape)
            m = transition_matrix(bw, aw, classes=codes, pixel_area_km2=px)
            sums.matrix = m if sums.matrix is None else sums.matrix + m
            w.write(win, _change_codes(bw, aw, order, opts.higher_is_worse))
            if units is not None:
                labels = _unit_labels(units, grid, win)
                zt = zone_transitions(bw, aw, labels, classes=codes, pixel_area_km2=px)
                sums.units[zt.zones - 1] += zt.tables
    return sums


def _check_variable(variable: str) -> str:
    import re

    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}", variable):
        raise InvalidInput(f"variable name {variable!r}: use letters, digits, '_', '-', '.'")
    return variable


def _transition_frame(m: TransitionMatrix, classes: tuple[tuple[int, str], ...]) -> Any:
    import pandas as pd

    names = dict(classes)
    rows = [{"from": r["from"], "from_name": names[r["from"]], **r} for r in m.rows()]
    return pd.DataFrame(rows)


def run_change(
    before: str | os.PathLike[str],
    after: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    options: ChangeOptions | None = None,
    units: str | os.PathLike[str] | None = None,
    progress: Progress | None = None,
) -> ChangeRunResult:
    """Transition table, change map, per-unit/per-county tables and ``summary.json`` between
    two class rasters (see the module docstring)."""
    import pandas as pd

    opts = options or ChangeOptions()
    b, a = Path(before), Path(after)
    grid = _grid_of(b)
    _grid_of(a).check_aligned(grid, what=f"{a.name} and {b.name}")
    classes = _classes(opts, [b, a], grid)
    codes = tuple(c for c, _ in classes)
    variable = _check_variable(opts.variable or variable_of(b.name))
    unit_frame = load_units(units) if units is not None else None
    if unit_frame is not None:
        unit_frame = unit_frame.to_crs(grid.crs)
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    if progress:
        progress(f"change of {variable}", 0.0)
    tags = {f"CLASS_{k}": v for k, v in CHANGE_NAMES.items()} | {"CLASS_0": "nodata"}
    sums = _strip_pass(
        b,
        a,
        out_dir / f"{variable}_change.tif",
        grid,
        codes,
        unit_frame,
        opts,
        {**tags, "VARIABLE": variable, "FROM": b.name, "TO": a.name},
    )
    if sums.matrix is None:  # a grid has at least one strip; kept for the type checker
        raise InvalidInput(f"{b.name}: the raster has no pixels")
    files = [f"{variable}_change.tif", f"{variable}_transition.csv"]
    write_table(_transition_frame(sums.matrix, classes), out_dir / files[1])
    unit_rows: list[dict[str, Any]] = []
    county_rows: list[dict[str, Any]] = []
    if unit_frame is not None:
        keys = unit_frame["code"].astype(str).tolist()
        unit_rows = _zone_rows(sums.units, keys, "code", codes, opts.higher_is_worse)
        files.append(f"{variable}_units.csv")
        write_table(pd.DataFrame(unit_rows), out_dir / files[-1])
        if "county_code" in unit_frame.columns:
            ck, ct = _county_tables(unit_frame, sums.units)
            county_rows = _zone_rows(ct, ck, "county_code", codes, opts.higher_is_worse)
            files.append(f"{variable}_counties.csv")
            write_table(pd.DataFrame(county_rows), out_dir / files[-1])
    inputs = tuple({"file": p.name, "sha256": file_digest(p)} for p in (b, a))
    result = ChangeRunResult(
        out_dir,
        variable,
        classes,
        sums.matrix,
        tuple(unit_rows),
        tuple(county_rows),
        inputs,
        (*files, "summary.json"),
        opts.higher_is_worse,
    )
    write_json(result.summary(), out_dir / "summary.json")
    if progress:
        progress("change done", 1.0)
    return result


__all__ = [
    "CHANGE_NAMES",
    "ChangeOptions",
    "ChangeRunResult",
    "load_units",
    "run_change",
]
