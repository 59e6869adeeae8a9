"""Builds the loopback fixture: a small static STAC catalog with small COGs, made at test time
from the recipes' documented structure (collection ids, asset keys, dtypes, scale factors,
fill values, projections and tile grids of the issue-17 research notes).

* ``modis-13Q1-061``: subsets of the real MODIS sinusoidal tiles h26v05 (columns 3800–4799)
  and h27v05 (columns 0–999), rows 700–1299, on the real 231.656 m lattice, 128-px blocks
  (the real 4800-px tiles have 512-px blocks: about as many per side); Terra composites
  of DOY 097/113/129 of 2021, an Aqua item and a December item (neither may be read);
  int16 NDVI (scale 1e-4, fill −3000), int8 pixel reliability, uint16 VI quality.
* ``modis-17A3HGF-061``: h26v05 subset (463.313 m), Terra 2021 and 2020, Aqua 2021.
* ``cop-dem-glo-30``: two 1° tiles N38E113 and N38E114 at 10″ (pixel-centre registration as
  the real tiles), cut from one un-tiled array kept for the seam test.
* ``sentinel-2-l2a``: three UTM 49N (EPSG:32649) scenes, B04/B08 at 10 m and SCL at 20 m,
  with ``s2:processing_baseline`` 03.01 and 04.00 and one cloudy scene.
* ``esa-worldcover``: the 3° tile N36E111 for 2020 v100 and 2021 v200 (at 1/600°).
* ``terraclimate``: a collection whose ``zarr-https`` asset is a consolidated Zarr v2 store
  (1/24°, Jan 2020 – Dec 2021, chunks 12 × 64 × 64).
* ``soilgrids/``: VRTs of 2 × 2 Homolosine GeoTIFF tiles per property and depth (files kind).

Every value is chosen so that the expected results can be worked out by hand (see the tests).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from xml.sax.saxutils import escape

import numpy as np
import pystac
import rasterio
from affine import Affine
from pyproj import CRS, Transformer
from rasterio.shutil import copy as rio_copy

from geoeco.core.crs import ALBERS_CHINA
from geoeco.core.raster import Grid

R_SPHERE = 6371007.181
TILE_M = 1111950.5197665233
X0, Y0 = -20015109.355798, 10007554.677899
SINU = "+proj=sinu +lon_0=0 +x_0=0 +y_0=0 +R=6371007.181 +units=m +no_defs"
IGH = "+proj=igh +lat_0=0 +lon_0=0 +datum=WGS84 +units=m +no_defs"
MODIS_ROWS = (700, 1300)
H26_COLS = (3800, 4800)
H27_COLS = (0, 1000)
NPP_ROWS, NPP_COLS = (350, 650), (1900, 2400)
NDVI_DATES = ("2021097", "2021113", "2021129")
#: Raw NDVI added to the base field on each date (the composite max is the last date's).
NDVI_STEP = {"2021097": 0, "2021113": 300, "2021129": 600}


@dataclass
class Fixture:
    """What was built: the folder, un-tiled references and the names tests look for."""

    root: Path
    ndvi_full: dict[str, np.ndarray] = field(default_factory=dict)
    ndvi_reliability: dict[str, np.ndarray] = field(default_factory=dict)
    ndvi_lattice: Affine = Affine.identity()
    dem_full: np.ndarray | None = None
    dem_transform: Affine = Affine.identity()
    npp_raw: np.ndarray | None = None
    npp_transform: Affine = Affine.identity()
    tile_bytes: dict[str, int] = field(default_factory=dict)


def albers_grid(lon: float, lat: float, half_m: float, res: float) -> Grid:
    """A square target grid on the CGCS2000 Albers CRS centred on (lon, lat)."""
    x, y = Transformer.from_crs(4326, ALBERS_CHINA, always_xy=True).transform(lon, lat)
    return Grid.from_bounds((x - half_m, y - half_m, x + half_m, y + half_m), res, ALBERS_CHINA)


def write_cog(path: Path, data: np.ndarray, transform: Affine, crs: str, nodata=None, block=256):
    """A tiled, DEFLATE-compressed COG of one band."""
    path.parent.mkdir(parents=True, exist_ok=True)
    plain = path.with_suffix(".plain.tif")
    profile = {
        "driver": "GTiff",
        "width": data.shape[1],
        "height": data.shape[0],
        "count": 1,
        "dtype": str(data.dtype),
        "crs": CRS.from_user_input(crs).to_wkt(),
        "transform": transform,
        "nodata": nodata,
        "tiled": True,
        "blockxsize": block,
        "blockysize": block,
        "compress": "deflate",
    }
    with rasterio.open(plain, "w", **profile) as dst:
        dst.write(data, 1)
    rio_copy(plain, path, driver="COG", BLOCKSIZE=block, COMPRESS="DEFLATE")
    plain.unlink()


def _lonlat_bbox(transform: Affine, shape: tuple[int, int], crs: str) -> list[float]:
    h, w = shape
    xs = np.linspace(0, w, 9)
    ys = np.linspace(0, h, 9)
    cols, rows = np.meshgrid(xs, ys)
    x, y = transform * (cols.ravel(), rows.ravel())
    lon, lat = Transformer.from_crs(crs, 4326, always_xy=True).transform(x, y)
    return [float(np.min(lon)), float(np.min(lat)), float(np.max(lon)), float(np.max(lat))]


def _outline(transform: Affine, shape: tuple[int, int], crs: str) -> dict:
    """The raster's outline in lon/lat (edges densified), as STAC item geometries are."""
    h, w = shape
    t = np.linspace(0.0, 1.0, 16, endpoint=False)
    cols = np.concatenate([w * t, np.full_like(t, w), w - w * t, np.zeros_like(t)])
    rows = np.concatenate([np.zeros_like(t), h * t, np.full_like(t, h), h - h * t])
    x, y = transform * (cols, rows)
    lon, lat = Transformer.from_crs(crs, 4326, always_xy=True).transform(x, y)
    ring = [[float(a), float(b)] for a, b in zip(lon, lat, strict=True)]
    return {"type": "Polygon", "coordinates": [ring + [ring[0]]]}


