"""``geoeco demo``: build the synthetic demo region and run the analyses on it.

Writes ``DIR/layers/`` (the demo rasters, plus the erosion settings and land-cover factor
table it used, so a user can edit and rerun them), ``DIR/erosion/`` and
``DIR/desertification/``.
"""

from __future__ import annotations

import shutil
import tomllib
from collections.abc import Callable
from importlib.resources import files
from pathlib import Path
from typing import Any

from .demo import build_demo_region
from .desertification import run_desertification
from .erosion import make_config, run_erosion

Progress = Callable[[str, float], None]


def _stage(progress: Progress | None, lo: float, hi: float) -> Progress:
    def cb(step: str, fraction: float) -> None:
        if progress:
            progress(step, lo + (hi - lo) * fraction)

    return cb


def run_demo(
    out: str | Path, *, size: str = "full", progress: Progress | None = None
) -> dict[str, Any]:
    """Build (or reuse) the demo layers and run erosion and desertification; list the outputs."""
    out = Path(out)
    layers = out / "layers"
    written = build_demo_region(layers, size=size, progress=_stage(progress, 0.0, 0.3))
    data_dir = files("geoeco") / "data"
    for name in ("demo_erosion.toml", "demo_landcover_factors.csv"):
        shutil.copyfile(str(data_dir / name), layers / name)
    settings = tomllib.loads((layers / "demo_erosion.toml").read_text(encoding="utf-8"))
    cfg = make_config(settings, base=layers)
    ero = run_erosion(written["dem"], cfg, out / "erosion", progress=_stage(progress, 0.3, 0.85))
    des = run_desertification(
        written["ndvi"], out / "desertification", progress=_stage(progress, 0.85, 1.0)
    )

    def rel(p: Path) -> str:
        return str(p.relative_to(out))

    return {
        "out": str(out),
        "status": "synthetic",
        "layers": {k: rel(Path(v)) for k, v in written.items()},
        "erosion": {
            "files": [f"erosion/{f}" for f in ero["outputs"]] + ["erosion/summary.json"],
            "area_km2_by_grade": ero["area_km2_by_grade"],
            "mean_soil_loss_t_km2_a": ero["mean_soil_loss_t_km2_a"],
        },
        "desertification": {
            "files": [f"desertification/{f}" for f in des["outputs"]]
            + ["desertification/summary.json"],
            "area_km2_by_degree": des["area_km2_by_degree"],
        },
    }
