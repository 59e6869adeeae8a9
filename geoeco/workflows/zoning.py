"""Ecological control zoning end to end: AOI → aligned inputs → zones → units → outputs.

:func:`run_zoning` is what ``geoeco zone`` and the API call. Its steps, each a function here:

1. :func:`plan_zoning`: check the options (:class:`ZoningOptions`), load the rule sets,
   resolve the area of interest once (:func:`geoeco.zoning.aoi.resolve_aoi`: a
   county/city/province code, a vector file, a geometry; without one the demo region,
   :func:`geoeco.workflows.demo_inputs.demo_aoi`), lay an equal-area grid (``ALBERS_CHINA``)
   over it and find its counties;
2. :func:`classify`: bind every input of the rule set
   (:func:`geoeco.workflows.zoning_inputs.bind_inputs`: class rasters warped onto the grid
   with nearest-neighbour resampling, polygon masks, each with the status of its layer) and
   classify zones and the red line window by window
   (:func:`geoeco.zoning.overlay.run.compute_zones`), in this process or on a Dask cluster
   (``engine``, see :mod:`geoeco.core.engine`); read the unit drivers;
3. :func:`control_units`: control units per county
   (:func:`geoeco.zoning.units.build.build_units`) with access lists;
4. :func:`statistics`: areas by county × class × erosion grade × desertification degree;
5. :func:`restoration`: restoration priorities inside key control units, under a budget;
6. :func:`write_outputs`: the files (:mod:`geoeco.workflows.zoning_outputs`), the map;
7. the :class:`ZoningRunResult`, also written as ``summary.json``.

Everything that can be checked is checked before heavy work: the options, unknown rule
inputs, missing raster inputs (named in the message), an empty area, layers that do not
overlap.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, get_args

import numpy as np

from geoeco.catalog.layers import LayerRegistry
from geoeco.core.coverage import DEFAULT_MIN_COVERAGE, Coverage, check_coverage, check_min_coverage
from geoeco.core.engine import Engine, check_engine, using_engine
from geoeco.core.errors import InvalidInput
from geoeco.core.raster import Grid, Raster
from geoeco.core.windows import engine_info, write_json
from geoeco.restoration.run import RestorationResult
from geoeco.zoning.aoi import AOI, AoiSource, analysis_grid, resolve_aoi
from geoeco.zoning.overlay.outputs import ZoningSummary
from geoeco.zoning.overlay.run import ZoningResult as ZonesResult
from geoeco.zoning.overlay.run import compute_zones
from geoeco.zoning.rules import RuleSet, load_rule_set

from .demo_inputs import demo_aoi
from .progress import Progress, no_progress
from .zoning_inputs import (
    bind_inputs,
    counties_for,
    flag_drivers,
    on_grid,
    read_on_grid,
)
from .zoning_outputs import (
    COMPARISON_OUTPUTS,
    RASTER_OUTPUTS,
    TABLE_OUTPUTS,
    compare_zones,
    geopackage_layers,
    write_comparison,
    write_rasters,
    write_vectors_and_tables,
    write_web_map,
)

SxydCrs = Literal["cgcs2000", "gk"]
SxydFormat = Literal["gpkg", "shp"]
#: CRSs of the 三线一单 export: CGCS2000 lon-lat, or the 3-degree Gauss-Krüger zone.
SXYD_CRS: tuple[SxydCrs, ...] = get_args(SxydCrs)
#: Formats of the 三线一单 export: GeoPackage (full texts) or Shapefile (with .cpg).
SXYD_FORMATS: tuple[SxydFormat, ...] = get_args(SxydFormat)
#: The rule set a run uses when none is given.
DEFAULT_RULES = "default"
#: Grid resolution in metres of a run given none (the demo region's runs take the demo
#: grid's, :func:`geoeco.workflows.demo_inputs.demo_resolution`).
DEFAULT_RES = 90.0
#: Grids above this many pixels build their control units in county batches of at most this
#: size (identical units). Whole-grid units cost about 55 B/px: 600 MB on the 30 m demo
#: (11 Mpx), which took the whole demo chain there to 1.6-2.1 GB peak RSS.
UNIT_BATCH_PIXELS = 4_000_000


@dataclass(frozen=True)
class ZoningOptions:
    """The options of a zoning run besides its area, inputs and rule sets, checked once.

    >>> ZoningOptions(sxyd_format="kml")
    Traceback (most recent call last):
    ...
    geoeco.core.errors.InvalidInput: 三线一单 export format must be gpkg or shp, got 'kml'
    """

    res: float = DEFAULT_RES
    budget_km2: float | None = None
    min_unit_km2: float = 0.1
    simplify_m: float | None = None
    sxyd_crs: str = "cgcs2000"
    sxyd_format: str = "gpkg"
    write_map: bool = True
    #: Restoration coverage targets: need id -> share of its candidate area (see prioritise).
    restoration_targets: Mapping[str, float] | None = None
    allow_partial: bool = False
    min_coverage: float = DEFAULT_MIN_COVERAGE

    def __post_init__(self) -> None:
        check_min_coverage(self.min_coverage)
        if self.sxyd_format not in SXYD_FORMATS:
            raise InvalidInput(
                f"三线一单 export format must be {' or '.join(SXYD_FORMATS)}, "
                f"got {self.sxyd_format!r}"
            )
        if self.sxyd_crs not in SXYD_CRS:
            raise InvalidInput(
                f"三线一单 export CRS must be {' or '.join(SXYD_CRS)}, got {self.sxyd_crs!r}"
            )

    @property
    def sxyd_name(self) -> str:
        """File name of the 三线一单 export."""
        return f"units_sxyd.{self.sxyd_format}"


@dataclass(frozen=True)
class ZoningPlan:
    """What a run is about to do, settled before any heavy work (:func:`plan_zoning`)."""

    rules: RuleSet
    compare: RuleSet | None
    area: AOI
    grid: Grid
    counties: Any  # GeoDataFrame of the counties overlapping the area (EPSG:4490)
    rule_inputs: dict[str, Any]
    extra_inputs: dict[str, Any]
    options: ZoningOptions


@dataclass(frozen=True)
class Zones:
    """The classified zones (:func:`classify`): the rule set's, the comparison's, and the
    rasters the units, statistics and restoration read."""

    zone_class: Raster
    redline: Raster
    flags: Raster
    summary: ZoningSummary
    compare: ZonesResult | None
    drivers: dict[str, Raster]
    restoration_inputs: dict[str, Raster]
    #: The overlay's zone classes before sliver merging (set by :func:`settle_zones`); the
    #: comparison with a second rule set compares overlay with overlay.
    overlay_zone_class: Raster | None = None


@dataclass(frozen=True)
class UnitCounts:
    """How many control units a run made, by class."""

    count: int
    by_class: dict[str, int]
    min_area_km2: float


@dataclass(frozen=True)
class Comparison:
    """The zones of a second rule set on the same inputs, and the transitions in km²."""

    rules_b: str
    rules_b_sha256: str
    area_km2_by_class_b: Any
    transitions_km2: list[dict[str, Any]]


@dataclass(frozen=True)
class RunSources:
    """Where a run's inputs came from, for its summary and map: the raw inputs folder and
    the analyses run on it (``inputs_from``, :meth:`geoeco.workflows.analyses.Analyses.summary`)
    and the data sources and licences (``attribution``: the ``sources`` of ``inputs.json``)."""

    inputs_from: dict[str, Any] | None = None
    attribution: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True)
class ZoningRunResult:
    """What :func:`run_zoning` returns; :meth:`summary` is the content of ``summary.json``."""

    out_dir: Path
    area: AOI
    res_m: float
    grid_shape: tuple[int, int]
    rule_set: dict[str, str]
    zones: dict[str, Any]
    compute: dict[str, Any] | None
    units: UnitCounts
    class_totals_km2: dict[str, float]
    restoration: dict[str, Any]
    comparison: Comparison | None
    approximation_layers: list[str]
    synthetic_layers: list[str]
    map: str
    outputs: list[str] = field(default_factory=list)
    coverage: Coverage | None = None
    sources: RunSources = field(default_factory=RunSources)

    def summary(self) -> dict[str, Any]:
        """The run's summary (``summary.json``), plain JSON values: ``coverage_share`` and
        ``coverage_missing_km2`` at the top (:mod:`geoeco.core.coverage`)."""
        cov = self.coverage
        return {
            "kind": "zoning",
            **({} if cov is None else cov.leaves()),
            "coverage": None if cov is None else cov.summary(),
            "engine": engine_info(),
            "compute": self.compute,
            "aoi": self.area.summary(),
            "grid": {
                "crs": "ALBERS_CHINA (CGCS2000, 25N/47N, 105E)",
                "res_m": self.res_m,
                "shape": list(self.grid_shape),
            },
            "rule_set": dict(self.rule_set),
            "zones": self.zones,
            "units": {
                "count": self.units.count,
                "by_class": dict(self.units.by_class),
                "min_area_km2": self.units.min_area_km2,
            },
            "class_totals_km2": dict(self.class_totals_km2),
            "restoration": self.restoration,
            "comparison": None if self.comparison is None else vars(self.comparison).copy(),
            "approximation_layers": list(self.approximation_layers),
            "synthetic_layers": list(self.synthetic_layers),
            "map": self.map,
            "outputs": list(self.outputs),
            "inputs_from": self.sources.inputs_from,
            "attribution": [dict(a) for a in self.sources.attribution],
        }


def zoning_area(aoi: AoiSource | AOI | None, *, demo_size: str = "full") -> AOI:
    """The run's area of interest: ``aoi`` resolved once, or the demo region's when ``None``."""
    return demo_aoi(demo_size) if aoi is None else resolve_aoi(aoi)


def plan_zoning(
    aoi: AoiSource | AOI | None,
    rules: str | Path | RuleSet,
    compare: str | Path | RuleSet | None,
    inputs: Mapping[str, Any] | None,
    options: ZoningOptions,
    *,
    demo_size: str = "full",
) -> ZoningPlan:
    """Step 1: rule sets, area, grid and counties, and the inputs split into the rule set's
    and the extra ones (unit attributes, restoration); nothing is written."""
    rs = load_rule_set(rules)
    area = zoning_area(aoi, demo_size=demo_size)
    given = dict(inputs or {})
    return ZoningPlan(
        rules=rs,
        compare=load_rule_set(compare) if compare is not None else None,
        area=area,
        grid=analysis_grid(area, options.res),
        counties=counties_for(area),
        rule_inputs={k: v for k, v in given.items() if k in rs.inputs},
        extra_inputs={k: v for k, v in given.items() if k not in rs.inputs},
        options=options,
    )


def _rasters(res: ZonesResult) -> tuple[Raster, Raster, Raster]:
    """The overlay's outputs as Rasters (they are, without ``out_dir``)."""
    zc, red, flags = res.zone_class, res.redline, res.flags
    if not (isinstance(zc, Raster) and isinstance(red, Raster) and isinstance(flags, Raster)):
        raise TypeError("compute_zones wrote files; run_zoning asks for Rasters")
    return zc, red, flags


