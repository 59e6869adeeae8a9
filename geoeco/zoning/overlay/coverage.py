"""Coverage of a zoning overlay: the share of the area of interest that got a zone, and, when
part of it did not, the area each input leaves without data there.

The denominator (pixels of the area of interest) and the zoned pixels come from pass 2's
histograms (:class:`~geoeco.zoning.overlay.outputs.Histograms`), so a run that zones its whole
area reads nothing more. Only when some of an area of interest is left unzoned does
:func:`with_missing_inputs` read the class inputs once more, in the windows holding unzoned
pixels of the area, to say which input lacks data where the zone is missing (``missing_km2``:
unzoned pixels of the area of interest where that input is nodata or outside its extent).
Without an area of interest (the whole grid, e.g. a direct
:func:`~geoeco.zoning.overlay.run.compute_zones` call) the share is stated and nothing is read
again: the grid's nodata is nobody's shortfall.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from geoeco.core.raster import Raster

from .inputs import Window, _Plan, _Window
from .outputs import ZoningSummary, class_inputs


def _zone_window(zone: Raster | Path, win: Window) -> np.ndarray:
    """The zone classes of window ``win`` (0 = no zone) from the in-memory or written output."""
    r0, c0, h, w = win
    if isinstance(zone, Raster):
        return np.asarray(np.ma.filled(zone.array[r0 : r0 + h, c0 : c0 + w], 0))
    from geoeco.core.io import read_raster

    a = read_raster(zone, window=win, name=Path(zone).name).array
    return np.asarray(np.ma.filled(a, 0))


def with_missing_inputs(
    plan: _Plan, summary: ZoningSummary, zone: Raster | Path, block_size: int = 1024
) -> ZoningSummary:
    """``summary`` with the area each class input leaves unzoned in the area of interest,
    measured window by window when part of it is unzoned (else unchanged: nothing is
    missing)."""
    cov = summary.coverage
    if cov is None or not cov.partial:
        return summary
    if plan.aoi is None:  # the whole grid is the area: its nodata is no input's shortfall
        return replace(summary, coverage=replace(cov, missing_km2={}, basis="grid"))
    names = class_inputs(plan)
    counts = dict.fromkeys(names, 0)
    for win in plan.grid.blocks(block_size):
        unzoned = _zone_window(zone, win) == 0
        if not unzoned.any():
            continue
        w = _Window(plan, win)
        unzoned &= w.aoi()
        if not unzoned.any():
            continue
        for n in names:
            counts[n] += int(np.count_nonzero(w.invalid(n) & unzoned))
    px_km2 = plan.grid.cell_area / 1e6
    missing = {n: round(v * px_km2, 6) for n, v in sorted(counts.items())}
    return replace(summary, coverage=replace(cov, missing_km2=missing))


__all__ = ["with_missing_inputs"]
