"""Small vectorized helpers: seeded generators, ids, and the text forms values take
in a real export (timestamps with and without offsets, money, domains, e-mails)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl

from attribution_pipeline.sample_data.vocabulary import CHANNELS, DAY, NAIVE, OFFSET, OFFSET_MINUTES, OFFSETS, START, ZMS, Z


def seeded_rng(seed: int, stream: int) -> np.random.Generator:
    """One independent generator per (seed, stream).

    Separate streams per table and per touch chunk mean that a chunk can be
    regenerated alone and that adding a column to one table does not shift
    the random draws of every other table.
    """
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, stream])))


def pick(rng: np.random.Generator, p: Sequence[float] | np.ndarray, n: int) -> np.ndarray:
    """Categorical draws by inverse CDF (faster and more stable than rng.choice with p)."""
    cum = np.cumsum(np.asarray(p, dtype=np.float64))
    codes = np.searchsorted(cum / cum[-1], rng.random(n), side="right")
    return np.minimum(codes, len(cum) - 1)


def id_series(prefix: str, numbers: np.ndarray, width: int) -> pl.Series:
    """``prefix`` + zero-padded number, e.g. ``t0000042``.

    A fixed width makes the ids sort the same as text (C collation, SPEC 3)
    and as numbers, so "the touch with the smaller id" means the same to everyone.
    """
    padded = pl.Series("id", numbers, dtype=pl.Int64).cast(pl.String).str.zfill(width)
    return (prefix + padded).alias("id")


def lookup(values: Sequence[str | None], codes: np.ndarray) -> pl.Series:
    """Vectorized ``values[codes]`` into a polars string Series (nulls kept)."""
    return pl.Series(list(values), dtype=pl.String).gather(codes)


def per_channel_draw(rng: np.random.Generator, table: dict[str, Sequence[str | None]], channel: np.ndarray) -> pl.Series:
    """Uniform draw from each touch's channel-specific option list (null if none)."""
    flat: list[str | None] = []
    start = np.zeros(len(CHANNELS), dtype=np.int64)
    count = np.zeros(len(CHANNELS), dtype=np.int64)
    for code, name in enumerate(CHANNELS):
        options = list(table.get(name, ())) or [None]
        start[code], count[code] = len(flat), len(options)
        flat.extend(options)
    idx = start[channel] + (rng.random(len(channel)) * count[channel]).astype(np.int64)
    return lookup(flat, idx)


def render_ts(seconds: np.ndarray, form: np.ndarray, rng: np.random.Generator) -> pl.Series:
    """Render UTC epoch seconds as ISO-8601 text in the form chosen per row.

    An offset form shows local time plus the offset and a naive form is UTC
    (SPEC 1), so both keep the instant; the millisecond form adds < 1 s; the
    date-only form means 00:00 UTC of the UTC day (or its end, for closed_at).
    Hence ``a <= b`` on instants survives rendering a without milliseconds
    and b as closed_at (which is how deals are rendered). One strftime call
    serves all forms; the rest is cheap slicing and concatenation.
    """
    n = len(seconds)
    off = rng.integers(0, len(OFFSETS), n)
    local = seconds + np.where(form == OFFSET, OFFSET_MINUTES[off] * 60, 0)
    millis = rng.integers(0, 1000, n)
    frame = pl.DataFrame(
        {
            "local": local,
            "form": form.astype(np.int8),
            "ms": millis,
            "off": lookup(OFFSETS, off),
        }
    )
    base = pl.from_epoch(pl.col("local"), time_unit="s").dt.strftime("%Y-%m-%dT%H:%M:%S")
    form_c = pl.col("form")
    text = (
        pl.when(form_c == Z)
        .then(base + "Z")
        .when(form_c == ZMS)
        .then(pl.concat_str(base, pl.lit("."), pl.col("ms").cast(pl.String).str.zfill(3), pl.lit("Z")))
        .when(form_c == OFFSET)
        .then(base + pl.col("off"))
        .when(form_c == NAIVE)
        .then(pl.concat_str(base.str.slice(0, 10), pl.lit(" "), base.str.slice(11)))
        .otherwise(base.str.slice(0, 10))
    )
    return frame.select(text.alias("ts")).to_series()


def render_dates(days: np.ndarray) -> pl.Series:
    """Day offsets from 2024-01-01 as ``YYYY-MM-DD``."""
    secs = pl.Series(START + days.astype(np.int64) * DAY)
    return pl.from_epoch(secs, time_unit="s").dt.strftime("%Y-%m-%d")


def render_money(cents: np.ndarray) -> pl.Series:
    """Whole cents as a decimal string with exactly two places (``48250.50``).

    Money is generated as integers and formatted by string arithmetic, never
    through floats, so there is no binary-rounding artefact like ``0.30000000000000004``.
    """
    frame = pl.DataFrame({"c": cents.astype(np.int64)})
    expr = pl.concat_str(
        (pl.col("c") // 100).cast(pl.String),
        pl.lit("."),
        (pl.col("c") % 100).cast(pl.String).str.zfill(2),
    )
    return frame.select(expr.alias("m")).to_series()


def render_domain(domain: pl.Series, variant: np.ndarray, path: pl.Series) -> pl.Series:
    """Write a canonical domain the many ways people paste it into a form.

    Every variant normalizes back to ``domain`` under SPEC 1's domain rule
    (lower-case; drop scheme, one leading ``www.``, anything from ``/``; drop a
    trailing ``.``): plain, ``www.``, ``https://www.``, ``HTTPS://WWW.Acme-12.com/path``,
    upper case, ``http://d/`` and a trailing dot.
    """
    frame = pl.DataFrame({"d": domain, "v": variant.astype(np.int8), "p": path})
    d, v = pl.col("d"), pl.col("v")
    capitalized = d.str.slice(0, 1).str.to_uppercase() + d.str.slice(1)
    text = (
        pl.when(v == 1).then("www." + d)
        .when(v == 2).then("https://www." + d)
        .when(v == 3).then(pl.concat_str(pl.lit("HTTPS://WWW."), capitalized, pl.col("p")))
        .when(v == 4).then(d.str.to_uppercase())
        .when(v == 5).then(pl.concat_str(pl.lit("http://"), d, pl.lit("/")))
        .when(v == 6).then(d + ".")
        .otherwise(d)
    )  # fmt: skip
    return frame.select(text.alias("d")).to_series()


DOMAIN_VARIANT_P = (0.57, 0.15, 0.08, 0.05, 0.08, 0.05, 0.02)


def render_email(email: pl.Series, variant: np.ndarray) -> pl.Series:
    """Emails as typed by humans and CRMs: mostly lower case, some Title or UPPER, rare padding.

    All variants normalize back (SPEC 1: trimmed, lower-cased).
    """
    frame = pl.DataFrame({"e": email, "v": variant.astype(np.int8)})
    e, v = pl.col("e"), pl.col("v")
    text = (
        pl.when(v == 1).then(e.str.to_titlecase())
        .when(v == 2).then(e.str.to_uppercase())
        .when(v == 3).then(pl.concat_str(pl.lit(" "), e, pl.lit(" ")))
        .otherwise(e)
    )  # fmt: skip
    return frame.select(text.alias("e")).to_series()


EMAIL_VARIANT_P = (0.935, 0.04, 0.02, 0.005)


def masked(series: pl.Series, keep: np.ndarray) -> pl.Series:
    """Null out rows where ``keep`` is false (missing values are written as empty / null)."""
    return pl.DataFrame({"s": series, "k": keep}).select(pl.when(pl.col("k")).then(pl.col("s")).alias("s")).to_series()