def _drivers(
    layers: Mapping[str, Any], grid: Grid, extra: Mapping[str, Raster]
) -> dict[str, Raster]:
    """Unit drivers read from the bound inputs: erosion grade, desertification, parks, loss."""
    out: dict[str, Raster] = {}
    for key, name in (
        ("erosion_grade", "erosion_grade"),
        ("desertification_degree", "desertification"),
        ("national_parks", "park"),
    ):
        r = on_grid(layers[key], grid) if key in layers else None
        if r is not None:
            out[name] = r
    if "soil_loss" in extra:
        out["soil_loss"] = extra["soil_loss"]
    return out


def _restoration_inputs(
    layers: Mapping[str, Any], grid: Grid, extra: Mapping[str, Raster], drivers: dict[str, Raster]
) -> dict[str, Raster]:
    """The scored inputs of the restoration priorities besides the zones (sensitivities,
    erosion, desertification, importance and cover when both are given)."""
    out: dict[str, Raster] = {}
    for src_name, dst_name in (
        ("erosion_grade", "erosion"),
        ("desertification", "desertification"),
    ):
        if src_name in drivers:
            out[dst_name] = drivers[src_name]
    for key, name in (
        ("sensitivity_sanding", "sanding_sensitivity"),
        ("sensitivity_soil_erosion", "water_sensitivity"),
    ):
        r = on_grid(layers[key], grid) if key in layers else None
        if r is not None:
            out[name] = r
    if "importance_max" in extra and "fvc" in extra:
        out["importance"] = extra["importance_max"]
        out["fvc"] = extra["fvc"]
    return out


