"""Class tables: loading, validation, classify() closures, overrides and provenance.

Expected classes come from the tables in methodology.md §1.4, §2.1, §2.2 with the closures
written in geoeco/data/class_tables.toml.
"""

from __future__ import annotations

import numpy as np
import pytest

from geoeco.catalog.classes import (
    ClassTable,
    Provenance,
    classify,
    cumshare_table,
    get_factor_table,
    get_table,
    list_tables,
    load_tables,
    lookup,
    score,
)
from geoeco.core.errors import InvalidInput, ManifestError, UnitsError

REQUIRED = [
    "SL190-2007/water",
    "SL190-2007/wind-cover",
    "SL190-2007/wind-depth",
    "SL190-2007/wind-modulus",
    "WangTao-2003",
    "Chen2019-cover-baresand/cover",
    "Chen2019-cover-baresand/bare-sand",
    "EcoZoning-interim/sanding",
    "EcoZoning-interim/water-erosion",
    "RedLine-2017/sanding",
    "RedLine-2017/water-erosion",
]


def _user_table(name: str = "user/fvc", interval_low: str = "[0, 50)") -> dict:
    return {
        "table": [
            {
                "name": name,
                "version": "1",
                "source": "test",
                "tag": "R",
                "indicator": "FVC",
                "units": "%",
                "kind": "interval",
                "classes": [
                    {
                        "code": 1,
                        "name_zh": "高",
                        "name_en": "high",
                        "colour": "#00FF00",
                        "interval": "[50, 100]",
                    },
                    {
                        "code": 2,
                        "name_zh": "低",
                        "name_en": "low",
                        "colour": "#ff0000",
                        "interval": interval_low,
                    },
                ],
            }
        ]
    }


def test_builtin_tables_load_and_are_well_formed():
    names = list_tables()
    for n in REQUIRED:
        assert n in names
    for n in names:
        t = get_table(n)
        codes = [c.code for c in t.classes]
        if t.fixed_codes:  # codes set by a published data model (LXBM 11..25)
            assert t.kind == "categorical" and codes == sorted(set(codes))
        else:
            assert codes == list(range(1, len(t.classes) + 1))
        assert t.tag in "VRI" and t.source and t.version and t.units
        for _code, zh, en, colour in t.legend():
            assert zh and en and colour.startswith("#") and len(colour) == 7


def test_r_tables_are_tagged_r():
    # methodology §2.2/§2.3: the 3-class red-line tables and the water-erosion scores are [R]
    assert get_table("RedLine-2017/sanding/fvc").tag == "R"
    assert get_table("EcoZoning-interim/water-erosion/r").tag == "R"
    assert get_table("SL190-2007/water").tag == "V"


@pytest.mark.parametrize(
    ("tolerable", "values", "expected"),
    [
        # SL 190-2007 (methodology §1.4): 微度 < T, 轻度 T–2500, 中度 2500–5000, 强烈 5000–8000,
        # 极强烈 8000–15000, 剧烈 > 15000; a boundary goes to the more severe class.
        (
            200,
            [0, 199.9, 200, 2499.9, 2500, 4999.9, 5000, 7999.9, 8000, 14999.9, 15000, 1e6],
            [1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6],
        ),
        (500, [499, 500], [1, 2]),
        (1000, [999, 1000, 2499, 2500], [1, 2, 2, 3]),
    ],
)
def test_sl190_water_boundaries(tolerable, values, expected):
    got = classify(np.array(values, dtype=float), "SL190-2007/water", tolerable=tolerable)
    assert got.dtype == np.uint8
    assert got.tolist() == expected


def test_sl190_tolerable_per_pixel_and_invalid():
    v = np.array([300.0, 300.0, 600.0])
    assert classify(v, "SL190-2007/water", tolerable=np.array([200, 1000, 500])).tolist() == [
        2,
        1,
        2,
    ]
    with pytest.raises(InvalidInput, match="must be one of"):
        classify(v, "SL190-2007/water", tolerable=300)
    with pytest.raises(InvalidInput, match="parameters"):
        classify(v, "SL190-2007/water", tolerance=200)


def test_nodata_and_out_of_range():
    t = "SL190-2007/water"
    v = np.array([np.nan, -1.0, 100.0])
    with pytest.raises(UnitsError, match="outside"):
        classify(v, t)
    assert classify(v, t, out_of_range="nodata").tolist() == [0, 0, 1]
    assert classify(v, t, out_of_range="clip").tolist() == [0, 1, 1]
    masked = np.ma.masked_array([100.0, 3000.0], mask=[True, False])
    assert classify(masked, t).tolist() == [0, 3]


