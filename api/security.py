"""Optional API keys, a per-client token-bucket rate limit, and a request-body size limit.

- :func:`require_api_key` is a dependency for routes that start work, upload or delete. With
  ``GEOECO_API_KEYS`` empty it lets everything through; otherwise a missing ``X-API-Key`` is a
  401 and an unknown one a 403 (both problem+json). An admin key (``GEOECO_ADMIN_KEYS``) is
  accepted wherever a key is, and :func:`is_admin` tells the job routes it may see every job.
- :func:`rate_limit` is applied to every route by :func:`geoeco_api.main.create_app`. One
  bucket per valid API key (or client IP otherwise; run uvicorn with ``--proxy-headers``
  behind a proxy) holds ``burst`` tokens and refills at
  ``rate_limit_per_minute / 60`` tokens a second; an empty bucket gives 429 with
  ``Retry-After`` (whole seconds). The buckets live in the process (one per app), which is
  enough for a single-process deployment; behind several workers put a proxy limit in front.
- :class:`BodySizeLimitMiddleware` answers 413 before reading a body larger than
  ``max_body_bytes`` (by ``Content-Length``, and by counting streamed chunks).
- :class:`CrossSiteGuard` refuses what a page of another web site could make a browser send
  (see its docstring): state-changing requests from a foreign ``Origin`` (403) and bodies of
  the content types an HTML form or a "simple" ``fetch`` can send without asking the server
  first (415).

Examples
--------
>>> b = TokenBuckets(rate_per_minute=60, burst=2)
>>> b.take("k", now=0.0), b.take("k", now=0.0), b.take("k", now=0.0)
(0.0, 0.0, 1.0)
>>> b.take("k", now=1.0)
0.0
"""

from __future__ import annotations

import math
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .deps import SettingsDep, app_settings
from .errors import problem_response, problem_type
from .settings import Settings


class TokenBuckets:
    """Thread-safe token buckets keyed by client, bounded to ``max_clients`` (LRU eviction)."""

    def __init__(self, rate_per_minute: float, burst: int, *, max_clients: int = 10_000) -> None:
        self.rate = rate_per_minute / 60.0
        self.burst = float(burst)
        self.max_clients = max_clients
        self._state: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, key: str, *, now: float | None = None) -> float:
        """Take one token for ``key``: 0.0 when allowed, else seconds until one is available."""
        t = time.monotonic() if now is None else now
        with self._lock:
            tokens, last = self._state.pop(key, (self.burst, t))
            tokens = min(self.burst, tokens + (t - last) * self.rate)
            if tokens >= 1.0:
                wait, tokens = 0.0, tokens - 1.0
            else:
                wait = (1.0 - tokens) / self.rate if self.rate > 0 else math.inf
            self._state[key] = (tokens, t)
            while len(self._state) > self.max_clients:
                self._state.popitem(last=False)
            return wait


def _client_key(request: Request, settings: Settings) -> str:
    # Only a valid key gets its own bucket; otherwise made-up keys would dodge the limit.
    key = request.headers.get("x-api-key")
    if key and key in settings.api_key_set | settings.admin_key_set:
        return "key:" + key
    host = request.client.host if request.client else "unknown"
    return "ip:" + host


def _buckets(request: Request, rate: int, burst: int) -> TokenBuckets:
    state = request.app.state
    buckets = getattr(state, "rate_buckets", None)
    if buckets is None or buckets.rate != rate / 60.0 or buckets.burst != float(burst):
        buckets = state.rate_buckets = TokenBuckets(rate, burst)
    return buckets


async def rate_limit(request: Request) -> None:
    """Dependency: 429 with ``Retry-After`` when this client's bucket is empty.

    ``async``: it runs on the event loop (a few microseconds under the buckets' lock), not in
    the thread pool. It reads the settings itself (:func:`~geoeco_api.deps.app_settings`): a
    sub-dependency would cost every request of every route one more dependency resolution.
    """
    settings = app_settings(request)
    if settings.rate_limit_per_minute <= 0:
        return
    wait = _buckets(request, settings.rate_limit_per_minute, settings.burst).take(
        _client_key(request, settings)
    )
    if wait > 0:
        retry = max(1, math.ceil(wait)) if math.isfinite(wait) else 60
        raise HTTPException(
            status_code=429,
            detail=f"rate limit of {settings.rate_limit_per_minute} requests per minute "
            f"exceeded; retry after {retry} s",
            headers={"Retry-After": str(retry)},
        )


