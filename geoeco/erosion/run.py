"""Water erosion end to end: RUSLE or CSLE on the DEM's grid, graded by SL 190-2007.

:func:`run_erosion` reads the DEM whole (flow routing needs whole basins; the size limit is
:data:`geoeco.terrain.routing.MAX_ROUTING_PIXELS`), computes LS, then walks the grid window by
window:
each factor is read onto the window (constants, rasters warped with the resampling their kind
calls for, or derived: R from monthly or daily rain, K from texture, C from NDVI or a
land-cover table, P from a table or Wener's formula), multiplied, converted to t/(km²·a) and
graded. One mutual mask covers every input, so a missing input never silently becomes zero.

Outputs in ``out_dir``: ``soil_loss.tif`` (t/(km²·a)), ``erosion_grade.tif`` (SL 190-2007
codes 1..6, 0 = nodata, with the class colours), ``ls.tif`` and ``summary.json``: area in km²
per grade (equal-area), mean and total loss, the class tables, parameters ([R] items listed as
unverified), inputs with checksums, and the engine version. With ``factors`` in the config,
also :data:`FACTOR_OUTPUTS` (what the soil-conservation service of the evaluation reads);
without it, what the windows need of them (R from rain, slope for Wener's P, CSLE's L and S)
is written to a scratch folder inside ``out_dir`` and deleted at the end.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import tempfile
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from geoeco.catalog.classes import Provenance, get_table
from geoeco.core.coverage import Coverage
from geoeco.core.engine import Engine, Window, check_engine, using_engine
from geoeco.core.errors import InvalidInput
from geoeco.core.io import RasterWriter, open_raster_writer, raster_info, read_raster, write_raster
from geoeco.core.provenance import TAG_CLASS_TABLE, derived_tags
from geoeco.core.raster import Grid, Raster
from geoeco.core.tile_store import DirTileStore
from geoeco.core.tile_writes import OutputFile, write_from_tiles
from geoeco.core.windows import (
    equal_area_factor,
    file_digest,
    file_status,
    open_factor,
    output_tags,
    write_json,
)
from geoeco.erosion import factors as factors
from geoeco.erosion import grades as grades
from geoeco.erosion import vegetation as vegetation
from geoeco.erosion.results import ErosionResult
from geoeco.terrain.ls import ls_factor

from .config import (
    ConfigConflict,
    ErosionConfig,
    FactorValue,
    LandcoverTable,
    Texture,
    load_config,
    make_config,
    read_landcover_table,
    record_ls_defaults,
)
from .window import ErosionSpec, WindowResult, _bt_tables, _factor_inputs, erosion_window

Progress = Callable[[str, float], None]

#: Rasters written beside soil_loss.tif, erosion_grade.tif and ls.tif when the config asks for
#: the factors: potential loss R·K·LS and soil conservation (t/(km²·a)), slope (degrees),
#: K, C, P (RUSLE) or K, B, E, T and L, S (CSLE), and R when it is derived from rain.
FACTOR_OUTPUTS = ("potential_loss", "soil_conservation", "slope", "k", "c", "p", "r")


# ----------------------------------------------------------------------------------- R


def _dates_of(path: Path, count: int) -> list[date]:
    names = raster_info(path, name=path.name).band_names
    try:
        return [date.fromisoformat(str(n)) for n in names]
    except (TypeError, ValueError):
        raise InvalidInput(
            f"{path.name}: daily rain needs each band described by its ISO date (YYYY-MM-DD); "
            f"found {names[:2]}..."
        ) from None


def _monthly_rain(path: Path) -> tuple[Raster, np.ndarray]:
    """The monthly rain raster and its values shaped (years, 12, rows, cols) in mm.

    The bands are consecutive months, January first: 12 bands (one year, or long-term
    monthly means) or 12·N bands (N years).
    """
    count = raster_info(path, name=path.name).count
    if count < 12 or count % 12:
        raise InvalidInput(
            f"{path.name}: monthly rain needs 12 bands (January..December) or 12 per year, "
            f"found {count}"
        )
    src = read_raster(path, band=list(range(1, count + 1)), name=path.name)
    values = np.ma.filled(src.array.astype("float64"), np.nan)
    return src, values.reshape(count // 12, 12, *values.shape[1:])


def derive_r(cfg: ErosionConfig, out_dir: Path, used: Provenance) -> FactorValue:
    """R as a number or a raster path; monthly/daily rain is turned into ``out_dir/r.tif``.

    R is computed on the rain grid itself (climate grids are coarse) and then warped onto the
    DEM grid with bilinear resampling like any other continuous factor.
    """
    if cfg.r is not None:
        return cfg.r
    if cfg.r_monthly is not None:
        src, monthly = _monthly_rain(Path(cfg.r_monthly))
        if cfg.r_monthly_method == "fournier":
            r = factors.rain_erosivity_fournier(
                monthly, alpha=cfg.fournier_alpha, beta=cfg.fournier_beta, used=used
            )
        else:
            r = factors.rain_erosivity_wischmeier(monthly, used=used)
        grid = src.grid
    else:
        assert cfg.r_daily is not None
        p = Path(cfg.r_daily)
        info = raster_info(p, name=p.name)
        dates = _dates_of(p, info.count)
        src = read_raster(p, band=list(range(1, info.count + 1)), name=p.name)
        r = factors.rain_erosivity_daily(
            np.ma.filled(src.array.astype("float64"), np.nan), dates, used=used
        )
        grid = src.grid
    dest = out_dir / "r.tif"
    rain = Path(cfg.r_monthly or cfg.r_daily or "")
    write_raster(
        Raster.from_array(np.asarray(r, dtype="float32"), grid, units="MJ·mm/(hm²·h·a)"),
        dest,
        tags=derived_tags("erosion: R from rain", {"rain": file_status(rain)}),
    )
    return str(dest)


# ------------------------------------------------------------------------ the kernel


# ------------------------------------------------------------------------------ the run


def _window_to_store(
    args: tuple[ErosionSpec, DirTileStore], item: tuple[int, Window]
) -> WindowResult:
    """:func:`erosion_window` whose arrays go to the shared store (key ``ero_<name>``,
    index = window number) instead of back to the driver: the task of a cluster engine."""
    spec, store = args
    t, win = item
    res = erosion_window(spec, win)
    for name, values in res.arrays.items():
        store.put("ero_" + name, t, values)
    return dataclasses.replace(res, arrays={})


@contextlib.contextmanager
def _scratch(out: Path) -> Iterator[str]:
    """A temporary folder in the output folder (workers see it), deleted at the end."""
    with tempfile.TemporaryDirectory(prefix=".geoeco-windows-", dir=out) as tmp:
        yield tmp


def run_erosion(
    dem: str | Path,
    cfg: ErosionConfig,
    out_dir: str | Path,
    *,
    progress: Progress | None = None,
    tile_pixels: int = 25_000_000,
    engine: Engine | str | None = None,
) -> ErosionResult:
    """Compute soil loss and its SL 190-2007 grade; write the rasters and ``summary.json``.

    Flow routing and LS run here (whole DEM, or basin tiles above ``tile_pixels``); the
    window algebra (:func:`erosion_window`) runs on ``engine`` (a
    :class:`~geoeco.core.engine.Engine`,
    ``"local"`` (default) or ``"dask"``, see :func:`geoeco.core.engine.get_engine`). Locally this
    process writes the output COGs as results arrive; on a cluster the window tasks leave
    their arrays in a scratch folder inside ``out_dir`` (which the workers must see) and one
    task per output file writes it. This process adds up the summary. Every
    engine gives identical rasters and summaries. An engine made here from a name is closed
    at the end; an Engine passed in is left open for reuse.

    Returns the figures and records as an :class:`~geoeco.erosion.results.ErosionResult`,
    whose :meth:`~geoeco.erosion.results.ErosionResult.summary` is ``out_dir/summary.json``.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with _scratch(out) as scratch, ThreadPoolExecutor(os.cpu_count() or 1) as pool:
        run = _Run(out, Path(scratch), pool, tile_pixels)
        return _run(Path(dem), cfg, run, progress, engine)


