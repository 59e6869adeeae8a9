"""Where per-window work runs: in this process, or on a ``dask.distributed`` cluster.

A pipeline that walks a grid window by window splits its body into a *kernel*, a pure,
picklable function ``kernel(*args, window) -> result`` whose arguments are small (paths,
numbers, configuration; the kernel opens the rasters itself), and lets an :class:`Engine`
run it over the windows with :meth:`Engine.map_windows`. The driver (the caller) receives
``(window, result)`` pairs and alone writes the outputs, so there is a single writer per file
and no locking.

- :class:`LocalEngine` (the default) calls the kernel in this process, window after window.
- :class:`DaskEngine` submits one task per window to a ``dask.distributed`` cluster: a
  ``LocalCluster`` of worker processes started on demand, or an existing scheduler by address
  (``tcp://host:8786``). At most a few windows per worker thread are in flight, so the
  driver's memory stays bounded whatever the raster size.

:func:`get_engine` turns the CLI/service option (``"local"`` or ``"dask"`` plus a scheduler
address) into an engine. Dask is an optional dependency (extra ``dask``), imported only when a
:class:`DaskEngine` is used.

Examples
--------
>>> def square(scale, window):
...     return scale * window[2] * window[3]
>>> with get_engine("local") as eng:
...     list(eng.map_windows(square, [(0, 0, 2, 2), (0, 2, 2, 1)], 10))
[((0, 0, 2, 2), 40), ((0, 2, 2, 1), 20)]
"""

from __future__ import annotations

import collections
import contextlib
import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Literal, Protocol, TypeVar, runtime_checkable

from .errors import DataSourceError, InvalidInput

Window = tuple[int, int, int, int]
T = TypeVar("T")
#: An item :meth:`Engine.map_windows` hands to its kernel: a window, or any picklable task.
W = TypeVar("W")
EngineName = Literal["local", "dask"]
ENGINES: tuple[str, ...] = ("local", "dask")

_ADDRESS = re.compile(r"^(?:(tcp|tls|inproc|ucx|ws|wss)://)?[\w.\-\[\]:]+:\d{1,5}$")


@runtime_checkable
class Engine(Protocol):
    """Runs a per-window kernel; see :func:`get_engine`."""

    name: str

    def map_windows(
        self,
        kernel: Callable[..., T],
        windows: Iterable[W],
        *args: Any,
        ordered: bool = True,
        ahead: int | None = None,
    ) -> Iterator[tuple[W, T]]:
        """Yield ``(window, kernel(*args, window))`` for every window.

        In window order when ``ordered`` (the default), else as results complete. ``ahead``:
        tasks kept in flight per worker thread, instead of the engine's own setting (more for
        short tasks with small results).
        """
        ...

    def describe(self) -> dict[str, Any]:
        """A JSON-ready description (name, workers) for summaries and logs."""
        ...

    def close(self) -> None:
        """Release what the engine started (clients, clusters)."""
        ...

    def __enter__(self) -> Engine: ...

    def __exit__(self, *exc: object) -> None: ...


