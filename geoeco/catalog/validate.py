"""Register a user's own data file: check it (:mod:`geoeco.core.inspect`) and write its manifest.

A file joins the catalogue as a :class:`~geoeco.catalog.layers.LayerSpec` when
:func:`geoeco.core.inspect.inspect_layer_file` accepts it (readable through
:mod:`geoeco.core.userdata`, has a CRS, lies inside China unless allowed otherwise, a raster
has a nodata value). Every failure names the file by the name the user gave.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from geoeco.core.inspect import inspect_layer_file
from geoeco.core.userdata import DEFAULT_LIMITS, UserDataLimits, display_name

from .layers import FileSource, LayerSpec, dump_manifest, slugify


def user_layer_spec(
    path: str | Path,
    *,
    role: str,
    layer_id: str | None = None,
    title_zh: str | None = None,
    title_en: str | None = None,
    status: str = "real",
    licence: str = "user-supplied",
    provenance: str | None = None,
    version: str = "1",
    nodata: float | None = None,
    units: str | None = None,
    variable: str | None = None,
    allow_outside_china: bool = False,
    name: str | None = None,
    limits: UserDataLimits = DEFAULT_LIMITS,
) -> LayerSpec:
    """Validate ``path`` and build its manifest (the file is referenced by absolute path).

    ``variable`` names the rule-set input a raster provides (role ``evaluation``).
    """
    p = Path(path)
    shown = display_name(p, name)
    rep = inspect_layer_file(
        p, name=shown, allow_outside_china=allow_outside_china, nodata=nodata, limits=limits
    )
    lid = layer_id or f"user.{slugify(p.name)}"
    data: dict[str, Any] = {
        "id": lid,
        "title_zh": title_zh or p.stem,
        "title_en": title_en or p.stem,
        "kind": rep.kind,
        "role": role,
        "status": status,
        "version": version,
        "crs": rep.crs,
        "licence": licence,
        "provenance": provenance or f"user file {shown}",
        "source": FileSource(path=str(p.resolve())).model_dump(),
        "variable": variable,
        "expect": {"feature_count": rep.feature_count}
        if rep.kind == "vector"
        else {"dtype": rep.dtype, "bands": rep.bands},
    }
    if rep.kind == "raster":
        data["nodata"] = rep.nodata
        data["units"] = units
    from pydantic import ValidationError

    try:
        return LayerSpec.model_validate({k: v for k, v in data.items() if v is not None})
    except ValidationError as exc:
        from geoeco.core.errors import ManifestError

        problems = "; ".join(
            f"{'.'.join(str(x) for x in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        raise ManifestError(f"{shown}: cannot register it ({problems})") from None


def write_user_manifest(
    spec: LayerSpec, layers_dir: str | Path, *, overwrite: bool = False
) -> Path:
    """Write ``spec`` as ``<layers_dir>/<id>.toml`` atomically; refuses to overwrite by default."""
    from geoeco.core.errors import LayerExists
    from geoeco.core.io import atomic_path

    d = Path(layers_dir)
    dest = d / f"{spec.id}.toml"
    if dest.exists() and not overwrite:
        raise LayerExists(f"layer id {spec.id!r} already has a manifest; choose another id")
    with atomic_path(dest) as tmp:
        tmp.write_text(dump_manifest(spec), encoding="utf-8")
    return dest
