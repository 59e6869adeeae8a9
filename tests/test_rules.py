"""Rule sets: built-ins, validation errors, hashing.

Expected values come from the rule-set files themselves (geoeco/data/rules/*.toml, written from
methodology.md §3.3-§4) and from the class tables they name (CumShare(0.5,0.8) has 3 classes,
EcoZoning-interim/* 5, SL190-2007/water 6, WangTao-2003 5).
"""

from __future__ import annotations

import copy
import hashlib
import json

import pytest

from geoeco.core.errors import InvalidInput
from geoeco.zoning.rules import (
    REDLINE_CODES,
    list_rule_sets,
    load_rule_set,
    parse_rule_set,
    rule_set_schema,
)

TINY = {
    "name": "tiny",
    "version": "1",
    "title_en": "tiny",
    "inputs": {
        "imp": {"kind": "class", "table": "CumShare(0.5,0.8)"},
        "ero": {"table": "SL190-2007/water"},
        "parks": {"kind": "mask", "role": "protected"},
    },
    "redline": {
        "reasons": [{"input": "imp", "min_class": 3, "code": 11}],
        "protected": {"inputs": ["parks"]},
    },
    "key": {"criteria": [{"input": "ero", "min_class": 3}]},
}


def _with(path: str, value: object) -> dict:
    d = copy.deepcopy(TINY)
    node = d
    keys = path.split(".")
    for k in keys[:-1]:
        node = node[int(k)] if k.isdigit() else node[k]
    last = keys[-1]
    node[int(last) if last.isdigit() else last] = value
    return d


def test_builtin_rule_sets_listed_and_valid():
    names = list_rule_sets()
    assert {"default", "strict"} <= set(names)
    for n in names:
        rs = load_rule_set(n)
        assert rs.name == n


def test_default_is_grounded_in_methodology():
    rs = load_rule_set("default")
    # every LXBM code 11-15, 21-25 has exactly one reason (methodology §4.1)
    assert sorted(r.code for r in rs.redline.reasons) == sorted(REDLINE_CODES)
    by_code = {r.code: r for r in rs.redline.reasons}
    # extremely important = top class 3 of CumShare(0.5,0.8); extremely sensitive = class 5
    assert by_code[11].min_class == 3 and by_code[21].min_class == 5
    assert rs.inputs["importance_water_conservation"].n_classes == 3
    # key control: SL190 >= 3 (中度) and WangTao >= 3 (moderate)
    key = {c.input: c.min_class for c in rs.key.criteria}
    assert key == {"erosion_grade": 3, "desertification_degree": 3}
    assert rs.inputs["erosion_grade"].n_classes == 6
    assert rs.redline.protected.code == 12 and rs.redline.protected.mode == "dominant"
    assert rs.attributes.three_north == "three_north"
    assert set(rs.attributes.battles) == {"ji_bend", "horqin_hunshandake", "hexi_taklimakan"}


def test_strict_differs_from_default():
    d, s = load_rule_set("default"), load_rule_set("strict")
    assert s.redline.min_patch_km2 == 0.25 and d.redline.min_patch_km2 == 1.0
    assert {c.min_class for c in s.key.criteria} == {2}
    assert d.sha256() != s.sha256()


def test_hash_is_sha256_of_canonical_json_and_stable():
    rs = parse_rule_set(TINY)
    # independent recomputation: sorted keys, compact separators, UTF-8
    dumped = json.dumps(
        rs.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    assert rs.sha256() == hashlib.sha256(dumped.encode()).hexdigest()
    # same content, keys in another order -> same hash
    reordered = dict(reversed(list(copy.deepcopy(TINY).items())))
    assert parse_rule_set(reordered).sha256() == rs.sha256()
    assert load_rule_set("default").sha256() == load_rule_set("default").sha256()


def test_hash_changes_with_a_threshold():
    a = parse_rule_set(TINY).sha256()
    b = parse_rule_set(_with("key.criteria.0.min_class", 4)).sha256()
    assert a != b


def test_models_are_frozen():
    rs = parse_rule_set(TINY)
    with pytest.raises(Exception, match="frozen"):
        rs.redline.min_patch_km2 = 5  # type: ignore[misc]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (_with("redline.reasons.0.input", "nope"), "unknown input 'nope'"),
        (_with("key.criteria.0.input", "missing"), "unknown input 'missing'"),
        # CumShare(0.5,0.8) has classes 1..3
        (_with("redline.reasons.0.min_class", 4), r"not within the codes 1\.\.3"),
        (_with("redline.reasons.0.min_class", 0), "greater than or equal to 1"),
        (_with("key.criteria.0.max_class", 2), r"classes \[3, 2\]"),
        (_with("redline.reasons.0.code", 16), "redline.reasons.0.code"),
        (_with("redline.min_patch_km2", -1), "greater than or equal to 0"),
        (_with("redline.protected.inputs", ["imp"]), "is a class input"),
        (_with("key.criteria.0.input", "parks"), "is a mask"),
        (_with("inputs.ero.table", "SL999"), "unknown class table 'SL999'"),
        (_with("inputs.parks.role", "garden"), "inputs.parks.mask.role"),
        (_with("colour", "red"), "colour: Extra inputs are not permitted"),
        (_with("redline.reasons.0.threshold", 3), "Extra inputs are not permitted"),
        (_with("inputs.imp.kind", "grid"), "inputs.imp"),
    ],
)
def test_bad_rule_sets_raise_invalid_input(data, message):
    with pytest.raises(InvalidInput, match=message):
        parse_rule_set(data)


def test_duplicate_codes_rejected():
    d = copy.deepcopy(TINY)
    d["redline"]["reasons"].append({"input": "ero", "min_class": 6, "code": 11})
    with pytest.raises(InvalidInput, match="each code may appear once"):
        parse_rule_set(d)


def test_load_from_file_and_errors(tmp_path):
    p = tmp_path / "mine.toml"
    p.write_text(
        'name = "mine"\nversion = "2"\ntitle_en = "Mine"\n'
        '[inputs.imp]\ntable = "CumShare(0.5,0.75,0.9)"\n'
        '[[redline.reasons]]\ninput = "imp"\nmin_class = 4\ncode = 13\n',
        encoding="utf-8",
    )
    rs = load_rule_set(p)
    assert rs.inputs["imp"].n_classes == 4 and rs.redline.reasons[0].code == 13
    with pytest.raises(InvalidInput, match="unknown rule set 'nonesuch'"):
        load_rule_set("nonesuch")
    bad = tmp_path / "bad.toml"
    bad.write_text("name = ", encoding="utf-8")
    with pytest.raises(InvalidInput, match="bad.toml: not valid TOML"):
        load_rule_set(bad)
    with pytest.raises(InvalidInput, match="cannot be read") as exc:
        load_rule_set(tmp_path / "absent.toml")
    assert str(tmp_path) not in str(exc.value)  # no server paths in messages


def test_schema_and_helpers():
    schema = rule_set_schema()
    assert "redline" in schema["properties"]
    rs = parse_rule_set(TINY)
    assert rs.referenced_inputs() == {
        "redline": {"imp", "parks"},
        "priority": set(),
        "key": {"ero"},
        "attributes": set(),
    }
    assert rs.class_tables() == {"imp": "CumShare(0.5,0.8)", "ero": "SL190-2007/water"}
    assert rs.describe()["sha256"] == rs.sha256()
