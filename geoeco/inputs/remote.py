"""Remote windowed reads: only the pixels a target grid needs, from COGs and VRTs over HTTP.

This is geoeco's *trusted* network path, separate from :mod:`geoeco.core.userdata` (which
keeps user files off the network): every href reaching it has passed the catalog allow-list
(:func:`geoeco.inputs.config.check_href`), is signed by the catalog's signer, and is opened
with GDAL's ``/vsicurl/`` under :func:`gdal_http_options` (no directory listing, only raster
extensions, HTTP retries with back-off, merged ranges, a block cache).

How one input is read (:func:`read_steps`):

1. each item's asset header (transform, size, CRS) is read once (and cached);
2. items that share a pixel lattice (same CRS and pixel size, origins a whole number of pixels
   apart: MODIS h/v tiles, DEM 1° tiles, WorldCover 3° tiles) are mosaicked on that lattice,
   over the target grid's footprint in the source CRS plus a margin of a few pixels, so a
   tile seam is invisible (each source pixel is read once, from the one tile that holds it);
3. raw numbers are decoded by the recipe (scale, offset, fill values, valid range, QA mask,
   Sentinel-2 baseline offset, NDVI from red and NIR);
4. the time steps of a temporal rule (or the depths of a soil layer) are composited per pixel
   (maximum, mean, or thickness-weighted mean);
5. the composite is warped once onto the target grid (bilinear or average for continuous
   values, nearest or mode for classes, chosen by the ratio of pixel sizes).

Only the windows of step 2 are requested; each goes through the :class:`WindowCache`, keyed by
item, unsigned href, window and recipe version, so a warm rerun requests nothing. An
unreachable asset raises :class:`RemoteSourceError` naming catalog, collection, item and asset.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import rasterio
from affine import Affine
from rasterio.errors import RasterioIOError
from rasterio.warp import transform_bounds
from rasterio.windows import Window, from_bounds

from geoeco.core.align import Resampling, align_to
from geoeco.core.errors import RemoteSourceError
from geoeco.core.raster import Grid, Raster, as_crs

from .cache import NullProgress, Progress, WindowCache, cache_key
from .recipes import AssetSpec, Recipe
from .signing import NoSigner, Signer
from .stac import CatalogItem, Step

T = TypeVar("T")
PixelWindow = tuple[int, int, int, int]
"""``(row_off, col_off, height, width)`` in an asset's pixels."""

#: Messages of GDAL errors that retrying cannot fix (the file is not there).
_PERMANENT = ("404", "403", "does not exist", "No such file", "not recognized")


@dataclass(frozen=True)
class RemoteOptions:
    """Network behaviour of remote reads.

    Parameters
    ----------
    retries : int
        Attempts after the first, both inside GDAL (``GDAL_HTTP_MAX_RETRY``, for 429/5xx) and
        around a whole read (connection failures).
    retry_delay_s : float
        First back-off delay; doubled on each further attempt.
    timeout_s : int
        HTTP timeout of one request.
    margin_px : int
        Source pixels read beyond the target footprint (the resampling kernel's reach).
    vsi_cache_bytes : int
        Per-file block cache of GDAL (``VSI_CACHE_SIZE``).
    """

    retries: int = 3
    retry_delay_s: float = 0.5
    timeout_s: int = 30
    margin_px: int = 2
    vsi_cache_bytes: int = 64 * 2**20


def gdal_http_options(opts: RemoteOptions) -> dict[str, str]:
    """GDAL configuration of every remote open (see the module docstring).

    >>> o = gdal_http_options(RemoteOptions())
    >>> o["GDAL_DISABLE_READDIR_ON_OPEN"], o["CPL_VSIL_CURL_ALLOWED_EXTENSIONS"]
    ('EMPTY_DIR', '.tif,.tiff,.TIF,.TIFF,.vrt')
    """
    return {
        "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR",
        "CPL_VSIL_CURL_ALLOWED_EXTENSIONS": ".tif,.tiff,.TIF,.TIFF,.vrt",
        "GDAL_HTTP_MAX_RETRY": str(opts.retries),
        "GDAL_HTTP_RETRY_DELAY": f"{opts.retry_delay_s:g}",
        "GDAL_HTTP_TIMEOUT": str(opts.timeout_s),
        "GDAL_HTTP_MERGE_CONSECUTIVE_RANGES": "YES",
        "GDAL_HTTP_MULTIPLEX": "YES",
        "GDAL_INGESTED_BYTES_AT_OPEN": "32768",
        "VSI_CACHE": "TRUE",
        "VSI_CACHE_SIZE": str(opts.vsi_cache_bytes),
        "GDAL_PAM_ENABLED": "NO",
    }


