"""The red-line patch stage tile by tile: bounded memory, and tiles that can run anywhere.

Each of the three sweeps (patch sizes, holes, final patches and their votes) labels every tile
on its own (sweep 3 usually from the labels of sweeps 1 and 2,
:mod:`geoeco.zoning.patches.relabel`) and only passes on a small :class:`TileEdges` record:
the tile's labels that touch its edge, their statistics and the label lines along the four
edges. The per-tile work (:class:`TileOps`) reads and writes tiles through a
:class:`~geoeco.core.tile_store.TileStore` and holds no state, so it runs in this process or
as a task on a cluster's worker (:mod:`geoeco.zoning.overlay.distributed`). The joining
(:class:`~geoeco.zoning.patches.join.Joiner`) runs where the records arrive: it links labels
facing each other across tile boundaries into grid-wide components
(``scipy.sparse.csgraph.connected_components``) and decides each component. The decisions for
a tile's edge labels (:data:`BorderValues`) then go back to the
next sweep of that tile.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
from numba import njit

from geoeco.core.tile_store import MemoryTileStore, TileStore

from .grid import Window, _structure, pixel_codes, tile_windows
from .join import BorderValues, Joiner, TileEdges, edges_of
from .label import label_tile
from .relabel import final_labels


@njit(cache=True, nogil=True)
def label_sizes(lab: np.ndarray, n: int) -> np.ndarray:  # pragma: no cover - numba
    """Pixels per label ``0..n`` (``np.bincount`` in one pass)."""
    out = np.zeros(n + 1, np.int64)
    h, w = lab.shape
    for y in range(h):
        for x in range(w):
            out[lab[y, x]] += 1
    return out


@njit(cache=True, nogil=True)
def label_votes(
    lab: np.ndarray, bits: np.ndarray, n: int, bit: np.ndarray, slot: np.ndarray, k: int
) -> np.ndarray:  # pragma: no cover - numba
    """Per label ``0..n``: for each voting reason bit ``bit[j]``, its pixels, added up in
    column ``slot[j]`` of ``k``; label 0 (background) gets none."""
    votes = np.zeros((n + 1, k), np.int64)
    h, w = lab.shape
    for y in range(h):
        for x in range(w):
            lb = lab[y, x]
            b = bits[y, x]
            if lb > 0 and b != 0:
                for j in range(len(bit)):
                    if (b >> bit[j]) & 1:
                        votes[lb, slot[j]] += 1
    return votes


def _label(fg: np.ndarray, connectivity: int) -> tuple[np.ndarray, int]:
    """The components of a tile (:func:`~geoeco.zoning.patches.label.label_tile`: the labels
    ``scipy.ndimage.label`` gives, without holding the GIL)."""
    if not fg.any():
        return np.zeros(fg.shape, np.int32), 0
    return label_tile(fg, connectivity)


def _small_labels(lab: np.ndarray, n: int) -> np.ndarray:
    return lab.astype(np.uint16) if n < 65536 else lab


def _decisions(
    store: TileStore, name: str, t: int, bv: BorderValues, background: Any
) -> tuple[np.ndarray, np.ndarray]:
    """Tile ``t``'s labels of sweep ``name`` and, per label, its component's decision."""
    lab = store.get(name + ":lab", t)
    lut = store.get(name + ":lut", t)
    if lab is None or lut is None:
        raise KeyError(f"tile {t}: sweep {name!r} has not run")
    lut = lut.copy()
    if bv is not None and len(bv[0]):
        lut[bv[0]] = bv[1]
    lut[0] = background
    return lab, lut


def _decided(store: TileStore, name: str, t: int, bv: BorderValues, background: Any) -> np.ndarray:
    """Per pixel of tile ``t``, the decision of its label's component in sweep ``name``."""
    lab, lut = _decisions(store, name, t, bv, background)
    return lut.take(lab)


def _edge_labels(lab: np.ndarray, win: Window, shape: tuple[int, int]) -> np.ndarray:
    """Labels on the lines of a tile that lie on the grid's outer edge."""
    r0, c0, h, w = win
    parts = []
    if r0 == 0:
        parts.append(lab[0])
    if r0 + h == shape[0]:
        parts.append(lab[-1])
    if c0 == 0:
        parts.append(lab[:, 0])
    if c0 + w == shape[1]:
        parts.append(lab[:, -1])
    return np.concatenate(parts) if parts else np.zeros(0, lab.dtype)


