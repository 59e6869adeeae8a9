"""A raw inputs folder (``inputs.json``): read, checked, and the statuses of what it feeds.

A raw inputs folder holds the rasters the analyses start from (DEM, NDVI, land cover, soil,
monthly climate ...), the erosion settings and ``inputs.json``, the manifest that makes it
recognisable (``"kind": "geoeco-inputs"``; written by ``geoeco inputs --out DIR`` and, for the
demo region, by :func:`geoeco.workflows.demo.build_demo_analyses` into ``layers/``).
:func:`read_inputs_folder` reads only what the chain needs from the manifest -- ``kind``,
``version``, ``status``, ``files.*.file`` and ``files.*.status``, ``erosion_settings``,
``sources`` (for attribution), ``aoi`` and ``year`` -- and checks, before anything is
computed or written:

* the manifest is a JSON object of the right kind and version, at most
  :data:`MAX_MANIFEST_BYTES`;
* every file it names (and every path the erosion settings name) is a plain relative path
  that stays inside the folder once symbolic links are followed: no ``..``, no absolute path,
  no drive, scheme or backslash;
* the files the chain reads (:data:`REQUIRED_FILES`) are listed and exist;
* every listed raster is on the DEM's grid (same CRS, size and transform), except the climate
  rasters (:data:`COARSE_ALLOWED`), which may be coarser if they cover the DEM's extent in
  the same CRS (the analyses resample them; the demo's are on a 1 km grid).

Any failure is an :class:`~geoeco.core.errors.InvalidInput` naming the folder by its name
and the entry at fault, never a server path.

Examples
--------
>>> inside_path(Path("."), "dem.tif", "files.dem.file").name
'dem.tif'
>>> inside_path(Path("."), "../x.tif", "files.dem.file")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
geoeco.core.errors.InvalidInput: files.dem.file = '../x.tif': must be a file inside the folder ...
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from geoeco.catalog.demo_region import CLIMATE_VARIABLES
from geoeco.core.errors import GeoecoError, InvalidInput
from geoeco.core.provenance import Status, check_status, worst_status
from geoeco.core.raster import Grid
from geoeco.core.userdata import user_raster_info
from geoeco.core.windows import file_sha256

#: The manifest's file name and ``kind``.
MANIFEST = "inputs.json"
INPUTS_KIND = "geoeco-inputs"
#: Manifest versions this reader understands.
VERSIONS = (1,)
#: A manifest larger than this is refused unread (a real one is a few kB).
MAX_MANIFEST_BYTES = 1_000_000
#: The files the chain reads besides those the erosion settings name: desertification (NDVI)
#: and the evaluation (:func:`geoeco.evaluation.config.inputs_evaluation_config`).
REQUIRED_FILES = (
    "dem",
    "ndvi",
    "landcover",
    "npp",
    "infiltration",
    "aridity",
    "wind_days",
    "texture_class",
    "precip_monthly",
    "temp_monthly",
    "wind2m_monthly",
    "rh_monthly",
)
#: Rasters that may lie on a coarser grid covering the DEM's (monthly climate and its
#: indices); every other raster must be on the DEM's grid.
COARSE_ALLOWED = (*CLIMATE_VARIABLES, "rain_daily")


@dataclass(frozen=True)
class InputFile:
    """One file of the folder: its path (inside the folder) and its status."""

    path: Path
    status: Status


@dataclass(frozen=True)
class InputsFolder:
    """A checked raw inputs folder (:func:`read_inputs_folder`)."""

    folder: Path
    status: Status
    files: dict[str, InputFile]
    #: The erosion settings (TOML read; paths relative to :attr:`folder`) and their file.
    erosion_settings: dict[str, Any]
    erosion_file: Path
    sources: tuple[dict[str, Any], ...]
    aoi_label: str | None
    aoi_code: str | None
    year: int | None
    grid: Grid

    def path(self, name: str) -> Path:
        """The path of file ``name``."""
        return self.files[name].path

    def status_of(self, names: list[str] | tuple[str, ...]) -> Status:
        """The least trusted status of the files ``names`` (those listed)."""
        return worst_status(self.files[n].status for n in names if n in self.files)

    def erosion_inputs(self) -> list[str]:
        """The listed files the erosion settings name, and the DEM."""
        named = {p.resolve() for _, p in _setting_paths(self.erosion_settings, self.folder)}
        return ["dem", *(n for n, f in self.files.items() if f.path.resolve() in named)]

    def describe(self) -> dict[str, Any]:
        """The folder as a summary says it: its name, status, AOI, year and file statuses."""
        return {
            "folder": self.folder.name,
            "status": self.status,
            "aoi": {"label": self.aoi_label, "code": self.aoi_code},
            "year": self.year,
            "erosion_settings": self.erosion_file.name,
            "files": {n: {"file": f.path.name, "status": f.status} for n, f in self.files.items()},
        }


def is_inputs_folder(folder: str | Path) -> bool:
    """Whether ``folder`` holds a manifest (:data:`MANIFEST`), valid or not."""
    return (Path(folder) / MANIFEST).is_file()


def inside_path(folder: Path, rel: object, what: str) -> Path:
    """``folder / rel`` when ``rel`` is a plain relative path that stays inside ``folder``
    (symbolic links followed); :class:`InvalidInput` naming ``what`` otherwise."""
    bad = InvalidInput(
        f"{what} = {rel!r}: must be a file inside the folder (a relative path without "
        "'..', drive, scheme or backslash)"
    )
    if not isinstance(rel, str) or not rel.strip() or any(c in rel for c in "\\:\0"):
        raise bad
    p = PurePosixPath(rel)
    if p.is_absolute() or ".." in p.parts:
        raise bad
    path = folder / Path(*p.parts)
    try:
        path.resolve().relative_to(folder.resolve())
    except ValueError:
        raise bad from None
    return path


def _load_manifest(root: Path) -> dict[str, Any]:
    """The manifest of ``root`` as a dict of the right kind and version."""
    p = root / MANIFEST
    if not p.is_file():
        raise InvalidInput(f"{root.name!r} is not a raw inputs folder: no {MANIFEST}")
    if p.stat().st_size > MAX_MANIFEST_BYTES:
        raise InvalidInput(f"{root.name}/{MANIFEST}: larger than {MAX_MANIFEST_BYTES} bytes")
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidInput(f"{root.name}/{MANIFEST}: not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise InvalidInput(f"{root.name}/{MANIFEST}: must be a JSON object")
    if data.get("kind") != INPUTS_KIND:
        raise InvalidInput(
            f"{root.name}/{MANIFEST}: kind must be {INPUTS_KIND!r}, got {data.get('kind')!r}"
        )
    if data.get("version") not in VERSIONS:
        raise InvalidInput(
            f"{root.name}/{MANIFEST}: version {data.get('version')!r} is not one this geoeco "
            f"reads ({', '.join(map(str, VERSIONS))})"
        )
    return data


def _files(root: Path, data: Mapping[str, Any]) -> dict[str, InputFile]:
    """The manifest's ``files``: each inside the folder, existing, with a valid status."""
    entries = data.get("files")
    if not isinstance(entries, dict) or not entries:
        raise InvalidInput(f"{root.name}/{MANIFEST}: 'files' must be a non-empty object")
    out: dict[str, InputFile] = {}
    for name, entry in entries.items():
        what = f"{root.name}/{MANIFEST}: files.{name}"
        if not isinstance(entry, dict):
            raise InvalidInput(f"{what}: must be an object with 'file' and 'status'")
        path = inside_path(root, entry.get("file"), f"{what}.file")
        if not path.is_file():
            raise InvalidInput(f"{what}.file = {entry.get('file')!r}: file not found")
        try:
            status = check_status(str(entry.get("status")))
        except InvalidInput as exc:
            raise InvalidInput(f"{what}.status: {exc}") from None
        out[str(name)] = InputFile(path, status)
    missing = [n for n in REQUIRED_FILES if n not in out]
    if missing:
        raise InvalidInput(
            f"{root.name}/{MANIFEST}: files lacks {', '.join(missing)} (the analyses need them)"
        )
    return out


