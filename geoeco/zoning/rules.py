"""Zoning rule sets: declarative, validated configuration for the red line and control units.

A rule set is a TOML file (built-in ones in ``geoeco/data/rules/``) parsed into a frozen,
strict pydantic :class:`RuleSet` (``extra="forbid"`` everywhere). It names its **inputs** and
says, stage by stage, how they make the four outputs of :mod:`geoeco.zoning.overlay.run`:

1. **Ecological protection red line** (生态保护红线, methodology §3.4, §4.1): extremely
   important function (any service) ∪ extremely sensitive environment (any kind) ∪ protected
   areas (national parks, nature reserves, and any extra layer given with role ``protected``);
   then patches smaller than ``min_patch_km2`` are removed and holes up to ``max_hole_km2``
   are filled. Each red-line patch carries the type code (LXBM, methodology §4.1) of its
   **dominant reason**: the reason whose qualifying pixels cover most of the patch (a pixel
   counts for every reason it meets; ties go to the reason listed first). Codes: 11 water
   conservation, 12 biodiversity, 13 soil and water conservation, 14 windbreak and sand
   fixation, 15 other function; 21 soil erosion, 22 land sanding, 23 rocky desertification,
   24 salinisation, 25 other sensitivity.

   **Protected areas** (decision [I]): with ``mode = "dominant"`` (the default) protected
   pixels do not vote; a patch takes the dominant *assessed* function or sensitivity inside
   it, and a patch with no assessed reason at all (a protected area that is neither extremely
   important nor extremely sensitive anywhere) gets ``protected.code``, **12 biodiversity
   maintenance**, because national parks and nature reserves are designated chiefly to
   protect species and ecosystems (the first five parks hold close to 30 % of the nationally
   protected terrestrial wildlife species, methodology §6.1). With ``mode = "fixed"``
   protected pixels vote for ``protected.code`` like any other reason.

2. **Priority protection units** (优先保护单元, code 1): the red line ∪ the other important or
   sensitive ecological space named in ``[priority]`` (default: importance "important" or
   higher for any service, sensitivity "highly sensitive" or higher for any kind) ∪ extra
   mask inputs (e.g. drinking-water source zones).

3. **Key control units** (重点管控单元, code 2), outside priority protection: water erosion
   ≥ moderate (中度, SL190-2007/water code ≥ 3) or desertification ≥ moderate (WangTao-2003
   code ≥ 3), plus any layer with role ``development`` (urban, industrial land).

   *How this adapts the national definition* [I]: the 三线一单 technical guide defines key
   control units by pollution pressure: dense population, intensive resource development,
   high pollutant discharge, urban built-up and planned areas, industrial parks and ports
   (methodology §4.2). geoeco zones ecological space from soil erosion and desertification
   assessments and has no emission or air/water-quality layers. It therefore keeps the
   pollution-pressure part only through ``development`` layers (urban and industrial land,
   when the user supplies them) and adds the ecological counterpart of "where active control
   is needed": land whose current degradation (erosion or desertification of moderate or
   worse degree) calls for restoration and development control, the same signal as
   methodology §3.5(a). Outputs built with this rule set are ecological zonings in the
   三线一单 form (codes 1/2/3, priority → key → general), not substitutes for the official
   provincial results.

4. **General control units** (一般管控单元, code 3): everything else that was assessed.

5. **Attributes** (no effect on the class): membership of the Three-North programme area and
   of each landmark battle, from mask inputs.

Three-valued logic: a class input that is nodata at a pixel makes its criterion *unknown*
there. A stage that has no true criterion but an unknown one leaves the pixel unassigned
(``zone_class`` 0) rather than guessing, so a missing input never becomes a class. Inputs
declared ``required = false`` may be absent altogether; the overlay then skips their rules and
lists them in the summary.

Everything the engine needs is validated here, before any pixel is read: every criterion names
a declared input of the right kind, every threshold is a class code of that input's table,
red-line codes are valid LXBM codes and unique. :meth:`RuleSet.sha256` hashes the canonical
JSON of the validated rule set, so results can record exactly which rules made them.

Examples
--------
>>> rs = load_rule_set("default")
>>> rs.name, [r.code for r in rs.redline.reasons][:4]
('default', [11, 12, 13, 14])
>>> len(rs.sha256())
64
>>> "default" in list_rule_sets()
True
"""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from collections.abc import Mapping
from functools import lru_cache
from importlib.resources import files
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    model_validator,
)

