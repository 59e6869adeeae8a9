"""Named, versioned class tables and the one function that applies them, :func:`classify`.

Every classification geoeco produces (SL 190 erosion grades, desertification degrees,
sensitivity and importance classes) is a :class:`ClassTable`: codes ``1..N`` from least to
most severe (0 is nodata in ``uint8`` rasters), Chinese and English names, a colour, and the
thresholds with their interval closure written out (``"[200, 2500)"``). The built-in tables
live in ``geoeco/data/class_tables.toml``; they are the single source for rasters, zoning, API
tiles and map legends. Tables tagged ``R`` come from the literature without a checked source:
override them with :func:`load_tables` (a TOML file or a dict of the same shape).

Nodata convention (for all of geoeco's science modules): float inputs use **NaN** for nodata;
a ``numpy.ma.MaskedArray`` is accepted and its mask turned into NaN. Class rasters are
``uint8`` with 0 for nodata. A missing input never becomes a class or a zero.

:class:`Provenance` records which tables and parameters a computation used (and which are
tagged ``R``) so the pipeline can write them into ``summary.json``.

Examples
--------
>>> import numpy as np
>>> t = get_table("SL190-2007/water")
>>> classify(np.array([150.0, 200.0, 2500.0, np.nan]), t).tolist()
[1, 2, 3, 0]
>>> classify(np.array([999.0, 1000.0]), t, tolerable=1000).tolist()
[1, 2]
>>> t.legend()[0]
(1, '微度', 'slight', '#1a9850')
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from importlib.resources import files
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

from geoeco.core.arrays import as_float
from geoeco.core.errors import InvalidInput, ManifestError, UnitsError
from geoeco.core.io import read_toml

Tag = Literal["V", "R", "I"]
_NUM = r"[-+]?(?:inf|\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|\.\d+)"
_BOUND = rf"(?:{_NUM}|[A-Za-z_][A-Za-z0-9_]*)"
_INTERVAL = re.compile(rf"^\s*([\[(])\s*({_BOUND})\s*,\s*({_BOUND})\s*([\])])\s*$")
_HEX = re.compile(r"^#[0-9a-fA-F]{6}$")


# ------------------------------------------------------------------------------------------
# array helpers shared by the science modules
# ------------------------------------------------------------------------------------------


# ------------------------------------------------------------------------------------------
# models
# ------------------------------------------------------------------------------------------


class ParamSpec(BaseModel):
    """A named parameter a table's thresholds depend on (e.g. the SL 190 tolerable loss)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    default: float
    allowed: tuple[float, ...] | None = None
    tag: Tag = "V"
    units: str = ""
    description: str = ""


