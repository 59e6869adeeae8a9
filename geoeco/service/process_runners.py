"""How the built-in processes run: the ``run``, layer-version and size functions of the
``zoning``, ``erosion``, ``desertification`` and ``screening`` processes registered in
:mod:`geoeco.service.processes`.

Each ``run`` turns the validated inputs into the arguments of one library run (layer ids
become the files of the registry's layers) and returns a :class:`ProcessResult`: the zoning
of :func:`geoeco.workflows.zoning.run_zoning` (on the demo region,
:func:`geoeco.workflows.demo.zone_demo`), the erosion and desertification of
:mod:`geoeco.workflows.erosion`, the screening of :func:`geoeco.query.screening.screen_site`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from geoeco.catalog.layers import LayerRegistry
from geoeco.core.engine import Engine
from geoeco.core.errors import InvalidInput
from geoeco.workflows.progress import Progress, stage
from geoeco.workflows.summaries import short_summary

from .process_inputs import (
    DesertificationInputs,
    ErosionInputs,
    ExecutionContext,
    ScreeningInputs,
    ZoningInputs,
)


@dataclass(frozen=True)
class ProcessResult:
    """What a process run returns: the JSON object that becomes its job's ``result`` (the
    run's short summary, :func:`geoeco.workflows.summaries.short_summary`; the screening's
    answer)."""

    summary: dict[str, Any]


@contextlib.contextmanager
def _engine(ctx: ExecutionContext) -> Iterator[Engine | None]:
    """The context's compute engine for one run (``None``: local), closed when the run ends."""
    eng = ctx.compute_engine()
    if eng is None:
        yield None
        return
    with eng:
        yield eng


def _raster(registry: LayerRegistry, layer_id: str, ctx: ExecutionContext) -> Path:
    from geoeco.catalog.sources import layer_raster_path

    path: Path = layer_raster_path(registry.get(layer_id), cache_dir=ctx.cache_dir)
    return path


def _zoning_options(inp: ZoningInputs) -> dict[str, Any]:
    """The keywords of :func:`~geoeco.workflows.zoning.run_zoning` the inputs set."""
    return {
        "rules": inp.rules,
        "compare": inp.compare,
        "res": inp.resolution(),
        "budget_km2": inp.budget_km2,
        "min_unit_km2": inp.min_unit_km2,
        "sxyd_crs": inp.sxyd_crs,
        "write_map": inp.map,
    }


def _run_zoning(
    inp: ZoningInputs, out: Path, progress: Progress, ctx: ExecutionContext
) -> ProcessResult:
    """The ``zoning`` process (:func:`geoeco.workflows.demo.zone_or_demo`); its windows (and
    the demo analyses' erosion) compute on the context's engine
    (:meth:`ExecutionContext.compute_engine`). Without ``aoi`` and ``layers`` it zones the
    demo region on its analyses, cached in the context's cache folder when it has one."""
    from geoeco.workflows.demo import zone_or_demo
    from geoeco.workflows.demo_cache import ensure_demo_inputs

    registry = ctx.layers()
    given = {name: str(_raster(registry, lid, ctx)) for name, lid in inp.layers.items()}
    statuses = {name: registry.get(lid).status for name, lid in inp.layers.items()}
    with _engine(ctx) as engine:
        analyses, p = None, progress
        if inp.uses_demo() and ctx.cache_dir is not None:
            p = stage(progress, 0.5, 1.0)
            analyses = ensure_demo_inputs(
                ctx.cache_dir, inp.demo_size, progress=stage(progress, 0, 0.5), engine=engine
            )
        result = zone_or_demo(
            out,
            aoi=inp.aoi,
            inputs=given or None,
            statuses=statuses or None,
            demo_size=inp.demo_size,
            demo_analyses=analyses,
            registry=registry,
            cache_dir=ctx.cache_dir,
            progress=p,
            engine=engine,
            **_zoning_options(inp),
        )
    return ProcessResult(short_summary(result.summary()))


def _zoning_layers(inp: ZoningInputs, registry: LayerRegistry) -> dict[str, str]:
    from geoeco.workflows.zoning_inputs import DEFAULT_MASK_LAYERS, USER_MASK_ROLES
    from geoeco.zoning.rules import load_rule_set

    unknown = {name: lid for name, lid in inp.layers.items() if lid not in registry}
    if unknown:
        listed = ", ".join(f"{n}={lid!r}" for n, lid in sorted(unknown.items()))
        raise InvalidInput(
            f"zoning layers name unknown layer ids ({listed}); use ids from /collections"
        )
    used: set[str] = set(inp.layers.values()) | {"admin.county"}
    names = set(load_rule_set(inp.rules).inputs)
    if inp.compare:
        names |= set(load_rule_set(inp.compare).inputs)
    by_var = {s.variable: s.id for s in registry if s.variable and s.kind == "raster"}
    for n in names - set(inp.layers):
        if n in DEFAULT_MASK_LAYERS:
            used.add(DEFAULT_MASK_LAYERS[n])
        elif n in by_var and not inp.uses_demo():
            used.add(by_var[n])
    if inp.uses_demo():
        used |= {s.id for s in registry if s.id.startswith("demo.")}
    used |= {s.id for s in registry if s.id.startswith("user.") and s.role in USER_MASK_ROLES}
    return {i: registry.get(i).version for i in sorted(used) if i in registry}


