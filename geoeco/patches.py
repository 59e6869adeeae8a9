"""Red-line patch clean-up: on whole-grid boolean masks, and tile by tile in bounded memory.

The red line of :mod:`geoeco.overlay` is cleaned patch by patch: patches smaller than the rule
set's ``min_patch_km2`` are dropped and holes up to ``max_hole_km2`` are filled
(:func:`clean_patches`), then each patch gets the LXBM type code most of its pixels qualify for
(:func:`patch_codes`) or, with ``code_by = "pixel"``, each pixel its own.
Patches are connected components (``scipy.ndimage.label``); holes use the other connectivity,
so 8-connected patches have 4-connected holes and a diagonal gap does not leak.

:func:`clean_patches` and :func:`patch_codes` label the whole array at once (the reference).
:func:`tiled_redline` computes exactly the same result tile by tile with windowed connected
components, keeping per-tile arrays in a :class:`TileStore` (:class:`SpoolTileStore`: an
anonymous temporary file) so memory does not grow with the grid;
:func:`clean_patches_tiled` and :func:`patch_codes_tiled` are its whole-array forms, used to
check it against the reference.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import numpy as np
from numba import njit

from .rules import RuleSet


def _structure(connectivity: int) -> np.ndarray:
    return (
        np.ones((3, 3), bool)
        if connectivity == 8
        else np.array([[0, 1, 0], [1, 1, 1], [0, 1, 0]], bool)
    )


def clean_patches(
    mask: np.ndarray,
    *,
    min_patch_px: float = 0,
    max_hole_px: float = 0,
    connectivity: Literal[4, 8] = 8,
    barrier: np.ndarray | None = None,
) -> tuple[np.ndarray, dict[str, int]]:
    """Drop patches smaller than ``min_patch_px`` pixels, then fill holes up to ``max_hole_px``.

    Patches use ``connectivity``; holes (background) use the other one (4 for 8-connected
    patches), so a diagonal gap does not leak. A hole is background that touches neither the
    grid edge nor a ``barrier`` pixel (e.g. outside the AOI). Returns the new mask and counts
    of removed and filled pixels.

    >>> m = np.zeros((6, 6), bool); m[:4, :4] = True; m[1:3, 1:3] = False; m[5, 5] = True
    >>> out, stats = clean_patches(m, min_patch_px=2, max_hole_px=4)
    >>> int(out.sum()), stats
    (16, {'removed_px': 1, 'filled_px': 4})
    """
    from scipy import ndimage

    mask = np.asarray(mask, bool)
    out = mask.copy()
    removed = filled = 0
    if min_patch_px > 0 and out.any():
        lab, n = ndimage.label(out, structure=_structure(connectivity))
        size = np.bincount(lab.ravel(), minlength=n + 1)
        small = size < min_patch_px - 1e-9
        small[0] = False
        drop = small[lab]
        removed = int(drop.sum())
        out &= ~drop
    if max_hole_px > 0:
        bar = np.zeros(mask.shape, bool) if barrier is None else np.asarray(barrier, bool)
        back = ~out & ~bar
        s = _structure(12 - connectivity)
        lab, n = ndimage.label(back, structure=s)
        if n:
            size = np.bincount(lab.ravel(), minlength=n + 1)
            open_ = np.zeros(n + 1, bool)
            open_[0] = True
            for edge in (lab[0], lab[-1], lab[:, 0], lab[:, -1]):
                open_[edge] = True
            if bar.any():
                open_[lab[ndimage.binary_dilation(bar, structure=s) & back]] = True
            hole = ~open_ & (size <= max_hole_px + 1e-9)
            fill = hole[lab]
            filled = int(fill.sum())
            out |= fill
    return out, {"removed_px": removed, "filled_px": filled}


def patch_codes(
    mask: np.ndarray,
    bits: np.ndarray,
    bit_codes: list[int | None],
    *,
    fallback: int,
    connectivity: Literal[4, 8] = 8,
) -> np.ndarray:
    """Type code of each patch of ``mask``: the code whose bits cover most of the patch.

    ``bit_codes[i]`` is the code bit ``i`` votes for (``None``: the bit does not vote). A pixel
    votes for every code it qualifies for; ties go to the code listed first; patches without a
    vote get ``fallback``. Returns uint8, 0 outside the mask.

    >>> m = np.array([[1, 1, 1, 0, 1]], bool)
    >>> b = np.array([[2, 3, 2, 0, 4]], np.uint16)   # bit0 -> 11, bit1 -> 13, bit2 protected
    >>> patch_codes(m, b, [11, 13, None], fallback=12).tolist()
    [[13, 13, 13, 0, 12]]
    """
    from scipy import ndimage

    lab, n = ndimage.label(np.asarray(mask, bool), structure=_structure(connectivity))
    order: list[int] = []
    for c in bit_codes:
        if c is not None and c not in order:
            order.append(c)
    votes = np.zeros((max(len(order), 1), n + 1), np.int64)
    flat_lab, flat_bits = lab.ravel(), bits.ravel()
    inside = flat_lab > 0
    for i, c in enumerate(bit_codes):
        if c is None:
            continue
        sel = inside & ((flat_bits >> np.uint16(i)) & 1).astype(bool)
        votes[order.index(c)] += np.bincount(flat_lab[sel], minlength=n + 1)
    lut = np.zeros(n + 1, np.uint8)
    if order:
        best = np.argmax(votes, axis=0)
        lut[:] = np.array(order, np.uint8)[best]
        lut[votes.max(axis=0) == 0] = fallback
    else:
        lut[:] = fallback
    lut[0] = 0
    return lut[lab]


def _bit_codes(rs: RuleSet) -> list[int | None]:
    codes: list[int | None] = [r.code for r in rs.redline.reasons]
    codes.append(rs.redline.protected.code if rs.redline.protected.mode == "fixed" else None)
    return codes


def _pixel_codes(bits: np.ndarray, bit_codes: list[int | None], fallback: int) -> np.ndarray:
    """Per-pixel code: the first voting bit set, else ``fallback`` where any bit is set."""
    out = np.where(bits != 0, np.uint8(fallback), np.uint8(0))
    for i in reversed(range(len(bit_codes))):
        c = bit_codes[i]
        if c is not None:
            out = np.where(((bits >> np.uint16(i)) & 1).astype(bool), np.uint8(c), out)
    return out


# ------------------------------------------------------------------------------------------
# the same, tile by tile with bounded memory
# ------------------------------------------------------------------------------------------

Window = tuple[int, int, int, int]


def tile_windows(shape: tuple[int, int], size: int) -> list[Window]:
    """``(row_off, col_off, height, width)`` tiles of at most ``size`` a side, row by row.

    The same order as :meth:`geoeco.raster.Grid.blocks`.

    >>> tile_windows((3, 3), 2)
    [(0, 0, 2, 2), (0, 2, 2, 1), (2, 0, 1, 2), (2, 2, 1, 1)]
    """
    if size < 1:
        raise ValueError(f"tile size must be at least 1, got {size}")
    h, w = shape
    return [
        (r, c, min(size, h - r), min(size, w - c))
        for r in range(0, h, size)
        for c in range(0, w, size)
    ]


class TileStore(Protocol):
    """Where the tiled patch stage keeps per-tile arrays between sweeps."""

    def put(self, key: str, index: int, array: np.ndarray) -> None:
        """Keep ``array`` as ``(key, index)`` (replacing nothing: each pair is written once)."""

    def get(self, key: str, index: int) -> np.ndarray | None:
        """The array stored as ``(key, index)``, or ``None``."""


class MemoryTileStore:
    """A :class:`TileStore` in memory (tests, small grids).

    >>> s = MemoryTileStore(); s.put("bits", 0, np.ones((2, 2), np.uint16))
    >>> s.get("bits", 0).sum(), s.get("final", 0)
    (np.uint64(4), None)
    """

    def __init__(self) -> None:
        self._d: dict[tuple[str, int], np.ndarray] = {}

    def put(self, key: str, index: int, array: np.ndarray) -> None:
        """Keep a copy of ``array``."""
        self._d[key, index] = np.array(array, copy=True)

    def get(self, key: str, index: int) -> np.ndarray | None:
        """The stored array or ``None``."""
        return self._d.get((key, index))


class SpoolTileStore:
    """A :class:`TileStore` spooled to one anonymous temporary file (deleted on :meth:`close`).

    Arrays are appended as raw bytes (booleans bit-packed) and read back with plain file reads,
    not a memory map, so they never count towards the process's resident memory; only an
    index of offsets (a few numbers per tile) stays in memory.

    >>> with SpoolTileStore() as s:
    ...     s.put("m", 3, np.array([[True, False, True]]))
    ...     s.get("m", 3).tolist()
    [[True, False, True]]
    """

    def __init__(self, directory: str | os.PathLike[str] | None = None) -> None:
        self._f = tempfile.TemporaryFile(prefix="geoeco-patches-", dir=directory)
        self._index: dict[tuple[str, int], tuple[int, np.dtype, tuple[int, ...]]] = {}
        self._end = 0

    def put(self, key: str, index: int, array: np.ndarray) -> None:
        """Append ``array`` to the file."""
        a = np.asarray(array)
        raw = np.packbits(a, axis=None) if a.dtype.kind == "b" else np.ascontiguousarray(a)
        self._f.seek(self._end)
        self._f.write(memoryview(raw).cast("B"))
        self._index[key, index] = (self._end, a.dtype, a.shape)
        self._end += raw.nbytes

    def get(self, key: str, index: int) -> np.ndarray | None:
        """Read an array back (``None`` if never stored)."""
        if (key, index) not in self._index:
            return None
        off, dtype, shape = self._index[key, index]
        count = int(np.prod(shape))
        packed = dtype.kind == "b"
        buf = np.empty((count + 7) // 8 if packed else count, np.uint8 if packed else dtype)
        self._f.seek(off)
        self._f.readinto(memoryview(buf).cast("B"))
        if packed:
            return np.unpackbits(buf, count=count).view(bool).reshape(shape)
        return buf.reshape(shape)

    @property
    def nbytes(self) -> int:
        """Bytes written to the spool file so far."""
        return self._end

    def close(self) -> None:
        """Close and delete the spool file."""
        self._f.close()

    def __enter__(self) -> SpoolTileStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@njit(cache=True, nogil=True)
def _label_sizes(lab: np.ndarray, n: int) -> np.ndarray:  # pragma: no cover - numba
    """Pixels per label ``0..n`` (``np.bincount`` in one pass)."""
    out = np.zeros(n + 1, np.int64)
    h, w = lab.shape
    for y in range(h):
        for x in range(w):
            out[lab[y, x]] += 1
    return out


@njit(cache=True, nogil=True)
def _label_votes(
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


@dataclass
class _Components:
    """One windowed labelling: the tiles' border labels joined into grid-wide components.

    Labels that do not touch their tile's edge are whole inside the tile and decided there;
    only border labels get a global id (``base[t] + position in border[t]``).
    """

    border: list[np.ndarray]
    base: list[int]
    comp: np.ndarray  # global id -> component
    value: np.ndarray  # component -> decision


def _line_ids(line: np.ndarray, border: np.ndarray, base: int) -> np.ndarray:
    """Global ids of a tile edge's labels; -1 where background."""
    out = np.full(line.shape, -1, np.int64)
    fg = line > 0
    out[fg] = base + np.searchsorted(border, line[fg])
    return out


