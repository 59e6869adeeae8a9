"""The tiled (windowed) red-line patch stage against the whole-grid reference.

The reference is the whole-grid implementation in geoeco.zoning.patches.grid (``clean_patches`` +
``patch_codes``, one ``scipy.ndimage.label`` over the whole array). The tiled engine labels each
tile separately and joins labels across tile edges; every result here must be *identical* to the
reference, for tile sizes from 1 pixel (every label crosses a tile edge) to larger than the grid.
Hand-made shapes (staircase, spiral, checkerboard) carry expected numbers counted by hand.
"""

from __future__ import annotations

import numpy as np
import pytest
from affine import Affine
from scipy.ndimage import gaussian_filter

from geoeco.core.crs import ALBERS_CHINA
from geoeco.core.raster import Grid, Raster
from geoeco.core.tile_store import DirTileStore, MemoryTileStore, SpoolTileStore
from geoeco.zoning.overlay.run import compute_zones
from geoeco.zoning.patches.grid import clean_patches, patch_codes, pixel_codes, tile_windows
from geoeco.zoning.patches.tiled import (
    TiledRedline,
    clean_patches_tiled,
    patch_codes_tiled,
    tiled_redline,
)
from geoeco.zoning.rules import load_rule_set

TILES = (1, 2, 3, 5, 7, 16, 100)


def reference(bits, barrier, codes, fallback, min_px, hole_px, conn, code_by):
    """The whole-grid pipeline of geoeco.zoning.overlay.run for small grids."""
    mask, stats = clean_patches(
        bits != 0, min_patch_px=min_px, max_hole_px=hole_px, connectivity=conn, barrier=barrier
    )
    if code_by == "patch":
        red = patch_codes(mask, bits, codes, fallback=fallback, connectivity=conn)
    else:
        red = np.where(mask, pixel_codes(bits, codes, fallback), np.uint8(0))
        red[mask & (red == 0)] = fallback
    return red, stats


def tiled(bits, barrier, codes, fallback, min_px, hole_px, conn, code_by, tile, store=None):
    store = MemoryTileStore() if store is None else store
    for t, (r, c, h, w) in enumerate(tile_windows(bits.shape, tile)):
        store.put("bits", t, bits[r : r + h, c : c + w])
        if barrier is not None:
            store.put("barrier", t, barrier[r : r + h, c : c + w])
    tr = tiled_redline(
        bits.shape,
        tile,
        store,
        codes,
        fallback=fallback,
        min_patch_px=min_px,
        max_hole_px=hole_px,
        connectivity=conn,
        code_by=code_by,
    )
    red = np.zeros(bits.shape, np.uint8)
    for win in tr.tiles:
        r, c, h, w = win
        red[r : r + h, c : c + w] = tr.red(win)
    return red, tr.stats


def random_bits(rng, shape, n_bits, smooth):
    bits = np.zeros(shape, np.uint16)
    for i in range(n_bits):
        if smooth:
            f = gaussian_filter(rng.standard_normal(shape), rng.uniform(0.7, 3.0))
            on = f > rng.uniform(-0.2, 0.4) * f.std()
        else:
            on = rng.random(shape) < rng.uniform(0.25, 0.65)
        bits |= on.astype(np.uint16) << i
    return bits


@pytest.mark.parametrize("seed", range(4))
def test_random_masks_identical_to_whole_grid(seed):
    # 12 random cases per seed: salt-and-pepper and smooth masks, 1-4 reason bits (one may not
    # vote), with and without a barrier, both connectivities, both coding modes
    rng = np.random.default_rng(seed)
    for _ in range(12):
        shape = tuple(int(x) for x in rng.integers(1, 40, 2))
        n_bits = int(rng.integers(1, 5))
        bits = random_bits(rng, shape, n_bits, smooth=bool(rng.random() < 0.6))
        barrier = None
        if rng.random() < 0.5:
            barrier = rng.random(shape) < 0.05
            bits[barrier] = 0  # reason bits are ANDed with the AOI in the engine
        codes = [int(c) for c in rng.choice([11, 12, 13, 21, 22], n_bits)]
        if n_bits > 1 and rng.random() < 0.3:
            codes[-1] = None  # e.g. protected areas in "dominant" mode
        args = (
            codes,
            12,
            float(rng.integers(0, 12)),
            float(rng.integers(0, 12)),
            int(rng.choice([4, 8])),
            str(rng.choice(["patch", "pixel"])),
        )
        expect, expect_stats = reference(bits, barrier, *args)
        for tile in TILES if bits.size <= 600 else TILES[1:]:
            red, stats = tiled(bits, barrier, *args, tile)
            assert np.array_equal(red, expect), (shape, args, tile)
            assert stats == expect_stats