@dataclass(frozen=True)
class TileOps:
    """The per-tile work of the three sweeps: pure functions of the store's tiles.

    Picklable (numbers only), so a cluster worker can run any sweep of any tile; the store must
    be one the worker sees too (:class:`~geoeco.core.tile_store.DirTileStore`).
    """

    shape: tuple[int, int]
    tile_size: int
    bit_codes: tuple[int | None, ...]
    fallback: int
    min_patch_px: float
    max_hole_px: float
    connectivity: Literal[4, 8]
    code_by: Literal["patch", "pixel"]
    order: tuple[int, ...] = field(init=False)

    def __post_init__(self) -> None:
        order: list[int] = []
        for c in self.bit_codes:
            if c is not None and c not in order:
                order.append(c)
        object.__setattr__(self, "order", tuple(order))

    @property
    def relabel(self) -> bool:
        """Whether sweep 3 numbers the final patches from the labels of sweeps 1 and 2
        (:func:`~geoeco.zoning.patches.relabel.final_labels`) instead of labelling again:
        patches coded per patch, sweep 1 run, and 8-connected patches unless no hole is
        filled."""
        return (
            self.code_by == "patch"
            and self.min_patch_px > 0
            and (self.connectivity == 8 or self.max_hole_px <= 0)
        )

    @property
    def tiles(self) -> list[Window]:
        """The tiles, row by row (:func:`~geoeco.zoning.patches.grid.tile_windows`)."""
        return tile_windows(self.shape, self.tile_size)

    # -- decisions (per label in a tile, per component in the join) ------------------------
    def decide_keep(self, st: np.ndarray) -> np.ndarray:
        """Sweep 1: keep a patch unless it is smaller than the minimum (``st``: sizes)."""
        return ~(st[:, 0] < self.min_patch_px - 1e-9)

    def decide_fill(self, st: np.ndarray) -> np.ndarray:
        """Sweep 2: fill a background part that is closed and at most the maximum hole."""
        if st.shape[1] < 2:
            return np.zeros(len(st), bool)
        fill: np.ndarray = (st[:, 1] == 0) & (st[:, 0] <= self.max_hole_px + 1e-9)
        return fill

    def decide_code(self, votes: np.ndarray) -> np.ndarray:
        """Sweep 3: the code with most votes (ties: first listed; no vote: the fallback)."""
        lut = np.full(len(votes), self.fallback, np.uint8)
        if self.order and len(votes):
            best = np.argmax(votes, axis=1)
            lut[:] = np.array(self.order, np.uint8)[best]
            lut[votes.max(axis=1) == 0] = self.fallback
        return lut

    # -- tiles -----------------------------------------------------------------------------
    def _bits(self, store: TileStore, t: int) -> np.ndarray:
        bits = store.get("bits", t)
        if bits is None:
            raise KeyError(f"tile {t}: no reason bits stored")
        return bits

    def _mask(self, store: TileStore, t: int) -> np.ndarray:
        m = store.get("mask", t)
        return self._bits(store, t) != 0 if m is None else m

    def _sweep(
        self,
        store: TileStore,
        name: str,
        t: int,
        fg: np.ndarray,
        bar: np.ndarray | None,
        stats: Callable[[np.ndarray, int], np.ndarray],
        decide: Callable[[np.ndarray], np.ndarray],
        connectivity: int,
    ) -> TileEdges:
        lab, n = _label(fg, connectivity)
        st = stats(lab, n)
        store.put(name + ":lab", t, _small_labels(lab, n))
        store.put(name + ":lut", t, decide(st))
        return edges_of(lab, st, bar)

    def sweep1(self, store: TileStore, t: int) -> TileEdges | None:
        """Patch sizes of tile ``t`` (``None`` without a minimum patch size)."""
        if self.min_patch_px <= 0:
            return None
        return self._sweep(
            store,
            "patches",
            t,
            self._mask(store, t),
            None,
            lambda lab, n: label_sizes(lab, n)[:, None],
            self.decide_keep,
            self.connectivity,
        )

    def _out(self, store: TileStore, t: int, keep: BorderValues) -> np.ndarray:
        """The tile's mask with small patches dropped."""
        if self.min_patch_px > 0:
            return _decided(store, "patches", t, keep, False)
        return self._mask(store, t)

    def sweep2(self, store: TileStore, t: int, keep: BorderValues) -> TileEdges | None:
        """Holes of tile ``t`` in what sweep 1 left (``None`` without a maximum hole size)."""
        if self.max_hole_px <= 0:
            return None
        out = self._out(store, t, keep)
        if self.min_patch_px > 0 and not self.relabel:
            store.put("out", t, out)  # spares sweep 3 the look-up
        bar = store.get("barrier", t)
        fg = ~out if bar is None else ~out & ~bar
        hole_conn = 12 - self.connectivity
        win = self.tiles[t]

        def stats(lab: np.ndarray, n: int) -> np.ndarray:
            from scipy import ndimage

            st = np.zeros((n + 1, 2), np.int64)
            if n == 0:
                return st
            st[:, 0] = label_sizes(lab, n)
            st[_edge_labels(lab, win, self.shape), 1] = 1
            if bar is not None and bar.any():
                near = ndimage.binary_dilation(bar, structure=_structure(hole_conn))
                st[lab[near], 1] = 1
            st[0, 1] = 1
            return st

        return self._sweep(store, "holes", t, fg, bar, stats, self.decide_fill, hole_conn)

    def sweep3(self, store: TileStore, t: int, keep: BorderValues, fill: BorderValues) -> TileEdges:
        """The final mask of tile ``t`` and, per patch, the votes for each code."""
        if self.relabel:
            return self._sweep3_relabel(store, t, keep, fill)
        mask = self._mask(store, t)
        filled = removed = 0
        if self.max_hole_px > 0:
            out = store.get("out", t) if self.min_patch_px > 0 else mask
            assert out is not None
            fill_px = _decided(store, "holes", t, fill, False)
            final = out | fill_px
            filled = int(np.count_nonzero(fill_px))
        else:
            out = final = self._out(store, t, keep)
        if self.min_patch_px > 0:
            removed = int(np.count_nonzero(mask)) - int(np.count_nonzero(out))
        if self.code_by != "patch":
            store.put("final", t, final)
            empty = np.zeros(0, np.int32)
            none = np.zeros((0, 1), np.int64)
            return TileEdges(empty, none, empty, empty, empty, empty, removed, filled)

        def votes(lab: np.ndarray, n: int) -> np.ndarray:
            return self._votes(store, t, lab, n)

        e = self._sweep(store, "final", t, final, None, votes, self.decide_code, self.connectivity)
        return replace(e, removed_px=removed, filled_px=filled)

    def _votes(self, store: TileStore, t: int, lab: np.ndarray, n: int) -> np.ndarray:
        """Per final patch ``0..n`` of tile ``t``, its pixels voting for each code."""
        k = max(len(self.order), 1)
        vote_bits = [(i, self.order.index(c)) for i, c in enumerate(self.bit_codes) if c]
        if n == 0 or not vote_bits:
            return np.zeros((n + 1, k), np.int64)
        bit = np.array([i for i, _ in vote_bits], np.int64)
        slot = np.array([j for _, j in vote_bits], np.int64)
        return label_votes(lab, self._bits(store, t), n, bit, slot, k)

    def _sweep3_relabel(
        self, store: TileStore, t: int, keep: BorderValues, fill: BorderValues
    ) -> TileEdges:
        """Sweep 3 numbering the final patches from sweeps 1 and 2 (:attr:`relabel`)."""
        lab1, keep_lut = _decisions(store, "patches", t, keep, False)
        lab2 = fill_lut = None
        if self.max_hole_px > 0:
            lab2, fill_lut = _decisions(store, "holes", t, fill, False)
        lab, n, removed, filled = final_labels(lab1, keep_lut, lab2, fill_lut)
        st = self._votes(store, t, lab, n)
        store.put("final:lab", t, _small_labels(lab, n))
        store.put("final:lut", t, self.decide_code(st))
        return replace(edges_of(lab, st, None), removed_px=removed, filled_px=filled)

    def red(self, store: TileStore, t: int, codes: BorderValues) -> np.ndarray:
        """uint8 red-line codes of tile ``t``."""
        if self.code_by == "patch":
            return _decided(store, "final", t, codes, 0)
        final = store.get("final", t)
        assert final is not None
        bits = self._bits(store, t)
        red = np.where(final, pixel_codes(bits, list(self.bit_codes), self.fallback), 0)
        red = red.astype(np.uint8)
        red[final & (red == 0)] = self.fallback
        return red


