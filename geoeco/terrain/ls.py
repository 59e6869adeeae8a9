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

In every method the slope is Horn's on the depression-filled DEM (as InVEST does), and
``channel_threshold_cells`` makes cells with at least that flow accumulation channels where
the overland slope length restarts (``A = 0`` / ``λ_in = 0``).

Examples
--------
>>> import numpy as np
>>> float(s_factor(np.array(3.0)).round(4)), float(m_mccool(np.array(3.0)).round(4))
(0.5952, 0.4092)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal, cast, get_args

import numpy as np
from numba import njit

from geoeco.core.errors import InvalidInput, UnitsError
from geoeco.core.raster import Raster
from geoeco.terrain import routing as _routing

from .routing import RoutingMethod
from .slope import cellsize_of, horn_gradient

__all__ = [
    "DEFAULT_CUTOFF",
    "DEFAULT_LS_METHOD",
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
    "m_invest",
    "m_mccool",
    "m_table",
    "s_factor",
    "s_invest",
    "slope_length_lstool",
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
) -> np.ndarray:
    """Desmet & Govers L from flow accumulation in cells (the cell itself counted).

    ``A = (FA − 1) D²`` (0 in ``channel`` cells);
    ``L = [(A + D²)^(m+1) − A^(m+1)] / (D^(m+2) x^m 22.13^m)``.

    >>> l_dg(np.array([1.0, 10.0]), np.array([0.5, 0.5]), 10.0).round(4)  # λ 0-10, 90-100 m
    array([0.6722, 3.1075])
    """
    d = float(cellsize)
    fa = np.asarray(flow_acc, dtype=np.float64)
    a = np.maximum(fa - 1.0, 0.0) * d * d
    if channel is not None:
        a = np.where(channel, 0.0, a)
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


@njit(cache=True, nogil=True)
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


