"""Web Mercator map tiles of a raster file, as 256×256 RGBA PNG bytes.

A tile ``z/x/y`` (XYZ scheme, y down from the north, EPSG:3857) is read through a rasterio
``WarpedVRT`` onto the tile's own grid (``nearest`` for class rasters, ``bilinear`` for
continuous ones). When the tile covers many source pixels per tile pixel (more than
:data:`MAX_WARP_DECIMATION` across), the source window is first read decimated to at most twice
the tile's size (GDAL uses the file's overviews when it has them) and warped from memory: a
low-zoom tile of a large raster then costs a bounded array plus GDAL's shared block cache, not
the whole source window at full resolution. Tiles are coloured by a class legend (code ->
``#rrggbb``) or by a named colour ramp over a value range, with nodata, NaN and codes without a
colour fully transparent, and encoded by a small zlib PNG writer. A tile that does not touch
the raster is ``None`` (:func:`render_tile`); :data:`EMPTY_TILE` is the transparent tile a
server can send instead.

Colour ramps are defined by a few evenly spaced stops and interpolated linearly to 256 entries.
The stop colours of ``viridis`` are the published matplotlib values sampled at 0, 1/8, ..., 1;
the others are ColorBrewer sequential schemes.

Examples
--------
>>> tile_bounds(0, 0, 0) == (-HALF_WORLD, -HALF_WORLD, HALF_WORLD, HALF_WORLD)
True
>>> [round(v) for v in tile_bounds(1, 1, 0)]
[0, 0, 20037508, 20037508]
>>> ramp("greys")[[0, 255], :3].tolist()
[[255, 255, 255], [0, 0, 0]]
>>> png = encode_png(np.zeros((2, 3, 4), np.uint8))
>>> png[:8] == b"\\x89PNG\\r\\n\\x1a\\n", len(png) > 50
(True, True)
"""

from __future__ import annotations

import math
import struct
import zlib
from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from affine import Affine
from rasterio.crs import CRS
from rasterio.enums import Resampling
from rasterio.transform import from_bounds
from rasterio.vrt import WarpedVRT
from rasterio.warp import reproject, transform_bounds
from rasterio.windows import Window
from rasterio.windows import from_bounds as window_from_bounds

from geoeco.catalog.layers import LayerSpec
from geoeco.core.errors import InvalidInput
from geoeco.core.userdata import open_user_raster

#: A tile's bounds in EPSG:3857: (left, bottom, right, top). Datasets (``ds``) are rasterio's,
#: which has no type information.
Bounds = tuple[float, float, float, float]

#: Half the side of the Web Mercator square (metres): the world spans ±HALF_WORLD.
HALF_WORLD = 20037508.342789244
WEB_MERCATOR = CRS.from_epsg(3857)
TILE_SIZE = 256
MAX_ZOOM = 24
#: Source pixels per tile pixel (across) above which a tile is read decimated, then warped.
MAX_WARP_DECIMATION = 2.0

#: Colour ramps: evenly spaced stops, interpolated linearly.
RAMPS: dict[str, tuple[str, ...]] = {
    "viridis": (
        "#440154",
        "#46327e",
        "#365c8d",
        "#277f8e",
        "#1fa187",
        "#4ac16d",
        "#a0da39",
        "#fde725",
    ),
    "greys": ("#ffffff", "#000000"),
    "greens": ("#f7fcf5", "#c7e9c0", "#74c476", "#238b45", "#00441b"),
    "blues": ("#f7fbff", "#c6dbef", "#6baed6", "#2171b5", "#08306b"),
    "ylorbr": ("#ffffe5", "#fee391", "#fe9929", "#cc4c02", "#662506"),
    "ylgn": ("#ffffe5", "#d9f0a3", "#78c679", "#238443", "#004529"),
    "rdylgn": ("#a50026", "#f46d43", "#fee08b", "#d9ef8b", "#66bd63", "#006837"),
    "terrain": ("#333399", "#0294fa", "#24d36d", "#b6f08a", "#dbc67f", "#93705f", "#ffffff"),
}
DEFAULT_RAMP = "viridis"

#: A fully transparent 256×256 tile.
EMPTY_TILE_ARRAY = np.zeros((TILE_SIZE, TILE_SIZE, 4), np.uint8)