@dataclass
class _Run:
    """Where a run writes: the output folder, a scratch folder inside it (what the windows
    read and nobody asked for), and the threads that write whole rasters as COGs while the
    run goes on (GDAL compresses without holding the GIL). ``pending``: those writes."""

    out: Path
    scratch: Path
    pool: ThreadPoolExecutor
    tile_pixels: int
    pending: list[Future[Path]] = field(default_factory=list)

    def write_cog(self, raster: Raster, name: str, **options: Any) -> None:
        """Write ``raster`` to ``out/<name>.tif`` as a COG in a thread."""
        self.pending.append(
            self.pool.submit(write_raster, raster, self.out / f"{name}.tif", **options)
        )

    def finish(self) -> None:
        """Wait for every write; raise the first failure."""
        for f in self.pending:
            f.result()


def _run(
    dem_path: Path,
    cfg: ErosionConfig,
    run: _Run,
    progress: Progress | None,
    engine: Engine | str | None,
) -> ErosionResult:
    """:func:`run_erosion` with its folders and writer threads (:class:`_Run`)."""
    out, scratch = run.out, run.scratch
    step = progress or (lambda s, f: None)
    used = Provenance()
    grid, dem_record = _checked_dem(dem_path, cfg, engine)
    inputs: dict[str, Any] = {"dem": dem_record}
    step("flow routing and LS", 0.05)
    ls_files, ls_params = _ls_to_files(
        dem_path, cfg, run, _ls_paths(cfg, out, scratch), output_tags("erosion: LS", inputs)
    )
    record_ls_defaults(cfg, ls_params, used)
    step("rainfall erosivity", 0.35)
    r_value = derive_r(cfg, out if cfg.factors else scratch, used)
    lc_tables = read_landcover_table(cfg.landcover_table) if cfg.landcover_table else {}
    if cfg.fvc is not None:  # percent or fraction: told once over the whole raster
        vegetation.check_cover_file(cfg.fvc, what=f"FVC input {Path(cfg.fvc).name}")
    fvc_ends = _fvc_endpoints(cfg, used)
    used.add_param(
        "tolerable_loss",
        cfg.tolerable_loss,
        tag="V",
        source="SL 190-2007 (200 for the northern arid/semi-arid area)",
    )
    spec = ErosionSpec(
        cfg=cfg,
        grid=grid,
        r=r_value,
        ls_files=tuple((n, str(p)) for n, p in ls_files.items()),
        lc_tables=lc_tables,
        fvc_ends=fvc_ends,
        bt_tables=_bt_tables(cfg),
    )
    _record_inputs(spec, inputs)
    with using_engine(engine) as eng:
        step("soil loss by window", 0.4)
        tags = output_tags("erosion", inputs)
        whole = run.tile_pixels >= grid.width * grid.height
        totals, compute = _compute_windows(eng, spec, run if whole else out, used, step, tags)
    run.finish()
    result = _result(spec, out, totals, compute, ls_params, inputs, used)
    write_json(result.summary(), out / "summary.json")
    step("done", 1.0)
    return result


