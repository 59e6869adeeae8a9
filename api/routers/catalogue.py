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
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    *(
        f"http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/{c}"
        for c in ("core", "json", "oas30", "job-list", "dismiss", "ogc-process-description")
    ),
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
            {
                "rel": "http://www.opengis.net/def/rel/ogc/1.0/processes",
                "type": "application/json",
                "href": f"{base}/processes",
            },
            {
                "rel": "http://www.opengis.net/def/rel/ogc/1.0/job-list",
                "type": "application/json",
                "href": f"{base}/jobs",
            },
        ],
    }


@router.get("/conformance", summary="Conformance classes", name="conformance")
def conformance() -> dict[str, list[str]]:
    """The OGC API - Features and Processes conformance classes implemented."""
    return {"conformsTo": CONFORMANCE}