from geoeco.catalog.classes import get_table
from geoeco.catalog.layers import Role
from geoeco.core.errors import InvalidInput

#: Red-line patch type codes (LXBM, methodology §4.1) and their meaning.
REDLINE_CODES: dict[int, tuple[str, str]] = {
    c.code: (c.name_zh, c.name_en) for c in get_table("LXBM").classes
}  # from the LXBM class table: one source for names in rules, units, queries and maps
#: Zone class codes (ZHGKDYFL, methodology §4.2).
ZONE_CLASSES: dict[int, tuple[str, str]] = {
    1: ("优先保护单元", "priority protection"),
    2: ("重点管控单元", "key control"),
    3: ("一般管控单元", "general control"),
}
#: Landmark battles of the Three-North programme, in flag-bit order (8, 16, 32).
BATTLES: tuple[str, ...] = ("ji_bend", "horqin_hunshandake", "hexi_taklimakan")

RedlineCode = Literal[11, 12, 13, 14, 15, 21, 22, 23, 24, 25]
_NAME = r"^[a-z][a-z0-9_]*$"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ClassInput(_Frozen):
    """A class raster (uint8 codes 1..N, 0 = nodata) or a polygon layer with a class column.

    ``table`` names a :mod:`geoeco.catalog.classes` table (its number of classes bounds the
    thresholds); without a table give ``n_classes``.
    """

    kind: Literal["class"] = "class"
    table: str | None = None
    n_classes: int | None = Field(default=None, ge=1, le=254)
    required: bool = True
    description: str = ""

    @model_validator(mode="after")
    def _size(self) -> ClassInput:
        if self.table is None and self.n_classes is None:
            raise ValueError("a class input needs `table` or `n_classes`")
        if self.table is not None:
            try:
                n = len(get_table(self.table).classes)
            except InvalidInput as exc:
                raise ValueError(str(exc)) from None
            if self.n_classes is not None and self.n_classes != n:
                raise ValueError(f"n_classes {self.n_classes} but table {self.table} has {n}")
            object.__setattr__(self, "n_classes", n)
        return self


class MaskInput(_Frozen):
    """A membership layer: polygons (optionally filtered by ``select``) or a raster, non-zero in.

    Outside the layer is "not a member", never unknown.
    """

    kind: Literal["mask"] = "mask"
    role: Role | None = None
    select: dict[str, str | int] = Field(default_factory=dict)
    required: bool = False
    description: str = ""


def _input_kind(v: Any) -> str:
    return v.get("kind", "class") if isinstance(v, dict) else getattr(v, "kind", "class")


#: An input declaration; ``kind`` defaults to ``"class"``.
Input = Annotated[
    Annotated[ClassInput, Tag("class")] | Annotated[MaskInput, Tag("mask")],
    Discriminator(_input_kind),
]


class Criterion(_Frozen):
    """True where ``input`` has a class code in ``[min_class, max_class]``."""

    input: str
    min_class: int = Field(ge=1, le=254)
    max_class: int | None = Field(default=None, ge=1, le=254)


class Reason(Criterion):
    """A red-line reason: a criterion plus the LXBM type code it gives a patch."""

    code: RedlineCode


class ProtectedRule(_Frozen):
    """Protected areas in the red line (see the module docstring for ``mode``)."""

    inputs: tuple[str, ...] = ()
    roles: tuple[Role, ...] = ("protected",)
    code: RedlineCode = 12
    mode: Literal["dominant", "fixed"] = "dominant"


class RedLineRule(_Frozen):
    """Red-line reasons, protected areas and the patch clean-up."""

    reasons: tuple[Reason, ...] = Field(min_length=1)
    protected: ProtectedRule = ProtectedRule()
    min_patch_km2: float = Field(default=0.0, ge=0)
    max_hole_km2: float = Field(default=0.0, ge=0)
    connectivity: Literal[4, 8] = 8
    code_by: Literal["patch", "pixel"] = "patch"


