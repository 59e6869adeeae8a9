"""Point queries and site screening on a zoning run: ``/query/point``, ``/screen[/batch]``.

Which run answers: without ``run`` (or ``run=demo``) the synthetic demo region's run, built
once into ``GEOECO_CACHE_DIR`` on first use (:func:`geoeco.workflows.runs.demo_zoning_run`;
size ``GEOECO_QUERY_DEMO_SIZE``, ``full`` by default); with ``run=<job id>`` the results of
that successful ``zoning`` job. Opened runs are kept in an LRU of ``GEOECO_QUERY_CACHE_RUNS``
entries per process (:class:`geoeco.workflows.runs.OpenedRuns`, keyed by the run and the
modification time of its ``zones.gpkg``: a job rerun after a dismissal is reopened), so warm
point queries cost well under a millisecond of library time. Sites are read and checked by
:mod:`geoeco.query.sites`. Each worker process has its own opened runs (memory × workers).

Threads: ``/query/point`` is ``async``. On the demo run once it is open (:func:`warm_context`)
it answers on the event loop, calling :func:`~geoeco.query.point.lookup_point` directly
(a quarter of a millisecond of numpy and GEOS); otherwise resolving and opening the run
(job store, files, maybe building the demo) is its one hop to the thread pool. The screening
routes are plain ``def`` (their work blocks): one hop. Every route returns a response it
serialised itself (:mod:`..responses`), so FastAPI does not validate the result again.
Opening a run freezes the heap (:func:`geoeco_api.heap.freeze_heap`): the run's objects stay
out of the garbage collector's full collections.

Limits: request body (``GEOECO_MAX_BODY_BYTES``, 413), vertices of a site
(``GEOECO_MAX_VERTICES``, 413), area of a site and of its buffer (``GEOECO_MAX_SYNC_AREA_KM2``,
413; larger sites go to the ``screening`` process), sites per batch
(``GEOECO_MAX_BATCH_SITES``, 413), buffer 0-50 km (422).
"""

from __future__ import annotations

import threading
import weakref
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import APIRouter, Body, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from starlette.concurrency import run_in_threadpool

from geoeco.core.errors import OversizeRequest
from geoeco.core.geometry import InputCRS
from geoeco.query.compliance import load_compliance, project_types
from geoeco.query.context import QueryContext
from geoeco.query.models import PointResult, ScreeningResult
from geoeco.query.point import lookup_point
from geoeco.query.report import render_report
from geoeco.query.screening import MAX_BUFFER_M, screen_site
from geoeco.query.sites import check_geojson, screen_features
from geoeco.service.job_model import is_job_id
from geoeco.workflows.runs import (
    OpenedRuns,
    ZoningRunFolder,
    demo_zoning_ref,
    demo_zoning_run,
    job_zoning_run,
)

from ..bodies import ClosedBody
from ..deps import SettingsDep, app_settings
from ..errors import param_error, problem_response, problem_responses, server_side
from ..heap import freeze_heap
from ..responses import json_response
from ..settings import Settings
from .jobs import OGC_EXC, Caller, get_job_service, job_not_ready, no_such_job, visible_job

router = APIRouter(tags=["queries"])

if TYPE_CHECKING:  # the project types are known at run time only (the compliance rules)
    ProjectType = str
else:
    #: The project types of the built-in compliance rules (``GET /screen/project-types``).
    ProjectType = Literal[tuple(project_types(load_compliance()))]
RUN_PATTERN = r"^(demo|[0-9a-f]{32})$"
RUN_DESCRIPTION = (
    "Zoning run to query: `demo` (default; the synthetic demo region's run) or the id of a "
    "successful `zoning` job."
)


# --------------------------------------------------------------------------- which run


def demo_run(settings: Settings) -> ZoningRunFolder:
    """The demo run of ``settings.query_demo_size``, built into the cache folder if needed."""
    with server_side("the demo run"):
        return demo_zoning_run(settings.cache_dir, settings.query_demo_size)


