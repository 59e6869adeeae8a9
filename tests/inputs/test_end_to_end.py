"""The whole chain a bureau analyst runs on a real county, here on the loopback fixture:
``geoeco inputs`` (catalog -> raw inputs folder) then ``geoeco zone --inputs-from`` (erosion,
desertification, evaluation, zoning), with no other step.

What a user relies on is checked against the folder itself, not against the code's output: the
zoning covers the area the inputs cover, every zone pixel lies where the inputs have data, the
analyses that ran are named with the statuses the manifest gives, the erosion's R equals the
Fournier formula recomputed by hand from the fetched monthly rainfall, and the summary and map
name the catalog sources and their licences.
"""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import shapely

from geoeco.cli import main

from .fixture import COUNTY_BOX


@pytest.fixture
def aoi_file(tmp_path: Path) -> Path:
    path = tmp_path / "county.geojson"
    gpd.GeoDataFrame({"name": ["c"]}, geometry=[shapely.box(*COUNTY_BOX)], crs=4490).to_file(path)
    return path


def _run(args: list[str], capsys: pytest.CaptureFixture[str]) -> dict:
    code = main(args)
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out)


def test_inputs_then_zone_runs_end_to_end(
    base: str, aoi_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    raw, zones = tmp_path / "county-inputs", tmp_path / "county-zones"
    common = ["--aoi", str(aoi_file)]
    _run(
        ["inputs", *common, "--year", "2021", "--res", "250", "--no-cache"]
        + ["--catalog", base + "catalog.json", "--out", str(raw)],
        capsys,
    )
    _run(["zone", *common, "--inputs-from", str(raw), "--out", str(zones)], capsys)
    summary = json.loads((zones / "summary.json").read_text())
    manifest = json.loads((raw / "inputs.json").read_text())

    # The analyses ran from the folder, and the summary says so with the manifest's statuses.
    ran = summary["inputs_from"]
    analyses = {a["analysis"]: a for a in ran["analyses"]}
    assert set(analyses) == {"erosion", "desertification", "evaluation"}
    # erosion reads DEM, rain, NDVI, land cover and soil (all `real`); the evaluation also reads
    # the texture classes, which SoilGrids cannot give in full (`approximation`).
    assert analyses["erosion"]["status"] == "real"
    assert analyses["evaluation"]["status"] == manifest["files"]["texture_class"]["status"]
    assert manifest["files"]["texture_class"]["status"] == "approximation"
    for a in analyses.values():
        assert (zones / a["folder"]).is_dir(), a

    # The county lies inside the fetched grid: the whole AOI is zoned.
    assert summary["coverage_share"] == pytest.approx(1.0, abs=1e-6)
    with rasterio.open(zones / "zone_class.tif") as ds:
        zc = ds.read(1)
        nodata = ds.nodata
    classes = set(np.unique(zc[zc != nodata]).tolist()) if nodata is not None else set()
    assert classes and classes <= {1, 2, 3, 4}, classes

    # Attribution: every catalog source of the manifest is named in the summary and on the map.
    recipes = {s["recipe"].split(".")[0] for s in manifest["sources"]}
    assert {"cop-dem", "modis-13q1", "terraclimate", "soilgrids"} <= recipes
    text = json.dumps(summary["attribution"], ensure_ascii=False)
    html = next(zones.glob("*.html")).read_text(encoding="utf-8")
    for src in manifest["sources"]:
        assert src["licence"] in text, src
        assert src["attribution"].split(",")[0][:30] in html, src["recipe"]


def test_erosion_r_is_fournier_of_the_fetched_rain(
    base: str, aoi_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    raw, ero = tmp_path / "raw", tmp_path / "ero"
    _run(
        ["inputs", "--aoi", str(aoi_file), "--year", "2021", "--res", "250", "--no-cache"]
        + ["--catalog", base + "catalog.json", "--out", str(raw)],
        capsys,
    )
    _run(["erosion", "--inputs-from", str(raw), "--factors", "--out", str(ero)], capsys)
    with rasterio.open(raw / "precip_monthly.tif") as ds:
        p = ds.read(masked=True).astype("float64")
    with rasterio.open(ero / "r.tif") as ds:
        r = ds.read(1, masked=True).astype("float64")
    # Modified Fournier index F = sum p_i^2 / sum p_i (mm), R = 0.1833 F^1.9957 (Loess Plateau
    # coefficients, methodology §1.1; the erosion settings' default).
    f = (p * p).sum(axis=0) / p.sum(axis=0)
    hand = 0.1833 * f**1.9957
    both = ~(np.ma.getmaskarray(hand) | np.ma.getmaskarray(r))
    assert both.sum() > 100
    np.testing.assert_allclose(r.data[both], hand.data[both], rtol=1e-4)
