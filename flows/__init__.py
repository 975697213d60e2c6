"""Prefect flows: the entry points (single day, backfill, dealer metrics)."""