def _hex_rgb(colour: str) -> tuple[int, int, int]:
    c = colour.lstrip("#")
    if len(c) != 6:
        raise InvalidInput(f"colour must be '#rrggbb', got {colour!r}")
    try:
        return int(c[0:2], 16), int(c[2:4], 16), int(c[4:6], 16)
    except ValueError:
        raise InvalidInput(f"colour must be '#rrggbb', got {colour!r}") from None


def tile_bounds(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    """Bounds ``(minx, miny, maxx, maxy)`` of XYZ tile ``z/x/y`` in EPSG:3857 metres."""
    check_tile(z, x, y)
    size = 2 * HALF_WORLD / (1 << z)
    minx = -HALF_WORLD + x * size
    maxy = HALF_WORLD - y * size
    return minx, maxy - size, minx + size, maxy


def check_tile(z: int, x: int, y: int) -> None:
    """Raise :class:`InvalidInput` unless ``0 <= z <= MAX_ZOOM`` and ``0 <= x, y < 2**z``."""
    if not 0 <= z <= MAX_ZOOM:
        raise InvalidInput(f"zoom must be between 0 and {MAX_ZOOM}, got {z}")
    n = 1 << z
    if not (0 <= x < n and 0 <= y < n):
        raise InvalidInput(f"tile {z}/{x}/{y} does not exist: x and y must be in [0, {n - 1}]")


@lru_cache(maxsize=32)
def ramp(name: str) -> np.ndarray:
    """The 256×4 uint8 RGBA lookup table of colour ramp ``name`` (append ``_r`` to reverse)."""
    base, rev = (name[:-2], True) if name.endswith("_r") else (name, False)
    if base not in RAMPS:
        raise InvalidInput(f"unknown colour map {name!r}; known: {', '.join(sorted(RAMPS))}")
    stops = np.array([_hex_rgb(c) for c in RAMPS[base]], dtype=float)
    if rev:
        stops = stops[::-1]
    pos = np.linspace(0.0, 1.0, len(stops))
    t = np.linspace(0.0, 1.0, 256)
    lut = np.empty((256, 4), np.uint8)
    for k in range(3):
        lut[:, k] = np.rint(np.interp(t, pos, stops[:, k]))
    lut[:, 3] = 255
    lut.flags.writeable = False
    return lut


def colour_classes(values: np.ndarray, legend: Mapping[int, str]) -> np.ndarray:
    """RGBA image of class codes: each code its legend colour, other values transparent.

    ``values`` may be masked; masked cells, NaN and codes missing from ``legend`` get alpha 0.

    >>> colour_classes(np.array([[1, 2, 9]]), {1: "#ff0000", 2: "#00ff00"})[0, :, :].tolist()
    [[255, 0, 0, 255], [0, 255, 0, 255], [0, 0, 0, 0]]
    """
    data = np.ma.getdata(values)
    valid = ~np.ma.getmaskarray(values)
    out = np.zeros((*data.shape, 4), np.uint8)
    if not legend:
        return out
    codes = np.array(sorted(legend), dtype=np.int64)
    lut = np.array([(*_hex_rgb(legend[int(c)]), 255) for c in codes], np.uint8)
    if np.issubdtype(data.dtype, np.floating):
        valid &= np.isfinite(data)
        ints = np.where(valid, data, 0).astype(np.int64)
        valid &= ints == np.where(valid, data, 0)
    else:
        ints = data.astype(np.int64)
    idx = np.clip(np.searchsorted(codes, ints), 0, len(codes) - 1)
    hit = valid & (codes[idx] == ints)
    out[hit] = lut[idx[hit]]
    return out


def colour_continuous(
    values: np.ndarray, lo: float, hi: float, colormap: str = DEFAULT_RAMP
) -> np.ndarray:
    """RGBA image of values rescaled linearly from ``[lo, hi]`` onto ramp ``colormap``.

    Values outside the range take the end colours; masked cells and NaN are transparent.

    >>> img = colour_continuous(np.array([[0.0, 5.0, 10.0, np.nan]]), 0, 10, "greys")
    >>> img[0, :, 0].tolist(), img[0, :, 3].tolist()
    ([255, 127, 0, 0], [255, 255, 255, 0])
    """
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        raise InvalidInput(f"rescale needs two finite numbers min < max, got {lo}, {hi}")
    data = np.ma.getdata(values).astype(np.float64, copy=False)
    valid = ~np.ma.getmaskarray(values) & np.isfinite(data)
    t = np.clip((np.where(valid, data, lo) - lo) / (hi - lo), 0.0, 1.0)
    out = ramp(colormap)[np.rint(t * 255).astype(np.intp)]
    out[~valid] = 0
    return out


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def encode_png(rgba: np.ndarray, *, level: int = 6) -> bytes:
    """PNG bytes of an ``(h, w, 4)`` uint8 RGBA image (8-bit, no interlace, filter 0)."""
    if rgba.ndim != 3 or rgba.shape[2] != 4 or rgba.dtype != np.uint8:
        raise InvalidInput(f"need an (h, w, 4) uint8 image, got {rgba.shape} {rgba.dtype}")
    h, w = rgba.shape[:2]
    raw = np.zeros((h, w * 4 + 1), np.uint8)  # a 0 filter byte before each row
    raw[:, 1:] = rgba.reshape(h, w * 4)
    header = struct.pack(">IIBBBBB", w, h, 8, 6, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(raw.tobytes(), level))
        + _chunk(b"IEND", b"")
    )


