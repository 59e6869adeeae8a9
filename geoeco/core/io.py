"""File input and output: the only module that opens or writes data files.

* Every file is *read* through :mod:`geoeco.core.userdata`, the one gate for data geoeco did not
  write itself (and, so that no path is missed, for its own outputs and bundled data too):
  allow-listed formats decided by content, the GDAL driver forced, no network, header limits.
* Vectors are read with pyogrio (GeoPackage, Shapefile, GeoJSON, FlatGeobuf, FileGDB) and
  GeoParquet with pyarrow; they are written the same way.
* Rasters (GeoTIFF/COG only) are read whole or by window with rasterio, and written as
  Cloud-Optimised GeoTIFFs.
* Every write goes to a temporary file in the destination folder and is renamed into place, so
  no reader ever sees half a file.
* Errors name files by the name the caller used (``display_name``), never by a resolved
  server path.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import rasterio
from rasterio.windows import Window

from .raster import Grid, Raster
from .userdata import (
    RasterInfo,
    display_name,
    open_user_raster,
    read_user_vector,
    user_raster_info,
)

if TYPE_CHECKING:
    from geopandas import GeoDataFrame
    from rasterio.io import DatasetReader, DatasetWriter


@contextlib.contextmanager
def atomic_path(dest: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``dest``; rename it onto ``dest`` if the block succeeds."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.stem}.", suffix=dest.suffix, dir=dest.parent)
    os.close(fd)
    os.unlink(tmp)  # drivers want to create the file themselves
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, dest)
    finally:
        for p in tmp_path.parent.glob(tmp_path.name + "*"):
            with contextlib.suppress(OSError):
                p.unlink()


# --------------------------------------------------------------------------- vectors


def read_vector(
    path: str | os.PathLike[str],
    *,
    layer: str | None = None,
    name: str | None = None,
    bbox: tuple[float, float, float, float] | None = None,
) -> GeoDataFrame:
    """Read a vector file into a GeoDataFrame, through :func:`geoeco.core.userdata.read_user_vector`
    (GeoParquet through pyarrow, the rest via pyogrio; the library's default limits)."""
    return read_user_vector(path, layer=layer, name=name, bbox=bbox)


_SHP_PARTS = (".shp", ".shx", ".dbf", ".prj", ".cpg", ".qix", ".sbn", ".sbx")


#: GeoPackage version geoeco writes. GDAL 3.8+ writes 1.4 by default, which GDAL up to 3.6
#: (Debian 12, QGIS 3.22-3.28 builds) reads with a warning ("may only be partially supported")
#: and whose R-tree triggers its validator does not know; 1.3 reads cleanly everywhere.
GPKG_VERSION = "1.3"


def write_vector(
    gdf: GeoDataFrame, path: str | os.PathLike[str], *, layer: str | None = None
) -> Path:
    """Write a GeoDataFrame atomically; the format follows the suffix (.gpkg, .shp, .parquet ...).

    * GeoPackage: the layer is ``layer`` or the file's stem; writing a further layer into an
      existing file copies it first, so readers see the old file or the new one.
    * Shapefile: written in UTF-8 (with a ``.cpg``) into a private folder beside ``path``, then
      every part is renamed into place.
    * GeoParquet: via pyarrow.
    """
    dest = Path(path)
    suffix = dest.suffix.lower()
    if suffix == ".shp":
        return _write_shapefile(gdf, dest)
    with atomic_path(dest) as tmp:
        if suffix in {".parquet", ".geoparquet"}:
            gdf.to_parquet(tmp, index=False)
        else:
            opts: dict[str, Any] = {}
            if suffix == ".gpkg":
                layer = layer or dest.stem
                if dest.exists():
                    import shutil

                    shutil.copyfile(dest, tmp)
                else:  # a new file: the version GDAL 3.6 reads without warnings
                    opts["dataset_options"] = {"VERSION": GPKG_VERSION}
            gdf.to_file(tmp, layer=layer, engine="pyogrio", **opts)
    return dest


def _write_shapefile(gdf: GeoDataFrame, dest: Path) -> Path:
    import shutil

    dest.parent.mkdir(parents=True, exist_ok=True)
    tmpdir = Path(tempfile.mkdtemp(prefix=f".{dest.stem}.", dir=dest.parent))
    try:
        tmp = tmpdir / f"{dest.stem}.shp"
        gdf.to_file(tmp, engine="pyogrio", encoding="UTF-8")
        for ext in _SHP_PARTS:
            part = tmp.with_suffix(ext)
            if part.exists():
                os.replace(part, dest.with_suffix(ext))
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
    return dest


# --------------------------------------------------------------------------- rasters


def _open(
    path: str | os.PathLike[str], name: str | None
) -> contextlib.AbstractContextManager[DatasetReader]:
    """The raster opened through the gate (:func:`geoeco.core.userdata.open_user_raster`)."""
    return open_user_raster(path, name=name)


def raster_info(path: str | os.PathLike[str], *, name: str | None = None) -> RasterInfo:
    """Metadata of a raster file (grid is ``None`` when the file has no CRS); see
    :func:`geoeco.core.userdata.user_raster_info`."""
    return user_raster_info(path, name=name)


def read_raster(
    path: str | os.PathLike[str],
    *,
    band: int | Sequence[int] = 1,
    window: tuple[int, int, int, int] | None = None,
    name: str | None = None,
    units: str | None = None,
) -> Raster:
    """Read one band (2-D) or several (3-D) of a raster, optionally a ``(row, col, h, w)`` window.

    Nodata and NaN are masked. The result carries the window's own grid.
    """
    with _open(path, name) as ds:
        if ds.crs is None:
            from .errors import CRSError

            raise CRSError(f"{display_name(path, name)}: raster has no CRS")
        win = Window(window[1], window[0], window[3], window[2]) if window else None
        data = ds.read(band, window=win, masked=True)
        t = ds.window_transform(win) if win is not None else ds.transform
        grid = Grid(t, data.shape[-1], data.shape[-2], ds.crs)
        bands = [band] if isinstance(band, int) else list(band)
        names = tuple(ds.descriptions[b - 1] or f"band{b}" for b in bands)
        if data.dtype.kind == "f":
            data = np.ma.masked_invalid(data)
        u = units or (ds.units[bands[0] - 1] or None)
        return Raster(
            data,
            grid,
            units=u,
            name=display_name(path, name),
            band_names=names if data.ndim == 3 else None,
        )


def write_raster(
    raster: Raster,
    path: str | os.PathLike[str],
    *,
    nodata: float | None = None,
    dtype: str | None = None,
    cog: bool = True,
    blocksize: int = 512,
    compress: str = "deflate",
    tags: dict[str, str] | None = None,
    colormap: dict[int, tuple[int, int, int, int]] | None = None,
    categories: Mapping[int, str] | None = None,
) -> Path:
    """Write a Raster atomically, as a COG by default (tiled, compressed, with overviews).

    Masked pixels are written as ``nodata`` (default: 0 for unsigned integers, -9999 for
    signed, NaN for floats). ``tags`` are dataset tags (geoeco writes its status and lineage
    there, :func:`geoeco.core.provenance.status_tags`); ``categories`` (code -> name) become
    band-1 metadata ``CLASS_<code>`` (:func:`category_tags`).
    """
    dtype = dtype or str(raster.dtype)
    if raster.units is None and colormap:
        raster = raster.with_array(raster.array, units="class")
    if nodata is None:
        kind = np.dtype(dtype).kind
        nodata = 0 if kind == "u" else (-9999 if kind == "i" else float("nan"))
    arr = raster.array
    data = np.ma.filled(arr.astype(dtype), nodata)
    if data.ndim == 2:
        data = data[np.newaxis]
    profile = {
        "driver": "GTiff",
        "width": raster.grid.width,
        "height": raster.grid.height,
        "count": data.shape[0],
        "dtype": dtype,
        "crs": raster.crs,
        "transform": raster.transform,
        "nodata": nodata,
        "compress": compress,
    }
    if cog:  # a scratch file: fast compression, the COG step compresses for keeps
        profile.update(_SCRATCH)
    elif dtype in ("float32", "float64"):
        profile["predictor"] = 1
    dest = Path(path)
    with atomic_path(dest) as tmp:
        plain = tmp.with_name(tmp.name + ".plain.tif") if cog else tmp
        with rasterio.open(
            plain,
            "w",
            **profile,
            tiled=True,
            blockxsize=blocksize,
            blockysize=blocksize,
            BIGTIFF="IF_SAFER",
        ) as dst:
            dst.write(data)
            if raster.units:
                for b in range(1, data.shape[0] + 1):
                    dst.set_band_unit(b, raster.units)
            if raster.band_names:
                for b, n in enumerate(raster.band_names, start=1):
                    dst.set_band_description(b, n)
            _describe(dst, tags, colormap if data.shape[0] == 1 and dtype == "uint8" else None)
            if categories:
                dst.update_tags(1, **category_tags(categories))
        if cog:
            _to_cog(plain, tmp, blocksize=blocksize, compress=compress)
    return dest


def category_tags(categories: Mapping[int, str]) -> dict[str, str]:
    """Band metadata naming the classes of a class raster: ``CLASS_<code>`` -> name.

    GeoTIFF keeps GDAL category names and raster attribute tables only in a side-car
    ``.aux.xml`` (checked with GDAL 3.6 and 3.10), which geoeco neither writes nor reads: a
    COG stays one self-contained file. Band metadata live in the file's own
    ``GDAL_METADATA`` tag, and ``gdalinfo`` lists them under the band.

    >>> category_tags({1: "优先保护单元 priority protection"})
    {'CLASS_1': '优先保护单元 priority protection'}
    """
    return {f"CLASS_{int(code)}": str(name) for code, name in sorted(categories.items())}


def _describe(
    ds: Any, tags: Mapping[str, str] | None, colormap: dict[int, tuple[int, int, int, int]] | None
) -> None:
    """Dataset tags and the colour table (band 1) of a raster being written."""
    if tags:
        ds.update_tags(**tags)
    if colormap:
        ds.write_colormap(1, colormap)


#: Threads GDAL compresses with in the COG driver (``NUM_THREADS``): every core. The blocks
#: and values are the same on any count.
COG_THREADS = "ALL_CPUS"
#: The plain GeoTIFF a COG is made from (deleted afterwards) is not compressed: the COG is the
#: same byte for byte, and the erosion run's LS and grade COGs took 0.51 s of CPU instead of
#: 0.70 s with DEFLATE level 1 (level 1 had replaced level 6: 0.4 s instead of 2.7 s for a
#: 65-Mpx class raster); the scratch file is as large as the values.
_SCRATCH = {"compress": "none"}
#: DEFLATE level of the COGs geoeco writes. Level 3 instead of GDAL's default 6: the COG step of
#: a 65-Mpx class raster takes 1.65 s instead of 4.4 s, for a file 9 % larger (14.6 vs 13.4 MB;
#: level 1: 1.4 s, 15 % larger). Every reader decodes any level.
COG_DEFLATE_LEVEL = 3


def _to_cog(src: Path, dst: Path, *, blocksize: int, compress: str) -> None:
    from rasterio.shutil import copy as rio_copy

    with rasterio.open(src) as ds:
        resampling = "NEAREST" if ds.dtypes[0] == "uint8" else "AVERAGE"
    rio_copy(
        src,
        dst,
        driver="COG",
        BLOCKSIZE=blocksize,
        COMPRESS=compress.upper(),
        OVERVIEW_RESAMPLING=resampling,
        **({"LEVEL": COG_DEFLATE_LEVEL} if compress.upper() == "DEFLATE" else {}),
        BIGTIFF="IF_SAFER",
        NUM_THREADS=COG_THREADS,
    )


def read_window_blocks(
    path: str | os.PathLike[str], *, size: int = 1024, name: str | None = None
) -> Iterator[tuple[tuple[int, int, int, int], Raster]]:
    """Yield ``(window, Raster)`` pairs covering a raster in blocks of at most ``size`` pixels."""
    info = raster_info(path, name=name)
    if info.grid is None:
        from .errors import CRSError

        raise CRSError(f"{display_name(path, name)}: raster has no CRS")
    for win in info.grid.blocks(size):
        yield win, read_raster(path, window=win, name=name)


class RasterWriter:
    """Write a raster window by window; on success it becomes a COG at ``path`` atomically.

    Use :func:`open_raster_writer`. Memory stays bounded by the window size.
    """

    def __init__(self, ds: DatasetWriter, grid: Grid, dtype: str, nodata: float) -> None:
        self._ds = ds
        self.grid = grid
        self.dtype = dtype
        self.nodata = nodata

    def write(self, window: tuple[int, int, int, int], values: np.ndarray) -> None:
        """Write masked/plain ``values`` (2-D or 3-D) at ``(row_off, col_off, height, width)``."""
        data = np.ma.filled(np.ma.asarray(values).astype(self.dtype), self.nodata)
        if data.ndim == 2:
            data = data[np.newaxis]
        self._ds.write(data, window=Window(window[1], window[0], window[3], window[2]))


@contextlib.contextmanager
def open_raster_writer(
    path: str | os.PathLike[str],
    grid: Grid,
    *,
    dtype: str = "float32",
    nodata: float | None = None,
    count: int = 1,
    units: str | None = None,
    band_names: Sequence[str] | None = None,
    tags: dict[str, str] | None = None,
    colormap: dict[int, tuple[int, int, int, int]] | None = None,
    categories: Mapping[int, str] | None = None,
    blocksize: int = 512,
    cog: bool = True,
) -> Iterator[RasterWriter]:
    """Context manager yielding a :class:`RasterWriter` for ``grid``; COG + rename on exit.

    A raster written with a colour map holds classes: its units say ``class`` unless given.
    ``tags``, ``categories``: as in :func:`write_raster`.
    """
    if units is None and colormap:
        units = "class"
    if nodata is None:
        kind = np.dtype(dtype).kind
        nodata = 0 if kind == "u" else (-9999 if kind == "i" else float("nan"))
    profile = {
        "driver": "GTiff",
        "width": grid.width,
        "height": grid.height,
        "count": count,
        "dtype": dtype,
        "crs": grid.crs,
        "transform": grid.transform,
        "nodata": nodata,
        "compress": "deflate",
        "tiled": True,
        "blockxsize": blocksize,
        "blockysize": blocksize,
        "BIGTIFF": "IF_SAFER",
    }
    if cog:
        profile.update(_SCRATCH)
    dest = Path(path)
    with atomic_path(dest) as tmp:
        plain = tmp.with_name(tmp.name + ".plain.tif") if cog else tmp
        with rasterio.open(plain, "w", **profile) as ds:
            yield RasterWriter(ds, grid, dtype, nodata)
            for b in range(1, count + 1):
                if units:
                    ds.set_band_unit(b, units)
                if band_names:
                    ds.set_band_description(b, band_names[b - 1])
            _describe(ds, tags, colormap if count == 1 and dtype == "uint8" else None)
            if categories:
                ds.update_tags(1, **category_tags(categories))
        if cog:
            _to_cog(plain, tmp, blocksize=blocksize, compress="deflate")


def write_geopackage(
    layers: dict[str, Any], path: str | os.PathLike[str], *, styles: dict[str, str] | None = None
) -> Path:
    """Write several layers (GeoDataFrames, or plain DataFrames as attribute tables) into one
    GeoPackage atomically: readers see the previous file or the complete new one.

    ``styles`` maps layer names to QGIS QML, stored as each layer's default style in the
    ``layer_styles`` table that QGIS reads.
    """
    import pyogrio

    dest = Path(path)
    with atomic_path(dest) as tmp:
        for i, (name, frame) in enumerate(layers.items()):
            # the file is created with its first layer: that is when the version is set
            opts = {"dataset_options": {"VERSION": GPKG_VERSION}} if i == 0 else {}
            if hasattr(frame, "geometry") and getattr(frame, "_geometry_column_name", None):
                frame.to_file(tmp, layer=name, engine="pyogrio", **opts)
            else:
                pyogrio.write_dataframe(frame, tmp, layer=name, driver="GPKG", **opts)
        if styles:
            _write_layer_styles(tmp, {k: v for k, v in styles.items() if k in layers})
    return dest


def _write_layer_styles(gpkg: Path, styles: dict[str, str]) -> None:
    """The ``layer_styles`` table as QGIS writes it: an attribute table listed in
    ``gpkg_contents`` (GDAL, and so QGIS, opens only listed tables by name) with QGIS's columns.
    """
    from datetime import UTC, datetime

    import pandas as pd
    import pyogrio

    now = datetime.now(UTC).replace(microsecond=0, tzinfo=None)
    rows = [
        {
            "f_table_catalog": "",
            "f_table_schema": "",
            "f_table_name": layer,
            "f_geometry_column": "geom",
            "styleName": f"geoeco {layer}",
            "styleQML": qml,
            "styleSLD": "",
            "useAsDefault": True,
            "description": "geoeco class colours",
            "owner": "",
            "ui": "",
            "update_time": now,
        }
        for layer, qml in styles.items()
    ]
    frame = pd.DataFrame(rows)
    pyogrio.write_dataframe(
        frame, gpkg, layer="layer_styles", driver="GPKG", layer_options={"FID": "id"}
    )


def write_table(frame: Any, path: str | os.PathLike[str], *, sheet: str = "table") -> Path:
    """Write a DataFrame as CSV (UTF-8 with BOM, so Excel shows Chinese) or XLSX, atomically."""
    dest = Path(path)
    with atomic_path(dest) as tmp:
        if dest.suffix.lower() == ".xlsx":
            with open(tmp, "wb") as f:
                frame.to_excel(f, index=False, sheet_name=sheet[:31], engine="openpyxl")
        else:
            frame.to_csv(tmp, index=False, encoding="utf-8-sig")
    return dest


def read_toml(path: str | os.PathLike[str], *, what: str) -> dict[str, Any]:
    """Parse a TOML file; :class:`~geoeco.core.errors.ManifestError` names the file (never its
    path).

    ``what`` says what the file is, e.g. ``"access lists"``.
    """
    import tomllib

    from .errors import ManifestError

    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ManifestError(f"{p.name}: cannot read {what} ({exc.strerror})") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ManifestError(f"{p.name}: {what} are not valid TOML ({exc})") from None
