"""The user-layer store: a user's own files registered as layers, one way for every caller.

A :class:`UserLayerStore` is a folder of user manifests (``<id>.toml``) and, for files sent
over the network, a folder of uploads (``<uploads_dir>/<id>/``). ``geoeco layers add``
registers a file where it lies (:meth:`UserLayerStore.add_file`); ``POST /uploads`` reserves a
folder for the id (:meth:`UserLayerStore.reserve_upload`), receives the bytes into it and
registers them (:meth:`UserLayerStore.add_upload`). Both check the file the same way
(:func:`geoeco.catalog.validate.user_layer_spec`: readable through :mod:`geoeco.core.userdata`,
has a CRS, inside China unless allowed, rasters with nodata), refuse an id the built-in or user
layers already use, and write the manifest atomically.

An upload is unpacked safely (:mod:`geoeco.core.uploads`: the format is sniffed from the
file's first bytes, zips checked member by member within :class:`ZipLimits`); only the id
names its folder, and no user text is ever used as a path. A failed upload leaves nothing.

Examples
--------
>>> store = UserLayerStore(Path("/srv/layers"), uploads_dir=Path("/srv/uploads"))
>>> store.upload_id(None, "My Parks 2024.zip")
('user.my_parks_2024', 'My Parks 2024.zip')
>>> store.upload_id("parks", None)  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
geoeco.core.errors.InvalidInput: cannot use 'parks' as the id of an upload; give ...
"""

from __future__ import annotations

import contextlib
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from geoeco.core.errors import InvalidInput, LayerExists, LayerNotFound
from geoeco.core.uploads import (
    STORED_NAME,
    ZipLimits,
    find_data_file,
    safe_extract_zip,
    sniff_format,
)
from geoeco.core.userdata import DEFAULT_LIMITS, UserDataLimits

from .layers import LayerRegistry, LayerSpec, load_registry, parse_manifest, slugify
from .validate import user_layer_spec, write_user_manifest

#: Ids of uploaded layers: ``user.`` and lower-case words.
USER_ID = r"^user\.[a-z0-9_]+(\.[a-z0-9_]+)*$"
_USER_ID = re.compile(USER_ID)
#: Name of the file an upload's bytes are received into, inside its folder.
INCOMING = ".incoming"


@dataclass(frozen=True)
class UserLayerOptions:
    """What the user says about a file: its role in zoning and, optionally, its id, titles
    (default: the file's name without suffix), status, nodata, units, the rule-set input a
    raster provides (``variable``), provenance, and whether it may lie outside China."""

    role: str
    layer_id: str | None = None
    title_zh: str | None = None
    title_en: str | None = None
    status: str = "real"
    nodata: float | None = None
    units: str | None = None
    variable: str | None = None
    provenance: str | None = None
    allow_outside_china: bool = False


@dataclass(frozen=True)
class UploadInfo:
    """When an uploaded layer's folder was made (ISO 8601, UTC) and its size in bytes."""

    created: str | None
    bytes: int


