"""What the layer and the job Features routes share: parameters, paging links, documents.

OGC API - Features Part 1 (core, GeoJSON), Part 2 (CRS by reference) and Part 3 (queryables,
filtering by simple property equality) on any :class:`~geoeco.query.context.IndexedLayer`:

* ``bbox`` has 4 or 6 numbers (the heights of a 6-number bbox are ignored), in ``bbox-crs``
  (default CRS84); ``crs`` picks the CRS of the answer, named in the ``Content-Crs`` header;
* ``limit`` is capped at the server's ``items_max_limit`` (1000 by default), never refused;
* a query parameter that is neither one of these nor a queryable is a 400, as Part 1 asks;
* ``?name=value`` keeps the features whose property ``name`` equals ``value``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Query, Request, Response
from starlette.exceptions import HTTPException

from geoeco.core.errors import InvalidInput
from geoeco.query.context import IndexedLayer
from geoeco.query.models import FeaturePage
from geoeco.service.ogc_features import (
    CRS84,
    CRS_URIS,
    STORAGE_CRS,
    feature_row,
    filtered_page,
    lat_lon,
    lonlat_bbox,
    parse_filters,
    queryables,
    render,
)

from ..errors import param_error
from ..settings import Settings

GEOJSON = "application/geo+json"
SCHEMA_JSON = "application/schema+json"
#: Conformance classes of OGC API - Features implemented by these routes.
FEATURES_CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables-query-parameters",
]
#: Query parameters of the items routes besides the queryables (``access``: job map codes).
ITEMS_PARAMS = frozenset({"bbox", "bbox-crs", "crs", "limit", "offset", "f", "access"})
#: Query parameters of a single feature and of the other collection routes.
ITEM_PARAMS = frozenset({"crs", "f", "access"})
OTHER_PARAMS = frozenset({"f", "access"})
#: The Settings default of ``items_default_limit``, shown as the schema default.
DEFAULT_LIMIT = 100

_NUMBER = r"[-+]?(?:\d{1,30}(?:\.\d{0,30})?|\.\d{1,30})"
#: The shape of ``bbox``: 4 or 6 numbers; ranges and order are checked by :func:`bbox_of`.
BBOX_PATTERN = "^" + ",".join([_NUMBER] * 4) + "(?:," + _NUMBER + "," + _NUMBER + ")?$"
_CRS_LIST = ", ".join(f"`{c}`" for c in CRS_URIS)

BboxQuery = Annotated[
    str | None,
    Query(
        description="minx,miny,maxx,maxy (or 6 numbers with heights, which are ignored) in "
        "`bbox-crs`: lon,lat for CRS84 (the default), lat,lon for EPSG:4326 and EPSG:4490.",
        examples=["108,34,110,36"],
        pattern=BBOX_PATTERN,
        max_length=400,
    ),
]
BboxCrsQuery = Annotated[
    str,
    Query(
        alias="bbox-crs",
        max_length=200,
        description=f"CRS of `bbox`: one of {_CRS_LIST} (another value is a 400).",
        json_schema_extra={"enum": list(CRS_URIS)},
    ),
]
CrsQuery = Annotated[
    str,
    Query(
        max_length=200,
        description=f"CRS of the geometries returned: one of {_CRS_LIST} (another value is a 400).",
        json_schema_extra={"enum": list(CRS_URIS)},
    ),
]
LimitQuery = Annotated[
    int,
    Query(
        ge=1,
        description=f"Features per page, default {DEFAULT_LIMIT}; a larger value than the "
        "server's cap (1000 unless configured with `GEOECO_ITEMS_MAX_LIMIT`) is served as the "
        "cap, and the `next` link pages on with it.",
    ),
]
OffsetQuery = Annotated[int, Query(ge=0, le=10**9, description="Matches to skip.")]


def bad_request(detail: str) -> HTTPException:
    """A 400 problem (unknown parameter, unsupported CRS), as OGC API - Features asks."""
    return HTTPException(400, detail)


def check_params(request: Request, allowed: Iterable[str]) -> None:
    """400 if the query has a parameter outside ``allowed`` (or a format other than JSON)."""
    known = set(allowed)
    unknown = sorted({k for k in request.query_params if k not in known})
    if unknown:
        names = ", ".join(repr(k[:50]) for k in unknown[:5])
        raise bad_request(
            f"unknown query parameter(s) {names}; this resource takes: " + ", ".join(sorted(known))
        )
    f = request.query_params.get("f")
    if f is not None and f not in ("json", "geojson"):
        raise bad_request(f"f={f[:20]!r} is not served; the only format is (geo)json")


def crs_of(value: str, name: str) -> str:
    """The CRS URI of a ``crs`` / ``bbox-crs`` value; 400 if unsupported."""
    if value not in CRS_URIS:
        raise bad_request(f"{name}={value[:200]!r} is not supported; use one of: {_CRS_LIST}")
    return value


def bbox_of(text: str | None, crs: str) -> tuple[float, float, float, float] | None:
    """The lon-lat bbox of a ``bbox`` parameter in ``crs`` (422 when out of range)."""
    if text is None:
        return None
    vals = [float(p) for p in text.split(",")]
    if not all(math.isfinite(v) for v in vals):
        raise param_error("query", "bbox", f"bbox must be finite numbers: {text!r}")
    try:
        return lonlat_bbox(vals, crs)
    except InvalidInput as exc:
        raise param_error("query", "bbox", f"{exc}; got {text!r}") from None


def filters_of(request: Request, lyr: IndexedLayer) -> list[tuple[str, Any]]:
    """The property filters of the query; 422 for a value of the wrong type."""
    params = {k: v for k, v in request.query_params.items() if k not in ITEMS_PARAMS}
    try:
        return parse_filters(lyr, params)
    except InvalidInput as exc:
        raise param_error("query", "filter", str(exc)) from None


def capped_limit(request: Request, limit: int, settings: Settings) -> int:
    """``limit`` capped at the server's maximum (the settings' default when not given)."""
    if "limit" not in request.query_params:
        limit = settings.items_default_limit
    return min(limit, settings.items_max_limit)


def crs_members() -> dict[str, Any]:
    """The Part 2 members of a collection: the CRSs served and the storage CRS."""
    return {"crs": list(CRS_URIS), "storageCrs": STORAGE_CRS}


def feature_links(request: Request, collection_url: str) -> list[dict[str, Any]]:
    """``self`` and ``collection`` links of a feature or a page."""
    return [
        {"rel": "self", "type": GEOJSON, "href": str(request.url)},
        {"rel": "collection", "type": "application/json", "href": collection_url},
    ]


def page_body(
    request: Request, page: FeaturePage, collection_url: str, offset: int
) -> dict[str, Any]:
    """The FeatureCollection of one page with ``next``/``prev`` links at the served size."""
    links = feature_links(request, collection_url)
    step = page.limit
    if offset + page.number_returned < page.number_matched:
        nxt = request.url.include_query_params(offset=offset + step, limit=step)
        links.append({"rel": "next", "type": GEOJSON, "href": str(nxt)})
    if offset > 0:
        prv = request.url.include_query_params(offset=max(0, offset - step), limit=step)
        links.append({"rel": "prev", "type": GEOJSON, "href": str(prv)})
    return {
        "type": "FeatureCollection",
        "features": page.features,
        "numberMatched": page.number_matched,
        "numberReturned": page.number_returned,
        "timeStamp": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "links": links,
    }


def items_page(
    request: Request,
    lyr: IndexedLayer,
    *,
    bbox: str | None,
    bbox_crs: str,
    crs: str,
    limit: int,
    offset: int,
) -> tuple[FeaturePage, str]:
    """One page of ``lyr`` for an items request (parameters checked) and its CRS."""
    allowed = ITEMS_PARAMS | set(queryables(lyr))
    check_params(request, allowed)
    out_crs = crs_of(crs, "crs")
    box = bbox_of(bbox, crs_of(bbox_crs, "bbox-crs"))
    filters = filters_of(request, lyr)
    page = filtered_page(lyr, box, filters, limit=limit, offset=offset, swap=lat_lon(out_crs))
    return page, out_crs


def one_feature(request: Request, lyr: IndexedLayer, fid: str, crs: str) -> tuple[Any, str]:
    """Feature ``fid`` of ``lyr`` (``None`` if absent) and the answer's CRS."""
    check_params(request, ITEM_PARAMS)
    out_crs = crs_of(crs, "crs")
    row = feature_row(lyr, fid)
    return (None if row is None else render(lyr, row, swap=lat_lon(out_crs))), out_crs


