"""Programme areas built from county boundaries: the Three-North Shelterbelt Programme area and
the three landmark battles (三大标志性战役).

Neither has an official county list or polygon we could find (methodology.md §5), so both are
**approximations** built from the built-in county boundaries (:mod:`geoeco.catalog.admin`) with
rules
kept as data beside this module:

* ``data/three_north.toml``: per province, the whole province or listed prefectures/counties,
  minus exclusions, each with the geographic reason (southern edge along the 海河, 永定河, 汾河,
  渭河 and lower 洮河; east end at 宾县);
* ``data/battles.toml``: explicit county lists (code and name) for the Yellow River "Ji" bend,
  the Horqin and Hunshandake sandy lands, and the Hexi Corridor – Taklimakan edges.

Every code and name in the rules is checked against the boundaries on use. Areas are
equal-area (:data:`geoeco.core.crs.ALBERS_CHINA`) areas of the member counties; the dissolved
outlines are simplified by 100 m in that CRS (``simplify_m``) and returned in EPSG:4490.

Examples
--------
>>> tn = three_north_counties()
>>> bool(tn["code"].eq("230125").any())   # 宾县, the programme's eastern end
True
>>> sorted(battle_counties()["battle_id"].unique())
['hexi_taklimakan', 'horqin_hunshandake', 'ji_bend']
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from functools import lru_cache
from importlib.resources import files
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import shapely

from geoeco.core.crs import ALBERS_CHINA, CGCS2000
from geoeco.core.errors import DataSourceError

from .admin import (
    admin_units,
    check_county_entries,
    check_prefecture_entries,
    counties_equal_area,
    county_kind,
)
from .sources import vector_generator

if TYPE_CHECKING:
    from geopandas import GeoDataFrame
    from shapely.geometry.base import BaseGeometry

#: Tolerance (m, in ALBERS_CHINA) of the simplification applied to dissolved outlines.
DEFAULT_SIMPLIFY_M = 100.0


def load_rule(name: str) -> dict[str, Any]:
    """The parsed TOML rule ``geoeco/data/<name>.toml`` (``three_north``, ``battles``, ...).

    >>> load_rule("three_north")["official_county_count"]
    551
    """
    res = files("geoeco").joinpath("data", f"{name}.toml")
    try:
        return tomllib.loads(res.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataSourceError(f"geoeco has no built-in rule {name!r}") from None
    except tomllib.TOMLDecodeError as exc:
        raise DataSourceError(f"built-in rule {name!r} is not valid TOML ({exc})") from None


def dissolve_equal_area(
    geoms: Iterable[BaseGeometry], *, simplify_m: float = DEFAULT_SIMPLIFY_M
) -> tuple[BaseGeometry, BaseGeometry]:
    """Union of ALBERS_CHINA geometries, simplified by ``simplify_m`` metres (0: not at all).

    Returns ``(outline_albers, outline_4490)``.

    >>> from shapely import box
    >>> a, g = dissolve_equal_area([box(0, 0, 1000, 1000), box(1000, 0, 2000, 1000)])
    >>> a.area, g.geom_type
    (2000000.0, 'Polygon')
    """
    union = shapely.union_all(np.asarray(geoms, dtype=object))
    if simplify_m > 0:
        union = shapely.simplify(union, simplify_m, preserve_topology=True)
    geo = to_4490(union)
    return union, geo


def to_4490(geom: BaseGeometry) -> BaseGeometry:
    """A geometry in ALBERS_CHINA transformed to EPSG:4490 lon/lat.

    >>> from shapely import Point
    >>> p = to_4490(Point(0, 0))
    >>> round(p.x, 6)
    105.0
    """
    from pyproj import Transformer

    tr = Transformer.from_crs(ALBERS_CHINA, CGCS2000, always_xy=True)
    return shapely.transform(geom, lambda xy: np.column_stack(tr.transform(xy[:, 0], xy[:, 1])))


# --------------------------------------------------------------------------- Three-North


def _province_units(prov: Mapping[str, Any], cty: GeoDataFrame) -> np.ndarray:
    what = f"three_north rule, {prov['name']}"
    pcode = str(prov["code"])
    in_prov = cty["province_code"].to_numpy() == pcode
    if not in_prov.any():
        raise DataSourceError(f"{what}: province code {pcode} has no counties")
    scope = prov.get("scope")
    if scope == "whole":
        keep = in_prov.copy()
    elif scope == "listed":
        keep = _entries_mask(prov.get("include", []), cty, what=what)
        if (keep & ~in_prov).any():
            raise DataSourceError(f"{what}: an included unit lies outside the province")
    else:
        raise DataSourceError(f"{what}: scope must be 'whole' or 'listed', got {scope!r}")
    units: np.ndarray = keep & ~_entries_mask(prov.get("exclude", []), cty, what=what)
    return units


def _entries_mask(entries: list[Mapping[str, Any]], cty: GeoDataFrame, *, what: str) -> np.ndarray:
    prefs = [e for e in entries if str(e["code"]).endswith("00")]
    cnts = [e for e in entries if not str(e["code"]).endswith("00")]
    pcodes = check_prefecture_entries(prefs, what=what)
    ccodes = check_county_entries(cnts, what=what)
    mask: np.ndarray = (
        cty["city_code"].isin(pcodes).to_numpy() | cty["code"].isin(ccodes).to_numpy()
    )
    return mask


@lru_cache(maxsize=1)
def _three_north_table() -> pd.DataFrame:
    rule = load_rule("three_north")
    cty = counties_equal_area()
    provinces = admin_units("province")
    prov_names = dict(zip(provinces["code"], provinces["name"], strict=True))
    keep = np.zeros(len(cty), dtype=bool)
    for prov in rule["province"]:
        found = prov_names.get(str(prov["code"]), "unknown")
        if found != prov["name"]:
            raise DataSourceError(
                f"three_north rule: province {prov['code']} is {found} in the boundaries, "
                f"not {prov['name']}"
            )
        keep |= _province_units(prov, cty)
    sel: pd.DataFrame = cty.loc[keep, ["code", "name", "province_code", "city_code", "area_km2"]]
    sel = sel.sort_values("code").reset_index(drop=True)
    sel.insert(4, "kind", county_kind(sel["code"]))
    sel.insert(5, "counted", sel["kind"].eq("county"))
    return sel


def three_north_counties() -> pd.DataFrame:
    """Member county-level units of the approximated Three-North programme area.

    Columns ``code``, ``name``, ``province_code``, ``city_code``, ``kind`` (``county``,
    ``xpcc_city``, ``special``; see :func:`geoeco.catalog.admin.county_kind`), ``counted`` (whether
    it
    counts towards ``county_count``) and ``area_km2`` (equal-area). Built from
    ``data/three_north.toml``; use it to flag membership in zoning.

    >>> tn = three_north_counties()
    >>> tn.loc[tn["code"] == "150822", "name"].item(), bool(tn["code"].eq("610702").any())
    ('磴口县', False)
    """
    return _three_north_table().copy()


@vector_generator("three_north")
def three_north_area(params: Mapping[str, Any]) -> GeoDataFrame:
    """Generator ``three_north``: the programme area as one dissolved feature in EPSG:4490.

    Attributes: ``name_zh``, ``name_en``, ``status`` (``approximation``),
    ``official_area_km2`` (4,069,000), ``official_county_count`` (551), ``approx_area_km2``
    (sum of the members' equal-area areas), ``county_count`` (counted members),
    ``unit_count`` (all members) and ``rule``. ``params``: ``simplify_m`` (default 100).
    """
    import geopandas as gpd

    rule = load_rule("three_north")
    members = _three_north_table()
    geoms = counties_equal_area().loc[members["code"], "geometry"].to_numpy()
    _, outline = dissolve_equal_area(
        geoms, simplify_m=float(params.get("simplify_m", DEFAULT_SIMPLIFY_M))
    )
    row = {
        "name_zh": "三北防护林体系建设工程区",
        "name_en": "Three-North Shelterbelt Programme area",
        "status": "approximation",
        "official_area_km2": float(rule["official_area_km2"]),
        "official_county_count": int(rule["official_county_count"]),
        "approx_area_km2": round(float(members["area_km2"].sum()), 1),
        "county_count": int(members["counted"].sum()),
        "unit_count": len(members),
        "rule": f"geoeco/data/three_north.toml v{rule['version']}",
    }
    return gpd.GeoDataFrame([row], geometry=[outline], crs=CGCS2000)


# --------------------------------------------------------------------------- battles


@lru_cache(maxsize=1)
def _battle_table() -> pd.DataFrame:
    rule = load_rule("battles")
    areas = counties_equal_area()["area_km2"]
    rows = []
    for b in rule["battle"]:
        for grp in b["group"]:
            codes = check_county_entries(grp["counties"], what=f"battles rule, {b['battle_id']}")
            rows += [
                (b["battle_id"], c, e["name"], grp["name"])
                for c, e in zip(codes, grp["counties"], strict=True)
            ]
    df = pd.DataFrame(rows, columns=["battle_id", "code", "name", "group"])
    dup = df.duplicated(["battle_id", "code"])
    if dup.any():
        raise DataSourceError(f"battles rule lists a county twice: {df.loc[dup, 'code'].tolist()}")
    df["area_km2"] = areas.loc[df["code"]].to_numpy()
    return df


def battle_counties() -> pd.DataFrame:
    """Member counties of the three landmark battles: ``battle_id``, ``code``, ``name``,
    ``group`` (the documented sub-list) and ``area_km2`` (equal-area).

    A county may belong to two battles (阿拉善左旗: the Tengger in the "Ji" bend and the
    Badain Jaran edge in the Hexi battle).

    >>> b = battle_counties()
    >>> b.loc[b["name"] == "民勤县", "battle_id"].tolist()
    ['hexi_taklimakan']
    """
    return _battle_table().copy()


@vector_generator("battle_areas")
def battle_areas(params: Mapping[str, Any]) -> GeoDataFrame:
    """Generator ``battle_areas``: one dissolved feature per battle, EPSG:4490.

    Attributes ``battle_id``, ``name_zh``, ``name_en``, ``provinces``, ``status``,
    ``county_count`` and ``approx_area_km2`` (equal-area sum of the member counties).
    ``params``: ``simplify_m`` (default 100).
    """
    import geopandas as gpd

    rule = load_rule("battles")
    table = _battle_table()
    geo = counties_equal_area()["geometry"]
    simplify_m = float(params.get("simplify_m", DEFAULT_SIMPLIFY_M))
    rows, outlines = [], []
    for b in rule["battle"]:
        members = table[table["battle_id"] == b["battle_id"]]
        _, outline = dissolve_equal_area(geo.loc[members["code"]].to_numpy(), simplify_m=simplify_m)
        rows.append(
            {
                "battle_id": b["battle_id"],
                "name_zh": b["name_zh"],
                "name_en": b["name_en"],
                "provinces": "、".join(b["provinces"]),
                "status": "approximation",
                "county_count": len(members),
                "approx_area_km2": round(float(members["area_km2"].sum()), 1),
            }
        )
        outlines.append(outline)
    return gpd.GeoDataFrame(rows, geometry=outlines, crs=CGCS2000)