def job_run(job_id: str, request: Request, settings: Settings) -> ZoningRunFolder | JSONResponse:
    """The results folder of a successful zoning job, or the problem response saying why not."""
    svc = get_job_service(request, settings)
    # with keys on, only the key that ran the job (or an admin key) may query it
    job = visible_job(svc, job_id, Caller(api_key=request.headers.get("x-api-key")))
    if job is None:
        return no_such_job(job_id, request)
    where = request.url.path
    if job.process_id != "zoning":
        return problem_response(
            422,
            f"job {job_id} ran process {job.process_id!r}; queries need a zoning job",
            type_=OGC_EXC + "wrong-process",
            title="Not a zoning job",
            instance=where,
        )
    problem = job_not_ready(job, request)
    if problem is not None:
        return problem
    folder = svc.results_dir / job.id
    if not (folder / "zones.gpkg").is_file():
        return problem_response(
            404,
            f"job {job_id} has no zones.gpkg (it may have been purged); run it again",
            type_=OGC_EXC + "result-not-ready",
            title="Result missing",
            instance=where,
        )
    return job_zoning_run(job.id, folder)


def resolve_run(
    run: str | None, request: Request, settings: Settings, *, location: str = "query"
) -> ZoningRunFolder | JSONResponse:
    """``run`` (``None``/``demo`` or a job id) as its folder, or a problem response."""
    if run is None or run == "demo":
        return demo_run(settings)
    if not is_job_id(run):
        raise param_error(location, "run", "must be 'demo' or a job id (32 lower-case hex)")
    return job_run(run, request, settings)


_CACHE_LOCK = threading.Lock()


def _opened_runs(request: Request, settings: Settings) -> OpenedRuns:
    state = request.app.state
    with _CACHE_LOCK:
        runs = getattr(state, "query_runs", None)
        if runs is None or runs.size != settings.query_cache_runs:
            runs = state.query_runs = OpenedRuns(settings.query_cache_runs)
    return runs


#: Opened runs whose objects were frozen (:func:`_frozen_once`), across apps of the process,
#: by ``id`` (an entry goes when its run is freed, so an id reused later is not mistaken).
_FROZEN: weakref.WeakValueDictionary[int, QueryContext] = weakref.WeakValueDictionary()


def _frozen_once(ctx: QueryContext) -> QueryContext:
    """Freeze the heap the first time ``ctx`` is seen (it was just opened)."""
    with _CACHE_LOCK:
        fresh = _FROZEN.get(id(ctx)) is not ctx
        _FROZEN[id(ctx)] = ctx
    if fresh:
        freeze_heap()
    return ctx


def open_run(ref: ZoningRunFolder, request: Request, settings: Settings) -> QueryContext:
    """The opened :class:`QueryContext` of ``ref`` (from the app's opened runs)."""
    with server_side(f"run {ref.id!r}"):
        ctx = _opened_runs(request, settings).open(ref)
    return _frozen_once(ctx)


def warm_context(run: str | None, request: Request, settings: Settings) -> QueryContext | None:
    """The demo run when ``run`` asks for it and it is open already, else ``None``.

    Touches no file, so the event loop may call it (:meth:`OpenedRuns.peek`): the demo's
    cached run is never rewritten in place. A job's run needs the job store (who may see it,
    is it finished) and goes through :func:`context_for`.
    """
    if run is not None and run != "demo":
        return None
    runs = getattr(request.app.state, "query_runs", None)
    if runs is None or runs.size != settings.query_cache_runs:
        return None
    ctx: QueryContext | None = runs.peek(
        demo_zoning_ref(settings.cache_dir, settings.query_demo_size)
    )
    return ctx


def context_for(
    run: str | None, request: Request, settings: Settings, *, location: str = "query"
) -> QueryContext | JSONResponse:
    """Resolve and open ``run`` (or return the problem response)."""
    ref = resolve_run(run, request, settings, location=location)
    if isinstance(ref, JSONResponse):
        return ref
    return open_run(ref, request, settings)


# --------------------------------------------------------------------------- models


