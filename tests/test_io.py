"""Raster and vector I/O: COG output, windows, masks, atomic writes."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
from affine import Affine

from geoeco.core import io
from geoeco.core.errors import GridMismatch
from geoeco.core.raster import Grid, Raster

GRID = Grid(Affine(10, 0, 500000, 0, -10, 4000040), 700, 600, "EPSG:32631")


def test_cog_round_trip_with_mask_units_and_overviews(tmp_path):
    a = np.arange(600 * 700, dtype="float32").reshape(600, 700)
    a[0, 0] = np.nan
    r = Raster.from_array(a, GRID, units="t/(km2·a)")
    p = io.write_raster(r, tmp_path / "x.tif", blocksize=256)
    with rasterio.open(p) as ds:
        assert ds.driver == "GTiff" and ds.block_shapes[0] == (256, 256)
        assert ds.overviews(1), "COG has overviews"
        assert ds.profile["compress"] == "deflate"
    back = io.read_raster(p)
    assert back.units == "t/(km2·a)" and back.grid.aligned_with(GRID)
    assert back.array.mask[0, 0] and np.ma.allequal(back.array, r.array)
    w = io.read_raster(p, window=(100, 200, 50, 60))
    assert w.grid.shape == (50, 60)
    assert w.grid.transform.c == 500000 + 200 * 10 and w.grid.transform.f == 4000040 - 100 * 10
    assert float(w.array[0, 0]) == float(a[100, 200])
    assert not list(tmp_path.glob(".*")), "no temporary files left behind"


def test_windows_cover_grid_exactly(tmp_path):
    blocks = list(GRID.blocks(256))
    assert sum(h * w for _, _, h, w in blocks) == GRID.width * GRID.height


def test_failed_write_leaves_previous_file_intact(tmp_path):
    dest = tmp_path / "keep.txt"
    dest.write_text("old")
    with pytest.raises(RuntimeError), io.atomic_path(dest) as tmp:
        tmp.write_text("half")
        raise RuntimeError("boom")
    assert dest.read_text() == "old" and len(list(tmp_path.iterdir())) == 1


def test_raster_is_read_only_and_checks_shape():
    r = Raster.from_array(np.zeros((600, 700)), GRID)
    with pytest.raises(ValueError):
        r.array[0, 0] = 1
    with pytest.raises(GridMismatch):
        Raster.from_array(np.zeros((3, 3)), GRID)
    other = Grid(GRID.transform @ Affine.translation(1, 0), 700, 600, GRID.crs)
    with pytest.raises(GridMismatch, match="origin"):
        GRID.check_aligned(other)


def test_windowed_writer_equals_whole_write(tmp_path):
    """Writing block by block gives the same pixels as one write_raster call."""
    a = np.random.default_rng(0).random((600, 700)).astype("float32")
    with io.open_raster_writer(tmp_path / "w.tif", GRID, units="m") as w:
        for r, c, h, wd in GRID.blocks(256):
            w.write((r, c, h, wd), a[r : r + h, c : c + wd])
    back = io.read_raster(tmp_path / "w.tif")
    assert np.array_equal(back.array.filled(np.nan), a) and back.units == "m"
    with rasterio.open(tmp_path / "w.tif") as ds:
        assert ds.overviews(1)


def test_vector_writes_are_complete_and_leave_no_temporary_files(tmp_path):
    """A Shapefile arrives with all its parts under the destination name (UTF-8 .cpg); a
    GeoPackage layer defaults to the file's stem and a second layer keeps the first."""
    import geopandas as gpd
    from shapely.geometry import box

    gdf = gpd.GeoDataFrame({"名称": ["榆阳区"]}, geometry=[box(109, 38, 110, 39)], crs=4490)
    io.write_vector(gdf, tmp_path / "u.shp")
    assert {p.suffix for p in tmp_path.glob("u.*")} >= {".shp", ".shx", ".dbf", ".prj", ".cpg"}
    assert (tmp_path / "u.cpg").read_text().strip().upper().startswith("UTF")
    assert io.read_vector(tmp_path / "u.shp")["名称"].iloc[0] == "榆阳区"
    io.write_vector(gdf, tmp_path / "z.gpkg")
    io.write_vector(gdf, tmp_path / "z.gpkg", layer="second")
    import pyogrio

    assert sorted(pyogrio.list_layers(tmp_path / "z.gpkg")[:, 0]) == ["second", "z"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
