"""OGC API - Processes jobs: ``/jobs``, ``/jobs/{id}``, results, files and dismissal.

A job's status document (``statusInfo``) carries ``jobID``, ``processID``, ``type: process``,
``status``, ``message``, ``progress`` (integer percent, as OGC specifies), ``created``,
``started``, ``finished``, ``updated``, ``attempt`` and ``links``; a failed job adds its
reason as RFC 7807 problem details under ``exception``. Unknown jobs are a 404
``no-such-job`` problem, results of an unfinished job a 404 ``result-not-ready``, results of a
failed job the failure's problem, results of a dismissed job 410.

``/jobs/{id}/tiles/{output}/{z}/{x}/{y}.png`` serves Web Mercator tiles of a successful job's
output rasters (:data:`geoeco.service.run_tiles.RUN_OUTPUTS`: zone class, red line, restoration rank
and selection, erosion and desertification grades when the job wrote them) in the colours of
their class tables; the results of a zoning job link its interactive map (``/maps/jobs/{id}``).

Who may see a job (:func:`can_read`): with API keys off (the default) the service is
single-tenant and every caller sees every job. With keys on, a job is visible only with the
key that submitted it (``X-API-Key``) or an admin key (``GEOECO_ADMIN_KEYS``); to anyone else
it answers exactly like an unknown id (404 ``no-such-job``, or an empty list), so ids do not
leak. A browser cannot add a header to the tile requests of a map page, so the map and tile
links of a job's results carry an ``access`` code derived from the job and its owner
(:func:`access_code`), which opens that job's map and tiles and nothing else.

Dismissing (``DELETE /jobs/{id}``) needs, with keys on, the owner's key; with keys off, the
job's token (``X-Job-Token``) that the request creating the job was given (``jobToken`` in the
201 body and the ``X-Job-Token`` header; the store keeps only its SHA-256). An admin key may
dismiss any job.

The router's lifespan starts the job service (store + workers) and stops it on shutdown; a
request arriving without the lifespan having run creates it on first use.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Header, Path, Query, Request, Response
from fastapi.responses import FileResponse, JSONResponse
from starlette.routing import NoMatchFound

from geoeco.service.job_model import (
    RESULT_MEDIA_TYPES,
    Job,
    JobStatus,
    is_job_id,
    key_digest,
    token_digest,
)
from geoeco.service.job_store import MAX_LIST_OFFSET
from geoeco.service.run_tiles import RUN_OUTPUTS, output_path, output_tile
from geoeco.service.tiles import EMPTY_TILE, MAX_ZOOM

from ..deps import SettingsDep, get_settings
from ..errors import problem_response, problem_responses
from ..jobs_worker import JobService
from ..security import is_admin, key_in, require_api_key
from ..settings import Settings
from .tiles import ColormapQuery, RescaleQuery, parse_rescale

OGC_EXC = "http://www.opengis.net/def/exceptions/ogcapi-processes-1/1.0/"
#: Header carrying a job's dismissal token (given when the job is created, keys off).
JOB_TOKEN_HEADER = "X-Job-Token"
#: Inputs of a process that name another job (checked like a read of that job).
JOB_REFERENCE_INPUTS = ("zoning_job",)
_LOCK = threading.Lock()


def _service_for(app: FastAPI, settings: Settings) -> JobService:
    with _LOCK:
        svc = getattr(app.state, "job_service", None)
        if svc is None:
            svc = app.state.job_service = JobService(settings)
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


@dataclass(frozen=True)
class Caller:
    """Who asks: the ``X-API-Key`` sent (if any) and a map ``access`` code (if any)."""

    api_key: str | None = None
    access: str | None = None


def get_caller(
    x_api_key: Annotated[
        str | None,
        Header(
            alias="X-API-Key",
            description="API key; with keys on, only its own jobs are visible.",
        ),
    ] = None,
) -> Caller:
    """The caller of a job route (its ``X-API-Key``)."""
    return Caller(api_key=x_api_key)


CallerDep = Annotated[Caller, Depends(get_caller)]
AccessQuery = Annotated[
    str | None,
    Query(
        max_length=64,
        description="Access code of the job's map and tiles (given in its results' links; "
        "needed with API keys on, where a browser cannot send X-API-Key).",
    ),
]


def access_code(job: Job) -> str:
    """The code opening one job's map and tiles (keys on): a hash of its owner and id.

    Only whoever can read the job's results learns it: the owner is the digest of a secret key.
    """
    text = f"geoeco-job-access:{job.owner}:{job.id}"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def can_read(job: Job, settings: Settings, caller: Caller) -> bool:
    """Whether ``caller`` may see ``job`` (every job when keys are off; see the module doc)."""
    if not settings.keys_enabled or is_admin(settings, caller.api_key):
        return True
    if job.owner is None:  # made while keys were off: nobody's with keys on
        return False
    if caller.access and secrets.compare_digest(caller.access.encode(), access_code(job).encode()):
        return True
    api_key = caller.api_key
    return key_in(api_key, settings.api_key_set) and key_digest(api_key or "") == job.owner


def visible_job(svc: JobService, job_id: str, caller: Caller) -> Job | None:
    """The job ``job_id`` if it exists and ``caller`` may see it, else ``None``."""
    job = svc.store.get(job_id) if is_job_id(job_id) else None
    return job if job is not None and can_read(job, svc.settings, caller) else None


def hidden_input_job(svc: JobService, inputs: Mapping[str, Any], caller: Caller) -> str | None:
    """With keys on, the first job named in ``inputs`` that ``caller`` cannot see (else None)."""
    if not svc.settings.keys_enabled:
        return None
    for name in JOB_REFERENCE_INPUTS:
        ref = inputs.get(name)
        if isinstance(ref, str) and visible_job(svc, ref, caller) is None:
            return ref
    return None


def with_access(url: str, job: Job, settings: Settings) -> str:
    """``url`` with the job's ``access`` code appended when keys are on."""
    if not settings.keys_enabled:
        return url
    return f"{url}{'&' if '?' in url else '?'}access={access_code(job)}"


