"""The one gate for data files (:mod:`geoeco.core.userdata`): each documented format opens, each
hostile variant is refused, and header limits stop decompression bombs before any pixel.

Every file is made here: vectors written by geopandas/pyogrio (two polygons with attribute
``name`` = ``a``, ``b``, so the expected count and values are known by construction), rasters
by rasterio, hostile files as literal text. The 200,000 × 200,000 bomb is a sparse tiled
GeoTIFF of 1.8 MB (one written block) whose header declares 40 Gpx.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import rasterio.shutil
from rasterio.transform import from_origin
from shapely.geometry import box

from geoeco.core.errors import DataSourceError, InvalidInput, OversizeRequest, UnsafeDataSource
from geoeco.core.userdata import (
    UserDataLimits,
    open_user_raster,
    read_user_vector,
    sniff_format,
    user_raster_info,
    user_vector_info,
)

TWO = gpd.GeoDataFrame(
    {"name": ["a", "b"]},
    geometry=[box(109.0, 38.0, 109.5, 38.5), box(110.0, 38.0, 110.25, 38.25)],
    crs="EPSG:4490",
)
GDALG = {
    "type": "gdal_streamed_alg",
    "command_line": "gdal vector pipeline ! read {src} ! write --of stream streamed_dataset",
}
VRT = (
    '<VRTDataset rasterXSize="4" rasterYSize="4"><VRTRasterBand dataType="Byte" band="1">'
    "<SimpleSource><SourceFilename>{src}</SourceFilename><SourceBand>1</SourceBand>"
    "</SimpleSource></VRTRasterBand></VRTDataset>"
)
OGR_VRT = (
    '<OGRVRTDataSource><OGRVRTLayer name="x"><SrcDataSource>{src}</SrcDataSource>'
    "</OGRVRTLayer></OGRVRTDataSource>"
)


def write_tif(path: Path, **kw) -> Path:  # type: ignore[no-untyped-def]
    """A 4 × 4 uint8 GeoTIFF in EPSG:4490 at 109–109.4° E, 38–38.4° N, values 0..15."""
    profile = {
        "driver": "GTiff",
        "width": 4,
        "height": 4,
        "count": 1,
        "dtype": "uint8",
        "crs": "EPSG:4490",
        "transform": from_origin(109.0, 38.4, 0.1, 0.1),
        "nodata": 255,
    } | kw
    with rasterio.open(path, "w", **profile) as ds:
        ds.write(np.arange(16, dtype="uint8").reshape(1, 4, 4).repeat(profile["count"], 0))
    return path


def write_bomb(path: Path, n: int = 200_000) -> Path:
    """A sparse n × n tiled GeoTIFF: only its first 512 × 512 block is written."""
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=n,
        height=n,
        count=1,
        dtype="uint8",
        crs="EPSG:4490",
        transform=from_origin(100.0, 40.0, 10.0 / n, 10.0 / n),
        nodata=0,
        tiled=True,
        blockxsize=512,
        blockysize=512,
        sparse_ok=True,
        compress="deflate",
        BIGTIFF="YES",
    ) as ds:
        ds.write(np.full((1, 512, 512), 7, np.uint8), window=((0, 512), (0, 512)))
    return path


# --------------------------------------------------------------------------- good files


@pytest.mark.parametrize(
    ("fname", "fmt", "write"),
    [
        ("v.gpkg", "gpkg", lambda p: TWO.to_file(p)),
        ("v.shp", "shp", lambda p: TWO.to_file(p)),
        ("v.geojson", "geojson", lambda p: TWO.to_file(p, driver="GeoJSON")),
        ("v.json", "geojson", lambda p: TWO.to_file(p, driver="GeoJSON")),
        ("v.fgb", "fgb", lambda p: TWO.to_file(p, driver="FlatGeobuf")),
        ("v.parquet", "parquet", lambda p: TWO.to_parquet(p)),
        ("v.gdb", "filegdb", lambda p: TWO.to_file(p, driver="OpenFileGDB")),
    ],
)
def test_each_vector_format_opens(tmp_path: Path, fname: str, fmt: str, write) -> None:  # type: ignore[no-untyped-def]
    p = tmp_path / fname
    write(p)
    info = user_vector_info(p)
    assert (info.format, info.features) == (fmt, 2)
    assert info.bounds == pytest.approx((109.0, 38.0, 110.25, 38.5))
    gdf = read_user_vector(p)
    assert sorted(gdf["name"]) == ["a", "b"] and gdf.crs.to_epsg() == 4490


def test_zipped_shapefile_opens_from_the_archive(tmp_path: Path) -> None:
    d = tmp_path / "shp"
    d.mkdir()
    TWO.to_file(d / "parks.shp")
    z = tmp_path / "parks.zip"
    with zipfile.ZipFile(z, "w", zipfile.ZIP_DEFLATED) as zf:
        for f in sorted(d.iterdir()):
            zf.write(f, "inner/" + f.name)
    info = user_vector_info(z)
    assert (info.format, info.driver, info.features) == ("shp_zip", "ESRI Shapefile", 2)
    assert sorted(read_user_vector(z)["name"]) == ["a", "b"]


def test_geotiff_and_cog_open_with_the_gtiff_driver(tmp_path: Path) -> None:
    tif = write_tif(tmp_path / "r.tif")
    cog = tmp_path / "c.tif"
    rasterio.shutil.copy(tif, cog, driver="COG")
    for p in (tif, cog):
        info = user_raster_info(p)
        assert info.grid is not None and info.grid.shape == (4, 4) and info.nodata == 255
        with open_user_raster(p) as ds:
            assert ds.driver == "GTiff" and int(ds.read(1).sum()) == sum(range(16))


def test_content_decides_not_the_name(tmp_path: Path) -> None:
    odd = tmp_path / "looks_like.geojson"
    TWO.to_file(odd, driver="GPKG")  # a GeoPackage named .geojson
    assert sniff_format(odd, odd.name) == "gpkg" and user_vector_info(odd).features == 2
    tif_named_gpkg = write_tif(tmp_path / "r.gpkg")
    with pytest.raises(DataSourceError, match="r.gpkg: a raster, not a vector"):
        read_user_vector(tif_named_gpkg)
    gpkg_named_tif = tmp_path / "v.tif"
    TWO.to_file(gpkg_named_tif, driver="GPKG")
    with pytest.raises(DataSourceError, match="v.tif: not a GeoTIFF"):
        user_raster_info(gpkg_named_tif)


def test_symlinks_are_followed_and_the_target_checked(tmp_path: Path) -> None:
    good = write_tif(tmp_path / "r.tif")
    (tmp_path / "link.tif").symlink_to(good)
    assert user_raster_info(tmp_path / "link.tif").count == 1
    evil = tmp_path / "evil.xml"
    evil.write_text(VRT.format(src="/etc/hostname"))
    (tmp_path / "disguised.tif").symlink_to(evil)
    with pytest.raises(UnsafeDataSource, match="disguised.tif: a GDAL VRT"):
        user_raster_info(tmp_path / "disguised.tif")
    fifo = tmp_path / "fifo.tif"
    os.mkfifo(fifo)  # reading it would block: refused before any read
    with pytest.raises(DataSourceError, match="fifo.tif: not a regular file"):
        user_raster_info(fifo)


# --------------------------------------------------------------------------- hostile files


@pytest.mark.parametrize("fname", ["a.geojson", "a.json", "a.gpkg", "a.tif", "a.shp", "noext"])
def test_streamed_algorithm_refused_whatever_its_name(tmp_path: Path, fname: str) -> None:
    secret = tmp_path / "secret.csv"
    secret.write_text("id,WKT\n1,POINT (109 38)\n")
    p = tmp_path / fname
    p.write_text(json.dumps(GDALG | {"command_line": GDALG["command_line"].format(src=secret)}))
    for call in (user_vector_info, read_user_vector, user_raster_info):
        with pytest.raises(UnsafeDataSource, match=f"{fname}: a GDAL streamed algorithm"):
            call(p)


@pytest.mark.parametrize(
    ("fname", "text", "what"),
    [
        ("r.tif", VRT.format(src="/etc/hostname"), "a GDAL VRT"),
        ("v.geojson", OGR_VRT.format(src="/etc/hostname"), "an OGR VRT"),
        ("w.tif", "<GDAL_WMS><Service name='WMS'/></GDAL_WMS>", "a GDAL WMS description"),
    ],
)
def test_referencing_formats_refused(tmp_path: Path, fname: str, text: str, what: str) -> None:
    p = tmp_path / fname
    p.write_text(text)
    with pytest.raises(UnsafeDataSource, match=what):
        user_raster_info(p)
    with pytest.raises(UnsafeDataSource, match=what):
        read_user_vector(p)


@pytest.mark.parametrize(
    ("crs", "message"),
    [
        ({"type": "link", "properties": {"href": "http://127.0.0.1:9/crs"}}, "type 'link'"),
        ({"type": "EPSG", "properties": {"code": 4490}}, "type 'EPSG'"),
        ({"type": "name", "properties": {"name": "http://127.0.0.1:9/x"}}, "not an EPSG code"),
        ({"type": "name", "properties": {"name": "/etc/passwd"}}, "not an EPSG code"),
    ],
)
def test_geojson_crs_must_be_a_name(tmp_path: Path, crs: dict, message: str) -> None:
    doc = json.loads(TWO.to_json())
    for where in ("top", "feature"):
        d = json.loads(json.dumps(doc))
        (d if where == "top" else d["features"][1])["crs"] = crs
        p = tmp_path / f"{where}.geojson"
        p.write_text(json.dumps(d))
        with pytest.raises(UnsafeDataSource, match=message):
            read_user_vector(p)
    ok = doc | {"crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::4490"}}}
    (tmp_path / "ok.geojson").write_text(json.dumps(ok))
    assert read_user_vector(tmp_path / "ok.geojson").crs.to_epsg() == 4490


def test_json_that_is_not_geojson_or_too_deep(tmp_path: Path) -> None:
    p = tmp_path / "t.geojson"
    p.write_text('{"type": "Topology", "objects": {}}')
    with pytest.raises(DataSourceError, match="not GeoJSON"):
        read_user_vector(p)
    deep = tmp_path / "deep.geojson"
    deep.write_text(
        '{"type": "Feature", "properties": {"x": ' + "[" * 100_000 + "]" * 100_000 + "}}"
    )
    with pytest.raises(InvalidInput, match="nested too deeply|nests deeper"):
        read_user_vector(deep)
    mid = tmp_path / "mid.geojson"
    mid.write_text('{"type": "Feature", "properties": {"x": ' + "[" * 70 + "]" * 70 + "}}")
    with pytest.raises(InvalidInput, match="nests deeper than 64"):
        read_user_vector(mid)


@pytest.mark.parametrize(
    "path",
    [
        "/vsicurl/http://127.0.0.1:9/x.tif",
        "/vsizip//tmp/x.zip/a.shp",
        "http://127.0.0.1:9/x.geojson",
        "PG:dbname=geoeco",
        "WFS:http://127.0.0.1:9/wfs",
        "GeoJSON:{good}",
    ],
)
def test_urls_virtual_paths_and_connection_strings_refused(tmp_path: Path, path: str) -> None:
    good = tmp_path / "good.geojson"
    TWO.to_file(good, driver="GeoJSON")
    text = path.format(good=good)
    for call in (user_vector_info, user_raster_info):
        with pytest.raises(UnsafeDataSource, match="not accepted"):
            call(text, name="layer")


def test_sqlite_that_is_not_a_geopackage_and_filegdb_with_a_link(tmp_path: Path) -> None:
    import sqlite3

    db = tmp_path / "x.gpkg"
    sqlite3.connect(db).execute("create table t (a int)").connection.commit()
    with pytest.raises(DataSourceError, match="x.gpkg: an SQLite database that is not a GeoP"):
        read_user_vector(db)
    gdb = tmp_path / "v.gdb"
    TWO.to_file(gdb, driver="OpenFileGDB")
    (gdb / "a000000ff.gdbtable").symlink_to("/etc/hostname")
    with pytest.raises(DataSourceError, match="plain files only"):
        read_user_vector(gdb)


def test_geoparquet_crs_must_not_be_a_url(tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    p = tmp_path / "v.parquet"
    TWO.to_parquet(p)
    table = pq.read_table(p)
    geo = json.loads(table.schema.metadata[b"geo"])
    geo["columns"]["geometry"]["crs"] = "http://127.0.0.1:9/crs"
    meta = dict(table.schema.metadata) | {b"geo": json.dumps(geo).encode()}
    pq.write_table(table.replace_schema_metadata(meta), tmp_path / "evil.parquet")
    with pytest.raises(UnsafeDataSource, match="evil.parquet: GeoParquet crs"):
        read_user_vector(tmp_path / "evil.parquet")


# --------------------------------------------------------------------------- header limits


def test_decompression_bomb_refused_from_the_header(tmp_path: Path) -> None:
    bomb = write_bomb(tmp_path / "bomb.tif")
    assert bomb.stat().st_size < 3_000_000  # 1.8 MB on disk for 40 Gpx declared
    with pytest.raises(OversizeRequest) as exc:
        user_raster_info(bomb, name="upload.tif")
    msg = str(exc.value)
    assert "upload.tif: 200,000 × 200,000 = 40,000,000,000 pixels" in msg
    assert str(tmp_path) not in msg


def test_block_count_band_and_block_size_limits(tmp_path: Path) -> None:
    # 64 x 64 pixels in 16 x 16 tiles: 4 x 4 = 16 blocks per band; 3 bands band-interleaved
    p = write_tif(
        tmp_path / "t.tif",
        width=64,
        height=64,
        count=3,
        tiled=True,
        blockxsize=16,
        blockysize=16,
        interleave="band",
    )
    assert user_raster_info(p, limits=UserDataLimits(max_raster_blocks=48)).count == 3
    with pytest.raises(OversizeRequest, match="t.tif: 48 blocks; at most 47"):
        user_raster_info(p, limits=UserDataLimits(max_raster_blocks=47))
    with pytest.raises(OversizeRequest, match="t.tif: 3 bands; at most 2"):
        user_raster_info(p, limits=UserDataLimits(max_raster_bands=2))
    with pytest.raises(OversizeRequest, match="64 × 64 = 4,096 pixels; at most 4,095"):
        user_raster_info(p, limits=UserDataLimits(max_raster_pixels=4095))
    # one compressed strip of 64 x 64 uint8 = 4,096 bytes decompressed to read any pixel
    strip = write_tif(tmp_path / "s.tif", width=64, height=64, blockysize=64, compress="deflate")
    assert user_raster_info(strip, limits=UserDataLimits(max_block_bytes=4096)).count == 1
    with pytest.raises(OversizeRequest, match="s.tif: one block of 64 × 64 pixels holds 4,096"):
        user_raster_info(strip, limits=UserDataLimits(max_block_bytes=4095))


def test_feature_and_byte_limits(tmp_path: Path) -> None:
    p = tmp_path / "v.gpkg"
    TWO.to_file(p)
    assert len(read_user_vector(p, limits=UserDataLimits(max_vector_features=2))) == 2
    with pytest.raises(OversizeRequest, match="v.gpkg: 2 features; at most 1"):
        read_user_vector(p, limits=UserDataLimits(max_vector_features=1))
    with pytest.raises(OversizeRequest, match="bytes of vector data"):
        read_user_vector(p, limits=UserDataLimits(max_vector_bytes=1000))
    g = tmp_path / "v.geojson"
    TWO.to_file(g, driver="GeoJSON")
    with pytest.raises(OversizeRequest, match="a GeoJSON of"):
        read_user_vector(g, limits=UserDataLimits(max_geojson_bytes=100))


_RSS_SCRIPT = """
import sys
from pathlib import Path
from geoeco.core.errors import OversizeRequest
from geoeco.core.userdata import user_raster_info
from geoeco.service.tiles import read_tile
try:
    user_raster_info(sys.argv[1])
    print("accepted")
