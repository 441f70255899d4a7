"""The README's worked example and table dictionary are checked, not just written."""

from __future__ import annotations

from pathlib import Path

from attribution_pipeline.docs import END, START, table_dictionary
from engine_frames import at, deal, frames, touch
from models.credit import credit_touches
from models.journeys import build_journeys, resolve_as_of
from models.params import AttributionParams

README = Path(__file__).resolve().parents[1] / "README.md"


def test_worked_example_credits_match_the_readme():
    close = at(2024, 3, 29)
    touches = [
        touch("t1", at(2024, 3, 1), domain="acme.com", channel="paid_search"),
        touch("t2", at(2024, 3, 15), domain="acme.com", channel="email"),
        touch("t3", at(2024, 3, 22), domain="acme.com", channel="webinar"),
    ]
    t, o, c = frames(touches, [deal("o1", "acme.com", at(2024, 3, 1), close, cents=100_000)])
    params = AttributionParams()
    journeys = build_journeys(t.lazy(), o.lazy(), c.lazy(), params, resolve_as_of(t.lazy(), o.lazy(), None))
    credit = credit_touches(journeys, o.lazy(), params).collect()
    got = {
        model: [(r["touch_id"], r["credited_cents"]) for r in credit.filter(model=model).sort("position").iter_rows(named=True)]
        for model in ("first_touch", "last_touch", "linear", "position_based", "time_decay")
    }
    assert got == {
        "first_touch": [("t1", 100_000)],
        "last_touch": [("t3", 100_000)],
        "linear": [("t1", 33_334), ("t2", 33_333), ("t3", 33_333)],
        "position_based": [("t1", 40_000), ("t2", 20_000), ("t3", 40_000)],
        "time_decay": [("t1", 7_692), ("t2", 30_769), ("t3", 61_539)],
    }
    text = README.read_text()
    for figure in ("333.34, 333.33, 333.33", "400.00, 200.00, 400.00", "76.92, 307.69, 615.39"):
        assert figure in text


def test_readme_table_dictionary_is_generated_from_the_declarations():
    text = README.read_text()
    inside = text[text.index(START) + len(START) : text.index(END)].strip()
    assert inside == table_dictionary().strip()