def _checked_dem(
    dem_path: Path, cfg: ErosionConfig, engine: Engine | str | None
) -> tuple[Grid, dict[str, str]]:
    """The DEM's grid and its input record; refuse an engine that is none or a DEM that is
    not a checked file on a projected grid in metres."""
    from geoeco.core.inspect import inspect_layer_file

    dinfo = raster_info(dem_path, name=dem_path.name)
    stated = float("nan") if dinfo.nodata is None and dinfo.dtype.startswith("float") else None
    rep = inspect_layer_file(dem_path, allow_outside_china=cfg.allow_outside_china, nodata=stated)
    check_engine(engine)
    if dinfo.grid is None or not dinfo.grid.crs.is_projected:
        raise InvalidInput(
            f"{dem_path.name}: the DEM must be on a projected grid in metres "
            f"(found {rep.crs}); reproject it first"
        )
    return dinfo.grid, {
        "file": dem_path.name,
        "crs": rep.crs,
        "sha256": file_digest(dem_path),
        "status": file_status(dem_path),
    }


def _fvc_endpoints(cfg: ErosionConfig, used: Provenance) -> tuple[float, float] | None:
    """NDVI of bare soil and full cover (given, or 5 % / 95 % over the NDVI raster), recorded;
    None without NDVI."""
    if cfg.ndvi is None:
        return None
    fvc_ends = cfg.ndvi_endpoints or _ndvi_endpoints_of(Path(cfg.ndvi), used)
    used.add_param(
        "fvc.ndvi_soil",
        fvc_ends[0],
        tag="V",
        source="5 % cumulative NDVI (reference extent: the NDVI raster)"
        if cfg.ndvi_endpoints is None
        else "given",
    )
    used.add_param(
        "fvc.ndvi_veg",
        fvc_ends[1],
        tag="V",
        source="95 % cumulative NDVI" if cfg.ndvi_endpoints is None else "given",
    )
    return fvc_ends


