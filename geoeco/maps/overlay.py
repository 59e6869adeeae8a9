"""Class rasters as image overlays that line up with a Web Mercator basemap (no folium here).

Leaflet places an ``ImageOverlay`` by projecting its two lat/lon corners to Web Mercator
(EPSG:3857) and stretching the image *linearly* between them. An image in any other projection
(a CGCS2000 lat/lon grid, Albers, Gauss–Krüger) is therefore misplaced by up to kilometres
(folium#1631, #2054). geoeco warps each raster to EPSG:3857 first, on a grid whose pixels are
the pixels of a Web Mercator zoom level (edges on multiples of the zoom's resolution from the
projection's origin), and hands Leaflet exactly that grid's bounds converted to lat/lon. Then
image pixel ``(r, c)`` is drawn where it belongs, to floating-point precision.

The image is a palette PNG (one byte per pixel, class colours from
:func:`geoeco.catalog.classes.get_table`, transparent nodata) written with :mod:`zlib`.

Examples
--------
>>> from affine import Affine
>>> from geoeco.core.raster import Grid
>>> g = mercator_grid((0.0, 0.0, 1000.0, 1000.0), "EPSG:3857", res=100.0)
>>> g.res[0] == zoom_resolution(11), g.bounds[0] % g.res[0] == 0.0
(True, True)
"""

from __future__ import annotations

import base64
import math
import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from affine import Affine
from pyproj import CRS, Transformer
from rasterio.warp import Resampling, reproject, transform_bounds

from geoeco.core.errors import InvalidInput
from geoeco.core.io import raster_info, read_window_blocks
from geoeco.core.raster import Grid, Raster

WEB_MERCATOR = CRS.from_epsg(3857)
#: Half the extent of the Web Mercator square (metres).
ORIGIN_SHIFT = math.pi * 6378137.0
MAX_ZOOM = 22


def zoom_resolution(zoom: int) -> float:
    """Metres per pixel of Web Mercator zoom level ``zoom`` (256-pixel tiles).

    >>> round(zoom_resolution(0), 4)
    156543.0339
    """
    return 2 * ORIGIN_SHIFT / (256 * 2.0**zoom)


def mercator_grid(
    bounds: tuple[float, float, float, float],
    crs: CRS | str | int,
    *,
    res: float,
    max_size: int = 2048,
) -> Grid:
    """A Web Mercator grid on zoom-level pixels covering ``bounds`` (given in ``crs``).

    The zoom is the one whose pixel size is nearest ``res`` (ground metres) stretched by
    Mercator's scale at the centre latitude, then coarsened until the grid fits
    ``max_size`` pixels on its long side. Bounds snap outward to that zoom's pixel edges.

    >>> g = mercator_grid((109.0, 38.0, 109.1, 38.1), "EPSG:4490", res=30.0)
    >>> g.crs.to_epsg(), g.res[0] == zoom_resolution(12)
    (3857, True)
    """
    src = CRS.from_user_input(crs)
    left, bottom, right, top = transform_bounds(src, WEB_MERCATOR, *bounds, densify_pts=21)
    lat = math.degrees(math.atan(math.sinh((bottom + top) / 2 / 6378137.0)))
    want = res / max(math.cos(math.radians(lat)), 1e-6)
    # the zoom whose pixel size is nearest the source's (within a factor of sqrt 2)
    zoom = min(MAX_ZOOM, max(0, round(math.log2(zoom_resolution(0) / want))))
    while True:
        r = zoom_resolution(zoom)
        x0 = math.floor((left + ORIGIN_SHIFT) / r + 1e-9)
        x1 = math.ceil((right + ORIGIN_SHIFT) / r - 1e-9)
        y0 = math.floor((ORIGIN_SHIFT - top) / r + 1e-9)  # rows counted from the top edge
        y1 = math.ceil((ORIGIN_SHIFT - bottom) / r - 1e-9)
        if max(x1 - x0, y1 - y0) <= max_size or zoom == 0:
            break
        zoom -= 1
    t = Affine(r, 0.0, x0 * r - ORIGIN_SHIFT, 0.0, -r, ORIGIN_SHIFT - y0 * r)
    return Grid(t, max(1, x1 - x0), max(1, y1 - y0), WEB_MERCATOR)


