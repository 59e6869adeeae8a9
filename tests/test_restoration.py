"""Restoration priorities (geoeco.restoration.run): score, rank, selection, coverage, worked by
hand.

The hand grid (4×4, 1 km pixels on ALBERS_CHINA, so each cell is 1 km²) uses a rule with
weights erosion 0.4, desertification 0.4, battle 0.2 (others 0) so every score is a short sum:
score = 0.4·(grade − 1)/5 + 0.4·(degree − 1)/4 + 0.2·battle (levels of restoration.toml).
"""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pytest
from affine import Affine

from geoeco.core.crs import ALBERS_CHINA
from geoeco.core.errors import (
    CRSError,
    EmptyArea,
    GeoecoWarning,
    InvalidInput,
    ManifestError,
    UnitsError,
)
from geoeco.core.raster import Grid, Raster
from geoeco.restoration.config import load_restoration_config
from geoeco.restoration.ranking import (
    SCORE_LEVELS,
    rank_map,
    score_keys,
    select_budget,
    select_targets,
)
from geoeco.restoration.run import NoCandidates, coverage_table, prioritise, prioritise_windows
from geoeco.restoration.scoring import nearness, need_masks, restoration_score

ZONE = np.array([[2, 2, 2, 1], [2, 2, 2, 3], [2, 2, 0, 3], [1, 2, 2, 2]], dtype="uint8")
EROSION = np.array([[6, 5, 3, 6], [1, 2, 4, 6], [3, 6, 6, 6], [6, 1, 3, 2]], dtype="uint8")
DESERT = np.array([[5, 1, 3, 5], [1, 3, 5, 5], [5, 2, 1, 5], [5, 5, 3, 1]], dtype="uint8")
BATTLE = np.array([[1, 0, 0, 1], [0, 0, 1, 1], [1, 1, 0, 0], [0, 0, 0, 0]], dtype="uint8")

# Hand-computed scores of the 11 key-control cells (zone 2), e.g. (1, 2): erosion 4 → 0.6,
# degree 5 → 1, battle → 0.4·0.6 + 0.4·1 + 0.2 = 0.84. NaN: zone 1, 3 or 0.
N = math.nan
SCORE = np.array(
    [
        [1.0, 0.32, 0.36, N],
        [0.0, 0.28, 0.84, N],
        [0.76, 0.70, N, N],
        [N, 0.40, 0.36, 0.08],
    ]
)
# Priority order (score high first; the 0.36 tie goes to (0, 2), earlier in row-major order):
# (0,0) (1,2) (2,0) (2,1) (3,1) (0,2) (3,2) (0,1) (1,1) (3,3) (1,0). Lower-priority counts
# L = 10, 9, ..., 0, and rank = L / 11.
LOWER = np.array([[10, 3, 5, -1], [0, 2, 9, -1], [8, 7, -1, -1], [-1, 6, 4, 1]])


def grid(h: int = 4, w: int = 4, res: float = 1000.0) -> Grid:
    return Grid(Affine(res, 0, 0, 0, -res, 4_000_000), w, h, ALBERS_CHINA)


def ras(a: np.ndarray, g: Grid | None = None) -> Raster:
    a = np.asarray(a)
    return Raster.from_array(a, g or grid(*a.shape), nodata=0 if a.dtype.kind == "u" else None)


def hand_inputs() -> dict[str, Raster]:
    return {
        "zone_class": ras(ZONE),
        "erosion": ras(EROSION),
        "desertification": ras(DESERT),
        "battle": ras(BATTLE),
    }


def hand_config():  # type: ignore[no-untyped-def]
    return load_restoration_config(
        {
            "weights": {
                "erosion": 0.4,
                "desertification": 0.4,
                "battle": 0.2,
                "sensitivity": 0.0,
                "importance_gain": 0.0,
                "protected_nearness": 0.0,
            }
        }
    )


