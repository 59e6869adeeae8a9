"""Monthly fields from a consolidated Zarr store (TerraClimate) through xarray.

The same contract as the COG reader: given a recipe, a target grid and a year, return values
on the target grid. The store's lat/lon grid (cell centres, EPSG:4326) is cut to the target's
footprint plus a margin, the months the temporal rule names are selected, and that block is
fetched (only the chunks it touches; the consolidated ``.zmetadata`` first), cached, and each
month is warped onto the target grid as one band named ``YYYY-MM``.

The store href has passed the catalog allow-list; a signed URL's query (a SAS token) is sent
as request parameters of every chunk request rather than glued onto the store path.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit, urlunsplit

import numpy as np
from affine import Affine
from rasterio.warp import transform_bounds

from geoeco.core.align import align_to
from geoeco.core.crs import WGS84
from geoeco.core.errors import RemoteSourceError
from geoeco.core.raster import Grid, Raster

from .cache import cache_key
from .recipes import MonthlyRule, Recipe
from .remote import AssetReader, StepsRead, choose_resampling, decode

#: Exceptions that mean "the store or a chunk cannot be read".
_READ_ERRORS: tuple[type[BaseException], ...] = (OSError, KeyError, ValueError, RuntimeError)


@dataclass(frozen=True)
class ZarrBlock:
    """Index ranges of a block of a (time, lat, lon) variable and its lattice grid."""

    time_idx: tuple[int, ...]
    labels: tuple[str, ...]
    rows: tuple[int, int]
    cols: tuple[int, int]
    grid: Grid


def _open_dataset(href: str, reader: AssetReader) -> Any:
    import xarray as xr

    if not href.startswith(("http://", "https://")):
        return xr.open_zarr(href, consolidated=True)
    from zarr.storage import FsspecStore

    signed = urlsplit(reader.signer.sign(href))
    base = urlunsplit((signed.scheme, signed.netloc, signed.path, "", ""))
    options: dict[str, Any] = {"params": dict(parse_qsl(signed.query))} if signed.query else {}
    timeout = reader.options.timeout_s
    import aiohttp

    options["client_kwargs"] = {"timeout": aiohttp.ClientTimeout(total=timeout)}
    store = FsspecStore.from_url(base, storage_options=options, read_only=True)
    return xr.open_zarr(store, consolidated=True)


def open_store(href: str, reader: AssetReader) -> Any:
    """The consolidated Zarr store at ``href`` (allow-listed) as an xarray Dataset."""
    return _open_dataset(href, reader)


def _axis_range(coords: np.ndarray, lo: float, hi: float, margin: int) -> tuple[int, int]:
    """Index range [i0, i1) of cell centres between lo and hi (either order), plus margin."""
    inside = np.nonzero((coords >= lo) & (coords <= hi))[0]
    if inside.size == 0:
        nearest = int(np.argmin(np.abs(coords - (lo + hi) / 2)))
        inside = np.array([nearest])
    return max(0, int(inside[0]) - margin), min(coords.size, int(inside[-1]) + 1 + margin)


def plan_block(
    ds: Any, target: Grid, months: tuple[tuple[int, int], ...], margin: int
) -> ZarrBlock:
    """The block of the store that covers ``target`` for ``months`` (year, month)."""
    lat = np.asarray(ds["lat"].values, dtype="float64")
    lon = np.asarray(ds["lon"].values, dtype="float64")
    w, s, e, n = transform_bounds(target.crs, WGS84, *target.bounds, densify_pts=21)
    dlat, dlon = abs(lat[1] - lat[0]), abs(lon[1] - lon[0])
    rows = _axis_range(lat, s - dlat, n + dlat, margin)
    cols = _axis_range(lon, w - dlon, e + dlon, margin)
    times = ds["time"].values.astype("datetime64[M]")
    wanted = {np.datetime64(f"{y:04d}-{m:02d}", "M") for y, m in months}
    idx = tuple(int(i) for i, t in enumerate(times) if t in wanted)
    labels = tuple(str(times[i]) for i in idx)
    top = lat[rows[0]] + math.copysign(dlat / 2, lat[0] - lat[-1])
    flip = -1.0 if lat[0] > lat[-1] else 1.0
    transform = Affine(dlon, 0.0, lon[cols[0]] - dlon / 2, 0.0, flip * dlat, top)
    grid = Grid(transform, cols[1] - cols[0], rows[1] - rows[0], WGS84)
    return ZarrBlock(idx, labels, rows, cols, grid)


def read_zarr_months(
    recipe: Recipe, store_href: str, target: Grid, reader: AssetReader, *, catalog: str, year: int
) -> StepsRead:
    """Monthly values of ``recipe``'s variable on ``target`` (one band per month)."""
    rule = recipe.temporal
    if not isinstance(rule, MonthlyRule):
        raise RemoteSourceError(f"recipe {recipe.id!r}: the Zarr reader needs a monthly rule")
    var = recipe.assets["value"].key
    where = f"catalog {catalog!r}, collection {recipe.collection!r}, store {store_href!r}"
    months = rule.month_list(year)
    try:
        block, raw = _fetch_block(recipe, store_href, target, reader, months)
    except RemoteSourceError:
        raise
    except _READ_ERRORS as exc:
        raise RemoteSourceError(f"{where}, variable {var!r}: unreadable ({exc})") from None
    if len(block.time_idx) != len(months):
        have = ", ".join(block.labels) or "none"
        raise RemoteSourceError(
            f"{where}, variable {var!r}: months of {year} missing (found: {have})"
        )
    values = decode(raw, recipe.assets["value"])
    if block.grid.transform.e > 0:  # south-up store: flip to north-up
        values = values[:, ::-1, :]
        t = block.grid.transform
        flipped = Affine(t.a, 0.0, t.c, 0.0, -t.e, t.f + t.e * block.grid.height)
        block = ZarrBlock(
            block.time_idx,
            block.labels,
            block.rows,
            block.cols,
            Grid(flipped, block.grid.width, block.grid.height, WGS84),
        )
    resampling = choose_resampling(recipe.resampling, block.grid, target)
    src = Raster(np.ma.masked_invalid(values), block.grid)
    warped = align_to(src, target, resampling=resampling)
    raster = Raster(
        warped.array, target, units=recipe.units, name=recipe.id, band_names=block.labels
    )
    return StepsRead(raster, tuple(f"{var}@{m}" for m in block.labels), resampling)


