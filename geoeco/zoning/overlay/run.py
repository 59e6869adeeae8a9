"""The zoning overlay engine: rule set + aligned inputs → zone class, red line and flag rasters.

Raster mode (:func:`compute_zones`) works on one equal-area grid (normally
:data:`geoeco.core.crs.ALBERS_CHINA`; any projected grid is accepted and its planar areas used).
Inputs are given per rule-set input name, each as

* a :class:`~geoeco.core.raster.Raster` already on the grid,
* a reader: an object with ``read(window) -> MaskedArray`` (e.g. what
  :func:`geoeco.core.align.aligned_source` yields) or a plain callable ``f(window)``,
* a GeoDataFrame of polygons (class inputs name their class ``column``), rasterised per window
  at pixel centres (``rasterio.features.rasterize``, ``all_touched=False``),

optionally wrapped in :class:`LayerInput` to state the layer's ``status`` (``real``,
``user``, ``approximation``, ``synthetic``) and ``role``. Layers passed under names the rule
set does not declare join the red line if their role is in ``redline.protected.roles`` and key
control if it is in ``key.roles``.

**Everything is validated before any pixel is read** (:func:`prepare`): unknown or missing
inputs (:class:`~geoeco.core.errors.LayerNotFound`), grids that do not match
(:class:`~geoeco.core.errors.GridMismatch`), an empty area of interest or class layers that do not
overlap the grid (:class:`~geoeco.core.errors.EmptyArea`), vectors without CRS or class column.

Windows and memory. The grid is processed block by block (:meth:`Grid.blocks`); inputs are read
one window at a time, so memory follows the window size, except for two things:

* the **red-line patch stage** (minimum patch area, hole filling, dominant code per patch) needs
  whole patches, which cross window edges. geoeco does not approximate this with overlapping
  windows. Pass 1 reads every input once, window by window (a worker thread reads the next
  window while one is computed), and condenses it into a per-pixel reason bitmask (uint16)
  and a uint16 "pre" code holding everything else the classes and flags need (one numba pass
  over the window's uint8 inputs: each input's code looks up its contribution in a table, the
  contributions are OR-ed and decoded; inputs of other types take a plain numpy path with the
  same result); patches are labelled on the bitmask (``scipy.ndimage.label``, 8-connected
  patches, 4-connected holes); pass 2 turns pre code + cleaned red line into the outputs and
  their histograms with lookup tables in one numba pass, reading no input again. Small grids
  (up to :data:`WHOLE_GRID_PATCH_PIXELS`) keep both in memory and label the whole grid
  (about 14 bytes per pixel). Larger grids use exact **windowed
  connected components** (:func:`geoeco.zoning.patches.tiled.tiled_redline`): bitmask and pre code
  are
  spooled block by block to an anonymous temporary file in ``scratch_dir`` (with the blocks'
  labels, about 10 bytes per pixel on disk at most, deleted at the end), each block is
  labelled on its own, and labels facing each other across block edges are joined as graph
  components; three sweeps resolve patch sizes (run on each block as pass 1 produces it),
  holes and dominant codes. Memory is a few block-sized arrays plus a few numbers per patch
  touching a block edge, independent of the grid size, and results are identical to the
  whole-grid labelling. ``max_patch_pixels``
  (default 4 billion) only bounds the spool and the run time
  (:class:`~geoeco.core.errors.OversizeRequest`). With ``min_patch_km2 = max_hole_km2 = 0`` and
  ``code_by = "pixel"`` the engine is single-pass.
* results returned in memory are whole-grid arrays; give ``out_dir`` to stream them into COGs
  through :func:`geoeco.core.io.open_raster_writer` instead.

Engines. On a cluster engine (``engine="dask"`` or any :class:`~geoeco.core.engine.Engine`)
with the tiled patch stage (or rules without one), every step is a task per tile
(:mod:`geoeco.zoning.overlay.distributed`): pass 1 with sweep 1, sweeps 2 and 3, pass 2, then
one task per output COG; only the joins of the tiles' edge records run here. With the
whole-grid patch stage (small grids) only pass 1 runs there, and the driver consumes its
results in window order. Each task reads its inputs itself, so every input (and a reader AOI)
must be a picklable reader that opens its file in the worker, or a GeoDataFrame; with an
in-memory Raster or an unpicklable reader/closure everything runs locally and
``summary.compute["note"]`` says why. The results are identical whichever engine ran.

Outputs (uint8):

* ``zone_class``: 1 priority protection, 2 key control, 3 general control, 0 nodata (outside the
  AOI, or a stage undecided because an input is nodata there);
* ``redline``: LXBM type code 11–25, 0 = not red line (see :mod:`geoeco.zoning.rules`);
* ``flags`` bitmask: **1** the class depends on an ``approximation`` layer, **2** on a
  ``synthetic`` layer, **4** inside the Three-North programme area, **8** battle ``ji_bend``,
  **16** battle ``horqin_hunshandake``, **32** battle ``hexi_taklimakan``.

  "Depends on": a class decided by positive evidence (priority or key criteria that are true)
  depends on the *most reliable* layer that is true there (a real layer that already decides
  the class makes an approximate one irrelevant); a class decided by negative evidence (key:
  no priority criterion true; general: nothing true) depends on *every* layer consulted. A
  red-line pixel that is there only because a hole was filled depends on every red-line layer.

In files, ``zone_class`` has nodata 0 and ``redline`` and ``flags`` have nodata 255 where
``zone_class`` is 0. In memory, all three are masked where ``zone_class`` is 0.

The exact vector mode (:func:`~geoeco.zoning.overlay.vector.compute_zones_vector`) lives in
:mod:`geoeco.zoning.overlay.vector` and the patch clean-up
(:func:`~geoeco.zoning.patches.grid.clean_patches`,
:func:`~geoeco.zoning.patches.grid.patch_codes`) in :mod:`geoeco.zoning.patches.grid`.

Examples
--------
>>> from geoeco.zoning.overlay.inputs import LayerInput
>>> import numpy as np
>>> from affine import Affine
>>> from geoeco.core.crs import ALBERS_CHINA
>>> from geoeco.zoning.rules import parse_rule_set
>>> rs = parse_rule_set({"name": "tiny", "version": "1", "title_en": "tiny",
...     "inputs": {"imp": {"table": "CumShare(0.5,0.8)"}, "ero": {"table": "SL190-2007/water"}},
...     "redline": {"reasons": [{"input": "imp", "min_class": 3, "code": 11}]},
...     "key": {"criteria": [{"input": "ero", "min_class": 3}]}})
>>> g = Grid(Affine(1000, 0, 0, 0, -1000, 4_000_000), 3, 1, ALBERS_CHINA)
>>> imp = Raster.from_array(np.array([[3, 1, 1]], "uint8"), g, nodata=0)
>>> ero = Raster.from_array(np.array([[1, 4, 1]], "uint8"), g, nodata=0)
>>> res = compute_zones(rs, {"imp": imp, "ero": LayerInput(ero, status="approximation")}, g)
>>> res.zone_class.array.tolist(), res.redline.array.tolist(), res.flags.array.tolist()
([[1, 2, 3]], [[11, 0, 0]], [[0, 1, 1]])
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np

from geoeco.core.engine import Engine, check_engine, using_engine
from geoeco.core.errors import CRSError, InvalidInput, OversizeRequest
from geoeco.core.raster import Grid, Raster
from geoeco.core.tile_store import MemoryTileStore, SpoolTileStore, TileStore
from geoeco.zoning.rules import MaskInput, RuleSet, load_rule_set

from .coverage import with_missing_inputs
from .inputs import (
    Window,
    _aoi_geometry,
    _as_layer_input,
    _bind,
    _Bound,
    _Plan,
    _used_inputs,
)
from .kernels import (
    _PRE_AOI,
    _finish_kernel,
    _finish_luts,
    _pre_kernel,
    _pre_tables,
)
from .outputs import ZoningSummary, _PassTwo, _Sink, _summary
from .pass1 import (
    _pass_one_runner,
    _pass_one_window,
    _PassOneSpec,
    _pre,
    _pre_fast,
    _read_all,
    _Stacked,
)
from .redline import _pixel_red, _plan_redline, _TiledRed, _whole_grid_red, _WholeRed

NODATA_REDLINE_FLAGS = 255
DEFAULT_MAX_PATCH_PIXELS = 4_000_000_000
#: Grids up to this many pixels run the patch stage on the whole grid in memory (~14 B/pixel).
WHOLE_GRID_PATCH_PIXELS = 4_194_304
#: Threads of sweeps 2 and 3 of the tiled patch stage on the local engine (tiles side by side).
SWEEP_THREADS = min(4, os.cpu_count() or 1)


@dataclass(frozen=True)
class ZoningResult:
    """Outputs of :func:`compute_zones`: Rasters (or COG paths when ``out_dir`` is given)."""

    zone_class: Raster | Path
    redline: Raster | Path
    flags: Raster | Path
    summary: ZoningSummary


def prepare(
    rules: RuleSet | str,
    layers: Mapping[str, Any],
    grid: Grid,
    *,
    aoi: Any = None,
    max_patch_pixels: int = DEFAULT_MAX_PATCH_PIXELS,
) -> _Plan:
    """Validate a rule set against its inputs, grid and AOI without reading any pixel.

    Raises :class:`LayerNotFound` (a required input is missing), :class:`GridMismatch`,
    :class:`EmptyArea` (empty AOI, class layer outside the grid), :class:`CRSError`,
    :class:`InvalidInput` or :class:`OversizeRequest` (patch stage above ``max_patch_pixels``).
    """
    rs = load_rule_set(rules)
    if not grid.crs.is_projected:
        raise CRSError("the overlay grid must be projected (equal-area, e.g. ALBERS_CHINA)")
    aoi_geom = _aoi_geometry(aoi, grid)
    used = _used_inputs(rs, layers)
    bound: dict[str, _Bound] = {}
    skipped: list[str] = []
    for n in sorted(used):
        if n in layers:
            bound[n] = _bind(n, _as_layer_input(layers[n]), rs.inputs[n], grid)
        else:
            skipped.append(n)
    protected, development, ignored = [], [], []
    for n in sorted(set(layers) - set(rs.inputs)):
        li = _as_layer_input(layers[n])
        if li.role in rs.redline.protected.roles:
            protected.append(n)
        elif li.role in rs.key.roles:
            development.append(n)
        else:
            ignored.append(n)
            continue
        bound[n] = _bind(n, li, MaskInput(), grid)
    ignored += sorted(n for n in set(layers) & set(rs.inputs) if n not in used)
    rl = rs.redline
    patch_stage = rl.min_patch_km2 > 0 or rl.max_hole_km2 > 0 or rl.code_by == "patch"
    if patch_stage and grid.width * grid.height > max_patch_pixels:
        raise OversizeRequest(
            f"the red-line patch stage spools up to 10 bytes per pixel to disk and sweeps the "
            f"grid four times; {grid.width}x{grid.height} pixels exceed the limit of "
            f"{max_patch_pixels}. Use a coarser grid, a smaller AOI, or min_patch_km2 = "
            "max_hole_km2 = 0 with code_by = 'pixel'"
        )
    return _Plan(
        rules=rs,
        grid=grid,
        layers=bound,
        aoi=aoi_geom,
        protected=[n for n in rl.protected.inputs if n in bound] + protected,
        development=[n for n in rs.key.masks if n in bound] + development,
        skipped=skipped,
        ignored=ignored,
        patch_stage=patch_stage,
        min_patch_px=rl.min_patch_km2 * 1e6 / grid.cell_area,
        max_hole_px=rl.max_hole_km2 * 1e6 / grid.cell_area,
    )


def _pre_windows(
    plan: _Plan, windows: list[Window], *, kernel: bool = True, engine: Engine | None = None
) -> Iterator[tuple[int, Window, np.ndarray, np.ndarray]]:
    """``(t, window, pre, bits)`` of every window; a worker thread reads window t + 1 while
    window t is computed (one reader at a time, so readers need not be thread-safe).

    ``kernel``: use :func:`_pre_kernel` where every input is uint8 (or a vector), else
    :func:`_pre` (plain numpy, the reference). ``engine``: run :func:`_pass_one_window` there
    instead (results still come in window order)."""
    from concurrent.futures import Future, ThreadPoolExecutor

    tables = _pre_tables(plan) if kernel else None
    if engine is not None:
        spec = _PassOneSpec(plan, tables)
        for t, (win, (pre, bits)) in enumerate(engine.map_windows(_pass_one_window, windows, spec)):
            yield t, win, pre, bits
        return
    if not windows:
        return
    slots: list[dict[Any, np.ndarray]] = [{}, {}]  # window t stacks into slots[t % 2]
    with ThreadPoolExecutor(1, thread_name_prefix="geoeco-read") as pool:

        def read(t: int) -> Future[tuple[dict[str, Any], _Stacked | None]]:
            return pool.submit(_read_all, plan, windows[t], tables, slots[t % 2])

        nxt = read(0)
        for t, win in enumerate(windows):
            reads, stacked = nxt.result()
            if t + 1 < len(windows):
                nxt = read(t + 1)
            try:
                if stacked is not None and tables is not None:
                    yield (t, win, *_pre_fast(plan, tables, win, reads, stacked))
                else:
                    yield (t, win, *_pre(plan, win, reads))
            except BaseException:
                nxt.cancel()  # the next window's read (a no-op once it is done)
                raise


def warm_up() -> None:
    """Load the raster engine's numba kernels now (from numba's on-disk cache, compiling them
    the first time), so that the first :func:`compute_zones` does not pay for it (about 0.3 s
    from the cache), and look up the text of :data:`~geoeco.core.crs.ALBERS_CHINA` for the
    summary (:func:`~geoeco.zoning.overlay.outputs.crs_text`, a PROJ database search of about
    0.15 s, once per process). Services call this at start-up.

    >>> warm_up()
    """
    from geoeco.core.crs import ALBERS_CHINA
    from geoeco.zoning.patches.label import label_tile
    from geoeco.zoning.patches.relabel import final_labels

    from .outputs import crs_text

    crs_text(ALBERS_CHINA)
    from geoeco.zoning.patches.tiled import label_sizes, label_votes

    u8, u16 = np.zeros((1, 1), np.uint8), np.zeros((1, 1), np.uint16)
    lut = np.zeros(1 << 15, np.uint8)
    px = np.zeros(256, np.int64)
    _pre_kernel(
        np.zeros((1, 1, 1), np.uint8),
        np.zeros((1, 1, 1), bool),
        np.zeros(1, bool),
        np.zeros((1, 256), np.uint32),
        np.ones((1, 1), bool),
        False,
        np.zeros(1 << 15, np.uint16),
        u16.copy(),
        u16.copy(),
    )
    _finish_kernel(u16, u8, lut, lut, 0, u8.copy(), u8.copy(), u8.copy(), px, px.copy(), px.copy())
    lab = np.zeros((1, 1), np.int32)
    label_sizes(lab, 0)
    label_votes(lab, u16, 0, np.zeros(1, np.int64), np.zeros(1, np.int64), 1)
    no = np.zeros(1, bool)
    final_labels(u16, no, u16, no)  # tiles' labels are uint16 below 65,536 patches
    label_tile(np.ones((1, 1), bool), 8)


def compute_zones(
    rules: RuleSet | str,
    layers: Mapping[str, Any],
    grid: Grid,
    *,
    aoi: Any = None,
    block_size: int = 1024,
    out_dir: str | Path | None = None,
    max_patch_pixels: int = DEFAULT_MAX_PATCH_PIXELS,
    patch_mode: Literal["auto", "whole", "windowed"] = "auto",
    scratch_dir: str | Path | None = None,
    engine: Engine | str | None = None,
    task_px: int | None = None,
) -> ZoningResult:
    """Zone ``grid`` with ``rules`` (a :class:`RuleSet` or built-in name) from ``layers``.

    Parameters
    ----------
    rules : RuleSet or str
    layers : mapping of input name → Raster, reader, callable or GeoDataFrame or LayerInput
    grid : Grid
        The equal-area analysis grid every raster input is aligned to.
    aoi : AOI, shapely geometry (grid CRS), GeoDataFrame, or boolean mask Raster, optional
        Pixels whose centre is outside are nodata (0). Default: the whole grid.
    block_size : int
        Window size for reading and writing, and tile size of the windowed patch stage.
    out_dir : path, optional
        Write ``zone_class.tif``, ``redline.tif`` and ``flags.tif`` (COGs) there instead of
        returning in-memory Rasters.
    max_patch_pixels : int
        Size limit of the red-line patch stage (see the module docstring).
    patch_mode : {"auto", "whole", "windowed"}
        The patch stage on the whole grid in memory, or tile by tile with the per-pixel state
        spooled to a temporary file; ``auto``: whole grid up to :data:`WHOLE_GRID_PATCH_PIXELS`
        pixels, windowed above. Both give identical results.
    scratch_dir : path, optional
        Folder of the windowed patch stage's temporary spool file (up to about 10 bytes per
        pixel, deleted at the end). Default: ``out_dir``, else the system's temporary folder.
        On a cluster engine the per-tile files go there, so every worker must see it.
    engine : Engine or {"local", "dask"}, optional
        Where the per-window work runs (:mod:`geoeco.core.engine`; default local), see
        "Engines" in the module docstring. An engine made here from a name is closed here.
    task_px : int, optional
        Tile size (pixels a side) of one task on a cluster engine; default ``max(block_size,
        2048)`` (:data:`geoeco.zoning.overlay.distributed.TASK_PX`). Larger tiles: fewer tasks
        and less overhead per pixel; smaller ones: less memory per worker.

    Returns
    -------
    ZoningResult
        The three outputs and their :class:`~geoeco.zoning.overlay.outputs.ZoningSummary`
        (``summary.to_dict()`` is its JSON form).
    """
    plan = prepare(rules, layers, grid, aoi=aoi, max_patch_pixels=max_patch_pixels)
    windowed = _windowed(plan, patch_mode)
    nd = NODATA_REDLINE_FLAGS if out_dir is not None else 0
    windows = list(grid.blocks(block_size))
    check_engine(engine)
    t0 = time.perf_counter()
    with contextlib.ExitStack() as stack:
        eng = stack.enter_context(using_engine(engine))
        runner, compute = _pass_one_runner(plan, eng)
        compute.update(windows=len(windows), window_px=block_size)
        if runner is not None and (windowed or not plan.patch_stage):
            tile = _task_tile(block_size, task_px)
            return _zones_distributed(plan, tile, runner, compute, nd, out_dir, scratch_dir)
        pass2 = _PassTwo(plan, _Sink(grid, out_dir, stack, plan), nd)
        if not plan.patch_stage:
            stats = _zones_per_pixel(plan, windows, runner, pass2)
        elif windowed:
            stats = _zones_tiled(
                plan, windows, block_size, runner, pass2, stack, out_dir, scratch_dir
            )
        else:
            stats = _zones_whole(plan, windows, runner, pass2)
        outputs = pass2.sink.finish()
        t1 = time.perf_counter()
    summary = with_missing_inputs(plan, _summary(plan, pass2.hist, stats, windowed), *outputs[:1])
    compute.update(compute_s=round(t1 - t0, 3), write_s=round(time.perf_counter() - t1, 3))
    return ZoningResult(*outputs, summary=replace(summary, compute=compute))


def _windowed(plan: _Plan, patch_mode: str) -> bool:
    """Whether the red-line patch stage of ``plan`` runs tile by tile (``patch_mode``, checked)."""
    if patch_mode not in ("auto", "whole", "windowed"):
        raise InvalidInput(f"patch_mode must be auto, whole or windowed, got {patch_mode!r}")
    grid = plan.grid
    return plan.patch_stage and (
        patch_mode == "windowed"
        or (patch_mode == "auto" and grid.width * grid.height > WHOLE_GRID_PATCH_PIXELS)
    )


def _task_tile(block_size: int, task_px: int | None) -> int:
    """Pixels a side of one task's tile on a cluster engine (``task_px``, checked, or the
    default)."""
    from .distributed import TASK_PX

    tile = max(block_size, TASK_PX) if task_px is None else int(task_px)
    if tile < 1:
        raise InvalidInput(f"task_px must be a positive number of pixels, got {task_px}")
    return tile


def _zones_per_pixel(
    plan: _Plan, windows: list[Window], engine: Engine | None, pass2: _PassTwo
) -> dict[str, int]:
    """Single pass: each window's red line coded per pixel, finished as pass 1 yields it."""
    for _, win, pre, bits in _pre_windows(plan, windows, engine=engine):
        pass2(win, pre, _pixel_red(plan, bits))
    return {"removed_px": 0, "filled_px": 0}