#: ``mapper(function, items)`` yields ``function(item)`` for each item, in order; the default
#: runs here, :mod:`geoeco.zoning.overlay.distributed` passes one that runs them on an engine.
Mapper = Callable[[Callable[[Any], Any], Iterable[Any]], Iterator[Any]]


def _local_map(fn: Callable[[Any], Any], items: Iterable[Any]) -> Iterator[Any]:
    return (fn(i) for i in items)


def _thread_map(threads: int) -> Mapper:
    """A :data:`Mapper` running the items on ``threads`` threads (results in order; on an
    error the items not started are dropped)."""

    def run(fn: Callable[[Any], Any], items: Iterable[Any]) -> Iterator[Any]:
        from concurrent.futures import ThreadPoolExecutor

        pool = ThreadPoolExecutor(threads, thread_name_prefix="geoeco-sweep")
        try:
            yield from pool.map(fn, items)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    return run


class LockedStore:
    """A :class:`~geoeco.core.tile_store.TileStore` used from several threads: one call at a
    time (the spool file has one read/write position)."""

    def __init__(self, store: TileStore) -> None:
        self._store = store
        self._lock = threading.Lock()

    def put(self, key: str, index: int, array: np.ndarray) -> None:
        """Store ``array`` under ``(key, index)``."""
        with self._lock:
            self._store.put(key, index, array)

    def get(self, key: str, index: int) -> np.ndarray | None:
        """The array stored under ``(key, index)``, or ``None``."""
        with self._lock:
            return self._store.get(key, index)