def created_response(
    job: Job, request: Request, token: str | None, *, status_code: int, headers: dict[str, str]
) -> JSONResponse:
    """The statusInfo answer of a submission; a new job's token in ``jobToken`` and a header."""
    body = status_info(job, request)
    out = dict(headers)
    if token is not None:
        body["jobToken"] = token
        out[JOB_TOKEN_HEADER] = token
    return JSONResponse(body, status_code=status_code, headers=out)


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


def results_document(
    job: Job, request: Request, settings: Settings | None = None
) -> dict[str, Any]:
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
        doc["links"] = _zoning_links(job, request, settings or _settings_of(request))
    return doc


def _settings_of(request: Request) -> Settings:
    return getattr(request.app.state, "settings", None) or get_settings()


def _zoning_links(job: Job, request: Request, settings: Settings) -> list[dict[str, Any]]:
    """The interactive map and the tile template of a zoning job's results."""
    links: list[dict[str, Any]] = []
    try:
        links.append(
            {
                "href": with_access(str(request.url_for("job_map", job_id=job.id)), job, settings),
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
            "href": with_access(base + "/tiles/{output}/{z}/{x}/{y}.png", job, settings),
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


def _owner_filter(settings: Settings, caller: Caller) -> str | None:
    """Owner to list: ``"*"`` (all), a key's digest, or ``None`` when the caller sees none."""
    if not settings.keys_enabled or is_admin(settings, caller.api_key):
        return "*"
    if key_in(caller.api_key, settings.api_key_set):
        return key_digest(caller.api_key or "")
    return None


@router.get(
    "/jobs",
    name="list_jobs",
    summary="List jobs (newest first, paged)",
    responses=problem_responses(422),
)
def list_jobs(
    request: Request,
    svc: JobServiceDep,
    caller: CallerDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_LIST_OFFSET, description="Jobs to skip.")] = 0,
    process_id: Annotated[str | None, Query(alias="processID", max_length=100)] = None,
    status: Annotated[list[JobStatus] | None, Query(max_length=5)] = None,
) -> dict[str, Any]:
    """Jobs of the caller's key (every job when keys are off or for an admin key), paged."""
    owner = _owner_filter(svc.settings, caller)
    jobs, total = (
        svc.store.list(
            limit=limit, offset=offset, process_id=process_id, status=status, owner=owner
        )
        if owner is not None
        else ([], 0)
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
def get_job(job_id: str, request: Request, svc: JobServiceDep, caller: CallerDep) -> Any:
    """The job's statusInfo (a failed job's reason under ``exception``)."""
    job = visible_job(svc, job_id, caller)
    if job is None:
        return no_such_job(job_id, request)
    return status_info(job, request)


@router.get(
    "/jobs/{job_id}/results",
    name="get_job_results",
    summary="Results of a job",
    responses=problem_responses(404, 410),
)
def get_job_results(job_id: str, request: Request, svc: JobServiceDep, caller: CallerDep) -> Any:
    """Results document of a successful job: the summary and links to every output file."""
    job = visible_job(svc, job_id, caller)
    if job is None:
        return no_such_job(job_id, request)
    if job.status == "successful":
        return results_document(job, request, svc.settings)
    if job.status == "failed":
        return failure_response(job, request)  # the failure's own problem details
    return job_not_ready(job, request)


@router.get(
    "/jobs/{job_id}/files/{name}",
    name="get_job_file",
    summary="One output file of a job",
    response_class=Response,
    responses={
        200: {
            "description": "The file, in the media type its results entry gives",
            "content": {m: {"schema": {"type": "string"}} for m in RESULT_MEDIA_TYPES},
        },
        **problem_responses(404),
    },
)
def get_job_file(
    job_id: str, name: str, request: Request, svc: JobServiceDep, caller: CallerDep
) -> Any:
    """An output file listed in the job's results (no other name is served)."""
    job = visible_job(svc, job_id, caller)
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


if TYPE_CHECKING:  # the names are known at run time only (geoeco.service.run_tiles)
    OutputName = str
else:
    OutputName = Literal[tuple(RUN_OUTPUTS)]


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
    caller: CallerDep,
    colormap: ColormapQuery = None,
    rescale: RescaleQuery = None,
    access: AccessQuery = None,
) -> Any:
    """Class outputs in their class table's colours; the restoration rank on a 0..1 ramp."""
    job = visible_job(svc, job_id, Caller(caller.api_key, access))
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


