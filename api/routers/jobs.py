"""OGC API - Processes jobs: ``/jobs``, ``/jobs/{id}``, results, files and dismissal.

A job's status document (``statusInfo``) carries ``jobID``, ``processID``, ``type: process``,
``status``, ``message``, ``progress`` (integer percent, as OGC specifies), ``created``,
``started``, ``finished``, ``updated``, ``attempt`` and ``links``; a failed job adds its
reason as RFC 7807 problem details under ``exception``. Unknown jobs are a 404
``no-such-job`` problem, results of an unfinished job a 404 ``result-not-ready``, results of a
failed job the failure's problem, results of a dismissed job 410.

``/jobs/{id}/tiles/{output}/{z}/{x}/{y}.png`` serves Web Mercator tiles of a successful job's
output rasters (:data:`geoeco.run_tiles.RUN_OUTPUTS`: zone class, red line, restoration rank
and selection, erosion and desertification grades when the job wrote them) in the colours of
their class tables; the results of a zoning job link its interactive map (``/maps/jobs/{id}``).

The router's lifespan starts the job service (store + workers) and stops it on shutdown; a
request arriving without the lifespan having run creates it on first use.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Header, Path, Query, Request, Response
from fastapi.responses import FileResponse, JSONResponse
from starlette.routing import NoMatchFound

from geoeco.jobs import Job, is_job_id
from geoeco.run_tiles import RUN_OUTPUTS, output_path, output_tile
from geoeco.tiles import EMPTY_TILE, MAX_ZOOM, RAMPS

from ..deps import SettingsDep, get_settings
from ..errors import problem_response, problem_responses
from ..jobs_worker import JobService, job_settings_for
from ..security import ApiKeyDep
from ..settings import Settings
from .tiles import parse_rescale

OGC_EXC = "http://www.opengis.net/def/exceptions/ogcapi-processes-1/1.0/"
_LOCK = threading.Lock()


def _service_for(app: FastAPI, settings: Settings) -> JobService:
    with _LOCK:
        svc = getattr(app.state, "job_service", None)
        if svc is None:
            js = getattr(app.state, "job_settings", None) or job_settings_for(settings)
            svc = app.state.job_service = JobService(settings, js)
        return svc


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Start the job service with the app and stop its workers with it."""
    settings = getattr(app.state, "settings", None) or get_settings()
    _service_for(app, settings)
    try:
        yield
    finally:
        svc = getattr(app.state, "job_service", None)
        if svc is not None:
            svc.close()
            app.state.job_service = None


def get_job_service(request: Request, settings: SettingsDep) -> JobService:
    """The app's job service (created on first use if the lifespan did not run)."""
    return _service_for(request.app, settings)


JobServiceDep = Annotated[JobService, Depends(get_job_service)]

router = APIRouter(tags=["jobs"], lifespan=lifespan)


def no_such_job(job_id: str, request: Request) -> JSONResponse:
    """404 problem for an unknown job id."""
    return problem_response(
        404,
        f"no job with id {job_id!r}",
        type_=OGC_EXC + "no-such-job",
        title="No such job",
        instance=request.url.path,
    )


def _iso(t: Any) -> str | None:
    return None if t is None else t.isoformat().replace("+00:00", "Z")


def status_info(job: Job, request: Request) -> dict[str, Any]:
    """The OGC ``statusInfo`` document of a job."""
    self_url = str(request.url_for("get_job", job_id=job.id))
    links = [
        {"href": self_url, "rel": "self", "type": "application/json", "title": "job status"},
        {"href": self_url, "rel": "monitor", "type": "application/json", "title": "job status"},
        {
            "href": str(request.url_for("describe_process", process_id=job.process_id)),
            "rel": "http://www.opengis.net/def/rel/ogc/1.0/processes",
            "type": "application/json",
            "title": "process description",
        },
    ]
    if job.status == "successful":
        links.append(
            {
                "href": str(request.url_for("get_job_results", job_id=job.id)),
                "rel": "http://www.opengis.net/def/rel/ogc/1.0/results",
                "type": "application/json",
                "title": "job results",
            }
        )
    body: dict[str, Any] = {
        "jobID": job.id,
        "processID": job.process_id,
        "type": "process",
        "status": job.status,
        "message": job.message,
        "progress": round(job.progress * 100),
        "attempt": job.attempt,
        "created": _iso(job.created),
        "started": _iso(job.started),
        "finished": _iso(job.finished),
        "updated": _iso(job.updated),
        "links": links,
    }
    if job.status == "failed" and job.failure is not None:
        body["exception"] = {
            **job.failure.model_dump(),
            "instance": request.url_for("get_job", job_id=job.id).path,
        }
    return body


