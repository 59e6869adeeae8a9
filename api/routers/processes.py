"""OGC API - Processes: ``/processes``, ``/processes/{id}``, ``POST /processes/{id}/execution``.

Execution is asynchronous when the request says ``Prefer: respond-async``, or when the run is
larger than ``GEOECO_JOB_SYNC_MAX_CELLS`` grid cells (or of unknown size, e.g. a whole
county): the answer is ``201 Created`` with ``Location: /jobs/{id}`` and the job's statusInfo.
Otherwise the request waits for the job (up to ``GEOECO_JOB_SYNC_TIMEOUT_S``) and answers
``200`` with the results document; a run that takes longer is answered as if async had been
asked (201). Every run goes through the job queue, so the worker limits hold for both.

Job ids are deterministic: repeating a request returns the existing job (``200`` with its
statusInfo and ``Location``, or its results when synchronous and finished); after a failure
or a dismissal the same id starts a new attempt (``attempt`` + 1, ``201``).

Before a job is queued the request is checked completely (:func:`geoeco.service.processes.prepare`,
the same checks the worker runs): the body is read with a nesting limit and must hold valid
Unicode and finite numbers, then every contradiction the run would hit (an erosion setting
that conflicts with the demo's, a zoning area larger than ``GEOECO_MAX_ASYNC_AREA_KM2`` or
than the grid's pixel limit, a screening ``zoning_job`` without results the caller may read)
is a ``422`` (``413`` for size limits) problem whose ``errors`` name the inputs.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse

from geoeco.core.errors import (
    GeoecoError,
    InvalidJSON,
    InvalidJSONValue,
    InvalidProcessInputs,
    LayerNotFound,
    ProcessNotFound,
)
from geoeco.core.json_input import loads_json
from geoeco.service.process_inputs import ExecutionContext
from geoeco.service.processes import PROCESSES, Submission, get_process, prepare

from ..deps import registry_for
from ..errors import problem_response, problem_responses, problem_type, status_for
from ..jobs_worker import JobService
from ..ogc_models import ProcessDescription, ProcessList, StatusInfo
from ..openapi30 import schema30
from ..security import ApiKeyDep
from .jobs import (
    JOB_TOKEN_HEADER,
    OGC_EXC,
    Caller,
    JobServiceDep,
    created_response,
    failure_response,
    hidden_input_job,
    results_document,
)

router = APIRouter(tags=["processes"])


def _links(request: Request, process_id: str) -> list[dict[str, Any]]:
    return [
        {
            "href": str(request.url_for("describe_process", process_id=process_id)),
            "rel": "self",
            "type": "application/json",
            "title": "process description",
        },
        {
            "href": str(request.url_for("execute_process", process_id=process_id)),
            "rel": "http://www.opengis.net/def/rel/ogc/1.0/execute",
            "type": "application/json",
            "title": "execute",
        },
    ]


def _description(process_id: str, request: Request) -> dict[str, Any]:
    """The OGC process description, input and output schemas as OpenAPI 3.0 schema objects.

    OGC API - Processes 1.0 (``schema.yaml``) describes inputs and outputs with OpenAPI 3.0
    schemas, not JSON Schema 2020-12: :func:`geoeco_api.openapi30.schema30` rewrites them.
    """
    d = get_process(process_id).describe()
    for part in ("inputs", "outputs"):
        d[part] = {
            name: {**desc, "schema": schema30(desc["schema"])} for name, desc in d[part].items()
        }
    d["links"] = _links(request, process_id)
    return d


def _no_such_process(process_id: str, request: Request) -> JSONResponse:
    return problem_response(
        404,
        f"unknown process {process_id!r}; known processes: {', '.join(sorted(PROCESSES))}",
        type_=OGC_EXC + "no-such-process",
        title="No such process",
        instance=request.url.path,
    )


@router.get(
    "/processes",
    name="list_processes",
    summary="The processes this service runs",
    response_model=None,
    responses={200: {"model": ProcessList}},
)
def list_processes(request: Request) -> dict[str, Any]:
    """Process summaries (id, title, description, version, job control options, links)."""
    out = []
    for pid in sorted(PROCESSES):
        d = _description(pid, request)
        d.pop("inputs")
        d.pop("outputs")
        out.append(d)
    return {
        "processes": out,
        "links": [{"href": str(request.url), "rel": "self", "type": "application/json"}],
    }


@router.get(
    "/processes/{process_id}",
    name="describe_process",
    summary="Description of a process (inputs and outputs with JSON Schemas)",
    responses={200: {"model": ProcessDescription}, **problem_responses(404)},
)
def describe_process(process_id: str, request: Request) -> Any:
    """The OGC process description."""
    try:
        return _description(process_id, request)
    except ProcessNotFound:
        return _no_such_process(process_id, request)


def _wants_async(prefer: str | None) -> bool:
    tokens = [t.strip().lower() for part in (prefer or "").split(",") for t in part.split(";")]
    return "respond-async" in tokens


def _input_field(path: str) -> str:
    """A body path as an input name (``inputs.aoi.x`` -> ``aoi.x``), like the model's errors."""
    for prefix in ("inputs.", "inputs["):
        if path.startswith(prefix):
            return path[len("inputs") :].lstrip(".")
    return path or "body"


def _invalid_inputs(request: Request, detail: str, errors: list[dict[str, Any]]) -> JSONResponse:
    return problem_response(
        422,
        detail,
        type_=problem_type("InvalidProcessInputs"),
        title="Invalid process inputs",
        instance=request.url.path,
        errors=errors,
    )


