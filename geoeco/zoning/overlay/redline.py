"""The red line of the zoning overlay (:mod:`geoeco.zoning.overlay.run`) after pass 1: per-pixel
codes, or
the patch clean-up on the whole grid (small grids), and per-window access to the result."""

from __future__ import annotations

import numpy as np

from geoeco.core.tile_store import TileStore
from geoeco.zoning.patches.grid import bit_codes, clean_patches, patch_codes, pixel_codes
from geoeco.zoning.patches.tiled import TiledRedline

from .inputs import Window, _Plan


def _plan_redline(plan: _Plan, tile_size: int, store: TileStore) -> TiledRedline:
    """The tiled patch stage of ``plan``'s rule set, fed tile by tile (``defer=True``)."""
    rl = plan.rules.redline
    return TiledRedline(
        plan.grid.shape,
        tile_size,
        store,
        bit_codes(plan.rules),
        fallback=rl.protected.code,
        min_patch_px=plan.min_patch_px,
        max_hole_px=plan.max_hole_px,
        connectivity=rl.connectivity,
        code_by=rl.code_by,
        defer=True,
    )


def _pixel_red(plan: _Plan, bits: np.ndarray) -> np.ndarray:
    rl = plan.rules.redline
    return pixel_codes(bits, bit_codes(plan.rules), rl.protected.code)


def _whole_grid_red(
    plan: _Plan, bits: np.ndarray, outside: np.ndarray
) -> tuple[np.ndarray, dict[str, int]]:
    """The red line after patch clean-up, coded per patch, on the whole grid (small grids)."""
    rs = plan.rules
    rl = rs.redline
    mask, stats = clean_patches(
        bits != 0,
        min_patch_px=plan.min_patch_px,
        max_hole_px=plan.max_hole_px,
        connectivity=rl.connectivity,
        barrier=outside,
    )
    codes = bit_codes(rs)
    if rl.code_by == "patch":
        red = patch_codes(
            mask, bits, codes, fallback=rl.protected.code, connectivity=rl.connectivity
        )
    else:
        red = np.where(mask, pixel_codes(bits, codes, rl.protected.code), np.uint8(0))
        red[mask & (red == 0)] = rl.protected.code  # filled holes: fallback code
    return red, stats


class _WholeRed:
    """Slices of a whole-grid red line, for the small-grid path."""

    def __init__(self, red: np.ndarray, stats: dict[str, int]) -> None:
        self.full, self.stats = red, stats

    def __call__(self, win: Window) -> np.ndarray:
        return self.full[win[0] : win[0] + win[2], win[1] : win[1] + win[3]]


class _TiledRed:
    def __init__(self, tiled: TiledRedline) -> None:
        self.tiled, self.stats = tiled, tiled.stats

    def __call__(self, win: Window) -> np.ndarray:
        return self.tiled.red(win)
