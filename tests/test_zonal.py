"""Zonal statistics with coverage fractions: hand values with partly covered edge pixels, and
agreement with exactextract called directly on the file (an independent reading path).

Hand values use the tiny run of test_query (100 m pixels, soil_loss = 10 × column, NaN at
row 3 column 5, erosion grade = column // 5 + 1). The site S1 is x 250–1250 m, y 200–700 m
(relative to Y0): in each of rows 3–7 it covers half of column 2, columns 3–11 fully and half
of column 12, so per row count = 0.5 + 9 + 0.5 = 10 and sum = 0.5·20 + (30+…+110) + 0.5·120
= 10 + 630 + 60 = 700. Over 5 rows: count 50, sum 3500, less the NaN pixel (row 3, column 5,
value 50): count 49, sum 3450, mean 3450/49 = 70.408…, min 20, max 120, area 49 × 0.01 km².
Erosion grades: grade 1 = 0.5 + 2 (cols 2–4) = 2.5 per row, grade 2 = 5 (cols 5–9), grade 3 =
2 + 0.5 (cols 10–12) = 2.5 → shares 0.25 / 0.5 / 0.25.
"""

from __future__ import annotations

import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
from test_query import Y0, albers_box, build_tiny_run

from geoeco.core.crs import ALBERS_CHINA
from geoeco.core.errors import InvalidInput
from geoeco.query.zonal import RasterLayer, zonal_stats


@pytest.fixture(scope="module")
def tiny_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("ztiny")
    build_tiny_run(root)
    return root


def test_hand_values_with_partial_pixels(tiny_root: Path) -> None:
    lyr = RasterLayer.open("soil_loss", tiny_root / "erosion" / "soil_loss.tif")
    s = zonal_stats(albers_box(250, 200, 1250, 700), [lyr])[0]
    assert s.count == pytest.approx(49.0, rel=1e-6)
    assert s.sum == pytest.approx(3450.0, rel=1e-6)
    assert s.mean == pytest.approx(3450.0 / 49.0, rel=1e-6)
    assert (s.min, s.max) == (20.0, 120.0)
    assert s.area_km2 == pytest.approx(0.49, rel=1e-5)
    assert s.units == "t/(km²·a)" and s.histogram is None


def test_class_histogram_with_names(tiny_root: Path) -> None:
    lyr = RasterLayer.open("erosion_grade", tiny_root / "erosion" / "erosion_grade.tif")
    s = zonal_stats(albers_box(250, 200, 1250, 700), [lyr])[0]
    assert s.class_table == "SL190-2007/water"
    got = [(c.code, c.name_en, round(c.share, 6), round(c.area_km2, 6)) for c in s.histogram]
    assert got == [
        (1, "slight", 0.25, 0.125),
        (2, "light", 0.5, 0.25),
        (3, "moderate", 0.25, 0.125),
    ]
    assert s.histogram[1].name_zh == "轻度" and s.histogram[1].pixels == pytest.approx(25.0)


def test_geometry_in_albers_and_missed_raster(tiny_root: Path) -> None:
    """Given directly in Albers, the same box gives the same numbers; a box off the grid
    gives count 0 and no statistics."""
    lyr = RasterLayer.open("soil_loss", tiny_root / "erosion" / "soil_loss.tif")
    s = zonal_stats(shapely.box(250, Y0 + 200, 1250, Y0 + 700), [lyr], crs=ALBERS_CHINA)[0]
    assert s.sum == pytest.approx(3450.0, rel=1e-9)
    off = zonal_stats(shapely.box(9000, Y0, 9100, Y0 + 100), [lyr], crs=ALBERS_CHINA)[0]
    assert off.count == 0 and off.mean is None and off.area_km2 == 0


def test_polygon_required(tiny_root: Path) -> None:
    with pytest.raises(InvalidInput, match="polygon"):
        zonal_stats(shapely.Point(105, 38), {"s": tiny_root / "erosion" / "soil_loss.tif"})


def test_equals_exactextract_on_file_and_not_slower(tiny_root: Path) -> None:
    """exactextract reading the GeoTIFF itself (its rasterio path) gives the same numbers, and
    our warm call (raster held in memory) is not slower than that direct call."""
    from exactextract import exact_extract

    path = tiny_root / "erosion" / "soil_loss.tif"
    poly = shapely.Polygon(
        [(130, Y0 + 120), (1710, Y0 + 260), (1480, Y0 + 930), (420, Y0 + 780), (130, Y0 + 120)]
    )
    gdf = gpd.GeoDataFrame({"id": [0]}, geometry=[poly], crs=ALBERS_CHINA)
    ops = ["count", "sum", "mean", "min", "max"]
    ref = exact_extract(str(path), gdf, ops, output="pandas").iloc[0]
    lyr = RasterLayer.open("soil_loss", path)
    ours = zonal_stats(poly, [lyr], crs=ALBERS_CHINA)[0]
    for op in ops:
        assert getattr(ours, op) == pytest.approx(float(ref[op]), rel=1e-12)

    n = 30
    t0 = time.perf_counter()
    for _ in range(n):
        exact_extract(str(path), gdf, ops, output="pandas")
    direct = time.perf_counter() - t0
    t0 = time.perf_counter()
    for _ in range(n):
        zonal_stats(poly, [lyr], crs=ALBERS_CHINA)
    mine = time.perf_counter() - t0
    assert mine <= direct * 1.2, (mine, direct)


def test_in_memory_raster_matches_numpy_hand_sum() -> None:
    """A 3×3 grid of ones, fully covered except the bottom-left pixel, of which three
    quarters are cut away: count = sum = 8 + 0.25."""
    from affine import Affine

    from geoeco.core.raster import Grid, Raster

    g = Grid(Affine(10, 0, 0, 0, -10, Y0 + 30), 3, 3, ALBERS_CHINA)
    lyr = RasterLayer.from_raster("ones", Raster.from_array(np.ones((3, 3)), g))
    poly = shapely.difference(shapely.box(0, Y0, 30, Y0 + 30), shapely.box(0, Y0, 5, Y0 + 5))
    poly = shapely.difference(poly, shapely.box(5, Y0, 10, Y0 + 5))
    poly = shapely.difference(poly, shapely.box(0, Y0 + 5, 5, Y0 + 10))
    s = zonal_stats(poly, [lyr], crs=ALBERS_CHINA)[0]
    assert s.count == pytest.approx(8.25) and s.sum == pytest.approx(8.25)
