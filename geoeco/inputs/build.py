"""The whole input stack of a place on one grid: fetch every recipe, derive, write the folder.

:func:`build_input_stack` takes a target grid (geoeco's CGCS2000 / Albers grids), the area of
interest on it (a shapely geometry in the grid's CRS), a year and the configured catalogs, and
writes the *raw inputs folder* that ``geoeco zone|erosion|evaluate --inputs-from`` read:

* fetched (windowed reads, :func:`geoeco.inputs.fetch.fetch_input`): ``dem`` (Copernicus DEM
  GLO-30, GLO-90 for areas over :data:`GLO90_ABOVE_KM2`), ``ndvi`` (MODIS MOD13Q1 growing-season
  maximum), ``npp`` (MOD17A3HGF), ``worldcover`` (ESA WorldCover classes, kept beside the
  land cover made from it), ``sand``, ``silt``, ``clay``, ``soc`` (SoilGrids 0–30 cm, the three
  fractions rescaled to 100 %), ``precip_monthly`` (TerraClimate ppt), ``wind_days``
  (Weibull estimate from TerraClimate wind, :mod:`geoeco.inputs.derive`);
* derived (:mod:`geoeco.inputs.derived_inputs`): ``landcover``, ``texture_class``,
  ``infiltration``, ``temp_monthly``, ``wind2m_monthly``, ``rh_monthly`` (fraction 0–1),
  ``aridity``;
* ``erosion.toml`` (R from ``precip_monthly`` by Fournier, K from texture by EPIC, C from NDVI,
  P from the land-cover table) and ``landcover_factors.csv`` (the demo's table: same codes);
* ``inputs.json``: the manifest (``kind = "geoeco-inputs"``): grid, AOI, year, per file its
  status, units, checksum, recipe and version, items and dates, method, the inputs it was
  derived from and the share of the AOI it covers; the sources with licence and attribution.

Coverage follows the project's rule (docs/zoning.md, "Coverage"): every file must cover at
least ``min_coverage`` (0.99) of the AOI, else :class:`~geoeco.core.errors.PartialCoverage`
names the files and their missing shares, unless ``allow_partial`` (the manifest then says the
missing share per file). The folder is written through a staging folder: a failure leaves
nothing behind.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from rasterio.features import geometry_mask

from geoeco.core.errors import InvalidInput, PartialCoverage
from geoeco.core.io import write_raster
from geoeco.core.provenance import worst_status
from geoeco.core.raster import Grid, Raster
from geoeco.core.staging import output_folder
from geoeco.core.windows import file_sha256

from . import derived_inputs as d
from .cache import NullProgress, Progress, WindowCache
from .config import CatalogConfig
from .fetch import FetchedInput, InputRecord, coverage_share, fetch_input
from .recipes import get_recipe
from .remote import RemoteOptions

#: Areas (km²) above which the DEM comes from GLO-90 rather than GLO-30 (research §1).
GLO90_ABOVE_KM2 = 100_000.0
#: Where the NDVI comes from: MODIS MOD13Q1 (250 m, any area) or Sentinel-2 L2A (10 m, small
#: areas only: every cloud-masked scene of the growing season is read at 10 m).
NDVI_SOURCES = {"modis": "modis-13q1.ndvi", "sentinel-2": "sentinel-2-l2a.ndvi"}
#: Largest area (km²) whose NDVI may come from Sentinel-2 [I]: about 10 Mpx per 10 m band and
#: scene, tens of scenes a season; larger areas take MODIS.
S2_MAX_KM2 = 1_000.0
#: The project's coverage rule: share of the AOI each input must cover (docs/zoning.md).
DEFAULT_MIN_COVERAGE = 0.99
MANIFEST = "inputs.json"
EROSION_SETTINGS = "erosion.toml"
LANDCOVER_FACTORS = "landcover_factors.csv"
#: Version of the folder layout written here (``inputs.json`` ``version``).
FOLDER_VERSION = 1

StepProgress = Callable[[str, float], None]


def fetch_plan(area_km2: float, *, ndvi: str = "modis") -> dict[str, str]:
    """Input name -> recipe id of everything fetched for an area of ``area_km2``, the NDVI
    from ``ndvi`` (a key of :data:`NDVI_SOURCES`; ``sentinel-2`` up to :data:`S2_MAX_KM2`).

    >>> fetch_plan(7000)["dem"], fetch_plan(200_000)["dem"]
    ('cop-dem.glo30', 'cop-dem.glo90')
    >>> fetch_plan(300, ndvi="sentinel-2")["ndvi"]
    'sentinel-2-l2a.ndvi'
    >>> fetch_plan(7000, ndvi="sentinel-2")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    geoeco.core.errors.InvalidInput: Sentinel-2 NDVI is for areas up to 1,000 km² ...
    """
    if ndvi not in NDVI_SOURCES:
        raise InvalidInput(f"ndvi source must be one of {', '.join(NDVI_SOURCES)}; got {ndvi!r}")
    if ndvi == "sentinel-2" and area_km2 > S2_MAX_KM2:
        raise InvalidInput(
            f"Sentinel-2 NDVI is for areas up to {S2_MAX_KM2:,.0f} km² (this one: "
            f"{area_km2:,.0f} km²); use the MODIS NDVI (--ndvi modis)"
        )
    dem = "cop-dem.glo90" if area_km2 > GLO90_ABOVE_KM2 else "cop-dem.glo30"
    return {
        "dem": dem,
        "ndvi": NDVI_SOURCES[ndvi],
        "npp": "modis-17a3hgf.npp",
        "worldcover": "esa-worldcover.map",
        "sand": "soilgrids.sand",
        "silt": "soilgrids.silt",
        "clay": "soilgrids.clay",
        "soc": "soilgrids.soc",
        "ppt": "terraclimate.ppt",
        "tmax": "terraclimate.tmax",
        "tmin": "terraclimate.tmin",
        "vap": "terraclimate.vap",
        "ws": "terraclimate.ws",
        "wind_days": "wind-days.weibull",
    }


@dataclass(frozen=True)
class StackRequest:
    """What :func:`build_input_stack` builds: the grid, the AOI on it, the year, the label."""

    grid: Grid
    footprint: Any
    year: int
    label: str
    code: str | None = None
    area_km2: float = 0.0
    #: Where the NDVI comes from (a key of :data:`NDVI_SOURCES`).
    ndvi: str = "modis"


@dataclass(frozen=True)
class InputStack:
    """A written raw inputs folder and its manifest (``inputs.json``)."""

    folder: Path
    manifest: dict[str, Any] = field(repr=False)

    @property
    def status(self) -> str:
        """The worst status of the files (``real`` or ``approximation``)."""
        return str(self.manifest["status"])

    def summary(self) -> dict[str, Any]:
        """A short JSON summary: folder, status, grid size, files and their coverage."""
        files = self.manifest["files"]
        return {
            "out": str(self.folder),
            "status": self.status,
            "aoi": self.manifest["aoi"],
            "year": self.manifest["year"],
            "width": self.manifest["width"],
            "height": self.manifest["height"],
            "res_m": self.manifest["res_m"],
            "files": {k: v["file"] for k, v in files.items()},
            "coverage_share": {k: v["coverage_share"] for k, v in files.items()},
            "sources": [s["recipe"] for s in self.manifest["sources"]],
        }


def catalogs_for(
    override: CatalogConfig | None, configured: Mapping[str, CatalogConfig]
) -> Callable[[str, str], CatalogConfig]:
    """A function (catalog name, reader) -> catalog: the configured catalog a recipe names, or
    ``override``.

    A mirror (``override``) holds every collection in one static catalog and the SoilGrids
    files under its ``soilgrids/`` folder (the layout ``geoeco inputs-mirror`` writes).
    """

    def pick(catalog_name: str, reader: str) -> CatalogConfig:
        if override is None:
            return configured[catalog_name]
        if reader != "gdal-vrt":
            return override
        root = override.allowed_prefixes[0]
        return CatalogConfig(
            name=f"{override.name}-files",
            kind="files",
            url=root + "soilgrids/",
            allowed_prefixes=(root + "soilgrids/",),
        )

    return pick


def _fetch_all(
    req: StackRequest,
    pick: Callable[[str, str], CatalogConfig],
    cache: WindowCache,
    progress: Progress,
    step: StepProgress,
    options: RemoteOptions | None,
) -> dict[str, FetchedInput]:
    plan = fetch_plan(req.area_km2, ndvi=req.ndvi)
    out: dict[str, FetchedInput] = {}
    for i, (name, rid) in enumerate(plan.items()):
        step(f"fetching {name} ({rid})", i / (len(plan) + 2))
        recipe = get_recipe(rid)
        out[name] = fetch_input(
            recipe,
            req.grid,
            year=req.year,
            catalog=pick(recipe.catalog, recipe.reader),
            cache=cache,
            progress=progress,
            options=options,
        )
    return out


def _filled(f: FetchedInput) -> np.ndarray:
    return np.asarray(np.ma.filled(f.raster.array.astype("float64"), np.nan))


@dataclass(frozen=True)
class Layer:
    """One file of the folder before it is written."""

    name: str
    values: np.ndarray
    units: str
    status: str
    method: str
    records: tuple[InputRecord, ...]
    derived_from: tuple[str, ...] = ()
    dtype: str = "float32"
    band_names: tuple[str, ...] | None = None


def _layers_soil(f: Mapping[str, FetchedInput]) -> list[Layer]:
    sand, silt, clay, dev = d.normalise_fractions(
        _filled(f["sand"]), _filled(f["silt"]), _filled(f["clay"])
    )
    rec = {k: f[k].record for k in ("sand", "silt", "clay", "soc", "worldcover")}
    norm = f"{d.METHODS['soil_fractions']}; largest |sum − 100| before: {dev:.2f} %"
    out = [
        Layer(n, v, "%", "real", norm, (rec[n],))
        for n, v in (("sand", sand), ("silt", silt), ("clay", clay))
    ]
    out.append(Layer("soc", _filled(f["soc"]), "%", "real", rec["soc"].decoding, (rec["soc"],)))
    fractions = (rec["sand"], rec["clay"])
    out += [
        Layer(
            "texture_class",
            d.texture_class(sand, clay),
            "class",
            "approximation",
            d.METHODS["texture_class"],
            fractions,
            ("sand", "clay"),
            "uint8",
        ),
        Layer(
            "infiltration",
            d.infiltration(sand, clay),
            "mm/h",
            "real",
            d.METHODS["infiltration"],
            fractions,
            ("sand", "clay"),
        ),
        Layer(
            "landcover",
            d.landcover_codes(_filled(f["worldcover"]), sand),
            "class",
            "real",
            d.METHODS["landcover"],
            (rec["worldcover"], rec["sand"]),
            ("worldcover", "sand"),
            "uint8",
        ),
    ]
    return out


def _layers_climate(f: Mapping[str, FetchedInput], year: int) -> list[Layer]:
    ppt, ws = _filled(f["ppt"]), _filled(f["ws"])
    temp = d.temperature_mean(_filled(f["tmax"]), _filled(f["tmin"]))
    bands = f["ppt"].raster.band_names
    rec = {k: f[k].record for k in ("ppt", "tmax", "tmin", "vap", "ws")}
    trec = (rec["tmax"], rec["tmin"])
    m = d.METHODS
    return [
        Layer(
            "precip_monthly",
            ppt,
            "mm",
            "real",
            m["precip_monthly"],
            (rec["ppt"],),
            (),
            "float32",
            bands,
        ),
        Layer(
            "temp_monthly",
            temp,
            "degC",
            "real",
            m["temp_monthly"],
            trec,
            ("tmax", "tmin"),
            "float32",
            bands,
        ),
        Layer(
            "wind2m_monthly",
            d.wind_2m(ws),
            "m/s",
            "real",
            m["wind2m_monthly"],
            (rec["ws"],),
            ("ws",),
            "float32",
            bands,
        ),
        Layer(
            "rh_monthly",
            d.relative_humidity(_filled(f["vap"]), temp),
            "1",
            "real",
            m["rh_monthly"],
            (rec["vap"], *trec),
            ("vap", "tmax", "tmin"),
            "float32",
            bands,
        ),
        Layer(
            "aridity",
            d.selyaninov_aridity(temp, ppt, d.month_days(year)),
            "1",
            "real",
            m["aridity"],
            (rec["ppt"], *trec),
            ("ppt", "tmax", "tmin"),
        ),
    ]


#: geoeco land-cover codes where MOD17 has no NPP by design (its codes 32762-32766: urban,
#: wetland, snow/ice, barren, water) and NPP is taken as 0: water, built, sand, bare [I].
NPP_ZERO_CLASSES = (4, 5, 6, 7)


def npp_with_zeros(npp: np.ndarray, landcover: np.ndarray) -> np.ndarray:
    """NPP with its gaps on non-vegetated land (:data:`NPP_ZERO_CLASSES`) set to 0.

    >>> npp_with_zeros(np.array([np.nan, np.nan, 3.0]), np.array([5, 1, 5])).tolist()
    [0.0, nan, 3.0]
    """
    fill = np.isnan(npp) & np.isin(landcover, NPP_ZERO_CLASSES)
    return np.asarray(np.where(fill, 0.0, npp))


def _layers_direct(f: Mapping[str, FetchedInput], landcover: np.ndarray) -> list[Layer]:
    out = []
    for name in ("dem", "ndvi", "npp", "worldcover", "wind_days"):
        r = f[name].record
        method = r.derivation or r.decoding
        values = _filled(f[name])
        if name == "npp":
            values = npp_with_zeros(values, landcover)
            method += (
                "; 0 where MOD17 has no value and the land cover is water, built, sand or bare [I]"
            )
        dtype = "uint8" if name == "worldcover" else "float32"
        units = "1" if name == "ndvi" else r.units
        out.append(Layer(name, values, units, "real", method, (r,), (), dtype))
    return out


def _write_layer(layer: Layer, grid: Grid, folder: Path, mask: np.ndarray) -> dict[str, Any]:
    """Write one COG (status tags) and return its manifest entry."""
    from geoeco.core.provenance import status_tags

    vals = layer.values
    if layer.dtype == "uint8":
        arr: np.ndarray = np.ma.masked_equal(np.nan_to_num(vals, nan=0).astype("uint8"), 0)
    else:
        arr = np.ma.masked_invalid(vals.astype("float32"))
    raster = Raster(arr, grid, units=layer.units, name=layer.name, band_names=layer.band_names)
    lineage = {"process": "geoeco inputs", "variable": layer.name, "method": layer.method}
    path = folder / f"{layer.name}.tif"
    write_raster(raster, path, dtype=layer.dtype, tags=status_tags(layer.status, lineage))
    share = coverage_share(raster, mask)
    first = layer.records[0]
    items = [{"id": i.id, "datetime": i.start} for r in layer.records for i in r.items]
    return {
        "file": path.name,
        "units": layer.units,
        "status": layer.status,
        "sha256": file_sha256(path),
        "recipe": first.recipe,
        "recipe_version": first.recipe_version,
        "recipes": sorted({r.recipe for r in layer.records}),
        "items": items,
        "derived_from": list(layer.derived_from),
        "method": layer.method,
        "coverage_share": round(share, 6),
        "missing_share": round(1.0 - share, 6),
        "bands": list(layer.band_names) if layer.band_names else None,
    }


def _sources(fetched: Mapping[str, FetchedInput]) -> list[dict[str, Any]]:
    by: dict[str, InputRecord] = {}
    for f in fetched.values():
        by.setdefault(f.record.recipe, f.record)
    return [
        {
            "recipe": r.recipe,
            "recipe_version": r.recipe_version,
            "title": r.title,
            "licence": r.licence,
            "attribution": r.attribution,
            "citation": r.citation,
            "catalog": r.catalog,
            "catalog_url": r.catalog_url,
            "collection": r.collection,
            "items": len(r.items),
            "temporal_rule": r.temporal_rule,
            "tag": r.tag,
        }
        for r in by.values()
    ]


def _erosion_settings(folder: Path) -> None:
    """``erosion.toml`` and the land-cover factor table beside the rasters."""
    src = resources.files("geoeco.data").joinpath("demo_landcover_factors.csv")
    (folder / LANDCOVER_FACTORS).write_bytes(src.read_bytes())
    (folder / EROSION_SETTINGS).write_text(
        "# Erosion settings of a raw inputs folder written by `geoeco inputs` (paths relative\n"
        "# to this folder). R from monthly rain (Fournier), K from texture (EPIC), C from NDVI,\n"
        "# P from the land-cover table. tolerable_loss: SL 190-2007 value for most regions;\n"
        "# use 1000 on the NW Loess Plateau.\n"
        'model = "rusle"\nls_method = "lstool"\nrouting = "d8"\n'
        'r_monthly = "precip_monthly.tif"\nr_monthly_method = "fournier"\n'
        'ndvi = "ndvi.tif"\nlandcover = "landcover.tif"\np_method = "table"\n'
        "tolerable_loss = 200.0\n\n[texture]\n"
        'sand = "sand.tif"\nsilt = "silt.tif"\nclay = "clay.tif"\nsoc = "soc.tif"\n\n'
        f'[landcover_table]\npath = "{LANDCOVER_FACTORS}"\n'
        'code = "lucode"\nc = "usle_c"\np = "usle_p"\n',
        encoding="utf-8",
    )


def _check_coverage(
    files: Mapping[str, Mapping[str, Any]], min_coverage: float, label: str
) -> None:
    short = {k: v["missing_share"] for k, v in files.items() if v["coverage_share"] < min_coverage}
    if short:
        text = ", ".join(f"{k} misses {100 * s:.1f} %" for k, s in sorted(short.items()))
        raise PartialCoverage(
            f"{label}: the public inputs cover less than {100 * min_coverage:g} % of the area "
            f"({text}); pass allow_partial (--allow-partial) to write them anyway"
        )


def _manifest(
    req: StackRequest, files: dict[str, Any], sources: list[dict[str, Any]]
) -> dict[str, Any]:
    g = req.grid
    auth = g.crs.to_authority()
    return {
        "kind": "geoeco-inputs",
        "version": FOLDER_VERSION,
        "status": worst_status([f["status"] for f in files.values()]),
        "crs": ":".join(auth) if auth else g.crs.to_wkt(),
        "crs_proj4": g.crs.to_proj4(),
        "transform": list(g.transform)[:6],
        "width": g.width,
        "height": g.height,
        "res_m": g.res[0],
        "aoi": {"label": req.label, "code": req.code, "area_km2": round(req.area_km2, 3)},
        "year": req.year,
        "erosion_settings": EROSION_SETTINGS,
        "landcover_factors": LANDCOVER_FACTORS,
        "files": files,
        "sources": sources,
        "written_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def build_input_stack(
    req: StackRequest,
    out: str | Path,
    *,
    catalogs: Mapping[str, CatalogConfig],
    override: CatalogConfig | None = None,
    cache: WindowCache | None = None,
    progress: StepProgress | None = None,
    fetch_progress: Progress | None = None,
    options: RemoteOptions | None = None,
    min_coverage: float = DEFAULT_MIN_COVERAGE,
    allow_partial: bool = False,
) -> InputStack:
    """Fetch, derive and write the raw inputs folder of ``req`` into ``out`` (module docstring).

    ``catalogs`` are the configured catalogs by name (recipes name them); ``override`` reads
    everything from one mirror instead (:func:`catalogs_for`). Raises
    :class:`~geoeco.core.errors.RemoteSourceError` naming catalog, collection and item when a
    source is unreachable, :class:`~geoeco.core.errors.PartialCoverage` (see above).
    """
    step = progress or (lambda s, f: None)
    pick = catalogs_for(override, catalogs)
    fetched = _fetch_all(
        req, pick, cache or WindowCache(None), fetch_progress or NullProgress(), step, options
    )
    step("deriving inputs", 0.9)
    soil = _layers_soil(fetched)
    landcover = next(x.values for x in soil if x.name == "landcover")
    layers = _layers_direct(fetched, landcover) + soil + _layers_climate(fetched, req.year)
    mask = ~geometry_mask([req.footprint], req.grid.shape, req.grid.transform, all_touched=False)
    if not mask.any():  # an AOI smaller than a pixel: its pixel
        mask = ~geometry_mask([req.footprint], req.grid.shape, req.grid.transform, all_touched=True)
    with output_folder(out) as work:
        files = {lay.name: _write_layer(lay, req.grid, work, mask) for lay in layers}
        if not allow_partial:
            _check_coverage(files, min_coverage, req.label)
        _erosion_settings(work)
        manifest = _manifest(req, files, _sources(fetched))
        (work / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False))
    step("inputs written", 1.0)
    return InputStack(Path(out), manifest)


def read_manifest(folder: str | Path) -> dict[str, Any]:
    """The ``inputs.json`` of a raw inputs folder."""
    data: dict[str, Any] = json.loads((Path(folder) / MANIFEST).read_text(encoding="utf-8"))
    return data


__all__ = [
    "DEFAULT_MIN_COVERAGE",
    "EROSION_SETTINGS",
    "GLO90_ABOVE_KM2",
    "InputStack",
    "MANIFEST",
    "StackRequest",
    "build_input_stack",
    "catalogs_for",
    "NDVI_SOURCES",
    "S2_MAX_KM2",
    "fetch_plan",
    "read_manifest",
]
