"""Lookup tables and numba kernels of the zoning overlay's two passes
(:mod:`geoeco.zoning.overlay.run`).

Pass 1 condenses a window's inputs into a uint16 "pre" code and a red-line reason bitmask per
pixel (``_pre_kernel``, tables from ``_pre_tables``); pass 2 turns the pre code and the cleaned
red line into zone class, red line and flags (``_finish_kernel``, tables from
``_finish_luts``; ``_finish`` is its plain numpy reference). The flag bits are defined here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from geoeco.zoning.rules import Criterion

from .inputs import _Plan

_RANK_BITS = np.array([0, 1, 2, 0], dtype=np.uint8)  # rank -> flag bit; 3 = "no trigger"
FLAG_APPROXIMATION, FLAG_SYNTHETIC, FLAG_THREE_NORTH = 1, 2, 4
FLAG_BATTLES = {"ji_bend": 8, "horqin_hunshandake": 16, "hexi_taklimakan": 32}
FLAG_BITS: dict[int, str] = {
    1: "depends on an approximation layer",
    2: "depends on a synthetic layer",
    4: "inside the Three-North programme area",
    8: "inside battle ji_bend",
    16: "inside battle horqin_hunshandake",
    32: "inside battle hexi_taklimakan",
}


# Pass 1 condenses every input of a window into one uint16 "pre" code per pixel: everything
# the classes and flags need except the cleaned red line, which the patch stage decides later.
_PRE_POS_RED = 0  # 2 bits: rank of the most reliable red-line trigger at the pixel (3: none)
_PRE_POS_PRI = 2  # 2 bits: ... of the other priority criteria and masks
_PRE_POS_KEY = 4  # 2 bits: ... of the key criteria and development masks
_PRE_UNKNOWN = 1 << 6  # a red-line or priority input is nodata (inside the AOI)
_PRE_K_UNKNOWN = 1 << 7  # a key input is nodata
_PRE_AOI = 1 << 8
_PRE_CAND = 1 << 9  # some red-line reason bit is set (before the patch stage)
_PRE_ATTR_SHIFT = 8  # flag bits 4..32 (Three-North, battles) sit at pre bits 10..13
_PRE_IN_RED = 1 << 14  # added in pass 2: the pixel is in the cleaned red line


# The pass-1 kernel. Every criterion, mask and attribute depends on one input's code at the
# pixel, so each input gets a table code -> uint32 "contribution"; a pixel's contributions are
# OR-ed and decoded into (pre, bits) with one more table. Layout of a contribution:
_K_RED, _K_PRI, _K_KEY = 16, 19, 22  # 3 bits each: bit r set = a trigger of rank r is true
_K_UNK, _K_KUNK, _K_ATTR = 25, 26, 27  # unknown, key unknown, 4 attribute flags (flag >> 2)
_K_BAD = 31  # a class code above the input's n_classes
# outside the AOI only the key triggers, key unknown and attributes count (as in _pre)
_K_KEEP_OUTSIDE = (7 << _K_KEY) | (1 << _K_KUNK) | (15 << _K_ATTR) | (1 << _K_BAD)


@dataclass(frozen=True)
class _PreTables:
    """Lookup tables of the pass-1 kernel (see :func:`_pre_tables`)."""

    names: tuple[str, ...]  # input order of the stacked planes
    luts: np.ndarray  # (k, 256) uint32: code -> contribution
    dec: np.ndarray  # (32768,) uint16: contribution >> 16 -> pre code (without AOI, CAND)


def _pre_tables(plan: _Plan) -> _PreTables | None:
    """The kernel's tables for ``plan``; ``None`` if its reason bits do not fit 16 bits."""
    rs, layers = plan.rules, plan.layers
    n = len(rs.redline.reasons)
    if n + 1 > 16:
        return None
    names = tuple(layers)
    col = {name: i for i, name in enumerate(names)}
    v = np.arange(256)
    nz = v != 0
    luts = np.zeros((len(names), 256), np.uint32)

    def crit(c: Criterion) -> np.ndarray:
        t: np.ndarray = nz & (v >= c.min_class)
        return t & (v <= c.max_class) if c.max_class is not None else t

    def add(name: str, sel: np.ndarray, value: int) -> None:
        luts[col[name], sel] |= np.uint32(value)

    def rank(name: str) -> int:
        return layers[name].rank

    for i, r in enumerate(rs.redline.reasons):
        if r.input in layers:
            add(r.input, crit(r), (1 << i) | (1 << (_K_RED + rank(r.input))))
            add(r.input, ~nz, 1 << _K_UNK)
    for name in plan.protected:
        add(name, nz, (1 << n) | (1 << (_K_RED + rank(name))))
    for c in rs.priority.criteria:
        if c.input in layers:
            add(c.input, crit(c), 1 << (_K_PRI + rank(c.input)))
            add(c.input, ~nz, 1 << _K_UNK)
    for m in rs.priority.masks:
        if m in layers:
            add(m, nz, 1 << (_K_PRI + rank(m)))
    for c in rs.key.criteria:
        if c.input in layers:
            add(c.input, crit(c), 1 << (_K_KEY + rank(c.input)))
            add(c.input, ~nz, 1 << _K_KUNK)
    for m in plan.development:
        add(m, nz, 1 << (_K_KEY + rank(m)))
    for flag, name in _attribute_inputs(plan):
        add(name, nz, (flag >> 2) << _K_ATTR)
    for name, b in layers.items():
        if b.kind == "class":
            add(name, v > b.n_classes, 1 << _K_BAD)
    u = np.arange(1 << 15, dtype=np.int64)
    first = np.array([3, 0, 1, 0, 2, 0, 1, 0], np.int64)  # lowest set bit of 3 bits, 3 if none
    dec = (
        first[u & 7]
        | (first[(u >> 3) & 7] << _PRE_POS_PRI)
        | (first[(u >> 6) & 7] << _PRE_POS_KEY)
        | (((u >> 9) & 1) * _PRE_UNKNOWN)
        | (((u >> 10) & 1) * _PRE_K_UNKNOWN)
        | (((u >> 11) & 15) << (_PRE_ATTR_SHIFT + 2))
    ).astype(np.uint16)
    return _PreTables(names, luts, dec)


