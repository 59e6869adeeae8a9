"""Fetch one input: a recipe, a target grid and a year in; values and a provenance record out.

:func:`fetch_input` finds the items the recipe's temporal rule picks (STAC search or static
walk; a path template for VRT sources; the collection's Zarr store), reads only the windows
the grid needs (:mod:`.remote`, :mod:`.zarr_reader`), converts units, and returns the
:class:`~geoeco.core.raster.Raster` on the grid with an :class:`InputRecord`: status ``real``,
the items and dates used, the recipe version, licence and attribution, checksums, and the
share of the target area that has data (a partial coverage is reported, never hidden).

With ``out`` the raster is also written as a COG (:func:`geoeco.core.io.write_raster`) and the
record carries the file's checksum. Search answers, asset headers and pixel windows all go
through the :class:`WindowCache`, so a second run for the same grid and year reads nothing
remote.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import urljoin

import numpy as np
from pydantic import BaseModel, ConfigDict
from rasterio.warp import transform_bounds

from geoeco.core.crs import WGS84
from geoeco.core.errors import RemoteSourceError
from geoeco.core.io import write_raster
from geoeco.core.raster import Grid, Raster
from geoeco.core.windows import file_sha256

from .cache import NullProgress, Progress, WindowCache, cache_key
from .config import CatalogConfig, check_href
from .derive import days_in_months, weibull_days_above
from .recipes import EditionsRule, Recipe, SeasonRule, get_recipe
from .remote import AssetReader, RemoteOptions, StepsRead, read_steps
from .signing import Signer, signer_for
from .stac import BBox, CatalogItem, StacCatalog, Step, search_range, select_items
from .zarr_reader import read_zarr_months


class ItemUse(BaseModel):
    """An item (or store variable/month, or VRT) a fetch used."""

    model_config = ConfigDict(frozen=True)

    id: str
    start: str | None = None
    end: str | None = None
    assets: dict[str, str] = {}


class InputRecord(BaseModel):
    """Provenance of one fetched input (goes into the layer folder's manifest)."""

    model_config = ConfigDict(frozen=True)

    recipe: str
    recipe_version: str
    title: str
    status: Literal["real"] = "real"
    tag: str
    year: int
    catalog: str
    catalog_url: str
    collection: str | None
    temporal_rule: str
    steps: tuple[str, ...]
    items: tuple[ItemUse, ...]
    composite: str
    resampling: str
    units: str
    decoding: str
    licence: str
    attribution: str
    citation: str
    coverage: float
    missing_share: float
    data_sha256: str
    file: str | None = None
    file_sha256: str | None = None
    derived_from: str | None = None
    derivation: str | None = None
    sources: dict[str, str]
    fetched_at: str


@dataclass(frozen=True)
class FetchedInput:
    """What :func:`fetch_input` returns: values on the grid and their record."""

    raster: Raster
    record: InputRecord


def grid_lonlat_bbox(grid: Grid, *, margin_deg: float = 0.01) -> BBox:
    """The grid's footprint in lon/lat (WGS 84 ≈ CGCS2000), widened by ``margin_deg``."""
    w, s, e, n = transform_bounds(grid.crs, WGS84, *grid.bounds, densify_pts=21)
    return (w - margin_deg, s - margin_deg, e + margin_deg, n + margin_deg)


def grid_footprint(grid: Grid, *, points_per_side: int = 16) -> Any:
    """The grid's outline in lon/lat as a shapely polygon (edges densified)."""
    from rasterio.warp import transform
    from shapely.geometry import Polygon

    left, bottom, right, top = grid.bounds
    t = np.linspace(0.0, 1.0, points_per_side, endpoint=False)
    xs = np.concatenate(
        [
            left + (right - left) * t,
            np.full_like(t, right),
            right - (right - left) * t,
            np.full_like(t, left),
        ]
    )
    ys = np.concatenate(
        [
            np.full_like(t, top),
            top - (top - bottom) * t,
            np.full_like(t, bottom),
            bottom + (top - bottom) * t,
        ]
    )
    lon, lat = transform(grid.crs, WGS84, xs.tolist(), ys.tolist())
    return Polygon(zip(lon, lat, strict=True))


def _cached_search(
    catalog: StacCatalog, recipe: Recipe, bbox: BBox, year: int, cache: WindowCache
) -> tuple[CatalogItem, ...]:
    assert recipe.collection is not None
    start, end = search_range(recipe.temporal, year)
    bbox_text = ",".join(f"{v:.4f}" for v in bbox)
    key = cache_key(
        "search",
        catalog.config.url,
        recipe.collection,
        bbox_text,
        str(start),
        str(end),
        recipe.version,
    )
    hit = cache.get_json(key)
    if hit is not None:
        return tuple(CatalogItem.from_json(d) for d in hit)
    items = catalog.search(recipe.collection, bbox, start, end)
    cache.put_json(key, [i.to_json() for i in items])
    return items


def _stac_steps(
    recipe: Recipe,
    grid: Grid,
    year: int,
    catalog: CatalogConfig,
    cache: WindowCache,
    options: RemoteOptions,
) -> list[Step]:
    stac = StacCatalog(
        catalog,
        retries=options.retries,
        backoff_s=options.retry_delay_s,
        timeout_s=options.timeout_s,
    )
    bbox = grid_lonlat_bbox(grid)
    found = _cached_search(stac, recipe, bbox, year, cache)
    area = grid_footprint(grid).buffer(0.01)
    items = [i for i in found if i.footprint_intersects(area)]
    steps = select_items(recipe.temporal, items, year)
    if not steps:
        rule = recipe.temporal.kind
        raise RemoteSourceError(
            f"catalog {catalog.name!r} ({catalog.url}), collection {recipe.collection!r}: no "
            f"item for {year} under the {rule} rule covers lon/lat "
            f"{', '.join(f'{v:.3f}' for v in bbox)} ({len(items)} items meet the area before "
            "the rule)"
        )
    return steps


def _vrt_steps(recipe: Recipe, catalog: CatalogConfig) -> tuple[list[Step], list[float]]:
    """One pseudo-item per soil depth (path template under the catalog root), with weights."""
    key = recipe.assets["value"].key
    depths = recipe.depths or ()
    names = [d.name for d in depths] or [""]
    weights = [d.bottom_cm - d.top_cm for d in depths] or [1.0]
    epoch = datetime(2000, 1, 1, tzinfo=UTC)
    root = catalog.url if catalog.url.endswith("/") else catalog.url + "/"
    steps = []
    for name in names:
        rel = key.format(depth=name)
        href = urljoin(root, rel) if "://" in root else os.path.join(root, rel)
        check_href(href, catalog, what=f"recipe {recipe.id!r} file {rel!r}")
        item = CatalogItem(
            rel, recipe.id, (-180.0, -90.0, 180.0, 90.0), epoch, epoch, {}, {key: href}
        )
        steps.append(Step(name or "static", (item,)))
    return steps, weights


def _zarr_store(
    recipe: Recipe, catalog: CatalogConfig, cache: WindowCache, options: RemoteOptions
) -> str:
    assert recipe.collection is not None and recipe.store_asset is not None
    key = cache_key("collection-assets", catalog.url, recipe.collection)
    assets = cache.get_json(key)
    if assets is None:
        stac = StacCatalog(catalog, retries=options.retries, backoff_s=options.retry_delay_s)
        assets = stac.collection_assets(recipe.collection)
        cache.put_json(key, assets)
    if recipe.store_asset not in assets:
        raise RemoteSourceError(
            f"catalog {catalog.name!r}, collection {recipe.collection!r}: no asset "
            f"{recipe.store_asset!r} (has: {', '.join(sorted(assets)) or 'none'})"
        )
    return check_href(str(assets[recipe.store_asset]), catalog, what="the Zarr store")


def find_steps(
    recipe: Recipe, grid: Grid, year: int, catalog: CatalogConfig, reader: AssetReader
) -> tuple[list[Step], list[float]]:
    """The items a STAC or VRT recipe reads for ``grid`` and ``year`` (the searches and the
    temporal rule of :func:`fetch_input`), with the soil depths' weights (else empty)."""
    if recipe.reader == "gdal-vrt":
        return _vrt_steps(recipe, catalog)
    return _stac_steps(recipe, grid, year, catalog, reader.cache, reader.options), []


def zarr_store_href(recipe: Recipe, catalog: CatalogConfig, reader: AssetReader) -> str:
    """The allow-listed href of a Zarr recipe's store (the collection asset it names)."""
    return _zarr_store(recipe, catalog, reader.cache, reader.options)


def _read(
    recipe: Recipe, grid: Grid, year: int, catalog: CatalogConfig, reader: AssetReader
) -> tuple[StepsRead, list[Step], str]:
    """Values of a non-derived recipe on ``grid``, the steps used, and the composite."""
    if recipe.reader == "xarray-zarr":
        store = _zarr_store(recipe, catalog, reader.cache, reader.options)
        read = read_zarr_months(recipe, store, grid, reader, catalog=catalog.name, year=year)
        return read, [], "monthly bands"
    if recipe.reader == "gdal-vrt":
        steps, weights = _vrt_steps(recipe, catalog)
        how = "weighted" if len(steps) > 1 else "max"
        read = read_steps(
            recipe, steps, grid, reader, catalog=catalog.name, how=how, weights=weights
        )
        return read, steps, "thickness-weighted mean" if how == "weighted" else "single"
    steps = _stac_steps(recipe, grid, year, catalog, reader.cache, reader.options)
    how = recipe.temporal.composite if isinstance(recipe.temporal, SeasonRule) else "max"
    read = read_steps(recipe, steps, grid, reader, catalog=catalog.name, how=how)
    label = f"per-pixel {how} of {len(steps)} steps" if len(steps) > 1 else "single"
    return read, steps, label


def _sha256_array(raster: Raster) -> str:
    data = np.ma.filled(raster.array.astype("float32"), np.nan)
    return hashlib.sha256(np.ascontiguousarray(data).tobytes()).hexdigest()


def coverage_share(raster: Raster, aoi_mask: np.ndarray | None = None) -> float:
    """Share of the target pixels (inside ``aoi_mask`` when given) that have data in every band.

    >>> from affine import Affine
    >>> g = Grid(Affine(1, 0, 0, 0, -1, 2), 2, 2, "EPSG:4546")
    >>> coverage_share(Raster.from_array(np.array([[1.0, np.nan], [2.0, 3.0]]), g))
    0.75
    """
    mask = np.ma.getmaskarray(raster.array)
    valid = np.asarray(~(mask.any(axis=0) if mask.ndim == 3 else mask), dtype=bool)
    inside = np.ones(valid.shape, bool) if aoi_mask is None else np.asarray(aoi_mask, bool)
    n = int(inside.sum())
    return float(valid[inside].sum() / n) if n else 0.0


def _items_used(steps: Sequence[Step], used: Sequence[str], recipe: Recipe) -> list[ItemUse]:
    keys = {a.key for a in recipe.assets.values()}
    by_id = {i.id: i for s in steps for i in s.items}
    out = []
    for item_id in used:
        it = by_id.get(item_id)
        if it is None:
            out.append(ItemUse(id=item_id))
            continue
        assets = {k: v for k, v in it.assets.items() if k in keys}
        out.append(
            ItemUse(id=it.id, start=it.start.isoformat(), end=it.end.isoformat(), assets=assets)
        )
    return out


def _attribution(recipe: Recipe, year: int) -> str:
    rule = recipe.temporal
    data_year = rule.edition(year).item_year if isinstance(rule, EditionsRule) else year
    return recipe.attribution.replace("{year}", str(data_year))


def _convert(raster: Raster, recipe: Recipe) -> Raster:
    if recipe.convert is None:
        return raster
    return Raster(
        raster.array * recipe.convert.factor,
        raster.grid,
        recipe.convert.units,
        raster.name,
        raster.band_names,
    )


def fetch_input(
    recipe: Recipe | str,
    grid: Grid,
    *,
    year: int,
    catalog: CatalogConfig,
    cache: WindowCache | None = None,
    progress: Progress | None = None,
    options: RemoteOptions | None = None,
    out: str | os.PathLike[str] | None = None,
    aoi_mask: np.ndarray | None = None,
    signer: Signer | None = None,
) -> FetchedInput:
    """Fetch one input onto ``grid`` for ``year`` from ``catalog`` (see the module docstring).

    Parameters
    ----------
    recipe : Recipe or str
        The recipe or a built-in recipe id (``"modis-13q1.ndvi"``).
    grid : Grid
        Target grid (geoeco's grids are CGCS2000 Albers, :data:`geoeco.core.crs.ALBERS_CHINA`).
    year : int
        The year the temporal rule picks items for (ignored by static sources).
    catalog : CatalogConfig
        Where to read from: a built-in catalog (:func:`~geoeco.inputs.config.builtin_catalogs`)
        or a mirror (:meth:`CatalogConfig.local`).
    cache, progress, options
        Window cache (default: none), progress hook, network options.
    out : path, optional
        Also write the values as a COG here.
    aoi_mask : bool array, optional
        Pixels of ``grid`` inside the area of interest (coverage is measured there).
    signer : Signer, optional
        Replaces the catalog's configured signing step.

    Raises
    ------
    RemoteSourceError
        The catalog, an item or a tile is unreachable or missing (named in the message).
    UnsafeDataSource
        An href outside the catalog's allow-list.
    """
    recipe = get_recipe(recipe) if isinstance(recipe, str) else recipe
    cache = cache or WindowCache(None)
    reader = AssetReader(
        signer=signer or signer_for(catalog),
        cache=cache,
        options=options,
        progress=progress or NullProgress(),
    )
    if recipe.derive is not None:
        return _fetch_derived(recipe, grid, year, catalog, reader, out, aoi_mask)
    read, steps, how = _read(recipe, grid, year, catalog, reader)
    raster = _convert(read.raster, recipe)
    labels = tuple(s.label for s in steps) or tuple(raster.band_names or ())
    return _finish(
        recipe,
        raster,
        year,
        catalog,
        labels,
        _items_used(steps, read.items_used, recipe),
        how,
        read.resampling,
        out,
        aoi_mask,
    )


def _fetch_derived(
    recipe: Recipe,
    grid: Grid,
    year: int,
    catalog: CatalogConfig,
    reader: AssetReader,
    out: str | os.PathLike[str] | None,
    aoi_mask: np.ndarray | None,
) -> FetchedInput:
    """A derived recipe: fetch its base with the derived temporal rule, then apply the method."""
    assert recipe.derive is not None
    base = get_recipe(recipe.derive.from_recipe).model_copy(update={"temporal": recipe.temporal})
    read, _, _ = _read(base, grid, year, catalog, reader)
    labels = tuple(read.raster.band_names or ())
    monthly = np.ma.filled(read.raster.array.astype("float64"), np.nan)
    days = weibull_days_above(
        monthly, days_in_months(labels), k=recipe.derive.k, threshold=recipe.derive.threshold
    )
    raster = Raster(np.ma.masked_invalid(days), grid, units="days", name=recipe.id)
    items = [ItemUse(id=i) for i in read.items_used]
    method = (
        f"{recipe.derive.method}: k={recipe.derive.k:g}, threshold "
        f"{recipe.derive.threshold:g} m/s [R]"
    )
    fetched = _finish(
        recipe,
        raster,
        year,
        catalog,
        labels,
        items,
        "sum over months",
        read.resampling,
        out,
        aoi_mask,
    )
    record = fetched.record.model_copy(
        update={"derived_from": base.id, "derivation": method, "collection": base.collection}
    )
    return FetchedInput(fetched.raster, record)


def _finish(
    recipe: Recipe,
    raster: Raster,
    year: int,
    catalog: CatalogConfig,
    labels: tuple[str, ...],
    items: Sequence[ItemUse],
    how: str,
    resampling: str,
    out: str | os.PathLike[str] | None,
    aoi_mask: np.ndarray | None,
) -> FetchedInput:
    """Write the COG when asked and build the record."""
    file = file_sha = None
    if out is not None:
        path = write_raster(raster, out)
        file, file_sha = str(path), file_sha256(path)
    cover = coverage_share(raster, aoi_mask)
    record = InputRecord(
        recipe=recipe.id,
        recipe_version=recipe.version,
        title=recipe.title,
        tag=recipe.tag,
        year=year,
        catalog=catalog.name,
        catalog_url=catalog.url,
        collection=recipe.collection,
        temporal_rule=recipe.temporal.kind,
        steps=labels,
        items=tuple(items),
        composite=how,
        resampling=resampling,
        units=raster.units or recipe.units,
        decoding=recipe.decode_note() if recipe.assets else "derived",
        licence=recipe.licence,
        attribution=_attribution(recipe, year),
        citation=recipe.citation,
        coverage=round(cover, 6),
        missing_share=round(1.0 - cover, 6),
        data_sha256=_sha256_array(raster),
        file=file,
        file_sha256=file_sha,
        sources=dict(recipe.sources),
        fetched_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    return FetchedInput(raster, record)


__all__ = [
    "FetchedInput",
    "InputRecord",
    "ItemUse",
    "coverage_share",
    "fetch_input",
    "find_steps",
    "grid_lonlat_bbox",
    "zarr_store_href",
]
