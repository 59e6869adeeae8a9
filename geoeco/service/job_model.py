"""The job model, deterministic job ids and helpers for result folders and worker liveness.

Everything here is re-exported by :mod:`geoeco.service.jobs` (import it from there); the stores
live in
:mod:`geoeco.service.job_store`, :mod:`geoeco.service.job_store_sqlite` and
:mod:`geoeco.service.job_store_postgres`.

>>> jid = make_job_id("zoning", {"demo_size": "small"}, engine_version="0.1.0")
>>> new_job(jid, "zoning", {"demo_size": "small"}).status
'accepted'
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import secrets
import shutil
import socket
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from geoeco.core.errors import InvalidInput

JobStatus = Literal["accepted", "running", "successful", "failed", "dismissed"]
#: States a job leaves only by a worker's or a client's action.
ACTIVE: tuple[JobStatus, ...] = ("accepted", "running")
#: Final states; submitting the same job again starts a new attempt from failed / dismissed.
TERMINAL: tuple[JobStatus, ...] = ("successful", "failed", "dismissed")
#: Length of a job id (hex characters of the SHA-256).
JOB_ID_LENGTH = 32

_MEDIA_TYPES: dict[str, str] = {
    ".gpkg": "application/geopackage+sqlite3",
    ".tif": "image/tiff; application=geotiff; profile=cloud-optimized",
    ".tiff": "image/tiff; application=geotiff; profile=cloud-optimized",
    ".csv": "text/csv",
    ".json": "application/json",
    ".geojson": "application/geo+json",
    ".html": "text/html",
    ".parquet": "application/vnd.apache.parquet",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".toml": "application/toml",
    ".txt": "text/plain",
    ".zip": "application/zip",
    ".qml": "application/xml",
}
#: Every media type an output file of a job can have (by :func:`media_type`).
RESULT_MEDIA_TYPES: tuple[str, ...] = tuple(
    sorted({*_MEDIA_TYPES.values(), "application/octet-stream"})
)


class JobProblem(BaseModel):
    """Why a job failed, as RFC 7807 problem details (``type``, ``title``, ``detail``)."""

    model_config = ConfigDict(frozen=True)

    type: str = "about:blank"
    title: str
    detail: str = ""
    status: int | None = None


class ResultFile(BaseModel):
    """One output file of a job: its name in the job folder, media type and size in bytes."""

    model_config = ConfigDict(frozen=True)

    name: str
    media_type: str
    size: int = 0


class Job(BaseModel):
    """A job as the store holds it (see the module docstring for the states)."""

    model_config = ConfigDict(frozen=True)

    id: str
    process_id: str
    inputs: dict[str, Any] = Field(default_factory=dict)
    status: JobStatus = "accepted"
    attempt: int = 1
    progress: float = 0.0
    message: str = ""
    created: datetime
    updated: datetime
    started: datetime | None = None
    finished: datetime | None = None
    worker: str | None = None
    heartbeat: datetime | None = None
    failure: JobProblem | None = None
    files: list[ResultFile] = Field(default_factory=list)
    result: dict[str, Any] | None = None
    owner: str | None = None
    token_hash: str | None = None


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def _ts(t: datetime | None) -> str | None:
    if t is None:
        return None
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse_ts(s: str | None) -> datetime | None:
    if s is None:
        return None
    return datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def canonical_json(obj: Any) -> str:
    """JSON with sorted keys and no spaces: equal inputs give equal text.

    >>> canonical_json({"b": 1, "a": [1.0, "x"]})
    '{"a":[1.0,"x"],"b":1}'
    """

    def check(o: Any) -> None:
        if isinstance(o, float) and not math.isfinite(o):
            raise InvalidInput("inputs must not contain NaN or infinity")
        if isinstance(o, Mapping):
            for v in o.values():
                check(v)
        elif isinstance(o, list | tuple):
            for v in o:
                check(v)

    check(obj)
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def make_job_id(
    process_id: str,
    inputs: Mapping[str, Any],
    *,
    layer_versions: Mapping[str, str] | None = None,
    rules_sha256: str | None = None,
    engine_version: str,
    api_key: str | None = None,
) -> str:
    """The deterministic id of a job: SHA-256 of everything that decides its result.

    The hashed text is the canonical JSON of the process id, the canonical inputs, the versions
    of the layers used, the rule-set hash, the engine version and (when keys are on) the SHA-256
    of the caller's API key, so two callers never share a job and the key itself is not kept.
    The id is the first :data:`JOB_ID_LENGTH` hex characters (128 bits).

    >>> a = make_job_id("zoning", {"x": 1}, engine_version="1")
    >>> a == make_job_id("zoning", {"x": 1}, engine_version="1")
    True
    >>> a == make_job_id("zoning", {"x": 1}, engine_version="2")
    False
    """
    material = {
        "process": process_id,
        "inputs": dict(inputs),
        "layers": dict(sorted((layer_versions or {}).items())),
        "rules_sha256": rules_sha256,
        "engine": engine_version,
        "key": None if api_key is None else key_digest(api_key),
    }
    # surrogatepass: a lone surrogate (JSON "\ud800") still hashes, to the same id as before for
    # every valid text (process inputs are refused with it earlier, see geoeco.core.json_input)
    text = canonical_json(material).encode("utf-8", "surrogatepass")
    return hashlib.sha256(text).hexdigest()[:JOB_ID_LENGTH]


def key_digest(api_key: str) -> str:
    """Short SHA-256 digest of an API key (what the store keeps as a job's owner)."""
    return hashlib.sha256(("geoeco-key:" + api_key).encode("utf-8")).hexdigest()[:24]


def token_digest(token: str) -> str:
    """SHA-256 (hex) of a job's dismissal token: what the store keeps instead of the token.

    >>> token_digest("abc") == token_digest("abc") != token_digest("abd")
    True
    >>> len(token_digest("abc"))
    64
    """
    return hashlib.sha256(("geoeco-job-token:" + token).encode("utf-8")).hexdigest()


def new_job_token() -> tuple[str, str]:
    """A fresh random job token (256 bits, URL-safe) and its :func:`token_digest`.

    >>> token, digest = new_job_token()
    >>> len(token) >= 43, digest == token_digest(token)
    (True, True)
    """
    token = secrets.token_urlsafe(32)
    return token, token_digest(token)


def is_job_id(text: str) -> bool:
    """Whether ``text`` has the shape of a job id (lower-case hex of the right length).

    >>> is_job_id("0" * 32), is_job_id("../etc"), is_job_id("0" * 31)
    (True, False, False)
    """
    return len(text) == JOB_ID_LENGTH and all(c in "0123456789abcdef" for c in text)


def new_job(
    job_id: str,
    process_id: str,
    inputs: Mapping[str, Any],
    *,
    owner: str | None = None,
    token_hash: str | None = None,
) -> Job:
    """A fresh ``accepted`` job (attempt 1) to hand to :meth:`JobStore.submit`.

    ``owner`` is the :func:`key_digest` of the submitting API key, ``token_hash`` the
    :func:`token_digest` of the token that may dismiss the job (see :func:`new_job_token`).
    """
    now = utcnow()
    return Job(
        id=job_id,
        process_id=process_id,
        inputs=dict(inputs),
        created=now,
        updated=now,
        owner=owner,
        token_hash=token_hash,
    )


def media_type(name: str) -> str:
    """Media type of an output file by its suffix.

    >>> media_type("zones.gpkg"), media_type("x.bin")
    ('application/geopackage+sqlite3', 'application/octet-stream')
    """
    return _MEDIA_TYPES.get(Path(name).suffix.lower(), "application/octet-stream")


def result_manifest(folder: str | Path) -> list[ResultFile]:
    """The regular files directly inside ``folder`` (sorted), with media types and sizes."""
    out = []
    for p in sorted(Path(folder).iterdir()):
        if p.is_file() and not p.is_symlink() and not p.name.startswith("."):
            out.append(
                ResultFile(name=p.name, media_type=media_type(p.name), size=p.stat().st_size)
            )
    return out


def remove_results(results_dir: str | Path, job_ids: Sequence[str]) -> None:
    """Delete the result folders ``results_dir/<id>`` of ``job_ids`` (missing ones are fine)."""
    for jid in job_ids:
        if is_job_id(jid):
            shutil.rmtree(Path(results_dir) / jid, ignore_errors=True)


def local_worker_id(token: str) -> str:
    """A worker id ``host:pid:token`` for the current process."""
    return f"{socket.gethostname()}:{os.getpid()}:{token}"


def pid_alive(worker: str | None, live_tokens: frozenset[str] = frozenset()) -> bool:
    """Whether the worker ``host:pid:token`` may still be alive, judged from this process.

    A worker on another host is assumed alive (only its heartbeat can tell). On this host a
    worker in *this* process is alive only if its token is in ``live_tokens``; otherwise the
    pid is probed with signal 0.
    """
    if not worker:
        return False
    parts = worker.rsplit(":", 2)
    if len(parts) != 3 or not parts[1].isdigit():
        return False
    host, pid_s, token = parts
    if host != socket.gethostname():
        return True
    pid = int(pid_s)
    if pid == os.getpid():
        return token in live_tokens
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
