"""Zoning on the Dask engine: pass 1 of ``compute_zones`` running on 2 worker processes gives
exactly the rasters and summary of the in-process engine.

The expected values are the local engine's own outputs (the reference implementation, tested
against hand-worked zones in test_overlay.py): the Dask run must give bit-identical arrays and
equal summary numbers. The only hand number is the grid's area: 70 x 90 pixels of 100 m are
6300 pixels of 0.01 km², 63 km², which the zoned and nodata areas must add up to.
"""

from __future__ import annotations

import sys

import geopandas as gpd
import numpy as np
import pytest
import rasterio
from affine import Affine
from scipy.ndimage import zoom
from shapely.geometry import Polygon, box

from geoeco.core.crs import ALBERS_CHINA
from geoeco.core.engine import DaskEngine
from geoeco.core.errors import InvalidInput
from geoeco.core.io import read_raster, write_raster
from geoeco.core.raster import Grid, Raster
from geoeco.zoning.overlay.inputs import LayerInput
from geoeco.zoning.overlay.run import compute_zones
from geoeco.zoning.rules import parse_rule_set

distributed = pytest.importorskip("distributed", reason="engine 'dask' needs dask.distributed")

Y0 = 4_000_000
G = Grid(Affine(100, 0, 0, 0, -100, Y0), 90, 70, ALBERS_CHINA)  # 70 rows x 90 cols
BLOCK = 32  # 3 x 3 windows, the last row and column partial

RULES = {
    "name": "dask_check",
    "version": "1",
    "title_en": "engine check",
    "inputs": {
        "imp_w": {"table": "CumShare(0.5,0.8)"},
        "imp_b": {"table": "CumShare(0.5,0.8)"},
        "sens_e": {"table": "EcoZoning-interim/water-erosion"},
        "ero": {"table": "SL190-2007/water"},
        "des": {"table": "WangTao-2003"},
        "parks": {"kind": "mask", "role": "protected"},
        "dev": {"kind": "mask", "role": "development"},
        "tn": {"kind": "mask"},
    },
    "redline": {
        "reasons": [
            {"input": "imp_w", "min_class": 3, "code": 11},
            {"input": "imp_b", "min_class": 3, "code": 12},
            {"input": "sens_e", "min_class": 5, "code": 21},
        ],
        "protected": {"inputs": ["parks"], "code": 12, "mode": "dominant"},
        "min_patch_km2": 0.05,
        "max_hole_km2": 0.03,
    },
    "priority": {"criteria": [{"input": "imp_w", "min_class": 2}]},
    "key": {
        "criteria": [{"input": "ero", "min_class": 3}, {"input": "des", "min_class": 3}],
        "masks": ["dev"],
    },
    "attributes": {"three_north": "tn"},
}
TOP = {"imp_w": 3, "imp_b": 3, "sens_e": 5, "ero": 6, "des": 5, "dev": 1, "tn": 1}


class FileReader:
    """A picklable reader: a path, opened by whichever process reads a window."""

    def __init__(self, path) -> None:
        self.path = str(path)
        self.grid = G

    def read(self, window):
        return read_raster(self.path, window=window).array


class BadReader(FileReader):
    """Class codes one above what the input allows, in one window only."""

    def read(self, window):
        a = super().read(window)
        return a + np.uint8(4) if window == (32, 32, 32, 32) else a


