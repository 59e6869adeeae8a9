"""Access lists (生态环境准入清单) of control units, and the 三线一单 field export.

An access list gives a control unit its requirements in four dimensions (methodology §4.2):

======================  ==========  ==============================
dimension (units col.)  field       name
======================  ==========  ==============================
``spatial_layout``      KJBJYS      空间布局约束 spatial layout constraints
``pollutant_discharge`` PWWPFGK     污染物排放管控 pollutant discharge control
``environmental_risk``  HJFXFK      环境风险防控 environmental-risk prevention
``resource_efficiency`` ZYKFXLYQ    资源开发效率要求 resource-use efficiency
======================  ==========  ==============================

The texts are editable templates (``geoeco/data/access_lists.toml``, or a user file of the same
shape): one text per class (priority / key / general) and dimension, in Chinese and English,
plus *add-ons* (red line, national park, severe erosion, severe desertification, landmark
battle) appended when a unit's share of that driver passes a threshold.

:func:`to_sxyd_fields` renames and selects unit columns into the 三线一单 attribute model
(``HJZHGKDYBM`` code, ``HJZHGKDYMC`` name, ``ZHGKDYFL`` class 1/2/3, ``PROV``/``CITY``/``AREA``,
the four list fields, ``REMARK``); :func:`write_sxyd` writes it as GeoPackage or Shapefile in
CGCS2000 geographic (EPSG:4490) or 3-degree Gauss–Krüger coordinates.

Examples
--------
>>> lists = load_access_lists()
>>> lists.text(1, "spatial_layout", "zh")[:15]
'以生态保护为主，禁止或严格限制'
>>> [d.field for d in DIMENSIONS]
['KJBJYS', 'PWWPFGK', 'HJFXFK', 'ZYKFXLYQ']
"""

from __future__ import annotations

import os
import tomllib
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from geoeco.core.crs import ALBERS_CHINA, CGCS2000, gk_zone_epsg
from geoeco.core.errors import GeoecoWarning, InvalidInput, ManifestError
from geoeco.core.io import read_toml, write_vector

Lang = Literal["zh", "en"]


@dataclass(frozen=True)
class Dimension:
    """One dimension of the access list: units column stem, 三线一单 field and names."""

    key: str
    field: str
    zh: str
    en: str


DIMENSIONS: tuple[Dimension, ...] = (
    Dimension("spatial_layout", "KJBJYS", "空间布局约束", "spatial layout constraints"),
    Dimension("pollutant_discharge", "PWWPFGK", "污染物排放管控", "pollutant discharge control"),
    Dimension("environmental_risk", "HJFXFK", "环境风险防控", "environmental-risk prevention"),
    Dimension("resource_efficiency", "ZYKFXLYQ", "资源开发效率要求", "resource-use efficiency"),
)
#: Unit class code (ZHGKDYFL) to the template section name.
CLASS_KEYS: dict[int, str] = {1: "priority", 2: "key", 3: "general"}
CLASS_NAMES: dict[int, tuple[str, str]] = {
    1: ("优先保护", "priority protection"),
    2: ("重点管控", "key control"),
    3: ("一般管控", "general control"),
}
#: The 三线一单 composite-unit fields written by :func:`to_sxyd_fields` (methodology §4.2).
SXYD_FIELDS: tuple[str, ...] = (
    "HJZHGKDYBM",
    "HJZHGKDYMC",
    "ZHGKDYFL",
    "PROV",
    "CITY",
    "AREA",
    "KJBJYS",
    "PWWPFGK",
    "HJFXFK",
    "ZYKFXLYQ",
    "REMARK",
)
SHP_TEXT_BYTES = 254
_ELLIPSIS = "…"
_DIM_KEYS = tuple(d.key for d in DIMENSIONS)


def access_columns() -> list[str]:
    """Names of the access-list columns :func:`assign_access` adds (dimension × language).

    >>> access_columns()[:2]
    ['spatial_layout_zh', 'spatial_layout_en']
    """
    return [f"{d.key}_{lang}" for d in DIMENSIONS for lang in ("zh", "en")]


# --------------------------------------------------------------------------- templates