except OversizeRequest:
    print("refused")
arr = read_tile(sys.argv[2], 4, 12, 6)
valid = arr.compressed()
status = Path("/proc/self/status").read_text().splitlines()
peak_mb = next(int(s.split()[1]) for s in status if s.startswith("VmHWM:")) // 1024
print(valid.size, sorted(set(valid.tolist())), peak_mb)
"""


def test_bomb_refused_and_large_tile_read_in_bounded_memory(tmp_path: Path) -> None:
    """In a fresh process: the 40 Gpx bomb is refused, and a zoom-4 tile of an accepted
    38,000² (1.44 Gpx) sparse raster, whose warp read the whole window at full resolution
    before (2.4 GB peak), stays small. GDAL's block cache is set to 64 MB for the process,
    so what remains is geoeco's own memory (measured: about 185 MB).

    The peak is the child's ``VmHWM``, not ``getrusage(RUSAGE_SELF).ru_maxrss``: Linux carries
    the parent's high-water mark across ``fork``/``vfork`` + ``exec`` into ``ru_maxrss``, so
    under a long test session that figure is the session's size, not the child's."""
    bomb = write_bomb(tmp_path / "bomb.tif")
    big = write_bomb(tmp_path / "big.tif", n=38_000)
    # a minimal environment, so that nothing the test session set (threads, caches) leaks in
    keep = ("PATH", "HOME", "LANG", "TMPDIR", "PYTHONPATH", "VIRTUAL_ENV")
    env = {k: os.environ[k] for k in keep if k in os.environ} | {"GDAL_CACHEMAX": "64"}
    out = subprocess.run(
        [sys.executable, "-c", _RSS_SCRIPT, str(bomb), str(big)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=True,
    ).stdout.split(maxsplit=2)
    assert out[0] == "refused"
    # the one written block (512 px = 0.135° at 100° E, 40° N) spans about 1.5 × 2 pixels
    # of the 256-pixel z4 tile (22.5° wide): a handful of cells, all of value 7
    assert 1 <= int(out[1]) <= 9 and out[2].startswith("[7] ")  # uint8 kept
    rss = int(out[2].split()[-1])
    assert rss < 500, f"peak RSS {rss} MB with environment {sorted(env)}"
