"""Seeded synthetic landing folder: realistic B2B touches, campaigns, deals and leads.

Why this exists: the pipeline has to be demonstrated, tested and benchmarked
without anyone's CRM export, so this module fabricates a landing folder that
satisfies SPEC 1 (the input contract) *and* looks like the real thing a
marketing-ops team would drop on us:

* accounts with company domains (``acme-12.com``, ``eu.hooli-7.io``) and a
  handful of contacts each, plus the people who use gmail.com & co. (their
  touches carry no account_domain, so only opportunity_contacts can tie them
  to a deal) and a few consultant deals whose account_domain *is* a
  free-mail domain (SPEC 3's special case);
* deals (30% won, 40% lost, 30% open) with touches spread over the months
  before them, some after the close and many unrelated ones, so that the
  journey window of SPEC 3 has something to cut;
* every representation SPEC 1 says must be normalized: mixed ISO-8601 forms
  (``Z``, offsets, naive, date-only), domains written as URLs or in upper
  case, channels missing (to be derived from UTMs) or upper-cased, mixed
  boolean spellings, headers in mixed case with stray spaces, an unknown
  extra column, repeated contact rows and ~1% of campaign ids that campaigns
  does not know about;
* the funnel around them, in plain columns and ``...Z`` UTC timestamps:
  ``leads`` (one per person, created at their first identified touch; ~60%
  reach MQL, half of those SQL; one person per deal converted into it before
  it was created) and ``opportunity_stage_history`` (qualification ->
  discovery -> proposal -> negotiation -> closed_won/closed_lost, agreeing
  with each deal's created_at, closed_at and status; rows lightly shuffled);
* anonymous sessions for identity stitching (``generate(anonymous_sessions=False)``
  leaves them out): a device id on touches (``anonymous_id``) that links a
  person's anonymous visits to the touches where they gave their email, a few
  devices shared by two people (ambiguous) and one-off visitors never linked,
  plus ``identities`` (device -> email links from elsewhere, ~5% of people).

Everything written is *valid* under SPEC 1; producing invalid rows is the
job of the validation tests, not of this generator.

Determinism: all randomness comes from ``numpy.random.SeedSequence([seed,
stream])`` with one fixed stream per table and per touch chunk (listed
above ``world.build_world``: a new table takes a new stream, so adding one leaves
the bytes of the others unchanged), values are rendered as strings by
polars (no float formatting, no locale), and Parquet is written with fixed
compression and row-group size (polars writes no timestamps into the file),
so the same ``(touches, seed, fmt, chunk_rows)`` gives byte-identical files.
Across numpy/polars upgrades the bytes may change; the shape of the data
does not. Leads depend on the touches (each person's first one), so they
too change with ``chunk_rows``.

Scale: all work is vectorized (numpy for the random draws, polars for the
string rendering); the only Python loops run over chunks and over a handful
of channels, deal stages and lead-matching rounds. Touches are produced ``chunk_rows`` at a time, and above that
size they are written as ``touches/part-NNNNN.<fmt>`` (SPEC 1 accepts a folder
of part files per source), so memory follows the chunk, not the total.

Modules, in the order a folder is built: ``vocabulary`` (what the data is made of),
``render`` (text forms of values), ``world`` (accounts, contacts, deals, campaigns),
``touches``, ``crm`` (leads, stage history), ``identities`` (anonymous_id, the
identities source), ``folder`` (writing, ``generate``).

May import: ``models``, ``contract`` (it uses neither: it writes what the contract reads).
"""

from attribution_pipeline.sample_data.folder import DEFAULT_CHUNK_ROWS, generate
from attribution_pipeline.sample_data.vocabulary import CHANNELS, SOURCES

__all__ = ["CHANNELS", "DEFAULT_CHUNK_ROWS", "SOURCES", "generate"]
