"""Child process of ``tests/test_threads.py``: many threads querying one opened run.

Run as ``python -X faulthandler tests/threads_worker.py RUN_DIR INPUTS_JSON SECONDS THREADS``
(a crash then kills this process and fails the test, not pytest). ``INPUTS_JSON`` holds
``{"sites": [GeoJSON geometry, ...], "points": [[lon, lat], ...]}`` in CGCS2000 lon-lat.

1. A first :class:`~geoeco.query.point.QueryContext` answers every input once, in this thread: the
   reference results.
2. A second, freshly opened context (cold: no prepared index, exactextract object or cache
   built yet) is shared by ``THREADS`` threads; each screens the sites and looks up the points
   in its own shuffled order for ``SECONDS`` seconds and compares every result with the
   reference (the serialised JSON must be identical).

Prints one JSON object: the reference (unit codes per point, unit shares per site), calls per
thread and kind, mismatches and errors (first few of each).
"""

from __future__ import annotations

import json
import random
import sys
import threading
import time
from pathlib import Path
from typing import Any


def _screen(ctx: Any, site: dict[str, Any]) -> Any:
    from geoeco.query.screening import screen_site

    return screen_site(ctx, site, crs="cgcs2000", buffer_m=500.0)


def _point(ctx: Any, lonlat: list[float]) -> Any:
    from geoeco.query.point import lookup_point

    return lookup_point(ctx, lonlat[0], lonlat[1], crs="cgcs2000")


def _calls(inputs: dict[str, Any]) -> list[tuple[str, int, Any]]:
    return [("screen", i, s) for i, s in enumerate(inputs["sites"])] + [
        ("point", i, p) for i, p in enumerate(inputs["points"])
    ]


def _hammer(
    ctx: Any, inputs: dict[str, Any], expected: dict[tuple[str, int], str], seconds: float, n: int
) -> dict[str, Any]:
    calls = _calls(inputs)
    counts = [{"screen": 0, "point": 0} for _ in range(n)]
    mismatches: list[str] = []
    errors: list[str] = []
    start = threading.Barrier(n)

    def work(k: int) -> None:
        order = list(calls)
        random.Random(k).shuffle(order)
        start.wait()
        end = time.monotonic() + seconds
        j = 0
        while time.monotonic() < end:
            kind, i, arg = order[j % len(order)]
            j += 1
            try:
                res = (_screen if kind == "screen" else _point)(ctx, arg)
                if res.model_dump_json() != expected[(kind, i)]:
                    mismatches.append(f"thread {k}: {kind} {i}")
            except Exception as exc:  # reported, never swallowed
                errors.append(f"thread {k}: {kind} {i}: {exc!r}")
            counts[k][kind] += 1

    threads = [threading.Thread(target=work, args=(k,)) for k in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {
        "counts": counts,
        "mismatches": mismatches[:5],
        "n_mismatches": len(mismatches),
        "errors": errors[:5],
        "n_errors": len(errors),
    }


def main(argv: list[str]) -> None:
    """Reference pass, then the threads (see the module docstring)."""
    from geoeco.query.context import QueryContext

    run_dir, inputs_path, seconds, n = argv[0], argv[1], float(argv[2]), int(argv[3])
    inputs = json.loads(Path(inputs_path).read_text(encoding="utf-8"))
    ref_ctx = QueryContext.open(run_dir)
    expected: dict[tuple[str, int], str] = {}
    summary: dict[str, Any] = {"points": [], "sites": []}
    for kind, i, arg in _calls(inputs):
        res = (_screen if kind == "screen" else _point)(ref_ctx, arg)
        expected[(kind, i)] = res.model_dump_json()
        if kind == "point":
            summary["points"].append(res.unit.code if res.unit is not None else None)
        else:
            summary["sites"].append({o.key: o.share for o in res.by_unit})
    shared = QueryContext.open(run_dir)  # cold: every lazy structure is built under load
    out = _hammer(shared, inputs, expected, seconds, n)
    print(json.dumps({"reference": summary, **out}))


if __name__ == "__main__":
    main(sys.argv[1:])