class ScreenRequest(ClosedBody):
    """A site to screen (``POST /screen``)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "geometry": {
                        "type": "Polygon",
                        "coordinates": [
                            [[109.66, 38.22], [109.68, 38.22], [109.68, 38.24], [109.66, 38.22]]
                        ],
                    },
                    "buffer_m": 500,
                    "project_type": ["wind_energy"],
                }
            ]
        },
    )

    geometry: dict[str, Any] = Field(
        description="The site: a GeoJSON geometry or Feature (longitude-latitude in `crs`)."
    )
    buffer_m: float = Field(
        default=0.0,
        ge=0,
        le=MAX_BUFFER_M,
        allow_inf_nan=False,
        description="Proximity buffer around the site, metres.",
    )
    project_type: list[ProjectType] | None = Field(
        default=None,
        max_length=50,
        description="Project types to judge (default every type; see the compliance rules).",
    )
    crs: InputCRS = Field(default="wgs84", description="CRS of the coordinates.")
    run: str | None = Field(default=None, pattern=RUN_PATTERN, description=RUN_DESCRIPTION)

    @field_validator("geometry")
    @classmethod
    def _geojson(cls, v: dict[str, Any]) -> dict[str, Any]:
        check_geojson(v)
        return v


class FeatureCollectionIn(BaseModel):
    """Sites to screen: a GeoJSON FeatureCollection (``POST /screen/batch``)."""

    model_config = ConfigDict(extra="allow")

    type: Literal["FeatureCollection"]
    features: list[dict[str, Any]] = Field(
        description="The sites; each a GeoJSON Feature (its `id` or `properties.<id_field>` "
        "names the row)."
    )


class BatchResult(BaseModel):
    """One row per site; a bad site's error is in its row (``ok`` false)."""

    run: dict[str, Any]
    count: int
    ok: int
    rows: list[dict[str, Any]]


# --------------------------------------------------------------------------- routes


class PointQuery(BaseModel):
    """The query parameters of ``GET /query/point``, validated in one call (:func:`point_query`).

    The route reads them itself instead of declaring four parameters: FastAPI's per-parameter
    resolution cost more than the lookup. The OpenAPI document still lists them
    (:func:`query_parameters`) and a bad one is the same 422 naming ``query.<name>``.
    """

    model_config = ConfigDict(extra="ignore")

    lon: float = Field(ge=-180, le=180, allow_inf_nan=False, description="Longitude, degrees.")
    lat: float = Field(ge=-90, le=90, allow_inf_nan=False, description="Latitude, degrees.")
    crs: InputCRS = Field(default="wgs84", description="CRS of lon/lat (GCJ-02 is converted).")
    run: str | None = Field(default=None, pattern=RUN_PATTERN, description=RUN_DESCRIPTION)


def query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    """The fields of ``model`` as OpenAPI query parameters (as FastAPI documents its own).

    >>> [p["name"] for p in query_parameters(PointQuery)], query_parameters(PointQuery)[0]["in"]
    (['lon', 'lat', 'crs', 'run'], 'query')
    """
    schema = model.model_json_schema()
    required = set(schema.get("required", ()))
    return [
        {
            "name": name,
            "in": "query",
            "required": name in required,
            "schema": prop,
            "description": prop.get("description"),
        }
        for name, prop in schema["properties"].items()
    ]


def point_query(request: Request) -> PointQuery:
    """The request's :class:`PointQuery` (a repeated parameter: its last value, as FastAPI's).

    Raises :class:`~fastapi.exceptions.RequestValidationError` (the 422 of api/errors.py) with
    each error located at ``query.<name>``.
    """
    try:
        return PointQuery.model_validate(dict(request.query_params))
    except ValidationError as exc:
        errors = [{**e, "loc": ("query", *e["loc"])} for e in exc.errors(include_url=False)]
        raise RequestValidationError(errors) from None


