"""Independent, deliberately literal reference implementation of the
stage-aware attribution models: w_shaped, full_path and last_non_direct.

This module is a *test oracle*.  It is written from the model description
below (and SPEC 3 and 4 of /work/shared/SPEC.md for journey order and cents),
uses only the standard library plus the cents helper of reference_impl, and
favours obvious correctness over speed.  It must not import anything from the
implementation under test.

A journey is a list of touch dicts, ALREADY in SPEC 3 journey order
(position 1 first), each with keys

    "occurred_at": aware datetime
    "touch_type":  str | None
    "channel":     str | None

Milestones of a won deal's journey (positions 1..n):

    FT  first touch:          position 1
    LC  lead creation:        the first touch whose touch_type is in lead_types
    OC  opportunity creation: the last touch with occurred_at <= created_at
    CW  closed won:           position n

A model's weights are (first, lead, opportunity, closed, rest): non-negative
Fractions summing to 1.  Its milestones are FT, LC, OC, plus CW for
full_path always and for w_shaped when its closed share is > 0.

Rules:
  1. A touch that is several milestones receives the sum of their shares.
  2. A milestone that does not exist (LC or OC) gives its share evenly to the
     milestone ROLES of the model that do exist (FT always exists, and CW when
     it is one of the model's milestones).
  3. The rest share is split evenly among the touches that are no milestone;
     when every touch is a milestone, the rest goes to the milestones in
     proportion to their shares (after rule 2); if those shares are all 0,
     evenly among the milestone touches.

Choices made where the description is silent or ambiguous are marked
"CHOICE:".
"""

from __future__ import annotations

import os
import sys
from fractions import Fraction

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference_impl as _ref  # noqa: E402

STAGE_MODELS = ("w_shaped", "full_path", "last_non_direct")

DEFAULT_LEAD_TYPES = frozenset({"form_submit"})

# (first, lead, opportunity, closed, rest)
W_SHAPED = (Fraction(3, 10), Fraction(3, 10), Fraction(3, 10), Fraction(0), Fraction(1, 10))
FULL_PATH = (Fraction(9, 40), Fraction(9, 40), Fraction(9, 40), Fraction(9, 40), Fraction(1, 10))

FT = "FT"
LC = "LC"
OC = "OC"
CW = "CW"


# --------------------------------------------------------------------------
# validation
# --------------------------------------------------------------------------


def validate_weights(weights) -> tuple[Fraction, Fraction, Fraction, Fraction, Fraction]:
    """Return the 5 weights as Fractions; ValueError unless they are five
    non-negative numbers summing to exactly 1.

    CHOICE: ints and Fractions are taken as they are; a float is read by its
    shortest decimal repr (0.3 -> 3/10), as reference_impl does for the
    position_based weights.  Weights are never silently rescaled.
    """
    weights = tuple(weights)
    if len(weights) != 5:
        raise ValueError(f"weights must be 5 numbers (first, lead, opportunity, closed, rest), got {len(weights)}")
    fractions = tuple(_ref._as_fraction(w) for w in weights)
    for name, w in zip(("first", "lead", "opportunity", "closed", "rest"), fractions):
        if w < 0:
            raise ValueError(f"weight {name} must be >= 0, got {w}")
    total = sum(fractions)
    if total != 1:
        raise ValueError(f"weights must sum to 1, got {total}")
    return fractions


def _check_journey(touches) -> None:
    if len(touches) < 1:
        raise ValueError("a journey needs at least one touch (n >= 1)")
    # sanity: the caller promised journey order; occurred_at cannot go back.
    for i in range(1, len(touches)):
        if touches[i]["occurred_at"] < touches[i - 1]["occurred_at"]:
            raise ValueError(f"touches are not in journey order at index {i}")


# --------------------------------------------------------------------------
# milestones
# --------------------------------------------------------------------------


def find_milestones(touches, created_at, lead_types=DEFAULT_LEAD_TYPES) -> dict:
    """Role -> 0-based touch index, for every role that exists.

    FT and CW always exist (n >= 1); LC and OC are absent when no touch
    qualifies.  Whether CW is one of a model's milestones is decided by the
    caller (closed > 0).
    """
    _check_journey(touches)
    n = len(touches)
    roles = {}

    roles[FT] = 0

    for i in range(n):
        # CHOICE: a None touch_type is never a lead-creation type (unless a
        # caller puts None into lead_types on purpose).
        if touches[i].get("touch_type") in lead_types:
            roles[LC] = i
            break

    last_at_or_before = None
    for i in range(n):
        if touches[i]["occurred_at"] <= created_at:
            last_at_or_before = i
    if last_at_or_before is not None:
        roles[OC] = last_at_or_before

    roles[CW] = n - 1
    return roles


