"""Safe intake of a user's uploaded layer file: format sniffing and zip extraction.

A web service must not let an uploaded file reach anything but itself. This module

* decides the format from the file's **first bytes** (:func:`sniff_format`), never from the
  name the user gave: GDAL picks its driver by content, so a "``.tif``" holding VRT XML would
  otherwise be opened as a VRT and could read any server file or URL (``/vsicurl/...``).
  Accepted: GeoTIFF/BigTIFF, GeoPackage (SQLite), GeoJSON (text starting with ``{``), zip;
* extracts a zip archive safely (:func:`safe_extract_zip`): no absolute paths, no ``..``, no
  drive letters, no symbolic links or device files, no encrypted members; at most
  ``max_files`` members and ``max_total_bytes`` uncompressed bytes (declared *and* actually
  written), and neither a member nor the whole archive (all members' unpacked bytes over the
  archive's size on disk) compressed more than ``max_ratio`` (zip bombs: many members, each
  just under the per-member threshold, would otherwise pass);
* picks the data file of an upload folder (:func:`find_data_file`): one Shapefile, or one
  GeoPackage / GeoJSON / GeoTIFF, each checked again by content.

Violations raise :class:`~geoeco.core.errors.InvalidInput` (422 in the API), size caps
:class:`~geoeco.core.errors.OversizeRequest` (413). Messages name archive members, never server
paths.

Examples
--------
>>> sniff_format(b"II*\\x00rest"), sniff_format(b"PK\\x03\\x04..."), sniff_format(b'  {"type"')
('tiff', 'zip', 'geojson')
>>> sniff_format(b"<VRTDataset>")
Traceback (most recent call last):
...
geoeco.core.errors.InvalidInput: the upload is not a GeoTIFF, GeoPackage, GeoJSON or zip file
"""

from __future__ import annotations

import re
import stat
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from .errors import InvalidInput, OversizeRequest

#: Parts of a Shapefile that may travel with it in a zip.
SHAPEFILE_PARTS = (".shp", ".shx", ".dbf", ".prj", ".cpg", ".qix", ".sbn", ".sbx", ".xml")
#: Single-file formats accepted directly or inside a zip, by suffix -> sniffed format.
SINGLE_FILES = {
    ".tif": "tiff",
    ".tiff": "tiff",
    ".gpkg": "gpkg",
    ".geojson": "geojson",
    ".json": "geojson",
}
#: Suffixes a zip member may have (anything else is refused, e.g. .vrt, nested .zip).
ALLOWED_MEMBER_SUFFIXES = frozenset(SHAPEFILE_PARTS) | frozenset(SINGLE_FILES) | {".txt"}
#: Stored file name of a single-file upload, by format.
STORED_NAME = {"tiff": "data.tif", "gpkg": "data.gpkg", "geojson": "data.geojson"}

_DRIVE = re.compile(r"^[A-Za-z]:")
_CHUNK = 1 << 20


def sniff_format(head: bytes) -> str:
    """``tiff``, ``gpkg``, ``geojson`` or ``zip`` from a file's first bytes (else InvalidInput).

    >>> sniff_format(b"SQLite format 3\\x00...")
    'gpkg'
    """
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return "tiff"
    if head.startswith(b"SQLite format 3\x00"):
        return "gpkg"
    if head[:4] == b"PK\x03\x04":
        return "zip"
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text[:1] == b"{":
        return "geojson"
    raise InvalidInput("the upload is not a GeoTIFF, GeoPackage, GeoJSON or zip file")


def _is_shp(head: bytes) -> bool:
    # Shapefile main file: big-endian file code 9994 in the first four bytes.
    return head[:4] == b"\x00\x00\x27\x0a"


def _head(path: Path, n: int = 64) -> bytes:
    with path.open("rb") as f:
        return f.read(n)


def _member_path(name: str) -> PurePosixPath:
    """The relative path of a zip member, or :class:`InvalidInput` if it could escape."""
    if "\x00" in name:
        raise InvalidInput(f"archive member {name!r} has a NUL character in its name")
    norm = name.replace("\\", "/")
    if norm.startswith("/") or _DRIVE.match(norm):
        raise InvalidInput(f"archive member {name!r} has an absolute path")
    parts = [p for p in norm.split("/") if p not in ("", ".")]
    if any(p == ".." for p in parts):
        raise InvalidInput(f"archive member {name!r} points outside the archive ('..')")
    if not parts:
        raise InvalidInput(f"archive member {name!r} has an empty name")
    return PurePosixPath(*parts)