def _record_inputs(spec: ErosionSpec, inputs: dict[str, Any]) -> None:
    """Validate every factor input once and record it in ``inputs`` (workers open them
    without re-checking)."""
    for value, name, resampling in _factor_inputs(spec):
        with open_factor(
            value,
            spec.grid,
            name=name,
            resampling=resampling,
            allow_outside_china=spec.cfg.allow_outside_china,
            inputs=inputs,
        ):
            pass


def _ls_paths(cfg: ErosionConfig, out: Path, scratch: Path) -> dict[str, Path]:
    """The LS rasters to write (name -> path): those asked for in ``out``, those only the
    windows read (slope for Wener's P, CSLE's L and S) in ``scratch``.

    >>> cfg = make_config({"r": 1.0, "k": 0.1, "c": 0.1, "p_method": "wener",
    ...                    "landcover": "lc.tif"})
    >>> {n: p.parent.name for n, p in _ls_paths(cfg, Path("o"), Path("tmp")).items()}
    {'ls': 'o', 'slope': 'tmp'}
    """
    csle = ("l", "s") if cfg.model == "csle" else ()
    if cfg.factors:
        return {n: out / f"{n}.tif" for n in ("ls", "slope", *csle)}
    paths = {"ls": out / "ls.tif"}
    needed = (*(("slope",) if cfg.p_method == "wener" else ()), *csle)
    return paths | {n: scratch / f"{n}.tif" for n in needed}


def _factor_units(cfg: ErosionConfig) -> dict[str, str]:
    """The factors written beside the soil loss, with their units."""
    factor_units = {"k": "t·hm²·h/(hm²·MJ·mm)", "c": "1", "p": "1"}
    if cfg.model == "csle":
        factor_units = {"k": factor_units["k"], "b": "1", "e": "1", "t": "1"}
    return factor_units


def _output_files(cfg: ErosionConfig, tags: dict[str, str]) -> dict[str, dict[str, Any]]:
    """The outputs and their writer options (``tags``: status and lineage); the factors too,
    for checking and for the soil-conservation service."""
    table = get_table("SL190-2007/water")
    grade_tags = {**tags, TAG_CLASS_TABLE: f"{table.name} ({table.version})"}
    factor_files: dict[str, dict[str, Any]] = {
        "potential_loss": {"units": "t/(km²·a)", "tags": tags},
        "soil_conservation": {"units": "t/(km²·a)", "tags": tags},
        **{n: {"units": u, "tags": tags} for n, u in _factor_units(cfg).items()},
    }
    return {
        "soil_loss": {"dtype": "float32", "units": "t/(km²·a)", "tags": tags},
        **(factor_files if cfg.factors else {}),
        "erosion_grade": {
            "dtype": "uint8",
            "nodata": 0,
            "colormap": table.colormap(),
            "categories": table.category_names(),
            "tags": {**grade_tags, "class_table": grade_tags[TAG_CLASS_TABLE]},
        },
    }


