"""Where public data may be read from: catalog configurations and their URL allow-lists.

A :class:`CatalogConfig` names a catalog (recipes refer to it by name, never by URL), says how
to read it (a STAC API, a static STAC catalog, or plain files laid out by path) and lists the
URL prefixes its items' assets may live under. Every href geoeco opens for an input is checked
against that list by :func:`check_href` before any byte is requested, so a catalog entry that
points elsewhere is refused rather than followed. The built-in catalogs are in
``geoeco/data/catalogs.toml``; a local mirror is configured with :meth:`CatalogConfig.local`.

URLs come from here (configuration), never from a request body: this module is the only place
in :mod:`geoeco.inputs` that turns a name into a URL.

Examples
--------
>>> pc = builtin_catalogs()["planetary-computer"]
>>> pc.kind, pc.signing
('api', 'planetary-computer')
>>> ok = pc.allowed_prefixes
>>> is_allowed("https://modiseuwest.blob.core.windows.net/modis-061-cogs/x.tif", ok)
True
>>> is_allowed("https://modiseuwest.blob.core.windows.net.evil.example/x.tif", ok)
False
>>> is_allowed("/vsicurl/https://modiseuwest.blob.core.windows.net/x.tif", ok)
False
"""

from __future__ import annotations

import posixpath
import tomllib
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Literal
from urllib.parse import unquote, urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from geoeco.core.errors import ManifestError, UnsafeDataSource

CatalogKind = Literal["api", "static", "files"]
Signing = Literal["none", "planetary-computer"]


def _is_url(text: str) -> bool:
    return urlsplit(text).scheme in ("http", "https")


def _url_prefix_ok(prefix: str) -> bool:
    parts = urlsplit(prefix)
    return (
        parts.scheme in ("http", "https")
        and bool(parts.netloc)
        and "@" not in parts.netloc
        and prefix.endswith("/")
        and not parts.query
        and not parts.fragment
    )


