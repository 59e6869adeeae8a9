"""``geoeco demo``: build the synthetic demo region and run every analysis on it.

Writes ``DIR/layers/`` (the demo rasters, plus the erosion settings and land-cover factor
table it used, so a user can edit and rerun them), ``DIR/erosion/``,
``DIR/desertification/``, ``DIR/evaluation/`` (sensitivity and importance) and ``DIR/zones/``
(red line, control units with access lists, statistics, restoration priorities).
"""

from __future__ import annotations

import shutil
import tomllib
from collections.abc import Callable
from importlib.resources import files
from pathlib import Path
from typing import Any

from geoeco.catalog.demo_region import build_demo_region
from geoeco.core.engine import Engine, using_engine
from geoeco.erosion.desertification import run_desertification
from geoeco.erosion.run import make_config, run_erosion
from geoeco.evaluation.config import demo_evaluation_config
from geoeco.evaluation.run import run_evaluation

from .zoning import run_zoning

Progress = Callable[[str, float], None]


def _stage(progress: Progress | None, lo: float, hi: float) -> Progress:
    def cb(step: str, fraction: float) -> None:
        if progress:
            progress(step, lo + (hi - lo) * fraction)

    return cb


def demo_zoning_inputs(out: Path) -> dict[str, Path]:
    """The demo's analysis outputs bound to the default rule set's inputs (plus attributes)."""
    ev = out / "evaluation"
    return {
        "importance_water_conservation": ev / "importance_water_conservation.tif",
        "importance_biodiversity": ev / "importance_biodiversity.tif",
        "importance_soil_conservation": ev / "importance_soil_conservation.tif",
        "importance_windbreak": ev / "importance_sand_fixation.tif",
        "sensitivity_soil_erosion": ev / "water_erosion_sensitivity.tif",
        "sensitivity_sanding": ev / "sanding_sensitivity.tif",
        "erosion_grade": out / "erosion" / "erosion_grade.tif",
        "desertification_degree": out / "desertification" / "desertification_degree.tif",
        "soil_loss": out / "erosion" / "soil_loss.tif",
        "fvc": out / "desertification" / "fvc.tif",
        "importance_max": ev / "importance_max.tif",
    }


def run_demo(
    out: str | Path,
    *,
    size: str = "full",
    zoning: bool = True,
    budget_km2: float | None = None,
    progress: Progress | None = None,
    res: float | None = None,
    engine: Engine | str | None = None,
) -> dict[str, Any]:
    """Build (or reuse) the demo layers and run every analysis; list the outputs.

    ``res`` is the pixel size in metres of the demo region's fine grid (default 90 for
    ``full``, 30 for ``small``; see :func:`geoeco.catalog.demo_region.build_demo_region`): erosion,
    desertification and the evaluations run on that grid, and the zoning grid takes ``res``
    too (default as the fine grid's). ``engine`` (``"local"``, ``"dask"`` or an
    :class:`~geoeco.core.engine.Engine`) is where the erosion and zoning windows compute; an
    engine made here from a name is closed at the end, an Engine passed in stays open.
    """
    with using_engine(engine) as eng:
        return _run_demo(
            Path(out),
            size=size,
            zoning=zoning,
            budget_km2=budget_km2,
            progress=progress,
            res=res,
            engine=eng,
        )


def _run_demo(
    out: Path,
    *,
    size: str,
    zoning: bool,
    budget_km2: float | None,
    progress: Progress | None,
    res: float | None,
    engine: Engine,
) -> dict[str, Any]:
    layers = out / "layers"
    written = build_demo_region(layers, size=size, res=res, progress=_stage(progress, 0.0, 0.2))
    data_dir = files("geoeco") / "data"
    for name in ("demo_erosion.toml", "demo_landcover_factors.csv"):
        shutil.copyfile(str(data_dir / name), layers / name)
    settings = tomllib.loads((layers / "demo_erosion.toml").read_text(encoding="utf-8"))
    cfg = make_config(settings, base=layers)
    ero = run_erosion(
        written["dem"],
        cfg,
        out / "erosion",
        progress=_stage(progress, 0.2, 0.45),
        engine=engine,
    )
    des = run_desertification(
        written["ndvi"], out / "desertification", progress=_stage(progress, 0.45, 0.5)
    )
    run_evaluation(
        out / "evaluation",
        grid_from=written["dem"],
        inputs=demo_evaluation_config(out),
        progress=_stage(progress, 0.5, 0.65),
    )
    zones = None
    if zoning:
        inputs = demo_zoning_inputs(out)
        zones = run_zoning(
            out / "zones",
            aoi=None,
            demo_size=size,
            inputs=inputs,
            statuses=dict.fromkeys(inputs, "synthetic"),
            res=res if res is not None else (90.0 if size == "full" else 30.0),
            budget_km2=budget_km2,
            compare="focused",
            progress=_stage(progress, 0.65, 1.0),
            engine=engine,
        )

    def rel(p: Path) -> str:
        return str(p.relative_to(out))

    return {
        "out": str(out),
        "status": "synthetic",
        "layers": {k: rel(Path(v)) for k, v in written.items()},
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
        "evaluation": {
            "files": sorted(f"evaluation/{p.name}" for p in (out / "evaluation").iterdir())
        },
        "zones": None
        if zones is None
        else {
            "files": [f"zones/{f}" for f in zones["outputs"]] + ["zones/summary.json"],
            "units": zones["units"],
            "class_totals_km2": zones["class_totals_km2"],
            "comparison_with_focused_km2": zones["comparison"]["area_km2_by_class_b"],
            "approximation_layers": zones["approximation_layers"],
            "synthetic_layers": zones["synthetic_layers"],
        },
    }
