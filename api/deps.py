"""Shared FastAPI dependencies and their ``Annotated`` aliases.

Routes take the settings through :data:`SettingsDep`, i.e. :func:`current_settings`: the
settings :func:`geoeco_api.main.create_app` stored in ``app.state.settings`` (tests pass tmp
folders there), else :func:`get_settings`, read from the environment once per process. Both
dependencies are ``async``, so resolving them costs no thread-pool hop (FastAPI runs a plain
``def`` dependency in its thread pool); they are not replaced through
``app.dependency_overrides``, which FastAPI re-analyses (signature, annotations) on every
request that uses them. ``get_registry`` returns the built-in layers plus the
user manifests of ``settings.user_layers_dir``; it is cached by the folder and the names,
sizes and modification times of its manifests, so a layer uploaded (or deleted) by another
route shows up on the next request without a restart. It is ``async`` too: a warm call lists
one small local folder (tens of microseconds), less than a hop to the thread pool costs.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated

from fastapi import Depends, Request

from geoeco.catalog.layers import LayerRegistry, load_registry

from .settings import Settings


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read from the environment once."""
    return Settings()


def _manifest_signature(folder: Path) -> tuple[tuple[str, int, int], ...]:
    if not folder.is_dir():
        return ()
    sig = []
    for p in sorted(folder.glob("*.toml")):
        try:
            st = p.stat()
        except OSError:  # removed between glob and stat
            continue
        sig.append((p.name, st.st_mtime_ns, st.st_size))
    return tuple(sig)


@lru_cache(maxsize=8)
def _registry(folder: str, signature: tuple[tuple[str, int, int], ...]) -> LayerRegistry:
    del signature  # part of the cache key only
    return load_registry(folder)


def registry_for(settings: Settings) -> LayerRegistry:
    """Built-in plus user layers for ``settings`` (cached until the user manifests change)."""
    folder = settings.user_layers_dir
    return _registry(str(folder), _manifest_signature(folder))


def app_settings(request: Request) -> Settings:
    """The settings of the app serving ``request`` (``app.state.settings``, else the env)."""
    settings: Settings | None = getattr(request.app.state, "settings", None)
    return settings if settings is not None else get_settings()


async def current_settings(request: Request) -> Settings:
    """Dependency: :func:`app_settings` of the request."""
    return app_settings(request)


SettingsDep = Annotated[Settings, Depends(current_settings)]


async def get_registry(settings: SettingsDep) -> LayerRegistry:
    """The layer registry of the current settings."""
    return registry_for(settings)


RegistryDep = Annotated[LayerRegistry, Depends(get_registry)]

__all__ = [
    "RegistryDep",
    "SettingsDep",
    "app_settings",
    "current_settings",
    "get_registry",
    "get_settings",
    "registry_for",
]
