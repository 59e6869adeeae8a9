"""The ``trend`` and ``change`` processes over HTTP (issue 18 item 5): a synchronous job on
the synthetic series with its files, and hostile inputs answered 4xx problem+json naming the
input, never a 500 or a server path."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from geoeco_api.settings import Settings

from .conftest import assert_problem

RAW_BODIES = ['{"inputs": {"stack": ', "[]", '{"inputs": {"stack": {"2001": 5}}}', "\xff"]
BAD: list[tuple[str, dict[str, Any], str]] = [
    ("trend", {"stack": {"1066": "user.x"}}, "stack"),
    ("trend", {"stack": {"2001": "no.such"}, "min_years": 3}, "stack.2001"),
    ("trend", {"stack": {str(2000 + i): "no.such" for i in range(101)}}, "stack"),
    ("trend", {"alpha": 1.5}, "alpha"),
    ("trend", {"variance": "yue_wang"}, "variance"),
    ("trend", {"variable": "a/../../b"}, "variable"),
    ("trend", {"precipitation": {"2001": "no.such"}}, "precipitation"),
    ("change", {"before": "no.such", "after": "no.such"}, "before"),
    ("change", {"after": "admin.province"}, "before"),
    ("change", {"zoning_job": "../../etc"}, "zoning_job"),
    ("change", {"zoning_job": "0" * 32}, "zoning_job"),
    ("change", {"table": "nope"}, "table"),
    ("effectiveness", {}, "zoning_job"),
    ("effectiveness", {"zoning_job": "../../etc"}, "zoning_job"),
    ("effectiveness", {"zoning_job": "0" * 32}, "zoning_job"),
    ("effectiveness", {"zoning_job": "0" * 32, "stack": {"1066": "user.x"}}, "stack"),
    ("effectiveness", {"zoning_job": "0" * 32, "landcover": "no.such"}, "landcover"),
    ("effectiveness", {"zoning_job": "0" * 32, "variable": "a/../../b"}, "variable"),
]


@pytest.mark.parametrize(("process", "inputs", "field"), BAD)
def test_bad_inputs_are_4xx_naming_the_input(
    client: TestClient, tmp_path, process: str, inputs: dict[str, Any], field: str
) -> None:
    with client as c:
        r = c.post(f"/processes/{process}/execution", json={"inputs": inputs})
        assert r.status_code in (413, 422), r.text[:300]
        body = assert_problem(r, r.status_code)
        fields = [e["field"] for e in body.get("errors", [])]
        assert any(f == field or f.startswith((field + ".", field + "[")) for f in fields), body
        assert str(tmp_path) not in r.text


@pytest.mark.parametrize("process", ["trend", "change", "effectiveness"])
def test_malformed_bodies_are_4xx(client: TestClient, process: str) -> None:
    with client as c:
        for raw in RAW_BODIES:
            r = c.post(
                f"/processes/{process}/execution",
                content=raw.encode("latin-1"),
                headers={"content-type": "application/json"},
            )
            assert 400 <= r.status_code < 500, (raw, r.status_code, r.text[:200])
            assert_problem(r, r.status_code)


def test_trend_job_on_the_synthetic_series(settings: Settings, make_client) -> None:
    with make_client(settings) as c:
        r = c.post("/processes/trend/execution", json={"inputs": {"demo_size": "small"}})
        assert r.status_code == 200, r.text[:500]
        doc = r.json()
        ndvi = doc["summary"]["variables"]["ndvi"]
        assert ndvi["n_years"] == 20 and ndvi["class_area_km2"]["improvement"] > 0
        titles = {f["title"] for f in doc["files"]}
        assert {"ndvi_trend_class.tif", "ndvi_restrend_slope.tif", "summary.json"} <= titles
        tif = next(f["href"] for f in doc["files"] if f["title"] == "soil_loss_p.tif")
        assert c.get(tif).status_code == 200


def test_effectiveness_job_on_a_demo_zoning_job(
    settings: Settings, make_client, demo_run_small
) -> None:
    """A synchronous job over HTTP: one row per unit and restoration patch of the zoning job."""
    import shutil

    import geopandas as gpd

    job = "e5" * 16
    zones = demo_run_small / "zones"
    with make_client(settings) as c:
        shutil.copytree(zones, c.app.state.job_service.results_dir / job)
        inputs = {"zoning_job": job, "demo_size": "small"}
        r = c.post("/processes/effectiveness/execution", json={"inputs": inputs})
        assert r.status_code == 200, r.text[:500]
        doc = r.json()
        n_units = len(gpd.read_file(zones / "zones.gpkg", layer="units"))
        n_patches = len(gpd.read_file(zones / "zones.gpkg", layer="restoration"))
        assert doc["summary"]["rows"] == n_units + n_patches
        assert doc["summary"]["summaries"]["unit"]["n"] == n_units
        titles = {f["title"] for f in doc["files"]}
        assert {"ndvi_effectiveness.csv", "ndvi_effectiveness.json"} <= titles
        csv = next(f["href"] for f in doc["files"] if f["title"] == "ndvi_effectiveness.csv")
        assert c.get(csv).status_code == 200
