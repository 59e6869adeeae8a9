"""The overlay engine on hand-made grids whose every zone is worked out in the comments.

Grid: 6x6 pixels of 100 m in ALBERS_CHINA, top-left corner (0, 4_000_000), so one pixel is
0.01 km² and pixel (row r, col c) spans x 100c..100(c+1), y 4e6-100(r+1)..4e6-100r.
"""

from __future__ import annotations

import copy
import json

import geopandas as gpd
import numpy as np
import pytest
from affine import Affine
from shapely.affinity import rotate
from shapely.geometry import Point, box

from geoeco.core.crs import ALBERS_CHINA
from geoeco.core.errors import (
    CRSError,
    EmptyArea,
    GridMismatch,
    InvalidInput,
    LayerNotFound,
    OversizeRequest,
)
from geoeco.core.raster import Grid, Raster
from geoeco.zoning.overlay import kernels, redline
from geoeco.zoning.overlay import run as overlay
from geoeco.zoning.overlay.inputs import LayerInput
from geoeco.zoning.overlay.run import compute_zones, prepare
from geoeco.zoning.overlay.vector import compute_zones_vector
from geoeco.zoning.patches.grid import clean_patches, patch_codes
from geoeco.zoning.rules import parse_rule_set

Y0 = 4_000_000
G = Grid(Affine(100, 0, 0, 0, -100, Y0), 6, 6, ALBERS_CHINA)

RULES = {
    "name": "hand",
    "version": "1",
    "title_en": "hand-made",
    "inputs": {
        "imp_w": {"table": "CumShare(0.5,0.8)"},
        "imp_b": {"table": "CumShare(0.5,0.8)"},
        "sens_e": {"table": "EcoZoning-interim/water-erosion"},
        "ero": {"table": "SL190-2007/water"},
        "des": {"table": "WangTao-2003"},
        "parks": {"kind": "mask", "role": "protected"},
        "dev": {"kind": "mask", "role": "development"},
        "tn": {"kind": "mask"},
        "ji": {"kind": "mask", "select": {"battle_id": "ji_bend"}},
    },
    "redline": {
        "reasons": [
            {"input": "imp_w", "min_class": 3, "code": 11},
            {"input": "imp_b", "min_class": 3, "code": 12},
            {"input": "sens_e", "min_class": 5, "code": 21},
        ],
        "protected": {"inputs": ["parks"], "code": 12, "mode": "dominant"},
    },
    "priority": {
        "criteria": [
            {"input": "imp_w", "min_class": 2},
            {"input": "imp_b", "min_class": 2},
            {"input": "sens_e", "min_class": 4},
        ]
    },
    "key": {
        "criteria": [{"input": "ero", "min_class": 3}, {"input": "des", "min_class": 3}],
        "masks": ["dev"],
    },
    "attributes": {"three_north": "tn", "battles": {"ji_bend": "ji"}},
}


def rules(**changes: object):
    d = copy.deepcopy(RULES)
    for path, v in changes.items():
        node = d
        keys = path.split("__")
        for k in keys[:-1]:
            node = node[k]
        node[keys[-1]] = v
    return parse_rule_set(d)


def R(rows, grid=G):  # noqa: N802 - short factory for a uint8 class raster, 0 = nodata
    return Raster.from_array(np.array(rows, dtype="uint8"), grid, nodata=0)


def cells(r0, c0, r1, c1, y0=Y0, res=100):
    """Polygon covering pixel rows r0..r1-1 and cols c0..c1-1."""
    return box(c0 * res, y0 - r1 * res, c1 * res, y0 - r0 * res)


def frame(geoms, **cols):
    return gpd.GeoDataFrame(cols, geometry=list(geoms), crs=ALBERS_CHINA)


