"""Structured JSON logs: one line per request, and every ``geoeco_api`` record as JSON.

:class:`RequestLogMiddleware` (pure ASGI) gives each request an id (the client's
``X-Request-ID`` when it is 1-64 safe characters, else a random one), returns it in the
``X-Request-ID`` response header, and logs one line on ``geoeco_api.access`` when the response
is finished::

    {"ts": "2025-01-01T00:00:00.123Z", "level": "INFO", "logger": "geoeco_api.access",
     "event": "request", "method": "GET", "path": "/query/point", "status": 200,
     "duration_ms": 3.1, "request_id": "9f0c...", "client": "127.0.0.1"}

Error responses add ``problem_type`` (the ``type`` of the RFC 7807 body, read from the
response; the body itself is never logged, nor are request bodies or query strings). The
request id is also attached to every other record logged while the request runs (e.g. the
traceback of a 500), so the two can be matched.

:func:`configure_logging` installs :class:`JsonFormatter` on the ``geoeco_api`` logger (once;
idempotent) and leaves the root logger alone (records still propagate to it, so do not also
give the root logger a handler in production, or lines appear twice).

Examples
--------
>>> import logging
>>> rec = logging.LogRecord("geoeco_api.access", logging.INFO, "", 0, "request", None, None)
>>> rec.fields = {"status": 200}
>>> '"status": 200' in JsonFormatter().format(rec)
True
>>> safe_request_id("abc-123"), len(safe_request_id("bad id\\n"))
('abc-123', 32)
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

ACCESS_LOGGER = "geoeco_api.access"
REQUEST_ID_HEADER = "X-Request-ID"
request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "geoeco_request_id", default=None
)
_SAFE_ID = re.compile(r"^[A-Za-z0-9._\-]{1,64}$")
_MARK = "_geoeco_json_handler"


def safe_request_id(given: str | None) -> str:
    """The client's request id when it is short and plain, else a fresh random one."""
    if given and _SAFE_ID.match(given):
        return given
    return uuid.uuid4().hex


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, msg, the record's ``fields``, request id."""

    def format(self, record: logging.LogRecord) -> str:
        """Render ``record`` as one line of JSON."""
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            out.update(fields)
        else:
            out["msg"] = record.getMessage()
        rid = getattr(record, "request_id", None) or request_id_var.get()
        if rid and "request_id" not in out:
            out["request_id"] = rid
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False, default=str)


def configure_logging(level: str | int = "INFO") -> None:
    """Send ``geoeco_api`` records as JSON lines to stderr (installed once per process)."""
    logger = logging.getLogger("geoeco_api")
    logger.setLevel(level if isinstance(level, int) else level.upper())
    if any(getattr(h, _MARK, False) for h in logger.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    setattr(handler, _MARK, True)
    logger.addHandler(handler)


def _header(scope: Scope, name: bytes) -> str | None:
    for k, v in scope.get("headers") or []:
        if k.lower() == name:
            return v.decode("latin-1")
    return None


class RequestLogMiddleware:
    """ASGI middleware: request id header + one structured access-log line per request."""

    def __init__(self, app: ASGIApp, logger_name: str = ACCESS_LOGGER) -> None:
        self.app = app
        self.log = logging.getLogger(logger_name)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Time the request, tag the response with its id, log the outcome."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = safe_request_id(_header(scope, b"x-request-id"))
        token = request_id_var.set(rid)
        t0 = time.perf_counter()
        state: dict[str, Any] = {"status": 500, "problem": False, "type": None}

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                state["status"] = message["status"]
                headers = list(message.get("headers") or [])
                ctype = next((v for k, v in headers if k.lower() == b"content-type"), b"")
                state["problem"] = ctype.startswith(b"application/problem+json")
                headers.append((REQUEST_ID_HEADER.lower().encode(), rid.encode()))
                message = {**message, "headers": headers}
            elif message["type"] == "http.response.body" and state["problem"]:
                if state["type"] is None:
                    state["type"] = _problem_type(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        except Exception:
            state["status"] = 500
            raise
        finally:
            fields: dict[str, Any] = {
                "event": "request",
                "method": scope.get("method"),
                "path": scope.get("path"),
                "status": state["status"],
                "duration_ms": round((time.perf_counter() - t0) * 1000.0, 2),
                "request_id": rid,
            }
            client = scope.get("client")
            if client:
                fields["client"] = client[0]
            if state["type"]:
                fields["problem_type"] = state["type"]
            status = int(state["status"])
            level = logging.ERROR if status >= 500 else logging.INFO
            self.log.log(level, "request", extra={"fields": fields})
            request_id_var.reset(token)


def _problem_type(body: bytes) -> str:
    try:
        value = json.loads(body).get("type")
    except (ValueError, AttributeError):
        return "unknown"
    return str(value) if value else "unknown"


__all__ = [
    "ACCESS_LOGGER",
    "REQUEST_ID_HEADER",
    "JsonFormatter",
    "RequestLogMiddleware",
    "configure_logging",
    "request_id_var",
    "safe_request_id",
]
