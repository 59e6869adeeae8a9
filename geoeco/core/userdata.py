"""The one way geoeco opens a raster or vector file: allow-listed formats decided by content,
the GDAL driver forced, no network, and sizes checked from the header before any pixel or
feature is read.

GDAL opens far more than geoeco documents, and several of its formats *point elsewhere*: a VRT
or OGR VRT names other files or URLs, a streamed algorithm (``gdal_streamed_alg``) runs a
pipeline that reads any path, a connection string (``PG:``, ``WFS:``...) or a ``/vsicurl/``
path reaches another machine, and a legacy GeoJSON ``crs`` of type ``link`` makes GDAL fetch a
URL. Any of these in a user's file would let the user read the server's files or make it
contact other hosts. So every file geoeco reads passes this gate (:mod:`geoeco.core.io` reads
through it too, so geoeco's own outputs and bundled data take the same path):

1. **A local path.** URLs (``://``), GDAL virtual file systems (``/vsi...``) and connection
   strings or driver prefixes (``PG:...``, ``GeoJSON:...``) are refused; the path is resolved
   (symbolic links followed: the content rules apply to the target) and must be a regular
   file, or a FileGDB folder of plain files. GDAL only ever sees an absolute path.
2. **The format comes from the content** (:func:`sniff_format`), never from the name alone:
   GeoTIFF/COG (TIFF or BigTIFF header), GeoPackage (SQLite with a GeoPackage application
   id), Shapefile (file code 9994; also zipped), GeoJSON (a JSON object this module parses),
   GeoParquet (``PAR1``), FlatGeobuf (``fgb\\x03``) and FileGDB (a ``.gdb`` folder). A file
   whose first 4 KB hold the marks of a referencing format (``gdal_streamed_alg``,
   ``<VRTDataset``, ``<OGRVRTDataSource``, ``<GDAL_WMS``...) is refused whatever its name.
3. **The driver is forced**: rasterio opens with ``driver="GTiff"``; GeoJSON and GeoPackage
   are opened as ``GeoJSON:<path>`` and ``GPKG:<path>``; the driver GDAL actually used is
   checked after opening. GeoParquet is read by pyarrow from a local file, without GDAL.
4. **GeoJSON is parsed here first**, bounded in size and depth: the top-level ``type`` must be
   a GeoJSON type, and every ``crs`` member must be ``{"type": "name"}`` with an EPSG code or
   an OGC URN; ``link`` (and anything else) is refused.
5. **No network** (:func:`offline_gdal_options`): rasters are opened inside a thread-local
   ``rasterio.Env`` that sends any GDAL HTTP request to a closed local port and allows no
   ``/vsicurl/`` file, does not list the file's folder and reads no side-car file (``.aux.xml``,
   ``.ovr``, ``.tfw``, ``.msk``: a user raster is one self-contained GeoTIFF). pyogrio's GDAL
   has no thread-local options, so the first vector read sets the same network options for
   it process-wide (geoeco reads nothing over the network).
6. **Limits from the header** (:class:`UserDataLimits`): width × height, bands, blocks and the
   bytes of one block for rasters; features and bytes for vectors. Violations raise
   :class:`~geoeco.core.errors.OversizeRequest` (413 in the API).

Errors name the file by the name the caller gives (``name``), never by a server path.

Examples
--------
>>> import tempfile
>>> d = Path(tempfile.mkdtemp())
>>> _ = (d / "a.tif").write_text('<VRTDataset rasterXSize="1" rasterYSize="1"/>')
>>> sniff_format(d / "a.tif", "a.tif")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
geoeco.core.errors.UnsafeDataSource: a.tif: a GDAL VRT; formats that read other files or URLs ...
>>> local_path("/vsicurl/http://example.com/x.tif", "x.tif")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
geoeco.core.errors.UnsafeDataSource: x.tif: GDAL virtual file systems (/vsi...) are not ...
"""

from __future__ import annotations

import contextlib
import functools
import json
import math
import os
import re
import stat
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from .errors import DataSourceError, InvalidInput, OversizeRequest, UnsafeDataSource
from .raster import Grid, as_bounds