def classify(
    plan: ZoningPlan,
    out: Path,
    engine: Engine,
    *,
    registry: LayerRegistry | None,
    cache_dir: Path | None,
    statuses: Mapping[str, str] | None,
    step: Progress,
) -> Zones:
    """Step 2: bind the inputs, classify zones and red line (and the comparison's zones) on
    ``engine``, and read the drivers units and restoration need."""
    layers = bind_inputs(
        plan.rules,
        plan.grid,
        given=plan.rule_inputs,
        registry=registry,
        cache_dir=cache_dir,
        statuses=statuses,
    )
    step("zones and red line", 0.1)
    aoi, grid = plan.area, plan.grid
    # tiles spill into ``out`` (workers see it; a killed run leaves them only there)
    zres = compute_zones(plan.rules, layers, grid, aoi=aoi, engine=engine, scratch_dir=out)
    zres_b = None
    if plan.compare is not None:
        zres_b = compute_zones(plan.compare, layers, grid, aoi=aoi, engine=engine, scratch_dir=out)
    step("reading drivers", 0.4)
    extra: dict[str, Raster] = {}
    for k, v in plan.extra_inputs.items():
        r = read_on_grid(v, grid)
        if r is not None:
            extra[k] = r
    zone_class, redline, flags = _rasters(zres)
    drivers = _drivers(layers, grid, extra)
    rest_in = _restoration_inputs(layers, grid, extra, drivers)
    drivers.update(flag_drivers(flags))
    return Zones(zone_class, redline, flags, zres.summary, zres_b, drivers, rest_in)


