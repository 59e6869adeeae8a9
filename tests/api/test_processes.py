"""OGC API - Processes routes through the test client, with a fast plugin process ``echo``.

``echo`` is registered by a plugin module written into a temporary folder; the job workers
import it too (``job_plugins``), because every job runs in its own child process. Its result
is ``{"value": 2 * value}`` and the files ``echo.json`` and ``table.csv``.
"""

from __future__ import annotations

import importlib
import sys
import time
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402
from geoeco_api.main import create_app  # noqa: E402
from geoeco_api.settings import Settings  # noqa: E402

from geoeco.service.processes import PROCESSES  # noqa: E402

PLUGIN = """
import json, time
from pathlib import Path
from pydantic import BaseModel, ConfigDict
from geoeco.core.errors import InvalidInput
from geoeco.service.processes import Process, register_process

class EchoInputs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    value: int = 1
    fail: bool = False
    block_file: str | None = None

def run(inp, out, progress, ctx):
    if inp.fail:
        raise InvalidInput(f"asked to fail with value {inp.value}")
    t0 = time.time()
    while inp.block_file and Path(inp.block_file).exists() and time.time() - t0 < 120:
        progress("blocked", 0.5)
        time.sleep(0.1)
    (out / "echo.json").write_text(json.dumps({"value": inp.value}))
    (out / "table.csv").write_text("a,b\\n1,2\\n")
    return {"value": 2 * inp.value}

register_process(Process(id="echo", title="Echo", description="test process",
                         inputs_model=EchoInputs, run=run, cells=lambda m, r: 1),
                 overwrite=True)
"""


@pytest.fixture()
def plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    name = f"geoeco_echo_plugin_{tmp_path.name.replace('-', '_')}"
    d = tmp_path / "plugins"
    d.mkdir()
    (d / f"{name}.py").write_text(PLUGIN)
    monkeypatch.syspath_prepend(str(d))
    importlib.import_module(name)
    yield name
    PROCESSES.pop("echo", None)
    sys.modules.pop(name, None)


def make_client(tmp_path: Path, plugin: str, **extra: Any) -> TestClient:
    keys = extra.pop("api_keys", "")
    settings = Settings(
        data_dir=tmp_path / "data",
        cache_dir=tmp_path / "cache",
        rate_limit_per_minute=0,
        api_keys=keys,
        max_concurrent_jobs=2,
    )
    app = create_app(
        settings.model_copy(
            update=dict(job_plugins=plugin, job_poll_interval_s=0.1, job_sync_timeout_s=30, **extra)
        )
    )
    return TestClient(app)


def wait_for(client: TestClient, job_id: str, states: set[str], timeout: float = 40) -> dict:
    t0 = time.time()
    while time.time() - t0 < timeout:
        info = client.get(f"/jobs/{job_id}").json()
        if info["status"] in states:
            return info
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} never reached {states}: {info}")


def is_problem(r: Any, status: int) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["status"] == status and body["detail"]
    return body


def test_catalogue_routes(tmp_path: Path, plugin: str) -> None:
    with make_client(tmp_path, plugin) as c:
        ids = [p["id"] for p in c.get("/processes").json()["processes"]]
        assert {"zoning", "erosion", "desertification", "screening", "echo"} <= set(ids)
        d = c.get("/processes/zoning").json()
        # the demo sizes, in the order of their one definition (catalog.demo_region.Size)
        assert d["inputs"]["demo_size"]["schema"]["enum"] == ["full", "small"]
        assert d["outputs"]["files"]["schema"]["type"] == "array"
        assert "async-execute" in d["jobControlOptions"]
        assert any(lk["rel"].endswith("/execute") for lk in d["links"])
        body = is_problem(c.get("/processes/nope"), 404)
        assert body["type"].endswith("no-such-process")
        is_problem(c.post("/processes/nope/execution", json={"inputs": {}}), 404)


def test_bad_inputs_are_422_problems(tmp_path: Path, plugin: str) -> None:
    with make_client(tmp_path, plugin) as c:
        r = c.post("/processes/zoning/execution", json={"inputs": {"demo_size": "huge"}})
        body = is_problem(r, 422)
        assert [e["field"] for e in body["errors"]] == ["demo_size"]
        body = is_problem(
            c.post("/processes/zoning/execution", json={"inputs": {"aoi": "../../etc/passwd"}}),
            422,
        )
        assert body["errors"][0]["field"] == "aoi"
        is_problem(c.post("/processes/echo/execution", json={"inputs": {"nope": 1}}), 422)
        is_problem(c.post("/processes/echo/execution", json={"inputs": [1, 2]}), 422)
        is_problem(c.post("/processes/echo/execution", json=[1]), 422)
        is_problem(
            c.post(
                "/processes/echo/execution",
                content=b"{not json",
                headers={"content-type": "application/json"},
            ),
            400,
        )
        body = is_problem(
            c.post("/processes/erosion/execution", json={"inputs": {"dem": "no.such.layer"}}),
            422,
        )
        assert "no.such.layer" in body["detail"]
        assert c.get("/jobs").json()["numberMatched"] == 0  # nothing was queued


