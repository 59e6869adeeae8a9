"""SL 190-2007 grades; expected classes from the tables in methodology.md §1.4."""

from __future__ import annotations

import numpy as np
import pytest

from geoeco.catalog.classes import Provenance
from geoeco.core.errors import InvalidInput, UnitsError
from geoeco.erosion.factors import to_t_km2
from geoeco.erosion.grades import (
    tolerable_loss_from_regions,
    water_erosion_grade,
    wind_erosion_grade,
)


def test_water_grade_default_tolerable_200():
    v = np.array([199.9, 200, 2499, 2500, 4999, 5000, 7999, 8000, 14999, 15000, np.nan])
    assert water_erosion_grade(v).tolist() == [1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 0]


@pytest.mark.parametrize(
    ("tol", "below", "at"), [(200, 199.9, 200), (500, 499, 500), (1000, 999, 1000)]
)
def test_water_grade_region_dependent_first_class(tol, below, at):
    assert water_erosion_grade(np.array([below, at]), tolerable=tol).tolist() == [1, 2]


def test_water_grade_from_region_raster():
    # regions: 1 NW Loess 1000, 2 NE black soil 200, 4 S red soil 500, masked = nodata
    regions = np.ma.masked_array([1, 2, 4, 1], mask=[False, False, False, True])
    modulus = np.array([800.0, 800.0, 800.0, 800.0])
    assert tolerable_loss_from_regions(regions)[:3].tolist() == [1000, 200, 500]
    used = Provenance()
    got = water_erosion_grade(modulus, regions=regions, used=used)
    assert got.tolist() == [1, 2, 2, 0]
    assert "SL190-2007/tolerable-loss" in used.tables
    with pytest.raises(InvalidInput):
        water_erosion_grade(modulus, regions=np.array([1, 9, 1, 1]))


def test_water_grade_from_rusle_units_and_errors():
    # 18 t/hm² → 1800 t/km² → 轻度 (tolerable 200)
    assert water_erosion_grade(to_t_km2(np.array([18.0]))).tolist() == [2]
    with pytest.raises(InvalidInput):
        water_erosion_grade(np.array([100.0]), tolerable=250)
    with pytest.raises(UnitsError):
        water_erosion_grade(np.array([-5.0]))


def test_wind_grades():
    # cover: > 70 微度, 70–50 轻度, 50–30 中度, 30–10 强烈, < 10 极强烈 (boundary → more severe)
    cov = np.array([80, 70, 60, 50, 40, 30, 20, 10, 5], dtype=float)
    assert wind_erosion_grade(cov, "cover").tolist() == [1, 2, 2, 3, 3, 4, 4, 5, 5]
    # depth (mm): < 2, 2–10, 10–25, 25–50, 50–100, > 100
    dep = np.array([1.9, 2, 9.9, 10, 25, 50, 99, 100])
    assert wind_erosion_grade(dep, "depth").tolist() == [1, 2, 2, 3, 4, 5, 5, 6]
    # modulus: the same limits as water erosion with 200
    mod = np.array([199, 200, 2500, 5000, 8000, 15000])
    assert wind_erosion_grade(mod, "modulus").tolist() == [1, 2, 3, 4, 5, 6]
    with pytest.raises(InvalidInput):
        wind_erosion_grade(mod, "speed")  # type: ignore[arg-type]
