"""The deployments of prefect.yaml on a real Prefect server and process worker, run the README's way:
`prefect deployment run 'backfill-options/options-backfill' --param start_date=… --param end_date=…`."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

import psycopg2
import pytest

from tests.dbutil import contents, count
from tests.deploy.chromium import dump_dom, screenshot, visible_text
from tests.deploy.conftest import (
    BACKFILL,
    DAILY,
    DEALER,
    ROOT,
    RUN_LIST_SCREENSHOT,
    SCREENSHOT,
    TERMINAL,
    Deployed,
    wait_until,
)
from tests.fakes.massive import ChainSpec, FakeMassive
from tests.fakes.webhook import WebhookReceiver

SYMBOLS = ["AAPL", "1234", "SPY"]
START, END = "2025-12-09", "2025-12-12"
SESSIONS = ["2025-12-09", "2025-12-10", "2025-12-11", "2025-12-12"]


@dataclass(frozen=True)
class FinishedRun:
    flow_run: dict
    database_url: str
    # A secret the run was given (an API key), to check it never shows.
    secret: str = ""

    @property
    def id(self) -> str:
        return self.flow_run["id"]


@pytest.fixture(scope="module")
def synthetic_backfill(deployed: Deployed, package_database) -> FinishedRun:
    """One synthetic backfill through the deployment; `symbols` as JSON with a number in it."""
    url = package_database(SYMBOLS)
    flow_run = deployed.run_and_wait(
        BACKFILL,
        params={
            "start_date": START,
            "end_date": END,
            "provider": "synthetic",
            "symbols": '["AAPL", 1234]',
            "max_parallel_days": "2",
        },
        env={"DATABASE_URL": url},
    )
    return FinishedRun(flow_run=flow_run, database_url=url)


def test_backfill_deployment_runs_on_the_worker_and_publishes_one_row_per_session(deployed, synthetic_backfill):
    assert synthetic_backfill.flow_run["state_type"] == "COMPLETED", synthetic_backfill.flow_run["state"]
    artifacts = deployed.server.artifacts(synthetic_backfill.id)
    assert {"options-backfill-days", "options-backfill-summary", "options-backfill-progress"} <= set(artifacts)

    rows = json.loads(artifacts["options-backfill-days"]["data"])
    assert [row["session"] for row in rows] == SESSIONS
    for row in rows:
        assert row["status"] == "succeeded"
        assert row["snapshot_time"] == f"{row['session']}T23:59:59.999999+00:00"
        assert (row["symbols_ok"], row["symbols_failed"], row["symbols_skipped"]) == (2, 0, 0)
        assert row["rows"] > 0 and row["error"] == ""
        assert "seconds" in row
    assert artifacts["options-backfill-progress"]["data"] == 100.0
    summary = artifacts["options-backfill-summary"]["data"]
    assert "| 4 | 4 | 0 | 0 | 0 |" in summary and "SIMULATED" in summary

    # `1234` arrived as a JSON number and was ingested as the symbol "1234"; SPY was not asked for.
    _, ledger_rows = contents(synthetic_backfill.database_url)
    assert {row[0] for row in ledger_rows} == {"AAPL", "1234"}

    # Our START/END/SUMMARY lines reach the run's log in the UI, not only Prefect's own (the flow-run
    # process ships its last log batch as it exits, a moment after the run turned Completed).
    def our_lines() -> list[str]:
        messages = [log["message"] for log in deployed.server.logs(synthetic_backfill.id)]
        return [message for message in messages if message.startswith(("START session=", "SUMMARY provider="))]

    lines = wait_until(lambda: len(our_lines()) == 5 and our_lines(), timeout=30, what="the run's START/SUMMARY logs")
    assert any(line.startswith("SUMMARY provider=synthetic") for line in lines)


def test_the_cli_and_the_deployment_write_identical_rows_and_ledger(deployed, synthetic_backfill, package_database):
    url = package_database(SYMBOLS)
    by_cli = subprocess.run(
        [sys.executable, "-m", "flows.backfill", "--start-date", START, "--end-date", END]
        + ["--provider", "synthetic", "--symbols", "AAPL,1234"],
        cwd=ROOT,
        env={**deployed.server.env, "DATABASE_URL": url},
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert by_cli.returncode == 0, by_cli.stderr
    assert "days_attempted=4 succeeded=4" in by_cli.stdout
    assert contents(url) == contents(synthetic_backfill.database_url)
    assert len(contents(url)[1]) == 2 * len(SESSIONS)


@pytest.fixture(scope="module")
def alerts(deployed: Deployed) -> Iterator[WebhookReceiver]:
    """The README's notification setup: a block named kapman-alerts (here a custom webhook posting to a
    loopback receiver) and prefect.yaml's automations installed with `python -m scripts.automations`."""
    with WebhookReceiver() as receiver:
        block = deployed.server.python(
            "import sys; from prefect.blocks.notifications import CustomWebhookNotificationBlock as Block; "
            "Block(name='kapman', url=sys.argv[1], json_data={'subject': '{{subject}}', 'body': '{{body}}'}, "
            "allow_private_urls=True).save('kapman-alerts', overwrite=True)",
            receiver.base_url,
        )
        assert block.returncode == 0, block.stderr
        installed = deployed.server.python(
            "import sys; from scripts.automations import main; sys.exit(main(sys.argv[1:]))",
            "--block",
            "custom-webhook/kapman-alerts",
            "--enable",
        )
        assert installed.returncode == 0, installed.stderr
        assert "automation 'kapman-run-needs-attention'" in installed.stdout and "enabled" in installed.stdout
        yield receiver


