"""Pass 1 of the zoning overlay (:mod:`geoeco.zoning.overlay.run`) for one window: read the inputs
and condense them into pre codes and red-line reason bits.

``_pre`` is the plain numpy reference; ``_pre_fast`` runs ``_pre_kernel`` on the window's
stacked uint8 planes. ``_pass_one_window`` is the task an engine (e.g. Dask) runs per window;
it is pickled by reference, so it stays importable as
``geoeco.zoning.overlay.pass1._pass_one_window``.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import DTypeLike
from shapely.geometry.base import BaseGeometry

from geoeco.core.engine import Engine, LocalEngine
from geoeco.core.errors import InvalidInput
from geoeco.core.raster import Raster

from .inputs import Window, _Plan, _Window
from .kernels import (
    _PRE_AOI,
    _PRE_ATTR_SHIFT,
    _PRE_CAND,
    _PRE_K_UNKNOWN,
    _PRE_POS_KEY,
    _PRE_POS_PRI,
    _PRE_UNKNOWN,
    _attribute_inputs,
    _pre_kernel,
    _PreTables,
)


def _rank_pos(trig: dict[int, np.ndarray], shape: tuple[int, int]) -> np.ndarray:
    """Per pixel, the lowest rank whose trigger is true (3 where none)."""
    pos = np.full(shape, 3, np.uint16)
    for rank in sorted(trig, reverse=True):
        np.copyto(pos, np.uint16(rank), where=trig[rank])
    return pos


def _or_into(trig: dict[int, np.ndarray], rank: int, t: np.ndarray, *, owned: bool) -> None:
    """OR ``t`` into the trigger of ``rank`` (``owned``: ``t`` may be kept and modified)."""
    if rank in trig:
        trig[rank] |= t
    else:
        trig[rank] = t if owned else t.copy()


_Stacked = tuple[np.ndarray, np.ndarray, np.ndarray]  # planes, masks, has_mask


def _read_all(
    plan: _Plan,
    win: Window,
    tables: _PreTables | None = None,
    buffers: dict[Any, np.ndarray] | None = None,
) -> tuple[dict[str, Any], _Stacked | None]:
    """Read every raster/reader input of a window (run in the prefetch thread); with
    ``tables``, also stack them as the kernel's uint8 planes (``None`` if one is not uint8)."""
    reads = {n: b.read_window(win) for n, b in plan.layers.items() if b.source != "vector"}
    if tables is None:
        return reads, None
    return reads, _stack(tables, win, reads, {} if buffers is None else buffers)


def _buffer(
    buffers: dict[Any, np.ndarray], key: Any, shape: tuple[int, ...], dtype: DTypeLike
) -> np.ndarray:
    """An array of ``shape`` kept in ``buffers`` for reuse (no page faults for each window)."""
    a = buffers.get((key, shape))
    if a is None:
        a = buffers[key, shape] = np.empty(shape, dtype)
    return a


def _stack(
    tables: _PreTables, win: Window, reads: dict[str, Any], buffers: dict[Any, np.ndarray]
) -> _Stacked | None:
    """Input planes ``(k, h, w)`` uint8 and their nodata masks; vector planes left empty."""
    h, w = win[2], win[3]
    k = len(tables.names)
    data = _buffer(buffers, "data", (k, h, w), np.uint8)
    masks: np.ndarray | None = None
    has_mask = np.zeros(k, bool)
    for i, n in enumerate(tables.names):
        if n not in reads:
            continue
        a = reads[n]
        d = np.ma.getdata(a)
        if d.dtype != np.uint8 or d.shape != (h, w):
            return None  # the general path of _Window.classes
        data[i] = d
        m = np.ma.getmask(a)
        if m is not np.ma.nomask:
            if masks is None:
                masks = _buffer(buffers, "masks", (k, h, w), bool)
            masks[i] = m
            has_mask[i] = True
    return data, (np.zeros((1, 1, 1), bool) if masks is None else masks), has_mask


