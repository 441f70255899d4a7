"""Tests of the synthetic landing-folder generator (attribution_pipeline.sample_data).

The generator is only useful if (a) it is reproducible, since benchmarks and
bug reports name a seed rather than ship files, and (b) every row it writes is
valid under SPEC 1, since it is the input of the end-to-end tests; so most of
these tests re-read the files the way SPEC 1 describes (headers trimmed and
lower-cased, text trimmed, empty = null) and check the contract with small,
independent re-implementations of its rules. N stays small (2000) to keep
the suite fast.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from attribution_pipeline.sample_data import CHANNELS, SOURCES, generate

N = 2000
FREEMAIL = {
    "gmail.com", "googlemail.com", "yahoo.com", "hotmail.com", "outlook.com", "live.com",
    "icloud.com", "aol.com", "proton.me", "protonmail.com", "gmx.com",
}  # fmt: skip
ISO_8601 = re.compile(r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})?)?$")
MONEY = re.compile(r"^\d+\.\d{2}$")
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
TRUE = {"true", "t", "yes", "y", "1"}
FALSE = {"false", "f", "no", "n", "0"}

# The funnel sources are written with exactly these columns, in this order.
LEAD_TIMES = ["created_at", "mql_at", "sql_at", "first_sales_activity_at", "disqualified_at"]
LEAD_COLUMNS = ["lead_id", "email", "account_domain", *LEAD_TIMES, "owner",
                "converted_opportunity_id"]  # fmt: skip
STAGE_HISTORY_COLUMNS = ["opportunity_id", "stage", "entered_at"]

REQUIRED = {
    "touches": {"touch_id", "occurred_at", "email", "account_domain", "channel", "campaign_id",
                "utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term",
                "touch_type", "anonymous_id"},
    "campaigns": {"campaign_id", "campaign_name", "channel", "start_date", "end_date", "cost",
                  "currency"},
    "opportunities": {"opportunity_id", "account_domain", "created_at", "closed_at", "stage",
                      "is_closed", "is_won", "amount", "currency"},
    "opportunity_contacts": {"opportunity_id", "email", "role"},
    "leads": set(LEAD_COLUMNS),
    "opportunity_stage_history": set(STAGE_HISTORY_COLUMNS),
    "identities": {"anonymous_id", "email", "identified_at"},
}  # fmt: skip
PIPELINE_STAGES = ["qualification", "discovery", "proposal", "negotiation"]
UTC_Z = "%Y-%m-%dT%H:%M:%SZ"  # the one timestamp form of leads and stage history


# --------------------------------------------------------------------------
# SPEC 1, re-implemented just enough to check the generator's output
# --------------------------------------------------------------------------
def source_files(folder: Path, source: str) -> list[Path]:
    """SPEC 1 layout: DIR/<source>.csv|.parquet, or every file under DIR/<source>/."""
    single = [folder / f"{source}.{ext}" for ext in ("csv", "parquet")]
    found = [p for p in single if p.exists()]
    if (folder / source).is_dir():
        found += sorted(p for p in (folder / source).iterdir() if p.is_file())
    return found


def read_raw(path: Path) -> pl.DataFrame:
    if path.suffix == ".csv":
        return pl.read_csv(path, infer_schema=False, empty_string_is_null=False)
    return pl.read_parquet(path)


def read_source(folder: Path, source: str) -> pl.DataFrame:
    """Headers trimmed + lower-cased, text trimmed, empty or blank -> null (SPEC 1)."""
    frames = []
    for path in source_files(folder, source):
        raw = read_raw(path)
        raw = raw.rename({c: c.strip().lower() for c in raw.columns})
        frames.append(
            raw.with_columns(pl.when(pl.col(c).str.strip_chars() != "").then(pl.col(c).str.strip_chars()).alias(c) for c in raw.columns)
        )
    return pl.concat(frames)


def norm_domain(value: str) -> str:
    d = value.lower()
    d = re.sub(r"^[a-z][a-z0-9+.-]*://", "", d)
    d = re.sub(r"^www\.", "", d)
    d = re.split(r"[/?#:]", d, maxsplit=1)[0]
    return d.removesuffix(".")


def email_domain(email: str) -> str:
    return norm_domain(email.lower().rsplit("@", 1)[1])


def parse_ts(value: str, *, end_of_day: bool = False) -> datetime:
    if DATE.match(value):
        day = datetime.fromisoformat(value).replace(tzinfo=UTC)
        return day + timedelta(days=1, microseconds=-1) if end_of_day else day
    parsed = datetime.fromisoformat(value)
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


_SOCIAL = r"linkedin|facebook|fb|instagram|twitter|x|reddit|tiktok|youtube"
GROUPING = [  # SPEC 1's default channel grouping: (medium pattern, source pattern, channel)
    (r"cpc|ppc|paid_?search|sem", _SOCIAL, "paid_social"),
    (r"cpc|ppc|paid_?search|sem", None, "paid_search"),
    (r"paid_?social|social_?paid", None, "paid_social"),
    (r"display|banner|cpm|programmatic", None, "display"),
    (r"e-?mail|newsletter", None, "email"),
    (r"social|organic_?social|social_?media|sm", None, "organic_social"),
    (None, _SOCIAL, "organic_social"),
    (r"organic", None, "organic_search"),
    (r"referral|partner|affiliate", None, "referral"),
    (r"events?|tradeshow|conference", None, "event"),
    (r"webinar", None, "webinar"),
]


def group_channel(source: str | None, medium: str | None) -> str:
    src, med = (source or "").lower(), (medium or "").lower()
    for med_pattern, src_pattern, channel in GROUPING:
        med_ok = med_pattern is None or re.fullmatch(med_pattern, med)
        src_ok = src_pattern is None or re.fullmatch(src_pattern, src)
        if med_pattern is None and src_pattern is not None:
            if src_ok:
                return channel
            continue
        if med_ok and src_ok:
            return channel
    return "direct"


def as_bool(value: str) -> bool:
    v = value.lower()
    assert v in TRUE | FALSE, value
    return v in TRUE


# --------------------------------------------------------------------------
# fixtures
# --------------------------------------------------------------------------
@pytest.fixture(scope="module", params=["csv", "parquet"])
def landing(request, tmp_path_factory) -> tuple[Path, dict[str, int]]:
    folder = tmp_path_factory.mktemp(f"landing_{request.param}")
    return folder, generate(folder, touches=N, seed=7, fmt=request.param)


@pytest.fixture(scope="module")
def tables(landing) -> dict[str, pl.DataFrame]:
    folder, _ = landing
    return {source: read_source(folder, source) for source in SOURCES}


def file_bytes(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# --------------------------------------------------------------------------
# reproducibility and layout
# --------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_same_seed_same_bytes(tmp_path, fmt):
    a = file_bytes_after(tmp_path / "a", fmt=fmt, seed=3)
    b = file_bytes_after(tmp_path / "b", fmt=fmt, seed=3)
    assert sorted(a) == sorted(f"{s}.{fmt}" for s in SOURCES)
    assert a == b


def file_bytes_after(folder: Path, **kwargs) -> dict[str, bytes]:
    generate(folder, touches=N, **kwargs)
    return file_bytes(folder)


def test_parquet_metadata_has_no_write_time(tmp_path):
    """Byte-identity would break at the next second if a writer stamped the time.

    The Parquet footer has no timestamp field of its own; time could only hide
    in created_by or the key-value metadata, so check both.
    """
    import pyarrow.parquet as pq

    generate(tmp_path, touches=N, fmt="parquet")
    for source in SOURCES:
        meta = pq.ParquetFile(tmp_path / f"{source}.parquet").metadata
        assert set(meta.metadata or {}) <= {b"ARROW:schema"}
        assert not re.search(r"\d{4}-\d{2}-\d{2}|\d{2}:\d{2}", meta.created_by)


def test_new_sources_do_not_change_the_original_four(tmp_path):
    """Adding leads and stage history (own RNG streams) left the other files' bytes alone.

    The hashes were obtained before those sources existed: the HEAD version of
    sample_data.py (``git show HEAD:attribution_pipeline/sample_data.py`` into a
    temp dir, commit cb5a60a) ran ``generate(out, touches=2000, seed=1, fmt="csv")``
    and sha256 was taken of each file. A numpy/polars upgrade may change them
    too (see the module docstring); a change to the generator must not.
    Without anonymous sessions even touches are as they were before identity
    stitching (the sessions' own changes are checked below).
    """
    generate(tmp_path, touches=N, seed=1, fmt="csv", anonymous_sessions=False)
    digests = {
        source: hashlib.sha256((tmp_path / f"{source}.csv").read_bytes()).hexdigest()
        for source in ("touches", "campaigns", "opportunities", "opportunity_contacts")
    }
    assert digests == {
        "touches": "c424ad6f9e33b51ea332265aadcb3fa29b2a6266c7526ba4b4915279257fa6ae",
        "campaigns": "dbe78b97cd58cd14d0d951a6f9ee7c4f05ef59e82aaa530f8bf545d6d54136fc",
        "opportunities": "c5cf4b042bc8045ba981b2ea1fd167a51f32165721cd0865d82312365b31050d",
        "opportunity_contacts": "7f34e08f3f3049d90d43402f81f4e18e2d71359c87bef36682acff9a94333d24",
    }


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_funnel_sources_are_reproducible_with_part_files_too(tmp_path, fmt):
    """Leads start at each person's first touch: same args (chunking too) -> same bytes."""
    names = [f"leads.{fmt}", f"opportunity_stage_history.{fmt}"]
    for chunk_rows in (N, 700):
        a = file_bytes_after(tmp_path / f"a{chunk_rows}", fmt=fmt, seed=3, chunk_rows=chunk_rows)
        b = file_bytes_after(tmp_path / f"b{chunk_rows}", fmt=fmt, seed=3, chunk_rows=chunk_rows)
        assert all(name in a for name in names)
        assert {n: a[n] for n in names} == {n: b[n] for n in names}


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_different_seeds_differ(tmp_path, fmt):
    a = file_bytes_after(tmp_path / "a", fmt=fmt, seed=1)
    b = file_bytes_after(tmp_path / "b", fmt=fmt, seed=2)
    assert all(a[name] != b[name] for name in a)


def test_csv_and_parquet_hold_the_same_values(tmp_path):
    generate(tmp_path / "c", touches=N, fmt="csv")
    generate(tmp_path / "p", touches=N, fmt="parquet")
    for source in SOURCES:
        csv = read_source(tmp_path / "c", source)
        parquet = read_source(tmp_path / "p", source)
        assert csv.equals(parquet), source


def test_returned_counts_match_files(landing, tables):
    _, counts = landing
    assert list(counts) == list(SOURCES)
    assert counts["touches"] == N
    assert {source: tables[source].height for source in SOURCES} == counts


def test_part_files_above_chunk_size(tmp_path):
    counts = generate(tmp_path, touches=N, fmt="parquet", chunk_rows=600)
    parts = sorted(p.name for p in (tmp_path / "touches").iterdir())
    assert parts == [f"part-{i:05d}.parquet" for i in range(4)]
    assert not (tmp_path / "touches.parquet").exists()
    heights = [pl.read_parquet(tmp_path / "touches" / p).height for p in parts]
    assert heights == [600, 600, 600, 200]
    touches = read_source(tmp_path, "touches")
    assert touches.height == counts["touches"] == N
    assert touches["touch_id"].n_unique() == N


def test_rerun_replaces_previous_layout_and_format(tmp_path):
    """A folder re-used with another format or chunking must not keep stale copies of a source."""
    generate(tmp_path, touches=N, fmt="csv", chunk_rows=500)
    generate(tmp_path, touches=N, fmt="parquet")
    names = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*"))
    assert names == sorted(f"{s}.parquet" for s in SOURCES)


def test_refuses_foreign_files_in_a_funnel_source_folder(tmp_path):
    """leads/ is a source folder too: a file there would be read as leads."""
    (tmp_path / "leads").mkdir()
    (tmp_path / "leads" / "hubspot.csv").write_text("lead_id\n")
    with pytest.raises(FileExistsError, match="hubspot.csv"):
        generate(tmp_path, touches=N)


def test_refuses_to_mix_with_foreign_files(tmp_path):
    """A file we did not write under touches/ would be read as touches: stop, delete nothing."""
    generate(tmp_path, touches=N, chunk_rows=1000)
    (tmp_path / "touches" / "export-from-crm.csv").write_text("Touch_ID\n")
    with pytest.raises(FileExistsError, match="export-from-crm.csv"):
        generate(tmp_path, touches=N)
    assert (tmp_path / "touches" / "part-00000.csv").exists()


def test_progress_reports_each_chunk(tmp_path):
    lines: list[str] = []
    generate(tmp_path, touches=N, chunk_rows=1000, progress=lines.append)
    assert sum(line.startswith("touches: part") for line in lines) == 2
    assert any(line.startswith("campaigns:") for line in lines)


@pytest.mark.parametrize("kwargs", [{"touches": 0}, {"seed": -1}, {"fmt": "json"}, {"chunk_rows": 0}])
def test_rejects_bad_arguments(tmp_path, kwargs):
    with pytest.raises(ValueError):
        generate(tmp_path, **{"touches": 10, **kwargs})


def test_tiny_run_is_still_complete(tmp_path):
    counts = generate(tmp_path, touches=1)
    assert counts["touches"] == 1
    assert counts["campaigns"] >= 12 and counts["opportunities"] >= 2


# --------------------------------------------------------------------------
# SPEC 1 shape
# --------------------------------------------------------------------------
def test_headers_are_messy_but_match_after_normalization(landing):
    folder, _ = landing
    for source in SOURCES:
        raw = read_raw(source_files(folder, source)[0]).columns
        assert REQUIRED[source] <= {c.strip().lower() for c in raw}, source
    touch_headers = read_raw(source_files(folder, "touches")[0]).columns
    assert any(c != c.strip() for c in touch_headers)
    assert any(c != c.lower() for c in touch_headers)
    assert "landing_page" in touch_headers  # an unknown extra column


def test_touch_ids_unique_and_required_values_present(tables):
    touches = tables["touches"]
    assert touches["touch_id"].null_count() == 0
    assert touches["touch_id"].n_unique() == touches.height
    assert touches["occurred_at"].null_count() == 0
    assert all(re.fullmatch(r"t\d{7}", t) for t in touches["touch_id"])


def test_timestamps_are_iso_8601_in_mixed_forms(tables):
    occurred = tables["touches"]["occurred_at"].to_list()
    assert all(ISO_8601.match(v) for v in occurred)
    assert any(v.endswith("Z") for v in occurred)
    assert any(re.search(r"[+-]\d{2}:\d{2}$", v) for v in occurred)
    assert any(re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}", v) for v in occurred)
    assert any(DATE.match(v) for v in occurred)
    instants = [parse_ts(v) for v in occurred]
    assert datetime(2024, 1, 1, tzinfo=UTC) <= min(instants)
    assert max(instants) <= datetime(2026, 1, 1, tzinfo=UTC)


def test_opportunities_follow_spec(tables):
    opps = tables["opportunities"]
    assert opps["opportunity_id"].n_unique() == opps.height
    assert set(opps["currency"]) == {"USD"}
    status = {"won": 0, "lost": 0, "open": 0}
    for row in opps.iter_rows(named=True):
        assert row["account_domain"] and row["stage"]
        assert MONEY.match(row["amount"]), row["amount"]
        assert ISO_8601.match(row["created_at"])
        closed, won = as_bool(row["is_closed"]), as_bool(row["is_won"])
        assert closed or not won  # won implies closed
        if closed:
            assert ISO_8601.match(row["closed_at"])
            assert parse_ts(row["closed_at"], end_of_day=True) >= parse_ts(row["created_at"])
        else:
            assert row["closed_at"] is None
        status["won" if won else "lost" if closed else "open"] += 1
    assert all(count > 0 for count in status.values()), status


def test_deal_mix_is_roughly_b2b(tmp_path):
    generate(tmp_path, touches=40_000, fmt="parquet", seed=5)
    opps = read_source(tmp_path, "opportunities")
    assert 800 <= opps.height <= 1200  # ~1 per 40 touches
    won = opps["is_won"].map_elements(as_bool, return_dtype=pl.Boolean).mean()
    closed = opps["is_closed"].map_elements(as_bool, return_dtype=pl.Boolean).mean()
    assert 0.25 <= won <= 0.35 and 0.25 <= 1 - closed <= 0.35
    free = opps.filter(pl.col("account_domain").map_elements(norm_domain, return_dtype=pl.String).is_in(FREEMAIL))
    assert 0.01 <= free.height / opps.height <= 0.04  # consultants on gmail.com & co.


def test_campaigns_follow_spec(tables, landing):
    campaigns = tables["campaigns"]
    assert campaigns.height >= 12
    assert campaigns["campaign_id"].n_unique() == campaigns.height
    assert campaigns["campaign_name"].null_count() == 0
    assert set(campaigns["channel"].str.to_lowercase()) <= set(CHANNELS)
    assert set(campaigns["currency"]) == {"USD"}
    for row in campaigns.iter_rows(named=True):
        assert DATE.match(row["start_date"])
        if row["end_date"] is not None:
            assert DATE.match(row["end_date"]) and row["end_date"] >= row["start_date"]
        if row["cost"] is not None:
            assert MONEY.match(row["cost"])
    assert campaigns["cost"].null_count() > 0  # unknown cost is null, not 0
    assert campaigns["end_date"].null_count() > 0


def test_touches_reference_campaigns_mostly_known(tmp_path):
    generate(tmp_path, touches=40_000, fmt="parquet", seed=5)
    touches = read_source(tmp_path, "touches").filter(pl.col("campaign_id").is_not_null())
    known = set(read_source(tmp_path, "campaigns")["campaign_id"])
    unknown = (~touches["campaign_id"].is_in(known)).mean()
    assert 0.003 <= unknown <= 0.02  # ~1% refer to a campaign missing from campaigns


def test_channels_given_or_derivable_from_utms(tables):
    touches = tables["touches"]
    derived = [group_channel(s, m) for s, m in zip(touches["utm_source"], touches["utm_medium"], strict=True)]
    given = touches["channel"].to_list()
    missing = sum(g is None for g in given)
    assert 0.5 * touches.height <= missing <= 0.7 * touches.height  # ~60% need UTM grouping
    assert any(g is not None and g != g.lower() for g in given)  # some upper case
    # A given channel agrees with the UTMs, so either route gives the same answer.
    assert all(g is None or g.lower() == d for g, d in zip(given, derived, strict=True))
    derived_for_missing = {d for g, d in zip(given, derived, strict=True) if g is None}
    assert len(derived_for_missing) >= 8 and "direct" in derived_for_missing


def test_touch_campaigns_match_channel_and_dates(tables):
    campaigns = tables["campaigns"].with_columns(pl.col("channel").str.to_lowercase())
    by_id = {row["campaign_id"]: row for row in campaigns.iter_rows(named=True)}
    checked = 0
    for row in tables["touches"].filter(pl.col("campaign_id").is_in(list(by_id))).iter_rows(named=True):
        campaign = by_id[row["campaign_id"]]
        assert group_channel(row["utm_source"], row["utm_medium"]) == campaign["channel"]
        day = parse_ts(row["occurred_at"]).date().isoformat()
        assert campaign["start_date"] <= day
        assert campaign["end_date"] is None or day <= campaign["end_date"]
        checked += 1
    assert checked > 0.3 * tables["touches"].height


def test_domains_and_emails_normalize_consistently(tables):
    touches = tables["touches"]
    given = touches["account_domain"].to_list()
    share_given = sum(d is not None for d in given) / touches.height
    assert 0.5 <= share_given <= 0.7
    assert any(d and d.lower().startswith("https://www.") and "/" in d[12:] for d in given)
    assert any(d and d != d.lower() for d in given)
    assert any(d and d.count(".") >= 2 and not d.lower().startswith(("www.", "http")) for d in given)
    for email, domain in zip(touches["email"], given, strict=True):
        if email is not None:
            assert email.count("@") == 1
        if email is not None and domain is not None:
            # a given account_domain is the account of the person, as written by a human
            assert norm_domain(domain) == email_domain(email)
        if email is not None and email_domain(email) in FREEMAIL:
            assert domain is None  # free-mail people carry no account_domain


def test_free_mail_contacts_exist(tables):
    touches = tables["touches"].filter(pl.col("email").is_not_null())
    free = [e for e in touches["email"] if email_domain(e) in FREEMAIL]
    assert 0.01 * touches.height <= len(free) <= 0.12 * touches.height
    people = touches["email"].str.to_lowercase().unique()
    free_people = [e for e in people if email_domain(e) in FREEMAIL]
    assert len(free_people) >= 2


def test_journeys_exist_before_deals(tables):
    """Most won deals have touches from their account in the 365 days before the close."""
    touches = tables["touches"].filter(pl.col("account_domain").is_not_null())
    by_domain: dict[str, list[datetime]] = {}
    for domain, occurred in zip(touches["account_domain"], touches["occurred_at"], strict=True):
        by_domain.setdefault(norm_domain(domain), []).append(parse_ts(occurred))
    won = [r for r in tables["opportunities"].iter_rows(named=True) if as_bool(r["is_won"])]
    with_journey = 0
    for opp in won:
        created = parse_ts(opp["created_at"])
        closed = parse_ts(opp["closed_at"], end_of_day=True)
        times = by_domain.get(norm_domain(opp["account_domain"]), [])
        with_journey += any(created - timedelta(days=365) <= t <= closed for t in times)
    assert with_journey >= 0.6 * len(won)


def test_touch_types_and_extra_column(tables):
    touches = tables["touches"]
    types = set(touches["touch_type"].drop_nulls())
    assert {"page_view", "form_submit", "ad_click", "email_click", "meeting", "webinar"} <= types
    assert touches["landing_page"].drop_nulls().str.starts_with("/").all()


def test_opportunity_contacts(tables):
    contacts = tables["opportunity_contacts"]
    opp_ids = set(tables["opportunities"]["opportunity_id"])
    assert set(contacts["opportunity_id"]) <= opp_ids
    assert set(contacts["role"]) <= {"decision_maker", "champion", "influencer", "user"}
    assert contacts["email"].null_count() == 0
    pairs = contacts.select("opportunity_id", pl.col("email").str.to_lowercase())
    per_opp = pairs.unique().group_by("opportunity_id").len()["len"]
    assert per_opp.min() >= 1 and per_opp.max() <= 4
    assert pairs.is_duplicated().any()  # a repeated (opportunity_id, email) counts once
    # ...and the repeats are whole-row copies, so no reading of SPEC 2 rejects them
    assert contacts.is_duplicated().sum() == pairs.is_duplicated().sum()


# --------------------------------------------------------------------------
# the funnel: leads and opportunity stage history
# --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def funnel(tmp_path_factory) -> dict[str, pl.DataFrame]:
    """A larger run (shares are measurable), timestamps parsed with str.to_datetime."""
    folder = tmp_path_factory.mktemp("funnel")
    generate(folder, touches=40_000, fmt="parquet", seed=5)
    return {
        "leads": parsed_leads(read_source(folder, "leads")),
        "history": parsed_history(read_source(folder, "opportunity_stage_history")),
        "opportunities": read_source(folder, "opportunities"),
    }


def parsed_leads(leads: pl.DataFrame) -> pl.DataFrame:
    """Every time column as Datetime (strict: an unparseable value fails the test)."""
    return leads.with_columns(pl.col(c).str.to_datetime(UTC_Z, time_zone="UTC") for c in LEAD_TIMES)


def parsed_history(history: pl.DataFrame) -> pl.DataFrame:
    return history.with_columns(pl.col("entered_at").str.to_datetime(UTC_Z, time_zone="UTC"))


def stage_sequences(history: pl.DataFrame) -> dict[str, list[tuple[str, datetime]]]:
    """Per opportunity, its (stage, entered_at) in time order, as the consumer must sort them."""
    ordered = history.sort("opportunity_id", "entered_at")
    sequences: dict[str, list[tuple[str, datetime]]] = {}
    for row in ordered.iter_rows(named=True):
        sequences.setdefault(row["opportunity_id"], []).append((row["stage"], row["entered_at"]))
    return sequences


def same_instant(written: str, at: datetime) -> bool:
    """A deal's created_at / closed_at (any SPEC 1 form) names the instant ``at``.

    A date-only value names only the UTC day, so it matches any time on that day.
    """
    if DATE.match(written):
        return written == at.astimezone(UTC).date().isoformat()
    return parse_ts(written) == at


def test_funnel_files_have_exactly_the_columns(landing):
    folder, _ = landing
    expected = {"leads": LEAD_COLUMNS, "opportunity_stage_history": STAGE_HISTORY_COLUMNS}
    for source, columns in expected.items():
        files = source_files(folder, source)
        assert [p.name for p in files] == [f"{source}{files[0].suffix}"]
        assert read_raw(files[0]).columns == columns, source


def test_lead_ids_unique_emails_and_domains(tables):
    leads = tables["leads"]
    assert leads["lead_id"].null_count() == 0
    assert leads["lead_id"].n_unique() == leads.height
    assert all(re.fullmatch(r"lead-\d{6}", lead_id) for lead_id in leads["lead_id"])
    assert leads["email"].null_count() == 0
    assert leads["email"].str.to_lowercase().n_unique() == leads.height  # one lead per person
    for email, domain in zip(leads["email"], leads["account_domain"], strict=True):
        if email_domain(email) in FREEMAIL:
            assert domain is None
        else:
            assert domain == email_domain(email)
    # every person who appears in touches or opportunity_contacts has a lead
    people = set(leads["email"].str.to_lowercase())
    assert set(tables["touches"]["email"].drop_nulls().str.to_lowercase()) <= people
    assert set(tables["opportunity_contacts"]["email"].str.to_lowercase()) <= people


def test_lead_stages_never_precede_the_one_before(tables, funnel):
    for leads in (parsed_leads(tables["leads"]), funnel["leads"]):
        assert leads["created_at"].null_count() == 0
        created, mql, sql = pl.col("created_at"), pl.col("mql_at"), pl.col("sql_at")
        activity, disqualified = pl.col("first_sales_activity_at"), pl.col("disqualified_at")
        broken = leads.filter(
            (mql < created)
            | (sql < mql)
            | (sql.is_not_null() & mql.is_null())  # no SQL without MQL
            | (activity < mql)
            | (activity.is_not_null() & mql.is_null())
            | (disqualified < created)
            | (disqualified < mql)
            | (disqualified.is_not_null() & sql.is_not_null())  # an SQL is not disqualified
        )
        assert broken.is_empty(), broken.head()
        latest = leads.select(pl.max_horizontal(LEAD_TIMES).max()).item()
        first = leads["created_at"].min()
        assert datetime(2024, 1, 1, tzinfo=UTC) <= first
        assert latest < datetime(2026, 1, 1, tzinfo=UTC)


def test_lead_funnel_shares(funnel):
    leads = funnel["leads"]
    mql = leads.filter(pl.col("mql_at").is_not_null())
    sql = mql.filter(pl.col("sql_at").is_not_null())
    assert 0.5 <= mql.height / leads.height <= 0.7  # ~60% reach MQL
    assert 0.4 <= sql.height / mql.height <= 0.6  # ~half of them SQL
    assert 0.08 <= mql["first_sales_activity_at"].null_count() / mql.height <= 0.25  # ~15%
    hours = (mql["first_sales_activity_at"] - mql["mql_at"]).dt.total_seconds().drop_nulls() / 3600
    assert 0.7 <= (hours <= 24).mean() <= 0.9  # mostly the same day ...
    assert hours.max() > 24 and hours.max() <= 96  # ... some up to four days
    never_sql = leads.filter(pl.col("sql_at").is_null())
    assert 0.12 <= never_sql["disqualified_at"].is_not_null().mean() <= 0.28  # ~20%


def test_lead_owner_is_a_rep_from_mql_on(tables):
    leads = tables["leads"]
    assert (leads["owner"].is_null() == leads["mql_at"].is_null()).all()
    reps = set(leads["owner"].drop_nulls())
    assert 4 <= len(reps) <= 8
    assert all(re.fullmatch(r"[a-z]+\.[a-z]+", rep) for rep in reps)


def test_converted_leads_point_at_their_deal_and_precede_it(tables, funnel):
    small = (parsed_leads(tables["leads"]), tables["opportunities"])
    for leads, opps in (small, (funnel["leads"], funnel["opportunities"])):
        created_of = dict(zip(opps["opportunity_id"], opps["created_at"], strict=True))
        converted = leads.filter(pl.col("converted_opportunity_id").is_not_null())
        assert set(converted["converted_opportunity_id"]) <= set(created_of)
        assert converted["converted_opportunity_id"].n_unique() == converted.height  # one per deal
        assert converted.height >= 0.7 * opps.height  # ... for most deals
        for row in converted.iter_rows(named=True):
            deal_created = parse_ts(created_of[row["converted_opportunity_id"]])  # date-only: 00:00
            assert row["mql_at"] is not None and row["sql_at"] is not None
            assert row["created_at"] <= row["mql_at"] <= row["sql_at"] <= deal_created
    # the converted person is one of the deal's opportunity_contacts
    links = tables["opportunity_contacts"].select("opportunity_id", pl.col("email").str.to_lowercase())
    converted = tables["leads"].filter(pl.col("converted_opportunity_id").is_not_null())
    assert set(converted.select("converted_opportunity_id", "email").iter_rows()) <= set(links.iter_rows())


def test_leads_start_at_the_first_touch_of_their_person(tables):
    """created_at is the person's first touch carrying their email (+ < 15 min for the CRM sync).

    Touch times are written in mixed forms; a date-only one only bounds the
    instant to its day, so each touch gives an earliest and a latest instant.
    Converted leads may start earlier (before the deal), never later.
    """
    touches = tables["touches"].filter(pl.col("email").is_not_null())
    bounds: dict[str, tuple[datetime, datetime]] = {}
    for email, occurred in zip(touches["email"], touches["occurred_at"], strict=True):
        low = parse_ts(occurred) - timedelta(seconds=1)  # the form with milliseconds adds < 1 s
        high = parse_ts(occurred, end_of_day=True)
        key = email.lower()
        old = bounds.get(key, (low, high))
        bounds[key] = (min(old[0], low), min(old[1], high))
    leads = parsed_leads(tables["leads"])
    checked = 0
    for row in leads.iter_rows(named=True):
        if row["email"] not in bounds:
            continue
        low, high = bounds[row["email"]]
        assert row["created_at"] <= high + timedelta(minutes=15), row
        if row["converted_opportunity_id"] is None:
            assert low <= row["created_at"], row
            checked += 1
    assert checked >= 0.5 * leads.height


def test_stage_history_covers_every_opportunity_in_order(tables, funnel):
    small = (parsed_history(tables["opportunity_stage_history"]), tables["opportunities"])
    for history, opps in (small, (funnel["history"], funnel["opportunities"])):
        assert history.null_count().sum_horizontal().item() == 0
        assert set(history["stage"]) <= {*PIPELINE_STAGES, "closed_won", "closed_lost"}
        sequences = stage_sequences(history)
        assert set(sequences) == set(opps["opportunity_id"])
        for row in opps.iter_rows(named=True):
            sequence = sequences[row["opportunity_id"]]
            stages = [stage for stage, _ in sequence]
            times = [at for _, at in sequence]
            assert all(a < b for a, b in zip(times, times[1:])), sequence  # strictly increasing
            assert stages[0] == "qualification" and same_instant(row["created_at"], times[0])
            closed, won = as_bool(row["is_closed"]), as_bool(row["is_won"])
            if won:
                assert stages[-1] == "closed_won" and same_instant(row["closed_at"], times[-1])
            elif closed:
                assert stages[-1] == "closed_lost" and same_instant(row["closed_at"], times[-1])
            else:  # open: stops at its current stage
                assert stages[-1] == {"prospecting": "qualification"}.get(row["stage"].lower(), row["stage"].lower())
            pipeline = stages[:-1] if closed else stages
            assert all(stage in PIPELINE_STAGES for stage in pipeline)  # closed only at the end
            steps = [PIPELINE_STAGES.index(b) - PIPELINE_STAGES.index(a) for a, b in zip(pipeline, pipeline[1:])]
            assert set(steps) <= {1, -1} and steps.count(-1) <= 1, stages


def test_stage_history_reentries_and_shuffle(funnel):
    history = funnel["history"]
    sequences = stage_sequences(history)
    went_back = sum(len({stage for stage, _ in seq}) < len(seq) for seq in sequences.values())
    assert 0.02 <= went_back / len(sequences) <= 0.09  # ~5% re-enter an earlier stage once
    assert not history.equals(history.sort("opportunity_id", "entered_at"))  # consumer must sort


# --------------------------------------------------------------------------
# anonymous sessions: touches.anonymous_id and identities (identity stitching)
# --------------------------------------------------------------------------
def identity_links(tables: dict[str, pl.DataFrame]) -> dict[str, set[str]]:
    """Per anonymous_id, its linked emails: pairs on one touch plus identities rows (normalized)."""
    pairs = pl.concat(
        [
            tables["touches"].select("anonymous_id", "email").drop_nulls(),
            tables["identities"].select("anonymous_id", "email"),
        ]
    ).select("anonymous_id", pl.col("email").str.to_lowercase())
    links: dict[str, set[str]] = {}
    for anonymous_id, email in pairs.unique().iter_rows():
        links.setdefault(anonymous_id, set()).add(email)
    return links


@pytest.mark.parametrize(("fmt", "chunk_rows"), [("csv", N), ("parquet", N), ("csv", 700), ("parquet", 700)])
def test_sessions_add_a_column_and_a_file_and_change_nothing_else(tmp_path, fmt, chunk_rows):
    """Their draws come from streams of their own: every other value is as without them."""
    on = tmp_path / "on"
    off = tmp_path / "off"
    counts_on = generate(on, touches=N, seed=7, fmt=fmt, chunk_rows=chunk_rows)
    counts_off = generate(off, touches=N, seed=7, fmt=fmt, chunk_rows=chunk_rows, anonymous_sessions=False)
    assert counts_on == {**counts_off, "identities": counts_on["identities"]} and counts_on["identities"] > 0
    assert list(counts_off) == [s for s in SOURCES if s != "identities"]
    touches_on = pl.concat([read_raw(p) for p in source_files(on, "touches")])
    touches_off = pl.concat([read_raw(p) for p in source_files(off, "touches")])
    assert touches_on.columns == [*touches_off.columns, "Anonymous_Id"]  # the last column
    assert touches_on.drop("Anonymous_Id").equals(touches_off)
    assert "anonymous_id" not in {c.strip().lower() for c in touches_off.columns}
    files_on, files_off = file_bytes(on), file_bytes(off)
    others = [name for name in files_off if not name.startswith("touches")]
    assert len(others) == 5 and {n: files_on[n] for n in others} == {n: files_off[n] for n in others}
    assert sorted(set(files_on) - set(files_off)) == [f"identities.{fmt}"]


def test_rerun_without_sessions_removes_the_identities_file(tmp_path):
    generate(tmp_path, touches=N, fmt="parquet")
    generate(tmp_path, touches=N, fmt="csv", anonymous_sessions=False)
    names = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*"))
    assert names == sorted(f"{s}.csv" for s in SOURCES if s != "identities")


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_sessions_are_reproducible_and_identities_ignore_the_chunking(tmp_path, fmt):
    a = file_bytes_after(tmp_path / "a", fmt=fmt, seed=3, chunk_rows=700)
    b = file_bytes_after(tmp_path / "b", fmt=fmt, seed=3, chunk_rows=700)
    assert f"touches/part-00002.{fmt}" in a and f"identities.{fmt}" in a
    assert a == b
    whole = file_bytes_after(tmp_path / "c", fmt=fmt, seed=3)
    assert whole[f"identities.{fmt}"] == a[f"identities.{fmt}"]
    other_seed = file_bytes_after(tmp_path / "d", fmt=fmt, seed=4)
    assert other_seed[f"identities.{fmt}"] != whole[f"identities.{fmt}"]


def test_anonymous_ids_stitch_some_touches_and_leave_others(tables):
    """Stitchable (one email), ambiguous (a shared device, 2+ emails) and never-linked ids all occur."""
    touches = tables["touches"]
    links = identity_links(tables)
    single = {i for i, emails in links.items() if len(emails) == 1}
    ambiguous = {i for i, emails in links.items() if len(emails) >= 2}
    anonymous = touches.filter(pl.col("email").is_null() & pl.col("anonymous_id").is_not_null())
    ids = anonymous["anonymous_id"]
    stitchable = ids.is_in(list(single))
    assert stitchable.sum() >= 0.5 * anonymous.height  # most sessions are a known person's device ...
    assert ids.filter(stitchable).n_unique() < stitchable.sum()  # ... several per person
    assert 1 <= len(ambiguous) <= 0.1 * len(links)
    assert all(i.startswith("s") for i in ambiguous)  # only shared devices are ambiguous
    never = ids.filter(~ids.is_in(list(links)))  # one-off visitors, and devices of people never linked
    one_off = ids.filter(ids.str.starts_with("x"))
    assert one_off.len() >= 0.1 * anonymous.height and one_off.is_in(never.to_list()).all()


def test_who_carries_an_anonymous_id(tables):
    touches = tables["touches"].with_columns(has_id=pl.col("anonymous_id").is_not_null())
    identified = touches.filter(pl.col("email").is_not_null())
    anonymous = touches.filter(pl.col("email").is_null() & pl.col("account_domain").is_null())
    domain_only = touches.filter(pl.col("email").is_null() & pl.col("account_domain").is_not_null())
    assert 0.4 <= identified["has_id"].mean() <= 0.6  # ~half of the touches with an email
    assert not domain_only["has_id"].any()  # reverse-IP touches have no cookie
    devices = anonymous.filter(pl.col("anonymous_id").str.contains(r"^[vs]\d+$"))
    assert 0.6 <= devices.height / anonymous.height <= 0.9  # ~75% a person's device, the rest one-off
    ids = anonymous["anonymous_id"].drop_nulls()
    one_off = ids.filter(ids.str.starts_with("x"))
    assert one_off.len() > 0 and one_off.n_unique() == one_off.len()  # one touch each


def test_some_anonymous_ids_are_padded_or_blank(landing):
    """The contract trims and reads whitespace-only as null: staging must show it does."""
    folder, _ = landing
    raw = pl.concat([read_raw(p) for p in source_files(folder, "touches")])["Anonymous_Id"]
    raw = raw.filter(raw != "")  # a CSV writes null as empty; only Parquet keeps it apart
    padded = raw.filter((raw != raw.str.strip_chars()) & (raw.str.strip_chars() != ""))
    blank = raw.filter(raw.str.strip_chars() == "")
    assert padded.len() >= 1 and blank.len() >= 1
    assert padded.len() + blank.len() < 0.01 * N
    assert padded.str.strip_chars().str.contains(r"^[vsx]\d+$").all()


def test_identities_link_devices_of_real_people(tables):
    identities = tables["identities"]
    people = set(tables["leads"]["email"].str.to_lowercase())  # one lead per person of the world
    assert identities.null_count().sum_horizontal().item() == 0
    assert set(identities["email"]) <= people
    assert identities["email"].n_unique() == identities.height  # one row per person
    assert identities["anonymous_id"].str.contains(r"^[vs]\d+$").all()
    times = identities["identified_at"].str.to_datetime(UTC_Z, time_zone="UTC")
    assert datetime(2024, 1, 1, tzinfo=UTC) <= times.min() and times.max() < datetime(2026, 1, 1, tzinfo=UTC)
    # a person's device means the same person on touches and in identities
    on_touches = tables["touches"].select("anonymous_id", pl.col("email").str.to_lowercase()).drop_nulls()
    by_touch = dict(on_touches.unique().filter(pl.col("anonymous_id").str.starts_with("v")).iter_rows())
    agree = [by_touch[i] == e for i, e, _ in identities.iter_rows() if i in by_touch]
    assert agree and all(agree)


def test_cli_can_leave_the_sessions_out(tmp_path, capsys):
    from attribution_pipeline.app.cli import main

    assert main(["sample-data", "--out", str(tmp_path / "cli"), "--touches", "500", "--no-anonymous-sessions"]) == 0
    assert "identities" not in capsys.readouterr().out
    generate(tmp_path / "api", touches=500, anonymous_sessions=False)
    assert file_bytes(tmp_path / "cli") == file_bytes(tmp_path / "api")
