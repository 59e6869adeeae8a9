""" "What applies here?": point lookups, site screening, exact zonal statistics, reports.

Owns: a zoning run opened for queries (:mod:`.context`), point lookups and features in a bbox
(:mod:`.point`), site screening with verdicts (:mod:`.screening`, :mod:`.overlaps`,
:mod:`.compliance`), zonal statistics with exact coverage (:mod:`.zonal`, the coverage pass
and its statistics in :mod:`.coverage`), the HTML report
(:mod:`.report`) and the response models shared by Python, CLI and HTTP (:mod:`.models`).

May import: :mod:`geoeco.restoration`, :mod:`geoeco.evaluation` and the rooms below them.
"""
