"""Recipes: what one public input is and how to read it, declared in one TOML file per source.

A recipe says which catalog (by name) and collection hold the data, which asset and how its
stored numbers become physical values (dtype, scale, offset, fill values, valid range, units),
how to resample it (continuous or categorical), which items a chosen year uses (the temporal
rule), the licence and attribution, and for every fact where it came from (``source`` notes;
the tags [V] seen, [I] inferred, [R] from the literature, as in the issue-17 research notes).

The files are ``geoeco/data/recipes/*.toml``. A file describes one source; its top-level keys
are shared by every layer and each ``[layers.<name>]`` table adds or overrides keys (deeply),
giving one :class:`Recipe` per layer with id ``<name>.<layer>`` (e.g. ``modis-13q1.ndvi``).

Examples
--------
>>> r = get_recipe("modis-13q1.ndvi")
>>> r.collection, r.assets["value"].key, r.assets["value"].scale
('modis-13Q1-061', '250m_16_days_NDVI', 0.0001)
>>> r.temporal.kind, r.temporal.composite
('season', 'max')
>>> r.decode_note()
'raw int16 × 0.0001 + 0.0 → NDVI; fill -3000; valid -2000…10000'
>>> sorted({x.reader for x in load_recipes().values()})
['derived', 'gdal-vrt', 'stac-cog', 'xarray-zarr']
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from datetime import date
from functools import cache
from importlib import resources
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from geoeco.core.errors import LayerNotFound, ManifestError

Reader = Literal["stac-cog", "gdal-vrt", "xarray-zarr", "derived"]
ResamplingKind = Literal["continuous", "categorical"]
Note = Annotated[str, Field(min_length=3)]

_FROZEN = ConfigDict(frozen=True, extra="forbid")


class AssetSpec(BaseModel):
    """One stored array: where it is and how raw numbers become values.

    ``value = raw × scale + offset`` in ``units``; raw values in ``nodata`` or outside
    ``[valid_min, valid_max]`` (raw units) are missing.
    """

    model_config = _FROZEN

    key: str = Field(min_length=1)
    dtype: str
    scale: float = 1.0
    offset: float = 0.0
    nodata: tuple[float, ...] = ()
    valid_min: float | None = None
    valid_max: float | None = None
    units: str
    source: Note


class QaRule(BaseModel):
    """Keep a pixel only where the QA asset (a role of ``assets``) holds one of ``keep``."""

    model_config = _FROZEN

    asset: str
    keep: tuple[int, ...] = Field(min_length=1)
    source: Note


class BaselineOffset(BaseModel):
    """An offset added to raw numbers when an item property reaches a version (Sentinel-2).

    Applies when ``float(item.properties[property]) >= float(from_value)``.
    """

    model_config = _FROZEN

    property: str
    from_value: str
    offset: float
    source: Note


class Conversion(BaseModel):
    """Unit conversion applied by geoeco after decoding: ``value × factor`` in ``units``."""

    model_config = _FROZEN

    factor: float
    units: str
    source: Note


class Depth(BaseModel):
    """A soil depth interval (cm) whose layer is named ``name`` in the path template."""

    model_config = _FROZEN

    name: str
    top_cm: float = Field(ge=0)
    bottom_cm: float = Field(gt=0)


class StaticRule(BaseModel):
    """Static data: every item that covers the area, whatever its date."""

    model_config = _FROZEN
    kind: Literal["static"]
    source: Note


class SeasonRule(BaseModel):
    """Items starting inside ``[Y-start, Y-end]`` (``MM-DD``), composited per pixel.

    ``platform`` is matched against the item's ``platform`` property when it has one, and
    ``id_prefix`` against its id; ``max_cloud_cover`` against ``eo:cloud_cover``.
    """

    model_config = _FROZEN
    kind: Literal["season"]
    start: str = Field(pattern=r"^\d\d-\d\d$")
    end: str = Field(pattern=r"^\d\d-\d\d$")
    platform: str | None = None
    id_prefix: str | None = None
    max_cloud_cover: float | None = None
    composite: Literal["max", "mean"] = "max"
    source: Note

    def window(self, year: int) -> tuple[date, date]:
        """First and last day of the season of ``year``."""
        sm, sd = (int(x) for x in self.start.split("-"))
        em, ed = (int(x) for x in self.end.split("-"))
        return date(year, sm, sd), date(year, em, ed)


class YearlyRule(BaseModel):
    """The one item per tile whose start date falls in year Y (MOD17A3HGF ``A{Y}001``)."""

    model_config = _FROZEN
    kind: Literal["yearly"]
    platform: str | None = None
    id_prefix: str | None = None
    source: Note


class Edition(BaseModel):
    """Years up to ``until_year`` (None: any later year) use the ``item_year`` edition."""

    model_config = _FROZEN
    until_year: int | None = None
    item_year: int
    version: str


class EditionsRule(BaseModel):
    """Fixed editions of a product chosen by year (ESA WorldCover 2020 v100 / 2021 v200)."""

    model_config = _FROZEN
    kind: Literal["editions"]
    editions: tuple[Edition, ...] = Field(min_length=1)
    source: Note

    def edition(self, year: int) -> Edition:
        """The edition a year uses: the first whose ``until_year`` is ≥ ``year`` (or None)."""
        for ed in self.editions:
            if ed.until_year is None or year <= ed.until_year:
                return ed
        return self.editions[-1]


class MonthlyRule(BaseModel):
    """Monthly fields of year Y (``months``) and of Y-1 (``previous_year_months``)."""

    model_config = _FROZEN
    kind: Literal["monthly"]
    months: tuple[int, ...] = tuple(range(1, 13))
    previous_year_months: tuple[int, ...] = ()
    source: Note

    def month_list(self, year: int) -> tuple[tuple[int, int], ...]:
        """``(year, month)`` pairs in time order.

        >>> MonthlyRule(kind="monthly", months=(1, 2), previous_year_months=(12,),
        ...             source="doc").month_list(2021)
        ((2020, 12), (2021, 1), (2021, 2))
        """
        prev = tuple((year - 1, m) for m in sorted(self.previous_year_months))
        return prev + tuple((year, m) for m in sorted(self.months))


TemporalRule = Annotated[
    StaticRule | SeasonRule | YearlyRule | EditionsRule | MonthlyRule,
    Field(discriminator="kind"),
]


class Derivation(BaseModel):
    """A layer computed from another recipe's fetched values by a published method.

    ``weibull-wind-days``: days per period with daily wind ≥ ``threshold`` from monthly mean
    wind, assuming a Weibull distribution of daily means with shape ``k`` (tag [R]).
    """

    model_config = _FROZEN

    method: Literal["weibull-wind-days"]
    from_recipe: str
    k: float = Field(gt=0)
    threshold: float = Field(gt=0)
    source: Note


#: Facts every recipe must cite (plus ``collection``/``store_asset`` when set).
_CITED = ("catalog", "licence", "attribution", "resampling")


class Recipe(BaseModel):
    """One fetchable input layer (see the module docstring)."""

    model_config = _FROZEN

    id: str = Field(pattern=r"^[a-z0-9\-]+\.[a-z0-9_\-]+$")
    title: str
    version: str = Field(min_length=1)
    reader: Reader
    catalog: str
    collection: str | None = None
    store_asset: str | None = None
    product: Literal["value", "ndvi"] = "value"
    assets: dict[str, AssetSpec] = Field(default_factory=dict)
    qa: QaRule | None = None
    baseline_offset: BaselineOffset | None = None
    convert: Conversion | None = None
    depths: tuple[Depth, ...] = ()
    resampling: ResamplingKind
    temporal: TemporalRule
    derive: Derivation | None = None
    tag: Literal["V", "I", "R"] = "V"
    licence: str
    attribution: str
    citation: str = ""
    sources: dict[str, Note]

    @model_validator(mode="after")
    def _consistent(self) -> Recipe:
        cited = set(_CITED) | {k for k in ("collection", "store_asset") if getattr(self, k)}
        missing = sorted(cited - set(self.sources))
        if missing:
            raise ValueError(f"facts without a source note: {', '.join(missing)}")
        need = {"ndvi": {"red", "nir"}, "value": {"value"}}[self.product]
        if self.reader != "derived" and not need <= set(self.assets):
            raise ValueError(f"{self.reader} with product {self.product} needs assets {need}")
        if self.qa is not None and self.qa.asset not in self.assets:
            raise ValueError(f"qa asset role {self.qa.asset!r} is not in assets")
        if self.reader in ("stac-cog", "xarray-zarr") and not self.collection:
            raise ValueError(f"reader {self.reader} needs a collection")
        if self.reader == "xarray-zarr" and not self.store_asset:
            raise ValueError("reader xarray-zarr needs store_asset (the collection's Zarr asset)")
        if (self.reader == "derived") != (self.derive is not None):
            raise ValueError("reader 'derived' and a [derive] table go together")
        if self.depths and self.reader != "gdal-vrt":
            raise ValueError("depths are only for gdal-vrt path templates")
        return self

    @property
    def units(self) -> str:
        """Units of the fetched values (after any :class:`Conversion`)."""
        if self.convert is not None:
            return self.convert.units
        if self.product == "ndvi":
            return "NDVI"
        if self.derive is not None:
            return "days"
        return self.assets["value"].units

    def decode_note(self) -> str:
        """One line saying how raw numbers become values (for manifests)."""
        a = self.assets["value" if "value" in self.assets else "red"]
        fills = ", ".join(f"{v:g}" for v in a.nodata) or "none"
        valid = f"{a.valid_min:g}…{a.valid_max:g}" if a.valid_min is not None else "any"
        conv = f" × {self.convert.factor:g} → {self.convert.units}" if self.convert else ""
        return (
            f"raw {a.dtype} × {a.scale:g} + {a.offset} → {a.units}{conv}; fill {fills}; "
            f"valid {valid}"
        )


def _merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """Deep merge of two TOML tables (``over`` wins; tables merge, other values replace)."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def recipes_from_toml(text: str, *, what: str) -> dict[str, Recipe]:
    """Parse one source file (``what`` names it in errors) into its recipes by id."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ManifestError(f"{what}: not TOML ({exc})") from exc
    name = raw.pop("name", None)
    layers = raw.pop("layers", None)
    if not isinstance(name, str) or not isinstance(layers, dict) or not layers:
        raise ManifestError(f"{what}: needs a 'name' and at least one [layers.<name>] table")
    out: dict[str, Recipe] = {}
    for layer, body in layers.items():
        rid = f"{name}.{layer}"
        try:
            out[rid] = Recipe.model_validate({"id": rid, **_merge(raw, body)})
        except ValidationError as exc:
            raise ManifestError(f"{what}: recipe {rid!r}: {exc}") from exc
    return out


@cache
def load_recipes() -> dict[str, Recipe]:
    """Every built-in recipe (``geoeco/data/recipes/*.toml``) by id."""
    folder = resources.files("geoeco.data").joinpath("recipes")
    out: dict[str, Recipe] = {}
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".toml"):
            out.update(recipes_from_toml(entry.read_text(encoding="utf-8"), what=entry.name))
    for rid, recipe in out.items():
        if recipe.derive is not None and recipe.derive.from_recipe not in out:
            base = recipe.derive.from_recipe
            raise ManifestError(f"recipe {rid!r} derives from unknown recipe {base!r}")
    return out


def get_recipe(recipe_id: str) -> Recipe:
    """The built-in recipe ``recipe_id`` or :class:`LayerNotFound` listing the known ones."""
    recipes = load_recipes()
    if recipe_id not in recipes:
        raise LayerNotFound(f"unknown input recipe {recipe_id!r}; known: {', '.join(recipes)}")
    return recipes[recipe_id]


__all__ = [
    "AssetSpec",
    "BaselineOffset",
    "Conversion",
    "Depth",
    "Derivation",
    "Edition",
    "EditionsRule",
    "MonthlyRule",
    "QaRule",
    "Recipe",
    "SeasonRule",
    "StaticRule",
    "TemporalRule",
    "YearlyRule",
    "get_recipe",
    "load_recipes",
    "recipes_from_toml",
]
