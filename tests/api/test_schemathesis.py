"""Property-based check of the whole OpenAPI document with schemathesis: no 5xx anywhere.

Every operation of ``create_app(...)`` gets up to :data:`EXAMPLES` generated requests
(derandomized, so runs are repeatable; no deadline), sent in-process through the ASGI
transport (no network). Only the ``not_a_server_error`` check runs: any status >= 500 fails.
Excluded: ``POST /processes/{process_id}/execution`` (it starts long-running jobs; its
validation is covered by ``tests/api/test_processes.py``). Job workers are off, the rate limit
is off, and queries answer on the SMALL demo run (built once per session in the shared cache).
"""

from __future__ import annotations

import pytest

schemathesis = pytest.importorskip("schemathesis")
from fastapi import FastAPI  # noqa: E402
from geoeco_api.jobs_worker import JobSettings  # noqa: E402
from geoeco_api.main import create_app  # noqa: E402
from geoeco_api.settings import Settings  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402

from geoeco.demo_cache import ensure_demo_run  # noqa: E402

EXAMPLES = 20


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
        )
    )
    app.state.job_settings = JobSettings(job_run_workers=False, job_sync_timeout_s=1)
    return app


EXCLUDED = {("POST", "/processes/{process_id}/execution")}


def _operations() -> list[tuple[str, str]]:
    """(method, path) of every operation, from a throwaway app (nothing is built or opened)."""
    app = create_app(Settings(data_dir="/nonexistent/geoeco-fuzz", log_json=False))
    ops = [
        (m.upper(), p)
        for p, item in app.openapi()["paths"].items()
        for m in item
        if m in {"get", "post", "put", "patch", "delete"}
    ]
    return [op for op in ops if op not in EXCLUDED]


@pytest.fixture(scope="module")
def api_schema(fuzz_app: FastAPI):  # type: ignore[no-untyped-def]
    return schemathesis.openapi.from_asgi("/openapi.json", fuzz_app)


@pytest.mark.parametrize(("method", "path"), _operations())
def test_no_server_errors(api_schema, method: str, path: str) -> None:  # type: ignore[no-untyped-def]
    operation = api_schema[path][method]

    @given(case=operation.as_strategy())
    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    def run(case) -> None:  # type: ignore[no-untyped-def]
        case.call_and_validate(checks=[not_a_server_error])

    run()


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
    } <= paths
