"""geoeco's ``invest`` LS method against InVEST SDR 3.20.2 itself (issue 14, item 7).

tests/data/invest200 holds a 200 x 200 synthetic case and InVEST's own outputs on it
(tests/data/invest200/README.md says how they were made): the expected values come from
InVEST, not from geoeco.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import rasterio

from geoeco.core.errors import InvalidFields
from geoeco.core.io import read_raster
from geoeco.erosion.config import make_config
from geoeco.erosion.run import run_erosion
from geoeco.terrain.ls import LSOptions
from geoeco.terrain.mfd_invest import mfd_invest_shares
from geoeco.terrain.routing import route
from geoeco.terrain.streams import extract_streams

CASE = Path(__file__).parent / "data" / "invest200"
PIXEL_HA = 30.0 * 30.0 / 1e4


def _read(name: str) -> np.ndarray:
    with rasterio.open(CASE / name) as src:
        return src.read(1)


def test_flow_accumulation_equals_invests_pixel_by_pixel():
    """pygeoprocessing's MFD (exponent 1, shares rounded to 1/15, plateaus drained by
    distance): every pixel of InVEST's flow_accumulation.tif within 1e-12 (relative)."""
    dem = read_raster(CASE / "dem.tif", units="m")
    rt = route(dem.array, method="mfd-invest", cellsize=30.0)
    expected = _read("invest_flow_accumulation.tif")
    np.testing.assert_allclose(rt.flow_acc, expected, rtol=1e-12)
    # plain MFD (exponent 1.1, unrounded) does not: the flavour is what makes the match
    plain = route(dem.array, method="mfd", cellsize=30.0).flow_acc
    assert np.mean(np.abs(plain / expected - 1) > 1e-3) > 0.5


def test_stream_cells_equal_invests():
    """InVEST's stream.tif (threshold 1000 cells, trace proportion 0.7), cell by cell."""
    dem = read_raster(CASE / "dem.tif", units="m")
    rt = route(dem.array, method="mfd-invest", cellsize=30.0)
    streams = extract_streams(rt, 1000, cellsize=30.0)
    expected = _read("invest_stream.tif") == 1
    assert expected.sum() == 550 and np.array_equal(streams, expected)


def test_soil_loss_total_matches_invest_within_half_a_percent(tmp_path):
    """`run_erosion` with ls_method invest (its defaults: MFD as InVEST, threshold 1000,
    l_max 122, streams excluded) against InVEST's usle.tif: the same stream pixels are
    nodata, and the whole-raster sum is within 0.5 % (per pixel: t/(km²·a) = 100 t/ha)."""
    cfg = make_config(
        {
            "ls_method": "invest",
            "r": str(CASE / "erosivity.tif"),
            "k": str(CASE / "erodibility.tif"),
            "landcover": str(CASE / "lulc.tif"),
            "landcover_table": {"path": str(CASE / "biophysical.csv")},
            "p_method": "table",
            "allow_outside_china": True,
        }
    )
    res = run_erosion(CASE / "dem.tif", cfg, tmp_path / "ero")
    with rasterio.open(tmp_path / "ero" / "soil_loss.tif") as src:
        ours = src.read(1, masked=True).astype("float64") / 100.0  # t/ha per pixel
    inv = np.ma.masked_greater(_read("invest_usle.tif").astype("float64"), 1e38)
    assert np.array_equal(np.ma.getmaskarray(ours), np.ma.getmaskarray(inv))
    ratio = float(ours.sum() / inv.sum())
    assert ratio == pytest.approx(1.0, abs=0.005), ratio
    invest_total_t = float(inv.sum()) * PIXEL_HA  # InVEST's usle_tot, t/yr
    summary = res.summary()
    # geoeco's total uses each pixel's true area (UTM 49N shrinks areas by about 0.05 % here)
    assert summary["total_soil_loss_t_a"] / invest_total_t == pytest.approx(1.0, abs=0.005)
    assert summary["ls"]["routing"] == "mfd-invest" and summary["ls"]["exclude_streams"]
    assert summary["ls"]["stream_cells"] == 550 and summary["ls"]["l_max"] == 122.0


def test_plateau_shares_by_hand():
    """A 3 x 3 plateau at 5 m draining to one corner at 4 m (hand computation).

    Drains (a lower neighbour): (1,1), (1,2), (2,1): all their flow to (2,2). Distances to a
    drain: (0,0) √2, the other four 1. (0,1) sends to (1,1) (weight 1) and (1,2) (1/√2):
    int(0.5 + 15/(1 + 0.7071)) = 9 and int(0.5 + 15·0.7071/1.7071) = 6; (0,0) to (0,1),
    (1,0) (1 each) and (1,1) (1/√2): 6, 6, 4 (of 16). So FA(0,1) = 1 + 6/16 = 1.375,
    FA(1,1) = 1 + 4/16 + 2·(9/15·1.375) + 2·(6/15·1) = 3.7, FA(1,2) = 1 + 6/15·1.375 +
    9/15 = 2.15, and the corner gets all 9 cells.
    """
    z = np.array([[5.0, 5, 5], [5, 5, 5], [5, 5, 4]])
    shares = mfd_invest_shares(z)
    e, se, s = 0, 1, 2
    nibble = [[(int(v) >> (4 * k)) & 0xF for k in range(8)] for v in shares.ravel()]
    assert nibble[1][s] == 9 and nibble[1][se] == 6  # (0,1): S 9, SE 6
    assert nibble[0][e] == 6 and nibble[0][s] == 6 and nibble[0][se] == 4
    fa = route(z, method="mfd-invest").flow_acc
    expected = [[1.0, 1.375, 1.0], [1.375, 3.7, 2.15], [1.0, 2.15, 9.0]]
    np.testing.assert_allclose(fa, expected, rtol=1e-12)


def test_stream_settings_and_config():
    """invest keeps InVEST's threshold (1000) and l_max (122), has no slope-length cap and
    leaves streams out by default; lstool refuses MFD."""
    o = LSOptions.of("invest")
    assert (o.channel_threshold_cells, o.l_max, o.exclude_streams) == (1000, 122.0, True)
    o = LSOptions.of("invest", channel_threshold_cells=500, exclude_streams=False)
    assert (o.channel_threshold_cells, o.exclude_streams) == (500, False)
    with pytest.raises(InvalidFields, match="max_slope_length cannot be used"):
        make_config({"r": 1.0, "k": 0.1, "c": 0.1, "ls_method": "invest", "max_slope_length": 99})
    with pytest.raises(InvalidFields, match="routing 'mfd-invest'"):
        make_config({"r": 1.0, "k": 0.1, "c": 0.1, "ls_method": "lstool", "routing": "mfd-invest"})


def test_readme_says_how_the_case_was_made():
    """The data's README names the versions and the commands; case.json is the generator's."""
    text = (CASE / "README.md").read_text(encoding="utf-8")
    for needle in ("natcap.invest 3.20.2", "pygeoprocessing 2.4.11", "--size 200 --seed 42"):
        assert needle in text
    case = json.loads((CASE / "case.json").read_text(encoding="utf-8"))
    assert case["args"]["size"] == 200 and case["args"]["seed"] == 42
    assert math.isclose(case["args"]["pixel"], 30.0)
