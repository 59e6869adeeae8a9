"""The zone map's trend layer (issue 18 item 6): the demo's NDVI trend classes drawn in the
colours of the ``Trend-class`` table, with a legend, and served as tiles."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio

from geoeco.catalog.classes import get_table
from geoeco.service.run_tiles import available_outputs, output_path

pytest.importorskip("folium")
pytest.importorskip("offlinefolium")


def test_zone_map_shows_the_trend_layer_with_its_legend(demo_run_small: Path) -> None:
    from geoeco.maps.base import map_html
    from geoeco.maps.layers import read_run
    from geoeco.maps.zone import zone_map

    run = read_run(demo_run_small / "zones")
    assert run["rasters"]["ndvi_trend"].name == "ndvi_trend_class.tif"
    html = map_html(zone_map(run.pop("units"), **run))
    assert "植被变化趋势 NDVI trend (Mann-Kendall)" in html
    for _code, zh, en, colour in get_table("Trend-class").legend():
        assert f"{zh} {en}" in html and colour in html


def test_trend_tiles_are_served_from_the_demo_layout(demo_run_small: Path) -> None:
    zones = demo_run_small / "zones"
    assert "ndvi_trend" in available_outputs(zones, siblings=True)
    path = output_path(zones, "ndvi_trend", siblings=True)
    assert path is not None
    with rasterio.open(path) as ds:
        codes = set(np.unique(ds.read(1)).tolist())
        cmap = ds.colormap(1)
    assert codes <= {0, 1, 2, 3} and {1, 3} <= codes  # the planted blocks
    for code, rgba in get_table("Trend-class").colormap().items():
        assert cmap[code] == rgba
