"""Where tables live: ``client`` (SQLAlchemy access with each engine's bulk path),
``tables`` (the declared output tables, a public API), ``sql_types`` (the one SQL <->
polars type map), ``run_log`` (attribution.runs), ``workspace`` (a run's Parquet
files), ``docs`` (the README's table dictionary).

May import: ``models``, ``contract``.
"""
