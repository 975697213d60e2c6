"""The pipeline against a database the trading system built: its schema, its commands, its daily rows.

The schema is tests/compat/trader_schema.sql (TimescaleDB statements run only where the extension is
installed). Everything here runs through the same entry points its cron scripts use.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import psycopg2
import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterTags

from providers.registry import register_provider, unregister_provider
from scripts.dealer_metrics import main as dealer_main
from scripts.ingest_options import main
from store.__main__ import main as store_main
from store.migrations import migrate
from tests.doubles import RecordingProvider, TinyChainProvider, registered

SYMBOLS = ["AAPL", "SPY"]
RANGE = ["--start-date", "2025-12-09", "--end-date", "2025-12-22"]
THEIR_TABLES = ("tickers", "watchlists", "options_chains", "ohlcv", "daily_snapshots", "recommendations")
NEW_YORK = ZoneInfo("America/New_York")


def new_york_end_of(session: date) -> datetime:
    return datetime.combine(session, time(23, 59, 59, 999999), tzinfo=NEW_YORK)


def query(connection, sql: str, params: tuple = ()) -> list[tuple]:  # noqa: ANN001
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall() if cursor.description is not None else []


def shape(connection) -> dict[str, list[tuple]]:  # noqa: ANN001
    """Columns (with types, nullability, defaults), constraints and indexes of their tables."""
    return {
        table: query(
            connection,
            "SELECT column_name, data_type, is_nullable, column_default FROM information_schema.columns "
            "WHERE table_name = %s ORDER BY ordinal_position",
            (table,),
        )
        + query(
            connection,
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s::regclass "
            "ORDER BY conname",
            (table,),
        )  # fmt: skip
        + query(
            connection, "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s ORDER BY indexname", (table,)
        )
        for table in THEIR_TABLES
    }


def ticker_id(connection, symbol: str) -> str:  # noqa: ANN001
    """A ticker row as that system's own loader creates it (no created_at, its uuid default)."""
    query(connection, "INSERT INTO tickers (symbol) VALUES (%s) ON CONFLICT (symbol) DO NOTHING", (symbol,))
    return query(connection, "SELECT id::text FROM tickers WHERE symbol = %s", (symbol,))[0][0]


@pytest.fixture
def recording():
    provider = RecordingProvider(TinyChainProvider(), name="recording")
    with registered(provider):
        yield provider


@pytest.fixture
def watchlist(trader_db):
    assert store_main(["watchlist", "add", *SYMBOLS]) == 0
    return SYMBOLS