ONES = [[1] * 6 for _ in range(6)]
IMP_W = [
    [3, 3, 1, 1, 1, 1],
    [3, 3, 1, 1, 1, 1],
    [1, 1, 2, 1, 1, 1],
    [1, 1, 1, 0, 1, 1],  # (3,3) nodata -> priority undecided -> zone 0
    [1, 1, 1, 1, 1, 1],
    [1, 1, 1, 1, 1, 1],
]
IMP_B = [[1, 3, 1, 1, 1, 1]] + [[1] * 6 for _ in range(5)]
SENS_E = [
    [1, 1, 1, 1, 5, 5],
    [1, 1, 1, 1, 5, 1],
    [1, 1, 1, 1, 1, 4],
    [1] * 6,
    [1] * 6,
    [1] * 6,
]
ERO = [
    [5, 1, 1, 1, 1, 1],  # (0,0) erosion 5 but priority wins
    [1] * 6,
    [1, 1, 1, 3, 1, 1],  # (2,3) moderate erosion -> key
    [1] * 6,
    [1, 1, 4, 1, 1, 1],  # (4,2) erosion 4 -> key even though des is nodata there
    [1, 1, 1, 0, 1, 1],  # (5,3) erosion nodata, des 1 -> key undecided -> 0
]
DES = [
    [1] * 6,
    [1] * 6,
    [1] * 6,
    [3, 1, 1, 1, 1, 1],  # (3,0) moderate desertification -> key
    [1, 1, 0, 1, 1, 1],
    [1] * 6,
]


def hand_layers(**over):
    layers = {
        "imp_w": R(IMP_W),
        "imp_b": R(IMP_B),
        "sens_e": R(SENS_E),
        "ero": R(ERO),
        "des": R(DES),
        # national park over rows 4-5, cols 0-1; an approximation (like the built-in layer)
        "parks": LayerInput(frame([cells(4, 0, 6, 2)]), status="approximation", role="protected"),
        "dev": frame([cells(5, 5, 6, 6)]),  # pixel (5,5)
        "tn": frame([cells(0, 0, 6, 3)]),  # left half: flag 4
        "ji": frame(
            [cells(0, 0, 1, 6), cells(5, 0, 6, 6)],  # only row 0 is ji_bend
            battle_id=["ji_bend", "horqin_hunshandake"],
        ),
    }
    layers.update(over)
    return layers


# Worked by hand from the arrays above:
#  red line: patch A (0,0),(0,1),(1,0),(1,1): votes 11 x4, 12 x1 -> 11;
#            patch B (0,4),(0,5),(1,4): 21 x3 -> 21; park (4..5, 0..1): no assessed reason -> 12.
#  priority also: (2,2) imp_w = 2, (2,5) sens_e = 4.  13 pixels in all.
#  key: (2,3) ero 3, (3,0) des 3, (4,2) ero 4, (5,5) development.  4 pixels.
#  nodata: (3,3) imp_w missing, (5,3) erosion missing and nothing true.  2 pixels.
EXPECTED_ZONE = [
    [1, 1, 3, 3, 1, 1],
    [1, 1, 3, 3, 1, 3],
    [3, 3, 1, 2, 3, 1],
    [2, 3, 3, 0, 3, 3],
    [1, 1, 2, 3, 3, 3],
    [1, 1, 3, 0, 3, 2],
]
EXPECTED_RED = [
    [11, 11, 0, 0, 21, 21],
    [11, 11, 0, 0, 21, 0],
    [0] * 6,
    [0] * 6,
    [12, 12, 0, 0, 0, 0],
    [12, 12, 0, 0, 0, 0],
]


def test_hand_grid_every_zone():
    res = compute_zones(rules(), hand_layers(), G)
    assert res.zone_class.array.filled(0).tolist() == EXPECTED_ZONE
    assert res.redline.array.filled(0).tolist() == EXPECTED_RED
    a = res.summary.area_km2
    # 13, 4, 17 pixels of 0.01 km²
    assert a.priority == pytest.approx(0.13)
    assert a.key == pytest.approx(0.04)
    assert a.general == pytest.approx(0.17)
    assert a.nodata_in_grid == pytest.approx(0.02)
    assert res.summary.redline_km2 == pytest.approx({11: 0.04, 21: 0.03, 12: 0.04})


#: The ``zones`` record of ``summary.json`` (with ``compute``, which the run keeps apart).
SUMMARY_RECORD = [
    "rule_set", "class_tables", "grid", "inputs", "skipped_inputs", "ignored_inputs",
    "approximation_layers", "synthetic_layers", "attribute_layers", "area_km2", "redline_km2",
    "flag_km2", "flag_bits", "redline_cleanup", "compute",
]  # fmt: skip


