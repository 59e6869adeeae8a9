"""What a process run would fail on because of its inputs, checked before it runs.

Each built-in process has a check here (registered as
:attr:`geoeco.service.processes.Process.check`)
that builds what the run builds from the inputs -- the erosion configuration, the zoning area
and grid, the layers bound to the rule set, the screening site -- and reports every
contradiction the run would hit, without reading a pixel. :func:`geoeco.service.processes.prepare`
runs it when a job is submitted (so a bad request fails at once) and
:func:`geoeco.service.processes.execute` runs the same check before the run itself.

Errors are :class:`~geoeco.core.errors.InvalidProcessInputs` (or
:class:`~geoeco.core.errors.ProcessInputTooLarge` when a size limit is exceeded) whose
``errors`` name each input involved.

What is *not* known without reading data stays a run-time failure: the land-cover codes of a
user layer (the demo's codes are known and checked), values out of range inside rasters.

>>> inputs = ErosionInputs(demo_size="small", r=4000.0)
>>> check_erosion(inputs, ExecutionContext())  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
geoeco.core.errors.InvalidProcessInputs: inputs of process 'erosion': r: give ...
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from geoeco.catalog.layers import LayerRegistry
from geoeco.core.errors import (
    GeoecoError,
    InvalidFields,
    InvalidProcessInputs,
    OversizeRequest,
    ProcessInputTooLarge,
)
from geoeco.erosion.config import ErosionConfig

from .process_inputs import (
    DesertificationInputs,
    ErosionInputs,
    ExecutionContext,
    ScreeningInputs,
    ZoningInputs,
)


@dataclass
class Problems:
    """Problems found in a process's inputs; :meth:`raise_any` raises them all at once."""

    process_id: str
    invalid: list[dict[str, Any]] = field(default_factory=list)
    too_large: list[dict[str, Any]] = field(default_factory=list)

    def add(self, field_: str, message: str, code: str = "invalid") -> None:
        """A contradiction or a missing partner."""
        self.invalid.append({"field": field_, "message": message, "code": code})

    def oversize(self, field_: str, message: str) -> None:
        """A size limit exceeded."""
        self.too_large.append({"field": field_, "message": message, "code": "too_large"})

    def raise_any(self) -> None:
        """Raise every problem at once: :class:`ProcessInputTooLarge` when a size limit is
        exceeded (the request cannot run at this size, whatever else is fixed), else
        :class:`InvalidProcessInputs`; nothing if there is none."""
        errors = self.too_large + self.invalid
        if not errors:
            return
        text = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        cls = ProcessInputTooLarge if self.too_large else InvalidProcessInputs
        raise cls(f"inputs of process {self.process_id!r}: {text}", errors)


def _raster_layer(problems: Problems, registry: LayerRegistry, name: str, layer_id: str) -> bool:
    """Whether ``layer_id`` is a raster layer of the registry (else a problem at ``name``)."""
    if layer_id not in registry:
        problems.add(name, f"unknown layer id {layer_id!r}; use ids from /collections", "layer")
        return False
    if registry.get(layer_id).kind != "raster":
        problems.add(name, f"layer {layer_id!r} is a vector layer; a raster layer is needed")
        return False
    return True


# --------------------------------------------------------------------------------------------
# erosion
def erosion_config(inp: ErosionInputs) -> ErosionConfig:
    """The configuration the run builds (:func:`geoeco.workflows.erosion.erosion_config`):
    the inputs over the demo's settings when there is no ``dem``; layer ids stand for their
    files (no file is needed to validate)."""
    from geoeco.workflows.erosion import demo_erosion_dir, demo_erosion_settings
    from geoeco.workflows.erosion import erosion_config as config_of

    options = inp.erosion_options()
    if inp.dem is not None:
        return config_of(options)
    return config_of(options, settings=demo_erosion_settings(), base=demo_erosion_dir())


