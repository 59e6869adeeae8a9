"""JSON responses serialised once, by pydantic's serializer, bypassing FastAPI's re-validation.

A route declared with ``response_model=M`` (or a return annotation) that returns an ``M`` has
FastAPI validate it again and then serialise it, and a plain ``def`` route does the validation
in the thread pool (one more hop). A route that returns a :class:`~starlette.responses.Response`
skips both, while ``response_model`` still documents the body in the OpenAPI document. The
bytes are those FastAPI's own fast path writes (pydantic's JSON serializer, ``by_alias``).

Examples
--------
>>> json_response({"status": "ok", "n": 2}).body
b'{"status":"ok","n":2}'
"""

from __future__ import annotations

from typing import Any

import pydantic_core
from pydantic import BaseModel
from starlette.responses import Response


def json_body(value: BaseModel | dict[str, Any] | list[Any]) -> bytes:
    """``value`` as JSON bytes (a model by its own serializer, with its aliases)."""
    if isinstance(value, BaseModel):
        return value.__pydantic_serializer__.to_json(value, by_alias=True)
    return pydantic_core.to_json(value, by_alias=True)


def json_response(
    value: BaseModel | dict[str, Any] | list[Any], status_code: int = 200
) -> Response:
    """An ``application/json`` response of ``value``, serialised once."""
    return Response(json_body(value), status_code=status_code, media_type="application/json")


__all__ = ["json_body", "json_response"]
