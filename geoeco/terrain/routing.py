"""Flow routing on a DEM: depression filling, D8 and MFD directions, flow accumulation.

Arrays are 2-D, rows north to south; nodata is NaN (or a mask). Flow directions use the
ESRI / pyflwdir D8 codes::

    32  64  128
    16   x    1        0 = outlet (flows off the grid or into nodata), 247 = nodata
     8   4    2

How it works
------------
1. **Filling** — :func:`geoeco.terrain.fill.priority_flood` (priority flood, Wang & Liu 2006,
   in the visiting order of pyflwdir's ``fill_depressions``) on the DEM rounded to float32
   (the queue is keyed in float32; the rounding is ~0.1 mm at 1000 m). Cells on the array
   border or next to nodata may drain out of the grid, so depressions are filled only up to
   the lowest way out.
2. **D8** — steepest descent on the filled DEM (drop / distance, diagonals at √2·cell).
   A cell with no lower neighbour lies on a flat (a filled depression or a level area): if it
   touches the border or nodata it is an outlet, otherwise it takes the
   priority-flood direction, which leads across the flat to its pour point. Along any path
   elevation never rises, and on a flat the priority-flood pointers go to cells popped
   earlier, so the graph has no cycles.
3. **MFD** — flow is split among all strictly lower neighbours in proportion to
   ``(drop / distance) ** p`` (Freeman 1991; ``p = 1.1`` by default, unrounded). Flat cells
   pass all flow along their D8 direction.
   **mfd-invest** — the MFD of pygeoprocessing 2.4.11 (``routing.flow_dir_mfd``, InVEST's
   router; :mod:`geoeco.terrain.mfd_invest`): weights ``drop / distance`` (exponent **1**),
   each share rounded to 1/15 (stored in 4 bits), plateaus drained by distance to their
   drains. It reproduces InVEST's flow accumulation (tests/test_invest_parity.py).
4. **Accumulation** — a topological sweep (Kahn's algorithm, in numba): each cell counts
   itself (1) plus what flows in. The sweep order (upstream first) is returned for later
   walks along the flow paths (e.g. the LS-TOOL slope length).

Memory
------
Routing needs the whole basin in memory. :data:`BYTES_PER_PIXEL` is the measured peak of
:func:`geoeco.terrain.ls.ls_factor` (routing included) per DEM pixel, and
:data:`MAX_ROUTING_PIXELS` what fits in about 12 GB, half of a 24 GB machine, leaving the
rest for the OS, the caller's own arrays and the API server. Larger DEMs raise
:class:`~geoeco.core.errors.OversizeRequest`; :func:`geoeco.terrain.ls_tiled.ls_factor_tiled` routes
larger DEMs tile by tile, each tile a set of whole drainage basins.

Examples
--------
>>> import numpy as np
>>> dem = np.array([[5.0, 4, 5], [4, 3, 4], [3, 2, 3]])  # a valley draining south
>>> flow_accumulation(dem, method="d8")
array([[1., 1., 1.],
       [1., 4., 1.],
       [1., 9., 1.]])
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np

from geoeco.core.errors import InvalidInput, OversizeRequest
from geoeco.core.jit import kernel
from geoeco.core.raster import Raster

from .fill import priority_flood
from .mfd_invest import mfd_invest_shares
from .slope import CellSize, _res, as_float_dem, cellsize_of

__all__ = [
    "BYTES_PER_PIXEL",
    "D8_CODES",
    "MAX_ROUTING_PIXELS",
    "NODATA_DIR",
    "OUTLET",
    "ROUTING_METHODS",
    "Routing",
    "RoutingMethod",
    "check_routing_size",
    "d8",
    "d8_downstream",
    "fill_depressions",
    "flow_accumulation",
    "flow_accumulation_raster",
    "route",
]

RoutingMethod = Literal["d8", "mfd", "mfd-invest"]
#: The flow-routing methods (:data:`RoutingMethod`). Without one, LS routes ``d8``, or
#: ``mfd-invest`` for the ``invest`` method (:func:`geoeco.terrain.ls.check_ls_args`).
ROUTING_METHODS: tuple[RoutingMethod, ...] = get_args(RoutingMethod)

#: D8 codes in neighbour order E, SE, S, SW, W, NW, N, NE.
D8_CODES = np.array([1, 2, 4, 8, 16, 32, 64, 128], dtype=np.uint8)
_DR = np.array([0, 1, 1, 1, 0, -1, -1, -1], dtype=np.int64)
_DC = np.array([1, 1, 0, -1, -1, -1, 0, 1], dtype=np.int64)
_K_OF_CODE = np.full(256, -1, dtype=np.int64)
_K_OF_CODE[D8_CODES] = np.arange(8)
OUTLET = 0
NODATA_DIR = 247

#: Peak memory per DEM pixel, rounded up: bench/bench_ls.py (5000×5000) measured 47 B/px for
#: ``ls_factor`` with dg or invest and 62 B/px with lstool, on top of the input DEM Raster
#: (5-9 B/px: float32/float64 values plus the mask).
BYTES_PER_PIXEL = 80
#: Largest DEM routed in memory: 12 GB / BYTES_PER_PIXEL = 150 Mpx (about 12 000 × 12 000).
MAX_ROUTING_PIXELS = 12 * 10**9 // BYTES_PER_PIXEL


def check_routing_size(shape: tuple[int, ...], max_pixels: int = MAX_ROUTING_PIXELS) -> None:
    """Raise :class:`OversizeRequest` when a DEM of ``shape`` is too large to route in memory.

    >>> try:
    ...     check_routing_size((10, 10), max_pixels=50)
    ... except OversizeRequest as exc:
    ...     print(str(exc)[:67])
    DEM of 10 x 10 = 100 pixels is larger than the flow-routing limit o
    """
    n = int(np.prod(shape))
    if n > max_pixels:
        dims = " x ".join(str(s) for s in shape)
        raise OversizeRequest(
            f"DEM of {dims} = {n} pixels is larger than the flow-routing limit of "
            f"{max_pixels} pixels (whole basins are routed in memory, about "
            f"{BYTES_PER_PIXEL} bytes per pixel); clip it to the basin(s) you need, or "
            "route it tile by tile, one set of whole drainage basins at a time"
        )


def _fill_with_dirs(
    dem: np.ndarray, nodata_mask: np.ndarray | None, outlets: np.ndarray | None = None
) -> tuple[np.ndarray, ...]:
    z = as_float_dem(dem, nodata_mask, dtype=np.float32)
    if not np.isfinite(z).any():
        raise InvalidInput("the DEM has no valid cell")
    if np.isinf(z).any():
        raise InvalidInput("the DEM contains infinite values; mark them as nodata")
    # The flood keys its queue in float32 and stores ``z + (z_spill - z)`` in float64: with
    # float32-valued input both steps are exact, so a filled cell equals its spill cell bit
    # for bit (in float32 arithmetic it can end up one ulp lower, which would create a false
    # downhill step and a cycle across the flat).
    if outlets is None:
        return priority_flood(z)
    else:  # the priority flood starts from the given cells only
        if outlets.shape != z.shape:
            raise InvalidInput(f"outlets shape {outlets.shape} differs from DEM shape {z.shape}")
        seeds = np.flatnonzero(outlets & np.isfinite(z)).astype(np.int64)
        if seeds.size == 0:
            raise InvalidInput("no valid outlet cell given for depression filling")
    return priority_flood(z, seeds)


def fill_depressions(dem: np.ndarray, nodata_mask: np.ndarray | None = None) -> np.ndarray:
    """Fill every depression to its pour point (priority flood); float32.

    Parameters
    ----------
    dem : ndarray or MaskedArray
        Elevations; NaN or masked cells are nodata.
    nodata_mask : ndarray of bool, optional
        Extra nodata cells.

    Returns
    -------
    ndarray of float32
        Filled DEM, NaN at nodata. Border cells and cells next to nodata can drain out.

    Examples
    --------
    >>> dem = np.array([[5.0, 5, 5, 5], [5, 1, 2, 5], [5, 3, 5, 5], [5, 4, 5, 5]])
    >>> fill_depressions(dem)[1:3, 1:3]
    array([[4., 4.],
           [4., 5.]], dtype=float32)
    """
    return _fill_with_dirs(dem, nodata_mask)[0]


@kernel
def _d8_kernel(
    z: np.ndarray, pq: np.ndarray, xres: float, yres: float, k_of: np.ndarray, out: np.ndarray
) -> None:
    nr, nc = z.shape
    diag = np.sqrt(xres * xres + yres * yres)
    for r in range(nr):
        for c in range(nc):
            z0 = z[r, c]
            if np.isnan(z0):
                out[r, c] = 247
                continue
            best = 0.0
            bk = -1
            edge = False
            for k in range(8):
                r1 = r + _DR[k]
                c1 = c + _DC[k]
                if r1 < 0 or r1 >= nr or c1 < 0 or c1 >= nc or np.isnan(z[r1, c1]):
                    edge = True
                    continue
                drop = z0 - z[r1, c1]
                if drop > 0.0:
                    dist = xres if _DR[k] == 0 else (yres if _DC[k] == 0 else diag)
                    s = drop / dist
                    if s > best:
                        best = s
                        bk = k
            if bk >= 0:
                out[r, c] = D8_CODES[bk]
            elif edge:
                out[r, c] = 0
            else:  # flat: priority-flood direction towards the pour point
                k = k_of[pq[r, c]]
                out[r, c] = D8_CODES[k] if k >= 0 else 0


def d8(
    dem_filled: np.ndarray,
    nodata_mask: np.ndarray | None = None,
    *,
    cellsize: CellSize = 1.0,
    flat_dirs: np.ndarray | None = None,
) -> np.ndarray:
    """D8 flow directions (steepest descent) of a filled DEM, flats routed to their outlet.

    Parameters
    ----------
    dem_filled : ndarray
        Output of :func:`fill_depressions` (NaN = nodata).
    nodata_mask : ndarray of bool, optional
        Extra nodata cells.
    cellsize : float or (float, float)
        Pixel size; only matters for non-square pixels.
    flat_dirs : ndarray of uint8, optional
        The priority-flood directions from filling (computed if not given).

    Returns
    -------
    ndarray of uint8
        D8 codes (see module docstring).

    Examples
    --------
    >>> d8(np.array([[3.0, 2, 1], [3, 2, 1], [3, 2, 1]]))[1]  # east, east, outlet
    array([1, 1, 0], dtype=uint8)
    """
    xres, yres = _res(cellsize)
    z = as_float_dem(dem_filled, nodata_mask, dtype=np.float32)
    if flat_dirs is None:
        flat_dirs = priority_flood(z)[1]
    out = np.empty(z.shape, dtype=np.uint8)
    _d8_kernel(z, flat_dirs, xres, yres, _K_OF_CODE, out)
    return out


def d8_downstream(flowdir: np.ndarray) -> np.ndarray:
    """Flat (row-major) index of each cell's D8 receiver; ``-1`` for outlets and nodata.

    >>> d8_downstream(np.array([[4, 0], [1, 247]], dtype=np.uint8))
    array([[ 2, -1],
           [ 3, -1]])
    """
    nr, nc = flowdir.shape
    k = _K_OF_CODE[flowdir]
    rows, cols = np.indices(flowdir.shape)
    has = k >= 0
    r1 = np.where(has, rows + _DR[k.clip(0)], -1)
    c1 = np.where(has, cols + _DC[k.clip(0)], -1)
    inside = has & (r1 >= 0) & (r1 < nr) & (c1 >= 0) & (c1 < nc)
    return np.where(inside, r1 * nc + c1, -1)


@kernel
def _receiver(code: int, idx: int, nr: int, nc: int, k_of: np.ndarray) -> int:
    k = k_of[code]
    if k < 0:
        return -1
    r = idx // nc + _DR[k]
    c = idx % nc + _DC[k]
    if r < 0 or r >= nr or c < 0 or c >= nc:
        return -1
    j: int = r * nc + c
    return j


@kernel
def _acc_d8(codes: np.ndarray, k_of: np.ndarray, acc: np.ndarray, order: np.ndarray) -> int:
    nr, nc = codes.shape
    flat = codes.ravel()
    a = acc.ravel()
    n = flat.size
    indeg = np.zeros(n, dtype=np.uint8)
    for i in range(n):
        j = _receiver(flat[i], i, nr, nc, k_of)
        if j >= 0:
            indeg[j] += 1
    tail = 0
    for i in range(n):
        if flat[i] != 247:
            a[i] = 1.0
            if indeg[i] == 0:
                order[tail] = i
                tail += 1
        else:
            a[i] = np.nan
    head = 0
    while head < tail:
        i = order[head]
        head += 1
        j = _receiver(flat[i], i, nr, nc, k_of)
        if j >= 0:
            a[j] += a[i]
            indeg[j] -= 1
            if indeg[j] == 0 and flat[j] != 247:  # flow into an excluded cell leaves
                order[tail] = j
                tail += 1
    return tail


@kernel
def _mfd_targets(
    z: np.ndarray, r: int, c: int, xres: float, yres: float, p: float, w: np.ndarray
) -> float:
    """Write the MFD weights of cell (r, c) into ``w`` (8 values) and return their sum."""
    nr, nc = z.shape
    diag = np.sqrt(xres * xres + yres * yres)
    total = 0.0
    z0 = z[r, c]
    for k in range(8):
        w[k] = 0.0
        r1 = r + _DR[k]
        c1 = c + _DC[k]
        if r1 < 0 or r1 >= nr or c1 < 0 or c1 >= nc:
            continue
        drop = z0 - z[r1, c1]  # NaN neighbour -> comparison is False
        if drop > 0.0:
            dist = xres if _DR[k] == 0 else (yres if _DC[k] == 0 else diag)
            w[k] = (drop / dist) ** p
            total += w[k]
    return total


@kernel
def _acc_mfd(
    z: np.ndarray,
    codes: np.ndarray,
    xres: float,
    yres: float,
    p: float,
    k_of: np.ndarray,
    acc: np.ndarray,
    order: np.ndarray,
) -> int:
    nr, nc = z.shape
    flat = codes.ravel()
    a = acc.ravel()
    n = flat.size
    w = np.zeros(8)
    indeg = np.zeros(n, dtype=np.uint8)
    for i in range(n):
        if flat[i] == 247:
            continue
        r, c = i // nc, i % nc
        z0 = z[r, c]
        lower = 0
        for k in range(8):
            r1 = r + _DR[k]
            c1 = c + _DC[k]
            if 0 <= r1 < nr and 0 <= c1 < nc and z0 > z[r1, c1]:  # False for NaN
                indeg[r1 * nc + c1] += 1
                lower += 1
        if lower == 0:
            j = _receiver(flat[i], i, nr, nc, k_of)
            if j >= 0:
                indeg[j] += 1
    tail = 0
    for i in range(n):
        if flat[i] != 247:
            a[i] = 1.0
            if indeg[i] == 0:
                order[tail] = i
                tail += 1
        else:
            a[i] = np.nan
    head = 0
    while head < tail:
        i = order[head]
        head += 1
        r, c = i // nc, i % nc
        total = _mfd_targets(z, r, c, xres, yres, p, w)
        if total > 0.0:
            for k in range(8):
                if w[k] > 0.0:
                    j = (r + _DR[k]) * nc + c + _DC[k]
                    a[j] += a[i] * (w[k] / total)
                    indeg[j] -= 1
                    if indeg[j] == 0 and flat[j] != 247:
                        order[tail] = j
                        tail += 1
        else:
            j = _receiver(flat[i], i, nr, nc, k_of)
            if j >= 0:
                a[j] += a[i]
                indeg[j] -= 1
                if indeg[j] == 0 and flat[j] != 247:
                    order[tail] = j
                    tail += 1
    return tail


@kernel
def _share_target(shares: np.ndarray, r: int, c: int, k: int) -> int:
    """Flat index of neighbour k of (r, c) if (r, c) sends it a share, else -1."""
    nr, nc = shares.shape
    if (shares[r, c] >> (4 * k)) & 0xF == 0:
        return -1
    r1 = r + _DR[k]
    c1 = c + _DC[k]
    if r1 < 0 or r1 >= nr or c1 < 0 or c1 >= nc:
        return -1
    j: int = r1 * nc + c1
    return j


@kernel
def _acc_shares(shares: np.ndarray, codes: np.ndarray, acc: np.ndarray, order: np.ndarray) -> int:
    """Flow accumulation with packed 4-bit shares (:mod:`geoeco.terrain.mfd_invest`)."""
    nr, nc = shares.shape
    flat = codes.ravel()
    a = acc.ravel()
    n = flat.size
    indeg = np.zeros(n, dtype=np.uint8)
    for i in range(n):
        if flat[i] != 247:
            for k in range(8):
                j = _share_target(shares, i // nc, i % nc, k)
                if j >= 0:
                    indeg[j] += 1
    tail = 0
    for i in range(n):
        a[i] = np.nan if flat[i] == 247 else 1.0
        if flat[i] != 247 and indeg[i] == 0:
            order[tail] = i
            tail += 1
    head = 0
    while head < tail:
        i = order[head]
        head += 1
        r, c = i // nc, i % nc
        total = 0
        for k in range(8):
            total += (shares[r, c] >> (4 * k)) & 0xF
        for k in range(8):
            j = _share_target(shares, r, c, k)
            if j >= 0:
                a[j] += a[i] * (((shares[r, c] >> (4 * k)) & 0xF) / total)
                indeg[j] -= 1
                if indeg[j] == 0 and flat[j] != 247:
                    order[tail] = j
                    tail += 1
    return tail


@dataclass(frozen=True)
class Routing:
    """Everything one routing pass produces (plain arrays on the DEM's grid).

    Attributes
    ----------
    filled : ndarray of float32
        Depression-filled DEM, NaN at nodata.
    flowdir : ndarray of uint8
        D8 codes (also used on flats by MFD).
    flow_acc : ndarray of float64
        Flow accumulation in cells, the cell itself counted; NaN at nodata.
    order : ndarray of int
        Flat indices of the valid cells, every cell after all cells that drain into it.
    method : str
        ``"d8"``, ``"mfd"`` or ``"mfd-invest"``.
    exponent : float or None
        MFD exponent (1 for ``mfd-invest``), ``None`` for D8.
    shares : ndarray of int32 or None
        ``mfd-invest`` only: pygeoprocessing's packed 4-bit shares
        (:func:`geoeco.terrain.mfd_invest.mfd_invest_shares`).
    """

    filled: np.ndarray
    flowdir: np.ndarray
    flow_acc: np.ndarray
    order: np.ndarray
    method: str
    exponent: float | None
    shares: np.ndarray | None = None


def route(
    dem: np.ndarray,
    *,
    method: RoutingMethod = "d8",
    cellsize: CellSize = 1.0,
    nodata_mask: np.ndarray | None = None,
    exponent: float = 1.1,
    max_pixels: int = MAX_ROUTING_PIXELS,
    outlets: np.ndarray | None = None,
    keep: np.ndarray | None = None,
) -> Routing:
    """Fill, D8 (or MFD) directions and flow accumulation in one pass; see :class:`Routing`.

    Two optional masks serve routing a window of a larger DEM (:mod:`geoeco.terrain.ls_tiled`):

    * ``outlets`` — the depression filling starts from these cells only, instead of from
      every cell on the array border or next to nodata (a window's cut edge is no way out).
    * ``keep`` — only these cells are routed: the others keep their filled elevation, so
      they still steer D8 and MFD directions and may receive flow (which then leaves the
      grid), but they pass no flow on, are not counted, and get NODATA_DIR, NaN
      accumulation and no place in ``order``.

    Examples
    --------
    >>> r = route(np.array([[2.0, 2], [1, 1]]), method="mfd")
    >>> r.flow_acc.tolist(), r.order.tolist()
    ([[1.0, 1.0], [2.0, 2.0]], [0, 1, 3, 2])
    """
    if method not in ROUTING_METHODS:
        raise InvalidInput(f"routing method must be one of {list(ROUTING_METHODS)}, got {method!r}")
    if method == "mfd-invest":  # pygeoprocessing's MFD: exponent 1, shares in 1/15
        exponent = 1.0
    if not exponent > 0:
        raise InvalidInput(f"MFD exponent must be positive, got {exponent!r}")
    check_routing_size(np.shape(dem), max_pixels)
    xres, yres = _res(cellsize)
    filled, pq_dirs = _fill_with_dirs(dem, nodata_mask, outlets)
    codes = np.empty(filled.shape, dtype=np.uint8)
    _d8_kernel(filled, pq_dirs, xres, yres, _K_OF_CODE, codes)
    del pq_dirs
    if keep is not None:
        if keep.shape != codes.shape:
            raise InvalidInput(f"keep mask shape {keep.shape} differs from DEM shape {codes.shape}")
        codes[~keep] = NODATA_DIR
    acc = np.empty(filled.shape, dtype=np.float64)
    order = np.empty(filled.size, dtype=np.int32 if filled.size < 2**31 else np.int64)
    shares = None
    if method == "d8":
        n = _acc_d8(codes, _K_OF_CODE, acc, order)
    elif method == "mfd-invest":
        shares = mfd_invest_shares(filled)
        n = _acc_shares(shares, codes, acc, order)
    else:
        n = _acc_mfd(filled, codes, xres, yres, float(exponent), _K_OF_CODE, acc, order)
    n_valid = int(np.count_nonzero(codes != NODATA_DIR))
    if n != n_valid:  # would mean a cycle in the flow graph: a bug, not bad input
        raise RuntimeError(f"flow routing left {n_valid - n} cells unvisited (cycle)")
    return Routing(
        filled,
        codes,
        acc,
        order[:n],
        method,
        None if method == "d8" else float(exponent),
        shares,
    )


def flow_accumulation(
    dem: np.ndarray,
    *,
    method: RoutingMethod = "d8",
    cellsize: CellSize = 1.0,
    nodata_mask: np.ndarray | None = None,
    exponent: float = 1.1,
    max_pixels: int = MAX_ROUTING_PIXELS,
) -> np.ndarray:
    """Flow accumulation in cells (each cell counts itself) of a raw DEM; NaN at nodata.

    The DEM is filled first (filling an already filled DEM changes nothing). ``exponent`` is
    the MFD slope exponent (ignored for D8).

    Examples
    --------
    >>> flow_accumulation(np.array([[3.0, 2, 1, 0]]), method="mfd")
    array([[1., 2., 3., 4.]])
    """
    r = route(
        dem,
        method=method,
        cellsize=cellsize,
        nodata_mask=nodata_mask,
        exponent=exponent,
        max_pixels=max_pixels,
    )
    return r.flow_acc


def flow_accumulation_raster(
    dem: Raster,
    *,
    method: RoutingMethod = "d8",
    exponent: float = 1.1,
    max_pixels: int = MAX_ROUTING_PIXELS,
) -> Raster:
    """:func:`flow_accumulation` of a DEM :class:`Raster` (projected, metres); units ``cells``."""
    acc = flow_accumulation(
        dem.array,
        method=method,
        cellsize=cellsize_of(dem),
        exponent=exponent,
        max_pixels=max_pixels,
    )
    return Raster(np.ma.masked_invalid(acc), dem.grid, units="cells", name="flow_accumulation")
