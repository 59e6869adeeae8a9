"""geoeco.service.tiles: tile maths, colouring, PNG encoding, and tiles checked against the source.

Expected tile pixels are worked out independently of geoeco.service.tiles: tile bounds from the
XYZ formulas (side = 2πR / 2^z, R = 6378137 m), pixel centres converted to lon-lat with
pyproj, source values read at those lon-lats with plain rasterio indexing, and the PNGs
decoded by GDAL's PNG driver (``rasterio.MemoryFile``), not by our encoder.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
import pytest
import rasterio
from pyproj import Transformer
from rasterio.errors import NotGeoreferencedWarning
from rasterio.io import MemoryFile
from rasterio.transform import from_origin

from geoeco.catalog.classes import get_table
from geoeco.catalog.layers import LayerSpec
from geoeco.core.errors import DataSourceError, InvalidInput
from geoeco.service.tiles import (
    EMPTY_TILE,
    HALF_WORLD,
    colour_classes,
    colour_continuous,
    encode_png,
    layer_tile,
    ramp,
    render_tile,
    tile_bounds,
    value_range,
)

R = 6378137.0
ORIGIN, RES, N = (105.0, 36.0), 0.01, 200


def decode(png: bytes) -> np.ndarray:
    """RGBA (h, w, 4) via GDAL's PNG driver."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with MemoryFile(png) as mf, mf.open() as ds:
            assert ds.count == 4
            return np.moveaxis(ds.read(), 0, -1)


def xyz_for(lon: float, lat: float, z: int) -> tuple[int, int]:
    """Standard slippy-map tile indices of a lon-lat point."""
    n = 2**z
    x = int((lon + 180.0) / 360.0 * n)
    y = int((1.0 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2.0 * n)
    return x, y


def pixel_lonlat(z: int, x: int, y: int) -> tuple[np.ndarray, np.ndarray]:
    """Lon-lat of the 256 × 256 pixel centres of a tile (independent of geoeco.service.tiles)."""
    side = 2 * math.pi * R / 2**z
    minx, maxy = -math.pi * R + x * side, math.pi * R - y * side
    j, i = np.meshgrid(np.arange(256), np.arange(256))
    mx = minx + (j + 0.5) * side / 256
    my = maxy - (i + 0.5) * side / 256
    lon, lat = Transformer.from_crs(3857, 4490, always_xy=True).transform(mx, my)
    return np.asarray(lon), np.asarray(lat)


def source_lookup(path: Path, lon: np.ndarray, lat: np.ndarray):  # type: ignore[no-untyped-def]
    """Source value at each lon-lat, and whether the point is well inside a source pixel."""
    with rasterio.open(path) as ds:
        data = ds.read(1)
        t = ds.transform
    fc = (lon - t.c) / t.a
    fr = (lat - t.f) / t.e
    inside = (fc >= 0) & (fc < N) & (fr >= 0) & (fr < N)
    central = inside & (np.abs(fc % 1 - 0.5) < 0.3) & (np.abs(fr % 1 - 0.5) < 0.3)
    r = np.clip(np.floor(fr).astype(int), 0, N - 1)
    c = np.clip(np.floor(fc).astype(int), 0, N - 1)
    return data[r, c], inside, central


def write(path: Path, data: np.ndarray, nodata: float | None, crs: str = "EPSG:4490") -> Path:
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=data.shape[1],
        height=data.shape[0],
        count=1,
        dtype=data.dtype.name,
        crs=crs,
        transform=from_origin(ORIGIN[0], ORIGIN[1], RES, RES),
        nodata=nodata,
    ) as ds:
        ds.write(data, 1)
    return path


@pytest.fixture
def classes_tif(tmp_path: Path) -> Path:
    """20-pixel blocks of codes (block_row + block_col) % 6 on 105–107 °E, 34–36 °N; 0 = nodata."""
    r, c = np.indices((N, N)) // 20
    return write(tmp_path / "classes.tif", ((r + c) % 6).astype(np.uint8), 0)


@pytest.fixture
def grad_tif(tmp_path: Path) -> Path:
    """value = (lon - 105) / 2 at pixel centres; the 20 southern rows are nodata (-9999)."""
    lon = ORIGIN[0] + (np.arange(N) + 0.5) * RES
    v = np.broadcast_to((lon - 105) / 2, (N, N)).astype(np.float32).copy()
    v[-20:] = -9999
    return write(tmp_path / "grad.tif", v, -9999.0)


