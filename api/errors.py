"""Every error the service returns is an RFC 7807 problem (``application/problem+json``).

One table, :data:`STATUS_CODES`, maps each :mod:`geoeco.core.errors` class to an HTTP status; the
most specific class in an exception's MRO wins. The problem ``type`` is
``https://geoeco.dev/problems/<ErrorClass>`` for library errors and
``https://geoeco.dev/problems/<name>`` for HTTP-level ones (``not-found``, ``request-validation``,
``rate-limited``, ...). Bodies never carry a stack trace or a server path; real 5xx errors are
logged with their traceback.

Decisions
---------
- ``ManifestError`` is 422: at request time it can only come from a manifest a user sent (the
  built-in and configured manifests are loaded when the app starts, where a bad one stops it).
- ``DataSourceError`` is 422: a file a user supplied is missing, unreadable or of an unsupported
  format. When the *server's own* data fail (a configured layer's file cannot be read), routes
  wrap the call in :func:`server_side` and the problem becomes a 500 with the same ``type``,
  a generic detail, and a log entry.
- ``RemoteSourceError`` is 502: a public catalog (configured by the operator, never named by a
  request) is unreachable or lacks an item or tile; the client's request was fine.

Bounded answers
---------------
An error never echoes an unbounded amount of what the client sent: :func:`clip` shortens
every run of more than :data:`MAX_ECHO_CHARS` characters without white space (a huge value or
key quoted in a message) and caps the whole ``detail`` at :data:`MAX_DETAIL_CHARS`; extra
members (``errors`` lists and the like) keep at most :data:`MAX_ERRORS` items, with the number
left out in ``errorsOmitted``.

Examples
--------
>>> from geoeco.core.errors import EmptyArea, GeoecoError, OversizeRequest
>>> status_for(EmptyArea("x")), status_for(OversizeRequest("x")), status_for(GeoecoError("x"))
(422, 413, 400)
>>> problem_type(EmptyArea)
'https://geoeco.dev/problems/EmptyArea'
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import re
from collections.abc import Iterable, Iterator, Mapping
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path

from geoeco.core import errors as ge

log = logging.getLogger("geoeco_api")

PROBLEM_BASE = "https://geoeco.dev/problems/"
PROBLEM_MEDIA_TYPE = "application/problem+json"

#: The one table: geoeco error class -> HTTP status.
STATUS_CODES: dict[type[Exception], int] = {
    ge.GeoecoError: 400,
    ge.LayerNotFound: 404,
    ge.LayerExists: 409,
    ge.InvalidInput: 422,
    ge.InvalidFields: 422,
    ge.InvalidJSON: 400,
    ge.InvalidJSONValue: 422,
    ge.CRSError: 422,
    ge.GridMismatch: 422,
    ge.InvalidGeometry: 422,
    ge.EmptyArea: 422,
    ge.OutsideChina: 422,
    ge.UnitsError: 422,
    ge.PartialCoverage: 422,
    ge.UnsafeDataSource: 422,
    ge.OversizeRequest: 413,
    ge.ManifestError: 422,
    ge.DataSourceError: 422,
    ge.RemoteSourceError: 502,
    ge.InvalidProcessInputs: 422,
    ge.ProcessInputTooLarge: 413,
    ge.ProcessNotFound: 404,
}

#: Problem type names of HTTP-level errors, by status.
HTTP_PROBLEM_NAMES: dict[int, str] = {
    400: "bad-request",
    401: "unauthorized",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    406: "not-acceptable",
    409: "conflict",
    413: "payload-too-large",
    415: "unsupported-media-type",
    422: "request-validation",
    429: "rate-limited",
    500: "internal-error",
    503: "service-unavailable",
}

#: Longest run of non-blank characters echoed back in an error (a value, key or name).
MAX_ECHO_CHARS = 200
#: Longest ``detail`` of a problem.
MAX_DETAIL_CHARS = 2000
#: Most items of a list (e.g. ``errors``) in a problem; the rest are counted, not listed.
MAX_ERRORS = 20
_LONG_RUN = re.compile(r"\S{" + str(MAX_ECHO_CHARS + 1) + ",}")

# Anything that looks like an absolute path (POSIX or Windows) is cut out of details.
_PATH = re.compile(r"(?:[A-Za-z]:\\|(?<![\w:/])/)(?:[\w.\-~]+[/\\])+[\w.\-~]*")


def scrub(text: str) -> str:
    """Replace absolute file paths in ``text`` by their last component.

    >>> scrub("cannot open /srv/geoeco/cache/demo_full/dem.tif: bad")
    "cannot open 'dem.tif': bad"
    >>> scrub("see https://geoeco.dev/problems/x")
    'see https://geoeco.dev/problems/x'
    """
    return _PATH.sub(lambda m: repr(re.split(r"[/\\]", m.group(0))[-1] or "…"), text)


def clip(text: str, limit: int = MAX_DETAIL_CHARS) -> str:
    """``text`` with long runs of non-blank characters shortened and at most ``limit`` chars.

    A run longer than :data:`MAX_ECHO_CHARS` keeps its first :data:`MAX_ECHO_CHARS` characters
    followed by ``…[N chars]`` (N = its full length).

    >>> c = clip("unknown type " + "x" * 5000 + " (known: a, b)")
    >>> len(c), c[-30:]
    (240, 'xxx…[5000 chars] (known: a, b)')
    >>> len(clip("a " * 5000)), clip("a " * 5000)[-12:]
    (2000, 'a a a a a a…')
    """
    out = _LONG_RUN.sub(lambda m: f"{m.group(0)[:MAX_ECHO_CHARS]}…[{len(m.group(0))} chars]", text)
    return out if len(out) <= limit else out[: limit - 1] + "…"


def bounded(value: Any, depth: int = 0) -> Any:
    """A JSON value cut down for an error body: strings clipped, lists and objects capped.

    Lists keep :data:`MAX_ERRORS` items and objects :data:`MAX_ERRORS` members; below four
    levels of nesting values become ``"…"``.

    >>> bounded({"errors": list(range(25)), "name": "y" * 300})["errors"][-1]
    19
    >>> len(bounded("y" * 300))  # 200 + len("…[300 chars]")
    212
    """
    if isinstance(value, str):
        return clip(value, MAX_ECHO_CHARS * 2)
    if depth >= 4 and isinstance(value, dict | list | tuple):
        return "…"
    if isinstance(value, dict):
        items = list(value.items())[:MAX_ERRORS]
        return {clip(str(k), MAX_ECHO_CHARS): bounded(v, depth + 1) for k, v in items}
    if isinstance(value, list | tuple):
        return [bounded(v, depth + 1) for v in value[:MAX_ERRORS]]
    return value


def status_for(exc: BaseException) -> int:
    """HTTP status of a geoeco error: the most specific class of its MRO found in the table."""
    for cls in type(exc).__mro__:
        if cls in STATUS_CODES:
            return STATUS_CODES[cls]
    return 500


def problem_type(exc_class: type[BaseException] | str) -> str:
    """The problem ``type`` URI of an error class (or of an HTTP-level problem name)."""
    name = exc_class if isinstance(exc_class, str) else exc_class.__name__
    return PROBLEM_BASE + name


def problem_response(
    status: int,
    detail: str,
    *,
    type_: str | None = None,
    title: str | None = None,
    instance: str | None = None,
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    """An RFC 7807 response: ``type``, ``title``, ``status``, ``detail``, ``instance`` + extras.

    ``type_`` defaults to the HTTP-level name of ``status``; ``title`` to the status phrase.
    ``detail`` is scrubbed of server paths and clipped (:func:`clip`); extras are
    :func:`bounded`, and a list extra longer than :data:`MAX_ERRORS` adds ``<name>Omitted``.
    """
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    body: dict[str, Any] = {
        "type": type_ or problem_type(HTTP_PROBLEM_NAMES.get(status, f"http-{status}")),
        "title": title or phrase,
        "status": status,
        "detail": clip(scrub(detail)),
        "instance": None if instance is None else clip(instance),
    }
    for name, value in extra.items():
        if isinstance(value, list | tuple) and len(value) > MAX_ERRORS:
            body[name + "Omitted"] = len(value) - MAX_ERRORS
            value = value[:MAX_ERRORS]
        body[name] = jsonable_encoder(bounded(value))
    return JSONResponse(
        body, status_code=status, headers=dict(headers or {}), media_type=PROBLEM_MEDIA_TYPE
    )


class ServerSideError(Exception):
    """A geoeco error caused by the server's own data or configuration (-> 500, logged)."""

    def __init__(self, original: BaseException, public_detail: str) -> None:
        super().__init__(public_detail)
        self.original = original
        self.public_detail = public_detail


