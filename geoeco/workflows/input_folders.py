"""Zoning inputs found in a folder: ``geoeco zone --inputs-from DIR``.

:func:`inputs_from_folder` binds the rasters of a folder to the zoning inputs they feed, by
file name: each rule-set input ``NAME`` (``geoeco/data/rules/*.toml``) and each attribute
input (``soil_loss``, ``fvc``, ``importance_max``) is looked for as

* ``NAME.tif`` in the folder (an evaluation folder: ``geoeco evaluate --out DIR``), then
* in the subfolders a ``geoeco demo`` output folder has (``evaluation/``, ``erosion/``,
  ``desertification/``; ``geoeco zone`` without ``--aoi`` keeps them in ``inputs/``),

each also under the name evaluation runs before issue 14 wrote
(:data:`geoeco.evaluation.names.LEGACY_NAMES`), and ``desertification_degree`` /
``erosion_grade`` / ``soil_loss`` / ``fvc`` as the erosion and desertification runs name them.
A folder with the demo region's layers (``layers/demo_region.json``) is the demo's: every
input found there is ``synthetic``.

Examples
--------
>>> candidates("sensitivity_sanding")[:3]
('sensitivity_sanding.tif', 'sanding_sensitivity.tif', 'evaluation/sensitivity_sanding.tif')
>>> "evaluation/sanding_sensitivity.tif" in candidates("sensitivity_sanding")
True
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from geoeco.core.errors import InvalidInput
from geoeco.evaluation.names import LEGACY_NAMES
from geoeco.zoning.rules import RuleSet, load_rule_set

from .demo_inputs import DEMO_STATUS
from .zoning_inputs import ATTRIBUTE_INPUTS

#: Subfolders of a ``geoeco demo`` output folder (and of ``geoeco zone``'s ``inputs/``) that
#: hold analysis outputs, in the order they are searched.
SUBFOLDERS = ("evaluation", "erosion", "desertification")
#: Folders that hold a whole demo output inside the folder given (``geoeco zone``'s own).
NESTED = ("", "inputs")


@dataclass(frozen=True)
class FolderInputs:
    """What :func:`inputs_from_folder` found: name -> file, the names it did not find, and
    the status of the files it found when the folder says (``synthetic`` for the demo's)."""

    files: dict[str, Path]
    missing: tuple[str, ...]
    statuses: dict[str, str] = field(default_factory=dict)
    #: The demo size (``full``/``small``) and pixel size in metres when the folder is the demo's.
    demo: tuple[str, float] | None = None


def candidates(name: str) -> tuple[str, ...]:
    """The paths, relative to the folder given, where input ``name`` is looked for, in order."""
    names = [name] + ([LEGACY_NAMES[name]] if name in LEGACY_NAMES else [])
    out: list[str] = []
    for nest in NESTED:
        for sub in ("", *SUBFOLDERS):
            for n in names:
                out.append(str(Path(nest, sub, f"{n}.tif")))
    return tuple(out)


def _demo_facts(folder: Path) -> tuple[str, float] | None:
    """The demo size and pixel size of a demo output folder (from ``demo_region.json``)."""
    for nest in NESTED:
        meta = folder / nest / "layers" / "demo_region.json"
        if meta.is_file():
            params = json.loads(meta.read_text(encoding="utf-8")).get("params", {})
            return str(params.get("size", "full")), float(params.get("res", 90.0))
    return None


def inputs_from_folder(folder: str | Path, names: Iterable[str]) -> FolderInputs:
    """Bind the rasters of ``folder`` to the inputs ``names`` (see the module docstring).

    Raises :class:`~geoeco.core.errors.InvalidInput` when ``folder`` is not a folder or holds
    none of them (naming the folder as given and the names looked for).
    """
    root = Path(folder)
    if not root.is_dir():
        raise InvalidInput(f"--inputs-from: {str(folder)!r} is not a folder")
    wanted = list(dict.fromkeys(names))
    files: dict[str, Path] = {}
    for name in wanted:
        hit = next((root / c for c in candidates(name) if (root / c).is_file()), None)
        if hit is not None:
            files[name] = hit
    if not files:
        raise InvalidInput(
            f"--inputs-from: folder {root.name!r} holds none of the zoning inputs "
            f"({', '.join(f'{n}.tif' for n in wanted)}), neither directly nor in "
            f"{', '.join(f'{s}/' for s in SUBFOLDERS)}; give an evaluation folder "
            "(geoeco evaluate --out) or a geoeco demo output folder"
        )
    missing = tuple(n for n in wanted if n not in files)
    demo = _demo_facts(root)
    statuses: dict[str, str] = dict.fromkeys(files, DEMO_STATUS) if demo is not None else {}
    return FolderInputs(files, missing, statuses, demo)


def zoning_input_names(
    rules: str | Path | RuleSet | None, compare: str | Path | RuleSet | None = None
) -> list[str]:
    """The inputs a zoning run with ``rules`` (default ``default``) and ``compare`` reads:
    the rule sets' inputs, then the attribute inputs."""
    names = list(load_rule_set(rules if rules is not None else "default").inputs)
    if compare is not None:
        names += list(load_rule_set(compare).inputs)
    return list(dict.fromkeys([*names, *ATTRIBUTE_INPUTS]))


def merge_folder_inputs(
    folder: str | Path,
    given: Mapping[str, Any] | None,
    statuses: Mapping[str, str] | None,
    options: Mapping[str, Any],
) -> tuple[dict[str, Any], dict[str, str], FolderInputs]:
    """The inputs and statuses of a zoning run given ``folder`` (``--inputs-from``) besides
    ``given`` inputs: the folder's files, each overridden by an input given by name."""
    names = zoning_input_names(options.get("rules"), options.get("compare"))
    found = inputs_from_folder(folder, names)
    inputs: dict[str, Any] = {**found.files, **(given or {})}
    st = {k: v for k, v in found.statuses.items() if k not in (given or {})}
    return inputs, {**st, **(statuses or {})}, found


__all__ = [
    "NESTED",
    "SUBFOLDERS",
    "FolderInputs",
    "candidates",
    "inputs_from_folder",
    "merge_folder_inputs",
    "zoning_input_names",
]