def _fetch_block(
    recipe: Recipe,
    store_href: str,
    target: Grid,
    reader: AssetReader,
    months: tuple[tuple[int, int], ...],
) -> tuple[ZarrBlock, np.ndarray]:
    """Plan (from the cached plan when present) and read the block, through the cache."""
    var = recipe.assets["value"].key
    plan_key = cache_key(
        "zarr-plan",
        store_href,
        var,
        repr(target.bounds),
        target.crs.to_wkt(),
        repr(months),
        recipe.version,
    )
    data_key = cache_key("zarr-data", plan_key)
    plan = reader.cache.get_json(plan_key)
    raw = reader.cache.get_array(data_key) if plan is not None else None
    if plan is not None and raw is not None:
        reader.progress.item_done(var, int(raw.nbytes), cached=True)
        return _block_from_json(plan), raw
    ds = _open_dataset(store_href, reader)
    block = plan_block(ds, target, months, reader.options.margin_px)
    reader.progress.items_planned(1)
    arr = (
        ds[var]
        .isel(time=list(block.time_idx), lat=slice(*block.rows), lon=slice(*block.cols))
        .values
    )
    raw = np.asarray(arr)
    reader.cache.put_array(data_key, raw)
    reader.cache.put_json(plan_key, _block_to_json(block))
    reader.progress.item_done(var, int(raw.nbytes), cached=False)
    return block, raw


def _block_to_json(b: ZarrBlock) -> dict[str, Any]:
    t = b.grid.transform
    return {
        "time_idx": list(b.time_idx),
        "labels": list(b.labels),
        "rows": list(b.rows),
        "cols": list(b.cols),
        "transform": [t.a, t.b, t.c, t.d, t.e, t.f],
        "shape": [b.grid.height, b.grid.width],
    }


def _block_from_json(d: dict[str, Any]) -> ZarrBlock:
    grid = Grid(Affine(*d["transform"]), d["shape"][1], d["shape"][0], WGS84)
    return ZarrBlock(
        tuple(d["time_idx"]),
        tuple(d["labels"]),
        (d["rows"][0], d["rows"][1]),
        (d["cols"][0], d["cols"][1]),
        grid,
    )


__all__ = ["ZarrBlock", "open_store", "plan_block", "read_zarr_months"]
