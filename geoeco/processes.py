"""The process catalogue: analyses that can run as jobs (OGC API - Processes style).

Each :class:`Process` has an id, a description, an input model (a pydantic model whose JSON
Schema is published), its outputs, and a function that runs it into a folder. Built in:

* ``zoning``: :func:`geoeco.zoning.run_zoning`. With no ``aoi`` and no ``layers`` it runs on the
  synthetic demo region (``demo_size`` small or full), building the demo's evaluation inputs
  first as ``geoeco zone`` does;
* ``erosion``: :func:`geoeco.erosion.run_erosion` on a DEM layer (or the demo DEM);
* ``desertification``: :func:`geoeco.desertification.run_desertification` on an NDVI layer
  (or the demo NDVI);
* ``screening``: :func:`geoeco.screening.screen_site` of one site on the results of a finished
  ``zoning`` job (given by its job id), with the printable report.

Inputs never name server files: rasters are layer ids of the registry, areas are
administrative codes or GeoJSON geometries. :func:`job_identity` turns a request into the
deterministic job id (:func:`geoeco.jobs.make_job_id`) from the canonical inputs (defaults
filled in), the versions of the layers the process reads, the rule-set hash and the engine
version. Other modules may add processes with :func:`register_process`.

Examples
--------
>>> sorted(PROCESSES)
['desertification', 'erosion', 'screening', 'zoning']
>>> canonical_inputs("zoning", {"demo_size": "small"})["rules"]
'default'
>>> validate_inputs("zoning", {"demo_size": "huge"})  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
geoeco.processes.InvalidProcessInputs: inputs of process 'zoning': demo_size: Input should be ...
"""

from __future__ import annotations

import contextlib
import re
import shutil
import tempfile
import tomllib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from . import __version__
from .errors import GeoecoError, InvalidInput
from .jobs import is_job_id, make_job_id
from .layers import LayerRegistry

Progress = Callable[[str, float], None]
DemoSize = Literal["small", "full"]
_CODE = re.compile(r"^(156)?\d{6}$")


class ProcessNotFound(GeoecoError, LookupError):
    """A process id that the catalogue does not know."""


