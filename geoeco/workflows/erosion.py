"""Erosion and desertification runs from what a user gives: the one way their settings are
built for ``geoeco erosion``/``geoeco desertification``, the ``erosion`` and
``desertification`` processes and the demo.

:class:`ErosionOptions` are the settings a user may give directly (factors, model, routing,
LS method); :func:`erosion_config` lays them over a TOML config file or over settings (the
demo region's, :func:`demo_erosion_settings`) into one
:class:`~geoeco.erosion.run.ErosionConfig`, which validates every value in one place (its
defaults: :data:`~geoeco.erosion.run.DEFAULT_MODEL`,
:data:`~geoeco.terrain.ls.DEFAULT_LS_METHOD`, routing by the LS method).
:func:`erosion_from` and :func:`desertification_from` run on a user's raster, or -- without
one -- on the synthetic demo region built into a scratch folder inside the output folder.

Examples
--------
>>> ErosionOptions(landcover_table="lc.csv").overrides()["p_method"]
'table'
>>> erosion_config(ErosionOptions(r=4000.0, k=0.03, c=0.2)).ls_method
'lstool'
"""

from __future__ import annotations

import shutil
import tempfile
import tomllib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any

from geoeco.catalog.demo_region import DEFAULT_DEMO_SIZE, build_demo_region
from geoeco.core.engine import Engine
from geoeco.erosion.config import ErosionConfig, load_config, make_config
from geoeco.erosion.results import DesertificationResult, ErosionResult

from .demo_inputs import SCRATCH_PREFIX, check_demo_size
from .progress import Progress, stage

FactorValue = float | str
#: The demo region's erosion settings, in the package data (``geoeco/data``).
DEMO_EROSION_FILES = ("demo_erosion.toml", "demo_landcover_factors.csv")


def demo_erosion_dir() -> Path:
    """The folder of the demo's erosion settings (:data:`DEMO_EROSION_FILES`)."""
    return Path(str(files("geoeco") / "data"))


def demo_erosion_settings() -> dict[str, Any]:
    """The demo region's erosion settings (``demo_erosion.toml``; paths relative to the demo's
    layers folder)."""
    text = (demo_erosion_dir() / DEMO_EROSION_FILES[0]).read_text(encoding="utf-8")
    return tomllib.loads(text)


def copy_demo_erosion_files(layers: Path) -> dict[str, Any]:
    """Copy the demo's erosion settings into ``layers`` (so a user can edit and rerun them);
    return the settings."""
    for name in DEMO_EROSION_FILES:
        shutil.copyfile(demo_erosion_dir() / name, layers / name)
    return demo_erosion_settings()


@dataclass(frozen=True)
class ErosionOptions:
    """Erosion settings given directly (each optional; ``None``: from the config or the
    defaults of :class:`~geoeco.erosion.run.ErosionConfig`, which checks them).

    Factors ``r``, ``k``, ``c``, ``p`` are a number or a raster path; ``landcover_table`` is a
    CSV with ``lucode``, ``usle_c`` and ``usle_p`` columns (P then comes from it unless ``p``
    is given). ``factors``: write the factor rasters too (default: soil loss, grade, LS).
    """

    r: FactorValue | None = None
    k: FactorValue | None = None
    c: FactorValue | None = None
    p: FactorValue | None = None
    ndvi: str | None = None
    landcover: str | None = None
    landcover_table: str | None = None
    model: str | None = None
    routing: str | None = None
    ls_method: str | None = None
    exclude_streams: bool | None = None
    allow_outside_china: bool = False
    factors: bool | None = None

    def overrides(self) -> dict[str, Any]:
        """The settings these options set (``None`` for those they leave alone)."""
        table = self.landcover_table
        return {
            "r": self.r,
            "k": self.k,
            "c": self.c,
            "p": self.p,
            "ndvi": self.ndvi,
            "landcover": self.landcover,
            "landcover_table": {"path": table} if table else None,
            "p_method": "table" if table and self.p is None else None,
            "model": self.model,
            "routing": self.routing,
            "ls_method": self.ls_method,
            "exclude_streams": self.exclude_streams,
            "allow_outside_china": self.allow_outside_china or None,
            "factors": self.factors,
        }


