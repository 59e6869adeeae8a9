"""RWEQ wind erosion (methodology §8); expected values are worked out by hand below."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.integrate import quad

from geoeco.catalog.classes import Provenance
from geoeco.core.errors import GridMismatch, InvalidInput, UnitsError
from geoeco.erosion.wind import (
    RweqParameters,
    air_density,
    critical_length,
    erodible_fraction,
    factor_product,
    organic_matter_from_carbon,
    peak_product,
    q_max,
    roughness_factor,
    smith_carson_kr,
    soil_crust_factor,
    soil_loss,
    vegetation_factor_full,
    vegetation_factor_landcover,
    weather_factor_daily,
    weather_factor_monthly,
    wind_at_2m,
    wind_erosion,
    wind_term,
)

# Two pixels, one period of N_d = 31 days (a month), z = 50 m, g = 9.81, U_t = 5 m/s.
#
#                      pixel A (sandy grassland)     pixel B (cropland)
# wind at 10 m         9.0 m/s                       11.0 m/s
# temperature          10 °C                         -5 °C
# elevation            1.2 km                        0.5 km
# rain, ET_p           20 mm, 120 mm                 5 mm, 40 mm
# rain days R_d        6                             2
# snow factor SD       1 (none)                      0.5
# sand/silt/clay       85/10/5 %                     60/25/15 %
# OM, CaCO3            0.8 %, 3 %                    2.0 %, 8 %
# ΔH, L                5 m, 100 m                    20 m, 500 m
# FVC, land cover      20 % grassland (a=-0.1151)    35 % cropland (a=-0.0438)
#
# Weather factor
#   (2/10)^(1/7) = exp(ln 0.2 / 7) = exp(-0.229920) = 0.794597
#   U2:  A 9·0.794597 = 7.151377          B 11·0.794597 = 8.740571
#   U2(U2-5)²:  A 7.1513766·2.1513766² = 7.1513766·4.6284212 = 33.099585
#               B 8.7405715·3.7405715² = 8.7405715·13.991875 = 122.296981
#   ·N_d (one mean wind, N = 1):  A 1026.087138   B 3791.206420
#   ρ = 348(1.013 − 0.1183·EL + 0.0048·EL²)/T:
#     A 348·(1.013 − 0.14196 + 0.006912)/283.15 = 348·0.877952/283.15 = 1.079030
#     B 348·(1.013 − 0.05915 + 0.0012)/268.15 = 348·0.95505/268.15 = 1.239446
#   SW = [ET_p − R·R_d/N_d]/ET_p:  A (120 − 20·6/31)/120 = 0.967742   B (40 − 5·2/31)/40 = 0.991935
#   WF = wind·ρ/g·SW·SD:
#     A 1026.087138·1.079030/9.81·0.967742·1   = 109.221528 kg/m
#     B 3791.206420·1.239446/9.81·0.991935·0.5 = 237.568801 kg/m
# Soil
#   EF = (29.09 + 0.31Sa + 0.17Si + 0.33Sa/Cl − 2.59OM − 0.95CaCO3)/100
#     A (29.09 + 26.35 + 1.7 + 5.61 − 2.072 − 2.85)/100 = 57.828/100 = 0.57828
#     B (29.09 + 18.6 + 4.25 + 1.32 − 5.18 − 7.6)/100   = 40.48/100  = 0.4048
#   SCF = 1/(1 + 0.0066Cl² + 0.021OM²)
#     A 1/(1 + 0.165 + 0.01344) = 1/1.17844 = 0.848580
#     B 1/(1 + 1.485 + 0.084)   = 1/2.569   = 0.389257
#   K_r = 0.2ΔH²/L: A 0.2·25/100 = 0.05   B 0.2·400/500 = 0.16
#   K′ = exp(1.86K_r − 2.41K_r^0.934):
#     A 0.05^0.934 = exp(0.934·ln 0.05) = exp(−2.798014) = 0.060931;
#       exp(0.093 − 2.41·0.060931) = exp(0.093 − 0.146844) = exp(−0.053844) = 0.947580
#     B 0.16^0.934 = exp(0.934·ln 0.16) = exp(−1.711631) = 0.180571;
#       exp(0.2976 − 2.41·0.180571) = exp(0.2976 − 0.435176) = exp(−0.137576) = 0.871468
#   COG = exp(a·FVC%): A exp(−0.1151·20) = exp(−2.302) = 0.1000585
#                      B exp(−0.0438·35) = exp(−1.533) = 0.2158870
# Transport and loss
#   product P = WF·EF·SCF·K′·COG:
#     A 109.221528·0.57828·0.848580·0.947580·0.100059 = 5.081701
#     B 237.568801·0.4048·0.389257·0.871468·0.215887 = 7.042775
#   Q_max = 109.8P:      A 557.970719        B 773.296658 kg/m
#   S = 150.71P^−0.3711: A 150.71·exp(−0.3711·ln 5.081701) = 150.71·0.547016 = 82.440782 m
#                        B 150.71·exp(−0.3711·ln 7.042775) = 150.71·0.484621 = 73.037239 m
#   SL = 2z/S²·Q_max·exp(−(z/S)²):
#     A 100/6796.4825·557.970719·exp(−(50/82.440782)²) = 8.209698·exp(−0.367837)
#       = 8.209698·0.692227 = 5.682998 kg/m²
#     B 100/5334.4383·773.296658·exp(−(50/73.037239)²) = 14.496309·exp(−0.468653)
#       = 14.496309·0.625847 = 9.072439 kg/m²
#   ×1000 → A 5682.998, B 9072.439 t/(km²·a)
# Potential (COG = 1): P_A = 50.787281 → S = 35.086205 → SL = 59.445525 kg/m² → 59445.525
#                      P_B = 32.622500 → S = 41.350030 → SL = 48.547790 kg/m² → 48547.790
# Sand fixation = potential − actual: A 53762.527, B 39475.351 t/(km²·a)

HAND = {
    "u2": [7.151377, 8.740571],
    "wf": [109.221528, 237.568801],
    "rho": [1.079030, 1.239446],
    "ef": [0.57828, 0.4048],
    "scf": [0.8485795, 0.3892565],
    "kprime": [0.9475803, 0.8714680],
    "cog": [0.1000585, 0.2158870],
    "product": [5.081701, 7.042775],
    "qmax": [557.970719, 773.296658],
    "s": [82.440782, 73.037239],
    "sl": [5.682998, 9.072439],
    "actual": [5682.998, 9072.439],
    "potential": [59445.525, 48547.790],
    "fixation": [53762.527, 39475.351],
}


def _two_pixels(used: Provenance | None = None) -> dict[str, np.ndarray]:
    wf = weather_factor_monthly(
        np.array([[9.0, 11.0]]),
        np.array([[10.0, -5.0]]),
        np.array([[20.0, 5.0]]),
        np.array([[120.0, 40.0]]),
        [31],
        elevation_km=np.array([1.2, 0.5]),
        rain_days=np.array([[6.0, 2.0]]),
        snow=np.array([[1.0, 0.5]]),
        used=used,
    )[0]
    om = np.array([0.8, 2.0])
    clay = np.array([5.0, 15.0])
    ef = erodible_fraction(
        np.array([85.0, 60.0]), np.array([10.0, 25.0]), clay, om, np.array([3.0, 8.0])
    )
    scf = soil_crust_factor(clay, om)
    kprime = roughness_factor(smith_carson_kr(np.array([5.0, 20.0]), np.array([100.0, 500.0])))
    cog = vegetation_factor_landcover(np.array([20.0, 35.0]), np.array([3, 1]), used=used)
    product = factor_product(wf, ef, scf, kprime, cog)
    res = wind_erosion(wf, ef, scf, kprime, cog, used=used)
    return {
        "wf": wf,
        "ef": ef,
        "scf": scf,
        "kprime": kprime,
        "cog": cog,
        "product": product,
        "qmax": q_max(product),
        "s": critical_length(product),
        "sl": soil_loss(product),
        "actual": res.actual,
        "potential": res.potential,
        "fixation": res.sand_fixation,
    }


def test_two_pixels_match_the_hand_calculation():
    got = _two_pixels()
    assert wind_at_2m(np.array([9.0, 11.0])) == pytest.approx(HAND["u2"], rel=1e-6)
    rho = air_density(np.array([10.0, -5.0]), elevation_km=np.array([1.2, 0.5]))
    assert rho == pytest.approx(HAND["rho"], rel=1e-6)
    for key, value in got.items():
        assert value == pytest.approx(HAND[key], rel=2e-6), key


def test_two_pixels_are_graded_by_sl190_wind_modulus():
    res = wind_erosion(*(_two_pixels()[k] for k in ("wf", "ef", "scf", "kprime", "cog")))
    used = Provenance()
    # 5683 in [5000, 8000) → 强烈 (4); 9072 in [8000, 15000) → 极强烈 (5)
    assert res.grade(used).tolist() == [4, 5]
    assert "SL190-2007/wind-modulus" in used.tables


def test_provenance_lists_unverified_constants_and_defaulted_inputs():
    used = Provenance()
    _two_pixels(used)
    unverified = used.to_dict()["unverified"]
    assert "rweq.threshold_wind_ms" in unverified
    assert "rweq.cog_exponents" in unverified
    assert "rweq.input.irrigation_mm" in unverified  # defaulted to 0 mm
    assert "rweq.qmax_coefficient" not in unverified  # [V] in methodology §3.2
    assert "rweq.input.rain_day_fraction" not in unverified  # rain days were given
    assert used.parameters["rweq.s_coefficient"]["value"] == 150.71


def test_potential_is_at_least_actual_on_random_monthly_inputs():
    rng = np.random.default_rng(7)
    shape = (12, 300, 40)  # 12 months × pixels
    wf = rng.uniform(0.0, 60.0, shape)
    ef = rng.uniform(0.05, 0.95, shape[1:])
    scf = rng.uniform(0.2, 1.0, shape[1:])
    kprime = rng.uniform(0.3, 1.0, shape[1:])
    fvc = rng.uniform(0.0, 90.0, shape)
    lc = rng.choice([1, 2, 3, 6, 7], size=shape[1:])
    cog = vegetation_factor_landcover(fvc, np.broadcast_to(lc, shape))
    res = wind_erosion(wf, ef, scf, kprime, cog, periods=True)
    assert res.actual.shape == shape[1:]
    assert not res.beyond_peak.any()  # monthly products stay below p* ≈ 61.7
    assert np.all(res.potential >= res.actual)
    assert np.all(res.sand_fixation >= 0) and not res.clipped.any()
    assert np.all(res.potential - res.actual == res.sand_fixation)


def test_sand_fixation_is_zero_where_vegetation_is_zero():
    rng = np.random.default_rng(3)
    wf = rng.uniform(0.0, 60.0, (50, 50))
    fvc = np.where(rng.random((50, 50)) < 0.5, 0.0, rng.uniform(1.0, 80.0, (50, 50)))
    cog = vegetation_factor_landcover(fvc, rng.choice([1, 2, 3, 6, 7], size=(50, 50)))
    res = wind_erosion(wf, 0.5, 0.8, 0.9, cog)
    bare = fvc == 0
    assert np.all(res.sand_fixation[bare] == 0.0)
    assert np.all(res.potential[bare] == res.actual[bare])
    assert np.all(res.sand_fixation[~bare & (wf > 1)] > 0)


def test_pitfall_s_uses_150_71_not_105_71():
    assert float(critical_length(1.0)) == 150.71
    # pixel A: 150.71·P^−0.3711 = 82.4408 m; 105.71·P^−0.3711 would be 57.8251 m
    s = float(critical_length(HAND["product"][0]))
    assert s == pytest.approx(82.440782, rel=1e-6)
    assert abs(s - 57.8251) > 20


def test_pitfall_s_comes_from_the_factor_product_not_from_qmax():
    p = HAND["product"][0]
    # from Q_max it would be 150.71·557.9707^−0.3711 = 150.71·0.095660 = 14.4170 m
    wrong = 150.71 * 557.970719**-0.3711
    assert wrong == pytest.approx(14.4170, rel=1e-4)
    assert float(critical_length(q_max(p))) == pytest.approx(wrong, rel=1e-6)
    assert float(critical_length(p)) == pytest.approx(82.440782, rel=1e-6)


def test_pitfall_sl_keeps_the_2z_over_s_squared_term():
    # SL(z) = dQ/dz of Q(z) = Q_max·(1 − exp(−(z/S)²)), so ∫₀^∞ SL dz = Q_max exactly; dropping
    # 1/S² would make the integral S² times too large.
    p = np.array(HAND["product"][0])
    total, _ = quad(lambda z: float(soil_loss(p, z=z)), 0, np.inf)
    assert total == pytest.approx(float(q_max(p)), rel=1e-8)


def test_pitfall_fvc_as_fraction_is_refused():
    with pytest.raises(UnitsError, match="percent"):
        vegetation_factor_landcover(np.array([0.2, 0.35]), np.array([3, 1]))
    with pytest.raises(UnitsError, match="percent"):
        vegetation_factor_full(np.array([0.2]), 0.0, 0.1)
    with pytest.raises(UnitsError, match="fraction"):
        vegetation_factor_full(20.0, 0.0, 35.0)  # canopy given in percent
    # an all-bare area (FVC 0 %) is valid: COG = 1
    assert vegetation_factor_landcover(np.zeros(2), np.array([7, 6])).tolist() == [1.0, 1.0]


def test_pitfall_calm_winds_do_not_erode():
    # (U2 − U_t)² is positive below the threshold too: only U2 > U_t may count
    assert wind_term(np.array([0.0, 3.0, 5.0, 6.0])).tolist() == [0.0, 0.0, 0.0, 6.0]


def test_monthly_and_daily_weather_factor_agree_on_a_constant_series():
    days = np.arange("2001-01-01", "2002-01-01", dtype="datetime64[D]")
    n = days.size
    const = {"wind": 9.5, "temp": 4.0, "rain": 0.8, "etp": 3.5, "pressure": 88.0}
    params = RweqParameters(air_density_form="standard")
    daily, months = weather_factor_daily(
        np.full((n, 2), const["wind"]),
        np.full((n, 2), const["temp"]),
        np.full((n, 2), const["rain"]),
        np.full((n, 2), const["etp"]),
        days,
        pressure_kpa=np.full((n, 2), const["pressure"]),
        snow_depth_mm=np.zeros((n, 2)),
        params=params,
    )
    nd = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=float)
    monthly = weather_factor_monthly(
        np.full((12, 2), const["wind"]),
        np.full((12, 2), const["temp"]),
        const["rain"] * nd[:, None] * np.ones((12, 2)),
        const["etp"] * nd[:, None] * np.ones((12, 2)),
        nd,
        pressure_kpa=np.full((12, 2), const["pressure"]),
        rain_days=nd[:, None] * np.ones((12, 2)),
        params=params,
    )
    assert months.astype(str).tolist()[:2] == ["2001-01", "2001-02"]
    np.testing.assert_allclose(daily, monthly, rtol=1e-12)
    # January by hand: U2 = 9.5·0.794597 = 7.548675; U2(U2−5)² = 7.548675·6.495746 = 49.034278;
    # ·31 = 1520.062611; ρ = 1.293·273/277·88/101.3 = 1.107018; SW = (108.5 − 24.8)/108.5
    # = 0.771429; WF = 1520.062611·1.107018/9.81·0.771429 = 132.3253 kg/m
    assert daily[0, 0] == pytest.approx(132.3253, rel=1e-6)


def test_daily_weather_factor_counts_snow_days_and_propagates_nodata():
    days = np.arange("2001-02-01", "2001-03-01", dtype="datetime64[D]")
    snow = np.zeros((28, 2))
    snow[:7, 0] = 30.0  # a quarter of February under > 25.4 mm of snow
    wind = np.full((28, 2), 8.0)
    wind[3, 1] = np.nan
    wf, _ = weather_factor_daily(
        wind,
        np.full((28, 2), 0.0),
        np.zeros((28, 2)),
        np.full((28, 2), 2.0),
        days,
        elevation_km=0.5,
        snow_depth_mm=snow,
    )
    no_snow, _ = weather_factor_daily(
        wind[:, :1],
        np.full((28, 1), 0.0),
        np.zeros((28, 1)),
        np.full((28, 1), 2.0),
        days,
        elevation_km=0.5,
    )
    assert wf[0, 0] == pytest.approx(0.75 * no_snow[0, 0], rel=1e-12)
    assert np.isnan(wf[0, 1])
    with pytest.raises(InvalidInput, match="increasing"):
        weather_factor_daily(wind, wind, wind, wind, days[::-1], elevation_km=0.5)


def test_air_density_forms_and_units():
    # fryrear at sea level, 15 °C: 348·1.013/288.15 = 1.223404
    assert float(air_density(15.0, elevation_km=0.0)) == pytest.approx(1.223404, rel=1e-6)
    std = RweqParameters(air_density_form="standard")
    # standard: 1.293·273/(273 + 20)·90/101.3 = 1.293·0.931741·0.888450 = 1.070352
    rho = air_density(20.0, pressure_kpa=90.0, params=std)
    assert float(rho) == pytest.approx(1.070352, rel=1e-6)
    with pytest.raises(UnitsError, match="km"):
        air_density(15.0, elevation_km=1200.0)
    with pytest.raises(UnitsError, match="kPa"):
        air_density(15.0, pressure_kpa=900.0, params=std)
    with pytest.raises(InvalidInput, match="pressure"):
        air_density(15.0, params=std)


def test_soil_factors_guard_units_and_edges():
    with pytest.raises(UnitsError, match="fraction"):
        erodible_fraction(np.array([0.8]), np.array([0.15]), np.array([0.05]), np.array([1.0]))
    with pytest.raises(UnitsError, match="sum to 100"):
        erodible_fraction(np.array([80.0]), np.array([30.0]), np.array([5.0]), np.array([1.0]))
    # clay-free sand: Sa/Cl = ∞ → EF clipped to 1; organic-rich loam (OM 20 %):
    # 29.09 + 6.2 + 6.8 + 0.165 − 51.8 = −9.545 → EF clipped at 0
    ef = erodible_fraction(
        np.array([100.0, 20.0]), np.array([0.0, 40.0]), np.array([0.0, 40.0]), np.array([0.0, 20.0])
    )
    assert ef.tolist() == [1.0, 0.0]
    assert float(organic_matter_from_carbon(2.0)) == pytest.approx(3.448)


def test_roughness_is_capped_where_the_fit_turns_up():
    # minimum of 1.86K − 2.41K^0.934 at K^−0.066 = 1.86/(2.41·0.934) → K = 18.002, K′ = 0.0938
    k = np.array([0.0, 18.0, 100.0])
    got = roughness_factor(k)
    assert got[0] == 1.0 and got[2] == 1.0
    assert got[1] == pytest.approx(math.exp(1.86 * 18 - 2.41 * 18**0.934), rel=1e-12)
    assert got[1] == pytest.approx(0.09385, abs=1e-5)


def test_beyond_the_peak_potential_can_fall_below_actual_and_fixation_is_clipped():
    # p* = (S*/150.71)^(1/−0.3711) with S* = 50·√(0.7422/1.7422) = 32.6349 m → p* = 61.73
    assert peak_product() == pytest.approx(61.73, abs=0.01)
    sl = soil_loss(np.array([20.0, 50.0, peak_product(), 80.0, 200.0]))
    assert sl[0] < sl[1] < sl[2] and sl[2] > sl[3] > sl[4]
    res = wind_erosion(np.array([200.0, 20.0]), 1.0, 1.0, 1.0, np.array([0.5, 0.5]))
    assert res.beyond_peak.tolist() == [True, False]
    assert res.potential[0] < res.actual[0]  # SL(200) < SL(100)
    assert res.clipped.tolist() == [True, False] and res.sand_fixation[0] == 0.0


def test_grid_mismatch_and_parameter_validation():
    with pytest.raises(GridMismatch):
        factor_product(np.ones((2, 3)), np.ones((3, 2)))
    with pytest.raises(InvalidInput):
        RweqParameters(threshold_wind_ms=0.0)
    with pytest.raises(InvalidInput, match="land-cover code"):
        vegetation_factor_landcover(np.array([10.0, 20.0]), np.array([3, 9]))
    assert np.isnan(vegetation_factor_landcover(np.array([10.0, 20.0]), np.array([0, 4]))).all()
