"""Interactive API documentation that works offline: Swagger UI served by the app itself.

FastAPI's own ``/docs`` page loads Swagger UI from a CDN, a blank page on an isolated network.
Here ``/docs`` is FastAPI's page pointed at ``/docs/assets/``, which serves the few files of
the Swagger UI distribution that the ``swagger-ui-bundle`` package ships (Swagger UI 4, which
reads OpenAPI 3.0: the version ``/openapi.json`` is served in, see
:mod:`geoeco_api.openapi30`). Only the names in :data:`ASSETS` are served. URLs in the page
include ``GEOECO_ROOT_PATH`` so the page works behind a proxy prefix. ReDoc (CDN only) is off.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse

from ..errors import problem_response

router = APIRouter(tags=["docs"], include_in_schema=False)

#: The Swagger UI files the page needs, with their media types.
ASSETS: dict[str, str] = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "favicon-32x32.png": "image/png",
}


def _dist() -> Path | None:
    """The Swagger UI distribution folder of ``swagger-ui-bundle``, or None if not installed."""
    try:
        from swagger_ui_bundle import swagger_ui_path
    except ImportError:
        return None
    return Path(str(swagger_ui_path))


def _prefix(request: Request) -> str:
    return str(request.scope.get("root_path", "")).rstrip("/")


@router.get("/docs", name="api_docs")
def api_docs(request: Request) -> HTMLResponse:
    """The Swagger UI page for ``/openapi.json``, its scripts from ``/docs/assets/``."""
    prefix = _prefix(request)
    if _dist() is None:
        return HTMLResponse(
            "<p>Interactive docs need the <code>swagger-ui-bundle</code> package; "
            f'the API description is at <a href="{prefix}/openapi.json">/openapi.json</a>.</p>',
            status_code=503,
        )
    return get_swagger_ui_html(
        openapi_url=f"{prefix}/openapi.json",
        title="geoeco API",
        swagger_js_url=f"{prefix}/docs/assets/swagger-ui-bundle.js",
        swagger_css_url=f"{prefix}/docs/assets/swagger-ui.css",
        swagger_favicon_url=f"{prefix}/docs/assets/favicon-32x32.png",
        swagger_ui_parameters={"validatorUrl": None},  # no call to the online validator
    )


@router.get("/docs/assets/{name}", name="api_docs_asset")
def api_docs_asset(name: str, request: Request) -> Any:
    """One file of the Swagger UI distribution (only those in :data:`ASSETS`)."""
    dist = _dist()
    if name not in ASSETS or dist is None:
        return problem_response(404, f"no docs asset {name!r}", instance=request.url.path)
    return FileResponse(
        dist / name,
        media_type=ASSETS[name],
        headers={"Cache-Control": "public, max-age=86400"},
    )


__all__ = ["ASSETS", "router"]
