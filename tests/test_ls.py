"""LS factor (geoeco.terrain.ls) and Horn slope/aspect (geoeco.terrain.slope).

Expected values are worked by hand from the formulas in methodology.md §1.2 (repeated in
comments), recomputed here with scalar ``math`` code independent of the vectorised library
code, or follow from exact geometry (a uniform plane).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from affine import Affine

from geoeco.core.errors import CRSError, InvalidInput, OversizeRequest
from geoeco.core.raster import Grid, Raster
from geoeco.terrain.ls import (
    DEFAULT_LS_METHOD,
    LSOptions,
    l_dg,
    l_invest,
    l_lstool,
    ls_factor,
    ls_invest,
    m_invest,
    m_mccool,
    s_factor,
    s_invest,
    slope_length_lstool,
)
from geoeco.terrain.routing import route
from geoeco.terrain.slope import aspect, slope_horn

N, D = 100, 10.0  # plane: 100 x 100 cells of 10 m, 10 % slope falling south -> λ = 1000 m


def make_dem(z: np.ndarray, cell: float = D, crs: str = "EPSG:32650", **kw) -> Raster:
    h, w = z.shape
    grid = Grid(Affine(cell, 0, 500000, 0, -cell, 4000000 + h * cell), w, h, crs)
    return Raster.from_array(z, grid, units="m", **kw)


def plane(rows: int = N, cols: int = N, grade: float = 0.1) -> np.ndarray:
    return np.repeat(((rows - 1 - np.arange(rows)) * D * grade)[:, None], cols, axis=1)


def mccool_m(theta_deg: float) -> float:
    """McCool β/(1+β), scalar, for expected values."""
    s = math.sin(math.radians(theta_deg))
    beta = (s / 0.0896) / (3 * s**0.8 + 0.56)
    return beta / (1 + beta)


# ---------------------------------------------------------------- S and m by hand


def test_s_factor_at_breaks():
    # sin 5.14° = 0.0895896: McCool low 10.8·s + 0.03 = 0.997568, McCool high 16.8·s − 0.5
    # = 1.005105 (nearly continuous: McCool designed the break at tan θ = 9 %).
    # sin 10° = 0.1736482: McCool high 2.417290, Liu 21.91·s − 0.96 = 2.844632 (a real jump
    # of 0.427 in the CSLE rule).
    eps = 1e-9
    got = s_factor(np.array([5.14 - eps, 5.14, 10.0 - eps, 10.0, 0.0, 30.0]))
    np.testing.assert_allclose(
        got, [0.997568, 1.005105, 2.417290, 2.844632, 0.03, 21.91 * 0.5 - 0.96], atol=2e-6
    )
    # configurable breaks: CX-201911.00021 switches at tan = 9 % and 25 %
    b = (math.degrees(math.atan(0.09)), math.degrees(math.atan(0.25)))
    s12 = math.sin(math.radians(12.0))
    assert s_factor(np.array(12.0), b) == pytest.approx(16.8 * s12 - 0.5)
    assert s_factor(np.array(12.0)) == pytest.approx(21.91 * s12 - 0.96)


def test_m_mccool_by_hand():
    # θ = 3°: s = 0.0523360, s^0.8 = 0.0944148, β = (s/0.0896)/(3·0.0944148 + 0.56)
    #   = 0.584107/0.843244 = 0.692690, m = 0.409224.
    # θ = 5°: s = 0.0871557, s^0.8 = 0.141983, β = 0.972720/0.985949 = 0.986582, m = 0.496623.
    # θ = 45°: s = 0.707107, s^0.8 = 0.757858, β = 7.891816/2.833575 = 2.785110, m = 0.735807.
    got = m_mccool(np.array([3.0, 5.0, 45.0]))
    np.testing.assert_allclose(got, [0.409224, 0.496623, 0.735807], atol=2e-6)


def test_invest_m_and_s_tables():
    # m: 0.2 / 0.3 / 0.4 / 0.5 for slope <= 1 / 3.5 / 5 / 9 %, McCool above; S switches at 9 %.
    pct = np.array([0.5, 2.0, 4.0, 7.0, 20.0])
    deg = np.degrees(np.arctan(pct / 100))
    expect_m = [0.2, 0.3, 0.4, 0.5, mccool_m(math.degrees(math.atan(0.2)))]
    np.testing.assert_allclose(m_invest(deg), expect_m, rtol=1e-12)
    s = np.sin(np.arctan(pct / 100))
    np.testing.assert_allclose(s_invest(deg), np.where(pct < 9, 10.8 * s + 0.03, 16.8 * s - 0.5))


# ---------------------------------------------------------------- the plane: closed form


def closed_form_plane() -> tuple[float, float, float]:
    th = math.degrees(math.atan(0.1))  # 5.710593°, above the 5.14° break
    m = mccool_m(th)  # 0.517945
    s = 16.8 * math.sin(math.radians(th)) - 0.5  # 1.171662
    return m, s, (N * D / 22.13) ** m * s  # (1000/22.13)^m · S = 8.4336


@pytest.mark.parametrize(("method", "routing"), [("dg", "d8"), ("dg", "mfd"), ("lstool", "d8")])
def test_plane_mean_ls_equals_closed_form(method, routing):
    # Integrating L over each row, L_i = (λ_i^(m+1) − λ_{i−1}^(m+1)) / ((λ_i − λ_{i−1}) 22.13^m)
    # with λ_i = (i+1)·D, telescopes: the mean over the 100 rows is exactly (λ/22.13)^m with
    # λ = 1000 m, times the uniform S. Measured: D8 paths agree to 3e-8 (float32 output),
    # MFD to 2e-4 (side columns leak flow inwards).
    m, s, expect = closed_form_plane()
    res = ls_factor(make_dem(plane()), method=method, routing=routing)
    np.testing.assert_allclose(res.slope_deg.array, math.degrees(math.atan(0.1)), rtol=1e-5)
    assert float(res.ls.array.mean()) == pytest.approx(expect, rel=0.01)
    if routing == "d8":  # and row by row, exactly
        lam = (np.arange(N) + 1) * D
        per_row = (lam ** (m + 1) - (lam - D) ** (m + 1)) / (D * 22.13**m)
        np.testing.assert_allclose(res.l.array, np.repeat(per_row[:, None], N, 1), rtol=1e-5)
        np.testing.assert_allclose(res.ls.array.mean(), expect, rtol=1e-5)
        assert res.flow_acc.array[-1].tolist() == [100.0] * N


def test_plane_mfd_interior_rows_match_closed_form():
    # Away from the side columns MFD accumulation is exactly r + 1 (see test_routing), so L
    # there equals the per-row closed form.
    m, s, _ = closed_form_plane()
    res = ls_factor(make_dem(plane()), method="dg", routing="mfd")
    lam = (np.arange(N) + 1) * D
    per_row = (lam ** (m + 1) - (lam - D) ** (m + 1)) / (D * 22.13**m)
    for r in (0, 10, 40, 49):
        np.testing.assert_allclose(res.l.array[r, r + 1 : N - 1 - r], per_row[r], rtol=1e-5)


# ---------------------------------------------------------------- InVEST


def invest_expected(pct: float, fa: float, d: float, l_max: float = 122.0) -> float:
    """InVEST SDR 3.20.2 LS for one cell, scalar, from methodology.md §1.2 item 3."""
    th = math.atan(pct / 100)
    ca = math.sqrt((fa - 1) * d * d)
    x = abs(math.sin(th)) + abs(math.cos(th))
    if pct <= 1:
        m = 0.2
    elif pct <= 3.5:
        m = 0.3
    elif pct <= 5:
        m = 0.4
    elif pct <= 9:
        m = 0.5
    else:
        m = mccool_m(math.degrees(th))
    s = 10.8 * math.sin(th) + 0.03 if pct < 9 else 16.8 * math.sin(th) - 0.5
    ll = ((ca + d * d) ** (m + 1) - ca ** (m + 1)) / (d ** (m + 2) * x**m * 22.13**m)
    return s * min(ll, l_max)


def test_invest_reproduces_formula():
    # e.g. 2 % slope, FA = 10, D = 30: ca = sqrt(9·900) = 90, m = 0.3, x = sin+cos = 1.019799,
    # L = ((90 + 900)^1.3 − 90^1.3) / (30^2.3 · x^0.3 · 22.13^0.3)
    #   = (7849.5 − 347.33) / (2499.6 · 1.005899 · 2.53218) = 1.1783,
    # S = 10.8·0.0199960 + 0.03 = 0.245957; the last case (FA = 1e9) hits l_max = 122.
    cases = [
        (0.5, 1.0),
        (2.0, 10.0),
        (4.0, 100.0),
        (7.0, 1000.0),
        (20.0, 50.0),
        (60.0, 2.5),
        (35.0, 1.0e9),
    ]
    pct = np.array([c[0] for c in cases])
    fa = np.array([c[1] for c in cases])
    deg = np.degrees(np.arctan(pct / 100))
    got = ls_invest(deg, fa, 30.0)
    expect = [invest_expected(p, f, 30.0) for p, f in cases]
    np.testing.assert_allclose(got, expect, rtol=1e-4)
    assert l_invest(fa[-1:], deg[-1:], 30.0)[0] > 122.0  # really capped
    assert invest_expected(2.0, 10.0, 30.0) == pytest.approx(1.1783 * 0.245957, rel=1e-4)


def test_invest_method_on_dem_uses_its_own_slope_and_mfd():
    res = ls_factor(make_dem(plane(40, 40)), method="invest")
    assert res.params["routing"] == "mfd" and res.params["l_max"] == 122.0
    assert res.params["x"] == "slope angle"
    slope = np.asarray(res.slope_deg.array, dtype=float)
    fa = np.asarray(res.flow_acc.array)
    np.testing.assert_allclose(res.ls.array, ls_invest(slope, fa, D), rtol=1e-5)


# ---------------------------------------------------------------- LS-TOOL specifics


def test_lstool_cutoff_restarts_slope_length():
    # Drops of 2 m between rows 0..10 (20 % at 10 m cells), then 0.2 m (2 %). Horn slope =
    # (z[r−1] − z[r+1]) / 2D: row 9 20 % = 11.31°, row 10 (2 + 0.2)/20 = 11 % = 6.28°,
    # row 11 2 % = 1.146°. Row 10 is >= 5 %, ratio 0.7: 6.28 < 0.7·11.31 = 7.92 -> cut.
    # Row 11 is < 5 %, ratio 0.5: 1.146 < 0.5·6.28 = 3.14 -> cut again. So λ_in = r·D for
    # rows 0..9, 0 in rows 10 and 11, then (r − 11)·D.
    drops = np.r_[np.full(10, 2.0), np.full(9, 0.2)]
    z = np.r_[np.cumsum(drops[::-1])[::-1], 0.0]
    dem = np.repeat(z[:, None], 5, axis=1)
    r = route(dem, method="d8")
    slope = slope_horn(r.filled, D)
    lam_in, lam_out = slope_length_lstool(r.flowdir, r.order, slope, D)
    rows = np.arange(20)
    expect = np.where(rows < 10, rows, np.maximum(rows - 11, 0)) * D
    np.testing.assert_allclose(lam_in[:, 2], expect)
    np.testing.assert_allclose(lam_out - lam_in, D)
    # with ratios of 0.1 nothing is cut: λ runs the whole 200 m
    lam_in2, _ = slope_length_lstool(r.flowdir, r.order, slope, D, cutoff=(0.1, 0.1))
    np.testing.assert_allclose(lam_in2[:, 2], rows * D)


def test_lstool_diagonal_step_and_l():
    # Plane falling to the south-east, same drop per row and per column: D8 goes diagonally,
    # so each step is D·√2; at the centre of a 5x5 the longest path has 2 diagonal steps in.
    z = np.add.outer(np.arange(5)[::-1], np.arange(5)[::-1]).astype(float)
    r = route(z, method="d8")
    assert r.flowdir[2, 2] == 2  # SE
    lam_in, lam_out = slope_length_lstool(r.flowdir, r.order, slope_horn(r.filled, 1.0), 1.0)
    assert lam_in[2, 2] == pytest.approx(2 * math.sqrt(2))
    assert l_lstool(np.array([0.0]), np.array([22.13]), np.array([0.5]))[0] == pytest.approx(
        (22.13**1.5) / (22.13 * 22.13**0.5)
    )


def test_channel_threshold_restarts_length():
    # Cells with FA >= 50 (rows 49..99 of the plane) are channel: λ_in = 0 / A = 0 there, so
    # their L is the single-cell value (D/22.13)^m.
    m, _, _ = closed_form_plane()
    first = (D / 22.13) ** m
    for method in ("dg", "lstool"):
        res = ls_factor(make_dem(plane()), method=method, channel_threshold_cells=50)
        np.testing.assert_allclose(res.l.array[49:], first, rtol=1e-5)
        assert res.l.array[48, 5] > 5 * first
        assert res.params["channel_threshold_cells"] == 50


def test_l_max_caps_l():
    res = ls_factor(make_dem(plane()), method="dg", l_max=2.0)
    assert float(res.l.array.max()) == pytest.approx(2.0)
    np.testing.assert_allclose(res.ls.array, res.s.array * res.l.array, rtol=1e-6)


def test_l_dg_aspect_x():
    # A diagonal plane has aspect 135° -> x = |sin| + |cos| = √2; L divides by x^m.
    one = l_dg(np.array([5.0]), np.array([0.5]), 10.0)
    diag = l_dg(np.array([5.0]), np.array([0.5]), 10.0, x=np.array([math.sqrt(2)]))
    assert diag[0] == pytest.approx(one[0] / 2**0.25)


def test_nodata_is_masked():
    z = plane(30, 30)
    z[10:13, 10:13] = np.nan
    res = ls_factor(make_dem(z), method="dg")
    assert res.ls.array.mask[10:13, 10:13].all()
    assert np.isfinite(res.ls.array.compressed()).all()
    assert res.ls.array.count() == 900 - 9


# ---------------------------------------------------------------- terrain


def test_slope_and_aspect_on_planes_including_edges():
    # 10 % plane: 5.710593° everywhere, corners and edges too (reflection rule). Aspect of the
    # four cardinal planes: falling south 180, north 0, east 90, west 270.
    z = plane(6, 7)
    np.testing.assert_allclose(slope_horn(z, D), math.degrees(math.atan(0.1)), rtol=1e-12)
    np.testing.assert_allclose(aspect(z, D), 180.0)
    np.testing.assert_allclose(aspect(z[::-1], D), 0.0, atol=1e-9)
    east = np.tile(np.arange(7.0)[::-1], (6, 1))
    np.testing.assert_allclose(aspect(east, 1.0), 90.0)
    np.testing.assert_allclose(aspect(east[:, ::-1], 1.0), 270.0)
    # a nodata cell: NaN there, neighbours still exact
    z2 = z.copy()
    z2[3, 3] = np.nan
    s2 = slope_horn(z2, D)
    assert np.isnan(s2[3, 3])
    np.testing.assert_allclose(s2[~np.isnan(z2)], math.degrees(math.atan(0.1)), rtol=1e-12)


def test_slope_horn_weights_by_hand():
    # Horn: dz/dx = ((c + 2f + i) − (a + 2d + g)) / (8·D) on
    # [[1, 2, 4], [1, 3, 5], [2, 2, 6]] at the centre: ((4 + 10 + 6) − (1 + 2 + 2)) / 8 = 1.875;
    # dz/dy(south) = ((2 + 4 + 6) − (1 + 4 + 4)) / 8 = 0.375; slope = atan(hypot) = 62.4339°.
    z = np.array([[1.0, 2, 4], [1, 3, 5], [2, 2, 6]])
    assert slope_horn(z, 1.0)[1, 1] == pytest.approx(
        math.degrees(math.atan(math.hypot(1.875, 0.375)))
    )


# ---------------------------------------------------------------- bad input


def test_bad_input():
    dem = make_dem(plane(20, 20))
    with pytest.raises(InvalidInput, match="lstool.*D8"):
        ls_factor(dem, method="lstool", routing="mfd")
    with pytest.raises(OversizeRequest, match="400 pixels.*limit of 399"):
        ls_factor(dem, max_pixels=399)
    with pytest.raises(InvalidInput, match="s_breaks"):
        ls_factor(dem, method="invest", s_breaks=(5.0, 10.0))
    with pytest.raises(InvalidInput, match="method must be"):
        ls_factor(dem, method="usle")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="channel_threshold_cells"):
        ls_factor(dem, channel_threshold_cells=0)
    with pytest.raises(InvalidInput, match="cutoff"):
        ls_factor(dem, method="lstool", cutoff=(0.5, 1.5))
    with pytest.raises(CRSError, match="projected"):
        ls_factor(make_dem(plane(20, 20), cell=0.001, crs="EPSG:4490"))
    rect = Raster.from_array(
        plane(20, 20), Grid(Affine(10, 0, 0, 0, -20, 400), 20, 20, "EPSG:32650")
    )
    with pytest.raises(InvalidInput, match="square"):
        ls_factor(rect)


def test_ls_options_apply_the_documented_defaults():
    """Defaults as the module docstring states them: lstool when no method is given (the one
    default, DEFAULT_LS_METHOD); D8 and McCool with the CSLE breaks for dg and lstool; MFD,
    InVEST's m and l_max 122 (no S breaks) for invest."""
    assert LSOptions.of().method == DEFAULT_LS_METHOD == "lstool"
    dg = LSOptions.of("dg")
    assert (dg.method, dg.routing, dg.m_mode, dg.s_breaks, dg.l_max) == (
        "dg",
        "d8",
        "mccool",
        (5.14, 10.0),
        None,
    )
    inv = LSOptions.of("invest", l_max=50)
    assert (inv.routing, inv.m_mode, inv.s_breaks, inv.l_max) == ("mfd", "invest", None, 50.0)
    assert LSOptions.of("lstool", s_breaks=(4, 12)).s_breaks == (4.0, 12.0)
    with pytest.raises(InvalidInput, match="lstool.*D8"):
        LSOptions.of("lstool", routing="mfd")
    p = LSOptions.of("lstool").params(10.0)
    assert p["cutoff"] == [0.5, 0.7] and p["cutoff_slope_pct"] == 5.0 and p["x"] is None


def test_raster_wrappers_keep_grid_and_units():
    from geoeco.terrain.slope import aspect_raster, slope_raster

    dem = make_dem(plane(8, 9))
    s = slope_raster(dem)
    a = aspect_raster(dem)
    assert s.grid == dem.grid and s.units == "degree" and a.units == "degree"
    np.testing.assert_allclose(s.array, math.degrees(math.atan(0.1)), rtol=1e-12)
    np.testing.assert_allclose(a.array, 180.0)
