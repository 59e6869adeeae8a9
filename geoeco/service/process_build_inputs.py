"""The ``inputs`` process: a place's real inputs from the public catalogs, run as a job.

Inputs are the area (an administrative code or a GeoJSON geometry), the year, the resolution
and whether a partial coverage is accepted: **never a catalog**. The catalogs come from the
server's configuration only (:func:`service_catalogs`: the catalogs shipped in
``geoeco/data/catalogs.toml``, with the operator's catalogs file over them, e.g. a mirror inside
an isolated network: ``GEOECO_INPUT_CATALOGS`` in the service's settings); an input naming a
catalog or a URL is refused as an unknown field (422) before any job exists. Fetched windows
are cached under the service's cache folder (``<cache_dir>/inputs``), so a second job for the
same place reads nothing remote. The job's
folder is the raw inputs folder :func:`geoeco.workflows.build_inputs.build_inputs` writes
(COGs, ``erosion.toml``, ``inputs.json``); its result is the folder's short summary.

>>> BuildInputsInputs(aoi="610802").year
2020
>>> BuildInputsInputs(aoi="610802", catalog="http://example.org/")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
pydantic_core._pydantic_core.ValidationError: 1 validation error for BuildInputsInputs
catalog
  Extra inputs are not permitted ...
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from geoeco.core.errors import GeoecoError
from geoeco.inputs.build import fetch_plan
from geoeco.inputs.config import CatalogConfig, configured_catalogs
from geoeco.workflows.build_inputs import YEARS, build_inputs, inputs_grid
from geoeco.workflows.progress import Progress

from .process_checks import Problems
from .process_inputs import ExecutionContext, _Inputs
from .process_runners import ProcessResult


class BuildInputsInputs(_Inputs):
    """Inputs of the ``inputs`` process."""

    aoi: str | dict[str, Any] = Field(
        description="Area of interest: a 6- or 9-digit county/city/province code, or a GeoJSON "
        "geometry or Feature in WGS 84 lon-lat.",
    )
    year: int = Field(
        default=2020,
        ge=YEARS[0],
        le=YEARS[1],
        description="Year of the vegetation, NPP, land cover and monthly climate.",
    )
    res: float = Field(default=90.0, ge=30, le=5000, description="Grid resolution in metres.")
    allow_partial: bool = Field(
        default=False,
        description="Write inputs covering less than 99 % of the area (the manifest says how "
        "much is missing per input).",
    )
    ndvi: Literal["modis", "sentinel-2"] = Field(
        default="modis",
        description="NDVI source: MODIS MOD13Q1 (250 m) or Sentinel-2 L2A (10 m, areas up to "
        "1,000 km²).",
    )


def service_catalogs(ctx: ExecutionContext) -> dict[str, CatalogConfig]:
    """The catalogs the service reads: the built-in ones with the operator's catalogs file
    (``ctx.input_catalogs``) over them; server configuration, never a request."""
    return configured_catalogs(ctx.input_catalogs)


def _area(inp: BuildInputsInputs) -> Any:
    from geoeco.zoning.aoi import resolve_aoi

    return resolve_aoi(inp.aoi)


def check_build_inputs(inp: BuildInputsInputs, ctx: ExecutionContext) -> None:
    """The area resolves, is within the service's area limit, and its grid is not too large."""
    problems = Problems("inputs")
    try:
        area = _area(inp)
    except GeoecoError as exc:
        problems.add("aoi", str(exc))
        problems.raise_any()
        return
    if ctx.max_aoi_km2 is not None and area.area_km2 > ctx.max_aoi_km2:
        problems.add(
            "aoi", f"{area.area_km2:,.0f} km² exceeds the limit of {ctx.max_aoi_km2:,.0f} km²"
        )
    else:
        try:
            inputs_grid(area, inp.res)
        except GeoecoError as exc:
            problems.add("res", str(exc))
        try:
            fetch_plan(area.area_km2, ndvi=inp.ndvi)
        except GeoecoError as exc:
            problems.add("ndvi", str(exc))
    problems.raise_any()


def build_inputs_cells(inp: BuildInputsInputs, registry: Any) -> int | None:
    """Pixels of the inputs grid (``None`` when the area does not resolve)."""
    try:
        grid = inputs_grid(_area(inp), inp.res)
    except GeoecoError:
        return None
    return grid.width * grid.height


def run_build_inputs(
    inp: BuildInputsInputs, out: Path, progress: Progress, ctx: ExecutionContext
) -> ProcessResult:
    """Build the inputs folder into the job folder ``out``."""
    cache = None if ctx.cache_dir is None else Path(ctx.cache_dir) / "inputs"
    stack = build_inputs(
        inp.aoi,
        year=inp.year,
        res=inp.res,
        out=out,
        progress=progress,
        cache=cache,
        catalogs=service_catalogs(ctx),
        allow_partial=inp.allow_partial,
        ndvi=inp.ndvi,
    )
    summary = stack.summary()
    summary.pop("out", None)  # a server path
    return ProcessResult(summary)


__all__ = [
    "BuildInputsInputs",
    "build_inputs_cells",
    "check_build_inputs",
    "service_catalogs",
    "run_build_inputs",
]