def _setting_paths(
    data: Mapping[str, Any], root: Path, key: str = ""
) -> Iterator[tuple[str, Path]]:
    """Every path-like string of the erosion settings (a value with a suffix, a slash or a
    colon; names such as ``rusle`` or ``lucode`` are not paths) as (setting, path)."""
    for k, v in data.items():
        name = f"{key}{k}"
        if isinstance(v, Mapping):
            yield from _setting_paths(v, root, f"{name}.")
        elif isinstance(v, str) and (PurePosixPath(v).suffix or any(c in v for c in "/\\:")):
            yield name, inside_path(root, v, name)


def _erosion_settings(root: Path, data: Mapping[str, Any]) -> tuple[dict[str, Any], Path]:
    """The erosion settings the manifest names, every path in them inside the folder."""
    what = f"{root.name}/{MANIFEST}: erosion_settings"
    path = inside_path(root, data.get("erosion_settings"), what)
    try:
        settings = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError:
        raise InvalidInput(f"{what} = {data.get('erosion_settings')!r}: file not found") from None
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise InvalidInput(f"{root.name}/{path.name}: not valid TOML ({exc})") from None
    for name, p in _setting_paths(settings, root):
        if not p.is_file():
            raise InvalidInput(f"{root.name}/{path.name}: {name}: file {p.name!r} not found")
    return settings, path


