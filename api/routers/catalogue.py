"""The landing page and the conformance classes of the OGC APIs served.

``/`` links the API definition, its documentation, the conformance classes and the data;
``/conformance`` lists the classes. The collections themselves are in :mod:`.features`.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from .features_common import FEATURES_CONFORMANCE

router = APIRouter(tags=["catalogue"])

CONFORMANCE = [
    *FEATURES_CONFORMANCE,
    # oas30 is declared only when /openapi.json is served as OpenAPI 3.0 (issue 15, the
    # OpenAPI half decides; FastAPI alone emits 3.1)
]


def _url(request: Request, name: str, **params: Any) -> str:
    return str(request.url_for(name, **params))


@router.get("/", summary="Landing page", name="landing")
def landing(request: Request) -> dict[str, Any]:
    """Links to the API definition, the conformance classes and the collections."""
    base = str(request.base_url).rstrip("/")
    return {
        "title": "geoeco",
        "description": "Ecological control zones for China: layers, map tiles and processes.",
        "links": [
            {"rel": "self", "type": "application/json", "href": _url(request, "landing")},
            {
                "rel": "service-desc",
                "type": "application/vnd.oai.openapi+json;version=3.0",
                "href": f"{base}/openapi.json",
            },
            {"rel": "service-doc", "type": "text/html", "href": f"{base}/docs"},
            {
                "rel": "conformance",
                "type": "application/json",
                "href": _url(request, "conformance"),
            },
            {"rel": "data", "type": "application/json", "href": _url(request, "collections")},
        ],
    }


@router.get("/conformance", summary="Conformance classes", name="conformance")
def conformance() -> dict[str, list[str]]:
    """The OGC API - Features conformance classes implemented."""
    return {"conformsTo": CONFORMANCE}
