"""The ``geoeco`` command line.

Machine output (``--json``) goes to standard output alone; progress bars and messages go to
standard error; any geoeco error exits with status 2 and a one-line message, never a traceback.
"""

from __future__ import annotations

import json
import os
import sys
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from geoeco.core.errors import GeoecoError
from geoeco.core.staging import output_folder

if TYPE_CHECKING:  # imported where used, so that `geoeco --help` starts fast
    from geoeco.catalog.layers import LayerRegistry
    from geoeco.catalog.store import UserLayerStore
    from geoeco.query.context import QueryContext

app = typer.Typer(
    help="geoeco: ecological control zones for China.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
layers_app = typer.Typer(help="List, inspect, validate and add layers.", no_args_is_help=True)
app.add_typer(layers_app, name="layers")
rules_app = typer.Typer(help="Zoning rule sets.", no_args_is_help=True)
app.add_typer(rules_app, name="rules")

err = Console(stderr=True)
_state = {"debug": False}


@app.callback()
def _options(
    debug: Annotated[
        bool, typer.Option("--debug", help="Show tracebacks of internal errors.")
    ] = False,
) -> None:
    """geoeco: ecological control zones for China (erosion, desertification, red line, units)."""
    _state["debug"] = debug


LayersOpt = Annotated[
    Path | None,
    typer.Option(
        "--layers", help="Folder of user layer manifests (default: the user data folder)."
    ),
]


def default_user_layers_dir() -> Path:
    """Where ``geoeco layers add`` writes manifests unless ``--layers`` says otherwise."""
    import platformdirs

    return Path(platformdirs.user_data_dir("geoeco")) / "layers"


def _store(layers_dir: Path | None) -> UserLayerStore:
    from geoeco.catalog.store import UserLayerStore

    return UserLayerStore(layers_dir or default_user_layers_dir())


def _registry(layers_dir: Path | None) -> LayerRegistry:
    return _store(layers_dir).registry()


def _emit_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False, indent=2, default=str) + "\n")


@contextmanager
def progress_bar() -> Iterator[Callable[[str, float], None]]:
    """A rich progress bar on stderr, driven by ``callback(step_name, fraction)``."""
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        console=err,
        transient=False,
    ) as prog:
        task = prog.add_task("starting", total=1.0)

        def cb(step: str, fraction: float) -> None:
            prog.update(task, description=step, completed=max(0.0, min(1.0, fraction)))

        yield cb


def print_rows(
    headers: Sequence[str], rows: Sequence[Sequence[str]], *, console: Console | None = None
) -> None:
    """Print ``rows`` under ``headers``: a table on a terminal, whose first column (the id)
    is never cut or wrapped (the others wrap to fit, none cut); tab-separated lines, whole,
    when the output is a pipe or a file (scripts and grep see every id as it is)."""
    con = console or Console()
    if not con.is_terminal:
        for r in [headers, *rows]:
            con.file.write("\t".join(str(c) for c in r) + "\n")
        return
    table = Table()
    first = max(len(str(r[0])) for r in [headers, *rows])
    table.add_column(headers[0], no_wrap=True, min_width=first, overflow="fold")
    for h in headers[1:]:
        table.add_column(h, overflow="fold")
    for r in rows:
        table.add_row(*(escape(str(c)) for c in r))
    con.print(table)


@layers_app.command("list")
def layers_list(
    layers: LayersOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON on standard output.")] = False,
) -> None:
    """List every layer with its kind, status (real / user / approximation / synthetic) and role."""
    reg = _registry(layers)
    rows = [s.summary() for s in reg.list()]
    if as_json:
        _emit_json(rows)
        return
    cols = ("id", "kind", "status", "role", "title_zh", "title_en")
    print_rows(cols, [[str(r[c] or "") for c in cols] for r in rows])


@layers_app.command("show")
def layers_show(layer_id: str, layers: LayersOpt = None) -> None:
    """Print one layer's full manifest as JSON."""
    spec = _registry(layers).get(layer_id)
    data = spec.model_dump(mode="json", exclude_none=True)
    if data["source"].get("type") == "file":
        data["source"]["path"] = Path(data["source"]["path"]).name
    _emit_json(data)


@layers_app.command("validate")
def layers_validate(
    path: Path,
    nodata: Annotated[
        float | None, typer.Option(help="Nodata value of a raster that declares none.")
    ] = None,
    allow_outside_china: Annotated[bool, typer.Option("--allow-outside-china")] = False,
) -> None:
    """Check a data file (readable, CRS, inside China, raster nodata, GCJ-02) as JSON."""
    from geoeco.catalog.validate import check_layer_file

    rep = check_layer_file(
        path, name=path.name, allow_outside_china=allow_outside_china, nodata=nodata
    )
    _warn_notes(rep.notes)
    _emit_json({"valid": True, **rep.as_dict()})


def _warn_notes(notes: tuple[str, ...]) -> None:
    for note in notes:
        err.print(f"[yellow]warning:[/] {escape(note)}", highlight=False, soft_wrap=True)