class CatalogConfig(BaseModel):
    """One configured catalog.

    Parameters
    ----------
    name : str
        The name recipes use (``planetary-computer``, ``earth-search``, ...).
    kind : {"api", "static", "files"}
        ``api``: a STAC API searched at ``/search``; ``static``: a static STAC catalog whose
        root is ``url`` (``catalog.json``, local or HTTP); ``files``: plain files addressed by
        a recipe's path template relative to ``url`` (SoilGrids VRTs).
    url : str
        Root URL (or local path) of the catalog.
    allowed_prefixes : tuple of str
        URL prefixes (``https://host/path/``, ending in ``/``) or local folders that this
        catalog's JSON and assets may be read from; nothing else is opened.
    signing : {"none", "planetary-computer"}
        How asset hrefs are made readable (see :mod:`geoeco.inputs.signing`).
    sas_url : str or None
        Token endpoint for ``planetary-computer`` signing.
    source : str
        Where the URL and layout facts come from.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9\-]*$")
    kind: CatalogKind
    url: str
    allowed_prefixes: tuple[str, ...] = Field(min_length=1)
    signing: Signing = "none"
    sas_url: str | None = None
    source: str = ""

    @field_validator("allowed_prefixes")
    @classmethod
    def _prefixes_are_anchored(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for prefix in value:
            if _is_url(prefix):
                if not _url_prefix_ok(prefix):
                    raise ValueError(
                        f"allowed prefix {prefix!r} must be http(s)://host/path/ ending in '/', "
                        "without user, query or fragment"
                    )
            elif not Path(prefix).is_absolute():
                raise ValueError(f"allowed local prefix {prefix!r} must be an absolute folder")
        return value

    @classmethod
    def local(cls, root: str | Path, *, name: str = "local-mirror") -> CatalogConfig:
        """A static STAC catalog (or folder of files) on disk, readable only inside ``root``.

        ``root`` is the folder holding ``catalog.json``, or the ``catalog.json`` itself.
        """
        path = Path(root).resolve()
        folder = path.parent if path.suffix == ".json" else path
        url = str(path if path.suffix == ".json" else folder / "catalog.json")
        return cls(name=name, kind="static", url=url, allowed_prefixes=(str(folder) + "/",))

    @classmethod
    def http_mirror(
        cls, url: str, *, name: str = "mirror", kind: CatalogKind = "static"
    ) -> CatalogConfig:
        """A mirror served over HTTP (inside an isolated network): its own folder only.

        ``url`` is the ``catalog.json`` of a static catalog (or the root of an API).
        """
        folder = url.rsplit("/", 1)[0] + "/" if url.endswith(".json") else url.rstrip("/") + "/"
        return cls(name=name, kind=kind, url=url, allowed_prefixes=(folder,))


def _normalised_path(path: str) -> str | None:
    """URL path with percent-escapes decoded, or None when it climbs with ``..``."""
    text = unquote(path)
    if any(seg == ".." for seg in text.split("/")):
        return None
    return posixpath.normpath(text) + ("/" if text.endswith("/") else "")


def _url_allowed(href: str, prefix: str) -> bool:
    h, p = urlsplit(href), urlsplit(prefix)
    if h.scheme != p.scheme or "@" in h.netloc or h.fragment:
        return False
    host, want = h.netloc.lower(), p.netloc.lower()
    if host != want:
        return False
    path = _normalised_path(h.path or "/")
    return path is not None and (path.startswith(p.path) or path + "/" == p.path)


def _local_allowed(href: str, prefix: str) -> bool:
    if href.startswith("/vsi") or "://" in href:
        return False
    try:
        Path(href).resolve().relative_to(Path(prefix).resolve())
    except (ValueError, OSError):
        return False
    return True


def is_allowed(href: str, prefixes: tuple[str, ...]) -> bool:
    """True when ``href`` lies under one of ``prefixes`` (same scheme and host, path inside).

    ``..`` segments are refused outright; GDAL virtual paths (``/vsi...``) and other schemes
    are never allowed (geoeco adds ``/vsicurl/`` itself, after the check).

    >>> is_allowed("http://127.0.0.1:8000/a/b.tif", ("http://127.0.0.1:8000/a/",))
    True
    >>> is_allowed("http://127.0.0.1:8000/a/../etc/passwd", ("http://127.0.0.1:8000/a/",))
    False
    >>> is_allowed("http://127.0.0.1:8001/a/b.tif", ("http://127.0.0.1:8000/a/",))
    False
    """
    for prefix in prefixes:
        if _is_url(href) and _is_url(prefix) and _url_allowed(href, prefix):
            return True
        if not _is_url(href) and not _is_url(prefix) and _local_allowed(href, prefix):
            return True
    return False


def check_href(href: str, catalog: CatalogConfig, *, what: str) -> str:
    """Return ``href`` if ``catalog`` allows it, else raise :class:`UnsafeDataSource`.

    ``what`` names the object in the message (``"item 'x' asset 'data'"``).
    """
    if not is_allowed(href, catalog.allowed_prefixes):
        raise UnsafeDataSource(
            f"catalog {catalog.name!r}: {what} points to {href!r}, outside the catalog's "
            "allowed locations; refusing to read it"
        )
    return href


def parse_catalogs(text: str, *, source: str) -> dict[str, CatalogConfig]:
    """The ``[catalogs.NAME]`` tables of a catalogs TOML (``geoeco/data/catalogs.toml``'s
    format), by name; ``source`` names the file in errors."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ManifestError(f"{source}: not valid TOML: {exc}") from exc
    tables = raw.get("catalogs", {})
    if not isinstance(tables, dict):
        raise ManifestError(f"{source}: [catalogs] must be a table of catalogs")
    out: dict[str, CatalogConfig] = {}
    for name, body in tables.items():
        try:
            out[name] = CatalogConfig.model_validate({"name": name, **body})
        except (ValidationError, TypeError) as exc:
            raise ManifestError(f"{source}: catalog {name!r}: {exc}") from exc
    return out


@cache
def builtin_catalogs() -> dict[str, CatalogConfig]:
    """The catalogs shipped in ``geoeco/data/catalogs.toml``, by name."""
    text = resources.files("geoeco.data").joinpath("catalogs.toml").read_text(encoding="utf-8")
    return parse_catalogs(text, source="catalogs.toml")


def configured_catalogs(path: str | Path | None = None) -> dict[str, CatalogConfig]:
    """The built-in catalogs, each replaced by the entry of the same name in the operator's
    catalogs file ``path`` (same format; e.g. a mirror inside an isolated network), plus the
    file's other entries. Without ``path``: the built-in ones."""
    out = dict(builtin_catalogs())
    if path is not None:
        p = Path(path)
        out.update(parse_catalogs(p.read_text(encoding="utf-8"), source=p.name))
    return out


__all__ = [
    "CatalogConfig",
    "CatalogKind",
    "Signing",
    "builtin_catalogs",
    "check_href",
    "configured_catalogs",
    "is_allowed",
    "parse_catalogs",
]