# --------------------------------------------------------------------------
# weights
# --------------------------------------------------------------------------


def milestone_weights(touches, created_at, weights, lead_types=frozenset({"form_submit"}), closed_milestone=None) -> list[Fraction]:
    """Exact weights, one Fraction per touch, for a milestone model
    (w_shaped / full_path are this with their own 5-tuple of weights).
    ``closed_milestone``: whether CW is one of the model's milestones; None
    means "when its closed share is > 0" (w_shaped)."""
    first, lead, opportunity, closed, rest = validate_weights(weights)
    found = find_milestones(touches, created_at, lead_types)
    n = len(touches)

    # The model's milestone roles and their nominal shares.
    model_shares = {FT: first, LC: lead, OC: opportunity}
    if closed_milestone or (closed_milestone is None and closed > 0):
        model_shares[CW] = closed

    # Which of the model's roles exist in this journey (role -> touch index).
    existing = {}
    missing = []
    for role in model_shares:
        if role in found:
            existing[role] = found[role]
        else:
            missing.append(role)

    # Rule 2: a missing role's share goes evenly to the existing ROLES.
    role_share = {}
    for role in existing:
        role_share[role] = model_shares[role]
    for role in missing:
        portion = model_shares[role] / len(existing)  # len(existing) >= 1 (FT)
        for other in existing:
            role_share[other] = role_share[other] + portion

    # Rule 1: a touch collects the shares of every role it holds.
    result = [Fraction(0)] * n
    milestone_touches = []
    for role in existing:
        i = existing[role]
        result[i] = result[i] + role_share[role]
        if i not in milestone_touches:
            milestone_touches.append(i)

    # Rule 3: the rest share.
    non_milestone = []
    for i in range(n):
        if i not in milestone_touches:
            non_milestone.append(i)

    if len(non_milestone) > 0:
        for i in non_milestone:
            result[i] = result[i] + rest / len(non_milestone)
    else:
        milestone_total = Fraction(0)
        for i in milestone_touches:
            milestone_total = milestone_total + result[i]
        if milestone_total > 0:
            scaled = list(result)
            for i in milestone_touches:
                scaled[i] = result[i] + rest * result[i] / milestone_total
            result = scaled
        else:
            for i in milestone_touches:
                result[i] = result[i] + rest / len(milestone_touches)

    if sum(result) != 1:
        raise AssertionError(f"weights sum to {sum(result)}, not 1")
    return result


def last_non_direct_weights(touches) -> list[Fraction]:
    """All credit to the last touch whose channel is not "direct"; to the
    last touch when every touch is direct.

    CHOICE: "direct" is matched exactly (case-sensitive, no trimming), as the
    channel values arrive normalized; None is not direct.
    """
    if len(touches) < 1:
        raise ValueError("a journey needs at least one touch (n >= 1)")
    n = len(touches)
    chosen = n - 1
    for i in range(n):
        if touches[i].get("channel") != "direct":
            chosen = i  # keeps the last one seen
    result = [Fraction(0)] * n
    result[chosen] = Fraction(1)
    return result


def stage_weights(
    model: str,
    touches,
    created_at,
    *,
    w_shaped=W_SHAPED,
    full_path=FULL_PATH,
    lead_types=DEFAULT_LEAD_TYPES,
) -> list[Fraction]:
    """Weights for one of the stage-aware models, by name."""
    if model == "w_shaped":
        return milestone_weights(touches, created_at, w_shaped, lead_types)
    if model == "full_path":
        return milestone_weights(touches, created_at, full_path, lead_types, closed_milestone=True)
    if model == "last_non_direct":
        return last_non_direct_weights(touches)
    raise ValueError(f"not a stage-aware model: {model!r}")


# --------------------------------------------------------------------------
# cents (SPEC 4, rational weights)
# --------------------------------------------------------------------------


def stage_cents(amount_cents: int, weights: list[Fraction]) -> list[int]:
    """SPEC 4 for rational weights: exact floors of amount_cents * w_i, then
    the leftover cents to the largest remainders, equal remainders to the
    earlier position.  (reference_impl.cents_rational is exactly that.)"""
    if not isinstance(amount_cents, int) or isinstance(amount_cents, bool) or amount_cents < 0:
        raise ValueError("amount_cents must be an int >= 0")
    weights = [Fraction(w) for w in weights]
    if any(w < 0 for w in weights):
        raise ValueError("weights must be >= 0")
    if sum(weights) != 1:
        raise ValueError(f"weights must sum to 1, got {sum(weights)}")
    return _ref.cents_rational(amount_cents, weights)
