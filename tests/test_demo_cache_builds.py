"""Cached builds (:func:`geoeco.workflows.demo_cache.build_once`): one builder at a time across
processes, nothing left by a failed build, and killed builders' folders removed by the next
builder or by a service's start-up sweep, never those of a live builder.

The builders are real processes; the "crashed" ones are killed with SIGKILL.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from geoeco.core.errors import InvalidInput
from geoeco.core.staging import host_tag, make_staging
from geoeco.workflows.demo_cache import build_once, is_complete, remove_abandoned_builds

posix_only = pytest.mark.skipif(os.name != "posix", reason="SIGKILL and flock are POSIX")

MAKER = """
import sys, time
from geoeco.core.staging import make_staging
print(make_staging(sys.argv[1], sys.argv[2]), flush=True)
time.sleep(120)
"""


def start_maker(parent: Path, prefix: str) -> tuple[subprocess.Popen[str], Path]:
    """A process that makes a staging folder in ``parent`` and then waits (to be killed)."""
    proc = subprocess.Popen(
        [sys.executable, "-c", MAKER, str(parent), prefix], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    return proc, Path(proc.stdout.readline().strip())


# -- cached builds --------------------------------------------------------------------------
BUILDER = """
import os, sys, time
from pathlib import Path
from geoeco.workflows.demo_cache import build_once
target, log = Path(sys.argv[1]), Path(sys.argv[2])

def build(folder):
    (log / f"started-{os.getpid()}").write_text(str(folder))
    while not (log / "go").exists():
        time.sleep(0.05)
    (folder / "result.txt").write_text(f"built by {os.getpid()}")

build_once(target, build)
print("done", flush=True)
"""


def start_builder(target: Path, log: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", BUILDER, str(target), str(log)], stdout=subprocess.PIPE, text=True
    )


def wait_for(pred, timeout: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    t0 = time.time()
    while not pred():
        assert time.time() - t0 < timeout, "timed out"
        time.sleep(0.05)


@posix_only
def test_concurrent_builders_build_once_and_killed_builds_are_removed(tmp_path: Path) -> None:
    target = tmp_path / "cache" / "demo-inputs" / "small-x"
    log = tmp_path / "log"
    log.mkdir()
    first = start_builder(target, log)
    procs = [first]
    try:
        wait_for(lambda: len(list(log.glob("started-*"))) == 1)
        second = start_builder(target, log)
        procs.append(second)
        time.sleep(1.0)  # the second waits on the lock file: it starts no build of its own
        assert [p.name for p in log.glob("started-*")] == [f"started-{first.pid}"]
        (log / "go").write_text("")
        assert first.wait(30) == 0 and second.wait(30) == 0
        assert (target / "result.txt").read_text() == f"built by {first.pid}"
        assert is_complete(target)
        assert sorted(p.name for p in target.parent.iterdir()) == ["small-x", "small-x.lock"]

        # a builder killed midway leaves its staging folder; the next builder removes it
        other = target.with_name("small-y")
        (log / "go").unlink()
        killed = start_builder(other, log)
        procs.append(killed)
        wait_for(lambda: (log / f"started-{killed.pid}").exists())
        staging = Path((log / f"started-{killed.pid}").read_text())
        killed.send_signal(signal.SIGKILL)
        killed.wait(10)
        assert staging.is_dir() and staging.name.startswith(".small-y.build-")
        built = build_once(other, lambda f: (f / "result.txt").write_text("rebuilt"))
        assert (built / "result.txt").read_text() == "rebuilt" and not staging.exists()
        assert sorted(p.name for p in target.parent.iterdir()) == [
            "small-x",
            "small-x.lock",
            "small-y",
            "small-y.lock",
        ]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait(10)


@posix_only
def test_a_service_start_sweep_removes_only_dead_builders_folders(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    dead, dead_dir = start_maker(cache / "demo-run", ".full-0.1.build-")
    live, live_dir = start_maker(cache / "demo-inputs", ".small-0.1.build-")
    try:
        dead.send_signal(signal.SIGKILL)
        dead.wait(10)
        kept = [cache / "demo-run" / "full-0.1", cache / "demo-inputs" / ".small-0.1.other"]
        for p in kept:
            p.mkdir(parents=True)
        assert remove_abandoned_builds(cache) == [dead_dir]
        assert all(p.is_dir() for p in [*kept, live_dir]) and not dead_dir.exists()
    finally:
        for p in (dead, live):
            if p.poll() is None:
                p.kill()
                p.wait(10)


def test_a_failed_build_leaves_nothing(tmp_path: Path) -> None:
    target = tmp_path / "demo-run" / "small-z"

    def fail(folder: Path) -> None:
        (folder / "half.tif").write_bytes(b"x")
        raise InvalidInput("build failed")

    with pytest.raises(InvalidInput):
        build_once(target, fail)
    assert sorted(p.name for p in target.parent.iterdir()) == ["small-z.lock"]
    assert make_staging(tmp_path, ".p-").name.startswith(f".p-{host_tag()}-{os.getpid()}-")