class PriorityRule(_Frozen):
    """Other important or sensitive ecological space joining the red line in priority units."""

    criteria: tuple[Criterion, ...] = ()
    masks: tuple[str, ...] = ()


class KeyRule(_Frozen):
    """Where active control is needed, outside priority protection."""

    criteria: tuple[Criterion, ...] = ()
    masks: tuple[str, ...] = ()
    roles: tuple[Role, ...] = ("development",)


class Attributes(_Frozen):
    """Mask inputs whose membership is recorded as flag bits (no effect on the class)."""

    three_north: str | None = None
    battles: dict[Literal["ji_bend", "horqin_hunshandake", "hexi_taklimakan"], str] = Field(
        default_factory=dict
    )


class RuleSet(_Frozen):
    """A validated zoning rule set (see the module docstring)."""

    schema_version: Literal[1] = 1
    name: str = Field(pattern=_NAME)
    version: str = Field(min_length=1)
    title_en: str = Field(min_length=1)
    title_zh: str = ""
    description: str = ""
    sources: tuple[str, ...] = ()
    inputs: dict[str, Input]
    redline: RedLineRule
    priority: PriorityRule = PriorityRule()
    key: KeyRule = KeyRule()
    attributes: Attributes = Attributes()

    @model_validator(mode="after")
    def _references(self) -> RuleSet:
        problems: list[str] = []
        for n in self.inputs:
            if not _valid_name(n):
                problems.append(f"input name {n!r} must match {_NAME}")

        def crit(where: str, c: Criterion) -> None:
            spec = self.inputs.get(c.input)
            if spec is None:
                problems.append(f"{where} names unknown input {c.input!r}{self._known()}")
            elif not isinstance(spec, ClassInput):
                problems.append(f"{where}: input {c.input!r} is a mask, thresholds need classes")
            else:
                n = spec.n_classes or 0
                top = c.max_class if c.max_class is not None else n
                if not 1 <= c.min_class <= n or not c.min_class <= top <= n:
                    problems.append(
                        f"{where}: classes [{c.min_class}, {top}] are not within the codes "
                        f"1..{n} of input {c.input!r}"
                    )

        def mask(where: str, name: str) -> None:
            spec = self.inputs.get(name)
            if spec is None:
                problems.append(f"{where} names unknown input {name!r}{self._known()}")
            elif not isinstance(spec, MaskInput):
                problems.append(f"{where}: input {name!r} is a class input, a mask is needed")

        for i, r in enumerate(self.redline.reasons):
            crit(f"redline.reasons[{i}]", r)
        codes = [r.code for r in self.redline.reasons]
        if len(set(codes)) != len(codes):
            problems.append(f"redline.reasons: each code may appear once, got {codes}")
        if len(codes) + 1 > 16:
            problems.append("redline.reasons: at most 15 reasons")
        for n in self.redline.protected.inputs:
            mask("redline.protected.inputs", n)
        for i, c in enumerate(self.priority.criteria):
            crit(f"priority.criteria[{i}]", c)
        for n in self.priority.masks:
            mask("priority.masks", n)
        for i, c in enumerate(self.key.criteria):
            crit(f"key.criteria[{i}]", c)
        for n in self.key.masks:
            mask("key.masks", n)
        if self.attributes.three_north:
            mask("attributes.three_north", self.attributes.three_north)
        for b, n in self.attributes.battles.items():
            mask(f"attributes.battles.{b}", n)
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def _known(self) -> str:
        return f" (declared inputs: {', '.join(sorted(self.inputs)) or 'none'})"

    # -- helpers -------------------------------------------------------------------------

    def canonical_json(self) -> str:
        """Canonical JSON of the rule set (sorted keys, no spaces): what :meth:`sha256` hashes."""
        data = self.model_dump(mode="json")
        return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    def sha256(self) -> str:
        """Hex SHA-256 of :meth:`canonical_json`; any change of a rule changes it."""
        return hashlib.sha256(self.canonical_json().encode("utf-8")).hexdigest()

    def referenced_inputs(self) -> dict[str, set[str]]:
        """Input names used by each stage: ``redline``, ``priority``, ``key``, ``attributes``."""
        att = {self.attributes.three_north, *self.attributes.battles.values()} - {None}
        return {
            "redline": {r.input for r in self.redline.reasons} | set(self.redline.protected.inputs),
            "priority": {c.input for c in self.priority.criteria} | set(self.priority.masks),
            "key": {c.input for c in self.key.criteria} | set(self.key.masks),
            "attributes": {a for a in att if a},
        }

    def class_tables(self) -> dict[str, str]:
        """Input name → class table name, for provenance records."""
        return {
            n: s.table
            for n, s in self.inputs.items()
            if isinstance(s, ClassInput) and s.table is not None
        }

    def describe(self) -> dict[str, Any]:
        """Name, version, title and hash, for ``summary.json`` and ``GET /rules``."""
        return {
            "name": self.name,
            "version": self.version,
            "title_en": self.title_en,
            "title_zh": self.title_zh,
            "sha256": self.sha256(),
        }


