"""Staging folders: a run writes into a private folder and publishes it only when it succeeds.

A staging folder is named ``<prefix><host>-<pid>-<random>``: ``host`` is a short hash of the
host name and ``pid`` the process that made it, so a later process can tell a folder whose
owner is gone (a run killed before it could clean up) from one that is still being written.
:func:`remove_abandoned` deletes the former and never the latter: a folder of a process that
is alive, or of another host (whose processes this one cannot see), is kept. A reused pid
only keeps a folder longer, it never removes a live one.

:func:`output_folder` is how the command line writes an ``--out`` folder: a failed run leaves
no folder it created and does not touch a folder the user already had.

>>> import tempfile
>>> parent = Path(tempfile.mkdtemp())
>>> tmp = make_staging(parent, ".demo.build-")
>>> owner_of(tmp.name, ".demo.build-") == (host_tag(), os.getpid())
True
>>> remove_abandoned(parent, ".demo.build-")  # its owner (this process) is alive
[]
>>> dead = parent / f".demo.build-{host_tag()}-999999999-abc"
>>> dead.mkdir()
>>> [p.name for p in remove_abandoned(parent, ".demo.build-")] == [dead.name]
True
>>> shutil.rmtree(parent)
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

from .errors import InvalidInput

#: Prefix of the staging folders of :func:`output_folder`.
RUN_PREFIX = ".geoeco-run-"
_OWNER = re.compile(r"(?P<host>[0-9a-f]{8})-(?P<pid>[0-9]+)-[A-Za-z0-9_]+")


def host_tag() -> str:
    """A short, path-safe tag of this host (8 hex digits of the host name's SHA-256)."""
    return hashlib.sha256(socket.gethostname().encode("utf-8")).hexdigest()[:8]


def make_staging(parent: str | os.PathLike[str], prefix: str) -> Path:
    """A new empty folder ``parent/<prefix><host>-<pid>-<random>`` owned by this process."""
    folder = Path(parent)
    folder.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f"{prefix}{host_tag()}-{os.getpid()}-", dir=folder))


def owner_of(name: str, prefix: str) -> tuple[str, int] | None:
    """``(host tag, pid)`` of a staging folder name made with ``prefix``, else ``None``.

    >>> owner_of(".x-0123abcd-42-k_9z", ".x-")
    ('0123abcd', 42)
    >>> owner_of(".x-notmine", ".x-") is None
    True
    """
    if not name.startswith(prefix):
        return None
    m = _OWNER.fullmatch(name[len(prefix) :])
    return None if m is None else (m["host"], int(m["pid"]))


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this host (signal 0 probe; no permission = alive)."""
    if pid <= 0:
        return False
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):
        return False
    except OSError:  # e.g. no permission to signal it: it exists
        return True
    return True


def is_abandoned(name: str, prefix: str) -> bool:
    """Whether ``name`` is a staging folder of ``prefix`` whose owner process has ended.

    Only folders made on this host can be judged; anything else counts as in use.
    """
    owner = owner_of(name, prefix)
    return owner is not None and owner[0] == host_tag() and not process_alive(owner[1])


def remove_abandoned(parent: str | os.PathLike[str], prefix: str) -> list[Path]:
    """Delete the staging folders ``parent/<prefix>...`` of ended processes; return them."""
    removed: list[Path] = []
    try:
        entries = sorted(Path(parent).iterdir())
    except OSError:
        return removed
    for p in entries:
        if is_abandoned(p.name, prefix) and p.is_dir() and not p.is_symlink():
            shutil.rmtree(p, ignore_errors=True)
            removed.append(p)
    return removed


def _missing_parents(folder: Path) -> list[Path]:
    """The ancestors of ``folder`` (itself included) that do not exist, outermost first."""
    missing = []
    for p in (folder, *folder.parents):
        if p.exists():
            break
        missing.append(p)
    return missing[::-1]


def merge_into(src: Path, dest: Path) -> None:
    """Move every entry of ``src`` into ``dest``, replacing same-named files; sub-folders merge.

    Entries of ``dest`` that ``src`` does not have are kept.
    """
    for entry in sorted(src.iterdir()):
        target = dest / entry.name
        if entry.is_dir() and not entry.is_symlink():
            if target.is_dir() and not target.is_symlink():
                merge_into(entry, target)
                continue
            if target.is_symlink() or target.exists():
                target.unlink()
        elif target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        os.replace(entry, target)


@contextlib.contextmanager
def output_folder(out: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield the folder a run should write into; publish it to ``out`` if the block succeeds.

    * ``out`` does not exist: the run writes into a hidden staging folder beside it, renamed
      to ``out`` at the end. A failure removes it, and any parent folders made for it.
    * ``out`` is a folder: the run writes into a hidden staging folder inside it, whose
      entries replace the same-named ones of ``out`` at the end (other entries are kept). A
      failure removes the staging folder: ``out`` and its earlier content stay as they were.

    Staging folders left by killed runs (:data:`RUN_PREFIX`, owner ended) are removed first.
    """
    dest = Path(out)
    if dest.exists() and not dest.is_dir():
        raise InvalidInput(f"output folder {dest.name}: a file of that name is in the way")
    existed = dest.is_dir()
    parent = dest if existed else dest.parent
    made = _missing_parents(parent)
    stage = make_staging(parent, RUN_PREFIX)
    try:
        remove_abandoned(parent, RUN_PREFIX)
        yield stage
        if existed or dest.exists():
            merge_into(stage, dest)
        else:
            stage.rename(dest)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        for p in reversed(made):
            with contextlib.suppress(OSError):
                p.rmdir()  # only while empty: never another process's folder
        raise
    finally:
        shutil.rmtree(stage, ignore_errors=True)


__all__ = [
    "RUN_PREFIX",
    "host_tag",
    "is_abandoned",
    "make_staging",
    "merge_into",
    "output_folder",
    "owner_of",
    "process_alive",
    "remove_abandoned",
]