class TiledRedline:
    """The red line after patch clean-up and coding, computed tile by tile.

    Built by :func:`tiled_redline`; :meth:`red` gives one tile's codes and :attr:`stats` the
    removed and filled pixel counts, identical to :func:`~geoeco.zoning.patches.grid.clean_patches`
    +
    :func:`~geoeco.zoning.patches.grid.patch_codes` on the whole grid. ``defer=True``: tiles come
    through
    :meth:`add_tile` (or their sweep-1 records through :meth:`add_edges`), then :meth:`finish`.
    """

    def __init__(
        self,
        shape: tuple[int, int],
        tile_size: int,
        store: TileStore,
        bit_codes: list[int | None],
        *,
        fallback: int,
        min_patch_px: float,
        max_hole_px: float,
        connectivity: Literal[4, 8],
        code_by: Literal["patch", "pixel"],
        defer: bool = False,
    ) -> None:
        self.shape, self.store = shape, store
        self.ops = TileOps(
            shape,
            tile_size,
            tuple(bit_codes),
            fallback,
            min_patch_px,
            max_hole_px,
            connectivity,
            code_by,
        )
        self.tiles = tile_windows(shape, tile_size)
        self._index = {w: i for i, w in enumerate(self.tiles)}
        self._keep = Joiner(shape, self.tiles, connectivity)
        self._holes = Joiner(shape, self.tiles, 12 - connectivity)
        self._final = Joiner(shape, self.tiles, connectivity)
        self.stats = {"removed_px": 0, "filled_px": 0}
        if defer:
            return
        for t in range(len(self.tiles)):
            self.add_edges(t, self.ops.sweep1(store, t))
        self.finish()

    def add_tile(self, t: int, bits: np.ndarray, barrier: np.ndarray | None = None) -> None:
        """Store tile ``t``'s reason bits (and barrier) and run sweep 1 on it (``defer=True``).

        Tiles must come in the order of :attr:`tiles`; :meth:`finish` then runs the rest.
        """
        if t != self._keep._next:
            raise ValueError(f"tiles must come in order: expected {self._keep._next}, got {t}")
        self.store.put("bits", t, bits)
        if barrier is not None:
            self.store.put("barrier", t, barrier)
        self.add_edges(t, self.ops.sweep1(self.store, t))

    def add_edges(self, t: int, edges: TileEdges | None) -> None:
        """Join the sweep-1 record of tile ``t`` (computed here or by a worker)."""
        if self.ops.min_patch_px > 0:
            assert edges is not None
            self._keep.add(t, edges)
        elif t != self._keep._next:
            raise ValueError(f"tiles must come in order: expected {self._keep._next}, got {t}")
        else:
            self._keep._next += 1

    def finish(self, mapper: Mapper = _local_map, *, threads: int = 1) -> TiledRedline:
        """Resolve sweep 1, then run sweeps 2 and 3 (each tile through ``mapper``, or with
        ``threads`` > 1 on that many threads here: the per-tile work is numba and numpy
        without the GIL, the store is used one call at a time)."""
        ops, store, n = self.ops, self.store, len(self.tiles)
        if threads > 1 and mapper is _local_map:
            mapper, store = _thread_map(threads), LockedStore(store)
        if ops.min_patch_px > 0:
            self._keep.end(ops.decide_keep)
        elif self._keep._next != n:
            raise ValueError(f"{n - self._keep._next} tile(s) never added")
        keep = self.keep_values
        if ops.max_hole_px > 0:
            items = ((ops, store, t, keep(t)) for t in range(n))
            for t, e in enumerate(mapper(_sweep2_task, items)):
                self._holes.add(t, e, open_col=1)
            self._holes.end(ops.decide_fill, open_col=1)
        fill = self.fill_values
        items3 = ((ops, store, t, keep(t), fill(t)) for t in range(n))
        for t, e in enumerate(mapper(_sweep3_task, items3)):
            self.stats["removed_px"] += e.removed_px
            self.stats["filled_px"] += e.filled_px
            if ops.code_by == "patch":
                self._final.add(t, e)
        if ops.code_by == "patch":
            self._final.end(ops.decide_code)
        return self

    def keep_values(self, t: int) -> BorderValues:
        """Sweep 1's decisions for tile ``t``'s edge labels."""
        return self._keep.values(t) if self.ops.min_patch_px > 0 else None

    def fill_values(self, t: int) -> BorderValues:
        """Sweep 2's decisions for tile ``t``'s edge labels."""
        return self._holes.values(t) if self.ops.max_hole_px > 0 else None

    def code_values(self, t: int) -> BorderValues:
        """What :meth:`TileOps.red` needs for tile ``t`` besides the store."""
        return self._final.values(t) if self.ops.code_by == "patch" else None

    def red(self, window: Window) -> np.ndarray:
        """uint8 red-line codes of one tile (``window`` must be one of :attr:`tiles`)."""
        r0, c0, h, w = window  # a list works too
        t = self._index[(r0, c0, h, w)]
        return self.ops.red(self.store, t, self.code_values(t))

    def final_mask(self, window: Window) -> np.ndarray:
        """The cleaned red-line mask of one tile."""
        mask: np.ndarray = self.red(window) != 0
        return mask


