"""The restoration-priority rule [I]: component weights, class levels, nearness scale, needs.

Methodology §3.5 says no national standard combines the restoration signals, so the rule is
configurable. The built-in rule is ``geoeco/data/restoration.toml``;
:func:`load_restoration_config` reads it or a user TOML file / dict of the same shape, and
:func:`active_weights` gives the weights used once the available inputs are known. The score
itself is in :mod:`geoeco.restoration.scoring`; the whole computation in
:mod:`geoeco.restoration.run`.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from functools import lru_cache
from importlib.resources import files
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from geoeco.core.errors import InvalidInput, ManifestError
from geoeco.core.io import read_toml

COMPONENTS: tuple[str, ...] = (
    "erosion",
    "desertification",
    "sensitivity",
    "importance_gain",
    "protected_nearness",
    "battle",
)

NeedInput = Literal[
    "erosion", "desertification", "sanding_sensitivity", "water_sensitivity", "importance", "battle"
]


class Weights(BaseModel):
    """Component weights (≥ 0); they are divided by their sum over the components used."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    erosion: float = Field(default=0.25, ge=0)
    desertification: float = Field(default=0.25, ge=0)
    sensitivity: float = Field(default=0.15, ge=0)
    importance_gain: float = Field(default=0.15, ge=0)
    protected_nearness: float = Field(default=0.10, ge=0)
    battle: float = Field(default=0.10, ge=0)


def _lin(n: int) -> tuple[float, ...]:
    return tuple(i / (n - 1) for i in range(n))


class Levels(BaseModel):
    """Normalised value (0–1) of class codes 1..N of each class input, non-decreasing."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    erosion: tuple[float, ...] = _lin(6)
    desertification: tuple[float, ...] = _lin(5)
    sanding_sensitivity: tuple[float, ...] = _lin(5)
    water_sensitivity: tuple[float, ...] = _lin(5)
    importance: tuple[float, ...] = _lin(3)

    @field_validator("*")
    @classmethod
    def _check(cls, v: tuple[float, ...]) -> tuple[float, ...]:
        a = np.asarray(v, dtype=np.float64)
        if a.size < 2 or np.any(~np.isfinite(a)) or a.min() < 0 or a.max() > 1:
            raise ValueError(f"levels need at least two values in [0, 1], got {list(v)}")
        if np.any(np.diff(a) < 0):
            raise ValueError(f"levels must not decrease with the class code, got {list(v)}")
        return v


class Need(BaseModel):
    """A need of the coverage table: cells whose ``input`` code is in [min_code, max_code]."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    id: str = Field(min_length=1)
    input: NeedInput
    min_code: int = Field(default=1, ge=1)
    max_code: int | None = None
    name_zh: str = ""
    name_en: str = ""

    @model_validator(mode="after")
    def _range(self) -> Need:
        if self.max_code is not None and self.max_code < self.min_code:
            raise ValueError(f"need {self.id}: max_code < min_code")
        return self