class ClassDef(BaseModel):
    """One class of a table: code, names, colour, and an interval or a list of input codes."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    code: int
    name_zh: str
    name_en: str
    colour: str
    interval: str | None = None
    values: tuple[int, ...] | None = None
    score: float | None = None

    @field_validator("colour")
    @classmethod
    def _hex(cls, v: str) -> str:
        if not _HEX.match(v):
            raise ValueError(f"colour must be '#rrggbb', got {v!r}")
        return v.lower()

    @field_validator("interval")
    @classmethod
    def _interval(cls, v: str | None) -> str | None:
        if v is not None and not _INTERVAL.match(v):
            raise ValueError(f"interval must look like '[a, b)', got {v!r}")
        return v

    def bounds(self) -> tuple[str, str, str, str]:
        """Parsed interval: (open bracket, lower token, upper token, close bracket)."""
        m = _INTERVAL.match(self.interval or "")
        if m is None:
            raise InvalidInput(f"class {self.code} has no interval")
        return m.group(1), m.group(2), m.group(3), m.group(4)


class ClassTable(BaseModel):
    """A named, versioned classification (see the module docstring)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    name: str
    version: str
    source: str
    tag: Tag
    indicator: str
    units: str
    kind: Literal["interval", "categorical"]
    classes: tuple[ClassDef, ...]
    params: dict[str, ParamSpec] = {}
    notes: str = ""
    origin: Literal["builtin", "user"] = "builtin"
    #: Codes fixed by a published data model (e.g. LXBM 11..25) instead of 1..N; categorical only.
    fixed_codes: bool = False

    @model_validator(mode="after")
    def _check(self) -> ClassTable:
        codes = [c.code for c in self.classes]
        if self.fixed_codes:
            if (
                self.kind != "categorical"
                or sorted(set(codes)) != codes
                or not all(1 <= c <= 254 for c in codes)
            ):
                raise ValueError(
                    f"{self.name}: fixed codes need a categorical table with increasing codes "
                    f"in 1..254, got {codes}"
                )
        elif codes != list(range(1, len(codes) + 1)):
            raise ValueError(f"{self.name}: codes must be 1..N in order, got {codes}")
        if len(codes) > 254:
            raise ValueError(f"{self.name}: at most 254 classes fit a uint8 raster")
        if self.kind == "categorical":
            seen: list[int] = []
            for c in self.classes:
                if not c.values:
                    raise ValueError(f"{self.name}: categorical class {c.code} needs `values`")
                seen.extend(c.values)
            if len(seen) != len(set(seen)):
                raise ValueError(f"{self.name}: an input code is listed in two classes")
        else:
            self._edges()  # validates contiguity and closure
        return self

    # -- interval machinery ------------------------------------------------------------

    def _token(self, tok: str, params: Mapping[str, Any] | None = None) -> Any:
        try:
            return float(tok)
        except ValueError:
            pass
        if tok not in self.params:
            raise ValueError(f"{self.name}: bound {tok!r} is neither a number nor a parameter")
        if params is not None and tok in params:
            return params[tok]
        return self.params[tok].default

    def _edges(
        self, params: Mapping[str, Any] | None = None
    ) -> tuple[list[ClassDef], list[tuple[Any, bool]], tuple[float, bool], tuple[float, bool]]:
        """Classes by ascending value, inner edges (value, upper class closed), outer bounds."""
        parsed = [(c, *c.bounds()) for c in self.classes]
        order = sorted(parsed, key=lambda p: float(np.min(self._token(p[2]))))
        edges: list[tuple[Any, bool]] = []
        for (c1, _, _, hi1, cl1), (c2, op2, lo2, _, _) in zip(order, order[1:], strict=False):
            if hi1 != lo2:
                raise ValueError(f"{self.name}: classes {c1.code} and {c2.code} do not touch")
            if (cl1 == "]") == (op2 == "["):
                raise ValueError(
                    f"{self.name}: boundary {hi1} must belong to exactly one of classes "
                    f"{c1.code} and {c2.code}"
                )
            edges.append((self._token(lo2, params), op2 == "["))
        lo = (self._token(order[0][2], params), order[0][1] == "[")
        hi = (self._token(order[-1][3], params), order[-1][4] == "]")
        return [p[0] for p in order], edges, lo, hi

    # -- public helpers ----------------------------------------------------------------

    def legend(self) -> list[tuple[int, str, str, str]]:
        """``[(code, name_zh, name_en, colour), ...]`` for maps and API legends."""
        return [(c.code, c.name_zh, c.name_en, c.colour) for c in self.classes]

    def colormap(self, alpha: int = 255) -> dict[int, tuple[int, int, int, int]]:
        """``{code: (r, g, b, a)}`` for GeoTIFF colour tables and tiles.

        >>> get_table("ZHGKDYFL").colormap()[1]
        (27, 120, 55, 255)
        """
        return {c.code: hex_rgba(c.colour, alpha) for c in self.classes}

    def scores(self) -> dict[int, float]:
        """Class code → score (for sensitivity factor tables)."""
        return {c.code: float(c.score) for c in self.classes if c.score is not None}

    def describe(self) -> dict[str, Any]:
        """Name, version, source and tag, for provenance records."""
        return {
            "version": self.version,
            "source": self.source,
            "tag": self.tag,
            "units": self.units,
            "origin": self.origin,
        }


