"""Depression filling (geoeco.terrain.fill.priority_flood).

Expected values: counted by hand on tiny grids, and pyflwdir's own ``fill_depressions``
(pyflwdir 0.5, an independent implementation whose visiting order geoeco keeps) on random
DEMs: the filled DEM and every flood pointer must be identical.
"""

from __future__ import annotations

import numpy as np
import pytest
from pyflwdir.dem import fill_depressions as pyflwdir_fill

from geoeco.terrain.fill import priority_flood


def test_pit_filled_to_its_pour_point_by_hand():
    """A 1 m pit in a 5 m rim with a 3 m notch on the south edge: filled to 3, the notch
    drains out (pointer 0), the pit points to the notch (south, code 4)."""
    z = np.full((3, 3), 5.0, dtype=np.float32)
    z[1, 1], z[2, 1] = 1.0, 3.0
    filled, dirs = priority_flood(z)
    assert filled[1, 1] == 3.0 and filled[2, 1] == 3.0 and filled[0, 0] == 5.0
    assert dirs[2, 1] == 0 and dirs[1, 1] == 4


def test_nodata_and_seeds():
    """NaN stays NaN (pointer 247) and its neighbours are ways out; with seeds only the seed
    is: a bowl whose only outlet is its highest corner fills up to that corner."""
    z = np.array([[2.0, 1.0, np.nan], [3.0, 0.5, 4.0]], dtype=np.float32)
    filled, dirs = priority_flood(z)
    assert np.isnan(filled[0, 2]) and dirs[0, 2] == 247
    assert filled[1, 1] == 0.5  # next to nodata: a way out, not filled
    bowl = np.array([[9.0, 4.0, 4.0], [4.0, 1.0, 4.0], [4.0, 4.0, 4.0]], dtype=np.float32)
    filled, _ = priority_flood(bowl, np.array([0]))
    assert np.all(filled == 9.0)


@pytest.mark.parametrize("seed", range(6))
def test_same_as_pyflwdir_on_random_dems(seed):
    """Random DEMs with ties (integer levels), flats, signed zeros, nodata holes and seeded
    outlets: bit-identical filled DEM and flood pointers to pyflwdir's fill_depressions."""
    rng = np.random.default_rng(seed)
    for t in range(40):
        nr, nc = (int(v) for v in rng.integers(1, 40, 2))
        if t % 2:
            z = rng.integers(-2, 4, (nr, nc)).astype(np.float32)
        else:
            z = rng.normal(0.0, 3.0, (nr, nc)).astype(np.float32)
        z[z == 0] = -0.0 if t % 4 == 1 else 0.0
        if t % 3 == 0:
            z[rng.random((nr, nc)) < 0.15] = np.nan
        valid = np.flatnonzero(np.isfinite(z))
        if valid.size == 0:
            continue
        seeds = None
        if t % 5 == 0:
            seeds = rng.choice(valid, size=min(3, valid.size), replace=False).astype(np.int64)
        kw = {} if seeds is None else {"idxs_pit": seeds}
        ref, ref_dirs = pyflwdir_fill(z.astype(np.float64), nodata=np.nan, **kw)
        ours, dirs = priority_flood(z, seeds)
        np.testing.assert_array_equal(ours, ref.astype(np.float32))
        np.testing.assert_array_equal(dirs, ref_dirs)


def test_refuses_what_it_cannot_key():
    """Only 2-D arrays (the flat index shares a 64-bit key)."""
    with pytest.raises(ValueError, match="2-D"):
        priority_flood(np.zeros(4, dtype=np.float32))