def geojson_response(
    body: dict[str, Any], crs: str, headers: dict[str, str] | None = None
) -> Response:
    """GeoJSON with the ``Content-Crs`` header (Part 2)."""
    return Response(
        json.dumps(body, ensure_ascii=False, separators=(",", ":")),
        media_type=GEOJSON,
        headers={"Content-Crs": f"<{crs}>", **(headers or {})},
    )


def queryables_doc(request: Request, lyr: IndexedLayer, title: str) -> Response:
    """The Part 3 queryables document (a JSON Schema) of a layer."""
    body = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": str(request.url.remove_query_params(["f", "access"])),
        "type": "object",
        "title": title,
        "properties": queryables(lyr),
        "additionalProperties": False,
    }
    return Response(json.dumps(body, ensure_ascii=False), media_type=SCHEMA_JSON)


def collection_links(collection_url: str, title: str, *, suffix: str = "") -> list[dict[str, Any]]:
    """``self``, ``items`` and ``queryables`` links of a vector collection (``suffix``: query)."""
    return [
        {
            "rel": "self",
            "type": "application/json",
            "title": title,
            "href": collection_url + suffix,
        },
        {
            "rel": "items",
            "type": GEOJSON,
            "title": "Features",
            "href": collection_url + "/items" + suffix,
        },
        {
            "rel": "http://www.opengis.net/def/rel/ogc/1.0/queryables",
            "type": SCHEMA_JSON,
            "title": "Queryables",
            "href": collection_url + "/queryables" + suffix,
        },
    ]


__all__ = [
    "CRS84",
    "DEFAULT_LIMIT",
    "FEATURES_CONFORMANCE",
    "GEOJSON",
    "ITEMS_PARAMS",
    "ITEM_PARAMS",
    "OTHER_PARAMS",
    "SCHEMA_JSON",
    "BboxCrsQuery",
    "BboxQuery",
    "CrsQuery",
    "LimitQuery",
    "OffsetQuery",
    "bad_request",
    "capped_limit",
    "check_params",
    "collection_links",
    "crs_members",
    "feature_links",
    "geojson_response",
    "items_page",
    "one_feature",
    "page_body",
    "queryables_doc",
]
