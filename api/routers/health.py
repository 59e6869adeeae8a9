"""``/health``: liveness and a short inventory (version, layer count, job store).

``async`` and answered on the event loop: its dependencies are ``async`` too, so a request
crosses into the thread pool not once; the body is serialised once (:mod:`..responses`).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from geoeco import __version__

from ..deps import RegistryDep, SettingsDep
from ..responses import json_response

router = APIRouter(tags=["health"])


@router.get("/health", summary="Service health", response_model=dict[str, Any])
async def health(settings: SettingsDep, registry: RegistryDep) -> Any:
    """Version, number of layers, and whether the job store folder is reachable."""
    jobs = settings.job_store_dir
    return json_response(
        {
            "status": "ok",
            "version": __version__,
            "layers": len(registry),
            "job_store": {"reachable": jobs.is_dir()} if jobs.exists() else {"reachable": None},
        }
    )