@dataclass
class _Totals:
    """Sums over the windows: the grade histogram (index = grade code) and the soil loss and
    potential loss (t/(km²·a), summed over valid pixels)."""

    counts: np.ndarray
    loss_sum: float = 0.0
    pot_sum: float = 0.0
    dem_valid: int = 0
    missing: dict[str, int] = field(default_factory=dict)

    def add(self, res: WindowResult, used: Provenance) -> None:
        """Add one window's sums, and the tables and parameters it used to ``used``."""
        self.counts += res.counts
        self.loss_sum += res.loss_sum
        self.pot_sum += res.pot_sum
        self.dem_valid += res.dem_valid
        for k, v in res.missing.items():
            self.missing[k] = self.missing.get(k, 0) + v
        used.tables.update(res.tables)
        used.parameters.update(res.parameters)


class _Held:
    """An output raster held whole in memory, filled window by window (nodata filled in as
    a writer would)."""

    def __init__(self, grid: Grid, dtype: str, nodata: float) -> None:
        self.array = np.empty(grid.shape, dtype=dtype)
        self.nodata = nodata

    def write(self, window: Window, values: np.ndarray) -> None:
        """Put ``values`` (masked or plain) at ``(row_off, col_off, height, width)``."""
        r, c, h, w = window
        filled = np.ma.filled(np.ma.asarray(values).astype(self.array.dtype), self.nodata)
        self.array[r : r + h, c : c + w] = filled


def _held(grid: Grid, files: dict[str, dict[str, Any]]) -> dict[str, _Held]:
    """An in-memory output per file (the nodata a writer would choose)."""
    out = {}
    for n, kw in files.items():
        dtype = kw.get("dtype", "float32")
        default = 0 if np.dtype(dtype).kind == "u" else float("nan")
        out[n] = _Held(grid, dtype, kw.get("nodata", default))
    return out


def _write_held(
    run: _Run, grid: Grid, files: dict[str, dict[str, Any]], held: dict[str, _Held]
) -> None:
    """Write the held outputs as COGs, each in a thread."""
    for n, kw in files.items():
        h = held[n]
        raster = Raster(np.ma.asarray(h.array), grid, units=kw.get("units"))
        opts = {k: v for k, v in kw.items() if k not in ("units", "dtype", "nodata")}
        run.write_cog(raster, n, nodata=h.nodata, dtype=str(h.array.dtype), **opts)


def _compute_windows(
    eng: Engine,
    spec: ErosionSpec,
    target: _Run | Path,
    used: Provenance,
    step: Progress,
    tags: dict[str, str],
) -> tuple[_Totals, dict[str, Any]]:
    """Run :func:`erosion_window` over the grid on ``eng``, write the output COGs (with
    ``tags``), add up the sums; return them and the description of the computation.

    ``target`` is the output folder, or for a DEM routed whole the run (:class:`_Run`): then
    the local engine's outputs are held in memory and written in threads at the end."""
    out = target.out if isinstance(target, _Run) else target
    files = _output_files(spec.cfg, tags)
    windows = list(spec.grid.blocks(spec.cfg.block_size))
    totals = _Totals(np.zeros(len(get_table("SL190-2007/water").classes) + 1, dtype=np.int64))
    on_workers = eng.name != "local"
    with contextlib.ExitStack() as stack:
        writers: dict[str, RasterWriter | _Held] = {}
        results: Iterator[tuple[Window, WindowResult]]
        if on_workers:  # windows leave their outputs in a shared folder; a task per file
            store = DirTileStore(stack.enter_context(_scratch(out)))
            tasks = eng.map_windows(_window_to_store, list(enumerate(windows)), (spec, store))
            results = ((item[1], res) for item, res in tasks)
        elif isinstance(target, _Run):
            writers = dict(_held(spec.grid, files))
            results = eng.map_windows(erosion_window, windows, spec)
        else:
            writers = {
                n: stack.enter_context(open_raster_writer(out / f"{n}.tif", spec.grid, **kw))
                for n, kw in files.items()
            }
            results = eng.map_windows(erosion_window, windows, spec)
        for i, (win, res) in enumerate(results):
            for name, values in res.arrays.items():
                w = writers[name]
                w.write(win, values if name == "erosion_grade" else np.ma.masked_invalid(values))
            totals.add(res, used)
            step("soil loss by window", 0.4 + 0.5 * (i + 1) / len(windows))
        compute = {**eng.describe(), "windows": len(windows), "window_px": spec.cfg.block_size}
        if isinstance(target, _Run) and not on_workers:
            _write_held(
                target, spec.grid, files, {n: w for n, w in writers.items() if isinstance(w, _Held)}
            )
        if on_workers:
            step("writing the COGs", 0.9)
            jobs = [
                OutputFile(
                    "ero_" + n,
                    str(out / f"{n}.tif"),
                    spec.grid,
                    tuple(windows),
                    kw,
                    n != "erosion_grade",
                )
                for n, kw in files.items()
            ]
            list(eng.map_windows(write_from_tiles, jobs, store, ordered=False))
            compute["writes"] = eng.name
    return totals, compute


