"""One exception tree for geoeco.

Every error geoeco raises on purpose derives from :class:`GeoecoError`. Leaves also derive
from the matching builtin (``ValueError``, ``LookupError``, ``OSError``), as rasterio's errors
do, so callers can catch either by library or by category.

Messages are written for the person who supplied the input: they say what was expected and
what was found, and name files only by the name the user gave (never a server path), because
the HTTP API returns them verbatim. The API maps each class to an HTTP status in one table.

Examples
--------
>>> try:
...     raise LayerNotFound("unknown layer 'x'; known layers: a, b")
... except LookupError as exc:
...     print(type(exc).__name__, "|", exc)
LayerNotFound | unknown layer 'x'; known layers: a, b
"""

from __future__ import annotations

from typing import Any


class GeoecoError(Exception):
    """Base class: anything geoeco raises deliberately."""


class LayerNotFound(GeoecoError, LookupError):
    """A layer id that no registry knows."""


class LayerExists(GeoecoError, ValueError):
    """Registering a layer id that is already taken (without ``overwrite=True``)."""


class InvalidInput(GeoecoError, ValueError):
    """Input that cannot be used as given."""


class InvalidFields(InvalidInput):
    """Named inputs that do not validate; ``errors`` lists ``{field, message, code}``.

    >>> exc = InvalidFields("r: must be >= 0", [{"field": "r", "message": "must be >= 0"}])
    >>> [e["field"] for e in exc.errors]
    ['r']
    """

    def __init__(self, message: str, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.errors = list(errors or [])


class InvalidJSON(InvalidInput):
    """Text that is not JSON (syntax or encoding)."""


class InvalidJSONValue(InvalidInput):
    """JSON that parses but cannot be used: nested too deeply, a lone UTF-16 surrogate in a
    string, or NaN/Infinity; ``field`` is the path of the offending value."""

    def __init__(self, message: str, field: str = "", reason: str = "") -> None:
        super().__init__(message)
        self.field = field
        self.reason = reason or message


class CRSError(InvalidInput):
    """Missing, unknown or unsuitable coordinate reference system."""


class GridMismatch(InvalidInput):
    """Rasters that should share a grid do not (shape, transform or CRS differ)."""


class InvalidGeometry(InvalidInput):
    """A geometry that is invalid, empty or of the wrong type."""


class EmptyArea(InvalidInput):
    """An area of interest that covers no valid pixel or feature."""


class OutsideChina(InvalidInput):
    """Data whose extent lies outside China (pass ``allow_outside_china=True`` to accept it)."""


class UnitsError(InvalidInput):
    """Values outside the range their declared units allow (e.g. a fraction given as percent)."""


class PartialCoverage(InvalidInput):
    """Inputs that leave too much of the area of interest without data for a run that must
    cover it (zoning, statistics); the message names the inputs that fall short and how to
    accept a partial result (``allow_partial``)."""


class OversizeRequest(InvalidInput):
    """A request larger than a documented limit (pixels, vertices, area)."""


class UnsafeDataSource(InvalidInput):
    """A file or path that would make GDAL read other files or URLs: a URL, a ``/vsi`` path, a
    connection string, a VRT or streamed algorithm, a GeoJSON ``crs`` link (see
    :mod:`geoeco.core.userdata`)."""


class ManifestError(GeoecoError, ValueError):
    """A layer manifest (``layers/*.toml``) that does not validate."""


class DataSourceError(GeoecoError, OSError):
    """A file that is missing, unreadable or not in a supported format."""


class RemoteSourceError(DataSourceError):
    """A public catalog, item or tile that is unreachable or missing.

    Raised by :mod:`geoeco.inputs`; the message names the catalog, collection and item.

    >>> str(RemoteSourceError("catalog 'pc', collection 'c', item 'i': HTTP 404"))
    "catalog 'pc', collection 'c', item 'i': HTTP 404"
    """


class GeoecoWarning(UserWarning):
    """Recoverable conditions worth telling the user about (e.g. repaired geometries)."""


class InvalidProcessInputs(InvalidFields):
    """Process inputs that do not validate; ``errors`` lists ``{field, message, code}``."""


class ProcessInputTooLarge(OversizeRequest, InvalidProcessInputs):
    """Process inputs beyond a size limit (area, pixels, vertices); ``errors`` as above.

    :class:`~geoeco.core.errors.OversizeRequest` comes first, so the API's table maps it to 413.
    """


class ProcessNotFound(GeoecoError, LookupError):
    """A process id that the catalogue does not know."""


__all__ = [
    "CRSError",
    "DataSourceError",
    "EmptyArea",
    "GeoecoError",
    "GeoecoWarning",
    "GridMismatch",
    "InvalidGeometry",
    "InvalidFields",
    "InvalidInput",
    "InvalidJSON",
    "InvalidJSONValue",
    "InvalidProcessInputs",
    "LayerExists",
    "LayerNotFound",
    "ManifestError",
    "OutsideChina",
    "OversizeRequest",
    "PartialCoverage",
    "ProcessInputTooLarge",
    "ProcessNotFound",
    "RemoteSourceError",
    "UnitsError",
    "UnsafeDataSource",
]
