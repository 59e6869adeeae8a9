"""RUSLE / CSLE factors (R, K, C, P, B, E, T) and the factor algebra (methodology §1.1–1.2).

All functions take numpy arrays (float32 or float64) with **NaN for nodata**; masked arrays are
accepted and their mask becomes NaN (see :mod:`geoeco.catalog.classes`). NaN propagates through
every
formula, so a missing input never turns into a zero. LS comes from :mod:`geoeco.terrain.slope`
(not here).

Units: R in MJ·mm·hm⁻²·h⁻¹·a⁻¹, K in t·hm²·h·hm⁻²·MJ⁻¹·mm⁻¹, soil loss A in t·hm⁻²·a⁻¹
(:func:`to_t_km2` multiplies by 100 for SL 190 grading). FVC is always in **percent**.

Every function that applies a parameter set or table accepts ``used=`` (a
:class:`~geoeco.catalog.classes.Provenance`) and records what it used, with [R] items tagged ``R``.

Examples
--------
>>> import numpy as np
>>> a = rusle(np.float32(3000), np.float32(0.03), np.float32(2.0), np.float32(0.2), 1.0)
>>> round(float(a), 3), round(float(to_t_km2(a)), 1)
(36.0, 3600.0)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, overload

import numpy as np

from geoeco.catalog.classes import FactorTable, Provenance, get_factor_table, lookup, record
from geoeco.core.arrays import as_float, float_arrays, product
from geoeco.core.errors import GridMismatch, InvalidInput, UnitsError
from geoeco.erosion.vegetation import check_percent_range

ArrayLike = Any

# ------------------------------------------------------------------------------------------
# factor algebra
# ------------------------------------------------------------------------------------------


def rusle(
    R: ArrayLike,
    K: ArrayLike,
    LS: ArrayLike,
    C: ArrayLike,
    P: ArrayLike,
    *,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """RUSLE soil loss A = R·K·LS·C·P in t·hm⁻²·a⁻¹ (scalars broadcast; NaN propagates).

    ``out`` may be one of the inputs' buffers or a preallocated array to avoid allocation.

    >>> rusle(np.array([100.0, np.nan]), 0.02, np.array([1.5, 1.5]), 0.5, 1.0).tolist()
    [1.5, nan]
    """
    return product(float_arrays(R, K, LS, C, P), out)


def csle(
    R: ArrayLike,
    K: ArrayLike,
    L: ArrayLike,
    S: ArrayLike,
    B: ArrayLike,
    E: ArrayLike,
    T: ArrayLike,
    *,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """CSLE soil loss A = R·K·L·S·B·E·T in t·hm⁻²·a⁻¹ (Liu Baoyuan; use :func:`csle_bet`).

    >>> round(float(csle(1000.0, 0.03, 1.2, 2.0, 1.0, 1.0, 0.281)), 6)
    20.232
    """
    return product(float_arrays(R, K, L, S, B, E, T), out)


def potential_loss(
    R: ArrayLike, K: ArrayLike, LS: ArrayLike, *, out: np.ndarray | None = None
) -> np.ndarray:
    """Potential soil loss A_p = R·K·LS (no cover, no measures), t·hm⁻²·a⁻¹.

    >>> float(potential_loss(100.0, 0.02, 1.5))
    3.0
    """
    return product(float_arrays(R, K, LS), out)


def soil_conservation(
    R: ArrayLike,
    K: ArrayLike,
    LS: ArrayLike,
    C: ArrayLike,
    P: ArrayLike,
    *,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Soil conservation (retained soil) A_c = R·K·LS·(1 − C·P), t·hm⁻²·a⁻¹ [V, CX-201711.00309].

    >>> float(soil_conservation(100.0, 0.02, 1.5, 0.2, 0.5))
    2.7
    """
    r, k, ls, c, p = float_arrays(R, K, LS, C, P)
    cp = product([c, p], None)
    np.subtract(1, cp, out=cp)
    res = product([r, k, ls], out)
    if res.shape != cp.shape:
        res = np.broadcast_to(res, np.broadcast_shapes(res.shape, cp.shape)).copy()
    retained: np.ndarray = np.multiply(res, cp, out=res)
    return retained


