"""Base model of the service's JSON request bodies: unknown members refused in one error.

With ``extra="forbid"`` alone pydantic reports every unknown member separately, and FastAPI
turns each report into a dict: a 3 MB body with 200,000 made-up keys took seconds of CPU and
gave a 27 MB answer. :class:`ClosedBody` counts the unknown member names before the fields are
validated: up to :data:`~geoeco_api.errors.MAX_ERRORS` of them are reported one by one as
usual (``body.<name>``), more raise a single error naming the first few and their count.

Examples
--------
>>> from pydantic import ValidationError
>>> class Site(ClosedBody):
...     buffer_m: float = 0.0
>>> def errors(body):
...     try:
...         Site.model_validate(body)
...     except ValidationError as exc:
...         return exc.errors()
>>> [(e["loc"], e["msg"]) for e in errors({"buffer_m": 1, "a": 1, "b": 2})]
[(('a',), 'Extra inputs are not permitted'), (('b',), 'Extra inputs are not permitted')]
>>> many = errors({"buffer_m": 1, **{f"k{i}": i for i in range(1000)}})
>>> len(many), many[0]["msg"]
(1, "Value error, unknown members 'k0', 'k1', 'k2', 'k3', 'k4' and 995 more; allowed: buffer_m")
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator

from .errors import MAX_ECHO_CHARS, MAX_ERRORS, clip

#: Unknown member names quoted in the error.
SHOWN_UNKNOWN = 5


class ClosedBody(BaseModel):
    """A request body that accepts only its declared members (aliases included)."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _known_members_only(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        known = set()
        for name, field in cls.model_fields.items():
            known.add(name)
            if field.alias:
                known.add(field.alias)
        unknown = [k for k in data if k not in known]
        if len(unknown) > MAX_ERRORS:
            first = unknown[:SHOWN_UNKNOWN]
            shown = ", ".join(repr(clip(str(k), MAX_ECHO_CHARS // 4)) for k in first)
            more = len(unknown) - SHOWN_UNKNOWN
            tail = f" and {more} more" if more > 0 else ""
            raise ValueError(f"unknown members {shown}{tail}; allowed: {', '.join(sorted(known))}")
        return data


__all__ = ["ClosedBody"]
