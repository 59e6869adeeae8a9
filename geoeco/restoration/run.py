"""Restoration priorities inside control areas: score, Zonation-style rank, selection, coverage.

Methodology §3.5 lists the signals (erosion grade, desertification degree, sensitivity, battle
areas, importance high but cover low) and says no national standard combines them, so the rule
must be configurable. Everything here is tagged **[I]**; the defaults are in
``geoeco/data/restoration.toml`` and every result records the weights it used.

Three outputs, as Marxan / Zonation / prioritizr give them (anchors §(e)):

* **score** (float32, 0–1, NaN outside candidates): a weighted sum of normalised components,
  ``Σ w_c·x_c / Σ w_c`` (see :func:`restoration_score` and the TOML file for each ``x_c``);
* **rank** (float32, 0–1, NaN outside candidates), Zonation style: the share of candidate cells
  that have a *lower* priority, so the lowest cell has rank 0, the highest ``(N−1)/N``, and the
  top share ``f`` of the candidate area is exactly ``rank >= 1 − f`` (up to ``f·N`` rounding);
* **selection** (uint8: 0 not a candidate, 1 candidate not selected, 2 selected) under an area
  budget and/or coverage targets, plus a **target-coverage table** (:func:`coverage_table`).

Candidates are cells whose control class (``zone_class``: 1 priority protection, 2 key control,
3 general control, 0 nodata) is in ``eligible_classes`` (default key control only) and whose
active inputs all have data. A missing input never becomes a zero: such cells are left out and
counted in ``params.missing_cells``. The protected-area and battle masks are flags: nodata
there means "outside".

Ranking, ties and selection (a Zonation removal order by 16-bit score key, then row-major pixel
order; a budget takes the top cells, targets a bounded-memory greedy; no integer-programming
solver and no connectivity term) are described in :mod:`geoeco.restoration.ranking`; the score in
:mod:`geoeco.restoration.scoring`; the rule in :mod:`geoeco.restoration.config`. This module
runs the whole computation (:func:`prioritise`, :func:`prioritise_windows`, which reads the grid
in strips twice with O(65 536 + strip) memory, its result independent of the strip height) and
reports it (:func:`coverage_table`, :class:`RestorationParams`); import the other modules'
names from them.

Areas: all cells have the same area (an equal-area grid such as ``ALBERS_CHINA``). ``cell
area`` is the grid's pixel area times :func:`geoeco.core.windows.equal_area_factor` (1 on Albers)
unless given.

Examples
--------
>>> from geoeco.restoration.ranking import rank_map, select_budget
>>> from geoeco.restoration.scoring import restoration_score
>>> import numpy as np
>>> zone = np.array([[2, 2], [2, 3]])
>>> eros = np.array([[6, 3], [1, 6]])
>>> s = restoration_score({"zone_class": zone, "erosion": eros})
>>> s.tolist()                      # erosion alone: (grade − 1)/5; cell (1, 1) is general control
[[1.0, 0.4000000059604645], [0.0, nan]]
>>> (rank_map(s) * 3).tolist()      # rank × N = number of candidates with a lower score
[[2.0, 1.0], [0.0, nan]]
>>> select_budget(s, cell_area_km2=1.0, budget_km2=2.0).tolist()
[[2, 2], [1, 0]]
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any, Literal, TypedDict

import numpy as np
import pandas as pd

from geoeco.core.errors import CRSError, EmptyArea, GeoecoWarning, InvalidInput
from geoeco.core.raster import Grid, Raster

from .config import (
    COMPONENTS,
    RestorationConfig,
)
from .ranking import (
    SCORE_LEVELS,
    _budget_cells,
    _check_area,
    _codes_of,
    _greedy,
    _group_ids,
    _needed,
    _Ranker,
    _target_list,
)
from .scoring import (
    Window,
    WindowReader,
    _as_reader,
    _plain,
    _prepare,
    _Scorer,
)


def coverage_table(
    selection: Any,
    needs: Mapping[str, Any],
    *,
    cell_area_km2: float,
    targets: Mapping[str, float] | None = None,
    names: Mapping[str, tuple[str, str]] | None = None,
) -> pd.DataFrame:
    """Target-coverage table: per need, candidate area, selected area, share covered, target.

    The first row, ``eligible``, is all candidate cells. Columns: ``need``, ``name_zh``,
    ``name_en``, ``total_km2`` (candidate cells with the need), ``selected_km2``,
    ``covered_share`` (NaN when the need is absent), ``target_share``, ``target_km2``
    (the area the target asks for, rounded up to whole cells), ``met`` (None without target).

    >>> sel = np.array([[2, 1, 0]], dtype="uint8"); need = {"a": np.array([[1, 1, 1]], bool)}
    >>> t = coverage_table(sel, need, cell_area_km2=2.0, targets={"a": 0.5})
    >>> t[["need", "total_km2", "selected_km2", "covered_share", "met"]].values.tolist()
    [['eligible', 4.0, 2.0, 0.5, None], ['a', 4.0, 2.0, 0.5, True]]
    """
    s = np.asarray(_plain(selection))
    if isinstance(s, np.ma.MaskedArray):
        s = s.filled(0)
    cand = s > 0
    chosen = s == 2
    ids = list(needs)
    tot = [int(cand.sum())] + [int((np.asarray(needs[i], bool) & cand).sum()) for i in ids]
    got = [int(chosen.sum())] + [int((np.asarray(needs[i], bool) & chosen).sum()) for i in ids]
    return _table(["eligible", *ids], tot, got, cell_area_km2, targets or {}, names or {})


def _table(
    ids: list[str],
    tot: list[int],
    got: list[int],
    area: float,
    targets: Mapping[str, float],
    names: Mapping[str, tuple[str, str]],
) -> pd.DataFrame:
    rows = []
    for nid, t, g in zip(ids, tot, got, strict=True):
        share = targets.get(nid)
        need_cells = _needed(share, t) if share is not None else None
        default = ("全部候选", "all candidate cells") if nid == "eligible" else ("", "")
        zh, en = names.get(nid, default)
        rows.append(
            {
                "need": nid,
                "name_zh": zh,
                "name_en": en,
                "total_km2": t * area,
                "selected_km2": g * area,
                "covered_share": g / t if t else float("nan"),
                "target_share": share if share is not None else float("nan"),
                "target_km2": need_cells * area if need_cells is not None else float("nan"),
                "met": (g >= need_cells) if need_cells is not None else None,
            }
        )
    df = pd.DataFrame(rows)
    df["met"] = df["met"].astype(object)
    return df


# ------------------------------------------------------------------------------------------
# the whole computation, window by window
# ------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class RestorationParams:
    """How a restoration run scored, ranked and selected, and what it found (:meth:`to_dict`
    is its JSON form, the ``restoration`` record of ``summary.json``).

    Areas are km² (``cell_area_km2`` per cell), counts are cells: ``zone_cells`` of the
    eligible control classes, ``eligible_cells`` of them with data in every scored input
    (``missing_cells`` without), ``selected_cells`` selected.
    """

    rule: str = "restoration priority score = sum(w_c * x_c) / sum(w_c)"
    tag: str
    config_version: str
    config_source: str
    weights: dict[str, float]
    weights_used: dict[str, float]
    components_without_inputs: tuple[str, ...]
    levels: dict[str, Any]
    d0_m: float
    d_max_m: float
    nearness: str = "exp(-d/d0) for d <= d_max else 0; d = distance to protected cells (m)"
    fvc_max: float
    eligible_classes: tuple[int, ...]
    inputs: tuple[str, ...]
    needs: tuple[str, ...]
    score_levels: int = SCORE_LEVELS
    rank: str = "share of candidate cells with lower priority (Zonation removal order)"
    tie_rule: str = "score key round(score*65535) high first, then row-major pixel order"
    connectivity: str = "not modelled (no boundary-length modifier)"
    mode: Mode
    selection_method: str
    budget_km2: float | None
    targets: dict[str, float]
    cell_area_km2: float
    equal_area_factor: float
    zone_cells: int
    eligible_cells: int
    missing_cells: int
    eligible_km2: float
    selected_cells: int
    selected_km2: float
    budget_exceeds_eligible: bool
    notes: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready record, keys in field order (sequences as lists)."""
        return {
            f.name: list(v) if isinstance(v := getattr(self, f.name), tuple) else v
            for f in fields(self)
        }


