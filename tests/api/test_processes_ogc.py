"""OGC API - Processes Part 1 documents checked against the standard's own JSON schemas.

The schemas (``tests/data/ogcapi-processes``, see its README for the source commit) are
OpenAPI 3.0 schema objects (JSON Schema draft 4); they are loaded with jsonschema's draft 4
validator and checked with its format checker (``date-time``). Every document a Processes
client reads is checked: the landing page and conformance declaration, the process list,
each process description (whose input schemas must be OpenAPI 3.0 schema objects), the
status document of a job in each of the five states and the job list.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft4Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from .test_processes import make_client, plugin, wait_for  # noqa: F401  (plugin: fixture)

SCHEMAS = Path(__file__).resolve().parents[1] / "data" / "ogcapi-processes"
BASE = "https://schemas.invalid/ogcapi-processes-1/"
PROCESSES_CONF = "http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/"
#: The Processes conformance classes the service declares (issue 15).
DECLARED = ("core", "json", "oas30", "job-list", "dismiss", "ogc-process-description")


def _registry() -> Registry:
    resources = [
        (BASE + p.name, Resource.from_contents(yaml.safe_load(p.read_text()), DRAFT4))
        for p in SCHEMAS.glob("*.yaml")
    ]
    return Registry().with_resources(resources)


REGISTRY = _registry()


def errors(doc: Any, name: str) -> list[str]:
    """Messages of every way ``doc`` breaks the standard's schema ``name`` (empty: valid)."""
    v = Draft4Validator(
        {"$ref": BASE + name}, registry=REGISTRY, format_checker=Draft4Validator.FORMAT_CHECKER
    )
    return [f"{list(e.absolute_path)}: {e.message}" for e in v.iter_errors(doc)]


def test_the_schemas_reject_what_they_should() -> None:
    """The validator is live: documents that break the standard fail it."""
    good = {"jobID": "a", "status": "running", "type": "process", "progress": 50}
    assert errors(good, "statusInfo.yaml") == []
    assert errors({**good, "status": "queued"}, "statusInfo.yaml")
    assert errors({**good, "progress": 0.5}, "statusInfo.yaml")
    assert errors({**good, "started": None}, "statusInfo.yaml")
    assert errors({**good, "created": "yesterday"}, "statusInfo.yaml")
    assert errors({k: v for k, v in good.items() if k != "type"}, "statusInfo.yaml")
    # an input schema in JSON Schema 2020-12 form is not an OpenAPI 3.0 schema object
    desc = {"id": "p", "version": "1", "inputs": {"a": {"schema": {"type": "integer"}}}}
    assert errors(desc, "process.yaml") == []
    bad = {"anyOf": [{"type": "integer", "exclusiveMinimum": 0}, {"type": "null"}]}
    assert errors({**desc, "inputs": {"a": {"schema": bad}}}, "process.yaml")


def test_landing_conformance_and_process_descriptions(tmp_path: Path, plugin: str) -> None:  # noqa: F811
    with make_client(tmp_path, plugin) as c:
        landing = c.get("/").json()
        assert errors(landing, "landingPage.yaml") == []
        rels = {lk["rel"]: lk["href"] for lk in landing["links"]}
        processes = c.get(rels["http://www.opengis.net/def/rel/ogc/1.0/processes"])
        jobs = c.get(rels["http://www.opengis.net/def/rel/ogc/1.0/job-list"])
        assert processes.status_code == 200 and jobs.status_code == 200
        conf = c.get(rels["conformance"]).json()
        assert errors(conf, "confClasses.yaml") == []
        assert {PROCESSES_CONF + x for x in DECLARED} <= set(conf["conformsTo"])
        plist = processes.json()
        assert errors(plist, "processList.yaml") == []
        assert {"zoning", "erosion", "desertification", "screening", "echo"} <= {
            p["id"] for p in plist["processes"]
        }
        for summary in plist["processes"]:
            href = next(lk["href"] for lk in summary["links"] if lk["rel"] == "self")
            desc = c.get(href).json()
            assert errors(desc, "process.yaml") == [], summary["id"]
            assert desc["inputs"] and desc["outputs"]
        # a nullable input keeps its meaning in OpenAPI 3.0 form
        aoi = c.get("/processes/zoning").json()["inputs"]["aoi"]["schema"]
        assert aoi["nullable"] is True
        assert aoi["anyOf"] == [
            {"type": "string"},
            {"additionalProperties": True, "type": "object"},
        ]


def _submit(c: Any, inputs: dict[str, Any]) -> dict[str, Any]:
    r = c.post(
        "/processes/echo/execution", json={"inputs": inputs}, headers={"Prefer": "respond-async"}
    )
    assert r.status_code == 201, r.text
    assert errors(r.json(), "statusInfo.yaml") == []
    return r.json()


def test_status_documents_in_every_state(tmp_path: Path, plugin: str) -> None:  # noqa: F811
    """accepted, running, successful, failed, dismissed: each statusInfo valid, and the list."""
    block = tmp_path / "block"
    block.write_text("x")
    seen: dict[str, dict[str, Any]] = {}
    with make_client(tmp_path, plugin, max_concurrent_jobs=1) as c:
        running = _submit(c, {"value": 1, "block_file": str(block)})
        seen["running"] = wait_for(c, running["jobID"], {"running"})
        queued = _submit(c, {"value": 2})  # the one worker is busy: it waits
        seen["accepted"] = c.get(f"/jobs/{queued['jobID']}").json()
        token = running["jobToken"]
        dismissed = c.delete(f"/jobs/{running['jobID']}", headers={"X-Job-Token": token})
        assert dismissed.status_code == 200
        assert errors(dismissed.json(), "statusInfo.yaml") == []
        seen["dismissed"] = c.get(f"/jobs/{running['jobID']}").json()
        seen["successful"] = wait_for(c, queued["jobID"], {"successful"})
        failed = _submit(c, {"value": 3, "fail": True})
        seen["failed"] = wait_for(c, failed["jobID"], {"failed"})
        for state, doc in seen.items():
            assert doc["status"] == state
            assert errors(doc, "statusInfo.yaml") == [], state
        assert seen["successful"]["progress"] == 100
        assert "finished" in seen["successful"] and "finished" not in seen["accepted"]
        listing = c.get("/jobs").json()
        assert errors(listing, "jobList.yaml") == []
        assert {j["status"] for j in listing["jobs"]} == {"dismissed", "successful", "failed"}


@pytest.mark.parametrize("path", ["/jobs/" + "0" * 32, "/processes/nope"])
def test_not_found_is_an_ogc_exception(tmp_path: Path, plugin: str, path: str) -> None:  # noqa: F811
    with make_client(tmp_path, plugin) as c:
        r = c.get(path)
        assert r.status_code == 404
        assert errors(r.json(), "exception.yaml") == []
        assert r.json()["type"].startswith("http://www.opengis.net/def/exceptions/ogcapi-processes")