class FactorTable(BaseModel):
    """A named, versioned code → value lookup (C, P, B, T factors, tolerable loss by region)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    name: str
    version: str
    source: str
    tag: Tag
    units: str
    key: str
    values: dict[int, float | str]
    labels: dict[int, str] = {}
    notes: str = ""
    origin: Literal["builtin", "user"] = "builtin"

    def describe(self) -> dict[str, Any]:
        """Name, version, source and tag, for provenance records."""
        return {
            "version": self.version,
            "source": self.source,
            "tag": self.tag,
            "origin": self.origin,
        }


# ------------------------------------------------------------------------------------------
# provenance
# ------------------------------------------------------------------------------------------


@dataclass
class Provenance:
    """What a computation used: tables (name → version, source, tag) and parameters.

    Pass one as ``used=`` to any geoeco science function; it is filled in place.

    >>> p = Provenance()
    >>> p.add_param("fournier.alpha", 0.1833, tag="R", source="Loess Plateau fit")
    >>> p.to_dict()["unverified"]
    ['fournier.alpha']
    """

    tables: dict[str, dict[str, Any]] = field(default_factory=dict)
    parameters: dict[str, dict[str, Any]] = field(default_factory=dict)

    def add_table(self, table: ClassTable | FactorTable) -> None:
        """Record a table."""
        self.tables[table.name] = table.describe()

    def add_param(self, name: str, value: Any, *, tag: Tag = "V", source: str = "") -> None:
        """Record a parameter value (arrays are summarised by shape and range)."""
        self.parameters[name] = {"value": _summarise(value), "tag": tag, "source": source}

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict, with ``unverified`` listing every table and parameter tagged R."""
        unverified = [n for n, d in self.tables.items() if d["tag"] == "R"]
        unverified += [n for n, d in self.parameters.items() if d["tag"] == "R"]
        return {
            "tables": dict(self.tables),
            "parameters": dict(self.parameters),
            "unverified": unverified,
        }


def _summarise(value: Any) -> Any:
    if isinstance(value, np.ndarray) and value.ndim > 0:
        with np.errstate(invalid="ignore"):
            finite = value[np.isfinite(value)] if value.dtype.kind == "f" else value
        rng = [float(finite.min()), float(finite.max())] if finite.size else None
        return {"array": list(value.shape), "range": rng}
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, tuple):
        return list(value)
    return value


def record(used: Provenance | None, *tables: ClassTable | FactorTable, **params: Any) -> None:
    """Add ``tables`` and ``params`` (``name=(value, tag)``) to ``used`` if it is given."""
    if used is None:
        return
    for t in tables:
        used.add_table(t)
    for k, (v, tag) in params.items():
        used.add_param(k, v, tag=tag)


# ------------------------------------------------------------------------------------------
# loading
# ------------------------------------------------------------------------------------------