@layers_app.command("gcj02-to-wgs84")
def layers_gcj02_to_wgs84(
    src: Path,
    dst: Annotated[Path, typer.Argument(help="Output file (.gpkg, .geojson, .shp, .parquet).")],
) -> None:
    """Convert a vector file in GCJ-02 (Amap/Tencent) lon/lat to WGS 84."""
    from geoeco.catalog.gcj02 import convert_gcj02_file

    n = convert_gcj02_file(src, dst, name=src.name)
    _emit_json({"converted": n, "out": dst.name, "crs": "EPSG:4326"})


@layers_app.command("add")
def layers_add(
    path: Path,
    role: Annotated[str, typer.Option(help="Role in zoning, e.g. protected, development, soil.")],
    layer_id: Annotated[
        str | None, typer.Option("--id", help="Layer id (default user.<file>).")
    ] = None,
    title_zh: Annotated[str | None, typer.Option(help="Chinese title.")] = None,
    title_en: Annotated[str | None, typer.Option(help="English title.")] = None,
    status: Annotated[str, typer.Option(help="real, user, approximation or synthetic.")] = "real",
    nodata: Annotated[
        float | None, typer.Option(help="Nodata of a raster that declares none.")
    ] = None,
    units: Annotated[str | None, typer.Option(help="Units of a raster's values.")] = None,
    allow_outside_china: Annotated[bool, typer.Option("--allow-outside-china")] = False,
    layers: LayersOpt = None,
) -> None:
    """Validate a file and register it as a user layer (writes its manifest to the folder)."""
    from geoeco.catalog.store import UserLayerOptions

    options = UserLayerOptions(
        role=role,
        layer_id=layer_id,
        title_zh=title_zh,
        title_en=title_en,
        status=status,
        nodata=nodata,
        units=units,
        allow_outside_china=allow_outside_china,
    )
    spec = _store(layers).add_file(path, options)
    err.print(f"registered layer [bold]{spec.id}[/] ({spec.kind}, role {spec.role})")
    _warn_notes(spec.notes)
    _emit_json({"id": spec.id, "manifest": f"{spec.id}.toml", **spec.summary()})


FactorOpt = Annotated[str | None, typer.Option(help="A number or a raster path.")]
# The names and defaults of these options are defined once, by the science
# (geoeco.erosion.run.EROSION_MODELS, geoeco.terrain.routing.ROUTING_METHODS,
# geoeco.terrain.ls.LS_METHODS); the command passes the text on and the erosion config checks
# it. The help repeats them so that `geoeco --help` need not import numba (a test keeps them
# equal: tests/test_cli.py::test_erosion_help_names_the_library_definitions).
MODEL_HELP = "rusle or csle (default: the config's, else rusle)."
ROUTING_HELP = (
    "d8, mfd or mfd-invest (default: the config's, else d8, or mfd-invest for ls-method invest)."
)
STREAMS_HELP = (
    "Leave stream cells out of LS, soil loss and totals, as InVEST's usle.tif "
    "(default: the config's, else on for ls-method invest only)."
)
LS_METHOD_HELP = "dg, lstool or invest (default: the config's, else lstool)."


RawInputsOpt = Annotated[
    Path | None,
    typer.Option(
        "--inputs-from",
        help="A raw inputs folder (inputs.json, as `geoeco inputs --out` writes): its "
        "rasters and erosion settings.",
    ),
]


FactorsOpt = Annotated[
    bool,
    typer.Option(
        "--factors",
        help="Also write the factor rasters (R when derived, K, C, P or CSLE's, slope, "
        "potential loss, soil conservation); default: soil loss, grade and LS only.",
    ),
]
EngineOpt = Annotated[
    str,
    typer.Option("--engine", help="Where the window algebra runs: local (this process) or dask."),
]
SchedulerOpt = Annotated[
    str | None,
    typer.Option(
        "--scheduler",
        help="Dask scheduler address (tcp://host:8786); default: a local cluster.",
    ),
]