def _zoning_rules(inp: ZoningInputs) -> str:
    from geoeco.zoning.rules import load_rule_set

    sha = load_rule_set(inp.rules).sha256()
    return sha if inp.compare is None else sha + "+" + load_rule_set(inp.compare).sha256()


def _demo_cells(size: str, res: float | None = None) -> int:
    from geoeco.catalog.demo_region import demo_grid
    from geoeco.workflows.demo_inputs import check_demo_size

    g = demo_grid(check_demo_size(size))
    scale = 1.0 if res is None else (abs(g.transform.a) / res) ** 2
    return int(g.width * g.height * scale)


def _zoning_cells(inp: ZoningInputs, registry: LayerRegistry) -> int | None:
    if inp.aoi is None:
        return _demo_cells(inp.demo_size, inp.resolution())
    if isinstance(inp.aoi, dict):
        from geoeco.core.geometry import area_km2, parse_geometry

        geom = parse_geometry(inp.aoi, crs="wgs84", max_area_km2=None).geometry
        return int(area_km2(geom) * 1e6 / inp.resolution() ** 2)
    return None  # an administrative code: size unknown without loading the boundaries


def _run_erosion(
    inp: ErosionInputs, out: Path, progress: Progress, ctx: ExecutionContext
) -> ProcessResult:
    from geoeco.workflows.erosion import erosion_from

    registry = ctx.layers()

    def factor(v: float | str | None) -> float | str | None:
        return str(_raster(registry, v, ctx)) if isinstance(v, str) else v

    dem = None if inp.dem is None else _raster(registry, inp.dem, ctx)
    with _engine(ctx) as engine:
        summary = erosion_from(
            dem,
            out,
            inp.erosion_options(factor),
            demo_size=inp.demo_size,
            progress=progress,
            engine=engine,
        )
    return ProcessResult(short_summary(summary.summary()))


def _run_desertification(
    inp: DesertificationInputs, out: Path, progress: Progress, ctx: ExecutionContext
) -> ProcessResult:
    from geoeco.workflows.erosion import desertification_from

    registry = ctx.layers()
    summary = desertification_from(
        None if inp.ndvi is None else _raster(registry, inp.ndvi, ctx),
        out,
        bare_sand=_raster(registry, inp.bare_sand, ctx) if inp.bare_sand else None,
        demo_size=inp.demo_size,
        progress=progress,
    )
    return ProcessResult(short_summary(summary.summary()))


def _raster_cells(layer_id: str | None, size: str, registry: LayerRegistry) -> int | None:
    if layer_id is None:
        return _demo_cells(size)
    spec = registry.get(layer_id)
    path = spec.file_path()
    if path is None or not path.exists():
        return None
    from geoeco.core.io import raster_info

    grid = raster_info(path, name=path.name).grid
    return None if grid is None else int(grid.width * grid.height)


def _run_screening(
    inp: ScreeningInputs, out: Path, progress: Progress, ctx: ExecutionContext
) -> ProcessResult:
    from geoeco.core.windows import write_json
    from geoeco.query.context import QueryContext
    from geoeco.query.report import write_report
    from geoeco.query.screening import screen_site

    run = None if ctx.runs_dir is None else Path(ctx.runs_dir) / inp.zoning_job
    if run is None or not (run / "zones.gpkg").exists():
        raise InvalidInput(
            f"zoning job {inp.zoning_job} has no results here; run the zoning process and "
            "wait until it is successful"
        )
    progress("opening the zoning run", 0.1)
    qctx = QueryContext.open(run, registry=ctx.layers())
    progress("screening the site", 0.3)
    res = screen_site(
        qctx,
        inp.geometry,
        buffer_m=inp.buffer_m,
        project_type=inp.project_type,
        crs=inp.crs,
        map_data=inp.report,
    )
    out.mkdir(parents=True, exist_ok=True)
    if inp.report:
        write_report(res, out / "report.html")
    answer: dict[str, Any] = res.model_dump(mode="json", exclude={"map"} if inp.report else None)
    write_json(answer, out / "screening.json")
    progress("done", 1.0)
    return ProcessResult(answer)
