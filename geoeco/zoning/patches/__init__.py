"""Red-line patch clean-up: small patches dropped, holes filled, one LXBM code per patch.

Owns: the whole-grid reference (:mod:`.grid`), stateless per-tile sweeps (:mod:`.tiled`), the
GIL-free tile labelling they use (:mod:`.label`), sweep 3's patches from the labels of sweeps
1 and 2 (:mod:`.relabel`) and the join of their edge records into grid-wide components
(:mod:`.join`).

May import: :mod:`geoeco.zoning.rules` and the rooms below zoning.
"""
