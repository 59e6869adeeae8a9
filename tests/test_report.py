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


def test_report_banner_for_synthetic_runs_and_partial_sites(tiny: QueryContext) -> None:
    """The report says at the top, zh + en, when the run rests on synthetic data or covers
    its area partly, and when the site lies partly outside the run (S4: half outside)."""
    r = screen_site(tiny, albers_box(2800, 0, 3200, 1000))
    page = render_report(r)
    top = page.split("<h1>")[0]
    assert 'class="geoeco-banner"' in top and "50.0 % of the site lies outside" in top
    assert "场址有 50.0% 位于分析范围之外" in top
    cov = {
        "note_zh": "部分覆盖：仅分析了研究区的 83.6%",
        "note_en": "Partial coverage: only 83.6 %",
    }
    run = {**r.run, "synthetic_layers": ["erosion_grade"], "coverage": cov}
    top = render_report(r.model_copy(update={"run": run})).split("<h1>")[0]
    assert "合成数据" in top and "synthetic data (demo, not a real place)" in top
    assert "Partial coverage: only 83.6 %" in top
    inside = screen_site(tiny, albers_box(250, 200, 1250, 700))
    clean_run = {**inside.run, "synthetic_layers": [], "approximation_layers": [], "coverage": None}
    assert "geoeco-banner" not in render_report(inside.model_copy(update={"run": clean_run}))