def test_summary_json_record():
    # the typed summary serialises to the record summary.json has always held (same keys,
    # same order, JSON lists and plain numbers); the figures are those worked by hand above
    d = compute_zones(rules(), hand_layers(), G).summary.to_dict()
    assert list(d) == SUMMARY_RECORD
    assert list(d["area_km2"]) == ["priority", "key", "general", "nodata_in_grid", "zoned"]
    assert d["area_km2"]["zoned"] == pytest.approx(0.34)
    assert d["grid"] == {
        "crs": ALBERS_CHINA.to_string(),
        "shape": [6, 6],
        "res": [100.0, 100.0],
        "cell_area_m2": 10_000.0,
    }
    assert d["inputs"]["parks"] == {
        "kind": "mask",
        "source": "vector",
        "status": "approximation",
        "role": "protected",
        "version": None,
        "notes": [],
    }
    assert d["approximation_layers"] == ["parks"] and d["compute"]["name"] == "local"
    assert list(d["redline_cleanup"]) == [
        "min_patch_km2", "max_hole_km2", "removed_km2", "filled_km2", "code_by", "method",
    ]  # fmt: skip
    json.dumps(d)  # JSON-ready as it is


def test_flags_by_hand():
    res = compute_zones(rules(), hand_layers(), G)
    f = res.flags.array.filled(0)
    zone = np.array(EXPECTED_ZONE)
    # parks are an approximation: park-only priority pixels depend on it (bit 1); key and
    # general pixels depend on it too (the park layer said "no" there); priority pixels
    # decided by real layers do not.
    dep = f & 3
    expect = np.where(zone == 1, 0, 1)
    expect[4:6, 0:2] = 1
    expect[zone == 0] = 0
    assert dep.tolist() == expect.tolist()
    # Three-North = cols 0-2 (bit 4); ji_bend = row 0 only (bit 8); nothing where zone is 0
    tn = np.zeros((6, 6), int)
    tn[:, :3] = 4
    ji = np.zeros((6, 6), int)
    ji[0] = 8
    assert (f & 12).tolist() == np.where(zone == 0, 0, tn + ji).tolist()
    assert res.summary.approximation_layers == ("parks",)
    assert res.summary.flag_km2[4] == pytest.approx(0.18)  # 18 zoned pixels in cols 0-2


def test_synthetic_flag_and_most_reliable_trigger():
    # (0,0): imp_w (real) and imp_b (synthetic) both true -> real decides -> no bit.
    # (0,1) is likewise real-triggered. A synthetic-only trigger gives bit 2.
    layers = hand_layers(
        imp_b=LayerInput(R(IMP_B), status="synthetic"), parks=frame([cells(4, 0, 6, 2)])
    )
    lay2 = dict(layers)
    rows = [r[:] for r in IMP_B]
    rows[3][5] = 3  # (3,5) extremely important for biodiversity only -> synthetic evidence
    lay2["imp_b"] = LayerInput(R(rows), status="synthetic")
    f = compute_zones(rules(), lay2, G).flags.array.filled(0) & 3
    assert f[0, 1] == 0 and f[3, 5] == 2
    assert f[2, 3] == 2  # key pixel: priority stage consulted the synthetic layer