def _zones_whole(
    plan: _Plan, windows: list[Window], engine: Engine | None, pass2: _PassTwo
) -> dict[str, int]:
    """Pass 1, the patch stage on the whole grid in memory, pass 2; the patch-stage counts."""
    store = MemoryTileStore()
    red_of = _patch_stage_whole(plan, windows, store, engine)
    _finish_windows(windows, store, red_of, pass2)
    return red_of.stats


def _zones_tiled(
    plan: _Plan,
    windows: list[Window],
    block_size: int,
    engine: Engine | None,
    pass2: _PassTwo,
    stack: contextlib.ExitStack,
    out_dir: str | Path | None,
    scratch_dir: str | Path | None,
) -> dict[str, int]:
    """Pass 1 spooled to a temporary file (closed with ``stack``), the tiled patch stage,
    pass 2; the patch-stage counts."""
    if out_dir is not None:
        Path(out_dir).mkdir(parents=True, exist_ok=True)
    store = stack.enter_context(SpoolTileStore(scratch_dir or out_dir))
    red_of = _patch_stage_tiled(plan, windows, block_size, store, engine)
    _finish_windows(windows, store, red_of, pass2)
    return red_of.stats


def _finish_windows(
    windows: list[Window], store: TileStore, red_of: _WholeRed | _TiledRed, pass2: _PassTwo
) -> None:
    """Pass 2 of every window from its stored pre codes and its part of the cleaned red line."""
    for t, win in enumerate(windows):
        pre = store.get("pre", t)
        if pre is None:
            raise KeyError(f"window {t}: pass 1 has not stored its pre codes")
        pass2(win, pre, red_of(win))