def test_score_rank_by_hand() -> None:
    res = prioritise(hand_inputs(), config=hand_config())
    score = res.score.filled(np.nan)
    np.testing.assert_allclose(score, SCORE, rtol=1e-6, atol=1e-7)
    assert np.isnan(score).tolist() == np.isnan(SCORE).tolist()
    rank = res.rank.filled(np.nan)
    expected = np.where(LOWER >= 0, LOWER / 11, np.nan)
    np.testing.assert_allclose(rank, expected, rtol=1e-6)
    assert res.rank.dtype == np.float32 and res.score.dtype == np.float32
    assert float(np.nanmax(rank)) == pytest.approx(10 / 11)  # Zonation: top = (N − 1)/N
    # array path agrees with the Raster path
    arr = {k: v.array for k, v in hand_inputs().items()}
    np.testing.assert_array_equal(restoration_score(arr, hand_config()), score)
    np.testing.assert_array_equal(rank_map(score), rank)


def test_budget_selection_and_coverage_by_hand() -> None:
    # budget 6 km² = 6 cells: the top six in the order above; at the 0.36 tie (0, 2) is taken
    # and (3, 2) is not. Zone 1 cell (0, 3) has score 1.0 by its values but is not a candidate.
    res = prioritise(hand_inputs(), config=hand_config(), budget_km2=6.0)
    sel = res.selection.filled(0)
    assert sel.tolist() == [[2, 1, 2, 0], [1, 1, 2, 0], [2, 2, 0, 0], [0, 2, 1, 1]]
    assert res.params.selected_km2 == 6.0 and res.params.eligible_km2 == 11.0
    assert not res.params.budget_exceeds_eligible
    # the budget selection is exactly "rank >= 1 − 6/11"
    rank = res.rank.filled(-1)
    assert ((rank >= 1 - 6 / 11 - 1e-6) == (sel == 2)).all()
    # coverage counted by hand from the grids (all 1 km² cells):
    # erosion >= 3 among candidates: (0,0) (0,1) (0,2) (1,2) (2,0) (2,1) (3,2) = 7, selected 5
    # erosion == 4: (1,2); == 5: (0,1) not selected; == 6: (0,0) (2,1) both selected
    # degree >= 3: (0,0) (0,2) (1,1) (1,2) (2,0) (3,1) (3,2) = 7, selected 5
    # degree == 4: none (share NaN); == 5: (0,0) (1,2) (2,0) (3,1), all selected
    # battle: (0,0) (1,2) (2,0) (2,1) (cells (0,3), (1,3) are not key control), all selected
    t = res.coverage.set_index("need")
    expect = {
        "eligible": (11, 6),
        "erosion_moderate_plus": (7, 5),
        "erosion_intense": (1, 1),
        "erosion_very_intense": (1, 0),
        "erosion_severe": (2, 2),
        "desertification_moderate_plus": (7, 5),
        "desertification_severe": (0, 0),
        "desertification_extreme": (4, 4),
        "battle": (4, 4),
    }
    assert list(t.index) == list(expect)  # needs without inputs (sensitivity...) left out
    for need, (tot, got) in expect.items():
        assert t.loc[need, "total_km2"] == tot and t.loc[need, "selected_km2"] == got
        if tot:
            assert t.loc[need, "covered_share"] == pytest.approx(got / tot)
        else:
            assert math.isnan(t.loc[need, "covered_share"])
    assert t["met"].isna().all()  # no targets set
    # the standalone functions give the same table
    masks = need_masks({k: v.array for k, v in hand_inputs().items()}, hand_config())
    t2 = coverage_table(sel, masks, cell_area_km2=1.0)
    assert t2["selected_km2"].tolist() == res.coverage["selected_km2"].tolist()
    assert select_budget(res.score.filled(np.nan), 1.0, 6.0).tolist() == sel.tolist()


