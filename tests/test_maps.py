"""Maps rendered to a string (no browser, no network), as geopandas tests ``explore``.

Expected numbers are worked out independently: Web Mercator pixel positions with the
spherical formulas Leaflet itself uses (written out here), lon/lat <-> metres with pyproj,
class colours and names from the class tables.
"""

from __future__ import annotations

import json
import math
import re

import geopandas as gpd
import numpy as np
import pytest
from affine import Affine
from pyproj import Transformer
from shapely.geometry import box

from geoeco.catalog.classes import get_table
from geoeco.core.crs import gk_zone_epsg
from geoeco.core.raster import Grid, Raster

folium = pytest.importorskip("folium")
pytest.importorskip("offlinefolium")

from geoeco.maps import data as maps_data  # noqa: E402
from geoeco.maps import overlay as maps_overlay  # noqa: E402
from geoeco.maps.assets import asset_dir, external_assets, localize_assets  # noqa: E402
from geoeco.maps.base import map_html  # noqa: E402
from geoeco.maps.screening import compare_map, screening_map  # noqa: E402
from geoeco.maps.zone import zone_map, zone_map_from_run  # noqa: E402

CDN = ("https://cdn", "cdnjs", "unpkg", "jsdelivr", "code.jquery", "bootstrapcdn")
W0, N0, STEP = 109.60, 38.30, 0.02  # 4 x 3 grid of 0.02-degree units, NW corner
TEXT = {1: "优先保护文本", 2: "重点管控文本", 3: "一般管控文本"}


def make_units() -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """12 units on a 4 x 3 grid (classes 1, 2, 3 repeating) and 2 red-line patches."""
    rows = []
    for k in range(12):
        r, c = divmod(k, 4)
        cls = k % 3 + 1
        rows.append(
            {
                "code": f"ZH6108021{k:04d}",
                "unit_class": cls,
                "county_name": "榆阳区",
                "area_km2": 3.5 + k,
                "area_gk_km2": 3.51 + k,
                "redline_share": 0.1 * (k % 4),
                "redline_main": 11 if k % 2 else 14,
                "erosion_grade_main": 1 + k % 6,
                "desert_degree_main": 1 + k % 5,
                "park_share": 0.0,
                "battles": "ji_bend",
                "in_three_north": True,
                "depends_on_approximation": k == 0,
                "depends_on_synthetic": True,
                **{
                    f"{d}_{lang}": f"{TEXT[cls]}-{d}-{lang}"
                    for d in (
                        "spatial_layout",
                        "pollutant_discharge",
                        "environmental_risk",
                        "resource_efficiency",
                    )
                    for lang in ("zh", "en")
                },
                "geometry": box(
                    W0 + c * STEP, N0 - (r + 1) * STEP, W0 + (c + 1) * STEP, N0 - r * STEP
                ),
            }
        )
    units = gpd.GeoDataFrame(rows, crs=4490)
    redline = gpd.GeoDataFrame(
        {"LXBM": [11, 14]},
        geometry=[
            box(W0 + 0.005, N0 - 0.035, W0 + 0.03, N0 - 0.005),
            box(W0 + 0.045, N0 - 0.055, W0 + 0.07, N0 - 0.025),
        ],
        crs=4490,
    )
    return units, redline