def results_document(job: Job, request: Request) -> dict[str, Any]:
    """OGC results: ``summary`` (the run's JSON, inline) and ``files`` (links by reference)."""
    files = [
        {
            "href": str(request.url_for("get_job_file", job_id=job.id, name=f.name)),
            "rel": "enclosure",
            "type": f.media_type,
            "title": f.name,
            "length": f.size,
        }
        for f in job.files
    ]
    doc: dict[str, Any] = {"summary": job.result or {}, "files": files}
    if job.process_id == "zoning":
        doc["links"] = _zoning_links(job, request)
    return doc


def _zoning_links(job: Job, request: Request) -> list[dict[str, Any]]:
    """The interactive map and the tile template of a zoning job's results."""
    links: list[dict[str, Any]] = []
    try:
        links.append(
            {
                "href": str(request.url_for("job_map", job_id=job.id)),
                "rel": "alternate",
                "type": "text/html",
                "title": "interactive zone map (works offline)",
            }
        )
    except NoMatchFound:  # the maps router is not included
        pass
    base = str(request.url_for("get_job", job_id=job.id))
    links.append(
        {
            "href": base + "/tiles/{output}/{z}/{x}/{y}.png",
            "rel": "tiles",
            "type": "image/png",
            "title": "Web Mercator XYZ tiles of the output rasters; output: "
            + ", ".join(RUN_OUTPUTS),
            "templated": True,
        }
    )
    return links


def failure_response(job: Job, request: Request) -> JSONResponse:
    """The failure of a job as its own problem+json response."""
    f = job.failure
    status = f.status if f is not None and f.status and 400 <= f.status < 600 else 500
    return problem_response(
        status,
        f.detail if f is not None else "the job failed",
        type_=f.type if f is not None else None,
        title=f.title if f is not None else "Job failed",
        instance=request.url.path,
        jobID=job.id,
    )


def _lookup(svc: JobService, job_id: str) -> Job | None:
    return svc.store.get(job_id) if is_job_id(job_id) else None


def _owner_filter(svc: JobService, api_key: str | None) -> str | None:
    return svc.owner_of(api_key) if svc.settings.keys_enabled else "*"


@router.get("/jobs", name="list_jobs", summary="List jobs (newest first, paged)")
def list_jobs(
    request: Request,
    svc: JobServiceDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,  # geoeco.jobs.MAX_LIST_OFFSET
    process_id: Annotated[str | None, Query(alias="processID")] = None,
    status: Annotated[list[str] | None, Query()] = None,
    x_api_key: Annotated[str | None, Header(alias="X-API-Key")] = None,
) -> dict[str, Any]:
    """Jobs of the caller (of every caller when keys are off), with ``next``/``prev`` links."""
    allowed = {"accepted", "running", "successful", "failed", "dismissed"}
    bad = [s for s in status or [] if s not in allowed]
    if bad:
        return problem_response(  # type: ignore[return-value]
            422,
            f"status must be one of {sorted(allowed)}, got {bad}",
            instance=request.url.path,
        )
    jobs, total = svc.store.list(
        limit=limit,
        offset=offset,
        process_id=process_id,
        status=status,
        owner=_owner_filter(svc, x_api_key),
    )
    url = request.url
    links = [{"href": str(url), "rel": "self", "type": "application/json"}]
    if offset + len(jobs) < total:
        links.append(
            {
                "href": str(url.include_query_params(offset=offset + limit, limit=limit)),
                "rel": "next",
                "type": "application/json",
            }
        )
    if offset > 0:
        links.append(
            {
                "href": str(url.include_query_params(offset=max(0, offset - limit), limit=limit)),
                "rel": "prev",
                "type": "application/json",
            }
        )
    return {
        "jobs": [status_info(j, request) for j in jobs],
        "numberMatched": total,
        "numberReturned": len(jobs),
        "links": links,
    }


@router.get(
    "/jobs/{job_id}",
    name="get_job",
    summary="Status of a job",
    responses=problem_responses(404),
)
def get_job(job_id: str, request: Request, svc: JobServiceDep) -> Any:
    """The job's statusInfo (a failed job's reason under ``exception``)."""
    job = _lookup(svc, job_id)
    if job is None:
        return no_such_job(job_id, request)
    return status_info(job, request)


@router.get(
    "/jobs/{job_id}/results",
    name="get_job_results",
    summary="Results of a job",
    responses=problem_responses(404, 410),
)
def get_job_results(job_id: str, request: Request, svc: JobServiceDep) -> Any:
    """Results document of a successful job: the summary and links to every output file."""
    job = _lookup(svc, job_id)
    if job is None:
        return no_such_job(job_id, request)
    if job.status == "successful":
        return results_document(job, request)
    if job.status == "failed":
        return failure_response(job, request)  # the failure's own problem details
    return job_not_ready(job, request)


