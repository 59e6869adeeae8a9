"""The windowed RWEQ run (geoeco.erosion.wind_run) on rasters: the two pixels worked by hand
in tests/test_wind.py, windows, flags, units and the demo."""

from __future__ import annotations

import json

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from geoeco.core.errors import InvalidInput, UnitsError
from geoeco.erosion.wind import RweqParameters
from geoeco.erosion.wind_run import WindInputs, run_wind_erosion
from tests.test_wind import HAND

CRS = "EPSG:4546"  # CGCS2000 / 3-degree GK CM 111E, the demo region's CRS
TRANSFORM = from_origin(380000, 4240000, 30, 30)
NAN = float("nan")

# pixels: A and B of tests/test_wind.py, a water pixel (code 4: not eroded by wind), and A
# with no vegetation (FVC 0: COG = 1, so actual = potential of A and sand fixation 0)
STATIC = {
    "elevation": [1200.0, 500.0, 1200.0, 1200.0],  # m
    "sand": [85.0, 60.0, 85.0, 85.0],
    "silt": [10.0, 25.0, 10.0, 10.0],
    "clay": [5.0, 15.0, 5.0, 5.0],
    "organic_matter": [0.8, 2.0, 0.8, 0.8],
    "calcium_carbonate": [3.0, 8.0, 3.0, 3.0],
    "roughness_kr": [0.05, 0.16, 0.05, 0.05],  # 0.2·ΔH²/L of the hand pixels
    "fvc": [20.0, 35.0, 20.0, 0.0],
}
# January (31 days) as worked by hand; no wind in the other months (WF = 0 there)
JANUARY = {
    "wind": [9.0, 11.0, 9.0, 9.0],
    "temperature": [10.0, -5.0, 10.0, 10.0],
    "rain": [20.0, 5.0, 20.0, 20.0],
    "etp": [120.0, 40.0, 120.0, 120.0],
    "rain_days": [6.0, 2.0, 6.0, 6.0],
    "snow_factor": [1.0, 0.5, 1.0, 1.0],
}


def _write(path, array, nodata=None, dtype="float64"):
    a = np.asarray(array, dtype=dtype)
    a = a.reshape((1, *a.shape)) if a.ndim == 2 else a
    profile = {
        "driver": "GTiff",
        "width": a.shape[2],
        "height": a.shape[1],
        "count": a.shape[0],
        "dtype": dtype,
        "crs": CRS,
        "transform": TRANSFORM,
        "nodata": nodata,
    }
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(a)
    return path


def _hand_inputs(tmp_path, **override):
    files = {}
    for name, row in STATIC.items():
        files[name] = _write(tmp_path / f"{name}.tif", [row])
    for name, row in JANUARY.items():
        bands = np.repeat(np.asarray([[row]], dtype="float64"), 12, axis=0)
        if name == "wind":
            bands[1:] = 0.0
        files[name] = _write(tmp_path / f"{name}.tif", bands)
    files["landcover"] = _write(tmp_path / "lc.tif", [[3, 1, 4, 3]], nodata=0, dtype="uint8")
    files.update(override)
    return WindInputs(**files)


def _read(path):
    with rasterio.open(path) as ds:
        return ds.read(1, masked=True)


