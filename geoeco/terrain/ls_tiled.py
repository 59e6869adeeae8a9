"""LS factor and flow accumulation of a large DEM, routed one tile of whole basins at a time.

:func:`ls_factor_tiled` takes a DEM file and a tiling (:class:`geoeco.terrain.basins.BasinTiles`,
derived from the DEM when not given) and, for every tile:

1. reads the tile's window of the DEM (basins + halo);
2. routes the whole window with two restrictions (:func:`geoeco.terrain.routing.route`): the
   depression filling starts only from the DEM's own outlets in the window (the DEM border
   and cells next to nodata; the window's cut edge is no way out), and only the tile's own
   pixels are routed — the other pixels keep their filled elevation, so they still shape the
   flow directions and the 3x3 slope of their neighbours, but pass no flow on;
3. computes LS, L, S, slope and flow accumulation (:func:`geoeco.terrain.ls.ls_factor`) and keeps
   them for the tile's own pixels only.

Every pixel belongs to exactly one tile, so the tiles are finally mosaicked block by block
into one COG per output. Memory is that of the largest tile window, not of the DEM.

When are the results exactly those of the whole-DEM run?
--------------------------------------------------------
When every tile is closed under the flow: no cell of a tile drains (D8: its receiver; MFD:
any strictly lower neighbour) into another tile in the whole-DEM run. Then the filled
elevations of the tile's cells are the same (the lowest way out of a cell leads along its
own flow path, inside the tile; the window has no extra outlets), so are the directions and
the accumulation. The slope of a cell next to another tile uses that tile's filled
elevations in the window, which are at least those of the whole run and equal to them
unless that cell lies in a depression whose way out leaves the window. Flats whose fill
is reached from both sides of a divide may take other (equally valid) directions.
Basins from a coarsened DEM follow the fine divides only approximately; the differences
near divides are measured in ``tests/test_basins.py``.

Examples
--------
>>> import tempfile, pathlib
>>> from affine import Affine
>>> from geoeco.core.io import read_raster, write_raster
>>> from geoeco.core.raster import Grid, Raster
>>> z = np.array([1.0, 2, 3, 3, 2, 1]) + 0.1 * np.arange(3)[::-1, None]  # ridge, tilt south
>>> g = Grid(Affine(10, 0, 0, 0, -10, 30), 6, 3, "EPSG:32650")
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> _ = write_raster(Raster.from_array(z, g, units="m"), d / "dem.tif")
>>> res = ls_factor_tiled(
...     d / "dem.tif", d / "out", factor=1, min_area_km2=0, budget_pixels=12, halo=1
... )
>>> res.tiles_routed, sorted(res.paths)  # one tile per side of the ridge
(2, ['flow_acc', 'l', 'ls', 's', 'slope'])
>>> read_raster(res.paths["flow_acc"]).array[-1].tolist()
[9.0, 2.0, 1.0, 1.0, 2.0, 9.0]
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from geoeco.core.errors import CRSError, EmptyArea, InvalidInput
from geoeco.core.io import open_raster_writer, raster_info, read_raster, write_raster
from geoeco.core.raster import Grid, Raster

from .basins import (
    DEFAULT_COARSE_PIXELS,
    DEFAULT_HALO,
    DEFAULT_TILE_PIXELS,
    BasinTiles,
    Tile,
    basins_from_layer,
    derive_basins,
)
from .ls import DEFAULT_CUTOFF, DEFAULT_LS_METHOD, LSOptions, Method, MMode, ls_from_options
from .routing import MAX_ROUTING_PIXELS, RoutingMethod

__all__ = ["OUTPUTS", "TiledLSResult", "ls_factor_tiled", "window_outlets"]

#: Outputs :func:`ls_factor_tiled` can write: name -> (dtype, units).
OUTPUTS: dict[str, tuple[str, str]] = {
    "ls": ("float32", "1"),
    "l": ("float32", "1"),
    "s": ("float32", "1"),
    "slope": ("float32", "degree"),
    "flow_acc": ("float64", "cells"),
}
_MOSAIC_BLOCK = 1024
Progress = Callable[[str, float], None]


@dataclass(frozen=True)
class TiledLSResult:
    """What :func:`ls_factor_tiled` wrote.

    Attributes
    ----------
    paths : dict
        Output name (``ls``, ``l``, ``s``, ``slope``, ``flow_acc``) -> COG path.
    params : dict
        :attr:`geoeco.terrain.ls.LSResult.params` plus a ``tiling`` entry (JSON-serialisable).
    plan : BasinTiles
        The tiling used.
    tiles_routed : int
        Tiles that held valid pixels (and were routed).
    largest_window : int
        Pixels of the largest window routed (what bounds memory).
    """

    paths: dict[str, Path]
    params: dict[str, Any] = field(default_factory=dict)
    plan: BasinTiles | None = None
    tiles_routed: int = 0
    largest_window: int = 0


def window_outlets(
    valid: np.ndarray, window: tuple[int, int, int, int], shape: tuple[int, int]
) -> np.ndarray:
    """Valid cells of a window where a whole-DEM fill could drain out: on the DEM's border,
    or next to a nodata cell inside the window.

    >>> v = np.array([[True, True, True], [True, True, False], [True, True, True]])
    >>> window_outlets(v, (5, 0, 3, 3), (20, 20)).astype(int)  # column 0 is the DEM's edge
    array([[1, 1, 1],
           [1, 1, 0],
           [1, 1, 1]])
    >>> window_outlets(np.ones((3, 3), bool), (5, 5, 3, 3), (20, 20)).any()
    np.False_
    """
    r0, c0, h, w = window
    pad = np.ones((h + 2, w + 2), dtype=bool)  # outside the window: unknown, taken as valid
    pad[1:-1, 1:-1] = valid
    all_nb = np.ones((h, w), dtype=bool)
    for dr in (0, 1, 2):
        for dc in (0, 1, 2):
            all_nb &= pad[dr : dr + h, dc : dc + w]
    out = valid & ~all_nb
    if r0 == 0:
        out[0] |= valid[0]
    if c0 == 0:
        out[:, 0] |= valid[:, 0]
    if r0 + h == shape[0]:
        out[-1] |= valid[-1]
    if c0 + w == shape[1]:
        out[:, -1] |= valid[:, -1]
    return out


def _plan(
    dem: Path,
    basins: BasinTiles | Any | None,
    *,
    factor: int | None,
    coarse_pixels: int,
    min_area_km2: float,
    budget_pixels: int,
    max_pixels: int,
    halo: int,
    name: str,
) -> BasinTiles:
    """The tiling as given, derived from the DEM, or built from a basin layer."""
    if isinstance(basins, BasinTiles):
        return basins
    if basins is None:
        return derive_basins(
            dem,
            factor=factor,
            coarse_pixels=coarse_pixels,
            min_area_km2=min_area_km2,
            budget_pixels=budget_pixels,
            max_pixels=max_pixels,
            halo=halo,
            name=name,
        )
    return basins_from_layer(
        dem, basins, budget_pixels=budget_pixels, max_pixels=max_pixels, halo=halo, name=name
    )


def _mosaic(
    grid: Grid,
    tile_files: list[tuple[tuple[int, int, int, int], Path]],
    stored: Sequence[str],
    names: Sequence[str],
    out: Path,
    tags: dict[str, str],
) -> dict[str, Path]:
    """One COG per output from the per-tile files (bands ``stored``; band 1, the flow
    accumulation, is finite exactly on the pixels the tile owns)."""
    wins = np.array([w for w, _ in tile_files], dtype=np.int64).reshape(-1, 4)
    paths = {n: out / f"{n}.tif" for n in names}
    bands = list(range(1, len(stored) + 1))
    with contextlib.ExitStack() as stack:
        writers = {
            n: stack.enter_context(
                open_raster_writer(
                    paths[n], grid, dtype=OUTPUTS[n][0], units=OUTPUTS[n][1], tags=tags
                )
            )
            for n in names
        }
        for br, bc, bh, bw in grid.blocks(_MOSAIC_BLOCK):
            acc = np.full((len(stored), bh, bw), np.nan)
            hit = np.nonzero(
                (wins[:, 0] < br + bh)
                & (wins[:, 0] + wins[:, 2] > br)
                & (wins[:, 1] < bc + bw)
                & (wins[:, 1] + wins[:, 3] > bc)
            )[0]
            for k in hit.tolist():
                (r0, c0, h, w), path = tile_files[k]
                ir0, ic0 = max(r0, br), max(c0, bc)
                ir1, ic1 = min(r0 + h, br + bh), min(c0 + w, bc + bw)
                sub = read_raster(
                    path, band=bands, window=(ir0 - r0, ic0 - c0, ir1 - ir0, ic1 - ic0)
                )
                vals = np.ma.filled(sub.array.astype(np.float64), np.nan)
                own = np.isfinite(vals[0])
                dst = acc[:, ir0 - br : ir1 - br, ic0 - bc : ic1 - bc]
                dst[:, own] = vals[:, own]
            for n in names:
                writers[n].write((br, bc, bh, bw), np.ma.masked_invalid(acc[stored.index(n)]))
    return paths


def ls_factor_tiled(
    dem: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    basins: BasinTiles | Any | None = None,
    method: Method = DEFAULT_LS_METHOD,
    routing: RoutingMethod | None = None,
    s_breaks: tuple[float, float] | None = None,
    channel_threshold_cells: int | None = None,
    l_max: float | None = None,
    cutoff: tuple[float, float] = DEFAULT_CUTOFF,
    m_mode: MMode | None = None,
    mfd_exponent: float = 1.1,
    budget_pixels: int = DEFAULT_TILE_PIXELS,
    max_pixels: int = MAX_ROUTING_PIXELS,
    factor: int | None = None,
    coarse_pixels: int = DEFAULT_COARSE_PIXELS,
    min_area_km2: float = 10.0,
    halo: int = DEFAULT_HALO,
    outputs: Sequence[str] = ("ls", "l", "s", "slope", "flow_acc"),
    name: str | None = None,
    progress: Progress | None = None,
) -> TiledLSResult:
    """LS (and L, S, slope, flow accumulation) of a DEM file, routed tile by tile.

    Parameters
    ----------
    dem : path
        Projected DEM in metres, square cells.
    out_dir : path
        Folder for ``<output>.tif`` (COGs; float32, ``flow_acc`` float64, NaN = nodata).
    basins : BasinTiles, GeoDataFrame or vector path, optional
        The tiling, or basin polygons to build it from; derived from the DEM by default
        (:func:`geoeco.terrain.basins.derive_basins` with ``factor``, ``coarse_pixels``,
        ``min_area_km2``). Pixels outside every polygon of a layer get no value.
    method, routing, s_breaks, channel_threshold_cells, l_max, cutoff, m_mode, mfd_exponent
        As :func:`geoeco.terrain.ls.ls_factor` (see :class:`geoeco.terrain.ls.LSOptions`).
    budget_pixels, max_pixels, halo
        Tile window budget, routing limit and halo (:mod:`geoeco.terrain.basins`).
    outputs : sequence of str
        Which of :data:`OUTPUTS` to write.
    name : str, optional
        Name of the DEM in messages (default: its file name).
    progress : callable(stage, fraction), optional
        Called before each tile, before the mosaic and at the end.

    Returns
    -------
    TiledLSResult
    """
    names = _output_names(outputs)
    options = LSOptions.of(
        method, routing, s_breaks, channel_threshold_cells, l_max, cutoff, m_mode, mfd_exponent
    )
    dem_p = Path(dem)
    shown = name or dem_p.name
    step = progress or (lambda s, f: None)
    grid = raster_info(dem_p, name=shown).grid
    plan = _plan(
        dem_p,
        basins,
        factor=factor,
        coarse_pixels=coarse_pixels,
        min_area_km2=min_area_km2,
        budget_pixels=budget_pixels,
        max_pixels=max_pixels,
        halo=halo,
        name=shown,
    )
    _check_tiling(plan, grid, shown)
    out = Path(out_dir)
    with _tile_folder(out) as tmp:
        tiles = _TileRun(dem_p, shown, plan, options, max_pixels, names, tmp)
        tiles.route_all(step)
        params = tiles.params_with_tiling()
        step("mosaicking tiles", 0.95)
        tags = {"geoeco_ls_params": json.dumps(params)}
        paths = _mosaic(plan.grid, tiles.files, tiles.stored, names, out, tags)
    step("done", 1.0)
    return TiledLSResult(paths, params, plan, len(tiles.files), tiles.largest)


def _output_names(outputs: Sequence[str]) -> list[str]:
    """The distinct names in ``outputs``, checked against :data:`OUTPUTS`."""
    names = list(dict.fromkeys(outputs))
    bad = [n for n in names if n not in OUTPUTS]
    if bad or not names:
        raise InvalidInput(f"outputs must be some of {sorted(OUTPUTS)}, got {list(outputs)!r}")
    return names


def _check_tiling(plan: BasinTiles, grid: Grid | None, name: str) -> None:
    """Refuse a DEM without CRS (``grid`` None) or a tiling on another grid than the DEM's."""
    if grid is None:
        raise CRSError(f"{name}: the DEM has no CRS")
    plan.grid.check_aligned(grid, what="the basin tiles and the DEM")