async def _read_inputs(request: Request, process_id: str) -> dict[str, Any] | JSONResponse:
    raw = await request.body()
    if not raw:  # no body: the defaults; a body of blanks is not JSON (400 below)
        return {}
    try:
        body = loads_json(raw, what="the request body")
    except InvalidJSON as exc:
        return problem_response(
            400, str(exc), type_=problem_type(InvalidJSON), instance=request.url.path
        )
    except InvalidJSONValue as exc:
        name = _input_field(exc.field)
        return _invalid_inputs(
            request,
            f"inputs of process {process_id!r}: {name}: {exc.reason}",
            [{"field": name, "message": exc.reason, "code": "json_value"}],
        )
    if not isinstance(body, dict):
        return problem_response(
            422,
            'the request body must be a JSON object like {"inputs": {...}}',
            type_=problem_type("request-validation"),
            instance=request.url.path,
        )
    inputs = body.get("inputs", {})
    if inputs is None:
        inputs = {}
    if not isinstance(inputs, dict):
        return problem_response(
            422,
            "`inputs` must be a JSON object mapping input names to values",
            type_=problem_type("request-validation"),
            instance=request.url.path,
        )
    return inputs


def _input_problem(request: Request, exc: GeoecoError) -> JSONResponse:
    """A problem for inputs refused at submission (422; 413 for size limits)."""
    errors = getattr(exc, "errors", None)
    status = 422 if isinstance(exc, LayerNotFound) else status_for(exc)
    title = "Invalid process inputs" if type(exc) is InvalidProcessInputs else None
    if isinstance(exc, LayerNotFound):
        title = "Unknown layer in the inputs"
    extra = {"errors": errors} if errors else {}
    return problem_response(
        status,
        str(exc),
        type_=problem_type(type(exc)),
        title=title,
        instance=request.url.path,
        **extra,
    )


def _submission(
    svc: JobService, process_id: str, inputs: dict[str, Any], api_key: str | None
) -> Submission:
    """The request checked completely (:func:`geoeco.service.processes.prepare`); blocking."""
    settings = svc.settings
    ctx = ExecutionContext(
        registry=registry_for(settings),
        cache_dir=settings.cache_dir,
        runs_dir=svc.results_dir,
        max_aoi_km2=settings.max_async_area_km2,
        input_catalogs=settings.input_catalogs,
    )
    hidden = hidden_input_job(svc, inputs, Caller(api_key))
    if hidden is not None:  # keys on: another key's job answers like an unknown one
        msg = f"zoning job {hidden} has no results here"
        raise InvalidProcessInputs(
            f"inputs of process {process_id!r}: zoning_job: {msg}",
            [{"field": "zoning_job", "message": msg, "code": "not_found"}],
        )
    key = api_key if settings.keys_enabled else None
    return prepare(process_id, inputs, context=ctx, api_key=key)


@router.post(
    "/processes/{process_id}/execution",
    name="execute_process",
    summary="Run a process (sync for small runs, async with Prefer: respond-async)",
    status_code=200,
    responses={
        201: {
            "model": StatusInfo,
            "description": "Job created (asynchronous); statusInfo body, Location header",
        },
        **problem_responses(400, 401, 403, 404, 413, 422),
    },
)
async def execute_process(
    process_id: str,
    request: Request,
    svc: JobServiceDep,
    api_key: ApiKeyDep,
    prefer: Annotated[str | None, Header()] = None,
) -> Any:
    """Execute: ``{"inputs": {...}}`` (every input optional where it has a default)."""
    if process_id not in PROCESSES:
        return _no_such_process(process_id, request)
    inputs = await _read_inputs(request, process_id)
    if isinstance(inputs, JSONResponse):
        return inputs
    try:
        sub = await asyncio.to_thread(_submission, svc, process_id, inputs, api_key)
    except GeoecoError as exc:
        return _input_problem(request, exc)
    settings = svc.settings
    cells = sub.cells
    async_mode = _wants_async(prefer) or cells is None or cells > settings.job_sync_max_cells
    job, started, token = await asyncio.to_thread(
        svc.submit, process_id, sub.job_id, sub.inputs, svc.owner_of(api_key)
    )
    location = str(request.url_for("get_job", job_id=job.id))
    headers = {"Location": location}
    if async_mode:
        if _wants_async(prefer):
            headers["Preference-Applied"] = "respond-async"
        code = 201 if started else 200
        return created_response(job, request, token, status_code=code, headers=headers)
    done = await svc.wait(job.id, settings.job_sync_timeout_s)
    if done is None:  # purged in between: extremely unlikely
        return problem_response(500, "the job disappeared while it ran", instance=request.url.path)
    link = {"Link": f'<{location}>; rel="monitor"'} | ({JOB_TOKEN_HEADER: token} if token else {})
    if done.status == "successful":
        return JSONResponse(results_document(done, request, svc.settings), headers=link)
    if done.status == "failed":
        resp = failure_response(done, request)
        resp.headers.update(link)
        return resp
    if done.status == "dismissed":
        return problem_response(
            409,
            f"job {job.id} was dismissed while it ran",
            instance=request.url.path,
            headers=link,
            jobID=job.id,
        )
    return created_response(done, request, token, status_code=201, headers=headers)


__all__ = ["router"]