def test_two_hand_pixels_through_the_windowed_run(tmp_path):
    out = tmp_path / "out"
    res = run_wind_erosion(_hand_inputs(tmp_path), out)
    actual = _read(out / "wind_erosion_actual.tif")[0]
    potential = _read(out / "wind_erosion_potential.tif")[0]
    fixation = _read(out / "sand_fixation.tif")[0]
    grade = _read(out / "wind_erosion_grade.tif")[0]
    assert actual[:2].tolist() == pytest.approx(HAND["actual"], rel=2e-6)
    assert potential[:2].tolist() == pytest.approx(HAND["potential"], rel=2e-6)
    assert fixation[:2].tolist() == pytest.approx(HAND["fixation"], rel=2e-6)
    # water is nodata in every output; A without vegetation erodes at A's potential
    assert actual.mask[2] and potential.mask[2] and fixation.mask[2] and grade[2] is np.ma.masked
    assert float(actual[3]) == pytest.approx(HAND["potential"][0], rel=2e-6)
    assert float(fixation[3]) == 0.0
    # SL 190-2007 wind modulus: 5683 intense (4), 9072 very intense (5), 59446 severe (6)
    assert grade.filled(0).tolist() == [4, 5, 0, 6]
    s = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert s == json.loads(json.dumps(res.summary(), default=str))
    km2 = 30 * 30 / 1e6
    assert s["area_km2_by_grade"]["4 强烈 intense"] == pytest.approx(km2, rel=1e-3)
    assert s["nodata_pixels"] == 1
    mean = (HAND["actual"][0] + HAND["actual"][1] + HAND["potential"][0]) / 3
    assert s["mean_actual_t_km2_a"] == pytest.approx(mean, rel=1e-6)
    assert s["units"]["erosion"] == "t/(km²·a)"
    assert "threshold_wind_ms" in s["unverified"] and "qmax_coefficient" not in s["unverified"]
    assert s["inputs"]["wind"]["status"] == "given" and "sha256" in s["inputs"]["wind"]
    params = s["provenance"]["parameters"]
    assert params["rweq.input.snow_factor"]["value"] == "given"


def test_constants_and_documented_defaults_are_recorded(tmp_path):
    """Constants give the same result as uniform rasters; missing optional inputs take the
    [R] defaults, which the summary names."""
    lc = _write(tmp_path / "lc.tif", [[3, 3]], nodata=0, dtype="uint8")
    inp = WindInputs(
        landcover=lc,
        wind=9.0,
        temperature=10.0,
        rain=20.0,
        etp=120.0,
        sand=85.0,
        silt=10.0,
        clay=5.0,
        organic_matter=0.8,
        elevation=1200.0,
        fvc=20.0,
    )
    res = run_wind_erosion(inp, tmp_path / "out")
    params = res.provenance["parameters"]
    for name in ("snow_factor", "rain_days", "calcium_carbonate", "roughness_kr"):
        rec = params[f"rweq.input.{name}"]
        assert rec["value"].startswith("default") and rec["tag"] == "R", name
    assert res.inputs["wind"] == {"constant": 9.0, "status": "given"}
    # 12 identical months, rain on every day (R_d/N_d = 1), no CaCO3, K' = 1:
    # by hand for one month of N_d days: WF = 33.099585·N_d·1.079030/9.81·(120−20)/120
    # EF = (29.09+26.35+1.7+5.61−2.072)/100 = 0.60678; SCF = 0.848580; COG = 0.1000585
    wf_day = 33.099585 * 1.079030 / 9.81 * (100.0 / 120.0)
    days = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
    total = 0.0
    for nd in days:
        p = wf_day * nd * 0.60678 * 0.848580 * 0.1000585
        s = 150.71 * p**-0.3711
        total += 100.0 / s**2 * 109.8 * p * np.exp(-((50.0 / s) ** 2)) * 1000.0
    actual = _read(tmp_path / "out" / "wind_erosion_actual.tif")
    assert actual.tolist()[0] == pytest.approx([total, total], rel=2e-6)


