"""Deal paths: each deal's journey as a sequence of channels, for the data-driven models.

The data-driven models (``markov``, ``shapley``) learn from every closed deal,
not only the won ones: a lost deal is a journey that did not convert, and
without non-conversions a channel that appears on every path would look
decisive. Open deals have not ended yet, so by default they are left out;
``include_open`` counts them as non-conversions (as of the run's as-of time).

Paths are in journey order (SPEC 3's ``position``). A touch without a channel
is the channel ``(unknown)``, so it still occupies its step of the path.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import scipy.sparse as sp

UNKNOWN_CHANNEL = "(unknown)"


def _steps(journeys: pl.LazyFrame | pl.DataFrame, include_open: bool, dedupe: bool, ordered: bool = False) -> pl.LazyFrame:
    """The journey rows the paths are made of, in (opportunity_id, position) order;
    ``ordered``: they already are, so the sort is skipped."""
    rows = journeys.lazy()
    if not include_open:
        rows = rows.filter(pl.col("is_closed"))
    if not ordered:
        rows = rows.sort("opportunity_id", "position")
    rows = rows.with_columns(channel=pl.col("channel").fill_null(UNKNOWN_CHANNEL))
    if dedupe:
        previous = pl.col("channel").shift(1).over("opportunity_id")
        rows = rows.filter((pl.col("channel") != previous).fill_null(True))
    return rows


def in_journey_order(rows: pl.DataFrame) -> bool:
    """True when the rows are sorted by (opportunity_id, position), as the journeys
    asset writes them: one pass, much cheaper than sorting millions of rows again."""
    deal, position = pl.col("opportunity_id"), pl.col("position")
    following = (deal < deal.shift(-1)) | ((deal == deal.shift(-1)) & (position < position.shift(-1)))
    return bool(rows.select(following.fill_null(True).all()).item())


def _deals(steps: pl.LazyFrame, opportunities: pl.LazyFrame | pl.DataFrame | None, *lists: pl.Expr) -> pl.LazyFrame:
    """One row per deal in opportunity_id order: converted, value_cents (and ``lists``)."""
    won = pl.col("is_won").first().fill_null(False)
    if opportunities is None:
        deals = steps.group_by("opportunity_id", maintain_order=True).agg(
            *lists, converted=won, amount_cents=pl.col("amount_cents").first()
        )
    else:  # one amount per deal, joined after grouping
        deals = steps.group_by("opportunity_id", maintain_order=True).agg(*lists, converted=won)
        amounts = opportunities.lazy().select("opportunity_id", "amount_cents")
        deals = deals.join(amounts, on="opportunity_id", how="left", maintain_order="left")
    value = pl.when(pl.col("converted")).then(pl.col("amount_cents")).otherwise(0).cast(pl.Int64)
    return deals.select("opportunity_id", *[e.meta.output_name() for e in lists], "converted", value_cents=value)


def deal_paths(
    journeys: pl.LazyFrame | pl.DataFrame,
    include_open: bool = False,
    dedupe: bool = False,
    opportunities: pl.LazyFrame | pl.DataFrame | None = None,
) -> pl.DataFrame:
    """One row per deal: opportunity_id, channels (list[str]), converted, value_cents.

    ``journeys`` holds opportunity_id, position, channel, is_won, is_closed and,
    unless ``opportunities`` gives each deal's amount_cents, the deal's
    ``amount_cents`` on every row. ``converted`` is is_won; ``value_cents`` is the
    amount of a won deal and 0 otherwise. With ``dedupe``, consecutive repeats
    of a channel collapse into one step (a > a > b > a becomes a > b > a): ten
    page views in a row are one visit to the channel, not ten.
    """
    steps = _steps(journeys, include_open, dedupe)
    return _deals(steps, opportunities, pl.col("channel").alias("channels")).sort("opportunity_id").collect()


def deal_steps(
    journeys: pl.LazyFrame | pl.DataFrame,
    include_open: bool = False,
    dedupe: bool = False,
    opportunities: pl.LazyFrame | pl.DataFrame | None = None,
    channels: list[str] | None = None,
) -> tuple[pl.DataFrame, CodedPaths]:
    """``deal_paths`` without the lists, for the data-driven structures: the deals
    (opportunity_id, converted, value_cents, in opportunity_id order) and their
    paths as ``CodedPaths``, path i being deal i."""
    columns = ["opportunity_id", "position", "channel", "is_won", "is_closed"] + ([] if opportunities is not None else ["amount_cents"])
    rows = journeys.lazy().select(columns).collect()
    steps = _steps(rows, include_open, dedupe, ordered=in_journey_order(rows)).collect()
    deals = _deals(steps.lazy(), opportunities).collect()
    path = steps.get_column("opportunity_id").rle_id().to_numpy().astype(np.int64)
    return deals, CodedPaths(path, steps.get_column("channel"), deals.height, channels)


def path_counts(paths: pl.DataFrame) -> pl.DataFrame:
    """Unique paths with how many deals took them: channels, conversions, nulls.

    The counts are floats so that the same models can take weighted counts
    (a bootstrap resample gives each deal a weight). Sorted by path, so the
    models see the same rows in the same order on every run.
    """
    return (
        paths.lazy()
        .group_by("channels")
        .agg(
            conversions=pl.col("converted").cast(pl.Float64).sum(),
            nulls=(~pl.col("converted")).cast(pl.Float64).sum(),
        )
        .sort("channels")
        .collect()
    )


class CodedPaths:
    """Paths as two flat integer arrays, built once for every data-driven structure:
    ``path[i]`` and ``code[i]`` are the path and channel (index into the sorted
    ``channels``) of step i, steps in path order. An empty path has no step.
    ``channels`` fixes the channel list (a superset of the paths' channels)."""

    def __init__(self, path: np.ndarray, channel: pl.Series, count: int, channels: list[str] | None = None):
        self.channels: list[str] = channel.unique().sort().to_list() if channels is None else channels
        self.count = count
        self.path = path
        self.code = channel.replace_strict(self.channels, range(len(self.channels)), return_dtype=pl.Int64).to_numpy()
        self.first = np.r_[True, path[1:] != path[:-1]] if len(path) else np.zeros(0, dtype=bool)

    @classmethod
    def of(cls, paths: pl.Series, channels: list[str] | None = None) -> CodedPaths:
        """From a list[str] series, one path per element."""
        steps = pl.DataFrame({"channel": paths}).with_row_index("path").explode("channel").drop_nulls("channel")
        path = steps.get_column("path").to_numpy().astype(np.int64)
        return cls(path, steps.get_column("channel"), len(paths), channels)

    def masks(self) -> np.ndarray:
        """Each path's channel set as an int64 bitmask (bit i = channels[i]); up to 62 channels."""
        if len(self.channels) > 62:
            raise ValueError("channel sets as int64 bitmasks hold at most 62 channels")
        masks = np.zeros(self.count, dtype=np.int64)
        if len(self.path):
            starts = np.flatnonzero(self.first)
            masks[self.path[starts]] = np.bitwise_or.reduceat(np.left_shift(np.int64(1), self.code), starts)
        return masks

    def fractions(self) -> sp.csr_matrix:
        """(path x channel) share of each path's steps on each channel: linear credit."""
        length = np.bincount(self.path, minlength=self.count)
        starts = np.r_[0, np.cumsum(length)]  # steps are in path order: one row per path, as is
        shape = (self.count, len(self.channels))
        return sp.csr_matrix((1.0 / length[self.path], self.code, starts), shape=shape)
