"""The pipeline around the engine (``models/``), in layers; each imports only the
layers before it, so a change never reaches back (``tests/test_layers.py``):

    models <- contract <- sources, warehouse, sample_data <- report
           <- orchestration <- assets <- definitions <- app

- ``contract``: SPEC 1 (normalization, each source's columns and rules, the GX suites)
- ``sources``: reading a landing folder or a source database as text
- ``warehouse``: SQLAlchemy access, the declared output tables, the run log, the run workspace
- ``sample_data``: the seeded synthetic landing folder
- ``report``: the marketer-facing HTML report (queries apart from the page)
- ``orchestration``: Dagster resources, the IO manager, partitions, automation, progress
- ``definitions``: the Dagster code location (what ``dg dev`` and the daemon load)
- ``app``: the ``attribution`` command line and what it drives (runs, backfills, export)
"""