def test_dominant_code_by_hand_and_fixed_mode():
    # One 3x3 red patch: imp_w extremely important on 2 pixels, sens_e on 3, imp_b on 3 of
    # which 2 overlap sens_e; a park covers the whole patch.
    #   votes: 11 -> 2, 12 -> 3, 21 -> 3: tie 12/21 goes to the reason listed first (12).
    imp_w = [r[:] for r in ONES]
    imp_b = [r[:] for r in ONES]
    sens = [r[:] for r in ONES]
    imp_w[0][0] = imp_w[0][1] = 3
    imp_b[1][0] = imp_b[1][1] = imp_b[1][2] = 3
    sens[1][1] = sens[1][2] = sens[2][2] = 5
    park = frame([cells(0, 0, 3, 3)])
    lay = hand_layers(
        imp_w=R(imp_w), imp_b=R(imp_b), sens_e=R(sens), ero=R(ONES), des=R(ONES), parks=park
    )
    red = compute_zones(rules(), lay, G).redline.array.filled(0)
    assert (red[:3, :3] == 12).all() and red.sum() == 12 * 9
    # fixed mode: the park votes 12 on all 9 pixels -> 12 (12 votes: 3 + 9)
    rs = rules(redline__protected={"inputs": ["parks"], "code": 15, "mode": "fixed"})
    red = compute_zones(rs, lay, G).redline.array.filled(0)
    assert (red[:3, :3] == 15).all()  # 15 gets 9 votes > 12's 3
    # per-pixel coding: first qualifying reason in list order
    rs = rules(redline__code_by="pixel")
    red = compute_zones(rs, lay, G).redline.array.filled(0)
    assert red[:3, :3].tolist() == [[11, 11, 12], [12, 12, 12], [12, 12, 21]]


def test_min_patch_and_hole_filling_hand_drawn():
    # 6x6, 1 = extremely important:
    #   ring of 8 pixels around the hole (1,1)          -> kept (8 >= 5), hole of 1 filled
    #   2-pixel patch at (4,4),(4,5)                    -> removed (2 < 5)
    #   (5,0): single pixel                             -> removed
    #   the background outside the ring touches the grid edge: never a hole
    drawn = np.array(
        [
            [1, 1, 1, 0, 0, 0],
            [1, 0, 1, 0, 0, 0],
            [1, 1, 1, 0, 0, 0],
            [0, 0, 0, 0, 0, 0],
            [0, 0, 0, 0, 1, 1],
            [1, 0, 0, 0, 0, 0],
        ],
        bool,
    )
    out, stats = clean_patches(drawn, min_patch_px=5, max_hole_px=1)
    expect = np.zeros((6, 6), bool)
    expect[:3, :3] = True
    assert out.tolist() == expect.tolist()
    assert stats == {"removed_px": 3, "filled_px": 1}
    # the same through the engine: 5 pixels = 0.05 km², hole 0.01 km²
    imp = np.where(drawn, 3, 1)
    lay = hand_layers(
        imp_w=R(imp),
        imp_b=R(ONES),
        sens_e=R(ONES),
        ero=R(ONES),
        des=R(ONES),
        parks=frame([box(9e6, 0, 9.1e6, 1)]),
    )  # a park far away: no effect
    rs = rules(redline__min_patch_km2=0.05, redline__max_hole_km2=0.01)
    res = compute_zones(rs, lay, G)
    red = res.redline.array.filled(0)
    assert (red != 0).tolist() == expect.tolist()
    assert red[1, 1] == 11  # the filled hole takes the patch code
    assert res.summary.redline_cleanup.removed_km2 == pytest.approx(0.03)
    assert res.summary.redline_cleanup.filled_km2 == pytest.approx(0.01)
    # removed red-line pixels stay priority (class 3 >= 2), the filled hole becomes priority
    assert res.zone_class.array[5, 0] == 1 and res.zone_class.array[1, 1] == 1


def test_hole_next_to_outside_of_aoi_is_not_filled():
    # a one-pixel gap in a 3x3 ring is a hole; the same gap beside an outside-AOI pixel is not
    m = np.array([[1, 1, 1], [1, 0, 1], [1, 1, 1]], bool)
    out, _ = clean_patches(m, max_hole_px=1)
    assert out.all()
    m2 = np.ones((4, 3), bool)
    m2[1, 1] = m2[2, 1] = False
    outside = np.zeros((4, 3), bool)
    outside[2, 1] = True
    out2, st = clean_patches(m2, max_hole_px=2, barrier=outside)
    assert not out2[1, 1] and st["filled_px"] == 0


def test_patch_codes_ties_and_fallback():
    m = np.array([[1, 1, 0, 1]], bool)
    bits = np.array([[1, 2, 0, 0]], np.uint16)
    assert patch_codes(m, bits, [21, 11], fallback=12).tolist() == [[21, 21, 0, 12]]