class RestorationConfig(BaseModel):
    """The restoration-priority rule: weights, class levels, nearness scale, needs [I].

    Load the built-in rule with :func:`load_restoration_config`; change a field with
    ``model_copy(update=...)`` or load a TOML file / dict of the same shape.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    version: str = "1"
    tag: Literal["V", "R", "I"] = "I"
    source: str = ""
    eligible_classes: tuple[int, ...] = (2,)
    weights: Weights = Weights()
    levels: Levels = Levels()
    d0_m: float = Field(default=5000.0, gt=0)
    d_max_m: float = Field(default=20000.0, gt=0)
    fvc_max: float = Field(default=100.0, gt=0)
    needs: tuple[Need, ...] = ()

    @field_validator("eligible_classes")
    @classmethod
    def _classes(cls, v: tuple[int, ...]) -> tuple[int, ...]:
        if not v or any(c not in (1, 2, 3) for c in v):
            raise ValueError(f"eligible_classes must be a non-empty subset of 1, 2, 3; got {v}")
        return tuple(sorted(set(v)))

    @model_validator(mode="after")
    def _unique_needs(self) -> RestorationConfig:
        ids = [n.id for n in self.needs]
        if len(ids) != len(set(ids)):
            raise ValueError(f"need ids must be unique, got {ids}")
        return self


def _config_from_toml(
    data: Mapping[str, Any], what: str, builtin: RestorationConfig | None = None
) -> RestorationConfig:
    flat = {k: v for k, v in data.items() if k not in ("nearness", "fvc", "need")}
    flat.update(data.get("nearness", {}))
    flat.update(data.get("fvc", {}))
    if "need" in data or "needs" in data:
        flat["needs"] = data.get("need", data.get("needs"))
    elif builtin is not None:
        flat["needs"] = builtin.needs
    if builtin is not None and "source" not in data:
        flat["source"] = f"{what} over the built-in rule v{builtin.version}"
    try:
        return RestorationConfig.model_validate(flat)
    except ValidationError as exc:
        raise ManifestError(f"{what}: invalid restoration config: {exc}") from None


@lru_cache(maxsize=1)
def _builtin() -> RestorationConfig:
    text = files("geoeco").joinpath("data/restoration.toml").read_text(encoding="utf-8")
    return _config_from_toml(tomllib.loads(text), "built-in restoration.toml")


def load_restoration_config(
    source: str | Path | Mapping[str, Any] | None = None,
) -> RestorationConfig:
    """The built-in rule (``geoeco/data/restoration.toml``) or a user TOML file / dict of its shape.

    Anything a user file leaves out takes the built-in default, the ``[[need]]`` list included;
    a weight left out keeps its default, so set it to 0 to drop a component.

    >>> cfg = load_restoration_config()
    >>> cfg.eligible_classes, cfg.weights.erosion, cfg.d0_m, cfg.tag
    ((2,), 0.25, 5000.0, 'I')
    >>> load_restoration_config({"weights": {"battle": 1.0}}).weights.battle
    1.0
    """
    if source is None:
        return _builtin()
    if isinstance(source, Mapping):
        return _config_from_toml(source, "user restoration config", _builtin())
    p = Path(source)
    data = read_toml(p, what="restoration settings")
    return _config_from_toml(data, p.name, _builtin())


def _component_inputs(name: str, given: Iterable[str]) -> bool:
    g = set(given)
    return {
        "erosion": "erosion" in g,
        "desertification": "desertification" in g,
        "sensitivity": bool(g & {"sanding_sensitivity", "water_sensitivity"}),
        "importance_gain": {"importance", "fvc"} <= g,
        "protected_nearness": bool(g & {"protected", "protected_distance"}),
        "battle": "battle" in g,
    }[name]


def active_weights(config: RestorationConfig, given: Iterable[str]) -> dict[str, float]:
    """Weights of the components that have inputs and a weight > 0, renormalised to sum 1.

    >>> w = active_weights(load_restoration_config(), ["zone_class", "erosion", "battle"])
    >>> {k: round(v, 4) for k, v in w.items()}     # 0.25 / 0.35 and 0.10 / 0.35
    {'erosion': 0.7143, 'battle': 0.2857}
    """
    given = list(given)
    w = config.weights.model_dump()
    used = {c: w[c] for c in COMPONENTS if w[c] > 0 and _component_inputs(c, given)}
    total = sum(used.values())
    if total <= 0:
        raise InvalidInput(
            "no score component has both an input and a weight > 0; give at least one of "
            "erosion, desertification, sanding/water_sensitivity, importance+fvc, protected, battle"
        )
    return {c: v / total for c, v in used.items()}


__all__ = [
    "COMPONENTS",
    "Levels",
    "Need",
    "NeedInput",
    "RestorationConfig",
    "Weights",
    "active_weights",
    "load_restoration_config",
]