class InvalidProcessInputs(InvalidInput):
    """Process inputs that do not validate; ``errors`` lists ``{field, message, code}``."""

    def __init__(self, message: str, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.errors = errors or []


@dataclass(frozen=True)
class ExecutionContext:
    """What a process may use besides its inputs (all optional).

    registry : layers that inputs name (default: the built-in layers)
    cache_dir : where generated layers and the demo's inputs are built once and reused
    runs_dir : folder of finished job results (``runs_dir/<job id>/``), read by ``screening``
    engine, scheduler : where erosion windows compute ("local", or "dask" with an optional
        scheduler address; see docs/scale.md)
    """

    registry: LayerRegistry | None = None
    cache_dir: Path | None = None
    runs_dir: Path | None = None
    engine: str = "local"
    scheduler: str | None = None

    def compute_engine(self) -> Any:
        """The engine windows run on (:func:`geoeco.engine.get_engine`); local by default."""
        if self.engine == "local":
            return None
        from .engine import get_engine

        return get_engine(self.engine, scheduler=self.scheduler)

    def layers(self) -> LayerRegistry:
        """The registry, or the built-in one."""
        from .layers import load_registry

        return self.registry if self.registry is not None else load_registry()


class _Inputs(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _stage(progress: Progress, lo: float, hi: float) -> Progress:
    return lambda step, f: progress(step, lo + (hi - lo) * max(0.0, min(1.0, f)))


# --------------------------------------------------------------------------------------------
# zoning
class ZoningInputs(_Inputs):
    """Inputs of the ``zoning`` process."""

    aoi: str | dict[str, Any] | None = Field(
        default=None,
        description="Area of interest: a 6- or 9-digit county/city/province code, or a GeoJSON "
        "geometry or Feature in WGS 84 lon-lat. Absent: the synthetic demo region.",
    )
    demo_size: DemoSize = Field(
        default="full",
        description="Demo region size when no aoi is given: small (about 10 km) or full "
        "(about 100 km).",
    )
    rules: str = Field(default="default", description="Built-in rule set name.")
    compare: str | None = Field(default=None, description="A second built-in rule set.")
    res: float | None = Field(
        default=None,
        ge=10,
        le=5000,
        description="Grid resolution in metres (default 30 for the small demo, else 90).",
    )
    budget_km2: float | None = Field(default=None, gt=0, description="Restoration budget, km².")
    min_unit_km2: float = Field(default=0.1, ge=0, description="Smallest control unit, km².")
    sxyd_crs: Literal["cgcs2000", "gk"] = Field(
        default="cgcs2000", description="CRS of the 三线一单 export."
    )
    layers: dict[str, str] = Field(
        default_factory=dict,
        description="Rule-set input name -> raster layer id of the registry. Absent inputs "
        "are taken from the registry (layers whose variable names them).",
    )
    map: bool = Field(
        default=True,
        description="Also write the interactive map.html (needs folium, geoeco[maps]).",
    )

    @field_validator("aoi")
    @classmethod
    def _aoi_shape(cls, v: Any) -> Any:
        if isinstance(v, str) and not _CODE.match(v.strip()):
            raise ValueError("a text aoi must be a 6- or 9-digit administrative code")
        if isinstance(v, dict) and "type" not in v:
            raise ValueError("a GeoJSON aoi needs a 'type' member")
        return v.strip() if isinstance(v, str) else v

    @field_validator("rules", "compare")
    @classmethod
    def _builtin_rules(cls, v: str | None) -> str | None:
        from .rules import list_rule_sets

        if v is not None and v not in list_rule_sets():
            raise ValueError(f"unknown rule set {v!r}; built-in: {', '.join(list_rule_sets())}")
        return v

    def resolution(self) -> float:
        """The grid resolution used."""
        if self.res is not None:
            return self.res
        return 30.0 if self.aoi is None and self.demo_size == "small" else 90.0

    def uses_demo(self) -> bool:
        """Whether the run builds the demo's evaluation inputs."""
        return self.aoi is None and not self.layers


@contextlib.contextmanager
def _demo_inputs(size: str, ctx: ExecutionContext, progress: Progress) -> Iterator[Path]:
    """A folder with the demo's analyses (``run_demo(zoning=False)``), cached when possible."""
    from .demo_run import run_demo

    if ctx.cache_dir is None:
        with tempfile.TemporaryDirectory(prefix="geoeco-demo-") as tmp:
            run_demo(Path(tmp), size=size, zoning=False, progress=progress)
            yield Path(tmp)
        return
    target = Path(ctx.cache_dir) / "demo-inputs" / f"{size}-{__version__}"
    if not (target / ".complete").exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{size}-", dir=target.parent))
        try:
            run_demo(tmp, size=size, zoning=False, progress=progress)
            (tmp / ".complete").write_text(__version__, encoding="utf-8")
            try:
                tmp.rename(target)
            except OSError:  # another worker finished first
                pass
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    progress("demo inputs ready", 1.0)
    yield target


def _geometry(aoi: dict[str, Any]) -> Any:
    from .geometry_input import parse_geometry

    return parse_geometry(aoi, crs="wgs84", max_area_km2=None).geometry


def _short(summary: Mapping[str, Any]) -> dict[str, Any]:
    drop = ("provenance", "inputs", "config", "zones", "restoration")
    return {k: v for k, v in summary.items() if k not in drop}


def _raster(registry: LayerRegistry, layer_id: str, ctx: ExecutionContext) -> Path:
    from .sources import layer_raster_path

    return layer_raster_path(registry.get(layer_id), cache_dir=ctx.cache_dir)


def _run_zoning(inp: ZoningInputs, out: Path, progress: Progress, ctx: ExecutionContext) -> dict:
    from .demo_run import demo_zoning_inputs
    from .zoning import run_zoning

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
        )

    if inp.uses_demo():
        with _demo_inputs(inp.demo_size, ctx, _stage(progress, 0.0, 0.5)) as demo:
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
    from .rules import load_rule_set
    from .zoning import DEFAULT_MASK_LAYERS

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
    from .rules import load_rule_set

    sha = load_rule_set(inp.rules).sha256()
    return sha if inp.compare is None else sha + "+" + load_rule_set(inp.compare).sha256()


def _demo_cells(size: str, res: float | None = None) -> int:
    from .demo import demo_grid

    g = demo_grid(size)  # type: ignore[arg-type]
    scale = 1.0 if res is None else (abs(g.transform.a) / res) ** 2
    return int(g.width * g.height * scale)


def _zoning_cells(inp: ZoningInputs, registry: LayerRegistry) -> int | None:
    if inp.aoi is None:
        return _demo_cells(inp.demo_size, inp.resolution())
    if isinstance(inp.aoi, dict):
        from .geometry_input import area_km2

        return int(area_km2(_geometry(inp.aoi)) * 1e6 / inp.resolution() ** 2)
    return None  # an administrative code: size unknown without loading the boundaries


# --------------------------------------------------------------------------------------------
# erosion
class ErosionInputs(_Inputs):
    """Inputs of the ``erosion`` process (factors: a number or a raster layer id)."""

    dem: str | None = Field(default=None, description="DEM layer id; absent: the demo DEM.")
    demo_size: DemoSize = Field(default="full", description="Demo size when no dem is given.")
    r: float | str | None = Field(default=None, description="R factor: number or layer id.")
    k: float | str | None = Field(default=None, description="K factor: number or layer id.")
    c: float | str | None = Field(default=None, description="C factor: number or layer id.")
    p: float | str | None = Field(default=None, description="P factor: number or layer id.")
    ndvi: str | None = Field(default=None, description="NDVI layer id (C from cover).")
    landcover: str | None = Field(default=None, description="Land-cover layer id.")
    model: Literal["rusle", "csle"] | None = None
    routing: Literal["d8", "mfd"] | None = None
    ls_method: Literal["dg", "lstool", "invest"] | None = None

    def layer_ids(self) -> list[str]:
        """Every layer id among the inputs."""
        vals = [self.dem, self.r, self.k, self.c, self.p, self.ndvi, self.landcover]
        return [v for v in vals if isinstance(v, str)]


def _run_erosion(inp: ErosionInputs, out: Path, progress: Progress, ctx: ExecutionContext) -> dict:
    from .erosion import make_config, run_erosion

    registry = ctx.layers()

    def factor(v: float | str | None) -> float | str | None:
        return str(_raster(registry, v, ctx)) if isinstance(v, str) else v

    flags: dict[str, Any] = {
        "r": factor(inp.r),
        "k": factor(inp.k),
        "c": factor(inp.c),
        "p": factor(inp.p),
        "ndvi": factor(inp.ndvi),
        "landcover": factor(inp.landcover),
        "model": inp.model,
        "routing": inp.routing,
        "ls_method": inp.ls_method,
    }
    if inp.dem is not None:
        cfg = make_config(None, **flags)
        engine = ctx.compute_engine()
        summary = run_erosion(factor(inp.dem), cfg, out, progress=progress, engine=engine)  # type: ignore[arg-type]
        return _short(summary)
    from importlib.resources import files

    from .demo import build_demo_region

    with tempfile.TemporaryDirectory(prefix="geoeco-demo-") as tmp:
        layers = Path(tmp)
        written = build_demo_region(layers, size=inp.demo_size, progress=_stage(progress, 0, 0.2))
        data = files("geoeco") / "data"
        for name in ("demo_erosion.toml", "demo_landcover_factors.csv"):
            shutil.copyfile(str(data / name), layers / name)
        settings = tomllib.loads((layers / "demo_erosion.toml").read_text(encoding="utf-8"))
        cfg = make_config(settings, base=layers, **flags)
        summary = run_erosion(
            written["dem"],
            cfg,
            out,
            progress=_stage(progress, 0.2, 1.0),
            engine=ctx.compute_engine(),
        )
    return _short(summary)


# --------------------------------------------------------------------------------------------
# desertification
class DesertificationInputs(_Inputs):
    """Inputs of the ``desertification`` process."""

    ndvi: str | None = Field(default=None, description="NDVI layer id; absent: the demo NDVI.")
    demo_size: DemoSize = Field(default="full", description="Demo size when no ndvi is given.")
    bare_sand: str | None = Field(default=None, description="Bare-sand share layer id (%).")

    def layer_ids(self) -> list[str]:
        """Every layer id among the inputs."""
        return [v for v in (self.ndvi, self.bare_sand) if v]


def _run_desertification(
    inp: DesertificationInputs, out: Path, progress: Progress, ctx: ExecutionContext
) -> dict:
    from .desertification import run_desertification

    registry = ctx.layers()
    sand = _raster(registry, inp.bare_sand, ctx) if inp.bare_sand else None
    if inp.ndvi is not None:
        ndvi = _raster(registry, inp.ndvi, ctx)
        return _short(run_desertification(ndvi, out, bare_sand=sand, progress=progress))
    from .demo import build_demo_region

    with tempfile.TemporaryDirectory(prefix="geoeco-demo-") as tmp:
        written = build_demo_region(
            Path(tmp), size=inp.demo_size, progress=_stage(progress, 0, 0.3)
        )
        summary = run_desertification(
            written["ndvi"], out, bare_sand=sand, progress=_stage(progress, 0.3, 1.0)
        )
    return _short(summary)


def _raster_cells(layer_id: str | None, size: str, registry: LayerRegistry) -> int | None:
    if layer_id is None:
        return _demo_cells(size)
    spec = registry.get(layer_id)
    path = spec.file_path()
    if path is None or not path.exists():
        return None
    from .io import raster_info

    grid = raster_info(path, name=path.name).grid
    return None if grid is None else grid.width * grid.height


# --------------------------------------------------------------------------------------------
# screening
class ScreeningInputs(_Inputs):
    """Inputs of the ``screening`` process."""

    zoning_job: str = Field(description="Id of a successful zoning job whose results to use.")
    geometry: dict[str, Any] | str = Field(description="The site: GeoJSON or WKT.")
    crs: Literal["wgs84", "cgcs2000", "gcj02"] = "wgs84"
    buffer_m: float = Field(default=0.0, ge=0, le=50_000, description="Proximity buffer, m.")
    project_type: list[str] | None = Field(
        default=None, description="Project types to judge (default: every type)."
    )
    report: bool = Field(default=True, description="Also write the printable report.html.")

    @field_validator("zoning_job")
    @classmethod
    def _job_id(cls, v: str) -> str:
        if not is_job_id(v):
            raise ValueError("not a job id (32 lower-case hex characters)")
        return v


def _run_screening(
    inp: ScreeningInputs, out: Path, progress: Progress, ctx: ExecutionContext
) -> dict:
    from .pipeline import write_json
    from .query import QueryContext
    from .report import write_report
    from .screening import screen_site

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
    run: Callable[[Any, Path, Progress, ExecutionContext], dict[str, Any]]
    version: str = "1.0.0"
    keywords: tuple[str, ...] = ()
    outputs: dict[str, dict[str, Any]] = field(
        default_factory=lambda: {"summary": _SUMMARY_OUTPUT, "files": _FILES_OUTPUT}
    )
    layers_used: Callable[[Any, LayerRegistry], dict[str, str]] | None = None
    rules_sha256: Callable[[Any], str | None] | None = None
    cells: Callable[[Any, LayerRegistry], int | None] | None = None

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


def validate_inputs(process_id: str, inputs: Mapping[str, Any] | None) -> BaseModel:
    """The validated inputs model; :class:`InvalidProcessInputs` lists every bad field."""
    proc = get_process(process_id)
    try:
        return proc.inputs_model.model_validate(dict(inputs or {}))
    except ValidationError as exc:
        errors = [
            {
                "field": ".".join(str(p) for p in e.get("loc", ())) or "inputs",
                "message": str(e.get("msg", "")),
                "code": e.get("type"),
            }
            for e in exc.errors()
        ]
        text = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        raise InvalidProcessInputs(f"inputs of process {process_id!r}: {text}", errors) from None


def canonical_inputs(process_id: str, inputs: Mapping[str, Any] | None) -> dict[str, Any]:
    """The inputs with every default filled in, as plain JSON (what the job id hashes)."""
    return validate_inputs(process_id, inputs).model_dump(mode="json")


def job_identity(
    process_id: str,
    inputs: Mapping[str, Any] | None,
    *,
    registry: LayerRegistry | None = None,
    api_key: str | None = None,
) -> tuple[str, dict[str, Any]]:
    """``(job id, canonical inputs)`` of a request (see :func:`geoeco.jobs.make_job_id`).

    Unknown layer ids raise :class:`~geoeco.errors.LayerNotFound` here, before any job exists.

    >>> jid, canon = job_identity("desertification", {"demo_size": "small"})
    >>> jid == job_identity("desertification", {"demo_size": "small", "bare_sand": None})[0]
    True
    """
    from .layers import load_registry

    proc = get_process(process_id)
    model = validate_inputs(process_id, inputs)
    reg = registry if registry is not None else load_registry()
    versions = proc.layers_used(model, reg) if proc.layers_used else {}
    sha = proc.rules_sha256(model) if proc.rules_sha256 else None
    canon = model.model_dump(mode="json")
    jid = make_job_id(
        process_id,
        canon,
        layer_versions=versions,
        rules_sha256=sha,
        engine_version=__version__,
        api_key=api_key,
    )
    return jid, canon


def estimate_cells(
    process_id: str, inputs: Mapping[str, Any] | None, *, registry: LayerRegistry | None = None
) -> int | None:
    """Rough number of grid cells the run processes (``None``: unknown, treat as large)."""
    from .layers import load_registry

    proc = get_process(process_id)
    if proc.cells is None:
        return None
    model = validate_inputs(process_id, inputs)
    return proc.cells(model, registry if registry is not None else load_registry())


def execute(
    process_id: str,
    inputs: Mapping[str, Any] | None,
    out_dir: str | Path,
    progress: Progress | None = None,
    *,
    context: ExecutionContext | None = None,
) -> dict[str, Any]:
    """Run a process into ``out_dir`` and return its JSON summary.

    ``progress(step, fraction)`` is called as the run advances (fraction 0-1).
    """
    proc = get_process(process_id)
    model = validate_inputs(process_id, inputs)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    cb = progress or (lambda s, f: None)
    return proc.run(model, out, cb, context or ExecutionContext())


def _layers_of(ids: Callable[[Any], list[str]], demo: Callable[[Any], bool]):  # type: ignore[no-untyped-def]
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
        "statistics and restoration priorities (geoeco.zoning.run_zoning). Without an aoi and "
        "layers it runs on the synthetic demo region.",
        inputs_model=ZoningInputs,
        run=_run_zoning,
        keywords=("zoning", "red line", "三线一单"),
        layers_used=_zoning_layers,
        rules_sha256=_zoning_rules,
        cells=_zoning_cells,
    )
)
register_process(
    Process(
        id="erosion",
        title="Soil erosion (RUSLE / CSLE)",
        description="Soil loss in t/(km²·a) and its SL 190-2007 grade "
        "(geoeco.erosion.run_erosion). Without a dem it runs on the demo region.",
        inputs_model=ErosionInputs,
        run=_run_erosion,
        keywords=("erosion", "RUSLE", "CSLE"),
        layers_used=_layers_of(lambda m: m.layer_ids(), lambda m: m.dem is None),
        cells=lambda m, reg: _raster_cells(m.dem, m.demo_size, reg),
    )
)
register_process(
    Process(
        id="desertification",
        title="Desertification degree",
        description="Vegetation cover and desertification degree "
        "(geoeco.desertification.run_desertification). Without ndvi it runs on the demo region.",
        inputs_model=DesertificationInputs,
        run=_run_desertification,
        keywords=("desertification", "FVC"),
        layers_used=_layers_of(lambda m: m.layer_ids(), lambda m: m.ndvi is None),
        cells=lambda m, reg: _raster_cells(m.ndvi, m.demo_size, reg),
    )
)
register_process(
    Process(
        id="screening",
        title="Site screening",
        description="Overlaps, proximity, zonal statistics and compliance verdicts of one site "
        "on the results of a successful zoning job (geoeco.screening.screen_site), with a "
        "printable report.",
        inputs_model=ScreeningInputs,
        run=_run_screening,
        keywords=("screening", "compliance"),
        layers_used=_layers_of(
            lambda m: ["protected.national_parks", "programme.battles"], lambda m: False
        ),
        cells=lambda m, reg: 0,
    )
)

__all__ = [
    "PROCESSES",
    "DesertificationInputs",
    "ErosionInputs",
    "ExecutionContext",
    "InvalidProcessInputs",
    "Process",
    "ProcessNotFound",
    "ScreeningInputs",
    "ZoningInputs",
    "canonical_inputs",
    "estimate_cells",
    "execute",
    "get_process",
    "job_identity",
    "register_process",
    "validate_inputs",
]
