"""Parsing user geometries: formats, CRS, swapped coordinates, repair and limits.

Expected values are worked out by hand from the literal coordinates in each test; the GCJ-02
reference is geoeco.core.crs's published forward formula (its own doctest checks Tiananmen).
"""

from __future__ import annotations

import json

import pytest
import shapely

from geoeco.core.crs import wgs84_to_gcj02
from geoeco.core.errors import CRSError, EmptyArea, InvalidGeometry, OversizeRequest
from geoeco.core.geometry import (
    area_km2,
    iter_features,
    normalise_crs,
    parse_geometry,
    parse_point,
)

SQUARE = {
    "type": "Polygon",
    "coordinates": [[[105, 38], [105.01, 38], [105.01, 38.01], [105, 38.01], [105, 38]]],
}


@pytest.mark.parametrize(
    "obj",
    [
        SQUARE,
        json.dumps(SQUARE),
        {"type": "Feature", "properties": {"name": "a"}, "geometry": SQUARE},
        {"type": "FeatureCollection", "features": [{"type": "Feature", "geometry": SQUARE}]},
        shapely.geometry.shape(SQUARE),
        "POLYGON ((105 38, 105.01 38, 105.01 38.01, 105 38.01, 105 38))",
        "SRID=4490;POLYGON ((105 38, 105.01 38, 105.01 38.01, 105 38.01, 105 38))",
    ],
)
def test_formats_give_the_same_geometry(obj: object) -> None:
    p = parse_geometry(obj)
    assert p.geometry.equals(shapely.geometry.shape(SQUARE))
    assert p.notes == () and not p.swapped and not p.repaired


def test_feature_properties_and_id_kept() -> None:
    p = parse_geometry({"type": "Feature", "id": 7, "properties": {"n": 1}, "geometry": SQUARE})
    assert p.properties == {"n": 1} and p.id == "7"


def test_crs_names() -> None:
    assert normalise_crs("WGS84") == "wgs84"
    assert normalise_crs("urn:ogc:def:crs:EPSG::4490") == "cgcs2000"
    assert normalise_crs("gcj-02") == "gcj02"
    with pytest.raises(CRSError, match="not accepted"):
        normalise_crs("EPSG:3857")
    with pytest.raises(CRSError):
        parse_geometry("SRID=3857;POINT (1 2)")


def test_gcj02_converted_back_to_wgs84() -> None:
    """A WGS 84 square shifted forward to GCJ-02 comes back within 1e-9 degrees."""
    sq = shapely.geometry.shape(SQUARE)
    g = shapely.transform(sq, lambda c: shapely.get_coordinates(shapely.points(c)))
    x, y = wgs84_to_gcj02(shapely.get_coordinates(sq)[:, 0], shapely.get_coordinates(sq)[:, 1])
    gcj = shapely.Polygon(list(zip(x, y, strict=True)))
    p = parse_geometry(gcj, crs="gcj02")
    assert p.input_crs == "gcj02" and "GCJ-02" in p.notes[0]
    assert shapely.equals_exact(p.geometry, g, tolerance=1e-9)


def test_swapped_point_auto_and_error() -> None:
    """ "lon" 38.2, "lat" 109.7 cannot be a place in China; exchanged it is (Yulin)."""
    p = parse_point(38.2, 109.7)
    assert p.swapped and (p.geometry.x, p.geometry.y) == (109.7, 38.2)
    assert "swapped back" in p.notes[0]
    with pytest.raises(InvalidGeometry, match="longitude first"):
        parse_point(38.2, 109.7, swap="error")
    with pytest.raises(InvalidGeometry, match="out of range"):
        parse_point(38.2, 109.7, swap="never")


def test_swapped_polygon() -> None:
    swapped = shapely.transform(shapely.geometry.shape(SQUARE), lambda c: c[:, ::-1].copy())
    p = parse_geometry(swapped)
    assert p.swapped and p.geometry.equals(shapely.geometry.shape(SQUARE))


def test_not_swapped_outside_china() -> None:
    """(2.35, 48.85) is Paris: outside China either way round, taken as given, no note."""
    p = parse_point(2.35, 48.85)
    assert not p.swapped and p.notes == ()


def test_latitude_out_of_range() -> None:
    with pytest.raises(InvalidGeometry, match="latitude out of range"):
        parse_point(10.0, 200.0)


def test_bow_tie_repaired_with_note() -> None:
    """The bow-tie (0,0)-(s,s)-(s,0)-(0,s) is two triangles of area s²/4 each: half the
    square."""
    bow = "POLYGON ((105 38, 105.01 38.01, 105.01 38, 105 38.01, 105 38))"
    p = parse_geometry(bow)
    assert p.repaired and p.geometry.geom_type == "MultiPolygon" and p.geometry.is_valid
    assert "Self-intersection" in p.notes[0] and "make_valid" in p.notes[0]
    assert p.geometry.area == pytest.approx(0.5 * 0.01 * 0.01, rel=1e-9)
    with pytest.raises(InvalidGeometry, match="Self-intersection"):
        parse_geometry(bow, repair=False)


def test_empty_geometries() -> None:
    for obj in ("POLYGON EMPTY", {"type": "FeatureCollection", "features": []}):
        with pytest.raises(EmptyArea):
            parse_geometry(obj)
    with pytest.raises(EmptyArea):
        parse_geometry({"type": "Feature", "properties": {}, "geometry": None})


def test_bad_text() -> None:
    with pytest.raises(InvalidGeometry, match="not GeoJSON or WKT"):
        parse_geometry("POLYGON ((1 2, 3")
    with pytest.raises(InvalidGeometry, match="not valid JSON"):
        parse_geometry("{not json")
    with pytest.raises(InvalidGeometry, match="expected GeoJSON"):
        parse_geometry(42)


