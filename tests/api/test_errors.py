"""Every error is RFC 7807 problem+json: geoeco errors by the one table, validation errors,
unknown routes, 405, 413, and unhandled 500s, never with a stack trace or a server path.

A small test router is mounted on the app to raise each error class on demand.
"""

from __future__ import annotations

import inspect
import json
import time
from typing import Annotated

import pytest
from fastapi import APIRouter
from fastapi.testclient import TestClient
from geoeco_api.errors import STATUS_CODES, scrub, server_side, status_for
from geoeco_api.main import create_app
from geoeco_api.settings import Settings
from pydantic import BaseModel, Field

import geoeco.core.errors as ge

ERRORS = {
    name: cls
    for name, cls in inspect.getmembers(ge, inspect.isclass)
    if issubclass(cls, ge.GeoecoError)
}
#: The statuses the brief fixes (decisions documented in api/errors.py and docs/api.md).
EXPECTED = {
    "GeoecoError": 400,
    "LayerNotFound": 404,
    "LayerExists": 409,
    "InvalidInput": 422,
    "InvalidFields": 422,
    "InvalidJSON": 400,
    "InvalidJSONValue": 422,
    "CRSError": 422,
    "GridMismatch": 422,
    "InvalidGeometry": 422,
    "EmptyArea": 422,
    "OutsideChina": 422,
    "UnitsError": 422,
    "PartialCoverage": 422,
    "UnsafeDataSource": 422,
    "OversizeRequest": 413,
    "ManifestError": 422,
    "DataSourceError": 422,
    "RemoteSourceError": 502,
    "InvalidProcessInputs": 422,
    "ProcessInputTooLarge": 413,
    "ProcessNotFound": 404,
}


class Body(BaseModel):
    area_km2: float = Field(gt=0)
    name: str


router = APIRouter()


@router.get("/raise/{name}")
def raise_error(name: str) -> None:
    raise ERRORS[name](f"{name} happened while reading /srv/geoeco/secret/file.tif")


@router.get("/server-side")
def server_data() -> None:
    with server_side("layer 'x'"):
        raise ge.DataSourceError("x.tif: not a readable raster")


@router.get("/boom")
def boom() -> None:
    raise RuntimeError("disk /var/lib/geoeco/cache exploded")


@router.post("/echo")
def echo(body: Body) -> dict[str, float]:
    return {"area_km2": body.area_km2}


class Many(BaseModel):
    values: list[Annotated[float, Field(gt=0)]]


@router.post("/many")
def many(body: Many) -> int:
    return len(body.values)


@router.get("/long-error")
def long_error() -> None:
    raise ge.InvalidInput("unknown project type '" + "x" * 5_000_000 + "'; known: a, b")


@pytest.fixture
def eclient(settings: Settings) -> TestClient:
    app = create_app(settings.model_copy(update={"max_body_bytes": 1000}))
    app.include_router(router)
    return TestClient(app, raise_server_exceptions=False)


def test_table_covers_every_geoeco_error() -> None:
    assert set(ERRORS) == set(EXPECTED), "a new geoeco error needs a row in STATUS_CODES"
    for name, cls in ERRORS.items():
        assert cls in STATUS_CODES
        assert status_for(cls("x")) == EXPECTED[name], name


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_geoeco_error_problem(eclient: TestClient, problem, name: str) -> None:  # type: ignore[no-untyped-def]
    body = problem(eclient.get(f"/raise/{name}"), EXPECTED[name], name)
    assert body["type"] == f"https://geoeco.dev/problems/{name}"
    assert body["instance"] == f"/raise/{name}"
    assert "/srv/" not in body["detail"] and "'file.tif'" in body["detail"]


def test_problem_types_are_distinct(eclient: TestClient) -> None:
    types = {eclient.get(f"/raise/{n}").json()["type"] for n in EXPECTED}
    assert len(types) == len(EXPECTED)


def test_server_side_data_error_is_500(eclient: TestClient, problem) -> None:  # type: ignore[no-untyped-def]
    body = problem(eclient.get("/server-side"), 500, "DataSourceError")
    assert body["detail"] == "the server could not read the data of layer 'x'"