def _token_problem(job: Job, token: str | None, request: Request) -> JSONResponse | None:
    """401/403 unless ``token`` is the job's dismissal token (keys off)."""
    if not token:
        return problem_response(
            401,
            f"dismissing job {job.id} needs the token its creation returned, in the "
            f"{JOB_TOKEN_HEADER} header, or an admin key in X-API-Key",
            instance=request.url.path,
            headers={"WWW-Authenticate": f'JobToken header="{JOB_TOKEN_HEADER}"'},
        )
    given = token_digest(token).encode()
    if job.token_hash is None or not secrets.compare_digest(given, job.token_hash.encode()):
        return problem_response(
            403,
            f"the {JOB_TOKEN_HEADER} given is not job {job.id}'s token",
            instance=request.url.path,
        )
    return None


@router.delete(
    "/jobs/{job_id}",
    name="dismiss_job",
    summary="Dismiss a job (cancel it if running, delete its files)",
    responses=problem_responses(401, 403, 404),
)
def dismiss_job(
    job_id: str,
    request: Request,
    svc: JobServiceDep,
    caller: CallerDep,
    x_job_token: Annotated[
        str | None,
        Header(
            alias=JOB_TOKEN_HEADER,
            description="The job's token, returned when it was created (needed with keys off).",
        ),
    ] = None,
) -> Any:
    """Mark the job dismissed, stop it if it runs, delete its result files.

    Keys on: the owner's key (others get 404). Keys off: the job's token. Either: an admin key.
    """
    settings = svc.settings
    admin = is_admin(settings, caller.api_key)
    if settings.keys_enabled and not admin:
        require_api_key(settings, caller.api_key)  # 401 without a key, 403 for an unknown one
    job = visible_job(svc, job_id, caller)
    if job is None:
        return no_such_job(job_id, request)
    if not settings.keys_enabled and not admin:
        problem = _token_problem(job, x_job_token, request)
        if problem is not None:
            return problem
    job = svc.dismiss(job_id)
    assert job is not None
    return status_info(job, request)


__all__ = [
    "JOB_TOKEN_HEADER",
    "AccessQuery",
    "Caller",
    "CallerDep",
    "JobServiceDep",
    "OGC_EXC",
    "OutputName",
    "access_code",
    "can_read",
    "created_response",
    "failure_response",
    "get_caller",
    "get_job_service",
    "hidden_input_job",
    "job_not_ready",
    "output_tile_response",
    "parse_rescale",
    "lifespan",
    "no_such_job",
    "results_document",
    "router",
    "status_info",
    "visible_job",
    "with_access",
]
