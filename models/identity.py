"""Identity stitching (issue 18): anonymous web touches take the e-mail their
anonymous id is linked to, so the reading before the form fill counts.

- **Links**: every (anonymous_id, email) pair seen on one touch, plus every row of
  the optional ``identities`` source (a CDP's identify calls, a CRM form log).
- **Stitching**: a touch with an anonymous_id and no e-mail takes the e-mail of its
  anonymous_id when that id links to exactly one e-mail, before and after the link,
  within ``window`` of the id's first link (None: no limit; the boundary is inside).
  An id linked to two or more e-mails (a shared computer) stitches nothing and is
  ambiguous. A touch's own e-mail is never replaced.

Identity is resolved over all touches before any chunking or partitioning, so a
chunked run equals the one-shot result. Inputs are staged (trimmed, lowercased,
an empty anonymous_id is null): this module only joins.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import polars as pl

GIVEN, STITCHED = "given", "stitched"
TOUCH_LINK, IDENTITIES_LINK = "touch", "identities"

LINK_SCHEMA = {
    "anonymous_id": pl.String,
    "email": pl.String,
    "first_linked_at": pl.Datetime("us", "UTC"),
    "source": pl.String,
    "ambiguous": pl.Boolean,
}


def identity_links(touches: pl.LazyFrame, identities: pl.LazyFrame | None = None) -> pl.LazyFrame:
    """One row per (anonymous_id, email): when it was first seen, where (``touch`` when
    any touch carries the pair, else ``identities``), and whether the id is ambiguous."""
    seen = touches.filter(pl.col("anonymous_id").is_not_null() & pl.col("email").is_not_null()).select(
        "anonymous_id", "email", pl.col("occurred_at").alias("linked_at"), pl.lit(TOUCH_LINK).alias("source")
    )
    if identities is not None:
        given = identities.filter(pl.col("anonymous_id").is_not_null() & pl.col("email").is_not_null()).select(
            "anonymous_id", "email", pl.col("identified_at").alias("linked_at"), pl.lit(IDENTITIES_LINK).alias("source")
        )
        seen = pl.concat([seen, given], how="vertical_relaxed")
    pairs = seen.group_by("anonymous_id", "email").agg(
        pl.col("linked_at").min().alias("first_linked_at"),
        # a pair seen on a touch is a touch link, whatever the identities source also says
        pl.when((pl.col("source") == TOUCH_LINK).any()).then(pl.lit(TOUCH_LINK)).otherwise(pl.lit(IDENTITIES_LINK)).alias("source"),
    )
    return (
        pairs.with_columns(ambiguous=pl.col("email").n_unique().over("anonymous_id") > 1)
        .select(list(LINK_SCHEMA))
        .cast(LINK_SCHEMA)
        .sort("anonymous_id", "email")
    )


def stitch(
    touches: pl.LazyFrame,
    links: pl.LazyFrame,
    window: dt.timedelta | None = None,
    domain_of: Callable[[pl.Expr], pl.Expr] | None = None,
) -> pl.LazyFrame:
    """The touches with ``email`` stitched where the rules allow and ``identity`` saying
    how each got it (given, stitched, or null when it has none). ``domain_of``: the
    contract's derivation of an account domain from an e-mail (free-mail excluded), so
    that a stitched e-mail gives its domain exactly as a given one does; a touch whose
    domain was given (``domain_is_given``) keeps it."""
    unique = (
        links.filter(~pl.col("ambiguous"))
        .group_by("anonymous_id")
        .agg(pl.col("email").first().alias("_stitched_email"), pl.col("first_linked_at").min().alias("_first_link"))
    )
    joined = touches.join(unique, on="anonymous_id", how="left", maintain_order="left")
    inside = pl.lit(True) if window is None else (pl.col("occurred_at") - pl.col("_first_link")).abs() <= window
    takes = pl.col("email").is_null() & pl.col("_stitched_email").is_not_null() & inside
    stitched = joined.with_columns(
        email=pl.when(takes).then(pl.col("_stitched_email")).otherwise(pl.col("email")),
        identity=pl.when(takes).then(pl.lit(STITCHED)).when(pl.col("email").is_not_null()).then(pl.lit(GIVEN)),
    )
    if domain_of is not None:
        derived = pl.when(pl.col("identity") == STITCHED).then(domain_of(pl.col("email"))).otherwise(pl.col("account_domain"))
        stitched = stitched.with_columns(
            account_domain=pl.when(pl.col("domain_is_given")).then(pl.col("account_domain")).otherwise(derived)
        )
    return stitched.drop("_stitched_email", "_first_link")


def stitch_summary(stitched: pl.LazyFrame, links: pl.LazyFrame) -> dict[str, int]:
    """Per run: touches with an anonymous_id, of them stitched and left anonymous, and
    the anonymous ids linked to more than one e-mail."""
    counts = (
        stitched.filter(pl.col("anonymous_id").is_not_null())
        .select(
            pl.len().alias("touches_with_anonymous_id"),
            (pl.col("identity") == STITCHED).sum().alias("touches_stitched"),
            pl.col("email").is_null().sum().alias("touches_left_anonymous"),
        )
        .collect()
        .row(0, named=True)
    )
    ambiguous = links.filter(pl.col("ambiguous")).select(pl.col("anonymous_id").n_unique()).collect().item()
    return {name: int(value or 0) for name, value in counts.items()} | {"anonymous_ids_ambiguous": int(ambiguous)}