class LocalEngine:
    """Run each window in this process, one after the other (today's behaviour).

    >>> LocalEngine().describe()
    {'name': 'local', 'workers': 1, 'threads_per_worker': 1}
    """

    name = "local"

    def map_windows(
        self,
        kernel: Callable[..., T],
        windows: Iterable[W],
        *args: Any,
        ordered: bool = True,
        ahead: int | None = None,
    ) -> Iterator[tuple[W, T]]:
        """Yield ``(window, kernel(*args, window))`` in window order (``ordered`` and
        ``ahead`` are moot)."""
        for w in windows:
            yield w, kernel(*args, w)

    def describe(self) -> dict[str, Any]:
        """``{'name': 'local', 'workers': 1, 'threads_per_worker': 1}``."""
        return {"name": "local", "workers": 1, "threads_per_worker": 1}

    def close(self) -> None:
        """Nothing to release."""

    def __enter__(self) -> LocalEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class DaskEngine:
    """Run windows as tasks on a ``dask.distributed`` cluster.

    Parameters
    ----------
    scheduler
        Address of a running scheduler (``tcp://host:8786`` or ``host:8786``), or ``None`` to
        start a ``LocalCluster`` of worker *processes* on first use (closed by :meth:`close`).
    n_workers
        Worker processes of the local cluster (default: one per CPU core). Only for a local
        cluster: an existing cluster's size is set where it was started.
    threads_per_worker
        Threads per local worker. 1 (the default) keeps GDAL and numpy single-threaded per
        process, which is what scales best for window algebra.
    memory_limit
        Per-worker memory limit of the local cluster (e.g. ``"2GiB"``); dask pauses, then
        restarts, a worker that goes above it.
    in_flight
        Windows submitted ahead per worker thread (bounded driver memory); default 2.
    connect_timeout
        Seconds to wait for a scheduler address before giving up.
    client
        An existing ``distributed.Client`` to use (not closed by :meth:`close`).

    Workers open the inputs themselves, so they must see the same file paths as the driver
    (one machine, or a shared file system) and have geoeco installed.
    """

    name = "dask"

    def __init__(
        self,
        scheduler: str | None = None,
        *,
        n_workers: int | None = None,
        threads_per_worker: int = 1,
        memory_limit: str | int | None = "2GiB",
        in_flight: int = 2,
        connect_timeout: float = 5.0,
        client: Any = None,
    ) -> None:
        if scheduler is not None:
            scheduler = str(scheduler).strip()
            if not _ADDRESS.match(scheduler):
                raise InvalidInput(
                    f"scheduler address must look like tcp://host:8786 or host:8786, "
                    f"got {scheduler!r}"
                )
            if n_workers is not None:
                raise InvalidInput(
                    "n_workers applies to a local cluster only; an existing scheduler's "
                    "workers are started with `dask worker ADDRESS`"
                )
        if n_workers is not None and (not isinstance(n_workers, int) or n_workers < 1):
            raise InvalidInput(f"n_workers must be a positive integer, got {n_workers!r}")
        if not isinstance(threads_per_worker, int) or threads_per_worker < 1:
            raise InvalidInput(
                f"threads_per_worker must be a positive integer, got {threads_per_worker!r}"
            )
        if not isinstance(in_flight, int) or in_flight < 1:
            raise InvalidInput(f"in_flight must be a positive integer, got {in_flight!r}")
        if not connect_timeout > 0:
            raise InvalidInput(f"connect_timeout must be > 0 s, got {connect_timeout!r}")
        self.scheduler = scheduler
        self.n_workers = n_workers
        self.threads_per_worker = threads_per_worker
        self.memory_limit = memory_limit
        self.in_flight = in_flight
        self.connect_timeout = float(connect_timeout)
        self._client = client
        self._owns_client = client is None
        self._cluster: Any = None

    # ------------------------------------------------------------------ connection

    @property
    def client(self) -> Any:
        """The ``distributed.Client``, connecting (or starting the local cluster) on first use."""
        if self._client is None:
            self._client = self._connect()
        return self._client

    def _connect(self) -> Any:
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            raise InvalidInput(
                "engine 'dask' needs dask.distributed: pip install 'geoeco[dask]'"
            ) from None
        if self.scheduler is None:
            self._cluster = LocalCluster(
                n_workers=self.n_workers,
                threads_per_worker=self.threads_per_worker,
                processes=True,
                memory_limit=self.memory_limit,
                # a free port: None does not turn the dashboard off (dask/distributed#8136)
                # and 8787 is taken by any other cluster on the machine
                dashboard_address=":0",
            )
            return Client(self._cluster, set_as_default=False)
        try:
            return Client(
                self.scheduler,
                timeout=f"{self.connect_timeout}s",
                set_as_default=False,
            )
        except (OSError, TimeoutError) as exc:
            raise DataSourceError(
                f"dask scheduler {self.scheduler} did not answer within "
                f"{self.connect_timeout:g} s ({type(exc).__name__}); start it with "
                f"`dask scheduler` and `dask worker {self.scheduler}`, or use engine 'local'"
            ) from None
        except Exception as exc:  # something answered, but it does not speak dask's protocol
            raise DataSourceError(
                f"{self.scheduler} answered but is not a dask scheduler "
                f"({type(exc).__name__}); check the address and port"
            ) from None

    def _slots(self, ahead: int | None = None) -> int:
        info = self.client.scheduler_info(n_workers=-1)
        threads = sum(int(w.get("nthreads", 1)) for w in info.get("workers", {}).values())
        return max(1, threads) * (ahead or self.in_flight)

    # ------------------------------------------------------------------ running

    def map_windows(
        self,
        kernel: Callable[..., T],
        windows: Iterable[W],
        *args: Any,
        ordered: bool = True,
        ahead: int | None = None,
    ) -> Iterator[tuple[W, T]]:
        """Submit ``kernel(*args, window)`` per window; yield ``(window, result)``.

        A bounded number of tasks is in flight; results are released as soon as they are
        yielded. A kernel's exception is re-raised here with its own type and message.
        """
        client = self.client
        slots = self._slots(ahead)
        todo = iter(windows)
        shipped = [
            client.scatter(a, broadcast=True, hash=False) if _shipped_once(a) else a for a in args
        ]  # hash=False: a fresh key, never one a previous call is releasing

        def submit(w: W) -> Any:
            return client.submit(kernel, *shipped, w, pure=False)

        if ordered:
            queue: collections.deque[tuple[W, Any]] = collections.deque()
            for w in todo:
                queue.append((w, submit(w)))
                if len(queue) >= slots:
                    break
            try:
                while queue:
                    w, fut = queue.popleft()
                    res = fut.result()
                    fut.release()
                    nxt = next(todo, None)
                    if nxt is not None:
                        queue.append((nxt, submit(nxt)))
                    yield w, res
            finally:
                for _, fut in queue:
                    fut.cancel()
            return

        from distributed import as_completed

        futures: dict[Any, W] = {}
        for w in todo:
            futures[submit(w)] = w
            if len(futures) >= slots:
                break
        done = as_completed(list(futures), loop=client.loop)
        try:
            for fut in done:
                w = futures.pop(fut)
                res = fut.result()
                fut.release()
                nxt = next(todo, None)
                if nxt is not None:
                    f2 = submit(nxt)
                    futures[f2] = nxt
                    done.add(f2)
                yield w, res
        finally:
            for fut in futures:
                fut.cancel()

    def describe(self) -> dict[str, Any]:
        """Name, scheduler (``local`` for a LocalCluster), worker and thread counts."""
        info = self.client.scheduler_info(n_workers=-1)
        workers = info.get("workers", {})
        return {
            "name": "dask",
            "scheduler": self.scheduler or "local",
            "workers": len(workers),
            "threads": sum(int(w.get("nthreads", 1)) for w in workers.values()),
        }

    def close(self) -> None:
        """Close the client and the local cluster this engine started."""
        if self._owns_client and self._client is not None:
            self._client.close()
            self._client = None
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None

    def __enter__(self) -> DaskEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _shipped_once(obj: Any) -> bool:
    """Arguments sent to every worker once, not embedded in every task: anything but plain
    numbers, strings and ``None``. A worker then unpickles a spec once and reuses it for all
    its tasks (readers inside it open their files once per worker, not once per window).

    >>> _shipped_once(None), _shipped_once(3), _shipped_once({"grid": 1})
    (False, False, True)
    """
    return not (obj is None or isinstance(obj, int | float | str | bytes))


