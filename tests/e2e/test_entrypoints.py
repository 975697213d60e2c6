"""The documented commands, run as a user runs them: separate processes, real embedded PostgreSQL."""

import os
import subprocess
import sys
from pathlib import Path

import psycopg2
import pytest
from prefect.settings import PREFECT_API_URL

from tests.dbutil import chain_digest, count, ledger, seed_watchlist

ROOT = Path(__file__).resolve().parents[2]
SYMBOLS = ["AAPL", "SPY"]
RANGE = ["--start-date", "2025-12-09", "--end-date", "2025-12-22"]


def run(module: str, *argv: str, database_url: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": database_url, "PREFECT_API_URL": PREFECT_API_URL.value()}
    return subprocess.run(
        [sys.executable, "-m", module, *argv], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )


@pytest.fixture
def two_databases(make_database):
    urls = [make_database(), make_database()]
    for url in urls:
        connection = psycopg2.connect(url)
        seed_watchlist(connection, SYMBOLS)
        connection.close()
    return urls


def test_flows_backfill_and_the_legacy_cli_do_the_same_backfill(two_databases):
    flow_url, cli_url = two_databases
    by_flow = run("flows.backfill", *RANGE, "--provider", "synthetic", database_url=flow_url)
    by_cli = run(
        "scripts.ingest_options", "--provider", "synthetic", "--concurrency", "6", *RANGE, database_url=cli_url
    )
    assert by_flow.returncode == 0, by_flow.stderr
    assert by_cli.returncode == 0, by_cli.stderr
    expected = "days_attempted=10 succeeded=10 partial=0 failed=0 skipped=0"
    assert expected in by_flow.stdout and expected in by_cli.stdout
    contents = []
    for url in (flow_url, cli_url):
        connection = psycopg2.connect(url)
        contents.append((chain_digest(connection), [row[:2] + row[3:] for row in ledger(connection)]))
        connection.close()
    assert contents[0] == contents[1]
    assert len(contents[0][1]) == 10 * len(SYMBOLS)


def test_rerun_as_a_user_writes_zero_rows(two_databases):
    url = two_databases[0]
    assert run("flows.backfill", *RANGE, "--provider", "synthetic", database_url=url).returncode == 0
    again = run("flows.backfill", *RANGE, "--provider", "synthetic", database_url=url)
    assert again.returncode == 0
    assert "skipped=10 rows_written=0" in again.stdout


def test_flag_errors_exit_2_with_usage_and_write_nothing(two_databases):
    url = two_databases[0]
    result = run("scripts.ingest_options", "--as-of", "2025-12-09", *RANGE, "--provider", "synthetic", database_url=url)
    assert result.returncode == 2
    assert result.stderr.startswith("usage: python -m scripts.ingest_options")
    assert "--as-of cannot be combined" in result.stderr
    connection = psycopg2.connect(url)
    assert count(connection, "options_chains") == 0 and count(connection, "chain_snapshots") == 0
    connection.close()
