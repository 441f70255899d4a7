"""What users run: ``cli`` (the ``attribution`` command), ``backfill`` (month ranges),
``deal_months`` (which months a run covers), ``crash_trials`` (kill-while-writing trials).

May import: everything else in the project; nothing imports it.
"""
