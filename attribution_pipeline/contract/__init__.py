"""The SPEC 1 data contract: ``normalize`` (parsers as polars expressions), ``rules``
(each source's columns, key and row rules, and staging), ``validation`` (the
great-expectations suites that judge the same rules independently).

May import: ``models``.
"""
