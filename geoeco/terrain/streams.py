"""Stream cells from flow accumulation, as InVEST SDR finds them (pygeoprocessing's rule).

InVEST SDR 3.20.2 calls ``pygeoprocessing.routing.extract_streams_mfd`` (2.4.11) with its
``threshold_flow_accumulation`` T (1000 cells by default) and ``trace_threshold_proportion``
0.7, and leaves the stream cells out of ``usle.tif``. The rule, read from pygeoprocessing's
source (facts only; this is our own implementation):

1. An **outlet** is a cell with flow accumulation ≥ T that passes flow off the grid or into a
   cell without accumulation (nodata).
2. From every outlet, in row-major order, a breadth-first search goes **upstream** (to the
   neighbours whose flow enters the cell): a neighbour with accumulation ≥ T becomes a
   stream, one with ≥ 0.7 T a *candidate* that the search goes on through; when a stream
   cell is reached through candidates, the candidates on its way down (following the flow)
   become streams too.

Which candidates are confirmed depends on the order of the search, so it is pygeoprocessing's:
outlets in 256 × 256 blocks (its GeoTIFF tiles), row-major inside and between blocks,
neighbours counter-clockwise from east (E, NE, N, NW, W, SW, S, SE), first in first out.
3. Candidates never confirmed are not streams.

So a cell with accumulation ≥ T is not a stream when its flow reaches no outlet through
cells of at least 0.7 T (MFD flow can diverge and thin out), and a cell between 0.7 T and T
is one when it links two stream cells. With D8 routing every cell ≥ T is a stream.

Examples
--------
>>> import numpy as np
>>> from geoeco.terrain.routing import route
>>> r = route(np.array([[3.0, 2.0, 1.0, 0.0]]), method="d8")
>>> extract_streams(r, 3).astype(int).tolist()      # accumulation 1, 2, 3, 4
[[0, 0, 1, 1]]
"""

from __future__ import annotations

import numpy as np

from geoeco.core.jit import kernel

from . import routing as _routing
from .routing import NODATA_DIR, Routing, _mfd_targets
from .slope import CellSize, _res

__all__ = ["INVEST_STREAM_THRESHOLD", "INVEST_TRACE_PROPORTION", "extract_streams"]

#: InVEST SDR's default ``threshold_flow_accumulation`` (cells).
INVEST_STREAM_THRESHOLD = 1000
#: The ``trace_threshold_proportion`` InVEST SDR passes to ``extract_streams_mfd``.
INVEST_TRACE_PROPORTION = 0.7
#: pygeoprocessing's block size and neighbour order (E, NE, N, NW, W, SW, S, SE) as indices of
#: :data:`geoeco.terrain.routing.D8_CODES` (E, SE, S, SW, W, NW, N, NE).
_BLOCK = 256
_CCW = np.array([0, 7, 6, 5, 4, 3, 2, 1], dtype=np.int64)


@kernel
def _outflow_bits(
    z: np.ndarray,
    codes: np.ndarray,
    xres: float,
    yres: float,
    p: float,
    shares: np.ndarray,
    mode: int,
    k_of: np.ndarray,
    bits: np.ndarray,
) -> None:
    """Bit k of ``bits`` set where a cell passes flow to neighbour k (routing's order); bit 8
    (value 256) where it passes flow off the grid (an outlet cell or a flat on the edge).

    ``mode`` 0: D8 codes; 1: MFD weights of the filled DEM (flats by their D8 code); 2: the
    packed shares of ``mfd-invest`` (shares off the grid set bit 8)."""
    nr, nc = z.shape
    w = np.zeros(8)
    for r in range(nr):
        for c in range(nc):
            code = codes[r, c]
            if code == 247:
                continue
            b = 0
            if mode == 2:
                for k in range(8):
                    if (shares[r, c] >> (4 * k)) & 0xF:
                        r1 = r + _routing._DR[k]
                        c1 = c + _routing._DC[k]
                        b |= 256 if r1 < 0 or r1 >= nr or c1 < 0 or c1 >= nc else 1 << k
            elif mode == 1 and _mfd_targets(z, r, c, xres, yres, p, w) > 0.0:
                for k in range(8):
                    if w[k] > 0.0:
                        b |= 1 << k
            else:
                k = k_of[code]
                if k < 0:
                    b = 256
                else:
                    r1 = r + _routing._DR[k]
                    c1 = c + _routing._DC[k]
                    b = 256 if r1 < 0 or r1 >= nr or c1 < 0 or c1 >= nc else 1 << k
            bits[r, c] = b