def _result(
    spec: ErosionSpec,
    out: Path,
    totals: _Totals,
    compute: dict[str, Any],
    ls_params: dict[str, Any],
    inputs: dict[str, Any],
    used: Provenance,
) -> ErosionResult:
    """The run's figures (equal-area km², means over the valid pixels) and records."""
    cfg, grid, counts = spec.cfg, spec.grid, totals.counts
    table = get_table("SL190-2007/water")
    px_km2 = grid.cell_area / 1e6 * equal_area_factor(grid)
    n_valid = int(counts[1:].sum())
    loss_sum, pot_sum = totals.loss_sum, totals.pot_sum
    r_file = ["r.tif"] if cfg.factors and cfg.r is None else []
    ls_files = [f"{n}.tif" for n in _ls_paths(cfg, out, out) if n != "ls" and cfg.factors]
    return ErosionResult(
        out_dir=out,
        model=cfg.model,
        grid=grid,
        compute=compute,
        area_km2_by_grade={
            f"{c.code} {c.name_zh} {c.name_en}": float(counts[c.code]) * px_km2
            for c in table.classes
        },
        area_km2_total=n_valid * px_km2,
        nodata_pixels=int(counts[0]),
        mean_soil_loss_t_km2_a=loss_sum / n_valid if n_valid else None,
        mean_potential_loss_t_km2_a=pot_sum / n_valid if n_valid else None,
        total_soil_conservation_t_a=(pot_sum - loss_sum) * px_km2,
        total_soil_loss_t_a=loss_sum * px_km2,
        coverage=Coverage.of(
            aoi_px=totals.dem_valid,
            analysed_px=n_valid,
            px_km2=px_km2,
            missing_px=totals.missing,
            basis="DEM's valid area",
        ),
        ls=ls_params,
        config=cfg.model_dump(mode="json", exclude=set(_INPUT_FIELDS)),
        inputs=inputs,
        provenance={**used.to_dict(), "class_tables": {table.name: table.describe()}},
        outputs=(
            "soil_loss.tif",
            "erosion_grade.tif",
            *(("potential_loss.tif", "soil_conservation.tif") if cfg.factors else ()),
            "ls.tif",
            *ls_files,
            *(f"{n}.tif" for n in _factor_units(cfg) if cfg.factors),
            *r_file,
        ),
    )


#: Config fields left out of the summary's ``config`` (inputs: recorded under ``inputs``).
_INPUT_FIELDS = (
    "r",
    "k",
    "c",
    "p",
    "r_monthly",
    "r_daily",
    "ndvi",
    "landcover",
    "erosion_regions",
    "texture",
    "landcover_table",
    "factors",  # which files are written: the summary's ``outputs`` lists them
)


