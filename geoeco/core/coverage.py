"""How much of its area of interest a result analysed, and why the rest was not.

Every zoning, erosion, screening, point-query and statistics result carries a
:class:`Coverage`: the area of interest (km², equal-area), the part analysed, their ratio
``share`` (0–1) and, per input, the area of interest that input leaves without data
(``missing_km2``: nodata in the input or outside its extent). Without an area of interest
(erosion on a DEM) the denominator is the DEM's valid pixels.

Zoning and statistics need the whole area: below :data:`DEFAULT_MIN_COVERAGE` they raise
:class:`~geoeco.core.errors.PartialCoverage` naming the inputs that fall short
(:func:`check_coverage`), unless the caller allows a partial result; then the summary, the map
and the report say it in words (:meth:`Coverage.words`, Chinese and English). Screenings and
point queries never fail for coverage: they report it and warn.

Examples
--------
>>> c = Coverage.of(aoi_px=1000, analysed_px=840, px_km2=0.01, missing_px={"dem": 160})
>>> c.share, c.missing_km2
(0.84, {'dem': 1.6})
>>> print(c.words()[1])  # doctest: +NORMALIZE_WHITESPACE
Partial coverage: only 84.0 % of the area of interest (8.4 of 10 km²) was analysed;
without data: dem 1.6 km².
>>> try:
...     check_coverage(c, what="zoning")
... except PartialCoverage as exc:
...     print(str(exc)[:80])
zoning covers only 84.0 % of the area of interest (8.4 of 10 km²), below the req
>>> check_coverage(c, what="zoning", allow_partial=True) is c
True
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import InvalidInput, PartialCoverage

#: Share of the area of interest a zoning or statistics run must analyse unless partial
#: results are allowed.
DEFAULT_MIN_COVERAGE = 0.99


def _fmt(x: float) -> str:
    """A km² figure for messages: four significant digits at most, no trailing zeros.

    >>> _fmt(6803.94), _fmt(10.0), _fmt(0.0012345)
    ('6804', '10', '0.001234')
    """
    return f"{x:.4g}" if abs(x) < 1e4 else f"{x:.0f}"


@dataclass(frozen=True)
class Coverage:
    """The area of interest of a result, the part analysed, and what each input left out.

    ``aoi_km2``: the area of interest (or the DEM's valid area without one); ``analysed_km2``:
    the part with a result; ``missing_km2``: per input, the area of interest without data in
    it (nodata or outside the input's extent); ``outside_aoi_km2``: grid pixels outside the
    area of interest (not part of the denominator); ``basis``: what the denominator is.
    """

    aoi_km2: float
    analysed_km2: float
    missing_km2: dict[str, float] = field(default_factory=dict)
    outside_aoi_km2: float | None = None
    basis: str = "area of interest"

    @classmethod
    def of(
        cls,
        *,
        aoi_px: int,
        analysed_px: int,
        px_km2: float,
        missing_px: Mapping[str, int] | None = None,
        outside_px: int | None = None,
        basis: str = "area of interest",
    ) -> Coverage:
        """A coverage from pixel counts and the area of one pixel (km², equal-area)."""
        return cls(
            aoi_km2=aoi_px * px_km2,
            analysed_km2=analysed_px * px_km2,
            missing_km2={n: round(v * px_km2, 6) for n, v in sorted((missing_px or {}).items())},
            outside_aoi_km2=None if outside_px is None else outside_px * px_km2,
            basis=basis,
        )

    @property
    def share(self) -> float:
        """Analysed share of the area of interest, 0–1 (rounded to 6 decimals; 0 when empty)."""
        return round(self.analysed_km2 / self.aoi_km2, 6) if self.aoi_km2 > 0 else 0.0

    @property
    def partial(self) -> bool:
        """Whether any of the area of interest was left out."""
        return self.analysed_km2 < self.aoi_km2 * (1 - 1e-9)

    def short_inputs(self) -> list[str]:
        """The inputs that leave part of the area without data, most missing first."""
        return [n for n, v in sorted(self.missing_km2.items(), key=lambda kv: -kv[1]) if v > 0]

    def grouped(self) -> dict[str, list[str]]:
        """The short inputs grouped by their missing area (km² as in messages): the usual
        case of several inputs with the same extent is said once."""
        groups: dict[str, list[str]] = {}
        for n in self.short_inputs():
            groups.setdefault(_fmt(self.missing_km2[n]), []).append(n)
        return groups

    def words(self) -> tuple[str, str]:
        """The coverage in words, ``(zh, en)``: empty strings when the whole area was analysed."""
        if not self.partial:
            return "", ""
        pct = f"{self.share * 100:.1f}"
        a, t = _fmt(self.analysed_km2), _fmt(self.aoi_km2)
        miss = [f"{', '.join(ns)} {km2} km²" for km2, ns in self.grouped().items()]
        zh = f"部分覆盖：仅分析了研究区的 {pct}%（{a} / {t} km²）" + (
            f"；缺少数据：{'；'.join(miss)}。" if miss else "。"
        )
        en = f"Partial coverage: only {pct} % of the {self.basis} ({a} of {t} km²) was analysed" + (
            f"; without data: {'; '.join(miss)}." if miss else "."
        )
        return zh, en

    def summary(self) -> dict[str, Any]:
        """The ``coverage`` record of a summary (the top-level leaves are :meth:`leaves`)."""
        zh, en = self.words()
        return {
            "share": self.share,
            "basis": self.basis,
            "aoi_km2": round(self.aoi_km2, 4),
            "analysed_km2": round(self.analysed_km2, 4),
            "outside_aoi_km2": (
                None if self.outside_aoi_km2 is None else round(self.outside_aoi_km2, 4)
            ),
            "missing_km2": dict(self.missing_km2),
            "partial": self.partial,
            "note_zh": zh,
            "note_en": en,
        }

    def leaves(self) -> dict[str, Any]:
        """The top-level summary leaves ``coverage_share`` and ``coverage_missing_km2``."""
        return {"coverage_share": self.share, "coverage_missing_km2": dict(self.missing_km2)}


def check_min_coverage(value: float) -> float:
    """``value`` as a coverage threshold (0–1), or :class:`InvalidInput`.

    >>> check_min_coverage(0.95)
    0.95
    """
    if not 0.0 <= float(value) <= 1.0:
        raise InvalidInput(f"the coverage threshold must be between 0 and 1; got {value}")
    return float(value)


def check_coverage(
    cov: Coverage,
    *,
    what: str,
    min_share: float = DEFAULT_MIN_COVERAGE,
    allow_partial: bool = False,
) -> Coverage:
    """``cov`` when ``what`` (a run) covers at least ``min_share`` of its area or partial
    results are allowed; else :class:`~geoeco.core.errors.PartialCoverage` naming the inputs
    that fall short."""
    if allow_partial or cov.share >= check_min_coverage(min_share):
        return cov
    groups = cov.grouped()
    why = (
        "; ".join(
            f"input{'s' if len(ns) > 1 else ''} {', '.join(ns)} "
            f"{'have' if len(ns) > 1 else 'has'} no data on {km2} km² of it"
            for km2, ns in groups.items()
        )
        if groups
        else "the inputs leave it without data"
    )
    raise PartialCoverage(
        f"{what} covers only {cov.share * 100:.1f} % of the {cov.basis} "
        f"({_fmt(cov.analysed_km2)} of {_fmt(cov.aoi_km2)} km²), below the required "
        f"{min_share * 100:.4g} %: {why}; give inputs that cover the whole area, or accept a "
        'partial result (--allow-partial, API "allow_partial": true, allow_partial=True)'
    )


__all__ = [
    "DEFAULT_MIN_COVERAGE",
    "Coverage",
    "check_coverage",
    "check_min_coverage",
]
