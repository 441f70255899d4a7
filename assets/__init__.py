"""Dagster assets and checks, one module per layer: ingest -> staging -> attribution -> marts.

Importing this package has no side effects beyond defining them;
``attribution_pipeline.definitions`` loads them explicitly.
"""