def gdal_path(url: str) -> str:
    """The GDAL path of a signed URL (``/vsicurl/``) or of a local file (itself)."""
    return f"/vsicurl/{url}" if url.startswith(("http://", "https://")) else url


@dataclass(frozen=True)
class Where:
    """Names an asset in error messages."""

    catalog: str
    collection: str
    item: str
    asset: str

    def __str__(self) -> str:
        return (
            f"catalog {self.catalog!r}, collection {self.collection!r}, item {self.item!r}, "
            f"asset {self.asset!r}"
        )


@dataclass(frozen=True)
class AssetHeader:
    """What the header of one asset says: transform, size, CRS (WKT) and data type."""

    transform: tuple[float, float, float, float, float, float]
    width: int
    height: int
    crs_wkt: str
    dtype: str

    @property
    def affine(self) -> Affine:
        """The transform as an :class:`Affine`."""
        return Affine(*self.transform)

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict (for the cache)."""
        return {
            "transform": list(self.transform),
            "width": self.width,
            "height": self.height,
            "crs_wkt": self.crs_wkt,
            "dtype": self.dtype,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> AssetHeader:
        """Inverse of :meth:`to_json`."""
        t = [float(x) for x in d["transform"]]
        return cls(
            (t[0], t[1], t[2], t[3], t[4], t[5]), d["width"], d["height"], d["crs_wkt"], d["dtype"]
        )


class AssetReader:
    """Reads asset headers and pixel windows through GDAL, the cache and retries.

    Parameters
    ----------
    signer : Signer
        Makes an (unsigned, allow-listed) href requestable.
    cache : WindowCache
        Where windows and headers are kept.
    options : RemoteOptions
        Retries, timeouts, margins.
    progress : Progress
        Told about every window read.
    """

    def __init__(
        self,
        *,
        signer: Signer | None = None,
        cache: WindowCache | None = None,
        options: RemoteOptions | None = None,
        progress: Progress | None = None,
    ) -> None:
        self.signer = signer or NoSigner()
        self.cache = cache or WindowCache(None)
        self.options = options or RemoteOptions()
        self.progress = progress or NullProgress()

    def _with_dataset(self, href: str, where: Where, fn: Callable[[Any], T]) -> T:
        """Open ``href`` and call ``fn(dataset)``, retrying transient failures."""
        delay = self.options.retry_delay_s
        for attempt in range(self.options.retries + 1):
            try:
                with rasterio.Env(**gdal_http_options(self.options)):
                    with rasterio.open(gdal_path(self.signer.sign(href))) as ds:
                        return fn(ds)
            except RasterioIOError as exc:
                text = str(exc)
                permanent = any(p in text for p in _PERMANENT)
                if permanent or attempt == self.options.retries:
                    what = "missing (no such file or tile)" if permanent else "unreachable"
                    raise RemoteSourceError(f"{where}: {what}: {_short(text)}") from None
                time.sleep(delay * 2**attempt)
        raise AssertionError("unreachable")  # pragma: no cover

    def header(self, href: str, where: Where) -> AssetHeader:
        """The asset's header (cached by href)."""
        key = cache_key("header", href)
        cached = self.cache.get_json(key)
        if cached is not None:
            return AssetHeader.from_json(cached)

        def read(ds: Any) -> AssetHeader:
            if ds.crs is None:
                raise RemoteSourceError(f"{where}: the asset has no CRS")
            t = ds.transform
            return AssetHeader(
                (t.a, t.b, t.c, t.d, t.e, t.f), ds.width, ds.height, ds.crs.to_wkt(), ds.dtypes[0]
            )

        head = self._with_dataset(href, where, read)
        self.cache.put_json(key, head.to_json())
        return head

    def window(
        self,
        href: str,
        where: Where,
        window: tuple[float, float, float, float],
        out_shape: tuple[int, int],
        version: str,
    ) -> np.ndarray:
        """Raw band-1 values of ``window`` (row_off, col_off, height, width; may be
        fractional) read at ``out_shape`` (nearest), from the cache when present."""
        win_text = ",".join(f"{v:.6f}" for v in window)
        key = cache_key("window", where.item, href, win_text, f"{out_shape}", version)
        cached = self.cache.get_array(key)
        if cached is not None:
            self.progress.item_done(where.item, int(cached.nbytes), cached=True)
            return cached
        r, c, h, w = window

        def read(ds: Any) -> np.ndarray:
            out: np.ndarray = ds.read(1, window=Window(c, r, w, h), out_shape=out_shape)
            return out

        arr = self._with_dataset(href, where, read)
        self.cache.put_array(key, arr)
        self.progress.item_done(where.item, int(arr.nbytes), cached=False)
        return arr


