"""The RUSLE/CSLE topographic factor LS from a DEM, with three named slope-length methods.

Formulas and sources are in ``methodology.md`` §1.2 ("L and S — topography" and "LS on a
grid: three formulations"). In short, with θ the slope angle, D the cell size and
m the slope-length exponent:

* ``S`` (:func:`s_factor`, CSLE practice): ``10.8 sin θ + 0.03`` below 5.14°,
  ``16.8 sin θ − 0.50`` up to 10° (McCool 1987), ``21.91 sin θ − 0.96`` from 10° (Liu et al.
  1994). The break angles are configurable. Note that the Liu piece is *not* continuous with
  McCool at 10° (2.417 vs 2.845); that jump is in the published method.
* ``m`` (:func:`m_mccool`): ``β / (1 + β)``, ``β = (sin θ / 0.0896) / (3 sin^0.8 θ + 0.56)``.
* ``method="dg"`` — Desmet & Govers (1996): ``L = [(A + D²)^(m+1) − A^(m+1)] /
  (D^(m+2) x^m 22.13^m)``, ``A = (FA − 1) D²`` the area draining into the cell and
  ``x = |sin α| + |cos α|`` from the aspect α (``x = 1`` on flats).
* ``method="lstool"`` — cumulative slope length along D8 paths (LS-TOOL, Zhang et al. 2013):
  ``L = (λ_out^(m+1) − λ_in^(m+1)) / ((λ_out − λ_in) 22.13^m)``; λ restarts in channel cells
  and where the slope drops below ``cutoff`` × the upslope cell's slope (0.5 where the
  receiving cell is below 5 % slope, 0.7 otherwise; which cell picks the ratio is our reading
  of Van Remortel et al. 2001, [R] in methodology).
* ``method="invest"`` — InVEST SDR 3.20.2 exactly: ``ca = sqrt((FA − 1) D²)``, x from the
  *slope* angle, the m table 0.2/0.3/0.4/0.5 for slope ≤ 1/3.5/5/9 % else McCool, S McCool
  two-piece at 9 %, ``LS = S · min(L, l_max)`` with ``l_max = 122``; MFD routing by default.

In every method the slope is Horn's on the depression-filled DEM (as InVEST does). For ``dg``
and ``lstool``, ``channel_threshold_cells`` makes cells with at least that flow accumulation
channels where the overland slope length restarts (``A = 0`` / ``λ_in = 0``; default
:data:`DEFAULT_CHANNEL_AREA_KM2` as cells of the DEM) and ``max_slope_length`` caps λ (default
:data:`DEFAULT_MAX_SLOPE_LENGTH_M`); both defaults are [R]. ``invest`` keeps InVEST's settings:
threshold 1000 cells for its stream cells (:mod:`geoeco.terrain.streams`), left out of LS when
``exclude_streams``, no λ cap, ``l_max`` 122.

Examples
--------
>>> import numpy as np
>>> float(s_factor(np.array(3.0)).round(4)), float(m_mccool(np.array(3.0)).round(4))
(0.5952, 0.4092)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any, Literal, cast, get_args

import numpy as np

from geoeco.core.errors import InvalidInput, UnitsError
from geoeco.core.jit import kernel
from geoeco.core.raster import Raster
from geoeco.terrain import routing as _routing

from .routing import ROUTING_METHODS, RoutingMethod
from .slope import cellsize_of, horn_gradient
from .streams import INVEST_STREAM_THRESHOLD, extract_streams

__all__ = [
    "DEFAULT_CHANNEL_AREA_KM2",
    "DEFAULT_CUTOFF",
    "DEFAULT_LS_METHOD",
    "DEFAULT_MAX_SLOPE_LENGTH_M",
    "DEFAULT_S_BREAKS",
    "INVEST_L_MAX",
    "LSOptions",
    "LSResult",
    "LS_METHODS",
    "Method",
    "l_dg",
    "l_invest",
    "l_lstool",
    "ls_factor",
    "ls_from_options",
    "ls_invest",
    "default_channel_cells",
    "m_invest",
    "m_mccool",
    "m_table",
    "s_factor",
    "s_invest",
    "slope_length_lstool",
    "stream_settings",
    "x_from_aspect",
]

Method = Literal["dg", "lstool", "invest"]
#: The slope-length methods (:data:`Method`): the one list the erosion config, the API's
#: process inputs and the CLI's help take them from.
LS_METHODS: tuple[Method, ...] = get_args(Method)
#: The LS method used when none is given, here and in every run (``geoeco erosion``, the
#: ``erosion`` process, :class:`geoeco.erosion.run.ErosionConfig`): LS-TOOL's cumulative
#: slope length, which the erosion run has always used.
DEFAULT_LS_METHOD: Method = "lstool"
MMode = Literal["mccool", "table", "invest"]

#: CSLE break angles (degrees): McCool low/high below/above 5.14°, Liu from 10°.
DEFAULT_S_BREAKS = (5.14, 10.0)
#: LS-TOOL deposition cut-off ratios (below / from ``CUTOFF_SLOPE_PCT`` slope).
DEFAULT_CUTOFF = (0.5, 0.7)
CUTOFF_SLOPE_PCT = 5.0
#: InVEST SDR's default cap on L.
INVEST_L_MAX = 122.0
#: Default cap on the slope length λ (metres) for ``dg`` and ``lstool`` [R]. RUSLE's field
#: data and guidance (Renard et al. 1997, USDA Agriculture Handbook 703) cover overland-flow
#: slope lengths up to about 1000 ft (305 m); longer DEM flow paths are concentrated flow
#: (gullies, channels) that the (R)USLE/CSLE does not model. GRASS ``r.watershed`` caps λ the
#: same way (``max_slope_length``) [V]. CSLE practice in China (Liu Baoyuan et al., the 2010-12
#: national soil-erosion survey) also restricts λ to hillslopes [R]; 300 m is our reading.
DEFAULT_MAX_SLOPE_LENGTH_M = 300.0
#: Default upslope area (km²) from which a cell is a channel where λ restarts, for ``dg`` and
#: ``lstool`` (LS-TOOL stops slope length at channels defined by a flow-accumulation
#: threshold, Zhang Hongming et al. 2013, Computers & Geosciences 52: 177-188 [R]). 0.9 km² is
#: InVEST SDR's default stream threshold (1000 cells of 30 m, natcap.invest 3.20.2 [V]) as an
#: area, so that it means the same at every cell size.
DEFAULT_CHANNEL_AREA_KM2 = 0.9
_BLOCK_ROWS = 256


def _rad(slope_deg: np.ndarray) -> np.ndarray:
    return np.radians(np.asarray(slope_deg, dtype=np.float64))


def m_mccool(slope_deg: np.ndarray) -> np.ndarray:
    """McCool (1989) slope-length exponent ``m = β / (1 + β)``.

    ``β = (sin θ / 0.0896) / (3 (sin θ)^0.8 + 0.56)``; ``m = 0`` on a flat cell.

    >>> m_mccool(np.array([0.0, 5.0, 45.0])).round(4)
    array([0.    , 0.4966, 0.7358])
    """
    s = np.sin(_rad(slope_deg))
    beta = (s / 0.0896) / (3.0 * s**0.8 + 0.56)
    m: np.ndarray = beta / (1.0 + beta)
    return m


def m_table(slope_deg: np.ndarray) -> np.ndarray:
    """Table m (CX-201711.00309): 0.2 below 1 %, 0.3 to 3 %, 0.4 to 9 %, 0.5 from 9 % slope.

    >>> m_table(np.degrees(np.arctan([0.005, 0.02, 0.05, 0.09, 0.3])))
    array([0.2, 0.3, 0.4, 0.5, 0.5])
    """
    pct = 100.0 * np.tan(_rad(slope_deg))
    return np.select([pct < 1.0, pct < 3.0, pct < 9.0], [0.2, 0.3, 0.4], 0.5)


def m_invest(slope_deg: np.ndarray) -> np.ndarray:
    """InVEST SDR m: 0.2/0.3/0.4/0.5 for slope ≤ 1/3.5/5/9 %, McCool above 9 %.

    >>> m_invest(np.degrees(np.arctan([0.01, 0.03, 0.04, 0.08]))).round(6)
    array([0.2, 0.3, 0.4, 0.5])
    """
    pct = 100.0 * np.tan(_rad(slope_deg))
    return np.select(
        [pct <= 1.0, pct <= 3.5, pct <= 5.0, pct <= 9.0],
        [0.2, 0.3, 0.4, 0.5],
        m_mccool(slope_deg),
    )


def s_factor(slope_deg: np.ndarray, breaks: tuple[float, float] = DEFAULT_S_BREAKS) -> np.ndarray:
    """Slope-steepness factor S, CSLE style (McCool low / McCool high / Liu).

    ``θ < b1``: 10.8 sin θ + 0.03; ``b1 ≤ θ < b2``: 16.8 sin θ − 0.50;
    ``θ ≥ b2``: 21.91 sin θ − 0.96 (``breaks = (b1, b2)`` in degrees).

    >>> s_factor(np.array([0.0, 5.14, 10.0])).round(4)
    array([0.03  , 1.0051, 2.8446])
    """
    b1, b2 = breaks
    s = np.sin(_rad(slope_deg))
    th = np.asarray(slope_deg)
    return np.select([th < b1, th < b2], [10.8 * s + 0.03, 16.8 * s - 0.50], 21.91 * s - 0.96)


def s_invest(slope_deg: np.ndarray) -> np.ndarray:
    """InVEST SDR S: 10.8 sin θ + 0.03 below 9 % slope, else 16.8 sin θ − 0.50.

    >>> s_invest(np.degrees(np.arctan([0.0, 0.1]))).round(4)
    array([0.03  , 1.1717])
    """
    s = np.sin(_rad(slope_deg))
    pct = 100.0 * np.tan(_rad(slope_deg))
    out: np.ndarray = np.where(pct < 9.0, 10.8 * s + 0.03, 16.8 * s - 0.50)
    return out


def x_from_aspect(aspect_deg: np.ndarray) -> np.ndarray:
    """Desmet & Govers' ``x = |sin α| + |cos α|``; 1 for flat cells (aspect < 0).

    >>> x_from_aspect(np.array([0.0, 45.0, -1.0])).round(4)
    array([1.    , 1.4142, 1.    ])
    """
    a = np.radians(np.asarray(aspect_deg, dtype=np.float64))
    x = np.abs(np.sin(a)) + np.abs(np.cos(a))
    return np.where(np.asarray(aspect_deg) < 0, 1.0, x)


def _x_from_gradient(gx: np.ndarray, gs: np.ndarray) -> np.ndarray:
    g = np.hypot(gx, gs)
    with np.errstate(invalid="ignore", divide="ignore"):
        x = (np.abs(gx) + np.abs(gs)) / g
    return np.where(g > 0, x, 1.0)


def l_dg(
    flow_acc: np.ndarray,
    m: np.ndarray,
    cellsize: float,
    *,
    x: np.ndarray | float = 1.0,
    channel: np.ndarray | None = None,
    max_slope_length: float | None = None,
) -> np.ndarray:
    """Desmet & Govers L from flow accumulation in cells (the cell itself counted).

    ``A = (FA − 1) D²`` (0 in ``channel`` cells; at most ``max_slope_length · D · x``, the area
    of a slope of that length and the cell's effective width D·x);
    ``L = [(A + D²)^(m+1) − A^(m+1)] / (D^(m+2) x^m 22.13^m)``.

    >>> l_dg(np.array([1.0, 10.0]), np.array([0.5, 0.5]), 10.0).round(4)  # λ 0-10, 90-100 m
    array([0.6722, 3.1075])
    """
    d = float(cellsize)
    fa = np.asarray(flow_acc, dtype=np.float64)
    a = np.maximum(fa - 1.0, 0.0) * d * d
    if channel is not None:
        a = np.where(channel, 0.0, a)
    if max_slope_length is not None:
        a = np.minimum(a, max_slope_length * d * np.asarray(x, dtype=np.float64))
    m = np.asarray(m, dtype=np.float64)
    num = (a + d * d) ** (m + 1.0) - a ** (m + 1.0)
    out: np.ndarray = num / (d ** (m + 2.0) * np.asarray(x, dtype=np.float64) ** m * 22.13**m)
    return out


def l_invest(flow_acc: np.ndarray, slope_deg: np.ndarray, cellsize: float) -> np.ndarray:
    """InVEST SDR 3.20.2 L (before the ``l_max`` cap).

    ``ca = sqrt((FA − 1) D²)``; ``x = |sin θ| + |cos θ|``; m by :func:`m_invest`;
    ``L = [(ca + D²)^(m+1) − ca^(m+1)] / (D^(m+2) x^m 22.13^m)``.

    >>> l_invest(np.array([1.0]), np.array([0.0]), 30.0).round(4)  # m = 0.2, x = 1
    array([1.0627])
    """
    d = float(cellsize)
    th = _rad(slope_deg)
    ca = np.sqrt(np.maximum(np.asarray(flow_acc, dtype=np.float64) - 1.0, 0.0) * d * d)
    x = np.abs(np.sin(th)) + np.abs(np.cos(th))
    m = m_invest(slope_deg)
    num = (ca + d * d) ** (m + 1.0) - ca ** (m + 1.0)
    out: np.ndarray = num / (d ** (m + 2.0) * x**m * 22.13**m)
    return out


def ls_invest(
    slope_deg: np.ndarray, flow_acc: np.ndarray, cellsize: float, *, l_max: float = INVEST_L_MAX
) -> np.ndarray:
    """InVEST's ``LS = S · min(L, l_max)`` from slope (degrees) and flow accumulation (cells).

    >>> ls_invest(np.array([0.0]), np.array([1.0]), 30.0).round(4)  # S = 0.03
    array([0.0319])
    """
    out: np.ndarray = s_invest(slope_deg) * np.minimum(
        l_invest(flow_acc, slope_deg, cellsize), l_max
    )
    return out


@kernel
def _lstool_kernel(
    codes: np.ndarray,
    order: np.ndarray,
    slope: np.ndarray,
    channel: np.ndarray,
    xres: float,
    yres: float,
    ratio_lo: float,
    ratio_hi: float,
    break_deg: float,
    k_of: np.ndarray,
    lam_in: np.ndarray,
    lam_out: np.ndarray,
) -> None:
    nr, nc = codes.shape
    fc = codes.ravel()
    sl = slope.ravel()
    ch = channel.ravel()
    li = lam_in.ravel()
    lo = lam_out.ravel()
    diag = math.sqrt(xres * xres + yres * yres)
    dr = np.array([0, 1, 1, 1, 0, -1, -1, -1])
    dc = np.array([1, 1, 0, -1, -1, -1, 0, 1])
    for t in range(order.size):
        i = order[t]
        k = k_of[fc[i]]
        if k < 0:  # outlet: its own length is one cell
            lo[i] = li[i] + 0.5 * (xres + yres)
            continue
        step = xres if dr[k] == 0 else (yres if dc[k] == 0 else diag)
        lo[i] = li[i] + step
        r = i // nc + dr[k]
        c = i % nc + dc[k]
        if r < 0 or r >= nr or c < 0 or c >= nc:
            continue
        j = r * nc + c
        if ch[j]:
            continue  # flow enters a channel: overland slope length ends
        ratio = ratio_lo if sl[j] < break_deg else ratio_hi
        if sl[j] < ratio * sl[i]:
            continue  # slope drops enough for deposition: new slope length starts at j
        if lo[i] > li[j]:
            li[j] = lo[i]


def slope_length_lstool(
    flowdir: np.ndarray,
    order: np.ndarray,
    slope_deg: np.ndarray,
    cellsize: float | tuple[float, float],
    *,
    channel: np.ndarray | None = None,
    cutoff: tuple[float, float] = DEFAULT_CUTOFF,
    cutoff_slope_pct: float = CUTOFF_SLOPE_PCT,
) -> tuple[np.ndarray, np.ndarray]:
    """Cumulative slope length ``(λ_in, λ_out)`` in metres along D8 paths (LS-TOOL style).

    λ_in of a cell is the longest λ_out of the cells draining into it (0 on ridges);
    λ_out = λ_in + the flow-path length through the cell (D, or D√2 diagonally). λ_in stays 0
    in ``channel`` cells and where the cell's slope is below ``ratio`` × the upslope cell's,
    ``ratio = cutoff[0]`` if the cell's slope is below ``cutoff_slope_pct`` % else
    ``cutoff[1]``. ``flowdir`` and ``order`` come from :func:`geoeco.terrain.routing.route` (D8).

    >>> from geoeco.terrain.routing import route
    >>> r = route(np.array([[3.0], [2.0], [1.0]]), method="d8")
    >>> lam_in, lam_out = slope_length_lstool(r.flowdir, r.order, np.full((3, 1), 5.0), 10.0)
    >>> lam_in.ravel().tolist(), lam_out.ravel().tolist()
    ([0.0, 10.0, 20.0], [10.0, 20.0, 30.0])
    """
    xres, yres = cellsize if isinstance(cellsize, tuple) else (cellsize, cellsize)
    lo_r, hi_r = cutoff
    sl = np.nan_to_num(np.asarray(slope_deg, dtype=np.float32), nan=0.0)
    ch = np.zeros(flowdir.shape, dtype=np.bool_) if channel is None else channel.astype(bool)
    lam_in = np.zeros(flowdir.shape, dtype=np.float64)
    lam_out = np.full(flowdir.shape, np.nan, dtype=np.float64)
    _lstool_kernel(
        flowdir,
        order,
        sl,
        ch,
        float(xres),
        float(yres),
        float(lo_r),
        float(hi_r),
        math.degrees(math.atan(cutoff_slope_pct / 100.0)),
        _routing._K_OF_CODE,
        lam_in,
        lam_out,
    )
    lam_in[np.isnan(lam_out)] = np.nan
    return lam_in, lam_out


def l_lstool(
    lam_in: np.ndarray,
    lam_out: np.ndarray,
    m: np.ndarray,
    max_slope_length: float | None = None,
) -> np.ndarray:
    """Per-cell L from the slope length entering and leaving the cell.

    ``L = (λ_out^(m+1) − λ_in^(m+1)) / ((λ_out − λ_in) · 22.13^m)``, both λ at most
    ``max_slope_length``; a cell wholly beyond it gets the limit ``(m+1) λ^m / 22.13^m``.

    >>> l_lstool(np.array([0.0, 10.0]), np.array([10.0, 20.0]), np.array([0.5, 0.5])).round(4)
    array([0.6722, 1.2291])
    >>> l_lstool(np.array([300.0]), np.array([310.0]), np.array([0.5]), 300.0).round(4)
    array([5.5228])
    """
    lam_in = np.asarray(lam_in, dtype=np.float64)
    lam_out = np.asarray(lam_out, dtype=np.float64)
    m = np.asarray(m, dtype=np.float64)
    if max_slope_length is not None:
        lam_in = np.minimum(lam_in, max_slope_length)
        lam_out = np.minimum(lam_out, max_slope_length)
    span = lam_out - lam_in
    with np.errstate(invalid="ignore", divide="ignore"):
        out: np.ndarray = (lam_out ** (m + 1.0) - lam_in ** (m + 1.0)) / (span * 22.13**m)
    if max_slope_length is not None:
        beyond = span <= 0  # both ends past the cap: the limit, on those cells only
        if beyond.any():
            out = np.array(out, dtype=np.float64)
            mb, lb = (
                np.broadcast_to(m, out.shape)[beyond],
                np.broadcast_to(lam_out, out.shape)[beyond],
            )
            out[beyond] = (mb + 1.0) * lb**mb / 22.13**mb
    return out


@dataclass(frozen=True)
class LSResult:
    """LS and its parts on the DEM's grid, plus the parameters that produced them.

    ``l`` is the L actually used (after ``l_max``); ``flow_acc`` is in cells, the cell itself
    counted; ``params`` is JSON-serialisable and meant to be recorded with every output.
    """

    ls: Raster
    l: Raster  # noqa: E741 - the factor's name
    s: Raster
    slope_deg: Raster
    flow_acc: Raster
    params: dict[str, Any] = field(default_factory=dict)


_M_FUNCS = {"mccool": m_mccool, "table": m_table, "invest": m_invest}


def default_channel_cells(cellsize: float) -> int:
    """Cells of :data:`DEFAULT_CHANNEL_AREA_KM2` at this cell size (metres), at least 1.

    >>> default_channel_cells(30.0), default_channel_cells(90.0), default_channel_cells(10.0)
    (1000, 111, 9000)
    """
    return max(1, round(DEFAULT_CHANNEL_AREA_KM2 * 1e6 / (cellsize * cellsize)))


def _max_slope_length(method: str, given: float | None) -> float | None:
    """The slope-length cap in metres: default for dg/lstool, none for invest; inf = none."""
    if method == "invest":
        if given is not None:
            raise InvalidInput(
                "method 'invest' reproduces InVEST's L, which has no slope-length cap "
                "(only l_max on L); max_slope_length cannot be used with it"
            )
        return None
    value = DEFAULT_MAX_SLOPE_LENGTH_M if given is None else float(given)
    if not value > 0:
        raise InvalidInput(f"max_slope_length must be positive (metres), got {given!r}")
    return None if math.isinf(value) else value


def check_ls_args(
    method: str,
    routing: str | None,
    s_breaks: tuple[float, float] | None,
    channel_threshold_cells: int | None,
    l_max: float | None,
    cutoff: tuple[float, float],
    m_mode: str | None,
) -> tuple[str, tuple[float, float] | None, str, float | None]:
    """Check LS settings; return ``(routing, s_breaks, m_mode, l_max)`` with defaults applied.

    Raises :class:`InvalidInput` on a contradiction (e.g. ``lstool`` with MFD routing).
    """
    if method not in LS_METHODS:
        raise InvalidInput(f"LS method must be 'dg', 'lstool' or 'invest', got {method!r}")
    if routing is None:
        routing = "mfd-invest" if method == "invest" else "d8"
    if routing not in ROUTING_METHODS:
        raise InvalidInput(f"routing must be one of {list(ROUTING_METHODS)}, got {routing!r}")
    if method == "lstool" and routing != "d8":
        raise InvalidInput(
            "method 'lstool' accumulates slope length along single D8 flow paths; "
            f"routing={routing!r} is not possible with it (use routing='d8', or method='dg')"
        )
    _check_threshold(channel_threshold_cells)
    if l_max is not None and not float(l_max) > 0:
        raise InvalidInput(f"l_max must be positive, got {l_max!r}")
    if method == "invest":
        given = [n for n, v in (("s_breaks", s_breaks), ("m_mode", m_mode)) if v is not None]
        if given:
            raise InvalidInput(
                f"method 'invest' reproduces InVEST's fixed S, m and L; {', '.join(given)} "
                "cannot be changed with it (use method='dg' for a configurable LS)"
            )
        return routing, None, "invest", INVEST_L_MAX if l_max is None else float(l_max)
    breaks = DEFAULT_S_BREAKS if s_breaks is None else (float(s_breaks[0]), float(s_breaks[1]))
    if not 0.0 <= breaks[0] <= breaks[1] <= 90.0:
        raise InvalidInput(f"s_breaks must be 0 <= b1 <= b2 <= 90 degrees, got {s_breaks!r}")
    m_mode = "mccool" if m_mode is None else m_mode
    if m_mode not in _M_FUNCS:
        raise InvalidInput(f"m_mode must be one of {sorted(_M_FUNCS)}, got {m_mode!r}")
    if len(cutoff) != 2 or not all(0.0 < float(c) <= 1.0 for c in cutoff):
        raise InvalidInput(f"cutoff must be two ratios in (0, 1], got {cutoff!r}")
    return routing, breaks, m_mode, None if l_max is None else float(l_max)


def _check_threshold(channel_threshold_cells: int | None) -> None:
    if channel_threshold_cells is not None and (
        isinstance(channel_threshold_cells, bool)
        or not isinstance(channel_threshold_cells, int | np.integer)
        or channel_threshold_cells < 1
    ):
        raise InvalidInput(
            f"channel_threshold_cells must be a positive integer, got {channel_threshold_cells!r}"
        )


def stream_settings(
    method: str, channel_threshold_cells: int | None, exclude_streams: bool | None
) -> tuple[int | None, bool]:
    """``(channel_threshold_cells, exclude_streams)`` with their defaults applied.

    ``invest``: the threshold is InVEST's ``threshold_flow_accumulation`` (default
    :data:`~geoeco.terrain.streams.INVEST_STREAM_THRESHOLD`, 1000 cells); it finds the stream
    cells only (InVEST's L does not restart there) and they are left out (``exclude_streams``
    default ``True``, as InVEST's ``usle.tif``). ``dg`` and ``lstool``: the slope length
    restarts in channel cells (threshold by default :func:`default_channel_cells`, set when
    the cell size is known); they are kept unless ``exclude_streams`` is ``True``.

    >>> stream_settings("invest", None, None), stream_settings("dg", 500, None)
    ((1000, True), (500, False))
    """
    if method == "invest":
        t = INVEST_STREAM_THRESHOLD if channel_threshold_cells is None else channel_threshold_cells
        return t, True if exclude_streams is None else bool(exclude_streams)
    return channel_threshold_cells, bool(exclude_streams)


@dataclass(frozen=True)
class LSOptions:
    """How LS is computed: the slope-length method and its settings, checked and completed.

    Make it with :meth:`LSOptions.of` (which applies the defaults and refuses contradictions,
    :func:`check_ls_args`); :func:`ls_factor` and
    :func:`geoeco.terrain.ls_tiled.ls_factor_tiled` take the same settings as keywords.

    Attributes
    ----------
    method : {"dg", "lstool", "invest"}
        Slope-length formulation (module docstring).
    routing : {"d8", "mfd", "mfd-invest"}
        Flow routing; given as ``None`` it is ``"d8"``, or ``"mfd-invest"`` (pygeoprocessing's
        MFD, :mod:`geoeco.terrain.routing`) for ``method="invest"``. ``"lstool"`` needs ``"d8"``.
    s_breaks : (float, float) or None
        S break angles in degrees, given as ``None`` ``(5.14, 10.0)`` (CSLE); ``None`` for
        ``"invest"`` (which cannot change them).
    m_mode : {"mccool", "table", "invest"}
        Which m (:func:`m_mccool`, :func:`m_table`, :func:`m_invest`); given as ``None``
        McCool, or InVEST's for ``method="invest"`` (which cannot be changed).
    l_max : float or None
        Cap on L; none by default, 122 for ``"invest"``.
    max_slope_length : float or None
        Cap on the slope length λ in metres (``dg``: on the upslope area, as a slope of that
        length); :data:`DEFAULT_MAX_SLOPE_LENGTH_M` by default for ``dg`` and ``lstool``
        (``inf``: none), none for ``"invest"``.
    channel_threshold_cells : int or None
        ``dg``/``lstool``: cells with at least this flow accumulation are channels (slope
        length restarts); by default :data:`DEFAULT_CHANNEL_AREA_KM2` in cells of the DEM.
        ``invest``: InVEST's stream threshold (default 1000), which only finds the stream
        cells (:func:`stream_settings`).
    exclude_streams : bool
        Stream cells (:func:`geoeco.terrain.streams.extract_streams`) get no LS, so no soil
        loss and no share of totals, as in InVEST's ``usle.tif``; default ``True`` for
        ``invest`` only.
    cutoff : (float, float)
        LS-TOOL deposition cut-off ratios below / from 5 % slope (``"lstool"`` only).
    mfd_exponent : float
        Slope exponent of ``"mfd"`` routing (Freeman 1991's 1.1; ``"mfd-invest"`` uses 1).

    Examples
    --------
    >>> o = LSOptions.of("invest")
    >>> o.routing, o.m_mode, o.l_max, o.s_breaks, o.channel_threshold_cells, o.exclude_streams
    ('mfd-invest', 'invest', 122.0, None, 1000, True)
    """

    method: Method
    routing: RoutingMethod
    s_breaks: tuple[float, float] | None
    m_mode: MMode
    l_max: float | None
    channel_threshold_cells: int | None = None
    cutoff: tuple[float, float] = DEFAULT_CUTOFF
    mfd_exponent: float = 1.1
    exclude_streams: bool = False
    max_slope_length: float | None = None

    @classmethod
    def of(
        cls,
        method: Method = DEFAULT_LS_METHOD,
        routing: RoutingMethod | None = None,
        s_breaks: tuple[float, float] | None = None,
        channel_threshold_cells: int | None = None,
        l_max: float | None = None,
        cutoff: tuple[float, float] = DEFAULT_CUTOFF,
        m_mode: MMode | None = None,
        mfd_exponent: float = 1.1,
        exclude_streams: bool | None = None,
        max_slope_length: float | None = None,
    ) -> LSOptions:
        """The options with their defaults applied; :class:`InvalidInput` if they conflict.

        ``channel_threshold_cells`` left ``None`` for ``dg``/``lstool`` becomes
        :func:`default_channel_cells` of the DEM's cell size when LS is computed
        (:meth:`at_cellsize`)."""
        route_by, breaks, m, cap = check_ls_args(
            method, routing, s_breaks, channel_threshold_cells, l_max, cutoff, m_mode
        )
        threshold, exclude = stream_settings(method, channel_threshold_cells, exclude_streams)
        return cls(
            method=method,
            routing=cast(RoutingMethod, route_by),  # check_ls_args let only "d8" or "mfd" pass
            s_breaks=breaks,
            m_mode=cast(MMode, m),  # check_ls_args let only a key of _M_FUNCS pass
            l_max=cap,
            channel_threshold_cells=threshold,
            cutoff=cutoff,
            mfd_exponent=mfd_exponent,
            exclude_streams=exclude,
            max_slope_length=_max_slope_length(method, max_slope_length),
        )

    def at_cellsize(self, cellsize: float) -> LSOptions:
        """These options with the default channel threshold in cells of this size (dg, lstool)."""
        if self.method == "invest" or self.channel_threshold_cells is not None:
            return self
        return replace(self, channel_threshold_cells=default_channel_cells(cellsize))

    def params(self, cellsize: float) -> dict[str, Any]:
        """The JSON record of these options (:attr:`LSResult.params`) for cells of this size."""
        lstool = self.method == "lstool"
        return {
            "method": self.method,
            "routing": self.routing,
            "mfd_exponent": {"mfd": float(self.mfd_exponent), "mfd-invest": 1.0}.get(self.routing),
            "mfd_shares": "rounded to 1/15 (pygeoprocessing 2.4.11)"
            if self.routing == "mfd-invest"
            else None,
            "fill": "priority-flood (Wang & Liu 2006; geoeco.terrain.fill)",
            "slope": "Horn 3x3 on the filled DEM",
            "cellsize_m": cellsize,
            "s_formula": "invest (McCool, 9 %)" if self.method == "invest" else "csle",
            "s_breaks_deg": list(self.s_breaks) if self.s_breaks is not None else None,
            "m_mode": self.m_mode,
            "x": {"dg": "aspect", "invest": "slope angle"}.get(self.method),
            "channel_threshold_cells": self.channel_threshold_cells,
            "channel_threshold_km2": None
            if self.channel_threshold_cells is None
            else self.channel_threshold_cells * cellsize * cellsize / 1e6,
            "max_slope_length_m": self.max_slope_length,
            "channel_restarts_l": self.method != "invest"
            and self.channel_threshold_cells is not None,
            "exclude_streams": self.exclude_streams,
            "l_max": self.l_max,
            "cutoff": list(self.cutoff) if lstool else None,
            "cutoff_slope_pct": CUTOFF_SLOPE_PCT if lstool else None,
        }


def ls_factor(
    dem: Raster,
    *,
    method: Method = DEFAULT_LS_METHOD,
    routing: RoutingMethod | None = None,
    s_breaks: tuple[float, float] | None = None,
    channel_threshold_cells: int | None = None,
    l_max: float | None = None,
    cutoff: tuple[float, float] = DEFAULT_CUTOFF,
    m_mode: MMode | None = None,
    mfd_exponent: float = 1.1,
    max_pixels: int = _routing.MAX_ROUTING_PIXELS,
    outlets: np.ndarray | None = None,
    keep: np.ndarray | None = None,
    exclude_streams: bool | None = None,
    max_slope_length: float | None = None,
) -> LSResult:
    """LS factor of a projected DEM (metres), flow routing included.

    Parameters
    ----------
    dem : Raster
        Elevation in metres on a projected grid with square cells.
    method, routing, s_breaks, channel_threshold_cells, l_max, cutoff, m_mode, mfd_exponent
        How LS is computed, with their defaults (``method``: :data:`DEFAULT_LS_METHOD`): see
        :class:`LSOptions`.
    exclude_streams, max_slope_length : optional
        Mask LS on stream cells (default: ``True`` for ``invest`` only); cap on λ in metres
        (default :data:`DEFAULT_MAX_SLOPE_LENGTH_M` for dg/lstool): see :class:`LSOptions`.
    max_pixels : int
        Refuse DEMs with more pixels (:class:`~geoeco.core.errors.OversizeRequest`).
    outlets, keep : ndarray of bool, optional
        For a window of a larger DEM: see :func:`ls_from_options`.

    Returns
    -------
    LSResult

    Examples
    --------
    >>> from affine import Affine
    >>> from geoeco.core.raster import Grid
    >>> z = np.repeat(np.arange(4.0)[::-1, None], 3, axis=1)  # 10 % slope, 10 m cells
    >>> dem = Raster.from_array(z, Grid(Affine(10, 0, 0, 0, -10, 40), 3, 4, "EPSG:32650"))
    >>> r = ls_factor(dem, method="lstool")
    >>> [round(float(v), 3) for v in r.l.array[:, 1]]  # λ = 10, 20, 30, 40 m down the slope
    [0.663, 1.235, 1.614, 1.923]
    """
    options = LSOptions.of(
        method,
        routing,
        s_breaks,
        channel_threshold_cells,
        l_max,
        cutoff,
        m_mode,
        mfd_exponent,
        exclude_streams,
        max_slope_length,
    )
    return ls_from_options(dem, options, max_pixels=max_pixels, outlets=outlets, keep=keep)


def ls_from_options(
    dem: Raster,
    options: LSOptions,
    *,
    max_pixels: int = _routing.MAX_ROUTING_PIXELS,
    outlets: np.ndarray | None = None,
    keep: np.ndarray | None = None,
) -> LSResult:
    """LS factor of a projected DEM (metres) with checked options (:func:`ls_factor`).

    ``outlets`` and ``keep`` (arrays of bool) serve a window of a larger DEM
    (:mod:`geoeco.terrain.ls_tiled`): where the depression filling may drain out, and which
    cells to route (see :func:`geoeco.terrain.routing.route`). Cells outside ``keep`` still
    enter the Horn slope of their neighbours with their filled elevation, but get no LS
    (masked).
    """
    xres, yres = _dem_cellsize(dem)
    options = options.at_cellsize(float(xres))
    rt = _routing.route(
        dem.array,
        method=options.routing,
        cellsize=(xres, yres),
        exponent=options.mfd_exponent,
        max_pixels=max_pixels,
        outlets=outlets,
        keep=keep,
    )
    valid = rt.flowdir != _routing.NODATA_DIR
    gx, gs = horn_gradient(rt.filled, (xres, yres), dtype=np.float32)
    channel = None
    if options.channel_threshold_cells is not None and options.method != "invest":
        channel = rt.flow_acc >= options.channel_threshold_cells
    lam = None
    if options.method == "lstool":
        lam = _slope_lengths(rt, gx, gs, (xres, yres), channel, options.cutoff)
    parts = _ls_by_row_blocks(options, rt.flow_acc, gx, gs, lam, channel, valid, float(xres))
    del gx, gs, lam, channel
    params = options.params(float(xres))
    ls_valid = valid
    if options.exclude_streams:
        assert options.channel_threshold_cells is not None  # stream_settings requires it
        streams = extract_streams(rt, options.channel_threshold_cells, cellsize=(xres, yres))
        ls_valid = valid & ~streams
        params["stream_cells"] = int(np.count_nonzero(streams))

    def wrap(a: np.ndarray, units: str, name: str, ok: np.ndarray = valid) -> Raster:
        return Raster(np.ma.MaskedArray(a, mask=~ok), dem.grid, units=units, name=name)

    return LSResult(
        ls=wrap(parts["ls"], "1", "ls", ls_valid),
        l=wrap(parts["l"], "1", "l"),
        s=wrap(parts["s"], "1", "s"),
        slope_deg=wrap(parts["slope"], "degree", "slope"),
        flow_acc=wrap(rt.flow_acc, "cells", "flow_accumulation"),
        params=params,
    )


def _dem_cellsize(dem: Raster) -> tuple[float, float]:
    """``(xres, yres)`` of a DEM fit for LS: projected, square cells, metres, one band."""
    xres, yres = cellsize_of(dem)
    if abs(xres - yres) > 1e-6 * xres:
        raise InvalidInput(
            f"LS needs square cells, got {xres} x {yres} m; resample the DEM to square pixels"
        )
    if dem.units is not None and dem.units.lower() not in ("m", "metre", "meter", "metres"):
        raise UnitsError(f"DEM elevations must be in metres, got units {dem.units!r}")
    if dem.array.ndim != 2:
        raise InvalidInput("the DEM must be a single band")
    return xres, yres


def _slope_lengths(
    rt: _routing.Routing,
    gx: np.ndarray,
    gs: np.ndarray,
    cellsize: tuple[float, float],
    channel: np.ndarray | None,
    cutoff: tuple[float, float],
) -> tuple[np.ndarray, np.ndarray]:
    """LS-TOOL's ``(λ_in, λ_out)`` along the D8 paths of ``rt`` (:func:`slope_length_lstool`)."""
    slope_all = np.degrees(np.arctan(np.hypot(gx, gs))).astype(np.float32)
    return slope_length_lstool(
        rt.flowdir, rt.order, slope_all, cellsize, channel=channel, cutoff=cutoff
    )


def _ls_by_row_blocks(
    options: LSOptions,
    flow_acc: np.ndarray,
    gx: np.ndarray,
    gs: np.ndarray,
    lam: tuple[np.ndarray, np.ndarray] | None,
    channel: np.ndarray | None,
    valid: np.ndarray,
    d: float,
) -> dict[str, np.ndarray]:
    """Slope, S, L and LS (float32, NaN outside ``valid``), computed in blocks of rows."""
    shape = flow_acc.shape
    out = {k: np.full(shape, np.nan, dtype=np.float32) for k in ("ls", "l", "s", "slope")}
    for r0 in range(0, shape[0], _BLOCK_ROWS):
        b = slice(r0, r0 + _BLOCK_ROWS)
        slope = np.degrees(np.arctan(np.hypot(gx[b], gs[b]).astype(np.float64)))
        rows_lam = None if lam is None else (lam[0][b], lam[1][b])
        rows_channel = None if channel is None else channel[b]
        s, ll = _s_and_l(options, slope, flow_acc[b], gx[b], gs[b], rows_lam, rows_channel, d)
        vb = valid[b]
        out["slope"][b] = np.where(vb, slope, np.nan)
        out["s"][b] = np.where(vb, s, np.nan)
        out["l"][b] = np.where(vb, ll, np.nan)
        out["ls"][b] = np.where(vb, s * ll, np.nan)
    return out


def _s_and_l(
    options: LSOptions,
    slope: np.ndarray,
    flow_acc: np.ndarray,
    gx: np.ndarray,
    gs: np.ndarray,
    lam: tuple[np.ndarray, np.ndarray] | None,
    channel: np.ndarray | None,
    d: float,
) -> tuple[np.ndarray, np.ndarray]:
    """S and L (capped at ``l_max``) of some cells by the options' method."""
    if options.method == "invest":
        s = s_invest(slope)
        ll = l_invest(flow_acc, slope, d)
    else:
        assert options.s_breaks is not None  # LSOptions.of sets them for dg and lstool
        s = s_factor(slope, options.s_breaks)
        m = _M_FUNCS[options.m_mode](slope)
        if options.method == "dg":
            x = _x_from_gradient(gx, gs)
            ll = l_dg(
                flow_acc, m, d, x=x, channel=channel, max_slope_length=options.max_slope_length
            )
        else:
            assert lam is not None  # ls_from_options computes λ for lstool
            ll = l_lstool(lam[0], lam[1], m, options.max_slope_length)
    if options.l_max is not None:
        ll = np.minimum(ll, options.l_max)
    return s, ll