@njit(cache=True, nogil=True)
def _pre_kernel(
    data: np.ndarray,
    masks: np.ndarray,
    has_mask: np.ndarray,
    luts: np.ndarray,
    aoi: np.ndarray,
    has_aoi: bool,
    dec: np.ndarray,
    pre: np.ndarray,
    bits: np.ndarray,
) -> np.int64:  # pragma: no cover - numba
    """Pass 1 of one window from stacked uint8 planes; returns 1 if a class code is too high."""
    k, h, w = data.shape
    acc = np.zeros(w, np.uint32)
    bad = np.int64(0)
    keep = _K_KEEP_OUTSIDE
    for y in range(h):
        acc[:] = 0
        for i in range(k):
            lut = luts[i]
            row = data[i, y]
            if has_mask[i]:
                mrow = masks[i, y]
                for x in range(w):
                    acc[x] |= lut[0 if mrow[x] else row[x]]
            else:
                for x in range(w):
                    acc[x] |= lut[row[x]]
        for x in range(w):
            a = np.int64(acc[x])
            p = np.int64(_PRE_AOI)
            if has_aoi and not aoi[y, x]:
                p = np.int64(0)
                a &= keep
            bad |= a
            b = a & 0xFFFF
            p |= np.int64(dec[(a >> 16) & 0x7FFF])
            if b:
                p |= _PRE_CAND
            pre[y, x] = p
            bits[y, x] = b
    return (bad >> 31) & 1


@njit(cache=True, nogil=True)
def _finish_kernel(
    pre: np.ndarray,
    red: np.ndarray,
    zlut: np.ndarray,
    flut: np.ndarray,
    nd: int,
    zone: np.ndarray,
    red_out: np.ndarray,
    flags: np.ndarray,
    zone_px: np.ndarray,
    red_px: np.ndarray,
    flag_px: np.ndarray,
) -> None:  # pragma: no cover - numba
    """Pass 2 of one window: outputs through the lookup tables, plus their histograms.

    ``red``/``flags`` get ``nd`` where the zone is 0; the red and flag histograms count only
    zoned pixels.
    """
    h, w = pre.shape
    for y in range(h):
        for x in range(w):
            r = np.int64(red[y, x])
            idx = np.int64(pre[y, x])
            if r != 0:
                idx |= _PRE_IN_RED
            z = zlut[idx]
            zone[y, x] = z
            zone_px[z] += 1
            if z == 0:
                red_out[y, x] = nd
                flags[y, x] = nd
            else:
                f = flut[idx]
                if z != 1:
                    r = np.int64(0)
                red_out[y, x] = r
                flags[y, x] = f
                red_px[r] += 1
                flag_px[f] += 1


