"""Dagster plumbing the assets share: ``resources`` (source, warehouse, settings),
``io_managers`` (workspace files to warehouse tables, stamped with the run id and
published together), ``table_assets`` (the one way an asset stored in a table is
declared: key, metadata, kinds, group, policies, checks),
``partitions`` (close months), ``automation`` (schedule and landing sensor),
``progress`` (the CLI's live progress logger).

May import: ``models``, ``contract``, ``sources``, ``warehouse``, ``report``.
"""