def test_budget_rounds_down_to_whole_cells() -> None:
    # 4.5 km² of 1 km² cells → 4 cells: (0,0) (1,2) (2,0) (2,1)
    res = prioritise(hand_inputs(), config=hand_config(), budget_km2=4.5)
    assert np.argwhere(res.selection.filled(0) == 2).tolist() == [[0, 0], [1, 2], [2, 0], [2, 1]]
    assert res.params.selected_km2 == 4.0


def test_budget_larger_than_eligible_selects_all_and_says_so() -> None:
    with pytest.warns(GeoecoWarning, match="larger than the candidate area"):
        res = prioritise(hand_inputs(), config=hand_config(), budget_km2=100.0)
    sel = res.selection.filled(0)
    assert ((sel == 2) == (ZONE == 2)).all()  # all 11 key-control cells, nothing else
    assert res.params.budget_exceeds_eligible is True
    assert res.params.selected_cells == 11 and res.params.notes


def test_non_key_cells_never_selected() -> None:
    # zone 1, 3 and 0 cells carry the worst values (erosion 6, degree 5, battle) yet stay out
    res = prioritise(hand_inputs(), config=hand_config(), budget_km2=11.0)
    sel = res.selection.filled(0)
    assert (sel[ZONE != 2] == 0).all() and (sel[ZONE == 2] == 2).all()
    # eligible classes are configurable: general control (3) as well
    cfg = hand_config().model_copy(update={"eligible_classes": (2, 3)})
    res3 = prioritise(hand_inputs(), config=cfg, budget_km2=13.0)
    assert res3.params.eligible_cells == 13
    assert (res3.selection.filled(0)[ZONE == 1] == 0).all()


def test_targets_greedy_by_hand() -> None:
    # A = erosion_severe (grade 6): candidates (0,0) (2,1) → target 100 % = 2 cells.
    # B = desertification_extreme (degree 5): (0,0) (1,2) (2,0) (3,1) → target 50 % = 2 cells.
    # Greedy: (0,0) has A and B, gain 1/2 + 1/2 = 1 → taken. Then A-only cells and B-only cells
    # both gain 1/2; the tie goes to the better score: B's (1,2) 0.84 > A's (2,1) 0.70 →
    # (1,2), which meets B. Then (2,1) (gain 1/2) meets A. Top-3 by score would be (0,0) (1,2)
    # (2,0) and miss A.
    targets = {"erosion_severe": 1.0, "desertification_extreme": 0.5}
    res = prioritise(hand_inputs(), config=hand_config(), targets=targets)
    chosen = np.argwhere(res.selection.filled(0) == 2).tolist()
    assert chosen == [[0, 0], [1, 2], [2, 1]]
    t = res.coverage.set_index("need")
    assert t.loc["erosion_severe", "selected_km2"] == 2 and t.loc["erosion_severe", "met"]
    assert t.loc["desertification_extreme", "target_km2"] == 2
    assert t.loc["desertification_extreme", "selected_km2"] == 2
    assert bool(t.loc["desertification_extreme", "met"]) is True
    assert t.loc["battle", "met"] is None  # no target
    assert res.params.mode == "targets"
    # the array function gives the same selection
    masks = need_masks({k: v.array for k, v in hand_inputs().items()}, hand_config())
    s = select_targets(res.score.filled(np.nan), masks, targets)
    assert s.tolist() == res.selection.filled(0).tolist()


def test_targets_with_budget_cap_reports_unmet() -> None:
    # same targets, budget 2 km²: (0,0) then (1,2); A has 1 of 2 cells → not met
    targets = {"erosion_severe": 1.0, "desertification_extreme": 0.5}
    with pytest.warns(GeoecoWarning, match="erosion_severe"):
        res = prioritise(hand_inputs(), config=hand_config(), targets=targets, budget_km2=2.0)
    assert np.argwhere(res.selection.filled(0) == 2).tolist() == [[0, 0], [1, 2]]
    t = res.coverage.set_index("need")
    assert bool(t.loc["erosion_severe", "met"]) is False
    assert bool(t.loc["desertification_extreme", "met"]) is True


