"""The join of the tiled patch stage: per-tile edge records into grid-wide components.

Each sweep of :mod:`geoeco.zoning.patches.tiled` labels every tile on its own and passes on only a
:class:`TileEdges` record (:func:`edges_of`). :class:`Joiner` takes the records in tile order,
links the labels facing each other across every tile boundary (diagonals too for
8-connectivity), resolves them with ``scipy.sparse.csgraph.connected_components``, sums their
statistics per component and decides each component. :meth:`Joiner.values` then gives a tile
the decisions of its own edge labels (:data:`BorderValues`) for the next sweep.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .grid import Window

#: A tile's edge labels and their component decisions; ``None`` when the sweep did not run.
BorderValues = tuple[np.ndarray, np.ndarray] | None


@dataclass(frozen=True)
class TileEdges:
    """What one tile's labelling passes on to the join (a few kB, whatever the tile size).

    ``border``: the tile's labels touching its edge (sorted); ``rows``: their statistics;
    ``top``/``bottom``/``left``/``right``: along each edge line, the position of the pixel's
    label in ``border``, -1 on background, -2 on a barrier pixel. ``removed_px`` and
    ``filled_px`` count the tile's pixel changes (final sweep only).
    """

    border: np.ndarray
    rows: np.ndarray
    top: np.ndarray
    bottom: np.ndarray
    left: np.ndarray
    right: np.ndarray
    removed_px: int = 0
    filled_px: int = 0


def edges_of(lab: np.ndarray, st: np.ndarray, bar: np.ndarray | None) -> TileEdges:
    """The :class:`TileEdges` of one labelled tile (``st``: per-label statistics, ``bar``:
    barrier pixels, marked -2 on the edge lines).

    >>> lab = np.array([[1, 0, 2], [0, 0, 0], [3, 0, 0]], np.int32)
    >>> e = edges_of(lab, np.array([[0], [1], [1], [1]]), None)
    >>> e.border.tolist(), e.top.tolist(), e.left.tolist()
    ([1, 2, 3], [0, -1, 1], [0, -1, 2])
    """
    lines = (lab[0], lab[-1], lab[:, 0], lab[:, -1])
    b = np.unique(np.concatenate(lines))
    b = b[b > 0]
    pos = []
    for x in lines:
        out = np.full(x.shape, -1, np.int32)
        fg = x > 0
        out[fg] = np.searchsorted(b, x[fg])
        pos.append(out)
    if bar is not None:
        for x, bl in zip(pos, (bar[0], bar[-1], bar[:, 0], bar[:, -1]), strict=True):
            x[bl] = -2
    top, bottom, left, right = pos
    return TileEdges(b, st[b], top, bottom, left, right)


class Joiner:
    """One sweep's join: tiles' :class:`TileEdges` in tile order → grid-wide components."""

    def __init__(self, shape: tuple[int, int], tiles: list[Window], connectivity: int) -> None:
        self.shape, self.tiles = shape, tiles
        self.offsets = (-1, 0, 1) if connectivity == 8 else (0,)
        self._next = 0
        self._border: list[np.ndarray] = []
        self._base: list[int] = []
        self._rows: list[np.ndarray] = []
        self._xs: list[np.ndarray] = []
        self._ys: list[np.ndarray] = []
        self._opened: list[np.ndarray] = []
        self._nglob = 0
        self._prev_bottom: np.ndarray | None = None
        self._cur_bottom = np.full(shape[1], -1, np.int64)
        self._left: np.ndarray | None = None
        self._comp: np.ndarray | None = None
        self._value: np.ndarray | None = None

    def add(self, t: int, e: TileEdges, *, open_col: int | None = None) -> None:
        """Join tile ``t``'s edges with those of its left and upper neighbours."""
        if t != self._next:
            raise ValueError(f"tiles must come in order: expected {self._next}, got {t}")
        self._next += 1
        r0, c0, _h, w = self.tiles[t]
        if c0 == 0:
            self._left = None
            if r0 > 0:
                self._prev_bottom = self._cur_bottom
                self._cur_bottom = np.full(self.shape[1], -1, np.int64)
        base = self._nglob
        self._border.append(e.border)
        self._base.append(base)
        self._rows.append(e.rows)
        top, bottom, lcol, rcol = (
            np.where(x >= 0, x.astype(np.int64) + base, x.astype(np.int64))
            for x in (e.top, e.bottom, e.left, e.right)
        )
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
        self._nglob += len(e.border)

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
        self._comp, self._value = comp.astype(np.int64), value
        self._xs, self._ys, self._opened, self._rows = [], [], [], []

    def values(self, t: int) -> BorderValues:
        """Tile ``t``'s edge labels and the decisions of their components."""
        assert self._comp is not None and self._value is not None, "end() first"
        b, base = self._border[t], self._base[t]
        return b, self._value[self._comp[base : base + len(b)]]


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


__all__ = ["BorderValues", "Joiner", "TileEdges", "edges_of"]
