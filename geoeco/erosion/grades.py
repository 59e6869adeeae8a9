"""SL 190-2007 soil-erosion intensity grades (methodology §1.4).

Water erosion is graded from the erosion modulus in **t·km⁻²·a⁻¹** (multiply RUSLE/CSLE output
in t·hm⁻²·a⁻¹ by 100 with :func:`geoeco.erosion.factors.to_t_km2` first). The 微度/轻度
boundary is the regional tolerable soil loss: a single value (default 200, the northern
Three-North area; 500 or 1000 elsewhere) or an erosion-region raster mapped through the
``SL190-2007/tolerable-loss`` table. Wind erosion is graded by vegetation cover, deflation depth or
wind-erosion modulus.

Inputs use NaN (or a mask) for nodata; outputs are uint8 codes 1..6 with 0 for nodata, as in
the class tables ``SL190-2007/*``.

Examples
--------
>>> import numpy as np
>>> water_erosion_grade(np.array([199.9, 200.0, 2500.0, 15000.0])).tolist()
[1, 2, 3, 6]
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np

from geoeco.catalog.classes import (
    FactorTable,
    Provenance,
    classify,
    get_factor_table,
    lookup,
    record,
)
from geoeco.core.errors import InvalidInput

WindIndicator = Literal["cover", "depth", "modulus"]


def tolerable_loss_from_regions(
    regions: Any,
    *,
    table: str | FactorTable = "SL190-2007/tolerable-loss",
    used: Provenance | None = None,
) -> np.ndarray:
    """Tolerable loss (t·km⁻²·a⁻¹) per pixel from erosion-region codes (NaN/masked = nodata).

    Default codes: 1 NW Loess Plateau 1000, 2 NE black soil 200, 3 northern rocky mountains 200,
    4 southern red-soil hills 500, 5 SW rocky mountains 500.

    >>> tolerable_loss_from_regions(np.array([1, 2, 4])).tolist()
    [1000.0, 200.0, 500.0]
    """
    t = table if isinstance(table, FactorTable) else get_factor_table(table)
    record(used, t)
    return lookup(regions, t.values, what="erosion-region code")


def water_erosion_grade(
    modulus: Any,
    *,
    tolerable: float | np.ndarray = 200.0,
    regions: Any | None = None,
    region_table: str | FactorTable = "SL190-2007/tolerable-loss",
    out_of_range: Literal["raise", "nodata", "clip"] = "raise",
    used: Provenance | None = None,
) -> np.ndarray:
    """SL 190-2007 water-erosion intensity (1 微度 … 6 剧烈) from the modulus in t·km⁻²·a⁻¹.

    Parameters
    ----------
    modulus : array, t·km⁻²·a⁻¹
    tolerable : 200, 500, 1000 or an array of them
        Regional tolerable loss (the upper limit of 微度). Ignored when ``regions`` is given.
    regions : array of erosion-region codes, optional
        Pixels whose region is nodata get class 0.
    out_of_range : see :func:`geoeco.catalog.classes.classify` (negative moduli raise by default)

    >>> water_erosion_grade(np.array([999.0, 1000.0]), tolerable=1000).tolist()
    [1, 2]
    >>> water_erosion_grade(np.array([300.0, 300.0]), regions=np.array([1, 2])).tolist()
    [1, 2]
    """
    if regions is not None:
        tolerable = tolerable_loss_from_regions(regions, table=region_table, used=used)
    elif np.ndim(tolerable) == 0 and float(tolerable) not in (200.0, 500.0, 1000.0):
        raise InvalidInput(f"tolerable loss must be 200, 500 or 1000 t/(km²·a), got {tolerable}")
    codes = classify(
        modulus, "SL190-2007/water", out_of_range=out_of_range, used=used, tolerable=tolerable
    )
    if regions is not None:
        codes[np.isnan(np.asarray(tolerable, dtype=float))] = 0
    return codes


_WIND = {
    "cover": "SL190-2007/wind-cover",
    "depth": "SL190-2007/wind-depth",
    "modulus": "SL190-2007/wind-modulus",
}


def wind_erosion_grade(
    values: Any,
    indicator: WindIndicator,
    *,
    out_of_range: Literal["raise", "nodata", "clip"] = "raise",
    used: Provenance | None = None,
) -> np.ndarray:
    """SL 190-2007 wind-erosion intensity by one indicator.

    ``indicator``: "cover" (vegetation cover %, codes 1..5: cover cannot separate 剧烈),
    "depth" (annual deflation depth, mm) or "modulus" (t·km⁻²·a⁻¹); codes 1..6 mean the same in
    all three.

    >>> wind_erosion_grade(np.array([75.0, 70.0, 10.0, 5.0]), "cover").tolist()
    [1, 2, 5, 5]
    >>> wind_erosion_grade(np.array([1.9, 2.0, 100.0]), "depth").tolist()
    [1, 2, 6]
    """
    if indicator not in _WIND:
        raise InvalidInput(f"indicator must be one of {sorted(_WIND)}, got {indicator!r}")
    return classify(values, _WIND[indicator], out_of_range=out_of_range, used=used)


__all__ = ["tolerable_loss_from_regions", "water_erosion_grade", "wind_erosion_grade"]