def test_targets_bad_input() -> None:
    with pytest.raises(InvalidInput, match="unknown needs"):
        prioritise(hand_inputs(), config=hand_config(), targets={"water_sensitivity_high": 0.5})
    with pytest.raises(InvalidInput, match="share"):
        prioritise(hand_inputs(), config=hand_config(), targets={"battle": 30})


def test_weights_and_rule_recorded() -> None:
    res = prioritise(hand_inputs(), config=hand_config())
    p = res.params
    assert p.weights["erosion"] == 0.4 and p.weights["sensitivity"] == 0.0
    assert p.weights_used == pytest.approx({"erosion": 0.4, "desertification": 0.4, "battle": 0.2})
    assert p.tag == "I" and p.score_levels == SCORE_LEVELS
    assert "not modelled" in p.connectivity and p.eligible_classes == (2,)
    # default weights renormalised over the components with inputs: 0.25, 0.25, 0.10 / 0.60
    pd_ = prioritise(hand_inputs()).params
    assert pd_.weights_used == pytest.approx(
        {"erosion": 0.25 / 0.6, "desertification": 0.25 / 0.6, "battle": 0.1 / 0.6}
    )


#: The ``restoration`` record of ``summary.json`` (besides ``budget_km2``), in its order.
PARAMS_RECORD = [
    "rule", "tag", "config_version", "config_source", "weights", "weights_used",
    "components_without_inputs", "levels", "d0_m", "d_max_m", "nearness", "fvc_max",
    "eligible_classes", "inputs", "needs", "score_levels", "rank", "tie_rule", "connectivity",
    "mode", "selection_method", "budget_km2", "targets", "cell_area_km2", "equal_area_factor",
    "zone_cells", "eligible_cells", "missing_cells", "eligible_km2", "selected_cells",
    "selected_km2", "budget_exceeds_eligible", "notes",
]  # fmt: skip


def test_params_json_record() -> None:
    # the typed params serialise to the record summary.json has always held: same keys in
    # the same order, sequences as JSON lists; the counts are those of the budget case above
    res = prioritise(hand_inputs(), config=hand_config(), budget_km2=6.0)
    d = res.params.to_dict()
    assert list(d) == PARAMS_RECORD
    assert d["eligible_classes"] == [2] and d["notes"] == [] and d["mode"] == "budget"
    assert (d["zone_cells"], d["eligible_cells"], d["selected_cells"]) == (11, 11, 6)
    assert d["inputs"] == ["battle", "desertification", "erosion", "zone_class"]
    json.dumps(d)  # JSON-ready as it is
    assert NoCandidates("no restoration candidates: none").to_dict() == {
        "note": "no restoration candidates: none",
        "selected_km2": 0.0,
    }


