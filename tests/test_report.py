"""The one-page HTML report: verdict, unit codes, an inline SVG map, print CSS, no external
assets. Built from the tiny run of test_query (site S1 of test_screening: units A and B, red
line 13; industry is forbidden there)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from test_query import albers_box, open_tiny

from geoeco.query.context import QueryContext
from geoeco.query.report import render_report, svg_map, write_report
from geoeco.query.screening import screen_site


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> QueryContext:
    return open_tiny(tmp_path_factory.mktemp("rtiny"))


def test_report_contents(tiny: QueryContext, tmp_path: Path) -> None:
    r = screen_site(tiny, albers_box(250, 200, 1250, 700), buffer_m=200, site_id="S1")
    page = render_report(r)
    assert page.startswith("<!DOCTYPE html>") and page.count("<svg") == 1
    assert "ZH62010210001" in page and "ZH62010220001" in page
    assert "禁止 / forbidden" in page  # industry on the red line
    assert "Compliance verdicts" in page and "@media print" in page
    assert "stroke-dasharray" in page  # the buffer is drawn
    assert 'fill="url(#hatch)"' in page  # the red line is drawn
    # self-contained: no scripts, no external links or images (only the SVG namespace URI)
    assert "<script" not in page and "src=" not in page and "<link" not in page
    assert re.findall(r"https?://[^\s\"']+", page) == ["http://www.w3.org/2000/svg"]
    out = write_report(r, tmp_path / "r.html", lang="en")
    text = out.read_text(encoding="utf-8")
    assert "forbidden" in text and "禁止" not in text.split("<h2>")[1].split("</table>")[0]


def test_report_outside_site(tiny: QueryContext) -> None:
    r = screen_site(tiny, albers_box(5000, 100, 5100, 200), project_type="industry")
    page = render_report(r, lang="en")
    assert "outside the analysed area" in page and "<svg" in page


def test_svg_coordinates_inside_viewbox(tiny: QueryContext) -> None:
    """Every drawn coordinate lies in the 460 × 360 viewBox (site-sized view)."""
    r = screen_site(tiny, albers_box(250, 200, 1250, 700), buffer_m=200)
    svg = svg_map(r.map)  # type: ignore[arg-type]
    nums = [float(v) for pair in re.findall(r"(-?\d+\.\d),(-?\d+\.\d)", svg) for v in pair]
    assert nums and min(nums) >= 0 and max(nums) <= 460
