"""The ``inputs`` process over HTTP (TestClient): catalogs come from the server's
configuration only (a body naming one is refused 4xx), hostile inputs are 4xx problem+json,
the OGC description lists the inputs, and a job on the loopback fixture (the server's
configured catalogs pointed at it) writes the folder and answers its summary."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import shapely
from fastapi.testclient import TestClient
from geoeco_api.main import create_app
from geoeco_api.settings import Settings

from geoeco.inputs.config import CatalogConfig

from .fixture import COUNTY_BOX, COUNTY_YEAR

COUNTY = shapely.geometry.mapping(shapely.box(*COUNTY_BOX))


@pytest.fixture
def client(tmp_path: Path) -> TestClient:
    settings = Settings(
        data_dir=tmp_path / "data", cache_dir=tmp_path / "cache", rate_limit_per_minute=0
    )
    return TestClient(create_app(settings), raise_server_exceptions=False)


def _problem(r: Any, field: str) -> dict[str, Any]:
    assert 400 <= r.status_code < 500, (r.status_code, r.text[:300])
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    fields = [e["field"] for e in body.get("errors", [])]
    assert any(f == field or f.startswith(field + ".") for f in fields), body
    assert "/tmp/" not in r.text and "/work/" not in r.text and "Traceback" not in r.text
    return body


@pytest.mark.parametrize(
    ("inputs", "field"),
    [
        ({"aoi": "610802", "catalog": "http://127.0.0.1:1/catalog.json"}, "catalog"),
        ({"aoi": "610802", "catalogs": {"planetary-computer": "http://evil/"}}, "catalogs"),
        ({"aoi": "610802", "catalog_url": "file:///etc/passwd"}, "catalog_url"),
        ({"aoi": "999999"}, "aoi"),
        ({"aoi": "610802", "year": 1990}, "year"),
        ({"aoi": "610802", "res": 0}, "res"),
        ({"year": 2020}, "aoi"),
        ({"aoi": {"type": "Point", "coordinates": [109.7, 38.3]}}, "aoi"),
        ({"aoi": "610802", "ndvi": "landsat"}, "ndvi"),
        ({"aoi": "610802", "ndvi": "sentinel-2"}, "ndvi"),  # 7,000 km² > 1,000 km²
    ],
)
def test_hostile_inputs_are_refused_4xx(
    client: TestClient, inputs: dict[str, Any], field: str
) -> None:
    with client as c:
        r = c.post("/processes/inputs/execution", json={"inputs": inputs})
    body = _problem(r, field)
    assert 400 <= r.status_code < 500 and body["status"] == r.status_code
    assert field in {e["field"].split(".")[0] for e in body["errors"]}


def test_process_description_has_no_catalog_input(client: TestClient) -> None:
    with client as c:
        doc = c.get("/processes/inputs").json()
    assert set(doc["inputs"]) == {"aoi", "year", "res", "allow_partial", "ndvi"}
    assert doc["inputs"]["ndvi"]["schema"]["enum"] == ["modis", "sentinel-2"]
    assert doc["inputs"]["aoi"]["minOccurs"] == 1
    assert doc["inputs"]["year"]["schema"]["maximum"] == 2021


def _catalogs_toml(catalogs: dict[str, CatalogConfig]) -> str:
    """A catalogs file as an operator writes it (TOML strings quoted as JSON strings)."""
    lines = []
    for key, c in catalogs.items():
        lines += [f"[catalogs.{key}]", f"kind = {json.dumps(c.kind)}", f"url = {json.dumps(c.url)}"]
        lines.append(f"allowed_prefixes = {json.dumps(list(c.allowed_prefixes))}")
    return "\n".join(lines) + "\n"


def test_inputs_job_on_the_configured_catalogs(
    base: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    loopback = {
        "planetary-computer": CatalogConfig.http_mirror(base + "catalog.json", name="configured"),
        "isric-soilgrids": CatalogConfig(
            name="configured-soil",
            kind="files",
            url=base + "soilgrids/",
            allowed_prefixes=(base + "soilgrids/",),
        ),
    }
    # the server's configuration (what an operator sets: GEOECO_INPUT_CATALOGS, a catalogs
    # TOML in geoeco/data/catalogs.toml's format), read by the job workers too
    cfg = tmp_path / "catalogs.toml"
    cfg.write_text(_catalogs_toml(loopback), encoding="utf-8")
    monkeypatch.setenv("GEOECO_INPUT_CATALOGS", str(cfg))
    settings = Settings(
        data_dir=tmp_path / "data", cache_dir=tmp_path / "cache", rate_limit_per_minute=0
    )
    assert settings.input_catalogs == cfg
    inputs = {"aoi": COUNTY, "year": COUNTY_YEAR, "res": 250}
    with TestClient(create_app(settings), raise_server_exceptions=False) as c:
        r = c.post("/processes/inputs/execution", json={"inputs": inputs})
        assert r.status_code == 200, r.text[:500]
        doc = r.json()
        summary = doc["summary"]
        assert summary["status"] == "approximation" and "out" not in summary
        assert set(summary["coverage_share"].values()) == {1.0}
        titles = {f["title"]: f["href"] for f in doc["files"]}
        assert {"inputs.json", "erosion.toml", "precip_monthly.tif", "dem.tif"} <= set(titles)
        manifest = c.get(titles["inputs.json"]).json()
        assert manifest["kind"] == "geoeco-inputs"
        # every source was read from the operator's loopback catalogs, none from the public ones
        assert {s["catalog"] for s in manifest["sources"]} == {
            "planetary-computer",
            "isric-soilgrids",
        }
        assert all(s["catalog_url"].startswith(base) for s in manifest["sources"])
        assert "/tmp/" not in r.text
