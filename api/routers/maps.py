"""Interactive zone maps that work without internet: ``/maps/jobs/{id}``, ``/maps/demo``.

Each map is :func:`geoeco.maps.zone.zone_map` of a zoning run (units by class with legends and
popups, red line, reference outlines) whose raster layers come from this service's tile
routes (``/jobs/{id}/tiles/...`` or ``/maps/demo/tiles/...``), rendered with
:func:`geoeco.maps.zone.map_html` so that Leaflet and its plugins load from ``/maps/assets/``
(files of the ``folium-offline`` package written once into ``GEOECO_CACHE_DIR`` by
:func:`geoeco.maps.assets.asset_dir`), never from a CDN. Only outputs the run actually wrote
get a tile layer, so the map never asks for a tile that does not exist. URLs in the page are
root-relative (they include ``GEOECO_ROOT_PATH``), so a map works behind a proxy prefix and
on any host name. Rendered pages are cached per run (LRU of 8 per process).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from functools import lru_cache
from pathlib import Path as FsPath
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse

from geoeco import __version__
from geoeco.service.run_tiles import output_path
from geoeco.service.tiles import MAX_ZOOM
from geoeco.workflows.runs import ZoningRunFolder, job_zoning_run

from ..deps import SettingsDep
from ..errors import problem_response, problem_responses, server_side
from ..settings import Settings
from .jobs import (
    AccessQuery,
    Caller,
    CallerDep,
    OutputName,
    get_job_service,
    job_not_ready,
    no_such_job,
    output_tile_response,
    visible_job,
    with_access,
)
from .query import demo_run
from .tiles import ColormapQuery, RescaleQuery

router = APIRouter(tags=["maps"])

_MEDIA = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
_HTML_CACHE: OrderedDict[tuple[Any, ...], str] = OrderedDict()
_HTML_LOCK = threading.Lock()
_HTML_MAX = 8


@lru_cache(maxsize=4)
def _assets(folder: str) -> tuple[FsPath, frozenset[str]]:
    from geoeco.maps.assets import asset_dir

    root, mapping = asset_dir(folder)
    return root.resolve(), frozenset(mapping.values())


def assets_folder(settings: Settings) -> str:
    """Where the map assets are written for this engine version."""
    return str(settings.cache_dir / "map-assets" / __version__)


def _maps_missing(request: Request, exc: ImportError) -> JSONResponse:
    return problem_response(
        503,
        f"maps are not available on this server: {exc}",
        instance=request.url.path,
    )


@router.get(
    "/maps/assets/{name:path}",
    name="map_asset",
    summary="A Leaflet / plugin script or stylesheet used by the maps (offline copies)",
    response_class=Response,
    responses={
        200: {"content": {"text/javascript": {}, "text/css": {}}},
        **problem_responses(404, 503),
    },
)
def map_asset(name: str, request: Request, settings: SettingsDep) -> Any:
    """Only the files of the asset set are served (their names are hashed, so cached a year)."""
    try:
        root, names = _assets(assets_folder(settings))
    except ImportError as exc:
        return _maps_missing(request, exc)
    if name not in names or "/" in name or "\\" in name:
        return problem_response(404, f"no map asset {name!r}", instance=request.url.path)
    path = (root / name).resolve()
    if path.parent != root or not path.is_file():
        return problem_response(404, f"no map asset {name!r}", instance=request.url.path)
    media = _MEDIA.get(path.suffix, "application/octet-stream")
    return FileResponse(
        path, media_type=media, headers={"Cache-Control": "public, max-age=31536000, immutable"}
    )


def _root(request: Request) -> str:
    return str(request.scope.get("root_path") or "").rstrip("/")


def _render(zones_dir: FsPath, tile_template: str, assets: str) -> str:
    from geoeco.maps.base import map_html
    from geoeco.maps.layers import read_run
    from geoeco.maps.zone import zone_map

    run = read_run(zones_dir)  # rasters: only the outputs present (as paths)
    m = zone_map(run.pop("units"), tile_url_template=tile_template, **run)
    return map_html(m, assets=assets)


def map_page(
    ref: ZoningRunFolder, tile_template: str, request: Request, settings: Settings
) -> HTMLResponse | JSONResponse:
    """The rendered map of a run (cached per run, zones.gpkg mtime and root path)."""
    gpkg = ref.zones_gpkg
    try:
        mtime = gpkg.stat().st_mtime_ns
    except OSError:
        mtime = 0
    root = _root(request)
    key = (ref.id, str(ref.folder), mtime, root)
    with _HTML_LOCK:
        html = _HTML_CACHE.get(key)
        if html is not None:
            _HTML_CACHE.move_to_end(key)
    if html is None:
        try:
            _assets(assets_folder(settings))
            with server_side(f"run {ref.id!r}"):
                html = _render(ref.zones_dir, root + tile_template, root + "/maps/assets/")
        except ImportError as exc:
            return _maps_missing(request, exc)
        with _HTML_LOCK:
            _HTML_CACHE[key] = html
            while len(_HTML_CACHE) > _HTML_MAX:
                _HTML_CACHE.popitem(last=False)
    return HTMLResponse(html, headers={"Cache-Control": "no-cache"})


@router.get(
    "/maps/jobs/{job_id}",
    name="job_map",
    summary="Interactive zone map of a zoning job (HTML, works offline)",
    response_class=HTMLResponse,
    responses=problem_responses(404, 409, 410, 422, 503),
)
def job_map(
    job_id: str,
    request: Request,
    settings: SettingsDep,
    caller: CallerDep,
    access: AccessQuery = None,
) -> Any:
    """Units by class, red line, outlines and the job's raster outputs as tile layers.

    With API keys on, the page needs the owner's key or the job's ``access`` code (the link in
    the job's results carries it); its tile URLs carry the code too.
    """
    svc = get_job_service(request, settings)
    job = visible_job(svc, job_id, Caller(caller.api_key, access))
    if job is None:
        return no_such_job(job_id, request)
    if job.process_id != "zoning":
        return problem_response(
            422,
            f"job {job_id} ran process {job.process_id!r}; maps are drawn for zoning jobs",
            instance=request.url.path,
        )
    problem = job_not_ready(job, request)
    if problem is not None:
        return problem
    folder = svc.results_dir / job.id
    if not (folder / "zones.gpkg").is_file():
        return problem_response(404, f"job {job_id} has no zones.gpkg", instance=request.url.path)
    template = with_access(f"/jobs/{job.id}/tiles/{{output}}/{{z}}/{{x}}/{{y}}.png", job, settings)
    return map_page(job_zoning_run(job.id, folder), template, request, settings)


@router.get(
    "/maps/demo",
    name="demo_map",
    summary="Interactive zone map of the demo region's run (HTML, works offline)",
    response_class=HTMLResponse,
    responses=problem_responses(503),
)
def demo_map(request: Request, settings: SettingsDep) -> Any:
    """The demo run of ``GEOECO_QUERY_DEMO_SIZE`` (built on first use)."""
    ref = demo_run(settings)
    return map_page(ref, "/maps/demo/tiles/{output}/{z}/{x}/{y}.png", request, settings)


@router.get(
    "/maps/demo/tiles/{output}/{z}/{x}/{y}.png",
    name="demo_tile",
    summary="Map tile of an output raster of the demo run",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}}, **problem_responses(404, 422)},
)
def demo_tile(
    output: Annotated[OutputName, Path(description="Output raster.")],
    z: Annotated[int, Path(ge=0, le=MAX_ZOOM)],
    x: Annotated[int, Path(ge=0)],
    y: Annotated[int, Path(ge=0)],
    request: Request,
    settings: SettingsDep,
    colormap: ColormapQuery = None,
    rescale: RescaleQuery = None,
) -> Any:
    """Same colours as the job tiles; the demo's erosion and desertification grades included."""
    ref = demo_run(settings)
    path = output_path(ref.zones_dir, output, siblings=True)
    if path is None:
        return problem_response(
            404, f"the demo run has no output {output!r}", instance=request.url.path
        )
    return output_tile_response(path, output, z, x, y, colormap=colormap, rescale=rescale)


__all__ = ["assets_folder", "map_page", "router"]
