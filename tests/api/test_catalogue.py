"""The OGC API - Features style catalogue, through the test client.

Expected numbers: the user layers are described in conftest.py (105–107 °E, 34–36 °N);
``numberMatched`` for admin.county is recomputed here with geopandas ``intersects`` on the
layer's own frame; 610114 is 阎良区 (Yanliang District, Xi'an) in GB/T 2260.
"""

from __future__ import annotations

import re

import pytest
import shapely
from fastapi.testclient import TestClient

from geoeco.catalog.layers import builtin_registry
from geoeco.catalog.sources import read_layer_vector

BBOX = (108.0, 34.0, 110.0, 36.0)


@pytest.fixture(scope="module")
def county_matches() -> set[str]:
    """County codes intersecting BBOX, by geopandas on the layer frame."""
    gdf = read_layer_vector(builtin_registry().get("admin.county"))
    gdf = gdf[gdf.geometry.notna() & ~gdf.geometry.is_empty]
    return set(gdf.loc[gdf.intersects(shapely.box(*BBOX)), "code"].astype(str))


def test_landing_and_conformance(client: TestClient) -> None:
    r = client.get("/")
    assert r.status_code == 200
    rels = {link["rel"]: link["href"] for link in r.json()["links"]}
    assert {"self", "service-desc", "service-doc", "conformance", "data"} <= set(rels)
    assert rels["data"].endswith("/collections")
    conf = client.get("/conformance").json()["conformsTo"]
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson" in conf
    assert client.get("/openapi.json").status_code == 200


def test_health(client: TestClient) -> None:
    body = client.get("/health").json()
    # 23 built-in manifests in layers/ plus the 2 user layers of the fixture
    assert body["status"] == "ok" and body["version"]
    assert body["layers"] == len(builtin_registry()) + 2


def test_collections_list_status_and_legend(client: TestClient) -> None:
    body = client.get("/collections").json()
    features = {c["id"] for c in body["collections"]}
    rasters = {c["id"] for c in body["rasterLayers"]}
    # Features clients (GDAL 3.6 reads every entry of `collections`) see only vector layers
    assert "admin.county" in features and not {"demo.landcover", "user.sens"} & features
    assert {"demo.landcover", "user.sens", "user.grad"} <= rasters
    cols = {c["id"]: c for c in body["collections"] + body["rasterLayers"]}
    assert all(c["status"] in {"real", "approximation", "synthetic"} for c in cols.values())
    assert cols["admin.county"]["status"] == "real"
    assert cols["demo.landcover"]["status"] == "synthetic"
    assert cols["admin.county"]["itemType"] == "feature"
    rels = {link["rel"] for link in cols["admin.county"]["links"]}
    assert "items" in rels
    sens = cols["user.sens"]
    assert sens["categorical"] is True
    assert sens["legend"][4] == {
        "code": 5,
        "zh": "极敏感",
        "en": "extremely sensitive",
        "colour": "#a50026",
    }
    tiles = [link for link in sens["links"] if link["rel"] == "tiles"][0]
    assert tiles["href"].endswith("/tiles/user.sens/{z}/{x}/{y}.png")


def test_raster_collection_extent_grid_units(client: TestClient) -> None:
    r = client.get("/collections/user.grad")
    assert r.status_code == 200
    assert r.headers["X-Geoeco-Layer-Status"] == "real"
    body = r.json()
    assert body["status"] == "real" and body["units"] == "1" and body["legend"] == []
    assert body["extent"]["spatial"]["bbox"][0] == pytest.approx([105, 34, 107, 36], abs=1e-6)
    grid = body["extent"]["grid"]
    assert (grid["width"], grid["height"], grid["dtype"], grid["nodata"]) == (
        200,
        200,
        "float32",
        -9999.0,
    )
    assert grid["resolution"] == pytest.approx([0.01, 0.01])
    assert body["crs"] == "EPSG:4490"