if TYPE_CHECKING:
    from geopandas import GeoDataFrame

#: Formats geoeco reads, by the name :func:`sniff_format` gives them -> the GDAL driver used.
FORMAT_DRIVERS: dict[str, str | None] = {
    "gtiff": "GTiff",
    "gpkg": "GPKG",
    "shp": "ESRI Shapefile",
    "shp_zip": "ESRI Shapefile",
    "geojson": "GeoJSON",
    "fgb": "FlatGeobuf",
    "filegdb": "OpenFileGDB",
    "parquet": None,  # pyarrow, not GDAL
}
RASTER_FORMATS = frozenset({"gtiff"})
VECTOR_FORMATS = frozenset(FORMAT_DRIVERS) - RASTER_FORMATS
#: File suffixes of the documented formats (for messages; the content decides).
RASTER_SUFFIXES = frozenset({".tif", ".tiff"})
VECTOR_SUFFIXES = frozenset(
    {".gpkg", ".shp", ".geojson", ".json", ".fgb", ".parquet", ".geoparquet", ".zip", ".gdb"}
)

#: Marks of formats that reference other files or URLs, looked for in a file's first 4 KB.
_REFERENCING_MARKS = {
    b"gdal_streamed_alg": "a GDAL streamed algorithm (gdal_streamed_alg)",
    b"<vrtdataset": "a GDAL VRT",
    b"<ogrvrtdatasource": "an OGR VRT",
    b"<gdal_wms": "a GDAL WMS description",
    b"<gdal_wcs": "a GDAL WCS description",
    b"<gdal_wmts": "a GDAL WMTS description",
    b"<wfs_getcapabilities": "a WFS description",
    b"<ogcapi": "an OGC API description",
}
_HEAD_BYTES = 4096
_TIFF = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")
_GPKG_IDS = (b"GPKG", b"GP10", b"GP11")
_SHP_CODE = b"\x00\x00\x27\x0a"
_GEOJSON_TYPES = frozenset(
    {
        "FeatureCollection",
        "Feature",
        "Point",
        "MultiPoint",
        "LineString",
        "MultiLineString",
        "Polygon",
        "MultiPolygon",
        "GeometryCollection",
    }
)
#: CRS names a GeoJSON ``crs`` member may give: EPSG codes and OGC URNs (resolved offline).
_CRS_NAME = re.compile(r"^(urn:ogc:def:crs:[A-Za-z0-9.]*:[0-9.]*:[A-Za-z0-9_.]+|EPSG:[0-9]{1,6})$")
_PREFIX = re.compile(r"^[A-Za-z][A-Za-z0-9_ .+-]*:")
_DRIVE = re.compile(r"^[A-Za-z]:[\\/]")
_GDB_MEMBER = re.compile(r"^(gdb|timestamps|a[0-9a-f]{8}\.[a-z]+|[A-Za-z0-9_.-]+\.lock)$")


@dataclass(frozen=True)
class UserDataLimits:
    """Largest file geoeco opens, checked from the header before any pixel or feature is read.

    * ``max_raster_pixels`` (width × height, 1.5 Gpx): a province's bounding box at 30 m fits
      (Guangdong, about 780 × 590 km: ≈ 0.5 Gpx; Sichuan, 1,070 × 920 km: ≈ 1.1 Gpx), as does
      the largest province at 90 m (Xinjiang, 1,900 × 1,660 km: ≈ 0.4 Gpx); all of China at
      90 m (≈ 5,200 × 3,900 km: ≈ 2.5 Gpx) does not (use a clipped or coarser copy).
      geoeco's own analysis grids stop at 0.4 Gpx.
    * ``max_raster_bands`` (20,000): a daily series of 50 years is 18,263 bands.
    * ``max_raster_blocks`` (4 M, over all bands of a band-interleaved file): GDAL keeps two
      8-byte offsets per block, so the index of an accepted file stays under 64 MB.
    * ``max_block_bytes`` (64 MiB): one block is decompressed whole to read any pixel of it,
      so a file of one huge compressed block is a memory bomb even within the pixel limit.
    * ``max_vector_features`` (2 M) and ``max_vector_bytes`` (2 GB): a vector layer is read
      whole into memory (a GeoDataFrame takes several times the file's size); 2 M features
      holds a county's land-survey parcels.
    * ``max_geojson_bytes`` (256 MiB) and ``max_json_depth`` (64): geoeco parses GeoJSON
      itself before GDAL does; GeoJSON nests 6–10 levels.
    """

    max_raster_pixels: int = 1_500_000_000
    max_raster_bands: int = 20_000
    max_raster_blocks: int = 4_000_000
    max_block_bytes: int = 64 * 2**20
    max_vector_features: int = 2_000_000
    max_vector_bytes: int = 2_000_000_000
    max_geojson_bytes: int = 256 * 2**20
    max_json_depth: int = 64


