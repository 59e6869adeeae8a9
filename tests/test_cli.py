"""The command line: JSON on stdout only, clear errors with exit status 2."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin
from shapely.geometry import box

from geoeco.cli import main


def _run(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_layers_list_json_shows_every_builtin_layer_with_status(capsys):
    code, out, _ = _run(capsys, "layers", "list", "--json")
    assert code == 0
    rows = json.loads(out)  # stdout is pure JSON
    by_id = {r["id"]: r for r in rows}
    assert by_id["admin.county"]["status"] == "real"
    assert by_id["programme.three_north"]["status"] == "approximation"
    assert by_id["protected.national_parks"]["status"] == "approximation"
    assert by_id["demo.dem"]["status"] == "synthetic"
    assert all({"id", "kind", "status", "title_zh", "title_en", "role"} <= set(r) for r in rows)


def test_show_validate_add_and_list_user_layer(tmp_path, capsys):
    f = tmp_path / "reserve.gpkg"
    gpd.GeoDataFrame({"name": ["a"]}, geometry=[box(109, 38, 109.5, 38.5)], crs=4490).to_file(f)
    code, out, _ = _run(capsys, "layers", "validate", str(f))
    assert code == 0 and json.loads(out)["feature_count"] == 1
    d = tmp_path / "user-layers"
    code, out, err = _run(
        capsys, "layers", "add", str(f), "--role", "protected", "--layers", str(d)
    )
    assert code == 0 and json.loads(out)["id"] == "user.reserve" and "registered" in err
    code, out, _ = _run(capsys, "layers", "list", "--json", "--layers", str(d))
    assert "user.reserve" in {r["id"] for r in json.loads(out)}
    code, out, _ = _run(capsys, "layers", "show", "user.reserve", "--layers", str(d))
    shown = json.loads(out)
    assert shown["role"] == "protected" and shown["source"]["path"] == "reserve.gpkg"
    # adding the same id again is refused with a message, not a traceback
    code, out, err = _run(
        capsys, "layers", "add", str(f), "--role", "protected", "--layers", str(d)
    )
    assert code == 2 and "already" in err and out == ""


def test_errors_exit_2_with_a_message_and_no_path(tmp_path, capsys):
    p = tmp_path / "nodata.tif"
    with rasterio.open(
        p,
        "w",
        driver="GTiff",
        width=2,
        height=2,
        count=1,
        dtype="uint8",
        crs="EPSG:4546",
        transform=from_origin(400000, 4250000, 30, 30),
    ) as dst:
        dst.write(np.ones((1, 2, 2), dtype="uint8"))
    code, out, err = _run(capsys, "layers", "validate", str(p))
    assert code == 2 and out == "" and "nodata.tif" in err and str(tmp_path) not in err
    code, _, err = _run(capsys, "layers", "show", "no.such.layer")
    assert code == 2 and "unknown layer" in err


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    """`geoeco demo --size small` once for this module (every analysis, ~15 s)."""
    out = tmp_path_factory.mktemp("cli") / "d"
    assert main(["demo", "--out", str(out), "--size", "small"]) == 0
    return out


@pytest.fixture(scope="module")
def demo_run_full(tmp_path_factory):
    """`geoeco demo` at its default (full) size once: the README's main job. Its key control
    units hold the restoration candidates; the small demo's 10 km square is all priority
    protection once slivers are merged into the units around them."""
    out = tmp_path_factory.mktemp("cli-full") / "d"
    assert main(["demo", "--out", str(out)]) == 0
    return out


def test_demo_small_runs_and_lists_outputs(demo_run, capsys):
    res = json.loads((demo_run / "zones" / "summary.json").read_text(encoding="utf-8"))
    assert res["kind"] == "zoning" and res["synthetic_layers"]
    for f in res["outputs"]:
        assert (demo_run / "zones" / f).exists(), f
    for sub in (
        "layers/dem.tif",
        "erosion/soil_loss.tif",
        "erosion/erosion_grade.tif",
        "desertification/desertification_degree.tif",
        "evaluation/importance_max.tif",
        "wind_erosion/wind_erosion_actual.tif",
        "wind_erosion/wind_erosion_potential.tif",
        "wind_erosion/sand_fixation.tif",
        "wind_erosion/wind_erosion_grade.tif",
        "zones/zones.gpkg",
    ):
        assert (demo_run / sub).exists(), sub
    ero = json.loads((demo_run / "erosion" / "summary.json").read_text(encoding="utf-8"))
    # 333 x 333 px of 30 m = 99.80 km² planar; GK scale at ~1.3° from CM 111E shrinks it ~3e-4
    assert abs(sum(ero["area_km2_by_grade"].values()) - 99.77) < 0.1


def test_query_and_screen_commands(demo_run, tmp_path, capsys):
    """A point at the centre of the small demo lies in a unit of 榆阳区 (610802); a 1 km box
    around it screened for industry gets a verdict and an HTML report."""
    import geopandas as gpd

    units = gpd.read_file(demo_run / "zones" / "zones.gpkg", layer="units")
    pt = units.geometry.iloc[0].representative_point()
    code, out, _ = _run(
        capsys, "query", str(pt.x), str(pt.y), "--crs", "cgcs2000", "--run", str(demo_run)
    )
    assert code == 0
    res = json.loads(out)
    assert res["unit"]["code"] == units["code"].iloc[0]
    assert {a["field"] for a in res["unit"]["access"]} == {
        "KJBJYS",
        "PWWPFGK",
        "HJFXFK",
        "ZYKFXLYQ",
    }
    wkt = box(pt.x - 0.005, pt.y - 0.005, pt.x + 0.005, pt.y + 0.005).wkt
    report = tmp_path / "site.html"
    code, out, _ = _run(
        capsys,
        "screen",
        "--wkt",
        wkt,
        "--crs",
        "cgcs2000",
        "--buffer",
        "500",
        "--project-type",
        "industry",
        "--run",
        str(demo_run),
        "--report",
        str(report),
    )
    assert code == 0
    res = json.loads(out)
    assert res["verdicts"] and res["verdicts"][0]["verdict"] in (
        "forbidden",
        "restricted",
        "conditional",
        "allowed",
    )
    assert "<svg" in report.read_text(encoding="utf-8")
    code, _, err = _run(capsys, "query", "2.35", "48.85", "--run", str(tmp_path / "none"))
    assert code == 2 and "geoeco demo" in err


def test_erosion_command_with_numbers_and_rasters(tmp_path, capsys):
    dem = tmp_path / "dem.tif"
    z = np.repeat(((30 - np.arange(30)) * 1.0 + 1000)[:, None], 10, axis=1).astype("float32")
    with rasterio.open(
        dem,
        "w",
        driver="GTiff",
        width=10,
        height=30,
        count=1,
        dtype="float32",
        crs="EPSG:4546",
        transform=from_origin(400000, 4250000, 10, 10),
    ) as dst:
        dst.write(z, 1)
    code, out, _ = _run(
        capsys,
        "erosion",
        "--dem",
        str(dem),
        "--r",
        "500",
        "--k",
        "0.03",
        "--c",
        "0.2",
        "--out",
        str(tmp_path / "e"),
    )
    assert code == 0
    s = json.loads(out)
    assert (
        s["units"]["soil_loss"] == "t/(km²·a)" and (tmp_path / "e" / "erosion_grade.tif").exists()
    )
    code, _, err = _run(
        capsys, "erosion", "--dem", str(dem), "--r", "500", "--out", str(tmp_path / "e2")
    )
    assert code == 2 and "exactly one of k" in err


def test_usage_errors_exit_2_with_usage_text(capsys):
    """Bad options and arguments are usage errors (exit 2), not internal errors."""
    for args in (["query", "abc", "1"], ["erosion", "--bogus"], ["zone"], ["nosuchcmd"]):
        code, out, err = _run(capsys, *args)
        assert code == 2 and out == "" and "internal error" not in err, args
        assert "Usage" in err or "Error" in err


def test_config_files_that_cannot_be_read_never_show_the_path(tmp_path):
    """Loaders of user TOML name the file only (its folder stays private)."""
    from geoeco.catalog.classes import load_tables
    from geoeco.core.errors import ManifestError
    from geoeco.query.compliance import load_compliance
    from geoeco.restoration.config import load_restoration_config
    from geoeco.zoning.access import load_access_lists

    missing = tmp_path / "secret" / "missing.toml"
    for loader in (load_access_lists, load_tables, load_restoration_config, load_compliance):
        with pytest.raises(ManifestError) as exc:
            loader(missing)
        assert "missing.toml" in str(exc.value) and str(tmp_path) not in str(exc.value)


# -- screen --geometry on bad files (issue 12: these exited 1 "internal error") --------------
@pytest.mark.parametrize(
    ("content", "words"),
    [
        (
            '{"type": "Polygonn", "coordinates": [[[110, 38], [111, 38], [111, 39], [110, 38]]]}',
            "unknown GeoJSON type 'Polygonn'",
        ),
        ('{"type": "Point", "coordinates": [[110, 38]]}', "must be a position [x, y]"),
        (
            '{"type": "Feature", "properties": {"a": ' + "[" * 5000 + "]" * 5000 + "}}",
            "nested more than 64 levels deep",
        ),
        (
            '{"type": "Point", "coordinates": ' + "[" * 300 + "110, 38" + "]" * 300 + "}",
            "nested more than 64 levels deep",
        ),
        ("[1, 2]", "expected a GeoJSON object, found list"),
        ('{"type": "FeatureCollection", "features": 5}', "'features' must be an array"),
        ('{"type": "Point", "coordinates": [NaN, 38]}', "nan is not a JSON number"),
        ('{"type": "Point", "coordinates": [110, 38]', "not valid JSON"),
    ],
    ids=["type", "point-shape", "deep-5000", "deep-300", "list", "features", "nan", "truncated"],
)
def test_screen_geometry_file_errors_exit_2_naming_the_file(
    demo_run, tmp_path, capsys, content: str, words: str
):
    site = tmp_path / "site.geojson"
    site.write_text(content, encoding="utf-8")
    code, out, err = _run(capsys, "screen", "--geometry", str(site), "--run", str(demo_run))
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err  # one line, however long (no wrapping, no traceback)
    assert lines[0].startswith("error: ") and "internal error" not in err
    assert "site.geojson: " in lines[0] and words in lines[0]
    assert str(tmp_path) not in err


def test_screen_geometry_file_not_utf8(tmp_path, capsys):
    site = tmp_path / "site.json"
    site.write_bytes(b"\xff\xfe{}")
    code, out, err = _run(capsys, "screen", "--geometry", str(site), "--run", str(tmp_path))
    assert code == 2 and out == "" and "site.json: the file is not UTF-8 text" in err


def test_erosion_help_names_the_library_definitions(capsys, tmp_path):
    """The CLI passes --model, --routing and --ls-method on unchecked (the erosion config
    checks them); its help names them without importing the science (fast start), so this
    keeps the help equal to the one definition of each."""
    from geoeco import cli
    from geoeco.erosion.config import DEFAULT_MODEL, EROSION_MODELS
    from geoeco.terrain.ls import DEFAULT_LS_METHOD, LS_METHODS
    from geoeco.terrain.routing import ROUTING_METHODS

    def names(values):
        return ", ".join(values[:-1]) + " or " + values[-1]

    assert cli.MODEL_HELP.startswith(f"{names(EROSION_MODELS)} (")
    assert cli.MODEL_HELP.endswith(f"else {DEFAULT_MODEL}).")
    assert cli.ROUTING_HELP.startswith(f"{names(ROUTING_METHODS)} (")
    assert cli.LS_METHOD_HELP.startswith(f"{names(LS_METHODS)} (")
    assert cli.LS_METHOD_HELP.endswith(f"else {DEFAULT_LS_METHOD}).")
    code, _, _ = _run(capsys, "erosion", "--help")
    assert code == 0
    # and a bad name is refused by the erosion config, naming the field (exit 2, no output)
    out_dir = tmp_path / "x"
    code, out, err = _run(
        capsys, "erosion", "--out", str(out_dir), "--ls-method", "usle", "--r", "1"
    )
    assert code == 2 and out == "" and "ls_method" in err and not out_dir.exists()


def test_geoeco_starts_without_the_science():
    """`geoeco --help` imports neither numba nor the analyses (the CLI imports them per
    command)."""
    import subprocess
    import sys

    code = (
        "import sys, geoeco.cli\n"
        "heavy = ('numba', 'geoeco.terrain', 'geoeco.erosion')\n"
        "print(sorted(m for m in sys.modules if m.startswith(heavy)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# -- issue 14: erosion --config paths -----------------------------------------------------------
def _slope_dem(path, value=None):
    """A 30 x 10 DEM falling 1 m per 10 m pixel (EPSG:4546); with ``value``, a constant raster
    on the same grid instead (a C factor)."""
    z = np.repeat(((30 - np.arange(30)) * 1.0 + 1000)[:, None], 10, axis=1)
    if value is not None:
        z = np.full((30, 10), value)
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=10,
        height=30,
        count=1,
        dtype="float32",
        crs="EPSG:4546",
        transform=from_origin(400000, 4250000, 10, 10),
    ) as dst:
        dst.write(z.astype("float32"), 1)
    return path


def test_erosion_config_paths_resolve_against_its_folder_and_flags_against_the_working_folder(
    tmp_path, capsys, monkeypatch
):
    """A config in settings/ names c.tif (C = 0.5 beside it); a C given by flag is read from
    the working folder (C = 0.2 there), not from the config's folder."""
    settings = tmp_path / "settings"
    settings.mkdir()
    _slope_dem(settings / "dem.tif")
    _slope_dem(settings / "c.tif", 0.5)
    _slope_dem(tmp_path / "c.tif", 0.2)
    (settings / "ero.toml").write_text('r = 500.0\nk = 0.03\nc = "c.tif"\n', encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    args = ["erosion", "--dem", "settings/dem.tif", "--config", "settings/ero.toml", "--factors"]
    code, _, err = _run(capsys, *args, "--out", "e1")
    assert code == 0, err
    with rasterio.open(tmp_path / "e1" / "c.tif") as ds:
        assert np.allclose(ds.read(1), 0.5)
    code, _, err = _run(capsys, *args, "--c", "c.tif", "--out", "e2")
    assert code == 0, err
    with rasterio.open(tmp_path / "e2" / "c.tif") as ds:
        assert np.allclose(ds.read(1), 0.2)


def test_erosion_config_missing_file_fails_at_once_saying_where_it_looked(
    tmp_path, capsys, monkeypatch
):
    settings = tmp_path / "settings"
    settings.mkdir()
    _slope_dem(settings / "dem.tif")
    (settings / "ero.toml").write_text(
        'r = 500.0\nk = 0.03\nc = "factors/c_factor.tif"\n[landcover_table]\npath = "lc.csv"\n',
        encoding="utf-8",
    )
    monkeypatch.chdir(tmp_path)
    code, out, err = _run(
        capsys,
        "erosion",
        "--dem",
        "settings/dem.tif",
        "--config",
        "settings/ero.toml",
        "--out",
        "e",
    )
    assert code == 2 and out == ""
    line = err.strip()
    assert len(line.splitlines()) == 1, err
    assert "c = 'factors/c_factor.tif'" in line and "landcover_table.path = 'lc.csv'" in line
    assert "looked in 'settings'" in line and str(tmp_path) not in line
    assert "%" not in err  # failed before the run started (no progress bar)
    assert not (tmp_path / "e").exists()


def test_zone_inputs_from_a_demo_folder_reproduces_the_demo_zoning(demo_run, tmp_path, capsys):
    """`zone --inputs-from DEMO` binds the demo's analyses by name (no --input pairs): the
    class areas equal the demo's own zoning's, and the inputs keep their synthetic status."""
    out = tmp_path / "z"
    code, stdout, err = _run(
        capsys, "zone", "--inputs-from", str(demo_run), "--out", str(out), "--compare", "focused"
    )
    assert code == 0, err
    mine = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    demo = json.loads((demo_run / "zones" / "summary.json").read_text(encoding="utf-8"))
    assert mine["class_totals_km2"] == demo["class_totals_km2"]
    assert mine["synthetic_layers"] == demo["synthetic_layers"]
    assert "importance_windbreak" in mine["synthetic_layers"]


def test_inputs_from_an_evaluation_folder_and_old_names(demo_run, tmp_path):
    """An evaluation folder gives the six class inputs and importance_max; a folder written
    before the names changed (sanding_sensitivity.tif ...) is still read; a folder with none
    of the inputs fails naming what it looked for."""
    import shutil

    from geoeco.core.errors import InvalidInput
    from geoeco.workflows.input_folders import inputs_from_folder, zoning_input_names

    names = zoning_input_names(None)
    found = inputs_from_folder(demo_run / "evaluation", names)
    assert set(found.files) == {
        "importance_water_conservation",
        "importance_biodiversity",
        "importance_soil_conservation",
        "importance_windbreak",
        "sensitivity_soil_erosion",
        "sensitivity_sanding",
        "importance_max",
    }
    assert {"erosion_grade", "desertification_degree", "soil_loss", "fvc"} <= set(found.missing)
    assert found.statuses == {} and found.demo is None
    old = tmp_path / "old"
    old.mkdir()
    for new, legacy in (
        ("sensitivity_sanding", "sanding_sensitivity"),
        ("sensitivity_soil_erosion", "water_erosion_sensitivity"),
        ("importance_windbreak", "importance_sand_fixation"),
    ):
        shutil.copy(demo_run / "evaluation" / f"{new}.tif", old / f"{legacy}.tif")
    got = inputs_from_folder(old, names).files
    assert got["sensitivity_sanding"] == old / "sanding_sensitivity.tif"
    assert got["importance_windbreak"] == old / "importance_sand_fixation.tif"
    assert len(got) == 3
    with pytest.raises(InvalidInput, match=r"'empty' holds none.*sensitivity_sanding\.tif"):
        (tmp_path / "empty").mkdir()
        inputs_from_folder(tmp_path / "empty", names)


def _unit_points(demo_run, n):
    units = gpd.read_file(demo_run / "zones" / "zones.gpkg", layer="units").to_crs(4490)
    return [units.geometry.iloc[i].representative_point() for i in range(n)]


def test_screen_keeps_every_project_type(demo_run, capsys):
    """`--project-type A --project-type B` judges both (it kept only the last)."""
    (pt,) = _unit_points(demo_run, 1)
    wkt = box(pt.x - 0.002, pt.y - 0.002, pt.x + 0.002, pt.y + 0.002).wkt
    args = ["screen", "--wkt", wkt, "--crs", "cgcs2000", "--run", str(demo_run)]
    code, out, err = _run(capsys, *args, "--project-type", "mining", "--project-type", "industry")
    assert code == 0, err
    assert [v["project_type"] for v in json.loads(out)["verdicts"]] == ["mining", "industry"]
    code, _, err = _run(capsys, *args, "--project-type", "mining", "--project-type", "nuclear")
    assert code == 2 and "unknown project type 'nuclear'" in err


def test_screen_batch_writes_one_report_of_every_site(demo_run, tmp_path, capsys):
    """A GeoJSON of three features with --report writes one HTML file: a table of the three
    sites (the one without a geometry listed with its error), then a page per screened site
    with its map; the batch rows on stdout keep both project types."""
    a, b = _unit_points(demo_run, 2)
    feats = [
        {"type": "Feature", "properties": {"id": sid}, "geometry": box(*p.buffer(0.002).bounds)}
        for sid, p in (("site-A", a), ("site-B", b))
    ]
    fc = {
        "type": "FeatureCollection",
        "features": [{**f, "geometry": f["geometry"].__geo_interface__} for f in feats]
        + [{"type": "Feature", "properties": {"id": "site-C"}, "geometry": None}],
    }
    src = tmp_path / "sites.geojson"
    src.write_text(json.dumps(fc), encoding="utf-8")
    report = tmp_path / "sites.html"
    code, out, err = _run(
        capsys,
        "screen",
        "--geometry",
        str(src),
        "--crs",
        "cgcs2000",
        "--run",
        str(demo_run),
        "--project-type",
        "mining",
        "--project-type",
        "industry",
        "--report",
        str(report),
    )
    assert code == 0, err
    rows = json.loads(out)
    assert [r["site_id"] for r in rows] == ["site-A", "site-B", "site-C"]
    assert [r["ok"] for r in rows] == [True, True, False]
    assert {"verdict_mining", "verdict_industry"} <= set(rows[0])
    assert rows[0]["verdict_mining"] in ("forbidden", "restricted", "conditional", "allowed")
    text = report.read_text(encoding="utf-8")
    assert text.count("<section class='site'") == 2
    assert text.count("<svg") == 2
    for sid in ("site-A", "site-B", "site-C"):
        assert sid in text
    assert "not screened: EmptyArea" in text
    assert "report written to" in err


def test_layers_list_never_cuts_an_id(capsys):
    """Piped, `layers list` prints whole tab-separated lines; on an 80-column terminal the
    table keeps every id whole on one line (it cut them to 'admin.coun…')."""
    import io

    from rich.console import Console

    from geoeco.cli import print_rows

    code, out, _ = _run(capsys, "layers", "list", "--json")
    ids = [r["id"] for r in json.loads(out)]
    assert max(map(len, ids)) > 20
    code, out, _ = _run(capsys, "layers", "list")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split("\t")[:3] == ["id", "kind", "status"]
    assert [ln.split("\t")[0] for ln in lines[1:]] == ids
    rows = [
        [i, "raster", "approximation", "protected", "一个很长的中文标题" * 3, "A title " * 6]
        for i in ids
    ]
    for width in (80, 100):
        buf = io.StringIO()
        print_rows(
            ["id", "kind", "status", "role", "title_zh", "title_en"],
            rows,
            console=Console(file=buf, width=width, force_terminal=True, color_system=None),
        )
        text = buf.getvalue()
        assert max(len(ln) for ln in text.splitlines()) <= width
        for i in ids:
            assert f"│ {i} " in text, (width, i)


def test_warnings_print_as_one_line_without_source_paths(demo_run_full, tmp_path):
    """A run that warns (a restoration budget larger than the candidate area) prints
    `warning: TEXT` on one line of stderr: no `file.py:NNN: GeoecoWarning:` and no source
    line (they leaked before); an error stays on one line in a 30-column terminal."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "COLUMNS": "30"}
    cmd = [sys.executable, "-c", "from geoeco.cli import run; run()"]
    args = ["zone", "--inputs-from", str(demo_run_full), "--budget", "100000"]
    res = subprocess.run(
        [*cmd, *args, "--out", str(tmp_path / "z")], capture_output=True, text=True, env=env
    )
    assert res.returncode == 0, res.stderr
    lines = [ln for ln in res.stderr.splitlines() if "warning" in ln.lower()]
    assert any(
        ln.startswith("warning: the budget (100000 km²) is larger than the candidate area")
        and ln.endswith("every candidate cell is selected")
        for ln in lines
    ), res.stderr
    assert ".py:" not in res.stderr and "warnings.warn" not in res.stderr
    assert "GeoecoWarning" not in res.stderr
    bad = subprocess.run(
        [*cmd, "zone", "--aoi", "999999", "--out", str(tmp_path / "e")],
        capture_output=True,
        text=True,
        env=env,
    )
    assert bad.returncode == 2
    assert "error: InvalidInput: no province, city or county has the code 999999" in (
        bad.stderr.splitlines()
    )


def test_rules_show_prints_what_a_rule_set_contains(capsys, tmp_path):
    """`rules show NAME` (text and --json) gives the inputs, classes, thresholds, red-line,
    priority and key rules; the JSON's thresholds equal the TOML files' own (read here with
    tomllib), and a TOML file of one's own shows too."""
    import tomllib
    from importlib.resources import files

    code, out, _ = _run(capsys, "rules", "show", "default")
    assert code == 0
    assert (
        "  14 防风固沙 windbreak and sand fixation: importance_windbreak in class 3 "
        "(极重要 extremely important)" in out.splitlines()
    )
    assert (
        "  erosion_grade in classes 3..6 (中度 moderate, 强烈 intense, 极强烈 very intense, " in out
    )
    assert "patches under 1 km² dropped, holes up to 1 km² filled" in out
    assert "  sensitivity_sanding (class, required, EcoZoning-interim/sanding): 1 不敏感" in out
    for name in ("default", "focused", "strict"):
        raw = tomllib.loads(
            (files("geoeco") / "data" / "rules" / f"{name}.toml").read_text("utf-8")
        )
        code, out, _ = _run(capsys, "rules", "show", name, "--json")
        o = json.loads(out)
        got = [(r["input"], r["min_class"], r["code"]) for r in o["redline"]["reasons"]]
        assert got == [(r["input"], r["min_class"], r["code"]) for r in raw["redline"]["reasons"]]
        for stage in ("priority", "key"):
            want = [(c["input"], c["min_class"]) for c in raw.get(stage, {}).get("criteria", [])]
            assert [(c["input"], c["min_class"]) for c in o[stage]["criteria"]] == want
        assert set(o["inputs"]) == set(raw["inputs"])
    mine = tmp_path / "mine.toml"
    text = (files("geoeco") / "data" / "rules" / "default.toml").read_text("utf-8")
    mine.write_text(
        text.replace('name = "default"', 'name = "mine"').replace(
            "min_patch_km2 = 1.0", "min_patch_km2 = 2.5"
        ),
        encoding="utf-8",
    )
    code, out, _ = _run(capsys, "rules", "show", str(mine))
    assert code == 0 and out.startswith("mine ") and "patches under 2.5 km² dropped" in out
    code, _, err = _run(capsys, "rules", "show", "nosuch")
    assert code == 2 and "unknown rule set 'nosuch'" in err


def test_demo_restoration_is_not_empty(demo_run_full):
    """The demo selects restoration cells by its default targets (30 % of the candidate area
    of moderate-or-worse erosion and desertification): the selection raster has selected
    cells, the gpkg layer's polygons hold the same area, and each target is met."""
    import pandas as pd

    z = demo_run_full / "zones"
    with rasterio.open(z / "restoration_selection.tif") as ds:
        a, tr, crs = ds.read(1), ds.transform, ds.crs
    n_sel, n_cand = int((a == 2).sum()), int((a >= 1).sum())
    assert 0 < n_sel < n_cand
    poly = gpd.read_file(z / "zones.gpkg", layer="restoration")
    assert len(poly) > 0
    cell_km2 = abs(tr.a * tr.e) / 1e6  # an equal-area grid
    assert poly.to_crs(crs).area.sum() / 1e6 == pytest.approx(n_sel * cell_km2, rel=1e-6)
    cov = pd.read_csv(z / "restoration_coverage.csv").set_index("need")
    for need in ("erosion_moderate_plus", "desertification_moderate_plus"):
        row = cov.loc[need]
        if row["total_km2"] > 0:
            assert row["selected_km2"] >= 0.3 * row["total_km2"] - cell_km2 / 2
            assert row["target_share"] == 0.3
    summary = json.loads((z / "summary.json").read_text(encoding="utf-8"))
    assert summary["restoration"]["targets"] == {
        "erosion_moderate_plus": 0.3,
        "desertification_moderate_plus": 0.3,
    }
