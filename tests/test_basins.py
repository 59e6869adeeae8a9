"""Basin tiling (geoeco.terrain.basins) and LS routed tile by tile (geoeco.terrain.ls_tiled).

The synthetic DEM is built so that its basins are known by construction: two rows of
rectangular blocks, each block a tilted V valley draining to the outer (north or south) edge,
every block fenced by a flat-topped crest (constant elevation, higher than any valley cell,
two cells wide where blocks meet). No cell has a lower neighbour across a crest, so neither
D8 nor MFD flow crosses it, and each block is a basin. Tiles made of whole blocks must then
reproduce the whole-DEM run bit for bit: that is the expected value of the exactness tests
(the reference is :func:`geoeco.terrain.ls.ls_factor` on the whole DEM).
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
from affine import Affine
from shapely.geometry import box

from geoeco.core.errors import EmptyArea, OversizeRequest
from geoeco.core.io import read_raster, write_raster
from geoeco.core.raster import Grid, Raster
from geoeco.terrain.basins import (
    basins_from_layer,
    derive_basins,
    merge_small_basins,
    plan_tiles,
)
from geoeco.terrain.ls import ls_factor
from geoeco.terrain.ls_tiled import ls_factor_tiled

H, W, NBC, CELL = 20, 15, 5, 10.0  # block rows, block columns, blocks per row, metres
X0, Y0 = 500000.0, 4000000.0
CASES = [
    ("dg", "d8"),
    ("dg", "mfd"),
    ("lstool", "d8"),
    ("invest", "mfd"),
    ("invest", "mfd-invest"),
]


def blocks_dem(nbc: int = NBC, h: int = H, w: int = W, noise: float = 0.0) -> np.ndarray:
    """2 x ``nbc`` blocks of ``h`` x ``w`` cells; see the module docstring."""
    r, c = np.indices((2 * h, nbc * w))
    lr, lc = r % h, c % w
    top = r < h
    u = np.where(top, lr, h - 1 - lr)  # cells from the outlet edge
    z = 100.0 + 1.0 * u + 2.0 * np.abs(lc - (w - 1) / 2)
    if noise:
        z += np.random.default_rng(7).uniform(0.0, noise, z.shape)  # pits get filled
    crest = (lc == 0) | (lc == w - 1) | np.where(top, lr == h - 1, lr == 0)
    z[crest] = 100.0 + h + w + 10.0  # above every valley cell (max 100 + h + w + noise)
    return z


@pytest.fixture
def dem_file(tmp_path: Path) -> Path:
    z = blocks_dem(noise=3.0)
    z[25:28, 20:23] = np.nan  # a nodata hole inside block (1, 1): more outlets
    grid = Grid(Affine(CELL, 0, X0, 0, -CELL, Y0), z.shape[1], z.shape[0], "EPSG:32650")
    path = tmp_path / "dem.tif"
    write_raster(Raster.from_array(z.astype(np.float32), grid, units="m"), path)
    return path


def block_layer(nbc: int = NBC) -> gpd.GeoDataFrame:
    """The blocks as polygons (pixel-aligned rectangles)."""
    geoms = [
        box(X0 + j * W * CELL, Y0 - (i + 1) * H * CELL, X0 + (j + 1) * W * CELL, Y0 - i * H * CELL)
        for i in range(2)
        for j in range(nbc)
    ]
    return gpd.GeoDataFrame(geometry=geoms, crs="EPSG:32650")


def _arr(r: Raster) -> np.ndarray:
    return np.ma.filled(r.array.astype(np.float64), np.nan)


def _assert_same_as_whole(dem_file: Path, out: Path, plan, method: str, routing: str) -> None:  # type: ignore[no-untyped-def]
    whole = ls_factor(read_raster(dem_file, units="m"), method=method, routing=routing)
    res = ls_factor_tiled(dem_file, out, basins=plan, method=method, routing=routing)
    assert res.tiles_routed == len(plan.tiles) > 1
    for name, ref in [
        ("flow_acc", whole.flow_acc),
        ("ls", whole.ls),
        ("l", whole.l),
        ("s", whole.s),
        ("slope", whole.slope_deg),
    ]:
        got = _arr(read_raster(res.paths[name]))
        assert np.array_equal(got, _arr(ref), equal_nan=True), (method, routing, name)


def test_derived_basins_are_the_blocks(dem_file: Path) -> None:
    """Coarse cells of 5 x 5 align with the crests (20 and 15 are multiples of 5), so the
    coarse D8 basins are the 10 blocks, 4 x 3 coarse cells each, numbered in reading order
    of their first cell; the nodata hole (3 x 3 px) stays inside one coarse-valid block."""
    plan = derive_basins(dem_file, factor=5, min_area_km2=0, budget_pixels=1000)
    expected = np.kron(np.arange(1, 11).reshape(2, 5), np.ones((4, 3), dtype=int))
    assert np.array_equal(plan.coarse_labels, expected)
    assert plan.n_basins == 10


@pytest.mark.parametrize(("method", "routing"), CASES)
def test_tiled_equals_whole_with_derived_basins(
    dem_file: Path, tmp_path: Path, method: str, routing: str
) -> None:
    """Derived basins follow the true divides here, so every output equals the whole run."""
    plan = derive_basins(dem_file, factor=5, min_area_km2=0, budget_pixels=1000)
    _assert_same_as_whole(dem_file, tmp_path / "out", plan, method, routing)


@pytest.mark.parametrize(("method", "routing"), [("dg", "d8"), ("invest", "mfd")])
def test_tiled_equals_whole_with_basin_layer(
    dem_file: Path, tmp_path: Path, method: str, routing: str
) -> None:
    """The blocks given as polygons: same exact equality."""
    plan = basins_from_layer(dem_file, block_layer(), budget_pixels=1000)
    assert plan.source == "layer" and plan.n_basins == 10
    _assert_same_as_whole(dem_file, tmp_path / "out", plan, method, routing)


def test_tiles_cover_every_valid_pixel_once_within_budget(dem_file: Path) -> None:
    """Summing the tile masks gives 1 on each of the 40 x 75 - 9 valid pixels, 0 on the
    hole; every window is within the 1000-pixel budget; a block window is at most
    (20 + 2 halo) x (15 + 2 x 2 halo) = 418 pixels, so 1000 holds at most two blocks."""
    dem = read_raster(dem_file)
    valid = ~np.ma.getmaskarray(dem.array)
    for plan in (
        derive_basins(dem_file, factor=5, min_area_km2=0, budget_pixels=1000),
        basins_from_layer(dem_file, block_layer(), budget_pixels=1000),
    ):
        count = np.zeros(valid.shape, dtype=int)
        for t in plan.tiles:
            r0, c0, h, w = t.window
            assert h * w <= 1000 and not t.oversize
            assert len(t.basin_ids) <= 2
            sub = valid[r0 : r0 + h, c0 : c0 + w]
            count[r0 : r0 + h, c0 : c0 + w] += plan.tile_mask(t, sub)
        assert count.sum() == 40 * 75 - 9
        assert np.array_equal(count, valid.astype(int))
        assert len(plan.tiles) >= 5  # 10 basins, at most two per tile


def test_oversize_basin_routed_whole_or_refused(dem_file: Path, tmp_path: Path) -> None:
    """Budget 300 < one block's window (418 px): each block becomes its own oversize tile,
    still exact; with a routing limit of 400 pixels the 418-pixel (22 x 19) window of block
    1 is refused, and the message gives its size."""
    plan = derive_basins(dem_file, factor=5, min_area_km2=0, budget_pixels=300)
    assert len(plan.tiles) == 10 and all(t.oversize for t in plan.tiles)
    assert max(t.window_pixels for t in plan.tiles) == 22 * 19
    _assert_same_as_whole(dem_file, tmp_path / "out", plan, "dg", "d8")
    with pytest.raises(OversizeRequest, match=r"22 x 19 = 418 pixels.*limit of 400"):
        derive_basins(dem_file, factor=5, min_area_km2=0, budget_pixels=300, max_pixels=400)


def test_layer_pixels_outside_polygons_get_no_value(dem_file: Path, tmp_path: Path) -> None:
    """Only the first two blocks as polygons: their 2 x 300 pixels get values equal to the
    whole run (they are whole basins); every other pixel is nodata."""
    plan = basins_from_layer(dem_file, block_layer().iloc[:2], budget_pixels=1000)
    res = ls_factor_tiled(dem_file, tmp_path / "o", basins=plan, outputs=("ls", "flow_acc"))
    assert sorted(res.paths) == ["flow_acc", "ls"]
    acc = _arr(read_raster(res.paths["flow_acc"]))
    whole = _arr(ls_factor(read_raster(dem_file, units="m")).flow_acc)
    inside = np.zeros(acc.shape, dtype=bool)
    inside[:20, :30] = True
    assert np.isfinite(acc).sum() == 600
    assert np.array_equal(acc[inside], whole[inside])


def test_merge_small_basins_and_plan_errors() -> None:
    """Hand-made labels: basin 2 (2 cells) shares 2 edges with 1 and 1 with 3, so it joins
    basin 1; basin 3 has 3 cells and stays. An all-zero label grid is an empty area."""
    lab = np.array([[1, 1, 2], [1, 1, 2], [3, 3, 3]])
    assert merge_small_basins(lab, 3).tolist() == [[1, 1, 1], [1, 1, 1], [2, 2, 2]]
    grid = Grid(Affine(10, 0, 0, 0, -10, 30), 3, 3, "EPSG:32650")
    with pytest.raises(EmptyArea):
        plan_tiles(grid, np.zeros((3, 3), dtype=np.int32), factor=1)


@pytest.mark.realdata
def test_real_dem_tiled_vs_whole(shared_testdata: Path, tmp_path: Path) -> None:
    """InVEST's Willamette 30 m DEM, rows 400-1199 x columns 450-1009 (428 222 valid of
    448 000 pixels; cropping makes many basins drain to the crop's edges). Basins derived on
    8 x 8 coarse cells (240 m), merged below 1 km², tiles of at most 60 000 pixels: 12 basins
    in 5 tiles (the largest basin routed whole). Coarse divides miss the fine ones in places,
    so near divides flow is lost or kept differently. Measured (this code, 2026-11):

    ========  ===============  ============  ==========  =========================
    routing   acc identical    LS identical  |ΔLS| >10%  mean LS whole / tiled
    ========  ===============  ============  ==========  =========================
    dg, D8    97.39 %          97.44 %       1.11 %      10.766 / 10.676 (-0.84 %)
    invest    84.65 %          88.97 %       0.16 %      2.1603 / 2.1575 (-0.13 %)
    ========  ===============  ============  ==========  =========================

    (MFD spreads flow over every lower neighbour, so a divide that is off by a cell changes
    more cells downstream, though by less.) For comparison, masking the other basins as
    nodata instead (no halo context) gives 97.05 % / 83.90 % identical accumulation. The
    asserts are floors a little under the measured values.
    """
    import rasterio.shutil

    grid = shared_testdata / "invest3_willamette_sdr_partial" / "sediment_test_data" / "dem"
    src = tmp_path / "dem.tif"  # an ArcInfo grid; geoeco reads GeoTIFF only
    rasterio.shutil.copy(grid, src, driver="GTiff")
    crop = tmp_path / "crop.tif"
    write_raster(read_raster(src, window=(400, 450, 800, 560), units="m"), crop)
    dem = read_raster(crop, units="m")
    plan = derive_basins(crop, factor=8, min_area_km2=1.0, budget_pixels=60_000)
    assert (len(plan.tiles), plan.n_basins) == (5, 12)
    floors = {"d8": (0.97, 0.015, 0.012), "mfd": (0.84, 0.004, 0.003)}
    for method, routing in [("dg", "d8"), ("invest", "mfd")]:
        # LS on every pixel (invest leaves streams out by default): the measure is LS itself
        kw = {"method": method, "routing": routing, "exclude_streams": False}
        whole = ls_factor(dem, **kw)
        res = ls_factor_tiled(crop, tmp_path / method, basins=plan, **kw)
        a, b = _arr(whole.flow_acc), _arr(read_raster(res.paths["flow_acc"]))
        v = np.isfinite(a)
        assert np.array_equal(v, np.isfinite(b))  # every valid pixel computed once
        la, lb = _arr(whole.ls)[v], _arr(read_raster(res.paths["ls"]))[v]
        rel = np.abs(lb - la) / la
        same_floor, big_cap, mean_tol = floors[routing]
        assert np.mean(a[v] == b[v]) >= same_floor
        assert np.mean(rel > 0.10) <= big_cap
        assert abs(lb.mean() / la.mean() - 1) <= mean_tol


def test_basin_layer_cut_above_its_outlet(dem_file: Path, tmp_path: Path) -> None:
    """A polygon over rows 5-19 of block (0, 1) leaves out the block's outlet (row 0), so
    its window (rows 3-21, columns 13-31) holds no DEM border or nodata: the window's edge
    drains instead. Flow runs north, so the polygon still holds everything upstream of its
    cells, and D8 accumulation inside it equals the whole run's except where a filled pit
    straddles the cut (the noise is at most 3 m; here none does: all 225 cells
    equal). With MFD they would not all be: noise makes some cells of row 4 higher than a
    neighbour in row 5, which then receives flow from outside the polygon."""
    poly = box(X0 + 15 * CELL, Y0 - 20 * CELL, X0 + 30 * CELL, Y0 - 5 * CELL)
    layer = gpd.GeoDataFrame(geometry=[poly], crs="EPSG:32650")
    res = ls_factor_tiled(dem_file, tmp_path / "o", basins=layer, outputs=("flow_acc",))
    assert res.plan is not None and res.plan.tiles[0].window == (3, 13, 19, 19)
    acc = _arr(read_raster(res.paths["flow_acc"]))
    whole = _arr(ls_factor(read_raster(dem_file, units="m")).flow_acc)
    assert np.isfinite(acc).sum() == 15 * 15
    inside = np.zeros(acc.shape, dtype=bool)
    inside[5:20, 15:30] = True
    assert np.array_equal(acc[inside], whole[inside])
