"""Drainage basins grouped into tiles, so that flow routing can run one tile at a time.

Flow accumulation (and every slope length built on it) depends on the whole area upstream of
a cell, so a DEM cannot be cut into arbitrary blocks. It can be cut along drainage divides:
if a tile is a set of *whole* basins, no flow enters or leaves it, and routing the tile alone
gives the same result as routing the whole DEM (:mod:`geoeco.terrain.ls_tiled` does the routing).

Where the basins come from
--------------------------
* :func:`derive_basins` — from the DEM itself, coarsened: the DEM is read strip by strip and
  averaged over ``factor`` × ``factor`` blocks (valid pixels only), the coarse DEM is filled
  and D8-routed (:func:`geoeco.terrain.routing.route`), every coarse cell is labelled with the
  outlet
  it drains to (the grid edge or nodata), and basins smaller than ``min_area_km2`` are merged
  into the neighbour they share the longest boundary with. A fine pixel belongs to the basin
  of the coarse cell it lies in. Coarse divides are only approximately the fine ones: flow
  near a divide can cross it on the fine grid (measured in ``tests/test_basins.py``).
* :func:`basins_from_layer` — from basin polygons (e.g. HydroBASINS level N, or a watershed
  layer): a pixel belongs to the polygon its centre falls in (the last polygon when they
  overlap); pixels outside every polygon belong to no tile and are not computed.

Tiles
-----
Basins are ordered along a Z-order curve of their centres and packed greedily into tiles
whose window — the basins' bounding box plus a ``halo`` of pixels, clipped to the DEM — stays
within ``budget_pixels``. A basin whose own window is larger cannot be split without changing
results: it becomes a tile of its own if it fits the routing limit ``max_pixels``, otherwise
:class:`~geoeco.core.errors.OversizeRequest` names it. Every labelled valid pixel belongs to exactly
one tile (:meth:`BasinTiles.tile_mask`); windows overlap, each routes the pixels of its
neighbours too (as context), and ``BasinTiles.overhead`` says how much extra that is.

Examples
--------
>>> import numpy as np
>>> from affine import Affine
>>> from geoeco.core.raster import Grid
>>> grid = Grid(Affine(10, 0, 0, 0, -10, 40), 4, 4, "EPSG:32650")
>>> labels = np.array([[1, 2], [1, 2]], dtype=np.int32)  # 2x2 coarse cells of 2x2 pixels
>>> plan = plan_tiles(grid, labels, factor=2, budget_pixels=12, halo=1)
>>> [(t.window, t.basin_ids) for t in plan.tiles]
[((0, 0, 4, 3), (1,)), ((0, 1, 4, 3), (2,))]
>>> plan.tile_mask(plan.tiles[1]).astype(int)
array([[0, 1, 1],
       [0, 1, 1],
       [0, 1, 1],
       [0, 1, 1]])
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from geoeco.core.errors import CRSError, EmptyArea, InvalidInput, OversizeRequest
from geoeco.core.io import raster_info, read_raster, read_vector
from geoeco.core.jit import kernel
from geoeco.core.raster import Grid

from .routing import MAX_ROUTING_PIXELS, d8_downstream, route

__all__ = [
    "DEFAULT_COARSE_PIXELS",
    "DEFAULT_HALO",
    "DEFAULT_TILE_PIXELS",
    "BasinTiles",
    "Tile",
    "basin_labels",
    "basins_from_layer",
    "coarsen_dem",
    "derive_basins",
    "merge_small_basins",
    "plan_tiles",
]

#: Default window budget of one tile: 25 Mpx is about 2 GB at ``routing.BYTES_PER_PIXEL``.
DEFAULT_TILE_PIXELS = 25_000_000
#: Default size of the coarse DEM used to derive basins (the factor is chosen to fit it).
DEFAULT_COARSE_PIXELS = 4_000_000
#: Pixels added around a tile's basins: one ring of real neighbours for the 3x3 slope, one
#: more so that no pixel of the tile lies on the window's cut edge.
DEFAULT_HALO = 2
_STRIP_PIXELS = 8_000_000
_LAYER_BLOCK = 1024

Window = tuple[int, int, int, int]


@dataclass(frozen=True)
class Tile:
    """One routing unit: a fine-grid window and the basins it computes.

    Attributes
    ----------
    window : (row_off, col_off, height, width)
        Window on the DEM grid, halo included.
    basin_ids : tuple of int
        Labels (>= 1) of the basins whose pixels this tile owns.
    pixels : int
        Approximate number of pixels those basins hold.
    oversize : bool
        True when the window exceeds the tile budget (a single basin routed whole).
    """

    window: Window
    basin_ids: tuple[int, ...]
    pixels: int
    oversize: bool = False

    @property
    def window_pixels(self) -> int:
        """Pixels in the window (what routing the tile costs)."""
        return self.window[2] * self.window[3]


@dataclass(frozen=True, eq=False)
class BasinTiles:
    """Basin labels on a DEM grid and their grouping into :class:`Tile` s.

    Exactly one of ``coarse_labels`` (derived basins, with ``factor``) or ``polygons``
    (a basin layer in the DEM's CRS, label = position + 1) is set.
    """

    grid: Grid
    tiles: tuple[Tile, ...]
    source: str
    budget_pixels: int
    halo: int
    factor: int | None = None
    coarse_labels: np.ndarray | None = None
    polygons: Any = None

    @property
    def n_basins(self) -> int:
        """Number of basins (labels) in the plan."""
        return sum(len(t.basin_ids) for t in self.tiles)

    @property
    def overhead(self) -> float:
        """Pixels routed over pixels owned (1.0 = no window overlap or halo at all)."""
        owned = sum(t.pixels for t in self.tiles)
        return sum(t.window_pixels for t in self.tiles) / max(owned, 1)

    def labels(self, window: Window) -> np.ndarray:
        """Basin label (int32, 0 = none) of every pixel of ``window``."""
        r0, c0, h, w = window
        if self.coarse_labels is not None:
            f = int(self.factor or 1)
            rows = np.arange(r0, r0 + h) // f
            cols = np.arange(c0, c0 + w) // f
            return self.coarse_labels[np.ix_(rows, cols)]
        return _layer_labels(self.polygons, self.grid, window)

    def tile_mask(self, tile: Tile, valid: np.ndarray | None = None) -> np.ndarray:
        """Pixels of ``tile.window`` that the tile owns (its basins), and'ed with ``valid``."""
        labels = self.labels(tile.window)
        lut = np.zeros(max(int(labels.max()), max(tile.basin_ids)) + 1, dtype=bool)
        lut[list(tile.basin_ids)] = True
        mask: np.ndarray = lut[labels]
        return mask if valid is None else mask & valid


# ------------------------------------------------------------------------- coarse DEM


def _check_projected(grid: Grid) -> None:
    if grid.crs.is_geographic or not grid.crs.is_projected:
        raise CRSError(
            "basins are derived on a projected DEM with cells in metres, got "
            f"{grid.crs.name}; reproject the DEM first"
        )


def coarsen_dem(
    dem: str | os.PathLike[str], factor: int, *, name: str | None = None
) -> tuple[np.ndarray, Grid]:
    """Mean of the valid pixels in every ``factor`` × ``factor`` block, read strip by strip.

    Returns the coarse DEM (float32, NaN where a block has no valid pixel) and its grid
    (``factor`` times the pixel size; the last row/column may reach past the DEM).

    >>> import tempfile, pathlib
    >>> from affine import Affine
    >>> from geoeco.core.io import write_raster
    >>> from geoeco.core.raster import Raster
    >>> g = Grid(Affine(10, 0, 0, 0, -10, 30), 3, 3, "EPSG:32650")
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "d.tif"
    >>> _ = write_raster(Raster.from_array(np.arange(9.0).reshape(3, 3), g), p)
    >>> z, cg = coarsen_dem(p, 2)
    >>> z.tolist(), cg.res
    ([[2.0, 3.5], [6.5, 8.0]], (20.0, 20.0))
    """
    if int(factor) < 1:
        raise InvalidInput(f"coarsening factor must be a positive integer, got {factor!r}")
    f = int(factor)
    info = raster_info(dem, name=name)
    if info.grid is None:
        raise CRSError("the DEM has no CRS")
    grid = info.grid
    ch, cw = -(-grid.height // f), -(-grid.width // f)
    out = np.full((ch, cw), np.nan, dtype=np.float32)
    strip = max(1, _STRIP_PIXELS // max(grid.width * f * f, 1)) * f
    for r0 in range(0, grid.height, strip):
        h = min(strip, grid.height - r0)
        a = read_raster(dem, window=(r0, 0, h, grid.width), name=name).array
        z = np.ma.filled(a.astype(np.float64), np.nan)
        hp, wp = -(-h // f) * f, cw * f
        pad = np.full((hp, wp), np.nan)
        pad[:h, : grid.width] = z
        blocks = pad.reshape(hp // f, f, cw, f)
        n = np.isfinite(blocks).sum(axis=(1, 3))
        s = np.nansum(blocks, axis=(1, 3))
        with np.errstate(invalid="ignore", divide="ignore"):
            out[r0 // f : r0 // f + hp // f] = np.where(n > 0, s / n, np.nan)
    t = grid.transform
    coarse = Grid(t * t.scale(f, f), cw, ch, grid.crs)
    return out, coarse


@kernel
def _label_kernel(ds: np.ndarray, order: np.ndarray, out: np.ndarray) -> int:
    nxt = 0
    for t in range(order.size - 1, -1, -1):  # downstream first
        i = order[t]
        j = ds[i]
        if j < 0:
            nxt += 1
            out[i] = nxt
        else:
            out[i] = out[j]
    return nxt


def basin_labels(dem: np.ndarray, cellsize: float | tuple[float, float] = 1.0) -> np.ndarray:
    """Label every valid cell with the D8 basin it drains to (1..n); 0 at nodata.

    The DEM is filled first; each outlet (grid edge or next to nodata) starts a basin.

    >>> basin_labels(np.array([[1.0, 2, 3, 2, 1]]))  # the ridge cell drains east (first tie)
    array([[1, 1, 2, 2, 2]], dtype=int32)
    """
    rt = route(dem, method="d8", cellsize=cellsize)
    ds = d8_downstream(rt.flowdir).ravel()
    out = np.zeros(rt.flowdir.size, dtype=np.int32)
    _label_kernel(ds, rt.order.astype(np.int64), out)
    # number basins in reading order of their first cell
    labels = out.reshape(rt.flowdir.shape)
    uniq, first = np.unique(out, return_index=True)
    keep = uniq > 0
    lut = np.zeros(int(uniq.max()) + 1, dtype=np.int32)
    lut[uniq[keep][np.argsort(first[keep])]] = np.arange(1, keep.sum() + 1, dtype=np.int32)
    return lut[labels]


def merge_small_basins(labels: np.ndarray, min_cells: int) -> np.ndarray:
    """Merge basins of fewer than ``min_cells`` cells into the neighbour sharing the longest
    boundary with them (smallest first); labels are renumbered 1..n in reading order.

    Merging only changes how basins are grouped (a tile is a set of whole basins either way).

    >>> merge_small_basins(np.array([[1, 1, 2], [1, 1, 2], [3, 3, 3]]), 3)
    array([[1, 1, 1],
           [1, 1, 1],
           [2, 2, 2]], dtype=int32)
    """
    lab = np.asarray(labels, dtype=np.int64)
    n = int(lab.max()) if lab.size else 0
    size = np.bincount(lab.ravel(), minlength=n + 1)
    pairs = [(lab[:, :-1], lab[:, 1:]), (lab[:-1, :], lab[1:, :])]
    keys = []
    for a, b in pairs:
        d = (a != b) & (a > 0) & (b > 0)
        lo, hi = np.minimum(a[d], b[d]), np.maximum(a[d], b[d])
        keys.append(lo * (n + 1) + hi)
    k, cnt = np.unique(np.concatenate(keys), return_counts=True)
    u, v = k // (n + 1), k % (n + 1)
    nb: dict[int, list[tuple[int, int]]] = {}
    for x, y, c in zip(u.tolist(), v.tolist(), cnt.tolist(), strict=True):
        nb.setdefault(x, []).append((y, c))
        nb.setdefault(y, []).append((x, c))
    parent = np.arange(n + 1)

    def root(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = int(parent[x])
        return x

    cur = size.copy()
    for b in np.argsort(size, kind="stable").tolist():
        if b == 0 or size[b] == 0 or size[b] >= min_cells:
            continue
        rb = root(b)
        if cur[rb] >= min_cells:
            continue
        shared: dict[int, int] = {}
        for y, c in nb.get(b, []):
            ry = root(y)
            if ry != rb:
                shared[ry] = shared.get(ry, 0) + c
        if not shared:
            continue
        best = max(shared, key=lambda r: (shared[r], cur[r]))
        parent[rb] = best
        cur[best] += cur[rb]
    roots = np.array([root(i) for i in range(n + 1)])
    merged = roots[lab]
    uniq, first = np.unique(merged.ravel(), return_index=True)
    keep = uniq > 0
    lut = np.zeros(n + 1, dtype=np.int32)
    lut[uniq[keep][np.argsort(first[keep])]] = np.arange(1, keep.sum() + 1, dtype=np.int32)
    renumbered: np.ndarray = lut[merged]
    return renumbered


# ------------------------------------------------------------------------ tile packing


def _part1by1(x: np.ndarray) -> np.ndarray:
    x = x.astype(np.uint64) & np.uint64(0xFFFF)
    for shift, mask in ((8, 0x00FF00FF), (4, 0x0F0F0F0F), (2, 0x33333333), (1, 0x55555555)):
        x = (x | (x << np.uint64(shift))) & np.uint64(mask)
    return x


def _pack(
    boxes: np.ndarray,
    pixels: np.ndarray,
    grid: Grid,
    budget_pixels: int,
    max_pixels: int,
    halo: int,
) -> list[Tile]:
    """Greedy packing of basins (fine boxes r0, c0, r1, c1 exclusive) along a Z-order curve."""
    h, w = grid.shape
    cell = max(1.0, max(h, w) / 65535.0)
    cy = ((boxes[:, 0] + boxes[:, 2]) / 2 / cell).astype(np.int64)
    cx = ((boxes[:, 1] + boxes[:, 3]) / 2 / cell).astype(np.int64)
    order = np.argsort(_part1by1(cy) << np.uint64(1) | _part1by1(cx), kind="stable")

    def win(b: np.ndarray) -> Window:
        r0, c0 = max(int(b[0]) - halo, 0), max(int(b[1]) - halo, 0)
        r1, c1 = min(int(b[2]) + halo, h), min(int(b[3]) + halo, w)
        return (r0, c0, r1 - r0, c1 - c0)

    tiles: list[Tile] = []
    cur_box: np.ndarray | None = None
    cur_ids: list[int] = []
    cur_px = 0

    def close() -> None:
        if cur_box is not None:
            tiles.append(Tile(win(cur_box), tuple(sorted(cur_ids)), cur_px))

    km2 = grid.cell_area / 1e6
    for i in order.tolist():
        if pixels[i] <= 0:
            continue  # a label with no pixel
        b = boxes[i]
        wb = win(b)
        npx = wb[2] * wb[3]
        if npx > budget_pixels:
            if npx > max_pixels:
                raise OversizeRequest(
                    f"basin {i + 1} ({int(pixels[i])} pixels, about "
                    f"{pixels[i] * km2:.0f} km²) spans a window of {wb[2]} x {wb[3]} = {npx} "
                    f"pixels, more than the flow-routing limit of {max_pixels} pixels; a basin "
                    "cannot be split without changing its flow accumulation - give a DEM or a "
                    "basin layer that cuts it at a confluence, or raise the limit"
                )
            tiles.append(Tile(wb, (i + 1,), int(pixels[i]), oversize=True))
            continue
        if cur_box is not None:
            u = np.concatenate([np.minimum(cur_box[:2], b[:2]), np.maximum(cur_box[2:], b[2:])])
            wu = win(u)
            if wu[2] * wu[3] <= budget_pixels:
                cur_box, cur_px = u, cur_px + int(pixels[i])
                cur_ids.append(i + 1)
                continue
            close()
        cur_box, cur_ids, cur_px = b.copy(), [i + 1], int(pixels[i])
    close()
    return tiles


def plan_tiles(
    grid: Grid,
    coarse_labels: np.ndarray,
    *,
    factor: int,
    budget_pixels: int = DEFAULT_TILE_PIXELS,
    max_pixels: int = MAX_ROUTING_PIXELS,
    halo: int = DEFAULT_HALO,
) -> BasinTiles:
    """Group coarse basin labels (1..n, 0 = none; coarse cell = ``factor``² fine pixels of
    ``grid``) into tiles whose windows stay within ``budget_pixels`` (see module docstring).
    """
    _check_budget(budget_pixels, max_pixels, halo)
    lab = np.asarray(coarse_labels, dtype=np.int32)
    n = int(lab.max()) if lab.size else 0
    if n == 0:
        raise EmptyArea("the DEM has no valid cell to route")
    rr, cc = np.nonzero(lab)
    ll = lab[rr, cc]
    boxes = np.empty((n, 4), dtype=np.int64)
    for k, (fn, arr) in enumerate(
        ((np.minimum, rr), (np.minimum, cc), (np.maximum, rr), (np.maximum, cc))
    ):
        init = np.iinfo(np.int64).max if fn is np.minimum else -1
        col = np.full(n + 1, init, dtype=np.int64)
        fn.at(col, ll, arr)
        boxes[:, k] = col[1:]
    f = int(factor)
    boxes[:, :2] *= f
    boxes[:, 2:] = (boxes[:, 2:] + 1) * f
    boxes[:, 2] = np.minimum(boxes[:, 2], grid.height)
    boxes[:, 3] = np.minimum(boxes[:, 3], grid.width)
    pixels = np.bincount(ll, minlength=n + 1)[1:] * f * f
    tiles = _pack(boxes, pixels, grid, budget_pixels, max_pixels, halo)
    return BasinTiles(grid, tuple(tiles), "derived", budget_pixels, halo, f, lab, None)


def _check_budget(budget_pixels: int, max_pixels: int, halo: int) -> None:
    if not budget_pixels > 0 or not max_pixels > 0:
        raise InvalidInput(
            f"budget_pixels and max_pixels must be positive, got {budget_pixels}, {max_pixels}"
        )
    if halo < 1:
        raise InvalidInput(f"halo must be at least 1 pixel, got {halo}")


def derive_basins(
    dem: str | os.PathLike[str],
    *,
    factor: int | None = None,
    coarse_pixels: int = DEFAULT_COARSE_PIXELS,
    min_area_km2: float = 10.0,
    budget_pixels: int = DEFAULT_TILE_PIXELS,
    max_pixels: int = MAX_ROUTING_PIXELS,
    halo: int = DEFAULT_HALO,
    name: str | None = None,
) -> BasinTiles:
    """Basins of a DEM file derived on a coarsened copy, grouped into tiles.

    Parameters
    ----------
    dem : path
        Projected DEM (metres).
    factor : int, optional
        Coarse cell = ``factor`` × ``factor`` DEM pixels; default: the smallest factor that
        keeps the coarse DEM within ``coarse_pixels`` and a quarter of ``budget_pixels``.
    min_area_km2 : float
        Basins smaller than this are merged into a neighbour (fewer, compacter tiles).
    budget_pixels : int
        Target window size of a tile (halo included).
    max_pixels : int
        Routing limit: a single basin with a larger window raises
        :class:`~geoeco.core.errors.OversizeRequest`.
    halo : int
        Pixels of context around each tile's basins (at least 1; 2 by default).
    name : str, optional
        Name of the DEM in error messages.

    Returns
    -------
    BasinTiles
    """
    info = raster_info(dem, name=name)
    if info.grid is None:
        raise CRSError("the DEM has no CRS")
    grid = info.grid
    _check_projected(grid)
    if factor is None:  # the coarse routing should cost at most a quarter of a tile
        target = max(min(coarse_pixels, budget_pixels // 4), 1)
        factor = max(1, math.ceil(math.sqrt(grid.width * grid.height / target)))
    z, cgrid = coarsen_dem(dem, int(factor), name=name)
    if not np.isfinite(z).any():
        raise EmptyArea("the DEM has no valid cell to route")
    labels = basin_labels(z, cgrid.res)
    min_cells = int(math.ceil(min_area_km2 * 1e6 / cgrid.cell_area)) if min_area_km2 > 0 else 0
    if min_cells > 1:
        labels = merge_small_basins(labels, min_cells)
    return plan_tiles(
        grid,
        labels,
        factor=int(factor),
        budget_pixels=budget_pixels,
        max_pixels=max_pixels,
        halo=halo,
    )


# ------------------------------------------------------------------------- basin layer


def _layer_labels(polygons: Any, grid: Grid, window: Window) -> np.ndarray:
    """Rasterise the polygons over ``window`` in fixed blocks of the full grid, so that a
    pixel gets the same label whichever window asks for it."""
    from rasterio.features import rasterize

    r0, c0, h, w = window
    out = np.zeros((h, w), dtype=np.int32)
    b = _LAYER_BLOCK
    bx = polygons[["_r0", "_c0", "_r1", "_c1"]].to_numpy()
    geoms, labels = polygons.geometry.to_numpy(), polygons["_label"].to_numpy()
    for br in range(r0 // b * b, r0 + h, b):
        for bc in range(c0 // b * b, c0 + w, b):
            bh, bw = min(b, grid.height - br), min(b, grid.width - bc)
            hit = (bx[:, 0] < br + bh) & (bx[:, 2] > br) & (bx[:, 1] < bc + bw) & (bx[:, 3] > bc)
            sel = np.nonzero(hit)[0]  # ascending: a later polygon overwrites an earlier one
            if sel.size == 0:
                continue
            shapes = [(geoms[i], int(labels[i])) for i in sel]
            t = grid.transform
            blk = rasterize(
                shapes,
                out_shape=(bh, bw),
                transform=t * t.translation(bc, br),
                fill=0,
                dtype="int32",
            )
            ir0, ic0 = max(br, r0), max(bc, c0)
            ir1, ic1 = min(br + bh, r0 + h), min(bc + bw, c0 + w)
            out[ir0 - r0 : ir1 - r0, ic0 - c0 : ic1 - c0] = blk[
                ir0 - br : ir1 - br, ic0 - bc : ic1 - bc
            ]
    return out


def basins_from_layer(
    dem: str | os.PathLike[str] | Grid,
    layer: Any,
    *,
    budget_pixels: int = DEFAULT_TILE_PIXELS,
    max_pixels: int = MAX_ROUTING_PIXELS,
    halo: int = DEFAULT_HALO,
    name: str | None = None,
) -> BasinTiles:
    """Tiles from a basin polygon layer (GeoDataFrame or vector file) on a DEM's grid.

    Polygons are reprojected to the DEM's CRS; label = position in the layer + 1 (a pixel in
    two polygons takes the later one). Pixels outside every polygon belong to no tile.
    """
    import geopandas as gpd

    grid = dem if isinstance(dem, Grid) else raster_info(dem, name=name).grid
    if grid is None:
        raise CRSError("the DEM has no CRS")
    _check_projected(grid)
    _check_budget(budget_pixels, max_pixels, halo)
    gdf = layer if isinstance(layer, gpd.GeoDataFrame) else read_vector(layer)
    if gdf.crs is None:
        raise CRSError("the basin layer has no CRS")
    gdf = gdf.to_crs(grid.crs)[[gdf.geometry.name]].reset_index(drop=True)
    gdf = gdf[~gdf.geometry.is_empty & gdf.geometry.notna()]
    if not gdf.geom_type.isin(["Polygon", "MultiPolygon"]).all():
        raise InvalidInput("the basin layer must hold polygons")
    t, (xres, yres) = grid.transform, grid.res
    b = gdf.bounds.to_numpy()
    r0 = np.floor((t.f - b[:, 3]) / yres).astype(np.int64).clip(0, grid.height)
    r1 = np.ceil((t.f - b[:, 1]) / yres).astype(np.int64).clip(0, grid.height)
    c0 = np.floor((b[:, 0] - t.c) / xres).astype(np.int64).clip(0, grid.width)
    c1 = np.ceil((b[:, 2] - t.c) / xres).astype(np.int64).clip(0, grid.width)
    inside = (r1 > r0) & (c1 > c0)
    if not inside.any():
        raise EmptyArea("no basin polygon overlaps the DEM")
    gdf = gdf[inside].reset_index(drop=True)
    boxes = np.stack([r0, c0, r1, c1], axis=1)[inside]
    gdf["_label"] = np.arange(1, len(gdf) + 1, dtype=np.int32)
    for k, col in enumerate(("_r0", "_c0", "_r1", "_c1")):
        gdf[col] = boxes[:, k]
    pixels = np.maximum(gdf.area.to_numpy() / grid.cell_area, 1).round().astype(np.int64)
    tiles = _pack(boxes, pixels, grid, budget_pixels, max_pixels, halo)
    return BasinTiles(grid, tuple(tiles), "layer", budget_pixels, halo, None, None, gdf)
