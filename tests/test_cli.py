"""The command line: JSON on stdout only, clear errors with exit status 2."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
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


def test_demo_small_runs_and_lists_outputs(tmp_path, capsys):
    code, out, _ = _run(capsys, "demo", "--out", str(tmp_path / "d"), "--size", "small")
    assert code == 0
    res = json.loads(out)
    assert res["status"] == "synthetic"
    for f in res["erosion"]["files"] + res["desertification"]["files"]:
        assert (tmp_path / "d" / f).exists(), f
    assert (tmp_path / "d" / "layers" / "dem.tif").exists()
    grades = res["erosion"]["area_km2_by_grade"]
    assert abs(sum(grades.values()) - 99.77) < 0.1  # 333 x 333 px of 30 m, GK area factor


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