def test_windowed_equals_single_block_and_reader_inputs():
    whole = compute_zones(rules(), hand_layers(), G)
    lay = hand_layers()
    arr = np.array(ERO, "uint8")
    calls = []

    def ero_reader(win):  # a plain callable reader
        calls.append(win)
        r, c, h, w = win
        return np.ma.masked_equal(arr[r : r + h, c : c + w], 0)

    lay["ero"] = LayerInput(ero_reader, status="real")
    small = compute_zones(rules(), lay, G, block_size=4)
    for a, b in (
        (whole.zone_class, small.zone_class),
        (whole.redline, small.redline),
        (whole.flags, small.flags),
    ):
        assert a.array.filled(0).tolist() == b.array.filled(0).tolist()
    assert (0, 4, 4, 2) in calls  # read window by window


def test_aligned_source_and_files(tmp_path):
    from geoeco.core.align import aligned_source
    from geoeco.core.io import read_raster, write_raster

    p = tmp_path / "ero.tif"
    write_raster(R(ERO), p)
    with aligned_source(p, G) as src:
        res = compute_zones(
            rules(), hand_layers(ero=src), G, out_dir=tmp_path / "out", block_size=4
        )
    z = read_raster(res.zone_class)
    assert z.array.filled(0).tolist() == EXPECTED_ZONE
    red = read_raster(res.redline)
    assert red.array.filled(0).tolist() == EXPECTED_RED  # 255 = nodata where zone is 0


def test_extra_layers_by_role():
    lay = hand_layers(parks=frame([box(9e6, 0, 9.1e6, 1)]))
    # an undeclared layer with role protected joins the red line; one with role
    # development joins key control; anything else is ignored
    lay["reserve"] = LayerInput(frame([cells(4, 0, 6, 2)]), role="protected")
    lay["factory"] = LayerInput(frame([cells(5, 5, 6, 6)]), role="development")
    lay["photo"] = LayerInput(R(ONES), role="reference")
    lay.pop("dev")
    res = compute_zones(rules(), lay, G)
    assert res.zone_class.array.filled(0).tolist() == EXPECTED_ZONE
    assert res.redline.array[4, 0] == 12
    assert res.summary.ignored_inputs == ("photo",)
    assert res.summary.skipped_inputs == ("dev",)


def test_errors_before_any_pixel_is_read():
    def boom(win):
        raise AssertionError("read before validation finished")

    lay = hand_layers(imp_w=boom)
    lay.pop("ero")
    with pytest.raises(LayerNotFound, match="needs input.s. ero"):
        compute_zones(rules(), lay, G)
    with pytest.raises(EmptyArea, match="area of interest is empty"):
        compute_zones(rules(), hand_layers(imp_w=boom), G, aoi=Point(50, Y0 - 50).buffer(0))
    with pytest.raises(EmptyArea, match="does not overlap the grid"):
        compute_zones(rules(), hand_layers(imp_w=boom), G, aoi=box(1e6, 0, 1.1e6, 10))
    other = Grid(Affine(100, 0, 50, 0, -100, Y0), 6, 6, ALBERS_CHINA)
    with pytest.raises(GridMismatch):
        compute_zones(rules(), hand_layers(imp_w=boom, ero=R(ERO, other)), G)
    far = LayerInput(frame([box(5e6, 0, 5.1e6, 10)], cls=[2]), column="cls")
    with pytest.raises(EmptyArea, match="input 'des' does not overlap"):
        compute_zones(rules(), hand_layers(imp_w=boom, des=far), G)
    with pytest.raises(InvalidInput, match="needs `column`"):
        compute_zones(rules(), hand_layers(imp_w=boom, des=frame([cells(0, 0, 6, 6)])), G)
    nocrs = gpd.GeoDataFrame(geometry=[cells(0, 0, 1, 1)])
    with pytest.raises(CRSError):
        compute_zones(rules(), hand_layers(imp_w=boom, dev=nocrs), G)
    with pytest.raises(EmptyArea, match="no valid pixel"):
        compute_zones(rules(), hand_layers(imp_w=boom, des=R(np.zeros((6, 6)))), G)
    with pytest.raises(OversizeRequest, match="patch stage"):
        prepare(rules(), hand_layers(imp_w=boom), G, max_patch_pixels=10)
    geo = Grid(Affine(0.1, 0, 100, 0, -0.1, 40), 6, 6, "EPSG:4490")
    with pytest.raises(CRSError, match="projected"):
        prepare(rules(), hand_layers(), geo)


