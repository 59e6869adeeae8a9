"""Property-based test of the whole OpenAPI document with schemathesis: every check, everywhere.

Every operation of ``create_app(...)`` (execution included) gets :data:`EXAMPLES` generated
requests, schema-valid and schema-invalid ones mixed (derandomized, so runs repeat; no
deadline, no shrinking), sent in-process through the ASGI transport, and every response goes
through **all** of schemathesis's built-in checks (:func:`built_in_checks`: server errors,
status codes, content types, headers, response schemas, negative data rejected, positive data
accepted, missing headers, unsupported methods, ...), except those listed in
:data:`NOT_APPLICABLE` for one operation each, with the reason. A counting ASGI wrapper counts
the requests that reach the app: the run must send at least :data:`MIN_REQUESTS`.

Random ids name nothing, so in about half of the cases a path parameter naming a job, layer,
collection or feature (and, in schema-valid cases, the ``run`` of a query) is replaced by one
the service knows (:data:`KNOWN`): a finished zoning job made by hand (the small demo run's
``zones`` folder as its results), a queued one, built-in layers. The requests then reach the
tile renderer, the map page, the run queries and the job store, not only the 404 branch.

Job workers are off and synchronous execution waits 0 s, so ``POST .../execution`` answers at
once (201, the job stays queued) and CI time stays bounded. The rate limit is off; queries
answer on the SMALL demo run (built once per session in the shared cache).
"""

from __future__ import annotations

import shutil
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import strategies as st

schemathesis = pytest.importorskip("schemathesis")
from fastapi import FastAPI  # noqa: E402
from geoeco_api.jobs_worker import JobService  # noqa: E402
from geoeco_api.main import create_app  # noqa: E402
from geoeco_api.settings import Settings  # noqa: E402
from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402
from schemathesis.checks import CHECKS, load_all_checks  # noqa: E402
from schemathesis.core.parameters import ParameterLocation  # noqa: E402
from schemathesis.generation.modes import GenerationMode  # noqa: E402

from geoeco.service.job_model import new_job, result_manifest  # noqa: E402
from geoeco.workflows.demo_cache import ensure_demo_run  # noqa: E402

EXAMPLES = 60
MIN_REQUESTS = 1000
JOB, PENDING = "f" * 32, "e" * 32
#: Values the service knows, per path parameter (and ``run``), for about half of the cases.
KNOWN: dict[str, list[str]] = {
    "job_id": [JOB, PENDING],
    "layer": ["demo.landcover", "demo.ndvi"],  # rasters: the layers that have tiles
    "collection_id": ["admin.county", "protected.national_parks"],  # vectors: they have items
    "fid": ["610114", "0"],
    "name": ["zones.gpkg", "zone_class.tif"],
    "process_id": ["zoning", "screening", "erosion"],
    "run": [JOB, "demo"],
}
#: A site in the small demo region, put into about half of the schema-valid screening bodies.
SITE = {
    "type": "Polygon",
    "coordinates": [[[109.66, 38.22], [109.68, 38.22], [109.68, 38.24], [109.66, 38.22]]],
}

