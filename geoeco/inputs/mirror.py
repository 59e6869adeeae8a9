"""A local mirror of what a place needs: a static STAC catalog of windows, for offline builds.

:func:`write_mirror` reads from the configured catalogs exactly what
:func:`geoeco.inputs.build.build_input_stack` would read for a grid and a year (the same
searches and temporal rules) and writes, under ``out``:

* ``catalog.json`` and one collection per STAC source with the chosen items; each item keeps
  its id, dates, footprint and properties, and each asset a COG of the item's **window** over
  the grid plus a margin, on the item's own pixel lattice (transform shifted by whole pixels),
  raw numbers unchanged (the recipe decodes them, as from the public catalog);
* ``terraclimate/terraclimate.zarr``: the block of the Zarr store over the grid, months of the
  year and the year before, as the collection asset ``zarr-https``;
* ``soilgrids/<prop>/<prop>_<depth>_mean.vrt`` (+ ``.tif``): the SoilGrids windows, laid out as
  the recipe's path template expects.

``geoeco inputs --catalog MIRROR`` then reads it with the same code path
(:meth:`geoeco.inputs.config.CatalogConfig.local`). The margin is wider than the reader's, so a
build on the same grid finds every source pixel it needs.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import numpy as np
import pystac
import rasterio
from affine import Affine

from geoeco.core.raster import Grid
from geoeco.core.staging import output_folder

from .build import catalogs_for, fetch_plan
from .cache import NullProgress, Progress, WindowCache
from .config import CatalogConfig
from .fetch import find_steps, zarr_store_href
from .recipes import Recipe, get_recipe
from .remote import AssetReader, RemoteOptions, Where, lattice_for, place
from .signing import signer_for
from .stac import CatalogItem

#: Source pixels kept beyond the grid's footprint (the reader uses 2).
MIRROR_MARGIN_PX = 6


@dataclass(frozen=True)
class MirrorReport:
    """What :func:`write_mirror` wrote: the folder, items per collection, bytes on disk."""

    folder: Path
    items: dict[str, int]
    nbytes: int

    def summary(self) -> dict[str, Any]:
        """JSON summary."""
        return {"out": str(self.folder), "items": self.items, "bytes": self.nbytes}


def _roles(recipe: Recipe) -> list[str]:
    roles = ["value"] if recipe.product == "value" else ["red", "nir"]
    return roles + ([recipe.qa.asset] if recipe.qa is not None else [])


def _write_cog(path: Path, data: np.ndarray, transform: Affine, crs_wkt: str) -> None:
    from rasterio.shutil import copy as rio_copy

    path.parent.mkdir(parents=True, exist_ok=True)
    plain = path.with_name(path.name + ".plain.tif")
    profile = {
        "driver": "GTiff",
        "width": data.shape[1],
        "height": data.shape[0],
        "count": 1,
        "dtype": str(data.dtype),
        "crs": crs_wkt,
        "transform": transform,
        "tiled": True,
        "blockxsize": 256,
        "blockysize": 256,
        "compress": "deflate",
    }
    with rasterio.open(plain, "w", **profile) as dst:
        dst.write(data, 1)
    rio_copy(plain, path, driver="COG", BLOCKSIZE=256, COMPRESS="DEFLATE")
    plain.unlink()


def _window(
    href: str, where: Where, grid: Grid, reader: AssetReader, version: str
) -> tuple[np.ndarray, Affine, str] | None:
    """Raw values of the asset over ``grid`` (+ margin), their transform and CRS."""
    head = reader.header(href, where)
    lattice = lattice_for(head, grid, MIRROR_MARGIN_PX)
    pl = place(head, lattice)
    if pl is None:
        return None
    r, c, h, w = pl.src
    raw = reader.window(href, where, (float(r), float(c), float(h), float(w)), (h, w), version)
    return raw, head.affine * Affine.translation(c, r), head.crs_wkt


def _mirror_item(
    recipe: Recipe, item: CatalogItem, grid: Grid, reader: AssetReader, folder: Path, cat: str
) -> pystac.Item | None:
    geom = item.geometry or {
        "type": "Polygon",
        "coordinates": [[[item.bbox[0], item.bbox[1]], [item.bbox[2], item.bbox[1]],
                         [item.bbox[2], item.bbox[3]], [item.bbox[0], item.bbox[3]],
                         [item.bbox[0], item.bbox[1]]]],
    }  # fmt: skip
    props = {"start_datetime": item.start.isoformat(), "end_datetime": item.end.isoformat()}
    out = pystac.Item(item.id, dict(geom), list(item.bbox), None, {**item.properties, **props})
    for role in _roles(recipe):
        key = recipe.assets[role].key
        where = Where(cat, item.collection, item.id, key)
        got = _window(item.assets[key], where, grid, reader, recipe.version)
        if got is None:
            return None
        path = folder / item.collection / item.id / f"{key}.tif"
        _write_cog(path, *got)
        out.add_asset(key, pystac.Asset(str(path), media_type=pystac.MediaType.COG))
    return out


def _collection(cid: str, recipe: Recipe) -> pystac.Collection:
    from datetime import UTC, datetime

    extent = pystac.Extent(
        pystac.SpatialExtent([[-180.0, -90.0, 180.0, 90.0]]),
        pystac.TemporalExtent([[datetime(1950, 1, 1, tzinfo=UTC), None]]),
    )
    desc = f"geoeco mirror of {cid} ({recipe.attribution})"
    return pystac.Collection(cid, desc, extent, license="other")


def _mirror_zarr(
    recipe: Recipe, catalog: CatalogConfig, grid: Grid, year: int, reader: AssetReader, out: Path
) -> Path:
    """The store's block over ``grid`` for years ``year - 1`` and ``year`` (all variables)."""
    from .zarr_reader import open_store

    ds = open_store(zarr_store_href(recipe, catalog, reader), reader)
    from rasterio.warp import transform_bounds

    from geoeco.core.crs import WGS84

    w, s, e, n = transform_bounds(grid.crs, WGS84, *grid.bounds, densify_pts=21)
    lat, lon = ds["lat"].values, ds["lon"].values
    d = 4 * max(abs(float(lat[1] - lat[0])), abs(float(lon[1] - lon[0])))
    lat_sel = slice(n + d, s - d) if lat[0] > lat[-1] else slice(s - d, n + d)
    sub = ds.sel(lat=lat_sel, lon=slice(w - d, e + d), time=slice(f"{year - 1}-01", f"{year}-12"))
    keep = [v for v in sub.data_vars if v in {"ppt", "tmax", "tmin", "vap", "ws", "pet"}]
    sub = sub[keep].load()
    for v in keep:
        sub[v].encoding = {}
    store = out / "terraclimate" / "terraclimate.zarr"
    sub.to_zarr(store, zarr_format=2, consolidated=True, mode="w")
    return store