def test_sync_execution_results_and_files(tmp_path: Path, plugin: str) -> None:
    with make_client(tmp_path, plugin) as c:
        r = c.post("/processes/echo/execution", json={"inputs": {"value": 21}})
        assert r.status_code == 200, r.text
        doc = r.json()
        assert doc["summary"] == {"value": 42}
        types = {f["title"]: f["type"] for f in doc["files"]}
        assert types == {"echo.json": "application/json", "table.csv": "text/csv"}
        job_url = r.headers["link"].split(">")[0].lstrip("<")
        job_id = job_url.rsplit("/", 1)[-1]
        csv = c.get(next(f["href"] for f in doc["files"] if f["title"] == "table.csv"))
        assert csv.status_code == 200 and csv.text == "a,b\n1,2\n"
        assert csv.headers["content-type"].startswith("text/csv")
        # the files folder is the job id; nothing outside the manifest is served
        assert (tmp_path / "data" / "jobs" / job_id / "echo.json").exists()
        for bad in ("..%2F..%2Fjobs.sqlite3", "..%2Fjobs.sqlite3", "nope.csv", ".hidden"):
            is_problem(c.get(f"/jobs/{job_id}/files/{bad}"), 404)
        # a repeat is answered from the cache: same job, same attempt
        again = c.post("/processes/echo/execution", json={"inputs": {"value": 21}})
        assert again.status_code == 200 and again.json()["summary"] == {"value": 42}
        info = c.get(f"/jobs/{job_id}").json()
        assert info["status"] == "successful" and info["attempt"] == 1
        assert info["progress"] == 100 and info["type"] == "process"
        assert any(lk["rel"].endswith("/results") for lk in info["links"])


def test_async_execution_and_repeat(tmp_path: Path, plugin: str) -> None:
    with make_client(tmp_path, plugin) as c:
        h = {"Prefer": "respond-async"}
        r = c.post("/processes/echo/execution", json={"inputs": {"value": 3}}, headers=h)
        assert r.status_code == 201
        assert r.headers["preference-applied"] == "respond-async"
        info = r.json()
        assert r.headers["location"].endswith(f"/jobs/{info['jobID']}")
        assert {"jobID", "status", "type", "processID", "created", "progress", "links"} <= set(info)
        assert info["status"] in ("accepted", "running") and info["processID"] == "echo"
        done = wait_for(c, info["jobID"], {"successful"})
        assert done["started"] and done["finished"]
        res = c.get(f"/jobs/{info['jobID']}/results").json()
        assert res["summary"] == {"value": 6}
        r2 = c.post("/processes/echo/execution", json={"inputs": {"value": 3}}, headers=h)
        assert r2.status_code == 200 and r2.json()["jobID"] == info["jobID"]
        assert r2.json()["attempt"] == 1


def test_unknown_job_is_404_problem(tmp_path: Path, plugin: str) -> None:
    with make_client(tmp_path, plugin) as c:
        for path in ("/jobs/" + "0" * 32, "/jobs/not-an-id", "/jobs/" + "0" * 32 + "/results"):
            body = is_problem(c.get(path), 404)
            assert body["type"].endswith("no-such-job")
        is_problem(c.delete("/jobs/" + "0" * 32), 404)
        is_problem(c.get("/jobs/" + "0" * 32 + "/files/a.csv"), 404)


