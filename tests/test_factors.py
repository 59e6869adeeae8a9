"""Factor formulas and algebra, against numbers worked by hand (calculator arithmetic in the
comments) from the formulas in methodology.md §1.1–1.2."""

from __future__ import annotations

import numpy as np
import pytest

from geoeco.catalog.classes import Provenance
from geoeco.core.errors import GridMismatch, InvalidInput, UnitsError
from geoeco.erosion.factors import (
    c_cai,
    c_from_table,
    csle,
    csle_bet,
    k_epic,
    p_wener,
    potential_loss,
    rain_erosivity_constant,
    rain_erosivity_daily,
    rain_erosivity_fournier,
    rain_erosivity_wischmeier,
    rusle,
    soil_conservation,
    to_t_km2,
)

# ---------------------------------------------------------------------------------- K (EPIC)

# K_EPIC = f1·f2·f3·f4, K_SI = 0.1317·K_EPIC (methodology §1.2), worked by hand:
#
# Loam, SAN 40, SIL 40, CLA 20, C 1 %:
#   f1 = 0.2 + 0.3·exp(−0.0256·40·0.6) = 0.2 + 0.3·exp(−0.6144) = 0.2 + 0.3·0.540965 = 0.362290
#   f2 = (40/60)^0.3 = 0.885467
#   f3 = 1 − 0.25·1/(1 + exp(3.72 − 2.95)) = 1 − 0.25/(1 + 2.159766) = 0.920880
#   f4 = 1 − 0.7·0.6/(0.6 + exp(−5.51 + 22.9·0.6)) = 1 − 0.42/(0.6 + 3751.83) = 0.999888
#   K_EPIC = 0.295381, K_SI = 0.038902
# Loamy sand, SAN 85, SIL 10, CLA 5, C 0.5 %:
#   f1 = 0.2 + 0.3·exp(−0.0256·85·0.9) = 0.2 + 0.3·exp(−1.9584) = 0.2 + 0.3·0.141084 = 0.242325
#   f2 = (10/15)^0.3 = 0.885467
#   f3 = 1 − 0.25·0.5/(0.5 + exp(3.72 − 1.475)) = 1 − 0.125/(0.5 + 9.440416) = 0.987425
#   f4 = 1 − 0.7·0.15/(0.15 + exp(−5.51 + 3.435)) = 1 − 0.105/(0.15 + 0.125556) = 0.618953
#   K_EPIC = 0.131139, K_SI = 0.017271
# Clay, SAN 20, SIL 30, CLA 50, C 2 %:
#   f1 = 0.2 + 0.3·exp(−0.0256·20·0.7) = 0.2 + 0.3·exp(−0.3584) = 0.2 + 0.3·0.698794 = 0.409638
#   f2 = (30/80)^0.3 = 0.745091
#   f3 = 1 − 0.25·2/(2 + exp(3.72 − 5.9)) = 1 − 0.5/(2 + 0.113042) = 0.763374
#   f4 = 1 − 0.7·0.8/(0.8 + exp(−5.51 + 18.32)) = 1 − 0.56/(0.8 + 365857.8) = 0.999998
#   K_EPIC = 0.232995, K_SI = 0.030685
K_CASES = [
    ((40, 40, 20, 1.0), 0.295381, 0.038902),
    ((85, 10, 5, 0.5), 0.131139, 0.017271),
    ((20, 30, 50, 2.0), 0.232995, 0.030685),
]


@pytest.mark.parametrize(("texture", "k_us", "k_si"), K_CASES)
def test_k_epic_by_hand(texture, k_us, k_si):
    args = [np.array([v], dtype=np.float64) for v in texture]
    assert k_epic(*args, si=False)[0] == pytest.approx(k_us, abs=2e-6)
    assert k_epic(*args)[0] == pytest.approx(k_si, abs=2e-6)


