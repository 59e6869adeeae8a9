"""What a zoning rule set contains, for people: ``geoeco rules show NAME``.

:func:`outline` lays a validated :class:`~geoeco.zoning.rules.RuleSet` out as plain data (its
inputs with their class tables and class names, the red-line reasons with their thresholds
and LXBM codes, the protected areas and patch clean-up, the priority and key criteria and
masks, the general rule and the attributes); :func:`format_outline` renders that as text.
The thresholds are written as class ranges with the class names of the input's table, so a
reader sees ``importance_windbreak 3..3 (极重要 extremely important)`` rather than
``min_class = 3``.

Examples
--------
>>> from geoeco.zoning.rules import load_rule_set
>>> o = outline(load_rule_set("default"))
>>> o["redline"]["reasons"][3]["code"], o["redline"]["reasons"][3]["input"]
(14, 'importance_windbreak')
>>> o["redline"]["reasons"][3]["classes"]
'3..3'
>>> "general" in o and o["inputs"]["importance_windbreak"]["required"]
True
"""

from __future__ import annotations

from typing import Any

from geoeco.catalog.classes import get_table

from .rules import REDLINE_CODES, ZONE_CLASSES, ClassInput, Criterion, RuleSet


def _classes(spec: ClassInput) -> list[dict[str, Any]]:
    """The classes of a class input: from its table, or bare codes 1..n."""
    if spec.table is None:
        return [
            {"code": c, "name_zh": "", "name_en": ""} for c in range(1, (spec.n_classes or 0) + 1)
        ]
    return [
        {"code": c.code, "name_zh": c.name_zh, "name_en": c.name_en}
        for c in get_table(spec.table).classes
    ]


def _input(spec: Any) -> dict[str, Any]:
    if isinstance(spec, ClassInput):
        return {
            "kind": "class",
            "required": spec.required,
            "table": spec.table,
            "classes": _classes(spec),
            "description": spec.description,
        }
    return {
        "kind": "mask",
        "required": spec.required,
        "role": spec.role,
        "select": dict(spec.select),
        "description": spec.description,
    }


def _criterion(rs: RuleSet, c: Criterion) -> dict[str, Any]:
    """A criterion with its class range and the names of the classes in it."""
    spec = rs.inputs[c.input]
    top = c.max_class if c.max_class is not None else (getattr(spec, "n_classes", None) or 0)
    names = [
        f"{k['name_zh']} {k['name_en']}".strip()
        for k in _input(spec).get("classes", [])
        if c.min_class <= k["code"] <= top
    ]
    return {
        "input": c.input,
        "min_class": c.min_class,
        "max_class": top,
        "classes": f"{c.min_class}..{top}",
        "class_names": [n for n in names if n],
    }


def outline(rs: RuleSet) -> dict[str, Any]:
    """The rule set as plain data (see the module docstring); what ``--json`` prints."""
    red = rs.redline
    reasons = [
        {**_criterion(rs, r), "code": r.code, "type": " ".join(REDLINE_CODES.get(r.code, ("", "")))}
        for r in red.reasons
    ]
    return {
        **rs.describe(),
        "description": rs.description,
        "sources": list(rs.sources),
        "inputs": {n: _input(s) for n, s in rs.inputs.items()},
        "redline": {
            "rule": "any reason true, or a protected area; each patch takes its dominant "
            "reason's code",
            "reasons": reasons,
            "protected": red.protected.model_dump(mode="json"),
            "min_patch_km2": red.min_patch_km2,
            "max_hole_km2": red.max_hole_km2,
            "connectivity": red.connectivity,
            "code_by": red.code_by,
        },
        "priority": {
            "zone": " ".join(ZONE_CLASSES[1]),
            "rule": "red line, or any criterion true, or inside a mask",
            "criteria": [_criterion(rs, c) for c in rs.priority.criteria],
            "masks": list(rs.priority.masks),
        },
        "key": {
            "zone": " ".join(ZONE_CLASSES[2]),
            "rule": "outside priority: any criterion true, or inside a mask or a layer of a role",
            "criteria": [_criterion(rs, c) for c in rs.key.criteria],
            "masks": list(rs.key.masks),
            "roles": list(rs.key.roles),
        },
        "general": {"zone": " ".join(ZONE_CLASSES[3]), "rule": "everything else assessed"},
        "attributes": rs.attributes.model_dump(mode="json"),
    }


def _crit_lines(items: list[dict[str, Any]], code: bool = False) -> list[str]:
    out = []
    for c in items:
        head = f"  {c['code']} {c['type']}: " if code else "  "
        lo, hi = c["min_class"], c["max_class"]
        rng = f"class {lo}" if lo == hi else f"classes {lo}..{hi}"
        names = f" ({', '.join(c['class_names'])})" if c["class_names"] else ""
        out.append(f"{head}{c['input']} in {rng}{names}")
    return out


def _input_lines(inputs: dict[str, Any]) -> list[str]:
    out = []
    for name, s in inputs.items():
        need = "required" if s["required"] else "optional"
        if s["kind"] == "class":
            src = s["table"] or f"{len(s['classes'])} classes"
            codes = "; ".join(
                f"{k['code']} {k['name_zh']} {k['name_en']}".strip() for k in s["classes"]
            )
            out.append(f"  {name} (class, {need}, {src}): {codes}")
        else:
            sel = f", select {s['select']}" if s["select"] else ""
            out.append(f"  {name} (mask, {need}, role {s['role']}{sel})")
        if s["description"]:
            out.append(f"      {s['description']}")
    return out


def format_outline(o: dict[str, Any]) -> str:
    """:func:`outline` as readable text (one section per stage)."""
    red, pri, key = o["redline"], o["priority"], o["key"]
    prot = red["protected"]
    lines = [
        f"{o['name']} {o['version']}: {o['title_zh']} {o['title_en']}".rstrip(),
        f"sha256 {o['sha256']}",
        *([o["description"]] if o["description"] else []),
        "",
        "inputs:",
        *_input_lines(o["inputs"]),
        "",
        f"red line ({red['rule']}):",
        *_crit_lines(red["reasons"], code=True),
        f"  protected areas: {', '.join(prot['inputs']) or '-'} and layers of role "
        f"{', '.join(prot['roles'])} (code {prot['code']}, mode {prot['mode']})",
        f"  patches under {red['min_patch_km2']:g} km² dropped, holes up to "
        f"{red['max_hole_km2']:g} km² filled, {red['connectivity']}-connected, code by "
        f"{red['code_by']}",
        "",
        f"1 {pri['zone']} ({pri['rule']}):",
        *_crit_lines(pri["criteria"]),
        *([f"  masks: {', '.join(pri['masks'])}"] if pri["masks"] else []),
        f"2 {key['zone']} ({key['rule']}):",
        *_crit_lines(key["criteria"]),
        *([f"  masks: {', '.join(key['masks'])}"] if key["masks"] else []),
        *([f"  roles: {', '.join(key['roles'])}"] if key["roles"] else []),
        f"3 {o['general']['zone']} ({o['general']['rule']})",
        "",
        "attributes (flags, no effect on the class):",
        f"  Three-North programme area: {o['attributes']['three_north'] or '-'}",
        *(f"  battle {b}: {n}" for b, n in o["attributes"]["battles"].items()),
    ]
    return "\n".join(lines) + "\n"


__all__ = ["format_outline", "outline"]
