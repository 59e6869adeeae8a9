"""The GeoPackages geoeco writes, read by Debian's GDAL 3.6 (what QGIS 3.22-3.28 builds use).

GDAL 3.8+ (the one pyogrio bundles) writes GeoPackage 1.4 by default; GDAL 3.6 then warns
"may only be partially supported" and its validator (``validate_gpkg.py`` of python3-gdal)
fails on the 1.4 R-tree triggers. geoeco writes 1.3 (``geoeco.core.io.GPKG_VERSION``). The
checks run the Debian tools in a subprocess: ``ogrinfo -so`` on every layer must print no
``Warning``/``ERROR``, the validator must pass, and GDAL 3.6 must open the ``layer_styles``
table by name (as QGIS does to find default styles) with one default style per styled layer.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

OGRINFO = shutil.which("ogrinfo")
SYSTEM_PYTHON = "/usr/bin/python3"
VALIDATOR = "osgeo_utils.samples.validate_gpkg"

pytestmark = pytest.mark.skipif(
    OGRINFO is None, reason="Debian's gdal-bin is not installed (.ci/run installs it)"
)


def _gdal36_python(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SYSTEM_PYTHON, "-c", code, *args], capture_output=True, text=True, timeout=120
    )


def _ogrinfo_clean(path: Path) -> str:
    assert OGRINFO is not None
    version = subprocess.run([OGRINFO, "--version"], capture_output=True, text=True).stdout
    assert version.startswith("GDAL 3.6"), version  # the old reader is the point
    r = subprocess.run(
        [OGRINFO, "-ro", "-so", "-al", str(path)], capture_output=True, text=True, timeout=120
    )
    assert r.returncode == 0, r.stderr
    noise = [ln for ln in (r.stdout + r.stderr).splitlines() if "Warning" in ln or "ERROR" in ln]
    assert noise == [], noise
    return r.stdout


def _validate(path: Path) -> None:
    r = subprocess.run(
        [SYSTEM_PYTHON, "-m", VALIDATOR, str(path)], capture_output=True, text=True, timeout=300
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert (r.stdout + r.stderr).strip() == "", r.stdout + r.stderr


STYLES = """
import sys
from osgeo import gdal
gdal.UseExceptions()
ds = gdal.OpenEx(sys.argv[1], gdal.OF_VECTOR | gdal.OF_READONLY)
lyr = ds.GetLayerByName("layer_styles")
for f in lyr:
    if f["useAsDefault"]:
        print(f["f_table_name"], f["f_geometry_column"], len(f["styleQML"]))
"""


@pytest.mark.slow
def test_zoning_geopackages_open_cleanly_in_gdal_36_with_their_styles(demo_run_small: Path):
    zones = demo_run_small / "zones" / "zones.gpkg"
    sxyd = demo_run_small / "zones" / "units_sxyd.gpkg"
    info = _ogrinfo_clean(zones)
    assert "Layer name: units" in info and "Layer name: redline" in info
    _ogrinfo_clean(sxyd)
    _validate(zones)
    _validate(sxyd)
    r = _gdal36_python(STYLES, str(zones))
    assert r.returncode == 0, r.stderr
    rows = {ln.split()[0]: ln.split()[1:] for ln in r.stdout.splitlines()}
    assert set(rows) == {"units", "redline"}
    for geom_col, qml_len in rows.values():
        assert geom_col == "geom" and int(qml_len) > 100


def test_write_geopackage_declares_version_1_3(tmp_path: Path):
    import sqlite3

    import geopandas as gpd
    import pandas as pd
    import shapely

    from geoeco.core.io import write_geopackage, write_vector

    gdf = gpd.GeoDataFrame(
        {"code": ["a", "b"]},
        geometry=[shapely.box(100, 30, 101, 31), shapely.box(102, 30, 103, 31)],
        crs=4490,
    )
    a = write_geopackage(
        {"units": gdf, "table": pd.DataFrame({"n": [1, 2]})},
        tmp_path / "a.gpkg",
        styles={"units": "<qgis/>"},
    )
    b = write_vector(gdf, tmp_path / "b.gpkg")
    write_vector(gdf, b, layer="second")  # a second layer keeps the file's version
    for path in (a, b):
        with sqlite3.connect(path) as con:
            # GeoPackage 1.3.0 is application_id GPKG and user_version 10300 (spec, clause 1.1.1)
            assert con.execute("PRAGMA application_id").fetchone()[0] == 0x47504B47
            assert con.execute("PRAGMA user_version").fetchone()[0] == 10300
        _ogrinfo_clean(path)
        _validate(path)
