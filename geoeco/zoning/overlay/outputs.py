"""Outputs of the zoning overlay (:mod:`geoeco.zoning.overlay.run`): the sink that collects or
writes the output windows, the output histograms, and the typed summary of a run
(:class:`ZoningSummary`, JSON through :meth:`ZoningSummary.to_dict`)."""

from __future__ import annotations

import contextlib
import functools
import queue
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pyproj import CRS

from geoeco.core.coverage import Coverage
from geoeco.core.errors import EmptyArea
from geoeco.core.provenance import derived_tags
from geoeco.core.raster import Grid, Raster

from .inputs import Window, _Plan
from .kernels import _PRE_AOI, FLAG_BITS, _finish_kernel, _finish_luts, _stage_layers
from .pass1 import _buffer


class _Sink:
    """Collects output windows in memory or streams them to COG writers (:class:`ThreadedWriters`,
    closed with ``stack``)."""

    def __init__(self, grid: Grid, out_dir: Any, stack: contextlib.ExitStack, plan: _Plan):
        self.grid, self.out_dir = grid, out_dir
        self.paths: list[Path] = []
        if out_dir is None:
            self.arrays = [np.zeros(grid.shape, np.uint8) for _ in range(3)]
            return
        from geoeco.core.io import open_raster_writer

        tags = plan_tags(plan)
        factories = []
        for name, nodata in OUTPUT_FILES:
            p = Path(out_dir) / f"{name}.tif"
            self.paths.append(p)
            factories.append(
                functools.partial(
                    open_raster_writer,
                    p,
                    grid,
                    dtype="uint8",
                    nodata=nodata,
                    units="class",
                    band_names=[name],
                    tags=tags,
                    categories=output_categories(name),
                )
            )
        self.writers = stack.enter_context(ThreadedWriters(factories))

    def write(self, win: Window, zone: np.ndarray, red: np.ndarray, flags: np.ndarray) -> None:
        """Store or write one window (``red``/``flags`` hold the file nodata where ``zone``
        is 0); the arrays must stay untouched until the next call."""
        if self.out_dir is None:
            sl = (slice(win[0], win[0] + win[2]), slice(win[1], win[1] + win[3]))
            for arr, v in zip(self.arrays, (zone, red, flags), strict=True):
                arr[sl] = v
            return
        self.writers.write(win, zone, red, flags)

    def finish(self) -> Outputs:
        """The three outputs: COG paths (written when ``stack`` closes), or masked in-memory
        Rasters."""
        if self.out_dir is not None:
            self.writers.wait()
            zone, red, flags = self.paths
            return zone, red, flags
        return in_memory_outputs(self.arrays, self.grid)


class _Stop:
    """What a writer thread is told at the end: close normally, or after ``error``."""

    def __init__(self, error: BaseException | None = None) -> None:
        self.error = error


class _WriterThread:
    """One raster writer living in one thread, from opening to closing (rasterio datasets and
    their GDAL environment belong to the thread that opened them)."""

    def __init__(self, factory: Callable[[], contextlib.AbstractContextManager[Any]]) -> None:
        self.error: BaseException | None = None
        self.queue: queue.Queue[Any] = queue.Queue()
        self._opened = threading.Event()
        self.thread = threading.Thread(
            target=self._run, args=(factory,), name="geoeco-write", daemon=True
        )
        self.thread.start()
        self._opened.wait()

    def _run(self, factory: Callable[[], contextlib.AbstractContextManager[Any]]) -> None:
        try:
            manager = factory()
            writer = manager.__enter__()
        except BaseException as exc:
            self.error = exc
            self._opened.set()
            return
        self._opened.set()
        while True:
            item = self.queue.get()
            try:
                if isinstance(item, _Stop):
                    break
                if self.error is None:  # after an error, take the windows but skip them
                    writer.write(*item)
            except BaseException as exc:
                self.error = exc
            finally:
                self.queue.task_done()
        failed = item.error or self.error
        if failed is None:
            try:
                manager.__exit__(None, None, None)  # the COG conversion
            except BaseException as exc:
                self.error = exc
        else:
            with contextlib.suppress(BaseException):
                manager.__exit__(type(failed), failed, failed.__traceback__)


