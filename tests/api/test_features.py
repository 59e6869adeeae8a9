"""OGC API - Features Parts 1-3 on the layer collections (through the test client).

Each conformance class declared is exercised here: core (paging capped not refused, unknown
parameters 400, 4- and 6-number bbox), GeoJSON (media type), Part 2 CRS (``crs``,
``bbox-crs``, ``Content-Crs``, axis order), Part 3 queryables and simple property filters.
Expected values come from the layer file read with geopandas (independent of the service's
index) or from hand-swapped coordinates; 610114 is 阎良区 (Yanliang District, Xi'an), whose
centre is about 109.2 °E, 34.7 °N.
"""

from __future__ import annotations

import pytest
import shapely
from fastapi.testclient import TestClient

from geoeco.catalog.layers import builtin_registry
from geoeco.catalog.sources import read_layer_vector

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
EPSG4326 = "http://www.opengis.net/def/crs/EPSG/0/4326"
EPSG4490 = "http://www.opengis.net/def/crs/EPSG/0/4490"
ITEMS = "/collections/admin.county/items"
BBOX = (108.0, 34.0, 110.0, 36.0)


@pytest.fixture(scope="module")
def counties():  # type: ignore[no-untyped-def]
    gdf = read_layer_vector(builtin_registry().get("admin.county"))
    return gdf[gdf.geometry.notna() & ~gdf.geometry.is_empty]


def test_conformance_lists_features_parts_1_to_3(client: TestClient) -> None:
    conf = set(client.get("/conformance").json()["conformsTo"])
    base = "http://www.opengis.net/spec/ogcapi-features-"
    assert {
        base + "1/1.0/conf/core",
        base + "1/1.0/conf/geojson",
        base + "2/1.0/conf/crs",
        base + "3/1.0/conf/queryables",
        base + "3/1.0/conf/queryables-query-parameters",
    } <= conf


def test_vector_collection_crs_members_and_links(client: TestClient) -> None:
    body = client.get("/collections/admin.county").json()
    assert body["itemType"] == "feature"
    assert body["crs"] == [CRS84, EPSG4326, EPSG4490] and body["storageCrs"] == EPSG4490
    rels = {lk["rel"]: lk for lk in body["links"]}
    assert rels["items"]["type"] == "application/geo+json"
    assert rels["http://www.opengis.net/def/rel/ogc/1.0/queryables"]["href"].endswith(
        "/collections/admin.county/queryables"
    )


def test_limit_is_capped_not_refused(client: TestClient) -> None:
    r = client.get(ITEMS, params={"limit": 5000})
    assert r.status_code == 200
    body = r.json()
    assert body["numberReturned"] == 1000 and body["numberMatched"] == 2891
    nxt = next(lk["href"] for lk in body["links"] if lk["rel"] == "next")
    assert "limit=1000" in nxt and "offset=1000" in nxt