def test_wangtao_boundaries():
    # Wang Tao 2003 (methodology §2.1): [60,100] none, [40,60) slight, [26.7,40) moderate,
    # [13.3,26.7) severe, [0,13.3) extremely severe
    v = np.array([100, 60, 59.99, 40, 39.99, 26.7, 26.69, 13.3, 13.29, 0], dtype=float)
    assert classify(v, "WangTao-2003").tolist() == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]


def test_wind_cover_boundaries():
    # methodology §1.4 cover column; boundary to the more severe class (table notes)
    v = np.array([100, 70.1, 70, 50, 30, 10.1, 10, 0], dtype=float)
    assert classify(v, "SL190-2007/wind-cover").tolist() == [1, 1, 2, 3, 4, 4, 5, 5]


def test_categorical_and_scores():
    t = "EcoZoning-interim/sanding/texture"
    assert classify(np.array([1, 2, 3, 4, 5]), t).tolist() == [1, 2, 3, 4, 5]
    assert score(np.array([1, 5]), t).tolist() == [1.0, 9.0]
    with pytest.raises(InvalidInput, match=r"\[7\]"):
        classify(np.array([1, 7]), t)
    assert classify(np.array([1, 7]), t, out_of_range="nodata").tolist() == [1, 0]
    assert classify(np.ma.masked_equal([0, 3], 0), t).tolist() == [0, 3]
    # 3-class red line merges clay, gravel, loam (codes 2, 3, 4) into score 3
    assert score(np.array([1, 2, 3, 4, 5]), "RedLine-2017/sanding/texture").tolist() == [
        1,
        3,
        3,
        3,
        5,
    ]


def test_user_tables_from_dict_and_file(tmp_path):
    tabs = load_tables(_user_table())
    t = tabs["user/fvc"]
    assert t.origin == "user" and t.classes[0].colour == "#00ff00"
    assert classify(np.array([49.9, 50.0]), t).tolist() == [2, 1]
    assert get_table("user/fvc", extra=tabs) is t
    toml = tmp_path / "mine.toml"
    toml.write_text(
        '[[table]]\nname = "x"\nversion = "1"\nsource = "s"\ntag = "I"\nindicator = "i"\n'
        'units = "u"\nkind = "categorical"\n[[table.classes]]\ncode = 1\nname_zh = "甲"\n'
        'name_en = "a"\ncolour = "#000000"\nvalues = [10, 11]\n',
        encoding="utf-8",
    )
    assert classify(np.array([11, 10]), load_tables(toml)["x"]).tolist() == [1, 1]


@pytest.mark.parametrize(
    "bad_low",
    [
        "[0, 40)",  # gap between 40 and 50
        "[0, 50]",
    ],  # 50 in both classes
)
def test_invalid_user_tables(bad_low):
    with pytest.raises(ManifestError):
        load_tables(_user_table(interval_low=bad_low))


def test_unknown_table():
    with pytest.raises(InvalidInput, match="known tables"):
        get_table("SL190-1996/water")


def test_cumshare_tables():
    t = get_table("CumShare(0.5,0.8)")
    assert isinstance(t, ClassTable) and t.tag == "R"
    assert [c.name_zh for c in t.classes] == ["一般重要", "重要", "极重要"]
    t4 = get_table("CumShare(0.5, 0.75, 0.9)")
    assert t4.tag == "V" and len(t4.classes) == 4
    with pytest.raises(InvalidInput):
        cumshare_table((0.8, 0.5))


def test_provenance_records_tables_and_r_params():
    used = Provenance()
    classify(np.array([300.0]), "SL190-2007/water", tolerable=500, used=used)
    score(np.array([2.0]), "RedLine-2017/sanding/aridity", used=used)
    d = used.to_dict()
    assert d["tables"]["SL190-2007/water"]["version"] == "2007"
    assert d["parameters"]["SL190-2007/water.tolerable"]["value"] == 500.0
    assert "RedLine-2017/sanding/aridity" in d["unverified"]


def test_lookup_and_factor_table():
    assert get_factor_table("CSLE-monitoring/T-default").tag == "R"
    assert lookup(np.array([1.0, np.nan]), {1: 2.0}).tolist()[0] == 2.0
    with pytest.raises(InvalidInput, match=r"\[3\]"):
        lookup(np.array([1, 3]), {1: 2.0})


def test_zoning_output_tables_carry_the_standard_codes():
    """ZHGKDYFL 1/2/3 and LXBM 11-15/21-25 as in methodology §4.1-4.2."""
    assert [c.code for c in get_table("ZHGKDYFL").classes] == [1, 2, 3]
    assert [c.code for c in get_table("LXBM").classes] == [11, 12, 13, 14, 15, 21, 22, 23, 24, 25]
    assert get_table("LXBM").classes[3].name_zh == "防风固沙"
