"""A zoning job's vector results as OGC API - Features collections, under the job only.

``/jobs/{id}/collections`` lists the ``units``, ``redline`` and ``restoration`` layers of a
successful zoning job's ``zones.gpkg``; each has ``/items``, ``/items/{fid}`` and
``/queryables`` with the same parameters as the layer collections (paging, ``bbox``, CRSs,
property filters; :mod:`.features_common`). Every route checks the job like any job
resource (:func:`.jobs.visible_job`: unknown and other owners' jobs are the same 404;
with API keys on the job's ``access`` code works too, as for its tiles), and a job without
results answers like its results would (404 running, 409 failed, 410 dismissed). The job's
rasters stay tiles (``/jobs/{id}/tiles/...``), linked from its results and from here.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response
from fastapi.responses import JSONResponse

from geoeco.core.errors import LayerNotFound
from geoeco.query.context import IndexedLayer
from geoeco.service.job_model import Job
from geoeco.service.run_features import RUN_LAYERS, run_layer, zones_gpkg

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
from .jobs import (
    AccessQuery,
    Caller,
    CallerDep,
    JobServiceDep,
    job_not_ready,
    no_such_job,
    visible_job,
    with_access,
)

router = APIRouter(tags=["jobs"])

RunCollectionId = Annotated[
    str, Path(max_length=50, description="`units`, `redline` or `restoration`.")
]
_JOB_PROBLEMS = problem_responses(400, 404, 409, 410, 422)


def _job(
    svc: Any, job_id: str, caller: Caller, access: str | None, request: Request
) -> Job | JSONResponse:
    """The readable, successful job, or the problem to answer instead."""
    job = visible_job(svc, job_id, Caller(caller.api_key, access))
    if job is None:
        return no_such_job(job_id, request)
    return job_not_ready(job, request) or job


def _run_dir(svc: Any, job: Job) -> Any:
    return svc.results_dir / job.id


def _layer(svc: Any, job: Job, name: str) -> IndexedLayer:
    if job.process_id != "zoning":
        raise LayerNotFound(f"job {job.id} is a {job.process_id!r} job; it has no collections")
    with server_side(f"job {job.id} layer {name!r}"):
        return run_layer(_run_dir(svc, job), name)


def _suffix(request: Request) -> str:
    access = request.query_params.get("access")
    return f"?access={access}" if access else ""


def _collection_doc(request: Request, job: Job, name: str) -> dict[str, Any]:
    url = str(request.url_for("job_collection", job_id=job.id, collection_id=name))
    title_en, title_zh = RUN_LAYERS[name]
    return {
        "id": name,
        "title": title_en,
        "title_zh": title_zh,
        "itemType": "feature",
        **crs_members(),
        "links": collection_links(url, title_en, suffix=_suffix(request)),
    }


@router.get(
    "/jobs/{job_id}/collections",
    name="job_collections",
    summary="A zoning job's vector results as Features collections",
    responses=_JOB_PROBLEMS,
)
def job_collections(
    job_id: str, request: Request, svc: JobServiceDep, caller: CallerDep, access: AccessQuery = None
) -> Any:
    """The job's ``units``, ``redline`` and ``restoration`` collections, and its tiles."""
    check_params(request, OTHER_PARAMS)
    job = _job(svc, job_id, caller, access, request)
    if isinstance(job, JSONResponse):
        return job
    has = job.process_id == "zoning" and zones_gpkg(_run_dir(svc, job)) is not None
    tiles = str(request.url_for("get_job", job_id=job.id)) + "/tiles/{output}/{z}/{x}/{y}.png"
    return {
        "collections": [_collection_doc(request, job, n) for n in RUN_LAYERS] if has else [],
        "links": [
            {"rel": "self", "type": "application/json", "href": str(request.url)},
            {
                "rel": "tiles",
                "type": "image/png",
                "title": "Web Mercator XYZ tiles of the job's output rasters",
                "href": with_access(tiles, job, svc.settings),
                "templated": True,
            },
        ],
    }


