"""The analyses of a raw inputs folder: erosion, desertification and evaluation, in one chain.

:func:`build_analyses` is what ``geoeco zone --inputs-from DIR`` runs first on a raw inputs
folder (:mod:`.raw_inputs`; ``geoeco inputs --out DIR`` writes one, and the demo region's
``layers/`` is one): erosion with the folder's erosion settings (``OUT/erosion/``),
desertification on its NDVI (``OUT/desertification/``) and the evaluation on both and the
folder's rasters (``OUT/evaluation/``,
:func:`~geoeco.evaluation.config.inputs_evaluation_config`). The demo builds its analyses
the same way (:func:`geoeco.workflows.demo.build_demo_analyses`).

Each analysis has the least trusted status of the folder's files it read (``real`` files
give ``real`` results, synthetic ones ``synthetic``); :meth:`Analyses.summary` says which
ran, from which folder, and every input's status, and a zoning run on them says it in its
``summary.json`` (``inputs_from``; :func:`zone_from_inputs`). :func:`erosion_from_inputs` and
:func:`evaluation_from_inputs` are ``geoeco erosion --inputs-from`` and
``geoeco evaluate --inputs-from``.

The evaluation reads the erosion run's factor rasters (R, K, LS, C, P, slope), so the chain
runs erosion as the demo always has, writing them.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import shapely

from geoeco.core.engine import Engine, using_engine
from geoeco.core.provenance import Status
from geoeco.erosion.config import ErosionConfig
from geoeco.erosion.desertification import run_desertification
from geoeco.erosion.results import DesertificationResult, ErosionResult
from geoeco.erosion.run import run_erosion
from geoeco.evaluation.config import FOLDER_INPUTS, inputs_evaluation_config
from geoeco.evaluation.results import EvaluationResult
from geoeco.evaluation.run import run_evaluation
from geoeco.zoning.aoi import AOI, AoiSource, make_aoi

from .erosion import ErosionOptions, erosion_config
from .input_folders import inputs_from_folder, zoning_input_names
from .progress import Progress, stage
from .raw_inputs import InputsFolder, read_inputs_folder
from .zoning import RunSources, ZoningRunResult, run_zoning

#: The analyses the chain runs, in order, with the subfolder each writes into.
ANALYSES = ("erosion", "desertification", "evaluation")
#: Zoning inputs each analysis writes (the rest of a zoning run's inputs are the evaluation's).
WRITTEN_BY = {
    "erosion_grade": "erosion",
    "soil_loss": "erosion",
    "desertification_degree": "desertification",
    "fvc": "desertification",
}


@dataclass(frozen=True)
class Analyses:
    """What :func:`build_analyses` ran: the folder it read, where it wrote, the results."""

    inputs: InputsFolder
    out: Path
    erosion: ErosionResult
    desertification: DesertificationResult
    evaluation: EvaluationResult
    evaluation_dir: Path

    def statuses(self) -> dict[str, Status]:
        """Each analysis's status: the least trusted of the folder's files it read."""
        return analysis_statuses(self.inputs)

    def status_of(self, zoning_input: str) -> Status:
        """The status of a zoning input found among these analyses' outputs."""
        return self.statuses()[WRITTEN_BY.get(zoning_input, "evaluation")]

    def summary(self, base: Path | None = None) -> dict[str, Any]:
        """Which analyses ran, on which folder, with which statuses (for ``summary.json``);
        the analyses' folders relative to ``base`` (default: where they were written)."""
        st = self.statuses()
        base = self.out if base is None else base
        folders = {
            "erosion": self.out / "erosion",
            "desertification": self.out / "desertification",
            "evaluation": self.evaluation_dir,
        }
        return {
            **self.inputs.describe(),
            "analyses": [
                {"analysis": a, "status": st[a], "folder": _rel(folders[a], base)} for a in ANALYSES
            ],
        }