class UserLayerStore:
    """User layers: manifests in ``layers_dir``, uploaded files in ``uploads_dir``.

    ``limits`` bound what a user file may declare (:mod:`geoeco.core.userdata`);
    ``zip_limits`` bound an uploaded zip (:class:`~geoeco.core.uploads.ZipLimits`).
    """

    def __init__(
        self,
        layers_dir: str | Path,
        *,
        uploads_dir: str | Path | None = None,
        limits: UserDataLimits = DEFAULT_LIMITS,
        zip_limits: ZipLimits | None = None,
    ) -> None:
        self.layers_dir = Path(layers_dir)
        self.uploads_dir = None if uploads_dir is None else Path(uploads_dir)
        self.limits = limits
        self.zip_limits = zip_limits or ZipLimits()

    def registry(self) -> LayerRegistry:
        """The built-in layers plus this store's manifests."""
        return load_registry(self.layers_dir)

    def _register(self, data: Path, options: UserLayerOptions, *, shown: str) -> LayerSpec:
        """Check ``data``, refuse a taken id, write the manifest; return the layer."""
        stem = Path(shown).stem or options.layer_id or data.stem
        spec = user_layer_spec(
            data,
            role=options.role,
            layer_id=options.layer_id,
            title_zh=options.title_zh or stem,
            title_en=options.title_en or stem,
            status=options.status,
            provenance=options.provenance,
            nodata=options.nodata,
            units=options.units,
            variable=options.variable,
            allow_outside_china=options.allow_outside_china,
            name=shown,
            limits=self.limits,
        )
        self.registry().register(spec)  # refuses an id that is taken, built-in or user
        self.layers_dir.mkdir(parents=True, exist_ok=True)
        write_user_manifest(spec, self.layers_dir)
        return spec

    def add_file(self, path: str | Path, options: UserLayerOptions) -> LayerSpec:
        """Register the file at ``path`` where it lies (its manifest names it by absolute
        path; default id ``user.<file name>``)."""
        p = Path(path)
        return self._register(p, options, shown=p.name)

    # -- uploads ---------------------------------------------------------------------------
    def _uploads(self) -> Path:
        if self.uploads_dir is None:
            raise InvalidInput("this layer store takes no uploads (it has no uploads folder)")
        return self.uploads_dir

    def upload_id(self, layer_id: str | None, filename: str | None) -> tuple[str, str]:
        """The id of an upload (``layer_id``, or ``user.<file name>``) and the name shown for
        its file (the last part of ``filename``, at most 200 characters)."""
        shown = (filename or "upload").replace("\\", "/").rsplit("/", 1)[-1][:200] or "upload"
        lid = layer_id or "user." + slugify(shown)
        if not _USER_ID.match(lid):
            raise InvalidInput(
                f"cannot use {lid[:80]!r} as the id of an upload; give layer_id=user.<name>"
            )
        return lid, shown

    @contextlib.contextmanager
    def reserve_upload(self, layer_id: str) -> Iterator[Path]:
        """The new folder of upload ``layer_id``; it is removed again unless the block ends
        without an exception. :class:`LayerExists` if the id is taken or being uploaded."""
        if layer_id in self.registry():
            raise LayerExists(f"layer id {layer_id!r} is taken; choose another layer_id")
        folder = self._uploads() / layer_id
        folder.parent.mkdir(parents=True, exist_ok=True)
        try:
            folder.mkdir()
        except FileExistsError:
            raise LayerExists(f"layer id {layer_id!r} is being uploaded or is taken") from None
        try:
            yield folder
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise

    def add_upload(self, folder: Path, options: UserLayerOptions, *, shown: str) -> LayerSpec:
        """Unpack the bytes received into ``folder/.incoming`` (a zip safely, member by
        member), check and register them as layer ``folder.name``."""
        raw = folder / INCOMING
        with raw.open("rb") as f:
            head = f.read(64)
        if not head:
            raise InvalidInput("the request body is empty; send the file as the body")
        fmt = sniff_format(head)
        if fmt == "zip":
            files = safe_extract_zip(raw, folder / "data", self.zip_limits)
            raw.unlink()
            data, _ = find_data_file(folder / "data", files)
        else:
            data = folder / STORED_NAME[fmt]
            raw.rename(data)
        provenance = options.provenance or f"uploaded file {shown}"
        opts = replace(options, layer_id=folder.name, provenance=provenance)
        return self._register(data, opts, shown=shown)

    def is_upload(self, spec: LayerSpec) -> bool:
        """Whether ``spec``'s file lies in this store's uploads folder."""
        p = spec.file_path()
        if p is None or self.uploads_dir is None:
            return False
        try:
            p.resolve().relative_to(self.uploads_dir.resolve())
        except ValueError:
            return False
        return True

    def uploads(self) -> list[LayerSpec]:
        """The layers uploaded into this store (broken manifests are skipped)."""
        if not self.layers_dir.is_dir():
            return []
        out = []
        for p in sorted(self.layers_dir.glob("user.*.toml")):
            try:
                spec = parse_manifest(p.read_text(encoding="utf-8"), name=p.name)
            except Exception:  # a broken manifest is not ours to list
                continue
            if self.is_upload(spec):
                out.append(spec)
        return out

    def upload_info(self, layer_id: str) -> UploadInfo:
        """When upload ``layer_id`` was made and how many bytes its files take."""
        folder = self._uploads() / layer_id
        created = None
        with contextlib.suppress(OSError):
            created = datetime.fromtimestamp(folder.stat().st_mtime, UTC).isoformat()
        files = folder.rglob("*") if folder.is_dir() else iter(())
        return UploadInfo(created, sum(p.stat().st_size for p in files if p.is_file()))

    def remove_upload(self, layer_id: str) -> None:
        """Delete an uploaded layer's manifest and files (only layers uploaded here)."""
        if not any(s.id == layer_id for s in self.uploads()):
            raise LayerNotFound(f"no uploaded layer {layer_id!r}; see GET /uploads")
        (self.layers_dir / f"{layer_id}.toml").unlink(missing_ok=True)
        shutil.rmtree(self._uploads() / layer_id, ignore_errors=True)


__all__ = [
    "INCOMING",
    "USER_ID",
    "UploadInfo",
    "UserLayerOptions",
    "UserLayerStore",
]