def test_tile_bounds_by_hand() -> None:
    # z=2 tiles are HALF_WORLD/2 wide; x=3 is the east-most column, y=1 the second row.
    h = HALF_WORLD
    assert tile_bounds(2, 3, 1) == pytest.approx((h / 2, 0.0, h, h / 2))
    assert HALF_WORLD == pytest.approx(math.pi * R)
    assert tile_bounds(0, 0, 0) == pytest.approx((-h, -h, h, h))


@pytest.mark.parametrize(("z", "x", "y"), [(-1, 0, 0), (25, 0, 0), (2, 4, 0), (2, 0, -1)])
def test_tile_indices_checked(z: int, x: int, y: int) -> None:
    with pytest.raises(InvalidInput):
        tile_bounds(z, x, y)


def test_ramps() -> None:
    # viridis ends are matplotlib's #440154 and #fde725.
    assert ramp("viridis")[0, :3].tolist() == [0x44, 0x01, 0x54]
    assert ramp("viridis")[255, :3].tolist() == [0xFD, 0xE7, 0x25]
    assert ramp("greys_r")[0, :3].tolist() == [0, 0, 0]
    assert (ramp("greens")[:, 3] == 255).all()
    with pytest.raises(InvalidInput, match="unknown colour map"):
        ramp("nope")


def test_colour_classes_masks_and_unknown_codes() -> None:
    vals = np.ma.MaskedArray([[1.0, 2.0, 2.5, np.nan, 3.0]], mask=[[0, 0, 0, 0, 1]])
    img = colour_classes(vals, {1: "#010203", 2: "#ffffff", 3: "#000000"})
    assert img[0, 0].tolist() == [1, 2, 3, 255]
    assert img[0, 1].tolist() == [255, 255, 255, 255]
    assert img[0, 2:, 3].tolist() == [0, 0, 0]  # 2.5 is no code, NaN, masked


def test_colour_continuous_rescales_and_clips() -> None:
    # greys: value v in [0, 10] -> index rint(v/10*255) -> grey 255 - index.
    img = colour_continuous(np.array([[-5.0, 0.0, 2.0, 10.0, 20.0]]), 0, 10, "greys")
    assert img[0, :, 0].tolist() == [255, 255, 255 - 51, 0, 0]
    with pytest.raises(InvalidInput):
        colour_continuous(np.zeros((1, 1)), 1, 1)


def test_png_decodes_with_gdal() -> None:
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (7, 5, 4), dtype=np.uint8)
    assert (decode(encode_png(img)) == img).all()
    assert (decode(EMPTY_TILE) == 0).all()
    assert decode(EMPTY_TILE).shape == (256, 256, 4)


def test_categorical_tile_matches_source(classes_tif: Path) -> None:
    legend = {
        code: colour for code, _, _, colour in get_table("EcoZoning-interim/sanding").legend()
    }
    z = 8
    x, y = xyz_for(105.5, 35.5, z)
    png = render_tile(classes_tif, z, x, y, legend=legend)
    assert png is not None
    img = decode(png)
    lon, lat = pixel_lonlat(z, x, y)
    codes, inside, central = source_lookup(classes_tif, lon, lat)
    assert central.sum() > 5000  # plenty of unambiguous pixels
    for code in range(6):
        sel = central & (codes == code)
        assert sel.sum() > 100
        if code == 0:
            assert (img[sel][:, 3] == 0).all()
        else:
            rgb = [int(legend[code][k : k + 2], 16) for k in (1, 3, 5)]
            assert (img[sel][:, :3] == rgb).all() and (img[sel][:, 3] == 255).all()
    assert (img[~inside][:, 3] == 0).all()  # outside the raster: transparent