def key_in(given: str | None, keys: frozenset[str]) -> bool:
    """Whether ``given`` is one of ``keys`` (compared in constant time).

    >>> key_in("b", frozenset({"a", "b"})), key_in("c", frozenset({"a"})), key_in(None, frozenset())
    (True, False, False)
    """
    if not given:
        return False
    raw = given.encode("utf-8", "surrogateescape")
    return any(secrets.compare_digest(raw, k.encode("utf-8", "surrogateescape")) for k in keys)


def is_admin(settings: Settings, api_key: str | None) -> bool:
    """Whether ``api_key`` is one of the admin keys (``GEOECO_ADMIN_KEYS``)."""
    return key_in(api_key, settings.admin_key_set)


def require_api_key(
    settings: SettingsDep,
    x_api_key: Annotated[
        str | None,
        Header(alias="X-API-Key", description="API key (required when the server has keys)."),
    ] = None,
) -> str | None:
    """Dependency for routes that start work, upload or delete; returns the key (or ``None``).

    Keys off (``GEOECO_API_KEYS`` empty) -> always allowed. Missing key -> 401, unknown -> 403.
    """
    keys = settings.api_key_set
    if not keys:
        return None
    if not x_api_key:
        raise HTTPException(
            status_code=401,
            detail="this route needs an API key in the X-API-Key header",
            headers={"WWW-Authenticate": 'ApiKey header="X-API-Key"'},
        )
    if not key_in(x_api_key, keys | settings.admin_key_set):
        raise HTTPException(status_code=403, detail="the API key given in X-API-Key is not valid")
    return x_api_key


ApiKeyDep = Annotated[str | None, Depends(require_api_key)]


class _BodyTooLarge(StarletteHTTPException):
    """Raised from ``receive`` so FastAPI's body reader re-raises it and the handler renders it."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(
            413,
            f"request body is more than {max_bytes} bytes; the limit is {max_bytes} bytes "
            "(GEOECO_MAX_BODY_BYTES)",
        )


class BodySizeLimitMiddleware:
    """ASGI middleware: 413 problem for request bodies larger than ``max_bytes``."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def _reject(self, scope: Scope, size: str) -> ASGIApp:
        return problem_response(
            413,
            f"request body is {size} bytes; the limit is {self.max_bytes} bytes "
            "(GEOECO_MAX_BODY_BYTES)",
            instance=scope.get("path"),
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check ``Content-Length`` first, then count the streamed body."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_bytes:
            await self._reject(scope, length.decode())(scope, receive, send)
            return

        seen = 0
        started = False

        async def counted_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise _BodyTooLarge(self.max_bytes)
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, tracked_send)
        except _BodyTooLarge:
            if started:
                raise
            await self._reject(scope, f"more than {self.max_bytes}")(scope, receive, send)


#: Methods that change nothing; the guard lets them through.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
#: Content types a cross-site HTML form or "simple" fetch sends without a CORS preflight.
SIMPLE_CONTENT_TYPES = frozenset(
    {"text/plain", "application/x-www-form-urlencoded", "multipart/form-data"}
)


def media_type_of(content_type: str | None) -> str:
    """The lower-case media type of a ``Content-Type`` value, without parameters.

    >>> media_type_of("Application/JSON; charset=utf-8"), media_type_of(None)
    ('application/json', '')
    """
    return (content_type or "").split(";", 1)[0].strip().lower()


def is_json_media_type(media: str) -> bool:
    """``application/json`` or any ``application/*+json`` (GeoJSON, problem+json, ...).

    >>> is_json_media_type("application/geo+json"), is_json_media_type("text/plain")
    (True, False)
    """
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


def _origin_host(origin: str) -> str:
    return origin.split("://", 1)[-1].rstrip("/").lower()