def test_windows_give_the_same_rasters_and_sums(tmp_path):
    rng = np.random.default_rng(7)
    shape = (40, 37)
    lc = rng.choice([1, 2, 3, 4, 6, 7], size=shape).astype("uint8")
    sand = rng.uniform(40, 78, shape)
    clay = rng.uniform(2, 20, shape)
    files = {
        "landcover": _write(tmp_path / "lc.tif", lc, nodata=0, dtype="uint8"),
        "sand": _write(tmp_path / "sand.tif", sand),
        "clay": _write(tmp_path / "clay.tif", clay),
        "silt": _write(tmp_path / "silt.tif", 100 - sand - clay),
        "fvc": _write(tmp_path / "fvc.tif", rng.uniform(0, 80, shape)),
        "wind": _write(tmp_path / "wind.tif", rng.uniform(3, 10, (12, *shape))),
    }
    common = {"temperature": 5.0, "rain": 10.0, "etp": 80.0, "organic_matter": 1.0}
    inp = WindInputs(**files, **common, elevation=1000.0)
    one = run_wind_erosion(inp, tmp_path / "one", block_size=4096)
    many = run_wind_erosion(inp, tmp_path / "many", block_size=16)
    assert many.windows == 9 and one.windows == 1
    for name in ("wind_erosion_actual", "sand_fixation", "wind_erosion_grade"):
        a, b = _read(tmp_path / "one" / f"{name}.tif"), _read(tmp_path / "many" / f"{name}.tif")
        np.testing.assert_array_equal(a.filled(0), b.filled(0))
    assert many.area_km2_by_grade == pytest.approx(one.area_km2_by_grade)
    assert many.total_actual_t_a == pytest.approx(one.total_actual_t_a, rel=1e-9)
    n_water = int((lc == 4).sum())
    assert one.nodata_pixels == n_water
    pot = _read(tmp_path / "one" / "wind_erosion_potential.tif")
    act = _read(tmp_path / "one" / "wind_erosion_actual.tif")
    fix = _read(tmp_path / "one" / "sand_fixation.tif")
    # potential < actual only past the SL(z) peak, and every such pixel is flagged and clipped
    below = (pot < act).filled(False)
    assert one.pixels_beyond_peak >= one.pixels_fixation_clipped == int(below.sum()) > 0
    assert bool(np.all(fix[below] == 0))


def test_beyond_the_peak_potential_below_actual_is_flagged_and_fixation_clipped(tmp_path):
    """A gale (14 m/s at 10 m) on sparse grass (FVC 1.5 %): the monthly products (≈ 600 kg/m)
    are far past the SL(z) peak (61.7), where SL falls as the product rises, so the potential
    (COG = 1) is below the actual loss; sand fixation is clipped to 0 and counted."""
    lc = _write(tmp_path / "lc.tif", [[3]], nodata=0, dtype="uint8")
    inp = WindInputs(
        landcover=lc,
        wind=14.0,
        temperature=10.0,
        rain=20.0,
        etp=120.0,
        sand=85.0,
        silt=10.0,
        clay=5.0,
        organic_matter=0.8,
        elevation=1200.0,
        fvc=1.5,
    )
    res = run_wind_erosion(inp, tmp_path / "out")
    act = float(_read(tmp_path / "out" / "wind_erosion_actual.tif")[0, 0])
    pot = float(_read(tmp_path / "out" / "wind_erosion_potential.tif")[0, 0])
    assert pot < act
    assert float(_read(tmp_path / "out" / "sand_fixation.tif")[0, 0]) == 0.0
    assert res.pixels_beyond_peak == 1 and res.pixels_fixation_clipped == 1
    assert res.summary()["potential_below_actual"]["pixels_fixation_clipped"] == 1


def test_fvc_as_fraction_is_refused_before_any_output(tmp_path):
    fvc = _write(tmp_path / "fvc_frac.tif", [[0.2, 0.35, 0.2, 0.0]])
    out = tmp_path / "out"
    with pytest.raises(UnitsError, match="fraction"):
        run_wind_erosion(_hand_inputs(tmp_path, fvc=fvc), out)
    assert not out.exists()


def test_bad_inputs_are_refused(tmp_path):
    base = {
        "landcover": "lc.tif",
        "wind": 5.0,
        "temperature": 1.0,
        "rain": 1.0,
        "etp": 1.0,
        "sand": 80.0,
        "silt": 10.0,
        "clay": 10.0,
        "organic_matter": 1.0,
    }
    with pytest.raises(InvalidInput, match="exactly one of fvc"):
        WindInputs(**base)
    with pytest.raises(InvalidInput, match="wind_height_m"):
        WindInputs(**base, fvc=10.0, wind_height_m=5.0)
    with pytest.raises(InvalidInput, match="give elevation"):
        WindInputs(**base, fvc=10.0)
    standard = RweqParameters(air_density_form="standard")
    with pytest.raises(InvalidInput, match="standard air density needs pressure"):
        run_wind_erosion(
            WindInputs(**base, fvc=10.0, elevation=100.0), tmp_path / "o", params=standard
        )
    assert not (tmp_path / "o").exists()
    wrong_bands = _write(tmp_path / "w3.tif", np.ones((3, 1, 4)))
    with pytest.raises(InvalidInput, match="3 bands"):
        run_wind_erosion(_hand_inputs(tmp_path, wind=wrong_bands), tmp_path / "o")


