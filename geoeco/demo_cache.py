"""The demo region's full run (analyses + zoning), built once per size and engine version.

A service answering point queries and screenings "on the demo" needs a finished zoning run of
the synthetic demo region (:func:`geoeco.demo_run.run_demo`). :func:`ensure_demo_run` builds
it into ``<cache_dir>/demo-run/<size>-<version>/`` the first time and returns that folder
afterwards (a ``.complete`` marker says it is whole). Several threads or processes may ask at
once: each process builds under a lock into a hidden temporary folder and renames it into
place; the first rename wins and the others discard theirs.

Building takes about 20 s for ``small`` (≈ 10 km at 30 m) and about 1 min for ``full``
(≈ 100 km at 90 m) on one core.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

from . import __version__
from .errors import InvalidInput

DEMO_SIZES = ("small", "full")
_LOCKS: dict[str, threading.Lock] = {}
_GUARD = threading.Lock()


def demo_run_dir(cache_dir: str | Path, size: str = "full") -> Path:
    """Folder of the cached demo run of ``size`` (it may not exist yet).

    >>> demo_run_dir("/c", "small").parts[-2:]  # doctest: +ELLIPSIS
    ('demo-run', 'small-...')
    """
    if size not in DEMO_SIZES:
        raise InvalidInput(f"demo size must be one of {DEMO_SIZES}, got {size!r}")
    return Path(cache_dir) / "demo-run" / f"{size}-{__version__}"


def is_complete(folder: str | Path) -> bool:
    """Whether ``folder`` holds a finished demo run."""
    return (Path(folder) / ".complete").exists()


def ensure_demo_run(
    cache_dir: str | Path,
    size: str = "full",
    *,
    progress: Callable[[str, float], None] | None = None,
) -> Path:
    """The demo run folder of ``size`` (holding ``zones/``, ``erosion/`` ...), built if needed."""
    from .demo_run import run_demo

    target = demo_run_dir(cache_dir, size)
    if is_complete(target):
        return target
    with _GUARD:
        lock = _LOCKS.setdefault(str(target), threading.Lock())
    with lock:
        if is_complete(target):
            return target
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{size}-", dir=target.parent))
        try:
            run_demo(tmp, size=size, progress=progress)
            (tmp / ".complete").write_text(__version__, encoding="utf-8")
            if target.exists() and not is_complete(target):
                shutil.rmtree(target, ignore_errors=True)  # a half-built leftover
            try:
                tmp.rename(target)
            except OSError:  # another process finished first
                pass
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return target


__all__ = ["DEMO_SIZES", "demo_run_dir", "ensure_demo_run", "is_complete"]
