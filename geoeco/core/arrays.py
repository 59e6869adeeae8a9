"""Array helpers shared by the science modules: floats with NaN for nodata, in-place products.

>>> a, b = float_arrays(np.array([1, 2]), 3)
>>> a.tolist(), b, product([a, b], None).tolist()
([1.0, 2.0], 3.0, [3.0, 6.0])
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from .errors import GridMismatch


def as_float(values: Any, dtype: Any = None) -> np.ndarray:
    """Return ``values`` as a float ndarray with NaN for nodata (masked cells become NaN).

    Plain float arrays of the requested dtype are returned without a copy.

    >>> as_float(np.ma.masked_equal([1, 0, 3], 0)).tolist()
    [1.0, nan, 3.0]
    """
    if isinstance(values, np.ma.MaskedArray):
        dt = np.dtype(dtype) if dtype is not None else np.result_type(values.dtype, np.float32)
        filled: np.ndarray = np.ma.filled(values.astype(dt), np.nan)
        return filled
    arr = np.asarray(values)
    if dtype is not None:
        return arr.astype(dtype, copy=False)
    if arr.dtype.kind != "f":
        arr = arr.astype(np.float64)
    return arr


def iter_chunks(data: Any) -> Iterator[np.ndarray]:
    """Yield float arrays (NaN = nodata) from one array or an iterable of arrays (windows).

    >>> [c.tolist() for c in iter_chunks([np.array([1, 2]), np.array([3.0])])]
    [[1.0, 2.0], [3.0]]
    """
    if isinstance(data, np.ndarray):
        yield as_float(data)
        return
    for chunk in data:
        yield as_float(chunk)


def float_arrays(*arrays: ArrayLike) -> list[Any]:
    """Float arrays (NaN = nodata); Python scalars stay Python floats so float32 stays float32."""
    out = [float(a) if isinstance(a, int | float) else as_float(a) for a in arrays]
    shapes = {np.shape(a) for a in out if np.ndim(a)}
    if len(shapes) > 1:
        raise GridMismatch(f"factor arrays must share one grid; got shapes {sorted(shapes)}")
    return out


def product(arrays: Sequence[Any], out: np.ndarray | None) -> np.ndarray:
    """In-place product: one output buffer, no temporaries."""
    first, *rest = arrays
    if out is None:
        shape = np.broadcast_shapes(*(np.shape(a) for a in arrays))
        out = np.empty(shape, dtype=np.result_type(*arrays))
    np.multiply(first, rest[0], out=out)
    for a in rest[1:]:
        np.multiply(out, a, out=out)
    return out