@contextlib.contextmanager
def _tile_folder(out: Path) -> Iterator[Path]:
    """A scratch folder for the per-tile files inside ``out`` (made if needed), removed at
    the end."""
    out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".ls_tiles.", dir=out))
    try:
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@dataclass
class _TileRun:
    """Routing the tiles of a plan one by one into per-tile files of the pixels each owns.

    ``stored`` are the bands of every tile file (flow accumulation first: it is finite
    exactly on the owned pixels); ``files`` the owned window of each routed tile and its
    file; ``params`` the LS parameters; ``largest`` the pixels of the largest window routed.
    """

    dem: Path
    shown: str
    plan: BasinTiles
    options: LSOptions
    max_pixels: int
    names: list[str]
    tmp: Path
    files: list[tuple[tuple[int, int, int, int], Path]] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)
    largest: int = 0

    @property
    def stored(self) -> list[str]:
        """Bands of the tile files: ``flow_acc`` first, then the other outputs."""
        return ["flow_acc"] + [n for n in self.names if n != "flow_acc"]

    def route_all(self, step: Progress) -> None:
        """Route every tile; :class:`EmptyArea` when no tile holds a valid pixel."""
        tiles = self.plan.tiles
        for k, tile in enumerate(tiles):
            step("flow routing and LS by basin tile", k / max(len(tiles), 1))
            self.route(k, tile)
        if not self.files:
            raise EmptyArea(f"{self.shown}: no valid DEM pixel inside the basins")

    def route(self, k: int, tile: Tile) -> None:
        """Route tile ``k`` on its window and write the pixels it owns (none: nothing)."""
        d = read_raster(self.dem, window=tile.window, name=self.shown)
        valid = ~np.ma.getmaskarray(d.array)
        keep = self.plan.tile_mask(tile, valid)
        if not keep.any():
            return
        outlets = _tile_outlets(valid, tile.window, self.plan.grid.shape)
        res = ls_from_options(
            d, self.options, max_pixels=self.max_pixels, outlets=outlets, keep=keep
        )
        self.params = res.params
        self.largest = max(self.largest, tile.window_pixels)
        parts = {
            "flow_acc": res.flow_acc,
            "ls": res.ls,
            "l": res.l,
            "s": res.s,
            "slope": res.slope_deg,
        }
        stack = np.stack(
            [np.ma.filled(parts[n].array.astype(np.float64), np.nan) for n in self.stored]
        )
        del res, parts
        path = self.tmp / f"tile_{k:06d}.tif"
        own = _write_owned(stack, keep, d.grid, path, f"tile {k}")
        r0, c0 = tile.window[:2]
        self.files.append(((r0 + own[0], c0 + own[1], own[2], own[3]), path))

    def params_with_tiling(self) -> dict[str, Any]:
        """The LS parameters plus a ``tiling`` entry describing the plan as routed."""
        plan = self.plan
        params = dict(self.params)
        params["tiling"] = {
            "basins": plan.source,
            "factor": plan.factor,
            "tiles": len(self.files),
            "budget_pixels": plan.budget_pixels,
            "halo": plan.halo,
            "largest_window_pixels": self.largest,
            "overhead": round(plan.overhead, 4),
        }
        return params