@router.get(
    "/query/point",
    name="query_point",
    summary="Everything known at one place: unit, access list, red line, parks, layer values",
    response_model=PointResult,
    responses=problem_responses(404, 409, 410, 422),
    openapi_extra={"parameters": query_parameters(PointQuery)},
)
async def query_point(request: Request) -> Any:
    """A place outside the analysed area is a normal answer: ``inside_analysed_area`` false."""
    q = point_query(request)  # lon, lat (degrees), crs, run: see PointQuery
    settings = app_settings(request)  # not a dependency: one resolution less per request
    ctx = warm_context(q.run, request, settings)
    if ctx is None:  # the one hop: the job store, the files, maybe building the demo
        found = await run_in_threadpool(context_for, q.run, request, settings)
        if isinstance(found, JSONResponse):
            return found
        ctx = found
    return json_response(lookup_point(ctx, q.lon, q.lat, crs=q.crs))


@router.post(
    "/screen",
    name="screen",
    summary="Screen a site: overlaps, zonal statistics, proximity, verdicts per project type",
    response_model=ScreeningResult,
    responses={
        200: {"content": {"text/html": {}}, "description": "JSON, or the report with format=html"},
        **problem_responses(404, 409, 410, 413, 422),
    },
)
def screen(
    request: Request,
    settings: SettingsDep,
    body: Annotated[ScreenRequest, Body()],
    format: Annotated[
        Literal["json", "html"], Query(description="`html`: the printable one-page report.")
    ] = "json",
) -> Any:
    """The site's :class:`ScreeningResult` (or its printable report with ``format=html``).

    Invalid geometries are repaired (a note says how); a site outside the analysed area gets
    no verdict and a note.
    """
    ctx = context_for(body.run, request, settings, location="body")
    if isinstance(ctx, JSONResponse):
        return ctx
    result = screen_site(
        ctx,
        body.geometry,
        buffer_m=body.buffer_m,
        project_type=body.project_type,
        crs=body.crs,
        map_data=format == "html",
        max_vertices=settings.max_vertices,
        max_area_km2=settings.max_sync_area_km2,
    )
    if format == "html":
        return HTMLResponse(render_report(result))
    return json_response(result)


@router.post(
    "/screen/batch",
    name="screen_batch",
    summary="Screen many sites (a GeoJSON FeatureCollection): one summary row per site",
    response_model=BatchResult,
    responses=problem_responses(404, 409, 410, 413, 422),
)
def screen_many(
    request: Request,
    settings: SettingsDep,
    body: Annotated[FeatureCollectionIn, Body()],
    buffer_m: Annotated[float, Query(ge=0, le=MAX_BUFFER_M, allow_inf_nan=False)] = 0.0,
    project_type: Annotated[list[ProjectType] | None, Query(max_length=50)] = None,
    crs: Annotated[InputCRS, Query()] = "wgs84",
    run: Annotated[str | None, Query(pattern=RUN_PATTERN, description=RUN_DESCRIPTION)] = None,
    id_field: Annotated[
        str | None, Query(max_length=100, description="Property naming each site's id.")
    ] = None,
) -> Any:
    """Rows have ``ok``, ``error_type``, ``error`` and the summary columns of each site."""
    n = len(body.features)
    if n > settings.max_batch_sites:
        raise OversizeRequest(
            f"the batch holds {n} sites; at most {settings.max_batch_sites} are accepted in one "
            "request (GEOECO_MAX_BATCH_SITES); split it"
        )
    if project_type:
        rs = load_compliance()
        for t in project_type:
            rs.project(t)
    ctx = context_for(run, request, settings)
    if isinstance(ctx, JSONResponse):
        return ctx
    rows = screen_features(
        ctx,
        body.features,
        buffer_m=buffer_m,
        project_type=project_type,
        crs=crs,
        id_field=id_field,
    )
    return json_response(
        BatchResult(run=ctx.run, count=n, ok=sum(1 for r in rows if r.get("ok")), rows=rows)
    )


@router.get(
    "/screen/project-types",
    name="project_types",
    summary="The project types screening judges",
)
def list_project_types() -> dict[str, Any]:
    """Ids and names (zh, en) of the enumerated project types."""
    rs = load_compliance()
    return {
        "project_types": [
            {"id": p.id, "name_zh": p.name_zh, "name_en": p.name_en} for p in rs.project_type
        ],
        "ids": project_types(rs),
    }


__all__ = [
    "context_for",
    "demo_run",
    "job_run",
    "open_run",
    "resolve_run",
    "router",
    "warm_context",
]
