"""``/health``: liveness and a short inventory (version, layer count, job store)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from geoeco import __version__

from ..deps import RegistryDep, SettingsDep

router = APIRouter(tags=["health"])


@router.get("/health", summary="Service health")
def health(settings: SettingsDep, registry: RegistryDep) -> dict[str, Any]:
    """Version, number of layers, and whether the job store folder is reachable."""
    jobs = settings.job_store_dir
    return {
        "status": "ok",
        "version": __version__,
        "layers": len(registry),
        "job_store": {"reachable": jobs.is_dir()} if jobs.exists() else {"reachable": None},
    }