def test_running_job_results_dismiss_and_rerun(tmp_path: Path, plugin: str) -> None:
    block = tmp_path / "block"
    block.write_text("x")
    inputs = {"inputs": {"value": 5, "block_file": str(block)}}
    h = {"Prefer": "respond-async"}
    with make_client(tmp_path, plugin) as c:
        created = c.post("/processes/echo/execution", json=inputs, headers=h)
        job_id, token = created.json()["jobID"], created.json()["jobToken"]
        assert created.headers["x-job-token"] == token
        wait_for(c, job_id, {"running"})
        body = is_problem(c.get(f"/jobs/{job_id}/results"), 404)
        assert body["type"].endswith("result-not-ready")
        is_problem(c.delete(f"/jobs/{job_id}"), 401)  # keys off: the job's token is needed
        d = c.delete(f"/jobs/{job_id}", headers={"X-Job-Token": token})
        assert d.status_code == 200 and d.json()["status"] == "dismissed"
        assert c.get(f"/jobs/{job_id}").json()["status"] == "dismissed"
        is_problem(c.get(f"/jobs/{job_id}/results"), 410)
        time.sleep(1.0)  # the supervisor stops the child within a poll interval
        assert c.get(f"/jobs/{job_id}").json()["status"] == "dismissed"
        assert not (tmp_path / "data" / "jobs" / job_id).exists()
        block.unlink()
        r = c.post("/processes/echo/execution", json=inputs, headers=h)
        assert r.status_code == 201 and r.json()["attempt"] == 2 and r.json()["jobID"] == job_id
        assert wait_for(c, job_id, {"successful"})["attempt"] == 2


def test_failed_job_reason_and_new_attempt(tmp_path: Path, plugin: str) -> None:
    with make_client(tmp_path, plugin) as c:
        r = c.post("/processes/echo/execution", json={"inputs": {"value": 7, "fail": True}})
        body = is_problem(r, 422)  # InvalidInput -> 422, as in the error table
        assert body["type"].endswith("/InvalidInput")
        assert body["detail"] == "asked to fail with value 7"
        job_id = body["jobID"]
        info = c.get(f"/jobs/{job_id}").json()
        assert info["status"] == "failed"
        assert info["exception"]["detail"] == "asked to fail with value 7"
        assert info["exception"]["status"] == 422
        is_problem(c.get(f"/jobs/{job_id}/results"), 422)
        r2 = c.post(
            "/processes/echo/execution",
            json={"inputs": {"value": 7, "fail": True}},
            headers={"Prefer": "respond-async"},
        )
        assert r2.status_code == 201 and r2.json()["attempt"] == 2
        assert wait_for(c, job_id, {"failed"})["attempt"] == 2


def test_job_list_paging(tmp_path: Path, plugin: str) -> None:
    with make_client(tmp_path, plugin) as c:
        for v in range(3):
            c.post("/processes/echo/execution", json={"inputs": {"value": v}})
        page = c.get("/jobs", params={"limit": 2}).json()
        assert page["numberMatched"] == 3 and page["numberReturned"] == 2
        nxt = next(lk["href"] for lk in page["links"] if lk["rel"] == "next")
        page2 = c.get(nxt).json()
        assert page2["numberReturned"] == 1
        assert any(lk["rel"] == "prev" for lk in page2["links"])
        ok = c.get("/jobs", params={"status": "successful", "processID": "echo"}).json()
        assert ok["numberMatched"] == 3
        is_problem(c.get("/jobs", params={"status": "bogus"}), 422)


def test_time_limit_fails_the_job(tmp_path: Path, plugin: str) -> None:
    block = tmp_path / "block"
    block.write_text("x")
    with make_client(tmp_path, plugin, job_time_limit_s=1.0) as c:
        r = c.post(
            "/processes/echo/execution",
            json={"inputs": {"block_file": str(block)}},
            headers={"Prefer": "respond-async"},
        )
        info = wait_for(c, r.json()["jobID"], {"failed"}, timeout=30)
        assert info["exception"]["type"].endswith("job-time-limit")
        assert "limit of 1 s" in info["exception"]["detail"]


def test_api_keys_separate_jobs(tmp_path: Path, plugin: str) -> None:
    with make_client(tmp_path, plugin, api_keys="k1,k2") as c:
        is_problem(c.post("/processes/echo/execution", json={"inputs": {}}), 401)
        r1 = c.post("/processes/echo/execution", json={"inputs": {}}, headers={"X-API-Key": "k1"})
        r2 = c.post("/processes/echo/execution", json={"inputs": {}}, headers={"X-API-Key": "k2"})
        assert r1.status_code == r2.status_code == 200
        j1 = r1.headers["link"].split(">")[0].rsplit("/", 1)[-1]
        j2 = r2.headers["link"].split(">")[0].rsplit("/", 1)[-1]
        assert j1 != j2  # the key is part of the id
        mine = c.get("/jobs", headers={"X-API-Key": "k1"}).json()
        assert [j["jobID"] for j in mine["jobs"]] == [j1]
        assert c.get("/jobs").json()["numberMatched"] == 0
        is_problem(c.delete(f"/jobs/{j1}", headers={"X-API-Key": "k2"}), 404)
        assert c.delete(f"/jobs/{j1}", headers={"X-API-Key": "k1"}).status_code == 200