@app.command("erosion")
def erosion(
    out: Annotated[Path, typer.Option("--out", help="Output folder.")],
    dem: Annotated[Path | None, typer.Option(help="DEM raster (projected, metres).")] = None,
    r: FactorOpt = None,
    k: FactorOpt = None,
    c: FactorOpt = None,
    ndvi: Annotated[
        Path | None, typer.Option(help="NDVI raster: C by FVC (percent) + Cai.")
    ] = None,
    landcover: Annotated[Path | None, typer.Option(help="Land-cover raster (class codes).")] = None,
    table: Annotated[
        Path | None, typer.Option(help="Land-cover CSV with lucode, usle_c, usle_p columns.")
    ] = None,
    p: FactorOpt = None,
    model: Annotated[str | None, typer.Option(help=MODEL_HELP)] = None,
    routing: Annotated[str | None, typer.Option(help=ROUTING_HELP)] = None,
    ls_method: Annotated[str | None, typer.Option(help=LS_METHOD_HELP)] = None,
    exclude_streams: Annotated[
        bool | None, typer.Option("--exclude-streams/--keep-streams", help=STREAMS_HELP)
    ] = None,
    config: Annotated[Path | None, typer.Option(help="TOML with everything else.")] = None,
    allow_outside_china: Annotated[bool, typer.Option("--allow-outside-china")] = False,
    factors: FactorsOpt = False,
    engine: EngineOpt = "local",
    inputs_from: RawInputsOpt = None,
    scheduler: SchedulerOpt = None,
) -> None:
    """Soil loss (RUSLE/CSLE, t/(km²·a)) and its SL 190-2007 grade on the DEM's grid."""
    from geoeco.core.engine import get_engine
    from geoeco.core.windows import parse_factor
    from geoeco.erosion.run import run_erosion
    from geoeco.workflows.erosion import ErosionOptions, erosion_config

    options = ErosionOptions(
        r=parse_factor(r),
        k=parse_factor(k),
        c=parse_factor(c),
        p=parse_factor(p),
        ndvi=str(ndvi) if ndvi else None,
        landcover=str(landcover) if landcover else None,
        landcover_table=str(table) if table else None,
        model=model,
        routing=routing,
        ls_method=ls_method,
        exclude_streams=exclude_streams,
        allow_outside_china=allow_outside_china,
        factors=factors or None,
    )
    if inputs_from is not None:  # the folder's DEM and erosion settings, checked first
        from geoeco.workflows.analyses import inputs_erosion_config

        if dem is not None or config is not None:
            raise typer.BadParameter("--inputs-from gives the DEM and config: drop --dem/--config")
        folder, cfg = inputs_erosion_config(inputs_from, options)
        dem = folder.path("dem")
    else:
        cfg = erosion_config(options, config=config)  # checked before any output is made
    if dem is None:
        raise typer.BadParameter("--dem is required")
    with (
        output_folder(out) as work,
        get_engine(engine, scheduler=scheduler) as eng,
        progress_bar() as cb,
    ):
        result = run_erosion(dem, cfg, work, progress=cb, engine=eng)
    _emit_json(_short_summary(result.summary(), out))


@app.command("desertification")
def desertification(
    ndvi: Annotated[Path, typer.Option(help="NDVI raster.")],
    out: Annotated[Path, typer.Option("--out", help="Output folder.")],
    bare_sand: Annotated[Path | None, typer.Option(help="Bare-sand share raster (%).")] = None,
    allow_outside_china: Annotated[bool, typer.Option("--allow-outside-china")] = False,
) -> None:
    """Vegetation cover (percent) and desertification degree (Wang Tao 2003, or Chen 2019)."""
    from geoeco.erosion.desertification import run_desertification

    with output_folder(out) as work, progress_bar() as cb:
        result = run_desertification(
            ndvi, work, bare_sand=bare_sand, progress=cb, allow_outside_china=allow_outside_china
        )
    _emit_json(_short_summary(result.summary(), out))


@app.command("evaluate")
def evaluate(
    out: Annotated[Path, typer.Option("--out", help="Output folder.")],
    config: Annotated[
        Path | None, typer.Option(help="TOML EvaluationConfig (inputs and options).")
    ] = None,
    grid_from: Annotated[
        Path | None, typer.Option(help="Raster whose grid the outputs use (the DEM).")
    ] = None,
    inputs_from: RawInputsOpt = None,
) -> None:
    """Sensitivity (sanding, water erosion) and importance (services, cumulative share).

    With --inputs-from (a raw inputs folder) it runs erosion and desertification on the
    folder first (kept in OUT/erosion and OUT/desertification) instead of --config/--grid-from.
    """
    from geoeco.evaluation.config import load_evaluation_config
    from geoeco.evaluation.run import run_evaluation

    if inputs_from is not None:
        from geoeco.workflows.analyses import evaluation_from_inputs
        from geoeco.workflows.raw_inputs import read_inputs_folder

        if config is not None or grid_from is not None:
            raise typer.BadParameter("--inputs-from replaces --config and --grid-from")
        folder = read_inputs_folder(inputs_from)  # checked before any output is made
        with output_folder(out) as work, progress_bar() as cb:
            run = evaluation_from_inputs(folder, work, progress=cb)
        _emit_json(_short_summary(run.summary(), out))
        return
    if config is None or grid_from is None:
        raise typer.BadParameter("give --config and --grid-from, or --inputs-from")
    cfg = load_evaluation_config(config)
    with output_folder(out) as work, progress_bar() as cb:
        result = run_evaluation(work, grid_from=grid_from, inputs=cfg, progress=cb)
    _emit_json(_short_summary(result.summary(), out))


ZoneEngineOpt = Annotated[
    str | None,
    typer.Option(
        "--engine",
        help="Where the zoning windows are read and classified: local (this process; default) "
        "or dask.",
    ),
]


AllowPartialOpt = Annotated[
    bool,
    typer.Option(
        "--allow-partial",
        help="Accept inputs that leave part of the area without data (the summary and the "
        "map say how much); without it such a run fails naming the inputs.",
    ),
]
MinCoverageOpt = Annotated[
    float | None,
    typer.Option(help="Share of the area the inputs must cover, 0-1 (default 0.99)."),
]