@pytest.fixture(scope="module")
def partial_backfill(deployed: Deployed, package_database, alerts: WebhookReceiver) -> FinishedRun:
    """A polygon backfill whose last session the source has not published: 3 days done, 1 failed."""
    url = package_database(["AAPL", "KO"])
    # The fake has history through 2025-12-11 only: 2025-12-12 is "not published yet" for polygon.
    with FakeMassive(published_through=date(2025, 12, 11)) as fake:
        fake.add_chain(ChainSpec("AAPL", contracts=20))
        fake.add_chain(ChainSpec("KO", contracts=20))
        flow_run = deployed.run_and_wait(
            BACKFILL,
            params={"start_date": START, "end_date": END, "provider": "polygon", "day_retries": "1"},
            env={"DATABASE_URL": url, "POLYGON_BASE_URL": fake.base_url, "POLYGON_API_KEY": fake.api_key},
        )
        api_key = fake.api_key
    return FinishedRun(flow_run=flow_run, database_url=url, secret=api_key)


def test_a_failed_day_leaves_the_run_completed_with_its_error_and_a_rerun_command(deployed, partial_backfill):
    flow_run = partial_backfill.flow_run
    assert flow_run["state_type"] == "COMPLETED", flow_run["state"]
    # ... under its own name, so the run list shows it; the message names the day to re-run.
    assert flow_run["state"]["name"] == "Partial" and "2025-12-12" in flow_run["state"]["message"]
    artifacts = deployed.server.artifacts(flow_run["id"])
    rows = {row["session"]: row for row in json.loads(artifacts["options-backfill-days"]["data"])}
    assert [rows[day]["status"] for day in SESSIONS] == ["succeeded", "succeeded", "succeeded", "failed"]
    assert "2025-12-12" in rows["2025-12-12"]["error"] and "not published" in rows["2025-12-12"]["error"]
    assert rows["2025-12-12"]["symbols_failed"] == 2 and rows["2025-12-12"]["rows"] == 0
    assert partial_backfill.secret not in json.dumps(rows)

    summary = artifacts["options-backfill-summary"]["data"]
    assert "## Days to re-run" in summary
    rerun = [line for line in summary.splitlines() if line.startswith("python -m scripts.ingest_options")]
    assert rerun == ["python -m scripts.ingest_options --provider polygon --as-of 2025-12-12"]
    # The window's heatmap is shown inline: 2 symbols × 4 sessions, the last row missing.
    assert "data:image/png;base64," in artifacts["options-backfill-coverage-map"]["data"]