def test_vector_collection_extent(client: TestClient) -> None:
    body = client.get("/collections/admin.county").json()
    x0, y0, x1, y1 = body["extent"]["spatial"]["bbox"][0]
    # China spans roughly 73.5–135.1 °E and 3.8–53.6 °N (incl. the South China Sea islands)
    assert 73 < x0 < 74 and 135 < x1 < 136 and 3 < y0 < 5 and 53 < y1 < 54


def test_items_paging_with_bbox(client: TestClient, county_matches: set[str]) -> None:
    n = len(county_matches)
    assert n > 25  # the bbox holds several pages of 10
    url = "/collections/admin.county/items?bbox=" + ",".join(map(str, BBOX)) + "&limit=10"
    seen: list[str] = []
    pages = 0
    while url:
        r = client.get(url)
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("application/geo+json")
        body = r.json()
        assert body["type"] == "FeatureCollection"
        assert body["layer"]["status"] == "real"
        assert body["numberMatched"] == n
        assert body["numberReturned"] == len(body["features"]) <= 10
        rels = {link["rel"]: link["href"] for link in body["links"]}
        assert ("prev" in rels) == (pages > 0)
        seen += [f["id"] for f in body["features"]]
        url = rels.get("next", "").replace("http://testserver", "")
        pages += 1
    assert pages == -(-n // 10)
    assert len(seen) == len(set(seen)) == n
    assert set(seen) == county_matches


def test_items_prev_link_offset(client: TestClient) -> None:
    body = client.get("/collections/admin.county/items?limit=7&offset=10").json()
    rels = {link["rel"]: link["href"] for link in body["links"]}
    assert re.search(r"offset=3\b", rels["prev"]) and re.search(r"offset=17\b", rels["next"])
    assert body["numberMatched"] == 2891  # admin.county expect.feature_count
    assert body["numberReturned"] == 7


def test_items_default_limit(client: TestClient) -> None:
    body = client.get("/collections/admin.county/items").json()
    assert body["numberReturned"] == 100


def test_item_by_id(client: TestClient) -> None:
    r = client.get("/collections/admin.county/items/610114")
    assert r.status_code == 200
    feat = r.json()
    assert feat["type"] == "Feature" and feat["id"] == "610114"
    assert feat["properties"]["name"] == "阎良区"
    assert feat["layer"]["status"] == "real"
    assert feat["geometry"]["type"] in {"Polygon", "MultiPolygon"}
    assert r.headers["X-Geoeco-Layer-Status"] == "real"


def test_unknown_collection(client: TestClient, problem) -> None:  # type: ignore[no-untyped-def]
    body = problem(client.get("/collections/nope"), 404, "LayerNotFound")
    assert "nope" in body["detail"] and body["instance"] == "/collections/nope"
    problem(client.get("/collections/nope/items"), 404, "LayerNotFound")


def test_unknown_feature(client: TestClient, problem) -> None:  # type: ignore[no-untyped-def]
    body = problem(client.get("/collections/admin.county/items/999999"), 404)
    assert "999999" in body["detail"]


@pytest.mark.parametrize(
    "bbox", ["1,2,3", "a,b,c,d", "110,34,108,36", "108,34,110,34", "0,-95,10,10", "1,2,3,nan"]
)
def test_bad_bbox(client: TestClient, problem, bbox: str) -> None:  # type: ignore[no-untyped-def]
    body = problem(client.get(f"/collections/admin.county/items?bbox={bbox}"), 422)
    assert body["type"].endswith("/request-validation")
    assert body["errors"][0]["field"] == "query.bbox"


@pytest.mark.parametrize(
    ("param", "field"),
    [("limit=0", "limit"), ("offset=-1", "offset"), ("limit=x", "limit")],
)
def test_bad_paging(client: TestClient, problem, param: str, field: str) -> None:  # type: ignore[no-untyped-def]
    body = problem(client.get(f"/collections/admin.county/items?{param}"), 422)
    assert body["errors"][0]["field"] == f"query.{field}"
    assert f"query.{field}" in body["detail"]


def test_raster_has_no_items(client: TestClient, problem) -> None:  # type: ignore[no-untyped-def]
    body = problem(client.get("/collections/user.grad/items"), 422, "InvalidInput")
    assert "raster" in body["detail"]
