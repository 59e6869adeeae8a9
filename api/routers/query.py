"""Point queries and site screening on a zoning run: ``/query/point``, ``/screen[/batch]``.

Which run answers: without ``run`` (or ``run=demo``) the synthetic demo region's run, built
once into ``GEOECO_CACHE_DIR`` on first use (:func:`geoeco.workflows.demo_cache.ensure_demo_run`;
size
``GEOECO_QUERY_DEMO_SIZE``, ``full`` by default); with ``run=<job id>`` the results of that
successful ``zoning`` job. Opened runs (:class:`geoeco.query.point.QueryContext`) are kept in an LRU
of ``GEOECO_QUERY_CACHE_RUNS`` entries per process, keyed by the run and the modification time
of its ``zones.gpkg`` (a job rerun after a dismissal is reopened), so warm point queries cost
well under a millisecond of library time.

Limits: request body (``GEOECO_MAX_BODY_BYTES``, 413), vertices of a site
(``GEOECO_MAX_VERTICES``, 413), area of a site and of its buffer (``GEOECO_MAX_SYNC_AREA_KM2``,
413; larger sites go to the ``screening`` process), sites per batch
(``GEOECO_MAX_BATCH_SITES``, 413), buffer 0-50 km (422).
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator
from shapely.geometry import shape

from geoeco.core.errors import OversizeRequest
from geoeco.query.compliance import load_compliance, project_types
from geoeco.query.context import QueryContext
from geoeco.query.models import PointResult, ScreeningResult
from geoeco.query.point import lookup_point
from geoeco.query.report import render_report
from geoeco.query.screening import MAX_BUFFER_M, screen_batch, screen_site
from geoeco.service.job_model import is_job_id
from geoeco.workflows.demo_cache import ensure_demo_run

from ..bodies import ClosedBody
from ..deps import SettingsDep
from ..errors import param_error, problem_response, problem_responses, server_side
from ..settings import Settings
from .jobs import OGC_EXC, Caller, get_job_service, job_not_ready, no_such_job, visible_job

router = APIRouter(tags=["queries"])

InputCRS = Literal["wgs84", "cgcs2000", "gcj02"]
#: The project types of the built-in compliance rules (``GET /screen/project-types``).
ProjectType = Literal[tuple(project_types(load_compliance()))]  # type: ignore[valid-type]
RUN_PATTERN = r"^(demo|[0-9a-f]{32})$"
RUN_DESCRIPTION = (
    "Zoning run to query: `demo` (default; the synthetic demo region's run) or the id of a "
    "successful `zoning` job."
)
GEOMETRY_TYPES = frozenset(
    {
        "Point",
        "MultiPoint",
        "LineString",
        "MultiLineString",
        "Polygon",
        "MultiPolygon",
        "GeometryCollection",
        "Feature",
    }
)


# --------------------------------------------------------------------------- which run


@dataclass(frozen=True)
class RunRef:
    """A zoning run the service can open: its id, folder and whether it is the demo."""

    id: str
    folder: Path
    demo: bool

    @property
    def zones_dir(self) -> Path:
        """The folder holding ``zones.gpkg`` and the zoning rasters."""
        return self.folder / "zones" if self.demo else self.folder


def demo_run(settings: Settings) -> RunRef:
    """The demo run of ``settings.query_demo_size``, built into the cache folder if needed."""
    with server_side("the demo run"):
        folder = ensure_demo_run(settings.cache_dir, settings.query_demo_size)
    return RunRef(f"demo-{settings.query_demo_size}", folder, True)


def job_run(job_id: str, request: Request, settings: Settings) -> RunRef | JSONResponse:
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
    return RunRef(job.id, folder, False)


def resolve_run(
    run: str | None, request: Request, settings: Settings, *, location: str = "query"
) -> RunRef | JSONResponse:
    """``run`` (``None``/``demo`` or a job id) as a :class:`RunRef` or a problem response."""
    if run is None or run == "demo":
        return demo_run(settings)
    if not is_job_id(run):
        raise param_error(location, "run", "must be 'demo' or a job id (32 lower-case hex)")
    return job_run(run, request, settings)


class RunCache:
    """A small thread-safe LRU of opened runs; one loader at a time per key."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[Any, Any] = OrderedDict()
        self._lock = threading.Lock()
        self._key_locks: dict[Any, threading.Lock] = {}

    def get(self, key: Any, load: Callable[[], Any]) -> Any:
        """The cached value of ``key``, loading it once when missing."""
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
            klock = self._key_locks.setdefault(key, threading.Lock())
        with klock:
            with self._lock:
                if key in self._items:
                    return self._items[key]
            value = load()
            with self._lock:
                self._items[key] = value
                while len(self._items) > self.size:
                    self._items.popitem(last=False)
                self._key_locks.pop(key, None)
            return value


_CACHE_LOCK = threading.Lock()


def _cache(request: Request, settings: Settings) -> RunCache:
    state = request.app.state
    with _CACHE_LOCK:
        cache = getattr(state, "query_runs", None)
        if cache is None or cache.size != settings.query_cache_runs:
            cache = state.query_runs = RunCache(settings.query_cache_runs)
    return cache


