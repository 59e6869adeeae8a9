"""The layer catalogue in the shape of OGC API - Features (Part 1: Core, GeoJSON, OpenAPI 3.0).

``/`` (landing page), ``/conformance``, ``/collections``, ``/collections/{id}``,
``/collections/{id}/items`` and ``/collections/{id}/items/{fid}``. Every layer is a
collection; raster layers have no items but a tile link, an extent, their grid and legend.
Each collection and each feature response carries the layer's ``status`` (``real``,
``approximation``, ``synthetic``), also sent as the ``X-Geoeco-Layer-Status`` header.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response

from geoeco.catalog.layers import LayerSpec
from geoeco.service.features import describe_layer, layer_feature, layer_features

from ..deps import RegistryDep, SettingsDep
from ..errors import param_error, problem_responses, server_side

router = APIRouter(tags=["catalogue"])

GEOJSON = "application/geo+json"
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
]
STATUS_HEADER = "X-Geoeco-Layer-Status"

# four decimal numbers of at most 30 digits (every match is a finite float)
_NUMBER = r"[-+]?(?:\d{1,30}(?:\.\d{0,30})?|\.\d{1,30})"
#: The shape of ``bbox``; ranges and min < max are checked by :func:`_bbox`.
BBOX_PATTERN = "^" + ",".join([_NUMBER] * 4) + "$"
CollectionId = Annotated[str, Path(description="Layer id, e.g. `admin.county`.")]


def _url(request: Request, name: str, **params: Any) -> str:
    return str(request.url_for(name, **params))


def _links(request: Request, spec: LayerSpec) -> list[dict[str, Any]]:
    cid = spec.id
    links: list[dict[str, Any]] = [
        {
            "rel": "self",
            "type": "application/json",
            "title": spec.title_en,
            "href": _url(request, "collection", collection_id=cid),
        }
    ]
    if spec.kind == "vector":
        links.append(
            {
                "rel": "items",
                "type": GEOJSON,
                "title": "Features",
                "href": _url(request, "items", collection_id=cid),
            }
        )
    else:
        base = str(request.base_url).rstrip("/")
        links.append(
            {
                "rel": "tiles",
                "type": "image/png",
                "title": "Web Mercator XYZ tiles",
                "href": f"{base}/tiles/{cid}/{{z}}/{{x}}/{{y}}.png",
                "templated": True,
            }
        )
    return links


def _collection(request: Request, spec: LayerSpec, body: dict[str, Any]) -> dict[str, Any]:
    if spec.kind == "vector":
        body["itemType"] = "feature"
    body["links"] = _links(request, spec)
    return body


def _bbox(text: str | None) -> tuple[float, float, float, float] | None:
    if text is None:
        return None
    parts = text.split(",")
    try:
        vals = [float(p) for p in parts]
    except ValueError:
        raise param_error("query", "bbox", f"bbox must be 4 numbers, got {text!r}") from None
    if len(vals) != 4 or not all(math.isfinite(v) for v in vals):
        raise param_error(
            "query", "bbox", f"bbox must be 4 finite numbers minlon,minlat,maxlon,maxlat: {text!r}"
        )
    x0, y0, x1, y1 = vals
    if not (-180 <= x0 < x1 <= 180 and -90 <= y0 < y1 <= 90):
        raise param_error(
            "query",
            "bbox",
            f"bbox must be minlon,minlat,maxlon,maxlat with min < max, lon in [-180, 180], "
            f"lat in [-90, 90]; got {text!r}",
        )
    return x0, y0, x1, y1


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


@router.get("/collections", summary="All layers", name="collections")
def collections(request: Request, registry: RegistryDep) -> dict[str, Any]:
    """Every layer (without extents, which need the data; see ``/collections/{id}``)."""
    return {
        "collections": [_collection(request, s, describe_layer(s)) for s in registry],
        "links": [{"rel": "self", "type": "application/json", "href": str(request.url)}],
    }


@router.get(
    "/collections/{collection_id}",
    summary="One layer",
    name="collection",
    responses=problem_responses(404),
)
def collection(
    collection_id: CollectionId,
    request: Request,
    response: Response,
    registry: RegistryDep,
    settings: SettingsDep,
) -> dict[str, Any]:
    """A layer with its WGS 84 extent (and for rasters grid, legend, units)."""
    spec = registry.get(collection_id)
    with server_side(f"layer {collection_id!r}"):
        body = describe_layer(spec, extent=True, cache_dir=settings.cache_dir)
    response.headers[STATUS_HEADER] = spec.status
    return _collection(request, spec, body)


def _layer_info(spec: LayerSpec) -> dict[str, Any]:
    return {"id": spec.id, "status": spec.status, "version": spec.version, "licence": spec.licence}


@router.get(
    "/collections/{collection_id}/items",
    summary="Features of a vector layer",
    name="items",
    response_class=Response,
    responses={200: {"content": {GEOJSON: {}}}, **problem_responses(404, 422)},
)
def items(
    collection_id: CollectionId,
    request: Request,
    registry: RegistryDep,
    settings: SettingsDep,
    bbox: Annotated[
        str | None,
        Query(
            description="minlon,minlat,maxlon,maxlat (WGS 84 / CGCS2000; min < max)",
            examples=["108,34,110,36"],
            pattern=BBOX_PATTERN,
            max_length=200,
        ),
    ] = None,
    limit: Annotated[
        int | None,
        Query(ge=1, le=1000, description="Features per page (default 100, max 1000)."),
    ] = None,
    offset: Annotated[int, Query(ge=0, description="Matches to skip.")] = 0,
) -> Response:
    """A page of GeoJSON features intersecting ``bbox`` with ``next``/``prev`` links."""
    if limit is None:
        limit = settings.items_default_limit
    elif limit > settings.items_max_limit:
        raise param_error(
            "query", "limit", f"limit must be at most {settings.items_max_limit}, got {limit}"
        )
    box = _bbox(bbox)
    spec = registry.get(collection_id)
    with server_side(f"layer {collection_id!r}"):
        page = layer_features(spec, bbox=box, limit=limit, offset=offset)
    links = [
        {"rel": "self", "type": GEOJSON, "href": str(request.url)},
        {
            "rel": "collection",
            "type": "application/json",
            "href": _url(request, "collection", collection_id=collection_id),
        },
    ]
    step = page.limit  # the library may clamp `limit`; links follow what it served
    if offset + page.number_returned < page.number_matched:
        nxt = request.url.include_query_params(offset=offset + step, limit=step)
        links.append({"rel": "next", "type": GEOJSON, "href": str(nxt)})
    if offset > 0:
        prv = request.url.include_query_params(offset=max(0, offset - step), limit=step)
        links.append({"rel": "prev", "type": GEOJSON, "href": str(prv)})
    body = {
        "type": "FeatureCollection",
        "layer": _layer_info(spec),
        "features": page.features,
        "numberMatched": page.number_matched,
        "numberReturned": page.number_returned,
        "timeStamp": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "links": links,
    }
    return _geojson(body, spec)


def _geojson(body: dict[str, Any], spec: LayerSpec) -> Response:
    import json

    return Response(
        json.dumps(body, ensure_ascii=False, separators=(",", ":")),
        media_type=GEOJSON,
        headers={STATUS_HEADER: spec.status},
    )


@router.get(
    "/collections/{collection_id}/items/{fid}",
    summary="One feature",
    name="item",
    response_class=Response,
    responses={200: {"content": {GEOJSON: {}}}, **problem_responses(404)},
)
def item(
    collection_id: CollectionId,
    fid: Annotated[str, Path(description="Feature id (e.g. the county code).")],
    request: Request,
    registry: RegistryDep,
) -> Response:
    """One GeoJSON feature, with ``self`` and ``collection`` links."""
    spec = registry.get(collection_id)
    with server_side(f"layer {collection_id!r}"):
        feature = layer_feature(spec, fid)
    feature["layer"] = _layer_info(spec)
    feature["links"] = [
        {"rel": "self", "type": GEOJSON, "href": str(request.url)},
        {
            "rel": "collection",
            "type": "application/json",
            "href": _url(request, "collection", collection_id=collection_id),
        },
    ]
    return _geojson(feature, spec)
