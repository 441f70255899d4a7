"""The README's worked example and table dictionary are checked, not just written."""

from __future__ import annotations

import re
from pathlib import Path

from attribution_pipeline.warehouse.docs import END, START, table_dictionary
from engine_frames import at, deal, frames, touch
from models.credit import credit_touches
from models.journeys import build_journeys, resolve_as_of
from models.params import AttributionParams
from models.registry import MODELS

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


def stage_credit(touches, created, model_names):
    t, o, c = frames(touches, [deal("o1", "acme.com", created, at(2024, 3, 29), cents=100_000)])
    params = AttributionParams()
    journeys = build_journeys(t.lazy(), o.lazy(), c.lazy(), params, resolve_as_of(t.lazy(), o.lazy(), None))
    credit = credit_touches(journeys, o.lazy(), params, model_names).collect()
    return {model: {r["touch_id"]: r["credited_cents"] for r in credit.filter(model=model).iter_rows(named=True)} for model in model_names}


def typed(touch_id, when, channel, touch_type=None):
    return {**touch(touch_id, when, domain="acme.com", channel=channel), "touch_type": touch_type}


def test_stage_aware_worked_examples_match_the_readme():
    t1, t2, t3 = (
        typed("t1", at(2024, 3, 1), "paid_search", "page_view"),
        typed("t2", at(2024, 3, 5), "email", "form_submit"),
        typed("t3", at(2024, 3, 8), "webinar"),
    )
    t4, t5 = typed("t4", at(2024, 3, 20), "email"), typed("t5", at(2024, 3, 25), "direct")
    got = stage_credit([t1, t2, t3, t4, t5], at(2024, 3, 10), ["w_shaped", "full_path", "last_non_direct"])
    assert got == {
        "w_shaped": {"t1": 30_000, "t2": 30_000, "t3": 30_000, "t4": 5_000, "t5": 5_000},
        "full_path": {"t1": 22_500, "t2": 22_500, "t3": 22_500, "t4": 10_000, "t5": 22_500},
        "last_non_direct": {"t4": 100_000},
    }
    collision = stage_credit([typed("t1", at(2024, 3, 11), "paid_search", "form_submit"), t4, t5], at(2024, 3, 10), ["w_shaped"])
    assert collision == {"w_shaped": {"t1": 90_000, "t4": 5_000, "t5": 5_000}}
    text = README.read_text()
    for figure in (
        "| w_shaped | 300.00 | 300.00 | 300.00 | 50.00 | 50.00 |",
        "| full_path | 225.00 | 225.00 | 225.00 | 100.00 | 225.00 |",
        "0.3 + 0.15 + 0.3 + 0.15 = 0.9 = 900.00",
    ):
        assert figure in text


def test_readme_model_example_is_a_working_model():
    """The README's "adding a model" snippet, run as written: weights sum to 1."""
    import polars as pl

    source = README.read_text().split("# models/rules.py\n", 1)[1].split("\n\n", 1)[0]
    namespace = {"pl": pl}
    exec("\n".join(line[2:] for line in source.splitlines()), namespace)
    journeys = pl.LazyFrame({"opportunity_id": ["a", "b", "b", "b"], "position": [1, 1, 2, 3], "n_touches": [1, 3, 3, 3]})
    got = namespace["last_two"](journeys, None).collect()
    assert got.select("num", "den").rows() == [(1, 1), (0, 2), (1, 2), (1, 2)]


def test_readme_table_dictionary_is_generated_from_the_declarations():
    text = README.read_text()
    inside = text[text.index(START) + len(START) : text.index(END)].strip()
    assert inside == table_dictionary().strip()


NUMBER_WORDS = {5: "five", 6: "six", 7: "seven", 8: "eight", 9: "nine", 10: "ten", 11: "eleven", 12: "twelve"}


def _names_in(text: str) -> list[str]:
    return re.findall(r"`([a-z_]+)`", text)


def test_readme_names_every_registered_model_and_no_other():
    """The opening's count, the Models table, the --models option and the BI example
    list each name exactly the registry's models (models/registry.py)."""
    readme = README.read_text()
    registered = list(MODELS)
    assert f"under {NUMBER_WORDS[len(registered)]} attribution\nmodels" in readme
    table = readme[readme.index("### Models") : readme.index("**Cents are exact.**")]
    assert [row.split("`")[1] for row in table.splitlines() if row.startswith("| `")] == registered
    option = next(line for line in readme.splitlines() if line.startswith("| `--models M1,M2` |"))
    assert _names_in(option.split("|")[3]) == registered
    example = readme[readme.index("Example queries for BI") :]
    assert _names_in(example[: example.index("):")]) == registered