_TILE_RANGE = (
    "x and y must lie in [0, 2^z - 1] and rescale's min below its max: constraints between "
    "values, which JSON Schema cannot state, so schema-valid tiles outside the grid are 422"
)
#: Checks that cannot hold for one operation, and why. Everything else runs everywhere.
#: ``positive_data_acceptance`` demands that every schema-valid request succeeds; it is off
#: only where validity depends on more than the shape of each value.
NOT_APPLICABLE: dict[tuple[str, str], dict[str, str]] = {
    ("GET", "/collections/{collection_id}/items"): {
        "positive_data_acceptance": "bbox needs min < max and lon/lat in range (between values)"
    },
    ("GET", "/tiles/{layer}/{z}/{x}/{y}.png"): {"positive_data_acceptance": _TILE_RANGE},
    ("GET", "/jobs/{job_id}/tiles/{output}/{z}/{x}/{y}.png"): {
        "positive_data_acceptance": _TILE_RANGE
    },
    ("GET", "/maps/demo/tiles/{output}/{z}/{x}/{y}.png"): {"positive_data_acceptance": _TILE_RANGE},
    ("POST", "/processes/{process_id}/execution"): {
        "positive_data_acceptance": "which inputs are valid depends on process_id (the body "
        "schema lists every process's inputs, as OpenAPI cannot tie a body to a path value), "
        "and on their meaning (codes, geometries, combinations)"
    },
    ("POST", "/screen"): {
        "positive_data_acceptance": "the geometry must be a GeoJSON geometry shapely can read "
        "(closed rings, enough points) within the vertex and area limits (413)"
    },
    ("POST", "/uploads"): {
        "positive_data_acceptance": "the body must be a readable GeoTIFF, GeoPackage, GeoJSON "
        "or zipped Shapefile inside China: no schema can say that of bytes"
    },
}


def built_in_checks() -> dict[str, Callable[..., Any]]:
    """Every check schemathesis registers, by name."""
    load_all_checks()
    return {check.__name__: check for check in CHECKS.get_all()}


class CountingApp:
    """ASGI wrapper counting the HTTP requests that reach the app (by path) and the answers."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self.paths: Counter[str] = Counter()
        self.statuses: Counter[tuple[str, int]] = Counter()
        self.current = ""

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        self.paths[scope["path"]] += 1
        operation = self.current

        async def counted_send(message: Any) -> None:
            if message["type"] == "http.response.start":
                self.statuses[(operation, message["status"])] += 1
            await send(message)

        await self.app(scope, receive, counted_send)


@pytest.fixture(scope="module")
def fuzz_app(tmp_path_factory: pytest.TempPathFactory) -> FastAPI:
    cache = tmp_path_factory.getbasetemp() / "geoeco-shared-cache"
    ensure_demo_run(cache, "small")
    tmp = tmp_path_factory.mktemp("fuzz")
    app = create_app(
        Settings(
            data_dir=tmp / "data",
            layers_dir=tmp / "layers",
            cache_dir=cache,
            rate_limit_per_minute=0,
            query_demo_size="small",
            max_batch_sites=20,
            log_json=False,
            job_run_workers=False,
            job_sync_timeout_s=0,
        )
    )
    svc = app.state.job_service = JobService(app.state.settings)
    svc.store.submit(new_job(JOB, "zoning", {"demo_size": "small", "fuzz": 1}))
    assert svc.store.claim("fuzz-worker").id == JOB
    shutil.copytree(ensure_demo_run(cache, "small") / "zones", svc.results_dir / JOB)
    files = result_manifest(svc.results_dir / JOB)
    assert svc.store.finish(JOB, 1, files=files, result={"units": {}})
    svc.store.submit(new_job(PENDING, "zoning", {"demo_size": "small", "fuzz": 2}))
    return app


def operations(app: FastAPI) -> list[tuple[str, str]]:
    """(method, path) of every operation in the app's OpenAPI document."""
    return [
        (m.upper(), p)
        for p, item in app.openapi()["paths"].items()
        for m in item
        if m in {"get", "post", "put", "patch", "delete"}
    ]


def _steer(case: Any, picks: list[int]) -> Any:
    """Put known values (:data:`KNOWN`) into ``case`` where ``picks`` says so."""
    meta = case.meta
    positive = meta is None or not meta.generation.mode.is_negative
    path_ok = meta is None or not meta.is_negative_at(ParameterLocation.PATH)
    path = case.path_parameters or {}
    for i, (name, values) in enumerate(sorted(KNOWN.items())):
        pick = picks[i]
        if pick >= len(values):
            continue
        if path_ok and name in path:
            path[name] = values[pick]
        elif positive and name == "run":
            if case.query is not None and "run" in case.query:
                case.query["run"] = values[pick]
            elif isinstance(case.body, dict) and "run" in case.body:
                case.body["run"] = values[pick]
    if positive and picks[-1] < 2:
        if {"z", "x", "y"} <= set(path):  # a tile that exists at zoom z
            n = 2 ** int(path["z"])
            path["x"], path["y"] = int(path["x"]) % n, int(path["y"]) % n
        if isinstance(case.body, dict) and isinstance(case.body.get("geometry"), dict):
            case.body["geometry"] = SITE
    return case