class CrossSiteGuard:
    """ASGI middleware against cross-site request forgery (CSRF) on every unsafe method.

    A web page on another site can make a visitor's browser send POST requests to this
    service, and with keys off (or a key held by the browser) nothing else tells them apart.
    For POST, PUT, PATCH and DELETE this guard

    1. refuses (403 ``cross-origin-request``) a request whose ``Origin`` header is present and
       is neither this service's own host (the ``Host`` header; the scheme is not compared,
       so a TLS-terminating proxy does not matter) nor one of ``allowed_origins`` (the CORS
       list); ``Origin: null`` (sandboxed frames, files) is refused. Without ``Origin``, a
       browser's ``Sec-Fetch-Site: cross-site`` or ``same-site`` is refused the same way.
       Clients that are not browsers send neither header and pass;
    2. refuses (415 ``unsupported-media-type``) a request with a body whose ``Content-Type`` is
       missing or one a cross-site form can send (``text/plain``,
       ``application/x-www-form-urlencoded``, ``multipart/form-data``); on every path except
       ``raw_body_paths`` (uploads: the body is the file) the type must be JSON
       (``application/json`` or ``application/*+json`` such as ``application/geo+json``).

    Browsers send any other content type only after a CORS preflight, which the service
    answers only for the CORS list, so a foreign page can neither pass the first rule nor
    sidestep it through the second.
    """

    def __init__(
        self, app: ASGIApp, allowed_origins: Iterable[str], raw_body_paths: Iterable[str] = ()
    ) -> None:
        self.app = app
        self.allowed = frozenset(_origin_host(o) for o in allowed_origins if o != "null")
        self.raw_body_paths = frozenset(p.rstrip("/") for p in raw_body_paths)

    def _foreign(self, headers: dict[bytes, bytes]) -> str | None:
        """Why the request comes from another site, or ``None``."""
        origin = headers.get(b"origin", b"").decode("latin-1").strip()
        if origin:
            host = headers.get(b"host", b"").decode("latin-1").strip().lower()
            if origin == "null":
                return "a request with Origin: null"
            if _origin_host(origin) in ({host} | self.allowed):
                return None
            return f"a request from origin {origin[:100]!r}"
        site = headers.get(b"sec-fetch-site", b"").decode("latin-1").strip().lower()
        if site in ("cross-site", "same-site"):
            return f"a browser request from another site (Sec-Fetch-Site: {site})"
        return None

    def _bad_media(self, path: str, headers: dict[bytes, bytes]) -> str | None:
        """Why the body's content type is refused, or ``None`` (also for no body)."""
        length = headers.get(b"content-length")
        has_body = b"transfer-encoding" in headers or (
            length is not None and length.strip() not in (b"", b"0")
        )
        if not has_body:
            return None
        media = media_type_of(headers.get(b"content-type", b"").decode("latin-1"))
        raw = path.rstrip("/") in self.raw_body_paths
        if not media:
            return "a request body needs a Content-Type"
        if media in SIMPLE_CONTENT_TYPES:
            kind = "the file's type or application/octet-stream" if raw else "application/json"
            return f"Content-Type {media} is not accepted (cross-site forms send it); use {kind}"
        if not raw and not is_json_media_type(media):
            return f"Content-Type {media[:100]} is not accepted here; send application/json"
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass safe methods and acceptable requests on; answer 403 / 415 problems otherwise."""
        if scope["type"] != "http" or scope.get("method", "GET") in SAFE_METHODS:
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        path = scope.get("path", "")
        foreign = self._foreign(headers)
        if foreign is not None:
            response = problem_response(
                403,
                f"{foreign} may not change anything here; allowed origins are this service "
                "itself and GEOECO_CORS_ORIGINS",
                type_=problem_type("cross-origin-request"),
                title="Cross-origin request refused",
                instance=path,
            )
        else:
            why = self._bad_media(path, headers)
            if why is None:
                await self.app(scope, receive, send)
                return
            response = problem_response(415, why, instance=path)
        await response(scope, receive, send)


__all__ = [
    "ApiKeyDep",
    "BodySizeLimitMiddleware",
    "CrossSiteGuard",
    "SAFE_METHODS",
    "SIMPLE_CONTENT_TYPES",
    "TokenBuckets",
    "is_admin",
    "is_json_media_type",
    "key_in",
    "media_type_of",
    "rate_limit",
    "require_api_key",
]