DEFAULT_LIMITS = UserDataLimits()


@dataclass(frozen=True)
class RasterInfo:
    """What a raster file holds, without reading its pixels."""

    grid: Grid | None
    crs_wkt: str | None
    count: int
    dtype: str
    nodata: float | None
    block_shape: tuple[int, int]
    band_names: tuple[str | None, ...]
    units: tuple[str | None, ...]
    bounds: tuple[float, float, float, float]


@dataclass(frozen=True)
class VectorInfo:
    """What a vector file holds: format, CRS (as GDAL or GeoParquet gives it), features."""

    format: str
    driver: str | None
    crs: Any
    features: int
    bounds: tuple[float, float, float, float] | None
    geometry_type: str | None


# --------------------------------------------------------------------------- paths, formats


def display_name(path: str | os.PathLike[str], name: str | None = None) -> str:
    """The name to show a user for ``path``: ``name`` if given, else the file's base name."""
    return name if name else Path(path).name


def check_path_text(path: str | os.PathLike[str], shown: str) -> str:
    """The path as text, or :class:`UnsafeDataSource` for a URL, ``/vsi`` path or GDAL prefix.

    >>> check_path_text("PG:dbname=gis", "layer")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    geoeco.core.errors.UnsafeDataSource: layer: GDAL connection strings and driver prefixes ...
    """
    text = os.fspath(path)
    if "\x00" in text:
        raise InvalidInput(f"{shown}: the path holds a NUL character")
    if text.lower().startswith(("/vsi", "\\vsi")):
        raise UnsafeDataSource(
            f"{shown}: GDAL virtual file systems (/vsi...) are not accepted; give a local file"
        )
    if "://" in text:
        raise UnsafeDataSource(f"{shown}: URLs are not accepted; give a local file")
    if _PREFIX.match(text) and not _DRIVE.match(text):
        raise UnsafeDataSource(
            f"{shown}: GDAL connection strings and driver prefixes (such as PG: or GeoJSON:) "
            "are not accepted; give a local file"
        )
    return text


def local_path(path: str | os.PathLike[str], shown: str) -> Path:
    """``path`` resolved to an existing local file (or folder); URLs and GDAL prefixes refused."""
    text = check_path_text(path, shown)
    try:
        p = Path(text).resolve(strict=True)
        st = p.stat()
    except (OSError, RuntimeError):
        raise DataSourceError(f"{shown}: file not found") from None
    if stat.S_ISDIR(st.st_mode):
        if p.suffix.lower() != ".gdb":
            raise DataSourceError(f"{shown}: a folder, not a data file (only a .gdb folder is)")
    elif not stat.S_ISREG(st.st_mode):
        raise DataSourceError(f"{shown}: not a regular file")
    return p


def _head(p: Path, n: int = _HEAD_BYTES) -> bytes:
    with p.open("rb") as f:
        return f.read(n)


def _refuse_referencing(head: bytes, shown: str) -> None:
    low = head.lower()
    for mark, what in _REFERENCING_MARKS.items():
        if mark in low:
            raise UnsafeDataSource(
                f"{shown}: {what}; formats that read other files or URLs are not accepted"
            )


