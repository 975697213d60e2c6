"""One run path: a run is opened once (migrations, provider, ledger) however it is started, and a
bad setup is one line and exit 2 from every command line, before anything starts."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

import store.migrations
from flows.backfill import backfill_options
from flows.ingest import ingest_options
from providers.registry import register_provider, unregister_provider
from scripts.ingest_options import main
from tests.dbutil import count, seed_watchlist
from tests.doubles import TinyChainProvider

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def counted(db, monkeypatch):
    """Count migrations and provider builds in this process."""
    seed_watchlist(db, ["AAPL", "SPY"])
    calls = {"migrate": 0, "build": 0}
    real_migrate = store.migrations.migrate

    def counting_migrate(connection):  # noqa: ANN001, ANN202
        calls["migrate"] += 1
        return real_migrate(connection)

    def build(settings):  # noqa: ANN001, ANN202
        calls["build"] += 1
        return TinyChainProvider()

    monkeypatch.setattr("flows.run.migrate", counting_migrate)
    register_provider("tiny", build)
    yield calls
    unregister_provider("tiny")


def test_the_cli_opens_its_run_once_before_prefect_and_the_flow_adopts_it(db, counted):
    code = main(["--provider", "tiny", "--start-date", "2025-12-09", "--end-date", "2025-12-12"])
    assert code == 0
    assert counted == {"migrate": 1, "build": 1}
    assert count(db, "chain_snapshots") == 4 * 2


def test_a_flow_started_on_its_own_opens_its_run_once_for_all_its_days(db, counted):
    summary = backfill_options(start_date=date(2025, 12, 9), end_date=date(2025, 12, 12), provider="tiny")
    assert summary.days_succeeded == 4
    assert counted == {"migrate": 1, "build": 1}


def test_the_single_day_flow_runs_the_same_path(db, counted):
    summary = ingest_options(as_of=date(2025, 12, 9), provider="tiny")
    assert (summary.days_succeeded, summary.start_date, summary.end_date) == (1, date(2025, 12, 9), date(2025, 12, 9))
    assert counted == {"migrate": 1, "build": 1}


def _run(module: list[str], environment: dict[str, str]) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if key not in environment}
    return subprocess.run(
        [sys.executable, "-m", *module],
        cwd=ROOT,
        env={**env, **environment},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("environment", "message"),
    [
        (
            {"KAPMAN_MAX_REQUESTS_PER_MINUTE": "abc"},
            "error: KAPMAN_MAX_REQUESTS_PER_MINUTE='abc' is not a whole number",
        ),
        ({"DATABASE_URL": "garbage"}, "error: DATABASE_URL is not a PostgreSQL connection string"),
        ({"POLYGON_BASE_URL": "ftp://x"}, "error: POLYGON_BASE_URL must be an http:// or https:// URL"),
    ],
)
def test_garbage_in_the_environment_is_one_line_and_exit_2_from_every_command(environment, message):
    for module in (
        ["scripts.ingest_options", "--provider", "synthetic", "--as-of", "2025-12-09"],
        ["flows.dealer_metrics", "--as-of", "2025-12-09"],
        ["store", "url"],
    ):
        result = _run(module, environment)
        assert (result.returncode, result.stdout) == (2, ""), result.stderr
        assert result.stderr.splitlines() == [result.stderr.strip()] and result.stderr.startswith(message)