def test_demo_wind_run_is_labelled_synthetic_and_consistent(demo_small_dir, tmp_path):
    from geoeco.catalog.demo_region import DEMO_VARIABLES
    from geoeco.workflows.wind import demo_wind_inputs

    layers = {v: demo_small_dir / f"{v}.tif" for v in DEMO_VARIABLES}
    inputs = demo_wind_inputs(layers, tmp_path)
    res = run_wind_erosion(inputs, tmp_path / "wind")
    assert {v["status"] for v in res.inputs.values()} == {"synthetic (geoeco demo region)"}
    with rasterio.open(tmp_path / "rweq_wind10_monthly.tif") as ds:
        assert ds.count == 12 and ds.tags()["synthetic"] == "true"
    act = _read(tmp_path / "wind" / "wind_erosion_actual.tif")
    pot = _read(tmp_path / "wind" / "wind_erosion_potential.tif")
    fix = _read(tmp_path / "wind" / "sand_fixation.tif")
    assert res.pixels_beyond_peak == 0 and bool(np.all(pot >= act))
    np.testing.assert_allclose(fix.compressed(), (pot - act).compressed(), rtol=1e-5, atol=1e-2)
    # the demo's sand (code 6) erodes far more than its woodland (code 2)
    with rasterio.open(demo_small_dir / "landcover.tif") as ds:
        lc = ds.read(1)
    assert float(act[lc == 6].mean()) > 10 * float(act[lc == 2].mean())
    assert len([a for a in res.area_km2_by_grade.values() if a > 0]) >= 4


def test_cli_wind_erosion_on_a_tiny_grid(tmp_path, capsys):
    from geoeco.cli import main

    inp = _hand_inputs(tmp_path)
    args = ["wind-erosion", "--out", str(tmp_path / "cli")]
    for name, value in inp.given().items():
        args += [f"--{name.replace('_', '-')}", str(value)]
    assert main(args) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["summary_file"].endswith("summary.json")
    actual = _read(tmp_path / "cli" / "wind_erosion_actual.tif")[0]
    assert actual[:2].tolist() == pytest.approx(HAND["actual"], rel=2e-6)
    grade = _read(tmp_path / "cli" / "wind_erosion_grade.tif")[0]
    assert grade.filled(0).tolist() == [4, 5, 0, 6]
    # a partial set of inputs is refused with a message, exit 2, nothing written
    bad = ["wind-erosion", "--out", str(tmp_path / "bad"), "--wind", "7"]
    assert main(bad) == 2
    assert "missing: landcover" in capsys.readouterr().err
    assert not (tmp_path / "bad").exists()


@pytest.fixture(scope="module")
def demo_wind_dir(demo_run_small, tmp_path_factory):
    """The wind run ``geoeco demo`` adds (run_demo_wind's inputs and run) on the small demo's
    layers, into a folder of its own (the shared demo cache is left as it is)."""
    from geoeco.catalog.demo_region import DEMO_VARIABLES
    from geoeco.workflows.wind import demo_wind_inputs

    out = tmp_path_factory.mktemp("demo_wind")
    layers = {v: demo_run_small / "layers" / f"{v}.tif" for v in DEMO_VARIABLES}
    run_wind_erosion(demo_wind_inputs(layers, out), out / "wind_erosion")
    return out / "wind_erosion"


def test_demo_wind_outputs_are_graded_and_labelled(demo_wind_dir):
    """The demo's wind_erosion/ (geoeco demo writes it; tests/test_cli.py checks the files
    there): four rasters, grades with the SL 190 wind table and colours, synthetic inputs."""
    folder = demo_wind_dir
    for name in (
        "wind_erosion_actual.tif",
        "wind_erosion_potential.tif",
        "sand_fixation.tif",
        "wind_erosion_grade.tif",
    ):
        assert (folder / name).is_file(), name
    s = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    assert s["kind"] == "wind_erosion"
    assert all(v["status"].startswith("synthetic") for v in s["inputs"].values())
    with rasterio.open(folder / "wind_erosion_grade.tif") as ds:
        assert ds.tags()["class_table"].startswith("SL190-2007/wind-modulus")
        assert ds.colormap(1)[4][:3] != ds.colormap(1)[1][:3]