InputsFromOpt = Annotated[
    Path | None,
    typer.Option(
        "--inputs-from",
        help="Folder of `geoeco evaluate --out` or `geoeco demo --out`: its rasters feed "
        "the inputs --input does not name; or a raw inputs folder (inputs.json, as "
        "`geoeco inputs --out` writes): erosion, desertification and evaluation run on it "
        "first, into OUT/inputs.",
    ),
]


def _input_pairs(items: list[str]) -> dict[str, str]:
    """``NAME=PATH`` options as a mapping (a missing ``=`` is a usage error)."""
    given: dict[str, str] = {}
    for item in items:
        if "=" not in item:
            raise typer.BadParameter(f"--input takes NAME=PATH, got {item!r}")
        k, v = item.split("=", 1)
        given[k.strip()] = v.strip()
    return given


@app.command("zone")
def zone(
    out: Annotated[Path, typer.Option("--out", help="Output folder.")],
    aoi: Annotated[
        str | None,
        typer.Option(
            help="6- or 9-digit county/city/province code, or a vector file. "
            "Default: the demo region."
        ),
    ] = None,
    rules: Annotated[
        str | None, typer.Option(help="Rule set name or TOML file (default: default).")
    ] = None,
    layers: LayersOpt = None,
    input_: Annotated[
        list[str] | None,
        typer.Option("--input", help="NAME=RASTER for a rule input (repeatable)."),
    ] = None,
    inputs_from: InputsFromOpt = None,
    budget: Annotated[
        float | None, typer.Option("--budget", help="Restoration budget, km².")
    ] = None,
    compare: Annotated[str | None, typer.Option(help="A second rule set to compare.")] = None,
    res: Annotated[
        float | None,
        typer.Option(
            help="Grid resolution in metres (equal-area; default 90, on the demo its grid's)."
        ),
    ] = None,
    sxyd_crs: Annotated[
        str | None, typer.Option(help="三线一单 export CRS: cgcs2000 (default) or gk.")
    ] = None,
    sxyd_format: Annotated[
        str | None,
        typer.Option(help="三线一单 export: gpkg (full texts; default) or shp (with .cpg)."),
    ] = None,
    engine: ZoneEngineOpt = None,
    scheduler: SchedulerOpt = None,
    allow_partial: AllowPartialOpt = False,
    min_coverage: MinCoverageOpt = None,
) -> None:
    """Red line, priority / key / general control units, statistics and restoration priorities.

    Without --aoi, --input and --inputs-from it runs on the demo region (building its layers
    and evaluations into OUT/inputs first). With --inputs-from a raw inputs folder it runs
    erosion, desertification and evaluation on the folder into OUT/inputs first, then zones
    its area (its manifest's county code, else its extent) at its pixel size; the summary says
    which analyses ran, on which folder, with which statuses, and lists the data sources.
    """
    from geoeco.core.engine import get_engine
    from geoeco.workflows.demo import zone_or_demo

    given = _input_pairs(input_ or [])
    chosen: dict[str, Any] = {"rules": rules, "compare": compare, "sxyd_crs": sxyd_crs}
    chosen.update(sxyd_format=sxyd_format, min_coverage=min_coverage, allow_partial=allow_partial)
    options = {k: v for k, v in chosen.items() if v is not None and v is not False}
    with (
        output_folder(out) as work,
        get_engine(engine, scheduler=scheduler) as eng,
        progress_bar() as cb,
    ):
        result = zone_or_demo(
            work,
            aoi=aoi,
            inputs=given or None,
            inputs_from=inputs_from,
            demo_analyses=work / "inputs",
            registry=_registry(layers),
            res=res,
            budget_km2=budget,
            progress=cb,
            engine=eng,
            **options,
        )
    _emit_json(_short_summary(result.summary(), out))


RunOpt = Annotated[
    Path,
    typer.Option("--run", help="Output folder of `geoeco zone` or `geoeco demo`."),
]
CrsOpt = Annotated[str, typer.Option(help="wgs84, cgcs2000 or gcj02.")]


def _context(run: Path) -> QueryContext:
    from geoeco.core.errors import DataSourceError
    from geoeco.query.context import QueryContext

    if not run.exists():
        raise DataSourceError(
            f"run folder {run.name!r} not found; run `geoeco demo` (or `geoeco zone`) first, "
            "or give --run DIR"
        )
    return QueryContext.open(run)


@app.command("query")
def query(
    lon: float,
    lat: float,
    crs: CrsOpt = "wgs84",
    run: RunOpt = Path("geoeco-demo"),
) -> None:
    """What applies at a point: unit, access list, red line, park, battle area, layer values."""
    from geoeco.query.point import lookup_point

    result = lookup_point(_context(run), lon, lat, crs=crs)
    _emit_json(result.model_dump(mode="json"))


