"""The backfill and single-day flows end to end: CLI → Prefect flow → ingest_day → PostgreSQL."""

import base64
import json
import logging
import re
from datetime import date, timedelta

import psycopg2
import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

from flows.backfill import backfill_options
from markets.calendar import get_calendar, latest_completed_session
from markets.snapshot import snapshot_time_for
from providers.base import TransientProviderError
from scripts.ingest_options import main
from tests.dbutil import chain_digest, count, ledger, rows_per_snapshot, seed_watchlist
from tests.doubles import FailingProvider, RecordingProvider, TinyChainProvider, registered

SYMBOLS = ["AAPL", "QQQ", "SPY"]
RANGE = ["--start-date", "2025-12-09", "--end-date", "2025-12-22"]
RANGE_SESSIONS = get_calendar("XNYS").sessions(date(2025, 12, 9), date(2025, 12, 22))


@pytest.fixture
def watchlist(db):
    seed_watchlist(db, SYMBOLS)
    return SYMBOLS


@pytest.fixture
def recording():
    provider = RecordingProvider(TinyChainProvider(), name="recording")
    with registered(provider):
        yield provider


def run_cli(*argv: str) -> int:
    return main(list(argv), prog="python -m scripts.ingest_options")


def test_range_runs_the_single_day_ingest_once_per_session_in_order(db, watchlist, recording):
    assert len(RANGE_SESSIONS) == 10
    assert run_cli(*RANGE, "--provider", "recording", "--concurrency", "1") == 0
    assert recording.sessions == RANGE_SESSIONS
    assert sorted(recording.calls) == sorted((symbol, day) for day in RANGE_SESSIONS for symbol in SYMBOLS)
    stored_times = {stamp for stamp, _ in rows_per_snapshot(db)}
    assert stored_times == {snapshot_time_for(day).strftime("%Y-%m-%dT%H:%M:%S.%f") for day in RANGE_SESSIONS}


def test_flow_returns_one_report_per_session_with_its_own_snapshot_time(db, watchlist, recording):
    summary = backfill_options(
        start_date=date(2025, 12, 9), end_date=date(2025, 12, 12), provider="recording", day_retries=0
    )
    assert [day.session for day in summary.days] == RANGE_SESSIONS[:4]
    assert [day.snapshot_time for day in summary.days] == [snapshot_time_for(day) for day in RANGE_SESSIONS[:4]]
    assert summary.days_succeeded == 4
    assert summary.rows_written == count(db, "options_chains") > 0
    per_day: dict[str, int] = {}
    for (stamp, _), rows in rows_per_snapshot(db).items():
        per_day[stamp[:10]] = per_day.get(stamp[:10], 0) + rows
    assert {day.session.isoformat(): day.rows_written for day in summary.days} == per_day


def test_rerunning_the_range_writes_nothing_and_asks_the_provider_nothing(db, watchlist, recording):
    assert run_cli(*RANGE, "--provider", "recording") == 0
    first_rows, first_ledger = rows_per_snapshot(db), ledger(db)
    first_digest = chain_digest(db)
    recording.calls.clear()
    assert run_cli(*RANGE, "--provider", "recording") == 0
    assert recording.calls == []
    assert rows_per_snapshot(db) == first_rows
    assert ledger(db) == first_ledger
    assert chain_digest(db) == first_digest


def test_a_failing_day_does_not_stop_the_range(db, watchlist, capsys):
    bad_day = date(2025, 12, 11)
    provider = FailingProvider(
        TinyChainProvider(),
        should_fail=lambda symbol, session: session == bad_day,
        error=lambda symbol, session: TransientProviderError("HTTP 503 from upstream"),
    )
    with registered(provider):
        code = run_cli(*RANGE, "--provider", "failing", "--day-retries", "0")
    assert code == 0
    stored_days = {stamp[:10] for stamp, _ in rows_per_snapshot(db)}
    assert stored_days == {day.isoformat() for day in RANGE_SESSIONS if day != bad_day}
    out = capsys.readouterr().out
    assert "days_attempted=10 succeeded=9 partial=0 failed=1 skipped=0" in out


def test_exit_code_is_1_only_when_every_day_failed(db, watchlist, capsys):
    provider = FailingProvider(
        TinyChainProvider(),
        should_fail=lambda symbol, session: True,
        error=lambda symbol, session: TransientProviderError("HTTP 503 from upstream"),
    )
    with registered(provider):
        code = run_cli(
            "--start-date", "2025-12-09", "--end-date", "2025-12-10", "--provider", "failing", "--day-retries", "0"
        )
    assert code == 1
    assert "days_attempted=2 succeeded=0 partial=0 failed=2" in capsys.readouterr().out
    assert count(db, "options_chains") == 0


