"""The attribution engine: pure polars, frames in and frames out.

Nothing here imports Dagster or SQL, so the engine can be read, tested and
reused on its own. ``journeys`` implements SPEC 3, ``rules`` the weight
functions of SPEC 4, ``allocation`` the exact cent split, ``registry`` the
models by name, and ``marts`` the campaign and channel roll-ups of SPEC 5.
"""
