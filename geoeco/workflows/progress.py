"""Progress callbacks: ``progress(step_name, fraction)`` with ``fraction`` from 0 to 1.

Every run takes one (optional); a run made of runs maps each part onto its share with
:func:`stage`.

>>> seen = []
>>> stage(lambda step, f: seen.append(f), 0.5, 1.0)("half", 0.5)
>>> seen
[0.75]
"""

from __future__ import annotations

from collections.abc import Callable

Progress = Callable[[str, float], None]


def no_progress(step: str, fraction: float) -> None:
    """A callback that ignores the progress."""


def stage(progress: Progress | None, lo: float, hi: float) -> Progress:
    """``progress`` mapped onto the part ``lo``-``hi`` of a longer run (fractions clipped)."""

    def cb(step: str, fraction: float) -> None:
        if progress:
            progress(step, lo + (hi - lo) * max(0.0, min(1.0, fraction)))

    return cb


__all__ = ["Progress", "no_progress", "stage"]
