"""Anonymous sessions for identity stitching: the device id on each touch and the
``identities`` source that links some devices to their person from elsewhere."""

from __future__ import annotations

import numpy as np
import polars as pl

from attribution_pipeline.sample_data.crm import render_utc
from attribution_pipeline.sample_data.render import pick
from attribution_pipeline.sample_data.vocabulary import END, IDENTITY_COLUMNS, START
from attribution_pipeline.sample_data.world import World

# People ``p`` with ``p % SHARED_EVERY < 2`` share one device with their neighbour
# (``p // 2``: 50k and 50k+1): once both are identified on it the id is ambiguous.
SHARED_EVERY = 50
P_DEVICE_IDENTIFIED = 0.50  # an identified touch carries its person's device id (a form fill)
P_DEVICE_ANONYMOUS = 0.75  # an anonymous touch is its person's device; else a one-off id
P_IDENTITIES = 0.05  # people with an identities row (a CDP's identify call)
# anonymous_id as written: as is, " id", "id ", " id ", whitespace only (= null)
ID_VARIANT_P = (0.992, 0.002, 0.002, 0.002, 0.002)


def device_ids(person: np.ndarray) -> pl.Series:
    """Each person's device id: ``v<person>``, or ``s<person // 2>`` for a shared device."""
    shared = person % SHARED_EVERY < 2
    frame = pl.DataFrame({"n": np.where(shared, person // 2, person), "s": shared})
    prefix = pl.when(pl.col("s")).then(pl.lit("s")).otherwise(pl.lit("v"))
    return frame.select(pl.concat_str(prefix, pl.col("n").cast(pl.String)).alias("id")).to_series()


def session_ids(rng: np.random.Generator, person: np.ndarray, anon: np.ndarray, identified: np.ndarray, first: int) -> pl.Series:
    """The anonymous_id of touches ``first+1 ..`` (null for none), all drawn from ``rng``.

    Half of the touches that carry an email carry their person's device too:
    that is where the links come from. Three anonymous touches in four are a
    person's device before (or after) they identify, so they stitch to that
    person, unless the device is shared; the fourth is a one-off visitor
    (``x<touch number>``, never linked). Touches with only an account_domain
    have none. The same number of draws whoever carries what, and no draw
    from the touches' own stream, so every other column stays as it was.
    """
    n = len(person)
    carry = rng.random(n)
    device = np.where(anon, carry < P_DEVICE_ANONYMOUS, identified & (carry < P_DEVICE_IDENTIFIED))
    one_off = anon & ~device
    variant = pick(rng, ID_VARIANT_P, n)
    numbers = pl.Series(np.arange(first + 1, first + n + 1), dtype=pl.Int64).cast(pl.String)
    frame = pl.DataFrame({"d": device_ids(person), "x": "x" + numbers, "dev": device, "one": one_off, "v": variant.astype(np.int8)})
    text = pl.when(pl.col("dev")).then(pl.col("d")).when(pl.col("one")).then(pl.col("x"))
    v = pl.col("v")
    written = (
        pl.when(v == 1).then(" " + text)
        .when(v == 2).then(text + " ")
        .when(v == 3).then(pl.concat_str(pl.lit(" "), text, pl.lit(" ")))
        .when((v == 4) & text.is_not_null()).then(pl.lit("  "))
        .otherwise(text)
    )  # fmt: skip
    return frame.select(written.alias("anonymous_id")).to_series()


def build_identities(rng: np.random.Generator, world: World) -> pl.DataFrame:
    """~5% of people (at least one): their device id, canonical email and a time.

    Built from the world alone (never from the touches), so that the file is
    the same whatever the touch chunking. identified_at is any time of the
    data, as identify calls logged by another system would be.
    """
    n_people = len(world.accounts.email)
    chosen = rng.random(n_people) < P_IDENTITIES
    at = START + (rng.random(n_people) * (END - START)).astype(np.int64)
    person = np.flatnonzero(chosen) if chosen.any() else np.array([0])
    columns = (device_ids(person), world.accounts.email.gather(person), render_utc(at[person]))
    return pl.DataFrame(dict(zip(IDENTITY_COLUMNS, columns, strict=True)))