def _valid_name(n: str) -> bool:
    return re.match(_NAME, n) is not None


def _format(exc: ValidationError) -> str:
    parts = []
    for e in exc.errors():
        loc = ".".join(str(p) for p in e["loc"]) or "(root)"
        msg = e["msg"].removeprefix("Value error, ")
        parts.append(f"{loc}: {msg}")
    return "; ".join(parts)


def parse_rule_set(data: Mapping[str, Any], *, name: str = "rule set") -> RuleSet:
    """Validate a dict shaped like a rule-set TOML; problems raise :class:`InvalidInput`.

    >>> parse_rule_set({"name": "x", "version": "1", "title_en": "X", "inputs": {},
    ...                 "redline": {"reasons": [{"input": "imp", "min_class": 3, "code": 11}]}})
    Traceback (most recent call last):
    ...
    geoeco.core.errors.InvalidInput: rule set: invalid rule set (...unknown input 'imp'...)
    """
    try:
        return RuleSet.model_validate(dict(data))
    except ValidationError as exc:
        raise InvalidInput(f"{name}: invalid rule set ({_format(exc)})") from None


def _builtin_dir() -> Any:
    return files("geoeco").joinpath("data", "rules")


def list_rule_sets() -> list[str]:
    """Names of the built-in rule sets (``geoeco/data/rules/*.toml``), sorted.

    >>> list_rule_sets()[:1]
    ['default']
    """
    return sorted(p.name[:-5] for p in _builtin_dir().iterdir() if p.name.endswith(".toml"))


@lru_cache(maxsize=16)
def _load_builtin(name: str) -> RuleSet:
    text = _builtin_dir().joinpath(f"{name}.toml").read_text(encoding="utf-8")
    return parse_rule_set(tomllib.loads(text), name=f"built-in rule set {name!r}")


def load_rule_set(name_or_path: str | Path | RuleSet) -> RuleSet:
    """A built-in rule set by name, or a rule-set TOML file by path.

    >>> load_rule_set("strict").redline.min_patch_km2
    0.25
    """
    if isinstance(name_or_path, RuleSet):
        return name_or_path
    s = str(name_or_path)
    if s in list_rule_sets():
        return _load_builtin(s)
    p = Path(s)
    if p.suffix.lower() != ".toml":
        raise InvalidInput(
            f"unknown rule set {s!r}; built-in rule sets: {', '.join(list_rule_sets())} "
            "(or give the path of a .toml file)"
        )
    try:
        text = p.read_text(encoding="utf-8")
        data = tomllib.loads(text)
    except OSError:
        raise InvalidInput(f"rule set file {p.name!r} cannot be read") from None
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInput(f"{p.name}: not valid TOML ({exc})") from None
    return parse_rule_set(data, name=p.name)


def rule_set_schema() -> dict[str, Any]:
    """JSON schema of a rule set (for ``GET /rules`` and documentation)."""
    return RuleSet.model_json_schema()


__all__ = [
    "BATTLES",
    "REDLINE_CODES",
    "ZONE_CLASSES",
    "Attributes",
    "ClassInput",
    "Criterion",
    "KeyRule",
    "MaskInput",
    "PriorityRule",
    "ProtectedRule",
    "Reason",
    "RedLineRule",
    "RuleSet",
    "list_rule_sets",
    "load_rule_set",
    "parse_rule_set",
    "rule_set_schema",
]