def sniff_format(path: Path, shown: str) -> str:
    """Format name (a key of :data:`FORMAT_DRIVERS`) of a resolved local path, from content.

    Raises :class:`UnsafeDataSource` for referencing formats, :class:`DataSourceError` for
    anything else that is not an accepted format.
    """
    if path.is_dir():
        _check_filegdb(path, shown)
        return "filegdb"
    head = _head(path)
    _refuse_referencing(head, shown)
    if head[:4] in _TIFF:
        return "gtiff"
    if head.startswith(b"SQLite format 3\x00"):
        if head[68:72] not in _GPKG_IDS:
            raise DataSourceError(f"{shown}: an SQLite database that is not a GeoPackage")
        return "gpkg"
    if head[:4] == _SHP_CODE:
        return "shp"
    if head[:3] == b"fgb" and head[3:4] == b"\x03":
        return "fgb"
    if head[:4] == b"PAR1":
        return "parquet"
    if head[:4] == b"PK\x03\x04":
        return "shp_zip"
    if head.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"{":
        return "geojson"
    raise DataSourceError(
        f"{shown}: not a supported format; geoeco reads GeoTIFF/COG, GeoPackage, Shapefile "
        "(also zipped), GeoJSON, GeoParquet, FlatGeobuf and FileGDB"
    )


def _check_filegdb(d: Path, shown: str) -> None:
    names = []
    with os.scandir(d) as it:
        for n, e in enumerate(it):
            if n > 100_000:
                raise DataSourceError(f"{shown}: too many files for a FileGDB")
            if e.is_symlink() or not e.is_file(follow_symlinks=False):
                raise DataSourceError(f"{shown}: a FileGDB holds plain files only ({e.name!r})")
            if not _GDB_MEMBER.match(e.name):
                raise DataSourceError(f"{shown}: {e.name!r} is not part of a FileGDB")
            names.append(e.name)
    if "a00000001.gdbtable" not in names:
        raise DataSourceError(f"{shown}: not a FileGDB (its system table is missing)")


def _sibling(p: Path, suffix: str) -> Path | None:
    for cand in (p.with_suffix(suffix), p.with_suffix(suffix.upper())):
        if cand.is_file():
            return cand
    return None


def _shapefile_bytes(p: Path, shown: str) -> int:
    if p.suffix.lower() != ".shp":
        raise DataSourceError(f"{shown}: a Shapefile must be named .shp (with .shx and .dbf)")
    total = p.stat().st_size
    for part in (".shx", ".dbf"):
        s = _sibling(p, part)
        if s is None:
            raise DataSourceError(f"{shown}: the {part} part of the Shapefile is missing")
        total += s.stat().st_size
    return total


def _zipped_shapefile(p: Path, shown: str, limits: UserDataLimits) -> tuple[str, int]:
    """GDAL path of the one Shapefile inside zip ``p`` (members checked) and its size."""
    from .uploads import ZipLimits, check_zip

    lim = ZipLimits(max_total_bytes=limits.max_vector_bytes)
    try:
        with zipfile.ZipFile(p) as zf:
            files = check_zip(zf, lim, archive_bytes=p.stat().st_size)
            shps = [(i, r) for i, r in files if r.suffix.lower() == ".shp"]
            if len(shps) != 1:
                raise DataSourceError(
                    f"{shown}: a zip must hold exactly one Shapefile, found {len(shps)}"
                )
            info, rel = shps[0]
            with zf.open(info) as f:
                head = f.read(_HEAD_BYTES)
    except (zipfile.BadZipFile, EOFError, OSError, NotImplementedError, zlib.error) as exc:
        raise DataSourceError(f"{shown}: not a readable zip archive ({exc})") from None
    if head[:4] != _SHP_CODE:
        raise DataSourceError(f"{shown}: {rel.name} is not a Shapefile (bad header)")
    stems = {r.with_suffix(r.suffix.lower()) for _, r in files}
    for part in (".shx", ".dbf"):
        if rel.with_suffix(part) not in stems:
            raise DataSourceError(f"{shown}: the {part} part of {rel.name} is missing")
    total = sum(i.file_size for i, _ in files)
    return f"/vsizip/{{{p}}}/{PurePosixPath(rel)}", total


# --------------------------------------------------------------------------- GeoJSON