def _short(text: str) -> str:
    first = text.splitlines()[0] if text else "error"
    for marker in ("?", "&sig="):  # never echo a signed URL's token
        if marker in first:
            first = first.split(marker)[0] + "…"
    return first[:300]


# --------------------------------------------------------------------------- lattices


def same_lattice(a: AssetHeader, b: AssetHeader, *, tol: float = 1e-6) -> bool:
    """True when ``b``'s pixels sit on ``a``'s lattice (same CRS and size, whole offsets)."""
    ta, tb = a.affine, b.affine
    if a.crs_wkt != b.crs_wkt or not math.isclose(ta.a, tb.a, rel_tol=1e-9):
        return False
    if not math.isclose(ta.e, tb.e, rel_tol=1e-9):
        return False
    dc = (tb.c - ta.c) / ta.a
    dr = (tb.f - ta.f) / ta.e
    return abs(dc - round(dc)) < tol and abs(dr - round(dr)) < tol


def lattice_for(head: AssetHeader, target: Grid, margin_px: int) -> Grid:
    """The window of ``head``'s pixel lattice covering ``target`` (plus a margin)."""
    t = head.affine
    left, bottom, right, top = transform_bounds(
        target.crs, head.crs_wkt, *target.bounds, densify_pts=21
    )
    col0 = math.floor((left - t.c) / t.a) - margin_px
    col1 = math.ceil((right - t.c) / t.a) + margin_px
    row0 = math.floor((top - t.f) / t.e) - margin_px
    row1 = math.ceil((bottom - t.f) / t.e) + margin_px
    origin = t * (col0, row0)
    crs = as_crs(head.crs_wkt, what="asset")
    return Grid(Affine(t.a, 0.0, origin[0], 0.0, t.e, origin[1]), col1 - col0, row1 - row0, crs)


@dataclass(frozen=True)
class Placement:
    """Where an item's pixels land in a lattice: source and destination windows."""

    src: PixelWindow
    dst: PixelWindow


def place(head: AssetHeader, lattice: Grid) -> Placement | None:
    """The overlap of an asset (on the lattice's pixel grid) with the lattice, or None."""
    lt, ht = lattice.transform, head.affine
    dc = round((ht.c - lt.c) / lt.a)
    dr = round((ht.f - lt.f) / lt.e)
    c0, c1 = max(0, dc), min(lattice.width, dc + head.width)
    r0, r1 = max(0, dr), min(lattice.height, dr + head.height)
    if c1 <= c0 or r1 <= r0:
        return None
    return Placement((r0 - dr, c0 - dc, r1 - r0, c1 - c0), (r0, c0, r1 - r0, c1 - c0))


def choose_resampling(kind: str, lattice: Grid, target: Grid) -> Resampling:
    """Bilinear/nearest, or average/mode when target pixels span more than 1.5 source pixels.

    The source pixel size is measured in the target CRS over the lattice footprint.
    """
    left, bottom, right, top = transform_bounds(
        lattice.crs, target.crs, *lattice.bounds, densify_pts=21
    )
    src_px = math.sqrt((right - left) * (top - bottom) / (lattice.width * lattice.height))
    coarser = min(target.res) > 1.5 * src_px
    if kind == "categorical":
        return "mode" if coarser else "nearest"
    return "average" if coarser else "bilinear"


# --------------------------------------------------------------------------- decoding


