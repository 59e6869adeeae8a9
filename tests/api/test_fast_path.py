"""The service's fast path (issue 16) on the SMALL demo run.

* ``/health`` and a point query on an opened run never cross into the thread pool (every hop
  goes through ``anyio.to_thread.run_sync``, counted here); opening a run is one hop, a plain
  ``def`` route is one hop (response validation no longer adds one);
* the bodies are byte for byte what FastAPI's own serialisation of the same result writes
  (a reference app with the route as it was: ``def`` + ``response_model``);
* the heap is frozen once a run is opened, and at startup (``gc.get_freeze_count``; frozen
  objects are not listed by ``gc.get_objects``);
* ``OpenedRuns.peek`` touches no file; ``geoeco serve --workers 2`` starts two workers.
"""

from __future__ import annotations

import gc
import json
import pathlib
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import anyio.to_thread
import geopandas as gpd
import numpy as np
import pytest
from fastapi import FastAPI, Query
from fastapi.testclient import TestClient
from geoeco_api.main import create_app
from geoeco_api.routers import query as query_router
from geoeco_api.settings import Settings

from geoeco import __version__
from geoeco.catalog.layers import load_registry
from geoeco.core.geometry import InputCRS
from geoeco.query.context import QueryContext
from geoeco.query.models import PointResult
from geoeco.query.point import lookup_point
from geoeco.workflows.demo_cache import ensure_demo_run
from geoeco.workflows.runs import OpenedRuns, demo_zoning_ref

from .conftest import assert_problem


@pytest.fixture(scope="module")
def small_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The session's shared cache holding the small demo run (built once)."""
    cache = tmp_path_factory.getbasetemp() / "geoeco-shared-cache"
    ensure_demo_run(cache, "small")
    return cache


@pytest.fixture(scope="module")
def inside(small_cache: Path) -> tuple[float, float]:
    """A lon-lat point inside the small demo's biggest unit."""
    zones = ensure_demo_run(small_cache, "small") / "zones" / "zones.gpkg"
    units = gpd.read_file(zones, layer="units").to_crs(4490)
    pt = units.loc[units.to_crs(6933).area.idxmax()].geometry.representative_point()
    return float(pt.x), float(pt.y)


def make_app(tmp: Path, cache: Path, **kw: Any) -> FastAPI:
    """The service on tmp folders and the small demo run, no job workers."""
    settings = Settings(
        data_dir=tmp / "data",
        layers_dir=tmp / "layers",
        cache_dir=cache,
        query_demo_size="small",
        job_run_workers=False,
        **kw,
    )
    return create_app(settings)


