"""Response models shared by the Python API, the CLI and the HTTP service.

Every query answer of :mod:`geoeco.query.point` and :mod:`geoeco.query.screening` is one of these
frozen
pydantic models, so the three front ends return the same JSON (``model.model_dump(mode="json")``)
and the HTTP layer can publish their JSON schema. Areas are km² on the equal-area
:data:`~geoeco.core.crs.ALBERS_CHINA` projection, distances km on the same projection (its scale
error is below 1 % inside China), coordinates WGS 84 / CGCS2000 longitude-latitude.

Examples
--------
>>> v = VerdictPart(scope="general", verdict="allowed", reason_en="basic requirements")
>>> v.model_dump()["verdict"]
'allowed'
>>> worst_verdict(["allowed", "restricted", "conditional"])
'restricted'
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Verdict = Literal["allowed", "conditional", "restricted", "forbidden"]
#: Verdicts from least to most severe.
VERDICT_ORDER: tuple[Verdict, ...] = ("allowed", "conditional", "restricted", "forbidden")
Scope = Literal["redline", "national_park", "priority", "key", "general"]
#: How a site's overlaps are measured: area (km²) of an areal site, length (km) of a line,
#: number of points of a point site.
Measure = Literal["area_km2", "length_km", "points"]
Tag = Literal["V", "R", "I"]


def worst_verdict(verdicts: Iterable[str]) -> Verdict | None:
    """The most severe of ``verdicts`` (``None`` for none)."""
    ranks = [VERDICT_ORDER.index(v) for v in verdicts]
    return VERDICT_ORDER[max(ranks)] if ranks else None


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class LayerValue(_Model):
    """The value of one raster layer at a point, with its class names for class rasters."""

    layer: str
    value: float | None = None
    units: str | None = None
    class_code: int | None = None
    class_zh: str | None = None
    class_en: str | None = None
    class_table: str | None = None


class AccessItem(_Model):
    """One dimension of a unit's access list (生态环境准入清单)."""

    dimension: str
    field: str
    name_zh: str
    name_en: str
    text_zh: str
    text_en: str


class UnitInfo(_Model):
    """A control unit (环境管控单元) and its access list."""

    code: str
    unit_class: int
    class_zh: str
    class_en: str
    county_code: str | None = None
    county_name: str | None = None
    area_km2: float | None = None
    redline_share: float | None = None
    access: list[AccessItem] = []
    access_addons: list[str] = []
    depends_on_approximation: bool = False
    approximation_layers: list[str] = []


class RedlineStatus(_Model):
    """Whether a place lies in the ecological protection red line, and why (LXBM type)."""

    inside: bool
    lxbm: int | None = None
    type_zh: str | None = None
    type_en: str | None = None
    reason_zh: str | None = None
    reason_en: str | None = None


class FeatureRef(_Model):
    """A feature of a layer (park, battle area, unit ...) related to a place."""

    layer: str
    id: str
    name_zh: str | None = None
    name_en: str | None = None
    status: str | None = None
    distance_km: float | None = None
    inside: bool = False


class PointResult(_Model):
    """Answer of :func:`geoeco.query.point.lookup_point`."""

    lon: float
    lat: float
    input_crs: str = "wgs84"
    inside_analysed_area: bool
    message: str | None = None
    unit: UnitInfo | None = None
    redline: RedlineStatus | None = None
    national_park: FeatureRef | None = None
    battle: FeatureRef | None = None
    nearest_national_park: FeatureRef | None = None
    layers: list[LayerValue] = []
    notes: list[str] = []


class Overlap(_Model):
    """How much of a site lies in one feature or class.

    ``measure`` says what was measured: ``area_km2`` for areal sites, ``length_km`` for
    lines, ``points`` (a count) for points; ``share`` is the fraction of the site's total.
    """

    key: str
    name_zh: str | None = None
    name_en: str | None = None
    measure: Measure = "area_km2"
    amount: float
    share: float
    extra: dict[str, Any] = {}


class ClassArea(_Model):
    """One bin of a class histogram: coverage-weighted pixel count, area and share.

    ``share`` is the fraction of the *valid* covered pixels (nodata excluded), so shares sum
    to 1 whenever any valid pixel is covered; ``area_km2`` is absolute.
    """

    code: int
    name_zh: str | None = None
    name_en: str | None = None
    pixels: float
    area_km2: float
    share: float


class ZonalStat(_Model):
    """Coverage-fraction zonal statistics of one raster over a geometry (exactextract)."""

    layer: str
    units: str | None = None
    class_table: str | None = None
    count: float = Field(description="valid pixels weighted by the covered fraction")
    area_km2: float = 0.0
    sum: float | None = None
    mean: float | None = None
    min: float | None = None
    max: float | None = None
    histogram: list[ClassArea] | None = None


class ProximityItem(_Model):
    """A feature within the buffer of a site, with its distance (IBAT-style proximity)."""

    layer: str
    id: str
    name_zh: str | None = None
    name_en: str | None = None
    distance_km: float
    overlaps_site: bool


class VerdictPart(_Model):
    """The rule for one scope (red line, park or unit class) a site touches."""

    scope: Scope
    verdict: Verdict
    reason_zh: str = ""
    reason_en: str = ""
    tag: Tag = "I"
    source: str = ""
    units: list[str] = []
    access_zh: str = ""
    access_en: str = ""


class ProjectVerdict(_Model):
    """Compliance verdict for one project type: the most severe of its parts."""

    project_type: str
    name_zh: str
    name_en: str
    verdict: Verdict | None
    parts: list[VerdictPart] = []
    note: str | None = None


class SiteInfo(_Model):
    """The screened site as understood: geometry (WGS 84 GeoJSON), size and input notes."""

    geometry: dict[str, Any]
    geometry_type: str
    area_km2: float
    length_km: float
    buffer_m: float
    input_crs: str
    notes: list[str] = []


class MapData(_Model):
    """GeoJSON (WGS 84) of what a report map draws: site, buffer, nearby units, red line."""

    bbox: tuple[float, float, float, float]
    site: dict[str, Any]
    buffer: dict[str, Any] | None = None
    units: dict[str, Any]
    redline: dict[str, Any] | None = None


class ScreeningResult(_Model):
    """Answer of :func:`geoeco.query.screening.screen_site`."""

    site_id: str | None = None
    site: SiteInfo
    run: dict[str, Any] = {}
    inside_analysed_area: bool
    outside_share: float
    by_class: list[Overlap] = []
    by_unit: list[Overlap] = []
    redline: list[Overlap] = []
    national_parks: list[Overlap] = []
    battles: list[Overlap] = []
    zonal: list[ZonalStat] = []
    proximity: list[ProximityItem] = []
    verdicts: list[ProjectVerdict] = []
    notes: list[str] = []
    map: MapData | None = None


class FeaturePage(_Model):
    """A page of GeoJSON features in a bounding box (OGC API Features style paging)."""

    type: Literal["FeatureCollection"] = "FeatureCollection"
    layer: str
    bbox: tuple[float, float, float, float]
    features: list[dict[str, Any]]
    number_matched: int
    number_returned: int
    limit: int
    offset: int


__all__ = [
    "VERDICT_ORDER",
    "AccessItem",
    "ClassArea",
    "FeaturePage",
    "FeatureRef",
    "LayerValue",
    "MapData",
    "Overlap",
    "PointResult",
    "ProjectVerdict",
    "ProximityItem",
    "RedlineStatus",
    "ScreeningResult",
    "SiteInfo",
    "UnitInfo",
    "Verdict",
    "VerdictPart",
    "ZonalStat",
    "worst_verdict",
]