@contextlib.contextmanager
def server_side(what: str) -> Iterator[None]:
    """Turn ``DataSourceError``/``ManifestError`` raised inside into a 500 problem.

    Use around reads of configured layers, where a bad file is the server's fault, not the
    caller's. ``what`` names the resource in the public detail (e.g. ``"layer 'demo.dem'"``).
    """
    try:
        yield
    except (ge.DataSourceError, ge.ManifestError) as exc:
        raise ServerSideError(exc, f"the server could not read the data of {what}") from exc


def param_error(location: str, name: str, message: str) -> RequestValidationError:
    """A request-validation error for one parameter (rendered like FastAPI's own 422s).

    ``location`` is ``query``, ``path``, ``header`` or ``body``; the problem's ``errors`` list
    and ``detail`` name the field as ``<location>.<name>``.
    """
    return RequestValidationError(
        [{"loc": (location, name), "msg": message, "type": "value_error", "input": None}]
    )


def _instance(request: Request) -> str:
    return request.url.path


def _title(cls: type[BaseException]) -> str:
    doc = (cls.__doc__ or cls.__name__).strip().splitlines()[0]
    return doc.rstrip(".")


async def _geoeco_handler(request: Request, exc: Exception) -> JSONResponse:
    status = status_for(exc)
    if status >= 500:
        log.error("server error on %s", request.url.path, exc_info=exc)
    return problem_response(
        status,
        str(exc),
        type_=problem_type(type(exc)),
        title=_title(type(exc)),
        instance=_instance(request),
    )


