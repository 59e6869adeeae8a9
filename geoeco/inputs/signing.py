"""Making asset hrefs readable: no signing, or Planetary-Computer-style SAS tokens.

Signing is a pluggable step between choosing an item and reading it: a :class:`Signer` turns
an (allow-listed) href into the URL that is actually requested. The href recorded in
manifests and cache keys is always the unsigned one, so tokens never leak into files and a
cached window stays valid when the token changes.

:class:`SasTokenSigner` follows the Planetary Computer's public token service: for an href on
``https://<account>.blob.core.windows.net/<container>/...`` it GETs
``<sas_url><account>/<container>`` (JSON ``{"token": ..., "msft:expiry": ...}``), appends
``?<token>``, and reuses the token per (account, container) until a minute before it expires.
Hrefs on other hosts, or already carrying a SAS query (``st``/``se``/``sp``), pass unchanged.
The token request goes through ``fetch_json`` (injectable: tests never touch the network).

Examples
--------
>>> calls = []
>>> def fake(url: str) -> dict[str, str]:
...     calls.append(url)
...     return {"token": "sv=1&sig=abc", "msft:expiry": "2999-01-01T00:00:00Z"}
>>> s = SasTokenSigner("https://pc.example/api/sas/v1/token/", fetch_json=fake)
>>> s.sign("https://modiseuwest.blob.core.windows.net/modis-061-cogs/a/b.tif")
'https://modiseuwest.blob.core.windows.net/modis-061-cogs/a/b.tif?sv=1&sig=abc'
>>> _ = s.sign("https://modiseuwest.blob.core.windows.net/modis-061-cogs/c.tif")
>>> calls
['https://pc.example/api/sas/v1/token/modiseuwest/modis-061-cogs']
>>> s.sign("http://127.0.0.1:8000/x.tif")
'http://127.0.0.1:8000/x.tif'
"""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

from geoeco.core.errors import RemoteSourceError

from .config import CatalogConfig, check_href

#: Seconds before expiry at which a cached token is renewed.
TOKEN_MARGIN_S = 60.0
_BLOB_SUFFIX = ".blob.core.windows.net"


class Signer(Protocol):
    """Turns an unsigned asset href into the URL to request."""

    def sign(self, href: str) -> str:
        """The URL to request for ``href``."""
        ...


class NoSigner:
    """Public data: the href is the URL."""

    def sign(self, href: str) -> str:
        """Return ``href`` unchanged."""
        return href


def fetch_json_with_retries(
    url: str, *, retries: int = 3, backoff_s: float = 0.5, timeout_s: float = 30.0
) -> Any:
    """GET ``url`` and parse JSON, retrying transient failures with exponential back-off."""
    last: Exception | None = None
    for attempt in range(retries + 1):
        try:
            with urllib.request.urlopen(url, timeout=timeout_s) as resp:  # noqa: S310
                return json.loads(resp.read().decode("utf-8"))
        except (OSError, ValueError) as exc:
            last = exc
            status = getattr(exc, "code", None)
            if status is not None and status not in (429, 500, 502, 503, 504):
                break
            if attempt < retries:
                time.sleep(backoff_s * 2**attempt)
    raise RemoteSourceError(f"token service {url!r} unreachable: {last}") from last


def _expiry(value: object) -> float:
    if not isinstance(value, str):
        return time.time() + 600.0
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC).timestamp()


class SasTokenSigner:
    """Planetary-Computer SAS signing (see the module docstring)."""

    def __init__(
        self,
        sas_url: str,
        *,
        fetch_json: Callable[[str], Any] = fetch_json_with_retries,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._sas_url = sas_url if sas_url.endswith("/") else sas_url + "/"
        self._fetch = fetch_json
        self._clock = clock
        self._tokens: dict[tuple[str, str], tuple[str, float]] = {}
        self._lock = threading.Lock()

    def _token(self, account: str, container: str) -> str:
        key = (account, container)
        with self._lock:
            cached = self._tokens.get(key)
            if cached is not None and cached[1] - self._clock() > TOKEN_MARGIN_S:
                return cached[0]
            body = self._fetch(f"{self._sas_url}{account}/{container}")
            token = body.get("token") if isinstance(body, dict) else None
            if not isinstance(token, str) or not token:
                raise RemoteSourceError(f"token service gave no token for {account}/{container}")
            self._tokens[key] = (token, _expiry(body.get("msft:expiry")))
            return token

    def sign(self, href: str) -> str:
        """``href`` with a SAS token appended when it is on Azure Blob storage."""
        parts = urlsplit(href)
        host = parts.netloc.lower()
        if not host.endswith(_BLOB_SUFFIX):
            return href
        query = parse_qs(parts.query)
        if {"st", "se", "sp"} & set(query):
            return href
        segments = parts.path.lstrip("/").split("/", 1)
        if not segments or not segments[0]:
            return href
        token = self._token(host[: -len(_BLOB_SUFFIX)], segments[0])
        return f"{href}{'&' if parts.query else '?'}{token}"


def signer_for(catalog: CatalogConfig) -> Signer:
    """The signer a catalog's configuration asks for."""
    if catalog.signing == "planetary-computer":
        if not catalog.sas_url:
            raise RemoteSourceError(f"catalog {catalog.name!r}: signing needs a sas_url")
        check_href(catalog.sas_url, catalog, what="the token service")
        return SasTokenSigner(catalog.sas_url)
    return NoSigner()


__all__ = ["NoSigner", "SasTokenSigner", "Signer", "fetch_json_with_retries", "signer_for"]
