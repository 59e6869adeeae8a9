"""Transition matrices between two class rasters; expected values counted by hand."""

from __future__ import annotations

import numpy as np
import pytest

from geoeco.change.transition import (
    change_summary,
    transition_matrix,
    zone_transitions,
)
from geoeco.core.errors import GridMismatch, InvalidInput

# SL 190 grades at two dates on a 3×4 grid (0 = nodata), 2 km² pixels.
BEFORE = np.array(
    [
        [1, 2, 2, 3],
        [3, 3, 4, 4],
        [6, 5, 0, 2],
    ],
    dtype=np.uint8,
)
AFTER = np.array(
    [
        [1, 1, 2, 2],
        [3, 1, 5, 0],
        [4, 5, 2, 2],
    ],
    dtype=np.uint8,
)
GRADES = (1, 2, 3, 4, 5, 6)


def test_hand_counted_matrix():
    # pixel by pixel: 1→1; 2→1; 2→2; 3→2; 3→3; 3→1; 4→5; 4→nodata; 6→4; 5→5; nodata→2; 2→2
    m = transition_matrix(BEFORE, AFTER, classes=GRADES, pixel_area_km2=2.0)
    expected = np.zeros((6, 6))
    expected[0, 0] = 2  # 1→1
    expected[1, 0] = 2  # 2→1
    expected[1, 1] = 4  # 2→2 twice
    expected[2, 0] = 2  # 3→1
    expected[2, 1] = 2  # 3→2
    expected[2, 2] = 2  # 3→3
    expected[3, 4] = 2  # 4→5
    expected[4, 4] = 2  # 5→5
    expected[5, 3] = 2  # 6→4
    np.testing.assert_array_equal(m.area_km2, expected)
    assert m.to_nodata_km2.tolist() == [0, 0, 0, 2, 0, 0]  # the 4 that became nodata
    assert m.from_nodata_km2.tolist() == [0, 2, 0, 0, 0, 0]  # nodata → 2
    # improved (to a lower grade): 2→1, 3→1, 3→2, 6→4 = 4 pixels = 8 km²; worsened: 4→5;
    # unchanged: 1→1, 2→2 ×2, 3→3, 5→5 = 5 pixels; area with a grade at both dates 10 pixels
    s = change_summary(m)
    assert (s.improved_km2, s.unchanged_km2, s.worsened_km2) == (8.0, 10.0, 2.0)
    assert s.improved_share == pytest.approx(8 / 20)
    flipped = change_summary(m, higher_is_worse=False)
    assert (flipped.improved_km2, flipped.worsened_km2) == (2.0, 8.0)


def test_rows_sum_to_the_first_dates_class_areas():
    rng = np.random.default_rng(4)
    before = rng.integers(0, 7, (200, 300)).astype(np.uint8)
    after = rng.integers(0, 7, (200, 300)).astype(np.uint8)
    area = rng.uniform(0.8, 1.2, (200, 300))  # true pixel areas of a geographic grid
    m = transition_matrix(before, after, classes=GRADES, pixel_area_km2=area)
    for i, code in enumerate(GRADES):
        assert m.from_area_km2[i] == pytest.approx(area[before == code].sum(), rel=1e-12)
        assert m.to_area_km2[i] == pytest.approx(area[after == code].sum(), rel=1e-12)
    np.testing.assert_allclose(
        m.area_km2.sum(axis=1) + m.to_nodata_km2, m.from_area_km2, rtol=1e-12
    )
    both = (before > 0) & (after > 0)
    assert m.area_km2.sum() == pytest.approx(area[both].sum(), rel=1e-12)


def test_windows_add_up_to_the_whole_raster():
    whole = transition_matrix(BEFORE, AFTER, classes=GRADES)
    top = transition_matrix(BEFORE[:2], AFTER[:2], classes=GRADES)
    bottom = transition_matrix(BEFORE[2:], AFTER[2:], classes=GRADES)
    np.testing.assert_array_equal((top + bottom).area_km2, whole.area_km2)
    np.testing.assert_array_equal((top + bottom).to_nodata_km2, whole.to_nodata_km2)