def test_continuous_tile_bilinear_matches_linear_ramp(grad_tif: Path) -> None:
    z = 8
    x, y = xyz_for(105.5, 35.5, z)
    img = decode(render_tile(grad_tif, z, x, y, colormap="greys", rescale=(0, 1)) or b"")
    lon, lat = pixel_lonlat(z, x, y)
    # bilinear interpolation of a linear function is exact away from edges and nodata
    ok = (lon > 105.02) & (lon < 106.98) & (lat > 34.25) & (lat < 35.98)
    assert ok.sum() > 10000
    expected = 255 - np.rint((lon[ok] - 105) / 2 * 255)
    assert np.abs(img[ok][:, 0].astype(int) - expected).max() <= 1
    assert (img[ok][:, 3] == 255).all()
    # the tile over the nodata strip (34.0-34.2 °N): transparent there, opaque just north
    x, y = xyz_for(105.5, 34.1, z)
    img = decode(render_tile(grad_tif, z, x, y, colormap="greys", rescale=(0, 1)) or b"")
    lon, lat = pixel_lonlat(z, x, y)
    east = (lon > 105.02) & (lon < 106.98)
    nod = (lat < 34.18) & (lat > 34.02) & east
    data = (lat > 34.22) & east
    assert nod.sum() > 100 and (img[nod][:, 3] == 0).all()
    assert data.sum() > 100 and (img[data][:, 3] == 255).all()


def test_tile_outside_is_none(classes_tif: Path) -> None:
    assert render_tile(classes_tif, 8, 0, 0, legend={1: "#000000"}) is None


def test_value_range_percentiles(tmp_path: Path) -> None:
    # numpy's linear percentile of 0..99: p/100 * 99 -> 1.98 and 97.02.
    p = write(tmp_path / "r.tif", np.arange(100, dtype=np.float32).reshape(10, 10), -1.0)
    assert value_range(p) == pytest.approx((1.98, 97.02))


def test_missing_file_is_data_source_error(tmp_path: Path) -> None:
    with pytest.raises(DataSourceError, match="not found") as ei:
        render_tile(tmp_path / "gone.tif", 0, 0, 0)
    assert str(tmp_path) not in str(ei.value)


def test_layer_tile_uses_class_table_of_manifest(classes_tif: Path) -> None:
    spec = LayerSpec.model_validate(
        {
            "id": "t.sens",
            "title_zh": "t",
            "title_en": "t",
            "kind": "raster",
            "role": "evaluation",
            "status": "synthetic",
            "version": "1",
            "crs": "EPSG:4490",
            "licence": "test",
            "provenance": "test",
            "nodata": 0,
            "source": {"type": "file", "path": str(classes_tif)},
            "attributes": {"class_table": "EcoZoning-interim/sanding"},
        }
    )
    z = 8
    x, y = xyz_for(105.5, 35.5, z)
    img = decode(layer_tile(spec, z, x, y) or b"")
    lon, lat = pixel_lonlat(z, x, y)
    codes, _, central = source_lookup(classes_tif, lon, lat)
    sel = central & (codes == 5)
    assert (img[sel][:, :3] == [0xA5, 0x00, 0x26]).all()  # 极敏感 #a50026


def test_low_zoom_tile_of_a_large_raster_is_read_decimated_and_exact(tmp_path: Path) -> None:
    """A 2048² EPSG:3857 raster covering exactly tile 1/1/0 (8 source pixels per tile pixel,
    above MAX_WARP_DECIMATION): left half 1, right half 2, its top-left 512² block nodata.
    Aligned grids make the expected tile exact by hand: columns < 128 are 1, the rest 2, and
    rows and columns < 64 (512 / 8) are masked; class values keep their uint8 type."""
    from geoeco.service.tiles import MAX_WARP_DECIMATION, read_tile

    n = 2048
    data = np.ones((n, n), np.uint8)
    data[:, n // 2 :] = 2
    data[:512, :512] = 0
    p = tmp_path / "big.tif"
    with rasterio.open(
        p,
        "w",
        driver="GTiff",
        width=n,
        height=n,
        count=1,
        dtype="uint8",
        crs="EPSG:3857",
        transform=from_origin(0.0, HALF_WORLD, HALF_WORLD / n, HALF_WORLD / n),
        nodata=0,
        tiled=True,
    ) as ds:
        ds.write(data, 1)
    assert n / 256 > MAX_WARP_DECIMATION
    arr = read_tile(p, 1, 1, 0)
    assert arr.dtype == np.uint8
    expected = np.ones((256, 256), np.uint8)
    expected[:, 128:] = 2
    mask = np.zeros((256, 256), bool)
    mask[:64, :64] = True
    assert np.array_equal(np.ma.getmaskarray(arr), mask)
    assert np.array_equal(arr.filled(0), np.where(mask, 0, expected))
    smooth = read_tile(p, 1, 1, 0, resampling="bilinear")  # constant halves stay constant
    assert smooth[200, 10] == 1.0 and smooth[200, 250] == 2.0