@router.get(
    "/jobs/{job_id}/collections/{collection_id}",
    name="job_collection",
    summary="One vector result of a zoning job",
    responses=_JOB_PROBLEMS,
)
def job_collection(
    job_id: str,
    collection_id: RunCollectionId,
    request: Request,
    svc: JobServiceDep,
    caller: CallerDep,
    access: AccessQuery = None,
) -> Any:
    """The collection with its WGS 84 extent."""
    check_params(request, OTHER_PARAMS)
    job = _job(svc, job_id, caller, access, request)
    if isinstance(job, JSONResponse):
        return job
    lyr = _layer(svc, job, collection_id)
    doc = _collection_doc(request, job, collection_id)
    if len(lyr.lonlat):
        import shapely

        bounds = [round(float(v), 6) for v in shapely.total_bounds(lyr.lonlat)]
        doc["extent"] = {"spatial": {"bbox": [bounds], "crs": crs_members()["crs"][0]}}
    return doc


@router.get(
    "/jobs/{job_id}/collections/{collection_id}/items",
    name="job_items",
    summary="Features of a zoning job's vector result",
    response_class=Response,
    responses={200: {"content": {GEOJSON: {}}}, **_JOB_PROBLEMS},
)
def job_items(
    job_id: str,
    collection_id: RunCollectionId,
    request: Request,
    svc: JobServiceDep,
    caller: CallerDep,
    bbox: BboxQuery = None,
    bbox_crs: BboxCrsQuery = CRS84,
    crs: CrsQuery = CRS84,
    limit: LimitQuery = DEFAULT_LIMIT,
    offset: OffsetQuery = 0,
    access: AccessQuery = None,
) -> Any:
    """A page of GeoJSON features; queryable properties filter as ``name=value``."""
    job = _job(svc, job_id, caller, access, request)
    if isinstance(job, JSONResponse):
        return job
    lyr = _layer(svc, job, collection_id)
    page, out_crs = items_page(
        request,
        lyr,
        bbox=bbox,
        bbox_crs=bbox_crs,
        crs=crs,
        limit=capped_limit(request, limit, svc.settings),
        offset=offset,
    )
    url = str(request.url_for("job_collection", job_id=job.id, collection_id=collection_id))
    return geojson_response(page_body(request, page, url + _suffix(request), offset), out_crs)


@router.get(
    "/jobs/{job_id}/collections/{collection_id}/items/{fid}",
    name="job_item",
    summary="One feature of a zoning job's vector result",
    response_class=Response,
    responses={200: {"content": {GEOJSON: {}}}, **_JOB_PROBLEMS},
)
def job_item(
    job_id: str,
    collection_id: RunCollectionId,
    fid: Annotated[str, Path(max_length=200, description="Feature id (e.g. the unit code).")],
    request: Request,
    svc: JobServiceDep,
    caller: CallerDep,
    crs: CrsQuery = CRS84,
    access: AccessQuery = None,
) -> Any:
    """One GeoJSON feature with ``self`` and ``collection`` links."""
    job = _job(svc, job_id, caller, access, request)
    if isinstance(job, JSONResponse):
        return job
    lyr = _layer(svc, job, collection_id)
    feature, out_crs = one_feature(request, lyr, fid, crs)
    if feature is None:
        raise LayerNotFound(f"collection {collection_id!r} has no feature {fid[:200]!r}")
    url = str(request.url_for("job_collection", job_id=job.id, collection_id=collection_id))
    feature["links"] = feature_links(request, url + _suffix(request))
    return geojson_response(feature, out_crs)


@router.get(
    "/jobs/{job_id}/collections/{collection_id}/queryables",
    name="job_queryables",
    summary="Filterable properties of a zoning job's vector result",
    response_class=Response,
    responses={200: {"content": {SCHEMA_JSON: {}}}, **_JOB_PROBLEMS},
)
def job_queryables(
    job_id: str,
    collection_id: RunCollectionId,
    request: Request,
    svc: JobServiceDep,
    caller: CallerDep,
    access: AccessQuery = None,
) -> Any:
    """A JSON Schema of the properties usable as ``name=value`` filters on the items."""
    check_params(request, OTHER_PARAMS)
    job = _job(svc, job_id, caller, access, request)
    if isinstance(job, JSONResponse):
        return job
    lyr = _layer(svc, job, collection_id)
    return queryables_doc(request, lyr, RUN_LAYERS[collection_id][0])