@app.command("screen")
def screen(
    geometry: Annotated[
        Path | None, typer.Option(help="GeoJSON or vector file (several features = batch).")
    ] = None,
    wkt: Annotated[str | None, typer.Option(help="The site as WKT.")] = None,
    crs: CrsOpt = "wgs84",
    buffer: Annotated[float, typer.Option(help="Buffer around the site, metres.")] = 0.0,
    project_type: Annotated[
        list[str] | None,
        typer.Option(
            help="industry, mining, wind_energy, solar_energy, ... (repeatable; default all)."
        ),
    ] = None,
    run: RunOpt = Path("geoeco-demo"),
    report: Annotated[
        Path | None,
        typer.Option(help="Write a printable HTML report (a batch: every site in one file)."),
    ] = None,
) -> None:
    """Screen a site: overlaps, zonal statistics, proximity and the compliance verdict."""
    from geoeco.query.models import ScreeningResult
    from geoeco.query.sites import screen_file

    if (geometry is None) == (wkt is None):
        raise typer.BadParameter("give exactly one of --geometry FILE or --wkt WKT")
    site: str | Path = geometry if geometry is not None else str(wkt)
    result = screen_file(
        lambda: _context(run),
        site,
        buffer_m=buffer,
        project_type=project_type or None,
        crs=crs,
        report=report,
    )
    if report is not None:
        err.print(f"report written to {report}")
    if not isinstance(result, ScreeningResult):  # a batch: one row per site
        _emit_json(json.loads(result.to_json(orient="records", force_ascii=False)))
        return
    _emit_json(result.model_dump(mode="json"))


@app.command("serve")
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
    data_dir: Annotated[
        Path | None, typer.Option(help="Service data (user layers, jobs); default user data dir.")
    ] = None,
    cache_dir: Annotated[
        Path | None, typer.Option(help="Cache of built-in generated layers and the demo.")
    ] = None,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            help="Worker processes; each keeps its own opened runs (memory × N) and job "
            "supervisor. About one per core.",
        ),
    ] = 1,
) -> None:
    """Start the HTTP service (docs at /docs); settings also come from GEOECO_* variables."""
    _serve(host=host, port=port, data_dir=data_dir, cache_dir=cache_dir, workers=workers)


def _serve(
    *,
    host: str,
    port: int,
    data_dir: Path | None,
    cache_dir: Path | None,
    banner: list[str] | None = None,
    extra: dict[str, object] | None = None,
    workers: int = 1,
) -> None:
    # The service is an optional part: imported only here (geoeco itself never needs it).
    try:
        import uvicorn
        from geoeco_api.main import create_app
        from geoeco_api.settings import Settings
    except ImportError as exc:
        raise typer.BadParameter(
            f"the service needs the api extra: pip install 'geoeco[api]' ({exc})"
        ) from None
    overrides = {k: v for k, v in (("data_dir", data_dir), ("cache_dir", cache_dir)) if v}
    settings = Settings(**overrides, **(extra or {}))
    base = f"http://{host}:{port}"
    for line in [f"geoeco service on {base} (docs: {base}/docs)", *(banner or [])]:
        err.print(line)
    if workers == 1:
        uvicorn.run(create_app(settings), host=host, port=port, log_level="info")
        return
    # worker processes build their own app from the environment: pass the options on there
    for key, value in {**overrides, **(extra or {})}.items():
        os.environ[f"GEOECO_{key.upper()}"] = str(value)
    uvicorn.run(
        "geoeco_api.main:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
    )


@rules_app.command("list")
def rules_list(
    as_json: Annotated[bool, typer.Option("--json", help="JSON on standard output.")] = False,
) -> None:
    """The built-in rule sets with their titles and hashes."""
    from geoeco.zoning.rules import list_rule_sets, load_rule_set

    rows = []
    for name in list_rule_sets():
        rs = load_rule_set(name)
        rows.append(
            {
                "name": rs.name,
                "version": rs.version,
                "title_zh": rs.title_zh,
                "title_en": rs.title_en,
                "sha256": rs.sha256(),
            }
        )
    if as_json:
        _emit_json(rows)
        return
    cols = ("name", "version", "title_zh", "title_en")
    print_rows([*cols, "sha256"], [[*(str(r[c]) for c in cols), r["sha256"][:12]] for r in rows])


@rules_app.command("show")
def rules_show(
    name: Annotated[str, typer.Argument(help="A built-in rule set name or a TOML file.")],
    as_json: Annotated[bool, typer.Option("--json", help="JSON on standard output.")] = False,
) -> None:
    """What a rule set contains: inputs and their classes, red-line reasons and thresholds,
    protected areas, priority / key / general rules, attributes."""
    from geoeco.zoning.rules import load_rule_set
    from geoeco.zoning.rules_view import format_outline, outline

    o = outline(load_rule_set(name))
    if as_json:
        _emit_json(o)
        return
    sys.stdout.write(format_outline(o))


def _short_summary(summary: dict[str, Any], out: Path) -> dict[str, Any]:
    from geoeco.workflows.summaries import short_summary

    keep = short_summary(summary)
    keep["out"] = str(out)
    keep["summary_file"] = str(out / "summary.json")
    return keep


