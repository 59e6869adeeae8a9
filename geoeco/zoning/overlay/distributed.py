"""The zoning raster phase with every per-tile step on an engine's workers.

:func:`geoeco.zoning.overlay.run.compute_zones` on a cluster engine with the tiled patch stage runs
here.
The grid's windows are also the patch stage's tiles, and each step is one task per tile:

1. **pass 1**: read the inputs, condense them into pre codes and red-line reason bits, store
   them, and run sweep 1 of the patch stage (patch sizes) on the tile;
2. **sweep 2** (holes) and **sweep 3** (final patches and their code votes);
3. **pass 2**: the three outputs of the tile through the lookup tables, and their histograms;
4. **write**: one task per output file assembles its tiles into a COG.

Tasks exchange tiles through a :class:`~geoeco.core.tile_store.DirTileStore` in a scratch folder
that every worker must see (one machine, or a shared file system at the same path). Between
the sweeps only :class:`~geoeco.zoning.patches.tiled.TileEdges` records (a few kB per tile) travel
to
this process, which joins them into grid-wide components (:class:`~geoeco.zoning.patches.tiled.
TiledRedline`) and sends each tile the decisions of its edge labels. The per-tile code is the
same as the local engine's and the joins consume tiles in order, so the results are identical.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from geoeco.core.engine import Engine
from geoeco.core.tile_store import DirTileStore
from geoeco.core.tile_writes import OutputFile, write_from_tiles
from geoeco.zoning.patches.join import BorderValues, TileEdges
from geoeco.zoning.patches.tiled import TiledRedline, TileOps

from .inputs import Window, _Plan
from .kernels import _PRE_AOI, _finish_kernel
from .outputs import OUTPUT_FILES, Histograms, Outputs, in_memory_outputs
from .pass1 import _pass_one_window, _PassOneSpec
from .redline import _pixel_red, _plan_redline

#: Default tile size of one task (pixels a side). Measured at 250 m on a 65-Mpx stack
#: (bench/bench_zoning.py): 2 workers vs 1 gave 1.33-1.41x on the compute phase with 1024²
#: tiles (256 short tasks: the driver's scheduling and joins weigh) and 1.68x with 2048²
#: (peak RSS per worker 650 MB instead of 550 MB).
TASK_PX = 2048

#: Tasks in flight per worker thread: the tasks here are short (tens of ms) and return a few
#: kB (their tiles go to the store), so more of them ahead hides the round trip to the driver.
AHEAD = 6


@dataclass(frozen=True)
class _ZoneTasks:
    """Everything a zoning task needs (shipped to each worker once)."""

    pass1: _PassOneSpec
    ops: TileOps | None  # None: no patch stage (per-pixel codes)
    store: DirTileStore
    zlut: np.ndarray
    flut: np.ndarray
    nd: int
    to_files: bool  # pass 2 stores its output tiles (for the write tasks) instead of returning

    @property
    def plan(self) -> _Plan:
        return self.pass1.plan


def _task_pass1(spec: _ZoneTasks, item: tuple[int, Window]) -> TileEdges | None:
    """Pass 1 of a tile, stored; sweep 1 of the patch stage on it."""
    t, win = item
    pre, bits = _pass_one_window(spec.pass1, win)
    spec.store.put("pre", t, pre)
    spec.store.put("bits", t, bits)
    if spec.ops is None:
        return None
    if spec.plan.aoi is not None:
        spec.store.put("barrier", t, (pre & _PRE_AOI) == 0)
    return spec.ops.sweep1(spec.store, t)


def _task_pass2(
    spec: _ZoneTasks, item: tuple[int, Window, BorderValues]
) -> tuple[Histograms, tuple[np.ndarray, np.ndarray, np.ndarray] | None]:
    """The histograms of a tile's outputs, and the outputs unless they are stored for the
    write tasks."""
    t, _win, codes = item
    store = spec.store
    pre = store.get("pre", t)
    if pre is None:
        raise KeyError(f"tile {t}: pass 1 has not run")
    if spec.ops is not None:
        red = spec.ops.red(store, t, codes)
    else:
        bits = store.get("bits", t)
        assert bits is not None
        red = _pixel_red(spec.plan, bits)
    zone, red_o, flags = (np.empty(pre.shape, np.uint8) for _ in range(3))
    h = Histograms()
    _finish_kernel(pre, red, spec.zlut, spec.flut, spec.nd, zone, red_o, flags, *h.arrays())
    if not spec.to_files:
        return h, (zone, red_o, flags)
    for (name, _), a in zip(OUTPUT_FILES, (zone, red_o, flags), strict=True):
        store.put("out_" + name, t, a)
    return h, None


def _sweeps_on(eng: Engine) -> Callable[[Callable[[Any], Any], Iterable[Any]], Iterator[Any]]:
    """A :data:`~geoeco.zoning.patches.tiled.Mapper` running each sweep's tiles on ``eng``."""

    def run(fn: Callable[[Any], Any], items: Iterable[Any]) -> Iterator[Any]:
        tasks = ((fn, i) for i in items)
        return (r for _, r in eng.map_windows(_run_item, tasks, None, ahead=AHEAD))

    return run