class _Text(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    zh: str = Field(min_length=1)
    en: str = Field(min_length=1)


class _ClassTexts(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    spatial_layout: _Text
    pollutant_discharge: _Text
    environmental_risk: _Text
    resource_efficiency: _Text


class _Classes(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    priority: _ClassTexts
    key: _ClassTexts
    general: _ClassTexts


class Addon(BaseModel):
    """Text appended to units of ``classes`` whose ``columns`` sum to more than ``share_above``."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str = Field(min_length=1)
    name_zh: str
    name_en: str
    classes: tuple[int, ...] = (1, 2, 3)
    columns: tuple[str, ...] = Field(min_length=1)
    share_above: float = Field(ge=0.0, lt=1.0)
    spatial_layout: _Text | None = None
    pollutant_discharge: _Text | None = None
    environmental_risk: _Text | None = None
    resource_efficiency: _Text | None = None

    @field_validator("classes")
    @classmethod
    def _classes_ok(cls, v: tuple[int, ...]) -> tuple[int, ...]:
        if not v or any(c not in CLASS_KEYS for c in v):
            raise ValueError(f"classes must be a non-empty subset of 1, 2, 3, got {list(v)}")
        return v

    def applies(self, units: pd.DataFrame) -> np.ndarray:
        """Boolean per row of ``units``: class listed and summed shares above the threshold."""
        total = np.zeros(len(units))
        for c in self.columns:
            if c in units.columns:
                total += units[c].fillna(0.0).to_numpy(dtype="float64")
        return units["unit_class"].isin(self.classes).to_numpy() & (total > self.share_above)


class AccessLists(BaseModel):
    """Parsed access-list templates: texts per class and dimension, and the add-ons."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
    version: str
    name: str = ""
    classes: _Classes = Field(alias="class")
    addon: tuple[Addon, ...] = ()

    @field_validator("addon")
    @classmethod
    def _unique_ids(cls, v: tuple[Addon, ...]) -> tuple[Addon, ...]:
        ids = [a.id for a in v]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            raise ValueError(f"add-on ids must be unique, repeated: {', '.join(dup)}")
        return v

    def text(self, unit_class: int, dimension: str, lang: Lang = "zh") -> str:
        """The class template text of one dimension (without add-ons)."""
        if unit_class not in CLASS_KEYS:
            raise InvalidInput(f"unit class must be 1, 2 or 3, got {unit_class!r}")
        if dimension not in _DIM_KEYS:
            raise InvalidInput(
                f"dimension must be one of {', '.join(_DIM_KEYS)}, got {dimension!r}"
            )
        texts = getattr(self.classes, CLASS_KEYS[unit_class])
        return str(getattr(getattr(texts, dimension), lang))


def _parse(data: Mapping[str, Any], what: str) -> AccessLists:
    try:
        return AccessLists.model_validate(dict(data))
    except ValidationError as exc:
        raise ManifestError(f"{what}: invalid access lists: {exc}") from None


@lru_cache(maxsize=1)
def _builtin() -> AccessLists:
    text = files("geoeco").joinpath("data/access_lists.toml").read_text(encoding="utf-8")
    return _parse(tomllib.loads(text), "built-in access_lists.toml")


def load_access_lists(
    path: str | os.PathLike[str] | Mapping[str, Any] | None = None,
) -> AccessLists:
    """Access-list templates: the built-in ones, or a user TOML file (or dict) of the same shape.

    >>> lists = load_access_lists()
    >>> [a.id for a in lists.addon]
    ['redline', 'park', 'erosion', 'desertification', 'battle']
    """
    if path is None:
        return _builtin()
    if isinstance(path, Mapping):
        return _parse(path, "user access lists")
    p = Path(path)
    data = read_toml(p, what="access lists")
    return _parse(data, p.name)


def assign_access(units: pd.DataFrame, lists: AccessLists | None = None) -> pd.DataFrame:
    """Copy of ``units`` with the access-list columns and ``access_addons`` (add-on ids).

    Needs a ``unit_class`` column (1/2/3); add-on conditions read share columns such as
    ``redline_share``. Texts are the class text followed by each applying add-on's text.

    >>> df = pd.DataFrame({"unit_class": [1, 3], "redline_share": [0.5, 0.0]})
    >>> out = assign_access(df)
    >>> out["access_addons"].tolist()
    ['redline', '']
    >>> "生态保护红线" in out.loc[0, "spatial_layout_zh"]
    True
    >>> "red line" in out.loc[1, "spatial_layout_en"]
    False
    """
    lists = lists or _builtin()
    if "unit_class" not in units.columns:
        raise InvalidInput("units need a 'unit_class' column (1, 2 or 3)")
    cls = units["unit_class"].to_numpy()
    bad = ~np.isin(cls, list(CLASS_KEYS))
    if bad.any():
        raise InvalidInput(f"unit_class must be 1, 2 or 3, found {sorted(set(cls[bad].tolist()))}")
    flags = np.column_stack([a.applies(units) for a in lists.addon] or [np.zeros(len(units), bool)])
    sig = [tuple(row) for row in flags[:, : len(lists.addon)].tolist()]
    cache: dict[tuple[int, tuple[bool, ...]], list[str]] = {}
    rows: list[list[str]] = []
    for c, s in zip(cls.tolist(), sig, strict=True):
        key = (int(c), s)
        if key not in cache:
            cache[key] = _compose(
                lists, int(c), [a for a, f in zip(lists.addon, s, strict=True) if f]
            )
        rows.append(cache[key])
    out = units.copy()
    cols = access_columns() + ["access_addons"]
    block = pd.DataFrame(rows, columns=cols, index=units.index, dtype=object)
    for col in cols:
        out[col] = block[col]
    return out


#: The texts of each language, and what joins a class text and its add-ons' texts.
_LANG_SEPARATORS: tuple[tuple[Lang, str], ...] = (("zh", ""), ("en", " "))


def _compose(lists: AccessLists, unit_class: int, addons: list[Addon]) -> list[str]:
    out: list[str] = []
    for d in DIMENSIONS:
        for lang, sep in _LANG_SEPARATORS:
            parts = [lists.text(unit_class, d.key, lang)]
            for a in addons:
                t = getattr(a, d.key)
                if t is not None:
                    parts.append(getattr(t, lang))
            out.append(sep.join(parts))
    out.append(",".join(a.id for a in addons))
    return out


# --------------------------------------------------------------------------- 三线一单 export


def _admin_lookup(
    units: pd.DataFrame, admin_names: Mapping[str, str] | Literal["builtin"] | None
) -> tuple[pd.Series, pd.Series]:
    prov = units["province_code"].astype(str)
    city = units["city_code"].astype(str)
    if admin_names is None:
        p = units["province_name"] if "province_name" in units.columns else prov
        c = units["city_name"] if "city_name" in units.columns else city
        return p.fillna(prov), c.fillna(city)
    if isinstance(admin_names, str):
        if admin_names != "builtin":
            raise InvalidInput(f"admin_names must be a mapping or 'builtin', got {admin_names!r}")
        from geoeco.catalog.admin import AdminLevel, admin_units

        names: dict[str, str] = {}
        levels: tuple[AdminLevel, ...] = ("province", "city")
        for level in levels:
            a = admin_units(level)
            a = a[a["code"].notna()]
            names.update(dict(zip(a["code"].astype(str), a["name"].astype(str), strict=True)))
        admin_names = names
    return prov.map(lambda k: admin_names.get(k, k)), city.map(lambda k: admin_names.get(k, k))


def _remark(units: pd.DataFrame, lang: Lang) -> list[str]:
    out = []
    share = units["redline_share"] if "redline_share" in units.columns else None
    for i, (_, r) in enumerate(units.iterrows()):
        rl = float(share.iloc[i]) if share is not None else 0.0
        if lang == "zh":
            s = f"{CLASS_NAMES[int(r['unit_class'])][0]}单元"
            if rl > 0:
                s += f"；生态保护红线占{rl:.1%}"
            s += f"；面积{r['area_gk_km2']:.4f}km²（EPSG:{int(r['gk_epsg'])}高斯-克吕格平面面积）"
        else:
            s = f"{CLASS_NAMES[int(r['unit_class'])][1]} unit"
            if rl > 0:
                s += f"; red line {rl:.1%}"
            s += (
                f"; area {r['area_gk_km2']:.4f} km2 (Gauss-Kruger planar, EPSG:{int(r['gk_epsg'])})"
            )
        out.append(s)
    return out


def to_sxyd_fields(
    units: Any,
    *,
    lang: Lang = "zh",
    admin_names: Mapping[str, str] | Literal["builtin"] | None = None,
    include_area: bool = False,
) -> Any:
    """The units as a 三线一单 composite-unit table: fields :data:`SXYD_FIELDS` + geometry.

    ``HJZHGKDYBM`` = ``code``; ``HJZHGKDYMC`` = ``name_zh`` (or ``name_en``); ``ZHGKDYFL`` =
    ``unit_class``; ``PROV``/``CITY`` = province and prefecture names from ``admin_names`` (a
    code→name mapping, or ``"builtin"`` for the Tianditu boundaries of :mod:`geoeco.catalog.admin`),
    else from ``province_name``/``city_name`` columns, else their codes; ``AREA`` = county name;
    the four list fields from the ``<dimension>_<lang>`` columns; ``REMARK`` = class, red-line
    share and the official (Gauss–Krüger) area. ``include_area=True`` adds ``MJ`` (official area,
    km²), which the verified field model does not list. CRS is unchanged.

    >>> import geopandas as gpd
    >>> from shapely import box
    >>> u = gpd.GeoDataFrame({"code": ["ZH15082210001"], "name_zh": ["磴口县优先保护单元1"],
    ...     "unit_class": [1], "county_code": ["150822"], "county_name": ["磴口县"],
    ...     "province_code": ["150000"], "city_code": ["150800"], "redline_share": [1.0],
    ...     "area_gk_km2": [1.0], "gk_epsg": [4535]}, geometry=[box(0, 0, 1000, 1000)])
    >>> s = to_sxyd_fields(assign_access(u), admin_names={"150000": "内蒙古自治区"})
    >>> s[["HJZHGKDYBM", "HJZHGKDYMC", "PROV", "CITY", "AREA"]].iloc[0].tolist()
    ['ZH15082210001', '磴口县优先保护单元1', '内蒙古自治区', '150800', '磴口县']
    """
    import geopandas as gpd

    need = ["code", f"name_{lang}", "unit_class", "county_name", "province_code", "city_code"]
    need += [f"{d.key}_{lang}" for d in DIMENSIONS] + ["area_gk_km2", "gk_epsg"]
    missing = [c for c in need if c not in units.columns]
    if missing:
        raise InvalidInput(
            "units lack columns for the 三线一单 export: "
            + ", ".join(missing)
            + " (build them with geoeco.zoning.units.build.build_units)"
        )
    prov, city = _admin_lookup(units, admin_names)
    data: dict[str, Any] = {
        "HJZHGKDYBM": units["code"].astype(str).to_numpy(),
        "HJZHGKDYMC": units[f"name_{lang}"].astype(str).to_numpy(),
        "ZHGKDYFL": units["unit_class"].astype("int32").to_numpy(),
        "PROV": prov.astype(str).to_numpy(),
        "CITY": city.astype(str).to_numpy(),
        "AREA": units["county_name"].astype(str).to_numpy(),
    }
    for d in DIMENSIONS:
        data[d.field] = units[f"{d.key}_{lang}"].astype(str).to_numpy()
    data["REMARK"] = _remark(units, lang)
    if include_area:
        data["MJ"] = units["area_gk_km2"].astype(float).to_numpy()
    return gpd.GeoDataFrame(data, geometry=units.geometry.to_numpy(), crs=units.crs)


def truncate_utf8(text: str, max_bytes: int = SHP_TEXT_BYTES) -> tuple[str, bool]:
    """``text`` cut to at most ``max_bytes`` UTF-8 bytes on a character boundary, ending in "…".

    >>> truncate_utf8("生态保护红线", 10)
    ('生态…', True)
    >>> truncate_utf8("abc", 10)
    ('abc', False)
    """
    raw = text.encode("utf-8")
    if len(raw) <= max_bytes:
        return text, False
    keep = raw[: max_bytes - len(_ELLIPSIS.encode("utf-8"))].decode("utf-8", errors="ignore")
    return keep + _ELLIPSIS, True


def _export_crs(gdf: Any, crs: Literal["cgcs2000", "gk"] | int) -> int:
    if crs == "cgcs2000" or crs == 4490:
        return 4490
    if crs == "gk":
        proj = gdf.geometry.to_crs(ALBERS_CHINA) if gdf.crs.is_geographic else gdf.geometry
        lon = proj.centroid.to_crs(CGCS2000).x.to_numpy()
        w, _, e, _ = gdf.geometry.to_crs(CGCS2000).total_bounds
        epsg = gk_zone_epsg(float((w + e) / 2))
        zones = sorted({gk_zone_epsg(float(x)) for x in lon})
        if len(zones) > 1:
            warnings.warn(
                f"units span Gauss–Krüger zones {zones}; writing all in EPSG:{epsg} "
                "(the zone of the centre of their extent); each unit's official area still "
                "uses its own zone",
                GeoecoWarning,
                stacklevel=3,
            )
        return epsg
    if isinstance(crs, int) and 4534 <= crs <= 4554:
        return crs
    raise InvalidInput(
        f"crs must be 'cgcs2000', 'gk' or a CGCS2000 3-degree GK EPSG code 4534–4554, got {crs!r}"
    )


def to_output_crs(units: Any, crs: Literal["cgcs2000", "gk"] | int = "cgcs2000") -> Any:
    """``units`` reprojected for delivery: CGCS2000 geographic or a 3-degree Gauss–Krüger zone.

    ``crs`` as in :func:`write_sxyd`. Long straight edges are densified to 1 km steps first so
    they follow the projection change.

    >>> import geopandas as gpd
    >>> from shapely import box
    >>> u = gpd.GeoDataFrame(geometry=[box(0, 4e6, 100, 4.0001e6)], crs=ALBERS_CHINA)
    >>> to_output_crs(u, "gk").crs.to_epsg()   # 105°E, the central meridian of EPSG:4544
    4544
    """
    if units.crs is None:
        raise InvalidInput(
            "units have no CRS; build them with geoeco.zoning.units.build.build_units"
        )
    epsg = _export_crs(units, crs)
    out = units
    if not units.crs.is_geographic:
        out = units.set_geometry(units.geometry.segmentize(1000.0))
    return out.to_crs(epsg)


def write_sxyd(
    units: Any,
    path: str | os.PathLike[str],
    *,
    crs: Literal["cgcs2000", "gk"] | int = "cgcs2000",
    lang: Lang = "zh",
    admin_names: Mapping[str, str] | Literal["builtin"] | None = None,
    include_area: bool = False,
) -> Path:
    """Write units in the 三线一单 field model as GeoPackage (``.gpkg``) or Shapefile (``.shp``).

    ``crs``: ``"cgcs2000"`` (EPSG:4490 geographic), ``"gk"`` (the CGCS2000 3-degree
    Gauss–Krüger zone of the centre of the units' extent; a warning says so when the units
    span several zones) or an explicit EPSG code 4534–4554.

    The GeoPackage keeps every text in full. A Shapefile stores text in dBASE fields of at most
    254 bytes (about 84 Chinese characters in UTF-8), so longer texts are cut on a character
    boundary and end in "…", ``REMARK`` says that the full text is in the GeoPackage export,
    and a :class:`~geoeco.core.errors.GeoecoWarning` counts the cut values. The Shapefile is
    written in UTF-8 with a ``.cpg`` file; field names are at most 10 characters already.
    """
    dest = Path(path)
    suffix = dest.suffix.lower()
    if suffix not in {".gpkg", ".shp"}:
        raise InvalidInput(f"{dest.name}: write the 三线一单 export as .gpkg or .shp")
    table = to_sxyd_fields(units, lang=lang, admin_names=admin_names, include_area=include_area)
    table = to_output_crs(table, crs)
    if suffix == ".gpkg":
        return write_vector(table, dest, layer=dest.stem)
    return write_vector(_shp_truncate(table, lang), dest)


def _shp_truncate(table: Any, lang: Lang) -> Any:
    out = table.copy()
    text_cols = ["HJZHGKDYMC", "PROV", "CITY", "AREA"] + [d.field for d in DIMENSIONS]
    cut_any = np.zeros(len(out), dtype=bool)
    n_cut = 0
    for col in text_cols:
        vals = [truncate_utf8(str(v)) for v in out[col]]
        flags = np.array([f for _, f in vals], dtype=bool)
        cut_any |= flags
        n_cut += int(flags.sum())
        out[col] = [v for v, _ in vals]
    note = "；准入清单全文见GeoPackage输出" if lang == "zh" else "; full text in the GeoPackage"
    remarks = [r + note if c else r for r, c in zip(out["REMARK"], cut_any, strict=True)]
    out["REMARK"] = [truncate_utf8(r)[0] for r in remarks]
    if n_cut:
        warnings.warn(
            f"Shapefile text fields hold at most {SHP_TEXT_BYTES} bytes: {n_cut} values in "
            f"{int(cut_any.sum())} units were cut (marked '…'); write a .gpkg for the full text",
            GeoecoWarning,
            stacklevel=3,
        )
    return out