def to_t_km2(a: ArrayLike) -> np.ndarray:
    """Convert t·hm⁻²·a⁻¹ to t·km⁻²·a⁻¹ (× 100), the units of SL 190-2007.

    >>> float(to_t_km2(2.5))
    250.0
    """
    return as_float(a) * 100


# ------------------------------------------------------------------------------------------
# R: rainfall erosivity
# ------------------------------------------------------------------------------------------


def _years(dates: ArrayLike, n: int) -> np.ndarray:
    d = np.asarray(dates, dtype="datetime64[D]")
    if d.shape != (n,):
        raise InvalidInput(f"need one date per day of rain: {n} days, got {d.shape} dates")
    if np.any(np.diff(d.astype(np.int64)) <= 0):
        raise InvalidInput("dates must be strictly increasing")
    return d


def zhang_beta(pd12: ArrayLike, py12: ArrayLike) -> np.ndarray:
    """β = 0.8363 + 18.144/P_d12 + 24.455/P_y12 (Zhang Wenbo et al. 2002) [V].

    >>> round(float(zhang_beta(25.0, 50.0)), 5)
    2.05116
    """
    return 0.8363 + 18.144 / as_float(pd12) + 24.455 / as_float(py12)


def zhang_alpha(beta: ArrayLike) -> np.ndarray:
    """α = 21.586·β^(−7.1891) (Zhang Wenbo et al. 2002) [V].

    >>> round(float(zhang_alpha(1.0)), 3)
    21.586
    """
    return 21.586 * as_float(beta) ** -7.1891


@overload
def rain_erosivity_daily(
    daily: ArrayLike,
    dates: ArrayLike,
    *,
    threshold: float = ...,
    pd12: ArrayLike | None = ...,
    py12: ArrayLike | None = ...,
    alpha: ArrayLike | None = ...,
    beta: ArrayLike | None = ...,
    require_full_years: bool = ...,
    return_annual: Literal[False] = ...,
    used: Provenance | None = ...,
) -> np.ndarray: ...


@overload
def rain_erosivity_daily(
    daily: ArrayLike,
    dates: ArrayLike,
    *,
    threshold: float = ...,
    pd12: ArrayLike | None = ...,
    py12: ArrayLike | None = ...,
    alpha: ArrayLike | None = ...,
    beta: ArrayLike | None = ...,
    require_full_years: bool = ...,
    return_annual: Literal[True],
    used: Provenance | None = ...,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]: ...