def _config_problems(problems: Problems, inp: ErosionInputs, exc: InvalidFields) -> None:
    """Config errors named by the inputs involved (those given first)."""
    from geoeco.workflows.erosion import demo_erosion_settings

    demo = demo_erosion_settings() if inp.dem is None else {}
    inputs = set(ErosionInputs.model_fields)
    given = {f for f in inputs if getattr(inp, f) is not None and f != "demo_size"}
    for e in exc.errors:
        fields = e.get("fields") or [e["field"]]
        named = [f for f in fields if f in given] or [f for f in fields if f in inputs]
        message = e["message"]
        from_demo = [f for f in fields if f in demo and f not in given]
        if from_demo:
            message += f" (the demo region's settings give {', '.join(from_demo)})"
        problems.add(named[0] if named else "inputs", message, str(e.get("code", "invalid")))


def _dem_header(problems: Problems, registry: LayerRegistry, layer_id: str) -> None:
    """The run's DEM grid check, from the file's header (skipped for generated layers)."""
    from geoeco.core.io import raster_info

    path = registry.get(layer_id).file_path()
    if path is None or not path.exists():
        return
    try:
        grid = raster_info(path, name=path.name).grid
    except GeoecoError as exc:
        problems.add("dem", str(exc))
        return
    if grid is None or not grid.crs.is_projected:
        crs = "none" if grid is None else grid.crs.to_string()
        problems.add(
            "dem", f"the DEM must be on a projected grid in metres (found {crs}); reproject it"
        )


def check_erosion(inp: ErosionInputs, ctx: ExecutionContext) -> None:
    """Layers are rasters, the configuration the run builds validates, the demo's land-cover
    codes are in the tables the run looks them up in, a user DEM is on a projected grid."""
    from geoeco.catalog.demo_region import LANDCOVER_CLASSES
    from geoeco.erosion.run import check_landcover_codes

    problems = Problems("erosion")
    registry = ctx.layers()
    for name in ("dem", "r", "k", "c", "p", "ndvi", "landcover"):
        value = getattr(inp, name)
        if isinstance(value, str) and _raster_layer(problems, registry, name, value):
            if name == "dem":
                _dem_header(problems, registry, value)
    demo = inp.dem is None
    try:
        cfg: ErosionConfig | None = erosion_config(inp)
    except InvalidFields as exc:
        _config_problems(problems, inp, exc)
        cfg = None
    if cfg is not None and demo and inp.landcover is None:
        try:
            check_landcover_codes(cfg, [c[0] for c in LANDCOVER_CLASSES])
        except GeoecoError as exc:
            codes = ", ".join(str(c[0]) for c in LANDCOVER_CLASSES)
            where, what = (
                ("model", "model 'csle'") if cfg.model == "csle" else ("inputs", "the run")
            )
            problems.add(
                where, f"{what} cannot use the demo region's land-cover codes ({codes}): {exc}"
            )
    problems.raise_any()


# --------------------------------------------------------------------------------------------
# zoning
def _zoning_area(problems: Problems, inp: ZoningInputs, ctx: ExecutionContext) -> None:
    """The run's area of interest and grid: geometry, code, area limit, pixel limit, and a
    drawn area must overlap a county of the built-in boundaries (the run's units need one)."""
    from geoeco.workflows.zoning import zoning_area
    from geoeco.workflows.zoning_inputs import counties_for
    from geoeco.zoning.aoi import analysis_grid

    try:
        area = zoning_area(inp.aoi, demo_size=inp.demo_size)
    except OversizeRequest as exc:
        problems.oversize("aoi", str(exc))
        return
    except GeoecoError as exc:
        problems.add("aoi", str(exc))
        return
    limit = ctx.max_aoi_km2
    if limit is not None and inp.aoi is not None:
        km2 = area.area_km2
        if km2 > limit:
            problems.oversize(
                "aoi",
                f"the area of interest covers {km2:,.0f} km²; at most {limit:,.0f} km² are "
                "accepted for one zoning run (split it into smaller areas)",
            )
            return
    try:
        analysis_grid(area, inp.resolution())
        if isinstance(inp.aoi, dict):  # (a code is a county, city or province itself)
            counties_for(area)
    except OversizeRequest as exc:
        problems.oversize("res" if inp.res is not None else "aoi", str(exc))
    except GeoecoError as exc:
        problems.add("aoi", str(exc))