def decode(raw: np.ndarray, spec: AssetSpec, *, add: float = 0.0) -> np.ndarray:
    """Raw numbers to float32 values: ``(raw + add) × scale + offset``; fills and values
    outside the valid range (raw units) become NaN.

    >>> from geoeco.inputs.recipes import get_recipe
    >>> spec = get_recipe("modis-13q1.ndvi").assets["value"]
    >>> decode(np.array([5000, -3000, 10001, -2000], dtype="int16"), spec).tolist()
    [0.5, nan, nan, -0.20000000298023224]
    """
    values = (raw.astype("float64") + add) * spec.scale + spec.offset
    bad = np.isin(raw, np.asarray(spec.nodata, dtype="float64")) if spec.nodata else None
    if spec.valid_min is not None:
        bad = (raw < spec.valid_min) if bad is None else bad | (raw < spec.valid_min)
    if spec.valid_max is not None:
        bad = (raw > spec.valid_max) if bad is None else bad | (raw > spec.valid_max)
    if raw.dtype.kind == "f":
        bad = np.isnan(raw) if bad is None else bad | np.isnan(raw)
    if bad is not None:
        values[bad] = np.nan
    return values.astype("float32")


def baseline_add(recipe: Recipe, item: CatalogItem) -> float:
    """The raw offset a recipe's :class:`BaselineOffset` adds for ``item`` (else 0)."""
    rule = recipe.baseline_offset
    if rule is None:
        return 0.0
    value = item.properties.get(rule.property)
    try:
        applies = value is not None and float(str(value)) >= float(rule.from_value)
    except ValueError:
        applies = False
    return rule.offset if applies else 0.0


def item_values(recipe: Recipe, raws: dict[str, np.ndarray], item: CatalogItem) -> np.ndarray:
    """Decoded values of one item's window (NDVI from red/NIR; QA mask applied)."""
    add = baseline_add(recipe, item)
    values: np.ndarray
    if recipe.product == "ndvi":
        red = decode(raws["red"], recipe.assets["red"], add=add)
        nir = decode(raws["nir"], recipe.assets["nir"], add=add)
        with np.errstate(divide="ignore", invalid="ignore"):
            values = ((nir - red) / (nir + red)).astype("float32")
        values[~np.isfinite(values)] = np.nan
    else:
        values = decode(raws["value"], recipe.assets["value"])
    if recipe.qa is not None:
        values[~np.isin(raws[recipe.qa.asset], recipe.qa.keep)] = np.nan
    return values


def composite(
    layers: Sequence[np.ndarray], how: str, weights: Sequence[float] | None = None
) -> np.ndarray:
    """Per-pixel ``max``, ``mean`` or ``weighted`` mean over layers, ignoring NaN.

    >>> a = np.array([[1.0, np.nan]], dtype="float32"); b = np.array([[3.0, np.nan]], "float32")
    >>> composite([a, b], "max").tolist(), composite([a, b], "weighted", [1, 3]).tolist()
    ([[3.0, nan]], [[2.5, nan]])
    """
    stack = np.stack(list(layers))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN pixels stay NaN
        if how == "max":
            out = np.nanmax(stack, axis=0)
        elif how == "mean":
            out = np.nanmean(stack, axis=0)
        else:
            w = np.asarray(weights, dtype="float64")[:, None, None] * ~np.isnan(stack)
            out = np.nansum(stack * w, axis=0) / w.sum(axis=0)
    return np.asarray(out, dtype="float32")


# --------------------------------------------------------------------------- mosaics


@dataclass(frozen=True)
class StepsRead:
    """The result of :func:`read_steps`: values on the target grid and what was used."""

    raster: Raster
    items_used: tuple[str, ...]
    resampling: str


def _roles(recipe: Recipe) -> list[str]:
    roles = ["value"] if recipe.product == "value" else ["red", "nir"]
    if recipe.qa is not None:
        roles.append(recipe.qa.asset)
    return roles


def _href(recipe: Recipe, item: CatalogItem, role: str, where: Where) -> str:
    key = recipe.assets[role].key
    if key not in item.assets:
        raise RemoteSourceError(f"{where}: the item has no asset {key!r}")
    return item.assets[key]


def _where(catalog: str, item: CatalogItem, asset: str) -> Where:
    return Where(catalog, item.collection, item.id, asset)