def rain_erosivity_daily(
    daily: ArrayLike,
    dates: ArrayLike,
    *,
    threshold: float = 12.0,
    pd12: ArrayLike | None = None,
    py12: ArrayLike | None = None,
    alpha: ArrayLike | None = None,
    beta: ArrayLike | None = None,
    require_full_years: bool = True,
    return_annual: bool = False,
    used: Provenance | None = None,
) -> np.ndarray | tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Long-term mean R by Zhang Wenbo's daily-rainfall model (地理科学 2002, 22(6)).

    M_i = α·Σ D_j^β over the erosive days (D_j ≥ ``threshold`` mm) of half-month i; the annual R
    is the sum of the 24 half-months (which equals α·Σ over the year's erosive days, since α and
    β are constant in time) and the long-term R is the mean over years.

    Parameters
    ----------
    daily : array (days, ...) in mm
        Daily rainfall, time on axis 0 (a station series or a (days, rows, cols) stack).
        A NaN on any day makes that pixel's result NaN.
    dates : sequence of dates or datetime64, length ``days``
    threshold : float
        Erosive-rain threshold, 12 mm [V].
    pd12, py12 : array, optional
        Long-term mean daily rain of erosive days and mean annual erosive rain (mm). Computed
        from ``daily`` when omitted (the original model uses long-term station means [R]).
    alpha, beta : array, optional
        Fitted coefficients; when given they replace the formulas (:func:`zhang_alpha`).
    require_full_years : bool
        Refuse calendar years with missing days (an incomplete year biases the mean).
    return_annual : bool
        Also return ``(years, annual_R)`` with annual_R shaped (n_years, ...).

    Returns
    -------
    R in MJ·mm·hm⁻²·h⁻¹·a⁻¹; 0 where a pixel has no erosive day.

    Examples
    --------
    >>> days = np.arange("2001-01-01", "2002-01-01", dtype="datetime64[D]")
    >>> rain = np.zeros(365); rain[[0, 1, 2]] = [20.0, 10.0, 30.0]
    >>> round(float(rain_erosivity_daily(rain, days)), 3)
    189.643
    """
    d = as_float(daily)
    uniq, blocks = _year_blocks(dates, d.shape[0], require_full_years)
    nan_any, total, n_erosive = _erosive_totals(d, blocks, threshold)
    with np.errstate(divide="ignore", invalid="ignore"):
        p_d = as_float(pd12) if pd12 is not None else total / n_erosive
        p_y = as_float(py12) if py12 is not None else total / len(uniq)
        b = as_float(beta) if beta is not None else zhang_beta(p_d, p_y)
        a = as_float(alpha) if alpha is not None else zhang_alpha(b)
    annual = _annual_erosivity(d, blocks, threshold, a, b)
    annual[:, n_erosive == 0] = 0.0
    annual[:, nan_any] = np.nan
    record(
        used,
        **{
            "R.method": ("Zhang Wenbo 2002 daily model", "V"),
            "R.threshold_mm": (threshold, "V"),
            "R.alpha_beta": ("given" if beta is not None else "from P_d12/P_y12", "V"),
            "R.long_term_means": ("given" if pd12 is not None else "from series", "R"),
        },
    )
    mean: np.ndarray = annual.mean(axis=0)
    if return_annual:
        return mean, uniq, annual
    return mean


def _year_blocks(
    dates: ArrayLike, n_days: int, require_full_years: bool
) -> tuple[np.ndarray, list[slice]]:
    """The calendar years of ``dates`` and the slice of days of each (one date per day).

    >>> days = np.arange("2000-12-30", "2001-01-03", dtype="datetime64[D]")
    >>> years, blocks = _year_blocks(days, 4, False)
    >>> years.tolist(), [(int(b.start), int(b.stop)) for b in blocks]
    ([2000, 2001], [(0, 2), (2, 4)])
    """
    dd = _years(dates, n_days)
    years = dd.astype("datetime64[Y]").astype(int) + 1970
    uniq, starts, counts = np.unique(years, return_index=True, return_counts=True)
    if require_full_years:
        full = np.array(
            [366 if (y % 4 == 0 and y % 100 != 0) or y % 400 == 0 else 365 for y in uniq]
        )
        if np.any(counts != full):
            bad = uniq[counts != full].tolist()
            raise InvalidInput(
                f"years {bad} are incomplete; give whole calendar years of daily "
                "rain or pass require_full_years=False"
            )
    return uniq, [slice(s, s + c) for s, c in zip(starts, counts, strict=True)]


def _erosive_totals(
    d: np.ndarray, blocks: list[slice], threshold: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per pixel: any NaN day, total erosive rain (mm) and number of erosive days.

    One year in memory at a time.
    """
    spatial = d.shape[1:]
    nan_any = np.zeros(spatial, dtype=bool)
    total = np.zeros(spatial)
    n_erosive = np.zeros(spatial)
    for sl in blocks:
        blk = d[sl]
        nan_any |= np.isnan(blk).any(axis=0)
        with np.errstate(invalid="ignore"):
            ero = blk >= threshold
        total += np.where(ero, blk, 0).sum(axis=0)
        n_erosive += ero.sum(axis=0)
    return nan_any, total, n_erosive