def deferred(bits, barrier, codes, fallback, min_px, hole_px, conn, code_by, tile):
    """The tiled engine fed tile by tile (``defer=True``, as pass 1 of compute_zones does)."""
    tr = TiledRedline(
        bits.shape,
        tile,
        MemoryTileStore(),
        codes,
        fallback=fallback,
        min_patch_px=min_px,
        max_hole_px=hole_px,
        connectivity=conn,
        code_by=code_by,
        defer=True,
    )
    for t, (r, c, h, w) in enumerate(tr.tiles):
        sl = (slice(r, r + h), slice(c, c + w))
        tr.add_tile(t, bits[sl], None if barrier is None else barrier[sl])
    tr.finish()
    red = np.zeros(bits.shape, np.uint8)
    for win in tr.tiles:
        r, c, h, w = win
        red[r : r + h, c : c + w] = tr.red(win)
    return red, tr.stats


@pytest.mark.parametrize("seed", range(2))
def test_deferred_build_identical_to_whole_grid(seed):
    # sweep 1 run tile by tile as the tiles arrive (fused into pass 1 of compute_zones) must
    # give the whole-grid reference exactly; same random cases as above
    rng = np.random.default_rng(100 + seed)
    for _ in range(10):
        shape = tuple(int(x) for x in rng.integers(1, 40, 2))
        n_bits = int(rng.integers(1, 4))
        bits = random_bits(rng, shape, n_bits, smooth=bool(rng.random() < 0.6))
        barrier = None
        if rng.random() < 0.5:
            barrier = rng.random(shape) < 0.05
            bits[barrier] = 0
        codes = [int(c) for c in rng.choice([11, 12, 21], n_bits)]
        args = (
            codes,
            12,
            float(rng.integers(0, 12)),
            float(rng.integers(0, 12)),
            int(rng.choice([4, 8])),
            str(rng.choice(["patch", "pixel"])),
        )
        expect, expect_stats = reference(bits, barrier, *args)
        for tile in (1, 3, 7, 100):
            red, stats = deferred(bits, barrier, *args, tile)
            assert np.array_equal(red, expect), (shape, args, tile)
            assert stats == expect_stats


def as_worker(fn, items):
    """A Mapper that runs each item as a cluster worker would: everything pickled and back,
    and in reverse order (a worker may finish any tile first; the join still gets them in
    order)."""
    import pickle

    items = [pickle.loads(pickle.dumps(i)) for i in items]
    done = {k: pickle.loads(pickle.dumps(fn(i))) for k, i in reversed(list(enumerate(items)))}
    return (done[k] for k in range(len(items)))