class ThreadedWriters:
    """Raster writers (e.g. :func:`geoeco.core.io.open_raster_writer`), each in a thread of
    its own: the outputs of a window compress side by side while the next window is
    computed, and on a normal exit the COG conversions (GDAL, without the GIL) run side by
    side too. On an error every writer is closed with it (a partial file is removed).

    :meth:`write` hands one window to every writer; the arrays must stay untouched until the
    next :meth:`write` or :meth:`wait` (one window in flight per writer).

    >>> import contextlib
    >>> class Writer:
    ...     def __init__(self): self.got = []
    ...     def write(self, win, a): self.got.append((win, a.tolist()))
    >>> made = []
    >>> @contextlib.contextmanager
    ... def open_writer():
    ...     made.append(Writer())
    ...     yield made[-1]
    >>> with ThreadedWriters([open_writer, open_writer]) as w:
    ...     w.write((0, 0, 1, 1), np.array([[1]]), np.array([[2]]))
    >>> [m.got for m in made]
    [[((0, 0, 1, 1), [[1]])], [((0, 0, 1, 1), [[2]])]]
    """

    def __init__(self, factories: Sequence[Callable[[], contextlib.AbstractContextManager[Any]]]):
        self._factories = list(factories)
        self._threads: list[_WriterThread] = []

    def __enter__(self) -> ThreadedWriters:
        for f in self._factories:
            t = _WriterThread(f)
            self._threads.append(t)
            if t.error is not None:
                self._stop(t.error)
                raise t.error
        return self

    def wait(self) -> None:
        """Wait until every writer has written its last window; re-raise a writer's error."""
        for t in self._threads:
            t.queue.join()
        for t in self._threads:
            if t.error is not None:
                raise t.error

    def write(self, win: Window, *arrays: np.ndarray) -> None:
        """Hand window ``win`` to the writers, one array each (after the previous window)."""
        self.wait()
        for t, a in zip(self._threads, arrays, strict=True):
            t.queue.put((win, a))

    def _stop(self, error: BaseException | None) -> None:
        for t in self._threads:
            if t.thread.is_alive():
                t.queue.put(_Stop(error))
        for t in self._threads:
            t.thread.join()

    def __exit__(self, et: Any, ev: BaseException | None, tb: Any) -> None:
        self._stop(ev if et is not None else None)
        if et is None:
            for t in self._threads:
                if t.error is not None:
                    raise t.error


#: Class tables of the outputs whose codes are classes (the flags are bits).
OUTPUT_CLASS_TABLES = {"zone_class": "ZHGKDYFL", "redline": "LXBM"}


def output_categories(name: str) -> dict[int, str] | None:
    """Class names written into output ``name`` (``None`` for the flags)."""
    from geoeco.catalog.classes import get_table

    table = OUTPUT_CLASS_TABLES.get(name)
    return None if table is None else get_table(table).category_names()


def plan_tags(plan: _Plan) -> dict[str, str]:
    """GDAL tags of the overlay's output files: the rule set, and status and lineage from the
    statuses of every bound input (the least trusted one, :mod:`geoeco.core.provenance`)."""
    rs = plan.rules
    statuses = {n: b.status for n, b in plan.layers.items()}
    tags = derived_tags("zoning", statuses, rule_set=rs.name, rule_set_sha256=rs.sha256())
    return {"rule_set": rs.name, "rule_set_sha256": rs.sha256(), **tags}


#: The three outputs of a run, ``(zone_class, redline, flags)``: COG paths or Rasters.
Outputs = tuple[Raster | Path, Raster | Path, Raster | Path]

#: The three outputs: name and the nodata value of the written file.
OUTPUT_FILES: tuple[tuple[str, int], ...] = (("zone_class", 0), ("redline", 255), ("flags", 255))


def in_memory_outputs(arrays: Sequence[np.ndarray], grid: Grid) -> Outputs:
    """Whole-grid output arrays as Rasters, all three masked where the zone class is 0."""
    nodata = arrays[0] == 0
    zone, red, flags = (
        Raster(np.ma.MaskedArray(a, mask=nodata), grid, "class", n)
        for a, (n, _) in zip(arrays, OUTPUT_FILES, strict=True)
    )
    return zone, red, flags