def test_bad_codes_in_data():
    with pytest.raises(InvalidInput, match=r"codes must be 1\.\.5"):
        compute_zones(rules(), hand_layers(des=R(np.full((6, 6), 7))), G)


def test_aoi_masks_pixels():
    aoi = cells(0, 0, 3, 6)  # top half
    res = compute_zones(rules(), hand_layers(), G, aoi=aoi)
    z = res.zone_class.array.filled(0)
    assert z[:3].tolist() == EXPECTED_ZONE[:3] and not z[3:].any()
    assert res.summary.area_km2.zoned == pytest.approx(0.18)


def test_default_rule_set_runs_on_its_inputs():
    """All required inputs of the built-in default rule set, optional ones absent."""
    g = Grid(Affine(1000, 0, 0, 0, -1000, Y0), 4, 4, ALBERS_CHINA)
    ones = np.ones((4, 4), "uint8")
    imp = ones.copy()
    imp[:2, :2] = 3  # 4 km² extremely important water conservation: >= 1 km² patch
    lay = {
        n: Raster.from_array(ones, g, nodata=0)
        for n in (
            "importance_biodiversity",
            "importance_soil_conservation",
            "importance_windbreak",
            "sensitivity_soil_erosion",
            "sensitivity_sanding",
            "desertification_degree",
        )
    }
    lay["importance_water_conservation"] = Raster.from_array(imp, g, nodata=0)
    ero = ones.copy()
    ero[3, 3] = 3
    lay["erosion_grade"] = Raster.from_array(ero, g, nodata=0)
    res = compute_zones("default", lay, g)
    z = res.zone_class.array.filled(0)
    assert (z[:2, :2] == 1).all() and z[3, 3] == 2 and (z == 3).sum() == 11
    assert (res.redline.array.filled(0)[:2, :2] == 11).all()
    assert "sensitivity_salinisation" in res.summary.skipped_inputs


# ------------------------------------------------------------------------------------------
# raster mode vs exact vector mode
# ------------------------------------------------------------------------------------------


def _vector_case(aligned: bool):
    """Class polygons over a 2 km square; aligned to 10 m pixels or not (circles, rotation)."""
    ext = box(0, Y0 - 2000, 2000, Y0)
    if aligned:
        hot = box(200, Y0 - 800, 900, Y0 - 200)  # 0.49 km² extremely important
        sens = box(1000, Y0 - 1500, 1600, Y0 - 1000)  # 0.30 km² extremely sensitive
        ero = box(0, Y0 - 2000, 1200, Y0 - 1600)  # 0.48 km² moderate erosion
        park = box(1500, Y0 - 500, 1900, Y0 - 100)
        dev = box(1700, Y0 - 1900, 1950, Y0 - 1700)
    else:
        hot = Point(553.3, Y0 - 487.1).buffer(333.3, quad_segs=64)
        sens = rotate(box(1003, Y0 - 1507, 1611, Y0 - 1003), 17, origin="center")
        ero = Point(600.7, Y0 - 1750.2).buffer(397.1, quad_segs=64).intersection(ext)
        park = rotate(box(1493, Y0 - 507, 1897, Y0 - 103), 31, origin="center")
        dev = Point(1811.1, Y0 - 1788.8).buffer(123.4, quad_segs=64)
    ring_hole = hot.centroid.buffer(30)  # 0.0028 km² hole inside the hot spot, filled
    hot = hot.difference(ring_hole)
    speck = Point(1300, Y0 - 300).buffer(25)  # 0.002 km² patch, removed
    imp = gpd.GeoDataFrame(
        {"c": [3, 3, 1]},
        geometry=[hot, speck, ext.difference(hot).difference(speck)],
        crs=ALBERS_CHINA,
    )
    sen = gpd.GeoDataFrame({"c": [5, 1]}, geometry=[sens, ext.difference(sens)], crs=ALBERS_CHINA)
    er = gpd.GeoDataFrame({"c": [3, 1]}, geometry=[ero, ext.difference(ero)], crs=ALBERS_CHINA)
    layers = {
        "imp": LayerInput(imp, column="c"),
        "sens": LayerInput(sen, column="c"),
        "ero": LayerInput(er, column="c"),
        "parks": gpd.GeoDataFrame(geometry=[park], crs=ALBERS_CHINA),
        "dev": gpd.GeoDataFrame(geometry=[dev], crs=ALBERS_CHINA),
    }
    rs = parse_rule_set(
        {
            "name": "vec",
            "version": "1",
            "title_en": "vector check",
            "inputs": {
                "imp": {"table": "CumShare(0.5,0.8)"},
                "sens": {"table": "EcoZoning-interim/sanding"},
                "ero": {"table": "SL190-2007/water"},
                "parks": {"kind": "mask"},
                "dev": {"kind": "mask"},
            },
            "redline": {
                "reasons": [
                    {"input": "imp", "min_class": 3, "code": 11},
                    {"input": "sens", "min_class": 5, "code": 22},
                ],
                "protected": {"inputs": ["parks"]},
                "min_patch_km2": 0.01,
                "max_hole_km2": 0.01,
            },
            "key": {"criteria": [{"input": "ero", "min_class": 3}], "masks": ["dev"]},
        }
    )
    return rs, layers


