"""The demo region's full run (analyses + zoning), built once per size and engine version.

A service answering point queries and screenings "on the demo" needs a finished zoning run of
the synthetic demo region (:func:`geoeco.workflows.demo.run_demo`). :func:`ensure_demo_run` builds
it into ``<cache_dir>/demo-run/<size>-<version>/`` the first time and returns that folder
afterwards (a ``.complete`` marker says it is whole).

:func:`build_once` is how every cached build works (this one and the job processes' demo
inputs): the builder holds a lock file ``<target>.lock`` (``flock``, released by the system
even when the builder is killed) so other processes wait instead of building the same thing
again, builds into a staging folder ``.<target>.build-<host>-<pid>-<random>`` beside the
target (:mod:`geoeco.core.staging`) and renames it into place. Before building it deletes the
staging folders of builders that died (:func:`remove_abandoned_builds` does that for a whole
cache when a service starts); a folder of a live builder is never touched.

Building takes about 20 s for ``small`` (≈ 10 km at 30 m) and about 1 min for ``full``
(≈ 100 km at 90 m) on one core.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

from geoeco import __version__
from geoeco.core.errors import InvalidInput
from geoeco.core.staging import is_abandoned, make_staging, remove_abandoned

try:  # POSIX; elsewhere builders are serialised within a process only
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

DEMO_SIZES = ("small", "full")
#: Folders of a cache that hold builds made by :func:`build_once`.
CACHE_BUILD_FOLDERS = ("demo-run", "demo-inputs")
_BUILD = ".build-"
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
    """Whether ``folder`` holds a finished build."""
    return (Path(folder) / ".complete").exists()


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``path`` (other processes wait; freed when we die)."""
    if fcntl is None:  # pragma: no cover
        yield
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def build_once(target: str | Path, build: Callable[[Path], object]) -> Path:
    """``target``, built by ``build(folder)`` unless already complete; safe for many processes.

    One builder at a time (a thread lock, and the lock file ``<target>.lock`` across
    processes); the build goes into a staging folder renamed to ``target`` when ``build``
    returned. A failed build leaves nothing; a killed builder's staging folder is removed by
    the next builder. Another process's completed build is reused.
    """
    target = Path(target)
    if is_complete(target):
        return target
    with _GUARD:
        lock = _LOCKS.setdefault(str(target), threading.Lock())
    prefix = f".{target.name}{_BUILD}"
    with lock:
        target.parent.mkdir(parents=True, exist_ok=True)
        with _file_lock(target.with_name(target.name + ".lock")):
            if is_complete(target):
                return target
            remove_abandoned(target.parent, prefix)
            tmp = make_staging(target.parent, prefix)
            try:
                build(tmp)
                (tmp / ".complete").write_text(__version__, encoding="utf-8")
                if target.exists() and not is_complete(target):
                    shutil.rmtree(target, ignore_errors=True)  # a half-built leftover
                with contextlib.suppress(OSError):  # another process finished first
                    tmp.rename(target)
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
    return target


def remove_abandoned_builds(cache_dir: str | Path) -> list[Path]:
    """Delete the staging folders of dead builders anywhere in a cache; return them."""
    removed: list[Path] = []
    for sub in CACHE_BUILD_FOLDERS:
        folder = Path(cache_dir) / sub
        if not folder.is_dir():
            continue
        for p in sorted(folder.iterdir()):
            cut = p.name.rfind(_BUILD)
            prefix = p.name[: cut + len(_BUILD)]
            if cut > 0 and is_abandoned(p.name, prefix) and p.is_dir() and not p.is_symlink():
                shutil.rmtree(p, ignore_errors=True)
                removed.append(p)
    return removed


def ensure_demo_run(
    cache_dir: str | Path,
    size: str = "full",
    *,
    progress: Callable[[str, float], None] | None = None,
) -> Path:
    """The demo run folder of ``size`` (holding ``zones/``, ``erosion/`` ...), built if needed."""
    from .demo import run_demo

    return build_once(
        demo_run_dir(cache_dir, size), lambda tmp: run_demo(tmp, size=size, progress=progress)
    )


__all__ = [
    "CACHE_BUILD_FOLDERS",
    "DEMO_SIZES",
    "build_once",
    "demo_run_dir",
    "ensure_demo_run",
    "is_complete",
    "remove_abandoned_builds",
]