async def _server_side_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ServerSideError)
    log.error("server-side data error on %s", request.url.path, exc_info=exc.original)
    return problem_response(
        500,
        exc.public_detail,
        type_=problem_type(type(exc.original)),
        title=_title(type(exc.original)),
        instance=_instance(request),
    )


def _field(loc: tuple[Any, ...] | list[Any]) -> str:
    return ".".join(str(p) for p in loc)


async def _validation_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    found = exc.errors()
    errors = [
        {
            "field": clip(_field(e.get("loc", ())), MAX_ECHO_CHARS),
            "message": clip(str(e.get("msg", "")), MAX_ECHO_CHARS * 2),
            "code": e.get("type"),
        }
        for e in itertools.islice(found, MAX_ERRORS)
    ]
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:3]) or "invalid request"
    if len(found) > 3:
        detail += f" (and {len(found) - 3} more errors)"
    extra: dict[str, Any] = {"errors": errors}
    if len(found) > MAX_ERRORS:
        extra["errorsOmitted"] = len(found) - MAX_ERRORS
    return problem_response(
        422,
        detail,
        type_=problem_type("request-validation"),
        title="Invalid request parameters",
        instance=_instance(request),
        **extra,
    )


def route_methods(routers: Iterable[Any]) -> list[tuple[re.Pattern[str], frozenset[str]]]:
    """Each route's path pattern and methods, from the routers an app includes (no prefixes)."""
    out = []
    for router in routers:
        for route in router.routes:
            methods = getattr(route, "methods", None)
            if methods:
                out.append((compile_path(route.path)[0], frozenset(methods)))
    return out


