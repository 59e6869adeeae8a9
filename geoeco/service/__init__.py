"""The library half of the HTTP service: jobs, job stores, processes, tiles, features.

Owns: durable jobs and their stores (:mod:`.jobs`, :mod:`.job_model`, :mod:`.job_store`,
SQLite and PostgreSQL), job folders after a crash (:mod:`.job_folders`), the process catalogue
and its inputs and runners (:mod:`.processes`, :mod:`.process_inputs`,
:mod:`.process_runners`; ``trend`` and ``change`` in :mod:`.process_trends`, ``effectiveness`` in
:mod:`.process_effect`), PNG tiles
(:mod:`.tiles`, :mod:`.run_tiles`) and OGC API Features pages (:mod:`.features`; CRSs,
queryables and property filters in :mod:`.ogc_features`; a zoning run's vector results in
:mod:`.run_features`). No web framework: ``geoeco_api`` wraps these.

May import: :mod:`geoeco.workflows` and every room below it.
"""