def check_geojson(p: Path, shown: str, limits: UserDataLimits = DEFAULT_LIMITS) -> None:
    """Parse GeoJSON ``p`` (bounded) and refuse a non-GeoJSON type or a ``crs`` that is not a
    name (GDAL fetches a ``link``); raises before GDAL ever opens the file.

    >>> import tempfile
    >>> f = Path(tempfile.mkdtemp()) / "a.geojson"
    >>> _ = f.write_text('{"type": "FeatureCollection", "features": [], "crs": '
    ...                  '{"type": "link", "properties": {"href": "http://x/crs"}}}')
    >>> check_geojson(f, "a.geojson")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    geoeco.core.errors.UnsafeDataSource: a.geojson: a GeoJSON "crs" of type 'link' is not ...
    """
    size = p.stat().st_size
    if size > limits.max_geojson_bytes:
        raise OversizeRequest(
            f"{shown}: a GeoJSON of {size:,} bytes; at most {limits.max_geojson_bytes:,} are "
            "accepted (convert larger layers to GeoPackage or FlatGeobuf)"
        )
    raw = p.read_bytes()
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        doc = json.loads(raw)
    except RecursionError:
        raise InvalidInput(f"{shown}: the JSON is nested too deeply") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise DataSourceError(f"{shown}: not valid JSON ({str(exc)[:200]})") from None
    kind = doc.get("type") if isinstance(doc, dict) else type(doc).__name__
    if kind not in _GEOJSON_TYPES:
        raise DataSourceError(f"{shown}: not GeoJSON (its type is {str(kind)[:60]!r})")
    _walk_geojson(doc, shown, limits.max_json_depth)


def _walk_geojson(doc: Any, shown: str, max_depth: int) -> None:
    stack: list[tuple[Any, int]] = [(doc, 1)]
    while stack:
        obj, depth = stack.pop()
        if depth > max_depth:
            raise InvalidInput(f"{shown}: the JSON nests deeper than {max_depth} levels")
        if isinstance(obj, dict):
            if "crs" in obj:
                _check_crs_member(obj["crs"], shown)
            children: Any = obj.values()
        else:
            children = obj
        for c in children:
            if isinstance(c, dict | list):
                stack.append((c, depth + 1))


def _check_crs_member(crs: Any, shown: str) -> None:
    if crs is None:
        return
    kind = crs.get("type") if isinstance(crs, dict) else None
    if kind != "name":
        raise UnsafeDataSource(
            f'{shown}: a GeoJSON "crs" of type {str(kind)[:40]!r} is not accepted (GDAL would '
            "fetch it); remove the member or name the CRS, e.g. "
            '{"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::4490"}}'
        )
    props = crs.get("properties")
    name = props.get("name") if isinstance(props, dict) else None
    if not isinstance(name, str) or not _CRS_NAME.match(name):
        raise UnsafeDataSource(
            f'{shown}: the GeoJSON "crs" name {str(name)[:80]!r} is not an EPSG code or OGC '
            "URN (such as urn:ogc:def:crs:EPSG::4490)"
        )


# --------------------------------------------------------------------------- network


def offline_gdal_options() -> dict[str, str]:
    """GDAL configuration that keeps a read off the network and out of sibling files.

    ``GDAL_HTTP_PROXY`` sends any HTTP request GDAL would make (``/vsicurl/``, a CRS link) to
    a closed local port, so it fails at once and nothing leaves the host;
    ``CPL_VSIL_CURL_ALLOWED_FILENAME`` names no real file, so ``/vsicurl/`` opens nothing.
    """
    return {
        "GDAL_HTTP_PROXY": "127.0.0.1:1",
        "GDAL_HTTPS_PROXY": "127.0.0.1:1",
        "CPL_VSIL_CURL_ALLOWED_FILENAME": "/geoeco-reads-no-url",
        "GDAL_HTTP_TIMEOUT": "1",
        "GDAL_HTTP_CONNECTTIMEOUT": "1",
        "GDAL_HTTP_MAX_RETRY": "0",
    }


