"""Build the FastAPI application: ``create_app(settings)`` wires routers, handlers, middleware.

Run with ``uvicorn geoeco_api.main:app`` (the module-level ``app`` is built lazily on first
attribute access, so ``import geoeco_api.main`` stays cheap) or
``uvicorn --factory geoeco_api.main:create_app``.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import Any

from fastapi import Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware

from geoeco import __version__

from .deps import get_settings
from .errors import Problem, add_exception_handlers, problem_response_doc
from .logging import RequestLogMiddleware, configure_logging
from .routers import catalogue, health, maps, query, tiles, uploads
from .security import CrossSiteGuard, rate_limit
from .settings import Settings

#: Paths whose request body is a file of any (non-form) type rather than JSON.
RAW_BODY_PATHS = ("/uploads",)
#: Routers written elsewhere that are included when their module exists (the job system).
OPTIONAL_ROUTERS = ("geoeco_api.routers.processes", "geoeco_api.routers.jobs")

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
    """The execute request: ``process_id`` one of the registered processes, ``inputs`` theirs.

    The inputs' JSON Schema depends on the process, which OpenAPI cannot tie to the path, so
    the body lists every process's inputs schema (``anyOf``); ``GET /processes/{id}`` gives the
    one of a process.
    """
    from geoeco.service.processes import PROCESSES

    op = schema.get("paths", {}).get(EXECUTION_PATH, {}).get("post")
    if op is None:
        return
    ids = sorted(PROCESSES)
    for param in op.get("parameters", []):
        if param.get("in") == "path" and param.get("name") == "process_id":
            param["schema"] = {"type": "string", "enum": ids, "title": "Process Id"}
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
    schema = FastAPI.openapi(app)  # sets app.openapi_schema to this object
    document_execution(schema)
    document_common_problems(schema)
    return schema


def create_app(settings: Settings | None = None) -> FastAPI:
    """A fresh application; ``settings`` (default: from the environment) override ``get_settings``.

    Parameters
    ----------
    settings : Settings, optional
        Used for the middleware and installed as ``dependency_overrides[get_settings]`` so that
        every route sees the same object (tests pass tmp folders here).
    """
    s = settings if settings is not None else get_settings()
    app = FastAPI(
        title="geoeco",
        version=__version__,
        description=DESCRIPTION,
        root_path=s.root_path,
        dependencies=[Depends(rate_limit)],
    )
    app.state.settings = s
    # FastAPI's documented way to extend the schema is to replace the method
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]  # (see above)
    if settings is not None:
        app.dependency_overrides[get_settings] = lambda: s

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

    app.include_router(health.router)
    app.include_router(catalogue.router)
    app.include_router(tiles.router)
    for name in OPTIONAL_ROUTERS:
        if importlib.util.find_spec(name) is not None:
            app.include_router(importlib.import_module(name).router)
    app.include_router(query.router)
    app.include_router(maps.router)
    app.include_router(uploads.router)
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