def test_k_epic_vectorised_nan_and_zhang():
    k = k_epic(
        np.array([40.0, np.nan]),
        np.array([40.0, 40.0]),
        np.array([20.0, 20.0]),
        np.array([1.0, 1.0]),
        zhang_correction=True,
    )
    # Zhang Keli [R]: −0.01383 + 0.51575·0.038902 = 0.006233
    assert k[0] == pytest.approx(0.006233, abs=2e-6)
    assert np.isnan(k[1])


def test_k_epic_units():
    with pytest.raises(UnitsError, match="fractions"):
        k_epic(0.4, 0.4, 0.2, 1.0)
    with pytest.raises(UnitsError, match="sum to 100"):
        k_epic(40.0, 40.0, 40.0, 1.0)


# ---------------------------------------------------------------------------------- C (Cai)


def test_cai_continuity_and_branches():
    # C = 0.6508 − 0.3436·lg f: at f = 10 → 0.6508 − 0.3436 = 0.3072
    # just below 78.3: 0.6508 − 0.3436·lg 78.29 = 0.6508 − 0.3436·1.893707 = 0.000123 → ~0, so
    # the formula is continuous with C = 0 at 78.3 (within 2e-4);
    # just above 0.1: 0.6508 − 0.3436·lg 0.1001 = 0.994251 vs C = 1 at 0.1 (a jump of 0.0057
    # that is in the published formula).
    f = np.array([0.0, 0.1, 0.1001, 10.0, 78.29, 78.3, 100.0], dtype=np.float32)
    c = c_cai(f)
    assert c.dtype == np.float32
    assert c[0] == 1.0 and c[1] == 1.0
    assert c[2] == pytest.approx(0.994251, abs=1e-5)
    assert c[3] == pytest.approx(0.3072, abs=1e-6)
    assert 0 < c[4] < 2e-4 and c[5] == 0.0 and c[6] == 0.0


def test_cai_computes_bare_sand_and_refuses_out_of_range():
    """FVC ≤ 1 % is bare sand, not a unit error: C = 1 up to 0.1 %, then
    0.6508 − 0.3436·lg f (0.8 % → 0.6508 + 0.3436·0.09691 = 0.68410). Whether an input is a
    fraction is told once over its whole raster (tests/test_erosion_pipeline.py)."""
    assert c_cai([0.1]).tolist() == [1.0]
    c = c_cai(np.array([0.2, 0.8, np.nan]))
    assert c[1] == pytest.approx(0.68410, abs=1e-5) and np.isnan(c[2])
    assert c[0] == pytest.approx(0.6508 + 0.3436 * 0.69897, abs=1e-5)
    with pytest.raises(UnitsError, match="0-100"):
        c_cai(np.array([50.0, 120.0]))
    assert c_cai(np.zeros(3)).tolist() == [1.0, 1.0, 1.0]


def test_c_and_p_tables():
    assert c_from_table(np.ma.masked_equal([1, 0], 0), {1: 0.2}).tolist()[0] == 0.2
    with pytest.raises(InvalidInput):
        c_from_table(np.array([1, 9]), {1: 0.2})
    # Wener: 0.2 + 0.03·10 = 0.5; 0.2 + 0.03·40 = 1.4 → capped at 1; non-cropland → other
    p = p_wener(np.array([10.0, 40.0, 10.0, np.nan]), np.array([1, 1, 0, 1], bool), other=0.7)
    assert p[:3].tolist() == pytest.approx([0.5, 1.0, 0.7]) and np.isnan(p[3])


def test_csle_bet_default_tables():
    used = Provenance()
    lu = np.array([12.0, 41.0, 31.0, 61.0, np.nan])
    b, e, t = csle_bet(lu, fvc=np.array([0, 0, 10.0, 0, 0]), used=used)
    # cropland 12: T = 0.281 (the verified N-Xinjiang value), B = 1; water 41: B = 0;
    # grass 31: B = Cai(10 %) = 0.3072; sand 61: B = 1
    assert t[:4].tolist() == pytest.approx([0.281, 1, 1, 1])
    assert b[:4].tolist() == pytest.approx([1, 0, 0.3072, 1])
    assert np.isnan(b[4]) and np.isnan(t[4]) and np.isnan(e[4]) and e[0] == 1
    assert "CSLE-monitoring/T-default" in used.to_dict()["unverified"]
    with pytest.raises(InvalidInput, match="fvc"):
        csle_bet(np.array([31]))


