"""Run one day's plain function (`run_ingest_day`) as its task would: with a request and handles."""

from __future__ import annotations

from datetime import date

from providers.base import ChainProvider
from store.connection import DatabaseTarget, ReconnectingConnection
from tasks.day_report import DayReport
from tasks.ingest_day import run_ingest_day
from tasks.request import IngestRequest


def day_request(provider: str, **settings: object) -> IngestRequest:
    """The settings a flow would have validated, for one day's plain function."""
    return IngestRequest(provider=provider, sessions=(), start_date=None, end_date=None, **settings)


def run_day(session: date, request: IngestRequest, provider: ChainProvider, database_url: str) -> DayReport:
    """`run_ingest_day` with a connection to `database_url` opened and closed around it."""
    database = ReconnectingConnection(DatabaseTarget(url=database_url, embedded=False))
    try:
        return run_ingest_day(session, request, database=database, provider=provider)
    finally:
        database.close()
