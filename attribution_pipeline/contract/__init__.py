"""The SPEC 1 data contract: ``normalize`` (parsers as polars expressions), ``roles``
(what a column is: its parse and its rules), ``rules`` (each source declared once
from roles, and staging), ``validation`` (the
great-expectations suites that judge the same rules independently), ``checks`` (the
run's checks: what each judges and the message a failure shows).

May import: ``models``.
"""