@pytest.mark.parametrize("seed", range(2))
def test_sweeps_as_pickled_tasks_on_a_dir_store(tmp_path, seed):
    """The distributed form (geoeco.zoning.overlay.distributed): sweep 1 computed by TileOps on its
    own, its TileEdges joined, sweeps 2 and 3 through a worker-like mapper, tiles shared in a
    DirTileStore (one .npy file per tile) — identical to the whole-grid reference."""
    import pickle

    rng = np.random.default_rng(300 + seed)
    for case in range(8):
        shape = tuple(int(x) for x in rng.integers(5, 40, 2))
        n_bits = int(rng.integers(1, 4))
        bits = random_bits(rng, shape, n_bits, smooth=True)
        barrier = rng.random(shape) < 0.05 if case % 2 else None
        if barrier is not None:
            bits[barrier] = 0
        codes = [int(c) for c in rng.choice([11, 12, 21], n_bits)]
        args = (
            codes, 12, float(rng.integers(0, 12)), float(rng.integers(0, 12)),
            int(rng.choice([4, 8])), str(rng.choice(["patch", "pixel"])),
        )  # fmt: skip
        expect, expect_stats = reference(bits, barrier, *args)
        tile = int(rng.choice([3, 7, 16]))
        store = DirTileStore(tmp_path / f"s{seed}-{case}")
        tr = TiledRedline(
            shape, tile, store, args[0], fallback=args[1], min_patch_px=args[2],
            max_hole_px=args[3], connectivity=args[4], code_by=args[5], defer=True,
        )  # fmt: skip
        ops = pickle.loads(pickle.dumps(tr.ops))  # what a worker gets
        for t, (r, c, h, w) in enumerate(tr.tiles):
            sl = (slice(r, r + h), slice(c, c + w))
            store.put("bits", t, bits[sl])
            if barrier is not None:
                store.put("barrier", t, barrier[sl])
            tr.add_edges(t, ops.sweep1(pickle.loads(pickle.dumps(store)), t))
        tr.finish(as_worker)
        red = np.zeros(shape, np.uint8)
        for t, (r, c, h, w) in enumerate(tr.tiles):
            red[r : r + h, c : c + w] = ops.red(store, t, tr.code_values(t))
        assert np.array_equal(red, expect), (shape, args, tile)
        assert tr.stats == expect_stats


def test_deferred_build_needs_tiles_in_order():
    tr = TiledRedline(
        (4, 4), 2, MemoryTileStore(), [11], fallback=12, min_patch_px=2, max_hole_px=0,
        connectivity=8, code_by="patch", defer=True,
    )  # fmt: skip
    with pytest.raises(ValueError, match="expected 0, got 1"):
        tr.add_tile(1, np.ones((2, 2), np.uint16))
    tr.add_tile(0, np.ones((2, 2), np.uint16))
    with pytest.raises(ValueError, match="3 tile"):
        tr.finish()


def staircase(n):
    """A diagonal staircase: n pixels touching only at corners."""
    m = np.zeros((n, n), bool)
    m[np.arange(n), np.arange(n)] = True
    return m


@pytest.mark.parametrize("tile", [1, 2, 3, 4])
def test_staircase_is_one_patch_for_8_and_n_patches_for_4_connectivity(tile):
    # 9 diagonal pixels crossing 9/5/3/3 tiles: 8-connected one patch of 9 (>= 9: kept);
    # 4-connected nine patches of 1 (< 2: all removed)
    m = staircase(9)
    out8, st8 = clean_patches_tiled(m, tile, min_patch_px=9, connectivity=8)
    assert out8.sum() == 9 and st8 == {"removed_px": 0, "filled_px": 0}
    out8, st8 = clean_patches_tiled(m, tile, min_patch_px=10, connectivity=8)
    assert out8.sum() == 0 and st8["removed_px"] == 9
    out4, st4 = clean_patches_tiled(m, tile, min_patch_px=2, connectivity=4)
    assert out4.sum() == 0 and st4["removed_px"] == 9


def spiral(n):
    """A square spiral path of width 1 (walls 1 pixel apart) on an n x n grid, from (0, 0)."""
    m = np.zeros((n, n), bool)
    r, c = 0, 0
    steps = [(0, 1), (1, 0), (0, -1), (-1, 0)]
    k = 0
    m[0, 0] = True
    while True:
        dr, dc = steps[k % 4]
        moved = False
        # advance while the cell two ahead is free (keeps a 1-pixel gap to the last turn)
        while (
            0 <= r + 2 * dr < n
            and 0 <= c + 2 * dc < n
            and not m[r + 2 * dr, c + 2 * dc]
            and not m[r + dr, c + dc]
        ):
            r, c = r + dr, c + dc
            m[r, c] = True
            moved = True
        if not moved:
            return m
        k += 1


