"""The evaluation pipeline: sensitivity, services and importance on one grid.

Hand grids are 1 × 4 or 4 × 4 pixels of 10 m on EPSG:4546 (GK CM 111E) near Yulin, inside
China; every expected number is worked out in the comments from the formulas of
methodology.md §2.2, §2.3 and §3. The demo tests check plausibility on the small synthetic
demo region (tests/conftest.py ``demo_small_dir``).
"""

from __future__ import annotations

import json
import math
import tomllib
import warnings
from importlib.resources import files

import numpy as np
import pytest
import rasterio
from affine import Affine
from rasterio.transform import from_origin

from geoeco.core.errors import InvalidInput, UnitsError
from geoeco.core.io import read_raster, write_raster
from geoeco.core.raster import Grid
from geoeco.core.windows import equal_area_factor
from geoeco.erosion.config import make_config
from geoeco.erosion.desertification import run_desertification
from geoeco.erosion.run import run_erosion
from geoeco.evaluation.area_weights import area_weights
from geoeco.evaluation.config import SERVICES, demo_evaluation_config, make_evaluation_config
from geoeco.evaluation.names import importance_name
from geoeco.evaluation.pixels import relief_amplitude, relief_window
from geoeco.evaluation.run import run_evaluation

ORIGIN = (400000.0, 4250000.0)
CRS = "EPSG:4546"


def _write(path, array, *, res=10.0, origin=ORIGIN, nodata=-9999.0):
    a = np.asarray(array, dtype="float32")
    a = a[np.newaxis] if a.ndim == 2 else a
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=a.shape[2],
        height=a.shape[1],
        count=a.shape[0],
        dtype="float32",
        crs=CRS,
        nodata=nodata,
        transform=from_origin(*origin, res, res),
    ) as dst:
        dst.write(a)
    return str(path)


def _base(tmp_path, shape=(1, 4), **kw):
    """A DEM (the grid) and constant inputs: every factor a number unless overridden."""
    dem = _write(tmp_path / "dem.tif", np.full(shape, 1200.0))
    data = {
        "aridity": 20.0,  # >= 16: score 9
        "wind_days": 35.0,  # >= 30: score 9
        "texture_class": 5.0,  # sand: score 9 (sanding); group 1 (water erosion)
        "fvc": 10.0,  # <= 20 %: score 9
        "relief": 10.0,
        "vegetation_group": 2.0,
        "r": 500.0,
        "k": 1.0,
        "ls": 1.0,
        "c": 0.0,
        "p": 1.0,
        "npp": 1.0,
        "infiltration": 5.0,
        "precip": 300.0,
        "fq": 1.0,
        "slope": 0.0,
    }
    data.update(kw)
    return dem, make_evaluation_config(data)


def _read(path):
    return read_raster(path).array.astype("float64").filled(np.nan)


# ------------------------------------------------------------------------- sensitivity


