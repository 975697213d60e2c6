"""Secrets on the error paths the e2e secret tests do not take.

tests/e2e/test_polygon_backfill.py already forces 403/503/400/404 bodies echoing the key, refused
connections and an exhausted 429. Here: a 401 whose body echoes the key, a page whose next_url
carried the key and whose connection is then reset, a database connection killed under a write,
and the database refusing new connections mid-run, with a DATABASE_URL that carries a password.
Neither secret may appear in the console, any log record (tracebacks included), the logs shipped
to the Prefect API, an artifact, a run state, or the ledger.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import UTC, date, datetime

import psycopg2
import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    FlowRunFilter,
    FlowRunFilterStartTime,
    LogFilter,
    LogFilterFlowRunId,
    TaskRunFilter,
    TaskRunFilterFlowRunId,
)
from prefect.logging.handlers import APILogHandler

from providers.http import HttpSettings
from scripts.ingest_options import main
from store.tickers import ensure_tickers
from tests.dbutil import seed_watchlist
from tests.drills.faulty_massive import FaultyMassive
from tests.drills.support import connect, query, registered_polygon, writer_connection_terminated
from tests.fakes.massive import ChainSpec

NOW = datetime(2025, 12, 23, 22, 0, tzinfo=UTC)
KEY = "drill-secret-key-93c0a7e5f1d2"
PASSWORD = "drill-db-pw-5e8a1c"
SETTINGS = HttpSettings(
    requests_per_minute=60_000,
    burst=100,
    connect_timeout=1.0,
    read_timeout=2.0,
    large_read_timeout=2.0,
    max_attempts=3,
    backoff_base=0.01,
    backoff_max=0.02,
)


@pytest.fixture
def fake() -> Iterator[FaultyMassive]:
    with FaultyMassive(api_key=KEY) as server:
        yield server


@pytest.fixture
def polygon(fake: FaultyMassive) -> Iterator[str]:
    with registered_polygon("polygon-secrets", KEY, fake, now=NOW, settings=SETTINGS) as name:
        yield name


@pytest.fixture
def url_with_password(database_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """This test's database, reached with a password in DATABASE_URL (the server trusts local users,
    so any password connects: the point is where the URL's text ends up)."""
    assert database_url.startswith("postgresql://postgres:@")
    url = database_url.replace("postgres:@", f"postgres:{PASSWORD}@", 1)
    monkeypatch.setenv("DATABASE_URL", url)
    return url


def everything_a_person_or_the_ui_can_see(since: datetime, db, caplog, capsys) -> list[tuple[str, str]]:  # noqa: ANN001
    """(where, text): console, log records with tracebacks, logs shipped to the Prefect API,
    artifacts, flow and task run states since `since`, and the ledger."""
    out, err = capsys.readouterr()
    texts = [("stdout", out), ("stderr", err), ("log", caplog.text)]
    texts += [(f"log {record.name}", record.getMessage()) for record in caplog.records]
    APILogHandler().flush()
    with get_client(sync_client=True) as client:
        flow_runs = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(start_time=FlowRunFilterStartTime(after_=since)), limit=50
        )
        ids = [run.id for run in flow_runs]
        task_runs = client.read_task_runs(task_run_filter=TaskRunFilter(flow_run_id=TaskRunFilterFlowRunId(any_=ids)))
        shipped = client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=ids)), limit=200)
        artifacts = client.read_artifacts()
    texts += [(f"state of {run.name}", run.state.message or "") for run in [*flow_runs, *task_runs] if run.state]
    texts += [("prefect api log", entry.message) for entry in shipped]
    for artifact in artifacts:
        data = artifact.data if isinstance(artifact.data, str) else json.dumps(artifact.data, default=str)
        texts += [(f"artifact {artifact.key}", data), (f"artifact {artifact.key}", artifact.description or "")]
    texts += [("chain_snapshots", repr(row)) for row in query(db, "SELECT * FROM chain_snapshots")]
    assert len(flow_runs) == 2 and shipped, "the runs and their shipped logs were found"
    return texts


def test_no_secret_surfaces_on_401_reset_or_database_error_paths(url_with_password, fake, polygon, caplog, capsys):
    started = datetime.now(UTC)
    db = connect(url_with_password)
    seed_watchlist(db, ["AMD", "IBM", "KO"])
    ticker_id = ensure_tickers(db, ["KO"])["KO"]
    # Run 1, the current session: AMD's next_url carries ?apiKey= and its second page resets every
    # time; IBM's key is rejected with a body that echoes it.
    fake.add_chain(ChainSpec("AMD", contracts=300, api_key_in_next_url=True))
    fake.add_chain(ChainSpec("IBM", contracts=30))
    fake.add_chain(ChainSpec("KO", contracts=30))
    fake.add_reset("/v3/snapshot/options/AMD", after=1, times=None)
    fake.add_fault("/v3/snapshot/options/IBM", status=401, times=None, body={"error": f"Unknown API Key {KEY}"})
    caplog.set_level(logging.DEBUG)
    common = ["--provider", polygon, "--day-retries", "0", "--log-level", "DEBUG"]

    first = main(["--as-of", "2025-12-23", "--symbols", "AMD,IBM", "--concurrency", "2", *common])

    # Run 2, two past sessions of KO: the first one's writer is killed under its write, and by then
    # the database refuses new connections, so the second day cannot connect at all.
    # (PostgreSQL changes a database's ALLOW_CONNECTIONS only from a session in another database.)
    admin = psycopg2.connect(url_with_password, dbname="postgres")
    admin.autocommit = True

    def refuse_new_connections() -> None:
        query(admin, f"ALTER DATABASE {db.info.dbname} ALLOW_CONNECTIONS false")

    try:
        with writer_connection_terminated(
            url_with_password, ticker_id, date(2025, 12, 19), before_terminating=refuse_new_connections
        ):
            second = main(["--start-date", "2025-12-19", "--end-date", "2025-12-22", "--symbols", "KO", *common])
    finally:
        query(admin, f"ALTER DATABASE {db.info.dbname} ALLOW_CONNECTIONS true")
        admin.close()

    assert (first, second) == (1, 1)  # every day of each run failed
    texts = everything_a_person_or_the_ui_can_see(started, db, caplog, capsys)
    db.close()
    seen = "\n".join(text for _, text in texts)
    # The error paths were taken, and their messages were kept, redacted:
    assert "polygon rejected the API key" in seen and "Unknown API Key ***" in seen
    assert "ConnectionError" in seen and "cursor=" in seen
    assert "server closed the connection unexpectedly" in seen or "terminating connection" in seen
    assert "is not currently accepting connections" in seen and "postgres:***@" in seen
    leaks = sorted(
        {
            f"{where}: {line.strip()}"
            for where, text in texts
            for line in text.splitlines()
            if KEY in line or PASSWORD in line
        }
    )
    assert leaks == [], "\n".join(leaks)
