"""User layers over HTTP: ``POST /uploads``, ``GET /uploads``, ``DELETE /uploads/{id}``.

The request body **is the file** (``Content-Type: application/octet-stream``, or the file's
own type): a zipped Shapefile, a GeoPackage, a GeoJSON or a GeoTIFF, at most
``GEOECO_MAX_UPLOAD_BYTES``. The query names the layer: ``role`` (``protected``,
``development``, ``evaluation`` with ``variable``, ...), optional ``layer_id`` (must start with
``user.``; default ``user.<file name>``), titles, ``status``, ``nodata``, ``units``. For
example::

    curl -X POST --data-binary @parks.zip -H "X-API-Key: $KEY" \\
      "http://host/uploads?role=protected&layer_id=user.parks&filename=parks.zip"

The route receives the bytes; everything else is the user-layer store's
(:class:`geoeco.catalog.store.UserLayerStore`, the one ``geoeco layers add`` uses).

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
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from geoeco.catalog.layers import LayerSpec
from geoeco.catalog.store import INCOMING, USER_ID, UserLayerOptions, UserLayerStore
from geoeco.core.errors import OversizeRequest

from ..deps import SettingsDep
from ..errors import problem_responses
from ..security import ApiKeyDep, BodySizeLimitMiddleware

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


def _describe(spec: LayerSpec, store: UserLayerStore, request: Request) -> dict[str, Any]:
    info = store.upload_info(spec.id)
    return {
        **spec.summary(),
        "variable": spec.variable,
        "crs": spec.crs,
        "created": info.created,
        "bytes": info.bytes,
        "links": [
            {
                "href": str(request.url_for("collection", collection_id=spec.id)),
                "rel": "describedby",
                "type": "application/json",
                "title": "the layer in the catalogue",
            }
        ],
    }


async def _receive_to(request: Request, dest: Path, limit: int) -> None:
    """Stream the body into ``dest`` (:class:`OversizeRequest` past ``limit`` bytes)."""
    n = 0
    with dest.open("xb") as f:
        async for chunk in request.stream():
            if not chunk:
                continue
            n += len(chunk)
            if n > limit:
                raise OversizeRequest(
                    f"the upload is more than {limit:,} bytes (GEOECO_MAX_UPLOAD_BYTES)"
                )
            await asyncio.to_thread(f.write, chunk)


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
    store = settings.user_layer_store
    lid, shown = store.upload_id(layer_id, filename)
    options = UserLayerOptions(
        role=role,
        title_zh=title_zh,
        title_en=title_en,
        status=status,
        nodata=nodata,
        units=units,
        variable=variable,
    )
    with store.reserve_upload(lid) as folder:  # removed again if anything below fails
        await _receive_to(request, folder / INCOMING, settings.max_upload_bytes)
        spec = await asyncio.to_thread(store.add_upload, folder, options, shown=shown)
    body = _describe(spec, store, request)
    location = str(request.url_for("collection", collection_id=spec.id))
    return JSONResponse(body, status_code=201, headers={"Location": location})


@router.get("/uploads", name="list_uploads", summary="Layers uploaded through the API")
def list_uploads(request: Request, settings: SettingsDep) -> dict[str, Any]:
    """Id, kind, role, status, titles, CRS, upload time and size of each uploaded layer."""
    store = settings.user_layer_store
    specs = store.uploads()
    return {
        "uploads": [_describe(s, store, request) for s in specs],
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
    settings.user_layer_store.remove_upload(layer_id)
    return {"id": layer_id, "deleted": True}


__all__ = ["USER_ID", "UploadBodyLimit", "router"]