@app.command("demo")
def demo(
    out: Annotated[Path, typer.Option("--out", help="Output folder.")] = Path("geoeco-demo"),
    size: Annotated[
        str | None,
        typer.Option(help="full (about 100 km; default) or small (about 10 km)."),
    ] = None,
    serve_: Annotated[
        bool, typer.Option("--serve", help="Then serve the results over HTTP until stopped.")
    ] = False,
    host: Annotated[str, typer.Option(help="With --serve: address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="With --serve: port.")] = 8000,
    res: Annotated[
        float | None,
        typer.Option(
            "--res",
            help="Pixel size in metres of the demo grid, used by every analysis "
            "(default 90 for full, 30 for small).",
        ),
    ] = None,
    engine: Annotated[
        str | None,
        typer.Option(
            "--engine",
            help="Where the erosion and zoning windows run: local (this process; default) or dask.",
        ),
    ] = None,
    scheduler: SchedulerOpt = None,
) -> None:
    """Build the demo region (Yulin: Mu Us sandy land, loess hills) and run every analysis on it."""
    from geoeco.catalog.demo_region import DEFAULT_DEMO_SIZE
    from geoeco.core.engine import get_engine
    from geoeco.workflows.demo import run_demo
    from geoeco.workflows.demo_cache import adopt_demo_run

    size = size or DEFAULT_DEMO_SIZE
    with (
        output_folder(out) as work,
        get_engine(engine, scheduler=scheduler) as eng,
        progress_bar() as cb,
    ):
        result = run_demo(work, size=size, progress=cb, res=res, engine=eng)
    err.print(
        f"demo written to {out}: layers/, erosion/, desertification/, evaluation/, "
        "wind_erosion/, zones/, series/, trends/, change/"
    )
    _emit_json({**result.as_dict(), "out": str(out)})
    if serve_:
        cache = out / ".service-cache"
        adopt_demo_run(out, cache, size)  # the service answers on this run: no second build
        base = f"http://{host}:{port}"
        _serve(
            host=host,
            port=port,
            data_dir=out / ".service-data",
            cache_dir=cache,
            extra={"query_demo_size": size},
            banner=[
                f"demo map: {base}/maps/demo",
                f"point query: {base}/query/point?lon=109.73&lat=38.28",
            ],
        )


def show_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: Any = None,
    line: str | None = None,
) -> None:
    """Print a warning as one line of the CLI's messages: ``warning: TEXT`` for geoeco's own
    (:class:`~geoeco.core.errors.GeoecoWarning`), ``warning: Category: TEXT`` for others;
    never the source file, line or code that raised it."""
    from geoeco.core.errors import GeoecoWarning

    text = " ".join(str(message).split())
    if not issubclass(category, GeoecoWarning):
        text = f"{category.__name__}: {text}"
    err.print(f"[yellow]warning:[/] {escape(text)}", highlight=False, soft_wrap=True)


@app.command("trend")
def trend(
    stack: Annotated[Path, typer.Option("--stack", help="Folder of yearly rasters.")],
    out: Annotated[Path, typer.Option("--out", help="Output folder.")],
    variable: Annotated[
        list[str] | None, typer.Option("--variable", help="Only this variable (repeatable).")
    ] = None,
    precipitation: Annotated[
        str | None,
        typer.Option(help="Precipitation variable of the folder: RESTREND of NDVI/FVC/NPP."),
    ] = None,
    alpha: Annotated[float, typer.Option(help="Significance level.")] = 0.05,
    variance: Annotated[str, typer.Option(help="original or hamed_rao.")] = "original",
    min_years: Annotated[int, typer.Option(help="Fewer valid years: nodata.")] = 10,
    increase_is: Annotated[
        list[str] | None,
        typer.Option(
            "--increase-is",
            help="VARIABLE=improvement|degradation (default: degradation for erosion/loss).",
        ),
    ] = None,
) -> None:
    """Theil-Sen slope, Mann-Kendall p and trend class (1 improvement, 2 none, 3 degradation)."""
    from geoeco.change.trend import TrendParameters
    from geoeco.workflows.trends import TrendOptions, parse_directions, run_trend

    params = TrendParameters(alpha=alpha, variance=variance, min_years=min_years)  # type: ignore[arg-type]
    opts = TrendOptions(
        params=params,
        increase_is=parse_directions(increase_is or []),
        variables=tuple(variable) if variable else None,
        precipitation=precipitation,
    )
    with output_folder(out) as work, progress_bar() as cb:
        result = run_trend(stack, work, options=opts, progress=cb)
    _emit_json(_short_summary(result.summary(), out))


@app.command("change")
def change(
    from_: Annotated[Path, typer.Option("--from", help="Class raster of the first date.")],
    to: Annotated[Path, typer.Option("--to", help="Class raster of the second date.")],
    out: Annotated[Path, typer.Option("--out", help="Output folder.")],
    table: Annotated[
        str | None, typer.Option(help="Class table of the codes (e.g. SL190-2007/water).")
    ] = None,
    variable: Annotated[
        str | None, typer.Option(help="Name of the outputs (default: from the file name).")
    ] = None,
    units: Annotated[
        Path | None,
        typer.Option(help="Zoning run folder (or units.parquet): per-unit and county tables."),
    ] = None,
    higher_is_better: Annotated[
        bool, typer.Option("--higher-is-better", help="A higher class is an improvement.")
    ] = False,
) -> None:
    """Transition matrix (km²), change map and 'improved by at least one grade' tables."""
    from geoeco.workflows.changes import ChangeOptions, run_change

    opts = ChangeOptions(table=table, variable=variable, higher_is_worse=not higher_is_better)
    with output_folder(out) as work, progress_bar() as cb:
        result = run_change(from_, to, work, options=opts, units=units, progress=cb)
    _emit_json(_short_summary(result.summary(), out))


@app.command("effectiveness")
def effectiveness(
    stack: Annotated[Path, typer.Option("--stack", help="Folder of yearly rasters.")],
    trends: Annotated[Path, typer.Option("--trends", help="Output folder of geoeco trend.")],
    zoning: Annotated[Path, typer.Option("--zoning", help="Zoning run folder (units).")],
    variable: Annotated[str, typer.Option(help="Variable of the stack, e.g. ndvi.")],
    out: Annotated[Path, typer.Option("--out", help="Output folder.")],
    landcover: Annotated[Path | None, typer.Option(help="Land-cover raster to match on.")] = None,
    increase_is_degradation: Annotated[
        bool, typer.Option("--increase-is-degradation", help="E.g. for soil loss.")
    ] = False,
) -> None:
    """Trend inside each control unit and restoration patch vs a matched comparison outside."""
    from geoeco.workflows.effectiveness import EffectOptions, run_effectiveness

    opts = EffectOptions(increase_is_improvement=not increase_is_degradation)
    with output_folder(out) as work:
        result = run_effectiveness(
            stack, trends, zoning, work, variable=variable, landcover=landcover, options=opts
        )
    _emit_json(result.summary())


WindOpt = Annotated[
    str | None, typer.Option(help="A number, or a raster (monthly inputs: 12 bands or 1).")
]


@app.command("wind-erosion")
def wind_erosion(
    out: Annotated[Path, typer.Option("--out", help="Output folder.")],
    landcover: Annotated[
        str | None, typer.Option(help="Land-cover raster (codes; sets the grid). Absent: demo.")
    ] = None,
    wind: Annotated[str | None, typer.Option(help="Monthly mean wind, m/s (12 bands).")] = None,
    temperature: Annotated[str | None, typer.Option(help="Monthly air temperature, °C.")] = None,
    rain: Annotated[str | None, typer.Option(help="Monthly rain, mm.")] = None,
    etp: Annotated[str | None, typer.Option(help="Monthly potential ET, mm.")] = None,
    sand: WindOpt = None,
    silt: WindOpt = None,
    clay: WindOpt = None,
    elevation: Annotated[str | None, typer.Option(help="Elevation, m (air density).")] = None,
    organic_matter: Annotated[str | None, typer.Option(help="Organic matter, %.")] = None,
    organic_carbon: Annotated[str | None, typer.Option(help="Organic carbon, % (×1.724).")] = None,
    calcium_carbonate: Annotated[str | None, typer.Option(help="CaCO3, % ([R] default 0).")] = None,
    roughness_kr: Annotated[str | None, typer.Option(help="Smith–Carson K_r, cm.")] = None,
    fvc: Annotated[str | None, typer.Option(help="Vegetation cover, percent.")] = None,
    ndvi: Annotated[str | None, typer.Option(help="NDVI raster (FVC by dimidiate).")] = None,
    snow_factor: Annotated[str | None, typer.Option(help="Monthly snow factor SD 0..1.")] = None,
    rain_days: Annotated[str | None, typer.Option(help="Monthly rain days.")] = None,
    pressure: Annotated[str | None, typer.Option(help="Monthly pressure, kPa.")] = None,
    wind_height: Annotated[float, typer.Option(help="Height of the wind, m: 10 or 2.")] = 10.0,
    year: Annotated[int, typer.Option(help="Year (days per month).")] = 2021,
    demo_size: Annotated[str, typer.Option(help="Demo size without inputs.")] = "small",
) -> None:
    """Wind erosion by RWEQ (t/(km²·a)): actual, potential, sand fixation, SL 190-2007 grade."""
    from geoeco.workflows.wind import WIND_INPUT_NAMES, wind_erosion_from, wind_inputs

    given = locals()
    texts = {n: given[n] for n in WIND_INPUT_NAMES}
    inputs = wind_inputs(texts, wind_height_m=wind_height, year=year)
    with output_folder(out) as work, progress_bar() as cb:
        result = wind_erosion_from(inputs, work, demo_size=demo_size, progress=cb)
    _emit_json(_short_summary(result.summary(), out))


def _inputs_cache(cache: Path | None, no_cache: bool) -> Path | None:
    """The window cache folder of ``inputs``/``inputs-mirror`` (default: the user cache)."""
    if no_cache:
        return None
    if cache is not None:
        return cache
    import platformdirs

    return Path(platformdirs.user_cache_dir("geoeco")) / "inputs"


class _FetchBar:
    """Shows items and bytes of remote reads in the progress bar's description."""

    def __init__(self, cb: Callable[[str, float], None]) -> None:
        from geoeco.inputs.cache import ProgressTotals

        self.cb, self.totals, self.step, self.fraction = cb, ProgressTotals(), "", 0.0

    def stage(self, step: str, fraction: float) -> None:
        self.step, self.fraction = step, fraction
        self._show()

    def items_planned(self, n: int) -> None:
        self.totals.items_planned(n)

    def item_done(self, item_id: str, nbytes: int, *, cached: bool) -> None:
        self.totals.item_done(item_id, nbytes, cached=cached)
        self._show()

    def _show(self) -> None:
        t = self.totals
        self.cb(
            f"{self.step} — windows {t.done}/{t.planned}, {t.remote_bytes / 1e6:.1f} MB read, "
            f"{t.cached_bytes / 1e6:.1f} MB cached",
            self.fraction,
        )


AoiArg = Annotated[str, typer.Option("--aoi", help="County/city/province code or vector file.")]
YearOpt = Annotated[int, typer.Option(help="Year of vegetation, land cover and climate.")]
InputsResOpt = Annotated[float, typer.Option("--res", help="Pixel size in metres.")]
CacheOpt = Annotated[
    Path | None, typer.Option("--cache", help="Window cache folder (default: user cache).")
]
NoCacheOpt = Annotated[bool, typer.Option("--no-cache", help="Keep no fetched windows.")]


@app.command("inputs")
def inputs(
    aoi: AoiArg,
    out: Annotated[Path, typer.Option("--out", help="Folder to write the inputs into.")],
    year: YearOpt = 2020,
    res: InputsResOpt = 90.0,
    catalog: Annotated[
        str | None,
        typer.Option(help="Read from this mirror (path or URL) instead of the public catalogs."),
    ] = None,
    cache: CacheOpt = None,
    no_cache: NoCacheOpt = False,
    allow_partial: AllowPartialOpt = False,
    ndvi: Annotated[
        str,
        typer.Option(
            "--ndvi",
            help="NDVI source: modis (MOD13Q1, 250 m) or sentinel-2 (L2A, 10 m; areas up to "
            "1,000 km²).",
        ),
    ] = "modis",
) -> None:
    """Build a place's real inputs (DEM, NDVI, NPP, land cover, soil, monthly climate, aridity,
    wind days) from public catalogs, windowed to the area: a folder for `zone --inputs-from`."""
    from geoeco.workflows.build_inputs import build_inputs

    with progress_bar() as cb:
        bar = _FetchBar(cb)
        stack = build_inputs(
            aoi,
            year=year,
            res=res,
            catalog=catalog,
            out=out,
            progress=bar.stage,
            fetch_progress=bar,
            cache=_inputs_cache(cache, no_cache),
            allow_partial=allow_partial,
            ndvi=ndvi,
        )
    err.print(f"inputs written to {out} (status {stack.status}); sources: {out / 'inputs.json'}")
    _emit_json(stack.summary())


@app.command("inputs-mirror")
def inputs_mirror(
    aoi: AoiArg,
    out: Annotated[Path, typer.Option("--out", help="Folder of the mirror (static STAC).")],
    year: YearOpt = 2020,
    res: InputsResOpt = 90.0,
    catalog: Annotated[
        str | None,
        typer.Option(help="Mirror from this mirror (path or URL) instead of the public catalogs."),
    ] = None,
    cache: CacheOpt = None,
    no_cache: NoCacheOpt = False,
) -> None:
    """Mirror what `geoeco inputs` needs for a place into a local static STAC catalog, to build
    inputs offline with `geoeco inputs --catalog MIRROR`."""
    from geoeco.workflows.build_inputs import mirror_inputs

    with progress_bar() as cb:
        bar = _FetchBar(cb)
        report = mirror_inputs(
            aoi,
            year=year,
            res=res,
            out=out,
            catalog=catalog,
            progress=bar.stage,
            fetch_progress=bar,
            cache=_inputs_cache(cache, no_cache),
        )
    err.print(f"mirror written to {out}: geoeco inputs --catalog {out} ...")
    _emit_json(report.summary())


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``geoeco`` console script; geoeco errors exit 2 with a message,
    warnings print as one line each (:func:`show_warning`)."""
    with warnings.catch_warnings():
        warnings.showwarning = show_warning
        return _main(argv)


def _main(argv: list[str] | None) -> int:
    try:
        app(args=argv, standalone_mode=False)
    except GeoecoError as exc:
        # one line, whatever the terminal width; the message is text, not markup
        text = f"[red]error:[/] {type(exc).__name__}: {escape(str(exc))}"
        err.print(text, highlight=False, markup=True, soft_wrap=True)
        return 2
    except typer.Exit as exc:
        return int(exc.exit_code or 0)
    except (typer.Abort, KeyboardInterrupt):
        err.print("aborted")
        return 130
    except Exception as exc:
        # usage errors (typer ships its own copy of click, so test the shape, not the class)
        if hasattr(exc, "show") and hasattr(exc, "exit_code") and hasattr(exc, "format_message"):
            exc.show(file=sys.stderr)
            return 2
        if _state["debug"]:
            raise
        err.print(
            f"[red]internal error[/] (please report; rerun with --debug for details): "
            f"{type(exc).__name__}: {escape(str(exc))}",
            highlight=False,
            soft_wrap=True,
        )
        return 1
    return 0


def run() -> None:
    """Console-script wrapper: exit with :func:`main`'s status."""
    sys.exit(main())


if __name__ == "__main__":  # pragma: no cover
    run()
