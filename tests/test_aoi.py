"""The area of interest is resolved once (geoeco.zoning.aoi, issue 13).

Every form ``geoeco zone --aoi`` and the API take -- a 6- or 9-digit code, a vector file, a
geometry, GeoJSON -- becomes one frozen AOI; the reprojection happens once, when it is made;
the demo region's AOI comes from the workflows, and zoning never imports the demo.
Expected areas come from pyproj's geodesic area on the GRS80 ellipsoid (an independent
computation: the AOI's area is planar in the equal-area Albers projection).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import pytest
import shapely
from pyproj import Geod

import geoeco.zoning.aoi as aoi_mod
from geoeco.core.crs import ALBERS_CHINA, CGCS2000
from geoeco.core.errors import EmptyArea, InvalidInput
from geoeco.workflows.demo_inputs import demo_aoi
from geoeco.workflows.zoning import zoning_area
from geoeco.zoning.aoi import AOI, analysis_grid, resolve_aoi

GEOD = Geod(ellps="GRS80")  # CGCS2000's ellipsoid
BOX = shapely.box(109.70, 38.28, 109.72, 38.30)


def geodesic_km2(geom: shapely.Geometry) -> float:
    return abs(GEOD.geometry_area_perimeter(geom)[0]) / 1e6


def test_a_geometry_and_its_geojson_give_the_same_area() -> None:
    a = resolve_aoi(BOX)
    b = resolve_aoi(shapely.geometry.mapping(BOX))
    assert isinstance(a, AOI) and a.kind == b.kind == "geometry" and a.code is None
    assert a.area_km2 == pytest.approx(geodesic_km2(BOX), rel=1e-4)
    assert b.area_km2 == pytest.approx(a.area_km2, rel=1e-9)
    assert a.geometry.equals(b.geometry)
    # geometry in the analysis CRS (metres), lonlat as given
    assert a.geometry.bounds[0] > 1e5 and a.lonlat.equals(BOX)
    assert resolve_aoi(a) is a  # an AOI is taken as it is


def test_code_forms_and_a_file_of_the_county_agree(tmp_path: Path) -> None:
    six, nine = resolve_aoi("610802"), resolve_aoi("156610802")
    assert six == nine
    assert (six.kind, six.code) == ("county", "610802") and "榆阳区" in six.label
    assert six.area_km2 == pytest.approx(geodesic_km2(six.lonlat), rel=1e-3)
    f = tmp_path / "yuyang.gpkg"
    gpd.GeoDataFrame(geometry=[six.lonlat], crs=CGCS2000).to_file(f)
    from_file = resolve_aoi(str(f))
    assert (from_file.kind, from_file.label, from_file.code) == ("file", "yuyang.gpkg", None)
    assert from_file.area_km2 == pytest.approx(six.area_km2, rel=1e-9)


@pytest.mark.parametrize(
    ("value", "error", "words"),
    [
        (shapely.Point(109.7, 38.3), EmptyArea, "geometry: the area of interest is empty"),
        (shapely.box(109.7, 38.3, 109.7, 38.3), EmptyArea, "the area of interest is empty"),
        ({"type": "Polygon", "coordinates": []}, EmptyArea, "empty"),
        ("12345", InvalidInput, "not an administrative code"),
        ("999999", InvalidInput, "no province, city or county has the code 999999"),
        (5, InvalidInput, "got int"),
        (None, InvalidInput, "got NoneType"),
    ],
)
def test_bad_areas_are_refused_by_name(value: object, error: type, words: str) -> None:
    with pytest.raises(error, match=words):
        resolve_aoi(value)  # type: ignore[arg-type]


def test_the_area_is_reprojected_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Made from lon-lat: one reprojection (to the analysis CRS); the grid, both CRSs and the
    area then need none. The demo's footprint (in its grid's CRS) needs two: to lon-lat and on
    to the analysis CRS, the path it always took (pixel-identical grids)."""
    calls: list[tuple[object, object]] = []
    real = aoi_mod._reproject

    def counting(geometry, src, dst):  # type: ignore[no-untyped-def]
        calls.append((src, dst))
        return real(geometry, src, dst)

    monkeypatch.setattr(aoi_mod, "_reproject", counting)
    area = resolve_aoi(BOX)
    assert len(calls) == 1
    analysis_grid(area, 100.0)
    area.to_crs(ALBERS_CHINA), area.to_crs(4490), area.area_km2, area.summary()
    assert len(calls) == 1
    demo_aoi("small")
    assert len(calls) == 3


def test_none_is_the_demo_region_only_in_the_workflows() -> None:
    with pytest.raises(InvalidInput):
        resolve_aoi(None)  # type: ignore[arg-type]
    small = zoning_area(None, demo_size="small")
    assert small == demo_aoi("small") and small.kind == "demo"
    # 333 x 333 px of 30 m in Gauss-Krüger (EPSG:4546) = 99.80 km² planar; on the ellipsoid:
    assert small.area_km2 == pytest.approx(geodesic_km2(small.lonlat), rel=1e-5)
    assert small.area_km2 == pytest.approx(99.80, rel=1e-3)


def test_zoning_does_not_import_the_demo() -> None:
    code = (
        "import sys, shapely\n"
        "from geoeco.zoning.aoi import resolve_aoi, analysis_grid\n"
        "import geoeco.zoning.overlay.run\n"
        "analysis_grid(resolve_aoi(shapely.box(109.7, 38.28, 109.72, 38.3)), 100.0)\n"
        "print(sorted(m for m in sys.modules if 'demo' in m or 'workflows' in m))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"