def make_raster() -> Raster:
    """Erosion grades 1..6 in 8 x 8 blocks of 100 m Gauss-Krueger pixels over the units."""
    epsg = gk_zone_epsg(W0 + 0.04)
    x0, y0 = Transformer.from_crs(4490, epsg, always_xy=True).transform(W0, N0)
    x0, y0 = math.floor(x0 / 100) * 100, math.ceil(y0 / 100) * 100
    rr, cc = np.mgrid[0:64, 0:80]
    codes = ((rr // 8 + cc // 8) % 6 + 1).astype("uint8")
    return Raster.from_array(codes, Grid(Affine(100, 0, x0, 0, -100, y0), 80, 64, epsg), nodata=0)


def has(html: str, text: str) -> bool:
    """``text`` in the page, raw or as JSON escapes (folium's ``tojson`` escapes non-ASCII)."""
    return text in html or json.dumps(text)[1:-1] in html


@pytest.fixture(scope="module")
def zone_html() -> str:
    units, redline = make_units()
    return map_html(zone_map(units, redline=redline, rasters={"erosion_grade": make_raster()}))


def test_zone_map_has_layers_legends_popup_fields(zone_html):
    units, _ = make_units()
    for layer in (
        "管控单元 Control units",
        "生态保护红线 Ecological red line",
        "土壤侵蚀强度 Soil-loss grade (SL 190-2007)",
    ):
        assert has(zone_html, layer), layer
    for table in ("ZHGKDYFL", "LXBM", "SL190-2007/water", "WangTao-2003"):
        for c in get_table(table).classes:
            assert c.name_zh in zone_html and c.name_en in zone_html
            assert c.colour in zone_html.lower()
    assert all(code in zone_html for code in units.code)
    for field in (
        "管控单元类别",
        "Unit class",
        "所在区县",
        "County",
        "Area",
        "Red line share",
        "Main soil-loss grade",
        "Main desertification degree",
        "Three-North area",
        "Landmark battles",
        "Access list",
        "geoeco.legend",
        "geoeco.search",
        "L.Control.MiniMap",
        "L.Control.Measure",
        "MousePosition",
        "L.control.fullscreen",
        "L.control.layers",
        "preferCanvas",
    ):
        assert has(zone_html, field), field
    assert "data:image/png;base64," in zone_html


def test_access_texts_stored_once_per_class(zone_html):
    # 12 units, 3 classes: each class text appears once, not once per unit (4 units each)
    for cls, text in TEXT.items():
        assert zone_html.count(f"{text}-spatial_layout-zh") == 1, cls


def test_standalone_html_needs_no_cdn(zone_html):
    assert external_assets(zone_html) == []
    for host in CDN:
        assert host not in zone_html, host
    assert "<script src=" not in zone_html and '<link rel="stylesheet"' not in zone_html
    assert "tile.openstreetmap.org" not in zone_html  # default basemap: none
    assert len(zone_html.encode()) < 1_500_000


def test_tile_route_and_served_assets(tmp_path):
    units, _ = make_units()
    m = zone_map(
        units,
        rasters={"erosion_grade": None, "restoration_rank": None},
        tile_url_template="/jobs/j1/tiles/{output}/{z}/{x}/{y}.png",
    )
    folder, mapping = asset_dir(tmp_path / "assets")
    html = map_html(m, assets="/maps/assets/")
    assert "/jobs/j1/tiles/erosion_grade/{z}/{x}/{y}.png" in html
    assert "/jobs/j1/tiles/restoration_rank/{z}/{x}/{y}.png" in html
    assert "data:image/png" not in html
    srcs = re.findall(r'(?:src|href)="(/maps/assets/[^"]+)"', html)
    assert srcs and all((folder / s.rsplit("/", 1)[1]).is_file() for s in srcs)
    assert external_assets(html) == []
    leaflet = "https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.js"
    assert "Leaflet 1.9.3" in (folder / mapping[leaflet]).read_text()
    assert localize_assets(f'<script src="{leaflet}"></script>', "/a") == (
        f'<script src="/a/{mapping[leaflet]}"></script>'
    )


def test_basemaps():
    units, _ = make_units()
    assert "tile.openstreetmap.org" in map_html(zone_map(units, basemap="osm"), assets="cdn")
    html = map_html(zone_map(units, basemap="tianditu", tianditu_token="TOKEN123"))
    assert "tianditu.gov.cn/vec_w" in html and "tk=TOKEN123" in html
    from geoeco.core.errors import InvalidInput

    with pytest.raises(InvalidInput, match="token"):
        zone_map(units, basemap="tianditu")


def test_overlay_grid_is_web_mercator_zoom_pixels():
    """Image pixels are exactly the basemap's pixels of one zoom level.

    Leaflet projects lat/lon with x = R*lon, y = R*ln(tan(pi/4 + lat/2)) (R = 6378137) and
    zoom-z pixels are (x + pi R) / (2 pi R) * 256 * 2**z; both are written out here.
    """
    ov = maps_overlay.class_overlay(make_raster(), dict.fromkeys(range(1, 7), "#ff0000"))
    (s, w), (n, e) = ov.bounds
    r = 6378137.0
    res = ov.grid.res[0]
    z = math.log2(2 * math.pi * r / (256 * res))
    assert abs(z - round(z)) < 1e-12  # a zoom level's resolution

    def px(lon, lat):
        x = r * math.radians(lon)
        y = r * math.log(math.tan(math.pi / 4 + math.radians(lat) / 2))
        k = 256 * 2 ** round(z) / (2 * math.pi * r)
        return (x + math.pi * r) * k, (math.pi * r - y) * k

    x0, y0 = px(w, n)
    x1, y1 = px(e, s)
    for v in (x0, y0, x1, y1):
        assert abs(v - round(v)) < 1e-6  # corners on basemap pixel edges
    assert abs((x1 - x0) - ov.grid.width) < 1e-6 and abs((y1 - y0) - ov.grid.height) < 1e-6
    # zoom chosen near the source: 100 m / cos(38.3 deg) = 127 m -> zoom 10 (152.9 m)
    assert round(z) == 10


def test_overlay_pixels_hold_the_source_class():
    """Every warped pixel centre, taken back to GK with pyproj, falls in a pixel of that class."""
    src = make_raster()
    merc = maps_overlay.warp_to_mercator(src)
    tr = Transformer.from_crs(3857, src.crs, always_xy=True)
    rows, cols = np.nonzero(~np.ma.getmaskarray(merc.array))
    xs, ys = merc.transform * (cols + 0.5, rows + 0.5)
    gx, gy = tr.transform(xs, ys)
    fc, fr = ~src.transform * (np.asarray(gx), np.asarray(gy))
    sr, sc = np.floor(fr).astype(int), np.floor(fc).astype(int)
    inside = (sr >= 0) & (sr < 64) & (sc >= 0) & (sc < 80)
    assert inside.mean() > 0.99
    # a centre within 1/100 pixel of a source pixel edge may go either way (GDAL vs pyproj
    # rounding); all others must match exactly
    edge = lambda f: np.abs(f - np.round(f)) < 0.01  # noqa: E731
    inside &= ~edge(fr) & ~edge(fc)
    assert np.array_equal(
        merc.array.data[rows[inside], cols[inside]], src.array.data[sr[inside], sc[inside]]
    )


@pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")
def test_palette_png_decodes_with_gdal():
    from rasterio.io import MemoryFile

    codes = np.array([[0, 1, 2], [2, 1, 0]], "uint8")
    png = maps_overlay.palette_png(codes, [(0, 0, 0, 0), (255, 0, 0, 255), (0, 0, 255, 128)])
    with MemoryFile(png) as mf, mf.open() as ds:
        assert ds.read(1).tolist() == codes.tolist()
        assert ds.colormap(1)[2] == (0, 0, 255, 128)


def test_encoding_round_trip_and_rounding():
    geom = box(109.1234567, 38.7654321, 109.2, 38.8)
    enc = maps_data.encode_polygons([geom], precision=5)
    ring = maps_data.decode_ring(enc[0][0][0], 5)
    exp = [(109.2, 38.76543), (109.2, 38.8), (109.12346, 38.8), (109.12346, 38.76543)]
    assert np.allclose(ring, exp, atol=1e-9)
    shared = maps_data.simplify_coverage([box(0, 0, 1, 1), box(1, 0, 2, 1)], 0.01)
    assert shared[0].intersection(shared[1]).length == pytest.approx(1.0)


def test_screening_map():
    units, _ = make_units()
    site = box(W0 + 0.01, N0 - 0.03, W0 + 0.05, N0 - 0.01)
    html = map_html(
        screening_map(
            site,
            site.buffer(0.01),
            units.iloc[:3],
            [("红线 red line patch 11", 0.0), ("三江源国家公园", 812.345)],
            lookup={"unit": {"code": units.code.iloc[0], "class": "优先保护"}, "redline": None},
        )
    )
    for s in (
        "场址 Site",
        "缓冲区 Buffer",
        "重叠管控单元 Overlapping units",
        "812.35",
        "三江源国家公园",
        units.code.iloc[0],
        "openPopup",
        "priority protection",
    ):
        assert has(html, s), s
    assert external_assets(html) == []


def test_compare_map():
    units, _ = make_units()
    other = units.assign(unit_class=3)
    html = map_html(compare_map(units, other, labels=("现状 current", "方案 scenario")))
    assert has(html, "现状 current") and has(html, "方案 scenario")
    assert "L.Map.Sync" in html or ".sync(" in html
    assert external_assets(html) == []


def test_write_zone_map_from_a_run_folder(tmp_path):
    from geoeco.core.io import write_raster, write_vector
    from geoeco.maps.zone import write_zone_map

    run = tmp_path / "zones"
    units, redline = make_units()
    write_vector(units, run / "zones.gpkg", layer="units")
    write_vector(redline, run / "zones.gpkg", layer="redline")
    write_raster(make_raster(), tmp_path / "erosion" / "erosion_grade.tif")
    out = write_zone_map(run)
    html = out.read_text(encoding="utf-8")
    assert out == run / "map.html"
    assert "Soil-loss grade" in html and "Desertification degree" not in html
    assert units.code.iloc[11] in html and external_assets(html) == []
    m = zone_map_from_run(run, tile_url_template="/t/{output}/{z}/{x}/{y}.png")
    api_html = map_html(m, assets="cdn")
    assert "/t/restoration_rank/{z}/{x}/{y}.png" in api_html


def test_import_geoeco_does_not_import_folium():
    import subprocess
    import sys

    code = "import sys, geoeco, geoeco.maps.overlay; print('folium' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_zone_map_of_the_demo_run_carries_the_synthetic_banner(demo_run_small, tmp_path):
    """The demo's zoning rests on synthetic layers: its map says so at the top (zh + en);
    a map without warnings has no banner."""
    from geoeco.maps.zone import run_banner, write_zone_map

    lines = run_banner(demo_run_small / "zones")
    assert lines and "合成数据" in lines[0] and "synthetic data" in lines[0]
    html = write_zone_map(demo_run_small / "zones", tmp_path / "m.html").read_text("utf-8")
    assert 'class="geoeco-banner"' in html and "synthetic data (demo, not a real place)" in html
    plain = write_zone_map(demo_run_small / "zones", tmp_path / "p.html", banner=[])
    assert "geoeco-banner" not in plain.read_text("utf-8")
