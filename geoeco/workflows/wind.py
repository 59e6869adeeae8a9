"""Wind erosion (RWEQ) from what a user gives, or on the demo region: the one way
``geoeco wind-erosion``, the ``wind_erosion`` process and ``geoeco demo`` run it.

:func:`wind_erosion_from` runs :func:`~geoeco.erosion.wind_run.run_wind_erosion` on the
user's :class:`~geoeco.erosion.wind_run.WindInputs`, or -- without them -- on the synthetic
demo region built into a scratch folder inside the output folder, with the synthetic RWEQ
inputs of :mod:`geoeco.catalog.demo_wind` (:func:`demo_wind_inputs`; every input's status in
``summary.json`` says ``synthetic``).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from geoeco.catalog.demo_region import DEFAULT_DEMO_SIZE
from geoeco.catalog.demo_wind import build_demo_wind_inputs
from geoeco.core.errors import InvalidInput
from geoeco.core.windows import parse_factor
from geoeco.erosion import wind as rweq
from geoeco.erosion.wind_results import WindErosionResult
from geoeco.erosion.wind_run import WIND_INPUT_NAMES, WindInputs, run_wind_erosion

from .erosion import demo_layers
from .progress import Progress, stage

#: Folder of the demo's wind-erosion outputs (in ``geoeco demo``'s output folder).
DEMO_WIND_DIR = "wind_erosion"


_REQUIRED = ("wind", "temperature", "rain", "etp", "sand", "silt", "clay")


def wind_inputs(
    texts: Mapping[str, str | float | None], *, wind_height_m: float = 10.0, year: int = 2021
) -> WindInputs | None:
    """:class:`~geoeco.erosion.wind_run.WindInputs` from text values (numbers or paths, as the
    CLI and the process give them); ``None`` when nothing is given (then the demo runs).

    >>> wind_inputs({}) is None
    True
    >>> wind_inputs({"wind": "7"})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    geoeco.core.errors.InvalidInput: wind erosion needs landcover ...; missing: landcover, ...
    """
    unknown = sorted(set(texts) - set(WIND_INPUT_NAMES))
    if unknown:
        raise InvalidInput(f"unknown wind-erosion inputs: {unknown}")
    given = {n: parse_factor(v) for n, v in texts.items() if v is not None}
    if not given:
        return None
    missing = [n for n in ("landcover", *_REQUIRED) if n not in given]
    if missing:
        raise InvalidInput(
            "wind erosion needs landcover (a raster) and "
            + ", ".join(_REQUIRED)
            + "; missing: "
            + ", ".join(missing)
        )
    for n in ("landcover", "ndvi"):
        if n in given and not isinstance(given[n], str):
            raise InvalidInput(f"{n} must be a raster path, got the number {given[n]}")
    return WindInputs(**given, wind_height_m=wind_height_m, year=year)  # type: ignore[arg-type]


def demo_wind_inputs(
    layers: Mapping[str, Path], out_dir: Path, *, written: Mapping[str, Path] | None = None
) -> WindInputs:
    """The RWEQ inputs of the demo region: its own layers plus the synthetic ones written
    into ``out_dir`` (:func:`~geoeco.catalog.demo_wind.build_demo_wind_inputs`), or those
    ``written`` before by it."""
    extra = dict(written) if written else build_demo_wind_inputs(dict(layers), out_dir)
    given = {
        "landcover": layers["landcover"],
        "temperature": layers["temp_monthly"],
        "rain": layers["precip_monthly"],
        "sand": layers["sand"],
        "silt": layers["silt"],
        "clay": layers["clay"],
        "organic_carbon": layers["soc"],
        "elevation": layers["dem"],
        "ndvi": layers["ndvi"],
        **extra,
    }
    status = dict.fromkeys(given, "synthetic (geoeco demo region)")
    return WindInputs(**given, status=status)  # type: ignore[arg-type]


def run_demo_wind(
    folder: Path,
    layers: Mapping[str, Path],
    *,
    params: rweq.RweqParameters = rweq.DEFAULT,
    progress: Progress | None = None,
) -> WindErosionResult:
    """RWEQ on the demo layers into ``folder/wind_erosion`` (synthetic inputs beside the
    demo layers, in the layers' folder)."""
    inputs = demo_wind_inputs(layers, Path(layers["landcover"]).parent)
    return run_wind_erosion(inputs, folder / DEMO_WIND_DIR, params=params, progress=progress)


def wind_erosion_from(
    inputs: WindInputs | None,
    out_dir: str | Path,
    *,
    params: rweq.RweqParameters = rweq.DEFAULT,
    demo_size: str = DEFAULT_DEMO_SIZE,
    progress: Progress | None = None,
) -> WindErosionResult:
    """RWEQ on ``inputs``, or on the demo region of ``demo_size`` without them."""
    out = Path(out_dir)
    if inputs is not None:
        return run_wind_erosion(inputs, out, params=params, progress=progress)
    with demo_layers(out, demo_size, stage(progress, 0, 0.3)) as layers:
        demo = demo_wind_inputs(layers, layers["landcover"].parent)
        return run_wind_erosion(demo, out, params=params, progress=stage(progress, 0.3, 1.0))


__all__ = [
    "DEMO_WIND_DIR",
    "WIND_INPUT_NAMES",
    "demo_wind_inputs",
    "run_demo_wind",
    "wind_erosion_from",
    "wind_inputs",
]
