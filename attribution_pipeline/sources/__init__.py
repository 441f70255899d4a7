"""Reading a source as it is (``readers``): a landing folder of CSV/Parquet files or a
table/query in any SQLAlchemy database, every value as text.

May import: ``models``, ``contract``.
"""