def _tile_outlets(
    valid: np.ndarray, window: tuple[int, int, int, int], shape: tuple[int, int]
) -> np.ndarray:
    """Where a tile's depression filling may drain out (:func:`window_outlets`)."""
    outlets = window_outlets(valid, window, shape)
    if not outlets.any():
        # no way out inside the window (basins cut off from their outlets, e.g. a
        # basin layer that misses it): let the window's edge drain, as a clipped DEM
        outlets = outlets | window_outlets(valid, (0, 0, *valid.shape), valid.shape)
    return outlets


def _write_owned(
    stack: np.ndarray, keep: np.ndarray, grid: Grid, path: Path, name: str
) -> tuple[int, int, int, int]:
    """Write the bounding box of the ``keep`` pixels of ``stack`` (bands × rows × cols; NaN
    elsewhere) to ``path``; return that box as a window of ``grid``."""
    stack[:, ~keep] = np.nan
    rows, cols = np.nonzero(keep.any(axis=1))[0], np.nonzero(keep.any(axis=0))[0]
    own = (
        int(rows[0]),
        int(cols[0]),
        int(rows[-1] - rows[0] + 1),
        int(cols[-1] - cols[0] + 1),
    )
    sub = stack[:, own[0] : own[0] + own[2], own[1] : own[1] + own[3]]
    write_raster(
        Raster(np.ma.masked_invalid(sub), grid.window(*own), name=name),
        path,
        cog=False,
        compress="zstd",
    )
    return own