ROLES = {
    "landcover": "land_cover",
    "fvc": "vegetation",
    "elevation": "terrain",
    **dict.fromkeys(("sand", "silt", "clay", "organic_matter", "calcium_carbonate"), "soil"),
    **dict.fromkeys(JANUARY, "climate"),
    "roughness_kr": "terrain",
}


def test_wind_erosion_process_on_user_layers(tmp_path):
    """The process reads registered layers (ids, not paths) and gives the hand values."""
    from geoeco.catalog.store import UserLayerOptions, UserLayerStore
    from geoeco.service.process_inputs import ExecutionContext
    from geoeco.service.processes import execute, prepare

    store = UserLayerStore(tmp_path / "layers", uploads_dir=tmp_path / "uploads")
    ids = {}
    for name, path in _hand_inputs(tmp_path).given().items():
        lid = f"user.w_{name}"
        opts = UserLayerOptions(role=ROLES[name], layer_id=lid, nodata=-9999.0)
        store.add_file(path, opts if name != "landcover" else UserLayerOptions(ROLES[name], lid))
        ids[name] = lid
    ctx = ExecutionContext(registry=store.registry())
    sub = prepare("wind_erosion", ids, context=ctx)
    assert sub.cells == 4 and len(sub.job_id) == 32
    res = execute("wind_erosion", ids, tmp_path / "job", context=ctx)
    assert res.summary["kind"] == "wind_erosion"
    actual = _read(tmp_path / "job" / "wind_erosion_actual.tif")[0]
    assert actual[:2].tolist() == pytest.approx(HAND["actual"], rel=2e-6)


def test_wind_erosion_process_is_checked_at_submission(tmp_path):
    from geoeco.core.errors import InvalidProcessInputs
    from geoeco.service.processes import check_inputs, execute

    with pytest.raises(InvalidProcessInputs) as e:
        check_inputs("wind_erosion", {"wind": 7.0, "landcover": "no.such.layer"})
    fields = {x["field"]: x["message"] for x in e.value.errors}
    assert "unknown layer id" in fields["landcover"]
    assert "missing: temperature, rain, etp, sand, silt, clay" in fields["inputs"]
    with pytest.raises(InvalidProcessInputs, match="wind_height_m"):
        check_inputs("wind_erosion", {"wind_height_m": 3.0, **dict.fromkeys(JANUARY, 1.0)})
    with pytest.raises(InvalidProcessInputs):
        check_inputs("wind_erosion", {"wind": float("inf")})
    out = tmp_path / "never"
    with pytest.raises(InvalidProcessInputs):
        execute("wind_erosion", {"fvc": 10.0}, out)
    assert not out.exists()


def test_wind_erosion_process_runs_the_demo_without_inputs(tmp_path):
    from geoeco.service.processes import execute

    res = execute("wind_erosion", {"demo_size": "small"}, tmp_path / "job")
    for name in ("wind_erosion_actual", "sand_fixation", "wind_erosion_grade"):
        assert (tmp_path / "job" / f"{name}.tif").is_file()
    assert res.summary["kind"] == "wind_erosion"
    assert not [p for p in (tmp_path / "job").iterdir() if p.name.startswith(".geoeco")]


