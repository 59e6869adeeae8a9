"""Ecological evaluation: sensitivity and the importance of ecosystem services.

Owns: sanding and water-erosion sensitivity (:mod:`.sensitivity`), the four services and their
importance by cumulative share (:mod:`.importance`), the climate products they need
(:mod:`.climate`), true pixel areas (:mod:`.area_weights`), the run's configuration, passes and
per-pixel functions (:mod:`.config`, :mod:`.passes`, :mod:`.pixels`), ``run_evaluation``
(:mod:`.run`) and what it returns (:mod:`.results`: ``EvaluationResult``).

May import: :mod:`geoeco.erosion` and the rooms below it (zoning, terrain, catalog, core).
"""
