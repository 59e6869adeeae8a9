"""The demo region as the input of a zoning run: its area, its grid size and its analyses.

These are the demo's facts every demo path shares (``geoeco demo``, ``geoeco zone`` without
``--aoi``, the ``zoning`` process without ``aoi`` and ``layers``, the service's demo run):

* :func:`demo_aoi`: the demo region's footprint as an :class:`~geoeco.zoning.aoi.AOI`;
* :func:`demo_resolution`: the pixel size its analyses and its zoning use by default;
* :func:`demo_zoning_inputs`: which of its analysis outputs feed which rule-set input.

Examples
--------
>>> demo_resolution("small"), demo_resolution("full")
(30.0, 90.0)
>>> sorted(demo_zoning_inputs(Path("d")))[:2]
['desertification_degree', 'erosion_grade']
>>> demo_aoi("small").kind
'demo'
"""

from __future__ import annotations

from pathlib import Path

import shapely

from geoeco.catalog.demo_region import DEFAULT_DEMO_SIZE, DEMO_SIZES, Size, demo_grid
from geoeco.core.errors import InvalidInput
from geoeco.core.provenance import Status
from geoeco.zoning.aoi import AOI, make_aoi

#: Status of every layer the demo region feeds a zoning run (it is generated, not observed).
DEMO_STATUS: Status = "synthetic"
#: Restoration target of the demo's zoning [I]: cover 30 % of the candidate area of each
#: degradation signal that makes land key control (methodology §3.5 (a): water erosion and
#: desertification moderate or worse), best-ranked cells first. An illustrative setting so the
#: demo's restoration outputs have content, not a recommendation: no national standard exists.
DEMO_RESTORATION_TARGETS: dict[str, float] = {
    "erosion_moderate_plus": 0.3,
    "desertification_moderate_plus": 0.3,
}
#: The demo region's data source, as a raw inputs folder's ``sources`` list it (attribution).
DEMO_SOURCES: tuple[dict[str, str], ...] = (
    {
        "recipe": "demo",
        "title": "synthetic demo data (geoeco)",
        "licence": "MIT (geoeco)",
        "attribution": "synthetic demo data (geoeco), not of any real place",
        "citation": "geoeco.catalog.demo_region (generated)",
    },
)
#: Prefix of the scratch folders demo builds use inside a run's output folder (hidden,
#: deleted at the end, so a run killed midway leaves them only inside its own staging folder).
SCRATCH_PREFIX = ".geoeco-demo-"


def check_demo_size(size: str) -> Size:
    """``size`` if it is a demo size (:data:`~geoeco.catalog.demo_region.DEMO_SIZES`)."""
    for s in DEMO_SIZES:
        if size == s:
            return s
    raise InvalidInput(f"demo size must be one of {', '.join(DEMO_SIZES)}; got {size!r}")


def demo_resolution(size: str = DEFAULT_DEMO_SIZE) -> float:
    """Pixel size in metres of the demo region's fine grid (its analyses' and zoning's)."""
    return float(abs(demo_grid(check_demo_size(size)).transform.a))


def demo_aoi(size: str = DEFAULT_DEMO_SIZE) -> AOI:
    """The demo region's footprint (its fine grid's bounds) as an area of interest."""
    s = check_demo_size(size)
    g = demo_grid(s)
    return make_aoi(
        shapely.box(*g.bounds), label=f"demo region ({s}, synthetic)", kind="demo", crs=g.crs
    )


def demo_zoning_inputs(folder: Path) -> dict[str, Path]:
    """The demo's analysis outputs in ``folder`` bound to the default rule set's inputs (plus
    the attribute inputs ``soil_loss``, ``fvc`` and ``importance_max``)."""
    ev = folder / "evaluation"
    return {
        "importance_water_conservation": ev / "importance_water_conservation.tif",
        "importance_biodiversity": ev / "importance_biodiversity.tif",
        "importance_soil_conservation": ev / "importance_soil_conservation.tif",
        "importance_windbreak": ev / "importance_windbreak.tif",
        "sensitivity_soil_erosion": ev / "sensitivity_soil_erosion.tif",
        "sensitivity_sanding": ev / "sensitivity_sanding.tif",
        "erosion_grade": folder / "erosion" / "erosion_grade.tif",
        "desertification_degree": folder / "desertification" / "desertification_degree.tif",
        "soil_loss": folder / "erosion" / "soil_loss.tif",
        "fvc": folder / "desertification" / "fvc.tif",
        "importance_max": ev / "importance_max.tif",
    }


def has_demo_analyses(folder: Path) -> bool:
    """Whether ``folder`` holds every analysis output :func:`demo_zoning_inputs` names."""
    return all(p.is_file() for p in demo_zoning_inputs(folder).values())


__all__ = [
    "DEMO_RESTORATION_TARGETS",
    "DEMO_SOURCES",
    "DEMO_STATUS",
    "SCRATCH_PREFIX",
    "check_demo_size",
    "demo_aoi",
    "demo_resolution",
    "demo_zoning_inputs",
    "has_demo_analyses",
]