def _item(
    item_id: str, bbox: list[float], start: str, end: str, props: dict, geom: dict | None = None
) -> pystac.Item:
    w, s, e, n = bbox
    if geom is None:
        geom = {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]}
    p = {"start_datetime": start, "end_datetime": end, **props}
    return pystac.Item(item_id, geom, bbox, None, p)


def _add_asset(item: pystac.Item, key: str, path: Path, fx: Fixture) -> None:
    item.add_asset(key, pystac.Asset(str(path), media_type=pystac.MediaType.COG))
    fx.tile_bytes[path.name] = path.stat().st_size


def _collection(cid: str) -> pystac.Collection:
    extent = pystac.Extent(
        pystac.SpatialExtent([[70.0, 15.0, 140.0, 55.0]]),
        pystac.TemporalExtent([[datetime(2000, 1, 1, tzinfo=UTC), None]]),
    )
    return pystac.Collection(cid, f"fixture {cid}", extent, license="proprietary")


def _smooth(shape: tuple[int, int], lo: float, hi: float, phase: float) -> np.ndarray:
    r, c = np.mgrid[0 : shape[0], 0 : shape[1]].astype("float64")
    f = 0.5 + 0.25 * np.sin(r / 37.0 + phase) + 0.25 * np.cos(c / 53.0 - phase)
    return lo + (hi - lo) * f


def _sinu_transform(h: int, v: int, col0: int, row0: int, npx: int) -> Affine:
    px = TILE_M / npx
    return Affine(px, 0.0, X0 + h * TILE_M + col0 * px, 0.0, -px, Y0 - v * TILE_M - row0 * px)