def _pre_fast(
    plan: _Plan, tables: _PreTables, win: Window, reads: dict[str, Any], stacked: _Stacked
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_pre` through :func:`_pre_kernel` (identical results, one pass over the pixels)."""
    data, masks, has_mask = stacked
    w: _Window | None = None
    for i, n in enumerate(tables.names):
        b = plan.layers[n]
        if b.source == "vector":
            w = w or _Window(plan, win, reads)
            data[i] = w.classes(n)[0] if b.kind == "class" else w.mask(n)
    aoi, has_aoi = np.ones((1, 1), bool), False
    if plan.aoi is not None:
        w = w or _Window(plan, win, reads)
        aoi, has_aoi = w.aoi(), True
    pre, bits = (np.empty(data.shape[1:], np.uint16) for _ in range(2))
    if _pre_kernel(data, masks, has_mask, tables.luts, aoi, has_aoi, tables.dec, pre, bits):
        for i, n in enumerate(tables.names):
            b = plan.layers[n]
            codes = np.where(masks[i], np.uint8(0), data[i]) if has_mask[i] else data[i]
            top = int(codes.max())
            if b.kind == "class" and top > b.n_classes:
                raise InvalidInput(
                    f"input {n!r}: class codes must be 1..{b.n_classes}, found {top}"
                )
    return pre, bits


def _pre(
    plan: _Plan, win: Window, reads: dict[str, Any] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Pass 1 for one window: ``(pre, bits)``, the pre code and the red-line reason bitmask
    (bit i = reason i, bit n = protected), both uint16."""
    rs = plan.rules
    w = _Window(plan, win, reads)
    aoi = w.aoi()
    everywhere = plan.aoi is None  # aoi is all True: skip the ANDs
    shape = w.wgrid.shape
    layers = plan.layers
    bits = np.zeros(shape, np.uint16)
    red_t: dict[int, np.ndarray] = {}
    pri_t: dict[int, np.ndarray] = {}
    key_t: dict[int, np.ndarray] = {}
    unknown_in: set[str] = set()
    k_unknown_in: set[str] = set()
    for i, r in enumerate(rs.redline.reasons):
        if r.input in layers:
            t, _ = w.criterion(r)
            if not everywhere:
                t &= aoi
            np.bitwise_or(bits, np.uint16(1 << i), out=bits, where=t)
            unknown_in.add(r.input)
            _or_into(red_t, layers[r.input].rank, t, owned=True)
    n = len(rs.redline.reasons)
    for name in plan.protected:
        m = w.mask(name) if everywhere else w.mask(name) & aoi
        np.bitwise_or(bits, np.uint16(1 << n), out=bits, where=m)
        _or_into(red_t, layers[name].rank, m, owned=not everywhere)
    for c in rs.priority.criteria:
        if c.input in layers:
            t, _ = w.criterion(c)
            if not everywhere:
                t &= aoi
            unknown_in.add(c.input)
            _or_into(pri_t, layers[c.input].rank, t, owned=True)
    for m_ in rs.priority.masks:
        if m_ in layers:
            m = w.mask(m_) if everywhere else w.mask(m_) & aoi
            _or_into(pri_t, layers[m_].rank, m, owned=not everywhere)
    for c in rs.key.criteria:
        if c.input in layers:
            t, _ = w.criterion(c)
            k_unknown_in.add(c.input)
            _or_into(key_t, layers[c.input].rank, t, owned=True)
    for m_ in plan.development:
        _or_into(key_t, layers[m_].rank, w.mask(m_), owned=False)
    pre = _rank_pos(red_t, shape)
    pre |= _rank_pos(pri_t, shape) << np.uint16(_PRE_POS_PRI)
    pre |= _rank_pos(key_t, shape) << np.uint16(_PRE_POS_KEY)
    for flag, names in ((_PRE_UNKNOWN, unknown_in), (_PRE_K_UNKNOWN, k_unknown_in)):
        for name in sorted(names):
            np.bitwise_or(pre, np.uint16(flag), out=pre, where=w.invalid(name))
    if everywhere:
        pre |= np.uint16(_PRE_AOI)
    else:
        np.bitwise_and(pre, np.uint16(~_PRE_UNKNOWN & 0xFFFF), out=pre, where=~aoi)
        np.bitwise_or(pre, np.uint16(_PRE_AOI), out=pre, where=aoi)
    np.bitwise_or(pre, np.uint16(_PRE_CAND), out=pre, where=bits != 0)
    for flag, name in _attribute_inputs(plan):
        np.bitwise_or(pre, np.uint16(flag << _PRE_ATTR_SHIFT), out=pre, where=w.mask(name))
    return pre, bits


def _unshippable(plan: _Plan) -> list[str]:
    """Inputs (and the AOI) a worker process could not read by itself: in-memory Rasters,
    and readers or callables that do not pickle (open datasets, closures)."""
    readers: list[tuple[str, Any]] = []
    out = []
    for n, b in plan.layers.items():
        if b.source == "raster":
            out.append(f"{n} (in-memory Raster)")
        elif b.source == "reader":
            readers.append((n, b.read))
    if isinstance(plan.aoi, Raster):
        out.append("aoi (in-memory Raster)")
    elif plan.aoi is not None and not isinstance(plan.aoi, BaseGeometry):
        readers.append(("aoi", plan.aoi))
    for n, read in readers:
        try:
            pickle.dumps(read)
        except Exception:  # any pickling failure means "not shippable"
            out.append(f"{n} (reader that does not pickle)")
    return out


@dataclass(frozen=True)
class _PassOneSpec:
    """What :func:`_pass_one_window` needs: the plan (rules, grid, picklable readers, vector
    frames, AOI geometry) and the kernel tables. An engine ships it to each worker once
    (:func:`geoeco.core.engine.DaskEngine.map_windows`), not with every task."""

    plan: _Plan
    tables: _PreTables | None


def _pass_one_window(spec: _PassOneSpec, win: Window) -> tuple[np.ndarray, np.ndarray]:
    """Pass 1 of one window, ``(pre, bits)`` (uint16 each): the task an engine runs. Reads
    the inputs itself, writes nothing."""
    reads, stacked = _read_all(spec.plan, win, spec.tables, {})
    if stacked is not None and spec.tables is not None:
        return _pre_fast(spec.plan, spec.tables, win, reads, stacked)
    return _pre(spec.plan, win, reads)


def _pass_one_runner(plan: _Plan, eng: Engine) -> tuple[Engine | None, dict[str, Any]]:
    """The engine pass 1 runs on (``None``: here, with the prefetch thread) and the summary's
    ``compute`` record."""
    if isinstance(eng, LocalEngine) or eng.name == "local":
        return None, {**eng.describe(), "pass1": "local"}
    bad = _unshippable(plan)
    if bad:
        return None, {
            **LocalEngine().describe(),
            "requested": eng.name,
            "pass1": "local",
            "note": f"engine {eng.name!r} not used: workers cannot read "
            f"{', '.join(bad)}; give file-backed picklable readers to run pass 1 on it",
        }
    return eng, {**eng.describe(), "pass1": eng.name}
