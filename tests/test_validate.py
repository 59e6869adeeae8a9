"""User layers: each kind of bad file gets its own clear error; good files become manifests."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin
from shapely.geometry import box

from geoeco.catalog.layers import LayerRegistry, load_manifest
from geoeco.catalog.validate import user_layer_spec, write_user_manifest
from geoeco.core.errors import CRSError, DataSourceError, InvalidInput, LayerExists, OutsideChina
from geoeco.core.inspect import inspect_layer_file


def _tif(path, *, crs="EPSG:4546", nodata=0, origin=(400000, 4250000)):
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=4,
        height=4,
        count=1,
        dtype="uint8",
        crs=crs,
        transform=from_origin(*origin, 30, 30),
        nodata=nodata,
    ) as dst:
        dst.write(np.arange(16, dtype="uint8").reshape(1, 4, 4))
    return path


def _gpkg(path, *, crs="EPSG:4490", geom=None):
    geom = geom if geom is not None else box(109, 38, 110, 39)
    gpd.GeoDataFrame({"name": ["a"]}, geometry=[geom], crs=crs).to_file(path)
    return path


def test_good_raster_and_vector(tmp_path):
    rep = inspect_layer_file(_tif(tmp_path / "soil.tif"))
    assert rep.kind == "raster" and rep.nodata == 0 and rep.crs == "EPSG:4546"
    lon0, lat0, lon1, lat1 = rep.bounds_lonlat
    assert 109 < lon0 < 110 and 38 < lat0 < 39  # GK CM111 x=400 km lies ~1.1° west of 111°E
    rep = inspect_layer_file(_gpkg(tmp_path / "zones.gpkg"))
    assert rep.kind == "vector" and rep.feature_count == 1


def test_raster_without_nodata_needs_it_stated(tmp_path):
    p = _tif(tmp_path / "dem.tif", nodata=None)
    with pytest.raises(InvalidInput, match="no nodata"):
        inspect_layer_file(p)
    assert inspect_layer_file(p, nodata=255).nodata == 255


def test_raster_without_crs(tmp_path):
    p = _tif(tmp_path / "nocrs.tif", crs=None)
    with pytest.raises(CRSError, match="nocrs.tif: raster has no CRS"):
        inspect_layer_file(p)


def test_vector_without_crs(tmp_path):
    p = tmp_path / "x.shp"
    gpd.GeoDataFrame({"a": [1]}, geometry=[box(109, 38, 110, 39)]).to_file(p)
    with pytest.raises(CRSError, match="x.shp: vector file has no CRS"):
        inspect_layer_file(p)


def test_outside_china_and_override(tmp_path):
    p = _gpkg(tmp_path / "paris.gpkg", geom=box(2.2, 48.8, 2.4, 48.9))
    with pytest.raises(OutsideChina, match="paris.gpkg"):
        inspect_layer_file(p)
    assert inspect_layer_file(p, allow_outside_china=True).kind == "vector"


def test_unreadable_and_unknown_files_never_show_the_server_path(tmp_path):
    bad = tmp_path / "broken.tif"
    bad.write_bytes(b"this is not a tiff")
    with pytest.raises(DataSourceError) as exc:
        inspect_layer_file(bad, name="upload.tif")
    assert "upload.tif" in str(exc.value) and str(tmp_path) not in str(exc.value)
    with pytest.raises(InvalidInput, match="unsupported file type '.xls'"):
        inspect_layer_file(tmp_path / "table.xls")
    with pytest.raises(DataSourceError, match="missing.gpkg: file not found"):
        inspect_layer_file(tmp_path / "missing.gpkg")
    empty = tmp_path / "empty.geojson"
    empty.write_text('{"type":"FeatureCollection","features":[]}')
    with pytest.raises((InvalidInput, CRSError)):
        inspect_layer_file(empty)


def test_user_manifest_written_and_loadable(tmp_path):
    data = _gpkg(tmp_path / "My Reserve.gpkg")
    spec = user_layer_spec(data, role="protected")
    assert spec.id == "user.my_reserve" and spec.expect.feature_count == 1
    d = tmp_path / "layers"
    m = write_user_manifest(spec, d)
    again = LayerRegistry.from_dirs(d).get("user.my_reserve")
    assert again.file_path() == data.resolve() and load_manifest(m).role == "protected"
    with pytest.raises(LayerExists):
        write_user_manifest(spec, d)


def test_lonlat_bounds_share_one_transformer_per_crs_across_threads(tmp_path):
    """Files in the same CRS reuse one cached transformer, from several threads at once, and
    get the bounds a fresh pyproj transformer gives."""
    from concurrent.futures import ThreadPoolExecutor

    from pyproj import CRS, Transformer

    from geoeco.core.inspect import _lonlat_bounds, _to_wgs84

    crs = CRS.from_epsg(4546)
    boxes = [(400000 + 1000 * i, 4250000, 430000 + 1000 * i, 4280000) for i in range(40)]
    fresh = Transformer.from_crs(crs, CRS.from_epsg(4326), always_xy=True)
    want = [fresh.transform_bounds(*b, densify_pts=21) for b in boxes]
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(lambda b: _lonlat_bounds(b, crs), boxes))
    assert got == [tuple(w) for w in want]
    assert _to_wgs84(crs.to_wkt()) is _to_wgs84(CRS.from_epsg(4546).to_wkt())
    # the same file inspected twice reads the same bounds
    p = _tif(tmp_path / "a.tif")
    assert inspect_layer_file(p).bounds_lonlat == inspect_layer_file(p).bounds_lonlat