def test_default_limit_is_the_documented_one(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    params = spec["paths"]["/collections/{collection_id}/items"]["get"]["parameters"]
    limit = next(p for p in params if p["name"] == "limit")
    assert limit["schema"]["default"] == 100 and "maximum" not in limit["schema"]
    assert "1000" in limit["description"]
    assert client.get(ITEMS).json()["numberReturned"] == 100


@pytest.mark.parametrize("query", ["foo=1", "limit=5&Limit=6", "bbox_crs=x", "f=html"])
def test_unknown_query_parameters_are_400(client: TestClient, problem, query: str) -> None:  # type: ignore[no-untyped-def]
    body = problem(client.get(f"{ITEMS}?{query}"), 400, "bad-request")
    assert "parameter" in body["detail"] or "format" in body["detail"]


def test_unknown_parameter_on_one_feature_is_400(client: TestClient, problem) -> None:  # type: ignore[no-untyped-def]
    """``limit`` belongs to the items page, not to one feature or the queryables."""
    one = problem(client.get(f"{ITEMS}/610114?limit=3"), 400, "bad-request")
    assert "'limit'" in one["detail"] and "crs" in one["detail"]
    q = problem(client.get("/collections/admin.county/queryables?x=1"), 400, "bad-request")
    assert "'x'" in q["detail"]
    assert client.get(f"{ITEMS}/610114").status_code == 200  # the same feature without it


def test_six_number_bbox_matches_four(client: TestClient, counties) -> None:  # type: ignore[no-untyped-def]
    expected = int(counties.intersects(shapely.box(*BBOX)).sum())
    four = client.get(ITEMS, params={"bbox": "108,34,110,36", "limit": 1}).json()
    six = client.get(ITEMS, params={"bbox": "108,34,-100,110,36,9000", "limit": 1}).json()
    assert four["numberMatched"] == six["numberMatched"] == expected


def test_bbox_crs_epsg_axis_order(client: TestClient, counties) -> None:  # type: ignore[no-untyped-def]
    expected = int(counties.intersects(shapely.box(*BBOX)).sum())
    for crs in (EPSG4326, EPSG4490):  # lat,lon order
        body = client.get(ITEMS, params={"bbox": "34,108,36,110", "bbox-crs": crs}).json()
        assert body["numberMatched"] == expected, crs
    lonlat = client.get(ITEMS, params={"bbox": "108,34,110,36", "bbox-crs": CRS84}).json()
    assert lonlat["numberMatched"] == expected


def test_crs_swaps_axes_and_sets_content_crs(client: TestClient) -> None:
    plain = client.get(f"{ITEMS}/610114")
    assert plain.headers["content-crs"] == f"<{CRS84}>"
    x, y = shapely.geometry.shape(plain.json()["geometry"]).centroid.coords[0]
    assert 109.0 < x < 109.4 and 34.5 < y < 34.9  # lon, lat
    for crs in (EPSG4326, EPSG4490):
        r = client.get(f"{ITEMS}/610114", params={"crs": crs})
        assert r.headers["content-crs"] == f"<{crs}>"
        a, b = shapely.geometry.shape(r.json()["geometry"]).centroid.coords[0]
        assert (a, b) == pytest.approx((y, x), abs=1e-9)  # lat, lon
    page = client.get(ITEMS, params={"crs": EPSG4326, "limit": 3})
    assert page.headers["content-crs"] == f"<{EPSG4326}>"
    first = page.json()["features"][0]["geometry"]["coordinates"]
    while isinstance(first[0], list):
        first = first[0]
    assert 3 < first[0] < 54 and 73 < first[1] < 136  # a lat then a lon in China


@pytest.mark.parametrize("param", ["crs", "bbox-crs"])
def test_unsupported_crs_is_400(client: TestClient, problem, param: str) -> None:  # type: ignore[no-untyped-def]
    url = f"{ITEMS}?{param}=http://www.opengis.net/def/crs/EPSG/0/3857"
    if param == "bbox-crs":
        url += "&bbox=1,2,3,4"
    body = problem(client.get(url), 400, "bad-request")
    assert "3857" in body["detail"]


def test_queryables_are_the_layer_columns(client: TestClient, counties) -> None:  # type: ignore[no-untyped-def]
    r = client.get("/collections/admin.county/queryables")
    assert r.status_code == 200 and r.headers["content-type"] == "application/schema+json"
    body = r.json()
    assert body["type"] == "object" and body["$id"].endswith("/admin.county/queryables")
    expected = {c for c in counties.columns if c != counties.geometry.name}
    assert set(body["properties"]) == expected
    assert body["properties"]["code"]["type"] == "string"


def test_property_filter_equality(client: TestClient, counties) -> None:  # type: ignore[no-untyped-def]
    expected = set(counties.loc[counties["province_code"] == "610000", "code"].astype(str))
    assert len(expected) > 50  # Shaanxi has about a hundred counties
    body = client.get(ITEMS, params={"province_code": "610000", "limit": 1000}).json()
    assert body["numberMatched"] == len(expected)
    assert {f["id"] for f in body["features"]} == expected
    both = client.get(ITEMS, params={"province_code": "610000", "bbox": "108,34,110,36"}).json()
    in_box = counties.intersects(shapely.box(*BBOX)) & (counties["province_code"] == "610000")
    assert both["numberMatched"] == int(in_box.sum())
    none = client.get(ITEMS, params={"province_code": "no-such"}).json()
    assert none["numberMatched"] == 0 and none["features"] == []


def test_raster_layers_are_not_features_collections(client: TestClient, problem) -> None:  # type: ignore[no-untyped-def]
    body = client.get("/collections").json()
    assert all(c["itemType"] == "feature" for c in body["collections"])
    raster = next(c for c in body["rasterLayers"] if c["id"] == "demo.landcover")
    assert "itemType" not in raster
    assert {lk["rel"] for lk in raster["links"]} == {"self", "tiles"}
    problem(client.get("/collections/demo.landcover/queryables"), 422, "InvalidInput")
