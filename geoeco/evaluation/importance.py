"""Ecosystem-service indices and importance classes by cumulative share (methodology §3).

Service indices (NPP-based, 2014/2015 guideline style; each factor normalised to 0–1 [V, 地理科学
2023 Table 1]):

* water conservation WR = NPP·F_sic·F_pre·(1 − F_slo) — :func:`water_conservation_index`
* soil and water conservation S_pro = NPP·(1 − K)·(1 − F_slo) —
  :func:`soil_water_conservation_index`
* windbreak and sand fixation S_ws = NPP·K·F_q·D — :func:`windbreak_sand_fixation`, with the FAO
  climatic factor :func:`fq_climatic_factor` and D = 1/cos θ (:func:`roughness_factor`, [R])
* biodiversity S_bio = NPP·F_pre·F_tem·(1 − F_alt) — :func:`biodiversity_index`
* soil conservation A_c = R·K·LS·(1 − C·P) — :func:`geoeco.erosion.factors.soil_conservation`

Importance classes use the **cumulative-share** rule: rank pixels from high to low value,
accumulate, and cut at shares of the total (default 0.5 / 0.8 → extremely important /
important / generally important, table ``CumShare(0.5,0.8)``, [R]; ``CumShare(0.5,0.75,0.9)``
is Ouyang 2016 [V]). :func:`cumulative_share_thresholds` turns the rule into **value
thresholds** with a streaming histogram over a named reference extent, window by window; then
:func:`classify_by_thresholds` classes any window with those thresholds, so a pixel's class does
not depend on the area of interest.

Equal area: the rule sums values, so every pixel must stand for the same area. Pass values on
an equal-area grid (e.g. ALBERS_CHINA), or pass per-pixel areas as ``weights``.

NaN (or a mask) is nodata everywhere; service values must be ≥ 0.

Examples
--------
>>> import numpy as np
>>> v = np.array([5.0, 3.0, 1.0, 1.0])       # cumulative shares 0.5, 0.8, 0.9, 1.0
>>> t = cumulative_share_thresholds(v, (0.5, 0.8), method="exact")
>>> t.tolist(), classify_by_thresholds(v, t).tolist()
([5.0, 3.0], [3, 2, 1, 1])
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, Literal

import numpy as np

from geoeco.catalog.classes import ClassTable, Provenance, record, resolve
from geoeco.core.arrays import as_float, float_arrays, iter_chunks, product
from geoeco.core.errors import EmptyArea, InvalidInput, UnitsError

DAYS_IN_MONTH = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


# ------------------------------------------------------------------------------------------
# service indices
# ------------------------------------------------------------------------------------------


def _unit_interval(name: str, a: np.ndarray) -> None:
    with np.errstate(invalid="ignore"):
        if np.any((a < 0) | (a > 1)):
            raise UnitsError(
                f"{name} must be normalised to 0-1 (use geoeco.evaluation.importance.normalise)"
            )


def normalise(values: Any, vmin: float, vmax: float) -> np.ndarray:
    """Min–max normalise to 0–1 with a fixed (reference-extent) range, clipped; NaN stays NaN.

    The range is an argument, not taken from ``values``, so windows agree with each other.

    >>> normalise(np.array([0.0, 50.0, 150.0]), 0.0, 100.0).tolist()
    [0.0, 0.5, 1.0]
    """
    if not vmax > vmin:
        raise InvalidInput(f"need vmax > vmin, got {vmin}, {vmax}")
    out = (as_float(values) - vmin) / (vmax - vmin)
    return np.clip(out, 0.0, 1.0, out=out)


def water_conservation_index(npp: Any, f_sic: Any, f_pre: Any, f_slo: Any) -> np.ndarray:
    """WR = NPP·F_sic·F_pre·(1 − F_slo); the three factors must be normalised to 0–1.

    >>> water_conservation_index(100.0, 0.5, 0.8, 0.25).tolist()
    30.0
    """
    n, a, b, s = float_arrays(npp, f_sic, f_pre, f_slo)
    for name, arr in (("F_sic", a), ("F_pre", b), ("F_slo", s)):
        _unit_interval(name, arr)
    return product([n, a, b, 1 - s], None)


def soil_water_conservation_index(npp: Any, k: Any, f_slo: Any) -> np.ndarray:
    """S_pro = NPP·(1 − K)·(1 − F_slo); K and F_slo normalised to 0–1.

    >>> soil_water_conservation_index(100.0, 0.2, 0.5).tolist()
    40.0
    """
    n, kk, s = float_arrays(npp, k, f_slo)
    _unit_interval("K", kk)
    _unit_interval("F_slo", s)
    return product([n, 1 - kk, 1 - s], None)


def biodiversity_index(npp: Any, f_pre: Any, f_tem: Any, f_alt: Any) -> np.ndarray:
    """S_bio = NPP·F_pre·F_tem·(1 − F_alt); factors normalised to 0–1.

    >>> biodiversity_index(100.0, 0.5, 0.5, 0.5).tolist()
    12.5
    """
    n, p, t, a = float_arrays(npp, f_pre, f_tem, f_alt)
    for name, arr in (("F_pre", p), ("F_tem", t), ("F_alt", a)):
        _unit_interval(name, arr)
    return product([n, p, t, 1 - a], None)


def fq_climatic_factor(
    wind_speed: Any,
    temperature: Any,
    precipitation: Any,
    rel_humidity: Any,
    *,
    wind_height: float = 2.0,
    days: Sequence[float] = DAYS_IN_MONTH,
    used: Provenance | None = None,
) -> np.ndarray:
    """FAO wind-erosion climatic factor F_q = (1/100)·Σ ū³·((ETP − P)/ETP)·d (2017 guideline).

    ETP_i = 0.19·(20 + T_i)²·(1 − r_i) [V, CX-202204.00111]. Inputs are 12 monthly means on
    axis 0: wind speed (m/s, measured at ``wind_height`` m and reduced to 2 m by
    u₂ = u·(2/z)^(1/7)), temperature (°C), precipitation (mm) and relative humidity as a
    **fraction** 0–1.

    Clamping [I]: a month with P ≥ ETP (the term would be negative) contributes 0, and so does a
    month with ETP ≤ 0 (r = 1); the source does not say.

    >>> u = np.full(12, 3.0); T = np.full(12, 10.0); P = np.full(12, 20.0); r = np.full(12, 0.5)
    >>> round(float(fq_climatic_factor(u, T, P, r)), 3)      # ETP = 85.5 mm each month
    75.497
    """
    u, t, p, r = (as_float(a) for a in (wind_speed, temperature, precipitation, rel_humidity))
    if u.shape[:1] != (12,):
        raise InvalidInput(f"monthly inputs need 12 months on axis 0, got shape {u.shape}")
    if np.any(~np.isnan(r)) and np.nanmax(r) > 1:
        raise UnitsError("relative humidity must be a fraction 0-1 (divide percent by 100)")
    d = np.asarray(days, dtype=np.float64).reshape((12,) + (1,) * (u.ndim - 1))
    u2 = u * (2.0 / wind_height) ** (1 / 7)
    etp = 0.19 * (20 + t) ** 2 * (1 - r)
    with np.errstate(divide="ignore", invalid="ignore"):
        term = u2**3 * (etp - p) / etp * d
    term = np.where((etp > 0) & (term > 0), term, np.where(np.isnan(term), np.nan, 0.0))
    record(
        used,
        **{"Fq.wind_height_m": (wind_height, "V"), "Fq.negative_months": ("clamped to 0", "I")},
    )
    return np.asarray(term.sum(axis=0) / 100)


def roughness_factor(slope_deg: Any, *, used: Provenance | None = None) -> np.ndarray:
    """Surface roughness D = 1/cos θ (θ slope in degrees) [R].

    >>> round(float(roughness_factor(60.0)), 6)
    2.0
    """
    record(used, **{"D.formula": ("1/cos(slope)", "R")})
    d: np.ndarray = 1.0 / np.cos(np.deg2rad(as_float(slope_deg)))
    return d


def windbreak_sand_fixation(npp: Any, k: Any, fq: Any, d: Any) -> np.ndarray:
    """S_ws = NPP·K·F_q·D (normalise the factors first if the study calls for it).

    >>> windbreak_sand_fixation(100.0, 0.5, 0.4, 1.0).tolist()
    20.0
    """
    return product(float_arrays(npp, k, fq, d), None)


# ------------------------------------------------------------------------------------------
# cumulative-share importance
# ------------------------------------------------------------------------------------------


def _passes(values: Any) -> Callable[[], Iterable[Any]]:
    """A factory giving a fresh iteration over ``values`` each call (refuses one-shot iterators)."""
    if isinstance(values, np.ndarray):
        return lambda: [values]
    if callable(values):
        factory: Callable[[], Iterable[Any]] = values
        return factory
    if iter(values) is values:
        raise InvalidInput(
            "a one-shot iterator can be read only once: pass value_range=, a list "
            "of windows, or a callable returning a fresh iterator"
        )
    return lambda: values


def _pairs(values: Any, weights: Any) -> Iterable[tuple[np.ndarray, np.ndarray | None]]:
    vs = iter_chunks(values)
    if weights is None:
        return ((v, None) for v in vs)
    return zip(vs, iter_chunks(weights), strict=True)


def cumulative_share_thresholds(
    values: Any,
    cuts: Sequence[float] = (0.5, 0.8),
    *,
    bins: int = 65536,
    value_range: tuple[float, float] | None = None,
    weights: Any | None = None,
    method: Literal["histogram", "exact"] = "histogram",
    used: Provenance | None = None,
) -> np.ndarray:
    """Value thresholds t_1 ≥ t_2 ≥ … for cumulative-share importance classes.

    A pixel with value v has cumulative share S(v) = Σ_{w ≥ v} w / Σ w (pixels of equal value
    share one S, so ties never split). It is in the top class if S(v) ≤ c_1, i.e. v ≥ t_1, and
    so on. ``weights`` (per-pixel area) multiply each value's contribution.

    Parameters
    ----------
    values : array, list of window arrays, or a callable returning a fresh iterable of arrays
        The service over the **reference extent** (equal-area pixels, or give ``weights``).
    cuts : increasing shares in (0, 1)
    bins : histogram bins over [0, max]; thresholds are exact to one bin width, and the
        histogram is conservative: it never puts a pixel in a higher class than the exact rule.
    value_range : (0, max) known in advance; allows a one-pass read of a one-shot iterator.
    method : "histogram" (streaming) or "exact" (sort; ``values`` must be one array)

    Returns
    -------
    float64 array of len(cuts) thresholds (``inf`` when no pixel reaches a class).

    >>> v = np.array([5.0, 3.0, 1.0, 1.0])       # bins of width 1 over [0, 5]
    >>> cumulative_share_thresholds(v, bins=5).tolist()   # lower edges of the bins of 5 and 3
    [4.0, 3.0]
    """
    cs = np.asarray(cuts, dtype=np.float64)
    if cs.ndim != 1 or not cs.size or np.any(np.diff(cs) <= 0) or cs[0] <= 0 or cs[-1] >= 1:
        raise InvalidInput(f"cuts must be increasing shares in (0, 1), got {list(cuts)}")
    record(
        used,
        **{
            "importance.cuts": (tuple(cs.tolist()), "R" if tuple(cs) == (0.5, 0.8) else "V"),
            "importance.method": (method, "I"),
        },
    )
    if method == "exact":
        if not isinstance(values, np.ndarray):
            raise InvalidInput("method='exact' needs one array; use the histogram for windows")
        return _exact(as_float(values), None if weights is None else as_float(weights), cs)
    if method != "histogram":
        raise InvalidInput(f"method must be 'histogram' or 'exact', got {method!r}")
    if value_range is None:
        again = _passes(values)
        wagain = _passes(weights) if weights is not None else None
        hi = 0.0
        for v, _ in _pairs(again(), None):
            if np.any(~np.isnan(v)):
                hi = max(hi, float(np.nanmax(v)))
        values = again()
        weights = wagain() if wagain is not None else None
    else:
        hi = float(value_range[1])
    mass = _histogram(_pairs(values, weights), hi, bins)
    total = mass.sum()
    if total <= 0:
        raise EmptyArea("the service total over the reference extent is zero or empty")
    suffix = np.cumsum(mass[::-1])[::-1]  # share of bins at or above b
    width = hi / bins if hi > 0 else 1.0
    out = np.empty(cs.size)
    for i, c in enumerate(cs):
        # lowest non-empty bin whose share from the top is within the cut
        ok = np.flatnonzero((suffix <= c * total * (1 + 1e-12)) & (mass > 0))
        out[i] = ok[0] * width if ok.size else np.inf
    return out


def _histogram(
    pairs: Iterable[tuple[np.ndarray, np.ndarray | None]], hi: float, bins: int
) -> np.ndarray:
    mass = np.zeros(bins, dtype=np.float64)
    scale = bins / hi if hi > 0 else 0.0
    for v, w in pairs:
        ok = ~np.isnan(v) if w is None else ~(np.isnan(v) | np.isnan(w))
        x = v[ok].astype(np.float64)
        if x.size == 0:
            continue
        if x.min() < 0:
            raise InvalidInput("service values must be >= 0 for the cumulative-share rule")
        if x.max() > hi:
            raise InvalidInput(f"value {x.max():g} exceeds value_range max {hi:g}")
        idx = np.minimum((x * scale).astype(np.int64), bins - 1)
        m = x if w is None else x * w[ok]
        mass += np.bincount(idx, weights=m, minlength=bins)
    return mass


def _exact(v: np.ndarray, w: np.ndarray | None, cs: np.ndarray) -> np.ndarray:
    ok = ~np.isnan(v) if w is None else ~(np.isnan(v) | np.isnan(w))
    x = v[ok].astype(np.float64)
    if x.size and x.min() < 0:
        raise InvalidInput("service values must be >= 0 for the cumulative-share rule")
    m = x if w is None else x * w[ok]
    order = np.argsort(x, kind="stable")
    xs, ms = x[order], m[order]
    total = ms.sum()
    if total <= 0:
        raise EmptyArea("the service total over the reference extent is zero or empty")
    suffix = np.cumsum(ms[::-1])[::-1]  # mass at sorted position i and above
    starts = np.flatnonzero(np.r_[True, xs[1:] != xs[:-1]])  # first index of each tie group
    s = suffix[starts]
    out = np.empty(cs.size)
    for i, c in enumerate(cs):
        k = np.flatnonzero(s <= c * total * (1 + 1e-12))
        out[i] = xs[starts[k[0]]] if k.size else np.inf
    return out


def classify_by_thresholds(
    values: Any,
    thresholds: Sequence[float] | np.ndarray,
    table: str | ClassTable | None = None,
    *,
    used: Provenance | None = None,
) -> np.ndarray:
    """Importance classes: code N (most important) where v ≥ t_1, …, 1 below the last; 0 = nodata.

    ``table`` defaults to ``CumShare(...)`` with as many classes as thresholds + 1; it only
    checks the count and records provenance.

    >>> classify_by_thresholds(np.array([6.0, 3.0, 0.0, np.nan]), [5.0, 3.0]).tolist()
    [3, 2, 1, 0]
    """
    t = np.asarray(thresholds, dtype=np.float64)
    if np.any(np.diff(t) > 0):
        raise InvalidInput("thresholds must be non-increasing (t_1 >= t_2 >= ...)")
    tab = resolve(table) if table is not None else None
    if tab is not None:
        if len(tab.classes) != t.size + 1:
            raise InvalidInput(
                f"{tab.name} has {len(tab.classes)} classes; need {t.size} thresholds, got {t.size}"
            )
        record(used, tab)
    record(used, **{"importance.thresholds": (tuple(t.tolist()), "I")})
    v = as_float(values)
    out = np.ones(v.shape, dtype=np.uint8)
    tmp = np.empty(v.shape, dtype=bool)
    with np.errstate(invalid="ignore"):
        for ti in t:
            np.greater_equal(v, ti, out=tmp)
            out += tmp
    out[np.isnan(v)] = 0
    return out


__all__ = [
    "DAYS_IN_MONTH",
    "biodiversity_index",
    "classify_by_thresholds",
    "cumulative_share_thresholds",
    "fq_climatic_factor",
    "normalise",
    "roughness_factor",
    "soil_water_conservation_index",
    "water_conservation_index",
    "windbreak_sand_fixation",
]
