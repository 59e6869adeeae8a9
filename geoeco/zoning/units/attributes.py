"""Per-unit attributes of control units (helpers of :mod:`geoeco.zoning.units.build`).

Everything here works on one window of labelled pixels: ``final`` holds unit ids ``1..n``
(0 = no unit) and the functions count, per unit, the pixels of a red-line code or a driver
grade, or average a driver. Counts and sums run in row-major pixel order, so a unit gets the
same numbers whether its window is the whole grid or a county batch.

Areas: :func:`unit_areas` gives the equal-area km² (the geometry's own area on an equal-area
grid, else the geometry projected to :data:`~geoeco.core.crs.ALBERS_CHINA`) and the planar km² in
the CGCS2000 3-degree Gauss–Krüger zone of the unit's centroid (EPSG:4534–4554), the official
figure for 三线一单 updates (methodology §4.2).

Examples
--------
>>> final = np.array([[1, 1, 2], [1, 2, 2]], dtype=np.int32)
>>> rl = np.array([[13, 0, 0], [13, 0, 22]], dtype=np.uint8)
>>> cols = redline_columns(final, rl, 2, np.array([3.0, 3.0]))
>>> cols["redline_share"].round(3).tolist(), cols["redline_main"].tolist()
([0.667, 0.333], [13, 22])
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import shapely
from pyproj import CRS, Transformer

from geoeco.core.crs import ALBERS_CHINA, CGCS2000, gk_zone_epsg
from geoeco.core.errors import InvalidInput
from geoeco.zoning.access import CLASS_NAMES
from geoeco.zoning.rules import REDLINE_CODES

#: Red-line patch type codes (LXBM, methodology §4.1): code -> (zh, en), from the class table.
LXBM: dict[int, tuple[str, str]] = REDLINE_CODES
#: Attribute columns of the units: column name → one value per unit (array or list).
Columns = dict[str, Any]
#: Graded drivers: name -> (column stem, number of grades, name of the dominant-grade column).
GRADED_DRIVERS: dict[str, tuple[str, int, str]] = {
    "erosion_grade": ("erosion_g", 6, "erosion_grade_main"),  # SL 190-2007, 1 slight … 6 severe
    "desertification": ("desert_d", 5, "desert_degree_main"),  # 1 none … 5 extremely severe
}
_EQUAL_AREA_METHODS = ("equal area", "equal earth", "mollweide", "sinusoidal", "eckert iv")


def unit_code(
    county_code: str, unit_class: int, serial: int, *, prefix: str = "ZH", serial_digits: int = 4
) -> str:
    """Control-unit code: ``prefix`` + 6-digit county code + class digit + zero-padded serial.

    The format follows the published example ZH440606\\ **2**\\ 0001 (methodology §4.2; only
    the class digits 1/2/3 are verified), hence ``prefix`` and ``serial_digits`` are options.

    >>> unit_code("150822", 2, 7)
    'ZH15082220007'
    >>> unit_code("150822", 4, 1)
    Traceback (most recent call last):
    ...
    geoeco.core.errors.InvalidInput: unit class must be 1, 2 or 3, got 4
    """
    if not re.fullmatch(r"\d{6}", str(county_code)):
        raise InvalidInput(f"county code must be 6 digits, got {county_code!r}")
    if unit_class not in (1, 2, 3):
        raise InvalidInput(f"unit class must be 1, 2 or 3, got {unit_class!r}")
    if not 1 <= serial < 10**serial_digits:
        raise InvalidInput(
            f"serial {serial} does not fit {serial_digits} digits; raise serial_digits"
        )
    return f"{prefix}{county_code}{unit_class}{serial:0{serial_digits}d}"


def is_equal_area(crs: CRS) -> bool:
    """Whether ``crs`` is an equal-area projection (by its projection method's name).

    >>> is_equal_area(ALBERS_CHINA), is_equal_area(CRS.from_epsg(4545))
    (True, False)
    """
    op = crs.coordinate_operation
    name = (op.method_name if op is not None else "").lower()
    return any(m in name for m in _EQUAL_AREA_METHODS)


def _project(geoms: np.ndarray, src: CRS, dst: CRS | int, step: float) -> np.ndarray:
    tr = Transformer.from_crs(src, dst, always_xy=True)

    def f(xy: np.ndarray) -> np.ndarray:
        x, y = tr.transform(xy[:, 0], xy[:, 1])
        return np.column_stack([x, y])

    out: np.ndarray = shapely.transform(shapely.segmentize(geoms, step), f)
    return out


def unit_areas(geoms: np.ndarray, crs: CRS) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Equal-area km², Gauss–Krüger km² and GK EPSG code per geometry (in ``crs``).

    >>> sq = np.array([shapely.box(0, 4_000_000, 1000, 4_001_000)])
    >>> ea, gk, epsg = unit_areas(sq, ALBERS_CHINA)
    >>> float(ea[0]), int(epsg[0])
    (1.0, 4544)
    """
    if is_equal_area(crs):
        ea = shapely.area(geoms) / 1e6
    else:
        ea = shapely.area(_project(geoms, crs, ALBERS_CHINA, 1000.0)) / 1e6
    cx, cy = shapely.get_coordinates(shapely.centroid(geoms)).T
    lon, _ = Transformer.from_crs(crs, CGCS2000, always_xy=True).transform(cx, cy)
    epsg = np.array([gk_zone_epsg(x) for x in np.atleast_1d(lon)], dtype=np.int32)
    gk = np.zeros(len(geoms))
    for code in np.unique(epsg):
        m = epsg == code
        gk[m] = shapely.area(_project(geoms[m], crs, int(code), 500.0)) / 1e6
    return ea, gk, epsg


_STEP = 1 << 20  # pixels per chunk of the counting loops (bounds their int64 temporaries)


def count_table(final: np.ndarray, n: int, codes: Any = None) -> np.ndarray:
    """Pixel counts by unit id (rows 0..n) and code (columns), in chunks of ~1 Mpx.

    ``codes`` is None (one column), an integer array like ``final`` (values 0..k-1), or a
    pair ``(lut, raw)`` read as ``lut[raw]`` chunk by chunk.

    >>> count_table(np.array([[0, 1, 1, 2]]), 2, np.array([[1, 0, 1, 1]])).tolist()
    [[0, 1], [1, 1], [0, 1]]
    """
    f = final.reshape(-1)
    lut, raw = codes if isinstance(codes, tuple) else (None, codes)
    r = None if raw is None else np.asarray(raw).reshape(-1)
    if r is None:
        k = 1
    elif lut is not None:
        k = int(np.max(lut)) + 1
    else:
        k = int(r.max(initial=0)) + 1
    out = np.zeros((n + 1) * k, np.int64)
    for s in range(0, f.size, _STEP):
        key = f[s : s + _STEP].astype(np.int64)
        if r is not None:
            key *= k
            key += r[s : s + _STEP] if lut is None else lut[r[s : s + _STEP]]
        out += np.bincount(key, minlength=(n + 1) * k)
    return out.reshape(n + 1, k)


def redline_columns(final: np.ndarray, rl: np.ndarray, n: int, px: np.ndarray) -> Columns:
    """Red-line share per unit, the dominant LXBM code (zh/en) and the share of every code.

    ``final`` unit ids 1..n, ``rl`` LXBM codes (0 none), ``px`` pixels per unit.
    """
    codes = list(LXBM)
    lut = np.zeros(256, np.int64)
    lut[codes] = np.arange(1, len(codes) + 1)
    tab = count_table(final, n, (lut, rl))
    tab = tab[1:, 1:]
    out: Columns = {"redline_share": tab.sum(axis=1) / px}
    main = np.where(tab.sum(axis=1) > 0, np.asarray(codes)[tab.argmax(axis=1)], 0)
    out["redline_main"] = main
    out["redline_main_zh"] = [LXBM[m][0] if m else "" for m in main.tolist()]
    out["redline_main_en"] = [LXBM[m][1] if m else "" for m in main.tolist()]
    for j, code in enumerate(codes):
        out[f"redline_{code}_share"] = tab[:, j] / px
    return out


def driver_columns(
    name: str, values: np.ma.MaskedArray, final: np.ndarray, n: int, px: np.ndarray
) -> Columns:
    """Summary columns of one driver over the units (see
    :func:`geoeco.zoning.units.build.build_units`).

    Graded drivers (:data:`GRADED_DRIVERS`) give a share per grade and the dominant grade;
    float rasters (except ``park``/``battle``) give ``<name>_mean``; integer rasters give the
    share of pixels > 0 and the sorted distinct ids.

    >>> final = np.array([[1, 1, 2, 2]], dtype=np.int32)
    >>> v = np.ma.MaskedArray(np.array([[7, 0, 7, 9]], "uint16"))
    >>> out = driver_columns("park", v, final, 2, np.array([2.0, 2.0]))
    >>> out["park_share"].tolist(), out["park_ids"]
    ([0.5, 1.0], ['7', '7,9'])
    """
    if values.ndim != 2:
        raise InvalidInput(f"driver {name!r} must be a single-band raster")
    valid = ~np.ma.getmaskarray(values) & (final > 0)
    fl = final[valid].astype(np.int64)
    raw = np.asarray(np.ma.getdata(values))[valid]
    if name in GRADED_DRIVERS:
        stem, k, main_col = GRADED_DRIVERS[name]
        vals = raw.astype(np.int64)
        if vals.size and (vals.min() < 0 or vals.max() > k):
            raise InvalidInput(f"driver {name!r} holds values outside 0..{k}")
        tab = np.bincount(fl * (k + 1) + vals, minlength=(n + 1) * (k + 1))
        tab = tab.reshape(n + 1, k + 1)[1:, 1:]
        out: Columns = {f"{stem}{g}_share": tab[:, g - 1] / px for g in range(1, k + 1)}
        out[main_col] = np.where(tab.sum(axis=1) > 0, tab.argmax(axis=1) + 1, 0)
        return out
    if values.dtype.kind == "f" and name not in ("park", "battle"):
        vals = raw.astype("float64")
        ok = np.isfinite(vals)
        s = np.bincount(fl[ok], weights=vals[ok], minlength=n + 1)[1:]
        c = np.bincount(fl[ok], minlength=n + 1)[1:]
        return {f"{name}_mean": np.where(c > 0, s / np.maximum(c, 1), np.nan)}
    ids = np.nan_to_num(raw.astype("float64")).astype(np.int64)
    inside = ids > 0
    share = np.bincount(fl[inside], minlength=n + 1)[1:] / px
    lists: list[list[str]] = [[] for _ in range(n)]
    for u, v in zip(*unit_id_pairs(fl[inside], ids[inside]), strict=True):
        lists[u - 1].append(str(v))
    return {f"{name}_share": share, f"{name}_ids": [",".join(x) for x in lists]}


def unit_id_pairs(units: np.ndarray, ids: np.ndarray) -> tuple[list[int], list[int]]:
    """The distinct ``(unit, id)`` pairs of two equal-length arrays of non-negative integers,
    sorted by unit then id (what ``np.unique(np.column_stack([units, ids]), axis=0)`` gives).

    Each pair becomes one integer key ``unit * k + id`` with ``k = max(ids) + 1``, so the
    keys sort in the same order as the pairs and a one-dimensional ``np.unique`` replaces
    the row-wise one (several times faster); pairs whose key would overflow int64 take the
    row-wise path.

    >>> unit_id_pairs(np.array([2, 1, 2, 1, 2]), np.array([9, 7, 7, 7, 9]))
    ([1, 2, 2], [7, 7, 9])
    """
    u = np.asarray(units, np.int64)
    v = np.asarray(ids, np.int64)
    if u.size == 0:
        return [], []
    k = int(v.max()) + 1
    if int(u.max()) >= (np.iinfo(np.int64).max - k) // k:
        pairs = np.unique(np.column_stack([u, v]), axis=0)
        return pairs[:, 0].tolist(), pairs[:, 1].tolist()
    keys = np.unique(u * k + v)
    return (keys // k).tolist(), (keys % k).tolist()


def identity_columns(
    table: pd.DataFrame,
    county: np.ndarray,
    unit_class: np.ndarray,
    *,
    prefix: str,
    serial_digits: int,
) -> Columns:
    """Code, names, class and administrative columns of units sorted by county, class, order.

    ``county`` indexes the rows of ``table`` (``code``, ``name``, optional
    ``province_name``/``city_name``); the serial counts per county and class in row order.
    """
    codes = table["code"].to_numpy()[county]
    names = table["name"].to_numpy()[county]
    serial = _serials(codes, unit_class)
    cz = [CLASS_NAMES[int(c)][0] for c in unit_class]
    ce = [CLASS_NAMES[int(c)][1] for c in unit_class]
    data: Columns = {
        "code": [
            unit_code(c, int(k), int(s), prefix=prefix, serial_digits=serial_digits)
            for c, k, s in zip(codes, unit_class, serial, strict=True)
        ],
        "name_zh": [f"{nm}{z}单元{s}" for nm, z, s in zip(names, cz, serial, strict=True)],
        "name_en": [f"{nm} {e} unit {s}" for nm, e, s in zip(names, ce, serial, strict=True)],
        "unit_class": unit_class.astype(int),
        "class_zh": cz,
        "class_en": ce,
        "county_code": codes,
        "county_name": names,
        "province_code": [c[:2] + "0000" for c in codes],
        "city_code": [c[:4] + "00" for c in codes],
    }
    for x in ("province_name", "city_name"):
        if x in table.columns:
            data[x] = table[x].to_numpy()[county]
    data["serial"] = serial
    return data


def _serials(codes: Sequence[str] | np.ndarray, unit_class: np.ndarray) -> np.ndarray:
    """1, 2, ... within each run of equal (county, class), rows already grouped."""
    n = len(unit_class)
    if n == 0:
        return np.zeros(0, np.int64)
    c = np.asarray(codes)
    k = np.asarray(unit_class)
    start = np.ones(n, bool)
    start[1:] = (c[1:] != c[:-1]) | (k[1:] != k[:-1])
    idx = np.arange(n)
    return idx - np.maximum.accumulate(np.where(start, idx, 0)) + 1


__all__ = [
    "GRADED_DRIVERS",
    "LXBM",
    "driver_columns",
    "identity_columns",
    "count_table",
    "is_equal_area",
    "redline_columns",
    "unit_areas",
    "unit_code",
    "unit_id_pairs",
]
