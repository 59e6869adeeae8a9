"""Real inputs for a place: ``geoeco inputs`` and the ``inputs`` process.

:func:`build_inputs` resolves the area of interest (an administrative code, a vector file or a
geometry: :func:`geoeco.zoning.aoi.resolve_aoi`), makes one aligned CGCS2000 / Albers grid over
it plus a margin (:func:`inputs_grid`), and writes the raw inputs folder with
:func:`geoeco.inputs.build.build_input_stack` from the configured public catalogs or from one
mirror (``catalog``: a local static STAC catalog written by ``geoeco inputs-mirror``, or its
URL inside an isolated network).

The catalogs' URLs come from configuration (:func:`geoeco.inputs.config.builtin_catalogs`, or
the ``catalogs`` the caller passes: the service passes its own), never from a request body.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from geoeco.core.errors import InvalidInput
from geoeco.core.raster import Grid
from geoeco.inputs.build import InputStack, StackRequest, build_input_stack, fetch_plan
from geoeco.inputs.cache import Progress, WindowCache
from geoeco.inputs.config import CatalogConfig, CatalogKind, builtin_catalogs
from geoeco.inputs.mirror import MirrorReport, write_mirror
from geoeco.inputs.remote import RemoteOptions
from geoeco.zoning.aoi import AOI, AoiSource, analysis_grid, resolve_aoi

from .progress import Progress as StepProgress

#: Default grid resolution (m): the demo's fine grid, about the MODIS NDVI's 250 m / 3.
DEFAULT_RES = 90.0
#: Margin around the AOI (m), so slope, LS and flow near the boundary see their neighbours.
MARGIN_M = 2000.0
#: Years the default catalogs cover for every input (TerraClimate on the Planetary Computer:
#: 1958-2021; MOD17A3HGF from 2001; WorldCover 2020/2021 editions for any year).
YEARS = (2001, 2021)


def inputs_grid(aoi: AOI, res: float, *, margin_m: float = MARGIN_M) -> Grid:
    """The Albers grid (``ALBERS_CHINA``, :func:`~geoeco.zoning.aoi.analysis_grid`) of ``res``
    m over the AOI buffered by ``margin_m``, snapped to ``res``."""
    buffered = aoi.geometry.buffer(margin_m)
    grown = AOI(buffered, aoi.lonlat, aoi.label, aoi.kind, aoi.code, aoi.area_km2)
    return analysis_grid(grown, res)


def catalog_override(catalog: str | Path | None) -> CatalogConfig | None:
    """The mirror a ``--catalog URL|PATH`` names (``None``: the configured catalogs).

    A path is a local static catalog (its folder or its ``catalog.json``); a URL ending in
    ``.json`` a static catalog over HTTP; another URL a STAC API. SoilGrids files are read
    from the ``soilgrids/`` folder beside the catalog (under the API URL for an API), the
    layout ``geoeco inputs-mirror`` writes.
    """
    if catalog is None:
        return None
    text = str(catalog)
    if text.startswith(("http://", "https://")):
        kind: CatalogKind = "static" if text.endswith(".json") else "api"
        return CatalogConfig.http_mirror(text, name="mirror", kind=kind)
    path = Path(text)
    root = path if path.suffix != ".json" else path.parent
    if not (root / "catalog.json").is_file():
        raise InvalidInput(f"{path.name}: no catalog.json there (write one with inputs-mirror)")
    return CatalogConfig.local(root)


def check_year(year: int) -> int:
    """``year`` if the catalogs hold every input for it, else :class:`InvalidInput`."""
    if not YEARS[0] <= year <= YEARS[1]:
        raise InvalidInput(
            f"year {year}: the public inputs cover {YEARS[0]}-{YEARS[1]} (TerraClimate on the "
            "Planetary Computer ends in 2021, MODIS NPP starts in 2001)"
        )
    return year


def build_inputs(
    aoi: AoiSource | AOI,
    *,
    year: int = 2020,
    res: float = DEFAULT_RES,
    catalog: str | Path | None = None,
    out: str | Path,
    progress: StepProgress | None = None,
    cache: WindowCache | str | Path | None = None,
    catalogs: Mapping[str, CatalogConfig] | None = None,
    fetch_progress: Progress | None = None,
    options: RemoteOptions | None = None,
    allow_partial: bool = False,
    ndvi: str = "modis",
) -> InputStack:
    """Write the raw inputs folder of ``aoi`` for ``year`` at ``res`` m into ``out``.

    Parameters
    ----------
    aoi : code, path, geometry or AOI
        What :func:`~geoeco.zoning.aoi.resolve_aoi` takes (``"610802"``).
    year : int
        The year of the vegetation, NPP, land cover and climate (2001-2021).
    res : float
        Pixel size in metres of the one grid every file is on.
    catalog : URL or path, optional
        Read everything from this mirror instead of the configured catalogs.
    out : path
        The folder written (see :mod:`geoeco.inputs.build`).
    progress : callable(step, fraction), optional
        Progress of the stages; ``fetch_progress`` receives items and bytes.
    cache : WindowCache or folder, optional
        Cache of fetched windows (a second run of the same place reads nothing remote).
    catalogs : mapping, optional
        The configured catalogs by name (default: the built-in ones).
    allow_partial : bool
        Write inputs covering less than 99 % of the area (the manifest says how much).
    ndvi : {"modis", "sentinel-2"}
        The NDVI's source: MODIS MOD13Q1 (250 m) or, for areas up to
        :data:`~geoeco.inputs.build.S2_MAX_KM2`, Sentinel-2 L2A (10 m).
    """
    area = resolve_aoi(aoi)
    grid = inputs_grid(area, res)
    year = check_year(year)
    req = StackRequest(grid, area.geometry, year, area.label, area.code, area.area_km2, ndvi)
    fetch_plan(area.area_km2, ndvi=ndvi)  # an unknown source or too large an area: refused now
    window_cache = cache if isinstance(cache, WindowCache) else WindowCache(cache)
    return build_input_stack(
        req,
        out,
        catalogs=catalogs if catalogs is not None else builtin_catalogs(),
        override=catalog_override(catalog),
        cache=window_cache,
        progress=progress,
        fetch_progress=fetch_progress,
        options=options,
        allow_partial=allow_partial,
    )


def mirror_inputs(
    aoi: AoiSource | AOI,
    *,
    year: int = 2020,
    res: float = DEFAULT_RES,
    out: str | Path,
    catalog: str | Path | None = None,
    progress: StepProgress | None = None,
    cache: WindowCache | str | Path | None = None,
    catalogs: Mapping[str, CatalogConfig] | None = None,
    fetch_progress: Progress | None = None,
    options: RemoteOptions | None = None,
) -> MirrorReport:
    """Write a local static STAC catalog with what ``build_inputs`` needs for ``aoi``, ``year``
    and ``res`` (:func:`geoeco.inputs.mirror.write_mirror`) from the configured catalogs (or
    from another mirror, ``catalog``); ``build_inputs(..., catalog=out)`` then reads it."""
    area = resolve_aoi(aoi)
    grid = inputs_grid(area, res)
    return write_mirror(
        grid,
        check_year(year),
        out,
        catalogs=catalogs if catalogs is not None else builtin_catalogs(),
        override=catalog_override(catalog),
        area_km2=area.area_km2,
        cache=cache if isinstance(cache, WindowCache) else WindowCache(cache),
        progress=progress,
        fetch_progress=fetch_progress,
        options=options,
    )


__all__ = [
    "DEFAULT_RES",
    "build_inputs",
    "catalog_override",
    "check_year",
    "inputs_grid",
    "mirror_inputs",
]