def test_rows_for_csv():
    m = transition_matrix(
        np.array([2, 2, 1]), np.array([1, 0, 1]), classes=(1, 2), pixel_area_km2=0.25
    )
    assert m.rows() == [
        {"from": 1, "to_1": 0.25, "to_2": 0.0, "to_nodata": 0.0, "total": 0.25},
        {"from": 2, "to_1": 0.25, "to_2": 0.0, "to_nodata": 0.25, "total": 0.5},
    ]


def test_per_zone_tables_by_hand():
    zones = np.array(
        [
            [10, 10, 10, 20],
            [10, 20, 20, 20],
            [0, 30, 30, 30],
        ]
    )
    zt = zone_transitions(BEFORE, AFTER, zones, classes=GRADES, pixel_area_km2=2.0)
    assert zt.zones.tolist() == [10, 20, 30]
    rows = {r["zone"]: r for r in zt.summary_rows()}
    # zone 10: 1→1, 2→1, 2→2, 3→3 → improved 1 pixel of 4
    assert (rows[10]["improved_km2"], rows[10]["unchanged_km2"], rows[10]["area_km2"]) == (
        2.0,
        6.0,
        8.0,
    )
    assert rows[10]["improved_share"] == 0.25
    # zone 20: 3→2, 3→1, 4→5, 4→nodata → improved 2, worsened 1, area with grades 3 pixels
    assert (rows[20]["improved_km2"], rows[20]["worsened_km2"], rows[20]["area_km2"]) == (
        4.0,
        2.0,
        6.0,
    )
    assert zt.matrix(20).to_nodata_km2.tolist() == [0, 0, 0, 2, 0, 0]
    # zone 30: 5→5, nodata→2, 2→2 → nothing improved
    assert rows[30]["improved_km2"] == 0.0 and rows[30]["area_km2"] == 4.0
    # the zones together equal the whole raster minus the pixel outside every zone (6→4)
    total = sum((zt.matrix(z) for z in (20, 30)), zt.matrix(10))
    whole = transition_matrix(BEFORE, AFTER, classes=GRADES, pixel_area_km2=2.0)
    np.testing.assert_array_equal(total.area_km2 + _one(5, 3, 2.0), whole.area_km2)


def _one(i: int, j: int, value: float) -> np.ndarray:
    out = np.zeros((6, 6))
    out[i, j] = value
    return out


def test_nodata_forms_and_refusals():
    before = np.ma.masked_array([1.0, 2.0, np.nan], mask=[False, True, False])
    m = transition_matrix(before, np.array([1, 1, 1]), classes=(1, 2))
    assert m.area_km2.tolist() == [[1.0, 0.0], [0.0, 0.0]]
    assert m.from_nodata_km2.tolist() == [2.0, 0.0]
    with pytest.raises(InvalidInput, match=r"codes \[7\]"):
        transition_matrix(np.array([1, 7]), np.array([1, 1]), classes=(1, 2))
    with pytest.raises(GridMismatch):
        transition_matrix(np.ones((2, 2), int), np.ones((2, 3), int), classes=(1,))
    with pytest.raises(InvalidInput):
        transition_matrix(np.ones(2, int), np.ones(2, int), classes=(0, 1))
    with pytest.raises(InvalidInput):
        transition_matrix(np.ones(2, int), np.ones(2, int), classes=(1,), pixel_area_km2=-1.0)
    with pytest.raises(InvalidInput, match="integers"):
        zone_transitions(np.ones(2, int), np.ones(2, int), np.ones(2), classes=(1,))
    with pytest.raises(InvalidInput, match="not in"):
        zone_transitions(np.ones(2, int), np.ones(2, int), np.ones(2, int), classes=(1,)).matrix(5)