#: Thread-local options of every raster open: offline, no folder listing, no side-car files.
_RASTER_ENV = {
    **offline_gdal_options(),
    "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR",
    "GDAL_PAM_ENABLED": "NO",
}


@functools.cache
def _pyogrio_offline() -> None:
    """Set :func:`offline_gdal_options` in pyogrio's GDAL (process-wide; it has no other way)."""
    import pyogrio

    pyogrio.set_gdal_config_options(offline_gdal_options())


def short_error(exc: BaseException, path: Path) -> str:
    """Exception text with any absolute path removed (messages may reach HTTP clients)."""
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    candidates = {str(path), str(path.parent)}
    for s in sorted(candidates, key=len, reverse=True):
        if s and s not in (".", "/"):
            text = text.replace(s, path.name if s == str(path) else "")
    return text.strip(" :/")[:300] or type(exc).__name__


# --------------------------------------------------------------------------- rasters


def check_raster_header(ds: Any, shown: str, limits: UserDataLimits) -> None:
    """Raise :class:`OversizeRequest` when an open dataset's header exceeds ``limits``."""
    from rasterio.enums import Interleaving

    w, h, n = ds.width, ds.height, ds.count
    if w * h > limits.max_raster_pixels:
        raise OversizeRequest(
            f"{shown}: {w:,} × {h:,} = {w * h:,} pixels; at most {limits.max_raster_pixels:,} "
            "are accepted (clip the raster or use a coarser resolution)"
        )
    if n > limits.max_raster_bands:
        raise OversizeRequest(
            f"{shown}: {n:,} bands; at most {limits.max_raster_bands:,} are accepted"
        )
    bh, bw = ds.block_shapes[0] if n else (h, w)
    itemsize = max((_itemsize(t) for t in ds.dtypes), default=1)
    pixel_interleaved = ds.interleaving == Interleaving.pixel and n > 1
    blocks = math.ceil(w / max(bw, 1)) * math.ceil(h / max(bh, 1)) * (1 if pixel_interleaved else n)
    if blocks > limits.max_raster_blocks:
        raise OversizeRequest(
            f"{shown}: {blocks:,} blocks; at most {limits.max_raster_blocks:,} are accepted "
            "(rewrite it tiled, e.g. as a COG with 512 × 512 blocks)"
        )
    block_bytes = bw * bh * itemsize * (n if pixel_interleaved else 1)
    if block_bytes > limits.max_block_bytes:
        raise OversizeRequest(
            f"{shown}: one block of {bw:,} × {bh:,} pixels holds {block_bytes:,} bytes; at most "
            f"{limits.max_block_bytes:,} are accepted (rewrite it tiled, e.g. as a COG)"
        )


def _itemsize(dtype: str) -> int:
    import numpy as np

    try:
        return int(np.dtype(dtype).itemsize)
    except TypeError:  # complex_int16 and other GDAL-only types
        return 8


@contextlib.contextmanager
def open_user_raster(
    path: str | os.PathLike[str],
    *,
    name: str | None = None,
    limits: UserDataLimits = DEFAULT_LIMITS,
) -> Iterator[Any]:
    """Open a GeoTIFF/COG through the gate and yield the rasterio dataset (read it inside).

    The dataset is opened (and should be read) inside the thread-local offline ``rasterio.Env``
    of :data:`_RASTER_ENV`, with the GTiff driver only, after the header is checked.
    """
    import rasterio

    shown = display_name(path, name)
    p = local_path(path, shown)
    fmt = sniff_format(p, shown)
    if fmt != "gtiff":
        raise DataSourceError(f"{shown}: not a GeoTIFF (geoeco reads rasters as GeoTIFF or COG)")
    with rasterio.Env(**_RASTER_ENV):
        try:
            ds = rasterio.open(p, driver="GTiff")
        except Exception as exc:
            raise DataSourceError(
                f"{shown}: not a readable GeoTIFF ({short_error(exc, p)})"
            ) from None
        with ds:
            if ds.driver != "GTiff":  # pragma: no cover - driver="GTiff" allows no other
                raise UnsafeDataSource(f"{shown}: opened by GDAL driver {ds.driver}, not GTiff")
            check_raster_header(ds, shown, limits)
            yield ds