def test_sensitivity_classes_by_hand(tmp_path):
    """EcoZoning-interim tables.

    Sanding: aridity 20 (≥ 16: 9), wind days 35 (≥ 30: 9), sand (9); FVC [10, 90, 50, 30] %
    scores [9, 1, 5, 7] → D = (729·s)^¼ = [9, 5.196, 7.770, 8.452] → classes [5, 3, 4, 5]
    (cut points 2/4/6/8). With clay (code 2, score 3) instead: D = (243·s)^¼ = [6.838, 3.948,
    5.891, 6.410] → [4, 2, 3, 4].
    Water erosion: R = 17.02·700 → 700 in the table's units (> 600: 9); relief 400 m (> 300: 9);
    clay → texture group 2 (score 3); vegetation group 5 (9) → SS = (9·9·3·9)^¼ = 2187^¼ =
    6.8385 → class 4 ((6, 8])."""
    fvc = _write(tmp_path / "fvc.tif", [[10.0, 90.0, 50.0, 30.0]])
    dem, cfg = _base(tmp_path, fvc=fvc)
    run_evaluation(tmp_path / "sand", grid_from=dem, inputs=cfg)
    d = _read(tmp_path / "sand/sensitivity_sanding_index.tif")[0]
    np.testing.assert_allclose(d, [9.0, 729**0.25, 3645**0.25, 5103**0.25], rtol=1e-6)
    assert _read(tmp_path / "sand/sensitivity_sanding.tif")[0].tolist() == [5, 3, 4, 5]

    dem, cfg = _base(
        tmp_path, fvc=fvc, r=17.02 * 700, relief=400.0, texture_class=2.0, vegetation_group=5.0
    )
    s = run_evaluation(tmp_path / "clay", grid_from=dem, inputs=cfg)
    d = _read(tmp_path / "clay/sensitivity_sanding_index.tif")[0]
    np.testing.assert_allclose(d, [(243 * x) ** 0.25 for x in (9, 1, 5, 7)], rtol=1e-6)
    assert _read(tmp_path / "clay/sensitivity_sanding.tif")[0].tolist() == [4, 2, 3, 4]
    ss = _read(tmp_path / "clay/sensitivity_soil_erosion_index.tif")[0]
    np.testing.assert_allclose(ss, 2187**0.25, rtol=1e-6)
    assert _read(tmp_path / "clay/sensitivity_soil_erosion.tif")[0].tolist() == [4, 4, 4, 4]
    # summary: 4 pixels of 100 m² (GK 1.3° from its meridian: area factor 1.0003)
    area = s.area_km2["sensitivity_soil_erosion"]
    assert area["4 高度敏感 highly sensitive"] == pytest.approx(4e-4, rel=1e-3)
    assert area["1 不敏感 not sensitive"] == 0.0
    assert "EcoZoning-interim/water-erosion/r" in s.provenance["unverified"]
    assert s.provenance["parameters"]["water_erosion.r_table_divisor"]["value"] == 17.02


def test_sanding_constant_inputs_score_nine(tmp_path):
    """All four factors score 9 → D = (9⁴)^¼ = 9 → class 5 (extremely sensitive), and the
    three-class RedLine-2017 tables give 5,5,5,5 → 5 → class 3."""
    dem, cfg = _base(tmp_path, shape=(4, 4))
    run_evaluation(tmp_path / "eco", grid_from=dem, inputs=cfg)
    assert np.all(_read(tmp_path / "eco/sensitivity_sanding_index.tif") == 9.0)
    assert np.all(_read(tmp_path / "eco/sensitivity_sanding.tif") == 5)
    dem, cfg = _base(tmp_path, shape=(4, 4), scheme="RedLine-2017")
    s = run_evaluation(tmp_path / "red", grid_from=dem, inputs=cfg)
    assert np.all(_read(tmp_path / "red/sensitivity_sanding_index.tif") == 5.0)
    assert np.all(_read(tmp_path / "red/sensitivity_sanding.tif") == 3)
    with rasterio.open(tmp_path / "red/sensitivity_sanding.tif") as ds:
        assert ds.tags()["class_table"].startswith("RedLine-2017/sanding")
        assert ds.colormap(1)[3][:3] == (165, 0, 38)  # '#a50026' of 极敏感
    assert "RedLine-2017/sanding" in s.provenance["tables"]


# -------------------------------------------------------------------------- importance