@dataclass(frozen=True)
class DistributedRun:
    """What :func:`compute_distributed` gives back: the three outputs, their histograms, the
    patch-stage counts (``removed_px``, ``filled_px``) and the ``compute`` timings (s)."""

    outputs: Outputs
    hist: Histograms
    stats: dict[str, int]
    timings: dict[str, float]


def compute_distributed(
    plan: _Plan,
    windows: list[Window],
    block_size: int,
    eng: Engine,
    pass1: _PassOneSpec,
    luts: tuple[np.ndarray, np.ndarray],
    *,
    nd: int,
    out_dir: str | Path | None,
    scratch_dir: str | Path | None,
) -> DistributedRun:
    """Run the whole raster phase on ``eng``, tile by tile (see the module docstring).

    ``windows`` are the tiles (``block_size`` a side), ``luts`` pass 2's lookup tables and ``nd``
    the red line's and flags' value where the zone is 0. The outputs are COGs in ``out_dir``, or
    Rasters; the tiles travel through a temporary folder in ``scratch_dir`` (else ``out_dir``).
    """
    t0 = time.perf_counter()
    scratch = scratch_dir or out_dir
    if scratch is not None:
        Path(scratch).mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="geoeco-zones-", dir=scratch) as tmp:
        store = DirTileStore(tmp)
        tiled = _plan_redline(plan, block_size, store) if plan.patch_stage else None
        ops = None if tiled is None else tiled.ops
        spec = _ZoneTasks(pass1, ops, store, luts[0], luts[1], nd, out_dir is not None)
        _pass_one(eng, spec, windows, tiled)
        t1 = time.perf_counter()
        stats = {"removed_px": 0, "filled_px": 0}
        if tiled is not None:
            tiled.finish(_sweeps_on(eng))
            stats = dict(tiled.stats)
        t2 = time.perf_counter()
        hist, arrays = _pass_two(eng, spec, windows, tiled)
        t3 = time.perf_counter()
        if out_dir is not None:
            outputs = _write_outputs(eng, plan, windows, store, Path(out_dir))
        else:
            assert arrays is not None  # pass 2 assembles the outputs when there are no files
            outputs = in_memory_outputs(arrays, plan.grid)
        t4 = time.perf_counter()
    timings = {
        "pass1_s": round(t1 - t0, 3),
        "patch_sweeps_s": round(t2 - t1, 3),
        "pass2_s": round(t3 - t2, 3),
        "compute_s": round(t3 - t0, 3),
        "write_s": round(t4 - t3, 3),
    }
    return DistributedRun(outputs, hist, stats, timings)


def _pass_one(
    eng: Engine, spec: _ZoneTasks, windows: list[Window], tiled: TiledRedline | None
) -> None:
    """Pass 1 and sweep 1 of every tile on ``eng``; their edge records joined here in order."""
    items = list(enumerate(windows))
    for t, (_, edges) in enumerate(eng.map_windows(_task_pass1, items, spec, ahead=AHEAD)):
        if tiled is not None:
            tiled.add_edges(t, edges)


def _pass_two(
    eng: Engine, spec: _ZoneTasks, windows: list[Window], tiled: TiledRedline | None
) -> tuple[Histograms, list[np.ndarray] | None]:
    """Pass 2 of every tile on ``eng``: the histograms summed here and, when no files are
    written, the outputs assembled on the whole grid."""
    hist = Histograms()
    grid = spec.plan.grid
    arrays = None if spec.to_files else [np.zeros(grid.shape, np.uint8) for _ in OUTPUT_FILES]
    items = ((t, w, None if tiled is None else tiled.code_values(t)) for t, w in enumerate(windows))
    ahead = AHEAD if spec.to_files else None
    for (t, _w, _c), (h, out) in eng.map_windows(_task_pass2, items, spec, ahead=ahead):
        hist.add(h)
        if arrays is not None and out is not None:
            r, c, rows, cols = windows[t]
            for arr, a in zip(arrays, out, strict=True):
                arr[r : r + rows, c : c + cols] = a
    return hist, arrays


def _write_outputs(
    eng: Engine, plan: _Plan, windows: list[Window], store: DirTileStore, out_dir: Path
) -> Outputs:
    """One task per output COG on ``eng``, assembling its stored tiles; the COG paths."""
    rs = plan.rules
    tags = {"rule_set": rs.name, "rule_set_sha256": rs.sha256()}
    files = [
        OutputFile(
            "out_" + n,
            str(out_dir / f"{n}.tif"),
            plan.grid,
            tuple(windows),
            {"dtype": "uint8", "nodata": v, "units": "class", "band_names": [n], "tags": tags},
        )
        for n, v in OUTPUT_FILES
    ]
    list(eng.map_windows(write_from_tiles, files, store, ordered=False))
    zone, red, flags = (Path(f.path) for f in files)
    return zone, red, flags


def _run_item(_spec: None, item: tuple[Any, ...]) -> Any:
    """Sweeps 2 and 3: ``item`` is ``(function, *arguments)`` (see TiledRedline.finish)."""
    fn, arg = item
    return fn(arg)


__all__ = ["TASK_PX", "DistributedRun", "compute_distributed"]
