"""The erosion and desertification pipelines: factor algebra on windows, masks, grades,
summaries, bad input. Expected numbers are worked from the formulas in the comments."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from geoeco.core.errors import CRSError, InvalidInput, UnitsError
from geoeco.core.io import read_raster
from geoeco.erosion.config import make_config
from geoeco.erosion.desertification import run_desertification
from geoeco.erosion.run import run_erosion

ORIGIN = (400000.0, 4250000.0)  # EPSG:4546 (GK CM 111E): near Yulin, inside China


def _write(path, array, *, res=10.0, nodata=None, crs="EPSG:4546", origin=ORIGIN, units=None):
    array = np.asarray(array)
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=array.shape[1],
        height=array.shape[0],
        count=1,
        dtype=array.dtype,
        crs=crs,
        nodata=nodata,
        transform=from_origin(*origin, res, res),
    ) as dst:
        dst.write(array, 1)
        if units:
            dst.set_band_unit(1, units)
    return path


def _plane(tmp_path, rows=60, cols=12, slope=0.10, res=10.0):
    # elevation falls by slope*res per row southwards: a uniform 10 % slope, flow along rows
    z = (rows - np.arange(rows, dtype="float32"))[:, None] * slope * res + 1000.0
    return _write(tmp_path / "dem.tif", np.repeat(z, cols, axis=1), res=res)


def _closed_form_mean_ls(rows, res, slope):
    """Mean LS of a plane by the closed form: per row L_i = (λ_i^(m+1) - λ_{i-1}^(m+1)) /
    ((λ_i - λ_{i-1})·22.13^m), λ_i = i·res; m = β/(1+β) (McCool); S by CSLE's middle branch
    (5.14° <= θ < 10°: 16.8 sin θ - 0.5)."""
    theta = math.atan(slope)
    beta = (math.sin(theta) / 0.0896) / (3 * math.sin(theta) ** 0.8 + 0.56)
    m = beta / (1 + beta)
    lam = np.arange(rows + 1) * res
    L = (lam[1:] ** (m + 1) - lam[:-1] ** (m + 1)) / (res * 22.13**m)
    S = 16.8 * math.sin(theta) - 0.5
    return float(L.mean() * S)


def test_constant_factors_on_a_plane_match_the_closed_form(tmp_path):
    """R=500, K=0.03, C=0.2, P=0.5 on a 10 % plane: A = R·K·LS·C·P t/(hm²·a), ×100 for
    t/(km²·a). The mean must equal 100·R·K·C·P·mean(LS_closed_form) within 1 %."""
    dem = _plane(tmp_path)
    cfg = make_config({"r": 500.0, "k": 0.03, "c": 0.2, "p": 0.5, "ls_method": "lstool"})
    cfg = cfg.model_copy(update={"max_slope_length": math.inf})  # the closed form: no λ cap
    s = run_erosion(dem, cfg, tmp_path / "out")
    expected = 100 * 500 * 0.03 * 0.2 * 0.5 * _closed_form_mean_ls(60, 10.0, 0.10)
    loss = read_raster(tmp_path / "out" / "soil_loss.tif")
    ls = read_raster(tmp_path / "out" / "ls.tif")
    assert float(loss.array.mean()) == pytest.approx(expected, rel=0.01)
    # pixel by pixel the algebra is exact
    np.testing.assert_allclose(
        loss.array.filled(np.nan), 100 * 500 * 0.03 * 0.2 * 0.5 * ls.array.filled(np.nan), rtol=1e-5
    )
    assert s.mean_soil_loss_t_km2_a == pytest.approx(float(loss.array.mean()), rel=1e-6)
    # areas: 60 x 12 pixels of 100 m² = 0.072 km² (GK distortion at 1.1° from CM < 1e-3)
    assert s.area_km2_total == pytest.approx(0.072, rel=1e-3)
    assert sum(s.area_km2_by_grade.values()) == pytest.approx(s.area_km2_total, rel=1e-9)
    assert "SL190-2007/water" in s.provenance["class_tables"]
    on_disk = json.loads((tmp_path / "out" / "summary.json").read_text(encoding="utf-8"))
    assert on_disk["units"]["soil_loss"] == "t/(km²·a)"
    assert on_disk == json.loads(json.dumps(s.summary()))  # the file is the result's summary


def test_grades_follow_sl190_with_the_tolerable_loss(tmp_path):
    """With LS fixed by the plane, scale R so that moduli straddle 1000 and 2500 t/(km²·a):
    grade 1 below the tolerable loss (1000 here), 2 up to 2500, 3 above."""
    dem = _plane(tmp_path, rows=40)
    cfg = make_config({"r": 1.0, "k": 1.0, "c": 1.0, "p": 1.0, "tolerable_loss": 1000})
    run_erosion(dem, cfg, tmp_path / "o")
    m = read_raster(tmp_path / "o" / "soil_loss.tif").array.filled(np.nan)
    g = read_raster(tmp_path / "o" / "erosion_grade.tif").array.filled(0)
    expected = np.select([m < 1000, m < 2500, m < 5000, m < 8000, m < 15000], [1, 2, 3, 4, 5], 6)
    assert np.array_equal(g, expected)


def test_factor_rasters_on_another_grid_are_aligned_and_masks_propagate(tmp_path):
    """K comes on a 30 m grid with a nodata hole; the result is on the DEM's 10 m grid and
    the hole (3x3 pixels of 30 m = 9x9 DEM pixels) is nodata in soil loss and grade."""
    dem = _plane(tmp_path, rows=60, cols=30)
    k = np.full((20, 10), 0.03, dtype="float32")
    k[3:6, 3:6] = -1
    kpath = _write(tmp_path / "k.tif", k, res=30.0, nodata=-1)
    cfg = make_config({"r": 500.0, "k": str(kpath), "c": 0.2, "p": 1.0})
    s = run_erosion(dem, cfg, tmp_path / "o")
    loss = read_raster(tmp_path / "o" / "soil_loss.tif")
    grade = read_raster(tmp_path / "o" / "erosion_grade.tif")
    assert loss.grid.res == (10.0, 10.0)
    assert loss.array.mask[9:18, 9:18].all() and grade.array.mask[9:18, 9:18].all()
    assert int(loss.array.mask.sum()) == 81 and s.nodata_pixels == 81
    assert s.inputs["K"]["file"] == "k.tif"


def test_bad_inputs_give_clear_errors(tmp_path):
    dem = _plane(tmp_path)
    with pytest.raises(InvalidInput, match="exactly one of r"):
        make_config({"k": 0.03, "c": 0.2})
    with pytest.raises(InvalidInput, match="lstool"):
        make_config({"r": 1.0, "k": 1.0, "c": 1.0, "ls_method": "lstool", "routing": "mfd"})
    # vegetation cover given as a fraction (0-1) where percent is expected
    fvc = _write(tmp_path / "fvc.tif", np.full((60, 12), 0.45, dtype="float32"))
    cfg = make_config({"r": 1.0, "k": 1.0, "fvc": str(fvc)})
    with pytest.raises(UnitsError, match="percent"):
        run_erosion(dem, cfg, tmp_path / "o1")
    nocrs = _write(tmp_path / "nocrs.tif", np.ones((5, 5), dtype="float32"), crs=None)
    with pytest.raises(CRSError, match="nocrs.tif"):
        run_erosion(nocrs, make_config({"r": 1.0, "k": 1.0, "c": 1.0}), tmp_path / "o2")
    geo = _write(
        tmp_path / "geo.tif",
        np.ones((5, 5), dtype="float32"),
        res=0.001,
        crs="EPSG:4490",
        origin=(109.0, 38.0),
    )
    with pytest.raises(InvalidInput, match="projected"):
        run_erosion(geo, make_config({"r": 1.0, "k": 1.0, "c": 1.0}), tmp_path / "o3")


def test_desertification_from_an_ndvi_ramp(tmp_path):
    """NDVI 0.0..0.99 in 100 columns with end points given as (0, 1): FVC = 100·NDVI %,
    so Wang Tao degrees by column: <13.3 → 5 (14 columns: 0..13), <26.7 → 4 (13), <40 → 3
    (13), <60 → 2 (20), >=60 → 1 (40). Each pixel is 100 m²."""
    ndvi = np.repeat((np.arange(100, dtype="float32") / 100)[None, :], 10, axis=0)
    p = _write(tmp_path / "ndvi.tif", ndvi)
    s = run_desertification(p, tmp_path / "d", endpoints=(0.0, 1.0))
    deg = read_raster(tmp_path / "d" / "desertification_degree.tif").array.filled(0)
    counts = np.bincount(deg.ravel(), minlength=6)
    assert counts[1:].tolist() == [400, 200, 130, 130, 140]
    fvc = read_raster(tmp_path / "d" / "fvc.tif").array
    np.testing.assert_allclose(fvc[0], np.arange(100), atol=1e-4)
    areas = list(s.area_km2_by_degree.values())
    assert areas[0] == pytest.approx(400 * 100 / 1e6, rel=1e-3)


def test_csle_with_user_b_and_t_tables(tmp_path):
    """CSLE on a plane, land use 1 (cropland, T=0.281 from the config, B=1) in the north half and
    3 (grassland, B=0.05) in the south: A = R·K·L·S·B·E·T, so the modulus ratio of a cropland
    pixel to the ls.tif value is 100·R·K·0.281 and of a grassland pixel 100·R·K·0.05."""
    dem = _plane(tmp_path, rows=40)
    lc = np.ones((40, 12), dtype="uint8")
    lc[20:] = 3
    lcp = _write(tmp_path / "lc.tif", lc, nodata=0)
    ndvi = _write(tmp_path / "ndvi.tif", np.full((40, 12), 0.5, dtype="float32"))
    cfg = make_config(
        {
            "model": "csle",
            "r": 100.0,
            "k": 0.02,
            "landcover": str(lcp),
            "ndvi": str(ndvi),
            "ndvi_endpoints": (0.0, 1.0),
            "t_factors": {"1": 0.281},
            "b_factors": {"3": 0.05},
            "factors": True,
        }
    )
    s = run_erosion(dem, cfg, tmp_path / "o")
    loss = read_raster(tmp_path / "o" / "soil_loss.tif").array
    ls = read_raster(tmp_path / "o" / "ls.tif").array
    np.testing.assert_allclose(loss[:20] / ls[:20], 100 * 100 * 0.02 * 0.281, rtol=1e-4)
    np.testing.assert_allclose(loss[20:] / ls[20:], 100 * 100 * 0.02 * 0.05, rtol=1e-4)
    assert "user/T" in s.provenance["tables"] and "t.tif" in s.outputs


def test_potential_loss_and_soil_conservation(tmp_path):
    """Potential loss = R·K·LS (no cover, no practice) and conservation = potential − actual:
    with C·P = 0.2·0.5 = 0.1 the conservation is 0.9 × potential, and the mean in t/(hm²·a) is
    the mean in t/(km²·a) divided by 100."""
    dem = _plane(tmp_path, rows=30)
    cfg = make_config({"r": 500.0, "k": 0.03, "c": 0.2, "p": 0.5, "factors": True})
    s = run_erosion(dem, cfg, tmp_path / "o")
    ls = read_raster(tmp_path / "o" / "ls.tif").array
    pot = read_raster(tmp_path / "o" / "potential_loss.tif").array
    cons = read_raster(tmp_path / "o" / "soil_conservation.tif").array
    np.testing.assert_allclose(pot, 100 * 500 * 0.03 * ls, rtol=1e-5)
    np.testing.assert_allclose(cons, 0.9 * pot, rtol=1e-5)
    assert s.mean_soil_loss_t_hm2_a == pytest.approx(s.mean_soil_loss_t_km2_a / 100)


def test_basin_tiled_routing_gives_the_same_soil_loss(tmp_path):
    """Two valleys draining to opposite edges with a crest between them: routed whole and, with
    a pixel budget below the DEM size, basin by basin; soil loss must be identical (the tiles
    follow the true divide)."""
    rows, cols = 40, 30
    y = np.arange(rows, dtype="float32")[:, None]
    x = np.arange(cols, dtype="float32")[None, :]
    # north half drains north, south half drains south, each a V valley along x = 15
    z = np.where(y < rows / 2, 100 + y * 2.0, 100 + (rows - 1 - y) * 2.0) + np.abs(x - 15) * 1.5
    dem = _write(tmp_path / "dem.tif", z.astype("float32"))
    cfg = make_config({"r": 300.0, "k": 0.02, "c": 0.3, "ls_method": "dg"})
    whole = run_erosion(dem, cfg, tmp_path / "whole")
    tiled = run_erosion(dem, cfg, tmp_path / "tiled", tile_pixels=800)
    assert "tiling" in tiled.ls and "tiling" not in whole.ls
    a = read_raster(tmp_path / "whole" / "soil_loss.tif").array
    b = read_raster(tmp_path / "tiled" / "soil_loss.tif").array
    np.testing.assert_array_equal(a.mask, b.mask)
    np.testing.assert_allclose(a.filled(0), b.filled(0), rtol=1e-6)


def _write_bands(path, bands, *, res=10.0, crs="EPSG:4546", origin=ORIGIN):
    bands = np.asarray(bands, dtype="float32")
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=bands.shape[2],
        height=bands.shape[1],
        count=bands.shape[0],
        dtype="float32",
        crs=crs,
        nodata=-9999.0,
        transform=from_origin(*origin, res, res),
    ) as dst:
        dst.write(bands)
    return path


# Monthly rain (mm) of one year, January first: P = 450 mm, Σp² = 2·50² + 2·100² + 150² = 47 500
_MONTHS = [0.0, 0.0, 0.0, 0.0, 50.0, 100.0, 150.0, 100.0, 50.0, 0.0, 0.0, 0.0]


@pytest.mark.parametrize("method", ["fournier", "wischmeier"])
def test_r_from_monthly_rain_by_hand(tmp_path, method):
    """A 12-band monthly rain raster (the documented input) gives R by hand:
    Fournier F = 47 500 / 450 = 105.556 mm, R = 0.1833·F^1.9957 = 2001.8;
    Wischmeier R = 17.02·Σ 1.735·10^(1.5·lg(p²/450) − 0.8188) over the five wet months
    = 17.02·(2·3.4482 + 2·27.585 + 93.101) = 2641.0 MJ·mm/(hm²·h·a). Before the fix every
    run with r_monthly failed (the 12 bands were taken for 12 years)."""
    dem = _plane(tmp_path, rows=20, cols=10)
    rain = _write_bands(
        tmp_path / "rain.tif",
        np.broadcast_to(np.array(_MONTHS)[:, None, None], (12, 4, 4)),
        res=50.0,
    )
    cfg = make_config(
        {"r_monthly": str(rain), "r_monthly_method": method, "k": 0.03, "c": 0.2, "factors": True}
    )
    res = run_erosion(dem, cfg, tmp_path / "out")
    r = read_raster(tmp_path / "out" / "r.tif").array
    expected = 2001.8 if method == "fournier" else 2641.0
    np.testing.assert_allclose(r.compressed(), expected, rtol=2e-4)
    assert (
        res.provenance["parameters"]["R.method"]["value"]
        .lower()
        .startswith("modified fournier" if method == "fournier" else "wischmeier")
    )


def test_r_from_monthly_rain_of_several_years_is_the_mean(tmp_path):
    """24 bands = two years: Fournier's long-term form averages F over the years. Year 1 as
    above (F = 105.556); year 2 all rain in July (F = 450²/450 = 450): mean F = 277.778,
    R = 0.1833·277.778^1.9957 = 13 805. Twelve bands per year are required."""
    dem = _plane(tmp_path, rows=20, cols=10)
    year2 = [0.0] * 6 + [450.0] + [0.0] * 5
    two = np.broadcast_to(np.array(_MONTHS + year2)[:, None, None], (24, 4, 4))
    rain = _write_bands(tmp_path / "rain24.tif", two, res=50.0)
    cfg = make_config({"r_monthly": str(rain), "k": 0.03, "c": 0.2, "factors": True})
    run_erosion(dem, cfg, tmp_path / "out")
    r = read_raster(tmp_path / "out" / "r.tif").array
    np.testing.assert_allclose(r.compressed(), 0.1833 * 277.7778**1.9957, rtol=1e-5)
    assert 13_800 < float(r.mean()) < 13_810
    bad = _write_bands(tmp_path / "rain13.tif", np.ones((13, 4, 4)), res=50.0)
    with pytest.raises(InvalidInput, match="12 bands"):
        run_erosion(dem, make_config({"r_monthly": str(bad), "k": 0.03, "c": 0.2}), tmp_path / "o")


def _dune_and_steppe_ndvi(tmp_path):
    """NDVI 128 x 64: the northern 64 x 64 block is a mobile dune field (NDVI 0.050..0.0569,
    i.e. FVC 0..0.86 % with end points 0.05/0.85), the southern block steppe (NDVI 0.45,
    FVC 50 %)."""
    ndvi = np.full((128, 64), 0.45, dtype="float32")
    ndvi[:64] = np.linspace(0.05, 0.05 + 0.8 * 0.0086, 64 * 64).reshape(64, 64)
    return _write(tmp_path / "ndvi.tif", ndvi, nodata=-9999.0)


def test_a_window_of_bare_dunes_computes(tmp_path):
    """Issue 14, found 5: a 64² window of mobile dunes (FVC ≤ 0.86 %) used to raise UnitsError
    ("looks like a fraction") in the erosion and desertification windows. It computes: C = 1
    up to FVC 0.1 %, and Cai's formula above it (0.86 % → 0.6508 + 0.3436·0.0655 = 0.6733);
    the desertification degree is 5 (极重度, FVC < 13.3 %)."""
    ndvi = _dune_and_steppe_ndvi(tmp_path)
    dem = _plane(tmp_path, rows=128, cols=64)
    cfg = make_config(
        {
            "r": 500.0,
            "k": 0.03,
            "ndvi": str(ndvi),
            "ndvi_endpoints": (0.05, 0.85),
            "p": 1.0,
            "block_size": 64,
            "factors": True,
        }
    )
    run_erosion(dem, cfg, tmp_path / "ero")
    c = read_raster(tmp_path / "ero" / "c.tif").array.filled(np.nan)
    assert np.nanmax(c[:64]) == pytest.approx(1.0) and np.nanmin(c[:64]) == pytest.approx(
        0.6733, abs=2e-3
    )
    assert np.allclose(c[64:], 0.6508 - 0.3436 * math.log10(50.0), atol=1e-4)
    res = run_desertification(ndvi, tmp_path / "des", endpoints=(0.05, 0.85), block_size=64)
    deg = read_raster(tmp_path / "des" / "desertification_degree.tif").array
    assert (deg[:64] == 5).all() and (deg[64:] == 2).all()
    assert sum(res.area_km2_by_degree.values()) == pytest.approx(128 * 64 * 1e-4, rel=1e-3)


def test_a_cover_input_as_fraction_is_caught_once_over_the_whole_raster(tmp_path):
    """An FVC raster given as a fraction (max 0.63 over the whole raster) is refused before any
    window runs; a raster of bare dunes that really is in percent (max 0.86) runs when its band
    units say '%'; one that declares a fraction is refused whatever its values."""
    dem = _plane(tmp_path, rows=20, cols=10)
    frac = _write(tmp_path / "frac.tif", np.full((20, 10), 0.63, dtype="float32"), nodata=-1.0)
    cfg = make_config({"r": 500.0, "k": 0.03, "fvc": str(frac)})
    with pytest.raises(
        UnitsError, match=r"FVC input frac.tif looks like a fraction \(maximum 0.63"
    ):
        run_erosion(dem, cfg, tmp_path / "o1")
    assert not (tmp_path / "o1" / "soil_loss.tif").exists()
    dunes = np.full((20, 10), 0.86, dtype="float32")
    pct = _write(tmp_path / "pct.tif", dunes, nodata=-1.0, units="%")
    cfg = make_config({"r": 500.0, "k": 0.03, "fvc": str(pct), "factors": True})
    run_erosion(dem, cfg, tmp_path / "o2")
    c = read_raster(tmp_path / "o2" / "c.tif").array
    np.testing.assert_allclose(c.compressed(), 0.6508 - 0.3436 * math.log10(0.86), rtol=1e-5)
    said = _write(tmp_path / "said.tif", np.full((20, 10), 40.0, "float32"), nodata=-1.0, units="1")
    with pytest.raises(UnitsError, match="declares units '1'"):
        run_erosion(dem, make_config({"r": 500.0, "k": 0.03, "fvc": str(said)}), tmp_path / "o3")
    sand = _write(tmp_path / "sand.tif", np.full((20, 10), 0.3, dtype="float32"), nodata=-1.0)
    ndvi = _write(tmp_path / "n.tif", np.full((20, 10), 0.3, dtype="float32"), nodata=-9.0)
    with pytest.raises(UnitsError, match="bare-sand share sand.tif looks like a fraction"):
        run_desertification(ndvi, tmp_path / "o4", bare_sand=sand, endpoints=(0.05, 0.85))


def test_ls_defaults_are_recorded_and_flagged_unverified(tmp_path):
    """Issue 14, item 6: the slope-length cap (300 m) and the channel threshold (0.9 km²,
    here 9000 cells of 10 m) used by default are in the summary's LS parameters and listed as
    unverified [R]; values given by the user are recorded as given, InVEST's as InVEST's."""
    dem = _plane(tmp_path)
    res = run_erosion(dem, make_config({"r": 500.0, "k": 0.03, "c": 0.2}), tmp_path / "a")
    s = res.summary()
    assert s["ls"]["max_slope_length_m"] == 300.0 and s["ls"]["channel_threshold_cells"] == 9000
    assert {"ls.max_slope_length_m", "ls.channel_threshold_cells"} <= set(
        s["provenance"]["unverified"]
    )
    given = {"r": 500.0, "k": 0.03, "c": 0.2, "max_slope_length": 120.0}
    given["channel_threshold_cells"] = 40
    s = run_erosion(dem, make_config(given), tmp_path / "b").summary()
    params = s["provenance"]["parameters"]
    assert params["ls.max_slope_length_m"] == {"value": 120.0, "tag": "I", "source": "given"}
    assert params["ls.channel_threshold_cells"]["value"] == 40
    assert "ls.max_slope_length_m" not in s["provenance"]["unverified"]


def _files(folder):
    return sorted(p.name for p in folder.iterdir())


@pytest.mark.parametrize("model", ["rusle", "csle"])
def test_only_the_outputs_asked_for_are_written(tmp_path, model):
    """Without ``factors`` a run writes soil loss, grade, LS and the summary, nothing else
    (no scratch left behind), and lists exactly those; with it, the factor rasters too. The
    soil loss, grades and totals are the same either way. R comes from monthly rain (derived:
    r.tif only with factors), P by Wener's formula (the windows read the slope), CSLE reads
    L and S."""
    dem = _plane(tmp_path, rows=30)
    months = np.broadcast_to(np.array(_MONTHS)[:, None, None], (12, 4, 4))
    rain = _write_bands(tmp_path / "rain.tif", months, res=100.0)
    lc = _write(tmp_path / "lc.tif", np.full((30, 12), 11, dtype="uint8"), nodata=0)
    ndvi = _write(tmp_path / "ndvi.tif", np.full((30, 12), 0.5, "float32"))
    settings = {"r_monthly": str(rain), "k": 0.03, "model": model, "landcover": str(lc)}
    if model == "rusle":
        settings |= {"c": 0.2, "p_method": "wener", "cropland_codes": (11,)}
    else:
        settings |= {"ndvi": str(ndvi), "ndvi_endpoints": (0.0, 1.0)}
    cfg = make_config(settings)
    lean = run_erosion(dem, cfg, tmp_path / "lean")
    full = run_erosion(dem, make_config({**settings, "factors": True}), tmp_path / "full")
    written = ["soil_loss.tif", "erosion_grade.tif", "ls.tif"]
    assert _files(tmp_path / "lean") == sorted([*written, "summary.json"])
    assert sorted(lean.outputs) == sorted(written)
    factors = ["k", "c", "p"] if model == "rusle" else ["k", "b", "e", "t", "l", "s"]
    names = ["potential_loss", "soil_conservation", "slope", "r", *factors]
    assert sorted(full.outputs) == sorted([*written, *(f"{n}.tif" for n in names)])
    assert _files(tmp_path / "full") == sorted([*full.outputs, "summary.json"])
    for name in written:
        a = read_raster(tmp_path / "lean" / name).array
        b = read_raster(tmp_path / "full" / name).array
        np.testing.assert_array_equal(a.filled(0), b.filled(0))
        assert np.array_equal(np.ma.getmaskarray(a), np.ma.getmaskarray(b))
    for key in ("total_soil_loss_t_a", "total_soil_conservation_t_a", "area_km2_by_grade"):
        assert lean.summary()[key] == full.summary()[key]


def test_a_factor_on_the_dem_grid_is_read_as_the_warp_would(tmp_path):
    """A factor raster on the DEM's grid is read without a warp (OnGrid): the values and the
    mask (a nodata hole and a NaN) are those of the bilinear warp onto the same grid."""
    from geoeco.core.align import aligned_source
    from geoeco.erosion.window import OnGrid

    k = np.linspace(0.01, 0.05, 30 * 12, dtype="float32").reshape(30, 12)
    k[3:6, 4:7] = -1.0
    k[10, 2] = np.nan
    path = _write(tmp_path / "k.tif", k, nodata=-1.0)
    grid = read_raster(path).grid
    with aligned_source(path, grid, resampling="bilinear") as warped:
        for win in [(0, 0, 30, 12), (2, 3, 9, 5)]:
            a, b = warped.read(win), OnGrid(str(path), "k.tif").read(win)
            assert np.array_equal(np.ma.getmaskarray(a), np.ma.getmaskarray(b))
            np.testing.assert_array_equal(a.filled(0), b.filled(0))
    assert np.ma.getmaskarray(OnGrid(str(path), "k.tif").read((0, 0, 30, 12))).sum() == 10