def test_migrations_add_only_what_the_project_owns_and_alter_nothing_of_theirs(trader_db):
    before = shape(trader_db)
    assert store_main(["migrate"]) == 0
    assert shape(trader_db) == before
    tables = {row[0] for row in query(trader_db, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
    assert tables == {*THEIR_TABLES, "chain_snapshots", "schema_migrations"}


def test_watchlist_add_load_and_show_fill_what_their_schema_requires(trader_db, tmp_path, capsys):
    listing = tmp_path / "nightly.txt"
    listing.write_text("QQQ\n# index ETFs\nIWM\n")
    assert store_main(["watchlist", "add", "NVDA"]) == 0
    assert store_main(["watchlist", "load", str(listing)]) == 0
    assert store_main(["watchlist", "show"]) == 0
    rows = query(trader_db, "SELECT symbol, source, effective_date FROM watchlists ORDER BY symbol")
    today = query(trader_db, "SELECT current_date")[0][0]
    assert rows == [
        ("IWM", "file:nightly.txt", today),
        ("NVDA", "cli", today),
        ("QQQ", "file:nightly.txt", today),
    ]
    shown = capsys.readouterr().out
    assert all(symbol in shown for symbol in ("IWM", "NVDA", "QQQ"))


def test_backfill_rerun_and_dealer_metrics_leave_the_other_jobs_columns_alone(trader_db, watchlist, recording, capsys):
    # Another job of that system already wrote SPY's daily row for the last session.
    spy = ticker_id(trader_db, "SPY")
    theirs = new_york_end_of(date(2025, 12, 22))
    technical, price = {"rsi_14": 61.2}, {"close": 601.5}
    written_at = datetime(2025, 12, 23, 6, 0, tzinfo=UTC)
    query(
        trader_db,
        "INSERT INTO daily_snapshots (time, ticker_id, wyckoff_phase, technical_indicators_json, "
        "price_metrics_json, model_version, created_at) VALUES (%s, %s, 'C', %s, %s, 'A3-dealer-metrics-v2', %s)",
        (theirs, spy, json.dumps(technical), json.dumps(price), written_at),
    )

    assert main(["--provider", "recording", "--concurrency", "4", *RANGE]) == 0
    assert "days_attempted=10 succeeded=10" in capsys.readouterr().out
    assert len(recording.calls) == 10 * len(SYMBOLS)
    assert query(trader_db, "SELECT count(*) FROM chain_snapshots")[0][0] == 10 * len(SYMBOLS)
    chain_rows, stamped = query(trader_db, "SELECT count(*), count(created_at) FROM options_chains")[0]
    assert chain_rows > 0 and stamped == chain_rows
    assert query(trader_db, "SELECT count(*) FROM tickers WHERE created_at IS NULL")[0][0] == 1  # their SPY row
    assert query(trader_db, "SELECT count(*), count(created_at) FROM ohlcv")[0] == (20, 20)

    recording.calls.clear()
    assert main(["--provider", "recording", "--concurrency", "4", *RANGE]) == 0
    assert "skipped=10 rows_written=0" in capsys.readouterr().out
    assert recording.calls == []
    assert query(trader_db, "SELECT count(*) FROM options_chains")[0][0] == chain_rows

    assert dealer_main(["--start-date", "2025-12-16", "--end-date", "2025-12-22", "--lookback-sessions", "5"]) == 0
    assert "ticker_days=10 " in (out := capsys.readouterr().out) and "ERROR=0 MISSING_HISTORY=0" in out
    rows = query(
        trader_db,
        "SELECT t.symbol, d.time, d.dealer_metrics_json->>'history_status' FROM daily_snapshots d "
        "JOIN tickers t ON t.id = d.ticker_id ORDER BY 1, 2",
    )
    expected_times = [new_york_end_of(day) for day in (date(2025, 12, day) for day in (16, 17, 18, 19, 22))]
    assert [(symbol, stamp) for symbol, stamp, _ in rows] == [
        (symbol, stamp) for symbol in SYMBOLS for stamp in expected_times
    ]  # one row per ticker-day, at their identity: no orphan second row
    assert {status for _, _, status in rows} == {"COMPLETE"}
    [(phase, stored_technical, stored_price, created, dealer, model)] = query(
        trader_db,
        "SELECT wyckoff_phase, technical_indicators_json, price_metrics_json, created_at, dealer_metrics_json, "
        "model_version FROM daily_snapshots WHERE time = %s AND ticker_id = %s",
        (theirs, spy),
    )
    assert (phase, stored_technical, stored_price, created) == ("C", technical, price, written_at)
    assert dealer["symbol"] == "SPY" and model == "dealer-v2"


def test_a_named_database_defaults_to_unicorn_never_to_simulated_data(trader_db, watchlist, capsys):
    # No token in the environment: the default provider is unicorn, which asks for one (one line, exit 2).
    assert main(["--as-of", "2025-12-09"]) == 2
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("error: unicorn needs an API token")
    assert query(trader_db, "SELECT count(*) FROM options_chains")[0][0] == 0


def test_its_cron_flags_db_url_run_id_emit_summary_and_quiet(
    trader_db, trader_url, watchlist, recording, monkeypatch, capsys
):
    monkeypatch.delenv("DATABASE_URL")
    argv = ["--db-url", trader_url, "--provider", "recording", "--as-of", "2025-12-09"]
    assert main([*argv, "--run-id", "nightly-42", "--emit-summary", "--quiet"]) == 0
    out, err = capsys.readouterr()
    records = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert [record["event"] for record in records] == ["day_summary", "run_summary"]
    assert records[0]["session"] == "2025-12-09" and records[0]["status"] == "succeeded"
    assert records[1]["days_succeeded"] == 1 and records[1]["rows_written"] == records[0]["rows"] > 0
    assert {record["run_id"] for record in records} == {"nightly-42"}
    assert "run_id=nightly-42" in out.splitlines()[-1]  # the SUMMARY line
    assert "START session" not in err  # --quiet: warnings only
    with get_client(sync_client=True) as client:
        [run] = client.read_flow_runs(flow_run_filter=FlowRunFilter(tags=FlowRunFilterTags(all_=["run-id:nightly-42"])))
    assert run.name == "ingest-2025-12-09-nightly-42"


def test_run_id_labels_every_log_line_of_the_run(trader_db, watchlist, recording, caplog):
    caplog.set_level("INFO", logger="kapman")
    assert main(["--provider", "recording", "--as-of", "2025-12-10", "--run-id", "backfill-7"]) == 0
    ours = [record.getMessage() for record in caplog.records if record.name.startswith("kapman")]
    assert ours and all(message.endswith("run_id=backfill-7") for message in ours)


def test_verbose_is_debug(trader_db, watchlist, recording):
    assert main(["--provider", "recording", "--as-of", "2025-12-10", "--verbose"]) == 0
    assert logging.getLogger("kapman").level == logging.DEBUG


def test_a_snapshot_time_without_offset_is_utc(trader_db, watchlist, recording):
    assert main(["--provider", "recording", "--as-of", "2025-12-10", "--snapshot-time", "2025-12-10T21:00:00"]) == 0
    stamps = query(trader_db, "SELECT DISTINCT time FROM chain_snapshots")
    assert stamps == [(datetime(2025, 12, 10, 21, 0, tzinfo=UTC),)]


def test_api_key_reaches_the_provider_and_nothing_else(trader_db, watchlist, monkeypatch, capsys, caplog):
    key = "cron-key-7f3a9b"
    seen: list[str | None] = []

    def keyed(settings):  # noqa: ANN001, ANN202
        seen.append(settings.api_key)
        return TinyChainProvider()

    register_provider("keyed", keyed)
    try:
        assert main(["--provider", "keyed", "--as-of", "2025-12-11", "--api-key", key]) == 0
    finally:
        unregister_provider("keyed")
    assert seen == [key]
    out, err = capsys.readouterr()
    assert key not in out + err + caplog.text
    assert query(trader_db, "SELECT count(*) FROM chain_snapshots WHERE provider::text LIKE %s", (f"%{key}%",)) == [
        (0,)
    ]


def test_dealer_rows_at_the_old_identity_move_to_theirs_merging_into_an_existing_row(trader_db, trader_url):
    assert store_main(["migrate"]) == 0
    spy, aapl = ticker_id(trader_db, "SPY"), ticker_id(trader_db, "AAPL")
    session = date(2025, 12, 9)
    old = datetime.combine(session, time(23, 59, 59, 999999), tzinfo=UTC)
    query(
        trader_db,
        "INSERT INTO daily_snapshots (time, ticker_id, technical_indicators_json) VALUES (%s, %s, %s)",
        (new_york_end_of(session), spy, json.dumps({"rsi_14": 40.0})),
    )
    for ticker in (spy, aapl):
        query(
            trader_db,
            "INSERT INTO daily_snapshots (time, ticker_id, dealer_metrics_json, model_version) VALUES (%s, %s, %s, %s)",
            (old, ticker, json.dumps({"gex_net": 1.0}), "dealer-v1"),
        )
    query(trader_db, "DELETE FROM schema_migrations WHERE version = '0003_daily_snapshot_identity'")

    connection = psycopg2.connect(trader_url)
    assert migrate(connection) == ["0003_daily_snapshot_identity"]
    connection.close()

    rows = query(
        trader_db,
        "SELECT t.symbol, d.time, d.technical_indicators_json, d.dealer_metrics_json, d.model_version "
        "FROM daily_snapshots d JOIN tickers t ON t.id = d.ticker_id ORDER BY 1",
    )
    assert rows == [
        ("AAPL", new_york_end_of(session), None, {"gex_net": 1.0}, "dealer-v1"),
        ("SPY", new_york_end_of(session), {"rsi_14": 40.0}, {"gex_net": 1.0}, "dealer-v1"),
    ]


def test_their_rows_read_back_and_export_unlabelled_and_their_daily_rows_are_not_dealer_metrics(
    trader_db, tmp_path, capsys
):
    import csv
    from decimal import Decimal

    import kapman

    spy = ticker_id(trader_db, "SPY")
    stamp = datetime(2025, 12, 9, 23, 59, 59, 999999, tzinfo=UTC)
    # Their own loader's rows: no ledger row, `created_at` filled, a strike with all four decimals.
    query(
        trader_db,
        "INSERT INTO options_chains (time, ticker_id, expiration_date, strike_price, option_type, bid, volume, "
        "created_at) VALUES (%s, %s, '2026-01-16', 601.1250, 'C', 2.35, NULL, now()), "
        "(%s, %s, '2026-01-16', 601.1250, 'P', NULL, 7, now())",
        (stamp, spy, stamp, spy),
    )
    query(
        trader_db,
        "INSERT INTO daily_snapshots (time, ticker_id, technical_indicators_json, created_at) "
        "VALUES (%s, %s, %s, now())",
        (new_york_end_of(date(2025, 12, 9)), spy, json.dumps({"rsi_14": 55.0})),
    )

    assert store_main(["export", "--start-date", "2025-12-09", "--end-date", "2025-12-09", "--format", "csv",
                       "--out", str(tmp_path)]) == 0  # fmt: skip
    assert "1 sessions, 2 chain rows" in capsys.readouterr().out
    with (tmp_path / "session=2025-12-09" / "options_chains.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [(row["strike_price"], row["option_type"], row["bid"], row["volume"]) for row in rows] == [
        ("601.1250", "C", "2.35", ""),
        ("601.1250", "P", "", "7"),
    ]
    assert {(row["provider"], row["simulated"]) for row in rows} == {("", "")}
    assert not (tmp_path / "session=2025-12-09" / "chain_snapshots.csv").exists()  # no ledger row, no file

    frame = kapman.read_chain("SPY", "2025-12-09")
    assert list(frame["strike_price"]) == [Decimal("601.1250")] * 2
    assert frame["provider"].isna().all() and frame["simulated"].isna().all()
    assert kapman.read_dealer_metrics("SPY", "2025-12-09", "2025-12-09").empty