def test_unhandled_error_is_500_without_details(  # type: ignore[no-untyped-def]
    eclient: TestClient, problem, caplog: pytest.LogCaptureFixture
) -> None:
    body = problem(eclient.get("/boom"), 500, "internal-error")
    assert "exploded" not in body["detail"] and "/var/" not in eclient.get("/boom").text
    assert any("unhandled error" in rec.message for rec in caplog.records)  # logged


def test_validation_error_names_the_field(eclient: TestClient, problem) -> None:  # type: ignore[no-untyped-def]
    body = problem(eclient.post("/echo", json={"area_km2": -1, "name": "a"}), 422)
    assert body["type"] == "https://geoeco.dev/problems/request-validation"
    assert body["errors"][0]["field"] == "body.area_km2"
    assert "body.area_km2" in body["detail"]
    body = problem(eclient.post("/echo", json={"area_km2": 1}), 422)
    assert [e["field"] for e in body["errors"]] == ["body.name"]
    body = problem(
        eclient.post("/echo", content=b"{not json", headers={"content-type": "application/json"}),
        422,
    )
    assert body["errors"][0]["field"].startswith("body")
    assert eclient.post("/echo", json={"area_km2": 2, "name": "a"}).json() == {"area_km2": 2}


def test_unknown_route_and_method(eclient: TestClient, problem) -> None:  # type: ignore[no-untyped-def]
    body = problem(eclient.get("/no/such/route"), 404, "not-found")
    assert body["instance"] == "/no/such/route"
    r = eclient.delete("/conformance")
    body = problem(r, 405, "method-not-allowed")
    assert "GET" in r.headers["allow"]


def test_oversize_body_by_content_length(eclient: TestClient, problem) -> None:  # type: ignore[no-untyped-def]
    body = problem(eclient.post("/echo", content=b"x" * 1001), 413, "payload-too-large")
    assert "1000" in body["detail"]


def test_oversize_streamed_body(eclient: TestClient, problem) -> None:  # type: ignore[no-untyped-def]
    def chunks():  # type: ignore[no-untyped-def]
        for _ in range(5):
            yield b"y" * 300  # 1500 bytes without a Content-Length header

    r = eclient.post("/echo", content=chunks(), headers={"content-type": "application/json"})
    problem(r, 413, "payload-too-large")
    assert r.status_code == 413


def test_scrub_paths() -> None:
    assert scrub("open /a/b/c.tif failed") == "open 'c.tif' failed"
    assert scrub(r"open C:\data\x.gpkg failed") == "open 'x.gpkg' failed"
    assert scrub("bbox 1/2 is fine") == "bbox 1/2 is fine"


def test_validation_errors_are_capped(eclient: TestClient, problem) -> None:  # type: ignore[no-untyped-def]
    # 50 values <= 0 -> 50 errors; the answer lists the first 20 and counts the other 30.
    body = problem(eclient.post("/many", json={"values": [-1] * 50}), 422)
    assert len(body["errors"]) == 20 and body["errorsOmitted"] == 30
    assert [e["field"] for e in body["errors"][:2]] == ["body.values.0", "body.values.1"]
    assert body["detail"].endswith("(and 47 more errors)")


def test_long_echoed_value_is_clipped(eclient: TestClient, problem) -> None:  # type: ignore[no-untyped-def]
    r = eclient.get("/long-error")
    body = problem(r, 422, "InvalidInput")
    assert len(r.content) < 2_000
    # the quoted run is ' + 5,000,000 x + '; = 5,000,003 characters, cut to its first 200
    assert body["detail"] == "unknown project type '" + "x" * 199 + "…[5000003 chars] known: a, b"


def test_screen_with_200k_unknown_keys_is_small_and_fast(client: TestClient, problem) -> None:  # type: ignore[no-untyped-def]
    body: dict[str, object] = {"geometry": {"type": "Point", "coordinates": [109.67, 38.23]}}
    body.update({f"k{i}": i for i in range(200_000)})
    raw = json.dumps(body).encode()
    assert len(raw) > 3_000_000
    t = time.perf_counter()
    r = client.post("/screen", content=raw, headers={"Content-Type": "application/json"})
    took = time.perf_counter() - t
    out = problem(r, 422, "request-validation")
    assert len(r.content) < 2_000, len(r.content)
    assert len(out["errors"]) == 1 and out["errors"][0]["field"] == "body"
    assert "'k0', 'k1', 'k2', 'k3', 'k4' and 199995 more" in out["detail"]
    assert took < 3.0, took  # was 13 s and a 27.6 MB answer