def test_vertex_and_area_limits() -> None:
    """A 0.01° square at 38°N is 1.1132 km × 0.8773 km ≈ 0.975 km² (equal-area)."""
    circle = shapely.Point(105, 38).buffer(0.01, quad_segs=64)  # 257 vertices
    with pytest.raises(OversizeRequest, match="257 vertices; at most 100"):
        parse_geometry(circle, max_vertices=100)
    assert area_km2(shapely.geometry.shape(SQUARE)) == pytest.approx(0.975, abs=0.002)
    with pytest.raises(OversizeRequest, match="at most 0.5 km²"):
        parse_geometry(SQUARE, max_area_km2=0.5)
    assert parse_geometry(SQUARE, max_area_km2=1.0).geometry.area > 0


def test_iter_features() -> None:
    fc = {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "id": "a", "properties": {"k": 1}, "geometry": SQUARE},
            {"type": "Feature", "properties": {}, "geometry": None},
        ],
    }
    items = list(iter_features(fc))
    assert [i[0] for i in items] == ["a", None] and items[1][1] is None


# -- GeoJSON structure (issue 12: shapely's own errors and RecursionError were 500s) ---------
@pytest.mark.parametrize(
    ("obj", "words"),
    [
        ({"type": "Polygonn", "coordinates": SQUARE["coordinates"]}, "unknown GeoJSON type"),
        ({"type": None, "coordinates": [1, 2]}, "unknown GeoJSON type None"),
        ({"coordinates": [105, 38]}, "unknown GeoJSON type None"),
        ({"type": "Point", "coordinates": [[105, 38]]}, "must be a position [x, y]"),
        ({"type": "Point", "coordinates": [105]}, "must be a position [x, y]"),
        ({"type": "Point", "coordinates": [105, "x"]}, "must be a position [x, y]"),
        ({"type": "Point", "coordinates": [105, None]}, "must be a position [x, y]"),
        ({"type": "Polygon", "coordinates": [[105, 38]]}, "coordinates[0] must be an array of"),
        ({"type": "Polygon", "coordinates": None}, "coordinates must be an array"),
        ({"type": "Polygon", "coordinates": [[[105, 38], [105.1, 38]]]}, "not a valid Polygon"),
        (
            {"type": "MultiPolygon", "coordinates": SQUARE["coordinates"]},
            "coordinates[0][0] must be an array of positions",
        ),
        ({"type": "Point", "coordinates": [105, 10**400]}, "must be a position [x, y]"),
        ({"type": "Point", "coordinates": [105, float("nan")]}, "of finite numbers"),
        ({"type": "Point", "coordinates": [True, False]}, "must be a position [x, y]"),
        ({"type": "GeometryCollection", "geometries": 5}, "needs a 'geometries' array"),
        ({"type": "Feature", "geometry": 5}, "must be a GeoJSON object"),
        ({"type": "Feature", "geometry": SQUARE, "properties": [1]}, "object or null"),
        ({"type": "FeatureCollection", "features": 5}, "needs a 'features' array"),
        ({"type": "FeatureCollection", "features": [5]}, "features[0] is not a GeoJSON Feature"),
    ],
)
def test_bad_geojson_is_invalid_geometry_naming_the_problem(obj: object, words: str) -> None:
    with pytest.raises(InvalidGeometry) as e:
        parse_geometry(obj)
    assert words in str(e.value)


def test_deep_coordinates_and_collections_are_refused() -> None:
    coords: object = [105, 38]
    for _ in range(900):  # parses as JSON; shapely recursed past Python's limit on it
        coords = [coords]
    with pytest.raises(InvalidGeometry, match="must be a position"):
        parse_geometry({"type": "Point", "coordinates": coords})
    with pytest.raises(InvalidGeometry, match="nested more than 64 levels deep"):
        parse_geometry(json.dumps({"type": "Point", "coordinates": coords}))
    gc: dict = {"type": "Point", "coordinates": [105, 38]}
    for _ in range(6):
        gc = {"type": "GeometryCollection", "geometries": [gc]}
    with pytest.raises(InvalidGeometry, match="nested more than 4 deep"):
        parse_geometry(gc)


def test_feature_properties_must_be_sound_json() -> None:
    feature = {"type": "Feature", "geometry": SQUARE, "properties": {"name": "\ud800"}}
    with pytest.raises(InvalidGeometry, match=r"the Feature\.properties\.name: .*surrogate"):
        parse_geometry(feature)
    props: dict = {}
    inner = props
    for _ in range(100):
        inner["a"] = {}
        inner = inner["a"]
    feature["properties"] = props
    with pytest.raises(InvalidGeometry, match="nested more than 64 levels deep"):
        parse_geometry(feature)


def test_point_with_z_and_legacy_crs_of_wrong_shape() -> None:
    p = parse_geometry({"type": "Point", "coordinates": [105, 38, 1200]})
    assert p.geometry.has_z and p.geometry.coords[0] == (105.0, 38.0, 1200.0)
    # a "crs" member whose properties are not an object is ignored, not a crash
    obj = {**SQUARE, "crs": {"type": "name", "properties": ["EPSG:4490"]}}
    assert parse_geometry(obj).input_crs == "wgs84"


def test_iter_features_tolerates_bad_members() -> None:
    fc = {"type": "FeatureCollection", "features": [5, {"geometry": SQUARE, "properties": 3}]}
    rows = list(iter_features(fc))
    assert rows == [(None, 5, {}), (None, SQUARE, {})]
    with pytest.raises(InvalidGeometry, match="'features' array"):
        list(iter_features({"type": "FeatureCollection", "features": "abc"}))