@pytest.mark.parametrize("tile", [1, 3, 4, 8])
def test_spiral_spanning_many_tiles(tile):
    m = spiral(17)
    n = int(m.sum())
    assert n == 136  # segments of 16, 15, 14, ..., 1 pixels: 16 * 17 / 2
    # the reference counts it as one 4-connected patch; the tiled engine must agree
    from scipy import ndimage

    assert ndimage.label(m)[1] == 1
    out, st = clean_patches_tiled(m, tile, min_patch_px=n, connectivity=4)
    assert out.sum() == n and st["removed_px"] == 0
    out, st = clean_patches_tiled(m, tile, min_patch_px=n + 1, connectivity=4)
    assert out.sum() == 0 and st["removed_px"] == n
    # its corridor (the background) is one 4-connected region reaching the grid edge: no hole
    out, st = clean_patches_tiled(m, tile, max_hole_px=10_000, connectivity=8)
    ref, ref_st = clean_patches(m, max_hole_px=10_000, connectivity=8)
    assert np.array_equal(out, ref) and st == ref_st


@pytest.mark.parametrize("tile", [1, 2, 3, 5])
def test_checkerboard(tile):
    # 8x8 checkerboard, 32 foreground pixels. 8-connected: one patch of 32; its 4-connected
    # background is 32 single pixels, of which those not on the grid edge are holes:
    # interior 6x6 = 36 pixels, half background = 18 holes of 1 pixel, all filled.
    m = np.add.outer(np.arange(8), np.arange(8)) % 2 == 0
    out, st = clean_patches_tiled(m, tile, min_patch_px=32, max_hole_px=1, connectivity=8)
    assert st == {"removed_px": 0, "filled_px": 18}
    assert out.sum() == 32 + 18
    # 4-connected: 32 patches of 1, all removed by min 2
    out, st = clean_patches_tiled(m, tile, min_patch_px=2, connectivity=4)
    assert out.sum() == 0 and st["removed_px"] == 32
    # 4-connected patches, 8-connected background: one background region touching the edge
    out, st = clean_patches_tiled(m, tile, max_hole_px=100, connectivity=4)
    assert st["filled_px"] == 0


@pytest.mark.parametrize("tile", [1, 2, 3])
def test_hole_opened_by_barrier_in_another_tile(tile):
    # 6x6 ring of red line (rows/cols 0 and 5) around a 4x4 gap = 16 pixels, a hole (<= 16).
    # A barrier (outside the AOI) pixel at (1, 1), inside the gap, makes the gap open: the
    # gap's pixels (2, 2) etc. lie in other tiles than the barrier for tile sizes 1-3.
    m = np.ones((6, 6), bool)
    m[1:5, 1:5] = False
    out, st = clean_patches_tiled(m, tile, max_hole_px=16)
    assert out.all() and st["filled_px"] == 16
    bar = np.zeros((6, 6), bool)
    bar[1, 1] = True
    out, st = clean_patches_tiled(m, tile, max_hole_px=16, barrier=bar)
    assert st["filled_px"] == 0 and out.sum() == 20
    # max 15 < 16: not filled even without the barrier
    assert clean_patches_tiled(m, tile, max_hole_px=15)[1]["filled_px"] == 0


@pytest.mark.parametrize("tile", [1, 2, 4])
def test_dominant_code_counts_votes_across_tiles(tile):
    # one 1x8 patch; bit 0 (code 21) on 3 pixels, bit 1 (code 11) on 3 pixels, bit 2 (code
    # 13) on 2: tie 3-3 between 21 and 11 goes to the first listed (21). A pixel with two
    # bits votes twice. Second row: a separate patch (row gap) with no voting bit: fallback.
    bits = np.array(
        [
            [1, 1, 1, 2, 2, 2, 4, 4],
            [0, 0, 0, 0, 0, 0, 0, 0],
            [8, 8, 0, 0, 0, 0, 0, 0],
        ],
        np.uint16,
    )
    red = patch_codes_tiled(bits != 0, bits, [21, 11, 13, None], tile, fallback=12)
    assert red[0].tolist() == [21] * 8
    assert red[2].tolist() == [12, 12, 0, 0, 0, 0, 0, 0]
    bits[0, 7] = 6  # now 11 has 4 votes (3 + the double-bit pixel), 21 has 3
    red = patch_codes_tiled(bits != 0, bits, [21, 11, 13, None], tile, fallback=12)
    assert red[0].tolist() == [11] * 8


