"""Output rasters assembled from stored tiles: one writer task per file.

On a cluster engine the window tasks leave their outputs in a shared
:class:`~geoeco.core.tile_store.TileStore`; then one task per output file (:func:`write_from_tiles`)
writes that file's windows in order and converts it to a COG. One writer per file needs no
lock (several tasks writing into one GeoTIFF corrupt it), and the files are written in
parallel on the workers. Used by :mod:`geoeco.zoning.overlay.distributed` and
:func:`geoeco.erosion.run.run_erosion`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .raster import Grid
from .tile_store import TileStore

Window = tuple[int, int, int, int]


@dataclass(frozen=True)
class OutputFile:
    """One output raster: the store key of its tiles, its path, grid and windows (tile ``t``
    is ``windows[t]``), the :func:`~geoeco.core.io.open_raster_writer` options, and whether NaN
    marks nodata (``mask_invalid``)."""

    key: str
    path: str
    grid: Grid
    windows: tuple[Window, ...]
    options: dict[str, Any] = field(default_factory=dict)
    mask_invalid: bool = False


def write_from_tiles(store: TileStore, out: OutputFile) -> str:
    """Write ``out`` from its stored tiles (the task an engine runs); returns the path.

    >>> import tempfile, rasterio
    >>> from affine import Affine
    >>> from geoeco.core.crs import ALBERS_CHINA
    >>> from geoeco.core.tile_store import MemoryTileStore
    >>> g = Grid(Affine(10, 0, 0, 0, -10, 0), 3, 2, ALBERS_CHINA)
    >>> s = MemoryTileStore()
    >>> s.put("z", 0, np.array([[1, 2], [3, 4]], np.uint8))
    >>> s.put("z", 1, np.array([[5], [6]], np.uint8))
    >>> with tempfile.TemporaryDirectory() as d:
    ...     p = write_from_tiles(s, OutputFile("z", d + "/z.tif", g, ((0, 0, 2, 2), (0, 2, 2, 1)),
    ...                                        {"dtype": "uint8", "nodata": 0}))
    ...     rasterio.open(p).read(1).tolist()
    [[1, 2, 5], [3, 4, 6]]
    """
    from .io import open_raster_writer

    with open_raster_writer(out.path, out.grid, **out.options) as wr:
        for t, win in enumerate(out.windows):
            a = store.get(out.key, t)
            if a is None:
                raise KeyError(f"tile {t} of {out.key} was never computed")
            wr.write(win, np.ma.masked_invalid(a) if out.mask_invalid else a)
    return out.path


__all__ = ["OutputFile", "write_from_tiles"]