@pytest.fixture(scope="module")
def client():
    """One LocalCluster of 2 worker processes (1 thread each) for the whole module."""
    import cloudpickle

    # the readers above live in this test module, which workers cannot import
    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        memory_limit="2GiB",
        dashboard_address=None,
    )
    c = distributed.Client(cluster, set_as_default=False)
    yield c
    c.close()
    cluster.close()


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Smooth random class fields (patches cross window edges) with a nodata corner, as COGs."""
    folder = tmp_path_factory.mktemp("inputs")
    rng = np.random.default_rng(7)
    out = {}
    for name, top in TOP.items():
        field = zoom(rng.random((8, 10)), (70 / 8, 90 / 10), order=1)[:70, :90]
        codes = (1 + np.floor(field * top * 0.999)).astype(np.uint8)
        codes[:6, :9] = 0  # nodata
        if top == 1:  # masks: about half the grid
            codes = (field > 0.5).astype(np.uint8)
        r = Raster.from_array(codes, G, nodata=0)
        out[name] = write_raster(r, folder / f"{name}.tif")
    return out


def _parks():
    polys = [box(1000, Y0 - 3000, 3500, Y0 - 1500), box(5000, Y0 - 6500, 8200, Y0 - 3100)]
    return gpd.GeoDataFrame({"id": [1, 2]}, geometry=polys, crs=ALBERS_CHINA)


AOI = Polygon([(300, Y0 - 200), (8900, Y0 - 600), (8700, Y0 - 6900), (200, Y0 - 6600)])


def _layers(files, reader=FileReader):
    layers = {n: reader(p) for n, p in files.items()}
    layers["imp_b"] = LayerInput(layers["imp_b"], status="approximation")
    layers["parks"] = LayerInput(_parks(), status="synthetic")
    return layers


def _numbers(summary):
    return {k: v for k, v in summary.to_dict().items() if k != "compute"}


def _arrays(res):
    out = []
    for r in (res.zone_class, res.redline, res.flags):
        if isinstance(r, Raster):
            out.append(np.ma.filled(r.array, 255))
        else:
            with rasterio.open(r) as ds:
                out.append(ds.read(1))
    return out


#: Where each step ran: the tiled patch stage and the single-pass rules run every step on the
#: workers (geoeco.zoning.overlay.distributed); the whole-grid patch stage only pass 1.
ALL_ON_DASK = {"pass1": "dask", "patches": "dask", "pass2": "dask"}
PASS1_ON_DASK = {"pass1": "dask"}
TIMINGS = {"pass1_s", "patch_sweeps_s", "pass2_s", "compute_s", "write_s"}


@pytest.mark.parametrize(
    "patch_mode, to_files, changes, where",
    [
        ("windowed", True, {}, ALL_ON_DASK),
        ("windowed", False, {}, ALL_ON_DASK),
        ("windowed", True, {"code_by": "pixel", "max_hole_km2": 0}, ALL_ON_DASK),
        ("windowed", False, {"min_patch_km2": 0}, ALL_ON_DASK),
        ("whole", False, {}, PASS1_ON_DASK),
        (
            "auto",
            True,
            {"min_patch_km2": 0, "max_hole_km2": 0, "code_by": "pixel"},
            {**ALL_ON_DASK, "patches": "none"},
        ),
    ],
)
def test_dask_pass_one_equals_local(client, files, tmp_path, patch_mode, to_files, changes, where):
    """Tiled and whole-grid patch stage, and the single-pass rules: all three outputs and the
    summary are identical; 9 windows ran on the 2 workers."""
    spec = {**RULES, "redline": {**RULES["redline"], **changes}}
    rs = parse_rule_set(spec)
    kw = {"aoi": AOI, "block_size": BLOCK, "patch_mode": patch_mode}
    local = compute_zones(
        rs, _layers(files), G, out_dir=tmp_path / "local" if to_files else None, **kw
    )
    dask = compute_zones(
        rs,
        _layers(files),
        G,
        out_dir=tmp_path / "dask" if to_files else None,
        engine=DaskEngine(client=client),
        task_px=BLOCK,
        **kw,
    )
    compute = {k: v for k, v in dask.summary.compute.items() if k not in TIMINGS}
    assert compute == {
        "name": "dask",
        "scheduler": "local",
        "workers": 2,
        "threads": 2,
        **where,
        "windows": 9,
        "window_px": BLOCK,
    }
    assert {"compute_s", "write_s"} <= set(dask.summary.compute)
    assert local.summary.compute["name"] == "local"
    assert _numbers(dask.summary) == _numbers(local.summary)
    for a, b in zip(_arrays(local), _arrays(dask), strict=True):
        np.testing.assert_array_equal(a, b)
    area = dask.summary.area_km2
    assert area.zoned + area.nodata_in_grid == pytest.approx(63.0)  # 6300 px x 0.01 km²
    # the case is not degenerate: all three classes and some red line are present
    assert min(area.priority, area.key, area.general) > 0
    assert sum(dask.summary.redline_km2.values()) > 0


@pytest.mark.parametrize("task_px, windows", [(None, 1), (48, 4), (64, 4)])
def test_task_size_does_not_change_results(client, files, task_px, windows):
    """Tasks of other tile sizes than the read window (default: at least 2048² pixels, here
    one tile for the whole 70 x 90 grid; 48 px: 2 x 2 tiles) give the same rasters."""
    rs = parse_rule_set(RULES)
    kw = {"aoi": AOI, "block_size": BLOCK, "patch_mode": "windowed"}
    local = compute_zones(rs, _layers(files), G, **kw)
    dask = compute_zones(
        rs, _layers(files), G, engine=DaskEngine(client=client), task_px=task_px, **kw
    )
    c = dask.summary.compute
    assert (c["patches"], c["windows"]) == ("dask", windows)
    assert c["window_px"] == (2048 if task_px is None else task_px)
    assert _numbers(dask.summary) == _numbers(local.summary)
    for a, b in zip(_arrays(local), _arrays(dask), strict=True):
        np.testing.assert_array_equal(a, b)


def test_in_memory_input_falls_back_to_local_with_a_note(client, files):
    """An in-memory Raster cannot be read by a worker: pass 1 runs here, the summary says why,
    and the results are those of the local engine."""
    rs = parse_rule_set(RULES)
    layers = _layers(files)
    layers["ero"] = read_raster(files["ero"])
    local = compute_zones(rs, layers, G, aoi=AOI, block_size=BLOCK)
    res = compute_zones(rs, layers, G, aoi=AOI, block_size=BLOCK, engine=DaskEngine(client=client))
    c = res.summary.compute
    assert (c["name"], c["requested"], c["pass1"]) == ("local", "dask", "local")
    assert "ero (in-memory Raster)" in c["note"]
    assert _numbers(res.summary) == _numbers(local.summary)
    for a, b in zip(_arrays(local), _arrays(res), strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("patch_mode", ["whole", "windowed"])
def test_worker_error_keeps_its_type(client, files, tmp_path, patch_mode):
    """Class codes above the table's range, read in a worker, fail as on the local engine
    (pass 1 alone on the workers, or every step); the scratch tiles are removed."""
    rs = parse_rule_set(RULES)
    layers = _layers(files)
    layers["sens_e"] = BadReader(files["sens_e"])  # codes up to 9 in one window, table has 5
    with pytest.raises(InvalidInput, match="'sens_e': class codes must be 1..5, found 9"):
        compute_zones(
            rs,
            layers,
            G,
            block_size=BLOCK,
            engine=DaskEngine(client=client),
            patch_mode=patch_mode,
            task_px=BLOCK,
            out_dir=tmp_path,
        )
    assert not list(tmp_path.iterdir())  # no output, no scratch folder left behind


def test_engine_option_is_checked(files):
    """A wrong engine is an InvalidInput before any pixel is read."""
    rs = parse_rule_set(RULES)
    with pytest.raises(InvalidInput, match="engine must be"):
        compute_zones(rs, _layers(files), G, engine=3)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="engine must be one of local, dask"):
        compute_zones(rs, _layers(files), G, engine="spark")
