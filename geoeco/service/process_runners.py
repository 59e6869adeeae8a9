"""How the built-in processes run: the ``run``, layer-version and size functions of the
``zoning``, ``erosion``, ``desertification`` and ``screening`` processes registered in
:mod:`geoeco.service.processes`.

>>> seen = []
>>> _stage(lambda step, f: seen.append(f), 0.5, 1.0)("half", 0.5)
>>> seen
[0.75]
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from geoeco import __version__
from geoeco.catalog.layers import LayerRegistry
from geoeco.core.errors import InvalidInput

from .process_inputs import (
    DesertificationInputs,
    ErosionInputs,
    ExecutionContext,
    Progress,
    ScreeningInputs,
    ZoningInputs,
)

#: Scratch folders of a run live inside its output folder (hidden, deleted at the end), so a
#: run killed midway leaves them only inside its own staging folder.
SCRATCH_PREFIX = ".geoeco-demo-"


def _stage(progress: Progress, lo: float, hi: float) -> Progress:
    return lambda step, f: progress(step, lo + (hi - lo) * max(0.0, min(1.0, f)))


@contextlib.contextmanager
def _engine(ctx: ExecutionContext) -> Iterator[Any]:
    """The context's compute engine for one run (``None``: local), closed when the run ends."""
    eng = ctx.compute_engine()
    if eng is None:
        yield None
        return
    with eng:
        yield eng


def demo_inputs_dir(cache_dir: str | Path, size: str) -> Path:
    """Where :func:`_demo_inputs` keeps the demo's analyses of ``size`` under ``cache_dir``
    (complete when it holds a ``.complete`` file)."""
    return Path(cache_dir) / "demo-inputs" / f"{size}-{__version__}"


@contextlib.contextmanager
def _demo_inputs(
    size: str, ctx: ExecutionContext, progress: Progress, out: Path, engine: Any = None
) -> Iterator[Path]:
    """A folder with the demo's analyses (``run_demo(zoning=False)``), cached when possible
    (:func:`~geoeco.workflows.demo_cache.build_once`), else in a scratch folder inside ``out``;
    their
    erosion runs on ``engine``."""
    from geoeco.workflows.demo import run_demo
    from geoeco.workflows.demo_cache import build_once

    def build(folder: Path) -> None:
        run_demo(folder, size=size, zoning=False, progress=progress, engine=engine)

    if ctx.cache_dir is None:
        with tempfile.TemporaryDirectory(prefix=SCRATCH_PREFIX, dir=out) as tmp:
            build(Path(tmp))
            yield Path(tmp)
        return
    target = build_once(demo_inputs_dir(ctx.cache_dir, size), build)
    progress("demo inputs ready", 1.0)
    yield target


def _geometry(aoi: dict[str, Any]) -> Any:
    from geoeco.core.geometry import parse_geometry

    return parse_geometry(aoi, crs="wgs84", max_area_km2=None).geometry


def _short(summary: Mapping[str, Any]) -> dict[str, Any]:
    drop = ("provenance", "inputs", "config", "zones", "restoration")
    return {k: v for k, v in summary.items() if k not in drop}


def _raster(registry: LayerRegistry, layer_id: str, ctx: ExecutionContext) -> Path:
    from geoeco.catalog.sources import layer_raster_path

    return layer_raster_path(registry.get(layer_id), cache_dir=ctx.cache_dir)


def _run_zoning(inp: ZoningInputs, out: Path, progress: Progress, ctx: ExecutionContext) -> dict:
    """The ``zoning`` process; its windows (and the demo inputs' erosion) compute on the
    context's engine (:meth:`ExecutionContext.compute_engine`)."""
    with _engine(ctx) as engine:
        return _zone_on(inp, out, progress, ctx, engine)


def _zone_on(
    inp: ZoningInputs, out: Path, progress: Progress, ctx: ExecutionContext, engine: Any
) -> dict:
    from geoeco.workflows.demo import demo_zoning_inputs
    from geoeco.workflows.zoning import run_zoning

    registry = ctx.layers()
    aoi = _geometry(inp.aoi) if isinstance(inp.aoi, dict) else inp.aoi

    def zone(given: Mapping[str, str], statuses: Mapping[str, str], p: Progress) -> dict:
        return run_zoning(
            out,
            aoi=aoi,
            rules=inp.rules,
            inputs=dict(given) or None,
            statuses=dict(statuses) or None,
            registry=registry,
            res=inp.resolution(),
            budget_km2=inp.budget_km2,
            compare=inp.compare,
            cache_dir=ctx.cache_dir,
            min_unit_km2=inp.min_unit_km2,
            sxyd_crs=inp.sxyd_crs,
            demo_size=inp.demo_size,
            write_map=inp.map,
            progress=p,
            engine=engine,
        )

    if inp.uses_demo():
        with _demo_inputs(inp.demo_size, ctx, _stage(progress, 0.0, 0.5), out, engine) as demo:
            given = {k: str(v) for k, v in demo_zoning_inputs(demo).items()}
            summary = zone(given, dict.fromkeys(given, "synthetic"), _stage(progress, 0.5, 1.0))
    else:
        given = {name: str(_raster(registry, lid, ctx)) for name, lid in inp.layers.items()}
        statuses = {name: registry.get(lid).status for name, lid in inp.layers.items()}
        summary = zone(given, statuses, progress)
    out_summary = _short(summary)
    out_summary["map"] = summary.get("map", "not requested")
    return out_summary