def erosion_config(
    options: ErosionOptions,
    *,
    config: str | Path | None = None,
    settings: Mapping[str, Any] | None = None,
    base: Path | None = None,
) -> ErosionConfig:
    """``options`` over a TOML ``config`` file (its relative paths against its folder) or over
    ``settings`` (relative paths against ``base``); raises
    :class:`~geoeco.core.errors.InvalidFields` naming every bad setting."""
    if config is not None:
        return load_config(config, **options.overrides())
    return make_config(dict(settings or {}), base=base, **options.overrides())


@contextmanager
def demo_layers(
    out: Path, size: str, progress: Progress | None = None, *, erosion_files: bool = False
) -> Iterator[dict[str, Path]]:
    """The demo region's layers (name -> path) built into a scratch folder inside ``out``,
    deleted at the end (with the demo's erosion settings beside them when asked)."""
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=SCRATCH_PREFIX, dir=out) as tmp:
        if erosion_files:
            copy_demo_erosion_files(Path(tmp))
        written = build_demo_region(Path(tmp), size=check_demo_size(size), progress=progress)
        yield {k: Path(v) for k, v in written.items()}


def erosion_from(
    dem: str | Path | None,
    out_dir: str | Path,
    options: ErosionOptions,
    *,
    config: str | Path | None = None,
    demo_size: str = DEFAULT_DEMO_SIZE,
    progress: Progress | None = None,
    engine: Engine | str | None = None,
) -> ErosionResult:
    """Soil loss on ``dem`` (:func:`~geoeco.erosion.run.run_erosion`) with the settings of
    :func:`erosion_config`; without a DEM, on the demo region of ``demo_size`` with the
    demo's settings under ``options``. Returns the run's result."""
    from geoeco.erosion.run import run_erosion

    out = Path(out_dir)
    if dem is not None:
        cfg = erosion_config(options, config=config)
        return run_erosion(dem, cfg, out, progress=progress, engine=engine)
    with demo_layers(out, demo_size, stage(progress, 0, 0.2), erosion_files=True) as layers:
        base = layers["dem"].parent
        cfg = erosion_config(options, settings=demo_erosion_settings(), base=base)
        return run_erosion(
            layers["dem"], cfg, out, progress=stage(progress, 0.2, 1.0), engine=engine
        )


def desertification_from(
    ndvi: str | Path | None,
    out_dir: str | Path,
    *,
    bare_sand: str | Path | None = None,
    demo_size: str = DEFAULT_DEMO_SIZE,
    allow_outside_china: bool = False,
    progress: Progress | None = None,
) -> DesertificationResult:
    """Vegetation cover and desertification degree
    (:func:`~geoeco.erosion.desertification.run_desertification`) of ``ndvi``, or of the
    demo region's NDVI without one. Returns the run's result."""
    from geoeco.erosion.desertification import run_desertification

    out = Path(out_dir)
    if ndvi is not None:
        return run_desertification(
            ndvi,
            out,
            bare_sand=bare_sand,
            progress=progress,
            allow_outside_china=allow_outside_china,
        )
    with demo_layers(out, demo_size, stage(progress, 0, 0.3)) as layers:
        return run_desertification(
            layers["ndvi"], out, bare_sand=bare_sand, progress=stage(progress, 0.3, 1.0)
        )


__all__ = [
    "DEMO_EROSION_FILES",
    "ErosionOptions",
    "copy_demo_erosion_files",
    "demo_erosion_dir",
    "demo_erosion_settings",
    "demo_layers",
    "desertification_from",
    "erosion_config",
    "erosion_from",
]