@dataclass(frozen=True)
class NoCandidates:
    """The params of a run that had nothing to restore (no candidate cell), and why."""

    note: str
    selected_km2: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready record."""
        return {"note": self.note, "selected_km2": self.selected_km2}


@dataclass(frozen=True)
class RestorationResult:
    """Score (float32), rank (float32) and selection (uint8 0/1/2) Rasters, coverage, params."""

    score: Raster
    rank: Raster
    selection: Raster
    coverage: pd.DataFrame
    params: RestorationParams | NoCandidates


Sink = Callable[[Window, np.ndarray, np.ndarray, np.ndarray], None]

#: How the cells are selected: under an area budget, coverage targets, both, or not at all.
Mode = Literal["budget", "targets", "targets+budget", "rank only"]
_SELECTION_METHODS: dict[Mode, str] = {
    "budget": "top cells by rank",
    "targets": "greedy by marginal contribution to unmet targets",
    "targets+budget": "greedy by marginal contribution, capped by the budget",
    "rank only": "none",
}


def _strips(height: int, width: int, rows: int) -> list[Window]:
    """Full-width strips of ``rows`` rows covering a grid, top first."""
    return [(r0, 0, min(rows, height - r0), width) for r0 in range(0, height, max(1, rows))]


def _cell_area_km2(grid: Grid, cell_area_km2: float | None) -> tuple[float, float]:
    if grid.crs.is_geographic:
        raise CRSError(
            "restoration priorities need a projected equal-area grid (e.g. ALBERS_CHINA); "
            f"got geographic {grid.crs.name}"
        )
    if cell_area_km2 is not None:
        _check_area(cell_area_km2)
        return float(cell_area_km2), float("nan")
    from geoeco.core.windows import equal_area_factor

    f = equal_area_factor(grid)
    return grid.cell_area * f / 1e6, f


def prioritise_windows(
    inputs: Mapping[str, Raster | WindowReader | np.ndarray],
    grid: Grid,
    *,
    config: RestorationConfig | None = None,
    budget_km2: float | None = None,
    targets: Mapping[str, float] | None = None,
    cell_area_km2: float | None = None,
    block_rows: int = 256,
    sink: Sink | None = None,
    _stacklevel: int = 2,
) -> tuple[pd.DataFrame, RestorationParams]:
    """Bounded-memory :func:`prioritise`: read full-width strips of ``block_rows`` rows twice.

    ``inputs`` are Rasters, arrays or window readers (``read(window)``) on ``grid``. ``sink``
    receives ``(window, score, rank, selection)`` for each strip, bottom strip first; write them
    with :func:`geoeco.core.io.open_raster_writer`. Returns the coverage table and the params.
    Memory: one strip of every input (plus a ``d_max`` row halo of the protected mask), a few
    65 536-entry histograms, and one per need combination when targets are set.
    """
    config, weights, needs = _prepare(inputs, config)
    area, ea_factor = _cell_area_km2(grid, cell_area_km2)
    readers = {k: _as_reader(v, grid.shape, k, grid) for k, v in inputs.items()}
    sc = _Scorer(readers, grid.shape, grid.res, config, weights, needs)
    ids = [n.id for n in needs]
    tlist = _target_list(targets, ids)
    strips = _strips(grid.height, grid.width, block_rows)
    ranker = _Ranker(grouped=bool(tlist))
    n_zone, need_tot = _rank_pass(sc, strips, tlist, ranker)
    n = ranker.n
    if n == 0:
        raise EmptyArea(
            f"no candidate cells: {n_zone} cells of control classes "
            f"{list(config.eligible_classes)}, none with data in every scored input"
        )
    notes: list[str] = []
    takes, mode = _takes(ranker, tlist, need_tot, _budget_cells(budget_km2, area))
    exceeds = budget_km2 is not None and not tlist and budget_km2 > n * area * (1 + 1e-12)
    if exceeds:
        msg = (
            f"the budget ({budget_km2:g} km²) is larger than the candidate area "
            f"({n * area:g} km²): every candidate cell is selected"
        )
        notes.append(msg)
        warnings.warn(msg, GeoecoWarning, stacklevel=_stacklevel)
    ranker.plan(takes)
    n_sel, got = _select_pass(sc, strips, tlist, ranker, sink)
    tmap = {ids[i]: s for i, s in tlist}
    names = {nd.id: (nd.name_zh, nd.name_en) for nd in needs}
    table = _table(
        ["eligible", *ids], [n, *need_tot.tolist()], [n_sel, *got.tolist()], area, tmap, names
    )
    unmet = [str(r.need) for r in table.itertuples() if r.met is False]
    if unmet:
        msg = f"targets not met within the budget: {', '.join(unmet)}"
        notes.append(msg)
        warnings.warn(msg, GeoecoWarning, stacklevel=_stacklevel)
    return table, RestorationParams(
        **_rule_params(config, weights),
        inputs=tuple(sorted(inputs)),
        needs=tuple(ids),
        mode=mode,
        selection_method=_SELECTION_METHODS[mode],
        budget_km2=budget_km2,
        targets=tmap,
        cell_area_km2=area,
        equal_area_factor=ea_factor,
        zone_cells=n_zone,
        eligible_cells=n,
        missing_cells=n_zone - n,
        eligible_km2=n * area,
        selected_cells=n_sel,
        selected_km2=n_sel * area,
        budget_exceeds_eligible=bool(exceeds),
        notes=tuple(notes),
    )


def _rank_pass(
    sc: _Scorer, strips: list[Window], tlist: list[tuple[int, float]], ranker: _Ranker
) -> tuple[int, np.ndarray]:
    """First pass: every strip's score keys into ``ranker``; the cells of eligible control
    classes and, per need, the candidate cells that have it."""
    need_tot = np.zeros(len(sc.needs), dtype=np.int64)
    n_zone = 0
    for w in strips:
        st = sc.strip(w)
        ranker.add(st.keys, _group_ids(st.needs, tlist))
        valid = st.keys >= 0
        n_zone += int(st.zone_ok.sum())
        for j, m in enumerate(st.needs):
            need_tot[j] += int((m & valid).sum())
    return n_zone, need_tot


def _takes(
    ranker: _Ranker, tlist: list[tuple[int, float]], need_tot: np.ndarray, budget: int | None
) -> tuple[dict[int, int], Mode]:
    """Cells to take from each need group, and the selection mode (see :func:`prioritise`)."""
    if tlist:
        needed = [_needed(s, int(need_tot[i])) for i, s in tlist]
        takes = _greedy(ranker.ghist, needed, budget)
        return takes, "targets+budget" if budget is not None else "targets"
    if budget is not None:
        return {0: min(budget, ranker.n)}, "budget"
    return {}, "rank only"


def _select_pass(
    sc: _Scorer,
    strips: list[Window],
    tlist: list[tuple[int, float]],
    ranker: _Ranker,
    sink: Sink | None,
) -> tuple[int, np.ndarray]:
    """Second pass, bottom strip first: rank and selection of every strip (to ``sink``); the
    selected cells and, per need, the selected cells that have it."""
    n = ranker.n
    got = np.zeros(len(sc.needs), dtype=np.int64)
    n_sel = 0
    for w in reversed(strips):
        st = sc.strip(w)
        lower, sel = ranker.apply(st.keys, _group_ids(st.needs, tlist))
        n_sel += int(sel.sum())
        for j, m in enumerate(st.needs):
            got[j] += int((m & sel).sum())
        if sink is not None:
            rank = np.where(lower >= 0, lower / max(n, 1), np.nan).astype(np.float32)
            sink(w, st.score, rank, _codes_of(lower, sel))
    return n_sel, got


class _RuleParams(TypedDict):
    """The fields of :class:`RestorationParams` that come from the rule (the configuration)."""

    tag: str
    config_version: str
    config_source: str
    weights: dict[str, float]
    weights_used: dict[str, float]
    components_without_inputs: tuple[str, ...]
    levels: dict[str, Any]
    d0_m: float
    d_max_m: float
    fvc_max: float
    eligible_classes: tuple[int, ...]


def _rule_params(config: RestorationConfig, weights: Mapping[str, float]) -> _RuleParams:
    """The rule a run used: its configuration and the weights of the components with inputs."""
    return {
        "tag": config.tag,
        "config_version": config.version,
        "config_source": config.source,
        "weights": config.weights.model_dump(),
        "weights_used": dict(weights),
        "components_without_inputs": tuple(
            c for c in COMPONENTS if c not in weights and getattr(config.weights, c) > 0
        ),
        "levels": config.levels.model_dump(),
        "d0_m": config.d0_m,
        "d_max_m": config.d_max_m,
        "fvc_max": config.fvc_max,
        "eligible_classes": tuple(config.eligible_classes),
    }


def prioritise(
    inputs: Mapping[str, Raster],
    *,
    config: RestorationConfig | None = None,
    budget_km2: float | None = None,
    targets: Mapping[str, float] | None = None,
    cell_area_km2: float | None = None,
    block_rows: int = 256,
) -> RestorationResult:
    """Score, rank, select and report restoration priorities of candidate cells.

    Parameters
    ----------
    inputs : dict of Rasters on one projected (equal-area) grid
        ``zone_class`` (required) and any of ``erosion``, ``desertification``,
        ``sanding_sensitivity``, ``water_sensitivity``, ``importance`` + ``fvc``, ``protected``
        (mask) or ``protected_distance`` (m), ``battle`` (mask). See :func:`restoration_score`.
    config : RestorationConfig, default the built-in rule (:func:`load_restoration_config`)
    budget_km2 : area budget; without targets the top-ranked cells up to it are selected
    targets : need id → share of that need's candidate area to cover (greedy)
    cell_area_km2 : override the pixel area (default: grid pixel area × equal-area factor)
    block_rows : strip height of the two passes (the result does not depend on it)

    Returns
    -------
    RestorationResult
        ``score`` and ``rank`` (float32, NaN outside candidates), ``selection`` (uint8: 0 not a
        candidate, 1 not selected, 2 selected), ``coverage`` (:func:`coverage_table` columns)
        and ``params`` (:class:`RestorationParams`: weights used, rule, counts, notes).

    Examples
    --------
    >>> from affine import Affine
    >>> from geoeco.core.crs import ALBERS_CHINA
    >>> g = Grid(Affine(1000, 0, 0, 0, -1000, 4e6), 2, 1, ALBERS_CHINA)
    >>> rz = Raster.from_array(np.array([[2, 2]], "uint8"), g, nodata=0)
    >>> re = Raster.from_array(np.array([[6, 3]], "uint8"), g, nodata=0)
    >>> res = prioritise({"zone_class": rz, "erosion": re}, budget_km2=1.0)
    >>> res.selection.array.tolist(), res.params.weights_used
    ([[2, 1]], {'erosion': 1.0})
    """
    zone = inputs.get("zone_class")
    if not isinstance(zone, Raster):
        raise InvalidInput("zone_class must be a Raster (it gives the grid)")
    grid = zone.grid
    score = np.full(grid.shape, np.nan, dtype=np.float32)
    rank = np.full(grid.shape, np.nan, dtype=np.float32)
    sel = np.zeros(grid.shape, dtype=np.uint8)

    def sink(w: Window, s: np.ndarray, r: np.ndarray, c: np.ndarray) -> None:
        sl = (slice(w[0], w[0] + w[2]), slice(w[1], w[1] + w[3]))
        score[sl], rank[sl], sel[sl] = s, r, c

    table, params = prioritise_windows(
        inputs,
        grid,
        config=config,
        budget_km2=budget_km2,
        targets=targets,
        cell_area_km2=cell_area_km2,
        block_rows=block_rows,
        sink=sink,
        _stacklevel=3,
    )
    return RestorationResult(
        score=Raster.from_array(score, grid, units="1", name="restoration_score"),
        rank=Raster.from_array(rank, grid, units="1", name="restoration_rank"),
        selection=Raster.from_array(sel, grid, nodata=0, name="restoration_selection"),
        coverage=table,
        params=params,
    )


__all__ = [
    "NoCandidates",
    "RestorationParams",
    "RestorationResult",
    "coverage_table",
    "prioritise",
    "prioritise_windows",
]
