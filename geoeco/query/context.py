"""An opened zoning run for queries: indexed vector layers and the run's rasters.

:class:`QueryContext` opens a run folder (the ``out_dir`` of
:func:`geoeco.workflows.zoning.run_zoning`)
once and keeps everything a query needs in memory (see :mod:`geoeco.query.point` for the queries):

* the ``units`` and ``redline`` layers of ``zones.gpkg``, each an :class:`IndexedLayer` (an
  :class:`shapely.STRtree` in lon-lat for point-in-polygon and one in
  :data:`~geoeco.core.crs.ALBERS_CHINA` for areas);
* the national parks and battle areas (built-in layers ``protected.national_parks`` and
  ``programme.battles``, or frames the caller gives), also indexed;
* the run's rasters (:data:`RUN_RASTERS`), each as a :class:`~geoeco.query.zonal.RasterLayer`.

Every name here is also importable from :mod:`geoeco.query.point`.

Examples
--------
>>> import geopandas as gpd
>>> units = gpd.GeoDataFrame(
...     {"code": ["ZH62000010001"], "unit_class": [1]},
...     geometry=[shapely.box(105, 38, 105.01, 38.01)],
...     crs=CGCS2000,
... )
>>> ctx = QueryContext.from_frames(units)
>>> ctx.units.hits(shapely.Point(105.005, 38.005)).tolist(), ctx.unit_info(0).class_en != ""
([0], True)
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from pyproj import Transformer

from geoeco.core.crs import ALBERS_CHINA, CGCS2000
from geoeco.core.errors import DataSourceError, InvalidInput
from geoeco.zoning.access import DIMENSIONS
from geoeco.zoning.rules import REDLINE_CODES, ZONE_CLASSES

from .models import AccessItem, LayerValue, UnitInfo
from .zonal import RasterLayer

OUTSIDE = "outside the analysed area"

#: Rasters looked for in a run folder: name -> candidate paths relative to it.
RUN_RASTERS: dict[str, tuple[str, ...]] = {
    "zone_class": ("zone_class.tif",),
    "redline": ("redline.tif",),
    "restoration_rank": ("restoration_rank.tif",),
    "soil_loss": ("../erosion/soil_loss.tif", "erosion/soil_loss.tif"),
    "erosion_grade": ("../erosion/erosion_grade.tif", "erosion/erosion_grade.tif"),
    "fvc": ("../desertification/fvc.tif", "desertification/fvc.tif"),
    "desertification_degree": (
        "../desertification/desertification_degree.tif",
        "desertification/desertification_degree.tif",
    ),
    # evaluation classes by their rule-set input names, then the names of runs before issue 14
    "sensitivity_sanding": (
        "../evaluation/sensitivity_sanding.tif",
        "evaluation/sensitivity_sanding.tif",
        "../evaluation/sanding_sensitivity.tif",
        "evaluation/sanding_sensitivity.tif",
    ),
    "sensitivity_soil_erosion": (
        "../evaluation/sensitivity_soil_erosion.tif",
        "evaluation/sensitivity_soil_erosion.tif",
        "../evaluation/water_erosion_sensitivity.tif",
        "evaluation/water_erosion_sensitivity.tif",
    ),
    "importance_max": ("../evaluation/importance_max.tif", "evaluation/importance_max.tif"),
    "importance_water_conservation": ("../evaluation/importance_water_conservation.tif",),
    "importance_soil_conservation": ("../evaluation/importance_soil_conservation.tif",),
    "importance_windbreak": (
        "../evaluation/importance_windbreak.tif",
        "../evaluation/importance_sand_fixation.tif",
    ),
    "importance_biodiversity": ("../evaluation/importance_biodiversity.tif",),
}
#: Codes of the run's own class rasters that have no class table: name -> code -> (zh, en).
_RUN_CODES: dict[str, tuple[str, dict[int, tuple[str, str]]]] = {
    "zone_class": ("ZHGKDYFL", ZONE_CLASSES),
    "redline": ("LXBM", REDLINE_CODES),
}


def redline_reason(lxbm: int) -> tuple[str, str]:
    """Why land with red-line type ``lxbm`` is in the red line (methodology §4.1), zh and en.

    >>> redline_reason(14)[1]
    'extremely important ecological function: windbreak and sand fixation (LXBM 14)'
    """
    zh, en = REDLINE_CODES.get(int(lxbm), ("", ""))
    if int(lxbm) // 10 == 1:
        return f"生态功能极重要区：{zh}（LXBM {lxbm}）", (
            f"extremely important ecological function: {en} (LXBM {lxbm})"
        )
    return f"生态环境极敏感脆弱区：{zh}（LXBM {lxbm}）", (
        f"extremely sensitive or fragile environment: {en} (LXBM {lxbm})"
    )


class _PreparedGeoms:
    """Prepared copies of a layer's geometries, used by one thread at a time.

    GEOS prepared geometries build their indexes lazily and keep scratch state while they
    answer a predicate, so two threads in a prepared predicate on the same geometry corrupt
    memory (libgeos/geos#825). The layer's public arrays therefore stay unprepared (read-only
    GEOS operations on them are safe from any thread); these private copies are prepared, and
    every predicate on them holds :attr:`lock`. The predicates take microseconds, so the lock
    costs far less than unprepared predicates would (5-15x slower on the demo's units).
    """

    def __init__(self, geoms: np.ndarray) -> None:
        self.geoms = shapely.from_wkb(shapely.to_wkb(geoms))  # own GEOS objects
        shapely.prepare(self.geoms)
        self.lock = threading.Lock()

    def intersects(self, rows: np.ndarray, geom: Any) -> np.ndarray:
        """Whether each geometry in ``rows`` intersects ``geom`` (prepared test, locked)."""
        with self.lock:
            hit: np.ndarray = shapely.intersects(self.geoms[rows], geom)
        return hit


#: Polygon parts with more vertices than this are cut into pieces for :class:`LayerParts`.
MAX_PIECE_VERTICES = 1024


@dataclass(frozen=True)
class LayerParts:
    """A layer's Albers geometries cut into small polygon pieces: each piece, the row it
    belongs to, its area (m²) and an STRtree on the pieces (built once per layer, then only
    read).

    Pieces are the polygon parts, and parts of more than :data:`MAX_PIECE_VERTICES` vertices
    are halved (by their longer side, recursively) until no piece has more, like PostGIS's
    ``ST_Subdivide``: a site then only intersects the small pieces across its boundary (the
    full demo's largest red-line part has 52,000 vertices and 205 holes; intersecting it
    with a county took 44 ms).
    """

    geoms: np.ndarray
    owner: np.ndarray
    areas: np.ndarray
    tree: shapely.STRtree

    @classmethod
    def of(cls, albers: np.ndarray, max_vertices: int = MAX_PIECE_VERTICES) -> LayerParts:
        """The pieces of ``albers`` (polygons and multipolygons; other geometries give none).

        >>> p = LayerParts.of(np.array([shapely.MultiPolygon([shapely.box(0, 0, 1, 1),
        ...     shapely.box(2, 0, 3, 2)]), shapely.box(5, 5, 6, 6)]))
        >>> p.owner.tolist(), p.areas.tolist()
        ([0, 0, 1], [1.0, 2.0, 1.0])
        >>> disc = shapely.Point(0, 0).buffer(10, quad_segs=64)   # 257 vertices
        >>> q = LayerParts.of(np.array([disc]), max_vertices=40)
        >>> len(q.geoms) > 4, round(float(q.areas.sum()) - disc.area, 9)
        (True, 0.0)
        """
        parts, owner = shapely.get_parts(albers, return_index=True)
        pieces: list[Any] = []
        owners: list[int] = []
        for g, i in zip(parts.tolist(), owner.tolist(), strict=True):
            if shapely.get_type_id(g) != 3:  # not a polygon
                continue
            cut = _subdivide(g, max_vertices, 0)
            pieces += cut
            owners += [i] * len(cut)
        geoms = np.array(pieces, dtype=object) if pieces else np.zeros(0, dtype=object)
        shapely.get_dimensions(geoms)  # computed here, in one thread (see IndexedLayer)
        return cls(
            geoms, np.array(owners, dtype=np.intp), shapely.area(geoms), shapely.STRtree(geoms)
        )


def _subdivide(g: Any, max_vertices: int, depth: int) -> list[Any]:
    """``g`` (a polygon) halved by its longer side until each piece has at most
    ``max_vertices`` vertices (or 20 halvings)."""
    if shapely.get_num_coordinates(g) <= max_vertices or depth >= 20:
        return [g]
    x0, y0, x1, y1 = g.bounds
    if x1 - x0 >= y1 - y0:
        xm = (x0 + x1) / 2
        halves = [shapely.box(x0, y0, xm, y1), shapely.box(xm, y0, x1, y1)]
    else:
        ym = (y0 + y1) / 2
        halves = [shapely.box(x0, y0, x1, ym), shapely.box(x0, ym, x1, y1)]
    out: list[Any] = []
    for h in halves:
        for p in shapely.get_parts(shapely.intersection(g, h)).tolist():
            if shapely.get_type_id(p) == 3 and p.area > 0:
                out += _subdivide(p, max_vertices, depth + 1)
    return out


@dataclass(frozen=True)
class Facets:
    """The boundary segments of a polygon layer's Albers geometries, with an STRtree on them
    (built once per layer, then only read): the nearest feature to a point outside every
    feature, without measuring each candidate polygon whole.

    The distance from a point outside a polygon is the least of its distances to the
    boundary segments, which GEOS measures with the same point-to-segment formula either
    way, so :meth:`nearest` gives the same distance as ``STRtree.query_nearest`` on the
    polygons, in a fraction of the time.

    >>> f = Facets.of(np.array([shapely.box(0, 0, 1, 1), shapely.box(5, 0, 6, 1)]))
    >>> f.nearest(shapely.Point(4, 0.5)), f.nearest(shapely.Point(-3, 5))
    ((1, 1.0), (0, 5.0))
    """

    segments: np.ndarray
    owner: np.ndarray
    tree: shapely.STRtree

    @classmethod
    def of(cls, albers: np.ndarray) -> Facets | None:
        """The facets of ``albers``; ``None`` unless every geometry is a (multi)polygon."""
        types = shapely.get_type_id(albers)
        if len(albers) == 0 or not np.isin(types, (3, 6)).all():
            return None
        parts, owner = shapely.get_parts(albers, return_index=True)
        rings, ring_part = shapely.get_rings(parts, return_index=True)
        xy, ring = shapely.get_coordinates(rings, return_index=True)
        same = ring[:-1] == ring[1:]
        segments = shapely.linestrings(np.stack([xy[:-1][same], xy[1:][same]], axis=1))
        shapely.get_dimensions(segments)  # computed here, in one thread (see IndexedLayer)
        return cls(segments, owner[ring_part[ring[:-1][same]]], shapely.STRtree(segments))

    def nearest(self, point: Any) -> tuple[int, float]:
        """Row of the feature nearest to ``point`` (outside every feature) and the distance."""
        idx, dist = self.tree.query_nearest(point, return_distance=True, all_matches=False)
        return int(self.owner[idx[0]]), float(dist[0])


@dataclass
class IndexedLayer:
    """A vector layer with lon-lat and Albers geometries and an STRtree on each.

    Safe to share between threads: the STRtrees are built when the layer is built and only
    read afterwards; ``lonlat`` and ``albers`` are not prepared, so any read-only shapely
    operation on them may run in any thread; the prepared predicates of :meth:`hits` and
    :meth:`hits_albers` run on private prepared copies (made on first use) under a lock
    (:class:`_PreparedGeoms`); the column cache and the pieces (:meth:`parts`, never
    prepared) are built under a lock. Do not prepare ``lonlat``/``albers`` or mutate
    ``frame`` once the layer is in use.
    """

    name: str
    frame: Any
    lonlat: np.ndarray
    albers: np.ndarray
    tree: shapely.STRtree
    tree_albers: shapely.STRtree
    id_col: str | None = None
    _cols: dict[str, list[Any]] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)
    _prep: dict[str, _PreparedGeoms] = field(default_factory=dict, repr=False, compare=False)
    _parts: LayerParts | None = field(default=None, repr=False, compare=False)
    _facets: list[Facets | None] = field(default_factory=list, repr=False, compare=False)

    def __post_init__(self) -> None:
        # GEOS computes a collection's dimension flags lazily; compute them here, in one
        # thread, so that concurrent readers never see them half-written
        shapely.get_dimensions(self.lonlat)
        shapely.get_dimensions(self.albers)

    @classmethod
    def build(cls, name: str, gdf: Any, *, id_col: str | None = None) -> IndexedLayer:
        """Index ``gdf`` (any CRS; converted to CGCS2000 lon-lat and Albers)."""
        if gdf.crs is None:
            raise InvalidInput(f"layer {name!r} has no CRS")
        gdf = gdf[gdf.geometry.notna() & ~gdf.geometry.is_empty].reset_index(drop=True)
        ll = gdf.to_crs(CGCS2000).geometry.values.to_numpy()
        al = gdf.to_crs(ALBERS_CHINA).geometry.values.to_numpy()
        return cls(name, gdf, ll, al, shapely.STRtree(ll), shapely.STRtree(al), id_col)

    def hits(self, geom: Any) -> np.ndarray:
        """Sorted row indices of features intersecting a lon-lat geometry.

        Candidates come from the tree's boxes; the test then runs on the *prepared* layer
        geometries (``STRtree.query(predicate=...)`` would prepare the query geometry instead,
        which is slow for a point in a large unit).
        """
        return self._hits(self.tree, self._prepared("lonlat"), geom)

    def hits_albers(self, geom: Any) -> np.ndarray:
        """Sorted row indices of features intersecting an Albers geometry (prepared test)."""
        return self._hits(self.tree_albers, self._prepared("albers"), geom)

    def _prepared(self, crs: str) -> _PreparedGeoms:
        """The prepared copies of ``lonlat`` or ``albers``, made on first use."""
        prep = self._prep.get(crs)
        if prep is None:
            with self._lock:
                prep = self._prep.get(crs)
                if prep is None:
                    geoms = self.lonlat if crs == "lonlat" else self.albers
                    prep = self._prep[crs] = _PreparedGeoms(geoms)
        return prep

    def parts(self) -> LayerParts:
        """The polygon parts of the Albers geometries (made on first use, under the lock)."""
        parts = self._parts
        if parts is None:
            with self._lock:
                parts = self._parts
                if parts is None:
                    parts = self._parts = LayerParts.of(self.albers)
        return parts

    def facets(self) -> Facets | None:
        """The boundary segments of the Albers geometries (:class:`Facets`; made on first use,
        under the lock); ``None`` for a layer that is not all polygons."""
        if not self._facets:
            with self._lock:
                if not self._facets:
                    self._facets.append(Facets.of(self.albers))
        return self._facets[0]

    @staticmethod
    def _hits(tree: shapely.STRtree, prep: _PreparedGeoms, geom: Any) -> np.ndarray:
        cand = np.sort(tree.query(geom))
        if len(cand) == 0:
            return cand
        rows: np.ndarray = cand[prep.intersects(cand, geom)]
        return rows

    def feature_id(self, i: int) -> str:
        """The id of row ``i`` (``id_col`` or the row number)."""
        if self.id_col and self.id_col in self.frame.columns:
            return str(self.column(self.id_col)[i])
        return str(i)

    def column(self, col: str) -> list[Any]:
        """Column ``col`` as a Python list (cached: row access without pandas overhead)."""
        values = self._cols.get(col)
        if values is None:
            with self._lock:
                values = self._cols.get(col)
                if values is None:
                    values = self._cols[col] = self.frame[col].tolist()
        return values

    def text(self, i: int, col: str) -> str | None:
        """Column ``col`` of row ``i`` as text (``None`` when absent or empty)."""
        if col not in self.frame.columns:
            return None
        v = self.column(col)[i]
        return None if v is None or (isinstance(v, float) and math.isnan(v)) else str(v)


#: Distinct values of a raster whose point answers :class:`PointRaster` keeps.
MAX_CACHED_ANSWERS = 2048


@dataclass(frozen=True)
class PointRaster:
    """A raster of the run as a point lookup reads it (built once per opened run).

    ``index`` is its position in the run's layer order; ``names`` its class names (code ->
    (zh, en)), ``None`` for a continuous raster. The answers (frozen
    :class:`~geoeco.query.models.LayerValue`) are kept per value, up to
    :data:`MAX_CACHED_ANSWERS` (a class raster has a few values, a continuous one is quantised
    by its data type), and shared by every request; a race only builds an equal answer twice.

    >>> from affine import Affine
    >>> from geoeco.core.raster import Grid, Raster
    >>> g = Grid(Affine(1, 0, 0, 0, -1, 2), 2, 2, ALBERS_CHINA)
    >>> names = {1: ("甲", "a"), 2: ("乙", "b"), 3: ("丙", "c")}
    >>> r = RasterLayer.from_raster("k", Raster.from_array(np.array([[1, 0], [3, 2]]), g),
    ...                             names=names)
    >>> pr = PointRaster.of(0, r)
    >>> a = pr.value(0.5, 0.5)
    >>> a.class_en, a.value, pr.value(1.5, 1.5).value, a is pr.value(0.6, 0.4)
    ('c', 3.0, None, True)
    """

    index: int
    layer: RasterLayer
    names: dict[int, tuple[str, str]] | None
    table: str | None
    answers: dict[float | None, LayerValue] = field(default_factory=dict, compare=False)

    @classmethod
    def of(cls, index: int, layer: RasterLayer) -> PointRaster:
        """The point view of ``layer``, the ``index``-th raster of the run."""
        names = dict(layer.class_names) if layer.is_class else None
        return cls(index, layer, names, layer.class_table)

    def value(self, x: float, y: float) -> LayerValue:
        """The answer at ``(x, y)`` in the raster's CRS (``value`` None outside or nodata;
        for a class raster also at 0, "no class")."""
        v = self.layer.value_at(x, y)
        if self.names is not None and v is not None and v <= 0:
            v = None
        found = self.answers.get(v)
        if found is None:
            code = int(v) if self.names is not None and v is not None else None
            found = self._answer(v, code)
            if v != 0 and len(self.answers) < MAX_CACHED_ANSWERS:  # 0.0 == -0.0 as keys
                found = self.answers.setdefault(v, found)
        return found

    def _answer(self, v: float | None, code: int | None) -> LayerValue:
        zh, en = (self.names or {}).get(code, (None, None)) if code is not None else (None, None)
        # every field given with its declared type: nothing to validate
        return LayerValue.model_construct(
            layer=self.layer.name,
            value=v,
            units=self.layer.units,
            class_code=code,
            class_zh=zh,
            class_en=en,
            class_table=self.table,
        )


@dataclass
class QueryContext:
    """A zoning run opened for queries (see the module docstring). Build with :meth:`open`.

    **Threads.** One opened context may serve any number of threads at once (the HTTP service
    shares it between the requests of its thread pool): after :meth:`open` nothing in it
    changes except its caches, and each cache is filled under a lock.

    * :class:`IndexedLayer`: STRtrees are read-only; prepared predicates run on private
      prepared copies under a per-layer lock; ``lonlat``/``albers`` and the pieces stay
      unprepared (a screening prepares its own copy of the site instead).
    * :class:`~geoeco.query.zonal.RasterLayer`: arrays are read-only; the point-lookup transform
      and the flat pixels of zonal statistics are built at construction; every
      ``exact_extract`` call (the coverage pass, :mod:`geoeco.query.coverage`) holds
      :data:`geoeco.query.zonal.EXACTEXTRACT_LOCK`, and the exactextract source kept per grid
      is built and used only under it (exactextract's raster sources keep lazily built state
      and are not thread-safe; the call holds the GIL anyway, so the lock costs no
      parallelism).
    * pyproj transformers (cached with ``lru_cache``) keep one PROJ object per thread.
    * The unit cache (:meth:`unit_info`) and the raster plan (:meth:`point_plan`) are filled
      under :attr:`_lock`.

    Treat the fields as read-only once the context is in use: replacing ``rasters`` or a
    layer while other threads query is not supported (build a new context instead).
    """

    units: IndexedLayer
    redline: IndexedLayer | None = None
    parks: IndexedLayer | None = None
    battles: IndexedLayer | None = None
    rasters: list[RasterLayer] = field(default_factory=list)
    run: dict[str, Any] = field(default_factory=dict)
    extra_layers: dict[str, IndexedLayer] = field(default_factory=dict)
    _unit_cache: dict[int, UnitInfo] = field(default_factory=dict, repr=False)
    _plan: list[tuple[Transformer, list[PointRaster]]] | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @classmethod
    def open(
        cls,
        run_dir: str | Path,
        *,
        rasters: Mapping[str, str | Path] | None = None,
        parks: Any = None,
        battles: Any = None,
        registry: Any = None,
        discover: bool = True,
    ) -> QueryContext:
        """Open a run folder once (``out_dir`` of ``run_zoning``, or a demo folder holding
        ``zones/``).

        Parameters
        ----------
        run_dir : path
            The run folder.
        rasters : mapping of name to path, optional
            Extra rasters (or replacements for the discovered ones).
        parks, battles : GeoDataFrame, optional
            National parks and battle areas; default the built-in layers
            ``protected.national_parks`` and ``programme.battles``.
        registry : LayerRegistry, optional
            Where the built-in layers come from (default
            :func:`geoeco.catalog.layers.builtin_registry`).
        discover : bool
            Look for the run's rasters and the sibling analysis rasters (:data:`RUN_RASTERS`).
        """
        from geoeco.core.io import read_vector

        root = Path(run_dir)
        if not (root / "zones.gpkg").exists() and (root / "zones" / "zones.gpkg").exists():
            root = root / "zones"
        gpkg = root / "zones.gpkg"
        if not gpkg.exists():
            raise DataSourceError(
                f"{Path(run_dir).name}: not a zoning run folder (zones.gpkg not found)"
            )
        units = read_vector(gpkg, layer="units", name="zones.gpkg")
        try:
            red = read_vector(gpkg, layer="redline", name="zones.gpkg")
        except DataSourceError:
            red = None
        run: dict[str, Any] = {}
        if (root / "summary.json").exists():
            s = json.loads((root / "summary.json").read_text(encoding="utf-8"))
            run = {
                "aoi": s.get("aoi"),
                "rule_set": s.get("rule_set"),
                "res_m": (s.get("grid") or {}).get("res_m"),
                "approximation_layers": s.get("approximation_layers", []),
                "synthetic_layers": s.get("synthetic_layers", []),
                "coverage": s.get("coverage"),
                "attribution": s.get("attribution") or [],
            }
        paths: dict[str, Path] = {}
        if discover:
            for name, cands in RUN_RASTERS.items():
                for c in cands:
                    if (root / c).exists():
                        paths[name] = (root / c).resolve()
                        break
        paths.update({k: Path(v) for k, v in (rasters or {}).items()})
        layers = [
            RasterLayer.open(
                k,
                v,
                names=_RUN_CODES[k][1] if k in _RUN_CODES else None,
                table_name=_RUN_CODES[k][0] if k in _RUN_CODES else None,
            )
            for k, v in paths.items()
        ]
        parks, battles = _default_layers(parks, battles, registry)
        return cls.from_frames(
            units, redline=red, parks=parks, battles=battles, rasters=layers, run=run
        )

    @classmethod
    def from_frames(
        cls,
        units: Any,
        *,
        redline: Any = None,
        parks: Any = None,
        battles: Any = None,
        rasters: Sequence[RasterLayer] = (),
        run: Mapping[str, Any] | None = None,
    ) -> QueryContext:
        """A context from in-memory GeoDataFrames (units need ``code`` and ``unit_class``)."""
        for col in ("code", "unit_class"):
            if col not in units.columns:
                raise InvalidInput(f"units need a {col!r} column")
        return cls(
            units=IndexedLayer.build("units", units, id_col="code"),
            redline=None
            if redline is None or len(redline) == 0
            else IndexedLayer.build("redline", redline, id_col="LXBM"),
            parks=None
            if parks is None or len(parks) == 0
            else IndexedLayer.build("national_parks", parks, id_col="park_id"),
            battles=None
            if battles is None or len(battles) == 0
            else IndexedLayer.build("battles", battles, id_col="battle_id"),
            rasters=list(rasters),
            run=dict(run or {}),
        )

    def point_plan(self) -> list[tuple[Transformer, list[PointRaster]]]:
        """Rasters grouped by CRS, each group with its lon-lat transformer (built once)."""
        plan = self._plan
        if plan is not None and sum(len(g) for _, g in plan) == len(self.rasters):
            return plan
        with self._lock:
            groups: dict[str, list[PointRaster]] = {}
            for i, r in enumerate(self.rasters):
                groups.setdefault(r.grid.crs.to_wkt(), []).append(PointRaster.of(i, r))
            self._plan = plan = [(_tr_from_lonlat(k), g) for k, g in groups.items()]
        return plan

    def to_albers(self) -> Transformer:
        """Lon-lat to ALBERS_CHINA transformer."""
        return _to_albers_tr()

    def raster(self, name: str) -> RasterLayer | None:
        """The raster layer called ``name``, if the run has it."""
        return next((r for r in self.rasters if r.name == name), None)

    def unit_info(self, i: int) -> UnitInfo:
        """The :class:`UnitInfo` of unit row ``i`` (built once, then cached)."""
        info = self._unit_cache.get(i)
        if info is None:
            with self._lock:
                info = self._unit_cache.get(i)
                if info is None:
                    info = self._unit_cache[i] = _unit_info(self.units.frame.iloc[i])
        return info


def _default_layers(parks: Any, battles: Any, registry: Any) -> tuple[Any, Any]:
    if parks is not None and battles is not None:
        return parks, battles
    from geoeco.catalog.layers import builtin_registry
    from geoeco.catalog.sources import read_layer_vector

    reg = registry or builtin_registry()
    if parks is None and "protected.national_parks" in reg:
        parks = read_layer_vector(reg.get("protected.national_parks"))
    if battles is None and "programme.battles" in reg:
        battles = read_layer_vector(reg.get("programme.battles"))
    return parks, battles


def _str(v: Any) -> str | None:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    return str(v)


def _unit_info(row: Any) -> UnitInfo:
    access = [
        AccessItem(
            dimension=d.key,
            field=d.field,
            name_zh=d.zh,
            name_en=d.en,
            text_zh=str(row.get(f"{d.key}_zh", "") or ""),
            text_en=str(row.get(f"{d.key}_en", "") or ""),
        )
        for d in DIMENSIONS
        if f"{d.key}_zh" in row.index
    ]
    cls_ = int(row["unit_class"])
    zh, en = ZONE_CLASSES.get(cls_, ("", ""))
    addons = _str(row.get("access_addons")) or ""
    approx = _str(row.get("approximation_layers")) or ""
    area = row.get("area_km2")
    rl = row.get("redline_share")
    return UnitInfo(
        code=str(row["code"]),
        unit_class=cls_,
        class_zh=_str(row.get("class_zh")) or zh,
        class_en=_str(row.get("class_en")) or en,
        county_code=_str(row.get("county_code")),
        county_name=_str(row.get("county_name")),
        area_km2=None if area is None else float(area),
        redline_share=None if rl is None else float(rl),
        access=access,
        access_addons=[a for a in addons.split(",") if a],
        depends_on_approximation=bool(row.get("depends_on_approximation", False)),
        approximation_layers=[a for a in approx.split(",") if a],
    )


@lru_cache(maxsize=32)
def _tr_from_lonlat(dst_wkt: str) -> Transformer:
    from pyproj import CRS

    return Transformer.from_crs(CGCS2000, CRS.from_wkt(dst_wkt), always_xy=True)


@lru_cache(maxsize=1)
def _to_albers_tr() -> Transformer:
    return Transformer.from_crs(CGCS2000, ALBERS_CHINA, always_xy=True)


__all__ = [
    "OUTSIDE",
    "RUN_RASTERS",
    "IndexedLayer",
    "MAX_PIECE_VERTICES",
    "LayerParts",
    "QueryContext",
    "redline_reason",
]
