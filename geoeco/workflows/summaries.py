"""The short form of a run's summary that the CLI prints and a job returns.

A run writes its whole summary to ``summary.json``; what a person or a client sees at once
leaves out the bulky parts (:data:`DETAIL_KEYS`: provenance, inputs with checksums, the
configuration, the overlay's details, the restoration parameters).

>>> short_summary({"kind": "zoning", "zones": {"x": 1}, "map": "map.html"})
{'kind': 'zoning', 'map': 'map.html'}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: Summary entries left out of the short form (they stay in ``summary.json``).
DETAIL_KEYS = ("provenance", "inputs", "config", "zones", "restoration")


def short_summary(summary: Mapping[str, Any]) -> dict[str, Any]:
    """``summary`` without :data:`DETAIL_KEYS`."""
    return {k: v for k, v in summary.items() if k not in DETAIL_KEYS}


__all__ = ["DETAIL_KEYS", "short_summary"]
