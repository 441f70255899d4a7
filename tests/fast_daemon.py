"""``dagster-daemon``, with the backfill daemon's tick at 1 s instead of Dagster's 30 s.

The tests' backfill has six stages (sources, journeys by ranges, the all-months fit,
credit by ranges, the marts, the report), and the daemon advances a backfill once per
tick: at 30 s the one daemon test would wait three minutes doing nothing. Everything
else is the real daemon, started the way ``attribution run --parallel`` starts it."""

import sys

import dagster._daemon.controller as controller

controller.DEFAULT_DAEMON_INTERVAL_SECONDS = 1

from dagster._daemon.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
