"""Nothing is left behind by a failure: output folders of the command line and staging
folders of killed processes.

Processes that "crash" here are real: small Python subprocesses that make a staging folder and
are then killed with SIGKILL, so they cannot clean up.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from geoeco.cli import main
from geoeco.core.errors import InvalidInput
from geoeco.core.staging import (
    RUN_PREFIX,
    host_tag,
    output_folder,
    owner_of,
    remove_abandoned,
)

posix_only = pytest.mark.skipif(os.name != "posix", reason="SIGKILL and flock are POSIX")


def snapshot(folder: Path) -> dict[str, bytes | None]:
    """Every path below ``folder`` (relative) with its bytes (``None`` for a folder)."""
    return {
        str(p.relative_to(folder)): (None if p.is_dir() else p.read_bytes())
        for p in sorted(folder.rglob("*"))
    }


def user_folder(root: Path) -> Path:
    out = root / "out"
    (out / "sub").mkdir(parents=True)
    (out / "notes.txt").write_text("mine")
    (out / "soil_loss.tif").write_bytes(b"an earlier result")
    (out / "sub" / "x.txt").write_text("x")
    return out


# -- output_folder --------------------------------------------------------------------------
def test_a_failed_run_removes_the_folder_it_created_and_its_parents(tmp_path: Path) -> None:
    out = tmp_path / "a" / "b" / "out"
    with pytest.raises(InvalidInput, match="late"), output_folder(out) as work:
        (work / "soil_loss.tif").write_bytes(b"half")
        (work / "erosion").mkdir()
        raise InvalidInput("late failure")
    assert list(tmp_path.iterdir()) == []  # neither out nor a/ nor a/b/ nor a staging folder


def test_a_failed_run_leaves_a_users_folder_and_its_content_as_they_were(tmp_path: Path) -> None:
    out = user_folder(tmp_path)
    before = snapshot(tmp_path)
    with pytest.raises(RuntimeError), output_folder(out) as work:
        (work / "soil_loss.tif").write_bytes(b"new")
        (work / "sub").mkdir()
        (work / "sub" / "y.txt").write_text("y")
        raise RuntimeError("killed by an unexpected error")
    assert snapshot(tmp_path) == before


def test_a_successful_run_publishes_into_a_users_folder(tmp_path: Path) -> None:
    out = user_folder(tmp_path)
    with output_folder(out) as work:
        assert work.parent == out and work.name.startswith(RUN_PREFIX)
        (work / "soil_loss.tif").write_bytes(b"new")
        (work / "sub").mkdir()
        (work / "sub" / "y.txt").write_text("y")
    assert snapshot(out) == {
        "notes.txt": b"mine",
        "soil_loss.tif": b"new",
        "sub": None,
        "sub/x.txt": b"x",
        "sub/y.txt": b"y",
    }
    fresh = tmp_path / "fresh"
    with output_folder(fresh) as work:
        assert work.parent == tmp_path and work.name.startswith(RUN_PREFIX)
        (work / "a.txt").write_text("a")
    assert snapshot(fresh) == {"a.txt": b"a"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fresh", "out"]


def test_an_output_path_that_is_a_file_is_refused(tmp_path: Path) -> None:
    f = tmp_path / "out"
    f.write_text("a file")
    with pytest.raises(InvalidInput, match="in the way"), output_folder(f):
        pass
    assert f.read_text() == "a file" and list(tmp_path.iterdir()) == [f]


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


@posix_only
def test_staging_folders_of_killed_processes_go_those_of_live_ones_stay(tmp_path: Path) -> None:
    parent = tmp_path / "results"
    killed, killed_dir = start_maker(parent, RUN_PREFIX)
    live, live_dir = start_maker(parent, RUN_PREFIX)
    try:
        assert owner_of(killed_dir.name, RUN_PREFIX) == (host_tag(), killed.pid)
        killed.send_signal(signal.SIGKILL)
        killed.wait(10)
        # another host's folder: its process cannot be seen from here, so it is kept
        other_host = parent / f"{RUN_PREFIX}{'0' * 8}-{killed.pid}-abc"
        other_host.mkdir()
        (parent / "user-data").mkdir()  # not a staging folder at all
        assert remove_abandoned(parent, RUN_PREFIX) == [killed_dir]
        assert sorted(p.name for p in parent.iterdir()) == sorted(
            [live_dir.name, other_host.name, "user-data"]
        )
        # the next command-line run into that folder clears a killed run's leftovers too
        live.send_signal(signal.SIGKILL)
        live.wait(10)
        with output_folder(parent / "out") as work:
            (work / "a.txt").write_text("a")
        assert sorted(p.name for p in parent.iterdir()) == sorted(
            ["out", other_host.name, "user-data"]
        )
    finally:
        for p in (killed, live):
            if p.poll() is None:
                p.kill()
                p.wait(10)


# -- the command line -----------------------------------------------------------------------
def _raster(path: Path, a: np.ndarray, dtype: str) -> Path:
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=a.shape[1],
        height=a.shape[0],
        count=1,
        dtype=dtype,
        crs="EPSG:4546",
        transform=from_origin(400000, 4250000, 10, 10),
    ) as dst:
        dst.write(a.astype(dtype), 1)
    return path


@pytest.fixture()
def erosion_inputs(tmp_path: Path) -> tuple[Path, Path]:
    """A 10 × 30 sloping DEM and a K raster of integers with no nodata declared (refused, but
    only when the factors are checked: after flow routing wrote ``ls.tif`` and ``slope.tif``)."""
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    z = np.repeat(((30 - np.arange(30)) * 1.0 + 1000)[:, None], 10, axis=1)
    dem = _raster(inputs / "dem.tif", z, "float32")
    k = _raster(inputs / "k_int.tif", np.full((30, 10), 3), "uint8")
    return dem, k


def _erosion(dem: Path, k: Path | str, out: Path, capsys: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    code = main(
        ["erosion", "--dem", str(dem), "--r", "500", "--k", str(k), "--c", "0.2"]
        + ["--out", str(out)]
    )
    return code, *capsys.readouterr()


def test_a_late_erosion_failure_leaves_no_out_folder(
    tmp_path: Path, erosion_inputs: tuple[Path, Path], capsys, monkeypatch
) -> None:
    import geoeco.erosion.run as ero

    dem, k = erosion_inputs
    seen: list[list[str]] = []
    real = ero.derive_r

    def spy(cfg, out, used):  # type: ignore[no-untyped-def]
        seen.append(sorted(p.name for p in Path(out).iterdir()))
        return real(cfg, out, used)

    monkeypatch.setattr(ero, "derive_r", spy)
    out = tmp_path / "runs" / "e"
    code, stdout, err = _erosion(dem, k, out, capsys)
    assert code == 2 and "k_int.tif" in err and "nodata" in err and stdout == ""
    # the run had written files before it failed (LS; R would go beside it) ...
    assert seen and "ls.tif" in seen[0]
    # ... and none of them, nor the folders made for them, remain
    assert sorted(p.name for p in tmp_path.iterdir()) == ["inputs"]


def test_a_late_erosion_failure_leaves_an_existing_out_folder_untouched(
    tmp_path: Path, erosion_inputs: tuple[Path, Path], capsys
) -> None:
    dem, k = erosion_inputs
    out = user_folder(tmp_path / "runs")
    before = snapshot(tmp_path / "runs")
    code, _, err = _erosion(dem, k, out, capsys)
    assert code == 2 and "nodata" in err
    assert snapshot(tmp_path / "runs") == before
    # the same folder then takes a successful run: outputs added, the user's files kept
    code, stdout, _ = _erosion(dem, "0.03", out, capsys)
    assert code == 0 and json.loads(stdout)["out"] == str(out)
    names = {p.name for p in out.iterdir()}
    assert {"notes.txt", "sub", "soil_loss.tif", "erosion_grade.tif", "summary.json"} <= names
    assert (out / "notes.txt").read_text() == "mine"
    assert (out / "soil_loss.tif").read_bytes()[:4] in (b"II*\x00", b"MM\x00*")  # a GeoTIFF now
    assert not [n for n in names if n.startswith(".")]
    assert RUN_PREFIX not in (out / "summary.json").read_text(encoding="utf-8")


@pytest.mark.parametrize("command", ["demo", "zone"])
def test_failed_demo_and_zone_runs_leave_no_out_folder(
    tmp_path: Path, capsys, monkeypatch, command: str
) -> None:
    import geoeco.workflows.demo as demo_run

    def failing_build(out, **kwargs):  # type: ignore[no-untyped-def]
        Path(out).mkdir(parents=True, exist_ok=True)
        (Path(out) / "layers").mkdir()
        (Path(out) / "layers" / "dem.tif").write_bytes(b"half written")
        raise InvalidInput("the demo build failed")

    # both commands build the demo's analyses with this one function
    monkeypatch.setattr(demo_run, "build_demo_analyses", failing_build)
    code = main([command, "--out", str(tmp_path / "out")])
    _, err = capsys.readouterr()
    assert code == 2 and "the demo build failed" in err
    assert list(tmp_path.iterdir()) == []
