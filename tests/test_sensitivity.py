"""Sensitivity indices on hand-picked score combinations (methodology.md §2.2–2.3).

Inputs chosen to hit each score of the five-class table: aridity 0.5/1.2/2/10/20,
wind days 3/7/15/25/40, texture codes 1..5, FVC 90/70/50/30/10 → scores 1/3/5/7/9.
"""

from __future__ import annotations

import numpy as np
import pytest

from geoeco.catalog.classes import Provenance, get_table
from geoeco.core.errors import InvalidInput, UnitsError
from geoeco.evaluation.sensitivity import (
    sanding_sensitivity,
    sensitivity_index,
    water_erosion_sensitivity,
)

ARIDITY = {1: 0.5, 3: 1.2, 5: 2.0, 7: 10.0, 9: 20.0}
WIND = {1: 3.0, 3: 7.0, 5: 15.0, 7: 25.0, 9: 40.0}
TEXTURE = {1: 1, 3: 2, 5: 3, 7: 4, 9: 5}
FVC = {1: 90.0, 3: 70.0, 5: 50.0, 7: 30.0, 9: 10.0}

# (I, W, K, C) scores → D = (I·W·K·C)^¼ → class (cuts 2/4/6/8):
COMBOS = [
    ((1, 1, 1, 1), 1.0, 1),
    ((1, 3, 5, 7), 3.201086, 2),  # 105^¼
    ((9, 9, 9, 1), 5.196152, 3),  # 729^¼
    ((9, 9, 9, 3), 6.838521, 4),  # 2187^¼
    ((9, 9, 9, 7), 8.451940, 5),  # 5103^¼
    ((9, 9, 9, 9), 9.0, 5),
]


def test_sanding_five_class_combos():
    i, w, k, c = (
        np.array([m[s[j]] for s, _, _ in COMBOS])
        for j, m in enumerate((ARIDITY, WIND, TEXTURE, FVC))
    )
    used = Provenance()
    r = sanding_sensitivity(i, w, k, c, used=used)
    assert r.index.tolist() == pytest.approx([d for _, d, _ in COMBOS], abs=1e-5)
    assert r.classes.tolist() == [cl for _, _, cl in COMBOS]
    assert "EcoZoning-interim/sanding/aridity" in used.tables


def test_sanding_factor_boundaries():
    t = get_table("EcoZoning-interim/sanding/aridity")
    from geoeco.catalog.classes import score

    # ≤ 1.0 → 1 (stated), 1.5 and 4.0 → the more sensitive class [I], ≥ 16 → 9 (stated)
    assert score(np.array([1.0, 1.01, 1.5, 4.0, 15.9, 16.0]), t).tolist() == [1, 3, 5, 7, 7, 9]


def test_sanding_three_class_redline():
    # RedLine-2017 [R]: (1,3,3,3) → 27^¼ = 2.2795 → 敏感; (1,1,3,3) → 9^¼ = 1.7321 → 一般;
    # (5,5,5,3) → 1875^¼ = 6.58 …; all 5 → 5 → 极敏感
    i = np.array([1.0, 1.0, 20.0])  # scores 1, 1, 5
    w = np.array([10.0, 3.0, 40.0])  # 3, 1, 5
    k = np.array([2, 3, 5])  # 3, 3, 5
    c = np.array([50.0, 50.0, 10.0])  # 3, 3, 5
    r = sanding_sensitivity(i, w, k, c, scheme="RedLine-2017")
    assert r.index.tolist() == pytest.approx([2.279507, 1.732051, 5.0], abs=1e-5)
    assert r.classes.tolist() == [2, 1, 3]


def test_nodata_units_and_scheme():
    r = sanding_sensitivity(
        np.array([np.nan, 0.5]), np.array([3.0, 3.0]), np.array([1, 1]), np.array([90.0, 90.0])
    )
    assert np.isnan(r.index[0]) and r.classes.tolist() == [0, 1]
    # FVC below 1 % (bare dunes) scores as the most sensitive cover, it is not a unit error
    dunes = sanding_sensitivity(0.5, 3.0, np.array([1]), np.array([0.9, 0.5]))
    assert np.isfinite(dunes.index).all()
    vegetated = sanding_sensitivity(0.5, 3.0, np.array([1]), np.array([90.0, 90.0]))
    assert (dunes.index > vegetated.index).all()
    with pytest.raises(UnitsError, match="0-100"):
        sanding_sensitivity(0.5, 3.0, np.array([1]), np.array([-5.0, 50.0]))
    with pytest.raises(InvalidInput):
        sanding_sensitivity(0.5, 3.0, 1, 90.0, scheme="GB-2025")  # type: ignore[arg-type]


def test_water_erosion_sensitivity():
    # five-class [R]: R 700 → 9, relief 10 → 1, texture code 3 → 5, cover code 5 → 9:
    # SS = (9·1·5·9)^¼ = 405^¼ = 4.486 → 中度 (3)
    r = water_erosion_sensitivity(np.array([700.0]), np.array([10.0]), np.array([3]), np.array([5]))
    assert r.index[0] == pytest.approx(405**0.25, abs=1e-5) and r.classes.tolist() == [3]
    # three-class with FVC %: R 50 → 1, relief 100 → 3, texture 4 → 5, FVC 70 → 1:
    # (1·3·5·1)^¼ = 15^¼ = 1.968 → 一般敏感 (1)
    r3 = water_erosion_sensitivity(
        np.array([50.0]), np.array([100.0]), np.array([4]), np.array([70.0]), scheme="RedLine-2017"
    )
    assert r3.index[0] == pytest.approx(15**0.25, abs=1e-5) and r3.classes.tolist() == [1]


def test_sensitivity_index():
    assert sensitivity_index(np.array([3.0]), 3.0, 3.0, 3.0).tolist() == pytest.approx([3.0])
