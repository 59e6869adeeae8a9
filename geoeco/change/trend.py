"""Trends of yearly stacks: Theil–Sen slope, Mann–Kendall test, trend classes, RESTREND.

Methodology §9. A stack is an array shaped (years, rows, cols) or (years, pixels) with **NaN
for nodata** (a masked array's mask becomes NaN). Every statistic is computed for all pixels at
once, on arrays of the n(n−1)/2 year pairs, in spatial chunks whose working memory is bounded
by :attr:`TrendParameters.chunk_mib` (25 years → 300 pairs per pixel); no Python loop runs per
pixel (the loops run over lags, at most n − 1 of them).

* Theil–Sen slope: median of (x_j − x_i)/(t_j − t_i) over the pairs i < j with both years
  valid (per unit of ``years``; per stack step by default).
* Mann–Kendall: S = Σ sign(x_j − x_i); Var(S) = [n(n−1)(2n+5) − Σ t(t−1)(2t+5)]/18 over the
  tie groups t; Z = (S − 1)/√Var for S > 0, (S + 1)/√Var for S < 0, 0 otherwise; two-sided
  p = 2·Φ(−|Z|). Missing years are skipped (n = valid years), as pymannkendall does.
* ``variance="hamed_rao"``: Var(S) multiplied by n/n* = 1 + 2/(n(n−1)(n−2))·Σ_k
  (n−k)(n−k−1)(n−k−2)·ρ_k over the lags k whose autocorrelation ρ_k of the ranks of the
  detrended series (x − slope·t) lies outside ±Φ⁻¹(1 − α/2)/√n (Hamed & Rao 1998), as
  pymannkendall's ``hamed_rao_modification_test``; lags are counted in stack positions.
* Trend classes: 1 significant improvement, 2 no significant change, 3 significant
  degradation (slope sign and p < α, methodology §9 [R]); which sign is an improvement is set
  by :attr:`TrendParameters.increase_is` (an increase of soil loss is a degradation).
* RESTREND (Evans & Geerken 2004): per pixel, OLS of the vegetation index on the year's
  (accumulated) precipitation; where the regression is significant, the trend of its residuals
  is the human-induced signal; elsewhere the result is nodata and :attr:`RestrendResult.status`
  says why.

Examples
--------
>>> x = np.array([[1.0, 2.0, 2.0, 5.0, 4.0, 6.0, 7.0, 9.0, 8.0, 10.0]]).T   # 10 years, 1 pixel
>>> r = mann_kendall(x)
>>> r.slope.tolist(), r.s.tolist(), r.var_s.tolist()   # one tie pair: (2250 - 18)/18 = 124
([1.0], [40.0], [124.0])
>>> round(float(r.z[0]), 4), trend_classes(r).tolist()   # Z = 39/√124
(3.5023, [1])
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, Literal, TypeVar

import numpy as np
import numpy.typing as npt
from scipy.special import ndtr, ndtri, stdtr

from geoeco.catalog.classes import Provenance, Tag
from geoeco.core.arrays import as_float
from geoeco.core.errors import GridMismatch, InvalidInput

FloatArray = npt.NDArray[np.float64]
T = TypeVar("T")
ChunkFn = Callable[..., tuple[FloatArray, ...]]

#: trend class codes (0 = nodata in uint8 rasters)
IMPROVEMENT, NO_CHANGE, DEGRADATION = 1, 2, 3
#: RESTREND status codes
NODATA, VALID, NOT_SIGNIFICANT, NEGATIVE_RESPONSE = 0, 1, 2, 3


def _param(default: T, tag: Tag, source: str) -> T:
    """A dataclass field carrying its tag (V/R/I) and source for provenance."""
    return field(default=default, metadata={"tag": tag, "source": source})


@dataclass(frozen=True)
class TrendParameters:
    """Settings of the trend analysis, each with its tag and source.

    >>> TrendParameters(alpha=0.01).alpha
    0.01
    >>> TrendParameters(variance="yue_wang")
    Traceback (most recent call last):
    ...
    geoeco.core.errors.InvalidInput: variance must be 'original' or 'hamed_rao', got 'yue_wang'
    """

    alpha: float = _param(0.05, "R", "p < 0.05 significant (Chinese vegetation studies, §9)")
    min_years: int = _param(10, "R", "fewer valid years → nodata (normal approximation of S)")
    increase_is: Literal["improvement", "degradation"] = _param(
        "improvement", "I", "NDVI, FVC, NPP: improvement; soil loss, wind erosion: degradation"
    )
    variance: Literal["original", "hamed_rao"] = _param(
        "original", "V", "Mann–Kendall variance; hamed_rao: Hamed & Rao 1998 correction (§9)"
    )
    hamed_rao_lag: int | None = _param(None, "I", "lags used by Hamed–Rao; None = all (n − 1)")
    regression_alpha: float = _param(0.05, "R", "RESTREND: NDVI–rain regression significant")
    require_positive_response: bool = _param(
        False, "R", "RESTREND: also require NDVI to rise with rain (slope > 0)"
    )
    chunk_mib: float = _param(16.0, "I", "working memory per spatial chunk (MiB)")

    def __post_init__(self) -> None:
        if self.variance not in ("original", "hamed_rao"):
            raise InvalidInput(f"variance must be 'original' or 'hamed_rao', got {self.variance!r}")
        if self.increase_is not in ("improvement", "degradation"):
            raise InvalidInput("increase_is must be 'improvement' or 'degradation'")
        for name in ("alpha", "regression_alpha"):
            if not 0 < getattr(self, name) < 1:
                raise InvalidInput(f"{name} must be between 0 and 1")
        if self.min_years < 3:
            raise InvalidInput("min_years must be at least 3")
        if self.hamed_rao_lag is not None and self.hamed_rao_lag < 1:
            raise InvalidInput("hamed_rao_lag must be >= 1 (or None for all lags)")
        if not self.chunk_mib > 0:
            raise InvalidInput("chunk_mib must be > 0")

    def unverified(self) -> list[str]:
        """Names of the settings tagged R."""
        return [f.name for f in fields(self) if f.metadata["tag"] == "R"]

    def record(self, used: Provenance | None) -> None:
        """Add every setting, with its tag and source, to ``used`` as ``trend.<name>``."""
        if used is None:
            return
        for f in fields(self):
            tag: Tag = f.metadata["tag"]
            src = f.metadata["source"]
            used.add_param(f"trend.{f.name}", getattr(self, f.name), tag=tag, source=src)


DEFAULT = TrendParameters()


@dataclass(frozen=True)
class TrendResult:
    """Per-pixel Theil–Sen slope and Mann–Kendall statistics (NaN = nodata).

    ``slope`` is in units of the variable per unit of ``years``; ``n_years`` counts the valid
    years of each pixel (pixels with fewer than ``min_years`` are NaN in every statistic).
    """

    slope: FloatArray
    s: FloatArray
    var_s: FloatArray
    z: FloatArray
    p: FloatArray
    n_years: npt.NDArray[np.int16]
    variance: str


# ------------------------------------------------------------------------------------------
# row-wise kernels on a chunk shaped (pixels, years)
# ------------------------------------------------------------------------------------------


def _pair_slopes(xt: FloatArray, t: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Pairwise slopes shaped (pixels, n(n−1)/2) and the Mann–Kendall S of each pixel.

    ``xt`` is time-major (years, pixels), so each lag k is one contiguous step over all pixels:
    (x[k:] − x[:−k]) / (t[k:] − t[:−k]). A pair with a NaN gives a NaN slope and no sign.
    """
    n, m = xt.shape
    buf = np.empty((n * (n - 1) // 2, m), dtype=np.float64)
    s = np.zeros(m, dtype=np.float64)
    off = 0
    for k in range(1, n):
        blk = buf[off : off + n - k]
        np.subtract(xt[k:], xt[:-k], out=blk)
        s += np.count_nonzero(blk > 0, axis=0)
        s -= np.count_nonzero(blk < 0, axis=0)
        np.divide(blk, (t[k:] - t[:-k])[:, None], out=blk)
        off += n - k
    return np.ascontiguousarray(buf.T), s


def _row_median(a: FloatArray) -> FloatArray:
    """Median of each row ignoring NaN; sorts ``a`` in place (NaN where a row has no value)."""
    p = a.shape[1]
    a.sort(axis=1)  # NaN last
    k = p - np.count_nonzero(np.isnan(a[:, -1:]), axis=1) if p else np.zeros(a.shape[0], int)
    if np.isnan(a[:, -1]).any():
        k = p - np.count_nonzero(np.isnan(a), axis=1)
    lo = np.maximum((k - 1) // 2, 0)[:, None]
    hi = np.maximum(k // 2, 0)[:, None]
    mid = 0.5 * (np.take_along_axis(a, lo, 1) + np.take_along_axis(a, hi, 1))[:, 0]
    return np.asarray(np.where(k > 0, mid, np.nan), dtype=np.float64)


def _runs(srt: FloatArray) -> npt.NDArray[np.intp]:
    """For rows sorted ascending (NaN last): the index where each value's run of equal values
    starts (every NaN is its own run, since NaN != NaN)."""
    idx = np.arange(srt.shape[1])
    new = np.ones(srt.shape, dtype=bool)
    new[:, 1:] = srt[:, 1:] != srt[:, :-1]
    return np.asarray(np.maximum.accumulate(np.where(new, idx, 0), axis=1), dtype=np.intp)


def _tie_term(x: FloatArray) -> FloatArray:
    """Σ over tie groups of t(t−1)(2t+5) for each row (NaN values ignored).

    With c the position of a value inside its group (0-based), the group total is the sum of
    g(c+1) − g(c) over its members, g(t) = t(t−1)(2t+5) (g(1) − g(0) = 0).
    """
    start = _runs(np.sort(x, axis=1))
    c = (np.arange(x.shape[1]) - start).astype(np.float64)
    g1, g0 = (c + 1) * c * (2 * c + 7), c * (c - 1) * (2 * c + 5)
    return np.asarray((g1 - g0).sum(axis=1), dtype=np.float64)


def _average_ranks(x: FloatArray) -> FloatArray:
    """Ranks 1..n of each row's valid values, ties sharing their mean rank; NaN stays NaN."""
    order = np.argsort(x, axis=1, kind="stable")
    srt = np.take_along_axis(x, order, 1)
    start = _runs(srt)
    n = x.shape[1]
    idx = np.arange(n)
    last = np.ones(x.shape, dtype=bool)
    last[:, :-1] = srt[:, 1:] != srt[:, :-1]
    end = np.minimum.accumulate(np.where(last, idx, n - 1)[:, ::-1], axis=1)[:, ::-1]
    ranks = np.where(np.isnan(srt), np.nan, 0.5 * (start + end) + 1.0)
    out = np.empty_like(x)
    np.put_along_axis(out, order, ranks, axis=1)
    return out


def _hamed_rao_ratio(
    x: FloatArray, t: FloatArray, slope: FloatArray, nv: FloatArray, params: TrendParameters
) -> FloatArray:
    """Hamed–Rao n/n*: 1 + 2/(n(n−1)(n−2))·Σ_k (n−k)(n−k−1)(n−k−2)·ρ_k over significant ρ_k."""
    position = t - t[0] + 1.0  # 1..n for consecutive years, as pymannkendall detrends
    ranks = _average_ranks(x - position[None, :] * slope[:, None])
    valid = ~np.isnan(ranks)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(valid, ranks, 0.0).sum(axis=1) / nv
        y = np.ascontiguousarray(np.where(valid, ranks - mean[:, None], 0.0).T)  # time-major
        acov0 = (y * y).sum(axis=0) / nv
        bound = ndtri(1.0 - params.alpha / 2.0) / np.sqrt(nv)
        n = x.shape[1]
        last = n - 1 if params.hamed_rao_lag is None else min(params.hamed_rao_lag, n - 1)
        total = np.zeros(x.shape[0], dtype=np.float64)
        for k in range(1, last + 1):
            acf = (y[k:] * y[:-k]).sum(axis=0) / nv / acov0
            significant = ~((acf <= bound) & (acf >= -bound)) & (k < nv)
            weight = (nv - k) * (nv - k - 1) * (nv - k - 2)
            total += np.where(significant, weight * acf, 0.0)
        return np.asarray(1.0 + 2.0 / (nv * (nv - 1) * (nv - 2)) * total, dtype=np.float64)


def _z_and_p(s: FloatArray, var: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Z with the continuity correction and the two-sided normal p."""
    with np.errstate(invalid="ignore", divide="ignore"):
        sd = np.sqrt(var)
        z = np.where(s > 0, (s - 1) / sd, np.where(s < 0, (s + 1) / sd, 0.0))
    z = np.where(np.isnan(s), np.nan, z)
    return np.asarray(z, dtype=np.float64), np.asarray(2.0 * ndtr(-np.abs(z)), dtype=np.float64)


def _trend_chunk(xt: FloatArray, t: FloatArray, params: TrendParameters) -> tuple[FloatArray, ...]:
    """(slope, S, Var(S), Z, p, n) of each pixel of a time-major (years, pixels) chunk."""
    pairs, s = _pair_slopes(xt, t)
    slope = _row_median(pairs)
    del pairs
    x = np.ascontiguousarray(xt.T)  # (pixels, years) for the per-pixel sorts
    nv = np.count_nonzero(~np.isnan(x), axis=1).astype(np.float64)
    var = (nv * (nv - 1) * (2 * nv + 5) - _tie_term(x)) / 18.0
    if params.variance == "hamed_rao":
        var = var * _hamed_rao_ratio(x, t, slope, nv, params)
    z, p = _z_and_p(s, var)
    out = [slope, s, var, z, p]
    short = nv < params.min_years
    for a in out:
        a[short] = np.nan
    return (*out, nv)


# ------------------------------------------------------------------------------------------
# chunking over pixels
# ------------------------------------------------------------------------------------------


def _as_2d(stack: Any, what: str) -> tuple[Any, tuple[int, ...]]:
    """A (years, pixels) view of a (years, rows, cols) or (years, pixels) stack, and its
    spatial shape."""
    a = stack if isinstance(stack, np.ndarray) else np.asarray(stack)
    if a.ndim not in (2, 3):
        raise InvalidInput(f"{what} must be shaped (years, rows, cols) or (years, pixels)")
    if a.shape[0] < 3:
        raise InvalidInput(f"{what} needs at least 3 years, got {a.shape[0]}")
    return a.reshape(a.shape[0], -1), tuple(a.shape[1:])


def _time_axis(years: npt.ArrayLike | None, n: int) -> FloatArray:
    """The time of each layer (default 0..n−1); finite and strictly increasing."""
    t = np.arange(n, dtype=np.float64) if years is None else as_float(years, np.float64)
    if t.shape != (n,) or not np.all(np.isfinite(t)) or np.any(np.diff(t) <= 0):
        raise InvalidInput(f"years must be {n} finite, strictly increasing values")
    return t


def _chunk_slices(npix: int, n: int, params: TrendParameters) -> Iterator[slice]:
    """Pixel slices whose pair arrays and per-year temporaries fit in ``chunk_mib``."""
    per_pixel = 8 * (2 * n * (n - 1) // 2 + 16 * n)
    size = max(1, int(params.chunk_mib * 2**20) // per_pixel)
    for start in range(0, npix, size):
        yield slice(start, min(start + size, npix))


def _map_chunks(
    stacks: Sequence[Any], fn: ChunkFn, n_out: int, params: TrendParameters
) -> list[FloatArray]:
    """Run ``fn`` on time-major (years, pixels) float64 chunks of each (years, pixels) stack;
    gather the ``n_out`` per-pixel results into flat arrays."""
    n, npix = stacks[0].shape
    outs = [np.empty(npix, dtype=np.float64) for _ in range(n_out)]
    for sl in _chunk_slices(npix, n, params):
        chunks = [np.ascontiguousarray(as_float(st[:, sl], np.float64)) for st in stacks]
        for o, r in zip(outs, fn(*chunks), strict=True):
            o[sl] = r
    return outs


def _result(outs: Sequence[FloatArray], shape: tuple[int, ...], variance: str) -> TrendResult:
    """A :class:`TrendResult` from the flat (slope, S, Var, Z, p, n) arrays."""
    slope, s, var, z, p, nv = (o.reshape(shape) for o in outs)
    return TrendResult(slope, s, var, z, p, nv.astype(np.int16), variance)


# ------------------------------------------------------------------------------------------
# public functions
# ------------------------------------------------------------------------------------------


def mann_kendall(
    stack: Any,
    *,
    years: npt.ArrayLike | None = None,
    params: TrendParameters = DEFAULT,
    used: Provenance | None = None,
) -> TrendResult:
    """Theil–Sen slope and Mann–Kendall test of every pixel of a yearly stack.

    Parameters
    ----------
    stack : array (years, rows, cols) or (years, pixels), NaN = nodata
    years : the time of each layer (e.g. 2000..2024); default 0..n−1, so the slope is per
        layer step. Gaps are allowed (e.g. 2000, 2001, 2003).
    params : :class:`TrendParameters` (alpha, min_years, variance, chunk size, …)

    Returns
    -------
    TrendResult with arrays of the stack's spatial shape.

    >>> stack = np.array([[3.0, 1.0], [2.0, 1.0], [1.0, 1.0]])   # 3 years, 2 pixels
    >>> r = mann_kendall(stack, years=[2000, 2001, 2003], params=TrendParameters(min_years=3))
    >>> r.slope.tolist(), r.s.tolist(), r.p.round(3).tolist()
    ([-0.6666666666666666, 0.0], [-3.0, 0.0], [0.296, 1.0])
    """
    a2, shape = _as_2d(stack, "the stack")
    t = _time_axis(years, a2.shape[0])

    def kernel(x: FloatArray) -> tuple[FloatArray, ...]:
        return _trend_chunk(x, t, params)

    outs = _map_chunks([a2], kernel, 6, params)
    params.record(used)
    return _result(outs, shape, params.variance)


def trend_classes(result: TrendResult, params: TrendParameters = DEFAULT) -> npt.NDArray[np.uint8]:
    """Trend class per pixel: 1 significant improvement, 2 no significant change,
    3 significant degradation, 0 nodata (methodology §9 [R]).

    Significant = p < ``params.alpha``; the slope's sign says the direction, and
    ``params.increase_is`` whether an increase is an improvement (NDVI, FVC, NPP) or a
    degradation (soil loss, wind erosion).

    >>> r = TrendResult(np.array([0.5, 0.5, -0.2, np.nan]), *(np.zeros(4),) * 3,
    ...                 np.array([0.01, 0.2, 0.001, np.nan]), np.zeros(4, np.int16), "original")
    >>> trend_classes(r).tolist()
    [1, 2, 3, 0]
    >>> trend_classes(r, TrendParameters(increase_is="degradation")).tolist()
    [3, 2, 1, 0]
    """
    with np.errstate(invalid="ignore"):
        significant = result.p < params.alpha
        up = significant & (result.slope > 0)
        down = significant & (result.slope < 0)
    better, worse = (up, down) if params.increase_is == "improvement" else (down, up)
    out = np.full(result.slope.shape, NO_CHANGE, dtype=np.uint8)
    out[better] = IMPROVEMENT
    out[worse] = DEGRADATION
    out[np.isnan(result.slope) | np.isnan(result.p)] = 0
    return out


# ------------------------------------------------------------------------------------------
# RESTREND
# ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RestrendResult:
    """Per-pixel vegetation–rain regression and the trend of its residuals.

    ``rain_slope`` (vegetation units per mm), ``rain_intercept``, ``rain_r2`` and the slope's
    two-sided ``rain_p`` (t test, n − 2 degrees of freedom); ``status``: 0 nodata (fewer than
    ``min_years`` valid year pairs, or no variation in rain), 1 valid, 2 regression not
    significant, 3 negative response (only with ``require_positive_response``). ``residual``
    holds the residual trend, NaN wherever ``status`` is not 1.
    """

    rain_slope: FloatArray
    rain_intercept: FloatArray
    rain_r2: FloatArray
    rain_p: FloatArray
    status: npt.NDArray[np.uint8]
    residual: TrendResult


def _ols_chunk(y: FloatArray, r: FloatArray) -> tuple[FloatArray, ...]:
    """Per-pixel OLS y = a + b·r over the years where both are valid, on time-major
    (years, pixels) chunks: (b, a, R², p, n, residuals with NaN where a year is missing)."""
    valid = ~(np.isnan(y) | np.isnan(r))
    n = np.count_nonzero(valid, axis=0).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        rm = np.where(valid, r, 0.0).sum(axis=0) / n
        ym = np.where(valid, y, 0.0).sum(axis=0) / n
        dr = np.where(valid, r - rm, 0.0)
        dy = np.where(valid, y - ym, 0.0)
        sxx, sxy, syy = (dr * dr).sum(axis=0), (dr * dy).sum(axis=0), (dy * dy).sum(axis=0)
        b = sxy / sxx
        a = ym - b * rm
        resid = np.where(valid, y - (a + b * r), np.nan)
        rss = np.nansum(resid * resid, axis=0)
        tstat = b / np.sqrt(rss / (n - 2) / sxx)
        p = 2.0 * stdtr(n - 2, -np.abs(tstat))
        r2 = 1.0 - rss / syy
    return b, a, r2, np.asarray(p, dtype=np.float64), n, resid


def _restrend_chunk(
    y: FloatArray, r: FloatArray, t: FloatArray, params: TrendParameters
) -> tuple[FloatArray, ...]:
    """Regression, status and residual trend of time-major (years, pixels) chunks."""
    b, a, r2, p, n, resid = _ols_chunk(y, r)
    status = np.full(b.shape, VALID, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        status[~(p < params.regression_alpha)] = NOT_SIGNIFICANT
        if params.require_positive_response:
            status[(status == VALID) & (b <= 0)] = NEGATIVE_RESPONSE
    status[(n < params.min_years) | ~np.isfinite(b)] = NODATA
    trend = _trend_chunk(resid, t, params)
    for arr in trend[:5]:
        arr[status != VALID] = np.nan
    for arr in (b, a, r2, p):
        arr[status == NODATA] = np.nan
    return (b, a, r2, p, status, *trend)


def restrend(
    vegetation: Any,
    precipitation: Any,
    *,
    years: npt.ArrayLike | None = None,
    params: TrendParameters = DEFAULT,
    used: Provenance | None = None,
) -> RestrendResult:
    """RESTREND: trend of the residuals of vegetation regressed on the year's precipitation.

    Parameters
    ----------
    vegetation : stack (years, rows, cols) or (years, pixels) of annual NDVI (maximum or
        growing-season), NaN = nodata
    precipitation : stack of the same shape: each year's accumulated precipitation (mm) over
        the period that drives that year's vegetation (chosen by the caller)
    years, params : as in :func:`mann_kendall`; ``params.regression_alpha`` sets when the
        regression counts as significant

    Returns
    -------
    RestrendResult; its ``residual`` is a :class:`TrendResult` (use :func:`trend_classes`).

    >>> rain = np.array([400.0, 300, 500, 350, 450, 450, 350, 500, 300, 400])  # no trend in rain
    >>> ndvi = 0.1 + 0.0005 * rain + 0.004 * np.arange(10)      # planted residual trend
    >>> res = restrend(ndvi[:, None], rain[:, None])
    >>> res.status.tolist(), res.rain_slope.round(6).tolist(), res.residual.slope.round(4).tolist()
    ([1], [0.0005], [0.004])
    """
    y2, shape = _as_2d(vegetation, "the vegetation stack")
    r2d, rshape = _as_2d(precipitation, "the precipitation stack")
    if y2.shape != r2d.shape or shape != rshape:
        raise GridMismatch("vegetation and precipitation stacks must have the same shape")
    t = _time_axis(years, y2.shape[0])

    def kernel(y: FloatArray, r: FloatArray) -> tuple[FloatArray, ...]:
        return _restrend_chunk(y, r, t, params)

    outs = _map_chunks([y2, r2d], kernel, 11, params)
    params.record(used)
    b, a, r2, p, status = (o.reshape(shape) for o in outs[:5])
    residual = _result(outs[5:], shape, params.variance)
    return RestrendResult(b, a, r2, p, status.astype(np.uint8), residual)


__all__ = [
    "DEFAULT",
    "DEGRADATION",
    "IMPROVEMENT",
    "NEGATIVE_RESPONSE",
    "NODATA",
    "NOT_SIGNIFICANT",
    "NO_CHANGE",
    "VALID",
    "RestrendResult",
    "TrendParameters",
    "TrendResult",
    "mann_kendall",
    "restrend",
    "trend_classes",
]
