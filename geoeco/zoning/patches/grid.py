"""Red-line patch clean-up: on whole-grid boolean masks, and tile by tile in bounded memory.

The red line of :mod:`geoeco.zoning.overlay.run` is cleaned patch by patch: patches smaller than
the rule
set's ``min_patch_km2`` are dropped and holes up to ``max_hole_km2`` are filled
(:func:`clean_patches`), then each patch gets the LXBM type code most of its pixels qualify for
(:func:`patch_codes`) or, with ``code_by = "pixel"``, each pixel its own.
Patches are connected components (``scipy.ndimage.label``); holes use the other connectivity,
so 8-connected patches have 4-connected holes and a diagonal gap does not leak.

:func:`clean_patches` and :func:`patch_codes` label the whole array at once (the reference).
:func:`~geoeco.zoning.patches.tiled.tiled_redline` computes exactly the
same
result tile by tile with windowed connected components, keeping per-tile arrays in a
:class:`~geoeco.core.tile_store.TileStore` so memory does not grow with the grid;
:func:`clean_patches_tiled` and :func:`patch_codes_tiled` are its whole-array forms, used to
check it against the reference.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from geoeco.zoning.rules import RuleSet


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
    coded: np.ndarray = lut[lab]
    return coded


def bit_codes(rs: RuleSet) -> list[int | None]:
    codes: list[int | None] = [r.code for r in rs.redline.reasons]
    codes.append(rs.redline.protected.code if rs.redline.protected.mode == "fixed" else None)
    return codes


def pixel_codes(bits: np.ndarray, bit_codes: list[int | None], fallback: int) -> np.ndarray:
    """Per-pixel code: the first voting bit set, else ``fallback`` where any bit is set."""
    out = np.where(bits != 0, np.uint8(fallback), np.uint8(0))
    for i in reversed(range(len(bit_codes))):
        c = bit_codes[i]
        if c is not None:
            out = np.where(((bits >> np.uint16(i)) & 1).astype(bool), np.uint8(c), out)
    return out


Window = tuple[int, int, int, int]


def tile_windows(shape: tuple[int, int], size: int) -> list[Window]:
    """``(row_off, col_off, height, width)`` tiles of at most ``size`` a side, row by row.

    The same order as :meth:`geoeco.core.raster.Grid.blocks`.

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


__all__ = [
    "clean_patches",
    "patch_codes",
    "tile_windows",
]