def _ls_to_files(
    dem_path: Path,
    cfg: ErosionConfig,
    run: _Run,
    paths: dict[str, Path],
    tags: dict[str, str],
) -> tuple[dict[str, Path], dict[str, Any]]:
    """Write LS and its parts to ``paths`` (name -> path: COGs in the output folder, plain
    GeoTIFFs in the scratch folder); return where the windows read them and the LS parameters.

    Routed whole, the COGs are written in threads while the run goes on, and the windows read
    uncompressed copies in the scratch folder.

    A DEM up to ``tile_pixels`` is routed whole; a larger one basin by basin
    (:func:`geoeco.terrain.ls_tiled.ls_factor_tiled`: memory follows the largest tile, and tiles
    that follow true divides give the whole-DEM result).
    """
    info = raster_info(dem_path, name=dem_path.name)
    assert info.grid is not None  # run_erosion checked the DEM's grid
    settings: dict[str, Any] = {
        "method": cfg.ls_method,
        "routing": cfg.routing,
        "s_breaks": cfg.s_breaks,
        "channel_threshold_cells": cfg.channel_threshold_cells,
        "l_max": cfg.l_max,
        "cutoff": cfg.cutoff,
        "exclude_streams": cfg.exclude_streams,
        "max_slope_length": cfg.max_slope_length,
    }  # the same LS settings for the whole DEM and basin by basin
    if info.grid.width * info.grid.height > run.tile_pixels:
        from geoeco.terrain.ls_tiled import ls_factor_tiled

        out = paths["ls"].parent
        res = ls_factor_tiled(
            dem_path,
            out,
            outputs=tuple(paths),
            budget_pixels=run.tile_pixels,
            name=dem_path.name,
            **settings,
        )
        for n, p in paths.items():  # the parts not asked for go to the scratch folder
            if p.parent != out:
                os.replace(out / f"{n}.tif", p)
        return paths, dict(res.params)
    ls = ls_factor(read_raster(dem_path, name=dem_path.name, units="m"), **settings)
    parts = {
        "ls": ls.ls,
        "slope": ls.slope_deg.with_array(ls.slope_deg.array, units="degree"),
        "l": ls.l,
        "s": ls.s,
    }
    for n, p in paths.items():
        if p.parent == run.out:
            run.write_cog(parts[n], n, tags=tags)
    read = {n: run.scratch / f"{n}.tif" for n in paths}
    for n, p in read.items():
        write_raster(parts[n], p, cog=False, compress="none")
    return read, dict(ls.params)


def check_landcover_codes(cfg: ErosionConfig, codes: Sequence[int]) -> None:
    """Raise what a run raises on land-cover pixels with these ``codes`` (no raster is read).

    The per-code lookups of the run (CSLE B and T, C and P from the land-cover table) are
    applied to the codes themselves, so a code missing from a table fails here, before a run.

    >>> cfg = make_config({"r": 1.0, "k": 0.1, "ndvi": "n.tif", "landcover": "l.tif",
    ...                    "model": "csle"})
    >>> check_landcover_codes(cfg, [11, 21])
    >>> check_landcover_codes(cfg, [1, 2])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    geoeco.core.errors.InvalidInput: land-use codes [1, 2] have no entry in the table (known: ...
    """
    lc = np.asarray(sorted({int(c) for c in codes}), dtype="int32")
    if lc.size == 0:
        return
    tables = read_landcover_table(cfg.landcover_table) if cfg.landcover_table else {}
    used = Provenance()
    if cfg.model == "csle":
        fvc = np.full(lc.shape, 50.0)
        factors.csle_bet(lc, fvc=fvc, e=cfg.e, used=used, **_bt_tables(cfg))
    elif cfg.c_method == "table":
        factors.c_from_table(lc, tables["c"], used=used)
    if cfg.p_method == "table":
        factors.p_from_table(lc, tables["p"], used=used)


def _ndvi_endpoints_of(path: Path, used: Provenance) -> tuple[float, float]:
    """NDVI 5 % / 95 % points over the whole NDVI raster (its own grid = reference extent)."""
    from geoeco.core.io import read_window_blocks

    blocks = (
        np.ma.filled(r.array.astype("float64"), np.nan)
        for _, r in read_window_blocks(path, name=path.name)
    )
    return vegetation.ndvi_endpoints(blocks, used=used)


__all__ = [
    "ConfigConflict",
    "ErosionConfig",
    "LandcoverTable",
    "check_landcover_codes",
    "Texture",
    "load_config",
    "make_config",
    "FACTOR_OUTPUTS",
    "run_erosion",
    "ErosionSpec",
    "WindowResult",
    "erosion_window",
]
