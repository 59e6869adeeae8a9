"""Leaflet and plugin assets for maps that work without internet (no folium import here).

Folium writes ``<script src="https://cdn...">`` and ``<link href="https://cdn...">`` tags. A map
put in front of a director must open on a laptop without internet, so geoeco replaces them:

* :func:`inline_assets` puts each script and stylesheet into the HTML itself (standalone files
  such as the ``map.html`` that ``geoeco zone`` writes);
* :func:`asset_dir` writes the same files into a local folder and returns the mapping
  CDN URL -> file name, so a web service can serve them (e.g. under ``/maps/assets/``) and
  :func:`localize_assets` rewrites a page to point there.

The file contents come from the PyPI package ``folium-offline`` (import name
``offlinefolium``), which ships every asset folium 0.20 links to, keyed by the same CDN URL;
nothing is copied into geoeco. Relative ``url(...)`` references in the stylesheets (images that
the package does not ship) are replaced by ``none`` so the browser never asks for a missing
file.

Examples
--------
>>> html = '<script src="https://cdn.example/x.js"></script>'
>>> inline_assets(html, sources={"https://cdn.example/x.js": "var x = 1;"})
'<script>var x = 1;</script>'
>>> localize_assets(html, "/maps/assets/", mapping={"https://cdn.example/x.js": "ab-x.js"})
'<script src="/maps/assets/ab-x.js"></script>'
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping
from functools import lru_cache
from pathlib import Path

from geoeco.core.errors import InvalidInput
from geoeco.core.io import atomic_path

MAPS_EXTRA = 'pip install "geoeco[maps]"'
_SCRIPT = re.compile(r'<script\s+src="(?P<url>https?://[^"]+)"\s*>\s*</script>')
_LINK = re.compile(r'<link\s+rel="stylesheet"\s+href="(?P<url>https?://[^"]+)"\s*/?>')
# url(...) in CSS that is neither a data URI, a fragment nor absolute: the package has no file.
_REL_URL = re.compile(r"""url\(\s*(?!["']?(?:data:|#|https?:))[^)]*\)""")


def _missing(what: str) -> ImportError:
    return ImportError(f"{what} is needed for geoeco's maps; install it with {MAPS_EXTRA}")


@lru_cache(maxsize=1)
def asset_sources() -> dict[str, str]:
    """CDN URL -> file content of every Leaflet/plugin asset that ``folium-offline`` ships.

    Raises
    ------
    ImportError
        If ``folium-offline`` is not installed (or its layout changed).
    """
    try:
        from offlinefolium import elements
    except ImportError as exc:
        raise _missing("folium-offline") from exc
    res = getattr(elements, "_res", None)
    if not isinstance(res, dict) or not res:
        raise ImportError(
            "folium-offline no longer exposes its assets where geoeco expects them "
            f"(offlinefolium.elements._res); reinstall a supported version with {MAPS_EXTRA}"
        )
    return {str(k): _clean(str(k), str(v)) for k, v in res.items()}


# the CDN's own banner ("Minified by jsDelivr ...") and source-map hints name hosts the page
# never contacts; they are dropped so a standalone file mentions no CDN at all
_CDN_BANNER = re.compile(
    r"/\*\*(?:(?!\*/).){0,600}?jsdelivr(?:(?!\*/).){0,600}?\*/\s*", re.S | re.I
)
_SOURCE_MAP = re.compile(
    r"^\s*(?://[#@]\s*sourceMappingURL=\S*|/\*[#@]\s*sourceMappingURL=.*?\*/)\s*$", re.M
)


def _clean(url: str, text: str) -> str:
    text = _SOURCE_MAP.sub("", _CDN_BANNER.sub("", text))
    if url.endswith(".css"):
        return _REL_URL.sub("none", text)
    return text


def _file_name(url: str) -> str:
    """Stable, collision-free local file name of a CDN URL: ``<hash>-<basename>``.

    >>> _file_name("https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.js")
    '88d58c69be-leaflet.js'
    """
    base = re.sub(r"[^A-Za-z0-9._-]", "_", url.rstrip("/").rsplit("/", 1)[-1]) or "asset"
    if not base.endswith((".js", ".css")):
        base += ".js"
    return f"{hashlib.sha1(url.encode()).hexdigest()[:10]}-{base}"


def asset_mapping(sources: Mapping[str, str] | None = None) -> dict[str, str]:
    """CDN URL -> local file name (inside :func:`asset_dir`) of every known asset.

    >>> asset_mapping({"https://a/b/c.css": ""})
    {'https://a/b/c.css': 'cc96b5a0f5-c.css'}
    """
    return {u: _file_name(u) for u in (asset_sources() if sources is None else sources)}


def asset_dir(dest: str | Path) -> tuple[Path, dict[str, str]]:
    """Write every asset into folder ``dest`` (once) and return ``(dest, URL -> file name)``.

    A service serves ``dest`` as static files (say under ``/maps/assets/``) and passes the
    same prefix to :func:`localize_assets`. Files already present with the right size are kept.
    """
    folder = Path(dest)
    folder.mkdir(parents=True, exist_ok=True)
    sources = asset_sources()
    mapping = asset_mapping(sources)
    for url, name in mapping.items():
        data = sources[url].encode("utf-8")
        target = folder / name
        if target.exists() and target.stat().st_size == len(data):
            continue
        with atomic_path(target) as tmp:
            tmp.write_bytes(data)
    return folder, mapping


def _replace(
    html: str,
    repl_script: Callable[[str], str],
    repl_link: Callable[[str], str],
    sources: Mapping[str, str],
) -> str:
    """``html`` with each script and stylesheet link to one of ``sources`` replaced."""

    def script(m: re.Match[str]) -> str:
        url = m.group("url")
        return repl_script(url) if url in sources else m.group(0)

    def link(m: re.Match[str]) -> str:
        url = m.group("url")
        return repl_link(url) if url in sources else m.group(0)

    return _LINK.sub(link, _SCRIPT.sub(script, html))


def external_assets(html: str) -> list[str]:
    """URLs of the scripts and stylesheets that ``html`` still loads from the network.

    >>> external_assets('<script src="https://x/y.js"></script><script>1</script>')
    ['https://x/y.js']
    """
    return [m.group("url") for m in _SCRIPT.finditer(html)] + [
        m.group("url") for m in _LINK.finditer(html)
    ]


def inline_assets(
    html: str, *, sources: Mapping[str, str] | None = None, strict: bool = True
) -> str:
    """Replace CDN ``<script src>``/``<link rel=stylesheet>`` tags by inline copies.

    Parameters
    ----------
    html : str
        A rendered page (``folium.Map.get_root().render()``).
    sources : mapping, optional
        URL -> content; default :func:`asset_sources`.
    strict : bool
        Raise :class:`~geoeco.core.errors.InvalidInput` if a script or stylesheet remains that has
        no local copy (so a standalone file never depends on a CDN silently).
    """
    src = asset_sources() if sources is None else sources

    def js(url: str) -> str:
        return "<script>" + src[url].replace("</script", "<\\/script") + "</script>"

    def css(url: str) -> str:
        return "<style>" + src[url].replace("</style", "<\\/style") + "</style>"

    out = _replace(html, js, css, src)
    left = external_assets(out)
    if strict and left:
        raise InvalidInput(f"no offline copy of map asset(s) {left}; the map would need internet")
    return out


def localize_assets(html: str, base_url: str, *, mapping: Mapping[str, str] | None = None) -> str:
    """Point CDN script/stylesheet tags at ``base_url`` + the local file name of each asset."""
    names = asset_mapping() if mapping is None else mapping
    base = base_url if base_url.endswith("/") else base_url + "/"
    return _replace(
        html,
        lambda u: f'<script src="{base}{names[u]}"></script>',
        lambda u: f'<link rel="stylesheet" href="{base}{names[u]}"/>',
        names,
    )


__all__ = [
    "MAPS_EXTRA",
    "asset_dir",
    "asset_mapping",
    "asset_sources",
    "external_assets",
    "inline_assets",
    "localize_assets",
]