def _attribute_inputs(plan: _Plan) -> list[tuple[int, str]]:
    """``(flag bit, input name)`` of the attribute masks given (Three-North, battles)."""
    att = plan.rules.attributes
    pairs = [(FLAG_THREE_NORTH, att.three_north)] + [
        (FLAG_BATTLES[b], name) for b, name in att.battles.items()
    ]
    return [(flag, name) for flag, name in pairs if name and name in plan.layers]


def _stage_layers(plan: _Plan) -> tuple[list[str], list[str], list[str]]:
    rs = plan.rules
    red = [r.input for r in rs.redline.reasons if r.input in plan.layers] + plan.protected
    pri = (
        red
        + [c.input for c in rs.priority.criteria if c.input in plan.layers]
        + [m for m in rs.priority.masks if m in plan.layers]
    )
    key = [c.input for c in rs.key.criteria if c.input in plan.layers] + plan.development
    return red, pri, key


def _bits_of(plan: _Plan, names: list[str]) -> int:
    out = 0
    for n in set(names):
        out |= int(_RANK_BITS[plan.layers[n].rank])
    return out


def _finish_luts(plan: _Plan) -> tuple[np.ndarray, np.ndarray]:
    """Lookup tables ``pre | in_red`` → ``zone_class`` and ``flags`` (see :func:`_pre`)."""
    idx = np.arange(1 << 15, dtype=np.int64)
    pos_red, pos_pri, pos_key = idx & 3, (idx >> _PRE_POS_PRI) & 3, (idx >> _PRE_POS_KEY) & 3
    on = {f: (idx & f) != 0 for f in (_PRE_UNKNOWN, _PRE_K_UNKNOWN, _PRE_AOI, _PRE_CAND)}
    in_red = (idx & _PRE_IN_RED) != 0
    red_layers, pri_layers, key_layers = _stage_layers(plan)
    # a red-line pixel counts its triggers; one there only because a hole was filled depends
    # on every red-line layer (the least reliable one)
    worst = max((plan.layers[n].rank for n in red_layers), default=0)
    pos_p = np.where(in_red, np.where(on[_PRE_CAND], pos_red, worst), 3)
    pos_p = np.minimum(pos_p, pos_pri)
    p_true = in_red | (pos_pri < 3)
    p_unknown = ~p_true & on[_PRE_UNKNOWN]
    k_true = pos_key < 3
    zone = np.full(idx.shape, 3, np.uint8)
    zone[on[_PRE_K_UNKNOWN] & ~k_true] = 0
    zone[k_true] = 2
    zone[p_unknown] = 0
    zone[p_true] = 1
    zone[~on[_PRE_AOI]] = 0
    const_p, const_k = _bits_of(plan, pri_layers), _bits_of(plan, key_layers)
    flags = np.zeros(idx.shape, np.uint8)
    flags[zone == 1] = _RANK_BITS[pos_p[zone == 1]]
    flags[zone == 2] = const_p | _RANK_BITS[pos_key[zone == 2]]
    flags[zone == 3] = const_p | const_k
    flags |= ((idx >> _PRE_ATTR_SHIFT) & 0b111100).astype(np.uint8)
    flags[zone == 0] = 0
    return zone, flags


def _finish(
    luts: tuple[np.ndarray, np.ndarray], pre: np.ndarray, red: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pass 2 for one window: ``(zone_class, redline, flags)`` from the pre code and the red
    line after the patch stage (plain numpy; the reference of :func:`_finish_kernel`)."""
    idx = np.bitwise_or(pre, np.uint16(_PRE_IN_RED), where=red != 0, out=pre.copy())
    zone = luts[0].take(idx)
    flags = luts[1].take(idx)
    red = np.where(zone == 1, red, np.uint8(0))
    return zone, red, flags
