"""JSON from users, bounded: a nesting limit, valid Unicode, finite numbers.

Python's :mod:`json` accepts what geoeco cannot use further on: a value nested thousands of
levels deep (the parser, pydantic, hashing and shapely then fail with ``RecursionError``), a
lone UTF-16 surrogate (``"\\ud800"``: a ``str`` that cannot be encoded as UTF-8, so hashing and
storing it fail) and ``NaN``/``Infinity`` (not JSON numbers). :func:`loads_json` parses text
and :func:`check_json_value` checks an already parsed value (iteratively, so any depth is
safe); both raise :class:`~geoeco.core.errors.InvalidJSONValue` naming the path of the bad value,
or :class:`~geoeco.core.errors.InvalidJSON` for text that is not JSON.

Examples
--------
>>> loads_json('{"a": [1, 2.5, "x"]}')
{'a': [1, 2.5, 'x']}
>>> try:
...     loads_json('{"inputs": {"aoi": ' + "[" * 100 + "]" * 100 + "}}", max_depth=8)
... except InvalidJSONValue as exc:
...     print(exc.field)
inputs.aoi[0][0][0][0][0][0]
>>> try:
...     check_json_value({"r": float("nan")})
... except InvalidJSONValue as exc:
...     print(exc)
r: nan is not a JSON number; give a finite number
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .errors import InvalidJSON, InvalidJSONValue

#: Deepest nesting of objects and arrays accepted (a GeoJSON MultiPolygon inside a
#: FeatureCollection inside a request is about 10 levels).
MAX_JSON_DEPTH = 64
#: Path components shown in messages before "…".
_SHOWN_PARTS = 8

# a JSON string (optionally followed by the colon that makes it a key), or a structural token
_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"(\s*:)?|[\[\]{},]')


def format_path(parts: Sequence[str | int]) -> str:
    """A value's path as ``a.b[0].c`` (at most a few components, then ``…``).

    >>> format_path(["inputs", "aoi", "coordinates", 0, 3])
    'inputs.aoi.coordinates[0][3]'
    >>> format_path([])
    ''
    """
    out = ""
    for i, p in enumerate(parts):
        if i == _SHOWN_PARTS:
            return out + "…"
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


def _too_deep_path(text: str, max_depth: int) -> list[str | int] | None:
    """Path of the first container nested deeper than ``max_depth`` (a scan of the tokens,
    not a parse: safe at any depth), or ``None``."""
    stack: list[list[Any]] = []  # [kind, key or index]
    for m in _TOKEN.finditer(text):
        tok = m.group(0)
        if tok[0] == '"':
            if m.group(1) and stack and stack[-1][0] == "{":
                try:
                    stack[-1][1] = json.loads(tok[: tok.rindex('"') + 1])
                except ValueError:
                    return None
        elif tok in "[{":
            if len(stack) >= max_depth:
                return [s[1] for s in stack]
            stack.append([tok, 0 if tok == "[" else ""])
        elif tok in "]}":
            if stack:
                stack.pop()
        elif stack and stack[-1][0] == "[":  # a comma in an array
            stack[-1][1] += 1
    return None


def _has_lone_surrogate(text: str) -> bool:
    if text.isascii():
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _bad_scalar(value: Any) -> str | None:
    """Why a scalar cannot be used (``None``: it can)."""
    if isinstance(value, float) and not math.isfinite(value):
        return f"{value} is not a JSON number; give a finite number"
    if isinstance(value, str) and _has_lone_surrogate(value):
        return "the text holds a lone UTF-16 surrogate (e.g. \\ud800), which is not valid Unicode"
    return None


def _numeric_block_ok(v: list[Any] | tuple[Any, ...], room: int) -> bool:
    """Whether a long array is a block of finite numbers at most ``room`` levels deep (then
    nothing in it needs a closer look); one numpy conversion instead of a loop per item."""
    if len(v) < 8:
        return False
    try:
        a = np.asarray(v, dtype=np.float64)
    except (TypeError, ValueError, OverflowError):
        return False
    return a.ndim <= room and bool(np.isfinite(a).all())


def check_json_value(value: Any, *, max_depth: int = MAX_JSON_DEPTH, what: str = "value") -> None:
    """Check a parsed JSON value: depth, strings (keys too) and numbers (see the module doc).

    Raises :class:`~geoeco.core.errors.InvalidJSONValue` whose ``field`` is the path of the first
    bad value (``""`` for the value itself, then named ``what`` in the message).

    >>> check_json_value({"a": [[1]]}, max_depth=2)
    Traceback (most recent call last):
    ...
    geoeco.core.errors.InvalidJSONValue: a[0]: nested more than 2 levels deep
    """
    todo: list[tuple[Any, tuple[str | int, ...]]] = [(value, ())]
    while todo:
        v, path = todo.pop()
        if isinstance(v, Mapping):
            items: Any = v.items()
        elif isinstance(v, list | tuple):
            if _numeric_block_ok(v, max_depth - len(path)):
                continue
            items = enumerate(v)
        else:
            why = _bad_scalar(v)
            if why:
                where = format_path(path)
                raise InvalidJSONValue(f"{where or what}: {why}", where, why)
            continue
        if len(path) >= max_depth:
            where, why = format_path(path), f"nested more than {max_depth} levels deep"
            raise InvalidJSONValue(f"{where or what}: {why}", where, why)
        for k, x in items:
            if isinstance(v, Mapping):
                if not isinstance(k, str) or _has_lone_surrogate(k):
                    where, why = format_path(path), f"the key {k!r} is not valid text"
                    raise InvalidJSONValue(f"{where or what}: {why}", where, why)
            if isinstance(x, Mapping | list | tuple):
                todo.append((x, (*path, k)))
            else:
                why = _bad_scalar(x)
                if why:
                    where = format_path((*path, k))
                    raise InvalidJSONValue(f"{where}: {why}", where, why)


def loads_json(
    text: str | bytes, *, what: str = "the JSON text", max_depth: int = MAX_JSON_DEPTH
) -> Any:
    """Parse and check JSON (see the module docstring); ``what`` names the text in messages.

    >>> loads_json(b'{"a": "\\\\ud800"}', what="body")
    Traceback (most recent call last):
    ...
    geoeco.core.errors.InvalidJSONValue: a: the text holds a lone UTF-16 surrogate (e.g. \\ud800), \
which is not valid Unicode
    """
    if isinstance(text, bytes | bytearray):
        try:
            text = bytes(text).decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise InvalidJSON(f"{what} is not UTF-8 text (bad byte at {exc.start})") from None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidJSON(
            f"{what} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except ValueError as exc:  # e.g. an integer of more than 4300 digits
        raise InvalidJSON(f"{what} is not valid JSON: {str(exc)[:200]}") from None
    except RecursionError:
        where = format_path(_too_deep_path(text, max_depth) or [])
        why = f"nested more than {max_depth} levels deep"
        raise InvalidJSONValue(f"{where or what}: {why}", where, why) from None
    check_json_value(value, max_depth=max_depth, what=what)
    return value


__all__ = ["MAX_JSON_DEPTH", "check_json_value", "format_path", "loads_json"]
