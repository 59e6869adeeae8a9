"""Zonal statistics in one pass (issue 16 item 2) against exactextract run the old way.

:func:`geoeco.query.zonal.zonal_stats` computes the pixel coverage once per grid and counts
classes with ``np.bincount``; the reference here is exactextract itself, called per raster with
``count``/``sum``/``mean``/``min``/``max``/``unique``/``frac`` on the same arrays (the code path
of geoeco before issue 16: a ``NumPyRasterSource`` of the masked array, integers as float64) or
on the same GeoTIFF (its rasterio source) for rasters read window by window. Every statistic
and every class share must agree to 1e-12.

Shapes: the real boundary of 榆阳区 (610802, the built-in county layer) on two grids (Albers
200 m and Gauss–Krüger CM 111°E 150 m, each covering only part of the county, so the county
runs over the grid's edge), a multipolygon with a hole, a site outside the grid, a site inside
a nodata block, sites smaller than one pixel (inside one pixel and across four), a box across
the grid's edge. Rasters: uint8 classes with a nodata block, int16 codes with negative values,
float32 with NaNs and a masked block, float64, a float class raster with non-integer values.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
import shapely
from affine import Affine
from pyproj import CRS

from geoeco.core.crs import ALBERS_CHINA, CGCS2000
from geoeco.core.raster import Grid, Raster
from geoeco.query.coverage import grid_coverage
from geoeco.query.models import ZonalStat
from geoeco.query.zonal import RasterLayer, project, zonal_stats

GK111 = CRS.from_epsg(4546)  # CGCS2000 / 3-degree Gauss-Kruger CM 111E
OPS = ["count", "sum", "mean", "min", "max", "unique", "frac"]
TOL = 1e-12


def _grid(county: Any, crs: CRS, res: float, keep: float) -> Grid:
    """A grid over the county's bounds in ``crs``, cut to the western ``keep`` share of them."""
    x0, y0, x1, y1 = project(county, CGCS2000, crs).bounds
    x0, y1 = np.floor(x0 / res) * res - 3 * res, np.ceil(y1 / res) * res + 3 * res
    w = int((x1 - x0) * keep / res)
    h = int((y1 - y0) / res) + 6
    return Grid(Affine(res, 0, x0, 0, -res, y1), w, h, crs)


