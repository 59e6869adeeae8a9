"""Foundations every room stands on: errors, raster value objects, CRSs, file I/O, alignment,
engines and tile stores.

Owns: the one exception tree (:mod:`.errors`), ``Grid``/``Raster`` (:mod:`.raster`), CGCS2000,
GCJ-02 and the equal-area Albers CRS (:mod:`.crs`), reading and atomic writing of files and
COGs (:mod:`.io`), the one gate every data file is opened through (:mod:`.userdata`: formats
by content, forced drivers, no network, header limits), checks of a data file before use
(:mod:`.inspect`), safe intake of uploaded archives (:mod:`.uploads`), bounded JSON input
(:mod:`.json_input`), staging folders that a failed run removes (:mod:`.staging`), explicit
warping onto one grid (:mod:`.align`), factor inputs read window by window (:mod:`.windows`),
user geometries (:mod:`.geometry`), array helpers (:mod:`.arrays`), grid kernels compiled by
numba only for large grids (:mod:`.jit`), where per-window work runs
(:mod:`.engine`) and tiles exchanged between tasks (:mod:`.tile_store`, :mod:`.tile_writes`).

May import: the standard library and third-party packages only (no other geoeco room).
"""