def _read_item(
    recipe: Recipe,
    item: CatalogItem,
    head: AssetHeader,
    lattice: Grid,
    reader: AssetReader,
    catalog: str,
) -> tuple[Placement, np.ndarray] | None:
    """Decoded values of the part of ``item`` inside ``lattice`` (None: no overlap)."""
    pl = place(head, lattice)
    if pl is None:
        return None
    r, c, h, w = pl.src
    dst_bounds = lattice.window(*pl.dst).bounds
    raws: dict[str, np.ndarray] = {}
    for i, role in enumerate(_roles(recipe)):
        where = _where(catalog, item, recipe.assets[role].key)
        href = _href(recipe, item, role, where)
        if i == 0:
            win = (float(r), float(c), float(h), float(w))
        else:
            rw = from_bounds(*dst_bounds, transform=reader.header(href, where).affine)
            win = (rw.row_off, rw.col_off, rw.height, rw.width)
        raws[role] = reader.window(href, where, win, (h, w), recipe.version)
    return pl, item_values(recipe, raws, item)


def _groups(
    heads: list[tuple[int, CatalogItem, AssetHeader]],
) -> list[list[tuple[int, CatalogItem, AssetHeader]]]:
    """Split (step, item, header) triples into groups sharing a pixel lattice."""
    groups: list[list[tuple[int, CatalogItem, AssetHeader]]] = []
    for entry in heads:
        for group in groups:
            if same_lattice(group[0][2], entry[2]):
                group.append(entry)
                break
        else:
            groups.append([entry])
    return groups


def _group_composite(
    recipe: Recipe,
    group: list[tuple[int, CatalogItem, AssetHeader]],
    n_steps: int,
    target: Grid,
    reader: AssetReader,
    catalog: str,
    how: str,
    weights: Sequence[float] | None,
) -> tuple[np.ndarray, Grid, list[str]]:
    """Mosaic each step of one lattice group, then composite the steps per pixel."""
    lattice = lattice_for(group[0][2], target, reader.options.margin_px)
    layers = [np.full(lattice.shape, np.nan, dtype="float32") for _ in range(n_steps)]
    used: list[str] = []
    overlapping = [g for g in group if place(g[2], lattice) is not None]
    reader.progress.items_planned(len(overlapping) * len(_roles(recipe)))
    for step, item, head in overlapping:
        got = _read_item(recipe, item, head, lattice, reader, catalog)
        if got is None:
            continue
        pl, values = got
        r, c, h, w = pl.dst
        dest = layers[step][r : r + h, c : c + w]
        np.copyto(dest, values, where=np.isnan(dest))
        used.append(item.id)
    return composite(layers, how, weights), lattice, used


def read_steps(
    recipe: Recipe,
    steps: Sequence[Step],
    target: Grid,
    reader: AssetReader,
    *,
    catalog: str,
    how: str = "max",
    weights: Sequence[float] | None = None,
) -> StepsRead:
    """Read, mosaic, composite and warp the items of ``steps`` onto ``target``.

    ``how`` composites the steps (``max``, ``mean`` or ``weighted`` with ``weights``, one per
    step). Items of different lattices (e.g. two UTM zones) are warped separately and merged
    (maximum for ``max``, else the first with data).
    """
    heads: list[tuple[int, CatalogItem, AssetHeader]] = []
    main = _roles(recipe)[0]
    for i, step in enumerate(steps):
        for item in step.items:
            where = _where(catalog, item, recipe.assets[main].key)
            heads.append((i, item, reader.header(_href(recipe, item, main, where), where)))
    out = np.full(target.shape, np.nan, dtype="float32")
    used: list[str] = []
    resampling: Resampling = "nearest"
    for group in _groups(heads):
        values, lattice, ids = _group_composite(
            recipe, group, len(steps), target, reader, catalog, how, weights
        )
        used.extend(ids)
        resampling = choose_resampling(recipe.resampling, lattice, target)
        src = Raster(np.ma.masked_invalid(values), lattice)
        warped = np.ma.filled(align_to(src, target, resampling=resampling).array, np.nan)
        if how == "max":
            out = np.fmax(out, warped)
        else:
            np.copyto(out, warped, where=np.isnan(out))
    raster = Raster(np.ma.masked_invalid(out), target, units=recipe.units, name=recipe.id)
    return StepsRead(raster, tuple(dict.fromkeys(used)), resampling)


__all__ = [
    "AssetHeader",
    "AssetReader",
    "Placement",
    "RemoteOptions",
    "StepsRead",
    "Where",
    "baseline_add",
    "choose_resampling",
    "composite",
    "decode",
    "gdal_http_options",
    "gdal_path",
    "item_values",
    "lattice_for",
    "place",
    "read_steps",
    "same_lattice",
]
