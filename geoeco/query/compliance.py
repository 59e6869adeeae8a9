"""Compliance rules and verdicts: what a project type may do in each scope a site touches.

The rules are structured (``geoeco/data/compliance.toml``, see its header for sources and
tags): for every enumerated project type and every scope (red line, national park, unit class
priority/key/general) a verdict ``allowed`` < ``conditional`` < ``restricted`` <
``forbidden`` with its reasons. :func:`verdicts` combines the scopes a site touches into one
:class:`~geoeco.query.models.ProjectVerdict` per project type, with the access-list text beside each
part; the project's verdict is the most severe. Used by :func:`geoeco.query.screening.screen_site`;
every name here is also importable from :mod:`geoeco.query.screening`.

Examples
--------
>>> rules = load_compliance()
>>> project_types(rules)[:3]
['industry', 'mining', 'wind_energy']
>>> rules.rule("redline", "linear_infrastructure").verdict
'restricted'
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from functools import lru_cache
from importlib.resources import files
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from geoeco.core.errors import InvalidInput, ManifestError
from geoeco.core.io import read_toml
from geoeco.zoning.access import load_access_lists

from .context import OUTSIDE
from .models import ProjectVerdict, Scope, Tag, Verdict, VerdictPart, worst_verdict

SCOPES: tuple[Scope, ...] = ("redline", "national_park", "priority", "key", "general")
_CLASS_SCOPE: dict[int, Scope] = {1: "priority", 2: "key", 3: "general"}


# --------------------------------------------------------------------------- rules


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ComplianceRule(_Frozen):
    """The verdict for one project type in one scope, with its reason and tag."""

    verdict: Verdict
    tag: Tag = "I"
    reason_zh: str
    reason_en: str


class ProjectType(_Frozen):
    """An enumerated project type."""

    id: str
    name_zh: str
    name_en: str


class ScopeRules(_Frozen):
    """The rules of one scope and where they come from."""

    source: str = ""
    rules: dict[str, ComplianceRule]


class ComplianceRules(_Frozen):
    """Validated compliance rules: every project type has a rule in every scope."""

    version: str
    name: str = ""
    project_type: tuple[ProjectType, ...]
    scope: dict[str, ScopeRules]

    @model_validator(mode="after")
    def _complete(self) -> ComplianceRules:
        ids = [p.id for p in self.project_type]
        if len(ids) != len(set(ids)):
            raise ValueError("project type ids must be unique")
        missing_scopes = [s for s in SCOPES if s not in self.scope]
        extra_scopes = [s for s in self.scope if s not in SCOPES]
        if missing_scopes or extra_scopes:
            raise ValueError(
                f"scopes must be exactly {', '.join(SCOPES)}; missing {missing_scopes}, "
                f"unknown {extra_scopes}"
            )
        for s, sr in self.scope.items():
            miss = [i for i in ids if i not in sr.rules]
            unknown = [i for i in sr.rules if i not in ids]
            if miss or unknown:
                raise ValueError(
                    f"scope {s!r}: project types without a rule {miss}, unknown {unknown}"
                )
        return self

    def rule(self, scope: str, project_type: str) -> ComplianceRule:
        """The rule of ``project_type`` in ``scope``."""
        return self.scope[scope].rules[project_type]

    def project(self, project_type: str) -> ProjectType:
        """The project type ``project_type`` (or :class:`InvalidInput` listing the known ones)."""
        for p in self.project_type:
            if p.id == project_type:
                return p
        known = ", ".join(p.id for p in self.project_type)
        raise InvalidInput(f"unknown project type {project_type!r}; known types: {known}")


def _parse_rules(data: Mapping[str, Any], what: str) -> ComplianceRules:
    try:
        return ComplianceRules.model_validate(dict(data))
    except ValidationError as exc:
        raise ManifestError(f"{what}: invalid compliance rules: {exc}") from None


@lru_cache(maxsize=1)
def _builtin_rules() -> ComplianceRules:
    text = files("geoeco").joinpath("data/compliance.toml").read_text(encoding="utf-8")
    return _parse_rules(tomllib.loads(text), "built-in compliance.toml")


def load_compliance(
    source: ComplianceRules | str | Path | Mapping[str, Any] | None = None,
) -> ComplianceRules:
    """Compliance rules: the built-in ones, given ones, or a TOML file / dict of that shape."""
    if source is None:
        return _builtin_rules()
    if isinstance(source, ComplianceRules):
        return source
    if isinstance(source, Mapping):
        return _parse_rules(source, "user compliance rules")
    p = Path(source)
    data = read_toml(p, what="compliance rules")
    return _parse_rules(data, p.name)


def project_types(rules: ComplianceRules | None = None) -> list[str]:
    """Ids of the enumerated project types."""
    return [p.id for p in (rules or load_compliance()).project_type]


# --------------------------------------------------------------------------- verdicts


def _addon_text(addon_id: str) -> tuple[str, str]:
    for a in load_access_lists().addon:
        if a.id == addon_id and a.spatial_layout is not None:
            return a.spatial_layout.zh, a.spatial_layout.en
    return "", ""


def verdicts(
    touched: Mapping[str, Sequence[str]],
    types: Sequence[str] | None = None,
    *,
    rules: ComplianceRules | None = None,
) -> list[ProjectVerdict]:
    """Verdicts per project type for the scopes a site touches.

    Parameters
    ----------
    touched : mapping of scope to ids
        Scopes (``redline``, ``national_park``, ``priority``, ``key``, ``general``) the site
        touches, each with the unit codes / feature ids concerned.
    types : list of str, optional
        Project types (default all).

    Examples
    --------
    >>> v = verdicts({"key": ["ZH1"], "redline": ["13"]}, ["linear_infrastructure"])[0]
    >>> v.verdict, [p.scope for p in v.parts]
    ('restricted', ['redline', 'key'])
    """
    rs = rules or load_compliance()
    lists = load_access_lists()
    scopes = [s for s in SCOPES if touched.get(s)]
    out = []
    for t in types or project_types(rs):
        pt = rs.project(t)
        parts = []
        for s in scopes:
            r = rs.rule(s, t)
            if s == "redline":
                az, ae = _addon_text("redline")
            elif s == "national_park":
                az, ae = _addon_text("park")
            else:
                cls = {v: k for k, v in _CLASS_SCOPE.items()}[s]
                az = lists.text(cls, "spatial_layout", "zh")
                ae = lists.text(cls, "spatial_layout", "en")
            parts.append(
                VerdictPart(
                    scope=s,
                    verdict=r.verdict,
                    reason_zh=r.reason_zh,
                    reason_en=r.reason_en,
                    tag=r.tag,
                    source=rs.scope[s].source,
                    units=list(touched[s]),
                    access_zh=az,
                    access_en=ae,
                )
            )
        out.append(
            ProjectVerdict(
                project_type=t,
                name_zh=pt.name_zh,
                name_en=pt.name_en,
                verdict=worst_verdict(p.verdict for p in parts),
                parts=parts,
                note=None if parts else f"{OUTSIDE}: no verdict",
            )
        )
    return out


__all__ = [
    "SCOPES",
    "ComplianceRule",
    "ComplianceRules",
    "ProjectType",
    "ScopeRules",
    "load_compliance",
    "project_types",
    "verdicts",
]