def strategy(operation: Any) -> Any:
    """Schema-valid and schema-invalid cases of ``operation``, steered toward known ids."""
    modes = [operation.as_strategy(GenerationMode.POSITIVE)]
    try:
        modes.append(operation.as_strategy(GenerationMode.NEGATIVE))
    except Exception:  # an operation without anything to get wrong has no negative cases
        pass
    n = len(KNOWN) + 1
    picks = st.lists(st.integers(0, 3), min_size=n, max_size=n)
    return st.tuples(st.one_of(modes), picks).map(lambda cp: _steer(*cp))


def _run_operation(schema: Any, method: str, path: str, excluded: list[Any]) -> str | None:
    """Fuzz one operation with every check but ``excluded``; the failure text or ``None``."""
    operation = schema[path][method]

    @given(case=strategy(operation))
    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
        phases=[Phase.explicit, Phase.generate],
    )
    def run(case: Any) -> None:
        case.call_and_validate(excluded_checks=excluded)

    try:
        run()
    except (Exception, BaseExceptionGroup) as exc:  # schemathesis raises a group per operation
        return str(exc)
    return None


def test_every_operation_passes_every_check(fuzz_app: FastAPI) -> None:
    checks = built_in_checks()
    assert {
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_headers_conformance",
        "response_schema_conformance",
        "negative_data_rejection",
        "positive_data_acceptance",
        "missing_required_header",
        "unsupported_method",
    } <= set(checks)
    ops = operations(fuzz_app)
    assert ("POST", "/processes/{process_id}/execution") in ops
    assert set(NOT_APPLICABLE) <= set(ops)
    counter = CountingApp(fuzz_app)
    schema = schemathesis.openapi.from_asgi("/openapi.json", counter)
    failures = {}
    t0 = time.perf_counter()
    for method, path in ops:
        skip = NOT_APPLICABLE.get((method, path), {})
        assert set(skip) <= set(checks), skip
        counter.current = f"{method} {path}"
        failure = _run_operation(schema, method, path, [checks[name] for name in skip])
        if failure is not None:
            failures[f"{method} {path}"] = failure
    took = time.perf_counter() - t0
    sent = sum(counter.paths.values())
    print(f"schemathesis: {sent} requests, {len(ops)} operations, {len(checks)} checks, "
          f"{took:.1f} s")  # fmt: skip
    for op in sorted({o for o, _ in counter.statuses}):
        print(f"  {op}: " + ", ".join(f"{code} x{n}" for (o, code), n in
                                      sorted(counter.statuses.items()) if o == op))  # fmt: skip
    assert not failures, "\n\n".join(f"== {op}\n{text[:3000]}" for op, text in failures.items())
    assert sent >= MIN_REQUESTS, f"only {sent} requests reached the app"
    assert counter.paths["/openapi.json"] <= 2  # the requests are the operations' own


def test_schema_covers_the_new_routes(fuzz_app: FastAPI) -> None:
    paths = set(fuzz_app.openapi()["paths"])
    assert {
        "/query/point",
        "/screen",
        "/screen/batch",
        "/uploads",
        "/uploads/{layer_id}",
        "/maps/demo",
        "/maps/jobs/{job_id}",
        "/maps/assets/{name}",
        "/jobs/{job_id}/tiles/{output}/{z}/{x}/{y}.png",
        "/processes/{process_id}/execution",
    } <= paths