def l_lstool(lam_in: np.ndarray, lam_out: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Per-cell L from the slope length entering and leaving the cell.

    ``L = (λ_out^(m+1) − λ_in^(m+1)) / ((λ_out − λ_in) · 22.13^m)``.

    >>> l_lstool(np.array([0.0, 10.0]), np.array([10.0, 20.0]), np.array([0.5, 0.5])).round(4)
    array([0.6722, 1.2291])
    """
    lam_in = np.asarray(lam_in, dtype=np.float64)
    lam_out = np.asarray(lam_out, dtype=np.float64)
    m = np.asarray(m, dtype=np.float64)
    out: np.ndarray = (lam_out ** (m + 1.0) - lam_in ** (m + 1.0)) / ((lam_out - lam_in) * 22.13**m)
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


def check_ls_args(
    method: str,
    routing: str | None,
    s_breaks: tuple[float, float] | None,
    channel_threshold_cells: int | None,
    l_max: float | None,
    cutoff: tuple[float, float],
    m_mode: str | None,
) -> tuple[str, tuple[float, float] | None, str, float | None]:
    if method not in LS_METHODS:
        raise InvalidInput(f"LS method must be 'dg', 'lstool' or 'invest', got {method!r}")
    if routing is None:
        routing = "mfd" if method == "invest" else "d8"
    if routing not in ("d8", "mfd"):
        raise InvalidInput(f"routing must be 'd8' or 'mfd', got {routing!r}")
    if method == "lstool" and routing != "d8":
        raise InvalidInput(
            "method 'lstool' accumulates slope length along single D8 flow paths; "
            f"routing={routing!r} is not possible with it (use routing='d8', or method='dg')"
        )
    if method == "invest":
        given = [
            n
            for n, v in (
                ("s_breaks", s_breaks),
                ("m_mode", m_mode),
                ("channel_threshold_cells", channel_threshold_cells),
            )
            if v is not None
        ]
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
    if channel_threshold_cells is not None and (
        isinstance(channel_threshold_cells, bool)
        or not isinstance(channel_threshold_cells, int | np.integer)
        or channel_threshold_cells < 1
    ):
        raise InvalidInput(
            f"channel_threshold_cells must be a positive integer, got {channel_threshold_cells!r}"
        )
    if len(cutoff) != 2 or not all(0.0 < float(c) <= 1.0 for c in cutoff):
        raise InvalidInput(f"cutoff must be two ratios in (0, 1], got {cutoff!r}")
    if l_max is not None and not float(l_max) > 0:
        raise InvalidInput(f"l_max must be positive, got {l_max!r}")
    return routing, breaks, m_mode, None if l_max is None else float(l_max)


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
    routing : {"d8", "mfd"}
        Flow routing; given as ``None`` it is ``"d8"``, or ``"mfd"`` for ``method="invest"``
        (as InVEST). ``"lstool"`` needs ``"d8"``.
    s_breaks : (float, float) or None
        S break angles in degrees, given as ``None`` ``(5.14, 10.0)`` (CSLE); ``None`` for
        ``"invest"`` (which cannot change them).
    m_mode : {"mccool", "table", "invest"}
        Which m (:func:`m_mccool`, :func:`m_table`, :func:`m_invest`); given as ``None``
        McCool, or InVEST's for ``method="invest"`` (which cannot be changed).
    l_max : float or None
        Cap on L; none by default, 122 for ``"invest"``.
    channel_threshold_cells : int or None
        Cells with at least this flow accumulation are channels (slope length restarts).
    cutoff : (float, float)
        LS-TOOL deposition cut-off ratios below / from 5 % slope (``"lstool"`` only).
    mfd_exponent : float
        MFD slope exponent (Freeman 1991; 1.1 as InVEST/pygeoprocessing).

    Examples
    --------
    >>> o = LSOptions.of("invest")
    >>> o.routing, o.m_mode, o.l_max, o.s_breaks
    ('mfd', 'invest', 122.0, None)
    """

    method: Method
    routing: RoutingMethod
    s_breaks: tuple[float, float] | None
    m_mode: MMode
    l_max: float | None
    channel_threshold_cells: int | None = None
    cutoff: tuple[float, float] = DEFAULT_CUTOFF
    mfd_exponent: float = 1.1

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
    ) -> LSOptions:
        """The options with their defaults applied; :class:`InvalidInput` if they conflict."""
        route_by, breaks, m, cap = check_ls_args(
            method, routing, s_breaks, channel_threshold_cells, l_max, cutoff, m_mode
        )
        return cls(
            method=method,
            routing=cast(RoutingMethod, route_by),  # check_ls_args let only "d8" or "mfd" pass
            s_breaks=breaks,
            m_mode=cast(MMode, m),  # check_ls_args let only a key of _M_FUNCS pass
            l_max=cap,
            channel_threshold_cells=channel_threshold_cells,
            cutoff=cutoff,
            mfd_exponent=mfd_exponent,
        )

    def params(self, cellsize: float) -> dict[str, Any]:
        """The JSON record of these options (:attr:`LSResult.params`) for cells of this size."""
        lstool = self.method == "lstool"
        return {
            "method": self.method,
            "routing": self.routing,
            "mfd_exponent": float(self.mfd_exponent) if self.routing == "mfd" else None,
            "fill": "priority-flood (pyflwdir.dem.fill_depressions)",
            "slope": "Horn 3x3 on the filled DEM",
            "cellsize_m": cellsize,
            "s_formula": "invest (McCool, 9 %)" if self.method == "invest" else "csle",
            "s_breaks_deg": list(self.s_breaks) if self.s_breaks is not None else None,
            "m_mode": self.m_mode,
            "x": {"dg": "aspect", "invest": "slope angle"}.get(self.method),
            "channel_threshold_cells": self.channel_threshold_cells,
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
) -> LSResult:
    """LS factor of a projected DEM (metres), flow routing included.

    Parameters
    ----------
    dem : Raster
        Elevation in metres on a projected grid with square cells.
    method, routing, s_breaks, channel_threshold_cells, l_max, cutoff, m_mode, mfd_exponent
        How LS is computed, with their defaults (``method``: :data:`DEFAULT_LS_METHOD`): see
        :class:`LSOptions`.
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
        method, routing, s_breaks, channel_threshold_cells, l_max, cutoff, m_mode, mfd_exponent
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
    if options.channel_threshold_cells is not None:
        channel = rt.flow_acc >= options.channel_threshold_cells
    lam = None
    if options.method == "lstool":
        lam = _slope_lengths(rt, gx, gs, (xres, yres), channel, options.cutoff)
    parts = _ls_by_row_blocks(options, rt.flow_acc, gx, gs, lam, channel, valid, float(xres))
    del gx, gs, lam

    def wrap(a: np.ndarray, units: str, name: str) -> Raster:
        return Raster(np.ma.MaskedArray(a, mask=~valid), dem.grid, units=units, name=name)

    return LSResult(
        ls=wrap(parts["ls"], "1", "ls"),
        l=wrap(parts["l"], "1", "l"),
        s=wrap(parts["s"], "1", "s"),
        slope_deg=wrap(parts["slope"], "degree", "slope"),
        flow_acc=wrap(rt.flow_acc, "cells", "flow_accumulation"),
        params=options.params(float(xres)),
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
            ll = l_dg(flow_acc, m, d, x=x, channel=channel)
        else:
            assert lam is not None  # ls_from_options computes λ for lstool
            ll = l_lstool(lam[0], lam[1], m)
    if options.l_max is not None:
        ll = np.minimum(ll, options.l_max)
    return s, ll