def _membership_columns(units: Any, summary: ZoningSummary) -> Any:
    """Readable membership and dependency attributes from the flag shares."""
    from geoeco.zoning.rules import BATTLES

    u = units.copy()
    if "three_north_share" in u:
        u["in_three_north"] = u["three_north_share"] >= 0.5
    if "battle_ids" in u:
        names = dict(enumerate(BATTLES, start=1))
        u["battles"] = u["battle_ids"].map(
            lambda s: (
                ",".join(
                    names[int(i)]
                    for i in str(s).split(",")
                    if i.strip().isdigit() and int(i) in names
                )
                if s
                else ""
            )
        )
    approx = summary.approximation_layers
    synth = summary.synthetic_layers
    if "depends_approximation_share" in u:
        u["depends_on_approximation"] = u["depends_approximation_share"] > 0
        u["approximation_layers"] = np.where(u["depends_on_approximation"], ",".join(approx), "")
    if "depends_synthetic_share" in u:
        u["depends_on_synthetic"] = u["depends_synthetic_share"] > 0
        u["synthetic_layers"] = np.where(u["depends_on_synthetic"], ",".join(synth), "")
    return u


def control_units(plan: ZoningPlan, zones: Zones) -> Any:
    """Step 3: control units per county with access lists and readable memberships."""
    from geoeco.zoning.units.build import build_units

    grid = plan.grid
    units = build_units(
        zones.zone_class,
        zones.redline,
        plan.counties,
        drivers=zones.drivers,
        min_area_km2=plan.options.min_unit_km2,
        simplify_m=plan.options.simplify_m,
        # county batches keep memory bounded on large grids (results are identical)
        batch_pixels=UNIT_BATCH_PIXELS if grid.width * grid.height > UNIT_BATCH_PIXELS else None,
    )
    return _membership_columns(units, zones.summary)


def settle_zones(plan: ZoningPlan, zones: Zones, units: Any) -> Zones:
    """Step 3b, one area truth: the zone raster (and its areas in the summary) remade from the
    final units (:func:`geoeco.zoning.units.raster.units_raster`), so that ``zone_class.tif``,
    the statistics and the ``units`` layer agree after sliver merging; the overlay's areas
    stay in the summary as ``area_km2_before_merge``."""
    from dataclasses import replace

    from geoeco.zoning.units.raster import units_raster, zone_areas

    final = units_raster(units, plan.grid)
    px = zone_areas(final)
    km2 = plan.grid.cell_area / 1e6
    before = zones.summary.area_km2
    zoned = sum(px.values()) * km2
    areas = replace(
        before,
        priority=px[1] * km2,
        key=px[2] * km2,
        general=px[3] * km2,
        zoned=zoned,
        nodata_in_grid=plan.grid.width * plan.grid.height * km2 - zoned,
        nodata_in_aoi=before.nodata_in_aoi + before.zoned - zoned,
    )
    summary = replace(zones.summary, area_km2=areas, area_km2_before_merge=before)
    return replace(zones, zone_class=final, summary=summary, overlay_zone_class=zones.zone_class)