def _zones_distributed(
    plan: _Plan,
    tile: int,
    eng: Engine,
    compute: dict[str, Any],
    nd: int,
    out_dir: str | Path | None,
    scratch_dir: str | Path | None,
) -> ZoningResult:
    """Every step on ``eng``, tile by tile (:mod:`geoeco.zoning.overlay.distributed`)."""
    from .distributed import compute_distributed

    tiles = list(plan.grid.blocks(tile))
    compute.update(windows=len(tiles), window_px=tile)
    spec = _PassOneSpec(plan, _pre_tables(plan))
    run = compute_distributed(
        plan,
        tiles,
        tile,
        eng,
        spec,
        _finish_luts(plan),
        nd=nd,
        out_dir=out_dir,
        scratch_dir=scratch_dir,
    )
    summary = _summary(plan, run.hist, run.stats, plan.patch_stage)
    summary = with_missing_inputs(plan, summary, run.outputs[0])
    compute.update(patches=eng.name if plan.patch_stage else "none", pass2=eng.name, **run.timings)
    return ZoningResult(*run.outputs, summary=replace(summary, compute=compute))


def _patch_stage_whole(
    plan: _Plan, windows: list[Window], store: TileStore, engine: Engine | None = None
) -> _WholeRed:
    """Pass 1 keeping the reason bits of the whole grid in memory (about 12 bytes/pixel)."""
    bits = np.zeros(plan.grid.shape, np.uint16)
    outside = np.zeros(plan.grid.shape, bool)
    for t, win, pre, b in _pre_windows(plan, windows, engine=engine):
        store.put("pre", t, pre)
        sl = (slice(win[0], win[0] + win[2]), slice(win[1], win[1] + win[3]))
        bits[sl] = b
        outside[sl] = (pre & _PRE_AOI) == 0
    return _WholeRed(*_whole_grid_red(plan, bits, outside))


def _patch_stage_tiled(
    plan: _Plan,
    windows: list[Window],
    block_size: int,
    store: TileStore,
    engine: Engine | None = None,
) -> _TiledRed:
    """Pass 1 spooling the pre codes and reason bits (sweep 1 of the patch stage runs on each
    tile as it comes), then the rest of the tiled patch stage."""
    tiled = _plan_redline(plan, block_size, store)
    for t, _, pre, bits in _pre_windows(plan, windows, engine=engine):
        store.put("pre", t, pre)
        tiled.add_tile(t, bits, None if plan.aoi is None else (pre & _PRE_AOI) == 0)
    return _TiledRed(tiled.finish(threads=SWEEP_THREADS))


__all__ = [
    "ZoningResult",
    "compute_zones",
    "prepare",
]
