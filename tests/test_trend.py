"""Trend statistics (methodology §9) against pymannkendall, hand values and planted trends."""

from __future__ import annotations

import numpy as np
import pymannkendall as mk
import pytest
from scipy.stats import linregress, norm

from geoeco.catalog.classes import Provenance
from geoeco.change.trend import (
    NODATA,
    NOT_SIGNIFICANT,
    VALID,
    TrendParameters,
    mann_kendall,
    restrend,
    trend_classes,
)
from geoeco.core.errors import GridMismatch, InvalidInput

ALL_YEARS = TrendParameters(min_years=3)


def _random_series(seed: int, n: int = 25, m: int = 300) -> np.ndarray:
    """(years, pixels): a third with ties (rounded to 0.5), some with a trend."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, m)) + 0.06 * np.arange(n)[:, None] * rng.normal(size=m)
    x[:, : m // 3] = np.round(x[:, : m // 3] * 2) / 2
    x[:, m // 3 : m // 3 + 5] = 1.0  # constant series: all values tie
    return x


def _ar1(seed: int, n: int = 25, m: int = 300, phi: float = 0.7) -> np.ndarray:
    rng = np.random.default_rng(seed)
    e = rng.normal(size=(n, m))
    x = np.zeros((n, m))
    for i in range(n):
        x[i] = (phi * x[i - 1] if i else 0.0) + e[i]
    return x + 0.04 * np.arange(n)[:, None] * rng.uniform(-1, 1, m)


def _reference(x: np.ndarray, test, **kw) -> dict[str, np.ndarray]:  # type: ignore[no-untyped-def]
    rows = [test(x[:, j], **kw) for j in range(x.shape[1])]
    return {
        k: np.array([getattr(r, k) for r in rows], dtype=float)
        for k in ("s", "var_s", "slope", "z", "p")
    }


def _assert_matches(got, ref: dict[str, np.ndarray]) -> None:  # type: ignore[no-untyped-def]
    np.testing.assert_array_equal(got.s, ref["s"])
    for key, value in (("var_s", got.var_s), ("slope", got.slope), ("z", got.z)):
        np.testing.assert_allclose(value, ref[key], rtol=1e-12, atol=0, equal_nan=True, err_msg=key)
    # pymannkendall's p = 2(1 − Φ(|z|)) loses every digit below ~1e-16; geoeco's 2Φ(−|z|) does not
    np.testing.assert_allclose(got.p, ref["p"], rtol=1e-12, atol=2e-16, equal_nan=True)
    np.testing.assert_allclose(got.p, 2 * norm.sf(np.abs(ref["z"])), rtol=1e-12, equal_nan=True)


def test_hand_computed_small_series():
    # x = 1, 3, 2, 4: signs of the 6 pairs + + + − + + → S = 4; no ties: Var = 4·3·13/18 = 8.6667
    # Z = (4 − 1)/√8.6667 = 1.019049; pair slopes 2, 0.5, 1, −1, 0.5, 2 → median (0.5 + 1)/2 = 0.75
    r = mann_kendall(np.array([[1.0], [3.0], [2.0], [4.0]]), params=ALL_YEARS)
    assert r.s.tolist() == [4.0]
    assert r.var_s[0] == pytest.approx(8.666667, rel=1e-6)
    assert r.z[0] == pytest.approx(1.019049, rel=1e-6)
    assert r.slope.tolist() == [0.75]
    assert r.p[0] == pytest.approx(0.308180, rel=1e-5)  # 2·(1 − Φ(1.019049))


def test_tie_correction_by_hand():
    # x = 1, 2, 2, 2, 3: one tie group of t = 3 → Var = [5·4·15 − 3·2·11]/18 = (300 − 66)/18 = 13
    r = mann_kendall(np.array([1.0, 2.0, 2.0, 2.0, 3.0])[:, None], params=ALL_YEARS)
    assert r.var_s.tolist() == [13.0]
    assert r.s.tolist() == [7.0]  # 10 pairs, 3 tied → 7 increasing


@pytest.mark.parametrize("seed", [0, 1])
def test_original_test_equals_pymannkendall_with_ties(seed):
    x = _random_series(seed)
    _assert_matches(mann_kendall(x, params=ALL_YEARS), _reference(x, mk.original_test))


def test_original_test_equals_pymannkendall_on_ar1_series():
    x = _ar1(5)
    _assert_matches(mann_kendall(x, params=ALL_YEARS), _reference(x, mk.original_test))


def test_original_test_equals_pymannkendall_with_missing_years():
    x = _random_series(2)
    rng = np.random.default_rng(9)
    x[rng.random(x.shape) < 0.15] = np.nan  # gaps anywhere: pymannkendall skips them
    with np.errstate(invalid="ignore"):
        ref = _reference(x, mk.original_test)
    _assert_matches(mann_kendall(x, params=ALL_YEARS), ref)


@pytest.mark.parametrize("make", [_random_series, _ar1])
def test_hamed_rao_equals_pymannkendall(make):
    x = make(3)
    params = TrendParameters(min_years=3, variance="hamed_rao")
    with np.errstate(invalid="ignore"):  # a corrected variance can be negative: Z is NaN
        ref = _reference(x, mk.hamed_rao_modification_test)
    got = mann_kendall(x, params=params)
    _assert_matches(got, ref)
    assert np.any(got.var_s != mann_kendall(x, params=ALL_YEARS).var_s)


def test_hamed_rao_with_a_lag_limit_and_trailing_gaps_equals_pymannkendall():
    x = _ar1(4, n=30, m=120)
    x[-4:, :40] = np.nan  # the last years missing: positions agree with pymannkendall's
    params = TrendParameters(min_years=3, variance="hamed_rao", hamed_rao_lag=3, alpha=0.1)
    with np.errstate(invalid="ignore"):
        ref = _reference(x, mk.hamed_rao_modification_test, lag=3, alpha=0.1)
    _assert_matches(mann_kendall(x, params=params), ref)


def test_hamed_rao_widens_the_variance_of_an_autocorrelated_series():
    x = _ar1(6, n=40, m=400, phi=0.8)
    orig = mann_kendall(x, params=ALL_YEARS)
    hr = mann_kendall(x, params=TrendParameters(min_years=3, variance="hamed_rao"))
    assert np.nanmedian(hr.var_s / orig.var_s) > 1.5
    assert np.sum(hr.p < 0.05) < np.sum(orig.p < 0.05)


def test_planted_trends_are_recovered_with_sign_and_significance():
    rng = np.random.default_rng(11)
    n, shape = 25, (60, 90)
    planted = np.zeros(shape)
    planted[:, :30] = 0.01  # greening: +0.01 NDVI per year
    planted[:, 60:] = -0.008  # browning
    years = np.arange(2000, 2000 + n)
    stack = 0.3 + planted[None] * (years - 2000)[:, None, None] + rng.normal(0, 0.02, (n, *shape))
    r = mann_kendall(stack, years=years)
    classes = trend_classes(r)
    assert np.mean(classes[:, :30] == 1) > 0.95 and np.mean(classes[:, 60:] == 3) > 0.95
    assert np.mean(classes[:, 30:60] == 2) > 0.9  # no trend: about alpha false alarms
    assert np.median(r.slope[:, :30]) == pytest.approx(0.01, rel=0.05)
    assert np.median(r.slope[:, 60:]) == pytest.approx(-0.008, rel=0.05)
    # soil loss: an increase is a degradation
    soil = trend_classes(r, TrendParameters(increase_is="degradation"))
    assert np.mean(soil[:, :30] == 3) > 0.95 and np.mean(soil[:, 60:] == 1) > 0.95


def test_too_few_years_is_nodata_and_counts_are_reported():
    x = np.tile(np.arange(12.0)[:, None], (1, 3))
    x[:4, 1] = np.nan  # 8 valid years < min_years = 10
    x[:, 2] = np.nan
    r = mann_kendall(x)
    assert r.n_years.tolist() == [12, 8, 0]
    assert np.isnan(r.slope[1:]).all() and np.isnan(r.p[1:]).all()
    assert r.slope[0] == 1.0
    assert trend_classes(r).tolist() == [1, 0, 0]


def test_results_do_not_depend_on_chunking_or_layout():
    x = _random_series(7, m=600).reshape(25, 20, 30)
    x[3, 2, 2] = np.nan
    big = mann_kendall(x, params=ALL_YEARS)
    small = mann_kendall(x.reshape(25, -1), params=TrendParameters(min_years=3, chunk_mib=0.01))
    for key in ("slope", "s", "var_s", "z", "p"):
        np.testing.assert_array_equal(getattr(big, key).reshape(-1), getattr(small, key), key)
    assert big.slope.shape == (20, 30)


def test_years_with_gaps_give_slopes_per_year_and_masked_input_is_nodata():
    years = np.array([2000, 2001, 2003, 2006, 2010, 2011])
    x = np.ma.masked_array(np.stack([2.0 * years, 5.0 - 0.5 * years], axis=1), mask=False)
    x.mask[0, 1] = True
    r = mann_kendall(x, years=years, params=TrendParameters(min_years=5))
    assert r.slope.tolist() == [2.0, -0.5]
    assert r.n_years.tolist() == [6, 5]


def test_provenance_records_the_settings():
    used = Provenance()
    mann_kendall(np.arange(12.0)[:, None], used=used)
    assert used.parameters["trend.alpha"]["value"] == 0.05
    assert "trend.alpha" in used.to_dict()["unverified"]


def test_invalid_input_is_refused():
    with pytest.raises(InvalidInput, match="at least 3"):
        mann_kendall(np.ones((2, 4)))
    with pytest.raises(InvalidInput, match="increasing"):
        mann_kendall(np.ones((4, 4)), years=[2000, 2002, 2001, 2003])
    with pytest.raises(InvalidInput):
        mann_kendall(np.ones(5))
    with pytest.raises(InvalidInput):
        TrendParameters(alpha=1.5)
    with pytest.raises(GridMismatch):
        restrend(np.ones((12, 3)), np.ones((12, 4)))


def _restrend_scene(seed: int):  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(seed)
    n, m = 25, 900
    rain = rng.uniform(150, 450, (n, m))
    t = np.arange(n)[:, None]
    ndvi = 0.05 + 0.0008 * rain + rng.normal(0, 0.01, (n, m))
    ndvi[:, :300] += 0.004 * t  # human-induced greening on top of the rain response
    ndvi[:, 600:] = 0.3 + rng.normal(0, 0.01, (n, 300))  # no response to rain (irrigated)
    return ndvi, rain


def test_restrend_regression_equals_scipy_linregress():
    ndvi, rain = _restrend_scene(1)
    ndvi[[2, 7], 5] = np.nan
    res = restrend(ndvi, rain)
    for j in (0, 5, 400, 650):
        ok = ~np.isnan(ndvi[:, j])
        ref = linregress(rain[ok, j], ndvi[ok, j])
        assert res.rain_slope[j] == pytest.approx(ref.slope, rel=1e-10)
        assert res.rain_intercept[j] == pytest.approx(ref.intercept, rel=1e-10)
        assert res.rain_r2[j] == pytest.approx(ref.rvalue**2, rel=1e-9)
        assert res.rain_p[j] == pytest.approx(ref.pvalue, rel=1e-8, abs=1e-300)


def test_restrend_separates_human_trend_from_rain_and_flags_non_significant_pixels():
    ndvi, rain = _restrend_scene(2)
    res = restrend(ndvi, rain)
    human, climate, flat = slice(0, 300), slice(300, 600), slice(600, 900)
    assert np.mean(res.status[human] == VALID) == 1.0
    assert np.mean(res.status[flat] == NOT_SIGNIFICANT) > 0.9
    assert np.isnan(res.residual.slope[res.status != VALID]).all()
    classes = trend_classes(res.residual)
    assert np.mean(classes[human] == 1) > 0.95
    assert np.mean(classes[climate][res.status[climate] == VALID] == 2) > 0.9
    assert np.median(res.residual.slope[human]) == pytest.approx(0.004, rel=0.1)


def test_restrend_status_nodata_and_negative_response():
    n = 15
    rain = np.tile(np.linspace(100, 400, n)[:, None], (1, 3))
    ndvi = np.stack([0.6 - 0.001 * rain[:, 0], 0.1 + 0.001 * rain[:, 1], np.full(n, np.nan)], 1)
    ndvi[:, 1] += 0.001 * np.sin(np.arange(n))
    ndvi[:, 0] += 0.001 * np.cos(np.arange(n))
    plain = restrend(ndvi, rain)
    assert plain.status.tolist() == [VALID, VALID, NODATA]
    positive = restrend(ndvi, rain, params=TrendParameters(require_positive_response=True))
    assert positive.status.tolist() == [3, VALID, NODATA]
    assert np.isnan(positive.residual.slope[0]) and not np.isnan(positive.residual.slope[1])