def _boundary_pairs(
    a: np.ndarray, b: np.ndarray, offsets: tuple[int, ...], start: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Pairs ``(a[i + start + d], b[i])`` across a tile boundary, for each offset ``d``."""
    idx = np.arange(len(b)) + start
    xs, ys = [], []
    for d in offsets:
        j = idx + d
        ok = (j >= 0) & (j < len(a))
        xs.append(a[j[ok]])
        ys.append(b[ok])
    return np.concatenate(xs), np.concatenate(ys)


def _small_labels(lab: np.ndarray, n: int) -> np.ndarray:
    return lab.astype(np.uint16) if n < 65536 else lab


class _Labeller:
    """One windowed connected-component sweep over the tiles (see :func:`tiled_redline`).

    :meth:`run` takes ``fg(t)``, the tile's foreground (and, for holes, the barrier),
    ``stats(t, lab, n, barrier)``, per-label statistics ``(n + 1, k)`` int64 that add up
    across tiles (column ``open_col``, if any, is a flag: a component is open when any part
    is), and ``decide``, statistics → decision per label or component. It spools each tile's
    labels and local decisions under ``name``, so :meth:`decision` never labels again.
    """

    def __init__(
        self,
        name: str,
        shape: tuple[int, int],
        tiles: list[Window],
        connectivity: int,
        store: TileStore,
    ) -> None:
        self.name, self.shape, self.tiles, self.store = name, shape, tiles, store
        self.structure = _structure(connectivity)
        self.offsets = (-1, 0, 1) if connectivity == 8 else (0,)
        self.components: _Components | None = None
        self._buffers: dict[tuple[int, ...], np.ndarray] = {}  # label output, by tile shape

    def label(self, fg: np.ndarray) -> tuple[np.ndarray, int]:
        """Local labels of one tile (int32, in a buffer reused by the next call)."""
        from scipy import ndimage

        lab = self._buffers.get(fg.shape)
        if lab is None:
            lab = self._buffers[fg.shape] = np.empty(fg.shape, np.int32)
        if not fg.any():
            lab.fill(0)
            return lab, 0
        n = ndimage.label(fg, structure=self.structure, output=lab)
        return lab, int(n)

    def run(
        self,
        fg: Callable[[int], tuple[np.ndarray, np.ndarray | None]],
        stats: Callable[[int, np.ndarray, int, np.ndarray | None], np.ndarray],
        decide: Callable[[np.ndarray], np.ndarray],
        *,
        open_col: int | None = None,
    ) -> None:
        """One pass over the tiles, then resolve the components."""
        self.begin()
        for t in range(len(self.tiles)):
            f, bar = fg(t)
            self.add(t, f, bar, stats, decide, open_col=open_col)
        self.end(decide, open_col=open_col)

    def begin(self) -> None:
        """Start a sweep; tiles then come through :meth:`add` in order, then :meth:`end`."""
        self._next = 0
        self._border: list[np.ndarray] = []
        self._base: list[int] = []
        self._rows: list[np.ndarray] = []
        self._xs: list[np.ndarray] = []
        self._ys: list[np.ndarray] = []
        self._opened: list[np.ndarray] = []
        self._nglob = 0
        self._prev_bottom: np.ndarray | None = None
        self._cur_bottom = np.full(self.shape[1], -1, np.int64)
        self._left: np.ndarray | None = None

    def add(
        self,
        t: int,
        f: np.ndarray,
        bar: np.ndarray | None,
        stats: Callable[[int, np.ndarray, int, np.ndarray | None], np.ndarray],
        decide: Callable[[np.ndarray], np.ndarray],
        *,
        open_col: int | None = None,
    ) -> None:
        """Label tile ``t`` (foreground ``f``, optional barrier ``bar``) and keep its edges."""
        if t != self._next:
            raise ValueError(f"tiles must come in order: expected {self._next}, got {t}")
        self._next += 1
        r0, c0, _h, w = self.tiles[t]
        if c0 == 0:
            self._left = None
            if r0 > 0:
                self._prev_bottom = self._cur_bottom
                self._cur_bottom = np.full(self.shape[1], -1, np.int64)
        lab, n = self.label(f)
        st = stats(t, lab, n, bar)
        self.store.put(self.name + ":lab", t, _small_labels(lab, n))
        self.store.put(self.name + ":lut", t, decide(st))
        nglob = self._nglob
        edge = np.concatenate((lab[0], lab[-1], lab[:, 0], lab[:, -1]))
        b = np.unique(edge)
        b = b[b > 0]
        self._border.append(b)
        self._base.append(nglob)
        self._rows.append(st[b])
        lines = [_line_ids(x, b, nglob) for x in (lab[0], lab[-1], lab[:, 0], lab[:, -1])]
        if bar is not None:
            for x, bl in zip(lines, (bar[0], bar[-1], bar[:, 0], bar[:, -1]), strict=True):
                x[bl] = -2
        top, bottom, lcol, rcol = lines
        pairs = []
        if self._left is not None:
            pairs.append(_boundary_pairs(self._left, lcol, self.offsets))
        if self._prev_bottom is not None:
            pairs.append(_boundary_pairs(self._prev_bottom, top, self.offsets, start=c0))
        for x, y in pairs:
            both = (x >= 0) & (y >= 0)
            self._xs.append(x[both])
            self._ys.append(y[both])
            if open_col is not None:
                self._opened.append(y[(x == -2) & (y >= 0)])
                self._opened.append(x[(y == -2) & (x >= 0)])
        self._cur_bottom[c0 : c0 + w] = bottom
        self._left = rcol
        self._nglob += len(b)

    def end(
        self, decide: Callable[[np.ndarray], np.ndarray], *, open_col: int | None = None
    ) -> None:
        """Join the tiles' border labels into components and decide each component."""
        from scipy.sparse import coo_matrix
        from scipy.sparse.csgraph import connected_components

        if self._next != len(self.tiles):
            raise ValueError(f"{len(self.tiles) - self._next} tile(s) never added")
        nglob, xs, ys, opened = self._nglob, self._xs, self._ys, self._opened
        if nglob:
            x = np.concatenate(xs) if xs else np.zeros(0, np.int64)
            y = np.concatenate(ys) if ys else np.zeros(0, np.int64)
            graph = coo_matrix((np.ones(len(x), np.int8), (x, y)), shape=(nglob, nglob))
            ncomp, comp = connected_components(graph, directed=False)
            glob = np.concatenate(self._rows)
            tot = np.stack(
                [
                    np.bincount(comp, weights=glob[:, k], minlength=ncomp)
                    for k in range(glob.shape[1])
                ],
                axis=1,
            ).astype(np.int64)
            if open_col is not None and opened:
                tot[comp[np.concatenate(opened)], open_col] = 1
            value = decide(tot)
        else:
            comp = np.zeros(0, np.int64)
            value = decide(np.zeros((0, 1), np.int64))
        self.components = _Components(self._border, self._base, comp.astype(np.int64), value)
        self._xs, self._ys, self._opened, self._rows = [], [], [], []

    def decision(self, t: int, background: Any = 0) -> np.ndarray:
        """Per pixel of tile ``t``, the decision of its component (``background`` off it)."""
        lab = self.store.get(self.name + ":lab", t)
        lut = self.store.get(self.name + ":lut", t)
        assert lab is not None and lut is not None and self.components is not None
        lut = lut.copy()
        c, b = self.components, self.components.border[t]
        if len(b):
            lut[b] = c.value[c.comp[c.base[t] : c.base[t] + len(b)]]
        lut[0] = background
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


class TiledRedline:
    """The red line after patch clean-up and coding, computed tile by tile.

    Built by :func:`tiled_redline`; :meth:`red` gives one tile's codes and :attr:`stats` the
    removed and filled pixel counts, identical to :func:`clean_patches` + :func:`patch_codes`
    on the whole grid.
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
        self.tiles = tile_windows(shape, tile_size)
        self._index = {w: i for i, w in enumerate(self.tiles)}
        self.bit_codes, self.fallback, self.code_by = bit_codes, fallback, code_by
        self.min_patch_px, self.max_hole_px = min_patch_px, max_hole_px
        self._order: list[int] = []
        for c in bit_codes:
            if c is not None and c not in self._order:
                self._order.append(c)
        self._vote_bits = [(i, self._order.index(c)) for i, c in enumerate(bit_codes) if c]
        hole_conn = 12 - connectivity
        self._small = _Labeller("patches", shape, self.tiles, connectivity, store)
        self._holes = _Labeller("holes", shape, self.tiles, hole_conn, store)
        self._final = _Labeller("final", shape, self.tiles, connectivity, store)
        self.stats = {"removed_px": 0, "filled_px": 0}
        if defer:  # tiles come through add_tile, then finish()
            if min_patch_px > 0:
                self._small.begin()
            return
        if min_patch_px > 0:  # sweep 1: patch sizes
            self._small.run(lambda t: (self._mask(t), None), self._size, self._decide_keep)
        self._sweeps_2_3()

    def add_tile(self, t: int, bits: np.ndarray, barrier: np.ndarray | None = None) -> None:
        """Store tile ``t``'s reason bits (and barrier) and run sweep 1 on it (``defer=True``).

        Tiles must come in the order of :attr:`tiles`; :meth:`finish` then runs the rest.
        """
        self.store.put("bits", t, bits)
        if barrier is not None:
            self.store.put("barrier", t, barrier)
        if self.min_patch_px > 0:
            self._small.add(t, bits != 0, None, self._size, self._decide_keep)

    def finish(self) -> TiledRedline:
        """Complete a deferred build: resolve sweep 1, then run sweeps 2 and 3."""
        if self.min_patch_px > 0:
            self._small.end(self._decide_keep)
        self._sweeps_2_3()
        return self

    def _sweeps_2_3(self) -> None:
        max_hole_px, code_by = self.max_hole_px, self.code_by
        if max_hole_px > 0:  # sweep 2: holes in what is left
            self._holes.run(self._background, self._hole_stats, self._decide_fill, open_col=1)
        # sweep 3: the final mask and, per patch, the votes for each code
        if code_by == "patch":
            self._final.run(self._final_mask, self._votes, self._decide_code)
        else:
            for t in range(len(self.tiles)):
                self.store.put("final", t, self._final_mask(t)[0])

    # -- inputs -------------------------------------------------------------------------
    def _bits(self, t: int) -> np.ndarray:
        bits = self.store.get("bits", t)
        if bits is None:
            raise KeyError(f"tile {t}: no reason bits stored")
        return bits

    def _mask(self, t: int) -> np.ndarray:
        m = self.store.get("mask", t)
        return self._bits(t) != 0 if m is None else m

    # -- sweep 1: patch sizes -----------------------------------------------------------
    @staticmethod
    def _size(t: int, lab: np.ndarray, n: int, bar: object = None) -> np.ndarray:
        return _label_sizes(lab, n)[:, None]

    def _decide_keep(self, st: np.ndarray) -> np.ndarray:
        return ~(st[:, 0] < self.min_patch_px - 1e-9)

    def _out(self, t: int) -> np.ndarray:
        """The tile's mask with small patches dropped."""
        if self.min_patch_px > 0:
            return self._small.decision(t, False)
        return self._mask(t)

    # -- sweep 2: holes -----------------------------------------------------------------
    def _barrier(self, t: int) -> np.ndarray | None:
        return self.store.get("barrier", t)

    def _background(self, t: int) -> tuple[np.ndarray, np.ndarray | None]:
        out = self._out(t)
        if self.min_patch_px > 0:
            self.store.put("out", t, out)  # spares sweep 3 the look-up
        bar = self._barrier(t)
        return (~out if bar is None else ~out & ~bar), bar

    def _hole_stats(self, t: int, lab: np.ndarray, n: int, bar: np.ndarray | None) -> np.ndarray:
        from scipy import ndimage

        st = np.zeros((n + 1, 2), np.int64)
        if n == 0:
            return st
        st[:, 0] = _label_sizes(lab, n)
        st[_edge_labels(lab, self.tiles[t], self.shape), 1] = 1
        if bar is not None and bar.any():
            near = ndimage.binary_dilation(bar, structure=self._holes.structure)
            st[lab[near], 1] = 1
        st[0, 1] = 1
        return st

    def _decide_fill(self, st: np.ndarray) -> np.ndarray:
        if st.shape[1] < 2:
            return np.zeros(len(st), bool)
        return (st[:, 1] == 0) & (st[:, 0] <= self.max_hole_px + 1e-9)

    # -- sweep 3: final mask and dominant codes -------------------------------------------
    def _final_mask(self, t: int) -> tuple[np.ndarray, None]:
        """Final mask of a tile; counts removed and filled pixels."""
        mask = self._mask(t)
        if self.max_hole_px > 0:
            out = self.store.get("out", t) if self.min_patch_px > 0 else mask
            fill = self._holes.decision(t, False)
            final = out | fill
            self.stats["filled_px"] += int(np.count_nonzero(fill))
        else:
            out = final = self._out(t)
        if self.min_patch_px > 0:
            self.stats["removed_px"] += int(np.count_nonzero(mask)) - int(np.count_nonzero(out))
        return final, None

    def _votes(self, t: int, lab: np.ndarray, n: int, bar: object = None) -> np.ndarray:
        k = max(len(self._order), 1)
        if n == 0 or not self._vote_bits:
            return np.zeros((n + 1, k), np.int64)
        bit = np.array([i for i, _ in self._vote_bits], np.int64)
        slot = np.array([j for _, j in self._vote_bits], np.int64)
        return _label_votes(lab, self._bits(t), n, bit, slot, k)

    def _decide_code(self, votes: np.ndarray) -> np.ndarray:
        lut = np.full(len(votes), self.fallback, np.uint8)
        if self._order and len(votes):
            best = np.argmax(votes, axis=1)
            lut[:] = np.array(self._order, np.uint8)[best]
            lut[votes.max(axis=1) == 0] = self.fallback
        return lut

    # -- output -------------------------------------------------------------------------
    def red(self, window: Window) -> np.ndarray:
        """uint8 red-line codes of one tile (``window`` must be one of :attr:`tiles`)."""
        t = self._index[tuple(window)]  # type: ignore[index]
        if self.code_by == "patch":
            return self._final.decision(t, 0)
        final = self.store.get("final", t)
        assert final is not None
        red = np.where(final, _pixel_codes(self._bits(t), self.bit_codes, self.fallback), 0)
        red = red.astype(np.uint8)
        red[final & (red == 0)] = self.fallback
        return red

    def final_mask(self, window: Window) -> np.ndarray:
        """The cleaned red-line mask of one tile."""
        return self.red(window) != 0


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

    ``store`` must hold, for every tile ``t`` of :func:`tile_windows` ``(shape, tile_size)``,
    the reason bitmask ``"bits"`` (uint16) and optionally the candidate ``"mask"`` (default
    ``bits != 0``) and ``"barrier"`` (e.g. outside the AOI). The result equals
    :func:`clean_patches` then :func:`patch_codes` (or per-pixel codes) on the whole grid.

    Method: each sweep labels every tile on its own (``scipy.ndimage.label``, same
    connectivity) and sums per-label statistics; only labels touching the tile's edge get a
    global id, and the labels facing each other across every tile boundary (diagonals too
    for 8-connectivity) are joined as graph edges, resolved by
    ``scipy.sparse.csgraph.connected_components``. Sweep 1 sums patch sizes; sweep 2 labels
    the background left after dropping small patches (hole size; open when it touches the
    grid edge or a barrier, across tile boundaries too); sweep 3 labels the final mask and sums
    the votes per code. Each sweep stores its tile labels and local decisions in ``store``, so
    :meth:`TiledRedline.red` only looks codes up. Memory: a few tile-sized arrays plus a few
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
    """:func:`clean_patches` computed tile by tile (the whole-array form, for checking).

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
    """:func:`patch_codes` computed tile by tile (the whole-array form, for checking).

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
    "MemoryTileStore",
    "SpoolTileStore",
    "TileStore",
    "TiledRedline",
    "clean_patches",
    "clean_patches_tiled",
    "patch_codes",
    "patch_codes_tiled",
    "tile_windows",
    "tiled_redline",
]
