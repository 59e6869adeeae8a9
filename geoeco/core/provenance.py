"""How far to trust a layer, carried by the data itself: statuses and the GDAL tags of rasters.

Every layer has a **status**, from most to least trusted:

* ``real``: official or measured data a manifest vouches for;
* ``user``: supplied by the user, not vouched for by geoeco (any raster file without geoeco's
  tags); listed as such, but without the warning banner of the next two;
* ``approximation``: derived by a documented rule where no official layer is available;
* ``synthetic``: generated (the demo region), not of any real place.

A raster geoeco writes carries its status and lineage in its GDAL tags (:func:`status_tags`:
``GEOECO_STATUS``, ``GEOECO_LINEAGE`` as compact JSON, ``GEOECO_VERSION``, and for class
rasters ``GEOECO_CLASS_TABLE``), so that a file handed back to geoeco by path (``--input``, the
API, :func:`~geoeco.workflows.zoning.run_zoning`, erosion factors) keeps its status:
:func:`raster_status` reads it, and a file without the tags is ``user``. A derived output has
the least trusted status of its inputs (:func:`worst_status`), so the demo's analyses stay
``synthetic`` wherever they go.

Examples
--------
>>> worst_status(["real", "user", "approximation"])
'approximation'
>>> resolve_status(None, None), resolve_status("real", None), resolve_status("real", "synthetic")
('user', 'real', 'synthetic')
>>> tags = status_tags("synthetic", {"process": "demo"})
>>> tags["GEOECO_STATUS"], tags["GEOECO_LINEAGE"]
('synthetic', '{"process":"demo"}')
>>> needs_warning(["real", "user"]), needs_warning(["user", "synthetic"])
(False, True)
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from typing import Any, Literal, get_args

from .errors import InvalidInput

Status = Literal["real", "user", "approximation", "synthetic"]
#: The statuses from most to least trusted.
STATUSES: tuple[Status, ...] = get_args(Status)
#: Statuses that maps, reports and summaries flag with a warning banner.
WARN_STATUSES: tuple[Status, ...] = ("approximation", "synthetic")
#: What each status means, in Chinese and English (legends, banners, documentation).
STATUS_TEXT: dict[Status, tuple[str, str]] = {
    "real": ("真实数据", "real data"),
    "user": ("用户提供（geoeco 未核实）", "supplied by the user (not vouched for by geoeco)"),
    "approximation": ("近似数据", "approximation"),
    "synthetic": ("合成数据（演示，非真实地点）", "synthetic data (demo, not a real place)"),
}

TAG_STATUS = "GEOECO_STATUS"
TAG_LINEAGE = "GEOECO_LINEAGE"
TAG_VERSION = "GEOECO_VERSION"
TAG_CLASS_TABLE = "GEOECO_CLASS_TABLE"
#: Longest lineage text kept in a tag (a TIFF ASCII tag holds more, but a tag is no log).
MAX_LINEAGE_CHARS = 4000


def check_status(value: str) -> Status:
    """``value`` as a status, or :class:`~geoeco.core.errors.InvalidInput` listing them.

    >>> check_status("user")
    'user'
    """
    for s in STATUSES:
        if value == s:
            return s
    raise InvalidInput(f"status must be one of {', '.join(STATUSES)}; got {value!r}")


def worst_status(statuses: Iterable[str], default: Status = "real") -> Status:
    """The least trusted of ``statuses`` (``default`` when there are none)."""
    ranks = [STATUSES.index(check_status(s)) for s in statuses]
    return STATUSES[max(ranks)] if ranks else default


def resolve_status(given: str | None, tagged: str | None) -> Status:
    """The status of an input given by path: what its tags say, what the caller says.

    A file without geoeco's tags (``tagged`` None) is ``user`` unless the caller vouches for
    it (``given``); a tagged file keeps its tagged status, and a caller can only lower the
    trust in it, never raise it (a synthetic raster stays synthetic whatever it is called).
    """
    if tagged is None:
        return check_status(given) if given is not None else "user"
    return worst_status([tagged, given or tagged])


def needs_warning(statuses: Iterable[str]) -> bool:
    """Whether any of ``statuses`` calls for the warning banner (approximate or synthetic)."""
    return any(s in WARN_STATUSES for s in statuses)


def status_tags(
    status: str, lineage: Mapping[str, Any], *, class_table: str | None = None
) -> dict[str, str]:
    """The GDAL tags of a raster geoeco writes: status, lineage (compact JSON, shortened to
    :data:`MAX_LINEAGE_CHARS`), engine version and, for class rasters, the class table."""
    from geoeco import __version__

    text = json.dumps(dict(lineage), ensure_ascii=False, separators=(",", ":"), default=str)
    if len(text) > MAX_LINEAGE_CHARS:
        text = text[: MAX_LINEAGE_CHARS - 3] + "..."
    tags = {TAG_STATUS: check_status(status), TAG_LINEAGE: text, TAG_VERSION: __version__}
    if class_table:
        tags[TAG_CLASS_TABLE] = class_table
    return tags


def derived_tags(
    process: str,
    inputs: Mapping[str, str],
    *,
    class_table: str | None = None,
    **extra: Any,
) -> dict[str, str]:
    """Tags of an output derived by ``process`` from ``inputs`` (name -> status): its status
    is the least trusted of theirs (``real`` for none, e.g. constants only).

    >>> derived_tags("erosion", {"dem": "user", "R": "real"})["GEOECO_STATUS"]
    'user'
    """
    lineage = {"process": process, "inputs": dict(sorted(inputs.items())), **extra}
    return status_tags(worst_status(inputs.values()), lineage, class_table=class_table)


def tags_status(tags: Mapping[str, str]) -> Status | None:
    """The status a raster's tags state, ``None`` when they state none (or an unknown one)."""
    value = tags.get(TAG_STATUS)
    return None if value is None or value not in STATUSES else check_status(value)


def raster_status(path: str | os.PathLike[str], *, name: str | None = None) -> Status | None:
    """The status in a raster file's tags (read through the data-file gate), ``None`` when
    the file has none: then it is the user's (:func:`resolve_status`)."""
    from .userdata import open_user_raster

    with open_user_raster(path, name=name) as ds:
        return tags_status(ds.tags())


def raster_lineage(path: str | os.PathLike[str], *, name: str | None = None) -> dict[str, Any]:
    """A raster file's geoeco tags as a record: status, lineage (parsed), version, class table
    (absent entries are ``None``)."""
    from .userdata import open_user_raster

    with open_user_raster(path, name=name) as ds:
        tags = ds.tags()
    text = tags.get(TAG_LINEAGE)
    try:
        lineage = json.loads(text) if text else None
    except ValueError:
        lineage = text
    return {
        "status": tags_status(tags),
        "lineage": lineage,
        "version": tags.get(TAG_VERSION),
        "class_table": tags.get(TAG_CLASS_TABLE),
    }


__all__ = [
    "MAX_LINEAGE_CHARS",
    "STATUSES",
    "STATUS_TEXT",
    "TAG_CLASS_TABLE",
    "TAG_LINEAGE",
    "TAG_STATUS",
    "TAG_VERSION",
    "WARN_STATUSES",
    "Status",
    "check_status",
    "derived_tags",
    "needs_warning",
    "raster_lineage",
    "raster_status",
    "resolve_status",
    "status_tags",
    "tags_status",
    "worst_status",
]
