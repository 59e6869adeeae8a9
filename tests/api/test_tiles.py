"""``/tiles/{layer}/{z}/{x}/{y}.png`` through the test client.

The expected colour of a tile pixel is found independently: its centre is converted from Web
Mercator to lon-lat with pyproj, the code at that lon-lat is read from the source GeoTIFF by
plain affine arithmetic, and the colour is that code's colour in the class table
``EcoZoning-interim/sanding`` (5 -> #a50026, 1 -> #1a9850). PNGs are decoded by GDAL.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
import rasterio
from fastapi.testclient import TestClient
from pyproj import Transformer
from rasterio.errors import NotGeoreferencedWarning
from rasterio.io import MemoryFile

from geoeco.catalog.classes import get_table

R = 6378137.0


def decode(png: bytes) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with MemoryFile(png) as mf, mf.open() as ds:
            return np.moveaxis(ds.read(), 0, -1)


def xyz_for(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2**z
    x = int((lon + 180.0) / 360.0 * n)
    y = int((1.0 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2.0 * n)
    return x, y


def pixel_lonlat(z: int, x: int, y: int) -> tuple[np.ndarray, np.ndarray]:
    side = 2 * math.pi * R / 2**z
    minx, maxy = -math.pi * R + x * side, math.pi * R - y * side
    j, i = np.meshgrid(np.arange(256), np.arange(256))
    tr = Transformer.from_crs(3857, 4490, always_xy=True)
    lon, lat = tr.transform(minx + (j + 0.5) * side / 256, maxy - (i + 0.5) * side / 256)
    return np.asarray(lon), np.asarray(lat)


def test_categorical_tile_pixels_have_class_colours(client: TestClient, tmp_path: Path) -> None:
    z = 9
    x, y = xyz_for(106.0, 35.0, z)
    r = client.get(f"/tiles/user.sens/{z}/{x}/{y}.png")
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    assert r.headers["X-Geoeco-Layer-Status"] == "synthetic"
    img = decode(r.content)
    assert img.shape == (256, 256, 4)
    with rasterio.open(tmp_path / "files" / "sens.tif") as ds:
        codes, t = ds.read(1), ds.transform
    lon, lat = pixel_lonlat(z, x, y)
    fc, fr = (lon - t.c) / t.a, (lat - t.f) / t.e
    central = (np.abs(fc % 1 - 0.5) < 0.3) & (np.abs(fr % 1 - 0.5) < 0.3)
    central &= (fc >= 0) & (fc < 200) & (fr >= 0) & (fr < 200)
    src = codes[np.clip(fr.astype(int), 0, 199), np.clip(fc.astype(int), 0, 199)]
    colours = {c: h for c, _, _, h in get_table("EcoZoning-interim/sanding").legend()}
    checked = 0
    for code, hexc in colours.items():
        sel = central & (src == code)
        rgb = [int(hexc[k : k + 2], 16) for k in (1, 3, 5)]
        assert (img[sel][:, :3] == rgb).all() and (img[sel][:, 3] == 255).all()
        checked += int(sel.sum())
    assert checked > 10000
    assert (img[central & (src == 0)][:, 3] == 0).all()  # nodata is transparent


def test_continuous_tile_with_colormap_and_rescale(client: TestClient) -> None:
    # user.grad = (lon - 105) / 2; greys over [0, 1]: grey = 255 - rint(v * 255), ±1 for
    # bilinear/rounding. At the tile pixel nearest lon 106 the value is ~0.5 -> grey ~127.
    z = 9
    x, y = xyz_for(106.0, 35.0, z)
    r = client.get(f"/tiles/user.grad/{z}/{x}/{y}.png?colormap=greys&rescale=0,1")
    assert r.status_code == 200
    img = decode(r.content)
    lon, lat = pixel_lonlat(z, x, y)
    ok = (lon > 105.02) & (lon < 106.98) & (lat > 34.25) & (lat < 35.98)
    expected = 255 - np.rint((lon[ok] - 105) / 2 * 255)
    assert np.abs(img[ok][:, 0].astype(int) - expected).max() <= 1
    reversed_ = decode(
        client.get(f"/tiles/user.grad/{z}/{x}/{y}.png?colormap=greys_r&rescale=0,1").content
    )
    assert np.abs(reversed_[ok][:, 0].astype(int) - (255 - expected)).max() <= 1


def test_continuous_default_ramp_is_viridis(client: TestClient) -> None:
    z = 9
    x, y = xyz_for(106.0, 35.0, z)
    # rescale 5,6 puts every value (< 1) below the range -> the first viridis colour #440154
    img = decode(client.get(f"/tiles/user.grad/{z}/{x}/{y}.png?rescale=5,6").content)
    lon, lat = pixel_lonlat(z, x, y)
    ok = (lon > 105.02) & (lon < 106.98) & (lat > 34.25) & (lat < 35.98)
    assert (img[ok][:, :3] == [0x44, 0x01, 0x54]).all()


def test_tile_outside_layer_is_transparent(client: TestClient) -> None:
    r = client.get("/tiles/user.sens/5/0/0.png")
    assert r.status_code == 200 and r.headers["X-Tile-Empty"] == "true"
    img = decode(r.content)
    assert img.shape == (256, 256, 4) and (img[..., 3] == 0).all()


def test_tile_errors(client: TestClient, problem) -> None:  # type: ignore[no-untyped-def]
    problem(client.get("/tiles/nope/0/0/0.png"), 404, "LayerNotFound")
    body = problem(client.get("/tiles/admin.county/0/0/0.png"), 422, "InvalidInput")
    assert "vector" in body["detail"]
    body = problem(client.get("/tiles/user.sens/2/4/0.png"), 422, "InvalidInput")
    assert "[0, 3]" in body["detail"]
    body = problem(client.get("/tiles/user.sens/25/0/0.png"), 422, "request-validation")
    assert body["errors"][0]["field"] == "path.z"
    body = problem(client.get("/tiles/user.grad/0/0/0.png?rescale=1"), 422)
    assert body["errors"][0]["field"] == "query.rescale"
    problem(client.get("/tiles/user.grad/0/0/0.png?rescale=2,1"), 422)
    body = problem(client.get("/tiles/user.grad/0/0/0.png?colormap=rainbow"), 422)
    assert "viridis" in body["detail"] and body["errors"][0]["field"] == "query.colormap"
    problem(client.get("/tiles/user.grad/0/0/0.png?band=2"), 422, "InvalidInput")


def test_missing_layer_file_is_500_without_path(  # type: ignore[no-untyped-def]
    client: TestClient, tmp_path: Path, problem
) -> None:
    (tmp_path / "files" / "grad.tif").unlink()
    body = problem(client.get("/tiles/user.grad/0/0/0.png"), 500, "DataSourceError")
    assert "user.grad" in body["detail"] and "grad.tif" not in body["detail"]
