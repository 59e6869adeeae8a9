"""Ecological sensitivity and ecosystem-service importance on one grid (methodology §2.2–§3).

:func:`run_evaluation` takes the grid of one raster (``grid_from``, e.g. the DEM) and an
:class:`EvaluationConfig` (numbers or raster paths), puts every input on that grid (bilinear
for continuous values, nearest for codes) and writes, window by window:

* sanding sensitivity D = (I·W·K·C)^¼ and water-erosion sensitivity SS = (R·K·LS·C)^¼ on
  class scores (tables ``<scheme>/sanding/*``, ``<scheme>/water-erosion/*``; scheme
  ``EcoZoning-interim`` five classes or ``RedLine-2017`` three), as an index (float32) and a
  class (uint8, 0 = nodata, colours from the table);
* up to four service values ``service_<name>.tif`` (float32, :data:`SERVICES`): soil
  conservation A_c = R·K·LS·(1 − C·P) in **t/(km²·a)** (t/(hm²·a) × 100, the units of the
  erosion run's ``soil_loss.tif``); windbreak and sand fixation S_ws = NPP·K·F_q·D with the
  FAO climatic factor F_q computed on the climate grid from monthly wind, temperature,
  precipitation and humidity, then warped bilinearly, and D = 1/cos(slope) [R]; water
  conservation WR = NPP·F_sic·F_pre·(1 − F_slo); biodiversity maintenance
  S_bio = NPP·F_pre·F_tem·(1 − F_alt) (§3.1 [V]; F_tem from the mean annual temperature,
  F_alt from the DEM);
* importance classes of each service by cumulative share (``CumShare(0.5,0.8)`` by default),
  ``importance_max.tif`` (the highest class across services, "taking the maximum class",
  Ouyang et al. 2016 [V]) and ``importance_dominant.tif`` (which service gave it, see
  :data:`DOMINANT_SERVICES`; codes 1..4 → red-line types 13, 14, 11, 12).

The sensitivities are always computed; each service is computed when its inputs are given
(``services`` unset) or when listed in ``services`` (then a missing input is an error). The
summary lists the skipped services and what they lacked (see
:mod:`geoeco.evaluation.config`). Without any service no importance raster is written.

Derived inputs are written too: ``fq.tif``, ``precip_annual.tif`` and ``temp_annual.tif``
(on the climate grid, see :mod:`geoeco.evaluation.climate`), ``relief.tif`` and ``slope.tif`` (when
derived from the DEM). ``summary.json`` holds the area (km²) of every class of every
classified output, the services computed and skipped, the reference extent, the value
thresholds and normalisation ranges found, the class tables and parameters (``unverified``
lists the [R] ones), the inputs with checksums and the engine version.

Modules: config in :mod:`geoeco.evaluation.config`, pixel areas in
:mod:`geoeco.evaluation.area_weights`,
climate products in :mod:`geoeco.evaluation.climate`, per-pixel functions in
:mod:`geoeco.evaluation.pixels`, the passes in :mod:`geoeco.evaluation.passes`; the public
names are re-exported here.

Reference extent and passes
---------------------------
Steps that depend on the whole distribution (the min–max ranges of the WR and S_bio factors
and the cumulative-share value thresholds) are computed over a named **reference extent**, by
default the whole input grid, and recorded in ``summary.json``; a later run over a smaller
area can reuse them (``reference=`` that summary), so a pixel's class does not change with the
area analysed. The grid is walked four times (:mod:`geoeco.evaluation.passes`): (A) ranges of
the normalised factors and a check of the FVC units; (B) per-pixel values, written; (C) a
weighted streaming histogram of each service read back from its file
(:func:`geoeco.evaluation.importance.cumulative_share_thresholds`); (D) classes. Memory is bounded
by the
window size, except that the DEM is held whole (with its relief and, when no slope raster is
given, its slope) when relief or slope are derived from it.

Equal area
----------
Cumulative share sums values, so every pixel is weighted by its true area
(:func:`geoeco.evaluation.area_weights.area_weights`): one constant pixel area where the
projection's
areal scale varies by at most 0.1 % over the grid (any Albers grid; a Gauss–Krüger grid within
~200 km of its meridian), otherwise ``cell area / areal scale`` per pixel from
:meth:`pyproj.Proj.get_factors` on a lattice, interpolated bilinearly. The choice is recorded.

Choices [I] (each recorded as a parameter in ``summary.json``)
--------------------------------------------------------------
* Relief (地形起伏度) = max − min elevation in a square of about ``relief_window_m`` (default
  1000 m, an odd number of pixels ≥ 3) centred on the pixel, truncated at the grid edge.
* R is divided by ``r_table_divisor`` = 17.02 before scoring: the recalled R limits
  (25 … 600) are of the size of R in US customary units (the Wischmeier monthly formula used in
  Chinese sensitivity studies), and R_SI = 17.02 · R_US. In SI, every pixel of northern China
  would score "extremely sensitive".
* Texture (the sanding codes 1 bedrock, 2 clay, 3 gravel, 4 loam, 5 sand) → water-erosion
  texture group (1 石砾/沙 … 5 砂粉土/粉土): :data:`DEFAULT_TEXTURE_GROUPS` = bedrock 1 (no soil to
  detach), clay 2 (粘土), gravel 1 (石砾), loam 3 (壤土), sand 1 (沙). The five codes cannot tell
  silty loess (group 5) from loam: give ``erosion_texture_group`` (a raster of groups) where
  that matters.
* Land cover → vegetation group (EcoZoning only; 1 水体/沼泽/稻田 … 5 无植被):
  :data:`DEMO_VEGETATION_GROUPS`, for geoeco's demo coding: cropland 4 (一年一熟, the northern
  single-crop system), forest 2, grassland 3 (稀疏灌木草原, semi-arid steppe), water 1, built 1
  (sealed surfaces supply no sediment), sand 4 (荒漠), bare 5 (无植被).
* WR and S_bio factors are min–max normalised over the reference extent (F_sic from
  infiltration, F_pre from annual precipitation, F_slo from slope in degrees, F_tem from mean
  annual temperature in °C, F_alt from the DEM elevation in m); a factor that is constant over
  the extent gets its neutral value (1 for F_sic, F_pre and F_tem, 0 for F_slo and F_alt).
* Mean annual temperature = the unweighted mean of the 12 bands of ``temp_monthly`` (or
  ``temp_annual`` as given).
* S_ws is the raw product (NPP g C m⁻² a⁻¹ · K t·hm²·h/(hm²·MJ·mm) · F_q · D). Scaling a factor
  to 0–1 by its maximum multiplies S_ws by a constant and changes no class; a min–max stretch
  would set S_ws to 0 wherever one factor is at its minimum (D on flat ground), so none is done.
* ``no_service_landcover`` codes (the demo uses water 4 and built 5) get service value 0.
* ``importance_max`` is the maximum over the services that have data at the pixel (0 only where
  none has); in ``importance_dominant`` ties go to the first of soil conservation, sand
  fixation, water conservation, biodiversity.

Examples
--------
>>> from geoeco.evaluation.pixels import relief_amplitude
>>> relief_amplitude(np.array([[0.0, 1, 2], [3, 4, 5], [6, 7, 8]]), 3).tolist()
[[4.0, 5.0, 4.0], [7.0, 8.0, 7.0], [4.0, 5.0, 4.0]]
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from geoeco.catalog.classes import ClassTable, Provenance, cumshare_table, get_table
from geoeco.core.errors import InvalidInput
from geoeco.core.windows import write_json

from .area_weights import area_weights
from .climate import check_input, climate_products
from .config import EvaluationConfig
from .passes import (
    EvaluationPasses,
    dominant_table,
    json_floats,
    load_reference,
    range_names,
)
from .results import EvaluationResult, ServiceStats

Progress = Callable[[str, float], None]


def run_evaluation(
    out_dir: str | Path,
    *,
    grid_from: str | Path,
    inputs: EvaluationConfig,
    progress: Progress | None = None,
) -> EvaluationResult:
    """Sensitivity, services and importance on the grid of ``grid_from``; see the module doc.

    Writes the rasters and ``summary.json`` to ``out_dir``; returns the areas, thresholds and
    records as an :class:`~geoeco.evaluation.results.EvaluationResult`, whose
    :meth:`~geoeco.evaluation.results.EvaluationResult.summary` is ``summary.json``.
    """
    cfg = inputs
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    step = progress or (lambda s, f: None)
    gpath = Path(grid_from)
    checked: dict[str, Any] = {}
    grid, _ = check_input(str(gpath), "grid_from", checked, cfg.allow_outside_china)
    if not grid.crs.is_projected:
        raise InvalidInput(
            f"{gpath.name}: the target grid must be projected in metres (found "
            f"{grid.crs.to_string()}); reproject it first"
        )
    services, skipped = cfg.service_plan()
    for s, why in skipped.items():
        step(f"{s} skipped ({why})", 0.0)
    run = EvaluationPasses(cfg, grid, out, step, services)
    run.inputs.update(checked)
    run.weights = area_weights(grid, cfg.area_weights)
    ref = None
    if cfg.reference:
        ref = load_reference(cfg.reference, cfg.importance_cuts, services, range_names(services))
    step("climate grid: F_q, annual precipitation and temperature", 0.02)
    products = climate_products(cfg, out, run.used, run.inputs, services=services)
    run.derived += [
        Path(v).name for v in products.values() if isinstance(v, str) and Path(v).parent == out
    ]
    step("DEM: relief and slope", 0.06)
    run.load_dem()
    _record_choices(cfg, services, run.used)
    scheme = cfg.scheme
    sens_tables = {
        "sanding_sensitivity": get_table(f"{scheme}/sanding"),
        "water_erosion_sensitivity": get_table(f"{scheme}/water-erosion"),
    }
    imp_table = cumshare_table(cfg.importance_cuts)
    with contextlib.ExitStack() as stack:
        run.open_sources(stack, products)
        step("reference extent: ranges", 0.1)
        run.pass_ranges(need_ranges=ref is None)
        if ref is not None:
            run.ranges = {n: ref["ranges"][n] for n in range_names(services)}
        run.pass_values(sens_tables)
    step("reference extent: cumulative-share thresholds", 0.68)
    thresholds = ref["thresholds"] if ref else run.thresholds(cfg.importance_cuts)
    ref_name = ref["name"] if ref else "whole input grid"
    tags = {"reference_extent": ref_name}
    run.pass_importance(imp_table, thresholds, tags)
    result = _result(run, sens_tables, imp_table, thresholds, ref_name, skipped)
    write_json(result.summary(), out / "summary.json")
    step("done", 1.0)
    return result


def _record_choices(cfg: EvaluationConfig, services: tuple[str, ...], used: Provenance) -> None:
    add = used.add_param
    add("sensitivity.scheme", cfg.scheme, tag="V" if cfg.scheme == "EcoZoning-interim" else "R")
    add(
        "water_erosion.r_table_divisor",
        cfg.r_table_divisor,
        tag="I",
        source="R (SI) / 17.02 = R in US customary units, the apparent units of the R table",
    )
    if cfg.erosion_texture_group is None:
        add(
            "water_erosion.texture_groups",
            cfg.texture_groups,
            tag="I",
            source="sanding texture code -> water-erosion texture group",
        )
    if cfg.scheme == "EcoZoning-interim" and cfg.vegetation_group is None:
        add(
            "water_erosion.vegetation_groups",
            cfg.vegetation_groups,
            tag="I",
            source="land-cover code -> EcoZoning vegetation group",
        )
    if "soil_conservation" in services:
        add("soil_conservation.formula", "100 * R*K*LS*(1 - C*P), t/(km2 a)", tag="V")
    if "sand_fixation" in services:
        add("sand_fixation.formula", "NPP*K*Fq*D, raw factors (no normalisation)", tag="I")
    if "water_conservation" in services:
        add(
            "water_conservation.normalisation",
            "min-max over the reference extent; constant factor -> 1 (F_sic, F_pre) or 0 (F_slo)",
            tag="I",
        )
    if "biodiversity" in services:
        add("biodiversity.formula", "NPP*F_pre*F_tem*(1 - F_alt)", tag="V")
        add(
            "biodiversity.normalisation",
            "min-max over the reference extent of annual precipitation, mean annual "
            "temperature and DEM elevation; constant factor -> 1 (F_pre, F_tem) or 0 (F_alt)",
            tag="I",
        )
    add("no_service_landcover", cfg.no_service_landcover, tag="I")
    if services:
        add("importance_max.rule", "maximum class across services (Ouyang et al. 2016)", tag="V")
        add("importance_dominant.ties", f"first of {', '.join(services)}", tag="I")


def _result(
    run: EvaluationPasses,
    sens_tables: dict[str, ClassTable],
    imp_table: ClassTable,
    thresholds: dict[str, np.ndarray],
    ref_name: str,
    skipped: dict[str, str],
) -> EvaluationResult:
    """The run's areas per class of every classified output, statistics and records."""
    services = run.services
    assert run.weights is not None  # run_evaluation sets them before the passes
    tables: dict[str, ClassTable] = {
        **sens_tables,
        **{f"importance_{s}": imp_table for s in services},
    }
    if services:
        tables.update({"importance_max": imp_table, "importance_dominant": dominant_table()})
    area_by_class = {}
    totals = {}
    nodata = {}
    for key, table in tables.items():
        a = run.areas.get(key, np.zeros(len(table.classes) + 1))
        area_by_class[key] = {
            f"{c.code} {c.name_zh} {c.name_en}": float(a[c.code]) for c in table.classes
        }
        totals[key] = float(np.sum(a[1:]))
        nodata[key] = float(a[0])
    return EvaluationResult(
        out_dir=run.out,
        config=run.cfg,
        grid=run.grid,
        services=services,
        skipped=skipped,
        reference_extent=ref_name,
        area_weights=run.weights.describe(),
        importance_table=imp_table.name,
        ranges={k: json_floats(v) for k, v in run.ranges.items()},
        thresholds={s: json_floats(thresholds[s]) for s in services},
        service_stats=_service_stats(run, totals),
        area_km2=area_by_class,
        area_km2_total=totals,
        nodata_area_km2=nodata,
        inputs=run.inputs,
        provenance={
            **run.used.to_dict(),
            "class_tables": {t.name: t.describe() for t in tables.values()},
        },
        outputs=_outputs(run, sens_tables),
    )


def _service_stats(run: EvaluationPasses, totals: dict[str, float]) -> dict[str, ServiceStats]:
    """Maximum and area-weighted mean of each service value (``totals``: area per output)."""
    assert run.weights is not None  # run_evaluation sets them before the passes
    px = 1.0 if run.weights.method == "per-pixel" else run.weights.pixel_km2
    stats = {}
    for s in run.services:
        area = totals[f"importance_{s}"]
        stats[s] = ServiceStats(
            max=run.vmax.get(s),
            area_weighted_mean=run.vsum.get(s, 0.0) * px / area if area else None,
        )
    return stats


def _outputs(run: EvaluationPasses, sens_tables: dict[str, ClassTable]) -> tuple[str, ...]:
    """The rasters the run wrote: sensitivities, services, importance and derived inputs."""
    services = run.services
    outputs = [f"{k}.tif" for k in sens_tables] + [f"{k}_index.tif" for k in sens_tables]
    outputs += [f"service_{s}.tif" for s in services]
    if services:
        outputs += [f"importance_{k}.tif" for k in (*services, "max", "dominant")]
    outputs += run.derived
    return tuple(outputs)


__all__ = [
    "run_evaluation",
]
