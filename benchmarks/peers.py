"""Peer baselines: time other libraries' heuristic models on our won-deal paths.

    uv sync --frozen --group bench
    uv run --frozen --group bench python benchmarks/peers.py --deals 20000

ChannelAttribution 2.2.5 is an sdist only: installing it compiles its C++ core
(about 20 s here). It imports matplotlib.pyplot on import without declaring it
("ModuleNotFoundError: No module named 'matplotlib'"), so the bench group lists
matplotlib too. It has first, last and linear touch only.

`paths` is one row per (won deal, touch): opportunity_id, position (1..n),
channel, occurred_at, amount_cents (the deal's, on every row) and closed_at.
Converting it to a library's input is not timed; that library's own parsing is,
as its users pay for it. Neither library fetches anything when called (both ran
here inside a network namespace with no interfaces, and opened no socket), and
both gave the channel totals of our rules' formulas on synthetic paths.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import io
import json
import time
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version

import numpy as np
import polars as pl

SEPARATOR = " > "
START = dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc)


def _journeys(paths: pl.DataFrame, *extra: pl.Expr) -> pl.DataFrame:
    """One row per deal: channels joined with " > " in `position` order, its amount."""
    return (
        paths.sort("opportunity_id", "position")
        .group_by("opportunity_id", maintain_order=True)
        .agg(
            pl.col("channel").str.join(SEPARATOR).alias("path"),
            pl.col("amount_cents").first().cast(pl.Float64).alias("value"),
            *extra,
        )
    )


def _clock() -> tuple[dict[str, float], Callable[[str], contextlib.AbstractContextManager]]:
    """A dict of seconds, and `timed(name)` that records a block's wall time into it."""
    seconds: dict[str, float] = {}

    @contextlib.contextmanager
    def timed(name: str):
        start = time.perf_counter()
        yield
        seconds[name] = time.perf_counter() - start

    return seconds, timed


def time_mam(paths: pl.DataFrame) -> dict[str, float]:
    """Seconds for mam's five heuristic models, its own parsing, and their total.

    Input (not timed): mam's "journey" format, one row per deal with `path`
    (channels joined by " > " in `position` order), `time_till_end` (hours from
    each touch to closed_at, joined the same way), `has_conversion` = True and
    `value` = amount_cents (its conversion value). Not its "session" format (one row per
    touch): that one sums the value column over a journey's rows (our amount is
    on every row) and orders touches by timestamp rather than by our position.

    Timed: `MAM(...)` ("preprocess": mam splits those strings into its list
    columns, which every caller pays), then `run_first_click`, `run_last_click`,
    `run_linear`, `run_position_based` and `run_time_decay(half_life_hours=168)`.
    Each run_* computes the model twice (per-journey rows and channel totals),
    as it does for every caller. Position based is fixed at 40/20/40 in mam
    (1 touch takes all, 2 split 50/50), as our default. Time decay weighs a touch
    by 0.5 ** (hours to conversion / half_life_hours), normalized per journey,
    which is our half-life of 7 days (168 h, also mam's default).
    """
    from mam import MAM

    hours = (pl.col("closed_at") - pl.col("occurred_at")).dt.total_seconds() / 3600.0
    journeys = _journeys(paths, hours.cast(pl.String).str.join(SEPARATOR).alias("time_till_end")).with_columns(has_conversion=pl.lit(True))

    seconds, timed = _clock()
    with timed("preprocess"):
        model = MAM(
            journeys,
            format_type="journey",
            channels_colname="path",
            journey_with_conv_colname="has_conversion",
            user_id_colname="opportunity_id",
            time_till_conv_colname="time_till_end",
            conversion_value_colname="value",
            path_separator=SEPARATOR,
        )
    with timed("first_click"):
        model.run_first_click()
    with timed("last_click"):
        model.run_last_click()
    with timed("linear"):
        model.run_linear()
    with timed("position_based"):
        model.run_position_based()
    with timed("time_decay"):
        model.run_time_decay(half_life_hours=7 * 24.0)
    seconds["total"] = sum(seconds.values())
    return seconds


def time_channel_attribution(paths: pl.DataFrame) -> dict[str, float] | str:
    """Seconds for ChannelAttribution's heuristic_models, or why it is unavailable.

    Input (not timed): a pandas frame (its API reads columns with pandas'
    `.str.encode`), one row per deal: `path` (channels joined by " > " in
    `position` order), `conversions` = 1, `value` = amount_cents.

    Timed: "aggregate", a pandas group-by summing conversions and value over
    identical paths, since its input is paths with total conversions and value
    (as in its docs' Data.csv) and its users build that; then "heuristic_models"
    (first, last and linear touch, conversions and value; it has no position
    based or time decay). `sep=">"` because sep must be one character; its
    parser trims the spaces around each channel. total = aggregate + models.
    """
    try:
        # It prints a banner on import; keep our JSON on stdout clean.
        with contextlib.redirect_stdout(io.StringIO()):
            from ChannelAttribution import heuristic_models
    except Exception as exc:  # noqa: BLE001 - the reason is the result
        return f"unavailable: {type(exc).__name__}: {exc}"

    deals = _journeys(paths).select("path", conversions=pl.lit(1, pl.Int64), value="value").to_pandas()

    seconds, timed = _clock()
    with timed("aggregate"):
        data = deals.groupby("path", as_index=False, sort=False).agg(
            total_conversions=("conversions", "sum"), total_conversion_value=("value", "sum")
        )
    with timed("heuristic_models"):
        heuristic_models(data, "path", "total_conversions", var_value="total_conversion_value", sep=">", flg_pro=False)
    seconds["total"] = sum(seconds.values())
    return seconds


def synthetic_paths(deals: int, seed: int = 0) -> pl.DataFrame:
    """`deals` won deals of 1-9 touches (5 on average) over 8 channels and 90 days."""
    rng = np.random.default_rng(seed)
    per_deal = rng.integers(1, 10, deals)
    deal = np.repeat(np.arange(deals), per_deal)
    channels = np.array(["paid_search", "organic", "email", "social", "display", "referral", "events", "direct"])
    return (
        pl.DataFrame(
            {
                "opportunity_id": pl.Series(deal).cast(pl.String).str.zfill(9),
                "channel": channels[rng.integers(0, len(channels), deal.size)],
                "after_start": rng.integers(0, 365 * 86400, deals)[deal],
                "amount_cents": rng.integers(100_00, 100_000_00, deals)[deal],
                "before_close": rng.integers(0, 90 * 86400, deal.size),
            }
        )
        .with_columns(closed_at=pl.lit(START) + pl.duration(seconds="after_start"))
        .with_columns(occurred_at=pl.col("closed_at") - pl.duration(seconds="before_close"))
        .sort("opportunity_id", "occurred_at")
        .with_columns(position=pl.int_range(1, pl.len() + 1).over("opportunity_id"))
        .select("opportunity_id", "position", "channel", "occurred_at", "amount_cents", "closed_at")
    )


def _version(name: str) -> str | None:
    try:
        return version(name)
    except PackageNotFoundError:
        return None


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--deals", type=int, default=20000)
    args = parser.parse_args()
    paths = synthetic_paths(args.deals)
    report = {
        "deals": args.deals,
        "touches": paths.height,
        "versions": {name: _version(name) for name in ("marketing-attribution-models", "ChannelAttribution", "polars", "pandas")},
        "mam": time_mam(paths),
        "channel_attribution": time_channel_attribution(paths),
    }
    print(json.dumps(report, indent=2))
