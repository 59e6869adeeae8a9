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
