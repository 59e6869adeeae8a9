"""The demo region end to end: its analyses, its zoning, and ``geoeco demo`` (:func:`run_demo`).

* :func:`build_demo_analyses` builds the synthetic demo region into ``DIR/layers/`` (the demo
  rasters, plus the erosion settings and land-cover factor table it used, so a user can edit
  and rerun them) and runs erosion (``DIR/erosion/``), desertification
  (``DIR/desertification/``) and the evaluations (``DIR/evaluation/``) on it;
* :func:`zone_demo` is the one way the demo region is zoned -- by ``geoeco demo``,
  ``geoeco zone`` without ``--aoi``, and the ``zoning`` process without ``aoi`` and
  ``layers``: the demo's analyses (taken from a folder, or built first) bound to the rule
  set's inputs as synthetic layers, on the demo region's area;
* :func:`zone_or_demo` zones an area, or the demo region when given no area and no inputs
  (what ``geoeco zone`` and the ``zoning`` process run);
* :func:`run_demo` is both, the zoning into ``DIR/zones/`` (red line, control units with
  access lists, statistics, restoration priorities, compared with the ``focused`` rule set).
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from geoeco.catalog.demo_region import DEFAULT_DEMO_SIZE, build_demo_region
from geoeco.core.engine import Engine, using_engine
from geoeco.core.windows import write_json
from geoeco.erosion.desertification import run_desertification
from geoeco.erosion.results import DesertificationResult, ErosionResult
from geoeco.erosion.run import run_erosion
from geoeco.evaluation.config import demo_evaluation_config
from geoeco.evaluation.run import run_evaluation
from geoeco.zoning.aoi import AOI, AoiSource

from .demo_inputs import (
    DEMO_RESTORATION_TARGETS,
    DEMO_STATUS,
    SCRATCH_PREFIX,
    check_demo_size,
    demo_aoi,
    demo_resolution,
    demo_zoning_inputs,
    has_demo_analyses,
)
from .erosion import ErosionOptions, copy_demo_erosion_files, erosion_config
from .input_folders import merge_folder_inputs
from .progress import Progress, stage
from .wind import run_demo_wind
from .zoning import DEFAULT_RES, ZoningRunResult, run_zoning


@dataclass(frozen=True)
class DemoAnalyses:
    """What :func:`build_demo_analyses` wrote: the folder, the demo layers (name -> path)
    and the erosion and desertification summaries."""

    folder: Path
    layers: dict[str, Path]
    erosion: ErosionResult
    desertification: DesertificationResult


def build_demo_analyses(
    out: str | Path,
    *,
    size: str = DEFAULT_DEMO_SIZE,
    res: float | None = None,
    progress: Progress | None = None,
    engine: Engine | str | None = None,
) -> DemoAnalyses:
    """Build (or reuse) the demo layers into ``out/layers`` and run erosion,
    desertification and the evaluations on them (see the module docstring).

    ``res`` is the pixel size in metres of the demo region's fine grid (default 90 for
    ``full``, 30 for ``small``); ``engine`` is where the erosion windows compute.
    """
    folder = Path(out)
    layers = folder / "layers"
    written = build_demo_region(
        layers, size=check_demo_size(size), res=res, progress=stage(progress, 0.0, 0.3)
    )
    settings = copy_demo_erosion_files(layers)
    cfg = erosion_config(ErosionOptions(factors=True), settings=settings, base=layers)
    ero = run_erosion(
        written["dem"], cfg, folder / "erosion", progress=stage(progress, 0.3, 0.7), engine=engine
    )
    des = run_desertification(
        written["ndvi"], folder / "desertification", progress=stage(progress, 0.7, 0.77)
    )
    run_evaluation(
        folder / "evaluation",
        grid_from=written["dem"],
        inputs=demo_evaluation_config(folder),
        progress=stage(progress, 0.77, 1.0),
    )
    return DemoAnalyses(folder, {k: Path(v) for k, v in written.items()}, ero, des)


@contextmanager
def _analyses_in(
    analyses: Path | None, out: Path, size: str, progress: Progress, engine: Engine
) -> Iterator[Path]:
    """The folder of the demo's analyses: ``analyses`` (built there unless it holds them), or
    a scratch folder inside ``out`` deleted at the end."""
    if analyses is not None:
        if not has_demo_analyses(analyses):
            build_demo_analyses(analyses, size=size, progress=progress, engine=engine)
        yield analyses
        return
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=SCRATCH_PREFIX, dir=out) as tmp:
        build_demo_analyses(tmp, size=size, progress=progress, engine=engine)
        yield Path(tmp)


def zone_demo(
    out_dir: str | Path,
    *,
    size: str = DEFAULT_DEMO_SIZE,
    analyses: str | Path | None = None,
    res: float | None = None,
    progress: Progress | None = None,
    engine: Engine | str | None = None,
    **options: Any,
) -> ZoningRunResult:
    """Zone the demo region of ``size`` into ``out_dir`` on the demo's own analyses.

    ``analyses`` is a folder holding them (as :func:`build_demo_analyses` writes them; a
    folder that does not hold them yet is built first, and kept); without it they are built
    into a scratch folder inside ``out_dir``, deleted at the end. They are bound to the rule
    set's inputs (:func:`~geoeco.workflows.demo_inputs.demo_zoning_inputs`) as synthetic
    layers, on the demo region's area at ``res`` (default: the demo grid's pixel size).
    ``options`` are the other keywords of :func:`~geoeco.workflows.zoning.run_zoning`; without
    a restoration budget or targets the demo's targets
    (:data:`~geoeco.workflows.demo_inputs.DEMO_RESTORATION_TARGETS`) select restoration cells.
    """
    if options.get("budget_km2") is None and options.get("restoration_targets") is None:
        options["restoration_targets"] = DEMO_RESTORATION_TARGETS
    out = Path(out_dir)
    folder = None if analyses is None else Path(analyses)
    built = folder is not None and has_demo_analyses(folder)
    split = 0.0 if built else 0.5
    with (
        using_engine(engine) as eng,
        _analyses_in(folder, out, size, stage(progress, 0.0, split), eng) as found,
    ):
        inputs = demo_zoning_inputs(found)
        return run_zoning(
            out,
            aoi=demo_aoi(size),
            inputs=inputs,
            statuses=dict.fromkeys(inputs, DEMO_STATUS),
            res=demo_resolution(size) if res is None else res,
            progress=stage(progress, split, 1.0),
            engine=eng,
            **options,
        )


def zone_or_demo(
    out_dir: str | Path,
    *,
    aoi: AoiSource | AOI | None = None,
    inputs: Mapping[str, Any] | None = None,
    statuses: Mapping[str, str] | None = None,
    demo_size: str = DEFAULT_DEMO_SIZE,
    demo_analyses: str | Path | None = None,
    inputs_from: str | Path | None = None,
    res: float | None = None,
    progress: Progress | None = None,
    engine: Engine | str | None = None,
    **options: Any,
) -> ZoningRunResult:
    """Zone ``aoi`` with ``inputs`` of ``statuses``
    (:func:`~geoeco.workflows.zoning.run_zoning`; ``res`` default
    :data:`~geoeco.workflows.zoning.DEFAULT_RES`); given neither, the demo region of
    ``demo_size`` on its own analyses (:func:`zone_demo`, with ``demo_analyses`` as its
    ``analyses``). This is what ``geoeco zone`` and the ``zoning`` process run.

    ``inputs_from`` is a folder whose rasters feed the inputs ``inputs`` does not name
    (:func:`~geoeco.workflows.input_folders.merge_folder_inputs`: an evaluation folder or a
    ``geoeco demo`` output folder); a demo folder's files are ``synthetic`` and, without
    ``aoi``, zoned as :func:`zone_demo` zones them (the demo region of their size at their
    pixel size, the demo's restoration targets)."""
    if inputs_from is not None:
        inputs, statuses, found = merge_folder_inputs(inputs_from, inputs, statuses, options)
        if found.demo is not None and aoi is None:
            demo_size = found.demo[0]
            res = found.demo[1] if res is None else res
            aoi = demo_aoi(demo_size)
            if options.get("budget_km2") is None and options.get("restoration_targets") is None:
                options["restoration_targets"] = DEMO_RESTORATION_TARGETS
    if aoi is None and not inputs:
        return zone_demo(
            out_dir,
            size=demo_size,
            analyses=demo_analyses,
            res=res,
            progress=progress,
            engine=engine,
            **options,
        )
    return run_zoning(
        out_dir,
        aoi=aoi,
        inputs=inputs,
        statuses=statuses,
        demo_size=demo_size,
        res=DEFAULT_RES if res is None else res,
        progress=progress,
        engine=engine,
        **options,
    )


@dataclass(frozen=True)
class DemoResult:
    """What :func:`run_demo` returns; :meth:`as_dict` is what ``geoeco demo`` prints."""

    out: Path
    analyses: DemoAnalyses
    evaluation_files: list[str]
    zones: ZoningRunResult | None
    series: dict[str, Any] | None = None  # trends/ and change/ (demo_change.run_demo_series)

    def _rel(self, p: Path) -> str:
        return str(p.relative_to(self.out))

    def as_dict(self) -> dict[str, Any]:
        """The outputs, listed relative to :attr:`out`, with the headline figures."""
        ero, des, zones = self.analyses.erosion, self.analyses.desertification, self.zones
        return {
            "out": str(self.out),
            "status": "synthetic",
            "layers": {k: self._rel(v) for k, v in self.analyses.layers.items()},
            "erosion": {
                "files": [f"erosion/{f}" for f in ero.outputs] + ["erosion/summary.json"],
                "area_km2_by_grade": dict(ero.area_km2_by_grade),
                "mean_soil_loss_t_km2_a": ero.mean_soil_loss_t_km2_a,
            },
            "desertification": {
                "files": [f"desertification/{f}" for f in des.outputs]
                + ["desertification/summary.json"],
                "area_km2_by_degree": dict(des.area_km2_by_degree),
            },
            "evaluation": {"files": list(self.evaluation_files)},
            "zones": None if zones is None else _zones_entry(zones),
            "series": self.series,
        }


def _zones_entry(zones: ZoningRunResult) -> dict[str, Any]:
    summary = zones.summary()
    return {
        "files": [f"zones/{f}" for f in zones.outputs] + ["zones/summary.json"],
        "units": summary["units"],
        "class_totals_km2": summary["class_totals_km2"],
        "comparison_with_focused_km2": summary["comparison"]["area_km2_by_class_b"],
        "approximation_layers": zones.approximation_layers,
        "synthetic_layers": zones.synthetic_layers,
    }


def run_demo(
    out: str | Path,
    *,
    size: str = DEFAULT_DEMO_SIZE,
    zoning: bool = True,
    budget_km2: float | None = None,
    progress: Progress | None = None,
    res: float | None = None,
    engine: Engine | str | None = None,
) -> DemoResult:
    """Build (or reuse) the demo layers and run every analysis; list the outputs.

    ``res`` is the pixel size in metres of the demo region's fine grid (default 90 for
    ``full``, 30 for ``small``; see :func:`geoeco.catalog.demo_region.build_demo_region`):
    erosion, desertification and the evaluations run on that grid, and the zoning grid takes
    ``res`` too (default as the fine grid's). ``engine`` (``"local"``, ``"dask"`` or an
    :class:`~geoeco.core.engine.Engine`) is where the erosion and zoning windows compute; an
    engine made here from a name is closed at the end, an Engine passed in stays open.
    """
    folder = Path(out)
    with using_engine(engine) as eng:
        analyses = build_demo_analyses(
            folder, size=size, res=res, progress=stage(progress, 0.0, 0.6), engine=eng
        )
        run_demo_wind(folder, analyses.layers, progress=stage(progress, 0.6, 0.65))
        zones = None
        if zoning:
            zones = zone_demo(
                folder / "zones",
                size=size,
                analyses=folder,
                res=res,
                budget_km2=budget_km2,
                compare="focused",
                progress=stage(progress, 0.65, 1.0),
                engine=eng,
                write_map=False,  # drawn once below, with the trend and effectiveness layers
            )
    evaluation = sorted(f"evaluation/{p.name}" for p in (folder / "evaluation").iterdir())
    from .demo_change import run_demo_series

    series = run_demo_series(folder, size=size, units=folder / "zones" if zones else None)
    if zones is not None:
        zones = _with_map(zones, folder / "zones")
    return DemoResult(folder, analyses, evaluation, zones, series.as_dict())


def _with_map(zones: ZoningRunResult, out: Path) -> ZoningRunResult:
    """Draw the zoning run's ``map.html`` (its layers read from the folders beside it) and
    record it in the result and its ``summary.json``."""
    import dataclasses

    from .zoning_outputs import write_web_map

    note = write_web_map(out)  # the banner from summary.json (synthetic layers, coverage)
    maps = ["map.html"] if note == "map.html" else []
    zones = dataclasses.replace(zones, map=note, outputs=sorted({*zones.outputs, *maps}))
    write_json(zones.summary(), out / "summary.json")
    return zones


__all__ = [
    "DemoAnalyses",
    "DemoResult",
    "build_demo_analyses",
    "run_demo",
    "zone_demo",
    "zone_or_demo",
]