def test_deterministic_and_window_independent() -> None:
    # 37×23 grid of class inputs (many exact score ties), a protected mask (nearness needs the
    # row halo) and targets: every strip height must give identical rasters and tables.
    rng = np.random.default_rng(7)
    h, w = 37, 23
    g = grid(h, w, res=500.0)
    zone = rng.choice(np.array([0, 1, 2, 2, 2, 3], dtype="uint8"), size=(h, w))
    inputs = {
        "zone_class": ras(zone, g),
        "erosion": ras(rng.integers(1, 7, (h, w)).astype("uint8"), g),
        "desertification": ras(rng.integers(1, 6, (h, w)).astype("uint8"), g),
        "sanding_sensitivity": ras(rng.integers(1, 6, (h, w)).astype("uint8"), g),
        "importance": ras(rng.integers(1, 4, (h, w)).astype("uint8"), g),
        "fvc": ras(rng.uniform(0, 100, (h, w)).astype("float32"), g),
        "protected": ras((rng.uniform(size=(h, w)) < 0.02).astype("uint8"), g),
        "battle": ras((rng.uniform(size=(h, w)) < 0.3).astype("uint8"), g),
    }
    cfg = load_restoration_config({"nearness": {"d0_m": 1500.0, "d_max_m": 4000.0}})
    targets = {"erosion_severe": 0.6, "desertification_extreme": 0.4, "battle": 0.5}
    runs = []
    for rows in (1, 4, 10, 37, 256):
        for kw in ({"budget_km2": 40.0}, {"targets": targets}):
            runs.append((kw, prioritise(inputs, config=cfg, block_rows=rows, **kw)))  # type: ignore[arg-type]
    base = {str(kw): r for kw, r in runs[:2]}
    for kw, r in runs:
        b = base[str(kw)]
        for name in ("score", "rank", "selection"):
            np.testing.assert_array_equal(
                getattr(r, name).filled(np.nan if name != "selection" else 0),
                getattr(b, name).filled(np.nan if name != "selection" else 0),
            )
        assert r.coverage.equals(b.coverage)
    # windowed nearness equals the whole-array distance transform
    arr = {k: v.array for k, v in inputs.items()}
    whole = restoration_score(arr, cfg, res=g.res)
    np.testing.assert_array_equal(whole, base[str({"budget_km2": 40.0})].score.filled(np.nan))
    # ranks are distinct and consistent with the in-memory rank map
    r = base[str({"budget_km2": 40.0})]
    rk = r.rank.filled(np.nan)
    np.testing.assert_array_equal(rank_map(whole), rk)
    lower = np.round(rk[~np.isnan(rk)] * r.params.eligible_cells)
    assert np.unique(lower).size == lower.size
    # budget 40 km² of 0.25 km² cells → 160 cells, or all candidates if fewer
    assert r.params.selected_cells == min(160, r.params.eligible_cells)
    t = base[str({"targets": targets})].coverage.set_index("need")
    assert t.loc[list(targets), "met"].astype(bool).all()
    # class inputs only: scores take few values (massive ties), still strip-independent
    classes = {k: v for k, v in inputs.items() if k not in ("fvc", "importance", "protected")}
    sel = [
        prioritise(classes, config=cfg, block_rows=rows, budget_km2=27.5).selection.filled(0)
        for rows in (1, 5, 37)
    ]
    s0 = prioritise(classes, config=cfg).score.filled(np.nan)
    assert np.unique(s0[~np.isnan(s0)]).size < 0.5 * np.count_nonzero(~np.isnan(s0))
    # 27.5 km² = 110 cells; the threshold key holds 19 tied cells of which 9 are taken
    assert all((x == sel[0]).all() for x in sel) and (sel[0] == 2).sum() == 110
    # independent check: the 110 first cells by (key high first, row-major index) via lexsort
    k = score_keys(s0).ravel()
    idx = np.flatnonzero(k >= 0)
    top = idx[np.lexsort((idx, -k[idx]))][:110]
    ref = np.zeros(k.size, bool)
    ref[top] = True
    np.testing.assert_array_equal(sel[0].ravel() == 2, ref)