def open_run(ref: RunRef, request: Request, settings: Settings) -> QueryContext:
    """The opened :class:`QueryContext` of ``ref`` (from the per-app LRU)."""
    gpkg = ref.zones_dir / "zones.gpkg"
    try:
        mtime = gpkg.stat().st_mtime_ns
    except OSError:
        mtime = 0
    key = (ref.id, str(ref.folder), mtime)

    def load() -> QueryContext:
        with server_side(f"run {ref.id!r}"):
            return QueryContext.open(ref.folder)

    return _cache(request, settings).get(key, load)


def context_for(
    run: str | None, request: Request, settings: Settings, *, location: str = "query"
) -> QueryContext | JSONResponse:
    """Resolve and open ``run`` (or return the problem response)."""
    ref = resolve_run(run, request, settings, location=location)
    if isinstance(ref, JSONResponse):
        return ref
    return open_run(ref, request, settings)


# --------------------------------------------------------------------------- models


def _check_geojson(g: Any) -> None:
    """Raise ``ValueError`` unless ``g`` is a GeoJSON geometry or Feature shapely can read."""
    if not isinstance(g, dict):
        raise ValueError("must be a GeoJSON object")
    kind = g.get("type")
    if kind not in GEOMETRY_TYPES:
        raise ValueError(f"type must be a GeoJSON geometry type or 'Feature', got {kind!r}"[:200])
    geom = g.get("geometry") if kind == "Feature" else g
    if kind == "Feature" and geom is None:
        raise ValueError("the Feature has no geometry")
    if not isinstance(geom, dict) or geom.get("type") not in GEOMETRY_TYPES - {"Feature"}:
        raise ValueError("the Feature's geometry is not a GeoJSON geometry")
    try:
        shape(geom)
    except Exception as exc:  # shapely raises many kinds on malformed coordinates
        raise ValueError(f"not a valid GeoJSON geometry: {str(exc)[:200]}") from None


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
        _check_geojson(v)
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


@router.get(
    "/query/point",
    name="query_point",
    summary="Everything known at one place: unit, access list, red line, parks, layer values",
    response_model=PointResult,
    responses=problem_responses(404, 409, 410, 422),
)
def query_point(
    request: Request,
    settings: SettingsDep,
    lon: Annotated[
        float, Query(ge=-180, le=180, allow_inf_nan=False, description="Longitude, degrees.")
    ],
    lat: Annotated[
        float, Query(ge=-90, le=90, allow_inf_nan=False, description="Latitude, degrees.")
    ],
    crs: Annotated[InputCRS, Query(description="CRS of lon/lat (GCJ-02 is converted).")] = (
        "wgs84"
    ),
    run: Annotated[str | None, Query(pattern=RUN_PATTERN, description=RUN_DESCRIPTION)] = None,
) -> Any:
    """A place outside the analysed area is a normal answer: ``inside_analysed_area`` false."""
    ctx = context_for(run, request, settings)
    if isinstance(ctx, JSONResponse):
        return ctx
    return lookup_point(ctx, lon, lat, crs=crs)


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
    return result


def _row(record: dict[str, Any]) -> dict[str, Any]:
    return {
        k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in record.items()
    }


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
    rows: list[dict[str, Any] | None] = [None] * n
    good: list[int] = []
    for i, f in enumerate(body.features):
        sid = _site_id(f, id_field, i)
        try:
            if not isinstance(f, dict) or f.get("type") != "Feature":
                raise ValueError("not a GeoJSON Feature")
            _check_geojson(f)
        except ValueError as exc:
            rows[i] = {
                "site_id": sid,
                "ok": False,
                "error_type": "InvalidGeometry",
                "error": str(exc),
            }
            continue
        good.append(i)
    if good:
        feats = []
        for i in good:
            f = dict(body.features[i])
            if f.get("id") is None:
                f["id"] = _site_id(f, id_field, i)
            feats.append(f)
        fc = {"type": "FeatureCollection", "features": feats}
        df = screen_batch(
            ctx, fc, buffer_m=buffer_m, project_type=project_type, crs=crs, id_field=id_field
        )
        for i, rec in zip(good, df.to_dict(orient="records"), strict=True):
            rows[i] = _row(rec)
    cols = list(_row(rows[good[0]]).keys()) if good else ["site_id", "ok", "error_type", "error"]
    out = [{c: r.get(c) for c in cols} | r for r in rows if r is not None]
    return BatchResult(
        run=ctx.run,
        count=n,
        ok=sum(1 for r in out if r.get("ok")),
        rows=out,
    )


def _site_id(f: Any, id_field: str | None, i: int) -> str:
    if isinstance(f, dict):
        props = f.get("properties") if isinstance(f.get("properties"), dict) else {}
        if id_field and id_field in props:
            return str(props[id_field])
        if f.get("id") is not None:
            return str(f["id"])
    return str(i)


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
    "RunCache",
    "RunRef",
    "context_for",
    "demo_run",
    "job_run",
    "open_run",
    "resolve_run",
    "router",
]
