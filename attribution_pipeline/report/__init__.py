"""The marketer-facing report: ``queries`` reads every figure from the warehouse
(aggregated in SQL) and ``page`` renders the self-contained HTML page.

May import: ``models``, ``contract``, ``warehouse``.
"""
