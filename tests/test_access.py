"""Access-list templates and the 三线一单 export (geoeco.zoning.access).

The units come from a 4 x 4 grid of 100 m pixels drawn below (one county, 磴口县 150822 near
107°E 40.3°N, whose 3-degree Gauss–Krüger zone is the 108°E one, EPSG:4545):

    1 1 3 3      priority (8 px) holds red line 13 on its top row (2 px) → share 0.25
    1 1 3 3      general 8 px
    1 1 3 3
    1 1 3 3
"""

from __future__ import annotations

import tomllib
import warnings
from importlib.resources import files

import geopandas as gpd
import numpy as np
import pytest
from affine import Affine
from pyproj import Transformer
from shapely import box, segmentize

from geoeco.core.crs import ALBERS_CHINA
from geoeco.core.errors import GeoecoWarning, InvalidInput, ManifestError
from geoeco.core.io import read_vector
from geoeco.core.raster import Grid, Raster
from geoeco.zoning.access import (
    DIMENSIONS,
    SXYD_FIELDS,
    access_columns,
    assign_access,
    load_access_lists,
    to_sxyd_fields,
    truncate_utf8,
    write_sxyd,
)
from geoeco.zoning.units.build import build_units


def _units(access=None):  # type: ignore[no-untyped-def]
    x, y = Transformer.from_crs(4490, ALBERS_CHINA, always_xy=True).transform(107.0, 40.3)
    x0, y0 = round(x, -2), round(y, -2)
    grid = Grid(Affine(100, 0, x0, 0, -100, y0), 4, 4, ALBERS_CHINA)
    z = np.array([[1, 1, 3, 3]] * 4, "uint8")
    rl = np.zeros((4, 4), "uint8")
    rl[0, :2] = 13
    cty = gpd.GeoDataFrame(
        {"code": ["150822"], "name": ["磴口县"]},
        geometry=[segmentize(box(x0 - 50, y0 - 450, x0 + 450, y0 + 50), 50)],
        crs=ALBERS_CHINA,
    ).to_crs(4490)
    return build_units(
        Raster.from_array(z, grid), Raster.from_array(rl, grid), cty, min_area_km2=0, access=access
    )


@pytest.fixture(scope="module")
def units():  # type: ignore[no-untyped-def]
    return _units()


def test_builtin_templates_are_complete() -> None:
    """3 classes × 4 dimensions × 2 languages, all non-empty; five add-ons."""
    lists = load_access_lists()
    for cls in (1, 2, 3):
        for d in DIMENSIONS:
            for lang in ("zh", "en"):
                assert len(lists.text(cls, d.key, lang)) > 20  # type: ignore[arg-type]
    assert [a.id for a in lists.addon] == [
        "redline",
        "park",
        "erosion",
        "desertification",
        "battle",
    ]
    assert [d.field for d in DIMENSIONS] == ["KJBJYS", "PWWPFGK", "HJFXFK", "ZYKFXLYQ"]
    assert lists.text(3, "spatial_layout", "en").startswith("Basic environmental-protection")


def test_texts_are_class_text_plus_addons(units) -> None:  # type: ignore[no-untyped-def]
    """Priority unit with red line: class text followed by the red-line add-on, per language."""
    lists = load_access_lists()
    red = next(a for a in lists.addon if a.id == "redline")
    p, g = units.iloc[0], units.iloc[1]
    assert (p["code"], g["code"]) == ("ZH15082210001", "ZH15082230001")
    assert p["redline_share"] == 0.25
    for d in DIMENSIONS:
        t = getattr(red, d.key)
        assert p[f"{d.key}_zh"] == lists.text(1, d.key, "zh") + t.zh
        assert p[f"{d.key}_en"] == lists.text(1, d.key, "en") + " " + t.en
        assert g[f"{d.key}_zh"] == lists.text(3, d.key, "zh")
    assert (p["access_addons"], g["access_addons"]) == ("redline", "")


def test_addon_threshold_is_strict() -> None:
    """The erosion add-on needs g4–g6 share > 0.1: 0.1 exactly does not apply, 0.11 does."""
    df = gpd.GeoDataFrame(
        {"unit_class": [2, 2], "erosion_g4_share": [0.05, 0.06], "erosion_g5_share": [0.05, 0.05]}
    )
    assert assign_access(df)["access_addons"].tolist() == ["", "erosion"]