def _parse(data: Mapping[str, Any], origin: str, what: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    try:
        for raw in data.get("table", []):
            t = ClassTable.model_validate({**raw, "origin": origin})
            out[t.name] = t
        for raw in data.get("factor_table", []):
            vals = {int(k): v for k, v in raw.get("values", {}).items()}
            labels = {int(k): v for k, v in raw.get("labels", {}).items()}
            ft = FactorTable.model_validate(
                {**raw, "values": vals, "labels": labels, "origin": origin}
            )
            out[ft.name] = ft
    except (ValidationError, ValueError, TypeError) as exc:
        raise ManifestError(f"{what}: invalid class table: {exc}") from None
    return out


@lru_cache(maxsize=1)
def _builtin() -> dict[str, Any]:
    text = files("geoeco").joinpath("data/class_tables.toml").read_text(encoding="utf-8")
    return _parse(tomllib.loads(text), "builtin", "built-in class_tables.toml")


def load_tables(source: str | Path | Mapping[str, Any]) -> dict[str, ClassTable | FactorTable]:
    """Load user tables from a TOML file or a dict shaped like ``class_tables.toml``.

    The result can be passed as ``extra=`` to :func:`get_table`, or its tables passed directly
    to any function that takes a table. User tables are marked ``origin="user"``.

    >>> t = load_tables({"table": [{"name": "my/fvc", "version": "1", "source": "me",
    ...     "tag": "R", "indicator": "FVC", "units": "%", "kind": "interval", "classes": [
    ...     {"code": 1, "name_zh": "高", "name_en": "high", "colour": "#00ff00",
    ...      "interval": "[50, 100]"},
    ...     {"code": 2, "name_zh": "低", "name_en": "low", "colour": "#ff0000",
    ...      "interval": "[0, 50)"}]}]})
    >>> classify(np.array([10.0, 50.0]), t["my/fvc"]).tolist()
    [2, 1]
    """
    if isinstance(source, Mapping):
        return _parse(source, "user", "user tables")
    path = Path(source)
    data = read_toml(path, what="class tables")
    return _parse(data, "user", path.name)


_CUMSHARE = re.compile(r"^CumShare\(([^)]*)\)$")


def get_table(
    name: str, *, extra: Mapping[str, ClassTable | FactorTable] | None = None
) -> ClassTable:
    """Return the class table ``name`` (user ``extra`` tables win over built-in ones).

    ``CumShare(c1, c2, ...)`` names build a cumulative-share importance table on the fly.

    >>> get_table("WangTao-2003").tag
    'V'
    >>> [c.name_en for c in get_table("CumShare(0.5,0.8)").classes]
    ['generally important', 'important', 'extremely important']
    """
    tables = {**_builtin(), **(extra or {})}
    t = tables.get(name)
    if isinstance(t, ClassTable):
        return t
    m = _CUMSHARE.match(name.replace(" ", ""))
    if m:
        try:
            cuts = tuple(float(c) for c in m.group(1).split(","))
        except ValueError:
            raise InvalidInput(f"bad cumulative-share table name {name!r}") from None
        return cumshare_table(cuts)
    known = ", ".join(n for n, v in tables.items() if isinstance(v, ClassTable))
    raise InvalidInput(f"unknown class table {name!r}; known tables: {known}, CumShare(...)")


def get_factor_table(
    name: str, *, extra: Mapping[str, ClassTable | FactorTable] | None = None
) -> FactorTable:
    """Return the factor (lookup) table ``name``.

    >>> get_factor_table("SL190-2007/tolerable-loss").values[1]
    1000.0
    """
    tables = {**_builtin(), **(extra or {})}
    t = tables.get(name)
    if not isinstance(t, FactorTable):
        known = ", ".join(n for n, v in tables.items() if isinstance(v, FactorTable))
        raise InvalidInput(f"unknown factor table {name!r}; known tables: {known}")
    return t


def list_tables(*, extra: Mapping[str, ClassTable | FactorTable] | None = None) -> list[str]:
    """Names of all class tables (built-in and ``extra``), sorted.

    >>> "SL190-2007/water" in list_tables()
    True
    """
    tables = {**_builtin(), **(extra or {})}
    return sorted(n for n, v in tables.items() if isinstance(v, ClassTable))


def resolve(table: str | ClassTable) -> ClassTable:
    """Accept a table or its name."""
    return table if isinstance(table, ClassTable) else get_table(table)


_CUM_NAMES = {
    3: [
        ("一般重要", "generally important"),
        ("重要", "important"),
        ("极重要", "extremely important"),
    ],
    4: [
        ("一般重要", "generally important"),
        ("中等重要", "moderately important"),
        ("重要", "important"),
        ("极重要", "extremely important"),
    ],
}
_CUM_COLOURS = ["#ffffcc", "#a1dab4", "#41b6c4", "#2c7fb8", "#253494", "#081d58"]


def cumshare_table(cuts: Iterable[float]) -> ClassTable:
    """Cumulative-share importance table cut at ``cuts`` (shares of the total, ascending).

    Intervals are on the cumulative share S of a pixel (share of the total held by pixels of
    equal or higher value); ``S <= c1`` is the most important class (code N).

    >>> [c.interval for c in cumshare_table((0.5, 0.8)).classes]
    ['(0.8, 1]', '(0.5, 0.8]', '[0, 0.5]']
    """
    cs = tuple(float(c) for c in cuts)
    if not cs or any(not 0 < c < 1 for c in cs) or list(cs) != sorted(set(cs)):
        raise InvalidInput(f"cumulative-share cuts must be increasing and in (0, 1), got {cs}")
    n = len(cs) + 1
    names = _CUM_NAMES.get(n) or [(f"第{k}级", f"class {k}") for k in range(1, n + 1)]
    bounds = [0.0, *cs, 1.0]
    classes = []
    for code in range(1, n + 1):
        k = n - code  # index of the share interval, 0 = top share
        lo, hi = bounds[k], bounds[k + 1]
        interval = f"[{lo:g}, {hi:g}]" if k == 0 else f"({lo:g}, {hi:g}]"
        zh, en = names[code - 1]
        colour = _CUM_COLOURS[round((code - 1) * 5 / (n - 1))]
        classes.append(
            ClassDef(code=code, name_zh=zh, name_en=en, colour=colour, interval=interval)
        )
    known: dict[tuple[float, ...], tuple[Tag, str]] = {
        (0.5, 0.8): ("R", "2017 red-line guideline 50 %/80 % rule (not seen in a source)"),
        (0.5, 0.75, 0.9): ("V", "Ouyang et al. 2016, Science 352:1455, via CX-201803.01078"),
    }
    tag, src = known.get(cs, ("I", "user-chosen cumulative-share cut points"))
    return ClassTable(
        name=f"CumShare({','.join(f'{c:g}' for c in cs)})",
        version="1",
        source=src,
        tag=tag,
        indicator="cumulative share of the service total (high to low)",
        units="fraction",
        kind="interval",
        classes=tuple(classes),
        notes="[I] A pixel's share counts all pixels of equal or higher value; ties share a class.",
    )


# ------------------------------------------------------------------------------------------
# classify
# ------------------------------------------------------------------------------------------

OutOfRange = Literal["raise", "nodata", "clip"]


def _check_params(table: ClassTable, params: Mapping[str, Any]) -> dict[str, Any]:
    unknown = set(params) - set(table.params)
    if unknown:
        raise InvalidInput(
            f"{table.name} takes parameters {sorted(table.params) or 'none'}, got {sorted(unknown)}"
        )
    out: dict[str, Any] = {}
    for name, spec in table.params.items():
        v = params.get(name, spec.default)
        arr = np.asarray(v, dtype=np.float64)
        if spec.allowed is not None:
            vals = np.unique(arr[np.isfinite(arr)])
            bad = vals[~np.isin(vals, spec.allowed)]
            if bad.size:
                raise InvalidInput(
                    f"{table.name}: {name} must be one of {list(spec.allowed)}, got "
                    f"{bad[:5].tolist()}"
                )
        out[name] = arr if arr.ndim else float(arr)
    return out


def classify(
    values: Any,
    table: str | ClassTable,
    *,
    out_of_range: OutOfRange = "raise",
    used: Provenance | None = None,
    **params: Any,
) -> np.ndarray:
    """Classify ``values`` with ``table``: uint8 codes 1..N, 0 where the input is nodata.

    Parameters
    ----------
    values : array_like or MaskedArray
        Indicator values in the table's ``units`` (NaN or masked = nodata). For categorical
        tables, integer input codes.
    table : str or ClassTable
    out_of_range : {"raise", "nodata", "clip"}
        Values outside the table's outer bounds (e.g. FVC 120 %, a negative modulus) raise
        :class:`~geoeco.core.errors.UnitsError` by default; "nodata" gives 0, "clip" the end class.
        For categorical tables an unknown code raises :class:`InvalidInput` unless "nodata".
    used : Provenance, optional
        Filled with the table and parameters used.
    **params
        Table parameters (e.g. ``tolerable=500`` or a per-pixel array).

    Examples
    --------
    >>> classify(np.array([[65.0, 40.0], [26.7, np.nan]]), "WangTao-2003").tolist()
    [[1, 2], [3, 0]]
    """
    t = resolve(table)
    p = _check_params(t, params)
    if used is not None:
        used.add_table(t)
        for k, v in p.items():
            used.add_param(f"{t.name}.{k}", v, tag=t.params[k].tag)
    if t.kind == "categorical":
        return _classify_categorical(values, t, out_of_range)
    v = as_float(values)
    order, edges, (lo, lo_closed), (hi, hi_closed) = t._edges(p)
    lut = np.array([0] + [c.code for c in order], dtype=np.uint8)
    idx = np.ones(v.shape, dtype=np.uint8)
    tmp = np.empty(v.shape, dtype=bool)
    with np.errstate(invalid="ignore"):
        for e, upper_closed in edges:
            (np.greater_equal if upper_closed else np.greater)(v, e, out=tmp)
            idx += tmp
        valid = ~np.isnan(v)
        below = (v < lo) if lo_closed else (v <= lo)
        above = (v > hi) if hi_closed else (v >= hi)
    bad = (below | above) & valid
    if bad.any():
        if out_of_range == "raise":
            raise UnitsError(
                f"{t.name} expects {t.indicator} in {t.units} within its table range; "
                f"{int(bad.sum())} value(s) fall outside (e.g. {float(v[bad][0]):g})"
            )
        if out_of_range == "nodata":
            valid &= ~bad
        else:
            idx[below & valid] = 1
            idx[above & valid] = len(order)
    idx[~valid] = 0
    return lut[idx]


def _classify_categorical(values: Any, t: ClassTable, out_of_range: OutOfRange) -> np.ndarray:
    if isinstance(values, np.ma.MaskedArray):
        mask = np.ma.getmaskarray(values)
        arr = values.filled(0)
    else:
        arr = np.asarray(values)
        mask = np.isnan(arr) if arr.dtype.kind == "f" else np.zeros(arr.shape, bool)
    if arr.dtype.kind == "f":
        arr = np.where(mask, 0, arr)
        if np.any(arr != np.round(arr)):
            raise InvalidInput(f"{t.name} expects integer codes ({t.indicator})")
    codes = arr.astype(np.int64)
    keys = np.array(sorted(v for c in t.classes for v in c.values or ()), dtype=np.int64)
    cls = {v: c.code for c in t.classes for v in c.values or ()}
    out_codes = np.array([cls[int(k)] for k in keys], dtype=np.uint8)
    pos = np.clip(np.searchsorted(keys, codes), 0, len(keys) - 1)
    hit = (keys[pos] == codes) & ~mask
    unknown = ~hit & ~mask
    if unknown.any() and out_of_range == "raise":
        bad = np.unique(codes[unknown])[:10].tolist()
        raise InvalidInput(f"{t.name}: codes {bad} are not in the table ({t.indicator})")
    return np.where(hit, out_codes[pos], np.uint8(0)).astype(np.uint8)


def score(
    values: Any, table: str | ClassTable, *, used: Provenance | None = None, **kw: Any
) -> np.ndarray:
    """Class scores of ``values`` (float32, NaN where nodata).

    >>> score(np.array([0.5, 2.0, 20.0]), "EcoZoning-interim/sanding/aridity").tolist()
    [1.0, 5.0, 9.0]
    """
    t = resolve(table)
    s = t.scores()
    if len(s) != len(t.classes):
        raise InvalidInput(f"{t.name} has no scores; it cannot be used as a factor table")
    lut = np.array([np.nan] + [s[c.code] for c in t.classes], dtype=np.float32)
    scores: np.ndarray = lut[classify(values, t, used=used, **kw)]
    return scores


def lookup(codes: Any, table: Mapping[int, float | str], *, what: str = "code") -> np.ndarray:
    """Map integer ``codes`` to float values (NaN where nodata); unknown codes raise.

    The table's values go through ``float()`` (a :class:`FactorTable`'s may be numeric text).

    >>> lookup(np.array([1, 2, 1]), {1: 0.5, 2: 1.0}).tolist()
    [0.5, 1.0, 0.5]
    """
    if isinstance(codes, np.ma.MaskedArray):
        mask = np.ma.getmaskarray(codes)
        arr = np.asarray(codes.filled(0))
    else:
        arr = np.asarray(codes)
        mask = np.isnan(arr) if arr.dtype.kind == "f" else np.zeros(arr.shape, bool)
    ints = np.where(mask, 0, arr).astype(np.int64)
    keys = np.array(sorted(table), dtype=np.int64)
    vals = np.array([float(table[int(k)]) for k in keys], dtype=np.float64)
    pos = np.clip(np.searchsorted(keys, ints), 0, max(len(keys) - 1, 0))
    hit = (keys[pos] == ints) if len(keys) else np.zeros(ints.shape, bool)
    missing = ~hit & ~mask
    if missing.any():
        bad = np.unique(ints[missing])[:10].tolist()
        raise InvalidInput(f"{what}s {bad} have no entry in the table (known: {keys.tolist()})")
    out = vals[pos]
    out[mask] = np.nan
    return out


__all__ = [
    "ClassDef",
    "ClassTable",
    "FactorTable",
    "ParamSpec",
    "Provenance",
    "classify",
    "cumshare_table",
    "get_factor_table",
    "get_table",
    "list_tables",
    "load_tables",
    "lookup",
    "record",
    "resolve",
    "score",
]


def hex_rgba(colour: str, alpha: int = 255) -> tuple[int, int, int, int]:
    """``"#rrggbb"`` as an ``(r, g, b, alpha)`` tuple.

    >>> hex_rgba("#1b7837")
    (27, 120, 55, 255)
    """
    h = colour.lstrip("#")
    return (int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16), alpha)