def test_importance_and_dominant_by_hand(tmp_path):
    """1 × 4 grid, constants R = K = P = 1, C = 0, F_q = 1, slope 0, precipitation 300.

    * soil conservation = 100·R·K·LS·(1 − C·P) = 100·LS, LS = [5, 1, 3, 1] → [500, 100, 300,
      100]; total 1000, cumulative shares from the top: 500 → 0.5, 300 → 0.8, 100s → 1.0 →
      classes [3, 1, 2, 1] (cuts 0.5 / 0.8).
    * sand fixation = NPP·K·F_q·D = NPP (D = 1/cos 0 = 1), NPP = [1, 2, 3, 6]; total 12:
      6 → 0.5, 3 → 0.75, 2 → 11/12, 1 → 1 → classes [1, 1, 2, 3].
    * water conservation = NPP·F_sic·F_pre·(1 − F_slo): infiltration [2, 10, 4, 2] → min–max
      F_sic = [0, 1, 0.25, 0]; precipitation and slope are constant → neutral F_pre = 1,
      F_slo = 0 → WR = [0, 2, 0.75, 0]; total 2.75: 2 → 0.727 (≤ 0.8), 0.75 → 1 → [1, 2, 1, 1].
    * max = [3, 2, 2, 3]; dominant = [soil 1, water 3, soil 1 (tie with sand at 2: first
      listed wins), sand 2].
    """
    dem, cfg = _base(
        tmp_path,
        r=1.0,
        ls=_write(tmp_path / "ls.tif", [[5.0, 1.0, 3.0, 1.0]]),
        npp=_write(tmp_path / "npp.tif", [[1.0, 2.0, 3.0, 6.0]]),
        infiltration=_write(tmp_path / "inf.tif", [[2.0, 10.0, 4.0, 2.0]]),
    )
    s = run_evaluation(tmp_path / "out", grid_from=dem, inputs=cfg)
    out = tmp_path / "out"
    np.testing.assert_allclose(
        _read(out / "service_soil_conservation.tif")[0], [500, 100, 300, 100]
    )
    np.testing.assert_allclose(_read(out / "service_sand_fixation.tif")[0], [1, 2, 3, 6])
    np.testing.assert_allclose(_read(out / "service_water_conservation.tif")[0], [0, 2, 0.75, 0])
    assert _read(out / "importance_soil_conservation.tif")[0].tolist() == [3, 1, 2, 1]
    assert _read(out / "importance_windbreak.tif")[0].tolist() == [1, 1, 2, 3]
    assert _read(out / "importance_water_conservation.tif")[0].tolist() == [1, 2, 1, 1]
    assert _read(out / "importance_max.tif")[0].tolist() == [3, 2, 2, 3]
    assert _read(out / "importance_dominant.tif")[0].tolist() == [1, 3, 1, 2]
    # value thresholds: the histogram's lower bin edges of 500 and 300 (bin width 500/65536)
    t = s.thresholds["soil_conservation"]
    assert t[0] == pytest.approx(500, abs=500 / 65536) and t[1] == pytest.approx(300, abs=0.01)
    assert s.thresholds["water_conservation"][0] is None  # no pixel ≤ 0.5
    assert s.ranges["infiltration"] == [2.0, 10.0]
    assert s.reference_extent == "whole input grid"
    # areas: each classified output covers the 4 pixels (4·100 m² times the GK area factor)
    px = 1e-4 * equal_area_factor(read_raster(dem).grid)
    for key, total in s.area_km2_total.items():
        assert total == pytest.approx(4 * px, rel=1e-9), key
        assert sum(s.area_km2[key].values()) == pytest.approx(total, rel=1e-12)
    assert s.area_km2["importance_dominant"]["1 水土保持 soil conservation"] == pytest.approx(
        2 * px
    )


def test_fq_one_month_through_the_pipeline(tmp_path):
    """F_q from 12-band constant rasters on a 1 km climate grid, wind only in April:
    ū = 3 m/s at 2 m, T = 10 °C, P = 20 mm, r = 0.5 → ETP = 0.19·(20 + 10)²·0.5 = 85.5 mm;
    F_q = (1/100)·3³·(85.5 − 20)/85.5·30 = 6.2052632. The other months have ū = 0.
    S_ws = NPP·K·F_q·D = 100·0.03·6.2052632·1 = 18.615789 (slope 0). Annual precipitation =
    12·20 = 240 mm."""
    clim = {"res": 1000.0, "origin": (399000.0, 4251000.0)}  # 3 × 3 km around the fine grid
    wind = np.zeros((12, 3, 3))
    wind[3] = 3.0
    paths = {
        "wind2m_monthly": _write(tmp_path / "u.tif", wind, **clim),
        "temp_monthly": _write(tmp_path / "t.tif", np.full((12, 3, 3), 10.0), **clim),
        "precip": _write(tmp_path / "p.tif", np.full((12, 3, 3), 20.0), **clim),
        "rh_monthly": _write(tmp_path / "rh.tif", np.full((12, 3, 3), 0.5), **clim),
    }
    dem, cfg = _base(tmp_path, shape=(4, 4), fq=None, npp=100.0, k=0.03, **paths)
    s = run_evaluation(tmp_path / "out", grid_from=dem, inputs=cfg)
    fq = 27 * (85.5 - 20) / 85.5 * 30 / 100
    np.testing.assert_allclose(_read(tmp_path / "out/fq.tif"), fq, rtol=1e-6)
    np.testing.assert_allclose(_read(tmp_path / "out/precip_annual.tif"), 240.0, rtol=1e-7)
    np.testing.assert_allclose(
        _read(tmp_path / "out/service_sand_fixation.tif"), 100 * 0.03 * fq, rtol=1e-6
    )
    assert s.provenance["parameters"]["Fq.negative_months"]["tag"] == "I"
    assert {"wind2m_monthly", "temp_monthly", "rh_monthly", "precip", "fq"} <= set(s.inputs)
    assert len(s.inputs["rh_monthly"]["sha256"]) == 64


