"""FVC and desertification degree; expected values worked by hand from methodology.md §1.2, §2.1."""

from __future__ import annotations

import numpy as np
import pytest

from geoeco.catalog.classes import Provenance
from geoeco.core.errors import EmptyArea, InvalidInput, UnitsError
from geoeco.erosion.vegetation import (
    desertification_chen2019,
    desertification_wangtao,
    fvc_dimidiate,
    ndvi_endpoints,
)


def _known_ndvi() -> np.ndarray:
    # A known histogram: 2000 pixels, NDVI uniform on [0, 1] at the centres (i + 0.5)/2000.
    # Exact 5 % / 95 % points of this distribution: 0.05 and 0.95.
    return (np.arange(2000) + 0.5) / 2000


def test_endpoints_known_histogram_within_a_bin():
    v = _known_ndvi()
    bins = 4000  # width 2/4000 = 0.0005
    soil, veg = ndvi_endpoints(v, bins=bins)
    assert soil == pytest.approx(0.05, abs=0.0005)
    assert veg == pytest.approx(0.95, abs=0.0005)


def test_endpoints_spikes():
    # 10 % of pixels at NDVI 0.1, 80 % at 0.4, 10 % at 0.8: the 5 % point falls in the 0.1 bin
    # and the 95 % point in the 0.8 bin, so each endpoint is within one bin width of it.
    v = np.concatenate([np.full(100, 0.1), np.full(800, 0.4), np.full(100, 0.8)])
    soil, veg = ndvi_endpoints(v, bins=2000)  # width 0.001
    assert abs(soil - 0.1) <= 0.001 and abs(veg - 0.8) <= 0.001


def test_endpoints_windowed_equals_whole():
    v = _known_ndvi().reshape(40, 50).copy()
    v[0, :5] = np.nan
    whole = ndvi_endpoints(v)
    windows = [v[i : i + 7] for i in range(0, 40, 7)]
    assert ndvi_endpoints(windows) == whole
    assert ndvi_endpoints(iter(windows)) == whole  # one pass is enough (fixed range)


def test_endpoints_errors():
    with pytest.raises(UnitsError, match="NDVI"):
        ndvi_endpoints(np.array([1200.0, 8000.0]))  # MODIS scaled integers
    with pytest.raises(EmptyArea):
        ndvi_endpoints(np.array([np.nan, np.nan]))
    with pytest.raises(InvalidInput):
        ndvi_endpoints(np.array([0.1]), lower=0.9, upper=0.1)


def test_fvc_dimidiate():
    # (NDVI − 0.1)/(0.6 − 0.1)·100: 0.35 → 50 %, 0.05 → clipped 0, 0.7 → clipped 100
    ndvi = np.array([0.35, 0.05, 0.7, np.nan], dtype=np.float32)
    used = Provenance()
    f = fvc_dimidiate(ndvi, 0.1, 0.6, used=used)
    assert f.dtype == np.float32
    assert f[:3].tolist() == pytest.approx([50.0, 0.0, 100.0]) and np.isnan(f[3])
    assert used.parameters["FVC.ndvi_soil"]["value"] == 0.1
    with pytest.raises(InvalidInput):
        fvc_dimidiate(ndvi, 0.6, 0.1)
    # endpoints from the data itself when not given
    g = fvc_dimidiate(_known_ndvi())
    assert np.nanmin(g) == 0 and np.nanmax(g) == 100


def test_wangtao():
    f = np.array([60, 59.9, 40, 26.7, 26.6, 13.3, 13.2, np.nan])
    assert desertification_wangtao(f).tolist() == [1, 2, 2, 3, 4, 4, 5, 0]
    # a mobile dune field: every FVC below 1 % is the most severe degree, not a unit error
    dunes = np.linspace(0.0, 0.86, 64 * 64).reshape(64, 64)
    assert (desertification_wangtao(dunes) == 5).all()
    with pytest.raises(UnitsError, match="0-100"):
        desertification_wangtao(np.array([10.0, 160.0]))


def test_chen2019_combination_rules():
    # cover classes: 60→1, 40→2, 20→3, 7→4, 2→5; bare-sand classes: 2→1, 7→2, 20→3, 40→4, 60→5
    fvc = np.array([60, 40, 40, 40, 7, np.nan, 20])
    sand = np.array([2, 2, 60, np.nan, 7, 60, 20])
    # max (default): [1, 2, 5 (sand more severe), 2 (sand missing → cover), 4, 0 (no FVC), 3]
    assert desertification_chen2019(fvc, sand).tolist() == [1, 2, 5, 2, 4, 0, 3]
    assert desertification_chen2019(fvc, sand, combine="min").tolist() == [1, 1, 2, 2, 2, 0, 3]
    assert desertification_chen2019(fvc).tolist() == [1, 2, 2, 2, 4, 0, 3]
    # boundaries: FVC 50 → none, 30 → light, 10 → moderate, 5 → severe; sand 50 → extreme
    assert desertification_chen2019(np.array([50, 30, 10, 5, 4.9])).tolist() == [1, 2, 3, 4, 5]
    assert desertification_chen2019(np.array([90.0]), np.array([50.0])).tolist() == [5]
    with pytest.raises(InvalidInput):
        desertification_chen2019(fvc, sand, combine="mean")  # type: ignore[arg-type]