#: PNG bytes of a fully transparent 256×256 tile.
EMPTY_TILE = encode_png(EMPTY_TILE_ARRAY)


def _open(path: Path, name: str | None) -> Any:
    """The raster opened through :func:`geoeco.core.userdata.open_user_raster` (the one gate)."""
    return open_user_raster(path, name=name)


def _mtime(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return 0


@lru_cache(maxsize=128)
def _range_cached(path: str, mtime: int, band: int) -> tuple[float, float]:
    del mtime  # cache key only
    with _open(Path(path), None) as ds:
        scale = max(1, math.ceil(max(ds.width, ds.height) / 1024))
        shape = (max(1, ds.height // scale), max(1, ds.width // scale))
        arr = ds.read(band, out_shape=shape, masked=True, resampling=Resampling.nearest)
    vals = np.ma.compressed(arr).astype(np.float64)
    vals = vals[np.isfinite(vals)]
    if vals.size == 0:
        return 0.0, 1.0
    lo, hi = (float(v) for v in np.percentile(vals, [2, 98]))
    if hi <= lo:
        lo, hi = float(vals.min()), float(vals.max())
    if hi <= lo:
        hi = lo + 1.0
    return lo, hi


def value_range(path: str | Path, *, band: int = 1) -> tuple[float, float]:
    """Default rescale range of a band: its 2nd and 98th percentiles (on a ≤1024² overview).

    Cached per file and modification time, so every tile of a layer uses the same range.
    """
    p = Path(path)
    return _range_cached(str(p), _mtime(p), band)


def _overlaps(ds: Any, bounds: tuple[float, float, float, float]) -> bool:
    if ds.crs is None:
        raise InvalidInput("raster has no CRS; tiles need a georeferenced raster")
    lim = 85.06
    left, bottom, right, top = transform_bounds(ds.crs, "EPSG:4326", *ds.bounds, densify_pts=21)
    bottom, top = max(bottom, -lim), min(top, lim)
    if bottom >= top:
        return False
    mx0, my0, mx1, my1 = transform_bounds("EPSG:4326", WEB_MERCATOR, left, bottom, right, top)
    x0, y0, x1, y1 = bounds
    return bool(mx0 < x1 and mx1 > x0 and my0 < y1 and my1 > y0)


def read_tile(
    path: str | Path,
    z: int,
    x: int,
    y: int,
    *,
    band: int = 1,
    resampling: str = "nearest",
    nodata: float | None = None,
    name: str | None = None,
    size: int = TILE_SIZE,
) -> np.ma.MaskedArray | None:
    """Values of ``band`` on the grid of tile ``z/x/y`` (masked where no data), or ``None``.

    ``nodata`` overrides the file's nodata value. ``None`` means the tile misses the raster.
    """
    bounds = tile_bounds(z, x, y)
    p = Path(path)
    try:
        rs = Resampling[resampling]
    except KeyError:
        raise InvalidInput(f"unknown resampling {resampling!r}") from None
    with _open(p, name) as ds:
        if not 1 <= band <= ds.count:
            raise InvalidInput(f"band must be between 1 and {ds.count}, got {band}")
        if not _overlaps(ds, bounds):
            return None
        src_nodata = nodata if nodata is not None else ds.nodata
        win = _source_window(ds, bounds)
        if max(win.width, win.height) > MAX_WARP_DECIMATION * size:
            arr = _read_decimated(ds, win, band, bounds, size, rs, src_nodata)
        else:
            arr = _read_warped(ds, band, bounds, size, rs, src_nodata)
    if np.issubdtype(arr.dtype, np.floating):
        arr = np.ma.masked_invalid(arr)
    return arr


def _source_window(ds: Any, bounds: tuple[float, float, float, float]) -> Window:
    """The window of ``ds`` (its pixels) that tile ``bounds`` (EPSG:3857) covers, clipped."""
    full = Window(0, 0, ds.width, ds.height)
    try:
        b = transform_bounds(WEB_MERCATOR, ds.crs, *bounds, densify_pts=21)
    except Exception:  # a CRS that cannot hold the whole tile: assume the tile covers all
        return full
    if not all(math.isfinite(v) for v in b):
        return full
    win = window_from_bounds(*b, transform=ds.transform).round_offsets(op="floor")
    win = win.round_lengths(op="ceil")
    try:
        return win.intersection(full)
    except Exception:  # rasterio raises when the windows do not intersect
        return Window(0, 0, 0, 0)


def _read_warped(
    ds: Any, band: int, bounds: Bounds, size: int, rs: Resampling, src_nodata: float | None
) -> np.ma.MaskedArray:
    kw: dict[str, object] = {
        "crs": WEB_MERCATOR,
        "transform": from_bounds(*bounds, size, size),
        "width": size,
        "height": size,
        "resampling": rs,
    }
    if src_nodata is not None:
        kw.update(src_nodata=src_nodata, nodata=src_nodata)
    else:
        kw["add_alpha"] = True
    with WarpedVRT(ds, **kw) as vrt:
        if src_nodata is not None:
            masked: np.ma.MaskedArray = vrt.read(band, masked=True)
            return masked
        data = vrt.read(band)
        alpha = vrt.read(vrt.count)
        return np.ma.MaskedArray(data, mask=alpha == 0)


def _read_decimated(
    ds: Any,
    win: Window,
    band: int,
    bounds: Bounds,
    size: int,
    rs: Resampling,
    src_nodata: float | None,
) -> np.ma.MaskedArray:
    """Read ``win`` at most ``2 * size`` pixels across, then warp that array onto the tile.

    Values are warped as float64 with NaN for masked pixels (exact for integer classes under
    ``nearest``, which then get their own type back; ``bilinear`` leaves NaN out of its
    kernel and gives float64).
    """
    if win.width < 1 or win.height < 1:
        return np.ma.masked_array(np.zeros((size, size)), mask=True)
    scale = max(win.width, win.height) / (2 * size)
    out_h, out_w = max(1, math.ceil(win.height / scale)), max(1, math.ceil(win.width / scale))
    if src_nodata is not None:
        data = ds.read(band, window=win, out_shape=(out_h, out_w), resampling=rs)
        src = np.where(data == src_nodata, np.nan, data.astype(np.float64))
    else:
        data = ds.read(band, window=win, out_shape=(out_h, out_w), resampling=rs, masked=True)
        src = np.ma.filled(data.astype(np.float64), np.nan)
    src_transform = ds.window_transform(win) * Affine.scale(win.width / out_w, win.height / out_h)
    dst = np.full((size, size), np.nan, np.float64)
    reproject(
        src,
        dst,
        src_transform=src_transform,
        src_crs=ds.crs,
        src_nodata=np.nan,
        dst_transform=from_bounds(*bounds, size, size),
        dst_crs=WEB_MERCATOR,
        dst_nodata=np.nan,
        resampling=rs,
    )
    out = np.ma.masked_invalid(dst)
    dtype = np.dtype(ds.dtypes[band - 1])
    if rs == Resampling.nearest and dtype.kind in "iub":  # classes keep their integer type
        return np.ma.MaskedArray(np.where(out.mask, 0, dst).astype(dtype), mask=out.mask)
    return out


def render_tile(
    path: str | Path,
    z: int,
    x: int,
    y: int,
    *,
    legend: Mapping[int, str] | None = None,
    colormap: str | None = None,
    rescale: Sequence[float] | None = None,
    band: int = 1,
    nodata: float | None = None,
    resampling: str | None = None,
    name: str | None = None,
) -> bytes | None:
    """PNG bytes of tile ``z/x/y`` of a raster file, or ``None`` when the tile misses it.

    Parameters
    ----------
    path : path of the raster (any CRS).
    z, x, y : XYZ tile indices (Web Mercator, y from the north).
    legend : mapping code -> ``#rrggbb``, optional
        Colour class codes (read with ``nearest``); without it values are continuous.
    colormap : str, optional
        A name from :data:`RAMPS` (``_r`` reverses it); forces continuous colouring even when
        ``legend`` is given. Default ``viridis``.
    rescale : (min, max), optional
        Value range mapped onto the ramp; default :func:`value_range` of the band.
    band, nodata, resampling, name :
        Band to draw; nodata override; ``nearest``/``bilinear``/... (default ``nearest`` with a
        legend, ``bilinear`` otherwise); the name used in error messages.

    Examples
    --------
    >>> import tempfile, rasterio
    >>> from rasterio.transform import from_origin
    >>> d = Path(tempfile.mkdtemp())
    >>> with rasterio.open(d / "c.tif", "w", driver="GTiff", width=4, height=4, count=1,
    ...         dtype="uint8", crs="EPSG:4326", nodata=0,
    ...         transform=from_origin(-180, 85, 90, 42.5)) as ds:
    ...     ds.write(np.full((1, 4, 4), 2, np.uint8))
    >>> png = render_tile(d / "c.tif", 0, 0, 0, legend={2: "#00ff00"})
    >>> png[:4] == b"\\x89PNG"
    True
    """
    categorical = legend is not None and colormap is None
    rs = resampling or ("nearest" if categorical else "bilinear")
    arr = read_tile(path, z, x, y, band=band, resampling=rs, nodata=nodata, name=name)
    if arr is None:
        return None
    if categorical:
        assert legend is not None
        rgba = colour_classes(arr, legend)
    else:
        if rescale is None:
            lo, hi = value_range(path, band=band)
        else:
            if len(rescale) != 2:
                raise InvalidInput(f"rescale needs 2 numbers (min, max), got {len(rescale)}")
            lo, hi = float(rescale[0]), float(rescale[1])
        rgba = colour_continuous(arr, lo, hi, colormap or DEFAULT_RAMP)
    return encode_png(rgba)


def layer_tile(
    spec: LayerSpec,
    z: int,
    x: int,
    y: int,
    *,
    cache_dir: str | Path | None = None,
    colormap: str | None = None,
    rescale: Sequence[float] | None = None,
    band: int = 1,
) -> bytes | None:
    """PNG tile of a raster layer: its legend colours if categorical, else a colour ramp.

    The ramp is ``colormap``, else the manifest's ``attributes.colormap``, else ``viridis``;
    a ``colormap`` given for a categorical layer draws its codes as continuous values.
    Generated layers are built into ``cache_dir`` first. ``None`` when the tile misses the layer.
    """
    from geoeco.catalog.sources import layer_raster_path

    from .features import legend

    check_tile(z, x, y)
    path = layer_raster_path(spec, cache_dir=cache_dir)
    classes = {int(c["code"]): str(c["colour"]) for c in legend(spec)}
    default_ramp = spec.attributes.get("colormap")
    return render_tile(
        path,
        z,
        x,
        y,
        legend=classes or None,
        colormap=colormap or (None if classes else default_ramp),
        rescale=rescale,
        band=band,
        nodata=spec.nodata,
        name=spec.id,
    )


__all__ = [
    "DEFAULT_RAMP",
    "EMPTY_TILE",
    "HALF_WORLD",
    "MAX_ZOOM",
    "RAMPS",
    "MAX_WARP_DECIMATION",
    "TILE_SIZE",
    "check_tile",
    "colour_classes",
    "colour_continuous",
    "encode_png",
    "layer_tile",
    "ramp",
    "read_tile",
    "render_tile",
    "tile_bounds",
    "value_range",
]
