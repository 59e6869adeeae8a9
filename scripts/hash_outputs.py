"""Hash the pixels of every raster under a folder (optionally after running ``geoeco demo``).

Used to show that a refactoring leaves results unchanged: run it with the old tree installed and
with the new one, in the same environment, and compare the two JSON files.

    python scripts/hash_outputs.py --demo OUT --json old.json     # runs `geoeco demo --out OUT`
    python scripts/hash_outputs.py OUT --json new.json            # hashes an existing folder
    python scripts/hash_outputs.py --compare old.json new.json    # exit 1 when any hash differs

A raster's hash is the SHA-256 of its dtype, shape, nodata, CRS (WKT) and transform and of the
pixel bytes of every band, read with rasterio (so compression or tiling changes do not count;
values, grid and nodata do). GeoPackage layers are hashed by their attribute values and the WKB
of their geometries, in file order.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import rasterio


def raster_hash(path: Path) -> str:
    """SHA-256 of a raster's grid, nodata and pixel values."""
    h = hashlib.sha256()
    with rasterio.open(path) as ds:
        h.update(f"{ds.dtypes} {ds.shape} {ds.count} {ds.nodata}".encode())
        h.update((ds.crs.to_wkt() if ds.crs else "").encode())
        h.update(repr(tuple(ds.transform)).encode())
        for b in range(1, ds.count + 1):
            h.update(np.ascontiguousarray(ds.read(b)).tobytes())
    return h.hexdigest()


def gpkg_hashes(path: Path) -> dict[str, str]:
    """SHA-256 per layer of a GeoPackage (attributes and geometry WKB, in file order)."""
    import pyogrio

    out = {}
    for name, _ in pyogrio.list_layers(path):
        df = pyogrio.read_dataframe(path, layer=name)
        h = hashlib.sha256()
        cols = [c for c in df.columns if c != "geometry"]
        h.update(repr(cols).encode())
        h.update(df[cols].to_csv(index=False).encode())
        if "geometry" in df.columns:
            for g in df.geometry.to_wkb():
                h.update(g or b"")
        out[f"{path.name}:{name}"] = h.hexdigest()
    return out


def hash_folder(root: Path) -> dict[str, str]:
    """Hashes of every raster and GeoPackage layer under ``root`` (keys: relative paths)."""
    out: dict[str, str] = {}
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root).as_posix()
        if "layers/" in rel:  # the built demo inputs, not outputs
            continue
        if p.suffix.lower() in {".tif", ".tiff"}:
            out[rel] = raster_hash(p)
        elif p.suffix.lower() == ".gpkg":
            for k, v in gpkg_hashes(p).items():
                out[f"{p.parent.relative_to(root).as_posix()}/{k}"] = v
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder", nargs="?", type=Path)
    ap.add_argument("--demo", type=Path, help="run `geoeco demo --out DIR` first, then hash DIR")
    ap.add_argument("--json", type=Path, help="write the hashes here")
    ap.add_argument("--compare", nargs=2, type=Path, metavar=("OLD", "NEW"))
    a = ap.parse_args(argv)
    if a.compare:
        old, new = (json.loads(p.read_text()) for p in a.compare)
        diff = sorted(k for k in old.keys() | new.keys() if old.get(k) != new.get(k))
        for k in diff:
            print(f"DIFFERS {k}: {old.get(k)} vs {new.get(k)}")
        print(f"{len(old)} vs {len(new)} outputs hashed; {len(diff)} differ")
        return 1 if diff else 0
    root = a.demo or a.folder
    if root is None:
        ap.error("give a folder, --demo DIR or --compare OLD NEW")
    if a.demo:
        exe = Path(sys.executable).with_name("geoeco")
        subprocess.run(
            [str(exe), "demo", "--out", str(root)], check=True, stdout=subprocess.DEVNULL
        )
    hashes = hash_folder(root)
    text = json.dumps(hashes, indent=1, sort_keys=True)
    if a.json:
        a.json.write_text(text + "\n")
    print(f"{len(hashes)} outputs hashed under {root}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