def user_raster_info(
    path: str | os.PathLike[str],
    *,
    name: str | None = None,
    limits: UserDataLimits = DEFAULT_LIMITS,
) -> RasterInfo:
    """Header of a raster file (grid is ``None`` when it has no CRS); no pixel is read."""
    with open_user_raster(path, name=name, limits=limits) as ds:
        grid = Grid(ds.transform, ds.width, ds.height, ds.crs) if ds.crs else None
        return RasterInfo(
            grid=grid,
            crs_wkt=ds.crs.to_wkt() if ds.crs else None,
            count=ds.count,
            dtype=ds.dtypes[0],
            nodata=ds.nodata,
            block_shape=tuple(ds.block_shapes[0]),
            band_names=tuple(ds.descriptions),
            units=tuple(ds.units),
            bounds=tuple(ds.bounds),
        )


# --------------------------------------------------------------------------- vectors


@dataclass(frozen=True)
class _VectorSource:
    fmt: str
    gdal_path: str  # what pyogrio is given ("" for GeoParquet)
    local: Path
    nbytes: int


def _vector_source(
    path: str | os.PathLike[str], shown: str, limits: UserDataLimits
) -> _VectorSource:
    """Resolve, sniff and pre-check a vector file; the path pyogrio is to be given."""
    p = local_path(path, shown)
    fmt = sniff_format(p, shown)
    if fmt not in VECTOR_FORMATS:
        raise DataSourceError(f"{shown}: a raster, not a vector file")
    if "!" in str(p) and fmt != "parquet":
        raise DataSourceError(f"{shown}: a path holding '!' cannot be read (archive syntax)")
    gdal_path, nbytes = str(p), p.stat().st_size
    if fmt == "geojson":
        check_geojson(p, shown, limits)
        gdal_path = f"GeoJSON:{p}"
    elif fmt == "gpkg" and ":" not in str(p):
        gdal_path = f"GPKG:{p}"
    elif fmt == "shp":
        nbytes = _shapefile_bytes(p, shown)
    elif fmt == "shp_zip":
        gdal_path, nbytes = _zipped_shapefile(p, shown, limits)
    elif fmt == "filegdb":
        nbytes = sum(f.stat().st_size for f in p.iterdir())
    elif fmt == "parquet":
        gdal_path = ""
    if nbytes > limits.max_vector_bytes:
        raise OversizeRequest(
            f"{shown}: {nbytes:,} bytes of vector data; at most {limits.max_vector_bytes:,} "
            "are accepted"
        )
    return _VectorSource(fmt, gdal_path, p, nbytes)


def _check_features(n: int, shown: str, limits: UserDataLimits) -> None:
    if n > limits.max_vector_features:
        raise OversizeRequest(
            f"{shown}: {n:,} features; at most {limits.max_vector_features:,} are accepted"
        )


def _gdal_info(
    src: _VectorSource, shown: str, layer: str | None, limits: UserDataLimits, *, bounds: bool
) -> dict[str, Any]:
    """pyogrio's ``read_info`` (offline), the driver checked and the features counted."""
    import pyogrio

    _pyogrio_offline()
    try:
        meta = pyogrio.read_info(
            src.gdal_path, layer=layer, force_feature_count=True, force_total_bounds=bounds
        )
    except Exception as exc:
        raise DataSourceError(
            f"{shown}: not a readable vector file ({short_error(exc, src.local)})"
        ) from None
    want = FORMAT_DRIVERS[src.fmt]
    if meta.get("driver") != want:
        raise UnsafeDataSource(
            f"{shown}: GDAL opened it as {meta.get('driver')}, not {want}; refused"
        )
    _check_features(int(meta.get("features") or 0), shown, limits)
    info: dict[str, Any] = meta
    return info


