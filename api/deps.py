"""Shared FastAPI dependencies and their ``Annotated`` aliases.

``get_settings`` is cached once per process; tests replace it with
``app.dependency_overrides[get_settings] = lambda: Settings(...)`` (``create_app(settings)``
does this for you). ``get_registry`` returns the built-in layers plus the user manifests of
``settings.user_layers_dir``; it is cached by the folder and the names, sizes and modification
times of its manifests, so a layer uploaded (or deleted) by another route shows up on the next
request without a restart.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated

from fastapi import Depends

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


SettingsDep = Annotated[Settings, Depends(get_settings)]


def get_registry(settings: SettingsDep) -> LayerRegistry:
    """The layer registry of the current settings."""
    return registry_for(settings)


RegistryDep = Annotated[LayerRegistry, Depends(get_registry)]

__all__ = ["RegistryDep", "SettingsDep", "get_registry", "get_settings", "registry_for"]
