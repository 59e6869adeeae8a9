"""The short form of a run's summary that the CLI prints and a job returns.

A run writes its whole summary to ``summary.json``; what a person or a client sees at once
leaves out the bulky parts (:data:`DETAIL_KEYS`: inputs with checksums, the configuration, the
overlay's details, the restoration parameters) but keeps ``provenance`` (where the unverified
parameters are flagged) and says how far to trust the result: ``status``, the least trusted
status of its inputs (:mod:`geoeco.core.provenance`).

>>> short_summary({"kind": "zoning", "zones": {"x": 1}, "map": "map.html"})
{'kind': 'zoning', 'map': 'map.html'}
>>> short_summary({"kind": "erosion", "inputs": {"dem": {"status": "synthetic"}, "R": 1.0}})
{'kind': 'erosion', 'status': 'synthetic'}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from geoeco.core.provenance import STATUSES, worst_status

#: Summary entries left out of the short form (they stay in ``summary.json``).
DETAIL_KEYS = ("inputs", "config", "zones", "restoration")
#: What the API's processes say when they ran on the demo region for want of inputs.
DEMO_INPUTS = "synthetic demo region"


def input_statuses(summary: Mapping[str, Any]) -> list[str]:
    """The statuses of a summary's inputs (``inputs`` records, or the zoning's
    ``zones.inputs``)."""
    found: list[str] = []
    for rec in (summary.get("inputs"), (summary.get("zones") or {}).get("inputs")):
        if isinstance(rec, Mapping):
            for r in rec.values():
                if isinstance(r, Mapping) and r.get("status") in STATUSES:
                    found.append(str(r["status"]))
    return found


def short_summary(summary: Mapping[str, Any]) -> dict[str, Any]:
    """``summary`` without :data:`DETAIL_KEYS`, with ``status`` (the least trusted of its
    inputs') when they state any."""
    out = {k: v for k, v in summary.items() if k not in DETAIL_KEYS}
    statuses = input_statuses(summary)
    if statuses and "status" not in out:
        out["status"] = worst_status(statuses)
    return out


__all__ = ["DEMO_INPUTS", "DETAIL_KEYS", "input_statuses", "short_summary"]