def build_modis_ndvi(root: Path, fx: Fixture) -> pystac.Collection:
    """NDVI items on a 2000-column full array cut into the h26/h27 subsets."""
    coll = _collection("modis-13Q1-061")
    shape = (MODIS_ROWS[1] - MODIS_ROWS[0], 2000)
    fx.ndvi_lattice = _sinu_transform(26, 5, H26_COLS[0], MODIS_ROWS[0], 4800)
    base = _smooth(shape, 1500, 7000, 0.3).astype("int16")
    base[250:330, 300:420] = 5000  # constant patch inside h26: 0.5 NDVI whatever the blend
    for k, doy in enumerate(NDVI_DATES + ("2021105", "2021337")):
        ndvi = base + NDVI_STEP.get(doy, 2500)
        rel = np.where(ndvi > 6000, 1, 0).astype("int8")
        if doy == "2021113":
            ndvi[100:160, 600:700] = 9500  # cloudy: must be masked by reliability 3
            rel[100:160, 600:700] = 3
        if doy == "2021129":
            ndvi[100:160, 600:700] = -3000  # fill: must not count
            rel[100:160, 600:700] = -1
        ndvi[250:330, 300:420] = 5000
        full = ndvi.astype("int16")
        if doy in NDVI_DATES:
            fx.ndvi_full[doy], fx.ndvi_reliability[doy] = full, rel
        prefix = "MYD13Q1" if doy == "2021105" else "MOD13Q1"
        for h, cols in ((26, (0, 1000)), (27, (1000, 2000))):
            _ndvi_item(
                root,
                coll,
                fx,
                prefix,
                doy,
                h,
                full[:, cols[0] : cols[1]],
                rel[:, cols[0] : cols[1]],
                k,
            )
    return coll


def _ndvi_item(root, coll, fx, prefix, doy, h, ndvi, rel, k) -> None:
    col0 = H26_COLS[0] if h == 26 else H27_COLS[0]
    t = _sinu_transform(h, 5, col0, MODIS_ROWS[0], 4800)
    iid = f"{prefix}.A{doy}.h{h}v05.061.2021200000000"
    start = datetime.strptime(doy, "%Y%j").replace(tzinfo=UTC)
    end = start.replace(hour=23, minute=59, second=59) + (
        datetime(2021, 1, 16) - datetime(2021, 1, 1)
    )
    plat = "aqua" if prefix == "MYD13Q1" else "terra"
    item = _item(
        iid,
        _lonlat_bbox(t, ndvi.shape, SINU),
        start.isoformat(),
        end.isoformat(),
        {"platform": plat, "modis:horizontal-tile": h, "modis:vertical-tile": 5},
        _outline(t, ndvi.shape, SINU),
    )
    folder = root / coll.id / iid
    for key, arr, nd in (
        ("250m_16_days_NDVI", ndvi, -3000),
        ("250m_16_days_pixel_reliability", rel, -1),
        ("250m_16_days_VI_Quality", np.full(ndvi.shape, 2116, "uint16"), 65535),
    ):
        path = folder / f"{iid}_{key}.tif"
        # 128-px blocks on a 1000-px tile: about as many blocks per side as PC's 512-px
        # blocks on a 4800-px tile, so a county covers the same share of blocks
        write_cog(path, arr, t, SINU, nodata=nd, block=128)
        _add_asset(item, key, path, fx)
    coll.add_item(item)


def build_npp(root: Path, fx: Fixture) -> pystac.Collection:
    """MOD17A3HGF h26v05 subset: Terra 2021 (read), Terra 2020 and Aqua 2021 (not read)."""
    coll = _collection("modis-17A3HGF-061")
    shape = (NPP_ROWS[1] - NPP_ROWS[0], NPP_COLS[1] - NPP_COLS[0])
    t = _sinu_transform(26, 5, NPP_COLS[0], NPP_ROWS[0], 2400)
    raw = _smooth(shape, 2000, 8000, 1.1).astype("int16")
    raw[40:80, 100:200] = 32765  # barren: no NPP
    raw[200:220, 0:500] = 32767  # fill
    fx.npp_raw, fx.npp_transform = raw, t
    for iid, year, arr in (
        ("MOD17A3HGF.A2021001.h26v05.061.2022020000000", 2021, raw),
        ("MOD17A3HGF.A2020001.h26v05.061.2021020000000", 2020, raw + 1000),
        ("MYD17A3HGF.A2021001.h26v05.061.2022020000000", 2021, raw + 2000),
    ):
        plat = "aqua" if iid.startswith("MYD") else "terra"
        item = _item(
            iid,
            _lonlat_bbox(t, shape, SINU),
            f"{year}-01-01T00:00:00Z",
            f"{year}-12-31T23:59:59Z",
            {"platform": plat},
            _outline(t, shape, SINU),
        )
        path = root / coll.id / iid / f"{iid}_Npp_500m.tif"
        write_cog(path, np.where(raw >= 32761, raw, arr).astype("int16"), t, SINU, nodata=32767)
        _add_asset(item, "Npp_500m", path, fx)
        coll.add_item(item)
    return coll