@kernel
def _is_outlet(acc: np.ndarray, bits: np.ndarray, r: int, c: int) -> bool:
    nr, nc = acc.shape
    b = bits[r, c]
    if b & 256:
        return True
    for k in range(8):
        if b & (1 << k):
            r1 = r + _routing._DR[k]
            c1 = c + _routing._DC[k]
            if r1 < 0 or r1 >= nr or c1 < 0 or c1 >= nc or np.isnan(acc[r1, c1]):
                return True
    return False


@kernel
def _confirm_down(bits: np.ndarray, state: np.ndarray, start: int, queue: np.ndarray) -> None:
    """Candidates (2) downstream of a new stream cell become streams (1)."""
    nr, nc = state.shape
    head, tail = 0, 1
    queue[0] = start
    while head < tail:
        i = queue[head]
        head += 1
        r, c = i // nc, i % nc
        for k in range(8):
            if bits[r, c] & (1 << k):
                r1 = r + _routing._DR[k]
                c1 = c + _routing._DC[k]
                if 0 <= r1 < nr and 0 <= c1 < nc and state[r1, c1] == 2:
                    state[r1, c1] = 1
                    queue[tail] = r1 * nc + c1
                    tail += 1


@kernel
def _trace_up(
    acc: np.ndarray,
    bits: np.ndarray,
    state: np.ndarray,
    start: int,
    t: float,
    t_trace: float,
    queue: np.ndarray,
    back: np.ndarray,
) -> None:
    """Breadth-first search upstream from one outlet (module docstring, step 2)."""
    nr, nc = acc.shape
    head, tail = 0, 1
    queue[0] = start
    while head < tail:
        i = queue[head]
        head += 1
        r, c = i // nc, i % nc
        for k in _CCW:
            r1 = r + _routing._DR[k]
            c1 = c + _routing._DC[k]
            if r1 < 0 or r1 >= nr or c1 < 0 or c1 >= nc:
                continue
            if not bits[r1, c1] & (1 << ((k + 4) % 8)):  # the neighbour's flow enters (r, c)
                continue
            s = state[r1, c1]
            if s == 1 or s == 2:
                continue
            a = acc[r1, c1]
            if a >= t:
                state[r1, c1] = 1
                queue[tail] = r1 * nc + c1
                tail += 1
                _confirm_down(bits, state, r1 * nc + c1, back)
            elif a >= t_trace:
                state[r1, c1] = 2
                queue[tail] = r1 * nc + c1
                tail += 1


@kernel
def _streams_kernel(acc: np.ndarray, bits: np.ndarray, t: float, t_trace: float) -> np.ndarray:
    nr, nc = acc.shape
    state = np.zeros((nr, nc), dtype=np.uint8)
    queue = np.empty(nr * nc, dtype=np.int32)  # < MAX_ROUTING_PIXELS < 2**31
    back = np.empty(nr * nc, dtype=np.int32)
    for r0 in range(0, nr, _BLOCK):
        for c0 in range(0, nc, _BLOCK):
            for r in range(r0, min(r0 + _BLOCK, nr)):
                for c in range(c0, min(c0 + _BLOCK, nc)):
                    if np.isnan(acc[r, c]) or state[r, c] != 0 or acc[r, c] < t:
                        continue
                    if _is_outlet(acc, bits, r, c):
                        state[r, c] = 1
                        _trace_up(acc, bits, state, r * nc + c, t, t_trace, queue, back)
    out: np.ndarray = state == 1
    return out


def extract_streams(
    rt: Routing,
    threshold_cells: float,
    *,
    cellsize: CellSize = 1.0,
    trace_proportion: float = INVEST_TRACE_PROPORTION,
) -> np.ndarray:
    """Stream cells (bool) of a routed DEM by InVEST's rule (module docstring).

    ``threshold_cells`` is T in cells of flow accumulation; ``rt`` comes from
    :func:`geoeco.terrain.routing.route` (any method: the flow directions are those it used).
    """
    xres, yres = _res(cellsize)
    bits = np.zeros(rt.flowdir.shape, dtype=np.uint16)
    mode = 2 if rt.shares is not None else (0 if rt.method == "d8" else 1)
    shares = rt.shares if rt.shares is not None else np.zeros((1, 1), dtype=np.int32)
    p = float(rt.exponent) if rt.exponent is not None else 1.0
    _outflow_bits(rt.filled, rt.flowdir, xres, yres, p, shares, mode, _routing._K_OF_CODE, bits)
    streams: np.ndarray = _streams_kernel(
        rt.flow_acc, bits, float(threshold_cells), float(trace_proportion) * threshold_cells
    )
    streams &= rt.flowdir != NODATA_DIR
    return streams