def _check_grids(root: Path, files: Mapping[str, InputFile]) -> Grid:
    """The DEM's grid, every raster checked against it (see the module docstring)."""
    grids: dict[str, Grid] = {}
    for name, f in files.items():
        shown = f"{root.name}/{f.path.name}"
        try:
            grid = user_raster_info(f.path, name=shown).grid
        except GeoecoError as exc:
            raise InvalidInput(f"files.{name}: {exc}") from None
        if grid is None:
            raise InvalidInput(f"files.{name}: {shown} has no CRS")
        grids[name] = grid
    ref = grids["dem"]
    off = [n for n, g in grids.items() if not _fits(ref, g, coarse=n in COARSE_ALLOWED)]
    if off:
        raise InvalidInput(
            f"{root.name}: {', '.join(off)} not on the grid of dem "
            f"({ref.crs.to_string()}, {ref.width}x{ref.height} px of {ref.res[0]:g} m): every "
            "file must share it (monthly climate may be coarser if it covers it in the same CRS)"
        )
    return ref


def _fits(ref: Grid, g: Grid, *, coarse: bool) -> bool:
    """``g`` is ``ref``'s grid, or (when ``coarse``) a coarser one covering it in its CRS."""
    if g.aligned_with(ref):
        return True
    if not coarse or g.crs != ref.crs or min(g.res) < max(ref.res) * (1 - 1e-9):
        return False
    tol = 1e-6 * max(ref.res)
    (a0, b0, a1, b1), (c0, d0, c1, d1) = ref.bounds, g.bounds
    return c0 <= a0 + tol and d0 <= b0 + tol and c1 >= a1 - tol and d1 >= b1 - tol


def _aoi(data: Mapping[str, Any]) -> tuple[str | None, str | None]:
    aoi = data.get("aoi")
    if not isinstance(aoi, dict):
        return None, None
    label, code = aoi.get("label"), aoi.get("code")
    return (str(label) if label else None), (str(code) if code else None)


def _sources(root: Path, data: Mapping[str, Any]) -> tuple[dict[str, Any], ...]:
    src = data.get("sources", [])
    if not isinstance(src, list) or not all(isinstance(s, dict) for s in src):
        raise InvalidInput(f"{root.name}/{MANIFEST}: 'sources' must be a list of objects")
    return tuple(dict(s) for s in src)


def read_inputs_folder(folder: str | Path) -> InputsFolder:
    """The raw inputs folder ``folder``, checked (see the module docstring)."""
    root = Path(folder)
    if not root.is_dir():
        raise InvalidInput(f"--inputs-from: {root.name!r} is not a folder")
    data = _load_manifest(root)
    files = _files(root, data)
    settings, settings_file = _erosion_settings(root, data)
    grid = _check_grids(root, files)
    label, code = _aoi(data)
    year = data.get("year")
    try:
        status = worst_status(
            [str(data.get("status", "real")), *(f.status for f in files.values())]
        )
    except InvalidInput as exc:
        raise InvalidInput(f"{root.name}/{MANIFEST}: status: {exc}") from None
    return InputsFolder(
        folder=root,
        status=status,
        files=files,
        erosion_settings=settings,
        erosion_file=settings_file,
        sources=_sources(root, data),
        aoi_label=label,
        aoi_code=code,
        year=year if isinstance(year, int) and not isinstance(year, bool) else None,
        grid=grid,
    )


def write_inputs_manifest(
    folder: str | Path,
    files: Mapping[str, Path],
    *,
    status: Status,
    sources: list[dict[str, Any]],
    erosion_settings: str,
    aoi_label: str,
    aoi_code: str | None = None,
    year: int | None = None,
) -> Path:
    """Write ``folder/inputs.json`` for ``files`` (name -> path inside ``folder``), each of
    ``status``, with their SHA-256, the DEM's grid and ``sources``; return its path."""
    from geoeco.core.io import atomic_path

    root = Path(folder)
    dem = user_raster_info(files["dem"], name="dem").grid
    manifest = {
        "kind": INPUTS_KIND,
        "version": VERSIONS[-1],
        "status": status,
        **({} if dem is None else _grid_keys(dem)),
        "aoi": {"label": aoi_label, "code": aoi_code},
        "year": year,
        "erosion_settings": erosion_settings,
        "files": {
            n: {
                "file": Path(p).relative_to(root).as_posix(),
                "status": status,
                "sha256": file_sha256(p),
            }
            for n, p in files.items()
        },
        "sources": sources,
    }
    with atomic_path(root / MANIFEST) as tmp:
        tmp.write_text(json.dumps(manifest, indent=1, ensure_ascii=False), encoding="utf-8")
    return root / MANIFEST


def _grid_keys(g: Grid) -> dict[str, Any]:
    return {
        "crs": g.crs.to_string(),
        "transform": list(tuple(g.transform)[:6]),
        "width": g.width,
        "height": g.height,
        "res_m": g.res[0],
    }


__all__ = [
    "COARSE_ALLOWED",
    "INPUTS_KIND",
    "MANIFEST",
    "MAX_MANIFEST_BYTES",
    "REQUIRED_FILES",
    "VERSIONS",
    "InputFile",
    "InputsFolder",
    "inside_path",
    "is_inputs_folder",
    "read_inputs_folder",
    "write_inputs_manifest",
]
