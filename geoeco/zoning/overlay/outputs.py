"""Outputs of the zoning overlay (:mod:`geoeco.zoning.overlay.run`): the sink that collects or
writes the
output windows, and the JSON-ready summary."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import numpy as np

from geoeco.core.raster import Grid, Raster

from .inputs import Window, _Plan
from .kernels import FLAG_BITS, _stage_layers


class _Sink:
    """Collects output windows in memory or streams them to COG writers."""

    def __init__(self, grid: Grid, out_dir: Any, stack: contextlib.ExitStack, plan: _Plan):
        self.grid, self.out_dir = grid, out_dir
        self.paths: list[Path] = []
        if out_dir is None:
            self.arrays = [np.zeros(grid.shape, np.uint8) for _ in range(3)]
            return
        from geoeco.core.io import open_raster_writer

        tags = {"rule_set": plan.rules.name, "rule_set_sha256": plan.rules.sha256()}
        self.writers = []
        for name, nodata in (("zone_class", 0), ("redline", 255), ("flags", 255)):
            p = Path(out_dir) / f"{name}.tif"
            self.paths.append(p)
            self.writers.append(
                stack.enter_context(
                    open_raster_writer(
                        p,
                        grid,
                        dtype="uint8",
                        nodata=nodata,
                        units="class",
                        band_names=[name],
                        tags=tags,
                    )
                )
            )
        from concurrent.futures import ThreadPoolExecutor

        self._pending: Any = None
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="geoeco-write")
        stack.callback(self._pool.shutdown)
        stack.callback(self._drain_quietly)  # runs first: no writer closes mid-write

    def write(self, win: Window, zone: np.ndarray, red: np.ndarray, flags: np.ndarray) -> None:
        """Store or write one window (``red``/``flags`` hold the file nodata where ``zone``
        is 0); the arrays must stay untouched until the next call."""
        if self.out_dir is None:
            sl = (slice(win[0], win[0] + win[2]), slice(win[1], win[1] + win[3]))
            for arr, v in zip(self.arrays, (zone, red, flags), strict=True):
                arr[sl] = v
            return
        self.drain()  # at most one window in flight: compression overlaps the next window
        self._pending = self._pool.submit(self._write, win, zone, red, flags)

    def _write(self, win: Window, *arrays: np.ndarray) -> None:
        for wr, a in zip(self.writers, arrays, strict=True):
            wr.write(win, a)

    def drain(self) -> None:
        """Wait for the window being written (re-raising its error)."""
        if self._pending is not None:
            p, self._pending = self._pending, None
            p.result()

    def _drain_quietly(self) -> None:
        with contextlib.suppress(Exception):
            self.drain()

    def finish(self) -> list[Any]:
        if self.out_dir is not None:
            self.drain()
            return list(self.paths)
        zone = self.arrays[0]
        nd = zone == 0
        names = ("zone_class", "redline", "flags")
        return [
            Raster(np.ma.MaskedArray(a, mask=nd), self.grid, "class", n)
            for a, n in zip(self.arrays, names, strict=True)
        ]


def _summary(
    plan: _Plan,
    zone_px: np.ndarray,
    red_px: np.ndarray,
    flag_px: np.ndarray,
    stats: dict[str, int],
    windowed: bool = False,
) -> dict[str, Any]:
    rs, grid = plan.rules, plan.grid
    km2 = grid.cell_area / 1e6
    _, pri, key = _stage_layers(plan)
    consulted = set(pri) | set(key)
    inputs = {
        n: {
            "kind": b.kind,
            "source": b.source,
            "status": b.status,
            "role": b.role,
            "version": b.version,
            "notes": b.notes,
        }
        for n, b in sorted(plan.layers.items())
    }
    bits = np.arange(256)
    return {
        "rule_set": rs.describe(),
        "class_tables": rs.class_tables(),
        "grid": {
            "crs": grid.crs.to_string(),
            "shape": list(grid.shape),
            "res": list(grid.res),
            "cell_area_m2": grid.cell_area,
        },
        "inputs": inputs,
        "skipped_inputs": plan.skipped,
        "ignored_inputs": plan.ignored,
        "approximation_layers": sorted(
            n for n in consulted if plan.layers[n].status == "approximation"
        ),
        "synthetic_layers": sorted(n for n in consulted if plan.layers[n].status == "synthetic"),
        "attribute_layers": sorted(
            n for n, b in plan.layers.items() if n not in consulted and b.kind == "mask"
        ),
        "area_km2": {
            "priority": float(zone_px[1] * km2),
            "key": float(zone_px[2] * km2),
            "general": float(zone_px[3] * km2),
            "nodata_in_grid": float(zone_px[0] * km2),
            "zoned": float(zone_px[1:].sum() * km2),
        },
        "redline_km2": {int(c): float(red_px[c] * km2) for c in np.nonzero(red_px)[0] if c},
        "flag_km2": {int(b): float(flag_px[(bits & b) > 0].sum() * km2) for b in FLAG_BITS},
        "flag_bits": FLAG_BITS,
        "redline_cleanup": {
            "min_patch_km2": rs.redline.min_patch_km2,
            "max_hole_km2": rs.redline.max_hole_km2,
            "removed_km2": stats["removed_px"] * km2,
            "filled_km2": stats["filled_px"] * km2,
            "code_by": rs.redline.code_by,
            "method": (
                f"{'tiled' if windowed else 'whole-grid'} connected components "
                f"(scipy.ndimage), {rs.redline.connectivity}-connected patches, "
                f"{12 - rs.redline.connectivity}-connected holes"
            )
            if plan.patch_stage
            else "per pixel, windowed",
        },
    }
