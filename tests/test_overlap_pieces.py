"""Overlaps by area from small pieces (issue 16): the same amounts as intersecting whole features.

:func:`geoeco.query.overlaps._overlaps` sums, per feature, the known area of its pieces inside
the site and the intersected area of the pieces across the site's boundary
(:class:`geoeco.query.context.LayerParts`: polygon parts, large ones halved until each piece
has at most 1,024 vertices). The reference is the old way: the area of the intersection of the
whole feature with the site (shapely/GEOS on the unsplit geometry), per feature.

Layer: a multipolygon of a 4,097-vertex ring (a disc with a hole, subdivided) and a small
island, a square across the site's edge, a square far away; sites: a polygon with a hole
over part of the ring and the island, a site inside the ring's hole (no overlap), a site
containing everything.
"""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import pytest
import shapely

from geoeco.core.crs import ALBERS_CHINA
from geoeco.query.context import MAX_PIECE_VERTICES, IndexedLayer, LayerParts
from geoeco.query.overlaps import _overlaps

X0, Y0 = 500_000.0, 4_200_000.0


@pytest.fixture(scope="module")
def layer() -> IndexedLayer:
    ring = shapely.Point(X0, Y0).buffer(5_000, quad_segs=1024)
    ring = shapely.difference(ring, shapely.Point(X0, Y0).buffer(1_500, quad_segs=64))
    island = shapely.box(X0 + 7_000, Y0 - 500, X0 + 8_000, Y0 + 500)
    feats = [
        shapely.MultiPolygon([ring, island]),
        shapely.box(X0 - 9_000, Y0 + 6_000, X0 - 5_000, Y0 + 9_000),
        shapely.box(X0 + 50_000, Y0, X0 + 51_000, Y0 + 1_000),
    ]
    gdf = gpd.GeoDataFrame({"id": ["ring", "square", "far"]}, geometry=feats, crs=ALBERS_CHINA)
    return IndexedLayer.build("test", gdf, id_col="id")


def _sites() -> dict[str, Any]:
    outer = shapely.box(X0 - 7_000, Y0 - 2_000, X0 + 7_500, Y0 + 7_000)
    return {
        "with a hole": shapely.difference(
            outer, shapely.box(X0 - 500, Y0 + 2_000, X0 + 500, Y0 + 3_000)
        ),
        "in the ring's hole": shapely.box(X0 - 500, Y0 - 500, X0 + 500, Y0 + 500),
        "around everything": shapely.box(X0 - 20_000, Y0 - 20_000, X0 + 60_000, Y0 + 20_000),
    }


def test_large_parts_are_cut_into_pieces(layer: IndexedLayer) -> None:
    parts = layer.parts()
    assert shapely.get_num_coordinates(layer.albers[0]) > 4 * MAX_PIECE_VERTICES
    assert shapely.get_num_coordinates(parts.geoms).max() <= MAX_PIECE_VERTICES
    assert (parts.owner == 0).sum() > 4  # the ring is in pieces
    whole = shapely.area(layer.albers)
    np.testing.assert_allclose(np.bincount(parts.owner, weights=parts.areas), whole, rtol=1e-12)


@pytest.mark.parametrize("name", list(_sites()))
def test_amounts_equal_whole_intersections(layer: IndexedLayer, name: str) -> None:
    site = _sites()[name]
    total = site.area / 1e6
    got = {layer.feature_id(i): a for i, a, _ in _overlaps(layer, site, "area_km2", total)}
    inter = shapely.area(shapely.intersection(layer.albers, site)) / 1e6
    want = {layer.feature_id(i): float(a) for i, a in enumerate(inter) if a > 1e-6}
    assert got.keys() == want.keys()
    for k, a in want.items():
        assert got[k] == pytest.approx(a, rel=1e-9), k
    if name == "with a hole":
        assert got.keys() == {"ring", "square"}
    if name == "in the ring's hole":
        assert got == {}


def test_pieces_with_a_small_limit_give_the_same_area() -> None:
    """Cut to at most 40 vertices, a 257-vertex disc keeps its area and its overlap."""
    disc = shapely.Point(0, 0).buffer(10, quad_segs=64)
    parts = LayerParts.of(np.array([disc]), max_vertices=40)
    assert len(parts.geoms) >= 8 and shapely.get_num_coordinates(parts.geoms).max() <= 40
    half = shapely.box(-3, -20, 20, 20)
    cut = shapely.area(shapely.intersection(parts.geoms, half)).sum()
    assert cut == pytest.approx(shapely.intersection(disc, half).area, rel=1e-12)