def test_a_transient_failure_is_retried_by_prefect_and_the_day_completes(db, watchlist):
    attempts: list[str] = []

    def first_attempt_fails(symbol: str, session: date) -> bool:
        attempts.append(symbol)
        return symbol == "QQQ" and attempts.count("QQQ") == 1

    provider = FailingProvider(
        TinyChainProvider(),
        should_fail=first_attempt_fails,
        error=lambda symbol, session: TransientProviderError("connection reset"),
    )
    with registered(provider):
        summary = backfill_options(
            start_date=date(2025, 12, 9),
            end_date=date(2025, 12, 9),
            provider="failing",
            day_retries=1,
            retry_delay_seconds=0.0,
        )
    assert summary.days_succeeded == 1
    assert attempts.count("QQQ") == 2
    assert attempts.count("SPY") == 1  # the retry only redid what was incomplete
    assert {symbol for _, symbol in rows_per_snapshot(db)} == set(SYMBOLS)


def test_progress_is_logged_range_days_heartbeat_and_summary(db, watchlist, recording, caplog):
    caplog.set_level(logging.INFO, logger="kapman")
    assert (
        run_cli("--start-date", "2025-12-09", "--end-date", "2025-12-10", "--provider", "recording", "--heartbeat", "2")
        == 0
    )
    messages = [record.getMessage() for record in caplog.records if record.name.startswith("kapman")]
    assert "RANGE start=2025-12-09 end=2025-12-10 calendar=XNYS sessions=2" in messages
    for day in ("2025-12-09", "2025-12-10"):
        assert any(message.startswith(f"START session={day}") for message in messages)
        assert any(message.startswith(f"END session={day} status=succeeded") for message in messages)
        assert sum(message.startswith(f"heartbeat session={day}") for message in messages) == 2
    summary = [message for message in messages if message.startswith("SUMMARY")]
    assert len(summary) == 1
    assert "days_attempted=2 succeeded=2 partial=0 failed=0 skipped=0" in summary[0]
    assert f"rows_written={count(db, 'options_chains')}" in summary[0]


def test_the_flow_writes_a_table_artifact_with_one_row_per_session(db, watchlist, recording, chart_dir):
    summary = backfill_options(start_date=date(2025, 12, 9), end_date=date(2025, 12, 10), provider="recording")
    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["options-backfill-days"]))
        )
    latest = max(artifacts, key=lambda artifact: artifact.created)
    table = json.loads(latest.data) if isinstance(latest.data, str) else latest.data
    assert [row["session"] for row in table] == ["2025-12-09", "2025-12-10"]
    assert [row["status"] for row in table] == ["succeeded", "succeeded"]
    assert sum(row["rows"] for row in table) == summary.rows_written == count(db, "options_chains")
    # The window's coverage (from the ledger) is published beside it.
    with get_client(sync_client=True) as client:
        [coverage] = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["options-backfill-coverage"])),
            sort="CREATED_DESC",
            limit=1,
        )
    grid = json.loads(coverage.data) if isinstance(coverage.data, str) else coverage.data
    assert grid == [
        {"session": day, **{symbol: "recording (SIMULATED)" for symbol in SYMBOLS}}
        for day in ("2025-12-09", "2025-12-10")
    ]
    assert coverage.description.endswith("nothing missing")
    # ... and as a heatmap: a PNG under the chart directory, shown inline by a markdown artifact.
    with get_client(sync_client=True) as client:
        [coverage_map] = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["options-backfill-coverage-map"])),
            sort="CREATED_DESC",
            limit=1,
        )
    png = chart_dir / "coverage" / "options-backfill-2025-12-09-2025-12-10.png"
    assert str(png) in coverage_map.description
    inline = re.search(r"data:image/png;base64,([A-Za-z0-9+/=]+)\)", coverage_map.data)
    assert inline and base64.b64decode(inline.group(1)) == png.read_bytes()
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5_000


def test_as_of_alone_is_exactly_one_day_of_a_range(make_database, monkeypatch, recording):
    digests = []
    for argv in (["--as-of", "2025-12-10"], ["--start-date", "2025-12-10", "--end-date", "2025-12-10"]):
        url = make_database()
        monkeypatch.setenv("DATABASE_URL", url)
        connection = psycopg2.connect(url)
        seed_watchlist(connection, SYMBOLS)
        assert run_cli(*argv, "--provider", "recording") == 0
        digests.append((chain_digest(connection), [row[:4] for row in ledger(connection)]))
        connection.close()
    assert digests[0] == digests[1]
    assert len(digests[0][1]) == len(SYMBOLS)


