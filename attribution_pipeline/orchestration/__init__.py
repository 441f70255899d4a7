"""Dagster plumbing the assets share: ``resources`` (source, warehouse, settings),
``io_managers`` (workspace files to warehouse tables, published together),
``partitions`` (close months), ``automation`` (schedule and landing sensor),
``progress`` (the CLI's live progress logger).

May import: ``models``, ``contract``, ``sources``, ``warehouse``, ``report``.
"""