def allowed_methods(request: Request) -> str:
    """The ``Allow`` value for the request's path: the methods of every route matching it.

    Starlette's own 405 names the methods of the first route whose path matched, which is
    incomplete when one path has a route per method (``GET`` and ``DELETE /jobs/{id}``).
    The table is ``app.state.route_methods`` (:func:`route_methods`, set by ``create_app``).
    """
    table = getattr(request.app.state, "route_methods", [])
    path = request.scope.get("path", "")
    methods: set[str] = set()
    for pattern, route_methods_ in table:
        if pattern.match(path):
            methods |= route_methods_
    return ", ".join(sorted(methods))


async def _http_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    status = exc.status_code
    if status >= 500:
        log.error("HTTP %s on %s: %s", status, request.url.path, exc.detail)
    detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(status).description
    if status == 404 and detail == "Not Found":
        detail = f"no resource at {request.url.path!r}; see / for the available routes"
    headers = dict(getattr(exc, "headers", None) or {})
    if status == 405:
        headers["Allow"] = allowed_methods(request) or headers.get("Allow", "")
        if detail == "Method Not Allowed":
            detail = f"method {request.method} is not allowed on {request.url.path!r}"
    return problem_response(status, detail, instance=_instance(request), headers=headers or None)


async def _unhandled_handler(request: Request, exc: Exception) -> JSONResponse:
    log.error("unhandled error on %s", request.url.path, exc_info=exc)
    return problem_response(
        500,
        "internal server error; the incident has been logged",
        type_=problem_type("internal-error"),
        instance=_instance(request),
    )


def add_exception_handlers(app: FastAPI) -> None:
    """Install the problem+json handlers on ``app`` (geoeco, validation, HTTP, unhandled)."""
    app.add_exception_handler(ge.GeoecoError, _geoeco_handler)
    app.add_exception_handler(ServerSideError, _server_side_handler)
    app.add_exception_handler(RequestValidationError, _validation_handler)
    app.add_exception_handler(StarletteHTTPException, _http_handler)
    app.add_exception_handler(Exception, _unhandled_handler)


class Problem(BaseModel):
    """RFC 7807 problem details, as every error response of the service carries them.

    Some problems add members: ``errors`` (a validation error's ``{field, message, code}``
    list, at most :data:`MAX_ERRORS`) and ``errorsOmitted``, ``jobID`` (a failed job).
    """

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None


#: Where the OpenAPI document keeps the :class:`Problem` schema (``create_app`` puts it there).
PROBLEM_SCHEMA_REF = "#/components/schemas/Problem"


def problem_response_doc(code: int) -> dict[str, Any]:
    """The OpenAPI response object of a problem: ``application/problem+json``, :class:`Problem`."""
    return {
        "description": HTTPStatus(code).phrase,
        "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": PROBLEM_SCHEMA_REF}}},
    }


def problem_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """Documented error responses for a route decorator: ``responses=problem_responses(404)``."""
    return {code: problem_response_doc(code) for code in codes}


__all__ = [
    "HTTP_PROBLEM_NAMES",
    "MAX_DETAIL_CHARS",
    "MAX_ECHO_CHARS",
    "MAX_ERRORS",
    "PROBLEM_BASE",
    "PROBLEM_MEDIA_TYPE",
    "PROBLEM_SCHEMA_REF",
    "Problem",
    "STATUS_CODES",
    "ServerSideError",
    "add_exception_handlers",
    "bounded",
    "clip",
    "param_error",
    "problem_response",
    "problem_response_doc",
    "problem_responses",
    "problem_type",
    "scrub",
    "server_side",
    "status_for",
]