def test_rweq_sand_fixation_as_the_windbreak_importance_input(
    demo_run_small, demo_wind_dir, tmp_path
):
    """Evaluation with sand_fixation_method="rweq" values the windbreak service by the RWEQ
    sand fixation (the demo's wind_erosion/sand_fixation.tif), and says so; NPP stays the
    default."""
    from geoeco.evaluation.config import demo_evaluation_config
    from geoeco.evaluation.run import run_evaluation

    rweq = demo_wind_dir / "sand_fixation.tif"
    cfg = demo_evaluation_config(
        demo_run_small, sand_fixation_method="rweq", rweq_sand_fixation=str(rweq)
    )
    res = run_evaluation(
        tmp_path / "ev", grid_from=demo_run_small / "layers" / "dem.tif", inputs=cfg
    )
    s = res.summary()
    assert s["services"]["sand_fixation_method"] == "rweq"
    assert s["units"]["sand_fixation"].startswith("t/(km²·a)")
    assert "rweq_sand_fixation" in s["inputs"]
    got = _read(tmp_path / "ev" / "service_sand_fixation.tif")
    want = _read(rweq)
    both = ~got.mask & ~want.mask
    assert both.sum() > 0.8 * want.count()
    np.testing.assert_allclose(got[both], want[both], rtol=1e-6)
    default = json.loads((demo_run_small / "evaluation" / "summary.json").read_text("utf-8"))
    assert default["services"]["sand_fixation_method"] == "npp"
    assert "rweq_sand_fixation" not in default["inputs"]
    # without the raster the rweq method is refused, naming the input; the raster without
    # the method too (it would be ignored)
    with pytest.raises(InvalidInput, match="rweq_sand_fixation"):
        demo_evaluation_config(demo_run_small, sand_fixation_method="rweq")
    with pytest.raises(InvalidInput, match="set sand_fixation_method"):
        demo_evaluation_config(demo_run_small, rweq_sand_fixation=str(rweq))


def _daily_inputs(tmp_path, year=2021):
    """The hand month (January) as daily rasters: constant wind, temperature and ET_p per day,
    the month's rain on its first R_d days (6 for A, 2 for B); no wind after January."""
    days = 365
    files = {}
    for name, row in STATIC.items():
        files[name] = _write(tmp_path / f"{name}.tif", [row])
    row = {k: np.asarray(v, dtype="float64") for k, v in JANUARY.items()}
    jan = np.arange(days) < 31
    wind = np.where(jan[:, None], row["wind"][None, :], 0.0)
    temp = np.broadcast_to(row["temperature"], (days, 4))
    etp = np.broadcast_to(row["etp"] / 31.0, (days, 4))
    rain = np.zeros((days, 4))
    for px in range(4):
        n = int(row["rain_days"][px])
        rain[:n, px] = row["rain"][px] / n  # all ≥ 0.1 mm: a rain day each
    for name, a in (("wind", wind), ("temperature", temp), ("rain", rain), ("etp", etp)):
        files[name] = _write(tmp_path / f"d_{name}.tif", np.asarray(a)[:, None, :])
    files["landcover"] = _write(tmp_path / "lc.tif", [[3, 1, 4, 3]], nodata=0, dtype="uint8")
    return WindInputs(**files, year=year)


def test_daily_weather_inputs_give_the_monthly_result(tmp_path):
    """Daily rasters (365 bands) that hold the hand month day by day give pixel A's hand
    values (snow factor 1, the default) and the same rasters as the monthly run without a
    snow layer; a mix of daily and monthly inputs and a monthly rain-day layer are refused."""
    d = tmp_path / "d"
    d.mkdir()
    run_wind_erosion(_daily_inputs(d), tmp_path / "daily")
    actual = _read(tmp_path / "daily" / "wind_erosion_actual.tif")[0]
    assert float(actual[0]) == pytest.approx(HAND["actual"][0], rel=2e-6)
    m = tmp_path / "m"
    m.mkdir()
    monthly = _hand_inputs(m, snow_factor=None)
    run_wind_erosion(monthly, tmp_path / "monthly")
    for name in ("wind_erosion_actual", "wind_erosion_potential", "sand_fixation"):
        a = _read(tmp_path / "daily" / f"{name}.tif")
        b = _read(tmp_path / "monthly" / f"{name}.tif")
        assert (a.mask == b.mask).all()
        np.testing.assert_allclose(a.compressed(), b.compressed(), rtol=1e-9)
    s = json.loads((tmp_path / "daily" / "summary.json").read_text(encoding="utf-8"))
    assert s["provenance"]["parameters"]["weather_inputs"]["value"] == "daily"
    mixed = _daily_inputs(d)
    with pytest.raises(InvalidInput, match="must all have one band per day"):
        run_wind_erosion(
            WindInputs(**{**mixed.given(), "temperature": monthly.temperature}), tmp_path / "x"
        )
    with pytest.raises(InvalidInput, match="rain_days is for monthly inputs"):
        run_wind_erosion(
            WindInputs(**{**mixed.given(), "rain_days": monthly.rain_days}), tmp_path / "y"
        )
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()