def test_area_weights_per_pixel_mercator():
    """World Mercator (EPSG:3395) distorts areas by k² with k = sec φ·√(1 − e² sin² φ), so the
    true area of a pixel is cell area / k². Over about 44–47 °N the spread is far above 0.1 %,
    so 'auto' weights each pixel; the pixel latitude comes from an inverse projection. 1 km
    pixels: areal scale on a 5-pixel lattice, interpolated (error ~1e-7)."""
    from pyproj import Transformer

    g = Grid(Affine(1000, 0, 11e6, 0, -1000, 5.9e6), 40, 400, "EPSG:3395")
    aw = area_weights(g)
    assert aw.method == "per-pixel" and aw.step == 5
    w = aw.window((0, 0, 400, 40))
    e2 = 0.00669437999014  # WGS84 first eccentricity squared
    y = 5.9e6 - (np.arange(400) + 0.5) * 1000
    _, lat = Transformer.from_crs("EPSG:3395", "EPSG:4326", always_xy=True).transform(
        np.full(400, 11.02e6), y
    )
    phi = np.radians(lat)
    k = np.sqrt(1 - e2 * np.sin(phi) ** 2) / np.cos(phi)
    np.testing.assert_allclose(w[:, 20], 1 / k**2, rtol=1e-6)  # 1 km² pixels
    assert w[0, 0] < w[-1, 0]  # further north, more distortion, less true area
    assert area_weights(g, "constant").method == "constant"


def test_relief_window_and_amplitude_on_a_plane():
    """A plane falling 1 m per 10 m row: in a 3 × 3 window relief = 2 m inside, 1 m on the
    first and last rows (window truncated at the edge); 30 m / 10 m → a 3-pixel window."""
    z = np.repeat(np.arange(6.0)[::-1, None], 5, axis=1)
    size = relief_window(30.0, (10.0, 10.0))
    assert size == (3, 3) and relief_window(1000.0, (90.0, 90.0)) == (11, 11)
    r = relief_amplitude(z, size)
    assert r[1:-1].tolist() == [[2.0] * 5] * 4 and r[0].tolist() == r[-1].tolist() == [1.0] * 5


def test_config_and_input_errors(tmp_path):
    """Missing inputs are listed; FVC as a fraction, bad groups and cuts are refused."""
    with pytest.raises(InvalidInput, match="texture_class.*relief or dem"):
        make_evaluation_config({"aridity": 1.0})
    with pytest.raises(InvalidInput, match="groups 1..5"):
        _base(tmp_path, texture_groups={1: 7})
    with pytest.raises(InvalidInput, match="cuts"):
        _base(tmp_path, importance_cuts=(0.8, 0.5))
    with pytest.raises(InvalidInput, match="monthly"):
        _base(tmp_path, fq=None, wind2m_monthly="u.tif", temp_monthly="t.tif", rh_monthly="r.tif")
    dem, cfg = _base(tmp_path, fvc=_write(tmp_path / "f.tif", [[0.1, 0.2, 0.3, 0.4]]))
    with pytest.raises(UnitsError, match="fraction"):
        run_evaluation(tmp_path / "out", grid_from=dem, inputs=cfg)
    # the same covers declared in percent (band units '%') are a dune field: they run
    dunes = _write(tmp_path / "dunes.tif", [[0.1, 0.2, 0.3, 0.4]])
    with rasterio.open(dunes, "r+") as dst:
        dst.set_band_unit(1, "%")
    dem, cfg = _base(tmp_path, fvc=dunes)
    run_evaluation(tmp_path / "dunes_out", grid_from=dem, inputs=cfg)
    index = tmp_path / "dunes_out" / "sensitivity_sanding_index.tif"
    with rasterio.open(index) as src:  # every factor scores 9 (FVC <= 20 %): index 9
        assert src.read(1).tolist() == [[9.0, 9.0, 9.0, 9.0]]
    dem, cfg = _base(tmp_path, c=0.5, p=3.0)  # C·P > 1 → negative retained soil
    with pytest.raises(UnitsError, match="soil_conservation has negative"):
        run_evaluation(tmp_path / "out2", grid_from=dem, inputs=cfg)


