"""An OpenAPI 3.0 rendering of FastAPI's OpenAPI 3.1 document (and of JSON Schemas in it).

FastAPI writes OpenAPI 3.1, whose schemas are JSON Schema 2020-12. The OGC API standards
this service follows (Features Part 1 ``oas30``, Processes Part 1 ``oas30``) and older clients
(Swagger UI 4, GDAL, OWSLib) expect OpenAPI 3.0, whose schema objects are an extended subset
of JSON Schema draft 4/5. :func:`to_openapi30` rewrites the document; :func:`schema30`
rewrites one schema:

- ``anyOf``/``oneOf`` with a ``{"type": "null"}`` branch (and ``type: [.., "null"]``) become
  the other branch(es) plus ``nullable: true``;
- ``const: v`` becomes ``enum: [v]``; ``examples: [a, ...]`` becomes ``example: a``;
- numeric ``exclusiveMinimum``/``exclusiveMaximum`` become ``minimum``/``maximum`` with the
  boolean flag;
- ``prefixItems`` (tuples) become ``items`` (the common item schema) with the length bounds.

>>> schema30({"anyOf": [{"type": "integer", "exclusiveMinimum": 0}, {"type": "null"}]})
{'type': 'integer', 'exclusiveMinimum': True, 'nullable': True, 'minimum': 0}
>>> schema30({"const": "Feature", "examples": ["Feature"]})
{'enum': ['Feature'], 'example': 'Feature'}
"""

from __future__ import annotations

import copy
from typing import Any

#: The OpenAPI version of the rendering.
OPENAPI_30 = "3.0.3"
_NULL = {"type": "null"}
#: Keywords whose value is a list of subschemas / one subschema / a map of subschemas.
_LIST_KEYS = ("anyOf", "oneOf", "allOf", "prefixItems")
_ONE_KEYS = ("items", "not", "additionalProperties")
_MAP_KEYS = ("properties",)
#: JSON Schema 2020-12 keywords with no OpenAPI 3.0 counterpart (dropped).
_DROPPED = ("$schema", "$id", "$comment", "propertyNames", "unevaluatedProperties")


def _children(s: dict[str, Any]) -> dict[str, Any]:
    out = dict(s)
    for key in _LIST_KEYS:
        if isinstance(out.get(key), list):
            out[key] = [schema30(x) for x in out[key]]
    for key in _ONE_KEYS:
        if isinstance(out.get(key), dict):
            out[key] = schema30(out[key])
    for key in _MAP_KEYS:
        if isinstance(out.get(key), dict):
            out[key] = {k: schema30(v) for k, v in out[key].items()}
    return out


def _nullable(s: dict[str, Any]) -> dict[str, Any]:
    """Null branches and ``type`` lists as ``nullable``."""
    t = s.get("type")
    if isinstance(t, list) and "null" in t:
        rest = [x for x in t if x != "null"]
        s = {**s, "nullable": True}
        if len(rest) == 1:
            s["type"] = rest[0]
        elif rest:
            del s["type"]
            s["anyOf"] = [{"type": x} for x in rest]
        else:
            del s["type"]
    if s.get("type") == "null":
        s = {k: v for k, v in s.items() if k != "type"}
        return {**s, "nullable": True, "enum": [None]}
    for key in ("anyOf", "oneOf"):
        branches = s.get(key)
        if not isinstance(branches, list) or _NULL not in branches:
            continue
        rest = [b for b in branches if b != _NULL]
        s = {k: v for k, v in s.items() if k != key}
        if len(rest) == 1 and "$ref" not in rest[0]:
            s = {**rest[0], **s}
        elif len(rest) == 1:
            s["allOf"] = rest
        else:
            s[key] = rest
        s["nullable"] = True
    return s


def _bounds(s: dict[str, Any]) -> dict[str, Any]:
    for ex, bound in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        value = s.get(ex)
        if isinstance(value, int | float) and not isinstance(value, bool):
            s[bound] = value
            s[ex] = True
    return s


def _tuple_items(s: dict[str, Any]) -> dict[str, Any]:
    prefix = s.pop("prefixItems", None)
    if not isinstance(prefix, list):
        return s
    unique: list[Any] = []
    for item in prefix:
        if item not in unique:
            unique.append(item)
    s.setdefault("type", "array")
    s["items"] = unique[0] if len(unique) == 1 else {"anyOf": unique}
    s.setdefault("minItems", len(prefix))
    s.setdefault("maxItems", len(prefix))
    return s


def schema30(schema: Any) -> Any:
    """One JSON Schema (2020-12, as pydantic writes it) as an OpenAPI 3.0 schema object."""
    if not isinstance(schema, dict):
        return schema
    s = _children(_nullable(dict(schema)))
    for key in _DROPPED:
        s.pop(key, None)
    if "const" in s:
        s["enum"] = [s.pop("const")]
    if isinstance(s.get("examples"), list):
        examples = s.pop("examples")
        if examples:
            s.setdefault("example", examples[0])
    return _tuple_items(_bounds(s))


def _media_schemas(content: Any) -> None:
    if not isinstance(content, dict):
        return
    for media in content.values():
        if isinstance(media, dict) and "schema" in media:
            media["schema"] = schema30(media["schema"])


def _operation30(op: dict[str, Any]) -> None:
    for param in op.get("parameters", []):
        if "schema" in param:
            param["schema"] = schema30(param["schema"])
    body = op.get("requestBody")
    if isinstance(body, dict):
        _media_schemas(body.get("content"))
    for response in op.get("responses", {}).values():
        if not isinstance(response, dict):
            continue
        _media_schemas(response.get("content"))
        for header in response.get("headers", {}).values():
            if isinstance(header, dict) and "schema" in header:
                header["schema"] = schema30(header["schema"])


def to_openapi30(document: dict[str, Any]) -> dict[str, Any]:
    """A deep copy of an OpenAPI 3.1 ``document`` rewritten as OpenAPI 3.0.3."""
    doc = copy.deepcopy(document)
    doc["openapi"] = OPENAPI_30
    for key in ("jsonSchemaDialect", "webhooks"):
        doc.pop(key, None)
    info = doc.get("info", {})
    info.pop("summary", None)
    info.get("license", {}).pop("identifier", None)
    schemas = doc.get("components", {}).get("schemas", {})
    for name in list(schemas):
        schemas[name] = schema30(schemas[name])
    for item in doc.get("paths", {}).values():
        for op in item.values():
            if isinstance(op, dict):
                _operation30(op)
    return doc


__all__ = ["OPENAPI_30", "schema30", "to_openapi30"]