def build_dem(root: Path, fx: Fixture) -> pystac.Collection:
    """Two 1° GLO-30-like tiles (10″ here) cut from one array on the tiles' common lattice."""
    coll = _collection("cop-dem-glo-30")
    px = 1.0 / 360.0
    fx.dem_transform = Affine(px, 0.0, 113.0 - px / 2, 0.0, -px, 39.0 + px / 2)
    r, c = np.mgrid[0:360, 0:720].astype("float64")
    fx.dem_full = (900.0 + 300.0 * np.sin(c / 41.0) * np.cos(r / 29.0) + 0.8 * c).astype("float32")
    for lon, cols in ((113, (0, 360)), (114, (360, 720))):
        iid = f"Copernicus_DSM_COG_10_N38_00_E{lon:03d}_00_DEM"
        t = fx.dem_transform * Affine.translation(cols[0], 0)
        bbox = [lon - px / 2, 38.0 + px / 2, lon + 1 - px / 2, 39.0 + px / 2]
        item = _item(iid, bbox, "2021-04-22T00:00:00Z", "2021-04-22T00:00:00Z", {})
        path = root / coll.id / iid / f"{iid}.tif"
        write_cog(path, fx.dem_full[:, cols[0] : cols[1]], t, "EPSG:4326")
        _add_asset(item, "data", path, fx)
        coll.add_item(item)
    return coll


S2_ORIGIN = (670000.0, 4213000.0)
#: (id, date, processing baseline, cloud %, red DN, nir DN)
S2_SCENES = (
    (
        "S2A_MSIL2A_20210610T032541_R018_T49SFJ_20210610T070000",
        "2021-06-10",
        "03.01",
        10,
        1000,
        3000,
    ),
    (
        "S2B_MSIL2A_20210715T032539_R018_T49SFJ_20210715T070000",
        "2021-07-15",
        "04.00",
        20,
        2000,
        5000,
    ),
    (
        "S2A_MSIL2A_20210801T032541_R018_T49SFJ_20210801T070000",
        "2021-08-01",
        "04.00",
        80,
        1000,
        9000,
    ),
)


def build_s2(root: Path, fx: Fixture) -> pystac.Collection:
    """Three UTM 49N scenes: NDVI 0.5 (baseline 03.01), 0.6 after the −1000 offset (04.00,
    with an SCL cloud patch), and a cloudy scene (80 %) that the rule must skip."""
    coll = _collection("sentinel-2-l2a")
    t10 = Affine(10.0, 0.0, S2_ORIGIN[0], 0.0, -10.0, S2_ORIGIN[1])
    t20 = Affine(20.0, 0.0, S2_ORIGIN[0], 0.0, -20.0, S2_ORIGIN[1])
    for iid, day, pb, cloud, red, nir in S2_SCENES:
        scl = np.full((500, 500), 4, "uint8")
        if pb == "04.00" and cloud < 60:
            scl[200:300, 200:300] = 9  # cloud, high probability
        props = {"platform": "sentinel-2", "eo:cloud_cover": cloud, "s2:processing_baseline": pb}
        item = _item(
            iid,
            _lonlat_bbox(t10, (1000, 1000), "EPSG:32649"),
            f"{day}T03:25:41Z",
            f"{day}T03:25:41Z",
            props,
            _outline(t10, (1000, 1000), "EPSG:32649"),
        )
        folder = root / coll.id / iid
        for key, arr, t in (
            ("B04", np.full((1000, 1000), red, "uint16"), t10),
            ("B08", np.full((1000, 1000), nir, "uint16"), t10),
            ("SCL", scl, t20),
        ):
            write_cog(folder / f"{key}.tif", arr, t, "EPSG:32649", nodata=0)
            _add_asset(item, key, folder / f"{key}.tif", fx)
        coll.add_item(item)
    return coll