def test_biodiversity_by_hand(tmp_path):
    """S_bio = NPP·F_pre·F_tem·(1 − F_alt), each factor min–max normalised over the grid.

    1 × 4 grid. DEM (the grid, and F_alt) [1400, 1000, 1100, 1200] m → F_alt = [1, 0, 0.25,
    0.5]; temp_monthly 12 bands alternating T + 3 and T − 3 °C with T = [5, 9, 8, 7] → mean
    annual temperature T → F_tem = [0, 1, 0.75, 0.5]; annual precipitation (one band) [300,
    500, 400, 450] mm → F_pre = [0, 1, 0.5, 0.75]; NPP [10, 20, 40, 80] →
    S_bio = [0, 20·1·1·1, 40·0.5·0.75·0.75, 80·0.75·0.5·0.5] = [0, 20, 11.25, 15].
    Total 46.25; shares from the top: 20 → 0.432 (class 3), 15 → 0.757 (class 2), 11.25 and 0
    → 1 (class 1) → [1, 3, 1, 2].
    Other services: soil conservation 100·500·1·1·(1 − 0) = 50000 everywhere → one tie, share 1
    → all class 1; F_q = 0 → sand fixation 0 everywhere → no important pixel, thresholds inf,
    all class 1 (and no RuntimeWarning); water conservation NPP·1·F_pre·(1 − 0) = [0, 20, 20,
    60] (infiltration and slope constant → neutral), total 100: 60 → 0.6 (class 2), 20 → 1 →
    [1, 1, 1, 2]. max = [1, 3, 1, 2]; dominant = [soil 1 (all tie at 1), biodiversity 4,
    soil 1, water 3 (tie with biodiversity at 2: water is listed first)]."""
    dem = _write(tmp_path / "dem_bio.tif", [[1400.0, 1000.0, 1100.0, 1200.0]])
    t = np.array([5.0, 9.0, 8.0, 7.0])
    temp = np.stack([t + (3.0 if m % 2 else -3.0) for m in range(12)])[:, None, :]
    _, cfg = _base(
        tmp_path,
        dem=dem,
        fq=0.0,
        npp=_write(tmp_path / "npp.tif", [[10.0, 20.0, 40.0, 80.0]]),
        precip=_write(tmp_path / "p.tif", [[300.0, 500.0, 400.0, 450.0]]),
        temp_monthly=_write(tmp_path / "t.tif", temp),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        s = run_evaluation(tmp_path / "out", grid_from=dem, inputs=cfg)
    out = tmp_path / "out"
    np.testing.assert_allclose(_read(out / "temp_annual.tif")[0], t, rtol=1e-7)
    np.testing.assert_allclose(
        _read(out / "service_biodiversity.tif")[0], [0, 20, 11.25, 15], rtol=1e-6
    )
    assert _read(out / "importance_biodiversity.tif")[0].tolist() == [1, 3, 1, 2]
    assert _read(out / "importance_soil_conservation.tif")[0].tolist() == [1, 1, 1, 1]
    assert _read(out / "importance_windbreak.tif")[0].tolist() == [1, 1, 1, 1]
    assert _read(out / "importance_water_conservation.tif")[0].tolist() == [1, 1, 1, 2]
    assert _read(out / "importance_max.tif")[0].tolist() == [1, 3, 1, 2]
    assert _read(out / "importance_dominant.tif")[0].tolist() == [1, 4, 1, 3]
    ranges = s.ranges
    assert ranges["altitude"] == [1000.0, 1400.0] and ranges["temp_annual"] == [5.0, 9.0]
    assert ranges["precip_annual"] == [300.0, 500.0]
    t_bio = s.thresholds["biodiversity"]  # bins of 20/65536 over [0, 20]
    assert t_bio[0] == pytest.approx(20, abs=20 / 65536) and t_bio[1] == pytest.approx(15)
    assert s.thresholds["sand_fixation"] == [None, None]
    assert s.summary()["importance"]["dominant_codes"]["4"]["red_line_type"] == 12
    px = 1e-4 * equal_area_factor(read_raster(dem).grid)
    dom = s.area_km2["importance_dominant"]
    assert dom["4 生物多样性维护 biodiversity maintenance"] == pytest.approx(px)
    assert dom["1 水土保持 soil conservation"] == pytest.approx(2 * px)
    assert s.services == SERVICES and s.skipped == {}
    assert {"temp_monthly", "dem"} <= set(s.inputs)
    assert s.provenance["parameters"]["biodiversity.temp_annual"]["tag"] == "I"


def test_services_are_optional(tmp_path):
    """Without ``services``, a service whose inputs are absent is skipped and the summary says
    what it lacked; with ``services`` listed, a missing input is an error. Soil conservation
    alone: LS = [5, 1, 3, 1] → [500, 100, 300, 100] → classes [3, 1, 2, 1] (as in
    test_importance_and_dominant_by_hand), so max = the same and dominant = soil (1) where
    classed."""
    dem, cfg = _base(
        tmp_path,
        npp=None,
        infiltration=None,
        precip=None,
        fq=None,
        slope=None,
        r=1.0,
        ls=_write(tmp_path / "ls.tif", [[5.0, 1.0, 3.0, 1.0]]),
    )
    computed, skipped = cfg.service_plan()
    assert computed == ("soil_conservation",)
    assert skipped["water_conservation"] == (
        "missing inputs: npp, infiltration, precip, slope or dem"
    )
    s = run_evaluation(tmp_path / "out", grid_from=dem, inputs=cfg)
    out = tmp_path / "out"
    assert list(s.services) == ["soil_conservation"]
    assert set(s.skipped) == {"sand_fixation", "water_conservation", "biodiversity"}
    assert _read(out / "importance_max.tif")[0].tolist() == [3, 1, 2, 1]
    assert _read(out / "importance_dominant.tif")[0].tolist() == [1, 1, 1, 1]
    assert not (out / "service_sand_fixation.tif").exists()
    assert "slope.tif" not in s.outputs and list(s.thresholds) == ["soil_conservation"]
    assert s.ranges == {}
    # sensitivities only: no importance raster at all
    _, cfg = _base(tmp_path, services=())
    s = run_evaluation(tmp_path / "none", grid_from=dem, inputs=cfg)
    assert not any(f.startswith(("service_", "importance_")) for f in s.outputs)
    assert not (tmp_path / "none/importance_max.tif").exists()
    assert s.area_km2_total["sensitivity_sanding"] > 0
    # a requested service needs its inputs
    with pytest.raises(InvalidInput, match=r"npp \(for biodiversity\).*dem \(for biodiversity\)"):
        _base(tmp_path, npp=None, services=("water_conservation", "biodiversity"))
    with pytest.raises(InvalidInput, match="temp_annual or temp_monthly"):
        _base(tmp_path, services=("biodiversity",), dem=dem)
    # a reference summary without biodiversity cannot class biodiversity
    _, cfg = _base(tmp_path, dem=dem, temp_annual=8.0, services=("biodiversity",))
    with pytest.raises(InvalidInput, match="no biodiversity, the range of precip_annual"):
        run_evaluation(
            tmp_path / "ref",
            grid_from=dem,
            inputs=cfg.model_copy(update={"reference": str(tmp_path / "out/summary.json")}),
        )


# ------------------------------------------------------------------------------ the demo


@pytest.fixture(scope="module")
def demo_eval(demo_small_dir, tmp_path_factory):
    """Erosion and desertification on the small demo (as geoeco.workflows.demo does), then the
    evaluation with 1024-pixel windows."""
    out = tmp_path_factory.mktemp("evaluation")
    settings = tomllib.loads(
        (files("geoeco") / "data" / "demo_erosion.toml").read_text(encoding="utf-8")
    )
    settings["landcover_table"]["path"] = str(files("geoeco") / "data/demo_landcover_factors.csv")
    settings["factors"] = True  # the evaluation reads R, K, C, P and slope, as in the demo
    run_erosion(
        demo_small_dir / "dem.tif", make_config(settings, base=demo_small_dir), out / "erosion"
    )
    run_desertification(demo_small_dir / "ndvi.tif", out / "desertification")
    cfg = demo_evaluation_config(out, layers=demo_small_dir)
    s = run_evaluation(out / "evaluation", grid_from=demo_small_dir / "dem.tif", inputs=cfg)
    return out, s


def test_demo_outputs_are_plausible(demo_eval, demo_small_dir):
    """Every output is written; sanding sensitivity is higher on mobile sand than under forest,
    water-erosion sensitivity higher on bare land than on water; sand fixation follows NPP; the
    top importance class holds at most half of each service's total (and the top two at most
    80 %), within a bin; class areas sum to the analysed area."""
    out, s = demo_eval
    ev = out / "evaluation"
    for f in [*s.outputs, "summary.json"]:
        assert (ev / f).exists(), f
    lc = _read(demo_small_dir / "landcover.tif")
    npp = _read(demo_small_dir / "npp.tif")
    sand_idx = _read(ev / "sensitivity_sanding_index.tif")
    assert np.nanmean(sand_idx[lc == 6]) > np.nanmean(sand_idx[lc == 2]) + 2
    water_idx = _read(ev / "sensitivity_soil_erosion_index.tif")
    assert np.nanmean(water_idx[lc == 7]) > np.nanmean(water_idx[lc == 4]) + 2
    sws = _read(ev / "service_sand_fixation.tif")
    ok = np.isfinite(sws) & np.isfinite(npp)
    rank = lambda a: np.argsort(np.argsort(a))  # noqa: E731
    assert np.corrcoef(rank(npp[ok]), rank(sws[ok]))[0, 1] > 0.8  # F_q varies < 50 %
    assert np.all(sws[(lc == 4) | (lc == 5)] == 0)  # no service on water and built land
    for svc in SERVICES:
        v = _read(ev / f"service_{svc}.tif")
        c = _read(ev / f"{importance_name(svc)}.tif")
        total = np.nansum(v)
        assert 0.49 < v[c == 3].sum() / total <= 0.5 + 1e-6
        assert 0.79 < v[c >= 2].sum() / total <= 0.8 + 1e-6
    top = _read(ev / "importance_max.tif")
    assert np.all(top >= _read(ev / "importance_windbreak.tif"))
    # areas: the demo has no nodata, so every output covers the whole grid
    grid = read_raster(demo_small_dir / "dem.tif").grid
    whole = grid.width * grid.height * grid.cell_area / 1e6 * equal_area_factor(grid)
    for key, total in s.area_km2_total.items():
        assert total == pytest.approx(whole, rel=1e-9), key
        assert sum(s.area_km2[key].values()) == pytest.approx(total, rel=1e-12)
    on_disk = json.loads((ev / "summary.json").read_text(encoding="utf-8"))
    assert on_disk["reference_extent"]["name"] == "whole input grid"
    assert on_disk["area_weights"]["method"] == "constant"  # GK scale spread ~6e-5
    assert "/" not in json.dumps(on_disk["inputs"]).replace("m/s", "")  # file names only
    assert on_disk["provenance"]["parameters"]["relief.window_px"]["value"] == [33, 33]
    assert on_disk == json.loads(json.dumps(s.summary(), default=float))  # the file is the result's


def test_demo_biodiversity_matches_numpy(demo_eval, demo_small_dir):
    """Independent recomputation of S_bio on the demo: annual precipitation (sum of the 12
    bands of precip_monthly) and mean annual temperature (mean of temp_monthly) on the 1 km
    climate grid, warped to the 30 m DEM grid with geoeco.core.align.align_to (an in-memory
    reproject, not the pipeline's windowed VRT), min–max normalised with numpy over the grid;
    F_alt from the DEM; water (4) and built (5) land 0. Agreement to 1e-4 of the maximum.
    Biodiversity is the dominant service somewhere, and importance_max is never below it."""
    from geoeco.core.align import align_to
    from geoeco.core.raster import Raster

    out, s = demo_eval
    ev = out / "evaluation"
    dem = read_raster(demo_small_dir / "dem.tif")

    def annual(name, how):
        r = read_raster(demo_small_dir / f"{name}.tif", band=list(range(1, 13)))
        a = r.array.astype("float64").filled(np.nan)
        a = (a.sum(0) if how == "sum" else a.mean(0)).astype("float32")
        warped = align_to(Raster.from_array(a, r.grid), dem.grid, resampling="bilinear")
        return warped.array.astype("float64").filled(np.nan)

    def norm(a):
        return (a - np.nanmin(a)) / (np.nanmax(a) - np.nanmin(a))

    f_pre, f_tem = norm(annual("precip_monthly", "sum")), norm(annual("temp_monthly", "mean"))
    f_alt = norm(dem.array.astype("float64").filled(np.nan))
    expected = _read(demo_small_dir / "npp.tif") * f_pre * f_tem * (1 - f_alt)
    lc = _read(demo_small_dir / "landcover.tif")
    expected[(lc == 4) | (lc == 5)] = 0.0
    got = _read(ev / "service_biodiversity.tif")
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-4 * np.nanmax(expected))
    assert list(s.services) == list(SERVICES)
    dom = s.area_km2["importance_dominant"]["4 生物多样性维护 biodiversity maintenance"]
    assert dom > 0
    assert np.all(_read(ev / "importance_max.tif") >= _read(ev / "importance_biodiversity.tif"))
    assert (ev / "temp_annual.tif").exists() and "temp_annual.tif" in s.outputs


