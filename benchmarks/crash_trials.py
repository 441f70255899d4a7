"""SIGKILL `attribution run` a random moment after a random writing step starts, 20 times
per warehouse, and check that each kill landed while the run wrote, that the published
tables are all the old run's or all the new run's (one run id), and that the next run
succeeds.

    uv run python benchmarks/crash_trials.py --trials 20 \
        --warehouse duckdb --warehouse postgresql+psycopg://root@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import tempfile
from pathlib import Path

import sqlalchemy as sa

from attribution_pipeline.app.crash_trials import crash_trial, environment, run_command, snapshot
from attribution_pipeline.sample_data import generate


def fresh_postgres(admin_url: str, name: str) -> str:
    engine = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return sa.engine.make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--touches", type=int, default=20_000)
    parser.add_argument("--warehouse", action="append", default=[])
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    failures = 0
    with tempfile.TemporaryDirectory(prefix="crash-") as scratch:
        root = Path(scratch)
        old, new = root / "old", root / "new"
        generate(old, touches=args.touches, seed=1)
        generate(new, touches=args.touches, seed=2)
        for warehouse in args.warehouse or ["duckdb"]:
            urls = {}
            for label in ("old", "new", "trial"):
                urls[label] = (
                    f"duckdb:///{root / f'{label}.duckdb'}" if warehouse == "duckdb" else fresh_postgres(warehouse, f"crash_{label}")
                )
            home = root / "home"
            for label, data in (("old", old), ("new", new), ("trial", old)):
                subprocess.run(run_command(data, urls[label]), env=environment(home), check=True, capture_output=True)
            expected_old, expected_new = snapshot(urls["old"]), snapshot(urls["new"])
            for number in range(1, args.trials + 1):
                trial = crash_trial(old, new, urls["trial"], home, expected_old, expected_new, rng)
                failures += not (trial.during_writes and trial.one_version and trial.rerun_ok)
                print(
                    f"{warehouse.split(':')[0]} trial {number:2d}: killed {trial.delay:4.2f}s after {trial.step} started"
                    f"{'' if trial.during_writes else ' (NOT while writing)'}: {sorted(set(trial.tables.values()))}, "
                    f"run ids {len(trial.run_ids)}; next run ok: {trial.rerun_ok}"
                )
    print(f"{failures} failed trial(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
