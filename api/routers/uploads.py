"""User layers over HTTP: ``POST /uploads``, ``GET /uploads``, ``DELETE /uploads/{id}``.

The request body **is the file** (``Content-Type: application/octet-stream``, or the file's
own type): a zipped Shapefile, a GeoPackage, a GeoJSON or a GeoTIFF, at most
``GEOECO_MAX_UPLOAD_BYTES``. The query names the layer: ``role`` (``protected``,
``development``, ``evaluation`` with ``variable``, ...), optional ``layer_id`` (must start with
``user.``; default ``user.<file name>``), titles, ``status``, ``nodata``, ``units``. For
example::

    curl -X POST --data-binary @parks.zip -H "X-API-Key: $KEY" \\
      "http://host/uploads?role=protected&layer_id=user.parks&filename=parks.zip"

Safety (:mod:`geoeco.core.uploads`): the format comes from the file's first bytes, never from the
name (GDAL opens by content: a ".tif" holding VRT XML would otherwise read any server file or
URL); zips are checked member by member (no absolute paths, ``..``, links or devices; at most
``GEOECO_MAX_UPLOAD_FILES`` members, ``GEOECO_MAX_UPLOAD_UNPACKED_BYTES`` unpacked, and neither
a member above 1 MB nor the whole archive compressed more than ``GEOECO_MAX_UPLOAD_RATIO``:1);
only the id is used to name the folder ``<data_dir>/uploads/<id>/``, and no user text is ever
used as a path. The file is then validated like ``geoeco layers add``
(:func:`geoeco.catalog.validate.user_layer_spec`, which opens it through
:mod:`geoeco.core.userdata`:
allow-listed formats decided by content, GDAL driver forced, no network, header limits
``GEOECO_MAX_RASTER_PIXELS`` and friends -> 413; readable, has a CRS, inside China, rasters
with nodata) and its manifest written into the user
layers folder, so the layer is in ``/collections`` and usable in jobs (e.g. zoning
``layers`` by id; a ``protected`` polygon layer joins the red line of every later zoning run)
on the next request. Any failure removes the upload folder again.
"""

from __future__ import annotations

import asyncio
import re
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from geoeco.catalog.layers import LayerSpec, parse_manifest, slugify
from geoeco.catalog.validate import user_layer_spec, write_user_manifest
from geoeco.core.errors import InvalidInput, LayerExists, LayerNotFound, OversizeRequest
from geoeco.core.uploads import (
    STORED_NAME,
    ZipLimits,
    find_data_file,
    safe_extract_zip,
    sniff_format,
)

from ..deps import SettingsDep, registry_for
from ..errors import problem_responses
from ..security import ApiKeyDep, BodySizeLimitMiddleware
from ..settings import Settings

router = APIRouter(tags=["uploads"])

UploadRole = Literal[
    "protected",
    "development",
    "evaluation",
    "vegetation",
    "land_cover",
    "terrain",
    "climate",
    "soil",
    "erosion_factor",
    "reference",
]
USER_ID = r"^user\.[a-z0-9_]+(\.[a-z0-9_]+)*$"
_ID_RE = re.compile(USER_ID)
_ROUTE_PREFIX = "/uploads"


