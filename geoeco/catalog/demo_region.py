"""The synthetic demo region: a deterministic stand-in for the Yulin (榆林) area.

A window of about 100 × 100 km in the Yellow River "Ji" bend, centred near Yulin (109.73 E,
38.28 N), on the CGCS2000 3-degree Gauss–Krüger grid with central meridian 111 E
(EPSG:4546). The Mu Us sandy land (毛乌素沙地) lies north-west of a SW–NE transition line (the
Great Wall line through Yulin), the dissected loess hills (黄土丘陵) south-east of it, and a river
standing in for the Wuding (无定河) crosses the window from NW to SE. Every input the science
engine needs is generated, with status ``synthetic``:

* fine grid (the DEM's grid, default 90 m; 30 m for the small size): ``dem``, ``ndvi``,
  ``npp``, ``landcover``, ``sand``, ``silt``, ``clay``, ``soc``, ``infiltration``,
  ``texture_class``;
* 1 km grid (like gridded climate products): 12-band ``precip_monthly``, ``temp_monthly``,
  ``wind2m_monthly``, ``rh_monthly``, and single-band ``wind_days`` and ``aridity``;
* a coarser grid (10 km for the full size, 1 km for the small one): ``rain_daily``, 1096
  daily bands for 2018-01-01 … 2020-12-31.

How the values are made (all deterministic from ``seed``)
--------------------------------------------------------
Every field is a function of *world* coordinates, so the small window is the same landscape
as the middle of the full one, and a change of resolution only resamples it. Random
ingredients are spectral noise: sums of cosines with random direction, phase and a
log-uniform wavelength band, amplitude ∝ wavelength^0.7, evaluated as one matrix product.

* Terrain: a plateau falling 1 m/km to the SE (about 1250 m at Yulin) and rising 1.5 m/km
  away from the river, with 1–40 km hills; a river whose bed falls 1.6 m/km along the NW→SE
  axis (meandering, flat floodplain, wide gentle walls in the sand, steep ones in the loess);
  tributary valleys every ~3 km running across it with beds rising 2.5 m/km away from the
  river, and gullies every ~800 m running into the tributaries with beds rising 60 m/km. The
  surface is the minimum of the plateau and the valley profiles, so gullies drain into
  tributaries and tributaries into the river (on the default full build about 93 % of the
  pixels drain to the river's outlet on the SE edge; the closed hollows are interdune basins).
  Loess relief is 100–250 m; on the sand only 15 % of the dissection is kept, and transverse
  dunes 3–15 m high (480 m apart, gentle NW faces, steeper SE lee faces) and flat interdune
  lakes (海子) are added. Valley profiles widen with their depth: at 90 m, 99 % of slopes are
  below 30°.
* Land cover 1–7 (耕地, 林地, 草地, 水域, 建设用地, 沙地, 裸地): water on the river and lakes;
  built land in a town of radius ~3 km at Yulin and in villages; mobile sand where sandiness
  is highest; cropland on gentle ridge tops, floodplains and interdune flats; forest patches
  on loess slopes and as plantations in the sand; grassland elsewhere, steep loess slopes
  included; bare land only on a small share of the steepest gully walls (slope > 30° where
  the 0.5–5 km vegetation noise is below −0.5: about 0.04 % of the full window). Why: since
  the Grain for Green programme (退耕还林还草, from 1999) the steep loess slopes of northern
  Shaanxi are mostly grass and shrub, and bare loess is confined to gully walls and slumps.
  Vegetation cover on the Loess Plateau roughly doubled, from about 32 % in 1999 to about
  60 % in 2013 (Chen Yiping et al., "Balancing green and grain trade", Nature Geoscience
  2015, 8:739–741 [R]: the citation is verified, the percentages are not); NDVI rose most in
  the loess hilly-gully region and on 6–25° slopes from 1999 to 2009 (GIMMS/SPOT VGT
  analysis, 农业工程学报, tcsae.org/article/id/2011451 [V, abstract]). With bare land on every
  loess slope above 24° (demo version 1) 2.8 % of the full demo's pixels exceeded
  50,000 t/(km²·a) with the default erosion settings, a tail no field study reports; now
  0.04 % do (0.06 % of the small demo's) [I, measured; tests/test_demo.py checks ≤ 0.1 %].
* NDVI: a value per class (sand 0.10, grassland 0.30 falling to 0.22 on the sand, cropland
  0.42, forest 0.58, ...) raised 0.05 per 100 mm of extra rain, plus noise. NPP =
  600 · (NDVI − 0.05) · sqrt(P/350) g C m⁻² a⁻¹ (grassland ≈ 150, sand ≈ 30).
* Soil: sand/clay % blend from aeolian sand (≈88/3) to loess (≈28/15) by sandiness, alluvium
  (45/14) on floodplains, clay-rich lake beds; silt = 100 − sand − clay. SOC % = 0.12 +
  2·NDVI^1.5. Infiltration = saturated conductivity in mm/h from the Cosby et al. (1984)
  texture regression 25.4·10^(−0.6 + 0.0126·sand − 0.0064·clay), reduced on built (×0.2),
  bare (×0.6) and bedrock (×0.1), raised under forest (×1.3). Texture classes follow the
  sanding-sensitivity table (methodology §2.2): 1 bedrock (steep walls of the main valley
  in the loess), 2 clay (clay ≥ 30 %), 3 gravel (river channel deposits), 4 loam, 5 sand
  (sand ≥ 70 %).
* Climate: annual precipitation 350 mm at Yulin rising 100 mm per 70.7 km towards the SE
  (≈250 mm at the NW corner, ≈450 mm at the SE corner) split by a summer-peaked monthly
  pattern (July–August 47 %); temperature −8.8 °C in January to 23 °C in July, 1 °C warmer
  SE; 2 m wind 1.6–3.4 m/s peaking in April, 20 % stronger in the NW than the SE and 10 %
  stronger on the sand; relative humidity as a fraction 0.34–0.72. ``wind_days`` counts
  Dec–May days whose maximum wind (1.3 × a daily mean, Weibull k = 2 around the monthly 10 m
  mean) reaches 6 m/s: about 40 in the NW, 16 in the SE. ``aridity`` is the modified
  Selyaninov index 0.16·Σ(T·days)/ΣP over the months with T ≥ 10 °C (methodology §2.2):
  about 2.4 in the NW, 1.4 in the SE.
* Daily rain: wet days drawn per month (74 a year at 400 mm, 12 in July; regionally
  correlated storms), gamma-distributed amounts (shape 0.75), rescaled so that each calendar
  month's three-year mean equals ``precip_monthly`` at the cell centre.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, Protocol, get_args

import numpy as np
from affine import Affine

from geoeco.core.errors import InvalidInput, OversizeRequest
from geoeco.core.io import atomic_path, open_raster_writer, write_raster
from geoeco.core.raster import Grid, Raster

from .sources import raster_generator

Progress = Callable[[str, float], None]

__all__ = [
    "DEMO_CRS",
    "DEMO_SEED",
    "DEMO_VARIABLES",
    "LANDCOVER_CLASSES",
    "TEXTURE_CLASSES",
    "build_demo_region",
    "demo_grid",
    "generate_demo_layer",
]

DEMO_CRS = "EPSG:4546"
DEMO_SEED = 20240305
#: Bump when the generator changes its output, so cached builds are rebuilt.
DEMO_VERSION = "2"

FINE_VARIABLES = (
    "dem",
    "ndvi",
    "npp",
    "landcover",
    "sand",
    "silt",
    "clay",
    "soc",
    "infiltration",
    "texture_class",
)
CLIMATE_VARIABLES = (
    "precip_monthly",
    "temp_monthly",
    "wind2m_monthly",
    "rh_monthly",
    "wind_days",
    "aridity",
)
DEMO_VARIABLES: tuple[str, ...] = (*FINE_VARIABLES, *CLIMATE_VARIABLES, "rain_daily")

#: (code, name_zh, name_en, colour) of the land-cover classes; 0 is nodata.
LANDCOVER_CLASSES = (
    (1, "耕地", "cropland", "#f2d45c"),
    (2, "林地", "forest", "#267326"),
    (3, "草地", "grassland", "#9ccc65"),
    (4, "水域", "water", "#2b7bd6"),
    (5, "建设用地", "built", "#d9342b"),
    (6, "沙地", "sand", "#ecd9a8"),
    (7, "裸地", "bare", "#a1887f"),
)
#: (code, name_zh, name_en, colour) of the texture classes of methodology §2.2 (scores 1–9).
TEXTURE_CLASSES = (
    (1, "基岩", "bedrock", "#6d4c41"),
    (2, "粘质", "clay", "#8d6e63"),
    (3, "砾质", "gravel", "#9e9e9e"),
    (4, "壤质", "loam", "#c5a87a"),
    (5, "沙质", "sand", "#f5e6b8"),
)
CROP, FOREST, GRASS, WATER, BUILT, SAND, BARE = range(1, 8)
BEDROCK, CLAY, GRAVEL, LOAM, SANDY = range(1, 6)

Size = Literal["full", "small"]
#: The demo region's sizes (:data:`Size`) and the one used when none is given, by every demo
#: entry point (``geoeco demo``, the processes' demo inputs, the service's demo run).
DEMO_SIZES: tuple[Size, ...] = get_args(Size)
DEFAULT_DEMO_SIZE: Size = "full"
#: extent (m), default fine resolution (m), climate grid (m), daily-rain grid (m)
_SIZES: dict[str, tuple[float, float, float, float]] = {
    "full": (100_000.0, 90.0, 1000.0, 10_000.0),
    "small": (10_000.0, 30.0, 1000.0, 1000.0),
}
_MAX_PIXELS = 40_000_000
_LONLAT = (109.73, 38.28)  # Yulin
#: Centre of the small window in the rotated frame (s to the SE, t to the NE), metres.
_SMALL_ST = (0.0, -6000.0)
_R2 = math.sqrt(2.0)
_NODATA_F = -9999.0

_DAYS = np.array([31, 28.25, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])
_P_SHARE = np.array([2.5, 4.5, 10, 19, 31, 47, 88, 92, 54, 24, 8, 2.5])
_P_SHARE = _P_SHARE / _P_SHARE.sum()
_T_CLIM = np.array([-8.8, -4.6, 2.4, 10.5, 17.0, 21.3, 23.0, 21.2, 15.9, 9.3, 1.2, -6.3])
_U10_CLIM = np.array([2.0, 2.3, 2.7, 3.2, 3.0, 2.6, 2.3, 2.1, 2.0, 2.0, 2.1, 2.0])
_RH_CLIM = np.array([0.52, 0.47, 0.42, 0.38, 0.40, 0.48, 0.62, 0.68, 0.66, 0.58, 0.55, 0.54])
_WET_DAYS = np.array([2, 3, 4, 5, 7, 9, 12, 12, 9, 6, 3, 2], dtype=float)  # at 400 mm/yr
_U2_FACTOR = (2.0 / 10.0) ** (1.0 / 7.0)  # 10 m -> 2 m, methodology §3.1


# --------------------------------------------------------------------------- grids


@lru_cache(maxsize=1)
def _centre() -> tuple[float, float]:
    """Yulin in EPSG:4546, rounded to whole metres (the origin every field is relative to)."""
    from pyproj import Transformer

    x, y = Transformer.from_crs(4490, DEMO_CRS, always_xy=True).transform(*_LONLAT)
    return float(round(x)), float(round(y))


def _as_size(size: object) -> Size:
    """``size`` as a :data:`Size`; :class:`InvalidInput` unless it is ``full`` or ``small``."""
    if size == "full":
        return "full"
    if size == "small":
        return "small"
    raise InvalidInput(f"demo size must be 'full' or 'small', got {size!r}")


def _size_params(size: str, res: float | None) -> tuple[float, float, float, float]:
    if size not in _SIZES:
        raise InvalidInput(f"demo size must be 'full' or 'small', got {size!r}")
    extent, default_res, cres, rres = _SIZES[size]
    res = default_res if res is None else float(res)
    if not (math.isfinite(res) and res > 0):
        raise InvalidInput(f"demo resolution must be a positive number of metres, got {res!r}")
    if (extent / res) ** 2 > _MAX_PIXELS:
        raise OversizeRequest(
            f"a {size} demo at {res:g} m would have {(extent / res) ** 2:,.0f} pixels; "
            f"the limit is {_MAX_PIXELS:,} (use a coarser resolution)"
        )
    return extent, res, cres, rres


def _origin(size: str, extent: float) -> tuple[float, float]:
    xc, yc = _centre()
    if size == "small":
        s, t = _SMALL_ST
        xc, yc = xc + (s + t) / _R2, yc + (t - s) / _R2
    return float(round(xc - extent / 2)), float(round(yc + extent / 2))


def demo_grid(size: Size = "full", res: float | None = None) -> Grid:
    """The fine grid of the demo region (EPSG:4546, whole-metre origin).

    ``full`` is 100 km square at 90 m by default, ``small`` 10 km at 30 m; ``res`` overrides
    the pixel size (the extent is then ``floor(extent / res)`` pixels).

    >>> g = demo_grid("small")
    >>> g.shape, g.res, g.crs.to_epsg()
    ((333, 333), (30.0, 30.0), 4546)
    >>> demo_grid("full").shape
    (1111, 1111)
    """
    extent, res, _, _ = _size_params(size, res)
    n = max(1, int(extent // res))
    left, top = _origin(size, extent)
    return Grid(Affine(res, 0, left, 0, -res, top), n, n, DEMO_CRS)


def _coarse_grid(grid: Grid, cres: float) -> Grid:
    """Grid of ``cres`` pixels with the fine grid's origin, covering its extent."""
    w = max(1, math.ceil(grid.width * grid.res[0] / cres - 1e-9))
    h = max(1, math.ceil(grid.height * grid.res[1] / cres - 1e-9))
    t = grid.transform
    return Grid(Affine(cres, 0, t.c, 0, -cres, t.f), w, h, grid.crs)