def test_spool_store_round_trip_and_size():
    with SpoolTileStore() as s:
        a = np.arange(12, dtype=np.uint16).reshape(3, 4)
        b = np.array([[True, False, True], [False, False, True]])
        c = np.arange(-3, 3, dtype=np.int32)
        s.put("a", 0, a)
        s.put("b", 0, b)
        s.put("c", 5, c)
        assert s.get("a", 0).tolist() == a.tolist() and s.get("a", 0).dtype == np.uint16
        assert s.get("b", 0).tolist() == b.tolist()
        assert s.get("c", 5).tolist() == c.tolist()
        assert s.get("a", 1) is None
        # 24 bytes of uint16, 6 booleans packed into 1 byte, 24 bytes of int32
        assert s.nbytes == 24 + 1 + 24


def test_tiled_engine_with_spool_store_matches():
    rng = np.random.default_rng(42)
    bits = random_bits(rng, (50, 61), 3, smooth=True)
    args = ([11, 21, 12], 12, 6.0, 5.0, 8, "patch")
    expect, est = reference(bits, None, *args)
    with SpoolTileStore() as store:
        red, st = tiled(bits, None, *args, 16, store=store)
    assert np.array_equal(red, expect) and st == est


def _stack(rng, shape):
    g = Grid(Affine(250, 0, 0, 0, -250, 4_000_000), shape[1], shape[0], ALBERS_CHINA)
    tables = {
        "importance_water_conservation": 3,
        "importance_biodiversity": 3,
        "importance_soil_conservation": 3,
        "importance_windbreak": 3,
        "sensitivity_soil_erosion": 5,
        "sensitivity_sanding": 5,
        "erosion_grade": 6,
        "desertification_degree": 5,
    }
    layers = {}
    for name, n in tables.items():
        f = gaussian_filter(rng.standard_normal(shape), 2.0)
        f = f / f.std() + 0.3 * rng.standard_normal(shape)
        cls = np.clip(np.digitize(f, np.linspace(-0.5, 1.2, n - 1)) + 1, 1, n).astype("uint8")
        cls[rng.random(shape) < 0.02] = 0  # nodata
        layers[name] = Raster.from_array(cls, g, nodata=0)
    return g, layers


@pytest.mark.parametrize("block", [7, 16, 64])
def test_compute_zones_windowed_equals_whole_grid(block, tmp_path):
    # the default rule set at 250 m: 1 km² = 16 pixels minimum patch and maximum hole
    rng = np.random.default_rng(block)
    g, layers = _stack(rng, (53, 47))
    aoi_arr = np.ones(g.shape, bool)
    aoi_arr[:, :5] = False
    aoi_arr[40:, 30:] = False
    aoi = Raster(np.ma.MaskedArray(aoi_arr), g, None, "aoi")
    rules = load_rule_set("default")
    for a in (None, aoi):
        whole = compute_zones(rules, layers, g, aoi=a, block_size=block, patch_mode="whole")
        win = compute_zones(
            rules, layers, g, aoi=a, block_size=block, patch_mode="windowed", scratch_dir=tmp_path
        )
        for name in ("zone_class", "redline", "flags"):
            x, y = getattr(whole, name).array, getattr(win, name).array
            assert np.array_equal(x.filled(0), y.filled(0)) and np.array_equal(x.mask, y.mask)
        sw, sn = whole.summary, win.summary
        assert sw.area_km2 == sn.area_km2 and sw.redline_km2 == sn.redline_km2
        cw, cn = sw.redline_cleanup, sn.redline_cleanup
        assert (cw.removed_km2, cw.filled_km2) == (cn.removed_km2, cn.filled_km2)
        assert cw.removed_km2 > 0 and cw.filled_km2 > 0  # the clean-up did something
        assert cn.method.startswith("tiled") and cw.method.startswith("whole-grid")
    assert list(tmp_path.iterdir()) == []  # the spool file is gone


def test_windowed_outputs_to_files(tmp_path):
    from geoeco.core.io import read_raster

    rng = np.random.default_rng(3)
    g, layers = _stack(rng, (40, 33))
    whole = compute_zones("default", layers, g, block_size=16, patch_mode="whole")
    res = compute_zones(
        "default", layers, g, block_size=16, patch_mode="windowed", out_dir=tmp_path / "o"
    )
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == [
        "flags.tif",
        "redline.tif",
        "zone_class.tif",
    ]
    red = read_raster(res.redline).array
    assert np.array_equal(red.filled(255), whole.redline.array.filled(255))