@pytest.mark.parametrize("aligned", [True, False])
def test_raster_and_vector_modes_agree(aligned):
    """Vector mode is exact; raster mode at 10 m must match class areas within 0.5 %."""
    rs, layers = _vector_case(aligned)
    g = Grid(Affine(10, 0, 0, 0, -10, Y0), 200, 200, ALBERS_CHINA)
    aoi = Point(1000, Y0 - 1000).buffer(950, quad_segs=64)
    ras = compute_zones(rs, layers, g, aoi=aoi, block_size=64).summary
    vec = compute_zones_vector(rs, layers, crs=ALBERS_CHINA, aoi=aoi).summary
    for k in ("priority", "key", "general"):
        assert getattr(ras.area_km2, k) == pytest.approx(getattr(vec.area_km2, k), rel=0.005), k
    for code in (11, 12, 22):
        assert ras.redline_km2.get(code, 0) == pytest.approx(
            vec.redline_km2.get(code, 0), rel=0.005
        ), code
    if aligned:
        # Without an AOI both modes are exact on pixel-aligned boxes (areas by hand):
        # hot 700 m x 600 m = 0.42 km² (its 30 m-radius hole is filled), sens 600 x 500 = 0.30,
        # park 400 x 400 = 0.16 (no assessed reason inside -> code 12), speck removed;
        # key = erosion 1200 x 400 = 0.48 + development 250 x 200 = 0.05 (no overlaps);
        # general = 4 - 0.88 - 0.53 = 2.59 km².
        expect = {"priority": 0.88, "key": 0.53, "general": 2.59}
        red = {11: 0.42, 22: 0.30, 12: 0.16}
        ras = compute_zones(rs, layers, g, block_size=64).summary
        vec = compute_zones_vector(rs, layers, crs=ALBERS_CHINA).summary
        for s_ in (ras, vec):
            for k, v in expect.items():
                assert getattr(s_.area_km2, k) == pytest.approx(v, rel=1e-9), k
            assert s_.redline_km2 == pytest.approx(red, rel=1e-9)


# ------------------------------------------------------------------------------------------
# the numba kernels against the plain numpy per-window path
# ------------------------------------------------------------------------------------------