def test_demo_windowed_equals_whole_and_reference_reuse(demo_eval, demo_small_dir, tmp_path):
    """(1) 50-pixel windows with per-pixel area weights give the same rasters as one 1024-pixel
    window with a constant area (GK spread 6e-5, so the weights agree to 1e-8).
    (2) A run on a 120 × 150 crop that reuses the whole run's summary as its reference gets
    the same importance and sanding classes on the crop as the whole run."""
    out, s = demo_eval
    cfg = demo_evaluation_config(
        out, layers=demo_small_dir, block_size=50, area_weights="per-pixel"
    )
    s2 = run_evaluation(tmp_path / "w50", grid_from=demo_small_dir / "dem.tif", inputs=cfg)
    for f in s.outputs:
        a = read_raster(out / "evaluation" / f).array
        b = read_raster(tmp_path / "w50" / f).array
        assert np.array_equal(a.mask, b.mask) and np.array_equal(a.filled(0), b.filled(0)), f
    assert s2.thresholds == s.thresholds
    assert s2.grid_area_km2 == pytest.approx(s.grid_area_km2, rel=1e-8)
    # crop
    dem = read_raster(demo_small_dir / "dem.tif", window=(100, 60, 120, 150))
    crop = write_raster(dem, tmp_path / "crop_dem.tif")
    cfg = demo_evaluation_config(
        out, layers=demo_small_dir, reference=str(out / "evaluation" / "summary.json")
    )
    s3 = run_evaluation(tmp_path / "crop", grid_from=crop, inputs=cfg)
    assert s3.reference_extent == "whole input grid (from summary.json)"
    names = [importance_name(k) for k in SERVICES] + ["importance_max", "importance_dominant"]
    names += ["sensitivity_sanding", "service_water_conservation"]
    for f in [f"{n}.tif" for n in names]:
        whole = read_raster(out / "evaluation" / f).array[100:220, 60:210]
        part = read_raster(tmp_path / "crop" / f).array
        assert np.array_equal(whole.filled(0), part.filled(0)), f
    assert not math.isclose(s3.area_km2_total["importance_max"], s.area_km2_total["importance_max"])


def test_evaluate_writes_the_names_zoning_reads(demo_eval):
    """Every class raster the evaluation writes (but the two summaries across services) is
    named as an input of the zoning rule sets, so `zone --inputs-from` binds it as it is; the
    three names of earlier runs are not written any more."""
    from geoeco.zoning.rules import list_rule_sets, load_rule_set

    out, s = demo_eval
    ev = out / "evaluation"
    classes = {f[:-4] for f in s.outputs if f.startswith(("importance_", "sensitivity_"))}
    classes -= {"importance_max", "importance_dominant"}
    classes = {c for c in classes if not c.endswith("_index")}
    inputs = set().union(*(load_rule_set(n).inputs for n in list_rule_sets()))
    assert classes == {
        "importance_soil_conservation",
        "importance_windbreak",
        "importance_water_conservation",
        "importance_biodiversity",
        "sensitivity_soil_erosion",
        "sensitivity_sanding",
    }
    assert classes <= inputs
    for old in ("importance_sand_fixation", "water_erosion_sensitivity", "sanding_sensitivity"):
        assert not (ev / f"{old}.tif").exists()