def _annual_erosivity(
    d: np.ndarray, blocks: list[slice], threshold: float, a: np.ndarray, b: np.ndarray
) -> np.ndarray:
    """``α·Σ D^β`` over the erosive days of each year, shaped (years, ...)."""
    annual = np.empty((len(blocks), *d.shape[1:]))
    for i, sl in enumerate(blocks):
        blk = d[sl]
        with np.errstate(invalid="ignore"):
            ero = np.where(blk >= threshold, blk, 0.0)
            np.power(ero, b, out=ero, where=ero > 0)
        annual[i] = a * ero.sum(axis=0)
    return annual


def rain_erosivity_fournier(
    monthly: ArrayLike,
    *,
    alpha: float = 0.1833,
    beta: float = 1.9957,
    used: Provenance | None = None,
) -> np.ndarray:
    """R = α·F_f^β with the modified Fournier index F_f = mean_years(Σ p_i² / Σ p_i) (mm).

    The default α = 0.1833, β = 1.9957 were fitted for the **Loess Plateau** [V,
    CX-201911.00021]; they are recorded as region-specific. ``monthly`` has shape
    (years, 12, ...). A year with no rain contributes F = 0.

    >>> m = np.zeros((1, 12)); m[0, 6] = 100.0; m[0, 7] = 100.0   # F = 2·100²/200 = 100
    >>> round(float(rain_erosivity_fournier(m)), 2)
    1797.06
    """
    m = as_float(monthly)
    if m.ndim < 2 or m.shape[1] != 12:
        raise InvalidInput(f"monthly rain must have shape (years, 12, ...), got {m.shape}")
    if np.nanmin(m) < 0:
        raise UnitsError("monthly rainfall must be >= 0 mm")
    p = m.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        f = np.where(p > 0, (m * m).sum(axis=1) / p, np.where(np.isnan(p), np.nan, 0.0))
    record(
        used,
        **{
            "R.method": ("modified Fournier power law", "V"),
            "R.fournier_alpha": (alpha, "R"),
            "R.fournier_beta": (beta, "R"),
        },
    )
    return np.asarray(alpha * f.mean(axis=0) ** beta)


