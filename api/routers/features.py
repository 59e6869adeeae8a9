"""The layer catalogue as OGC API - Features collections (Parts 1, 2 and 3).

``/collections`` lists the vector layers, each with ``itemType: feature``, the CRSs served
(``crs``, ``storageCrs``) and links to its items and queryables; raster layers are not
Features collections (older Features clients such as GDAL 3.6 would ask them for items), so
they are listed apart under ``rasterLayers`` with their tile links, and ``/collections/{id}``
still describes them (extent, grid, legend). Every vector collection has ``/items`` (paged
GeoJSON), ``/items/{fid}`` and ``/queryables``; see :mod:`.features_common` for the
parameters. Each answer carries the layer's ``status`` (``real``, ``approximation``,
``synthetic``), also sent as the ``X-Geoeco-Layer-Status`` header.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response

from geoeco.catalog.layers import LayerSpec
from geoeco.core.errors import InvalidInput, LayerNotFound
from geoeco.service.features import describe_layer, layer_index

from ..deps import RegistryDep, SettingsDep
from ..errors import problem_responses, server_side
from .features_common import (
    CRS84,
    DEFAULT_LIMIT,
    GEOJSON,
    OTHER_PARAMS,
    SCHEMA_JSON,
    BboxCrsQuery,
    BboxQuery,
    CrsQuery,
    LimitQuery,
    OffsetQuery,
    capped_limit,
    check_params,
    collection_links,
    crs_members,
    feature_links,
    geojson_response,
    items_page,
    one_feature,
    page_body,
    queryables_doc,
)

router = APIRouter(tags=["catalogue"])

STATUS_HEADER = "X-Geoeco-Layer-Status"
CollectionId = Annotated[str, Path(description="Layer id, e.g. `admin.county`.")]


def _url(request: Request, name: str, **params: Any) -> str:
    return str(request.url_for(name, **params))


def _raster_links(request: Request, spec: LayerSpec) -> list[dict[str, Any]]:
    base = str(request.base_url).rstrip("/")
    return [
        {
            "rel": "self",
            "type": "application/json",
            "title": spec.title_en,
            "href": _url(request, "collection", collection_id=spec.id),
        },
        {
            "rel": "tiles",
            "type": "image/png",
            "title": "Web Mercator XYZ tiles",
            "href": f"{base}/tiles/{spec.id}/{{z}}/{{x}}/{{y}}.png",
            "templated": True,
        },
    ]


def _collection(request: Request, spec: LayerSpec, body: dict[str, Any]) -> dict[str, Any]:
    if spec.kind == "vector":
        body["itemType"] = "feature"
        body.update(crs_members())
        url = _url(request, "collection", collection_id=spec.id)
        body["links"] = collection_links(url, spec.title_en)
    else:
        body["links"] = _raster_links(request, spec)
    return body


@router.get(
    "/collections", summary="Vector layers (and the raster layers apart)", name="collections"
)
def collections(request: Request, registry: RegistryDep) -> dict[str, Any]:
    """The vector layers as Features collections; raster layers under ``rasterLayers``."""
    check_params(request, OTHER_PARAMS)
    specs = list(registry)
    return {
        "collections": [
            _collection(request, s, describe_layer(s)) for s in specs if s.kind == "vector"
        ],
        "rasterLayers": [
            _collection(request, s, describe_layer(s)) for s in specs if s.kind != "vector"
        ],
        "links": [{"rel": "self", "type": "application/json", "href": str(request.url)}],
    }


@router.get(
    "/collections/{collection_id}",
    summary="One layer",
    name="collection",
    responses=problem_responses(400, 404),
)
def collection(
    collection_id: CollectionId,
    request: Request,
    response: Response,
    registry: RegistryDep,
    settings: SettingsDep,
) -> dict[str, Any]:
    """A layer with its WGS 84 extent (and for rasters grid, legend, units)."""
    check_params(request, OTHER_PARAMS)
    spec = registry.get(collection_id)
    with server_side(f"layer {collection_id!r}"):
        body = describe_layer(spec, extent=True, cache_dir=settings.cache_dir)
    response.headers[STATUS_HEADER] = spec.status
    return _collection(request, spec, body)


def _layer_info(spec: LayerSpec) -> dict[str, Any]:
    return {"id": spec.id, "status": spec.status, "version": spec.version, "licence": spec.licence}


def _vector(registry: Any, collection_id: str) -> tuple[LayerSpec, Any]:
    spec = registry.get(collection_id)
    if spec.kind != "vector":
        raise InvalidInput(f"layer {collection_id!r} is a raster layer; it has no features")
    with server_side(f"layer {collection_id!r}"):
        return spec, layer_index(spec)


@router.get(
    "/collections/{collection_id}/items",
    summary="Features of a vector layer",
    name="items",
    response_class=Response,
    responses={200: {"content": {GEOJSON: {}}}, **problem_responses(400, 404, 422)},
)
def items(
    collection_id: CollectionId,
    request: Request,
    registry: RegistryDep,
    settings: SettingsDep,
    bbox: BboxQuery = None,
    bbox_crs: BboxCrsQuery = CRS84,
    crs: CrsQuery = CRS84,
    limit: LimitQuery = DEFAULT_LIMIT,
    offset: OffsetQuery = 0,
) -> Response:
    """A page of GeoJSON features intersecting ``bbox`` with ``next``/``prev`` links.

    Any queryable property may be given as ``name=value`` to keep the features whose
    property equals the value (see ``/collections/{id}/queryables``).
    """
    spec, lyr = _vector(registry, collection_id)
    page, out_crs = items_page(
        request,
        lyr,
        bbox=bbox,
        bbox_crs=bbox_crs,
        crs=crs,
        limit=capped_limit(request, limit, settings),
        offset=offset,
    )
    url = _url(request, "collection", collection_id=collection_id)
    body = {"layer": _layer_info(spec), **page_body(request, page, url, offset)}
    return geojson_response(body, out_crs, {STATUS_HEADER: spec.status})


@router.get(
    "/collections/{collection_id}/items/{fid}",
    summary="One feature",
    name="item",
    response_class=Response,
    responses={200: {"content": {GEOJSON: {}}}, **problem_responses(400, 404, 422)},
)
def item(
    collection_id: CollectionId,
    fid: Annotated[str, Path(max_length=200, description="Feature id (e.g. the county code).")],
    request: Request,
    registry: RegistryDep,
    crs: CrsQuery = CRS84,
) -> Response:
    """One GeoJSON feature, with ``self`` and ``collection`` links."""
    spec, lyr = _vector(registry, collection_id)
    feature, out_crs = one_feature(request, lyr, fid, crs)
    if feature is None:
        raise LayerNotFound(f"layer {collection_id!r} has no feature {fid[:200]!r}")
    feature["layer"] = _layer_info(spec)
    feature["links"] = feature_links(
        request, _url(request, "collection", collection_id=collection_id)
    )
    return geojson_response(feature, out_crs, {STATUS_HEADER: spec.status})


@router.get(
    "/collections/{collection_id}/queryables",
    summary="Filterable properties of a vector layer",
    name="queryables",
    response_class=Response,
    responses={200: {"content": {SCHEMA_JSON: {}}}, **problem_responses(400, 404, 422)},
)
def layer_queryables(
    collection_id: CollectionId, request: Request, registry: RegistryDep
) -> Response:
    """A JSON Schema of the properties usable as ``name=value`` filters on the items."""
    check_params(request, OTHER_PARAMS)
    spec, lyr = _vector(registry, collection_id)
    return queryables_doc(request, lyr, spec.title_en)