def _kind(info: zipfile.ZipInfo) -> str:
    mode = (info.external_attr >> 16) & 0xFFFF
    fmt = stat.S_IFMT(mode)
    if info.is_dir() or fmt == stat.S_IFDIR:
        return "dir"
    if fmt in (0, stat.S_IFREG):
        return "file"
    if fmt == stat.S_IFLNK:
        return "symlink"
    return "special"


@dataclass(frozen=True)
class ZipLimits:
    """Caps on an archive: members, uncompressed bytes, compression ratio per member and of the
    whole archive.

    ``max_total_bytes`` (250 MB) is what one layer needs: a direct upload is at most 100 MB
    (``GEOECO_MAX_UPLOAD_BYTES``), and a zipped Shapefile of that size unpacks to about 2–3
    times as much (its ``.dbf`` compresses best); the layer is then read whole into memory,
    where a GeoDataFrame takes several times its file's size again. ``max_ratio`` (250:1) is
    far above real layers (Shapefiles 2–10:1, GeoTIFFs about 1:1) and far below zip bombs.
    """

    max_files: int = 200
    max_total_bytes: int = 250_000_000
    max_ratio: float = 250.0


#: The whole-archive ratio is checked once the archive unpacks to more than this many bytes
#: (a few kilobytes of text may compress far better than real layers, harmlessly).
WHOLE_RATIO_FLOOR = 1 << 20


def _check_whole_ratio(total: int, archive_bytes: int | None, limits: ZipLimits) -> None:
    if archive_bytes is None or total <= WHOLE_RATIO_FLOOR:
        return
    ratio = total / max(archive_bytes, 1)
    if ratio > limits.max_ratio:
        raise OversizeRequest(
            f"the archive unpacks to {total:,} bytes from {archive_bytes:,} ({ratio:,.0f}:1); "
            f"at most {limits.max_ratio:g}:1 is accepted (zip bomb protection)"
        )


def check_zip(
    zf: zipfile.ZipFile, limits: ZipLimits, *, archive_bytes: int | None = None
) -> list[tuple[zipfile.ZipInfo, PurePosixPath]]:
    """Check every member of an open archive (names, types, declared sizes); list the files.

    ``archive_bytes`` is the archive's size on disk: when given, the whole archive's ratio is
    capped too (:data:`WHOLE_RATIO_FLOOR`).
    """
    infos = zf.infolist()
    if len(infos) > limits.max_files:
        raise OversizeRequest(
            f"the archive has {len(infos)} members; at most {limits.max_files} are accepted"
        )
    files: list[tuple[zipfile.ZipInfo, PurePosixPath]] = []
    total = 0
    for info in infos:
        rel = _member_path(info.filename)
        kind = _kind(info)
        if kind == "dir":
            continue
        if kind != "file":
            raise InvalidInput(f"archive member {info.filename!r} is a {kind} link or device")
        if info.flag_bits & 0x1:
            raise InvalidInput(f"archive member {info.filename!r} is encrypted")
        if rel.suffix.lower() not in ALLOWED_MEMBER_SUFFIXES:
            known = ", ".join(sorted(ALLOWED_MEMBER_SUFFIXES))
            raise InvalidInput(
                f"archive member {info.filename!r} has an unsupported type; allowed: {known}"
            )
        total += info.file_size
        if total > limits.max_total_bytes:
            raise OversizeRequest(
                f"the archive unpacks to more than {limits.max_total_bytes:,} bytes "
                "(the limit for uploads)"
            )
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > _CHUNK and ratio > limits.max_ratio:
            raise OversizeRequest(
                f"archive member {info.filename!r} is compressed {ratio:,.0f}:1; at most "
                f"{limits.max_ratio:g}:1 is accepted (zip bomb protection)"
            )
        files.append((info, rel))
    if not files:
        raise InvalidInput("the archive holds no file")
    _check_whole_ratio(total, archive_bytes, limits)
    return files


