"""Service indices and cumulative-share importance, worked by hand (methodology.md §3)."""

from __future__ import annotations

import numpy as np
import pytest

from geoeco.catalog.classes import Provenance
from geoeco.core.errors import InvalidInput, UnitsError
from geoeco.evaluation.importance import (
    biodiversity_index,
    classify_by_thresholds,
    cumulative_share_thresholds,
    fq_climatic_factor,
    normalise,
    roughness_factor,
    soil_water_conservation_index,
    water_conservation_index,
    windbreak_sand_fixation,
)


def test_cumshare_tiny_grid_by_hand():
    # values [5, 3, 1, 1], total 10; ranked high → low, cumulative shares 0.5, 0.8, 0.9, 1.0
    # (the two 1s share S = 1.0). Cuts 0.5 / 0.8 → 5 extremely important, 3 important,
    # 1s general. Thresholds in value space: t1 = 5, t2 = 3.
    v = np.array([[5.0, 3.0], [1.0, 1.0]])
    t = cumulative_share_thresholds(v, method="exact")
    assert t.tolist() == [5.0, 3.0]
    assert classify_by_thresholds(v, t, "CumShare(0.5,0.8)").tolist() == [[3, 2], [1, 1]]
    th = cumulative_share_thresholds(v, bins=1000)  # bin width 0.005
    assert th[0] == pytest.approx(5.0, abs=0.005) and th[1] == pytest.approx(3.0, abs=0.005)
    assert classify_by_thresholds(v, th).tolist() == [[3, 2], [1, 1]]


def test_cumshare_ties_and_weights():
    # [2, 2, 1]: S(2) = 4/5 = 0.8, S(1) = 1 → no pixel ≤ 0.5 (t1 = inf), 2s important
    t = cumulative_share_thresholds(np.array([2.0, 2.0, 1.0]), method="exact")
    assert t[0] == np.inf and t[1] == 2.0
    # area weights [1, 1, 1, 7] on [5, 3, 1, 1]: masses 5, 3, 1, 7 (total 16);
    # S(5) = 5/16, S(3) = 8/16 = 0.5, S(1) = 1 → t1 = t2 = 3
    v = np.array([5.0, 3.0, 1.0, 1.0])
    w = np.array([1.0, 1.0, 1.0, 7.0])
    assert cumulative_share_thresholds(v, weights=w, method="exact").tolist() == [3.0, 3.0]
    assert classify_by_thresholds(v, [3.0, 3.0]).tolist() == [3, 3, 1, 1]


def test_cumshare_windowed_equals_whole_and_conservative():
    rng = np.random.default_rng(42)
    v = rng.gamma(2.0, 10.0, (60, 80))
    v[rng.random(v.shape) < 0.05] = np.nan
    windows = [v[i : i + 16] for i in range(0, 60, 16)]
    whole = cumulative_share_thresholds(v, bins=4096)
    assert cumulative_share_thresholds(windows, bins=4096).tolist() == whole.tolist()
    # one-shot iterator: needs a known range (one pass) or a factory (two passes)
    hi = float(np.nanmax(v))
    one_pass = cumulative_share_thresholds(iter(windows), bins=4096, value_range=(0, hi))
    assert one_pass.tolist() == whole.tolist()
    assert cumulative_share_thresholds(lambda: iter(windows), bins=4096).tolist() == whole.tolist()
    with pytest.raises(InvalidInput, match="one-shot"):
        cumulative_share_thresholds(iter(windows))
    # histogram vs exact: within one bin width, and never a higher class than the exact rule
    exact = cumulative_share_thresholds(v, method="exact")
    assert np.all(np.abs(whole - exact) <= hi / 4096 + 1e-12)
    ch, ce = classify_by_thresholds(v, whole), classify_by_thresholds(v, exact)
    assert np.all(ch <= ce) and (ch == ce).mean() > 0.99
    # the classes of a window do not depend on the window (thresholds are global)
    assert np.array_equal(classify_by_thresholds(windows[1], whole), ch[16:32])


def test_cumshare_errors_and_provenance():
    with pytest.raises(InvalidInput, match=">= 0"):
        cumulative_share_thresholds(np.array([1.0, -1.0]))
    with pytest.raises(InvalidInput):
        cumulative_share_thresholds(np.array([1.0]), cuts=(0.8, 0.5))
    with pytest.raises(InvalidInput):
        classify_by_thresholds(np.array([1.0]), [1.0, 2.0])
    used = Provenance()
    cumulative_share_thresholds(np.array([1.0, 2.0]), used=used)
    assert "importance.cuts" in used.to_dict()["unverified"]  # (0.5, 0.8) is [R]


def test_fq_one_month_by_hand():
    # January only (d = 31): u = 5 m/s at 2 m, T = 0 °C, P = 10 mm, r = 0.4
    # ETP = 0.19·(20 + 0)²·(1 − 0.4) = 45.6 mm; (ETP − P)/ETP = 35.6/45.6 = 0.780702
    # term = 5³·0.780702·31 = 3025.219; F_q = 3025.219/100 = 30.252
    # Other months: P = 1000 mm > ETP → negative term clamped to 0.
    u = np.full(12, 5.0)
    t = np.zeros(12)
    p = np.full(12, 1000.0)
    p[0] = 10.0
    r = np.full(12, 0.4)
    assert float(fq_climatic_factor(u, t, p, r)) == pytest.approx(30.2522, abs=1e-4)
    # wind measured at 10 m: u2 = 5·(2/10)^(1/7) = 3.972987, u2³ = 62.7121
    # F_q = 62.7121·0.780702·31/100 = 15.1774
    assert float(fq_climatic_factor(u, t, p, r, wind_height=10)) == pytest.approx(15.1774, abs=1e-4)
    with pytest.raises(UnitsError, match="fraction"):
        fq_climatic_factor(u, t, p, r * 100)


def test_fq_grid_and_nodata():
    u = np.full((12, 1, 2), 5.0)
    u[3, 0, 1] = np.nan
    t = np.zeros((12, 1, 2))
    p = np.full((12, 1, 2), 1000.0)
    p[0] = 10.0
    r = np.full((12, 1, 2), 0.4)
    fq = fq_climatic_factor(u, t, p, r)
    assert fq[0, 0] == pytest.approx(30.2522, abs=1e-4) and np.isnan(fq[0, 1])


def test_service_indices_by_hand():
    # WR = 100·0.5·0.8·(1 − 0.25) = 30; S_pro = 100·(1 − 0.2)·(1 − 0.5) = 40;
    # S_bio = 100·0.5·0.5·0.5 = 12.5; S_ws = 100·0.5·0.4·2 = 40 with D = 1/cos 60° = 2
    assert float(water_conservation_index(100.0, 0.5, 0.8, 0.25)) == pytest.approx(30.0)
    assert float(soil_water_conservation_index(100.0, 0.2, 0.5)) == pytest.approx(40.0)
    assert float(biodiversity_index(100.0, 0.5, 0.5, 0.5)) == pytest.approx(12.5)
    d = roughness_factor(60.0)
    assert float(d) == pytest.approx(2.0)
    assert float(windbreak_sand_fixation(100.0, 0.5, 0.4, d)) == pytest.approx(40.0)
    with pytest.raises(UnitsError, match="normalised"):
        water_conservation_index(100.0, 0.5, 0.8, 25.0)
    assert normalise(np.array([-5.0, 5.0, np.nan]), 0, 10)[:2].tolist() == [0.0, 0.5]
