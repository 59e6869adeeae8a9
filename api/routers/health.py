"""``/health``: liveness and a short inventory (version, layer count, job store).

``async`` and answered on the event loop: a request crosses into the thread pool not once;
it reads the settings and the registry itself rather than through two more dependencies
(FastAPI resolves each one on every request), and serialises the body once
(:mod:`..responses`).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from geoeco import __version__

from ..deps import app_settings, registry_for
from ..responses import json_response

router = APIRouter(tags=["health"])


@router.get("/health", summary="Service health", response_model=dict[str, Any])
async def health(request: Request) -> Any:
    """Version, number of layers, and whether the job store folder is reachable."""
    settings = app_settings(request)
    registry = registry_for(settings)
    jobs = settings.job_store_dir
    return json_response(
        {
            "status": "ok",
            "version": __version__,
            "layers": len(registry),
            "job_store": {"reachable": jobs.is_dir()} if jobs.exists() else {"reachable": None},
        }
    )