def _sweep2_task(item: tuple[TileOps, TileStore, int, BorderValues]) -> TileEdges:
    ops, store, t, keep = item
    e = ops.sweep2(store, t, keep)
    assert e is not None
    return e


def _sweep3_task(item: tuple[TileOps, TileStore, int, BorderValues, BorderValues]) -> TileEdges:
    ops, store, t, keep, fill = item
    return ops.sweep3(store, t, keep, fill)


def tiled_redline(
    shape: tuple[int, int],
    tile_size: int,
    store: TileStore,
    bit_codes: list[int | None],
    *,
    fallback: int,
    min_patch_px: float = 0,
    max_hole_px: float = 0,
    connectivity: Literal[4, 8] = 8,
    code_by: Literal["patch", "pixel"] = "patch",
) -> TiledRedline:
    """Patch clean-up and coding tile by tile, with memory bounded by the tile size.

    ``store`` must hold, for every tile ``t`` of :func:`~geoeco.zoning.patches.grid.tile_windows`
    ``(shape, tile_size)``, the reason bitmask ``"bits"`` (uint16) and optionally the candidate
    ``"mask"`` (default ``bits != 0``) and ``"barrier"`` (e.g. outside the AOI). The result
    equals :func:`~geoeco.zoning.patches.grid.clean_patches` then
    :func:`~geoeco.zoning.patches.grid.patch_codes` (or
    per-pixel codes) on the whole grid.

    Method: each sweep labels every tile on its own (``scipy.ndimage.label``, same
    connectivity) and sums per-label statistics; only labels touching the tile's edge get a
    global id, and the labels facing each other across every tile boundary (diagonals too
    for 8-connectivity) are joined as graph edges, resolved by
    ``scipy.sparse.csgraph.connected_components``. Sweep 1 sums patch sizes; sweep 2 labels
    the background left after dropping small patches (hole size; open when it touches the
    grid edge or a barrier, across tile boundaries too); sweep 3 finds the final patches and
    sums the votes per code. For 8-connected patches coded per patch, sweep 3 does not label
    again: it joins the kept sweep-1 patches and filled sweep-2 holes that touch by a side
    (:mod:`geoeco.zoning.patches.relabel` says why that gives the same patches). Each sweep
    stores its tile labels and local decisions in ``store``, so :meth:`TiledRedline.red` only
    looks codes up. Memory: a few tile-sized arrays plus a few
    numbers per label touching a tile edge; ``store`` receives up to ~6 bytes per pixel.

    >>> bits = np.zeros((5, 6), np.uint16); bits[:4, :4] = 1; bits[1:3, 1:3] = 0
    >>> bits[0, 3] = bits[1, 3] = 2; bits[4, 5] = 1      # two pixels vote for the 2nd code
    >>> s = MemoryTileStore()
    >>> for t, (r, c, h, w) in enumerate(tile_windows(bits.shape, 2)):
    ...     s.put("bits", t, bits[r:r + h, c:c + w])
    >>> tr = tiled_redline(bits.shape, 2, s, [11, 21], fallback=12, min_patch_px=2,
    ...                    max_hole_px=4)
    >>> tr.stats
    {'removed_px': 1, 'filled_px': 4}
    >>> tr.red((0, 0, 2, 2)).tolist(), tr.red((4, 4, 1, 2)).tolist()
    ([[11, 11], [11, 11]], [[0, 0]])
    """
    return TiledRedline(
        shape,
        tile_size,
        store,
        bit_codes,
        fallback=fallback,
        min_patch_px=min_patch_px,
        max_hole_px=max_hole_px,
        connectivity=connectivity,
        code_by=code_by,
    )