def check_zoning(inp: ZoningInputs, ctx: ExecutionContext) -> None:
    """The area and grid, the ``layers`` (known raster layers named by rule-set inputs) and
    that every required input of the rule sets has data."""
    from geoeco.workflows.demo_inputs import demo_zoning_inputs
    from geoeco.workflows.zoning_inputs import ATTRIBUTE_INPUTS, unbound_inputs
    from geoeco.zoning.rules import load_rule_set

    problems = Problems("zoning")
    registry = ctx.layers()
    _zoning_area(problems, inp, ctx)
    rule_sets = [load_rule_set(inp.rules)]
    if inp.compare:
        rule_sets.append(load_rule_set(inp.compare))
    names = {n for rs in rule_sets for n in rs.inputs} | set(ATTRIBUTE_INPUTS)
    for name, layer_id in sorted(inp.layers.items()):
        if name not in names:
            problems.add(
                f"layers.{name}",
                f"{name!r} is not an input of rule set {inp.rules!r}; inputs are "
                f"{', '.join(sorted(names))}",
            )
        else:
            _raster_layer(problems, registry, f"layers.{name}", layer_id)
    given = set(inp.layers) | (set(demo_zoning_inputs(Path())) if inp.uses_demo() else set())
    for rs in rule_sets:
        missing = unbound_inputs(rs, given, registry)
        if missing:
            problems.add(
                "layers",
                f"no data for these inputs of rule set {rs.name!r}: {', '.join(missing)}; "
                "give them in layers (input name -> raster layer id) or register layers "
                "whose variable names them",
            )
    problems.raise_any()


# --------------------------------------------------------------------------------------------
# desertification and screening
def check_desertification(inp: DesertificationInputs, ctx: ExecutionContext) -> None:
    """The NDVI and bare-sand layers are known raster layers."""
    problems = Problems("desertification")
    registry = ctx.layers()
    for name in ("ndvi", "bare_sand"):
        value = getattr(inp, name)
        if value is not None:
            _raster_layer(problems, registry, name, value)
    problems.raise_any()


def check_screening(inp: ScreeningInputs, ctx: ExecutionContext) -> None:
    """The zoning job has results here, the project types exist, the site parses within the
    limits the run applies (vertices, area, area with its buffer)."""
    from geoeco.core.geometry import MAX_AREA_KM2, parse_geometry, to_albers
    from geoeco.query.compliance import load_compliance

    problems = Problems("screening")
    run = None if ctx.runs_dir is None else Path(ctx.runs_dir) / inp.zoning_job
    if run is None or not (run / "zones.gpkg").is_file():
        problems.add(
            "zoning_job",
            f"zoning job {inp.zoning_job} has no results here; run the zoning process and wait "
            "until it is successful",
            "not_found",
        )
    rules = load_compliance()
    for i, t in enumerate(inp.project_type or []):
        try:
            rules.project(t)
        except GeoecoError as exc:
            problems.add(f"project_type[{i}]", str(exc))
    try:
        site = parse_geometry(inp.geometry, crs=inp.crs).geometry
        if inp.buffer_m > 0:
            km2 = to_albers(site).buffer(inp.buffer_m, quad_segs=16).area / 1e6
            if km2 > MAX_AREA_KM2:
                problems.oversize(
                    "buffer_m",
                    f"the site with its {inp.buffer_m:g} m buffer covers {km2:,.0f} km²; at "
                    f"most {MAX_AREA_KM2:,.0f} km² are accepted",
                )
    except OversizeRequest as exc:
        problems.oversize("geometry", str(exc))
    except GeoecoError as exc:
        problems.add("geometry", str(exc))
    problems.raise_any()


__all__ = [
    "Problems",
    "check_desertification",
    "check_erosion",
    "check_screening",
    "check_zoning",
    "erosion_config",
]
