"""The SPEC 1 data contract: ``normalize`` (parsers as polars expressions), ``rules``
(each source's columns, key and row rules, and staging), ``validation`` (the
great-expectations suites that judge the same rules independently), ``checks`` (the
run's checks: what each judges and the message a failure shows).

May import: ``models``.
"""
