"""What an evaluation run returns: a typed, frozen :class:`EvaluationResult`.

:func:`geoeco.evaluation.run.run_evaluation` returns it; callers read the fields (the area of
every class of every classified output, the services computed and skipped, the thresholds
and ranges found over the reference extent, the inputs and provenance), and
:meth:`EvaluationResult.summary` is the content of the run's ``summary.json``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from geoeco.core.raster import Grid
from geoeco.core.windows import engine_info

from .config import DOMINANT_SERVICES, PATH_KEYS, EvaluationConfig

__all__ = ["EvaluationResult", "ServiceStats"]

#: Units of each service value (``service_<name>.tif``).
SERVICE_UNITS = {
    "soil_conservation": "t/(km²·a)",
    "sand_fixation": "NPP (g C m⁻² a⁻¹) · K (t·hm²·h/(hm²·MJ·mm)) · F_q · D",
    "water_conservation": "NPP (g C m⁻² a⁻¹) · normalised factors",
    "biodiversity": "NPP (g C m⁻² a⁻¹) · normalised factors",
}

Floats = list[float | None]


@dataclass(frozen=True)
class ServiceStats:
    """Maximum and area-weighted mean of a service value over the grid (None: no data)."""

    max: float | None
    area_weighted_mean: float | None


@dataclass(frozen=True)
class EvaluationResult:
    """An evaluation run's areas, thresholds and records.

    Attributes
    ----------
    out_dir : Path
        The folder holding the rasters and ``summary.json``.
    config : EvaluationConfig
        The settings of the run.
    grid : Grid
        The grid of every output (that of ``grid_from``).
    services, skipped
        The services computed, and those skipped with what they lacked.
    reference_extent : str
        Where the ranges and thresholds come from (``"whole input grid"`` or a reference).
    area_weights : dict
        How pixel areas were weighted (:meth:`AreaWeights.describe`).
    ranges, thresholds : dict
        Min–max of each normalised factor, and the cumulative-share value thresholds of each
        service (None for an infinite or missing bound).
    service_stats : dict
        :class:`ServiceStats` per service.
    area_km2, area_km2_total, nodata_area_km2 : dict
        Per classified output: km² per class (``"<code> <name_zh> <name_en>"``), their sum,
        and the nodata area.
    inputs, provenance : dict
        Every input with its checksum; the tables and parameters used.
    outputs : tuple of str
        The rasters written in ``out_dir``.
    """

    out_dir: Path
    config: EvaluationConfig
    grid: Grid
    services: tuple[str, ...]
    skipped: Mapping[str, str]
    reference_extent: str
    area_weights: Mapping[str, Any]
    importance_table: str
    ranges: Mapping[str, Floats]
    thresholds: Mapping[str, Floats]
    service_stats: Mapping[str, ServiceStats]
    area_km2: Mapping[str, Mapping[str, float]]
    area_km2_total: Mapping[str, float]
    nodata_area_km2: Mapping[str, float]
    inputs: Mapping[str, Any]
    provenance: Mapping[str, Any]
    outputs: tuple[str, ...]

    @property
    def grid_area_km2(self) -> float:
        """True area of the whole grid (classified plus nodata), km²."""
        return (
            self.area_km2_total["sanding_sensitivity"] + self.nodata_area_km2["sanding_sensitivity"]
        )

    def summary(self) -> dict[str, Any]:
        """The content of ``summary.json``: the figures, the grid, the units and the records."""
        cfg, grid = self.config, self.grid
        return {
            "kind": "evaluation",
            "engine": engine_info(),
            "scheme": cfg.scheme,
            "services": {"computed": list(self.services), "skipped": dict(self.skipped)},
            "units": {
                **{s: SERVICE_UNITS[s] for s in self.services},
                "area": "km² (true ellipsoidal area)",
            },
            "grid": {
                "crs": grid.crs.to_string(),
                "res_m": list(grid.res),
                "shape": list(grid.shape),
                "bounds": list(grid.bounds),
            },
            "reference_extent": {
                "name": self.reference_extent,
                "bounds": None if cfg.reference else list(grid.bounds),
            },
            "area_weights": dict(self.area_weights),
            "normalisation": {
                "method": "min-max over the reference extent",
                "ranges": dict(self.ranges),
            },
            "importance": self._importance(),
            "service_stats": {
                s: {"max": v.max, "area_weighted_mean": v.area_weighted_mean}
                for s, v in self.service_stats.items()
            },
            "area_km2": {k: dict(v) for k, v in self.area_km2.items()},
            "area_km2_total": dict(self.area_km2_total),
            "nodata_area_km2": dict(self.nodata_area_km2),
            "grid_area_km2": self.grid_area_km2,
            "config": cfg.model_dump(mode="json", exclude=set(PATH_KEYS)),
            "inputs": dict(self.inputs),
            "provenance": dict(self.provenance),
            "outputs": list(self.outputs),
        }

    def _importance(self) -> dict[str, Any]:
        """The ``importance`` entry of the summary: table, cuts, method and thresholds."""
        cfg = self.config
        return {
            "table": self.importance_table,
            "cuts": list(cfg.importance_cuts),
            "method": f"streaming histogram, {self.area_weights['method']} pixel area"
            if not cfg.reference
            else "thresholds of the reference summary",
            "bins": cfg.histogram_bins,
            "thresholds": dict(self.thresholds),
            "dominant_codes": {
                str(k): {"service": v[0], "red_line_type": v[1], "name_zh": v[2]}
                for k, v in DOMINANT_SERVICES.items()
            },
        }