# ---------------------------------------------------------------------------------- R


def _year(y: int) -> np.ndarray:
    return np.arange(f"{y}-01-01", f"{y + 1}-01-01", dtype="datetime64[D]")


def test_zhang_daily_one_year_by_hand():
    # Rain 20, 10, 30 mm on 1–3 Jan 2001; 10 mm is below the 12 mm threshold.
    # P_d12 = (20 + 30)/2 = 25; P_y12 = 50 (one year)
    # β = 0.8363 + 18.144/25 + 24.455/50 = 0.8363 + 0.72576 + 0.4891 = 2.05116
    # α = 21.586·β^−7.1891 = 21.586·exp(−7.1891·0.718405) = 21.586·exp(−5.164689) = 0.123361
    # R = α·(20^β + 30^β) = 0.123361·(466.252 + 1071.056) = 189.643
    rain = np.zeros((365, 1, 2))
    rain[:3, 0, 0] = [20, 10, 30]
    rain[5, 0, 1] = 11.9  # never erosive → R = 0, not NaN
    r = rain_erosivity_daily(rain, _year(2001))
    assert r.shape == (1, 2)
    assert r[0, 0] == pytest.approx(189.643, abs=1e-3)
    assert r[0, 1] == 0.0


def test_zhang_daily_two_years_and_nan():
    # Same rain in 2001; 2002 dry. P_y12 = 50/2 = 25 → β = 0.8363 + 0.72576 + 0.9782 = 2.54026,
    # α = 21.586·2.54026^−7.1891 = 0.026513; R_2001 = α·(20^β + 30^β) = 0.026513·7671.06
    # = 203.385; R_2002 = 0; mean = 101.692
    days = np.concatenate([_year(2001), _year(2002)])
    rain = np.zeros((730, 2))
    rain[:3, :] = [[20, 20], [10, 10], [30, 30]]
    rain[400, 1] = np.nan
    mean, years, annual = rain_erosivity_daily(rain, days, return_annual=True)
    assert years.tolist() == [2001, 2002]
    assert annual[:, 0] == pytest.approx([203.385, 0.0], abs=1e-3)
    assert mean[0] == pytest.approx(101.692, abs=1e-3)
    assert np.isnan(mean[1])


def test_zhang_daily_given_coefficients_and_incomplete_year():
    rain = np.zeros(365)
    rain[0] = 20.0
    # α = 1, β = 1 → R = 20
    assert float(rain_erosivity_daily(rain, _year(2001), alpha=1.0, beta=1.0)) == 20.0
    with pytest.raises(InvalidInput, match="incomplete"):
        rain_erosivity_daily(rain[:300], _year(2001)[:300])


def test_fournier_by_hand():
    # Year 1: Jul = Aug = 100 mm → F = (100² + 100²)/200 = 100
    # Year 2: 10 mm every month → F = 12·10²/120 = 10;  F_f = (100 + 10)/2 = 55
    # R = 0.1833·55^1.9957 = 545.010
    m = np.zeros((2, 12, 1))
    m[0, 6:8] = 100
    m[1, :] = 10
    used = Provenance()
    assert rain_erosivity_fournier(m, used=used)[0] == pytest.approx(545.010, abs=1e-3)
    assert "R.fournier_alpha" in used.to_dict()["unverified"]