class UploadBodyLimit:
    """Body-size limit by path: ``max_upload_bytes`` on ``/uploads``, else ``max_body_bytes``."""

    def __init__(self, app: ASGIApp, max_body_bytes: int, max_upload_bytes: int) -> None:
        self.default = BodySizeLimitMiddleware(app, max_body_bytes)
        self.uploads = BodySizeLimitMiddleware(app, max_upload_bytes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Dispatch to the limit of the request's path."""
        path = scope.get("path", "") if scope["type"] == "http" else ""
        inner = self.uploads if path.rstrip("/") == _ROUTE_PREFIX else self.default
        await inner(scope, receive, send)


def _upload_dir(settings: Settings, layer_id: str) -> Path:
    return settings.uploads_dir / layer_id


def _is_upload(spec: LayerSpec, settings: Settings) -> bool:
    p = spec.file_path()
    if p is None:
        return False
    try:
        p.resolve().relative_to(settings.uploads_dir.resolve())
    except ValueError:
        return False
    return True


def _describe(spec: LayerSpec, settings: Settings, request: Request) -> dict[str, Any]:
    folder = _upload_dir(settings, spec.id)
    created = None
    try:
        created = datetime.fromtimestamp(folder.stat().st_mtime, UTC).isoformat()
    except OSError:
        pass
    size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else 0
    return {
        **spec.summary(),
        "variable": spec.variable,
        "crs": spec.crs,
        "created": created,
        "bytes": size,
        "links": [
            {
                "href": str(request.url_for("collection", collection_id=spec.id)),
                "rel": "describedby",
                "type": "application/json",
                "title": "the layer in the catalogue",
            }
        ],
    }


async def _receive_to(request: Request, dest: Path, limit: int) -> tuple[int, bytes]:
    """Stream the body into ``dest``; return its size and first 64 bytes."""
    n = 0
    head = b""
    with dest.open("xb") as f:
        async for chunk in request.stream():
            if not chunk:
                continue
            n += len(chunk)
            if n > limit:
                raise OversizeRequest(
                    f"the upload is more than {limit:,} bytes (GEOECO_MAX_UPLOAD_BYTES)"
                )
            if len(head) < 64:
                head += chunk[: 64 - len(head)]
            await asyncio.to_thread(f.write, chunk)
    return n, head


def _ingest(
    raw: Path,
    head: bytes,
    folder: Path,
    settings: Settings,
    *,
    shown: str,
    options: dict[str, Any],
) -> LayerSpec:
    """Unpack / place the file, validate it and write the manifest (runs in a thread)."""
    fmt = sniff_format(head)
    if fmt == "zip":
        limits = ZipLimits(
            max_files=settings.max_upload_files,
            max_total_bytes=settings.max_upload_unpacked_bytes,
            max_ratio=settings.max_upload_ratio,
        )
        files = safe_extract_zip(raw, folder / "data", limits)
        raw.unlink()
        data, _ = find_data_file(folder / "data", files)
    else:
        data = folder / STORED_NAME[fmt]
        raw.rename(data)
    variable = options.pop("variable")
    spec = user_layer_spec(data, name=shown, limits=settings.user_data_limits, **options)
    if variable is not None:
        spec = LayerSpec.model_validate({**spec.model_dump(), "variable": variable})
    write_user_manifest(spec, settings.user_layers_dir)
    return spec


@router.post(
    "/uploads",
    name="upload_layer",
    summary="Upload a layer file (zipped Shapefile, GeoPackage, GeoJSON, GeoTIFF)",
    status_code=201,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
                "application/zip": {"schema": {"type": "string", "format": "binary"}},
            },
        }
    },
    responses={
        201: {"description": "The layer was added; `Location` names its collection."},
        **problem_responses(401, 403, 409, 413, 422),
    },
)
async def upload_layer(
    request: Request,
    settings: SettingsDep,
    api_key: ApiKeyDep,
    role: Annotated[UploadRole, Query(description="What the layer is for in zoning.")],
    layer_id: Annotated[
        str | None,
        Query(max_length=64, pattern=USER_ID, description="Layer id (`user.<name>`)."),
    ] = None,
    filename: Annotated[
        str | None,
        Query(max_length=200, description="The file's name, for messages and the default id."),
    ] = None,
    variable: Annotated[
        str | None,
        Query(
            max_length=64,
            pattern=r"^[a-z][a-z0-9_]*$",
            description="Rule-set input this raster provides (role evaluation), e.g. "
            "`importance_biodiversity`.",
        ),
    ] = None,
    title_zh: Annotated[str | None, Query(max_length=200)] = None,
    title_en: Annotated[str | None, Query(max_length=200)] = None,
    status: Annotated[Literal["real", "approximation", "synthetic"], Query()] = "real",
    nodata: Annotated[float | None, Query(allow_inf_nan=False)] = None,
    units: Annotated[str | None, Query(max_length=40)] = None,
) -> Any:
    """Validate and register the file; answer the new layer's description (201)."""
    del api_key
    shown = (filename or "upload").replace("\\", "/").rsplit("/", 1)[-1][:200] or "upload"
    lid = layer_id or "user." + slugify(shown)
    if not _ID_RE.match(lid):
        raise InvalidInput(f"cannot make a layer id from {shown!r}; give layer_id=user.<name>")
    if lid in registry_for(settings):
        raise LayerExists(f"layer id {lid!r} is taken; choose another layer_id")
    folder = _upload_dir(settings, lid)
    folder.parent.mkdir(parents=True, exist_ok=True)
    try:
        folder.mkdir()
    except FileExistsError:
        raise LayerExists(f"layer id {lid!r} is being uploaded or is taken") from None
    ok = False
    try:
        raw = folder / ".incoming"
        n, head = await _receive_to(request, raw, settings.max_upload_bytes)
        if n == 0:
            raise InvalidInput("the request body is empty; send the file as the body")
        options = {
            "role": role,
            "layer_id": lid,
            "title_zh": title_zh or Path(shown).stem or lid,
            "title_en": title_en or Path(shown).stem or lid,
            "status": status,
            "nodata": nodata,
            "units": units,
            "variable": variable,
            "provenance": f"uploaded file {shown}",
        }
        spec = await asyncio.to_thread(
            _ingest, raw, head, folder, settings, shown=shown, options=options
        )
        ok = True
    finally:
        if not ok:
            shutil.rmtree(folder, ignore_errors=True)
    body = _describe(spec, settings, request)
    location = str(request.url_for("collection", collection_id=spec.id))
    return JSONResponse(body, status_code=201, headers={"Location": location})


