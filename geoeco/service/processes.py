"""The process catalogue: analyses that can run as jobs (OGC API - Processes style).

Each :class:`Process` has an id, a description, an input model (a pydantic model whose JSON
Schema is published), its outputs, and a function that runs it into a folder and returns a
:class:`~geoeco.service.process_runners.ProcessResult` (or, for a plugin's process, its JSON
summary as a mapping). Built in:

* ``zoning``: :func:`geoeco.workflows.zoning.run_zoning`. With no ``aoi`` and no ``layers`` it
  zones the synthetic demo region (``demo_size`` small or full) on the demo's analyses, as
  ``geoeco zone`` does (:func:`geoeco.workflows.demo.zone_demo`);
* ``erosion``: :func:`geoeco.erosion.run.run_erosion` on a DEM layer (or the demo DEM), with
  the settings :func:`geoeco.workflows.erosion.erosion_config` builds for the CLI too;
* ``desertification``: :func:`geoeco.erosion.desertification.run_desertification` on an NDVI
  layer (or the demo NDVI);
* ``wind_erosion``: :func:`geoeco.erosion.wind_run.run_wind_erosion` (RWEQ) on layers or
  numbers (:func:`geoeco.workflows.wind.wind_erosion_from`; no inputs: the demo region);
* ``screening``: :func:`geoeco.query.screening.screen_site` of one site on the results of a finished
  ``zoning`` job (given by its job id), with the printable report;
* ``trend`` and ``change``: trends of a yearly stack and change between two dates
  (:mod:`geoeco.service.process_trends`);
* ``effectiveness``: restoration effectiveness of a zoning job's units and patches
  (:mod:`geoeco.service.process_effect`);
* ``inputs``: a place's real inputs from the configured public catalogs
  (:mod:`geoeco.service.process_build_inputs`).

Inputs never name server files: rasters are layer ids of the registry, areas are
administrative codes or GeoJSON geometries. :func:`validate_inputs` checks the JSON itself
(nesting depth, valid Unicode, finite numbers: :mod:`geoeco.core.json_input`) and then the input
model; :func:`check_inputs` adds the process's own check (:mod:`geoeco.service.process_checks`: what
the run would fail on, found without reading pixels). :func:`prepare` does both for a
submission and turns the request into the deterministic job id
(:func:`geoeco.service.jobs.make_job_id`) from the canonical inputs (defaults filled in), the
versions
of the layers the process reads, the rule-set hash and the engine version; :func:`execute`
runs the same checks before the run. Other modules may add processes with
:func:`register_process`.

Examples
--------
>>> sorted(PROCESSES)  # doctest: +NORMALIZE_WHITESPACE
['change', 'desertification', 'effectiveness', 'erosion', 'inputs', 'screening', 'trend',
 'wind_erosion', 'zoning']
>>> canonical_inputs("zoning", {"demo_size": "small"})["rules"]
'default'
>>> validate_inputs("zoning", {"demo_size": "huge"})  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
geoeco.core.errors.InvalidProcessInputs: inputs of process 'zoning': demo_size: Input should ...
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from geoeco import __version__
from geoeco.catalog.layers import LayerRegistry
from geoeco.core.errors import (
    InvalidInput,
    InvalidJSONValue,
    InvalidProcessInputs,
    ProcessNotFound,
)
from geoeco.core.json_input import check_json_value
from geoeco.workflows.progress import Progress

from .job_model import make_job_id
from .process_build_inputs import (
    BuildInputsInputs,
    build_inputs_cells,
    check_build_inputs,
    run_build_inputs,
)
from .process_checks import (
    check_desertification,
    check_erosion,
    check_screening,
    check_wind_erosion,
    check_zoning,
)
from .process_effect import (
    EffectivenessInputs,
    check_effectiveness,
    run_effectiveness_process,
)
from .process_inputs import (
    DesertificationInputs,
    ErosionInputs,
    ExecutionContext,
    ScreeningInputs,
    WindErosionInputs,
    ZoningInputs,
)
from .process_runners import (
    ProcessResult,
    _raster_cells,
    _run_desertification,
    _run_erosion,
    _run_screening,
    _run_wind_erosion,
    _run_zoning,
    _zoning_cells,
    _zoning_layers,
    _zoning_rules,
)
from .process_trends import (
    ChangeInputs,
    TrendInputs,
    check_change,
    check_trend,
    run_change_process,
    run_trend_process,
)

# --------------------------------------------------------------------------------------------
# the catalogue
_FILES_OUTPUT = {
    "title": "Output files",
    "description": "Links to the files written (GeoPackage, COGs, CSV, JSON, maps) with "
    "their media types.",
    "schema": {
        "type": "array",
        "items": {
            "type": "object",
            "properties": {
                "href": {"type": "string", "format": "uri"},
                "type": {"type": "string"},
                "title": {"type": "string"},
            },
        },
    },
}
_SUMMARY_OUTPUT = {
    "title": "Summary",
    "description": "The run's summary (areas by class, inputs, engine and rule-set versions).",
    "schema": {"type": "object", "contentMediaType": "application/json"},
}


@dataclass(frozen=True)
class Process:
    """One analysis the service can run (see the module docstring)."""

    id: str
    title: str
    description: str
    inputs_model: type[BaseModel]
    run: Callable[[Any, Path, Progress, ExecutionContext], ProcessResult | Mapping[str, Any]]
    version: str = "1.0.0"
    keywords: tuple[str, ...] = ()
    outputs: dict[str, dict[str, Any]] = field(
        default_factory=lambda: {"summary": _SUMMARY_OUTPUT, "files": _FILES_OUTPUT}
    )
    layers_used: Callable[[Any, LayerRegistry], dict[str, str]] | None = None
    rules_sha256: Callable[[Any], str | None] | None = None
    cells: Callable[[Any, LayerRegistry], int | None] | None = None
    check: Callable[[Any, ExecutionContext], None] | None = None

    def input_schema(self) -> dict[str, Any]:
        """JSON Schema of the inputs object."""
        return self.inputs_model.model_json_schema()

    def describe(self) -> dict[str, Any]:
        """OGC API - Processes description: inputs and outputs with their schemas."""
        schema = self.input_schema()
        required = set(schema.get("required", []))
        defs = schema.get("$defs")
        inputs = {}
        for name, prop in schema.get("properties", {}).items():
            s = dict(prop)
            if defs:
                s["$defs"] = defs
            inputs[name] = {
                "title": prop.get("title", name),
                "description": prop.get("description", ""),
                "schema": s,
                "minOccurs": 1 if name in required else 0,
                "maxOccurs": 1,
            }
        return {
            "id": self.id,
            "title": self.title,
            "description": self.description,
            "version": self.version,
            "keywords": list(self.keywords),
            "jobControlOptions": ["sync-execute", "async-execute", "dismiss"],
            "outputTransmission": ["value", "reference"],
            "inputs": inputs,
            "outputs": self.outputs,
        }


PROCESSES: dict[str, Process] = {}


def register_process(process: Process, *, overwrite: bool = False) -> Process:
    """Add ``process`` to the catalogue (refuses a taken id unless ``overwrite``)."""
    if process.id in PROCESSES and not overwrite:
        raise InvalidInput(f"process {process.id!r} is already registered")
    PROCESSES[process.id] = process
    return process


def get_process(process_id: str) -> Process:
    """The process with this id; :class:`ProcessNotFound` names the known ones."""
    try:
        return PROCESSES[process_id]
    except KeyError:
        raise ProcessNotFound(
            f"unknown process {process_id!r}; known processes: {', '.join(sorted(PROCESSES))}"
        ) from None


def _invalid(process_id: str, errors: list[dict[str, Any]]) -> InvalidProcessInputs:
    text = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
    return InvalidProcessInputs(f"inputs of process {process_id!r}: {text}", errors)


def validate_inputs(process_id: str, inputs: Mapping[str, Any] | None) -> BaseModel:
    """The validated inputs model; :class:`InvalidProcessInputs` lists every bad field.

    The inputs must be a JSON object of sound JSON values
    (:func:`geoeco.core.json_input.check_json_value`) before the model sees them.
    """
    proc = get_process(process_id)
    if inputs is not None and not isinstance(inputs, Mapping):
        raise _invalid(
            process_id, [{"field": "inputs", "message": "must be an object", "code": "type"}]
        )
    data = dict(inputs or {})
    try:
        check_json_value(data, what="inputs")
    except InvalidJSONValue as exc:
        field_ = exc.field or "inputs"
        raise _invalid(
            process_id, [{"field": field_, "message": exc.reason, "code": "json_value"}]
        ) from None
    try:
        return proc.inputs_model.model_validate(data)
    except ValidationError as exc:
        errors = [
            {
                "field": ".".join(str(p) for p in e.get("loc", ())) or "inputs",
                "message": str(e.get("msg", "")),
                "code": e.get("type"),
            }
            for e in exc.errors()
        ]
        raise _invalid(process_id, errors) from None


def check_inputs(
    process_id: str, inputs: Mapping[str, Any] | None, *, context: ExecutionContext | None = None
) -> BaseModel:
    """:func:`validate_inputs`, then the process's own check (what the run would fail on).

    Raises :class:`InvalidProcessInputs` (or :class:`ProcessInputTooLarge`) naming the inputs.
    """
    proc = get_process(process_id)
    model = validate_inputs(process_id, inputs)
    if proc.check is not None:
        proc.check(model, context or ExecutionContext())
    return model


def canonical_inputs(process_id: str, inputs: Mapping[str, Any] | None) -> dict[str, Any]:
    """The inputs with every default filled in, as plain JSON (what the job id hashes)."""
    return validate_inputs(process_id, inputs).model_dump(mode="json")


def _identity(
    proc: Process, model: BaseModel, registry: LayerRegistry, api_key: str | None
) -> tuple[str, dict[str, Any]]:
    versions = proc.layers_used(model, registry) if proc.layers_used else {}
    sha = proc.rules_sha256(model) if proc.rules_sha256 else None
    canon = model.model_dump(mode="json")
    jid = make_job_id(
        proc.id,
        canon,
        layer_versions=versions,
        rules_sha256=sha,
        engine_version=__version__,
        api_key=api_key,
    )
    return jid, canon


def job_identity(
    process_id: str,
    inputs: Mapping[str, Any] | None,
    *,
    registry: LayerRegistry | None = None,
    api_key: str | None = None,
) -> tuple[str, dict[str, Any]]:
    """``(job id, canonical inputs)`` of a request (see :func:`geoeco.service.jobs.make_job_id`).

    Unknown layer ids raise :class:`~geoeco.core.errors.LayerNotFound` here, before any job exists.

    >>> jid, canon = job_identity("desertification", {"demo_size": "small"})
    >>> jid == job_identity("desertification", {"demo_size": "small", "bare_sand": None})[0]
    True
    """
    from geoeco.catalog.layers import load_registry

    model = validate_inputs(process_id, inputs)
    reg = registry if registry is not None else load_registry()
    return _identity(get_process(process_id), model, reg, api_key)


def estimate_cells(
    process_id: str, inputs: Mapping[str, Any] | None, *, registry: LayerRegistry | None = None
) -> int | None:
    """Rough number of grid cells the run processes (``None``: unknown, treat as large)."""
    from geoeco.catalog.layers import load_registry

    proc = get_process(process_id)
    if proc.cells is None:
        return None
    model = validate_inputs(process_id, inputs)
    return proc.cells(model, registry if registry is not None else load_registry())


@dataclass(frozen=True)
class Submission:
    """A request checked for submission: its job id, canonical inputs and estimated size."""

    job_id: str
    inputs: dict[str, Any]
    cells: int | None


def prepare(
    process_id: str,
    inputs: Mapping[str, Any] | None,
    *,
    context: ExecutionContext | None = None,
    api_key: str | None = None,
) -> Submission:
    """Check a request completely (:func:`check_inputs`, the same checks :func:`execute`
    runs) and return its :class:`Submission`; nothing is queued or run here.

    >>> sub = prepare("desertification", {"demo_size": "small"})
    >>> sub.inputs["demo_size"], sub.cells > 0
    ('small', True)
    """
    ctx = context or ExecutionContext()
    proc = get_process(process_id)
    model = check_inputs(process_id, inputs, context=ctx)
    registry = ctx.layers()
    job_id, canon = _identity(proc, model, registry, api_key)
    cells = proc.cells(model, registry) if proc.cells is not None else None
    return Submission(job_id, canon, cells)


def execute(
    process_id: str,
    inputs: Mapping[str, Any] | None,
    out_dir: str | Path,
    progress: Progress | None = None,
    *,
    context: ExecutionContext | None = None,
) -> ProcessResult:
    """Run a process into ``out_dir`` and return its result (:attr:`ProcessResult.summary`
    is the JSON object a job's results show).

    ``progress(step, fraction)`` is called as the run advances (fraction 0-1). The inputs
    are checked first, as :func:`prepare` checks them (:func:`check_inputs`).
    """
    proc = get_process(process_id)
    ctx = context or ExecutionContext()
    model = check_inputs(process_id, inputs, context=ctx)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    cb = progress or (lambda s, f: None)
    result = proc.run(model, out, cb, ctx)
    # a plugin's process may return its summary as a plain JSON object
    return result if isinstance(result, ProcessResult) else ProcessResult(dict(result))


def _layers_of(
    ids: Callable[[Any], list[str]], demo: Callable[[Any], bool]
) -> Callable[[Any, LayerRegistry], dict[str, str]]:
    def used(model: Any, registry: LayerRegistry) -> dict[str, str]:
        names = set(ids(model))
        if demo(model):
            names |= {s.id for s in registry if s.id.startswith("demo.")}
        return {i: registry.get(i).version for i in sorted(names)}

    return used


register_process(
    Process(
        id="zoning",
        title="Ecological control zoning",
        description="Red line, priority / key / general control units with access lists, area "
        "statistics and restoration priorities (geoeco.workflows.zoning.run_zoning). Without an "
        "aoi and layers it runs on the synthetic demo region.",
        inputs_model=ZoningInputs,
        run=_run_zoning,
        keywords=("zoning", "red line", "三线一单"),
        layers_used=_zoning_layers,
        rules_sha256=_zoning_rules,
        cells=_zoning_cells,
        check=check_zoning,
    )
)
register_process(
    Process(
        id="erosion",
        title="Soil erosion (RUSLE / CSLE)",
        description="Soil loss in t/(km²·a) and its SL 190-2007 grade "
        "(geoeco.erosion.run.run_erosion). Without a dem it runs on the demo region.",
        inputs_model=ErosionInputs,
        run=_run_erosion,
        keywords=("erosion", "RUSLE", "CSLE"),
        layers_used=_layers_of(lambda m: m.layer_ids(), lambda m: m.dem is None),
        cells=lambda m, reg: _raster_cells(m.dem, m.demo_size, reg),
        check=check_erosion,
    )
)
register_process(
    Process(
        id="desertification",
        title="Desertification degree",
        description="Vegetation cover and desertification degree "
        "(geoeco.erosion.desertification.run_desertification). Without ndvi it runs on the demo "
        "region.",
        inputs_model=DesertificationInputs,
        run=_run_desertification,
        keywords=("desertification", "FVC"),
        layers_used=_layers_of(lambda m: m.layer_ids(), lambda m: m.ndvi is None),
        cells=lambda m, reg: _raster_cells(m.ndvi, m.demo_size, reg),
        check=check_desertification,
    )
)
register_process(
    Process(
        id="wind_erosion",
        title="Wind erosion (RWEQ)",
        description="Actual and potential wind erosion and sand fixation in t/(km²·a) and the "
        "SL 190-2007 wind grade (geoeco.erosion.wind_run.run_wind_erosion). Without inputs it "
        "runs on the demo region with synthetic wind, ETp, snow and CaCO3.",
        inputs_model=WindErosionInputs,
        run=_run_wind_erosion,
        keywords=("wind erosion", "RWEQ", "sand fixation"),
        layers_used=_layers_of(lambda m: m.layer_ids(), lambda m: not m.layer_ids()),
        cells=lambda m, reg: _raster_cells(m.landcover, m.demo_size, reg),
        check=check_wind_erosion,
    )
)
register_process(
    Process(
        id="screening",
        title="Site screening",
        description="Overlaps, proximity, zonal statistics and compliance verdicts of one site "
        "on the results of a successful zoning job (geoeco.query.screening.screen_site), with a "
        "printable report.",
        inputs_model=ScreeningInputs,
        run=_run_screening,
        keywords=("screening", "compliance"),
        layers_used=_layers_of(
            lambda m: ["protected.national_parks", "programme.battles"], lambda m: False
        ),
        cells=lambda m, reg: 0,
        check=check_screening,
    )
)
register_process(
    Process(
        id="trend",
        title="Trends of a yearly stack",
        description="Theil-Sen slope, Mann-Kendall p and trend class (1 improvement, 2 no "
        "significant change, 3 degradation), RESTREND with a precipitation stack "
        "(geoeco.workflows.trends.run_trend). Without a stack it runs on the synthetic series.",
        inputs_model=TrendInputs,
        run=run_trend_process,
        keywords=("trend", "Mann-Kendall", "Theil-Sen", "RESTREND"),
        layers_used=_layers_of(lambda m: m.layer_ids(), lambda m: False),
        cells=lambda m, reg: _stack_cells(m.layer_ids(), m.demo_size, reg),
        check=check_trend,
    )
)
register_process(
    Process(
        id="change",
        title="Change between two dates",
        description="Transition matrix (km²), change map and 'improved by at least one grade' "
        "per control unit and county (geoeco.workflows.changes.run_change). Without layers it "
        "runs on the synthetic series' first and last erosion grades.",
        inputs_model=ChangeInputs,
        run=run_change_process,
        keywords=("change", "transition"),
        layers_used=_layers_of(lambda m: m.layer_ids(), lambda m: False),
        cells=lambda m, reg: _stack_cells(m.layer_ids(), m.demo_size, reg),
        check=check_change,
    )
)

register_process(
    Process(
        id="effectiveness",
        title="Restoration effectiveness",
        description="Trend inside each control unit and restoration patch of a zoning job "
        "against a comparison matched on county, land cover and start value "
        "(geoeco.workflows.effectiveness.run_effectiveness). Without a stack it runs on the "
        "synthetic series (over the demo region: use a demo zoning job).",
        inputs_model=EffectivenessInputs,
        run=run_effectiveness_process,
        keywords=("restoration", "effectiveness", "trend", "matching"),
        layers_used=_layers_of(lambda m: m.layer_ids(), lambda m: False),
        cells=lambda m, reg: _stack_cells(sorted(m.stack.values()), m.demo_size, reg),
        check=check_effectiveness,
    )
)


register_process(
    Process(
        id="inputs",
        title="Real inputs from public catalogs",
        description="DEM, NDVI, NPP, land cover, soil, monthly climate, aridity and wind days "
        "of a place, read windowed from the public catalogs the server is configured with and "
        "written on one CGCS2000 / Albers grid with their manifest "
        "(geoeco.workflows.build_inputs.build_inputs).",
        inputs_model=BuildInputsInputs,
        run=run_build_inputs,
        keywords=("inputs", "STAC", "catalog"),
        cells=build_inputs_cells,
        check=check_build_inputs,
    )
)


def _stack_cells(ids: list[str], size: str, registry: LayerRegistry) -> int | None:
    """Pixels of one layer of a stack, times the layers (the demo series: 60 × 60 × 60)."""
    if not ids:
        return 60 * 60 * 60
    one = _raster_cells(ids[0], size, registry)
    return None if one is None else one * len(ids)


__all__ = [
    "PROCESSES",
    "Process",
    "ProcessResult",
    "Submission",
    "canonical_inputs",
    "check_inputs",
    "estimate_cells",
    "execute",
    "get_process",
    "job_identity",
    "prepare",
    "register_process",
    "validate_inputs",
]