def test_importance_gain_and_nearness_by_hand() -> None:
    # 1×4 row, all key control, 1 km pixels; protected cell at column 0, d0 = 1 km,
    # d_max = 2.5 km → nearness 1, e^-1, e^-2, 0 (3 km > 2.5 km).
    # importance [3, 3, 2, 1] → levels 1, 1, 0.5, 0; FVC [20, 80, 0, 0] % →
    # gain = level·(1 − FVC/100) = 0.8, 0.2, 0.5, 0.
    # weights importance_gain 1, protected_nearness 1 → score = (gain + nearness) / 2.
    cfg = load_restoration_config(
        {
            "weights": {
                "erosion": 0,
                "desertification": 0,
                "sensitivity": 0,
                "battle": 0,
                "importance_gain": 1,
                "protected_nearness": 1,
            },
            "nearness": {"d0_m": 1000.0, "d_max_m": 2500.0},
        }
    )
    g = grid(1, 4)
    inputs = {
        "zone_class": ras(np.array([[2, 2, 2, 2]], "uint8"), g),
        "importance": ras(np.array([[3, 3, 2, 1]], "uint8"), g),
        "fvc": ras(np.array([[20.0, 80.0, 0.0, 0.0]], "float32"), g),
        "protected": ras(np.array([[1, 0, 0, 0]], "uint8"), g),
    }
    res = prioritise(inputs, config=cfg)
    near = [1.0, math.exp(-1), math.exp(-2), 0.0]
    expected = [(a + b) / 2 for a, b in zip([0.8, 0.2, 0.5, 0.0], near, strict=True)]
    np.testing.assert_allclose(res.score.filled(np.nan)[0], expected, rtol=1e-6)
    np.testing.assert_allclose(
        nearness(np.array([[1, 0, 0, 0]]), (1000.0, 1000.0), d0_m=1000.0, d_max_m=2500.0)[0],
        near,
    )
    # a precomputed distance raster gives the same score
    dist = ras(np.array([[0.0, 1000.0, 2000.0, 3000.0]], "float32"), g)
    inputs2 = {k: v for k, v in inputs.items() if k != "protected"} | {"protected_distance": dist}
    res2 = prioritise(inputs2, config=cfg)
    np.testing.assert_array_equal(res2.score.filled(np.nan), res.score.filled(np.nan))


def test_sensitivity_is_the_max_and_levels_are_configurable() -> None:
    # sanding [5, 1], water [2, 3] (5 classes) → max(1, 0.25) = 1, max(0, 0.5) = 0.5
    z = np.array([[2, 2]])
    cfg = load_restoration_config({"weights": {"erosion": 0, "desertification": 0}})
    sens = {"sanding_sensitivity": np.array([[5, 1]]), "water_sensitivity": np.array([[2, 3]])}
    s = restoration_score({"zone_class": z, **sens}, cfg)
    assert s.tolist() == [[1.0, 0.5]]
    # a 3-class code table needs matching levels
    cfg3 = cfg.model_copy(
        update={"levels": cfg.levels.model_copy(update={"sanding_sensitivity": (0.0, 0.5, 1.0)})}
    )
    with pytest.raises(InvalidInput, match="levels"):
        restoration_score({"zone_class": z, "sanding_sensitivity": np.array([[4, 1]])}, cfg3)
    s3 = restoration_score({"zone_class": z, "sanding_sensitivity": np.array([[3, 2]])}, cfg3)
    assert s3.tolist() == [[1.0, 0.5]]


def test_missing_data_is_not_a_zero() -> None:
    # erosion nodata (0) at a key-control cell: the cell is not a candidate and is counted
    ero = EROSION.copy()
    ero[1, 0] = 0
    inputs = hand_inputs() | {"erosion": ras(ero)}
    res = prioritise(inputs, config=hand_config())
    assert np.isnan(res.score.filled(np.nan)[1, 0]) and res.selection.filled(0)[1, 0] == 0
    assert res.params.missing_cells == 1 and res.params.eligible_cells == 10


def test_input_errors() -> None:
    with pytest.raises(UnitsError, match="fvc"):
        one = {"zone_class": [[2]], "importance": [[3]], "fvc": [[150.0]]}
        restoration_score({k: np.array(v) for k, v in one.items()})
    with pytest.raises(InvalidInput, match="no score component"):
        restoration_score({"zone_class": np.array([[2]])})
    with pytest.raises(InvalidInput, match="unknown inputs"):
        restoration_score({"zone_class": np.array([[2]]), "slope": np.array([[2]])})
    g = Grid(Affine(0.01, 0, 100, 0, -0.01, 40), 4, 4, "EPSG:4490")
    with pytest.raises(CRSError, match="projected"):
        prioritise({"zone_class": ras(ZONE, g), "erosion": ras(EROSION, g)})
    with pytest.raises(EmptyArea):
        prioritise({"zone_class": ras(np.full((4, 4), 3, "uint8")), "erosion": ras(EROSION)})
    with pytest.raises(InvalidInput, match="budget"):
        prioritise(hand_inputs(), config=hand_config(), budget_km2=-1.0)


