"""Milestone models: credit to the touches that moved a deal to its next stage.

A won deal's journey (positions 1..n, SPEC 3 order) has up to four milestones:

- FT, first touch: position 1 (always exists);
- LC, lead creation: the first touch whose ``touch_type`` is in
  ``params.lead_touch_types`` (may not exist);
- OC, opportunity creation: the last touch with ``occurred_at <= created_at``
  of the deal (may not exist: every touch came after the deal was created);
- CW, closed won: position n (always exists).

A model's milestones are FT, LC and OC, plus CW when the model is full_path or
its ``closed`` share is > 0 (so w_shaped, whose default ``closed`` is 0, has
no CW: position n is an ordinary touch unless it is FT, LC or OC). Its shares
(``MilestoneWeights``) are then applied by three rules:

1. a touch that holds several milestones gets the sum of their shares;
2. the share of a milestone that does not exist is split evenly among the
   milestones of the model that do (by milestone, not by touch);
3. ``rest`` is split evenly among the touches that hold no milestone; when
   every touch holds one, it goes to the milestone touches in proportion to
   their shares after rule 2 (evenly among them if those shares are all 0).

Worked example, w_shaped (0.3/0.3/0.3/0/0.1), 5 touches, LC and OC both at
position 2: p1 (FT) gets 0.3, p2 (LC + OC) 0.6, and p3, p4, p5 share 0.1,
1/30 each; 0.3 + 0.6 + 3/30 = 1.

The weights are rationals, so each is returned as integers ``num / den`` with
one ``den`` per deal (see models/allocation.py), and the cents split exactly.
"""

from __future__ import annotations

import math

import polars as pl

from models.params import AttributionParams, MilestoneWeights

DIRECT_CHANNEL = "direct"

_deal = "opportunity_id"
_position = pl.col("position").cast(pl.Int64)
_n = pl.col("n_touches").cast(pl.Int64)
_lc = pl.col("_lc_position")
_oc = pl.col("_oc_position")
_TEMPORARY = ["_lc_position", "_oc_position", "_roles", "_missing", "_share", "_milestone", "_distinct", "_free"]


def _int(condition: pl.Expr) -> pl.Expr:
    return condition.fill_null(False).cast(pl.Int64)


def _milestone_weights(
    journeys: pl.LazyFrame, params: AttributionParams, shares: MilestoneWeights, closed_is_milestone: bool
) -> pl.LazyFrame:
    """num/den of the three rules above, row-wise after two per-deal windows.

    With every share an integer over a common q (F + L + O + C + R = q) and k
    the number of milestones that exist, milestone shares after rule 2 are
    integers over q*k: ``share*k + missing`` where ``missing`` is the q-share of
    the absent ones. A deal with u > 0 free touches then has den = q*k*u:
    milestone touches get their q*k-share times u, free touches R*k.
    """
    q = math.lcm(*(part.denominator for part in (shares.first, shares.lead, shares.opportunity, shares.closed, shares.rest)))
    f, l, o, c, r = (int(part * q) for part in (shares.first, shares.lead, shares.opportunity, shares.closed, shares.rest))
    closed = 1 if closed_is_milestone else 0
    lead_types = sorted(params.lead_touch_types)

    is_ft = _position == 1
    is_lc = _position.eq_missing(_lc)  # False when the deal has no LC
    is_oc = _position.eq_missing(_oc)
    is_cw = (_position == _n) & pl.lit(closed_is_milestone)
    roles = pl.col("_roles")
    missing = pl.col("_missing")
    share = pl.col("_share")  # the touch's milestone share, over q*k
    free = pl.col("_free")  # touches of the deal holding no milestone

    # Distinct milestone positions, without a third window: FT is 1, and LC, OC,
    # CW add one each when they exist and sit on a position not counted yet.
    distinct = (
        1
        + _int(_lc.is_not_null() & (_lc != 1))
        + _int(_oc.is_not_null() & (_oc != 1) & _oc.ne_missing(_lc))
        + closed * _int((_n != 1) & _n.ne_missing(_lc) & _n.ne_missing(_oc))
    )
    if q > r:
        # every touch a milestone: rest in proportion to the shares, i.e. share / (q - r)
        all_milestones = (share, (q - r) * roles)
    else:
        # rest = 1 and every milestone share 0: evenly among the milestone touches
        all_milestones = (_int(pl.col("_milestone")), pl.col("_distinct"))
    num = pl.when(free > 0).then(pl.when(pl.col("_milestone")).then(share * free).otherwise(r * roles)).otherwise(all_milestones[0])
    den = pl.when(free > 0).then(q * roles * free).otherwise(all_milestones[1])

    return (
        journeys.with_columns(
            _lc_position=pl.when(pl.col("touch_type").is_in(lead_types)).then(_position).min().over(_deal),
            _oc_position=pl.when(pl.col("occurred_at") <= pl.col("created_at")).then(_position).max().over(_deal),
        )
        .with_columns(
            _roles=1 + _int(_lc.is_not_null()) + _int(_oc.is_not_null()) + closed,
            _missing=l * _int(_lc.is_null()) + o * _int(_oc.is_null()),
            _milestone=is_ft | is_lc | is_oc | is_cw,
            _distinct=distinct,
        )
        .with_columns(
            _share=_int(is_ft) * (f * roles + missing)
            + _int(is_lc) * (l * roles + missing)
            + _int(is_oc) * (o * roles + missing)
            + _int(is_cw) * (c * roles + missing),
            _free=_n - pl.col("_distinct"),
        )
        .with_columns(num=num.cast(pl.Int64), den=den.cast(pl.Int64))
        .drop(_TEMPORARY)
    )


def w_shaped(journeys: pl.LazyFrame, params: AttributionParams) -> pl.LazyFrame:
    """FT, LC and OC (0.3 each by default), 0.1 shared by the other touches.

    Rewards the touches that opened the journey, made the lead and made the
    opportunity; CW becomes a milestone only with a ``closed`` share > 0.
    """
    shares = params.w_shaped_weights
    return _milestone_weights(journeys, params, shares, closed_is_milestone=shares.closed > 0)


def full_path(journeys: pl.LazyFrame, params: AttributionParams) -> pl.LazyFrame:
    """FT, LC, OC and CW (0.225 each by default), 0.1 shared by the other touches.

    W-shaped plus the touch that closed the deal, for sales cycles where the
    last touch before closing matters as much as the earlier milestones.
    """
    return _milestone_weights(journeys, params, params.full_path_weights, closed_is_milestone=True)


def last_non_direct(journeys: pl.LazyFrame, params: AttributionParams) -> pl.LazyFrame:
    """All credit to the last touch whose channel is not ``direct``.

    A direct visit usually follows a touch that earned it, so the credit goes
    to that one; when every touch is direct, to the last touch. A null channel
    is not ``direct``.
    """
    non_direct = pl.col("channel").ne_missing(DIRECT_CHANNEL)
    target = pl.when(non_direct).then(_position).max().over(_deal).fill_null(_n)
    return journeys.with_columns(num=(_position == target).cast(pl.Int64), den=pl.lit(1, pl.Int64))
