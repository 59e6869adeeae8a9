"""Shared plumbing of the analysis pipelines: factor inputs, provenance, windowed summaries.

A factor is given as a number or as a raster file; :func:`open_factor` turns it into a
:class:`WindowReader`, read window by window on the target grid (a :class:`Constant`, or a
raster warped onto the grid with the resampling its kind calls for).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import shapely
from pyproj import Transformer

from geoeco import __version__

from .align import Resampling, aligned_source
from .crs import ALBERS_CHINA
from .errors import InvalidInput
from .inspect import inspect_layer_file
from .io import atomic_path, raster_info
from .provenance import Status, derived_tags, raster_status, resolve_status
from .raster import Grid


class WindowReader(Protocol):
    """A factor on the target grid, read one window ``(row, col, height, width)`` at a time:
    a :class:`Constant` or a :class:`geoeco.core.align.AlignedSource` (masked values)."""

    def read(self, window: tuple[int, int, int, int]) -> np.ndarray:
        """The window's values (a masked array where the input has nodata)."""
        ...


class Constant:
    """A factor that is the same everywhere."""

    def __init__(self, value: float, name: str) -> None:
        self.value = float(value)
        self.name = name

    def read(self, window: tuple[int, int, int, int]) -> np.ndarray:
        """A full window of the constant value (float32)."""
        return np.full((window[2], window[3]), self.value, dtype="float32")


def parse_factor(text: str | float | int | None) -> float | str | None:
    """A CLI factor: a number stays a number, anything else is a path.

    >>> parse_factor("1.5"), parse_factor("r.tif"), parse_factor(None)
    (1.5, 'r.tif', None)
    """
    if text is None or isinstance(text, int | float):
        return text
    try:
        return float(text)
    except ValueError:
        return str(text)


@contextlib.contextmanager
def open_factor(
    value: float | str | Path | None,
    grid: Grid,
    *,
    name: str,
    resampling: Resampling = "bilinear",
    allow_outside_china: bool = False,
    inputs: dict[str, Any] | None = None,
) -> Iterator[WindowReader]:
    """Yield a :class:`WindowReader` for a constant or a raster path (validated)."""
    if value is None:
        raise InvalidInput(f"factor {name} is missing: give a number or a raster")
    if isinstance(value, int | float):
        if not math.isfinite(float(value)):
            raise InvalidInput(f"factor {name} must be a finite number, got {value}")
        if inputs is not None:
            inputs[name] = {"constant": float(value)}
        yield Constant(float(value), name)
        return
    p = Path(value)
    info = raster_info(p, name=p.name)
    # a float raster with no declared nodata uses NaN; an integer one must declare its nodata
    stated = float("nan") if info.nodata is None and info.dtype.startswith("float") else None
    rep = inspect_layer_file(p, allow_outside_china=allow_outside_china, nodata=stated)
    if inputs is not None:
        inputs[name] = {
            "file": p.name,
            "crs": rep.crs,
            "sha256": file_digest(p),
            "resampling": resampling,
            "status": file_status(p),
        }
    with aligned_source(p, grid, resampling=resampling, name=p.name) as src:
        yield src


def file_status(path: str | Path, given: str | None = None) -> Status:
    """The status of a raster given by path: its geoeco tags, else ``user`` (or ``given``,
    which may lower but never raise a tagged status; :func:`geoeco.core.provenance.
    resolve_status`)."""
    p = Path(path)
    return resolve_status(given, raster_status(p, name=p.name))


def output_tags(
    process: str, inputs: Mapping[str, Any], *, class_table: str | None = None
) -> dict[str, str]:
    """GDAL tags of the rasters a run writes, from its ``inputs`` record (name -> record;
    records with a ``status`` count, constants do not): the least trusted status of the
    inputs and their statuses as lineage (:func:`geoeco.core.provenance.derived_tags`).

    >>> output_tags("erosion", {"dem": {"status": "synthetic"}, "R": {"constant": 1.0}})[
    ...     "GEOECO_STATUS"]
    'synthetic'
    """
    statuses = {
        n: str(r["status"]) for n, r in inputs.items() if isinstance(r, Mapping) and "status" in r
    }
    return derived_tags(process, statuses, class_table=class_table)


def file_sha256(path: Path) -> str:
    """SHA-256 of a whole file, read in 1 MiB chunks (manifests' checksums)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def file_digest(path: Path, *, limit: int = 64 * 2**20) -> str:
    """SHA-256 of a file (of its first ``limit`` bytes plus its size, for very large files)."""
    h = hashlib.sha256()
    size = path.stat().st_size
    with open(path, "rb") as f:
        h.update(f.read(limit))
    h.update(str(size).encode())
    return h.hexdigest()


def equal_area_factor(grid: Grid) -> float:
    """Ratio of true (Albers equal-area) to planar area over the grid's footprint.

    Multiply planar pixel areas by it to report equal-area figures; it is 1 on an equal-area
    grid and differs by the projection's scale distortion elsewhere (e.g. ~1e-4 in a
    Gauss–Krüger zone near its central meridian).
    """
    if grid.crs == ALBERS_CHINA:
        return 1.0
    left, bottom, right, top = grid.bounds
    ring = shapely.segmentize(shapely.box(left, bottom, right, top), (right - left) / 50)
    t = Transformer.from_crs(grid.crs, ALBERS_CHINA, always_xy=True)
    xy = np.asarray(ring.exterior.coords)
    x, y = t.transform(xy[:, 0], xy[:, 1])
    true_area = shapely.Polygon(np.column_stack([x, y])).area
    return float(true_area / ring.area)


def write_json(obj: dict[str, Any], path: Path) -> Path:
    """Write JSON atomically (UTF-8, Chinese kept readable)."""
    with atomic_path(path) as tmp:
        tmp.write_text(
            json.dumps(obj, ensure_ascii=False, indent=2, default=_json_default), encoding="utf-8"
        )
    return path


def _json_default(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return o.name
    return str(o)


def engine_info() -> dict[str, str]:
    """Name and version of the engine, recorded in every summary."""
    return {"name": "geoeco", "version": __version__}
