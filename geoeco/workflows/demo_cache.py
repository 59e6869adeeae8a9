"""The one cache of demo builds: the demo's analyses and its full run, built once per size, engine
version and demo generator version (``geoeco.catalog.demo_region.DEMO_VERSION``).

* ``<cache_dir>/demo-inputs/<size>-<version>/``: the demo's analyses
  (:func:`geoeco.workflows.demo.build_demo_analyses`), which the ``zoning`` process zones
  when it is given no area (:func:`ensure_demo_inputs`);
* ``<cache_dir>/demo-run/<size>-<version>/``: a finished :func:`geoeco.workflows.demo.run_demo`
  (analyses and ``zones/``), which answers point queries, screenings and the demo map "on the
  demo" (:func:`ensure_demo_run`, :func:`geoeco.workflows.runs.demo_zoning_run`); ``geoeco
  demo --serve`` lends the service its own run instead (:func:`adopt_demo_run`).

A ``.complete`` marker says a build is whole. :func:`build_once` is how every cached build
works: the builder holds a lock file ``<target>.lock`` (``flock``, released by the system even
when the builder is killed) so other processes wait instead of building the same thing again,
builds into a staging folder ``.<target>.build-<host>-<pid>-<random>`` beside the target
(:mod:`geoeco.core.staging`) and renames it into place. Before building it deletes the staging
folders of builders that died (:func:`remove_abandoned_builds` does that for a whole cache when
a service starts); a folder of a live builder is never touched.

Building the run takes about 20 s for ``small`` (≈ 10 km at 30 m) and about 1 min for ``full``
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
from geoeco.catalog.demo_region import DEMO_VERSION
from geoeco.core.engine import Engine
from geoeco.core.staging import is_abandoned, make_staging, remove_abandoned

from .demo_inputs import check_demo_size

try:  # POSIX; elsewhere builders are serialised within a process only
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]  # the module is absent there: None says so

#: Folders of a cache that hold builds made by :func:`build_once`.
CACHE_BUILD_FOLDERS = ("demo-run", "demo-inputs")
_BUILD = ".build-"
_LOCKS: dict[str, threading.Lock] = {}
_GUARD = threading.Lock()
#: ``<version>`` in the cache folder names: the package's and the demo generator's (a new
#: generator output must not reuse builds made from the old one).
_VERSION = f"{__version__}-g{DEMO_VERSION}"


def demo_run_dir(cache_dir: str | Path, size: str = "full") -> Path:
    """Folder of the cached demo run of ``size`` (it may not exist yet).

    >>> demo_run_dir("/c", "small").parts[-2:]  # doctest: +ELLIPSIS
    ('demo-run', 'small-...')
    """
    return Path(cache_dir) / "demo-run" / f"{check_demo_size(size)}-{_VERSION}"


def demo_inputs_dir(cache_dir: str | Path, size: str = "full") -> Path:
    """Folder of the cached demo analyses of ``size`` (it may not exist yet).

    >>> demo_inputs_dir("/c", "small").parts[-2:]  # doctest: +ELLIPSIS
    ('demo-inputs', 'small-...')
    """
    return Path(cache_dir) / "demo-inputs" / f"{check_demo_size(size)}-{_VERSION}"


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


def ensure_demo_inputs(
    cache_dir: str | Path,
    size: str = "full",
    *,
    progress: Callable[[str, float], None] | None = None,
    engine: Engine | str | None = None,
) -> Path:
    """The folder of the demo's analyses of ``size`` (what
    :func:`geoeco.workflows.demo.zone_demo` zones), built if needed; their erosion computes on
    ``engine``."""
    from .demo import build_demo_analyses

    target = build_once(
        demo_inputs_dir(cache_dir, size),
        lambda tmp: build_demo_analyses(tmp, size=size, progress=progress, engine=engine),
    )
    if progress is not None:
        progress("demo inputs ready", 1.0)
    return target


def adopt_demo_run(folder: str | Path, cache_dir: str | Path, size: str = "full") -> Path:
    """Let a cache use ``folder`` (the output of ``geoeco demo`` of ``size``) as its demo run:
    ``folder`` is marked complete and linked as :func:`demo_run_dir` (an existing entry is
    kept). Returns the cache's demo run folder."""
    target = demo_run_dir(cache_dir, size)
    target.parent.mkdir(parents=True, exist_ok=True)
    (Path(folder) / ".complete").write_text(__version__, encoding="utf-8")
    if not (target.is_symlink() or target.exists()):
        target.symlink_to(Path(folder).resolve(), target_is_directory=True)
    return target


__all__ = [
    "CACHE_BUILD_FOLDERS",
    "adopt_demo_run",
    "build_once",
    "demo_inputs_dir",
    "demo_run_dir",
    "ensure_demo_inputs",
    "ensure_demo_run",
    "is_complete",
    "remove_abandoned_builds",
]
