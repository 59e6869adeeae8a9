"""The bounded JSON reader: nesting limit, lone surrogates, NaN/Infinity, paths in errors."""

from __future__ import annotations

import json

import pytest

from geoeco.core.errors import InvalidJSON, InvalidJSONValue
from geoeco.core.json_input import MAX_JSON_DEPTH, check_json_value, format_path, loads_json


def _nested(depth: int) -> str:
    """``depth`` arrays, one inside the other (``[[...]]``)."""
    return "[" * depth + "]" * depth


def test_depth_limit_is_exact() -> None:
    # 64 levels are accepted, 65 are not; the first value past the limit is the innermost
    # array, 64 array indexes below the root
    assert loads_json(_nested(MAX_JSON_DEPTH)) is not None
    with pytest.raises(InvalidJSONValue) as e:
        loads_json(_nested(MAX_JSON_DEPTH + 1))
    assert e.value.field == "[0]" * 8 + "…"
    assert e.value.reason == "nested more than 64 levels deep"


@pytest.mark.parametrize("depth", [100, 5_000, 200_000])
def test_any_depth_is_refused_without_recursion_error(depth: int) -> None:
    # 100 parses (then the check refuses it); 5,000 and 200,000 are beyond what Python's
    # parser can recurse into (RecursionError), and the token scan names the path instead
    text = '{"inputs": {"aoi": {"k": ' + _nested(depth) + "}}}"
    with pytest.raises(InvalidJSONValue) as e:
        loads_json(text, what="the request body")
    assert e.value.field == "inputs.aoi.k[0][0][0][0][0]…"


def test_lone_surrogates_are_refused_with_their_path() -> None:
    with pytest.raises(InvalidJSONValue) as e:
        loads_json('{"a": [1, {"b": "x\\udc00y"}]}')
    assert e.value.field == "a[1].b" and "surrogate" in e.value.reason
    with pytest.raises(InvalidJSONValue) as e:
        loads_json('{"\\ud800": 1}')
    assert e.value.field == "" and "key" in str(e.value)
    # a surrogate *pair* is one valid character (U+1F600) and passes
    assert loads_json('{"a": "\\ud83d\\ude00"}') == {"a": "\U0001f600"}


@pytest.mark.parametrize(
    ("literal", "shown"),
    [("NaN", "nan"), ("Infinity", "inf"), ("-Infinity", "-inf"), ("1e999", "inf")],
)
def test_non_finite_numbers_are_refused(literal: str, shown: str) -> None:
    with pytest.raises(InvalidJSONValue) as e:
        loads_json('{"r": [0.5, ' + literal + "]}")
    assert e.value.field == "r[1]"
    assert str(e.value) == f"r[1]: {shown} is not a JSON number; give a finite number"


def test_long_numeric_arrays_are_checked_too() -> None:
    # the fast path converts long arrays with numpy; a bad value inside is still found
    ring = [[110.0 + i * 1e-4, 38.0] for i in range(1000)]
    check_json_value({"coordinates": [ring]})
    ring[700] = [110.0, float("inf")]
    with pytest.raises(InvalidJSONValue) as e:
        check_json_value({"coordinates": [ring]})
    assert e.value.field == "coordinates[0][700][1]"
    ring[700] = [110.0, "\ud800"]
    with pytest.raises(InvalidJSONValue) as e:
        check_json_value({"coordinates": [ring]})
    assert e.value.field == "coordinates[0][700][1]"


def test_text_that_is_not_json() -> None:
    with pytest.raises(InvalidJSON, match="line 1 column 2"):
        loads_json("{x")
    with pytest.raises(InvalidJSON, match="not UTF-8"):
        loads_json(b"\xff\xfe{}")
    with pytest.raises(InvalidJSON, match="not valid JSON"):
        loads_json("1" * 5000)  # more digits than Python converts to an int
    assert loads_json(b"\xef\xbb\xbf[1]") == [1]  # a UTF-8 byte-order mark is allowed


def test_python_values_with_non_text_keys_are_refused() -> None:
    with pytest.raises(InvalidJSONValue, match="the key 1 is not valid text"):
        check_json_value({"a": {1: "x"}})


def test_format_path() -> None:
    assert format_path(["a", 0, "b"]) == "a[0].b"
    assert format_path([0, 1]) == "[0][1]"
    assert format_path(list("abcdefghij")) == "a.b.c.d.e.f.g.h…"
    assert json.dumps(format_path([])) == '""'