def _uploaded_specs(settings: Settings) -> list[LayerSpec]:
    out = []
    folder = settings.user_layers_dir
    if not folder.is_dir():
        return out
    for p in sorted(folder.glob("user.*.toml")):
        try:
            spec = parse_manifest(p.read_text(encoding="utf-8"), name=p.name)
        except Exception:  # a broken manifest is not ours to list
            continue
        if _is_upload(spec, settings):
            out.append(spec)
    return out


@router.get("/uploads", name="list_uploads", summary="Layers uploaded through the API")
def list_uploads(request: Request, settings: SettingsDep) -> dict[str, Any]:
    """Id, kind, role, status, titles, CRS, upload time and size of each uploaded layer."""
    specs = _uploaded_specs(settings)
    return {
        "uploads": [_describe(s, settings, request) for s in specs],
        "numberReturned": len(specs),
    }


@router.delete(
    "/uploads/{layer_id}",
    name="delete_upload",
    summary="Remove an uploaded layer (manifest and files)",
    responses=problem_responses(401, 403, 404, 422),
)
def delete_upload(
    layer_id: Annotated[str, PathParam(max_length=64, pattern=USER_ID)],
    settings: SettingsDep,
    api_key: ApiKeyDep,
) -> dict[str, Any]:
    """Only layers uploaded through the API can be removed here (not other user layers)."""
    del api_key
    spec = next((s for s in _uploaded_specs(settings) if s.id == layer_id), None)
    if spec is None:
        raise LayerNotFound(f"no uploaded layer {layer_id!r}; see GET /uploads")
    (settings.user_layers_dir / f"{layer_id}.toml").unlink(missing_ok=True)
    shutil.rmtree(_upload_dir(settings, layer_id), ignore_errors=True)
    return {"id": layer_id, "deleted": True}


__all__ = ["USER_ID", "UploadBodyLimit", "router"]