def test_a_partial_run_reaches_a_person_through_the_installed_automation(partial_backfill, alerts):
    name = partial_backfill.flow_run["name"]
    notice = alerts.wait_for(lambda payload: isinstance(payload, dict) and name in payload["subject"], timeout=120)
    assert notice["subject"] == f"kapman-options: {name} ended Partial"
    assert "2025-12-12" in notice["body"] and partial_backfill.id in notice["body"]
    assert partial_backfill.secret not in json.dumps(alerts.received)


def test_the_run_list_shows_the_partial_run_by_its_state_name(deployed, partial_backfill, chromium):
    page = f"{deployed.server.url}/v2/runs"
    text = visible_text(dump_dom(chromium, page))
    assert partial_backfill.flow_run["name"] in text and "Partial" in text
    screenshot(chromium, page, RUN_LIST_SCREENSHOT)
    assert RUN_LIST_SCREENSHOT.stat().st_size > 20_000


def test_every_day_failing_fails_the_flow_run(deployed, package_database):
    url = package_database(["AAPL"])
    with FakeMassive(published_through=date(2025, 12, 1)) as fake:
        fake.add_chain(ChainSpec("AAPL", contracts=20))
        flow_run = deployed.run_and_wait(
            BACKFILL,
            params={"start_date": "2025-12-11", "end_date": END, "provider": "polygon"},
            env={"DATABASE_URL": url, "POLYGON_BASE_URL": fake.base_url, "POLYGON_API_KEY": fake.api_key},
        )
    assert flow_run["state_type"] == "FAILED"
    assert "every day failed (2 of 2)" in flow_run["state"]["message"]


def test_a_parameter_that_is_not_a_date_is_refused_before_any_run(deployed):
    refused = deployed.run(BACKFILL, params={"start_date": "20251209", "end_date": END}, check=False)
    assert refused.returncode != 0
    assert "start_date" in refused.stdout + refused.stderr


def test_a_bad_symbol_fails_the_run_with_the_reason(deployed, package_database):
    flow_run = deployed.run_and_wait(
        BACKFILL,
        params={"start_date": START, "end_date": END, "provider": "synthetic", "symbols": "AAPL,BRK B!"},
        env={"DATABASE_URL": package_database(SYMBOLS)},
    )
    assert flow_run["state_type"] == "FAILED"
    assert "symbols" in flow_run["state"]["message"] and "invalid symbol 'B!'" in flow_run["state"]["message"]


def test_a_completed_daily_run_triggers_dealer_metrics_on_the_same_database(deployed):
    """The nightly pair as scheduled: both runs take the database from the worker's environment."""
    server = deployed.server
    daily = deployed.run_and_wait(DAILY, params={"provider": "synthetic"}, env={})
    assert daily["state_type"] == "COMPLETED", daily["state"]

    def dealer_run_finished() -> dict | None:
        runs = [run for run in server.flow_runs_of(DEALER) if run["created"] > daily["created"]]
        return runs[0] if runs and runs[0]["state_type"] in TERMINAL else None

    dealer = wait_until(dealer_run_finished, timeout=120, interval=0.5, what="the triggered dealer-metrics run")
    assert dealer["state_type"] == "COMPLETED", dealer["state"]
    connection = psycopg2.connect(deployed.worker_database_url)
    try:
        assert count(connection, "daily_snapshots") == 2  # AAPL and SPY, the worker database's watchlist
    finally:
        connection.close()


def test_the_ui_shows_the_finished_run_with_its_summary_artifact(deployed, synthetic_backfill, chromium):
    page = f"{deployed.server.url}/v2/runs/flow-run/{synthetic_backfill.id}?tab=Artifacts"
    text = visible_text(dump_dom(chromium, page))
    assert synthetic_backfill.flow_run["name"] in text
    assert "options-backfill-summary" in text and "options-backfill-days" in text
    assert "SUMMARY provider=synthetic" in text
    screenshot(chromium, page, SCREENSHOT)
    assert SCREENSHOT.stat().st_size > 20_000