def test_user_access_file(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A copy of the built-in file with one text changed is used by build_units."""
    text = files("geoeco").joinpath("data/access_lists.toml").read_text(encoding="utf-8")
    data = tomllib.loads(text)
    assert "执行生态环境保护的基本要求" in data["class"]["general"]["spatial_layout"]["zh"]
    user = tmp_path / "my_lists.toml"
    user.write_text(text.replace("执行生态环境保护的基本要求", "本地测试文本"), encoding="utf-8")
    u = _units(access=user)
    assert u.iloc[1]["spatial_layout_zh"].startswith("本地测试文本")
    bad = tmp_path / "bad.toml"
    bad.write_text('version = "1"\n[class.priority.spatial_layout]\nzh = "x"\nen = "x"\n')
    with pytest.raises(ManifestError, match="bad.toml"):
        load_access_lists(bad)
    with pytest.raises(ManifestError):
        load_access_lists(tmp_path / "missing.toml")


def test_to_sxyd_fields(units) -> None:  # type: ignore[no-untyped-def]
    """Field names, order and values of the 三线一单 mapping."""
    s = to_sxyd_fields(units, admin_names={"150000": "内蒙古自治区", "150800": "巴彦淖尔市"})
    assert list(s.columns) == [*SXYD_FIELDS, "geometry"]
    r = s.iloc[0]
    assert r[["HJZHGKDYBM", "HJZHGKDYMC", "ZHGKDYFL", "PROV", "CITY", "AREA"]].tolist() == [
        "ZH15082210001",
        "磴口县优先保护单元1",
        1,
        "内蒙古自治区",
        "巴彦淖尔市",
        "磴口县",
    ]
    assert r["KJBJYS"] == units.iloc[0]["spatial_layout_zh"]
    assert r["ZYKFXLYQ"] == units.iloc[0]["resource_efficiency_zh"]
    assert "生态保护红线占25.0%" in r["REMARK"] and "EPSG:4545" in r["REMARK"]
    en = to_sxyd_fields(units, lang="en", include_area=True)
    assert en.iloc[1]["HJZHGKDYMC"] == "磴口县 general control unit 1"
    assert en.iloc[0]["PROV"] == "150000"  # no names given: the code
    assert en["MJ"].tolist() == units["area_gk_km2"].tolist()
    assert s.crs == units.crs
    with pytest.raises(InvalidInput, match="spatial_layout_zh"):
        to_sxyd_fields(units.drop(columns=["spatial_layout_zh"]))


def test_write_shapefile_utf8_truncated(units, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Shapefile: .cpg says UTF-8, Chinese reads back, texts ≤ 254 bytes ending in '…'."""
    with pytest.warns(GeoecoWarning, match="254 bytes"):
        path = write_sxyd(units, tmp_path / "units.shp", crs="gk")
    for ext in (".shp", ".shx", ".dbf", ".prj", ".cpg"):
        assert path.with_suffix(ext).exists()
    assert path.with_suffix(".cpg").read_text().strip().upper() in {"UTF-8", "UTF8"}
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]
    back = read_vector(path)
    assert back.crs.to_epsg() == 4545
    assert back["AREA"].tolist() == ["磴口县", "磴口县"]
    assert back["HJZHGKDYMC"].tolist() == ["磴口县优先保护单元1", "磴口县一般管控单元1"]
    for d in DIMENSIONS:
        vals = back[d.field].tolist()
        assert all(len(v.encode("utf-8")) <= 254 for v in vals)
        full = units[f"{d.key}_zh"].tolist()
        for v, f in zip(vals, full, strict=True):
            assert v == f if len(f.encode()) <= 254 else (v.endswith("…") and f.startswith(v[:-1]))
    assert back.loc[0, "KJBJYS"].endswith("…")  # the red-line unit's long text
    assert "全文见GeoPackage" in back.loc[0, "REMARK"]
    # GK planar area of the written polygon = the official area attribute
    np.testing.assert_allclose(back.area / 1e6, units["area_gk_km2"], rtol=1e-6)


def test_write_geopackage_full_text(units, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """GeoPackage keeps full texts; default CRS is CGCS2000 geographic."""
    path = write_sxyd(units, tmp_path / "units.gpkg")
    back = read_vector(path)
    assert back.crs.to_epsg() == 4490
    assert back["KJBJYS"].tolist() == units["spatial_layout_zh"].tolist()
    assert back["HJFXFK"].tolist() == units["environmental_risk_zh"].tolist()
    with pytest.raises(InvalidInput):
        write_sxyd(units, tmp_path / "units.csv")
    with pytest.raises(InvalidInput):
        write_sxyd(units, tmp_path / "units2.gpkg", crs=3857)  # type: ignore[arg-type]


def test_gk_export_warns_across_zones(units, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Units at 107°E (zone 108°E) and 111.2°E (zone 111°E) are written in one zone, warned."""
    far = units.iloc[[1]].copy()
    far = far.set_geometry(far.geometry.to_crs(4490).translate(4.2, 0).to_crs(units.crs))
    both = gpd.GeoDataFrame(gpd.pd.concat([units.iloc[[0]], far], ignore_index=True), crs=units.crs)
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        write_sxyd(both, tmp_path / "two.gpkg", crs="gk")
    assert any("zones [4545, 4546]" in str(w.message) for w in rec)


def test_truncate_utf8_and_columns() -> None:
    """Cut on a character boundary: 254 bytes hold 83 Chinese characters + '…' (3 bytes)."""
    s, cut = truncate_utf8("红" * 100)
    assert cut and s == "红" * 83 + "…" and len(s.encode()) == 252
    assert truncate_utf8("a" * 254) == ("a" * 254, False)
    assert len(access_columns()) == 8