@router.get(
    "/jobs/{job_id}/files/{name}",
    name="get_job_file",
    summary="One output file of a job",
    responses=problem_responses(404),
)
def get_job_file(job_id: str, name: str, request: Request, svc: JobServiceDep) -> Any:
    """An output file listed in the job's results (no other name is served)."""
    job = _lookup(svc, job_id)
    if job is None:
        return no_such_job(job_id, request)
    path = svc.file_path(job, name)
    if path is None:
        return problem_response(
            404,
            f"job {job_id} has no output file {name!r}; see its results for the files",
            instance=request.url.path,
        )
    media = next(f.media_type for f in job.files if f.name == name)
    return FileResponse(path, media_type=media, filename=name)


OutputName = Literal[tuple(RUN_OUTPUTS)]  # type: ignore[valid-type]
_COLORMAPS = ", ".join(sorted(RAMPS))


def output_tile_response(
    path: Any,
    output: str,
    z: int,
    x: int,
    y: int,
    *,
    colormap: str | None,
    rescale: str | None,
    max_age: int = 3600,
) -> Response:
    """A PNG tile response of a run output (transparent + ``X-Tile-Empty`` outside it)."""
    png = output_tile(path, output, z, x, y, colormap=colormap, rescale=parse_rescale(rescale))
    headers = {"Cache-Control": f"public, max-age={max_age}"}
    if png is None:
        headers["X-Tile-Empty"] = "true"
        png = EMPTY_TILE
    return Response(png, media_type="image/png", headers=headers)


def job_not_ready(job: Job, request: Request) -> JSONResponse | None:
    """The problem for a job without results (running 404, failed 409, dismissed 410)."""
    if job.status == "successful":
        return None
    if job.status == "dismissed":
        return problem_response(
            410,
            f"job {job.id} was dismissed and its results deleted; submit it again to rerun it",
            type_=OGC_EXC + "job-dismissed",
            title="Job dismissed",
            instance=request.url.path,
        )
    if job.status == "failed":
        return problem_response(
            409,
            f"job {job.id} failed; it has no results",
            type_=OGC_EXC + "job-failed",
            title="Job failed",
            instance=request.url.path,
        )
    return problem_response(
        404,
        f"job {job.id} is {job.status} ({round(job.progress * 100)} %); results are not ready",
        type_=OGC_EXC + "result-not-ready",
        title="Result not ready",
        instance=request.url.path,
    )


@router.get(
    "/jobs/{job_id}/tiles/{output}/{z}/{x}/{y}.png",
    name="get_job_tile",
    summary="Map tile of a job's output raster (Web Mercator XYZ)",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}}, **problem_responses(404, 409, 410, 422)},
)
def get_job_tile(
    job_id: str,
    output: Annotated[OutputName, Path(description="Output raster of the job.")],
    z: Annotated[int, Path(ge=0, le=MAX_ZOOM)],
    x: Annotated[int, Path(ge=0)],
    y: Annotated[int, Path(ge=0)],
    request: Request,
    svc: JobServiceDep,
    colormap: Annotated[
        str | None,
        Query(description=f"Colour ramp for continuous values ({_COLORMAPS}; `_r` reverses)."),
    ] = None,
    rescale: Annotated[str | None, Query(description="min,max of the ramp.")] = None,
) -> Any:
    """Class outputs in their class table's colours; the restoration rank on a 0..1 ramp."""
    job = _lookup(svc, job_id)
    if job is None:
        return no_such_job(job_id, request)
    problem = job_not_ready(job, request)
    if problem is not None:
        return problem
    path = output_path(svc.results_dir / job.id, output)
    if path is None:
        return problem_response(
            404,
            f"job {job_id} has no output {output!r}",
            instance=request.url.path,
        )
    return output_tile_response(path, output, z, x, y, colormap=colormap, rescale=rescale)


@router.delete(
    "/jobs/{job_id}",
    name="dismiss_job",
    summary="Dismiss a job (cancel it if running, delete its files)",
    responses=problem_responses(401, 403, 404),
)
def dismiss_job(job_id: str, request: Request, svc: JobServiceDep, api_key: ApiKeyDep) -> Any:
    """Mark the job dismissed, stop it if it runs, delete its result files."""
    job = _lookup(svc, job_id)
    if job is None or (svc.settings.keys_enabled and job.owner != svc.owner_of(api_key)):
        return no_such_job(job_id, request)
    job = svc.dismiss(job_id)
    assert job is not None
    return status_info(job, request)


__all__ = [
    "JobServiceDep",
    "OGC_EXC",
    "failure_response",
    "get_job_service",
    "job_not_ready",
    "output_tile_response",
    "parse_rescale",
    "lifespan",
    "no_such_job",
    "results_document",
    "router",
    "status_info",
]