def _soil_vrt(tif: Path, vrt: Path) -> None:
    with rasterio.open(tif) as ds:
        t, w, h, wkt, dtype = ds.transform, ds.width, ds.height, ds.crs.to_wkt(), ds.dtypes[0]
    gdal_type = {"int16": "Int16", "uint8": "Byte", "float32": "Float32"}.get(dtype, "Int16")
    vrt.write_text(
        f'<VRTDataset rasterXSize="{w}" rasterYSize="{h}">\n<SRS>{escape(wkt)}</SRS>\n'
        f"<GeoTransform>{t.c!r}, {t.a!r}, 0, {t.f!r}, 0, {t.e!r}</GeoTransform>\n"
        f'<VRTRasterBand dataType="{gdal_type}" band="1">\n'
        f'<SimpleSource><SourceFilename relativeToVRT="1">{escape(tif.name)}</SourceFilename>'
        f'<SourceBand>1</SourceBand><SrcRect xOff="0" yOff="0" xSize="{w}" ySize="{h}"/>'
        f'<DstRect xOff="0" yOff="0" xSize="{w}" ySize="{h}"/></SimpleSource>\n'
        "</VRTRasterBand>\n</VRTDataset>\n"
    )


def _mirror_soil(
    recipe: Recipe, catalog: CatalogConfig, grid: Grid, reader: AssetReader, out: Path
) -> int:
    steps, _ = find_steps(recipe, grid, 0, catalog, reader)
    key = recipe.assets["value"].key
    for step in steps:
        (item,) = step.items
        where = Where(catalog.name, recipe.id, item.id, key)
        got = _window(item.assets[key], where, grid, reader, recipe.version)
        if got is None:
            continue
        rel = Path(item.id)
        tif = out / "soilgrids" / rel.with_suffix(".tif")
        _write_cog(tif, *got)
        _soil_vrt(tif, out / "soilgrids" / rel)
    return len(steps)