def check_engine(engine: object) -> None:
    """Raise :class:`InvalidInput` unless ``engine`` is ``None``, a name or an Engine (the
    name itself is checked by :func:`get_engine`).

    >>> check_engine(3)
    Traceback (most recent call last):
    ...
    geoeco.core.errors.InvalidInput: engine must be 'local', 'dask' or an Engine; got 3
    """
    if engine is not None and not isinstance(engine, str | Engine):
        raise InvalidInput(f"engine must be 'local', 'dask' or an Engine; got {engine!r}")


@contextlib.contextmanager
def using_engine(engine: Engine | str | None) -> Iterator[Engine]:
    """The engine of one run: an Engine passed in is used and left open (for reuse), one made
    here from a name (``None``: local) is closed when the run ends.

    >>> with using_engine(None) as eng:
    ...     eng.name
    'local'
    """
    check_engine(engine)
    eng = get_engine(engine)
    if eng is engine:
        yield eng
        return
    with eng:
        yield eng


def get_engine(
    name: str | Engine | None = "local",
    *,
    scheduler: str | None = None,
    **options: Any,
) -> Engine:
    """The engine called ``name`` (``"local"`` or ``"dask"``); an Engine is returned as is.

    ``scheduler`` (an address) implies and is only valid with ``"dask"``; ``options`` go to
    :class:`DaskEngine` (``n_workers``, ``threads_per_worker``, ``memory_limit``, ...).

    >>> get_engine(None).name
    'local'
    >>> get_engine("spark")
    Traceback (most recent call last):
    ...
    geoeco.core.errors.InvalidInput: engine must be one of local, dask; got 'spark'
    """
    if name is not None and not isinstance(name, str):
        if isinstance(name, Engine):
            return name
        raise InvalidInput(f"engine must be one of {', '.join(ENGINES)}; got {name!r}")
    key = (name or "local").strip().lower()
    if key not in ENGINES:
        raise InvalidInput(f"engine must be one of {', '.join(ENGINES)}; got {name!r}")
    if key == "local":
        if scheduler is not None:
            raise InvalidInput("a scheduler address needs engine 'dask' (got engine 'local')")
        if options:
            raise InvalidInput(f"engine 'local' takes no options; got {', '.join(sorted(options))}")
        return LocalEngine()
    return DaskEngine(scheduler, **options)


__all__ = [
    "ENGINES",
    "DaskEngine",
    "Engine",
    "LocalEngine",
    "Window",
    "check_engine",
    "get_engine",
    "using_engine",
]