def latlon_bounds(grid: Grid) -> tuple[tuple[float, float], tuple[float, float]]:
    """``((south, west), (north, east))`` of a Web Mercator grid, as Leaflet wants them.

    >>> latlon_bounds(Grid(Affine(1, 0, 0, 0, -1, 0), 1, 1, 3857))[1]
    (0.0, 8.983152841195214e-06)
    """
    if grid.crs.to_epsg() != 3857:
        raise InvalidInput(f"expected a Web Mercator (EPSG:3857) grid, got {grid.crs.name}")
    tr = Transformer.from_crs(WEB_MERCATOR, "EPSG:4326", always_xy=True)
    left, bottom, right, top = grid.bounds
    (w, e), (s, n) = tr.transform([left, right], [bottom, top])
    return (float(s), float(w)), (float(n), float(e))


def warp_to_mercator(
    raster: Raster,
    *,
    max_size: int = 2048,
    resampling: str = "nearest",
    nodata: float = 0,
    grid: Grid | None = None,
) -> Raster:
    """Warp a single-band raster onto :func:`mercator_grid` (or ``grid``); ``nodata`` stays.

    >>> src = Raster.from_array(np.ones((4, 4), "uint8"), Grid(Affine(30, 0, 4e5, 0, -30, 4.2e6),
    ...                         4, 4, 4546), nodata=0)
    >>> int(warp_to_mercator(src).array.count()) > 0
    True
    """
    dst_grid = grid or mercator_grid(
        raster.grid.bounds, raster.crs, res=raster.grid.res[0], max_size=max_size
    )
    out = np.full(dst_grid.shape, nodata, dtype=raster.dtype)
    _warp_into(raster, dst_grid, out, resampling, nodata)
    return Raster.from_array(out, dst_grid, nodata=nodata, units=raster.units, name=raster.name)


def _warp_into(src: Raster, grid: Grid, out: np.ndarray, resampling: str, nodata: float) -> None:
    reproject(
        np.ma.filled(src.array, nodata),
        out,
        src_transform=src.transform,
        src_crs=src.crs,
        src_nodata=nodata,
        dst_transform=grid.transform,
        dst_crs=grid.crs,
        dst_nodata=nodata,
        init_dest_nodata=False,
        resampling=Resampling[resampling],
        tolerance=0.0,  # exact transformer: no approximation error at pixel edges
    )


def warp_file_to_mercator(
    path: str | Path, *, max_size: int = 2048, nodata: float = 0, name: str | None = None
) -> Raster:
    """:func:`warp_to_mercator` of a raster file, read block by block (bounded memory).

    Float rasters keep NaN as nodata; integer rasters use ``nodata`` (0 for class rasters).
    """
    info = raster_info(path, name=name)
    if info.grid is None:
        raise InvalidInput(f"{name or Path(path).name}: raster has no CRS")
    grid = mercator_grid(info.grid.bounds, info.grid.crs, res=info.grid.res[0], max_size=max_size)
    is_float = np.dtype(info.dtype).kind == "f"
    fill = np.nan if is_float else nodata
    out = np.full(grid.shape, fill, dtype=info.dtype)
    for _, block in read_window_blocks(path, size=2048, name=name):
        _warp_into(block, grid, out, "nearest", fill)
    return Raster.from_array(out, grid, nodata=None if is_float else nodata, name=name)


# ------------------------------------------------------------------------------ PNG


def _chunk(tag: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))


def palette_png(codes: np.ndarray, palette: Sequence[tuple[int, int, int, int]]) -> bytes:
    """Encode uint8 ``codes`` as an 8-bit palette PNG; ``palette[i]`` is code ``i``'s RGBA.

    >>> png = palette_png(np.array([[0, 1]], "uint8"), [(0, 0, 0, 0), (255, 0, 0, 255)])
    >>> png[:8] == b"\\x89PNG\\r\\n\\x1a\\n", len(png) < 120
    (True, True)
    """
    a = np.ascontiguousarray(codes, dtype=np.uint8)
    if a.ndim != 2 or not 1 <= len(palette) <= 256 or int(a.max(initial=0)) >= len(palette):
        raise InvalidInput(f"palette PNG needs 2-D codes below {len(palette)} colours")
    h, w = a.shape
    rows = np.zeros((h, w + 1), dtype=np.uint8)  # filter byte 0 per row
    rows[:, 1:] = a
    pal = np.asarray(palette, dtype=np.uint8).reshape(-1, 4)
    return b"".join(
        [
            b"\x89PNG\r\n\x1a\n",
            _chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 3, 0, 0, 0)),
            _chunk(b"PLTE", pal[:, :3].tobytes()),
            _chunk(b"tRNS", pal[:, 3].tobytes()),
            _chunk(b"IDAT", zlib.compress(rows.tobytes(), 9)),
            _chunk(b"IEND", b""),
        ]
    )


