"""The attribution engine: pure polars, frames in and frames out.

Nothing here imports Dagster or SQL, so the engine can be read, tested and
reused on its own. ``journeys`` implements SPEC 3, ``rules`` the weight
functions of SPEC 4, ``milestones`` the stage-aware models (w_shaped,
full_path, last_non_direct), ``allocation`` the exact cent split, ``credit``
every model's cents, ``registry`` the models by name, ``marts`` the campaign
and channel roll-ups of SPEC 5, and ``funnel`` the shared funnel metrics.
"""
