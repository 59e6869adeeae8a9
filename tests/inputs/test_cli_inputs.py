"""``geoeco inputs`` and ``geoeco inputs-mirror`` on the command line (loopback fixture): the
folder and its JSON summary, the mirror read back offline, and clear errors (exit 2)."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import pytest
import shapely

from geoeco.cli import main

from .fixture import COUNTY_BOX


@pytest.fixture
def aoi_file(tmp_path: Path) -> Path:
    path = tmp_path / "county.geojson"
    gpd.GeoDataFrame({"name": ["c"]}, geometry=[shapely.box(*COUNTY_BOX)], crs=4490).to_file(path)
    return path


def test_inputs_command_writes_the_folder(
    base: str, aoi_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "county-inputs"
    args = ["inputs", "--aoi", str(aoi_file), "--year", "2021", "--res", "250"]
    code = main([*args, "--catalog", base + "catalog.json", "--out", str(out), "--no-cache"])
    assert code == 0, capsys.readouterr().err
    summary = json.loads(capsys.readouterr().out)
    assert summary["status"] == "approximation" and summary["year"] == 2021
    assert summary["files"]["precip_monthly"] == "precip_monthly.tif"
    assert set(summary["coverage_share"].values()) == {1.0}
    man = json.loads((out / "inputs.json").read_text())
    assert man["kind"] == "geoeco-inputs" and man["aoi"]["label"] == "county.geojson"


def test_mirror_command_then_inputs_from_the_mirror(
    base: str, aoi_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mirror = tmp_path / "mirror"
    common = ["--aoi", str(aoi_file), "--year", "2021", "--res", "250", "--no-cache"]
    code = main(
        ["inputs-mirror", *common, "--catalog", base + "catalog.json", "--out", str(mirror)]
    )
    assert code == 0, capsys.readouterr().err
    report = json.loads(capsys.readouterr().out)
    assert report["items"]["modis-13q1.ndvi"] == 3 and (mirror / "catalog.json").is_file()
    out = tmp_path / "offline"
    assert main(["inputs", *common, "--catalog", str(mirror), "--out", str(out)]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert set(summary["coverage_share"].values()) == {1.0}


def test_a_folder_without_a_catalog_is_refused(
    aoi_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        ["inputs", "--aoi", str(aoi_file), "--catalog", str(tmp_path), "--out", str(tmp_path / "o")]
    )
    assert code == 2
    assert "no catalog.json" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_inputs_refuses_a_year_without_data(aoi_file: Path, tmp_path: Path, capsys) -> None:
    code = main(["inputs", "--aoi", str(aoi_file), "--year", "1990", "--out", str(tmp_path / "o")])
    assert code == 2
    assert "2001-2021" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