def test_config_file_and_validation(tmp_path) -> None:  # type: ignore[no-untyped-def]
    p = tmp_path / "rule.toml"
    p.write_text("eligible_classes = [2, 3]\n[weights]\nbattle = 1.0\n", encoding="utf-8")
    cfg = load_restoration_config(p)
    assert cfg.eligible_classes == (2, 3) and cfg.weights.battle == 1.0
    assert cfg.needs == load_restoration_config().needs  # left out → built-in needs
    bad = tmp_path / "bad.toml"
    bad.write_text("[weights]\nerosion = -1\n", encoding="utf-8")
    with pytest.raises(ManifestError, match="bad.toml"):
        load_restoration_config(bad)
    with pytest.raises(ManifestError):
        load_restoration_config({"levels": {"erosion": [1.0, 0.5]}})  # decreasing
    with pytest.raises(ManifestError):
        load_restoration_config({"eligible_classes": [4]})


def test_score_keys_and_windowed_sink() -> None:
    # keys = round(score · 65535): 0.5 → 32767.5 → 32768
    assert score_keys(np.array([0.5])).tolist() == [32768]
    # prioritise_windows hands strips bottom first to the sink and covers the grid once
    seen: list[tuple[int, int, int, int]] = []

    def sink(win, score, rank, sel):  # type: ignore[no-untyped-def]
        seen.append(win)
        assert score.shape == rank.shape == sel.shape == (win[2], win[3])

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        table, params = prioritise_windows(
            hand_inputs(), grid(), config=hand_config(), budget_km2=3, block_rows=3, sink=sink
        )
    assert seen == [(3, 0, 1, 4), (0, 0, 3, 4)]
    assert params.selected_cells == 3 and table.iloc[0]["selected_km2"] == 3.0


def _reference_greedy(keys: np.ndarray, masks: list[np.ndarray], needed: list[int]) -> np.ndarray:
    """Cell-by-cell greedy written independently of geoeco: repeatedly take the cell with the
    largest (gain = sum of 1/needed_j over the unmet targets it helps, score key, −combination
    id, −row-major index) until every target is met."""
    flat_k = keys.ravel()
    bits = [m.ravel() for m in masks]
    combo = sum(b.astype(int) << j for j, b in enumerate(bits))
    rem = list(needed)
    taken = np.zeros(flat_k.size, bool)
    while any(r > 0 for r in rem):
        best, best_i = None, -1
        for i in np.flatnonzero((flat_k >= 0) & ~taken):
            unmet = [j for j in range(len(bits)) if bits[j][i] and rem[j] > 0]
            if not unmet:
                continue
            cand = (sum(1 / needed[j] for j in unmet), flat_k[i], -combo[i], -i)
            if best is None or cand > best:
                best, best_i = cand, i
        taken[best_i] = True
        for j in range(len(bits)):
            if bits[j][best_i]:
                rem[j] -= 1
    return taken.reshape(keys.shape)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_greedy_matches_cell_by_cell_reference(seed: int) -> None:
    # scores on 8 levels (many ties) and three random needs with random targets
    rng = np.random.default_rng(seed)
    shape = (9, 11)
    score = rng.integers(0, 8, shape) / 7.0
    score[rng.uniform(size=shape) < 0.15] = np.nan
    masks = [rng.uniform(size=shape) < p for p in (0.3, 0.5, 0.2)]
    shares = [0.5, 0.35, 0.9]
    valid = ~np.isnan(score)
    needed = [math.ceil(s * int((m & valid).sum())) for s, m in zip(shares, masks, strict=True)]
    needs = dict(zip("abc", masks, strict=True))
    got = select_targets(score, needs, dict(zip("abc", shares, strict=True)))
    ref = _reference_greedy(score_keys(score), masks, needed)
    np.testing.assert_array_equal(got == 2, ref)