def test_wischmeier_by_hand():
    # 50 mm every month: p²/P = 2500/600 = 4.16667, lg = 0.619789,
    # term = 1.735·10^(1.5·0.619789 − 0.8188) = 1.735·10^0.110884 = 1.735·1.290845 = 2.239616
    # R_US = 12·2.239616 = 26.8760; R_SI = 26.8760·17.02 = 457.429
    m = np.full((1, 12), 50.0)
    assert float(rain_erosivity_wischmeier(m, si=False)) == pytest.approx(26.8760, abs=1e-4)
    assert float(rain_erosivity_wischmeier(m)) == pytest.approx(457.429, abs=1e-3)
    dry = np.zeros((1, 12))
    assert float(rain_erosivity_wischmeier(dry)) == 0.0


def test_constant_r():
    assert rain_erosivity_constant(500.0, (2, 3)).shape == (2, 3)


# ---------------------------------------------------------------------------------- models


def test_models_by_hand():
    R, K, LS, C, P = 3000.0, 0.03, 2.0, 0.2, 0.5
    # A = 3000·0.03·2·0.2·0.5 = 18 t/hm²; 1800 t/km²; A_p = 180; A_c = 180·(1 − 0.1) = 162
    assert float(rusle(R, K, LS, C, P)) == pytest.approx(18.0)
    assert float(to_t_km2(rusle(R, K, LS, C, P))) == pytest.approx(1800.0)
    assert float(potential_loss(R, K, LS)) == pytest.approx(180.0)
    assert float(soil_conservation(R, K, LS, C, P)) == pytest.approx(162.0)
    # CSLE: 3000·0.03·1.5·1.2·1·1·0.281 = 45.522
    assert float(csle(R, K, 1.5, 1.2, 1.0, 1.0, 0.281)) == pytest.approx(45.522)


def test_models_arrays_nodata_dtype_and_out():
    r = np.array([[100.0, np.nan]], dtype=np.float32)
    k = np.ma.masked_array(np.array([[0.02, 0.02]], dtype=np.float32), mask=[[False, False]])
    ones = np.ones((1, 2), dtype=np.float32)
    a = rusle(r, k, ones, ones, 1.0)
    assert a.dtype == np.float32 and a[0, 0] == pytest.approx(2.0) and np.isnan(a[0, 1])
    km = np.ma.masked_array([[0.02, 0.02]], mask=[[True, False]])
    assert np.isnan(rusle(ones, km, ones, ones, ones)[0, 0])  # masked K → NaN, never 0
    buf = np.empty((1, 2), dtype=np.float32)
    assert rusle(r, k, ones, ones, 1.0, out=buf) is buf
    sc = soil_conservation(r, 0.02, ones, np.array([[0.5, 0.5]]), 1.0)
    assert sc[0, 0] == pytest.approx(1.0) and np.isnan(sc[0, 1])
    with pytest.raises(GridMismatch):
        rusle(np.ones((2, 2)), np.ones((3, 3)), 1, 1, 1)


def test_table_factors_by_index_equal_the_searching_lookup():
    """C/P from a land-cover table by indexing (geoeco.erosion.factors._lookup_codes) equal
    catalog.classes.lookup (a search per pixel) on random codes of several integer types, with
    and without a mask; an unknown code raises the same error."""
    from geoeco.catalog.classes import lookup
    from geoeco.core.errors import InvalidInput
    from geoeco.erosion.factors import _lookup_codes

    rng = np.random.default_rng(3)
    table = {1: 0.25, 2: 0.05, 3: 0.003, 300: 0.6}
    for dtype in ("uint8", "uint16", "int32", "int64"):
        codes = rng.choice([1, 2, 3] if dtype == "uint8" else [1, 2, 3, 300], size=(50, 40))
        codes = codes.astype(dtype)
        masked = np.ma.masked_array(codes, mask=rng.random(codes.shape) < 0.2)
        for c in (codes, masked):
            expected = lookup(c, table, what="land-cover code")
            np.testing.assert_array_equal(_lookup_codes(c, table), expected)
    with pytest.raises(InvalidInput, match=r"land-cover codes \[7\] have no entry"):
        _lookup_codes(np.array([[1, 7]], dtype="int32"), table)