def statistics(plan: ZoningPlan, zones: Zones) -> tuple[Any, Any]:
    """Step 4: the area table (county × class × erosion grade × desertification degree) and
    the totals by class."""
    from geoeco.zoning.zonestats import area_table, class_totals

    table = area_table(
        zones.zone_class,
        grid=plan.grid,
        counties=plan.counties,
        erosion=zones.drivers.get("erosion_grade"),
        desertification=zones.drivers.get("desertification"),
    )
    return table, class_totals(table)


def restoration(
    zones: Zones, budget_km2: float | None, targets: Mapping[str, float] | None = None
) -> RestorationResult:
    """Step 5: restoration priorities, or an empty result when no cell is a candidate.

    An area with no key control unit (or no data in the scored inputs there) has nothing to
    restore under the rules: the zoning stands, the restoration outputs are empty, and the
    summary says why.
    """
    import pandas as pd

    from geoeco.core.errors import EmptyArea
    from geoeco.restoration.run import NoCandidates, prioritise

    battle = zones.drivers["battle"]
    inputs: dict[str, Raster] = {
        "zone_class": zones.zone_class,
        **zones.restoration_inputs,
        "protected": zones.redline.with_array(np.ma.filled(zones.redline.array, 0) > 0),
        "battle": battle.with_array(np.ma.filled(battle.array, 0) > 0),
    }
    try:
        return prioritise(inputs, budget_km2=budget_km2, targets=targets)
    except EmptyArea as exc:
        zc = zones.zone_class
        nan = zc.with_array(np.full(zc.grid.shape, np.nan, dtype="float32"))
        zero = zc.with_array(np.zeros(zc.grid.shape, dtype="uint8"))
        return RestorationResult(
            score=nan,
            rank=nan,
            selection=zero,
            coverage=pd.DataFrame(),
            params=NoCandidates(f"no restoration candidates: {exc}"),
        )


def _comparison(plan: ZoningPlan, zones: Zones, out: Path) -> tuple[Comparison, Any] | None:
    """The comparison with the second rule set, its files written; ``None`` without one."""
    from geoeco.core.windows import equal_area_factor

    if plan.compare is None or zones.compare is None:
        return None
    zone_b = _rasters(zones.compare)[0]
    cell_km2 = plan.grid.cell_area / 1e6 * equal_area_factor(plan.grid)
    zone_a = zones.zone_class if zones.overlay_zone_class is None else zones.overlay_zone_class
    change, transitions = compare_zones(zone_a, zone_b, cell_km2)
    write_comparison(change, transitions, out)
    comparison = Comparison(
        rules_b=plan.compare.name,
        rules_b_sha256=plan.compare.sha256(),
        area_km2_by_class_b=zones.compare.summary.area_km2.to_dict(),
        transitions_km2=transitions.to_dict(orient="records"),
    )
    return comparison, transitions


def _output_tags(plan: ZoningPlan, zones: Zones) -> dict[str, str]:
    """Status and lineage tags of the run's rasters: the least trusted status of the bound
    inputs, each input's status, the rule set (:func:`geoeco.core.provenance.derived_tags`)."""
    from geoeco.core.provenance import derived_tags

    rs = plan.rules
    statuses = {n: r.status for n, r in zones.summary.inputs.items()}
    return derived_tags("zoning", statuses, rule_set=rs.name, rule_set_sha256=rs.sha256())


