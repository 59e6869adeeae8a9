"""Build the FastAPI application: ``create_app(settings)`` wires routers, handlers, middleware.

Run with ``uvicorn geoeco_api.main:app`` (the module-level ``app`` is built lazily on first
attribute access, so ``import geoeco_api.main`` stays cheap) or
``uvicorn --factory geoeco_api.main:create_app``.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware

from geoeco import __version__

from .deps import get_settings
from .errors import Problem, add_exception_handlers, problem_response_doc, route_methods
from .heap import freeze_heap
from .logging import RequestLogMiddleware, configure_logging
from .openapi30 import to_openapi30
from .routers import catalogue, docs, features, health, maps, query, tiles, uploads
from .security import CrossSiteGuard, rate_limit
from .settings import Settings

#: Paths whose request body is a file of any (non-form) type rather than JSON.
RAW_BODY_PATHS = ("/uploads",)
#: Routers written elsewhere that are included when their module exists (the job system).
OPTIONAL_ROUTERS = (
    "geoeco_api.routers.processes",
    "geoeco_api.routers.jobs",
    "geoeco_api.routers.job_features",
)

DESCRIPTION = """\
Ecological control zones for China: layers (OGC API - Features style), map tiles,
processes run as durable jobs, point queries and site screening, offline zone maps and
user layer uploads. Every error is an RFC 7807 `application/problem+json`.
See `docs/api.md` for the settings, limits and error types.
"""


#: Answers any route may give before its own code runs (middleware and dependencies).
EVERY_ROUTE_PROBLEMS = (429,)
#: ... and any unsafe route (the cross-site guard, the body size limit).
UNSAFE_ROUTE_PROBLEMS = (403, 413)
#: ... and any route taking a body (unparsable bytes; the guard's content-type rule).
BODY_ROUTE_PROBLEMS = (400, 415)
EXECUTION_PATH = "/processes/{process_id}/execution"


def document_common_problems(schema: dict[str, Any]) -> None:
    """Every error is a problem: 422s as well, and those of the middleware where they apply.

    FastAPI documents its validation errors as a JSON ``HTTPValidationError``; this service
    answers them as problems (``geoeco_api.errors``). The middleware answers 429 anywhere,
    403 and 413 on unsafe methods (cross-site guard, body size), 400 (a body that cannot be
    parsed) and 415 on bodies.
    """
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components["Problem"] = Problem.model_json_schema()
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)
    for item in schema.get("paths", {}).values():
        for method, op in item.items():
            if not isinstance(op, dict) or "responses" not in op:
                continue
            responses = op["responses"]
            if "422" in responses:
                responses["422"] = problem_response_doc(422)
            codes = list(EVERY_ROUTE_PROBLEMS)
            if method.upper() not in ("GET", "HEAD", "OPTIONS"):
                codes += UNSAFE_ROUTE_PROBLEMS
            if "requestBody" in op:
                codes += BODY_ROUTE_PROBLEMS
            for code in codes:
                responses.setdefault(str(code), problem_response_doc(code))


def document_execution(schema: dict[str, Any]) -> None:
    """The execute request and description: ``process_id`` one of the registered processes.

    The inputs' JSON Schema depends on the process, which OpenAPI cannot tie to the path, so
    the body lists every process's inputs schema (``anyOf``); ``GET /processes/{id}`` gives the
    one of a process.
    """
    from geoeco.service.processes import PROCESSES

    paths = schema.get("paths", {})
    ids = sorted(PROCESSES)
    for path, method in ((EXECUTION_PATH, "post"), ("/processes/{process_id}", "get")):
        for param in paths.get(path, {}).get(method, {}).get("parameters", []):
            if param.get("in") == "path" and param.get("name") == "process_id":
                param["schema"] = {"type": "string", "enum": ids, "title": "Process Id"}
    op = paths.get(EXECUTION_PATH, {}).get("post")
    if op is None:
        return
    variants = []
    for pid in ids:
        inputs = dict(PROCESSES[pid].input_schema())
        inputs["title"] = f"inputs of {pid}"
        variants.append(inputs)
    op["requestBody"] = {
        "required": False,
        "description": '`{"inputs": {...}}`; an empty body runs the process on its defaults.',
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "properties": {"inputs": {"anyOf": variants}},
                    "title": "Execute request",
                }
            }
        },
    }


def _openapi(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema is not None:
        return app.openapi_schema
    schema = FastAPI.openapi(app)
    document_execution(schema)
    document_common_problems(schema)
    app.openapi_schema = to_openapi30(schema)  # the version /conformance declares (oas30)
    return app.openapi_schema


@asynccontextmanager
async def _freeze_after_startup(app: FastAPI) -> AsyncIterator[None]:
    """Lifespan of the last router: everything started, freeze the heap (:mod:`.heap`)."""
    del app
    freeze_heap()
    yield


def create_app(settings: Settings | None = None) -> FastAPI:
    """A fresh application on ``settings`` (default: from the environment, :func:`get_settings`).

    Parameters
    ----------
    settings : Settings, optional
        Used for the middleware and stored as ``app.state.settings``, where every route's
        :data:`~geoeco_api.deps.SettingsDep` finds it (tests pass tmp folders here).
    """
    s = settings if settings is not None else get_settings()
    app = FastAPI(
        title="geoeco",
        version=__version__,
        description=DESCRIPTION,
        root_path=s.root_path,
        docs_url=None,  # served offline by routers.docs
        redoc_url=None,
        dependencies=[Depends(rate_limit)],
    )
    app.state.settings = s
    # FastAPI's documented way to extend the schema is to replace the method
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]  # (see above)

    add_exception_handlers(app)
    # innermost first: the guard sees requests that passed the size limit and CORS
    app.add_middleware(
        CrossSiteGuard, allowed_origins=s.cors_origin_list, raw_body_paths=RAW_BODY_PATHS
    )
    app.add_middleware(
        uploads.UploadBodyLimit,
        max_body_bytes=s.max_body_bytes,
        max_upload_bytes=s.max_upload_bytes,
    )
    if s.cors_origin_list:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=s.cors_origin_list,
            allow_methods=["GET", "POST", "DELETE", "OPTIONS"],
            allow_headers=["Content-Type", "X-API-Key", "X-Job-Token", "Prefer"],
            expose_headers=["Location", "Retry-After", "Link", "X-Job-Token"],
        )

    # the hot routes first: a request is matched against the routes in this order
    routers = [health.router, query.router, docs.router, catalogue.router, features.router]
    routers.append(tiles.router)
    for name in OPTIONAL_ROUTERS:
        if importlib.util.find_spec(name) is not None:
            routers.append(importlib.import_module(name).router)
    routers += [maps.router, uploads.router]
    # included last, so its startup runs after the others' (the job service's)
    routers.append(APIRouter(lifespan=_freeze_after_startup))
    for router in routers:
        app.include_router(router)
    app.state.route_methods = route_methods(routers)  # the Allow header of 405s
    if s.log_json:
        configure_logging(s.log_level)
    app.add_middleware(RequestLogMiddleware)  # outermost: sees every response, 413s included
    return app


def __getattr__(name: str) -> Any:
    # ``app`` is built on first access (PEP 562), so importing this module reads no settings.
    if name == "app":
        app = create_app()
        globals()["app"] = app
        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["create_app"]