def test_without_dates_the_latest_completed_session_is_ingested(db, watchlist, recording):
    assert run_cli("--provider", "recording") == 0
    assert recording.sessions == [latest_completed_session(get_calendar("XNYS"))]


def test_a_range_without_sessions_warns_and_exits_0(db, watchlist, recording, caplog):
    caplog.set_level(logging.INFO, logger="kapman")
    assert run_cli("--start-date", "2025-12-27", "--end-date", "2025-12-28", "--provider", "recording") == 0
    assert recording.calls == []
    assert any("no XNYS session" in record.getMessage() for record in caplog.records)


def test_dry_run_prints_the_plan_and_fetches_nothing(db, watchlist, recording, caplog):
    caplog.set_level(logging.INFO, logger="kapman")
    assert run_cli(*RANGE, "--provider", "recording", "--dry-run") == 0
    assert recording.calls == []
    assert count(db, "options_chains") == 0
    messages = [record.getMessage() for record in caplog.records]
    plan_lines = [message for message in messages if message.startswith("PLAN session=") and "to_fetch=" in message]
    assert len(plan_lines) == 10
    assert "to_fetch=3" in plan_lines[0]
    listing = [message for message in messages if message.startswith("PLAN session=") and " fetch=" in message]
    assert listing[0] == "PLAN session=2025-12-09 fetch=AAPL,QQQ,SPY kept=-"


@pytest.mark.parametrize(
    ("setup", "argv", "message"),
    [
        ("watchlist", ["--provider", "nosuch"], "unknown provider 'nosuch'"),
        ("empty", ["--provider", "recording"], "no active symbols"),
        ("unreachable", ["--provider", "recording"], "cannot connect to postgresql://kapman:***@127.0.0.1:1/x"),
        ("watchlist", [], "unicorn needs an API token: pass --api-key or set UNICORN_API_TOKEN"),
        ("watchlist", ["--provider", "recording", "--calendar", "MOON"], "unknown calendar"),
    ],
)
def test_unusable_runs_fail_with_one_clear_line_and_write_nothing(
    setup, argv, message, db, recording, monkeypatch, capsys
):
    if setup == "watchlist":
        seed_watchlist(db, SYMBOLS)
    if setup == "unreachable":
        monkeypatch.setenv("DATABASE_URL", "postgresql://kapman:secret@127.0.0.1:1/x")
    code = run_cli(*RANGE, *argv)
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1
    assert err.startswith("error: ") and message in err
    assert "secret" not in err
    assert recording.calls == []
    assert count(db, "options_chains") == 0 and count(db, "chain_snapshots") == 0


def test_a_range_with_failed_days_ends_in_a_completed_state_named_partial_naming_them(db, watchlist):
    bad_days = {date(2025, 12, 11), date(2025, 12, 16)}
    provider = FailingProvider(
        TinyChainProvider(),
        should_fail=lambda symbol, session: session in bad_days,
        error=lambda symbol, session: TransientProviderError("HTTP 503 from upstream"),
    )
    with registered(provider):
        partial = backfill_options(
            start_date=date(2025, 12, 9), end_date=date(2025, 12, 22), provider="failing", day_retries=0,
            return_state=True,
        )  # fmt: skip
    with registered(RecordingProvider(TinyChainProvider(), name="failing")):
        clean = backfill_options(start_date=date(2025, 12, 9), end_date=date(2025, 12, 22), provider="failing",
                                 return_state=True)  # fmt: skip
    with get_client(sync_client=True) as client:
        stored = [client.read_flow_run(state.state_details.flow_run_id).state for state in (partial, clean)]
    assert [(state.type.value, state.name) for state in stored] == [
        ("COMPLETED", "Partial"),
        ("COMPLETED", "Completed"),
    ]
    assert stored[0].message == "2 of 10 days failed or partial: 2025-12-11, 2025-12-16"
    assert partial.result().days_failed == 2 and clean.result().days_skipped == 8  # the re-run fills the gaps


def test_sessions_of_the_range_that_have_not_closed_are_reported_not_yet_available_not_failed(db, watchlist, recording):
    calendar = get_calendar("XNYS")
    latest = latest_completed_session(calendar)
    end = latest + timedelta(days=10)
    future = [session for session in calendar.sessions(latest, end) if session > latest]
    state = backfill_options(start_date=latest, end_date=end, provider="recording", return_state=True)
    summary = state.result()
    assert state.name == "Completed"  # nothing failed
    assert (summary.days_attempted, summary.days_succeeded, summary.days_failed) == (1, 1, 0)
    assert summary.days_not_yet_available == len(future) > 0
    assert [day.session for day in summary.days if day.status == "not_yet_available"] == future
    assert recording.sessions == [latest]  # the provider was never asked for an unclosed session
    assert f"not_yet_available={len(future)}" in summary.line()