def write_outputs(
    plan: ZoningPlan,
    zones: Zones,
    units: Any,
    tables: tuple[Any, Any],
    rest: RestorationResult,
    out: Path,
) -> tuple[list[str], Comparison | None]:
    """Step 6: every output file but the map; returns their names and the comparison."""
    from geoeco.zoning.access import write_sxyd

    rasters = dict(
        zip(
            RASTER_OUTPUTS,
            (zones.zone_class, zones.redline, zones.flags, rest.rank, rest.score, rest.selection),
            strict=True,
        )
    )
    write_rasters(rasters, out, _output_tags(plan, zones))
    gpkg = geopackage_layers(units, zones.redline, rest, *tables, plan.counties)
    compared = _comparison(plan, zones, out)
    if compared is not None:
        gpkg["comparison"] = compared[1]
    write_vectors_and_tables(gpkg, rest, out)
    sxyd_crs: SxydCrs = "gk" if plan.options.sxyd_crs == "gk" else "cgcs2000"
    write_sxyd(units, out / plan.options.sxyd_name, crs=sxyd_crs)
    names = [*rasters, *TABLE_OUTPUTS, plan.options.sxyd_name]
    if compared is not None:
        names += COMPARISON_OUTPUTS
    return names, None if compared is None else compared[0]


def _result(
    plan: ZoningPlan,
    zones: Zones,
    units: Any,
    totals: Any,
    rest: RestorationResult,
    out: Path,
    files: tuple[list[str], Comparison | None],
    map_note: str,
) -> ZoningRunResult:
    """Step 7: the run's typed result."""
    names, comparison = files
    by_class = units["class_en"].value_counts().to_dict() if "class_en" in units else {}
    return ZoningRunResult(
        out_dir=out,
        area=plan.area,
        res_m=plan.options.res,
        grid_shape=plan.grid.shape,
        rule_set={
            "name": plan.rules.name,
            "version": plan.rules.version,
            "sha256": plan.rules.sha256(),
        },
        zones={k: v for k, v in zones.summary.to_dict().items() if k != "compute"},
        compute=zones.summary.compute,
        units=UnitCounts(
            count=int(len(units)),
            by_class={str(k): int(v) for k, v in by_class.items()},
            min_area_km2=plan.options.min_unit_km2,
        ),
        class_totals_km2={
            str(k): float(v) for k, v in zip(totals.iloc[:, 0], totals["area_km2"], strict=True)
        },
        restoration={"budget_km2": plan.options.budget_km2, **rest.params.to_dict()},
        comparison=comparison,
        approximation_layers=list(zones.summary.approximation_layers),
        synthetic_layers=list(zones.summary.synthetic_layers),
        map=map_note,
        outputs=sorted([*names, *(["map.html"] if map_note == "map.html" else [])]),
        coverage=zones.summary.coverage,
    )


def _classified(
    plan: ZoningPlan,
    out: Path,
    engine: Engine | str | None,
    registry: LayerRegistry | None,
    cache_dir: str | Path | None,
    statuses: Mapping[str, str] | None,
    step: Progress,
) -> Zones:
    """Step 2 on the run's engine, then the coverage check: a run short of the required
    coverage (without ``allow_partial``) raises, removing ``out`` if this run created it."""
    import shutil

    created = not out.exists()
    with contextlib.ExitStack() as stack:
        eng = stack.enter_context(using_engine(engine))
        out.mkdir(parents=True, exist_ok=True)
        cache = Path(cache_dir) if cache_dir else None
        zones = classify(
            plan, out, eng, registry=registry, cache_dir=cache, statuses=statuses, step=step
        )
    cov = zones.summary.coverage
    if cov is not None:
        opts = plan.options
        try:
            check_coverage(
                cov,
                what="zoning",
                min_share=opts.min_coverage,
                allow_partial=opts.allow_partial,
            )
        except Exception:
            if created:
                shutil.rmtree(out, ignore_errors=True)
            raise
    return zones


def _banner(zones: Zones) -> list[str]:
    """The map's warning lines: synthetic or approximate layers, partial coverage."""
    from geoeco.maps.banner import banner_lines

    return banner_lines(zones.summary.to_dict())


