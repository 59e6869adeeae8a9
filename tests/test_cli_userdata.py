"""Every CLI file input goes through the data gate: ``--aoi FILE``, ``--dem``, ``--ndvi`` and
``layers validate`` refuse referencing formats and URLs (exit 2, one line naming the file),
and accept the documented formats (a zipped Shapefile, a FlatGeobuf, a FileGDB)."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import geopandas as gpd
import pytest
from shapely.geometry import box

from geoeco.cli import main

GDALG = {
    "type": "gdal_streamed_alg",
    "command_line": "gdal vector pipeline ! read /etc/passwd ! write --of stream streamed_dataset",
}
VRT = (
    '<VRTDataset rasterXSize="4" rasterYSize="4"><VRTRasterBand dataType="Byte" band="1">'
    "<SimpleSource><SourceFilename>/etc/hostname</SourceFilename></SimpleSource>"
    "</VRTRasterBand></VRTDataset>"
)


@pytest.fixture
def hostile(tmp_path: Path) -> dict[str, Path]:
    (tmp_path / "aoi.geojson").write_text(json.dumps(GDALG))
    (tmp_path / "dem.tif").write_text(VRT)
    return {"aoi": tmp_path / "aoi.geojson", "raster": tmp_path / "dem.tif"}


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["zone", "--aoi", "{aoi}", "--out", "{out}"], "aoi.geojson: a GDAL streamed algorithm"),
        (
            ["erosion", "--dem", "{raster}", "--r", "1", "--k", "1", "--c", "1", "--out", "{out}"],
            "dem.tif: a GDAL VRT",
        ),
        (["desertification", "--ndvi", "{raster}", "--out", "{out}"], "dem.tif: a GDAL VRT"),
        (["layers", "validate", "{raster}"], "dem.tif: a GDAL VRT"),
        (["layers", "validate", "/vsicurl/http://127.0.0.1:9/x.tif"], "(/vsi...) are not"),
        (["layers", "validate", "PG:dbname=gis"], "connection strings"),
    ],
)
def test_cli_inputs_refuse_referencing_files(
    hostile: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    words: str,
) -> None:
    argv = [a.format(out=tmp_path / "out", **hostile) for a in args]
    assert main(argv) == 2
    err = " ".join(capsys.readouterr().err.split())  # rich wraps long lines
    assert "UnsafeDataSource" in err and words in err and str(tmp_path) not in err


def test_cli_validates_zipped_shapefile_flatgeobuf_and_filegdb(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    gdf = gpd.GeoDataFrame(
        {"name": ["a", "b", "c"]},
        geometry=[
            box(109, 38, 109.1, 38.1),
            box(109.2, 38, 109.3, 38.1),
            box(109, 38.2, 109.1, 38.3),
        ],
        crs=4490,
    )
    (tmp_path / "shp").mkdir()
    gdf.to_file(tmp_path / "shp" / "parks.shp")
    with zipfile.ZipFile(tmp_path / "parks.zip", "w") as z:
        for f in sorted((tmp_path / "shp").iterdir()):
            z.write(f, f.name)
    gdf.to_file(tmp_path / "parks.fgb", driver="FlatGeobuf")
    gdf.to_file(tmp_path / "parks.gdb", driver="OpenFileGDB")
    for name in ("parks.zip", "parks.fgb", "parks.gdb"):
        assert main(["layers", "validate", str(tmp_path / name)]) == 0, capsys.readouterr().err
        rep = json.loads(capsys.readouterr().out)
        assert rep["valid"] and rep["kind"] == "vector" and rep["feature_count"] == 3
        assert rep["crs"] == "EPSG:4490"