def _centres(grid: Grid, halo: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre coordinates relative to Yulin: ``xs`` (cols) and ``ys`` (rows)."""
    xc, yc = _centre()
    t = grid.transform
    cols = np.arange(-halo, grid.width + halo) + 0.5
    rows = np.arange(-halo, grid.height + halo) + 0.5
    return t.c + cols * t.a - xc, t.f + rows * t.e - yc


# --------------------------------------------------------------------------- noise


def _noise(
    seed: int, key: str, xs: np.ndarray, ys: np.ndarray, lmin: float, lmax: float, n: int = 48
) -> np.ndarray:
    """Unit-variance spectral noise on the grid ``ys × xs`` (wavelengths ``lmin``–``lmax`` m).

    ``cos(kx·x + ky·y + φ)`` splits into products of 1-D factors, so the sum over ``n``
    components is one ``(rows, 2n) @ (2n, cols)`` matrix product.
    """
    rng = np.random.default_rng([seed, zlib.crc32(key.encode())])
    lam = np.exp(rng.uniform(math.log(lmin), math.log(lmax), n))
    theta = rng.uniform(0.0, math.pi, n)
    phase = rng.uniform(0.0, 2 * math.pi, n)
    amp = lam**0.7
    amp = amp / math.sqrt(0.5 * float(np.sum(amp**2)))
    kx, ky = 2 * np.pi * np.cos(theta) / lam, 2 * np.pi * np.sin(theta) / lam
    ax = np.asarray(xs, dtype=float)[:, None] * kx + phase
    by = np.asarray(ys, dtype=float)[:, None] * ky
    cx = np.concatenate([amp * np.cos(ax), amp * np.sin(ax)], axis=1)
    cy = np.concatenate([np.cos(by), -np.sin(by)], axis=1)
    noise: np.ndarray = cy @ cx.T
    return noise


# --------------------------------------------------------------------------- the landscape


@dataclass(frozen=True)
class _World:
    """Seed-derived parameters shared by every grid of one build."""

    seed: int
    river_phase: tuple[float, float]
    warp0: float  # sand-line warp at the small window's centre (so the line crosses it)
    lakes: np.ndarray  # rows (x, y, a, b, angle, level)
    villages: np.ndarray  # rows (x, y, radius)


def _st(xs: np.ndarray, ys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x, y = xs[None, :], ys[:, None]
    return (x - y) / _R2, (x + y) / _R2


def _sand_warp(seed: int, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    warp: np.ndarray = 2500 * _noise(seed, "sand-line", xs, ys, 8000, 40000) + 1000 * _noise(
        seed, "sand-line-2", xs, ys, 2000, 8000
    )
    return warp


def _sandiness(seed: int, warp0: float, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """0 on loess … 1 on sand: a logistic step (1.5 km scale) across the warped sand line."""
    s, _ = _st(xs, ys)
    d = s - _SMALL_ST[0] + _sand_warp(seed, xs, ys) - warp0
    sandiness: np.ndarray = 1.0 / (1.0 + np.exp(np.clip(d / 1500.0, -50, 50)))
    return sandiness


def _warp0(seed: int) -> float:
    s0, t0 = _SMALL_ST
    return float(_sand_warp(seed, np.array([(s0 + t0) / _R2]), np.array([(t0 - s0) / _R2]))[0, 0])


def _river(w: _World, s: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distance to the river centre line and its bed elevation."""
    p1, p2 = w.river_phase
    a1, l1, a2, l2 = 1500.0, 23000.0, 400.0, 7000.0
    tc = -3000 + a1 * np.sin(2 * np.pi * s / l1 + p1) + a2 * np.sin(2 * np.pi * s / l2 + p2)
    dtc = a1 * 2 * np.pi / l1 * np.cos(2 * np.pi * s / l1 + p1) + a2 * 2 * np.pi / l2 * np.cos(
        2 * np.pi * s / l2 + p2
    )
    r = np.abs(t - tc) / np.sqrt(1 + dtc**2)
    return r, 1090.0 - 1.6e-3 * s


def _landscape(
    w: _World, xs: np.ndarray, ys: np.ndarray, *, dunes: bool = True
) -> dict[str, np.ndarray]:
    """Elevation and the fields land cover needs, at pixel centres ``ys × xs``."""
    seed = w.seed
    s, t = _st(xs, ys)
    S = _sandiness(seed, w.warp0, xs, ys)
    z_pl = (
        1245.0
        - 1.0e-3 * s
        + 25 * _noise(seed, "plateau", xs, ys, 8000, 40000)
        + 14 * _noise(seed, "hills", xs, ys, 1200, 8000)
        + 1.5 * _noise(seed, "rough", xs, ys, 150, 600)
    )
    r, z_riv = _river(w, s, t)
    z_pl = z_pl + 1.5e-3 * np.minimum(r, 30_000.0)  # interfluves rise away from the river
    F = 250.0 + 350.0 * S  # floodplain half-width
    # tributaries: every 3 km along the river, beds rising 2.5 m/km away from it
    u1 = s + 600 * _noise(seed, "trib-warp", xs, ys, 3000, 12000)
    q1 = np.mod(u1, 3000.0) - 1500.0
    z_tb = z_riv + 1.6e-3 * q1 + 2.5e-3 * np.maximum(r - F, 0)
    d1 = np.maximum(z_pl - z_tb, 0)
    z_d = np.minimum(z_pl, z_tb + 1.3 * d1 * (1 - np.exp(-((q1 / (250 + 1.8 * d1)) ** 2))))
    del z_tb, d1
    # gullies: every 800 m along a tributary, beds rising 60 m/km towards the interfluve
    q2 = np.mod(r + 250 * _noise(seed, "gully-warp", xs, ys, 1000, 4000), 800.0) - 400.0
    z_gb = z_riv + 1.6e-3 * q1 + 2.5e-3 * np.maximum(r - q2 - F, 0) + 0.06 * np.abs(q1)
    d2 = np.maximum(z_pl - z_gb, 0)
    z_d = np.minimum(z_d, z_gb + 1.3 * d2 * (1 - np.exp(-((q2 / (150 + 1.8 * d2)) ** 2))))
    del z_gb, d2, q2, u1
    # The sand keeps 15 % of the dissection. The damping varies across the valleys only (with s,
    # not t: tributaries run along t), so it never raises a valley floor downstream.
    s_k = 1.0 / (1.0 + np.exp(np.clip((s - _SMALL_ST[0]) / 2500.0, -50, 50)))
    z = z_pl - (1 - 0.85 * s_k) * (z_pl - z_d)
    del z_d
    # main valley: flat floor of half-width F, walls wide in the sand and steep in the loess
    wall = 700.0 + 2300.0 * S
    z_rc = (
        z_riv + 2 * np.minimum(r, F) / F + 400 * (1 - np.exp(-((np.maximum(r - F, 0) / wall) ** 2)))
    )
    z = np.minimum(z, z_rc)
    out = {"S": S, "r": r, "F": F, "z_pl": z_pl, "z_riv": z_riv}
    if dunes:
        u = s + 200 * _noise(seed, "dune-warp", xs, ys, 1000, 3000)
        phi = np.mod(u / 480.0, 1.0)
        prof = np.where(phi < 0.75, phi / 0.75, (1 - phi) / 0.25)
        crest = 0.65 + 0.35 * np.cos(
            2 * np.pi * (t + 300 * _noise(seed, "dune-crest", xs, ys, 800, 3000)) / 1100.0
        )
        amp = 3 + 12 / (1 + np.exp(-1.5 * _noise(seed, "dune-height", xs, ys, 2000, 10000)))
        z = z + S**2 * amp * prof * crest * np.clip((r - F) / 300.0, 0, 1)
        lake = np.zeros(z.shape, dtype=bool)
        for lx, ly, a, b, ang, level in w.lakes:
            if not _near(xs, ys, lx, ly, a):
                continue
            dx, dy = xs[None, :] - lx, ys[:, None] - ly
            u_, v_ = (
                dx * math.cos(ang) + dy * math.sin(ang),
                -dx * math.sin(ang) + dy * math.cos(ang),
            )
            inside = (u_ / a) ** 2 + (v_ / b) ** 2 <= 1.0
            z = np.where(inside, level, z)
            lake |= inside
        out["lake"] = lake
    out["z"] = z
    return out


def _near(xs: np.ndarray, ys: np.ndarray, x: float, y: float, radius: float) -> bool:
    """Whether a disc may touch the block of pixel centres ``ys × xs``."""
    return bool(
        xs.min() - radius <= x <= xs.max() + radius and ys.min() - radius <= y <= ys.max() + radius
    )


def _world(seed: int) -> _World:
    rng = np.random.default_rng([seed, 1])
    phases = (float(rng.uniform(0, 2 * math.pi)), float(rng.uniform(0, 2 * math.pi)))
    warp0 = _warp0(seed)
    w = _World(seed, phases, warp0, np.zeros((0, 6)), np.zeros((0, 3)))
    lakes = []
    for _ in range(24):
        x, y = rng.uniform(-50_000, 50_000, 2)
        a = rng.uniform(250, 700)
        b, ang = a * rng.uniform(0.5, 1.0), rng.uniform(0, math.pi)
        f = _landscape(w, np.array([x]), np.array([y]), dunes=False)
        if f["S"][0, 0] > 0.75 and f["r"][0, 0] > f["F"][0, 0] + 800:
            lakes.append((x, y, a, b, ang, float(f["z"][0, 0]) - 2.0))
    villages = np.column_stack([rng.uniform(-50_000, 50_000, (60, 2)), rng.uniform(150, 300, 60)])
    return _World(seed, phases, warp0, np.array(lakes).reshape(-1, 6), villages)


def _slope_deg(z: np.ndarray, res: float) -> np.ndarray:
    """Horn slope (degrees) of the interior of ``z`` (which carries a one-pixel halo)."""
    a, b, c = z[:-2, :-2], z[:-2, 1:-1], z[:-2, 2:]
    d, f = z[1:-1, :-2], z[1:-1, 2:]
    g, h, i = z[2:, :-2], z[2:, 1:-1], z[2:, 2:]
    gx = ((c + 2 * f + i) - (a + 2 * d + g)) / (8 * res)
    gy = ((g + 2 * h + i) - (a + 2 * b + c)) / (8 * res)
    slope: np.ndarray = np.degrees(np.arctan(np.hypot(gx, gy)))
    return slope


def _annual_precip(seed: int, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    s, _ = _st(xs, ys)
    return 350.0 + 100.0 * s / 70_710.7 + 6.0 * _noise(seed, "precip", xs, ys, 50_000, 150_000)


def _fine_block(w: _World, xs: np.ndarray, ys: np.ndarray, res: float) -> dict[str, np.ndarray]:
    """All fine-grid variables for pixel centres ``ys × xs`` (``ys``, ``xs`` with a halo)."""
    seed = w.seed
    f = _landscape(w, xs, ys)
    slope = _slope_deg(f["z"], res)
    xs, ys = xs[1:-1], ys[1:-1]
    core = (slice(1, -1), slice(1, -1))
    S, r, F, z, lake = (f[k][core] for k in ("S", "r", "F", "z", "lake"))
    z_riv, z_pl = f["z_riv"][core], f["z_pl"][core]
    del f
    nv = _noise(seed, "veg", xs, ys, 500, 5000)
    nf = _noise(seed, "forest", xs, ys, 1000, 6000)
    nc = _noise(seed, "crop", xs, ys, 500, 3000)
    sandy, loess = S >= 0.5, S < 0.5
    lc = np.full(z.shape, GRASS, dtype=np.uint8)
    lc[loess & (slope < 7) & (nc > -0.5)] = CROP
    lc[sandy & (r < F + 2500) & (slope < 3) & (nc > 0.3)] = CROP
    lc[loess & (slope >= 7) & (nf > 0.9)] = FOREST
    lc[sandy & (nf > 1.5)] = FOREST
    lc[loess & (slope > 30) & (nv < -0.5)] = BARE  # gully walls and slumps only (see above)
    lc[sandy & (S + 0.3 * nv > 0.9) & (lc != FOREST)] = SAND
    lc[(r < F) & (slope < 5)] = CROP
    town = np.hypot(xs[None, :], ys[:, None]) < 3000 * (
        1 + 0.25 * _noise(seed, "town", xs, ys, 1000, 4000)
    )
    for vx, vy, vr in w.villages:
        if not _near(xs, ys, vx, vy, vr):
            continue
        town |= np.hypot(xs[None, :] - vx, ys[:, None] - vy) < vr
    lc[town & (slope < 12)] = BUILT
    lc[(r < max(50.0, 0.75 * res)) | lake] = WATER

    p_ann = _annual_precip(seed, xs, ys)
    base = np.array([0, 0.42, 0.58, 0.30, -0.05, 0.14, 0.10, 0.12])[lc]
    base = base - 0.08 * S * (lc == GRASS)
    wet = (p_ann - 350.0) / 100.0 * 0.05 * np.isin(lc, (CROP, FOREST, GRASS))
    ndvi = np.clip(
        base + wet + 0.03 * nv + 0.015 * _noise(seed, "ndvi", xs, ys, 100, 800), -0.2, 0.9
    )
    npp = 600.0 * np.maximum(ndvi - 0.05, 0) * np.sqrt(p_ann / 350.0)
    npp = np.where(lc == BUILT, 0.5 * npp, npp)
    ns = _noise(seed, "soil", xs, ys, 300, 5000)
    sand = S * (88 + 4 * ns) + (1 - S) * (28 + 4 * ns)
    clay = S * (3 + 1 * ns) + (1 - S) * (15 - 2 * ns)
    alluvium = np.clip(1 - (r - F) / 400.0, 0, 1)
    sand = sand + alluvium * (45 - sand)
    clay = clay + alluvium * (14 - clay)
    sand, clay = np.where(lake, 20.0, sand), np.where(lake, 38.0, clay)
    clay = np.clip(clay, 1, 45)
    sand = np.clip(sand, 5, 98 - clay)
    silt = 100.0 - sand - clay
    soc = 0.12 + 2.0 * np.maximum(ndvi, 0) ** 1.5
    tex = np.full(z.shape, LOAM, dtype=np.uint8)
    tex[sand >= 70] = SANDY
    tex[clay >= 30] = CLAY
    tex[(r < F * 0.6) & ~lake] = GRAVEL
    rock = loess & (slope > 22) & (z - z_riv < 0.6 * (z_pl - z_riv))
    tex[rock] = BEDROCK
    infil = 25.4 * 10 ** (-0.6 + 0.0126 * sand - 0.0064 * clay)
    infil *= np.select([rock, lc == BUILT, lc == BARE, lc == FOREST], [0.1, 0.2, 0.6, 1.3], 1.0)
    return {
        "dem": z,
        "ndvi": ndvi,
        "npp": npp,
        "landcover": lc,
        "sand": sand,
        "silt": silt,
        "clay": clay,
        "soc": soc,
        "infiltration": infil,
        "texture_class": tex,
    }


# --------------------------------------------------------------------------- climate


def _climate(seed: int, grid: Grid) -> dict[str, np.ndarray]:
    """The 1 km climate fields (12-band monthly, plus wind days and aridity)."""
    xs, ys = _centres(grid)
    s, _ = _st(xs, ys)
    g = s / 70_710.7  # −1 at the NW corner of the full window, +1 at the SE corner
    p_ann = _annual_precip(seed, xs, ys)
    precip = _P_SHARE[:, None, None] * p_ann[None]
    temp = (
        _T_CLIM[:, None, None]
        + (0.5 * g + 0.3 * _noise(seed, "temp", xs, ys, 40_000, 150_000))[None]
    )
    S = _sandiness(seed, _warp0(seed), xs, ys)
    u10 = _U10_CLIM[:, None, None] * ((1.1 - 0.1 * g) * (1 + 0.1 * S))[None]
    wind2m = u10 * _U2_FACTOR
    rh = np.clip(_RH_CLIM[:, None, None] + (0.04 * g)[None], 0.05, 0.95)
    # Weibull(k=2) daily mean wind with the monthly mean; daily max = 1.3 x daily mean
    scale = u10 / math.gamma(1.5)
    p_exceed = np.exp(-((6.0 / 1.3 / scale) ** 2))
    months = [11, 0, 1, 2, 3, 4]  # December and January–May
    wind_days = np.sum(p_exceed[months] * _DAYS[months, None, None], axis=0)
    warm = temp >= 10.0
    heat = np.sum(np.where(warm, temp * _DAYS[:, None, None], 0), axis=0)
    rain = np.sum(np.where(warm, precip, 0), axis=0)
    aridity = 0.16 * heat / np.maximum(rain, 1.0)
    return {
        "precip_monthly": precip,
        "temp_monthly": temp,
        "wind2m_monthly": wind2m,
        "rh_monthly": rh,
        "wind_days": wind_days,
        "aridity": aridity,
    }


def _rain_daily(seed: int, grid: Grid) -> tuple[np.ndarray, tuple[str, ...]]:
    """Daily rain 2018–2020 (bands, rows, cols) whose monthly means match ``precip_monthly``."""
    rng = np.random.default_rng([seed, 7])
    dates = np.arange(np.datetime64("2018-01-01"), np.datetime64("2021-01-01"))
    month = dates.astype("datetime64[M]").astype(int) % 12
    nyears = 3
    xs, ys = _centres(grid)
    p_ann = _annual_precip(seed, xs, ys)
    p_mon = _P_SHARE[:, None, None] * p_ann[None]
    p_wet = np.clip(
        _WET_DAYS[:, None, None] / _DAYS[:, None, None] * np.sqrt(p_ann / 400.0)[None], 0.01, 0.9
    )
    p_reg = np.minimum(0.95, 1.3 * p_wet.max(axis=(1, 2)))
    nd, shape = len(dates), p_ann.shape
    storm = rng.random(nd) < p_reg[month]
    wet = storm[:, None, None] & (
        rng.random((nd, *shape)) < p_wet[month] / p_reg[month, None, None]
    )
    intensity = rng.lognormal(-0.125, 0.5, nd)
    rain = rng.gamma(0.75, 1.0, (nd, *shape)) * intensity[:, None, None] * wet
    for m in range(12):
        days = np.flatnonzero(month == m)
        total = rain[days].sum(axis=0)
        dry = total <= 0
        if dry.any():  # give every (cell, month) at least one wet day
            rain[rng.choice(days), dry] = 1.0
            total = rain[days].sum(axis=0)
        rain[days] *= (p_mon[m] * nyears / total)[None]
    return rain, tuple(str(d) for d in dates)


# --------------------------------------------------------------------------- build


_UNITS = {
    "dem": "m",
    "ndvi": "1",
    "npp": "g C m-2 a-1",
    "landcover": "class",
    "sand": "%",
    "silt": "%",
    "clay": "%",
    "soc": "%",
    "infiltration": "mm/h",
    "texture_class": "class",
    "precip_monthly": "mm",
    "temp_monthly": "degC",
    "wind2m_monthly": "m/s",
    "rh_monthly": "1",
    "wind_days": "d",
    "aridity": "1",
    "rain_daily": "mm",
}
_MONTHS = tuple(f"{m:02d}" for m in range(1, 13))


def _colormap(
    classes: tuple[tuple[int, str, str, str], ...],
) -> dict[int, tuple[int, int, int, int]]:
    return {c: (int(h[1:3], 16), int(h[3:5], 16), int(h[5:7], 16), 255) for c, _, _, h in classes}


def _dtype_nodata(var: str) -> tuple[str, float]:
    return ("uint8", 0) if var in ("landcover", "texture_class") else ("float32", _NODATA_F)


def _params(size: str, res: float, seed: int) -> dict[str, Any]:
    return {"size": size, "res": res, "seed": seed, "version": DEMO_VERSION, "years": [2018, 2020]}


def _cached(out: Path, params: Mapping[str, Any]) -> dict[str, Path] | None:
    meta = out / "demo_region.json"
    paths = {v: out / f"{v}.tif" for v in DEMO_VARIABLES}
    try:
        old = json.loads(meta.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if old.get("params") != dict(params) or not all(p.exists() for p in paths.values()):
        return None
    return paths


def build_demo_region(
    out_dir: str | Path,
    *,
    size: Size = "full",
    res: float | None = None,
    seed: int = DEMO_SEED,
    progress: Progress | None = None,
) -> dict[str, Path]:
    """Build (or reuse) the synthetic demo region as COGs ``out_dir/<variable>.tif``.

    Parameters
    ----------
    out_dir : path
        Folder for the files and ``demo_region.json`` (parameters, grids, checksums).
    size : {"full", "small"}
        About 100 km square (90 m) or the 10 km test window (30 m) on the sand/loess edge.
    res : float, optional
        Fine-grid pixel size in metres (default 90 for full, 30 for small).
    seed : int
        Random seed; the same seed gives identical arrays.
    progress : callable, optional
        Called as ``progress(step_name, fraction_done)``.

    Returns
    -------
    dict
        Path of each variable of :data:`DEMO_VARIABLES`. If ``out_dir`` already holds a build
        with the same parameters, it is returned without rewriting anything.

    Examples
    --------
    >>> import tempfile
    >>> d = tempfile.mkdtemp()
    >>> paths = build_demo_region(d, size="small", res=500)
    >>> sorted(paths) == sorted(DEMO_VARIABLES), paths["dem"].name
    (True, 'dem.tif')
    >>> import shutil; shutil.rmtree(d)
    """
    extent, res, cres, rres = _size_params(size, res)
    seed = int(seed)
    out = Path(out_dir)
    params = _params(size, res, seed)
    cached = _cached(out, params)
    if cached is not None:
        if progress:
            progress("cached", 1.0)
        return cached
    out.mkdir(parents=True, exist_ok=True)
    # an interrupted rebuild must not leave old metadata vouching for a mix of files
    (out / "demo_region.json").unlink(missing_ok=True)
    step = progress or (lambda _name, _frac: None)
    step("landscape", 0.0)
    build = _Build(out, params, {v: hashlib.sha256() for v in DEMO_VARIABLES})
    grid = demo_grid(size, res)
    build.fine(grid, _world(seed), res, step)
    step("climate", 0.85)
    cgrid = build.climate(seed, _coarse_grid(grid, cres))
    step("daily rain", 0.95)
    rgrid = build.rain(seed, _coarse_grid(grid, rres))
    build.metadata({"fine": grid, "climate": cgrid, "rain_daily": rgrid})
    step("done", 1.0)
    return build.paths


class _Digest(Protocol):
    """What the build needs of a :mod:`hashlib` hash."""

    def update(self, data: bytes, /) -> None:
        """Add ``data`` to the hash."""

    def hexdigest(self) -> str:
        """The hash so far, in hexadecimal."""
        ...


@dataclass(frozen=True)
class _Build:
    """One build of the demo region into ``out``: the files, and the SHA-256 of the data
    written to each (``sums``, recorded in ``demo_region.json``)."""

    out: Path
    params: Mapping[str, Any]
    sums: dict[str, _Digest]

    @property
    def paths(self) -> dict[str, Path]:
        """The file of every variable of :data:`DEMO_VARIABLES`."""
        return {v: self.out / f"{v}.tif" for v in DEMO_VARIABLES}

    def fine(self, grid: Grid, w: _World, res: float, step: Progress) -> None:
        """Write the fine-grid variables, in strips of about 0.5 Mpx (bounded memory)."""
        paths = self.paths
        xs, ys = _centres(grid, halo=1)
        with contextlib.ExitStack() as stack:
            writers = {}
            for v in FINE_VARIABLES:
                dtype, nodata = _dtype_nodata(v)
                cls = {"landcover": LANDCOVER_CLASSES, "texture_class": TEXTURE_CLASSES}.get(v)
                writers[v] = stack.enter_context(
                    open_raster_writer(
                        paths[v],
                        grid,
                        dtype=dtype,
                        nodata=nodata,
                        units=_UNITS[v],
                        band_names=(v,),
                        tags=_tags(v, self.params),
                        colormap=_colormap(cls) if cls else None,
                    )
                )
            rows = max(16, 500_000 // (grid.width + 2))
            for r0 in range(0, grid.height, rows):
                h = min(rows, grid.height - r0)
                block = _fine_block(w, xs, ys[r0 : r0 + h + 2], res)
                for v, arr in block.items():
                    a = arr.astype(_dtype_nodata(v)[0])
                    self.sums[v].update(np.ascontiguousarray(a).tobytes())
                    writers[v].write((r0, 0, h, grid.width), a)
                step("landscape", 0.8 * (r0 + h) / grid.height)
            step("writing", 0.8)

    def climate(self, seed: int, cgrid: Grid) -> Grid:
        """Write the climate variables on the coarse climate grid; return that grid."""
        for v, arr in _climate(seed, cgrid).items():
            a = arr.astype("float32")
            self.sums[v].update(a.tobytes())
            names = _MONTHS if a.ndim == 3 else (v,)
            _write(a, cgrid, self.paths[v], v, names, self.params)
        return cgrid

    def rain(self, seed: int, rgrid: Grid) -> Grid:
        """Write the daily rain (one band per day) on its grid; return that grid."""
        rain, dates = _rain_daily(seed, rgrid)
        rain = rain.astype("float32")
        self.sums["rain_daily"].update(rain.tobytes())
        _write(rain, rgrid, self.paths["rain_daily"], "rain_daily", dates, self.params)
        return rgrid

    def metadata(self, grids: Mapping[str, Grid]) -> None:
        """Write ``demo_region.json`` last: parameters, grids, and each file's data SHA-256."""
        meta = {
            "params": self.params,
            "crs": DEMO_CRS,
            "status": "synthetic",
            "grids": {name: _grid_json(g) for name, g in grids.items()},
            "files": {
                v: {"file": p.name, "units": _UNITS[v], "data_sha256": self.sums[v].hexdigest()}
                for v, p in self.paths.items()
            },
        }
        with atomic_path(self.out / "demo_region.json") as tmp:
            tmp.write_text(json.dumps(meta, indent=1, ensure_ascii=False), encoding="utf-8")


def _tags(var: str, params: Mapping[str, Any]) -> dict[str, str]:
    """A demo raster's tags: synthetic, made by the demo-region generator (and its params)."""
    from geoeco.core.provenance import status_tags

    return {
        **status_tags("synthetic", {"process": "demo region", "variable": var}),
        "GEOECO_VARIABLE": var,
        "GEOECO_DEMO": json.dumps(dict(params)),
    }


def _write(
    a: np.ndarray,
    grid: Grid,
    path: Path,
    var: str,
    names: tuple[str, ...],
    params: Mapping[str, Any],
) -> None:
    r = Raster.from_array(a, grid, nodata=_NODATA_F, units=_UNITS[var], name=var, band_names=names)
    # small coarse grids: a block no bigger than the grid keeps 1096 bands from bloating
    block = min(512, 16 * math.ceil(max(grid.width, grid.height) / 16))
    write_raster(
        r, path, nodata=_NODATA_F, dtype="float32", tags=_tags(var, params), blocksize=block
    )


def _grid_json(g: Grid) -> dict[str, Any]:
    return {"transform": list(g.transform)[:6], "width": g.width, "height": g.height}


@raster_generator("demo_region")
def generate_demo_layer(params: Mapping[str, Any], cache_dir: Path) -> Path:
    """Generator of the ``demo.*`` layers: builds into ``cache_dir/demo_<size>`` once.

    ``params``: ``variable`` (one of :data:`DEMO_VARIABLES`), ``size`` (default ``full``),
    optional ``res`` and ``seed`` (non-default values get their own folder).
    """
    var = params.get("variable")
    if var not in DEMO_VARIABLES:
        raise InvalidInput(f"unknown demo variable {var!r}; known: {', '.join(DEMO_VARIABLES)}")
    size = _as_size(params.get("size", "full"))
    res, seed = params.get("res"), int(params.get("seed", DEMO_SEED))
    folder = f"demo_{size}"
    if res is not None or seed != DEMO_SEED:
        folder += f"_{res or 'default'}m_{seed}"
    return build_demo_region(Path(cache_dir) / folder, size=size, res=res, seed=seed)[var]