def run_zoning(
    out_dir: str | Path,
    *,
    aoi: AoiSource | AOI | None = None,
    rules: str | Path | RuleSet = DEFAULT_RULES,
    inputs: Mapping[str, Any] | None = None,
    statuses: Mapping[str, str] | None = None,
    registry: LayerRegistry | None = None,
    res: float = DEFAULT_RES,
    budget_km2: float | None = None,
    compare: str | Path | RuleSet | None = None,
    cache_dir: str | Path | None = None,
    min_unit_km2: float = 0.1,
    simplify_m: float | None = None,
    sxyd_crs: str = "cgcs2000",
    sxyd_format: str = "gpkg",
    demo_size: str = "full",
    write_map: bool = True,
    restoration_targets: Mapping[str, float] | None = None,
    progress: Progress | None = None,
    engine: Engine | str | None = None,
    allow_partial: bool = False,
    min_coverage: float = DEFAULT_MIN_COVERAGE,
    sources: RunSources | None = None,
) -> ZoningRunResult:
    """Zone an area and write every output into ``out_dir``; return the run's result.

    ``aoi`` is anything :func:`geoeco.zoning.aoi.resolve_aoi` takes, or ``None`` for the demo
    region of ``demo_size``. ``inputs`` maps rule-set input names (and ``soil_loss``, ``fvc``,
    ``importance_max`` for unit attributes and restoration) to raster paths, Rasters,
    GeoDataFrames or :class:`~geoeco.zoning.overlay.inputs.LayerInput`; ``statuses`` gives the
    status of path inputs. ``budget_km2`` and ``restoration_targets`` (need id -> share of
    that need's candidate area) select the restoration cells
    (:func:`geoeco.restoration.run.prioritise`); with neither, cells are ranked, none selected.

    ``engine`` (a :class:`~geoeco.core.engine.Engine`, ``"local"`` (default) or ``"dask"``, see
    :func:`geoeco.core.engine.get_engine`) is where
    :func:`~geoeco.zoning.overlay.run.compute_zones` runs its per-tile work, for the rule set
    and for ``compare``. Raster paths and registry layers are bound as picklable file readers,
    so Dask workers read them themselves; with an in-memory Raster input it runs locally
    (``compute["note"]`` says so). Every engine gives identical outputs; ``compute`` records
    where each step of the rule set's run ran. An engine made here from a name is closed at
    the end; an Engine passed in is left open for reuse.

    A run whose inputs leave more than ``1 - min_coverage`` of the area without a zone raises
    :class:`~geoeco.core.errors.PartialCoverage` naming the inputs that fall short (and leaves
    ``out_dir`` as it found it), unless ``allow_partial``; the summary's ``coverage_share`` and
    ``coverage_missing_km2`` state the coverage either way, and the map says it in words.
    ``sources`` (where the inputs came from, data sources and licences) go into the summary
    and the map.
    """
    check_engine(engine)
    options = ZoningOptions(
        res, budget_km2, min_unit_km2, simplify_m, sxyd_crs, sxyd_format, write_map,
        restoration_targets, allow_partial, min_coverage,
    )  # fmt: skip
    step = progress or no_progress
    out = Path(out_dir)
    plan = plan_zoning(aoi, rules, compare, inputs, options, demo_size=demo_size)
    step("checking inputs", 0.02)
    zones = _classified(plan, out, engine, registry, cache_dir, statuses, step)
    step("control units", 0.5)
    units = control_units(plan, zones)
    zones = settle_zones(plan, zones, units)
    step("statistics", 0.7)
    tables = statistics(plan, zones)
    step("restoration priorities", 0.75)
    rest = restoration(zones, options.budget_km2, options.restoration_targets)
    step("writing outputs", 0.85)
    files = write_outputs(plan, zones, units, tables, rest, out)
    step("web map", 0.95)
    src = sources or RunSources()
    map_note = "not requested"
    if options.write_map:
        map_note = write_web_map(out, _banner(zones), list(src.attribution))
    result = _result(plan, zones, units, tables[1], rest, out, files, map_note)
    result = replace(result, sources=src)
    write_json(result.summary(), out / "summary.json")
    step("done", 1.0)
    return result


__all__ = [
    "DEFAULT_RES",
    "DEFAULT_RULES",
    "SXYD_CRS",
    "SXYD_FORMATS",
    "UNIT_BATCH_PIXELS",
    "Comparison",
    "RunSources",
    "UnitCounts",
    "ZoningOptions",
    "ZoningPlan",
    "ZoningRunResult",
    "Zones",
    "classify",
    "control_units",
    "plan_zoning",
    "restoration",
    "run_zoning",
    "settle_zones",
    "statistics",
    "write_outputs",
    "zoning_area",
]
