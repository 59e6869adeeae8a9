"""Ecological sensitivity: land sanding and water erosion (methodology §2.2, §2.3).

Both indices are geometric means of **class scores**, not of raw values:

* sanding: D = (I·W·K·C)^(1/4) with I aridity index, W days with wind ≥ 6 m/s in winter and
  spring, K soil-texture group, C vegetation cover (FVC %) [V formula and five-class scores];
* water erosion: SS = (R·K·LS·C)^(1/4) with R erosivity, LS **relief** (地形起伏度, m), K soil
  texture group and C vegetation group (five-class) or FVC % (three-class) [R scores].

Schemes (``scheme=``): ``"EcoZoning-interim"`` (《生态功能区划暂行规程》, five classes scored
1/3/5/7/9) and ``"RedLine-2017"`` (2017 red-line guideline, three classes scored 1/3/5, [R]).
Each factor is scored with the class table ``<scheme>/<index>/<factor>``; the index is then
classed with ``<scheme>/<index>``.

Cut points of the index [I]: halfway between adjacent scores, i.e. D ≤ 2, ≤ 4, ≤ 6, ≤ 8, > 8
for five classes and D ≤ 2, ≤ 4, > 4 for three. A geometric mean of odd integer scores never
equals an even integer, so the closure never matters for scored inputs.

Input codes for categorical factors (geoeco's own coding, listed in each table's
``indicator``): sanding texture 1 bedrock, 2 clay, 3 gravel, 4 loam, 5 sand; water-erosion
texture and vegetation groups 1..5 from least to most sensitive. Override any table with
``tables={"fvc": my_table, ...}``.

Examples
--------
>>> import numpy as np
>>> r = sanding_sensitivity(np.array([20.0]), np.array([35.0]), np.array([5]), np.array([10.0]))
>>> r.index.tolist(), r.classes.tolist()        # all four factors score 9
([9.0], [5])
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from geoeco.catalog.classes import ClassTable, Provenance, classify, get_table, score
from geoeco.core.arrays import as_float
from geoeco.core.errors import InvalidInput
from geoeco.erosion.vegetation import check_percent

Scheme = Literal["EcoZoning-interim", "RedLine-2017"]
_FACTORS = {
    "sanding": ("aridity", "wind-days", "texture", "fvc"),
    "water-erosion": ("r", "relief", "texture", "cover"),
}


@dataclass(frozen=True)
class Sensitivity:
    """Index (float32, NaN = nodata) and its classes (uint8, 0 = nodata)."""

    index: np.ndarray
    classes: np.ndarray


def sensitivity_index(*scores: Any) -> np.ndarray:
    """Geometric mean of factor scores, (s1·s2·…·sn)^(1/n), float32; NaN propagates.

    >>> sensitivity_index(np.array([1.0, 9.0]), np.array([1.0, 9.0]), 1.0, 1.0).round(4).tolist()
    [1.0, 3.0]
    """
    if not scores:
        raise InvalidInput("need at least one score array")
    arrays = [as_float(s, np.float32) for s in scores]
    shape = np.broadcast_shapes(*(a.shape for a in arrays))
    out = np.ones(shape, dtype=np.float32)
    for a in arrays:
        out *= a
    np.power(out, np.float32(1.0 / len(arrays)), out=out)
    return out


def _run(
    kind: str,
    inputs: Mapping[str, Any],
    scheme: Scheme,
    tables: Mapping[str, ClassTable] | None,
    used: Provenance | None,
) -> Sensitivity:
    if scheme not in ("EcoZoning-interim", "RedLine-2017"):
        raise InvalidInput(f"scheme must be 'EcoZoning-interim' or 'RedLine-2017', got {scheme!r}")
    tables = dict(tables or {})
    unknown = set(tables) - set(_FACTORS[kind]) - {"index"}
    if unknown:
        raise InvalidInput(f"tables= keys must be among {_FACTORS[kind] + ('index',)}")
    scores = []
    for factor in _FACTORS[kind]:
        t = tables.get(factor) or get_table(f"{scheme}/{kind}/{factor}")
        if t.units == "%":
            check_percent(as_float(inputs[factor]), f"{factor} (FVC)")
        scores.append(score(inputs[factor], t, used=used))
    idx = sensitivity_index(*scores)
    index_table = tables.get("index") or get_table(f"{scheme}/{kind}")
    return Sensitivity(idx, classify(idx, index_table, used=used))


def sanding_sensitivity(
    aridity: Any,
    wind_days: Any,
    texture: Any,
    fvc: Any,
    *,
    scheme: Scheme = "EcoZoning-interim",
    tables: Mapping[str, ClassTable] | None = None,
    used: Provenance | None = None,
) -> Sensitivity:
    """Land-sanding sensitivity D = (I·W·K·C)^(1/4) on class scores, and its classes.

    Parameters
    ----------
    aridity : array, modified Selyaninov aridity index
    wind_days : array, days with wind ≥ 6 m/s in December and January–May
    texture : int array, texture group 1 bedrock, 2 clay, 3 gravel, 4 loam, 5 sand
    fvc : array, vegetation cover in percent
    scheme : "EcoZoning-interim" (5 classes, V) or "RedLine-2017" (3 classes, R)
    tables : optional overrides keyed "aridity", "wind-days", "texture", "fvc", "index"

    >>> r = sanding_sensitivity(np.array([0.5, 2.0]), np.array([3.0, 15.0]),
    ...                         np.array([1, 3]), np.array([90.0, 50.0]))
    >>> r.index.tolist(), r.classes.tolist()       # scores (1,1,1,1) and (5,5,5,5)
    ([1.0, 5.0], [1, 3])
    """
    inputs = {"aridity": aridity, "wind-days": wind_days, "texture": texture, "fvc": fvc}
    return _run("sanding", inputs, scheme, tables, used)


def water_erosion_sensitivity(
    r: Any,
    relief: Any,
    texture: Any,
    cover: Any,
    *,
    scheme: Scheme = "EcoZoning-interim",
    tables: Mapping[str, ClassTable] | None = None,
    used: Provenance | None = None,
) -> Sensitivity:
    """Water-erosion sensitivity SS = (R·K·LS·C)^(1/4) on class scores [R tables].

    Parameters
    ----------
    r : array, rainfall erosivity in the units of the scoring table (unverified, see the table)
    relief : array, relief (地形起伏度) in m
    texture : int array, texture group 1..5 (see ``EcoZoning-interim/water-erosion/texture``)
    cover : vegetation group code 1..5 for "EcoZoning-interim"; FVC in percent for
        "RedLine-2017"
    scheme, tables : as in :func:`sanding_sensitivity`

    >>> r = water_erosion_sensitivity(np.array([700.0]), np.array([400.0]), np.array([5]),
    ...                               np.array([10.0]), scheme="RedLine-2017")
    >>> r.index.tolist(), r.classes.tolist()
    ([5.0], [3])
    """
    key = "fvc" if scheme == "RedLine-2017" else "cover"
    inputs = {"r": r, "relief": relief, "texture": texture, "cover": cover}
    if key == "fvc":
        tables = {"cover": get_table("RedLine-2017/water-erosion/fvc"), **(tables or {})}
    return _run("water-erosion", inputs, scheme, tables, used)


__all__ = ["Sensitivity", "sanding_sensitivity", "sensitivity_index", "water_erosion_sensitivity"]
