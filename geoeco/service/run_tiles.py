"""Map tiles of a zoning (or erosion / desertification) run's output rasters.

Each output has a fixed file name and colouring (:data:`RUN_OUTPUTS`): class rasters use the
colours of their class table (``ZHGKDYFL`` zone classes, ``LXBM`` red-line types,
``Restoration-selection``, ``SL190-2007/water`` erosion grades, ``WangTao-2003``
desertification degrees); the continuous restoration rank (0..1, 1 = restore first) is drawn
on the two-colour ramp of the ``Restoration-selection`` table (its first and last class), as
the zone map's legend shows it, unless a named colour map (:data:`geoeco.service.tiles.RAMPS`) is
asked for.

Examples
--------
>>> sorted(RUN_OUTPUTS)[:3]
['desertification_degree', 'erosion_grade', 'ndvi_trend']
>>> rank_lut()[[0, 255], :3].tolist()
[[217, 217, 217], [215, 48, 31]]
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

from geoeco.catalog.classes import get_table
from geoeco.core.errors import InvalidInput

from .tiles import colour_classes, colour_continuous, encode_png, read_tile

#: Output name -> (file name, class table or ``None`` for continuous values).
RUN_OUTPUTS: dict[str, tuple[str, str | None]] = {
    "zone_class": ("zone_class.tif", "ZHGKDYFL"),
    "redline": ("redline.tif", "LXBM"),
    "restoration_rank": ("restoration_rank.tif", None),
    "restoration_selection": ("restoration_selection.tif", "Restoration-selection"),
    "erosion_grade": ("erosion_grade.tif", "SL190-2007/water"),
    "desertification_degree": ("desertification_degree.tif", "WangTao-2003"),
    "ndvi_trend": ("ndvi_trend_class.tif", "Trend-class"),
}
#: Where the analyses of a demo run lie relative to its ``zones`` folder.
_SIBLINGS = {
    "erosion_grade": "../erosion",
    "desertification_degree": "../desertification",
    "ndvi_trend": "../trends",
}


def output_path(run_dir: str | Path, output: str, *, siblings: bool = False) -> Path | None:
    """The raster of ``output`` in ``run_dir`` (or ``None`` when the run did not write it).

    ``siblings`` also looks in the demo layout's ``../erosion`` and ``../desertification``.
    """
    if output not in RUN_OUTPUTS:
        raise InvalidInput(f"unknown output {output!r}; known: {', '.join(sorted(RUN_OUTPUTS))}")
    root = Path(run_dir)
    name = RUN_OUTPUTS[output][0]
    cands = [root / name]
    if siblings and output in _SIBLINGS:
        cands.append(root / _SIBLINGS[output] / name)
    return next((p for p in cands if p.is_file()), None)


def available_outputs(run_dir: str | Path, *, siblings: bool = False) -> list[str]:
    """Names of the outputs present in ``run_dir``."""
    return [o for o in RUN_OUTPUTS if output_path(run_dir, o, siblings=siblings) is not None]


def legend(output: str) -> dict[int, str]:
    """Code -> colour of a class output (empty for a continuous one)."""
    table = RUN_OUTPUTS[output][1]
    return {} if table is None else {c: col for c, _, _, col in get_table(table).legend()}


@lru_cache(maxsize=1)
def rank_lut() -> np.ndarray:
    """256×4 RGBA ramp from the first to the last colour of ``Restoration-selection``."""
    leg = get_table("Restoration-selection").legend()
    a, b = (
        np.array([int(c[i : i + 2], 16) for i in (1, 3, 5)], float) for c in (leg[0][3], leg[-1][3])
    )
    t = np.linspace(0.0, 1.0, 256)[:, None]
    lut = np.empty((256, 4), np.uint8)
    lut[:, :3] = np.rint(a + (b - a) * t)
    lut[:, 3] = 255
    lut.flags.writeable = False
    return lut


def output_tile(
    path: str | Path,
    output: str,
    z: int,
    x: int,
    y: int,
    *,
    colormap: str | None = None,
    rescale: Sequence[float] | None = None,
) -> bytes | None:
    """PNG tile ``z/x/y`` of a run output raster (``None`` when the tile misses it).

    Class outputs are drawn in their table's colours (``nearest``); ``restoration_rank`` on
    :func:`rank_lut` over ``rescale`` (default 0..1), or on ``colormap`` when given.
    """
    if output not in RUN_OUTPUTS:
        raise InvalidInput(f"unknown output {output!r}; known: {', '.join(sorted(RUN_OUTPUTS))}")
    classes = legend(output)
    if classes and colormap is None:
        arr = read_tile(path, z, x, y, resampling="nearest", name=output)
        return None if arr is None else encode_png(colour_classes(arr, classes))
    arr = read_tile(path, z, x, y, resampling="bilinear" if not classes else "nearest", name=output)
    if arr is None:
        return None
    lo, hi = (0.0, 1.0) if rescale is None else (float(rescale[0]), float(rescale[1]))
    if colormap is not None:
        return encode_png(colour_continuous(arr, lo, hi, colormap))
    rgba = colour_continuous(arr, lo, hi, "greys")  # validates the range, gives the mask
    data = np.ma.getdata(arr).astype(np.float64)
    valid = rgba[..., 3] > 0
    t = np.clip((np.where(valid, data, lo) - lo) / (hi - lo), 0.0, 1.0)
    out = rank_lut()[np.rint(t * 255).astype(np.intp)]
    out[~valid] = 0
    return encode_png(out)


__all__ = ["RUN_OUTPUTS", "available_outputs", "legend", "output_path", "output_tile", "rank_lut"]