def _zoning_layers(inp: ZoningInputs, registry: LayerRegistry) -> dict[str, str]:
    from geoeco.workflows.zoning import DEFAULT_MASK_LAYERS
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
    used |= {
        s.id
        for s in registry
        if s.id.startswith("user.") and s.role in ("protected", "development")
    }
    return {i: registry.get(i).version for i in sorted(used) if i in registry}


def _zoning_rules(inp: ZoningInputs) -> str:
    from geoeco.zoning.rules import load_rule_set

    sha = load_rule_set(inp.rules).sha256()
    return sha if inp.compare is None else sha + "+" + load_rule_set(inp.compare).sha256()


def _demo_cells(size: str, res: float | None = None) -> int:
    from geoeco.catalog.demo_region import demo_grid

    g = demo_grid(size)  # type: ignore[arg-type]
    scale = 1.0 if res is None else (abs(g.transform.a) / res) ** 2
    return int(g.width * g.height * scale)


def _zoning_cells(inp: ZoningInputs, registry: LayerRegistry) -> int | None:
    if inp.aoi is None:
        return _demo_cells(inp.demo_size, inp.resolution())
    if isinstance(inp.aoi, dict):
        from geoeco.core.geometry import area_km2

        return int(area_km2(_geometry(inp.aoi)) * 1e6 / inp.resolution() ** 2)
    return None  # an administrative code: size unknown without loading the boundaries


def _run_erosion(inp: ErosionInputs, out: Path, progress: Progress, ctx: ExecutionContext) -> dict:
    from geoeco.erosion.run import run_erosion

    from .process_checks import DEMO_EROSION_FILES, demo_erosion_dir, erosion_config

    registry = ctx.layers()

    def factor(v: float | str | None) -> float | str | None:
        return str(_raster(registry, v, ctx)) if isinstance(v, str) else v

    if inp.dem is not None:
        cfg = erosion_config(inp, factor, None)
        with _engine(ctx) as engine:
            result = run_erosion(factor(inp.dem), cfg, out, progress=progress, engine=engine)  # type: ignore[arg-type]
        return _short(result.summary())
    from geoeco.catalog.demo_region import build_demo_region

    with tempfile.TemporaryDirectory(prefix=SCRATCH_PREFIX, dir=out) as tmp, _engine(ctx) as engine:
        layers = Path(tmp)
        for name in DEMO_EROSION_FILES:
            shutil.copyfile(demo_erosion_dir() / name, layers / name)
        cfg = erosion_config(inp, factor, layers)
        written = build_demo_region(layers, size=inp.demo_size, progress=_stage(progress, 0, 0.2))
        result = run_erosion(
            written["dem"],
            cfg,
            out,
            progress=_stage(progress, 0.2, 1.0),
            engine=engine,
        )
    return _short(result.summary())


def _run_desertification(
    inp: DesertificationInputs, out: Path, progress: Progress, ctx: ExecutionContext
) -> dict:
    from geoeco.erosion.desertification import run_desertification

    registry = ctx.layers()
    sand = _raster(registry, inp.bare_sand, ctx) if inp.bare_sand else None
    if inp.ndvi is not None:
        ndvi = _raster(registry, inp.ndvi, ctx)
        return _short(run_desertification(ndvi, out, bare_sand=sand, progress=progress).summary())
    from geoeco.catalog.demo_region import build_demo_region

    with tempfile.TemporaryDirectory(prefix=SCRATCH_PREFIX, dir=out) as tmp:
        written = build_demo_region(
            Path(tmp), size=inp.demo_size, progress=_stage(progress, 0, 0.3)
        )
        result = run_desertification(
            written["ndvi"], out, bare_sand=sand, progress=_stage(progress, 0.3, 1.0)
        )
    return _short(result.summary())


def _raster_cells(layer_id: str | None, size: str, registry: LayerRegistry) -> int | None:
    if layer_id is None:
        return _demo_cells(size)
    spec = registry.get(layer_id)
    path = spec.file_path()
    if path is None or not path.exists():
        return None
    from geoeco.core.io import raster_info

    grid = raster_info(path, name=path.name).grid
    return None if grid is None else grid.width * grid.height


def _run_screening(
    inp: ScreeningInputs, out: Path, progress: Progress, ctx: ExecutionContext
) -> dict:
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
    answer = res.model_dump(mode="json", exclude={"map"} if inp.report else None)
    write_json(answer, out / "screening.json")
    progress("done", 1.0)
    return answer