def _random_case(rng):
    """Random inputs for the hand rule set plus extra terms (max_class, a priority mask):
    class codes 0..n+1 with 0 and a second nodata value, random statuses, vector masks,
    a plain-callable reader without nodata mask."""
    g = Grid(Affine(100, 0, 0, 0, -100, Y0), 37, 29, ALBERS_CHINA)
    rs = rules(
        key__criteria=[
            {"input": "ero", "min_class": 3, "max_class": 5},
            {"input": "des", "min_class": 3},
        ],
        priority__masks=["dev"],
    )
    statuses = ["real", "approximation", "synthetic"]

    def cls(n):
        a = rng.integers(0, n + 2, g.shape).astype("uint8")  # n + 1: masked (nodata)
        r = Raster.from_array(a, g, nodata=n + 1)
        return LayerInput(r, status=str(rng.choice(statuses)))

    def polys(k):
        out = []
        for _ in range(k):
            r0, c0 = rng.integers(0, 25, 2)
            out.append(cells(r0, c0, r0 + rng.integers(1, 12), c0 + rng.integers(1, 12)))
        return frame(out)

    ero = np.clip(rng.integers(0, 7, g.shape), 0, 6).astype("uint8")  # no mask: 0 = nodata
    layers = {
        "imp_w": cls(3),
        "imp_b": cls(3),
        "sens_e": cls(5),
        "ero": LayerInput(lambda w: ero[w[0] : w[0] + w[2], w[1] : w[1] + w[3]], "synthetic"),
        "des": cls(5),
        "parks": LayerInput(polys(3), status="approximation", role="protected"),
        "dev": LayerInput(polys(2), status=str(rng.choice(statuses))),
        "tn": polys(2),
        "ji": frame([cells(0, 0, 9, 20)], battle_id=["ji_bend"]),
    }
    return rs, layers, g


@pytest.mark.parametrize("seed", range(3))
def test_kernels_identical_to_numpy_path(seed, monkeypatch):
    """_pre_kernel (via _pre_fast) and _finish_kernel against _pre and _finish, the plain
    numpy per-window evaluation, on random inputs with and without an AOI: every pre code,
    reason bitmask, output pixel and histogram must be equal."""
    rng = np.random.default_rng(seed)
    rs, layers, g = _random_case(rng)
    for aoi in (None, rotate(box(300, Y0 - 3000, 2600, Y0 - 500), 20)):
        plan = prepare(rs, layers, g, aoi=aoi)
        windows = list(g.blocks(8))
        ref = list(overlay._pre_windows(plan, windows, kernel=False))
        with monkeypatch.context() as m:  # the kernel path must not fall back to _pre
            m.setattr(overlay, "_pre", None)
            fast = list(overlay._pre_windows(plan, windows))
        assert len(fast) == len(ref) == len(windows)
        for (_, _, pre_f, bits_f), (_, _, pre_r, bits_r) in zip(fast, ref, strict=True):
            assert np.array_equal(pre_f, pre_r) and np.array_equal(bits_f, bits_r)
        assert any(b.any() for *_, b in ref)  # some red-line candidates
        luts = kernels._finish_luts(plan)
        for nd in (0, 255):
            zpx, rpx, fpx = (np.zeros(n, np.int64) for n in (4, 256, 256))
            for _, _, pre, bits in ref:
                red = redline._pixel_red(plan, bits)
                red[rng.random(red.shape) < 0.2] = 0  # the patch stage drops some pixels
                zone_r, red_r, flags_r = kernels._finish(luts, pre, red)
                out = [np.empty(pre.shape, np.uint8) for _ in range(3)]
                kernels._finish_kernel(pre, red, *luts, nd, *out, zpx, rpx, fpx)
                nodata = zone_r == 0
                assert np.array_equal(out[0], zone_r)
                assert np.array_equal(out[1], np.where(nodata, nd, red_r))
                assert np.array_equal(out[2], np.where(nodata, nd, flags_r))
                zc = np.bincount(zone_r.ravel(), minlength=4)
                zpx -= zc
                rpx -= np.bincount(red_r[~nodata], minlength=256)
                fpx -= np.bincount(flags_r[~nodata], minlength=256)
            assert not zpx.any() and not rpx.any() and not fpx.any()


def test_kernel_rejects_codes_above_n_classes():
    """The kernel path names the input whose class code is above its n_classes."""
    plan = prepare(rules(), hand_layers(sens_e=R(np.full((6, 6), 6))), G)
    with pytest.raises(InvalidInput, match=r"'sens_e': class codes must be 1\.\.5, found 6"):
        list(overlay._pre_windows(plan, list(G.blocks(4))))
