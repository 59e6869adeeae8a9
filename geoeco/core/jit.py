"""Kernels compiled by numba only for grids large enough to pay numba's start-up.

A grid kernel is written once as a plain Python function over numpy arrays and decorated
with :func:`kernel`. Called on small arrays (fewer than :data:`SMALL_GRID_CELLS` cells in
its largest array argument) it runs interpreted, and numba is never imported: numba's
import and its first dispatch in a process cost ~1 s, far more than interpreting a
12 × 200 grid. Called on a larger array it is compiled with ``numba.njit(cache=True,
nogil=True)`` on first use (memoised, under a lock) and the compiled version runs; once a
kernel has been compiled, later calls use it whatever their size (:data:`STICKY`).

Kernels may call other kernels through module-level names. numba resolves globals when it
compiles, so each version runs with its own copy of the module's globals in which every
kernel name is bound to the matching version of the callee (the interpreted function or
the numba dispatcher). numba's on-disk cache still works: it keys on the code object's
file and the function's qualified name, both kept.

>>> import numpy as np
>>> @kernel
... def total(a):
...     s = 0.0
...     for v in a:
...         s += v
...     return s
>>> float(total(np.arange(4.0)))
6.0
"""

from __future__ import annotations

import threading
import types
from collections.abc import Callable
from typing import Any, TypeVar, cast

import numpy as np

#: Cells in a kernel's largest array argument from which it is compiled by numba. Measured
#: (ls_factor, whole routing + LS, 2-core machine): interpreted 33 µs per cell with lstool/D8
#: and 70 µs with invest/MFD, against ~0.5 s for numba's import and first dispatch from its
#: cache; interpreting wins below ~15k and ~7k cells respectively.
SMALL_GRID_CELLS = 8_000

#: Once a kernel is compiled, use the compiled version for every size (tests turn it off to
#: force the interpreted version).
STICKY = True

F = TypeVar("F", bound=Callable[..., Any])

_LOCK = threading.RLock()


class Kernel:
    """A plain Python grid function with a lazily numba-compiled twin (see module doc)."""

    def __init__(self, fn: types.FunctionType) -> None:
        """Wrap ``fn``; nothing is copied or compiled until the first call."""
        self.fn = fn
        self.__doc__ = fn.__doc__
        self.__name__ = fn.__name__
        self.__qualname__ = fn.__qualname__
        self.__module__ = fn.__module__
        self._python: types.FunctionType | None = None
        self._jitted: Any = None

    def python(self) -> types.FunctionType:
        """The interpreted version, with callee kernels bound to their interpreted versions."""
        if self._python is None:
            with _LOCK:
                if self._python is None:
                    self._python = _rebind(self.fn, lambda k: k.python())
        return self._python

    def jitted(self) -> Any:
        """The numba dispatcher (compiled or loaded from numba's cache on first call)."""
        if self._jitted is None:
            with _LOCK:
                if self._jitted is None:
                    from numba import njit

                    self._jitted = njit(cache=True, nogil=True)(
                        _rebind(self.fn, lambda k: k.jitted())
                    )
        return self._jitted

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Run the compiled version for large grids (or once compiled), else interpreted."""
        compiled = STICKY and self._jitted is not None
        if compiled or _largest((*args, *kwargs.values())) >= SMALL_GRID_CELLS:
            return self.jitted()(*args, **kwargs)
        return _interpret(self.python(), args, kwargs)


def kernel(fn: F) -> F:
    """Mark ``fn`` as a grid kernel (interpreted on small grids, numba on large ones)."""
    return cast(F, Kernel(cast(types.FunctionType, fn)))


def _interpret(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``fn(*args, **kwargs)`` with float32 arrays widened to float64 and written back.

    numba computes on float32 array elements in float64 as soon as a float literal or a
    float argument joins in (``2.0 * z[r, c]``), where numpy scalars would stay float32;
    widening the arrays makes the interpreted arithmetic match, and the write-back rounds
    to float32 as numba's stores do.
    """
    copies: dict[int, Any] = {}  # one copy per array, so aliased arguments stay aliased
    wide = {k: _widen(v, copies) for k, v in kwargs.items()}
    wide_args = tuple(_widen(a, copies) for a in args)
    out = fn(*wide_args, **wide)
    pairs = [*zip(args, wide_args, strict=True), *((kwargs[k], wide[k]) for k in kwargs)]
    with np.errstate(invalid="ignore"):
        for old, new in pairs:
            if new is not old and old.flags.writeable:
                np.copyto(old, new, casting="unsafe")
    return out


def _widen(value: Any, copies: dict[int, Any]) -> Any:
    """A float64 copy of a float32 array (the same copy for the same array); else ``value``."""
    if not (isinstance(value, np.ndarray) and value.dtype == np.float32):
        return value
    if id(value) not in copies:
        with np.errstate(invalid="ignore"):  # np.empty outputs may hold signalling NaNs
            copies[id(value)] = value.astype(np.float64)
    return copies[id(value)]


def _largest(args: tuple[Any, ...]) -> int:
    """Cells in the largest numpy array among ``args`` (0 if none)."""
    return max((a.size for a in args if isinstance(a, np.ndarray)), default=0)


def _rebind(fn: types.FunctionType, version: Callable[[Kernel], Any]) -> types.FunctionType:
    """A copy of ``fn`` whose globals bind each kernel it names to ``version(kernel)``."""
    scope = dict(fn.__globals__)
    for name in fn.__code__.co_names:
        value = scope.get(name)
        if isinstance(value, Kernel):
            scope[name] = version(value)
    copy = types.FunctionType(fn.__code__, scope, fn.__name__, fn.__defaults__, fn.__closure__)
    copy.__qualname__ = fn.__qualname__
    copy.__doc__ = fn.__doc__
    copy.__kwdefaults__ = fn.__kwdefaults__
    return copy