def build_worldcover(root: Path, fx: Fixture) -> pystac.Collection:
    """Tile N36E111: 2020 v100 is class 10 north of 37.5°N and 30 south; 2021 v200 is 40
    north and 60 south; a 0 (no data) strip along the west edge."""
    coll = _collection("esa-worldcover")
    t = Affine(1 / 600, 0.0, 111.0, 0.0, -1 / 600, 39.0)
    for year, ver, north, south in ((2020, "v100", 10, 30), (2021, "v200", 40, 60)):
        iid = f"ESA_WorldCover_10m_{year}_{ver}_N36E111"
        arr = np.full((1800, 1800), south, "uint8")
        arr[:900] = north
        arr[:, :30] = 0
        item = _item(
            iid,
            [111.0, 36.0, 114.0, 39.0],
            f"{year}-01-01T00:00:00Z",
            f"{year}-12-31T23:59:59Z",
            {"esa_worldcover:product_version": ver},
        )
        path = root / coll.id / iid / f"{iid}_Map.tif"
        write_cog(path, arr, t, "EPSG:4326", nodata=0, block=512)
        _add_asset(item, "map", path, fx)
        coll.add_item(item)
    return coll


def terraclimate_value(var: str, year: int, month: int) -> float:
    """The fixture's (spatially constant) value of a TerraClimate variable in a month."""
    return {
        "ppt": 10.0 * month + 100.0 * (year - 2020),
        "ws": 2.0 + 0.25 * month,
        "tmax": 5.0 + month,
        "tmin": -5.0 + month,
        "vap": 0.1 * month,
        "pet": 20.0 + 5.0 * month,
    }[var]


def build_terraclimate(root: Path) -> pystac.Collection:
    """A consolidated Zarr v2 store (1/24°, 2020–2021) as the collection's ``zarr-https``."""
    import pandas as pd
    import xarray as xr

    d = 1.0 / 24.0
    lat = 40.0 - d / 2 - d * np.arange(96)
    lon = 111.0 + d / 2 + d * np.arange(120)
    time = pd.date_range("2020-01-01", periods=24, freq="MS")
    data = {}
    for var in ("ppt", "ws", "tmax", "tmin", "vap", "pet"):
        vals = np.array([terraclimate_value(var, t.year, t.month) for t in time], "float32")
        data[var] = (("time", "lat", "lon"), np.broadcast_to(vals[:, None, None], (24, 96, 120)))
    ds = xr.Dataset(data, coords={"time": time, "lat": lat, "lon": lon})
    store = root / "terraclimate" / "terraclimate.zarr"
    enc = {v: {"chunks": (12, 64, 64)} for v in data}
    ds.to_zarr(store, zarr_format=2, consolidated=True, encoding=enc, mode="w")
    coll = _collection("terraclimate")
    coll.add_asset("zarr-https", pystac.Asset(str(store), media_type="application/vnd+zarr"))
    return coll


#: SoilGrids fixture values (raw) by property and depth, constant over the tiles.
SOIL = {
    "sand": (300, 320, 360),
    "silt": (400, 400, 380),
    "clay": (300, 280, 260),
    "soc": (150, 100, 50),
}
SOIL_DEPTHS = ("0-5cm", "5-15cm", "15-30cm")
SOIL_CENTRE = (113.0, 38.0)