def _rel(p: Path, base: Path) -> str:
    try:
        return p.relative_to(base).as_posix() or "."
    except ValueError:
        return p.name


def analysis_statuses(inputs: InputsFolder) -> dict[str, Status]:
    """The status of each analysis of ``inputs``: erosion (the DEM and the files its settings
    name), desertification (NDVI), evaluation (both, and its own files)."""
    ero = inputs.erosion_inputs()
    return {
        "erosion": inputs.status_of(ero),
        "desertification": inputs.status_of(["ndvi"]),
        "evaluation": inputs.status_of([*ero, "ndvi", *FOLDER_INPUTS]),
    }


def _checked(inputs: str | Path | InputsFolder) -> InputsFolder:
    return inputs if isinstance(inputs, InputsFolder) else read_inputs_folder(inputs)


def inputs_erosion_config(
    inputs: str | Path | InputsFolder, options: ErosionOptions | None = None
) -> tuple[InputsFolder, ErosionConfig]:
    """The folder checked and its erosion settings (``options`` laid over them)."""
    folder = _checked(inputs)
    cfg = erosion_config(
        options or ErosionOptions(), settings=folder.erosion_settings, base=folder.folder
    )
    return folder, cfg


def erosion_from_inputs(
    inputs: str | Path | InputsFolder,
    out_dir: str | Path,
    options: ErosionOptions | None = None,
    *,
    progress: Progress | None = None,
    engine: Engine | str | None = None,
) -> ErosionResult:
    """Soil loss on a raw inputs folder's DEM with its erosion settings (``options`` over
    them): ``geoeco erosion --inputs-from DIR``."""
    folder, cfg = inputs_erosion_config(inputs, options)
    return run_erosion(folder.path("dem"), cfg, Path(out_dir), progress=progress, engine=engine)


def build_analyses(
    inputs: str | Path | InputsFolder,
    out: str | Path,
    *,
    evaluation_dir: str | Path | None = None,
    progress: Progress | None = None,
    engine: Engine | str | None = None,
) -> Analyses:
    """Erosion (``out/erosion``), desertification (``out/desertification``) and the
    evaluation (``evaluation_dir``, default ``out/evaluation``) of a raw inputs folder,
    checked first (nothing is written when it fails its checks); see the module docstring.
    ``engine`` is where the erosion windows compute."""
    # The evaluation reads R, K, LS, C, P and slope from the erosion folder: ask for them.
    folder, cfg = inputs_erosion_config(inputs, ErosionOptions(factors=True))
    o = Path(out)
    ev = o / "evaluation" if evaluation_dir is None else Path(evaluation_dir)
    dem = folder.path("dem")
    ero = run_erosion(dem, cfg, o / "erosion", progress=stage(progress, 0.0, 0.57), engine=engine)
    des = run_desertification(
        folder.path("ndvi"), o / "desertification", progress=stage(progress, 0.57, 0.67)
    )
    files = {n: f.path for n, f in folder.files.items()}
    evaluation = run_evaluation(
        ev,
        grid_from=dem,
        inputs=inputs_evaluation_config(files, o / "erosion", o / "desertification"),
        progress=stage(progress, 0.67, 1.0),
    )
    return Analyses(folder, o, ero, des, evaluation, ev)


@dataclass(frozen=True)
class InputsEvaluation:
    """What ``geoeco evaluate --inputs-from`` ran: the analyses; :meth:`summary` is the
    evaluation's summary with ``inputs_from`` (the folder, the analyses, their statuses)."""

    analyses: Analyses

    def summary(self) -> dict[str, Any]:
        """The evaluation's summary and where its inputs came from."""
        return {**self.analyses.evaluation.summary(), "inputs_from": self.analyses.summary()}