def _same_partition(a, b):
    """Whether two label arrays (0 = none) split the pixels into the same groups."""
    if not np.array_equal(a > 0, b > 0):
        return False
    pairs = np.unique(np.column_stack([a[a > 0], b[b > 0]]), axis=0)
    return len(pairs) == len(np.unique(a[a > 0])) == len(np.unique(b[b > 0]))


@pytest.mark.parametrize("seed", range(3))
def test_sweep3_relabel_gives_the_patches_of_a_fresh_labelling(seed):
    """The final patches numbered from the sweep-1 and sweep-2 labels (no third labelling) are
    the 8-connected components of the cleaned mask that ``scipy.ndimage.label`` finds, on
    random tiles with random keep/fill decisions and barriers (decisions need not follow the
    size rules: the invariant holds for any), and the counts equal the pixel counts."""
    from scipy import ndimage

    from geoeco.zoning.patches.relabel import final_labels

    rng = np.random.default_rng(100 + seed)
    eight, four = np.ones((3, 3), bool), ndimage.generate_binary_structure(2, 1)
    for _ in range(40):
        shape = tuple(int(x) for x in rng.integers(1, 60, 2))
        mask = random_bits(rng, shape, 1, smooth=bool(rng.random() < 0.5)) != 0
        bar = rng.random(shape) < (0.05 if rng.random() < 0.5 else 0.0)
        mask &= ~bar
        lab1, n1 = ndimage.label(mask, structure=eight)
        keep = rng.random(n1 + 1) < 0.7
        keep[0] = False
        out = keep[lab1]
        lab2, n2 = ndimage.label(~out & ~bar, structure=four)
        fill = rng.random(n2 + 1) < 0.6
        fill[0] = False
        # a hole touching a barrier by a side is open (never filled): as sweep 2 decides
        near = ndimage.binary_dilation(bar, structure=four)
        fill[np.unique(lab2[near])] = False
        final = out | fill[lab2]
        want, _ = ndimage.label(final, structure=eight)
        got, n, removed, filled = final_labels(lab1.astype(np.uint16), keep, lab2, fill)
        assert _same_partition(got, want), shape
        assert n == len(np.unique(want[want > 0]))
        assert set(np.unique(got[got > 0]).tolist()) == set(range(1, n + 1))
        assert removed == int(np.count_nonzero(mask & ~out))
        assert filled == int(np.count_nonzero(fill[lab2]))
        got, n, removed, _ = final_labels(lab1, keep, None, None)  # no hole filling
        assert _same_partition(got, lab1 * out) and removed == int(np.count_nonzero(mask & ~out))


def test_sweep3_relabel_is_used_where_the_invariant_holds():
    """The relabelling path runs for 8-connected patches coded per patch after sweep 1 (and
    for 4-connected ones only without hole filling); the tiled result still equals the
    whole-grid reference on a case with holes spanning tile edges."""
    from geoeco.zoning.patches.tiled import TileOps

    def ops(min_px, hole_px, conn, code_by):
        return TileOps((4, 4), 2, (11,), 12, min_px, hole_px, conn, code_by)

    assert ops(2, 4, 8, "patch").relabel and ops(2, 0, 4, "patch").relabel
    assert not ops(2, 4, 4, "patch").relabel
    assert not ops(0, 4, 8, "patch").relabel and not ops(2, 4, 8, "pixel").relabel
    bits = np.zeros((9, 10), np.uint16)
    bits[1:8, 1:8] = 1
    bits[3:6, 3:6] = 0  # a 9-pixel hole across tiles of 4
    bits[4, 4] = 2  # ... with a 1-pixel patch inside it (dropped, then filled)
    bits[0, 9] = 1  # a 1-pixel patch in the corner (dropped)
    args = ([11, 21], 12, 2.0, 9.0, 8, "patch")
    expect, stats = reference(bits, None, *args)
    assert stats == {"removed_px": 2, "filled_px": 9}  # by hand
    assert int(np.count_nonzero(expect)) == 49
    for tile in (2, 3, 4, 10):
        red, st = tiled(bits, None, *args, tile)
        assert np.array_equal(red, expect) and st == stats


