"""Catalog access: search a STAC API or walk a static STAC catalog, behind one interface.

:class:`StacCatalog` answers one question for a recipe: which items of a collection cover a
lon/lat box within a date range. For a **STAC API** it calls ``/search`` (``collections``,
``bbox``, ``datetime``) and follows ``next`` links page by page (pystac-client); for a
**static catalog** (``catalog.json`` → child collections → items, on disk or over HTTP) it
walks the collection with pystac and filters by box and date itself. Both go through
:class:`TrustedStacIO`, which refuses any URL or path outside the catalog's allow-list and
retries transient HTTP failures with back-off.

Items become small frozen :class:`CatalogItem` values (id, dates, box, the properties item
selection needs, absolute asset hrefs), which is what the rest of :mod:`geoeco.inputs` uses
and what the cache stores. :func:`select_items` applies a recipe's temporal rule and returns
the time steps to mosaic, each a tuple of items.

Examples
--------
>>> from datetime import datetime, UTC
>>> it = CatalogItem("MOD13Q1.A2021097.h26v05.061", "modis-13Q1-061", (100.0, 30.0, 120.0, 40.0),
...                  datetime(2021, 4, 7, tzinfo=UTC), datetime(2021, 4, 22, tzinfo=UTC),
...                  {"platform": "terra"}, {"ndvi": "http://x/a.tif"})
>>> CatalogItem.from_json(it.to_json()) == it
True
>>> bbox_intersects(it.bbox, (110.0, 35.0, 111.0, 36.0)), bbox_intersects(it.bbox, (0, 0, 1, 1))
(True, False)
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any

import pystac
from pystac.stac_io import RetryStacIO
from pystac_client import Client
from pystac_client.exceptions import APIError
from pystac_client.stac_api_io import StacApiIO
from urllib3.util.retry import Retry

from geoeco.core.errors import RemoteSourceError

from .config import CatalogConfig, check_href
from .recipes import (
    EditionsRule,
    MonthlyRule,
    SeasonRule,
    StaticRule,
    TemporalRule,
    YearlyRule,
)

BBox = tuple[float, float, float, float]
Scalar = str | int | float | bool | None
#: Item properties kept on a :class:`CatalogItem` (what temporal rules and decoding read).
KEPT_PROPERTIES = (
    "platform",
    "eo:cloud_cover",
    "s2:processing_baseline",
    "esa_worldcover:product_version",
    "modis:tile-id",
    "modis:horizontal-tile",
    "modis:vertical-tile",
)


@dataclass(frozen=True)
class CatalogItem:
    """A STAC item reduced to what fetching needs; hrefs are absolute and unsigned."""

    id: str
    collection: str
    bbox: BBox
    start: datetime
    end: datetime
    properties: Mapping[str, Scalar] = field(default_factory=dict)
    assets: Mapping[str, str] = field(default_factory=dict)
    geometry: Mapping[str, Any] | None = None

    def footprint_intersects(self, area: Any) -> bool:
        """True when the item's footprint (its GeoJSON geometry, else its box) meets ``area``
        (a shapely geometry in lon/lat)."""
        from shapely.geometry import box, shape

        geom = shape(self.geometry) if self.geometry else box(*self.bbox)
        return bool(geom.intersects(area))

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (for the search cache)."""
        return {
            "id": self.id,
            "collection": self.collection,
            "bbox": list(self.bbox),
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "properties": dict(self.properties),
            "assets": dict(self.assets),
            "geometry": None if self.geometry is None else dict(self.geometry),
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> CatalogItem:
        """Inverse of :meth:`to_json`."""
        b = [float(x) for x in d["bbox"]]
        return cls(
            str(d["id"]),
            str(d["collection"]),
            (b[0], b[1], b[2], b[3]),
            datetime.fromisoformat(d["start"]),
            datetime.fromisoformat(d["end"]),
            dict(d.get("properties", {})),
            {str(k): str(v) for k, v in d.get("assets", {}).items()},
            d.get("geometry"),
        )


def bbox_intersects(a: BBox, b: BBox) -> bool:
    """True when two (west, south, east, north) boxes overlap (touching edges do not count)."""
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _item_dates(item: pystac.Item) -> tuple[datetime, datetime]:
    props = item.properties
    if props.get("start_datetime") and props.get("end_datetime"):
        start = datetime.fromisoformat(str(props["start_datetime"]).replace("Z", "+00:00"))
        end = datetime.fromisoformat(str(props["end_datetime"]).replace("Z", "+00:00"))
        return _aware(start), _aware(end)
    if item.datetime is None:
        raise RemoteSourceError(f"item {item.id!r} has neither datetime nor start/end_datetime")
    return _aware(item.datetime), _aware(item.datetime)


def to_catalog_item(item: pystac.Item, collection: str) -> CatalogItem:
    """Reduce a pystac item (asset hrefs made absolute against the item's location)."""
    start, end = _item_dates(item)
    bbox = item.bbox or [-180.0, -90.0, 180.0, 90.0]
    props = {k: item.properties[k] for k in KEPT_PROPERTIES if k in item.properties}
    assets = {k: str(a.get_absolute_href() or a.href) for k, a in item.assets.items()}
    return CatalogItem(
        item.id,
        item.collection_id or collection,
        (float(bbox[0]), float(bbox[1]), float(bbox[2]), float(bbox[3])),
        start,
        end,
        props,
        assets,
        item.geometry,
    )


def _retry(retries: int, backoff_s: float) -> Retry:
    return Retry(
        total=retries,
        backoff_factor=backoff_s,
        status_forcelist=(429, 500, 502, 503, 504),
        allowed_methods=None,
        raise_on_status=False,
    )


class TrustedStacIO(StacApiIO):
    """pystac(-client) I/O that only reads inside a catalog's allow-list, with retries."""

    def __init__(
        self,
        catalog: CatalogConfig,
        *,
        retries: int = 3,
        backoff_s: float = 0.5,
        timeout_s: float = 30.0,
    ) -> None:
        super().__init__(max_retries=_retry(retries, backoff_s), timeout=timeout_s)
        self.catalog = catalog
        self.requests = 0

    def request(
        self,
        href: str,
        method: str | None = None,
        headers: dict[str, str] | None = None,
        parameters: dict[str, Any] | None = None,
    ) -> str:
        """Refuse ``href`` unless allow-listed, then request it (counted in ``requests``)."""
        check_href(href, self.catalog, what="a catalog request")
        self.requests += 1
        return super().request(href, method=method, headers=headers, parameters=parameters)

    def read_text(self, source: Any, *args: Any, **kwargs: Any) -> str:
        """Read a link, URL or local path; local paths are checked here, URLs in request."""
        href = source if isinstance(source, str) else None
        if href is not None and "://" not in href:
            check_href(href, self.catalog, what="a catalog file")
            self.requests += 1
        return super().read_text(source, *args, **kwargs)


class TrustedStaticIO(RetryStacIO):
    """pystac I/O for static catalogs: allow-listed reads only, HTTP retries with back-off."""

    def __init__(self, catalog: CatalogConfig, *, retries: int = 3, backoff_s: float = 0.5) -> None:
        super().__init__(retry=_retry(retries, backoff_s))
        self.catalog = catalog
        self.requests = 0

    def read_text_from_href(self, href: str) -> str:
        """Refuse ``href`` unless allow-listed; read it (counted in ``requests``)."""
        check_href(href, self.catalog, what="a catalog file")
        self.requests += 1
        try:
            return str(super().read_text_from_href(href))
        except OSError as exc:
            raise RemoteSourceError(f"catalog {self.catalog.name!r}: {href!r}: {exc}") from None
        except Exception as exc:  # RetryStacIO wraps HTTP errors in a bare Exception
            cause = exc.__cause__ or exc
            raise RemoteSourceError(f"catalog {self.catalog.name!r}: {href!r}: {cause}") from None


def _datetime_range(start: date | None, end: date | None) -> str | None:
    if start is None or end is None:
        return None
    lo = datetime.combine(start, time.min, tzinfo=UTC)
    hi = datetime.combine(end, time(23, 59, 59), tzinfo=UTC)
    return f"{lo.isoformat().replace('+00:00', 'Z')}/{hi.isoformat().replace('+00:00', 'Z')}"


def _overlaps(item: CatalogItem, start: date | None, end: date | None) -> bool:
    if start is None or end is None:
        return True
    return item.start.date() <= end and item.end.date() >= start


class StacCatalog:
    """One configured catalog, searched (API) or walked (static) the same way.

    Parameters
    ----------
    config : CatalogConfig
        Which catalog, its kind and allow-list.
    retries, backoff_s, timeout_s
        HTTP retry count, back-off factor (seconds, doubled per retry) and timeout.
    page_size : int
        Items per page of an API search (further pages follow ``next`` links).
    """

    def __init__(
        self,
        config: CatalogConfig,
        *,
        retries: int = 3,
        backoff_s: float = 0.5,
        timeout_s: float = 30.0,
        page_size: int = 100,
    ) -> None:
        if config.kind == "files":
            raise RemoteSourceError(f"catalog {config.name!r} is a file tree, not a STAC catalog")
        self.config = config
        self.page_size = page_size
        self.io: TrustedStacIO | TrustedStaticIO
        if config.kind == "api":
            self.io = TrustedStacIO(
                config, retries=retries, backoff_s=backoff_s, timeout_s=timeout_s
            )
        else:
            self.io = TrustedStaticIO(config, retries=retries, backoff_s=backoff_s)
        self._root: pystac.Catalog | None = None

    def _fail(self, what: str, exc: Exception) -> RemoteSourceError:
        return RemoteSourceError(f"catalog {self.config.name!r} ({self.config.url}): {what}: {exc}")

    def root(self) -> pystac.Catalog:
        """The catalog's root (landing page of an API, ``catalog.json`` of a static one)."""
        if self._root is None:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # pystac-client: "no conformance" notes
                    if isinstance(self.io, TrustedStacIO):
                        self._root = Client.open(self.config.url, stac_io=self.io)
                    else:
                        self._root = pystac.Catalog.from_file(self.config.url, stac_io=self.io)
            except (APIError, OSError, pystac.STACError, ValueError) as exc:
                raise self._fail("cannot open the catalog", exc) from exc
        return self._root

    def _collection(self, collection: str) -> pystac.Collection:
        root = self.root()
        try:
            found = root.get_child(collection)
        except (APIError, OSError, pystac.STACError) as exc:
            raise self._fail(f"collection {collection!r} unreadable", exc) from exc
        if not isinstance(found, pystac.Collection):
            raise RemoteSourceError(
                f"catalog {self.config.name!r} ({self.config.url}) has no collection {collection!r}"
            )
        return found

    def search(
        self, collection: str, bbox: BBox, start: date | None = None, end: date | None = None
    ) -> tuple[CatalogItem, ...]:
        """Items of ``collection`` whose box meets ``bbox`` and whose dates meet the range."""
        items = self._search_api if self.config.kind == "api" else self._search_static
        try:
            found = tuple(items(collection, bbox, start, end))
        except (APIError, OSError, pystac.STACError) as exc:
            raise self._fail(f"collection {collection!r}: search failed", exc) from exc
        return tuple(sorted(found, key=lambda i: (i.start, i.id)))

    def _search_api(
        self, collection: str, bbox: BBox, start: date | None, end: date | None
    ) -> Iterator[CatalogItem]:
        root = self.root()
        assert isinstance(root, Client)
        search = root.search(
            method="GET",
            collections=[collection],
            bbox=list(bbox),
            datetime=_datetime_range(start, end),
            limit=self.page_size,
        )
        for item in search.items():
            reduced = to_catalog_item(item, collection)
            check_assets(reduced, self.config)
            yield reduced

    def _search_static(
        self, collection: str, bbox: BBox, start: date | None, end: date | None
    ) -> Iterator[CatalogItem]:
        for item in self._collection(collection).get_items(recursive=True):
            reduced = to_catalog_item(item, collection)
            if bbox_intersects(reduced.bbox, bbox) and _overlaps(reduced, start, end):
                check_assets(reduced, self.config)
                yield reduced

    def collection_assets(self, collection: str) -> dict[str, str]:
        """Absolute, allow-listed hrefs of a collection's own assets (e.g. a Zarr store)."""
        coll = self._collection(collection)
        out = {k: str(a.get_absolute_href() or a.href) for k, a in coll.assets.items()}
        for key, href in out.items():
            check_href(href, self.config, what=f"collection {collection!r} asset {key!r}")
        return out


def check_assets(item: CatalogItem, catalog: CatalogConfig) -> None:
    """Refuse an item any of whose asset hrefs lies outside the catalog's allow-list."""
    for key, href in item.assets.items():
        check_href(href, catalog, what=f"item {item.id!r} asset {key!r}")


# --------------------------------------------------------------------------- temporal rules


def search_range(rule: TemporalRule, year: int) -> tuple[date | None, date | None]:
    """The date range to search for ``year`` under ``rule`` (None, None: any date)."""
    if isinstance(rule, SeasonRule):
        return rule.window(year)
    if isinstance(rule, YearlyRule):
        return date(year, 1, 1), date(year, 12, 31)
    if isinstance(rule, EditionsRule):
        y = rule.edition(year).item_year
        return date(y, 1, 1), date(y, 12, 31)
    if isinstance(rule, MonthlyRule):
        months = rule.month_list(year)
        return date(*months[0], 1), date(months[-1][0], months[-1][1], 28)
    return None, None


def _platform_ok(item: CatalogItem, platform: str | None, id_prefix: str | None) -> bool:
    prop = item.properties.get("platform")
    if platform is not None and isinstance(prop, str) and prop.lower() != platform.lower():
        return False
    return id_prefix is None or item.id.startswith(id_prefix)


def _season_steps(rule: SeasonRule, items: Iterable[CatalogItem], year: int) -> list[Step]:
    lo, hi = rule.window(year)
    steps: dict[str, list[CatalogItem]] = {}
    for it in items:
        cloud = it.properties.get("eo:cloud_cover")
        if not lo <= it.start.date() <= hi or not _platform_ok(it, rule.platform, rule.id_prefix):
            continue
        if rule.max_cloud_cover is not None and isinstance(cloud, int | float):
            if cloud >= rule.max_cloud_cover:
                continue
        steps.setdefault(it.start.date().isoformat(), []).append(it)
    return [Step(k, tuple(v)) for k, v in sorted(steps.items())]


@dataclass(frozen=True)
class Step:
    """One time step of a selection: items mosaicked together (``label`` is its date)."""

    label: str
    items: tuple[CatalogItem, ...]


def select_items(rule: TemporalRule, items: Iterable[CatalogItem], year: int) -> list[Step]:
    """Apply a temporal rule: the time steps (each a mosaic of items) a year uses.

    Static data give one step with every item; a season gives one step per composite start
    date (platform, id prefix and cloud cover filtered); a yearly product one step with the
    items starting in ``year``; editions one step with the chosen edition's items.
    """
    items = list(items)
    if isinstance(rule, StaticRule):
        return [Step("static", tuple(items))] if items else []
    if isinstance(rule, SeasonRule):
        return _season_steps(rule, items, year)
    if isinstance(rule, YearlyRule):
        chosen = [
            i
            for i in items
            if i.start.year == year and _platform_ok(i, rule.platform, rule.id_prefix)
        ]
        return [Step(str(year), tuple(chosen))] if chosen else []
    if isinstance(rule, EditionsRule):
        ed = rule.edition(year)
        chosen = [i for i in items if i.start.year == ed.item_year and ed.version in i.id]
        return [Step(f"{ed.item_year} {ed.version}", tuple(chosen))] if chosen else []
    raise RemoteSourceError(f"temporal rule {rule.kind!r} does not select STAC items")


__all__ = [
    "BBox",
    "CatalogItem",
    "StacCatalog",
    "Step",
    "TrustedStacIO",
    "TrustedStaticIO",
    "bbox_intersects",
    "check_assets",
    "search_range",
    "select_items",
    "to_catalog_item",
]
