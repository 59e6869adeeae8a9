"""GCJ-02 at registration: warn when a user's lon/lat polygons sit where Amap/Tencent put them.

Most vector data users in China get come from Amap (高德) or Tencent maps, whose coordinates
are GCJ-02 ("火星坐标", "Mars" coordinates: WGS 84 shifted by a few hundred metres) but are
usually labelled WGS 84. Coordinates alone cannot tell (GCJ-02 is a plausible lon/lat
everywhere), so :func:`gcj02_note` compares the file's polygons with the built-in county
boundaries (Tianditu, CGCS2000; :func:`geoeco.catalog.admin.counties`) through
:func:`geoeco.core.crs.detect_gcj02`: the data are flagged when converting them from GCJ-02 to
WGS 84 at least halves the median distance between matched county centroids. The note gives
that offset and the command that converts the file (:func:`convert_gcj02_file`).

Only polygon layers in a geographic CRS are checked: a projected CRS was made by someone who
chose a datum, and points or lines have no county to match (give them a reference layer in
Python: :func:`geoeco.core.crs.detect_gcj02`).
"""

from __future__ import annotations

import os
from pathlib import Path

from geoeco.core.crs import WGS84, detect_gcj02, geoms_gcj02_to_wgs84
from geoeco.core.errors import InvalidInput
from geoeco.core.io import write_vector
from geoeco.core.userdata import DEFAULT_LIMITS, UserDataLimits, read_user_vector

from .admin import counties

#: Fewest matched counties for a verdict (fewer: no note; the check is inconclusive).
MIN_MATCHED = 5
#: Files with more features are not read for the check at registration (their reading would
#: cost more than the registration; run :func:`geoeco.core.crs.detect_gcj02` in Python).
MAX_CHECKED = 50_000
#: The command that converts a file (shown in the note).
CONVERT_COMMAND = "geoeco layers gcj02-to-wgs84"


def gcj02_note(
    path: str | os.PathLike[str], *, name: str, limits: UserDataLimits = DEFAULT_LIMITS
) -> str | None:
    """A warning (zh + en) when the polygons of ``path`` look like GCJ-02, else ``None``."""
    gdf = read_user_vector(path, name=name, limits=limits)
    if gdf.crs is None or not gdf.crs.is_geographic:
        return None
    polys = gdf[gdf.geom_type.isin(["Polygon", "MultiPolygon"])]
    if len(polys) < MIN_MATCHED:
        return None
    west, south, east, north = polys.to_crs(WGS84).total_bounds
    ref = counties().cx[west:east, south:north]
    check = detect_gcj02(polys, ref, min_matches=MIN_MATCHED)
    if not check.likely_gcj02:
        return None
    return (
        f"{name} 疑似高德/腾讯 GCJ-02 坐标（火星坐标）: looks like GCJ-02 (Amap/Tencent) "
        f"coordinates labelled {gdf.crs.name}: {check.reason}; convert it before use with "
        f"`{CONVERT_COMMAND} {name} OUT.gpkg`"
    )


def convert_gcj02_file(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    *,
    name: str,
    limits: UserDataLimits = DEFAULT_LIMITS,
) -> int:
    """Write ``src`` (GCJ-02 lon/lat, whatever its label) as WGS 84 into ``dst``; the feature count.

    The format of ``dst`` follows its suffix (:func:`geoeco.core.io.write_vector`); the inverse
    of GCJ-02 is iterative and exact to under a millimetre (:mod:`geoeco.core.crs`).
    """
    gdf = read_user_vector(src, name=name, limits=limits)
    if gdf.crs is not None and not gdf.crs.is_geographic:
        raise InvalidInput(
            f"{name}: GCJ-02 is a lon/lat system, but the file is in a projected CRS "
            f"({gdf.crs.name}); nothing to convert"
        )
    out = gdf.set_crs(WGS84, allow_override=True)
    out = out.set_geometry(geoms_gcj02_to_wgs84(out.geometry.values), crs=WGS84)
    write_vector(out, Path(dst))
    return len(out)


__all__ = ["CONVERT_COMMAND", "MAX_CHECKED", "MIN_MATCHED", "convert_gcj02_file", "gcj02_note"]
