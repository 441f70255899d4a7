"""Writing the landing folder: each source's file(s) under their messy headers, and
``generate``, the one entry point."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import numpy as np
import polars as pl

from attribution_pipeline.sample_data.crm import build_leads, build_stage_history
from attribution_pipeline.sample_data.identities import build_identities
from attribution_pipeline.sample_data.render import seeded_rng
from attribution_pipeline.sample_data.touches import touch_chunk
from attribution_pipeline.sample_data.vocabulary import (
    CAMPAIGN_HEADERS,
    CONTACT_HEADERS,
    DEFAULT_CHUNK_ROWS,
    IDENTITY_COLUMNS,
    LEAD_COLUMNS,
    OPPORTUNITY_HEADERS,
    SOURCES,
    STAGE_HISTORY_COLUMNS,
    TOUCH_HEADERS,
)
from attribution_pipeline.sample_data.world import (
    STREAM_IDENTITIES,
    STREAM_LEADS,
    STREAM_SESSIONS,
    STREAM_STAGE_HISTORY,
    STREAM_TOUCHES,
    build_world,
)


def write(frame: pl.DataFrame, path: Path, fmt: str, headers: dict[str, str]) -> None:
    """Write with the messy headers; every column is text so CSV and Parquet hold the same values.

    Parquet settings are pinned (zstd level 3, fixed row groups) because
    byte-identical output is part of the contract (SPEC 6: same seed, same
    bytes); polars puts no write time into the file.
    """
    frame = frame.rename(headers).rechunk()
    if fmt == "csv":
        frame.write_csv(path)
    else:
        frame.write_parquet(path, compression="zstd", compression_level=3, statistics=True, row_group_size=262_144)


def clear_previous(out: Path) -> None:
    """Remove what an earlier generate() may have left for our sources (SOURCES).

    SPEC 1 reads ``<source>.csv``, ``<source>.parquet`` *and* every file in
    ``<source>/``, so a leftover ``touches.csv`` next to new part files (or a
    csv next to a parquet) would silently double the data. Only names this
    generator writes are removed; a foreign file in a source folder stops the
    run before anything is deleted, since it would be read as part of the source.
    """
    ours = [out / f"{source}.{ext}" for source in SOURCES for ext in ("csv", "parquet")]
    for source in SOURCES:
        folder = out / source
        if folder.is_dir():
            parts = [*folder.glob("part-*.csv"), *folder.glob("part-*.parquet")]
            foreign = sorted(p.name for p in folder.iterdir() if p not in parts)
            if foreign:
                raise FileExistsError(
                    f"{folder} holds files the sample-data generator did not write "
                    f"({', '.join(foreign[:3])}); they would be read as part of {source}. "
                    "Remove them or write to another folder."
                )
            ours.extend(parts)
    for path in ours:
        path.unlink(missing_ok=True)
    for source in SOURCES:
        if (out / source).is_dir():
            (out / source).rmdir()


def generate(
    out_dir: str | Path,
    touches: int = 20_000,
    seed: int = 1,
    fmt: Literal["csv", "parquet"] = "csv",
    progress: Callable[[str], None] | None = None,
    *,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    anonymous_sessions: bool = True,
) -> dict[str, int]:
    """Write a synthetic landing folder and return the rows written per source.

    Writes ``out_dir/touches.<fmt>``, ``campaigns.<fmt>``, ``opportunities.<fmt>``,
    ``opportunity_contacts.<fmt>``, ``leads.<fmt>`` and
    ``opportunity_stage_history.<fmt>``; when ``touches > chunk_rows`` the
    touches go to ``out_dir/touches/part-00000.<fmt>``, ... instead, one part
    per chunk, so that neither this generator nor a reader has to hold 10M
    rows at once. Everything else (accounts, deals, campaigns) is sized from
    ``touches``: ~1 deal per 40 touches, ~1 campaign per 2000 (at least 12)
    and ~1 lead (person) per 12.

    ``anonymous_sessions`` (the default) gives identity stitching something
    to do: touches get a last column ``anonymous_id``, a device id. Half of
    the touches with an email carry their person's device (the links); 3 in
    4 anonymous touches are sessions on a person's device (stitchable once
    the device is linked), the rest one-off visitors never linked; a few
    devices are shared by two people (ambiguous: they stitch nothing); <1%
    of the values are padded or blank. ``identities.<fmt>`` links the
    devices of ~5% of the people to their email, from the world alone (same
    bytes whatever ``chunk_rows``). Both draw from streams of their own, so
    every other value is the same as with ``anonymous_sessions=False``,
    which writes the files exactly as before stitching (no anonymous_id
    column, no identities file).

    The same ``(touches, seed, fmt, chunk_rows, anonymous_sessions)`` writes byte-identical files;
    files this generator wrote earlier for these sources (either format or
    layout) are removed first so that the folder holds exactly one copy of
    each source. ``progress`` receives one human-readable line per table and
    per touch chunk, for CLIs and long benchmark runs.
    """
    if fmt not in ("csv", "parquet"):
        raise ValueError(f"fmt must be 'csv' or 'parquet', not {fmt!r}")
    if isinstance(touches, bool) or not isinstance(touches, int) or touches < 1:
        raise ValueError(f"touches must be a positive integer, not {touches!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, not {seed!r}")
    if chunk_rows < 1:
        raise ValueError(f"chunk_rows must be positive, not {chunk_rows!r}")
    say = progress or (lambda _line: None)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    clear_previous(out)

    began = time.perf_counter()
    world = build_world(touches, seed)
    small = {
        "campaigns": (world.campaigns.frame, CAMPAIGN_HEADERS),
        "opportunities": (world.deals.frame, OPPORTUNITY_HEADERS),
        "opportunity_contacts": (world.contacts, CONTACT_HEADERS),
        "opportunity_stage_history": (
            build_stage_history(seeded_rng(seed, STREAM_STAGE_HISTORY), world.deals),
            {c: c for c in STAGE_HISTORY_COLUMNS},
        ),
    }
    if anonymous_sessions:
        small["identities"] = (build_identities(seeded_rng(seed, STREAM_IDENTITIES), world), {c: c for c in IDENTITY_COLUMNS})
    counts = {"touches": touches}
    for source, (frame, headers) in small.items():
        write(frame, out / f"{source}.{fmt}", fmt, headers)
        counts[source] = frame.height
        say(f"{source}: {frame.height:,} rows -> {source}.{fmt}")

    n_parts = -(-touches // chunk_rows)
    width = max(7, len(str(touches)))
    if n_parts > 1:
        (out / "touches").mkdir()
    # Each person's first touch that carries their email: where their lead starts.
    first_seen = np.full(len(world.accounts.email), np.iinfo(np.int64).max, dtype=np.int64)
    for part in range(n_parts):
        first = part * chunk_rows
        n = min(chunk_rows, touches - first)
        sessions = seeded_rng(seed, STREAM_SESSIONS + part) if anonymous_sessions else None
        chunk, person, at = touch_chunk(world, seeded_rng(seed, STREAM_TOUCHES + part), first, n, width, sessions)
        np.minimum.at(first_seen, person, at)
        name = f"touches/part-{part:05d}.{fmt}" if n_parts > 1 else f"touches.{fmt}"
        write(chunk, out / name, fmt, {c: TOUCH_HEADERS[c] for c in chunk.columns})
        del chunk, person, at
        elapsed = time.perf_counter() - began
        say(f"touches: part {part + 1}/{n_parts}, {n:,} rows -> {name} ({elapsed:.1f}s)")

    leads = build_leads(seeded_rng(seed, STREAM_LEADS), world, first_seen)
    write(leads, out / f"leads.{fmt}", fmt, {c: c for c in LEAD_COLUMNS})
    counts["leads"] = leads.height
    say(f"leads: {leads.height:,} rows -> leads.{fmt}")
    return {source: counts[source] for source in SOURCES if source in counts}