def test_threaded_writers_write_every_window_and_clean_up_after_an_error(tmp_path):
    """The output writers (one thread each, COG conversion side by side) write exactly the
    windows given; a failing write or a failing run leaves no file and no thread behind."""
    import threading

    from geoeco.core.io import open_raster_writer, read_raster
    from geoeco.zoning.overlay.outputs import ThreadedWriters

    g = Grid(Affine(1000, 0, 0, 0, -1000, 4_000_000), 5, 3, ALBERS_CHINA)
    a = np.arange(15, dtype=np.uint8).reshape(3, 5)

    def factory(name):
        return lambda: open_raster_writer(tmp_path / name, g, dtype="uint8", nodata=255)

    with ThreadedWriters([factory("a.tif"), factory("b.tif")]) as w:
        for win in g.blocks(2):
            r, c, h, wd = win
            w.write(win, a[r : r + h, c : c + wd], 200 - a[r : r + h, c : c + wd])
    assert read_raster(tmp_path / "a.tif").array.tolist() == a.tolist()
    assert read_raster(tmp_path / "b.tif").array.tolist() == (200 - a).tolist()
    before = threading.active_count()
    with pytest.raises(ValueError), ThreadedWriters([factory("c.tif"), factory("d.tif")]) as w:
        w.write((0, 0, 3, 5), a, a)
        w.wait()
        raise ValueError("the run failed")
    with pytest.raises(ValueError, match="invalid literal"):
        with ThreadedWriters([factory("e.tif")]) as w:
            w.write((0, 0, 1, 1), np.array([["x"]]))  # fails in the writer thread
            w.write((0, 0, 3, 5), a)  # ... and is raised here
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.tif", "b.tif"]
    assert threading.active_count() == before


def test_label_tile_equals_ndimage_label():
    """The GIL-free tile labelling gives the very labels (same numbers) scipy.ndimage.label
    gives, for both connectivities, on random masks of every density."""
    from scipy import ndimage

    from geoeco.zoning.patches.label import label_tile

    rng = np.random.default_rng(11)
    four = ndimage.generate_binary_structure(2, 1)
    for _ in range(200):
        shape = tuple(int(x) for x in rng.integers(1, 45, 2))
        m = rng.random(shape) < rng.uniform(0.05, 0.95)
        if rng.random() < 0.3:
            m = gaussian_filter(rng.standard_normal(shape), 1.5) > 0
        for conn, st in ((8, np.ones((3, 3), bool)), (4, four)):
            want, n = ndimage.label(m, structure=st)
            got, k = label_tile(m, conn)
            assert k == n and np.array_equal(got, want), (shape, conn)


@pytest.mark.parametrize("seed", range(2))
def test_sweeps_on_threads_identical_to_whole_grid(seed):
    """Sweeps 2 and 3 run on 3 threads over a spool store (one call at a time) give the
    whole-grid reference, both connectivities, with barriers."""
    rng = np.random.default_rng(50 + seed)
    for _ in range(8):
        shape = tuple(int(x) for x in rng.integers(5, 50, 2))
        bits = random_bits(rng, shape, 2, smooth=bool(rng.random() < 0.6))
        barrier = rng.random(shape) < 0.04
        bits[barrier] = 0
        conn = int(rng.choice([4, 8]))
        args = ([11, 21], 12, float(rng.integers(1, 10)), float(rng.integers(1, 10)), conn, "patch")
        expect, expect_stats = reference(bits, barrier, *args)
        for tile in (3, 7, 16):
            with SpoolTileStore() as store:
                tr = TiledRedline(
                    bits.shape,
                    tile,
                    store,
                    args[0],
                    fallback=12,
                    min_patch_px=args[2],
                    max_hole_px=args[3],
                    connectivity=conn,
                    code_by="patch",
                    defer=True,
                )
                for t, (r, c, h, w) in enumerate(tr.tiles):
                    sl = (slice(r, r + h), slice(c, c + w))
                    tr.add_tile(t, bits[sl], barrier[sl])
                tr.finish(threads=3)
                red = np.zeros(bits.shape, np.uint8)
                for win in tr.tiles:
                    r, c, h, w = win
                    red[r : r + h, c : c + w] = tr.red(win)
            assert np.array_equal(red, expect), (shape, conn, tile)
            assert tr.stats == expect_stats