def hex_rgba(colour: str, alpha: int = 255) -> tuple[int, int, int, int]:
    """``'#rrggbb'`` -> ``(r, g, b, alpha)``.

    >>> hex_rgba("#1b7837")
    (27, 120, 55, 255)
    """
    c = colour.lstrip("#")
    return (int(c[0:2], 16), int(c[2:4], 16), int(c[4:6], 16), alpha)


@dataclass(frozen=True)
class Overlay:
    """A PNG image and the lat/lon bounds Leaflet must stretch it over."""

    png: bytes
    bounds: tuple[tuple[float, float], tuple[float, float]]
    grid: Grid

    @property
    def data_url(self) -> str:
        """The image as a ``data:image/png;base64,...`` URL for a standalone page."""
        return "data:image/png;base64," + base64.b64encode(self.png).decode("ascii")


def class_overlay(
    codes: Raster, colours: dict[int, str], *, alpha: int = 255, max_size: int = 2048
) -> Overlay:
    """Warp a class raster (0 = nodata) to Web Mercator and colour it by ``colours``.

    Codes may be any uint8 values (e.g. LXBM 11..25); those without a colour are transparent.

    >>> g = Grid(Affine(30, 0, 4e5, 0, -30, 4.2e6), 2, 2, 4546)
    >>> ov = class_overlay(Raster.from_array(np.array([[1, 2], [2, 0]], "uint8"), g, nodata=0),
    ...                    {1: "#ff0000", 2: "#00ff00"})
    >>> ov.grid.crs.to_epsg(), ov.bounds[0][0] < ov.bounds[1][0]
    (3857, True)
    """
    merc = codes if codes.crs.to_epsg() == 3857 else warp_to_mercator(codes, max_size=max_size)
    arr = np.ma.filled(merc.array, 0).astype(np.int64)
    keys = sorted(colours)
    lut = np.zeros(256, dtype=np.uint8)
    palette: list[tuple[int, int, int, int]] = [(0, 0, 0, 0)]
    for i, k in enumerate(keys, start=1):
        if not 0 < k < 256:
            raise InvalidInput(f"class codes must be 1..255, got {k}")
        lut[k] = i
        palette.append(hex_rgba(colours[k], alpha))
    idx = lut[np.clip(arr, 0, 255)]
    return Overlay(palette_png(idx, palette), latlon_bounds(merc.grid), merc.grid)


def ramp_overlay(
    values: Raster,
    low: str,
    high: str,
    *,
    vmin: float = 0.0,
    vmax: float = 1.0,
    steps: int = 32,
    alpha: int = 255,
    max_size: int = 2048,
) -> Overlay:
    """Warp a continuous raster and colour it on a ``steps``-colour ramp from ``low`` to ``high``.

    >>> g = Grid(Affine(30, 0, 4e5, 0, -30, 4.2e6), 2, 1, 4546)
    >>> ov = ramp_overlay(Raster.from_array(np.array([[0.0, 1.0]], "float32"), g), "#000000",
    ...                   "#ffffff", steps=2)
    >>> ov.png[:4] == b"\\x89PNG"
    True
    """
    merc = (
        values
        if values.crs.to_epsg() == 3857
        else warp_to_mercator(values, max_size=max_size, nodata=np.nan)
    )
    v = np.ma.filled(merc.array.astype(np.float64), np.nan)
    t = np.clip((v - vmin) / max(vmax - vmin, 1e-12), 0.0, 1.0)
    with np.errstate(invalid="ignore"):
        idx = np.where(np.isnan(v), 0, 1 + np.minimum((t * steps).astype(np.int64), steps - 1))
    lo, hi = np.array(hex_rgba(low, alpha), float), np.array(hex_rgba(high, alpha), float)
    palette = [(0, 0, 0, 0)] + [_rgba(lo + (hi - lo) * (i + 0.5) / steps) for i in range(steps)]
    return Overlay(
        palette_png(idx.astype(np.uint8), palette),
        latlon_bounds(merc.grid),
        merc.grid,
    )


def _rgba(c: np.ndarray) -> tuple[int, int, int, int]:
    """An RGBA colour (four 0–255 floats) rounded to integers."""
    r, g, b, a = (int(round(x)) for x in c)
    return r, g, b, a


__all__ = [
    "ORIGIN_SHIFT",
    "WEB_MERCATOR",
    "Overlay",
    "class_overlay",
    "hex_rgba",
    "latlon_bounds",
    "mercator_grid",
    "palette_png",
    "ramp_overlay",
    "warp_file_to_mercator",
    "warp_to_mercator",
    "zoom_resolution",
]