def _parquet_rows(src: _VectorSource, shown: str, limits: UserDataLimits) -> None:
    import pyarrow.parquet as pq

    try:
        with src.local.open("rb") as f:
            md = pq.ParquetFile(f).metadata
            geo = (md.metadata or {}).get(b"geo")
            rows = md.num_rows
    except Exception as exc:
        raise DataSourceError(
            f"{shown}: not a readable GeoParquet file ({short_error(exc, src.local)})"
        ) from None
    if geo is None:
        raise DataSourceError(f"{shown}: a Parquet file without GeoParquet ('geo') metadata")
    try:
        cols = json.loads(geo).get("columns", {})
    except (ValueError, AttributeError, RecursionError):
        raise DataSourceError(f"{shown}: its GeoParquet metadata is not valid JSON") from None
    for col in cols.values() if isinstance(cols, dict) else ():
        crs = col.get("crs") if isinstance(col, dict) else None
        if isinstance(crs, str) and not _CRS_NAME.match(crs):
            raise UnsafeDataSource(f"{shown}: GeoParquet crs {crs[:80]!r} is not accepted")
    _check_features(rows, shown, limits)


def read_user_vector(
    path: str | os.PathLike[str],
    *,
    name: str | None = None,
    layer: str | None = None,
    bbox: tuple[float, float, float, float] | None = None,
    limits: UserDataLimits = DEFAULT_LIMITS,
) -> GeoDataFrame:
    """Read a vector file through the gate into a GeoDataFrame (GeoParquet via pyarrow)."""
    import geopandas as gpd

    shown = display_name(path, name)
    src = _vector_source(path, shown, limits)
    if src.fmt == "parquet":
        from pyarrow.fs import LocalFileSystem

        _parquet_rows(src, shown, limits)
        try:
            return gpd.read_parquet(src.local, bbox=bbox, filesystem=LocalFileSystem())
        except Exception as exc:
            raise DataSourceError(
                f"{shown}: not a readable GeoParquet file ({short_error(exc, src.local)})"
            ) from None
    _gdal_info(src, shown, layer, limits, bounds=False)
    try:
        return gpd.read_file(src.gdal_path, layer=layer, bbox=bbox, engine="pyogrio")
    except Exception as exc:
        raise DataSourceError(
            f"{shown}: not a readable vector file ({short_error(exc, src.local)})"
        ) from None


def user_vector_info(
    path: str | os.PathLike[str],
    *,
    name: str | None = None,
    layer: str | None = None,
    limits: UserDataLimits = DEFAULT_LIMITS,
) -> VectorInfo:
    """Format, CRS, feature count, bounds and geometry type of a vector file."""
    shown = display_name(path, name)
    src = _vector_source(path, shown, limits)
    if src.fmt == "parquet":
        gdf = read_user_vector(path, name=shown, limits=limits)
        n = len(gdf)
        return VectorInfo(
            "parquet",
            None,
            gdf.crs,
            n,
            as_bounds(gdf.total_bounds) if n else None,
            ",".join(sorted(set(gdf.geom_type.dropna()))) or None,
        )
    meta = _gdal_info(src, shown, layer, limits, bounds=True)
    tb = meta.get("total_bounds")
    return VectorInfo(
        src.fmt,
        meta.get("driver"),
        meta.get("crs"),
        int(meta.get("features") or 0),
        as_bounds(tb) if tb is not None else None,
        meta.get("geometry_type"),
    )


def data_kind(path: str | os.PathLike[str], *, name: str | None = None) -> str:
    """``"raster"`` or ``"vector"`` for a file, from its content (through the gate's checks)."""
    shown = display_name(path, name)
    fmt = sniff_format(local_path(path, shown), shown)
    return "raster" if fmt in RASTER_FORMATS else "vector"


__all__ = [
    "DEFAULT_LIMITS",
    "FORMAT_DRIVERS",
    "RASTER_FORMATS",
    "RASTER_SUFFIXES",
    "VECTOR_FORMATS",
    "VECTOR_SUFFIXES",
    "RasterInfo",
    "UserDataLimits",
    "VectorInfo",
    "check_geojson",
    "check_path_text",
    "check_raster_header",
    "data_kind",
    "display_name",
    "local_path",
    "offline_gdal_options",
    "open_user_raster",
    "read_user_vector",
    "short_error",
    "sniff_format",
    "user_raster_info",
    "user_vector_info",
]
