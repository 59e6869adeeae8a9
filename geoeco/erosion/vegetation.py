"""Fractional vegetation cover (FVC) and desertification degree (methodology §1.2, §2.1).

FVC is in **percent** (0–100) everywhere in geoeco. It comes from NDVI by the dimidiate pixel
model, f = (NDVI − NDVI_soil)/(NDVI_veg − NDVI_soil), with NDVI_soil and NDVI_veg at the 5 % and
95 % points of the cumulative NDVI histogram [V, CX-201911.00021]. :func:`ndvi_endpoints` builds
that histogram in a streaming way (window by window), so the end-members can be taken over a
fixed **reference extent** and do not change with the area of interest: compute them once over
the reference extent and pass them to :func:`fvc_dimidiate`.

Desertification degree, codes 1 非沙漠化 … 5 极重度 (0 = nodata):

* :func:`desertification_wangtao` — FVC only, Wang Tao 2003 (default) [V].
* :func:`desertification_chen2019` — FVC plus bare-sand share, Chen Changwei 2019 [V], with
  geoeco's rules for gaps and conflicts [I] (see the function).

NaN (or a mask) marks nodata in every input and propagates.

Examples
--------
>>> import numpy as np
>>> fvc = fvc_dimidiate(np.array([0.0, 0.25, 0.5, 0.9]), soil=0.0, veg=0.5)
>>> fvc.tolist()
[0.0, 50.0, 100.0, 100.0]
>>> desertification_wangtao(fvc).tolist()
[5, 2, 1, 1]
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np

from geoeco.catalog.classes import Provenance, classify, get_table, record
from geoeco.core.arrays import as_float, iter_chunks
from geoeco.core.errors import EmptyArea, InvalidInput, UnitsError


def ndvi_endpoints(
    data: Any,
    lower: float = 0.05,
    upper: float = 0.95,
    *,
    bins: int = 4000,
    value_range: tuple[float, float] = (-1.0, 1.0),
    used: Provenance | None = None,
) -> tuple[float, float]:
    """NDVI_soil and NDVI_veg at the ``lower`` and ``upper`` cumulative frequencies.

    One pass over ``data`` (an array, or an iterable of arrays such as raster windows of a
    reference extent) fills a fixed histogram of ``bins`` bins over ``value_range``; each
    quantile is then interpolated linearly inside the bin where the cumulative count crosses
    it. The result is exact to within one bin width, (hi − lo)/bins (5·10⁻⁴ by default), and
    does not depend on how the data are split into windows. NaN/masked pixels are skipped.

    Raises
    ------
    UnitsError
        Values outside ``value_range`` (e.g. NDVI scaled by 10000).
    EmptyArea
        No valid pixel.

    >>> v = np.linspace(0.0, 1.0, 1001)                 # uniform NDVI 0..1
    >>> s, g = ndvi_endpoints(v)
    >>> abs(s - 0.05) < 5e-4, abs(g - 0.95) < 5e-4
    (True, True)
    """
    lo, hi = map(float, value_range)
    if not (0 <= lower < upper <= 1) or hi <= lo or bins < 2:
        raise InvalidInput("need 0 <= lower < upper <= 1, value_range lo < hi and bins >= 2")
    counts = np.zeros(bins, dtype=np.int64)
    scale = bins / (hi - lo)
    for chunk in iter_chunks(data):
        v = chunk[~np.isnan(chunk)]
        if v.size == 0:
            continue
        if v.min() < lo or v.max() > hi:
            raise UnitsError(
                f"NDVI must lie in {value_range}, found {v.min():g}..{v.max():g}"
                " (scaled integers? divide by the scale factor first)"
            )
        idx = np.minimum(((v - lo) * scale).astype(np.int64), bins - 1)
        counts += np.bincount(idx, minlength=bins)
    total = counts.sum()
    if total == 0:
        raise EmptyArea("no valid NDVI pixel to build the histogram from")
    cum = np.cumsum(counts)

    def q(frac: float) -> float:
        target = frac * total
        b = int(np.searchsorted(cum, target, side="left"))
        b = min(b, bins - 1)
        before = cum[b - 1] if b else 0
        inside = (target - before) / counts[b] if counts[b] else 0.0
        return float(lo + (b + inside) / scale)

    soil, veg = q(lower), q(upper)
    record(
        used,
        **{
            "FVC.ndvi_soil": (soil, "V"),
            "FVC.ndvi_veg": (veg, "V"),
            "FVC.percentiles": ((lower, upper), "V"),
            "FVC.hist_bins": (bins, "I"),
        },
    )
    return soil, veg


def fvc_dimidiate(
    ndvi: Any,
    soil: float | None = None,
    veg: float | None = None,
    *,
    lower: float = 0.05,
    upper: float = 0.95,
    used: Provenance | None = None,
) -> np.ndarray:
    """FVC (percent, clipped to 0–100) by the dimidiate pixel model.

    When ``soil``/``veg`` are omitted they are taken from ``ndvi`` itself with
    :func:`ndvi_endpoints`, which makes the result depend on the extent passed in; for zoning,
    compute them once over a reference extent and pass them. Output dtype follows the input
    (float32 stays float32).

    >>> fvc_dimidiate(np.array([0.2, np.nan]), soil=0.0, veg=0.8).tolist()
    [25.0, nan]
    """
    v = as_float(ndvi)
    if soil is None or veg is None:
        s, g = ndvi_endpoints(v, lower, upper, used=used)
        soil = s if soil is None else soil
        veg = g if veg is None else veg
    else:
        record(used, **{"FVC.ndvi_soil": (soil, "V"), "FVC.ndvi_veg": (veg, "V")})
    if not veg > soil:
        raise InvalidInput(f"NDVI_veg ({veg:g}) must be greater than NDVI_soil ({soil:g})")
    f: np.ndarray = v - v.dtype.type(soil)
    f *= v.dtype.type(100.0 / (veg - soil))
    np.clip(f, 0, 100, out=f)
    return f


def check_percent(fvc: np.ndarray, what: str) -> None:
    """:class:`UnitsError` when a cover in percent looks like a fraction (max in (0, 1])."""
    if np.any(~np.isnan(fvc)):
        hi = float(np.nanmax(fvc))
        if 0 < hi <= 1.0:
            raise UnitsError(f"{what} looks like a fraction (max {hi:g} <= 1); give percent 0-100")


def desertification_wangtao(fvc: Any, *, used: Provenance | None = None) -> np.ndarray:
    """Desertification degree by FVC (%), Wang Tao 2003 (table ``WangTao-2003``).

    Boundaries 60 / 40 / 26.7 / 13.3 belong to the less severe class, as in the source.

    >>> desertification_wangtao(np.array([60.0, 59.9, 13.3, 13.2])).tolist()
    [1, 2, 4, 5]
    """
    f = as_float(fvc)
    check_percent(f, "FVC")
    return classify(f, "WangTao-2003", used=used)


def desertification_chen2019(
    fvc: Any,
    bare_sand: Any | None = None,
    *,
    combine: Literal["max", "min"] = "max",
    used: Provenance | None = None,
) -> np.ndarray:
    """Desertification degree from FVC (%) and bare (mobile) sand share (%), Chen 2019.

    Rules [I]:

    * Each indicator is classed on its own table (``Chen2019-cover-baresand/cover`` and
      ``.../bare-sand``). FVC ≥ 50 % and bare sand < 5 % are 非沙漠化 (the source lists only the
      four desertified degrees).
    * **Conflict**: when both are known and disagree, ``combine="max"`` (default) takes the
      more severe class, ``"min"`` the less severe.
    * **Gap**: where bare sand is missing (not given, or NaN at a pixel) the FVC class is used.
      FVC is required: where FVC is nodata the result is 0 even if bare sand is known.
    * The gravel-land variant of the source (FVC with gravel share) is not implemented.

    >>> desertification_chen2019(np.array([40.0, 40.0, 40.0, np.nan]),
    ...                          np.array([2.0, 60.0, np.nan, 60.0])).tolist()
    [2, 5, 2, 0]
    """
    if combine not in ("max", "min"):
        raise InvalidInput(f"combine must be 'max' or 'min', got {combine!r}")
    f = as_float(fvc)
    check_percent(f, "FVC")
    c = classify(f, get_table("Chen2019-cover-baresand/cover"), used=used)
    if bare_sand is None:
        return c
    s = as_float(bare_sand)
    check_percent(s, "bare-sand share")
    b = classify(s, get_table("Chen2019-cover-baresand/bare-sand"), used=used)
    record(used, **{"desertification.combine": (combine, "I")})
    both = (c > 0) & (b > 0)
    pick = np.maximum(c, b) if combine == "max" else np.minimum(c, b)
    return np.where(both, pick, c).astype(np.uint8)


__all__ = [
    "desertification_chen2019",
    "desertification_wangtao",
    "fvc_dimidiate",
    "ndvi_endpoints",
]