def rain_erosivity_wischmeier(
    monthly: ArrayLike, *, si: bool = True, used: Provenance | None = None
) -> np.ndarray:
    """Wischmeier–Smith monthly formula [R]: R = Σ 1.735·10^(1.5·lg(p_i²/P) − 0.8188).

    The result is in US customary units; ``si=True`` multiplies by 17.02 to give
    MJ·mm·hm⁻²·h⁻¹·a⁻¹. ``monthly`` has shape (years, 12, ...); the mean over years is returned.

    >>> m = np.zeros((1, 12)); m[0, :] = 50.0      # p²/P = 2500/600
    >>> round(float(rain_erosivity_wischmeier(m, si=False)), 2)
    26.88
    """
    m = as_float(monthly)
    if m.ndim < 2 or m.shape[1] != 12:
        raise InvalidInput(f"monthly rain must have shape (years, 12, ...), got {m.shape}")
    p = m.sum(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = 1.735 * 10 ** (1.5 * np.log10(m * m / p) - 0.8188)
    # a dry month gives lg(0) = -inf and a zero term; a dry year gives 0; NaN stays NaN
    terms = np.where(p > 0, terms, np.where(np.isnan(p), np.nan, 0.0))
    r = terms.sum(axis=1)
    record(
        used,
        **{
            "R.method": ("Wischmeier-Smith monthly formula", "R"),
            "R.si_factor": (17.02 if si else 1.0, "R"),
        },
    )
    return np.asarray(r.mean(axis=0) * (17.02 if si else 1.0))


def rain_erosivity_constant(
    value: float, shape: tuple[int, ...], *, used: Provenance | None = None
) -> np.ndarray:
    """A constant R field (e.g. a published regional value), float32.

    >>> rain_erosivity_constant(850.0, (2, 2)).tolist()
    [[850.0, 850.0], [850.0, 850.0]]
    """
    record(used, **{"R.method": ("constant", "V"), "R.value": (value, "V")})
    return np.full(shape, value, dtype=np.float32)


# ------------------------------------------------------------------------------------------
# K: soil erodibility (EPIC)
# ------------------------------------------------------------------------------------------

EPIC_TO_SI = 0.1317


def k_epic(
    sand: ArrayLike,
    silt: ArrayLike,
    clay: ArrayLike,
    organic_carbon: ArrayLike,
    *,
    si: bool = True,
    zhang_correction: bool = False,
    sum_tolerance: float = 5.0,
    used: Provenance | None = None,
) -> np.ndarray:
    """Soil erodibility K by the EPIC formula (Williams 1984/1990), published form.

    K_EPIC = {0.2 + 0.3·exp[−0.0256·SAN·(1 − SIL/100)]}·[SIL/(CLA + SIL)]^0.3
    ·[1 − 0.25·C/(C + exp(3.72 − 2.95·C))]·[1 − 0.7·SN1/(SN1 + exp(−5.51 + 22.9·SN1))],
    SN1 = 1 − SAN/100. ``si=True`` multiplies by 0.1317 (US customary → t·hm²·h·hm⁻²·MJ⁻¹·mm⁻¹).
    ``zhang_correction`` applies K = −0.01383 + 0.51575·K (SI) for Chinese soils [R], clipped
    at 0. SIL = CLA = 0 gives a silt factor of 0.

    Parameters
    ----------
    sand, silt, clay : array, percent (USDA: 0.05–2, 0.002–0.05, < 0.002 mm)
    organic_carbon : array, percent (organic carbon, not organic matter)

    Raises
    ------
    UnitsError
        Fractions instead of percent, values outside 0–100, or sand+silt+clay differing from
        100 by more than ``sum_tolerance``.

    >>> round(float(k_epic(40.0, 40.0, 20.0, 1.0)), 5)
    0.0389
    """
    san, sil, cla, c = (as_float(a) for a in (sand, silt, clay, organic_carbon))
    if len({a.shape for a in (san, sil, cla, c) if a.ndim}) > 1:
        raise GridMismatch("sand, silt, clay and organic carbon must share one grid")
    _check_texture(san, sil, cla, c, sum_tolerance)
    with np.errstate(invalid="ignore", divide="ignore"):
        f_sand = 0.2 + 0.3 * np.exp(-0.0256 * san * (1 - sil / 100))
        f_silt = np.where(sil > 0, (sil / (cla + sil)) ** 0.3, np.where(np.isnan(sil), np.nan, 0))
        f_org = 1 - 0.25 * c / (c + np.exp(3.72 - 2.95 * c))
        sn1 = 1 - san / 100
        f_hi = 1 - 0.7 * sn1 / (sn1 + np.exp(-5.51 + 22.9 * sn1))
    k: np.ndarray = f_sand * f_silt * f_org * f_hi
    if si or zhang_correction:
        k *= EPIC_TO_SI
    if zhang_correction:
        k = np.maximum(-0.01383 + 0.51575 * k, 0.0)  # NaN propagates
    record(
        used,
        **{
            "K.method": ("EPIC (Williams 1990), published form", "V"),
            "K.si_factor": (EPIC_TO_SI if si or zhang_correction else 1.0, "V"),
            "K.zhang_correction": (zhang_correction, "R" if zhang_correction else "V"),
        },
    )
    return k


def _check_texture(
    san: np.ndarray, sil: np.ndarray, cla: np.ndarray, c: np.ndarray, tol: float
) -> None:
    fr = [np.nanmax(a) if np.any(~np.isnan(a)) else np.nan for a in (san, sil, cla)]
    if all(np.isfinite(fr)) and max(fr) <= 1.0:
        raise UnitsError("sand, silt and clay look like fractions (all <= 1); give percent 0-100")
    for name, a in (("sand", san), ("silt", sil), ("clay", cla), ("organic carbon", c)):
        with np.errstate(invalid="ignore"):
            if np.any((a < 0) | (a > 100)):
                raise UnitsError(f"{name} must be in percent 0-100")
    with np.errstate(invalid="ignore"):
        off = np.abs(san + sil + cla - 100) > tol
    if np.any(off):
        raise UnitsError(
            f"sand + silt + clay must sum to 100 % (± {tol}); {int(off.sum())} "
            "pixel(s) do not: convert the soil map to USDA classes first"
        )


# ------------------------------------------------------------------------------------------
# C, P, B, E, T
# ------------------------------------------------------------------------------------------


def c_cai(fvc: ArrayLike, *, used: Provenance | None = None) -> np.ndarray:
    """Cover factor C by Cai Chongfa (2000) with FVC in **percent** [V, CX-201911.00021].

    C = 1 for f ≤ 0.1 %; 0.6508 − 0.3436·lg f for 0.1 % < f < 78.3 %; 0 for f ≥ 78.3 %.

    Raises :class:`~geoeco.core.errors.UnitsError` for values outside 0-100. Whether a cover
    input is a fraction instead of percent cannot be told from some pixels (a dune field has
    FVC below 1 %): that is checked once per input over its whole extent
    (:func:`geoeco.erosion.vegetation.check_cover_units`), never here.

    >>> c_cai(np.array([0.05, 0.1, 0.5, 10.0, 80.0, np.nan])).round(4).tolist()
    [1.0, 1.0, 0.7542, 0.3072, 0.0, nan]
    """
    f = as_float(fvc)
    check_percent_range(f, "FVC")
    with np.errstate(divide="ignore", invalid="ignore"):
        c: np.ndarray = np.log10(f)
        c *= -0.3436
        c += 0.6508
    c[f <= 0.1] = 1.0
    c[f >= 78.3] = 0.0
    record(used, **{"C.method": ("Cai Chongfa 2000, FVC in percent", "V")})
    return c


def c_from_table(
    landcover: ArrayLike,
    table: Mapping[int, float] | FactorTable,
    *,
    used: Provenance | None = None,
) -> np.ndarray:
    """C from a land-cover table (code → C); unknown codes raise, nodata stays NaN.

    >>> c_from_table(np.array([1, 2]), {1: 0.01, 2: 0.3}).tolist()
    [0.01, 0.3]
    """
    return _from_table(landcover, table, "C", used)


def p_from_table(
    landcover: ArrayLike,
    table: Mapping[int, float] | FactorTable,
    *,
    used: Provenance | None = None,
) -> np.ndarray:
    """P from a land-cover table (code → P); unknown codes raise, nodata stays NaN.

    >>> p_from_table(np.array([21, 51]), {21: 1.0, 51: 0.0}).tolist()
    [1.0, 0.0]
    """
    return _from_table(landcover, table, "P", used)


def _from_table(
    codes: ArrayLike, table: Mapping[int, float] | FactorTable, what: str, used: Provenance | None
) -> np.ndarray:
    values: Mapping[int, float | str]
    if isinstance(table, FactorTable):
        record(used, table)
        values = table.values
    else:
        record(used, **{f"{what}.table": (dict(table), "V")})
        values = table
    if any(isinstance(v, str) for v in values.values()):
        raise InvalidInput(f"the {what} table has non-numeric entries")
    return _lookup_codes(codes, values)


def _lookup_codes(codes: ArrayLike, values: Mapping[int, float | str]) -> np.ndarray:
    """:func:`~geoeco.catalog.classes.lookup` of land-cover codes: by indexing a table of
    every code from 0 to the largest (up to 65 535) when the codes are such integers, which
    gives the same values several times faster than a search per pixel; otherwise, or when a
    code has no entry (the error names them), by ``lookup`` itself.

    >>> _lookup_codes(np.ma.masked_equal([3, 0, 3, 1], 0), {1: 0.5, 3: 0.25}).tolist()
    [0.25, nan, 0.25, 0.5]
    """
    mask = np.ma.getmaskarray(codes)
    arr = np.asarray(np.ma.filled(codes, 0)) if np.ma.isMaskedArray(codes) else np.asarray(codes)
    if arr.dtype.kind not in "iu" or arr.size == 0 or arr.min() < 0 or arr.max() >= 2**16:
        return lookup(codes, values, what="land-cover code")
    size = int(arr.max()) + 1
    known = np.zeros(size, dtype=bool)
    table = np.full(size, np.nan)
    for k, v in values.items():
        if 0 <= int(k) < size:
            known[int(k)] = True
            table[int(k)] = float(v)
    if not (known[arr] | mask).all():
        return lookup(codes, values, what="land-cover code")
    out: np.ndarray = table[arr]
    out[mask] = np.nan
    return out


def p_wener(
    slope_percent: ArrayLike,
    cropland: ArrayLike,
    *,
    other: ArrayLike = 1.0,
    used: Provenance | None = None,
) -> np.ndarray:
    """P by Wener's formula P = 0.2 + 0.03·α (α = slope in %) on cropland [R], capped at 1.

    Elsewhere P = ``other`` (a scalar or array, e.g. from :func:`p_from_table`).

    >>> p_wener(np.array([10.0, 50.0, 10.0]), np.array([True, True, False])).tolist()
    [0.5, 1.0, 1.0]
    """
    s = as_float(slope_percent)
    crop = np.asarray(cropland, dtype=bool)
    p = np.minimum(0.2 + 0.03 * s, 1.0)  # NaN propagates
    record(used, **{"P.method": ("Wener P = 0.2 + 0.03*slope% on cropland, cap 1", "R")})
    return np.where(crop, p, np.broadcast_to(as_float(other), p.shape))


def csle_bet(
    landuse: ArrayLike,
    *,
    fvc: ArrayLike | None = None,
    t_table: str | FactorTable = "CSLE-monitoring/T-default",
    b_table: str | FactorTable = "CSLE-monitoring/B-default",
    e: ArrayLike = 1.0,
    used: Provenance | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CSLE B, E, T factors from land use [V rule, R tables].

    Codes in ``t_table`` are cropland: T from the table and B = 1. Other codes: T = 1 and B from
    ``b_table`` (entry ``"cai"`` = Cai's formula on ``fvc`` in percent). E = ``e`` (1 where no
    engineering measure). The default tables are placeholders tagged R (only T = 0.281 is
    verified); pass your own tables.

    >>> b, e, t = csle_bet(np.array([12, 41, 31]), fvc=np.array([0.0, 0.0, 10.0]))
    >>> t.tolist(), b.round(4).tolist()
    ([0.281, 1.0, 1.0], [1.0, 0.0, 0.3072])
    """
    tt = t_table if isinstance(t_table, FactorTable) else get_factor_table(t_table)
    bt = b_table if isinstance(b_table, FactorTable) else get_factor_table(b_table)
    record(used, tt, bt)
    codes = as_float(landuse)
    crop = np.isin(codes, list(tt.values))
    t = np.where(crop, lookup(np.where(crop, codes, np.nan), tt.values), 1.0)
    numeric = {k: (np.nan if isinstance(v, str) else float(v)) for k, v in bt.values.items()}
    full = {**numeric, **dict.fromkeys(tt.values, 1.0)}
    b = lookup(codes, full, what="land-use code")
    cai_codes = [k for k, v in bt.values.items() if isinstance(v, str) and v.lower() == "cai"]
    use_cai = np.isin(codes, cai_codes)
    if use_cai.any():
        if fvc is None:
            raise InvalidInput(f"{bt.name} takes B from FVC for codes {cai_codes}; pass fvc=")
        b = np.where(use_cai, c_cai(fvc, used=used), b)
    t[np.isnan(codes)] = np.nan
    e_arr = np.broadcast_to(as_float(e), codes.shape).copy()
    e_arr[np.isnan(codes)] = np.nan
    return b, e_arr, t


__all__ = [
    "EPIC_TO_SI",
    "c_cai",
    "c_from_table",
    "csle",
    "csle_bet",
    "k_epic",
    "p_from_table",
    "p_wener",
    "potential_loss",
    "rain_erosivity_constant",
    "rain_erosivity_daily",
    "rain_erosivity_fournier",
    "rain_erosivity_wischmeier",
    "rusle",
    "soil_conservation",
    "to_t_km2",
    "zhang_alpha",
    "zhang_beta",
]
