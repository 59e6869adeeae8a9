"""The vector results of a zoning run as Features collections: units, red line, restoration.

A zoning run folder holds ``zones.gpkg`` with the layers ``units``, ``redline`` and
``restoration`` (CGCS2000). :func:`run_layer` indexes one of them for paging, once per file
version (a small LRU cache keyed on the path and modification time, shared by threads);
:data:`RUN_LAYERS` gives their titles.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path

from geoeco.core.errors import LayerNotFound
from geoeco.query.context import IndexedLayer
from geoeco.service.features import index_frame

#: Layer name in ``zones.gpkg`` -> (English title, Chinese title).
RUN_LAYERS: dict[str, tuple[str, str]] = {
    "units": ("Ecological control units", "生态环境管控单元"),
    "redline": ("Ecological protection red line", "生态保护红线"),
    "restoration": ("Restoration priority areas", "生态修复优先区"),
}
_CACHE_SIZE = 12
_cache: OrderedDict[tuple[str, str, int], IndexedLayer] = OrderedDict()
_lock = threading.Lock()


def zones_gpkg(run_dir: str | Path) -> Path | None:
    """``zones.gpkg`` of a run folder (or of its ``zones/`` subfolder), ``None`` if absent."""
    root = Path(run_dir)
    for cand in (root / "zones.gpkg", root / "zones" / "zones.gpkg"):
        if cand.is_file():
            return cand
    return None


def run_layer(run_dir: str | Path, name: str) -> IndexedLayer:
    """The paging index of layer ``name`` of a run's ``zones.gpkg``.

    Raises :class:`~geoeco.core.errors.LayerNotFound` for a name outside :data:`RUN_LAYERS`
    or a run without that layer.
    """
    if name not in RUN_LAYERS:
        raise LayerNotFound(f"no collection {name!r}; a zoning job has: {', '.join(RUN_LAYERS)}")
    gpkg = zones_gpkg(run_dir)
    if gpkg is None:
        raise LayerNotFound(f"this run has no zones.gpkg, so no collection {name!r}")
    key = (str(gpkg), name, gpkg.stat().st_mtime_ns)
    with _lock:
        hit = _cache.get(key)
        if hit is not None:
            _cache.move_to_end(key)
            return hit
    import pyogrio

    if name not in {str(n) for n in pyogrio.list_layers(gpkg)[:, 0]}:
        raise LayerNotFound(f"this run's zones.gpkg has no layer {name!r}")
    from geoeco.core.io import read_vector

    lyr = index_frame(name, read_vector(gpkg, layer=name, name="zones.gpkg"))
    with _lock:
        _cache[key] = lyr
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return lyr


__all__ = ["RUN_LAYERS", "run_layer", "zones_gpkg"]
