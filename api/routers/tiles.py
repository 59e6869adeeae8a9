"""``/tiles/{layer}/{z}/{x}/{y}.png``: Web Mercator XYZ tiles of raster layers.

Categorical layers are drawn in their legend colours; continuous ones with a colour ramp
(``?colormap=``, default the manifest's ``attributes.colormap`` or ``viridis``) over
``?rescale=min,max`` (default the layer's 2nd-98th percentiles). A tile outside the layer is a
transparent PNG with the header ``X-Tile-Empty: true``.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Annotated, Literal

from fastapi import APIRouter, Path, Query, Response

from geoeco.service.tiles import EMPTY_TILE, MAX_ZOOM, RAMPS, layer_tile

from ..deps import RegistryDep, SettingsDep
from ..errors import param_error, problem_responses, server_side

router = APIRouter(tags=["tiles"])

_COLORMAPS = ", ".join(sorted(RAMPS))
#: A colour ramp name, ``_r`` appended to reverse it.
if TYPE_CHECKING:  # the names are known at run time only (the ramps table)
    Colormap = str
else:
    Colormap = Literal[tuple(sorted([*RAMPS, *(f"{r}_r" for r in RAMPS)]))]
# at most 30 digits and a 2-digit exponent: every match is a finite float
_NUMBER = r"[-+]?(?:\d{1,30}(?:\.\d{0,30})?|\.\d{1,30})(?:[eE][-+]?\d{1,2})?"
#: Two decimal numbers separated by a comma (that min < max is checked by :func:`parse_rescale`).
RESCALE_PATTERN = f"^{_NUMBER},{_NUMBER}$"
ColormapQuery = Annotated[
    Colormap | None,
    Query(description=f"Colour ramp for continuous values ({_COLORMAPS}; `_r` reverses)."),
]
RescaleQuery = Annotated[
    str | None,
    Query(
        pattern=RESCALE_PATTERN,
        max_length=100,
        description="min,max of the ramp (two numbers, min < max).",
        examples=["0,1"],
    ),
]


def parse_rescale(text: str | None) -> tuple[float, float] | None:
    """``"min,max"`` as two finite numbers with min < max, or a 422 naming ``query.rescale``."""
    if text is None:
        return None
    try:
        vals = [float(v) for v in text.split(",")]
    except ValueError:
        vals = []
    if len(vals) != 2 or not all(math.isfinite(v) for v in vals) or vals[0] >= vals[1]:
        raise param_error("query", "rescale", f"rescale must be 'min,max' with min < max: {text!r}")
    return vals[0], vals[1]


@router.get(
    "/tiles/{layer}/{z}/{x}/{y}.png",
    summary="Map tile of a raster layer",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}}, **problem_responses(404, 422)},
)
def tile(
    layer: Annotated[str, Path(description="Raster layer id, e.g. `demo.landcover`.")],
    z: Annotated[int, Path(ge=0, le=MAX_ZOOM)],
    x: Annotated[int, Path(ge=0)],
    y: Annotated[int, Path(ge=0)],
    registry: RegistryDep,
    settings: SettingsDep,
    colormap: ColormapQuery = None,
    rescale: RescaleQuery = None,
    band: Annotated[int, Query(ge=1)] = 1,
) -> Response:
    """A 256×256 PNG; categorical layers use the colours of their class table."""
    lo_hi = parse_rescale(rescale)
    spec = registry.get(layer)
    with server_side(f"layer {layer!r}"):
        png = layer_tile(
            spec,
            z,
            x,
            y,
            cache_dir=settings.cache_dir,
            colormap=colormap,
            rescale=lo_hi,
            band=band,
        )
    headers = {"Cache-Control": "public, max-age=3600", "X-Geoeco-Layer-Status": spec.status}
    if png is None:
        headers["X-Tile-Empty"] = "true"
        png = EMPTY_TILE
    return Response(png, media_type="image/png", headers=headers)


__all__ = ["ColormapQuery", "RESCALE_PATTERN", "RescaleQuery", "parse_rescale", "router"]