def write_mirror(
    grid: Grid,
    year: int,
    out: str | Path,
    *,
    catalogs: Mapping[str, CatalogConfig],
    override: CatalogConfig | None = None,
    area_km2: float = 0.0,
    cache: WindowCache | None = None,
    progress: Callable[[str, float], None] | None = None,
    fetch_progress: Progress | None = None,
    options: RemoteOptions | None = None,
) -> MirrorReport:
    """Write the mirror of ``grid`` and ``year`` into ``out`` (see the module docstring);
    ``override`` reads from another mirror instead of ``catalogs``
    (:func:`geoeco.inputs.build.catalogs_for`)."""
    step = progress or (lambda s, f: None)
    pick = catalogs_for(override, catalogs)
    plan = [get_recipe(r) for r in fetch_plan(area_km2).values()]
    counts: dict[str, int] = {}
    with output_folder(out) as work:
        root = pystac.Catalog("geoeco-mirror", f"geoeco inputs mirror, year {year}")
        colls: dict[str, pystac.Collection] = {}
        for i, recipe in enumerate(plan):
            step(f"mirroring {recipe.id}", i / len(plan))
            cat = pick(recipe.catalog, recipe.reader)
            reader = AssetReader(
                signer=signer_for(cat),
                cache=cache or WindowCache(None),
                options=options,
                progress=fetch_progress or NullProgress(),
            )
            n = _mirror_recipe(recipe, cat, grid, year, reader, work, root, colls)
            counts[recipe.id] = n
        root.normalize_hrefs(str(work))
        root.make_all_asset_hrefs_relative()
        root.save(pystac.CatalogType.SELF_CONTAINED)
        (work / "mirror.json").write_text(
            json.dumps({"kind": "geoeco-inputs-mirror", "year": year, "items": counts}, indent=2)
        )
    folder = Path(out)
    size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    step("mirror written", 1.0)
    return MirrorReport(folder, counts, size)


def _mirror_recipe(
    recipe: Recipe,
    cat: CatalogConfig,
    grid: Grid,
    year: int,
    reader: AssetReader,
    work: Path,
    root: pystac.Catalog,
    colls: dict[str, pystac.Collection],
) -> int:
    """Mirror one recipe's sources; returns how many items (or soil depths) it wrote."""
    if recipe.reader == "derived":
        return 0  # computed from another recipe's mirrored data
    if recipe.reader == "gdal-vrt":
        return _mirror_soil(recipe, cat, grid, reader, work)
    cid = recipe.collection
    assert cid is not None
    if cid not in colls:
        colls[cid] = _collection(cid, recipe)
        root.add_child(colls[cid])
    if recipe.reader == "xarray-zarr":
        if "zarr-https" not in colls[cid].assets:
            store = _mirror_zarr(recipe, cat, grid, year, reader, work)
            media = "application/vnd+zarr"
            colls[cid].add_asset("zarr-https", pystac.Asset(str(store), media_type=media))
        return 1
    steps, _ = find_steps(recipe, grid, year, cat, reader)
    n = 0
    have = {i.id for i in colls[cid].get_items()}
    for s in steps:
        for item in s.items:
            if item.id in have:
                continue
            got = _mirror_item(recipe, item, grid, reader, work, cat.name)
            if got is not None:
                colls[cid].add_item(got)
                have.add(item.id)
                n += 1
    return n


__all__ = ["MIRROR_MARGIN_PX", "MirrorReport", "write_mirror"]
