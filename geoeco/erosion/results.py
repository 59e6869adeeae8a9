"""What an erosion or desertification run returns: typed, frozen results.

:func:`geoeco.erosion.run.run_erosion` returns an :class:`ErosionResult` and
:func:`geoeco.erosion.desertification.run_desertification` a :class:`DesertificationResult`.
Callers read the fields (areas in km² per class, means, the inputs and provenance records);
:meth:`ErosionResult.summary` and :meth:`DesertificationResult.summary` give the content of the
run's ``summary.json`` (which the run writes).

Examples
--------
>>> from affine import Affine
>>> from geoeco.core.raster import Grid
>>> r = DesertificationResult(
...     out_dir=Path("out"),
...     scheme="WangTao-2003",
...     grid=Grid(Affine(30, 0, 0, 0, -30, 60), 2, 2, "EPSG:4546"),
...     ndvi_endpoints=(0.1, 0.7),
...     endpoints_given=True,
...     area_km2_by_degree={"1 无 none": 0.0027, "2 轻度 light": 0.0009},
...     area_km2_total=0.0036,
...     nodata_pixels=0,
...     inputs={},
...     provenance={},
... )
>>> s = r.summary()
>>> s["kind"], s["reference_extent"], s["grid"]["shape"], s["outputs"][1]
('desertification', 'n/a (given)', [2, 2], 'desertification_degree.tif')
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from geoeco.core.raster import Grid
from geoeco.core.windows import engine_info

__all__ = ["DesertificationResult", "ErosionResult"]

_AREA = "km² (Albers equal-area, CGCS2000)"


@dataclass(frozen=True)
class ErosionResult:
    """A water-erosion run's figures and records (:func:`geoeco.erosion.run.run_erosion`).

    Attributes
    ----------
    out_dir : Path
        The folder holding the outputs and ``summary.json``.
    model : {"rusle", "csle"}
        The soil-loss equation.
    grid : Grid
        The DEM's grid, on which every output lies.
    compute : dict
        Where the windows ran (engine description, window count and size).
    area_km2_by_grade : dict
        Equal-area km² per SL 190-2007 grade (``"<code> <name_zh> <name_en>"``).
    area_km2_total, nodata_pixels
        Area of the graded pixels (km²) and the number of nodata pixels.
    mean_soil_loss_t_km2_a, mean_potential_loss_t_km2_a : float or None
        Mean soil loss and potential loss R·K·L·S in t/(km²·a); None without valid pixels.
    total_soil_loss_t_a, total_soil_conservation_t_a : float
        Soil lost and soil retained (potential − actual) over the grid, t/a.
    ls : dict
        The LS parameters (:attr:`geoeco.terrain.ls.LSResult.params`).
    config : dict
        The settings as recorded (JSON; the inputs are under ``inputs`` instead).
    inputs, provenance : dict
        Every input with its checksum; the tables and parameters used.
    outputs : tuple of str
        The rasters written in ``out_dir``.
    """

    out_dir: Path
    model: str
    grid: Grid
    compute: Mapping[str, Any]
    area_km2_by_grade: Mapping[str, float]
    area_km2_total: float
    nodata_pixels: int
    mean_soil_loss_t_km2_a: float | None
    mean_potential_loss_t_km2_a: float | None
    total_soil_conservation_t_a: float
    total_soil_loss_t_a: float
    ls: Mapping[str, Any]
    config: Mapping[str, Any]
    inputs: Mapping[str, Any]
    provenance: Mapping[str, Any]
    outputs: tuple[str, ...]

    @property
    def mean_soil_loss_t_hm2_a(self) -> float | None:
        """Mean soil loss in t/(hm²·a) (= t/(km²·a) / 100)."""
        m = self.mean_soil_loss_t_km2_a
        return None if m is None else m / 100

    def summary(self) -> dict[str, Any]:
        """The content of ``summary.json``: the figures, the grid, the units and the records."""
        return {
            "kind": "erosion",
            "engine": engine_info(),
            "compute": dict(self.compute),
            "model": self.model,
            "units": {
                "soil_loss": "t/(km²·a)",
                "mean_soil_loss_t_hm2_a": "t/(hm²·a) (= t/(km²·a) / 100)",
                "area": _AREA,
            },
            "grid": {
                "crs": self.grid.crs.to_string(),
                "res_m": self.grid.res[0],
                "shape": list(self.grid.shape),
                "bounds": list(self.grid.bounds),
            },
            "area_km2_by_grade": dict(self.area_km2_by_grade),
            "area_km2_total": self.area_km2_total,
            "nodata_pixels": self.nodata_pixels,
            "mean_soil_loss_t_km2_a": self.mean_soil_loss_t_km2_a,
            "mean_soil_loss_t_hm2_a": self.mean_soil_loss_t_hm2_a,
            "mean_potential_loss_t_km2_a": self.mean_potential_loss_t_km2_a,
            "total_soil_conservation_t_a": self.total_soil_conservation_t_a,
            "total_soil_loss_t_a": self.total_soil_loss_t_a,
            "ls": dict(self.ls),
            "config": dict(self.config),
            "inputs": dict(self.inputs),
            "provenance": dict(self.provenance),
            "outputs": list(self.outputs),
        }


@dataclass(frozen=True)
class DesertificationResult:
    """A desertification run's figures and records (:func:`run_desertification`).

    Attributes
    ----------
    out_dir : Path
        The folder holding ``fvc.tif``, ``desertification_degree.tif`` and ``summary.json``.
    scheme : str
        ``"WangTao-2003"`` or ``"Chen2019-cover-baresand"``.
    grid : Grid
        The NDVI raster's grid.
    ndvi_endpoints : (float, float)
        NDVI of bare soil and of full cover used for the cover (percent).
    endpoints_given : bool
        Whether they were given, or found over the whole NDVI raster (the reference extent).
    area_km2_by_degree : dict
        Equal-area km² per degree (``"<code> <name_zh> <name_en>"``).
    area_km2_total, nodata_pixels
        Area of the classified pixels (km²) and the number of nodata pixels.
    inputs, provenance : dict
        Every input with its checksum; the tables and parameters used.
    """

    out_dir: Path
    scheme: str
    grid: Grid
    ndvi_endpoints: tuple[float, float]
    endpoints_given: bool
    area_km2_by_degree: Mapping[str, float]
    area_km2_total: float
    nodata_pixels: int
    inputs: Mapping[str, Any]
    provenance: Mapping[str, Any]
    outputs: tuple[str, ...] = ("fvc.tif", "desertification_degree.tif")

    @property
    def reference_extent(self) -> str:
        """Where the NDVI end points were found."""
        return "n/a (given)" if self.endpoints_given else "whole NDVI raster"

    def summary(self) -> dict[str, Any]:
        """The content of ``summary.json``: the figures, the grid, the units and the records."""
        return {
            "kind": "desertification",
            "engine": engine_info(),
            "scheme": self.scheme,
            "units": {"fvc": "%", "area": _AREA},
            "grid": {
                "crs": self.grid.crs.to_string(),
                "res_m": self.grid.res[0],
                "shape": list(self.grid.shape),
            },
            "reference_extent": self.reference_extent,
            "ndvi_endpoints": list(self.ndvi_endpoints),
            "area_km2_by_degree": dict(self.area_km2_by_degree),
            "area_km2_total": self.area_km2_total,
            "nodata_pixels": self.nodata_pixels,
            "inputs": dict(self.inputs),
            "provenance": dict(self.provenance),
            "outputs": list(self.outputs),
        }