@pytest.fixture
def hops(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Names of the functions sent to the thread pool while the test runs."""
    calls: list[str] = []
    original = anyio.to_thread.run_sync

    async def counting(func: Any, *args: Any, **kw: Any) -> Any:
        # run_in_threadpool sends a functools.partial; FastAPI's for a sync endpoint wraps it
        inner = getattr(func, "func", func)
        inner = (getattr(func, "keywords", None) or {}).get("function", inner)
        calls.append(getattr(inner, "__name__", type(inner).__name__))
        return await original(func, *args, **kw)

    monkeypatch.setattr(anyio.to_thread, "run_sync", counting)
    return calls


@pytest.fixture
def unfrozen() -> Iterator[None]:
    """Start and end with nothing frozen (the freeze is process-wide)."""
    gc.unfreeze()
    try:
        yield
    finally:
        gc.unfreeze()


# --------------------------------------------------------------------------- thread pool


def test_health_and_warm_point_use_no_thread_pool(
    tmp_path: Path, small_cache: Path, inside: tuple[float, float], hops: list[str]
) -> None:
    # the rate limit is on (high), so its dependency runs on every request
    c = TestClient(make_app(tmp_path, small_cache, rate_limit_per_minute=100_000))
    lon, lat = inside
    assert c.get("/query/point", params={"lon": lon, "lat": lat}).status_code == 200
    assert hops == ["context_for"]  # opening the run: the one hop
    hops.clear()
    for dx in (0.0, 0.001, -0.001):
        r = c.get("/query/point", params={"lon": lon + dx, "lat": lat})
        assert r.status_code == 200 and r.json()["inside_analysed_area"] is True
    assert c.get("/query/point", params={"lon": 100.0, "lat": 30.0}).status_code == 200
    assert c.get("/health").status_code == 200
    assert hops == []
    # the counter does see hops: a plain def route returning a dict makes two, the handler
    # and FastAPI's validation of its result (what the fast routes no longer do)
    assert c.get("/screen/project-types").status_code == 200
    assert hops == ["list_project_types", "validate"]


def test_screening_is_one_hop(
    tmp_path: Path, small_cache: Path, inside: tuple[float, float], hops: list[str]
) -> None:
    c = TestClient(make_app(tmp_path, small_cache))
    lon, lat = inside
    c.get("/query/point", params={"lon": lon, "lat": lat})  # open the run
    hops.clear()
    ring = [[lon, lat], [lon + 0.01, lat], [lon + 0.01, lat + 0.01], [lon, lat]]
    body = {"geometry": {"type": "Polygon", "coordinates": [ring]}}
    r = c.post("/screen", json=body)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/json"
    assert r.json()["inside_analysed_area"] is True
    assert hops == ["screen"]


def test_job_run_point_query_is_one_hop_and_keeps_its_404(
    tmp_path: Path, small_cache: Path, hops: list[str]
) -> None:
    c = TestClient(make_app(tmp_path, small_cache))
    r = c.get("/query/point", params={"lon": 109.7, "lat": 38.3, "run": "a" * 32})
    assert_problem(r, 404)
    assert hops == ["context_for"]


# --------------------------------------------------------------------------- bodies


def _reference_client(ctx: QueryContext, health: dict[str, Any]) -> TestClient:
    """The routes as they were: plain ``def``, FastAPI validates and serialises the result."""
    ref = FastAPI()

    @ref.get("/point", response_model=PointResult)
    def point(lon: float, lat: float, crs: str = "wgs84") -> Any:
        return lookup_point(ctx, lon, lat, crs=crs)

    @ref.get("/health")
    def health_route() -> dict[str, Any]:
        return health

    return TestClient(ref)


def test_bodies_equal_fastapis_own_serialisation(
    tmp_path: Path, small_cache: Path, inside: tuple[float, float]
) -> None:
    app = make_app(tmp_path, small_cache)
    c = TestClient(app)
    run = ensure_demo_run(small_cache, "small")
    # /health by hand: no job store folder yet, every built-in layer and no user layer
    expected_health = {
        "status": "ok",
        "version": __version__,
        "layers": len(load_registry(str(tmp_path / "layers"))),
        "job_store": {"reachable": None},
    }
    ref = _reference_client(QueryContext.open(run), expected_health)
    r = c.get("/health")
    assert r.json() == expected_health
    assert r.content == ref.get("/health").content
    assert r.headers["content-type"] == "application/json"
    lon, lat = inside
    for params in (
        {"lon": lon, "lat": lat},
        {"lon": 100.0, "lat": 30.0},  # outside: a message, no unit
        {"lon": lon + 0.005, "lat": lat - 0.002, "crs": "gcj02"},
    ):
        got = c.get("/query/point", params=params)
        want = ref.get("/point", params=params)
        assert got.status_code == want.status_code == 200
        assert got.content == want.content
        assert got.headers["content-type"] == want.headers["content-type"]


def test_openapi_still_documents_the_bodies(tmp_path: Path, small_cache: Path) -> None:
    doc = TestClient(make_app(tmp_path, small_cache)).get("/openapi.json").json()
    point = doc["paths"]["/query/point"]["get"]["responses"]["200"]
    assert point["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/PointResult"
    }
    screen = doc["paths"]["/screen"]["post"]["responses"]["200"]["content"]
    assert screen["application/json"]["schema"] == {"$ref": "#/components/schemas/ScreeningResult"}
    health = doc["paths"]["/health"]["get"]["responses"]["200"]["content"]
    assert health["application/json"]["schema"]["type"] == "object"


def test_point_parameters_read_by_the_route_are_still_documented(
    tmp_path: Path, small_cache: Path
) -> None:
    """The point route reads its query itself (one validation), and the OpenAPI document
    still lists the four parameters with their bounds, as FastAPI documented them."""
    doc = TestClient(make_app(tmp_path, small_cache)).get("/openapi.json").json()
    params = {p["name"]: p for p in doc["paths"]["/query/point"]["get"]["parameters"]}
    assert list(params) == ["lon", "lat", "crs", "run"]
    assert all(p["in"] == "query" for p in params.values())
    assert params["lon"]["required"] and params["lat"]["required"]
    assert not params["crs"]["required"] and not params["run"]["required"]
    assert (params["lon"]["schema"]["minimum"], params["lon"]["schema"]["maximum"]) == (-180, 180)
    assert (params["lat"]["schema"]["minimum"], params["lat"]["schema"]["maximum"]) == (-90, 90)
    assert params["crs"]["schema"]["enum"] == ["wgs84", "cgcs2000", "gcj02"]
    assert params["crs"]["schema"]["default"] == "wgs84"
    assert params["run"]["schema"]["pattern"] == query_router.RUN_PATTERN


def test_point_bodies_equal_the_reference_over_many_points(
    tmp_path: Path, small_cache: Path
) -> None:
    """Byte-equal bodies in every unit (up to 100) and on 200 points in and around the extent (the
    route's own parameter parsing and serialisation against FastAPI's on a fresh context)."""
    app = make_app(tmp_path, small_cache)
    c = TestClient(app)
    run = ensure_demo_run(small_cache, "small")
    ref = _reference_client(QueryContext.open(run), {})
    units = gpd.read_file(run / "zones" / "zones.gpkg", layer="units").to_crs(4490)
    x0, y0, x1, y1 = units.total_bounds
    rng = np.random.default_rng(11)
    reps = units.geometry.representative_point().iloc[:100]  # one inside each unit
    lons = np.concatenate([reps.x.to_numpy(), rng.uniform(x0 - 0.3, x1 + 0.3, 200)])
    lats = np.concatenate([reps.y.to_numpy(), rng.uniform(y0 - 0.3, y1 + 0.3, 200)])
    inside = 0
    for lon, lat in zip(lons.tolist(), lats.tolist(), strict=True):
        got = c.get("/query/point", params={"lon": lon, "lat": lat})
        assert got.content == ref.get("/point", params={"lon": lon, "lat": lat}).content
        inside += got.json()["inside_analysed_area"]
    assert inside >= len(reps) and len(lons) - inside > 100


def test_point_bad_parameters_as_fastapi_declared_them(tmp_path: Path, small_cache: Path) -> None:
    """Each bad query gives the errors FastAPI gave with the parameters declared on the route
    (same fields, messages and codes, in the same order)."""
    ref = FastAPI()

    @ref.get("/point")
    def point(
        lon: Annotated[float, Query(ge=-180, le=180, allow_inf_nan=False)],
        lat: Annotated[float, Query(ge=-90, le=90, allow_inf_nan=False)],
        crs: Annotated[InputCRS, Query()] = "wgs84",
        run: Annotated[str | None, Query(pattern=query_router.RUN_PATTERN)] = None,
    ) -> Any:
        return {}

    c, rc = TestClient(make_app(tmp_path, small_cache)), TestClient(ref)
    for bad in (
        {"lon": "x", "lat": "95"},
        {"lat": "38"},
        {},
        {"lon": "nan", "lat": "inf"},
        {"lon": "1", "lat": "38", "crs": "epsg:1", "run": "../x"},
        {"lon": "181", "lat": "-91", "run": ""},
    ):
        got = assert_problem(c.get("/query/point", params=bad), 422, "request-validation")
        want = rc.get("/point", params=bad)
        assert want.status_code == 422
        expected = [
            {"field": ".".join(map(str, e["loc"])), "message": e["msg"], "code": e["type"]}
            for e in want.json()["detail"]
        ]
        assert got["errors"] == expected


# --------------------------------------------------------------------------- gc.freeze


def test_heap_frozen_once_after_a_run_is_opened(
    tmp_path: Path,
    small_cache: Path,
    inside: tuple[float, float],
    monkeypatch: pytest.MonkeyPatch,
    unfrozen: None,
) -> None:
    calls: list[int] = []
    freeze = query_router.freeze_heap
    monkeypatch.setattr(query_router, "freeze_heap", lambda: calls.append(1) or freeze())
    app = make_app(tmp_path, small_cache)
    c = TestClient(app)  # no lifespan: only the run's opening freezes
    assert gc.get_freeze_count() == 0
    lon, lat = inside
    assert c.get("/query/point", params={"lon": lon, "lat": lat}).status_code == 200
    assert calls == [1]
    assert gc.get_freeze_count() > 0
    ctx = app.state.query_runs.peek(demo_zoning_ref(small_cache, "small"))
    assert ctx is not None and gc.is_tracked(ctx.units)
    # frozen objects are in the permanent generation, which get_objects does not list
    assert all(o is not ctx.units for o in gc.get_objects())
    for _ in range(3):
        assert c.get("/query/point", params={"lon": lon, "lat": lat}).status_code == 200
    assert calls == [1]  # not per request


def test_heap_frozen_at_startup(tmp_path: Path, small_cache: Path, unfrozen: None) -> None:
    app = make_app(tmp_path, small_cache)
    assert gc.get_freeze_count() == 0
    with TestClient(app) as c:
        assert gc.get_freeze_count() > 0
        assert c.get("/health").status_code == 200


# --------------------------------------------------------------------------- opened runs


def test_peek_touches_no_file(small_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    runs = OpenedRuns(2)
    ref = demo_zoning_ref(small_cache, "small")
    assert runs.peek(ref) is None
    ctx = runs.open(ref)

    def no_stat(self: Path, **kw: Any) -> Any:
        raise AssertionError(f"stat of {self}")

    monkeypatch.setattr(pathlib.Path, "stat", no_stat)
    assert runs.peek(ref) is ctx
    other = demo_zoning_ref(small_cache / "elsewhere", "small")
    assert runs.peek(other) is None


# --------------------------------------------------------------------------- workers


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _children(pid: int) -> list[int]:
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                ppid = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            if ppid == pid:
                out.append(int(d.name))
    return out


def test_serve_workers_starts_that_many_processes(tmp_path: Path) -> None:
    port = _free_port()
    data = tmp_path / "data"
    cmd = [sys.executable, "-m", "geoeco.cli", "serve", "--port", str(port), "--workers", "2"]
    cmd += ["--data-dir", str(data), "--cache-dir", str(tmp_path / "cache")]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline, body = time.monotonic() + 90, None
        while time.monotonic() < deadline and body is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
                    body = json.loads(r.read())
            except OSError:
                assert proc.poll() is None, proc.stderr.read().decode()[-2000:]  # type: ignore[union-attr]
                time.sleep(0.5)
        assert body is not None and body["status"] == "ok"
        # the workers got --data-dir: their job services made the job store there
        assert (data / "jobs").is_dir()
        # uvicorn's workers are spawned processes (not the resource tracker, not job children)
        cmdlines = [Path(f"/proc/{p}/cmdline").read_bytes() for p in _children(proc.pid)]
        assert sum(b"spawn_main" in c for c in cmdlines) == 2, cmdlines
    finally:
        proc.terminate()
        proc.wait(timeout=30)