def _arrays(shape: tuple[int, int], seed: int) -> dict[str, np.ma.MaskedArray]:
    """The test rasters (masked arrays), with nodata blocks and NaNs."""
    rng = np.random.default_rng(seed)
    h, w = shape
    block = np.zeros(shape, bool)
    block[h // 3 : h // 3 + 40, w // 3 : w // 3 + 40] = True
    classes = rng.integers(1, 7, shape).astype("uint8")
    codes = rng.integers(-3, 4, shape).astype("int16")
    f32 = (rng.gamma(2.0, 50.0, shape)).astype("float32")
    f32[rng.random(shape) < 0.02] = np.nan
    f64 = rng.normal(1000.0, 300.0, shape)
    steps = rng.integers(0, 4, shape) * 0.5 + 0.25  # 0.25, 0.75, 1.25, 1.75
    return {
        "grade": np.ma.masked_array(classes, block),
        "codes": np.ma.masked_array(codes, np.zeros(shape, bool)),
        "loss": np.ma.masked_array(f32, block),
        "elev": np.ma.masked_array(f64, np.zeros(shape, bool)),
        "steps": np.ma.masked_array(steps, block),
    }


def _layers(grid: Grid, seed: int, prefix: str) -> list[RasterLayer]:
    """The rasters of :func:`_arrays` as layers (NaNs of ``loss`` left unmasked: exactextract
    skips them by itself), the ``elev`` one through :meth:`RasterLayer.from_raster`."""
    out = []
    for name, a in _arrays(grid.shape, seed).items():
        cls = name in ("grade", "codes", "steps")
        names = {1: ("一", "one")} if cls else None
        if name == "elev":
            r = Raster.from_array(a.data, grid)
            out.append(RasterLayer.from_raster(f"{prefix}{name}", r))
        else:
            out.append(RasterLayer(f"{prefix}{name}", grid, names=names, table_name="t", _array=a))
    return out


def _old_way(lyr: RasterLayer, geom_grid_crs: Any) -> dict[str, Any]:
    """exactextract on the layer's array as geoeco called it before issue 16 (one raster)."""
    from exactextract import exact_extract
    from exactextract.feature import JSONFeatureSource
    from exactextract.raster import NumPyRasterSource

    a = lyr._array
    values = a if a.dtype.kind == "f" else a.astype("float64")
    src = NumPyRasterSource(values, *lyr.grid.bounds)
    feat = {
        "type": "Feature",
        "properties": {},
        "geometry": shapely.geometry.mapping(geom_grid_crs),
    }
    res = exact_extract(src, JSONFeatureSource([feat]), OPS, output="geojson")
    return dict(res[0]["properties"]) if res else {"count": 0.0}


def _assert_same(ours: ZonalStat, ref: dict[str, Any], is_class: bool) -> None:
    count = float(ref.get("count") or 0.0)
    assert ours.count == pytest.approx(count, rel=TOL, abs=TOL)
    if count == 0:
        assert (ours.sum, ours.mean, ours.min, ours.max) == (None, None, None, None)
        assert not ours.histogram
        return
    for k in ("sum", "mean", "min", "max"):
        assert getattr(ours, k) == pytest.approx(float(ref[k]), rel=TOL, abs=TOL), k
    if is_class:
        unique, frac = np.asarray(ref["unique"]).tolist(), np.asarray(ref["frac"]).tolist()
        pairs = sorted(zip(unique, frac, strict=True))
        assert ours.histogram is not None and len(ours.histogram) == len(pairs)
        for c, (v, f) in zip(ours.histogram, pairs, strict=True):
            assert c.code == int(round(v)) and c.share == pytest.approx(f, rel=TOL, abs=TOL)
        assert sum(c.share for c in ours.histogram) == pytest.approx(1.0, abs=1e-12)


@pytest.fixture(scope="module")
def county() -> Any:
    from geoeco.zoning.aoi import resolve_aoi

    return resolve_aoi("610802").lonlat  # CGCS2000 lon-lat, the built-in county boundary


@pytest.fixture(scope="module")
def layers(county: Any) -> list[RasterLayer]:
    """Five rasters on an Albers grid and five on a Gauss–Krüger grid."""
    albers = _grid(county, ALBERS_CHINA, 200.0, 0.7)
    gk = _grid(county, GK111, 150.0, 0.6)
    return _layers(albers, 1, "a_") + _layers(gk, 2, "g_")


def _sites(county: Any, layers: list[RasterLayer]) -> dict[str, Any]:
    """Hostile sites, CGCS2000 lon-lat."""
    al = project(county, CGCS2000, ALBERS_CHINA)
    c = al.centroid
    hole = shapely.difference(al, c.buffer(8000))
    island = shapely.box(c.x - 30_000, c.y + 40_000, c.x - 25_000, c.y + 43_000)
    multi = shapely.MultiPolygon([hole, island]) if hole.geom_type == "Polygon" else None
    g = layers[0].grid  # Albers grid of the first five
    x0, _, x1, y1 = g.bounds
    px = g.res[0]
    nod_r, nod_c = g.height // 3 + 10, g.width // 3 + 10  # inside the nodata block
    nx, ny = x0 + (nod_c + 0.3) * px, y1 - (nod_r + 0.3) * px
    cx, cy = x0 + 50.4 * px, y1 - 60.6 * px  # a pixel corner region away from the edges
    sites = {
        "county": al,
        "multipolygon with hole": multi,
        "outside the grid": shapely.box(x1 + 50_000, y1 + 50_000, x1 + 60_000, y1 + 60_000),
        "in nodata": shapely.box(nx, ny - 3 * px, nx + 3 * px, ny),
        "smaller than a pixel": shapely.box(cx, cy, cx + 0.3 * px, cy + 0.2 * px),
        "sub-pixel across 4 pixels": shapely.box(
            cx + 0.5 * px, cy + 0.5 * px, cx + 0.9 * px, cy + 0.75 * px
        ),
        "across the grid's left edge": shapely.box(x0 - 5 * px, cy - 7 * px, x0 + 6.5 * px, cy),
    }
    return {k: project(v, ALBERS_CHINA, CGCS2000) for k, v in sites.items() if v is not None}


def test_county_and_hostile_sites_equal_exactextract(
    county: Any, layers: list[RasterLayer]
) -> None:
    sites = _sites(county, layers)
    assert sites["multipolygon with hole"].geom_type == "MultiPolygon"
    assert len(sites["multipolygon with hole"].geoms[0].interiors) >= 1
    seen_counts = {}
    for name, site in sites.items():
        ours = zonal_stats(site, layers)
        for lyr, s in zip(layers, ours, strict=True):
            ref = _old_way(lyr, project(site, CGCS2000, lyr.grid.crs))
            _assert_same(s, ref, lyr.is_class)
            seen_counts[(name, lyr.name)] = s.count
    # the cases are what they claim: counts 0 outside and in nodata, under one pixel small
    assert seen_counts[("outside the grid", "a_grade")] == 0
    assert seen_counts[("in nodata", "a_grade")] == 0 and seen_counts[("in nodata", "a_elev")] > 0
    assert 0 < seen_counts[("smaller than a pixel", "a_elev")] < 1
    assert 0 < seen_counts[("sub-pixel across 4 pixels", "a_elev")] < 1
    edge = seen_counts[("across the grid's left edge", "a_elev")]
    assert edge == pytest.approx(6.5 * 7, rel=1e-6)  # only the part inside the grid counts


def test_county_runs_over_the_grid_edge(county: Any, layers: list[RasterLayer]) -> None:
    """The grids cover only the western part of the county: the counted area is the county's
    part inside the grid, which is less than the county (so the edge case is exercised)."""
    g = layers[0].grid
    al = project(county, CGCS2000, ALBERS_CHINA)
    inside = shapely.intersection(al, shapely.box(*g.bounds)).area / g.cell_area
    s = zonal_stats(county, [layers[3]])[0]  # a_elev: no nodata
    assert s.count == pytest.approx(inside, rel=1e-9) and inside < 0.8 * al.area / g.cell_area


def test_coverage_is_shared_per_grid(
    county: Any, layers: list[RasterLayer], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two grids, ten rasters: two coverage passes."""
    import geoeco.query.zonal as zonal

    calls: list[Grid] = []

    def spy(geom: Any, grid: Grid) -> Any:
        calls.append(grid)
        return grid_coverage(geom, grid)

    monkeypatch.setattr(zonal, "grid_coverage", spy)
    zonal_stats(county, layers)
    assert len(calls) == 2 and calls[0].crs == ALBERS_CHINA and calls[1].crs == GK111


def test_rasters_read_by_window_equal_exactextract_on_the_file(
    county: Any, layers: list[RasterLayer], tmp_path: Path
) -> None:
    """A raster above ``max_memory_pixels`` is read window by window; exactextract reading the
    GeoTIFF itself (nodata value and NaNs) gives the same statistics and shares."""
    import geopandas as gpd
    from exactextract import exact_extract

    for lyr in (layers[0], layers[2]):  # uint8 classes with nodata, float32 with NaN
        a = lyr._array
        nodata = 0 if a.dtype.kind == "u" else -9999.0
        path = tmp_path / f"{lyr.name}.tif"
        g = lyr.grid
        with rasterio.open(
            path, "w", driver="GTiff", width=g.width, height=g.height, count=1,
            dtype=str(a.dtype), crs=g.crs.to_wkt(), transform=g.transform, nodata=nodata,
        ) as dst:  # fmt: skip
            dst.write(np.ma.filled(a, nodata)[np.newaxis])
        big = RasterLayer.open(lyr.name, path, names=lyr.names, max_memory_pixels=0)
        assert big._flat is None
        for site in _sites(county, layers).values():
            ours = zonal_stats(site, [big])[0]
            gdf = gpd.GeoDataFrame({"i": [0]}, geometry=[site], crs=CGCS2000).to_crs(g.crs)
            ref = exact_extract(str(path), gdf, OPS, output="pandas").iloc[0].to_dict()
            _assert_same(ours, ref, lyr.is_class)


def test_cell_ids_are_exactextracts_cell_id(county: Any, layers: list[RasterLayer]) -> None:
    """The coverage pass reads cell ids as the values of a raster of ids; they and the
    fractions equal exactextract's own ``cell_id`` and ``coverage`` on a raster of ones."""
    from exactextract import exact_extract
    from exactextract.feature import JSONFeatureSource
    from exactextract.raster import NumPyRasterSource

    for lyr in (layers[0], layers[5]):  # the Albers grid and the Gauss-Krüger grid
        g = lyr.grid
        for name, site in _sites(county, layers).items():
            geom = project(site, CGCS2000, g.crs)
            cov = grid_coverage(geom, g)
            src = NumPyRasterSource(np.ones(g.shape), *g.bounds)
            feat = {"type": "Feature", "properties": {}, "geometry": shapely.geometry.mapping(geom)}
            res = exact_extract(src, JSONFeatureSource([feat]), ["cell_id", "coverage"])
            ref = res[0]["properties"] if res else {"cell_id": [], "coverage": []}
            assert cov.cell_ids.tolist() == np.asarray(ref["cell_id"]).tolist(), name
            assert cov.weights.tolist() == np.asarray(ref["coverage"]).tolist(), name


@pytest.mark.realdata
def test_shaanxi_counties_on_the_grids_equal_exactextract(
    shared_testdata: Path, layers: list[RasterLayer]
) -> None:
    """Every county of 陕西省 in ../shared/testdata (AMap 2020 boundaries) that reaches the test
    grids, whole or partly, with every raster: the same statistics as exactextract's."""
    import geopandas as gpd

    counties = gpd.read_file(shared_testdata / "amap2020_counties_threenorth" / "陕西省.shp")
    reach = shapely.box(
        *project(shapely.box(*layers[0].grid.bounds), ALBERS_CHINA, CGCS2000).bounds
    )
    near = counties[counties.intersects(reach)]
    assert len(near) >= 4  # 榆阳区 and its neighbours
    for geom in near.geometry:
        for lyr, s in zip(layers, zonal_stats(geom, layers), strict=True):
            _assert_same(s, _old_way(lyr, project(geom, CGCS2000, lyr.grid.crs)), lyr.is_class)


def test_per_site_not_slower_than_exactextract_per_raster(
    county: Any, layers: list[RasterLayer]
) -> None:
    """Small sites (1-3 km) over 14 rasters on two grids, 3 and 11 (as in a zoning run): the
    one-pass path takes no more CPU than exactextract called per raster on the same arrays
    (sources and operations built once, geometry already projected for it); best of three
    alternating rounds each."""
    import time

    gk = layers[5].grid
    layers = layers[:3] + layers[5:] + _layers(gk, 3, "h_") + _layers(gk, 4, "i_")[:1]
    assert len(layers) == 14

    rng = np.random.default_rng(3)
    c = project(county, CGCS2000, ALBERS_CHINA).centroid
    sites = []
    for _ in range(60):
        x, y = c.x + rng.uniform(-20_000, 0), c.y + rng.uniform(-20_000, 20_000)
        w, h = rng.uniform(1000, 3000, 2)
        sites.append(project(shapely.box(x, y, x + w, y + h), ALBERS_CHINA, CGCS2000))
    from exactextract import exact_extract
    from exactextract.feature import JSONFeatureSource
    from exactextract.operation import Operation
    from exactextract.raster import NumPyRasterSource

    kept = []  # sources and operations built once per raster, as geoeco kept them before
    for lyr in layers:
        a = lyr._array
        src = NumPyRasterSource(a if a.dtype.kind == "f" else a.astype("float64"), *lyr.grid.bounds)
        ops = [Operation(o, f"{lyr.name}__{o}", src) for o in (OPS if lyr.is_class else OPS[:5])]
        kept.append((lyr, src, ops))
    feats = [
        {
            lyr.name: {
                "type": "Feature",
                "properties": {},
                "geometry": shapely.geometry.mapping(project(s, CGCS2000, lyr.grid.crs)),
            }
            for lyr in layers
        }
        for s in sites
    ]

    def old_way() -> None:
        for f in feats:
            for lyr, src, ops in kept:
                exact_extract(src, JSONFeatureSource([f[lyr.name]]), ops, output="geojson")

    def one_pass() -> None:
        for s in sites:
            zonal_stats(s, layers)

    old_way(), one_pass()  # warm
    refs, ourss = [], []
    for _ in range(3):
        t = time.process_time()
        old_way()
        refs.append(time.process_time() - t)
        t = time.process_time()
        one_pass()
        ourss.append(time.process_time() - t)
    ref, ours = min(refs), min(ourss)
    print(f"one pass {ours:.3f} s CPU, exactextract per raster {ref:.3f} s")
    assert ours <= ref, (ours, ref)