def _store_tiles(
    tile_size: int,
    bits: np.ndarray,
    mask: np.ndarray | None = None,
    barrier: np.ndarray | None = None,
) -> MemoryTileStore:
    store = MemoryTileStore()
    for t, (r, c, h, w) in enumerate(tile_windows(bits.shape, tile_size)):
        sl = (slice(r, r + h), slice(c, c + w))
        store.put("bits", t, bits[sl])
        if mask is not None:
            store.put("mask", t, mask[sl])
        if barrier is not None:
            store.put("barrier", t, barrier[sl])
    return store


def _assemble(tr: TiledRedline, get: Callable[[int, Window], np.ndarray]) -> np.ndarray:
    out = np.zeros(tr.shape, np.uint8)
    for t, (r, c, h, w) in enumerate(tr.tiles):
        out[r : r + h, c : c + w] = get(t, (r, c, h, w))
    return out


def clean_patches_tiled(
    mask: np.ndarray,
    tile_size: int,
    *,
    min_patch_px: float = 0,
    max_hole_px: float = 0,
    connectivity: Literal[4, 8] = 8,
    barrier: np.ndarray | None = None,
) -> tuple[np.ndarray, dict[str, int]]:
    """:func:`~geoeco.zoning.patches.grid.clean_patches` computed tile by tile (the whole-array
    form, for
    checking).

    >>> m = np.zeros((6, 6), bool); m[:4, :4] = True; m[1:3, 1:3] = False; m[5, 5] = True
    >>> out, stats = clean_patches_tiled(m, 3, min_patch_px=2, max_hole_px=4)
    >>> int(out.sum()), stats
    (16, {'removed_px': 1, 'filled_px': 4})
    """
    mask = np.asarray(mask, bool)
    store = _store_tiles(tile_size, mask.astype(np.uint16), None, barrier)
    tr = tiled_redline(
        mask.shape,
        tile_size,
        store,
        [],
        fallback=1,
        min_patch_px=min_patch_px,
        max_hole_px=max_hole_px,
        connectivity=connectivity,
        code_by="pixel",
    )
    out = _assemble(tr, lambda t, w: tr.final_mask(w)).astype(bool)
    return out, dict(tr.stats)


def patch_codes_tiled(
    mask: np.ndarray,
    bits: np.ndarray,
    bit_codes: list[int | None],
    tile_size: int,
    *,
    fallback: int,
    connectivity: Literal[4, 8] = 8,
) -> np.ndarray:
    """:func:`~geoeco.zoning.patches.grid.patch_codes` computed tile by tile (the whole-array form,
    for
    checking).

    >>> m = np.array([[1, 1, 1, 0, 1]], bool)
    >>> b = np.array([[2, 3, 2, 0, 4]], np.uint16)
    >>> patch_codes_tiled(m, b, [11, 13, None], 1, fallback=12).tolist()
    [[13, 13, 13, 0, 12]]
    """
    mask = np.asarray(mask, bool)
    store = _store_tiles(tile_size, np.asarray(bits, np.uint16), mask)
    tr = tiled_redline(
        mask.shape, tile_size, store, bit_codes, fallback=fallback, connectivity=connectivity
    )
    return _assemble(tr, lambda t, w: tr.red(w))


__all__ = [
    "TileOps",
    "TiledRedline",
    "clean_patches_tiled",
    "patch_codes_tiled",
    "tiled_redline",
]
