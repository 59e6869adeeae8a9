"""The folders of a jobs directory, and the removal of those no job needs any more.

A job attempt writes into a staging folder ``<jobs dir>/.tmp-<id>-<attempt>-<pid>/``
(:func:`staging_name`) that is renamed to ``<jobs dir>/<id>/`` when it succeeds; replacing an
older result folder parks that one as ``.old-<id>-<random>`` for a moment. A process killed in
between (a crashed service, a host that lost power) leaves such folders behind.
:func:`remove_stale_job_folders` deletes them by asking the job store, which every process
sharing the jobs directory writes to, whether anyone can still need them:

* ``.tmp-<id>-<attempt>-<pid>``: only while job ``id`` is running that attempt;
* ``.old-<id>-<random>``: never (it is deleted right after the rename);
* ``<id>``: while job ``id`` is running (its run may be just publishing) or successful.

So a folder of a job another live process is running is kept, whichever host it runs on.
Re-queue the jobs of dead workers first (:meth:`~geoeco.service.job_store.JobStore.recover`): their
attempts then no longer run, and their folders go.

>>> staging_name("a" * 32, 2, 4711)
'.tmp-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-2-4711'
>>> parse_staging_name(staging_name("a" * 32, 2, 4711)) == ("a" * 32, 2)
True
>>> parse_staging_name(".tmp-x-1-2") is None
True
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from .job_model import JOB_ID_LENGTH, is_job_id

if TYPE_CHECKING:  # pragma: no cover
    from .job_store import JobStore

STAGING_PREFIX = ".tmp-"
OLD_PREFIX = ".old-"


def staging_prefix(job_id: str, attempt: int) -> str:
    """The start of every staging folder name of attempt ``attempt`` of ``job_id``."""
    return f"{STAGING_PREFIX}{job_id}-{int(attempt)}-"


def staging_name(job_id: str, attempt: int, pid: int | None = None) -> str:
    """The staging folder name of one attempt, made by process ``pid`` (default: this one)."""
    return f"{staging_prefix(job_id, attempt)}{os.getpid() if pid is None else int(pid)}"


def parse_staging_name(name: str) -> tuple[str, int] | None:
    """``(job id, attempt)`` of a staging folder name, or ``None`` if it is not one."""
    if not name.startswith(STAGING_PREFIX):
        return None
    rest = name[len(STAGING_PREFIX) :]
    job_id, sep = rest[:JOB_ID_LENGTH], rest[JOB_ID_LENGTH : JOB_ID_LENGTH + 1]
    attempt, dash, pid = rest[JOB_ID_LENGTH + 1 :].partition("-")
    if is_job_id(job_id) and sep == dash == "-" and attempt.isdigit() and pid.isdigit():
        return job_id, int(attempt)
    return None


def _job_of(name: str) -> str | None:
    """The job id a jobs-folder entry belongs to, if it is a job's folder."""
    staged = parse_staging_name(name)
    if staged is not None:
        return staged[0]
    if name.startswith(OLD_PREFIX):
        name = name[len(OLD_PREFIX) :][:JOB_ID_LENGTH]
    return name if is_job_id(name) else None


def _needed(name: str, state: tuple[str, int] | None) -> bool:
    """Whether a job's folder ``name`` may still be needed, given its job's (status, attempt)."""
    staged = parse_staging_name(name)
    if staged is not None:
        return state is not None and state == ("running", staged[1])
    if name.startswith(OLD_PREFIX):
        return False
    return state is not None and state[0] in ("running", "successful")


def stale_job_folders(results_dir: str | os.PathLike[str], store: JobStore) -> list[Path]:
    """The folders of ``results_dir`` no job needs any more (see the module docstring)."""
    try:
        entries = [p for p in sorted(Path(results_dir).iterdir()) if _job_of(p.name)]
    except OSError:
        return []
    states = store.states({_job_of(p.name) or "" for p in entries})
    return [
        p
        for p in entries
        if p.is_dir()
        and not p.is_symlink()
        and not _needed(p.name, states.get(_job_of(p.name) or ""))
    ]


def remove_stale_job_folders(results_dir: str | os.PathLike[str], store: JobStore) -> list[Path]:
    """Delete :func:`stale_job_folders` and return them."""
    stale = stale_job_folders(results_dir, store)
    for p in stale:
        shutil.rmtree(p, ignore_errors=True)
    return stale


__all__ = [
    "OLD_PREFIX",
    "STAGING_PREFIX",
    "parse_staging_name",
    "remove_stale_job_folders",
    "stale_job_folders",
    "staging_name",
    "staging_prefix",
]