@dataclass
class Histograms:
    """Pixel counts of the three outputs by value, filled by pass 2 (:func:`_finish_kernel`).

    ``zone`` counts every pixel of the grid by zone class (0–3); ``red`` and ``flags`` count the
    zoned pixels by red-line code and flag byte (0–255); ``aoi`` (one counter) the pixels of the
    area of interest (:meth:`count_aoi`), the denominator of the coverage.
    """

    zone: np.ndarray = field(default_factory=lambda: np.zeros(4, np.int64))
    red: np.ndarray = field(default_factory=lambda: np.zeros(256, np.int64))
    flags: np.ndarray = field(default_factory=lambda: np.zeros(256, np.int64))
    aoi: np.ndarray = field(default_factory=lambda: np.zeros(1, np.int64))

    def count_aoi(self, pre: np.ndarray) -> None:
        """Add the pixels of a window's pre codes that lie in the area of interest."""
        self.aoi[0] += np.count_nonzero(pre & np.uint16(_PRE_AOI))

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(zone, red, flags)``, the counters :func:`_finish_kernel` adds to."""
        return self.zone, self.red, self.flags

    def add(self, other: Histograms) -> None:
        """Add the counts of ``other`` (one tile's) to these."""
        self.zone += other.zone
        self.red += other.red
        self.flags += other.flags
        self.aoi += other.aoi


@dataclass(frozen=True)
class GridRecord:
    """The analysis grid: CRS (PROJ string), shape (rows, columns), pixel size and area (m²)."""

    crs: str
    shape: tuple[int, int]
    res: tuple[float, float]
    cell_area_m2: float

    def to_dict(self) -> dict[str, Any]:
        """The ``grid`` record of the summary."""
        return {
            "crs": self.crs,
            "shape": list(self.shape),
            "res": list(self.res),
            "cell_area_m2": self.cell_area_m2,
        }


@dataclass(frozen=True)
class InputRecord:
    """How one input was bound: class or mask, source type, status, role, version, notes."""

    kind: str
    source: str
    status: str
    role: str | None
    version: str | None
    notes: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """The record of this input in the summary's ``inputs``."""
        return {
            "kind": self.kind,
            "source": self.source,
            "status": self.status,
            "role": self.role,
            "version": self.version,
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class ZoneAreas:
    """Area (km²) of each zone class, of the grid's unzoned pixels, and zoned in total.

    ``nodata_in_grid`` (every unzoned pixel of the grid) splits into ``outside_aoi`` (grid
    pixels outside the area of interest) and ``nodata_in_aoi`` (in it, but without data).
    """

    priority: float
    key: float
    general: float
    nodata_in_grid: float
    zoned: float
    outside_aoi: float = 0.0
    nodata_in_aoi: float = 0.0

    def to_dict(self) -> dict[str, float]:
        """The ``area_km2`` record of the summary."""
        return {
            "priority": self.priority,
            "key": self.key,
            "general": self.general,
            "nodata_in_grid": self.nodata_in_grid,
            "outside_aoi": self.outside_aoi,
            "nodata_in_aoi": self.nodata_in_aoi,
            "zoned": self.zoned,
        }


@dataclass(frozen=True)
class RedlineCleanup:
    """What the red-line patch stage did: its limits (km²), the area removed and filled, how."""

    min_patch_km2: float
    max_hole_km2: float
    removed_km2: float
    filled_km2: float
    code_by: str
    method: str

    def to_dict(self) -> dict[str, Any]:
        """The ``redline_cleanup`` record of the summary."""
        return {
            "min_patch_km2": self.min_patch_km2,
            "max_hole_km2": self.max_hole_km2,
            "removed_km2": self.removed_km2,
            "filled_km2": self.filled_km2,
            "code_by": self.code_by,
            "method": self.method,
        }


@dataclass(frozen=True)
class ZoningSummary:
    """What a raster zoning run did and found; :meth:`to_dict` is its JSON form.

    Areas are km² on the equal-area grid. ``redline_km2`` is by red-line code (LXBM),
    ``flag_km2`` by flag bit (:data:`~geoeco.zoning.overlay.kernels.FLAG_BITS`, also in
    ``flag_bits``). ``compute`` says where each step ran and how long it took (the engine's
    own description, so its keys depend on the engine).
    """

    rule_set: dict[str, Any]
    class_tables: dict[str, str]
    grid: GridRecord
    inputs: dict[str, InputRecord]
    skipped_inputs: tuple[str, ...]
    ignored_inputs: tuple[str, ...]
    approximation_layers: tuple[str, ...]
    synthetic_layers: tuple[str, ...]
    attribute_layers: tuple[str, ...]
    area_km2: ZoneAreas
    redline_km2: dict[int, float]
    flag_km2: dict[int, float]
    flag_bits: dict[int, str]
    redline_cleanup: RedlineCleanup
    compute: dict[str, Any] = field(default_factory=dict)
    coverage: Coverage | None = None
    #: The overlay's areas when a workflow remade ``area_km2`` from merged units.
    area_km2_before_merge: ZoneAreas | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready summary (the ``zones`` record of ``summary.json`` plus ``compute``)."""
        return {
            "rule_set": self.rule_set,
            "class_tables": self.class_tables,
            "grid": self.grid.to_dict(),
            "inputs": {n: r.to_dict() for n, r in self.inputs.items()},
            "skipped_inputs": list(self.skipped_inputs),
            "ignored_inputs": list(self.ignored_inputs),
            "approximation_layers": list(self.approximation_layers),
            "synthetic_layers": list(self.synthetic_layers),
            "attribute_layers": list(self.attribute_layers),
            "area_km2": self.area_km2.to_dict(),
            "redline_km2": dict(self.redline_km2),
            "flag_km2": dict(self.flag_km2),
            "flag_bits": self.flag_bits,
            "redline_cleanup": self.redline_cleanup.to_dict(),
            "compute": self.compute,
            "coverage": None if self.coverage is None else self.coverage.summary(),
            **(
                {}
                if self.area_km2_before_merge is None
                else {"area_km2_before_merge": self.area_km2_before_merge.to_dict()}
            ),
        }


def class_inputs(plan: _Plan) -> list[str]:
    """The bound class inputs of ``plan``: those whose nodata can leave a pixel unzoned."""
    return sorted(n for n, b in plan.layers.items() if b.kind == "class")


def zone_coverage(plan: _Plan, hist: Histograms) -> Coverage:
    """The coverage from pass 2's histograms (every input's missing area 0 until measured)."""
    grid = plan.grid
    aoi_px = int(hist.aoi[0])
    return Coverage.of(
        aoi_px=aoi_px,
        analysed_px=int(hist.zone[1:].sum()),
        px_km2=grid.cell_area / 1e6,
        missing_px=dict.fromkeys(class_inputs(plan), 0),
        outside_px=grid.width * grid.height - aoi_px,
    )


_CRS_TEXT: dict[str, str] = {}


def crs_text(crs: CRS) -> str:
    """``crs.to_string()``, remembered per CRS definition (``crs.srs``, the text it was made
    from, which decides the result).

    ``to_string`` searches the PROJ database for an authority code (about 0.1–0.2 s for a
    CRS without one, such as :data:`~geoeco.core.crs.ALBERS_CHINA`), and every run on the same
    grid asks again. Safe across threads: a race computes the same text twice.

    >>> from geoeco.core.crs import ALBERS_CHINA
    >>> crs_text(ALBERS_CHINA) == ALBERS_CHINA.to_string()
    True
    """
    key = crs.srs
    text = _CRS_TEXT.get(key)
    if text is None:
        text = crs.to_string()
        if len(_CRS_TEXT) >= 64:
            _CRS_TEXT.clear()
        _CRS_TEXT[key] = text
    return text


def _summary(
    plan: _Plan, hist: Histograms, stats: Mapping[str, int], windowed: bool = False
) -> ZoningSummary:
    """The summary of a run of ``plan`` from its output histograms and patch-stage counts.

    Raises :class:`~geoeco.core.errors.EmptyArea` when no pixel could be zoned.
    """
    if hist.zone[1:].sum() == 0:
        raise EmptyArea("no pixel of the area of interest could be zoned (all nodata)")
    rs, grid = plan.rules, plan.grid
    km2 = grid.cell_area / 1e6
    _, pri, key = _stage_layers(plan)
    consulted = set(pri) | set(key)
    layers = plan.layers
    bits = np.arange(256)
    return ZoningSummary(
        rule_set=rs.describe(),
        class_tables=rs.class_tables(),
        grid=GridRecord(crs_text(grid.crs), grid.shape, grid.res, grid.cell_area),
        inputs={
            n: InputRecord(b.kind, b.source, b.status, b.role, b.version, tuple(b.notes))
            for n, b in sorted(layers.items())
        },
        skipped_inputs=tuple(plan.skipped),
        ignored_inputs=tuple(plan.ignored),
        approximation_layers=tuple(
            sorted(n for n in consulted if layers[n].status == "approximation")
        ),
        synthetic_layers=tuple(sorted(n for n in consulted if layers[n].status == "synthetic")),
        attribute_layers=tuple(
            sorted(n for n, b in layers.items() if n not in consulted and b.kind == "mask")
        ),
        area_km2=ZoneAreas(
            priority=float(hist.zone[1] * km2),
            key=float(hist.zone[2] * km2),
            general=float(hist.zone[3] * km2),
            nodata_in_grid=float(hist.zone[0] * km2),
            zoned=float(hist.zone[1:].sum() * km2),
            outside_aoi=float((grid.width * grid.height - hist.aoi[0]) * km2),
            nodata_in_aoi=float((hist.aoi[0] - hist.zone[1:].sum()) * km2),
        ),
        redline_km2={int(c): float(hist.red[c] * km2) for c in np.nonzero(hist.red)[0] if c},
        flag_km2={int(b): float(hist.flags[(bits & b) > 0].sum() * km2) for b in FLAG_BITS},
        flag_bits=FLAG_BITS,
        redline_cleanup=_cleanup(plan, stats, windowed),
        coverage=zone_coverage(plan, hist),
    )


#: Who labels the patches: the tiled engine's GIL-free labeller gives the same labels as
#: scipy.ndimage.label (tests/test_patches.py), the whole-grid path calls scipy itself.
_LABELLER = {
    True: "numba union-find per tile, equal to scipy.ndimage.label",
    False: "scipy.ndimage",
}


def _cleanup(plan: _Plan, stats: Mapping[str, int], windowed: bool) -> RedlineCleanup:
    """The ``redline_cleanup`` record: the rule set's limits, what the patch stage changed."""
    rl = plan.rules.redline
    km2 = plan.grid.cell_area / 1e6
    method = (
        f"{'tiled' if windowed else 'whole-grid'} connected components "
        f"({_LABELLER[windowed]}), "
        f"{rl.connectivity}-connected patches, {12 - rl.connectivity}-connected holes"
    )
    return RedlineCleanup(
        min_patch_km2=rl.min_patch_km2,
        max_hole_km2=rl.max_hole_km2,
        removed_km2=stats["removed_px"] * km2,
        filled_km2=stats["filled_px"] * km2,
        code_by=rl.code_by,
        method=method if plan.patch_stage else "per pixel, windowed",
    )


class _PassTwo:
    """Pass 2 into a sink: a window's outputs through the lookup tables, counted and written.

    ``nd`` is the nodata of the red line and flags where the zone is 0 (255 in files, 0 in
    memory). Two sets of output buffers alternate, as the sink writes one window while the
    next is computed.
    """

    def __init__(self, plan: _Plan, sink: _Sink, nd: int) -> None:
        self.zlut, self.flut = _finish_luts(plan)
        self.nd, self.sink = nd, sink
        self.hist = Histograms()
        self._slots: list[dict[Any, np.ndarray]] = [{}, {}]
        self._count = 0

    def __call__(self, win: Window, pre: np.ndarray, red: np.ndarray) -> None:
        """Finish, count and write window ``win`` from its pre codes and cleaned red line."""
        slot = self._slots[self._count % 2]
        self._count += 1
        zone, red_o, flags = (_buffer(slot, i, pre.shape, np.uint8) for i in range(3))
        luts = self.zlut, self.flut
        _finish_kernel(pre, red, *luts, self.nd, zone, red_o, flags, *self.hist.arrays())
        self.hist.count_aoi(pre)
        self.sink.write(win, zone, red_o, flags)