def evaluation_from_inputs(
    inputs: str | Path | InputsFolder,
    out_dir: str | Path,
    *,
    progress: Progress | None = None,
    engine: Engine | str | None = None,
) -> InputsEvaluation:
    """The evaluation of a raw inputs folder into ``out_dir`` (its rasters there, as
    ``geoeco evaluate`` writes them), after erosion and desertification (kept in
    ``out_dir/erosion`` and ``out_dir/desertification``, so that
    ``geoeco zone --inputs-from out_dir`` finds every zoning input); ``summary.json`` says
    where the inputs came from."""
    from geoeco.core.windows import write_json

    out = Path(out_dir)
    run = InputsEvaluation(
        build_analyses(inputs, out, evaluation_dir=out, progress=progress, engine=engine)
    )
    write_json(run.summary(), out / "summary.json")
    return run


def folder_aoi(inputs: InputsFolder) -> AOI:
    """The area a raw inputs folder covers (its DEM's extent), labelled by its manifest."""
    g = inputs.grid
    label = inputs.aoi_label or f"inputs folder {inputs.folder.name}"
    return make_aoi(shapely.box(*g.bounds), label=label, kind="geometry", crs=g.crs)


def _zoning_inputs(
    done: Analyses,
    given: Mapping[str, Any] | None,
    statuses: Mapping[str, str] | None,
    options: Mapping[str, Any],
) -> tuple[dict[str, Any], dict[str, str]]:
    """The zoning inputs found among the analyses' outputs (each overridden by an input
    given by name) and their statuses (the analysis's, unless given)."""
    names = zoning_input_names(options.get("rules"), options.get("compare"))
    found = inputs_from_folder(done.out, names).files
    own = {n: done.status_of(n) for n in found if n not in (given or {})}
    return {**found, **(given or {})}, {**own, **(statuses or {})}


def zone_from_inputs(
    out_dir: str | Path,
    inputs_from: str | Path,
    *,
    aoi: AoiSource | AOI | None = None,
    inputs: Mapping[str, Any] | None = None,
    statuses: Mapping[str, str] | None = None,
    analyses: str | Path | None = None,
    res: float | None = None,
    progress: Progress | None = None,
    engine: Engine | str | None = None,
    **options: Any,
) -> ZoningRunResult:
    """Zone a raw inputs folder: its analyses (:func:`build_analyses`, into ``analyses``,
    default ``out_dir/inputs``), then :func:`~geoeco.workflows.zoning.run_zoning` on them.

    The area is ``aoi``, else the manifest's ``aoi.code``, else the folder's extent
    (:func:`folder_aoi`); ``res`` defaults to the folder's pixel size. ``inputs`` and
    ``statuses`` override the analyses' outputs by name. The summary's ``inputs_from`` says
    which analyses ran on which folder and every input's status; ``attribution`` lists the
    folder's sources. The folder is checked before anything is written; a run that fails
    later removes ``out_dir`` if it created it.
    """
    folder = read_inputs_folder(inputs_from)
    out = Path(out_dir)
    created = not out.exists()
    try:
        with using_engine(engine) as eng:
            where = out / "inputs" if analyses is None else Path(analyses)
            done = build_analyses(folder, where, progress=stage(progress, 0.0, 0.5), engine=eng)
            bound, st = _zoning_inputs(done, inputs, statuses, options)
            area = aoi if aoi is not None else (folder.aoi_code or folder_aoi(folder))
            return run_zoning(
                out,
                aoi=area,
                inputs=bound,
                statuses=st,
                res=folder.grid.res[0] if res is None else res,
                progress=stage(progress, 0.5, 1.0),
                engine=eng,
                sources=RunSources(inputs_from=done.summary(out), attribution=folder.sources),
                **options,
            )
    except BaseException:
        if created:
            shutil.rmtree(out, ignore_errors=True)
        raise


__all__ = [
    "ANALYSES",
    "WRITTEN_BY",
    "Analyses",
    "InputsEvaluation",
    "analysis_statuses",
    "build_analyses",
    "erosion_from_inputs",
    "evaluation_from_inputs",
    "folder_aoi",
    "inputs_erosion_config",
    "zone_from_inputs",
]