def build_soilgrids(root: Path) -> Path:
    """VRTs of 2 × 2 Homolosine tiles (200² px at 250 m) per property and depth, centred on
    :data:`SOIL_CENTRE`; sand 0–5 cm has a 0 (no data) patch just north-west of the centre."""
    x, y = Transformer.from_crs(4326, IGH, always_xy=True).transform(*SOIL_CENTRE)
    x0, y0 = round((x - 50000) / 250) * 250, round((y + 50000) / 250) * 250
    wkt = CRS.from_proj4(IGH).to_wkt()
    base = root / "soilgrids"
    for prop, values in SOIL.items():
        for depth, value in zip(SOIL_DEPTHS, values, strict=True):
            name = f"{prop}_{depth}_mean"
            sources = []
            for i in range(2):
                for j in range(2):
                    arr = np.full((200, 200), value, "int16")
                    if prop == "sand" and depth == "0-5cm" and (i, j) == (0, 0):
                        arr[150:200, 150:200] = 0
                    t = Affine(250.0, 0.0, x0 + j * 50000, 0.0, -250.0, y0 - i * 50000)
                    write_cog(base / prop / name / f"tile_{i}_{j}.tif", arr, t, IGH, nodata=-32768)
                    sources.append(_vrt_source(f"{name}/tile_{i}_{j}.tif", i, j))
            vrt = (
                f'<VRTDataset rasterXSize="400" rasterYSize="400">\n<SRS>{escape(wkt)}</SRS>\n'
                f"<GeoTransform>{x0}, 250, 0, {y0}, 0, -250</GeoTransform>\n"
                '<VRTRasterBand dataType="Int16" band="1">\n<NoDataValue>-32768</NoDataValue>\n'
                + "".join(sources)
                + "</VRTRasterBand>\n</VRTDataset>\n"
            )
            (base / prop / f"{name}.vrt").write_text(vrt)
    return base


def _vrt_source(rel: str, i: int, j: int) -> str:
    return (
        f'<SimpleSource><SourceFilename relativeToVRT="1">{rel}</SourceFilename>'
        "<SourceBand>1</SourceBand>"
        '<SrcRect xOff="0" yOff="0" xSize="200" ySize="200"/>'
        f'<DstRect xOff="{j * 200}" yOff="{i * 200}" xSize="200" ySize="200"/>'
        "</SimpleSource>\n"
    )


def build_fixture(root: Path) -> Fixture:
    """Build everything under ``root`` and save the static catalog (relative hrefs)."""
    fx = Fixture(root)
    cat = pystac.Catalog("geoeco-fixture", "loopback fixture of issue 17")
    for build in (build_modis_ndvi, build_npp, build_dem, build_s2, build_worldcover):
        cat.add_child(build(root, fx))
    cat.add_child(build_terraclimate(root))
    cat.normalize_hrefs(str(root))
    cat.make_all_asset_hrefs_relative()
    cat.save(pystac.CatalogType.SELF_CONTAINED)
    build_soilgrids(root)
    (root / "fixture.json").write_text(json.dumps({"tiles": fx.tile_bytes}))
    return fx


#: The fixture "county": inside MODIS h26v05 (east of its barren NPP patch), the DEM tile
#: N38E113, WorldCover N36E111 (cropland, class 40, in 2021), the SoilGrids tiles and the
#: TerraClimate store (east of the sand 0–5 cm gap); about 24 × 26 km.
COUNTY_BOX = (113.18, 38.05, 113.45, 38.28)
COUNTY_YEAR = 2021


def build_fixture_inputs(
    catalog: str | Path,
    out: Path,
    *,
    res: float = 250.0,
    cache: Path | None = None,
    box: tuple[float, float, float, float] = COUNTY_BOX,
    **kw,
):
    """``geoeco.build_inputs`` on the fixture county from ``catalog`` (the served
    ``…/catalog.json`` URL or a local mirror); returns the :class:`InputStack`. Used by the
    inputs tests and by the end-to-end ``inputs -> zone --inputs-from`` test."""
    import shapely

    from geoeco.inputs.cache import WindowCache
    from geoeco.inputs.remote import RemoteOptions
    from geoeco.workflows.build_inputs import build_inputs

    kw.setdefault("options", RemoteOptions(retries=1, retry_delay_s=0.01, timeout_s=5))
    return build_inputs(
        shapely.box(*box),
        year=COUNTY_YEAR,
        res=res,
        catalog=str(catalog),
        out=out,
        cache=WindowCache(cache),
        **kw,
    )