def safe_extract_zip(
    archive: str | Path, dest: str | Path, limits: ZipLimits | None = None
) -> list[Path]:
    """Extract ``archive`` into the existing folder ``dest`` safely; return the files written.

    Every member is checked first (:func:`check_zip`), then copied in chunks while counting the
    bytes actually written (a member that inflates beyond its declared size or the total cap
    stops the extraction). Files are created with ``O_EXCL`` semantics inside ``dest`` only.

    Examples
    --------
    >>> import io, tempfile
    >>> buf = io.BytesIO()
    >>> with zipfile.ZipFile(buf, "w") as z:
    ...     z.writestr("../evil.shp", b"x")
    >>> d = Path(tempfile.mkdtemp())
    >>> _ = (d / "a.zip").write_bytes(buf.getvalue())
    >>> safe_extract_zip(d / "a.zip", d / "out")
    Traceback (most recent call last):
    ...
    geoeco.core.errors.InvalidInput: archive member '../evil.shp' points outside the archive ('..')
    """
    lim = limits or ZipLimits()
    root = Path(dest)
    root.mkdir(parents=True, exist_ok=True)
    root_r = root.resolve()
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as exc:
        raise InvalidInput(f"the upload is not a readable zip archive ({exc})") from None
    written: list[Path] = []
    total = 0
    with zf:
        for info, rel in check_zip(zf, lim, archive_bytes=Path(archive).stat().st_size):
            target = root_r.joinpath(*rel.parts)
            if root_r not in target.parents:
                raise InvalidInput(f"archive member {info.filename!r} points outside the archive")
            target.parent.mkdir(parents=True, exist_ok=True)
            if target.parent.resolve() != target.parent or target.exists():
                raise InvalidInput(f"archive member {info.filename!r} is duplicated or linked")
            n = 0
            try:
                with zf.open(info) as src, target.open("xb") as out:
                    while chunk := src.read(_CHUNK):
                        n += len(chunk)
                        total += len(chunk)
                        if n > info.file_size or total > lim.max_total_bytes:
                            raise OversizeRequest(
                                f"archive member {info.filename!r} unpacks to more bytes than "
                                "declared or than the upload limit"
                            )
                        out.write(chunk)
            except (zipfile.BadZipFile, EOFError, zipfile.LargeZipFile) as exc:
                raise InvalidInput(f"archive member {info.filename!r} is corrupt ({exc})") from None
            except NotImplementedError as exc:
                raise InvalidInput(f"archive member {info.filename!r}: {exc}") from None
            written.append(target)
    return written


def find_data_file(folder: str | Path, files: Sequence[Path] | None = None) -> tuple[Path, str]:
    """The one data file of an upload folder and its format (``shp``, ``gpkg``, ...).

    A Shapefile wins when the folder holds exactly one ``.shp``; otherwise exactly one
    GeoPackage, GeoJSON or GeoTIFF must be present. The file's content must match its suffix.
    """
    root = Path(folder)
    cands = list(files) if files is not None else [p for p in root.rglob("*") if p.is_file()]
    shps = [p for p in cands if p.suffix.lower() == ".shp"]
    if len(shps) > 1:
        raise InvalidInput(
            f"the archive holds {len(shps)} Shapefiles; upload one layer per archive"
        )
    if shps:
        shp = shps[0]
        if not _is_shp(_head(shp)):
            raise InvalidInput(f"{shp.name}: not a Shapefile (bad header)")
        if not shp.with_suffix(".shx").exists() and not shp.with_suffix(".SHX").exists():
            raise InvalidInput(f"{shp.name}: the .shx part of the Shapefile is missing")
        if not shp.with_suffix(".dbf").exists() and not shp.with_suffix(".DBF").exists():
            raise InvalidInput(f"{shp.name}: the .dbf part of the Shapefile is missing")
        return shp, "shp"
    singles = [p for p in cands if p.suffix.lower() in SINGLE_FILES]
    if len(singles) != 1:
        raise InvalidInput(
            "the archive must hold one Shapefile (.shp with .shx, .dbf, .prj) or one "
            f"GeoPackage, GeoJSON or GeoTIFF; found {len(singles)} candidate files"
        )
    p = singles[0]
    fmt = sniff_format(_head(p))
    if fmt != SINGLE_FILES[p.suffix.lower()]:
        raise InvalidInput(f"{p.name}: the content is {fmt}, not what the suffix says")
    return p, fmt


__all__ = [
    "ALLOWED_MEMBER_SUFFIXES",
    "SHAPEFILE_PARTS",
    "SINGLE_FILES",
    "STORED_NAME",
    "WHOLE_RATIO_FLOOR",
    "ZipLimits",
    "check_zip",
    "find_data_file",
    "safe_extract_zip",
    "sniff_format",
]
