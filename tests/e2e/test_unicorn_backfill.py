"""The unicorn (EODHD) provider through the whole pipeline: CLI → Prefect flow → ingest_day →
UnicornProvider → loopback fake of the Unicorn Bay API → PostgreSQL.

`--provider unicorn` is built from UNICORN_API_TOKEN / UNICORN_BASE_URL with the real clock (today is
long after 2025-12-22, so the range is all past sessions, rebuilt from /eod rows). Where a test needs
the current session, it registers a UnicornProvider with a pinned clock (2025-12-24 06:00 UTC,
after EODHD's nightly update of 2025-12-23).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import UTC, date, datetime

import psycopg2
import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

from flows.dealer_metrics import dealer_metrics
from markets.calendar import get_calendar
from markets.snapshot import snapshot_time_for
from providers.http import HttpSettings
from providers.registry import register_provider, unregister_provider
from providers.unicorn import CONTRACTS_PATH, EOD_PATH, UnicornProvider
from scripts.ingest_options import main
from tests.dbutil import chain_digest, count, ledger, rows_per_snapshot, seed_watchlist
from tests.fakes.unicorn import FakeUnicorn, UnicornChain

NOW = datetime(2025, 12, 24, 6, 0, tzinfo=UTC)
CURRENT = date(2025, 12, 23)
RANGE_SESSIONS = get_calendar("XNYS").sessions(date(2025, 12, 9), date(2025, 12, 22))
STOCK_EOD = "/api/eod/"
UNPACED = ["--max-requests-per-minute", "60000"]
STORED = ("bid", "ask", "volume", "open_interest", "implied_volatility", "delta", "gamma", "theta", "vega")
FAST = HttpSettings(
    requests_per_minute=60_000, burst=100, connect_timeout=1.0, read_timeout=5.0, max_attempts=3, backoff_base=0.01
)


@pytest.fixture(autouse=True)
def _fresh_unicorn_instance() -> Iterator[None]:
    """The registry keeps one unicorn instance per process and settings; each test gets its own."""
    unregister_provider("unicorn")
    yield
    unregister_provider("unicorn")


@pytest.fixture
def fake() -> Iterator[FakeUnicorn]:
    with FakeUnicorn() as server:
        yield server


@pytest.fixture
def unicorn_env(fake: FakeUnicorn, monkeypatch: pytest.MonkeyPatch) -> FakeUnicorn:
    monkeypatch.setenv("UNICORN_BASE_URL", fake.base_url)
    monkeypatch.setenv("UNICORN_API_TOKEN", fake.token)
    return fake


def run_cli(*argv: str) -> int:
    return main(list(argv), prog="python -m scripts.ingest_options")


def stored_chain(db, symbol: str) -> dict[tuple, dict]:  # noqa: ANN001 - psycopg2 connection
    """(session, expiration, strike, type) → the stored row's values."""
    with db, db.cursor() as cursor:
        cursor.execute(
            "SELECT (c.time AT TIME ZONE 'UTC')::date, c.expiration_date, c.strike_price, c.option_type, "
            "c.bid::float8, c.ask::float8, c.volume, c.open_interest, c.implied_volatility::float8, "
            "c.delta::float8, c.gamma::float8, c.theta::float8, c.vega::float8 "
            "FROM options_chains c JOIN tickers t ON t.id = c.ticker_id WHERE t.symbol = %s",
            (symbol,),
        )
        return {tuple(row[:4]): dict(zip(STORED, row[4:], strict=True)) for row in cursor.fetchall()}


def expected_row(fake: FakeUnicorn, contract, day: date) -> dict:  # noqa: ANN001
    values = fake.eod_values(contract, day)
    named = {name: values[name] for name in STORED if name != "implied_volatility"}
    return {**named, "implied_volatility": values["volatility"]}


def closes(db) -> dict[tuple[str, date], tuple[float | None, float | None]]:  # noqa: ANN001
    with db, db.cursor() as cursor:
        cursor.execute(
            "SELECT t.symbol, (cs.time AT TIME ZONE 'UTC')::date, cs.underlying_close::float8, o.close::float8 "
            "FROM chain_snapshots cs JOIN tickers t ON t.id = cs.ticker_id "
            "LEFT JOIN ohlcv o ON o.ticker_id = cs.ticker_id AND o.date = (cs.time AT TIME ZONE 'UTC')::date"
        )
        return {(row[0], row[1]): (row[2], row[3]) for row in cursor.fetchall()}


def latest_table(key: str = "options-backfill-days") -> list[dict]:
    with get_client(sync_client=True) as client:
        found = client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])))
    latest = max(found, key=lambda artifact: artifact.created)
    return json.loads(latest.data) if isinstance(latest.data, str) else latest.data


def stamp(day: date) -> str:
    return snapshot_time_for(day).strftime("%Y-%m-%dT%H:%M:%S.%f")


# ---- the acceptance command -------------------------------------------------------------------


def test_the_acceptance_command_stores_each_days_own_values_and_a_rerun_asks_nothing(
    db, unicorn_env, monkeypatch, capsys
):
    fake = unicorn_env
    chains = [
        UnicornChain("SPY", contracts=60, underlying_price=680.0),
        UnicornChain("AAPL", contracts=40, underlying_price=270.0, late_every=7),
        *(UnicornChain(symbol, contracts=30) for symbol in ("AMD", "IBM", "KO", "XOM")),
    ]
    for chain in chains:
        fake.add_chain(chain)
    symbols = [chain.symbol for chain in chains]
    seed_watchlist(db, symbols)
    monkeypatch.setenv("KAPMAN_MAX_REQUESTS_PER_MINUTE", "60000")
    command = ["--provider", "unicorn", "--concurrency", "6", "--start-date", "2025-12-09", "--end-date", "2025-12-22"]

    assert run_cli(*command) == 0

    assert "days_attempted=10 succeeded=10 partial=0 failed=0 skipped=0" in capsys.readouterr().out
    # Each session's chain: every contract listed by then, with that day's own values (the fake's
    # values change every day, so a row taken from a tradetime match of another day would differ).
    expected_counts = {}
    for chain in chains:
        stored = stored_chain(db, chain.symbol)
        for day in RANGE_SESSIONS:
            listed = [c for c in fake.contracts(chain.symbol) if c.listed <= day]
            expected_counts[(stamp(day), chain.symbol)] = len(listed)
            for contract in listed:
                key = (day, contract.expiration_date, contract.strike_price, contract.option_type)
                assert stored[key] == expected_row(fake, contract, day), (chain.symbol, day, contract.contract)
    assert rows_per_snapshot(db) == expected_counts
    # The trap was there to fall into: rows whose last trade was another day, served by every
    # tradetime-filtered bulk pull, and contracts that never trade (only their own history has them).
    first = fake.contracts("AMD")[0]
    amd = stored_chain(db, "AMD")
    assert (
        len({amd[(day, first.expiration_date, first.strike_price, "C")]["open_interest"] for day in RANGE_SESSIONS})
        == 10
    )
    assert any(fake.tradetime(first, day) != day.isoformat() for day in RANGE_SESSIONS)
    eod = fake.requests_to(EOD_PATH)
    assert all(r.param("filter[tradetime_to]") for r in eod if r.param("filter[underlying_symbol]"))
    assert any(r.param("filter[contract]") for r in eod)
    # The raw close of each session (never adjusted_close), in the ledger and in ohlcv.
    assert closes(db) == {
        (symbol, day): (fake.session_close(symbol, day),) * 2 for day in RANGE_SESSIONS for symbol in symbols
    }
    assert {row[2] for row in ledger(db)} == {"unicorn"}
    # Dealer metrics over the window: every day has its five prior sessions.
    summary = dealer_metrics(start_date=date(2025, 12, 16), end_date=date(2025, 12, 22), lookback_sessions=5)
    assert summary.ticker_days == 5 * len(symbols)
    assert summary.missing_history == 0 and summary.errors == 0 and summary.invalid == 0
    before = (rows_per_snapshot(db), ledger(db), chain_digest(db), count(db, "ohlcv"))
    fake.clear_requests()

    assert run_cli(*command) == 0

    assert fake.requests == []
    assert "succeeded=0 partial=0 failed=0 skipped=10 rows_written=0" in capsys.readouterr().out
    assert (rows_per_snapshot(db), ledger(db), chain_digest(db), count(db, "ohlcv")) == before


# ---- the current session ---------------------------------------------------------------------------


def test_the_current_session_comes_from_contracts_and_stale_rows_are_not_stored(db, fake):
    fake.add_chain(UnicornChain("AMD", contracts=30, stale_every=6))
    seed_watchlist(db, ["AMD"])
    provider = UnicornProvider(fake.token, base_url=fake.base_url, clock=lambda: NOW, http_settings=FAST)
    register_provider("unicorn-pinned", lambda settings: provider)
    try:
        assert run_cli("--as-of", CURRENT.isoformat(), "--provider", "unicorn-pinned", "--day-retries", "0") == 0
    finally:
        unregister_provider("unicorn-pinned")
        provider.close()

    assert fake.requests_to(EOD_PATH) == []
    fresh = [c for c in fake.contracts("AMD") if c.position % 6 != 5]
    assert rows_per_snapshot(db) == {(stamp(CURRENT), "AMD"): len(fresh)}
    stored = stored_chain(db, "AMD")
    for contract in fresh:
        key = (CURRENT, contract.expiration_date, contract.strike_price, contract.option_type)
        assert stored[key] == expected_row(fake, contract, CURRENT)
    assert closes(db) == {("AMD", CURRENT): (fake.session_close("AMD", CURRENT),) * 2}


# ---- cost control ---------------------------------------------------------------------------------------


def test_an_exhausted_quota_stops_the_run_in_one_line_and_keeps_what_was_done(db, unicorn_env, capsys):
    fake = unicorn_env
    for symbol in ("AMD", "IBM"):
        fake.add_chain(UnicornChain(symbol, contracts=12))
    seed_watchlist(db, ["AMD", "IBM"])
    # A symbol-day costs 1 (/contracts) + 1 (bulk /eod) + 3 (quiet contracts) options requests: the
    # quota runs out at IBM's first request of the second day.
    fake.quota_requests = 15
    argv = [
        "--start-date", "2025-12-09", "--end-date", "2025-12-22", "--provider", "unicorn", "--concurrency", "1",
        "--day-by-day",  # the quota counted per symbol-day (by window, a whole window spends it at once)
    ]  # fmt: skip

    code = run_cli(*argv, *UNPACED)

    assert code == 0  # the first day succeeded
    out = capsys.readouterr().out
    assert "days_attempted=10 succeeded=1 partial=1 failed=8" in out
    refused = [r for r in fake.requests if r.status == 402]
    assert len(refused) == 1  # asked once; every later symbol-day was refused without a request
    assert fake.requests[-1].path == "/api/internal-user"
    table = latest_table()
    errors = [row["error"] for row in table if row["status"] in ("failed", "partial")]
    assert len(errors) == 9 and all("\n" not in error for error in errors)
    assert all("quota is exhausted" in error and "resets at 19:01 GMT+0000" in error for error in errors)
    # The run stopped starting days at the refusal: the later days were never attempted.
    assert sum(error.startswith("not attempted: ") for error in errors) == 8
    assert [entry[0] for entry in ledger(db)] == ["AMD", "IBM", "AMD"]  # completed symbol-days kept
    assert count(db, "options_chains") == 12 * 3

    # After the reset (a new process), the same command completes only what is missing.
    unregister_provider("unicorn")
    fake.quota_requests = None
    fake.clear_requests()
    assert run_cli(*argv, *UNPACED) == 0
    assert "succeeded=9 partial=0 failed=0 skipped=1" in capsys.readouterr().out
    assert count(db, "chain_snapshots") == 20
    asked_for = {r.param("filter[exp_date_from]") for r in fake.requests_to(CONTRACTS_PATH)}
    assert "2025-12-09" not in asked_for


# ---- secrets ------------------------------------------------------------------------------------------


def test_the_token_appears_in_no_log_error_artifact_or_ledger_row(db, unicorn_env, caplog, capsys):
    fake = unicorn_env
    token = fake.token
    for symbol in ("AMD", "IBM"):
        fake.add_chain(UnicornChain(symbol, contracts=12, token_in_next=True))
    fake.add_fault(EOD_PATH, status=404, times=1)  # the page echoes the URL, token included
    fake.add_fault(EOD_PATH, status=422, times=1, body={"errors": {"api_token": [f"bad token {token}"]}})
    fake.add_fault(CONTRACTS_PATH, status=502, times=1, body=f"<html>upstream {token}</html>".encode())
    fake.add_fault(STOCK_EOD, status=404, times=1)
    seed_watchlist(db, ["AMD", "IBM"])
    caplog.set_level(logging.DEBUG)

    code = run_cli(
        "--start-date", "2025-12-09", "--end-date", "2025-12-11", "--provider", "unicorn", "--concurrency", "1",
        "--day-retries", "0", "--log-level", "DEBUG", *UNPACED,
    )  # fmt: skip

    assert code == 0
    assert {request.status for request in fake.requests} >= {404, 422, 502, 200}
    assert count(db, "chain_snapshots") > 0
    out, err = capsys.readouterr()
    texts = [out, err, caplog.text, *(record.getMessage() for record in caplog.records)]
    with get_client(sync_client=True) as client:
        for artifact in client.read_artifacts():
            texts.append(artifact.data if isinstance(artifact.data, str) else json.dumps(artifact.data, default=str))
        texts += [run.state.message or "" for run in client.read_task_runs(limit=200) if run.state]
    with db, db.cursor() as cursor:
        cursor.execute("SELECT * FROM chain_snapshots")
        texts += [repr(row) for row in cursor.fetchall()]
    seen = "\n".join(texts)
    assert "api_token=***" in seen  # the echoed URLs were kept, redacted
    leaks = sorted({line.strip() for line in seen.splitlines() if token in line})
    assert leaks == [], "\n".join(leaks)


def test_the_api_key_flag_stands_for_the_token(db, fake, monkeypatch, capsys):
    fake.add_chain(UnicornChain("AMD", contracts=8))
    seed_watchlist(db, ["AMD"])
    monkeypatch.setenv("UNICORN_BASE_URL", fake.base_url)

    assert run_cli("--as-of", "2025-12-15", "--provider", "unicorn", "--api-key", fake.token, *UNPACED) == 0

    assert all(request.param("api_token") == fake.token for request in fake.requests)
    assert rows_per_snapshot(db) == {(stamp(date(2025, 12, 15)), "AMD"): 8}
    assert fake.token not in capsys.readouterr().err


def test_a_dry_run_prints_the_least_api_calls_of_the_run_and_asks_nothing(db, unicorn_env, caplog):
    fake = unicorn_env
    fake.add_chain(UnicornChain("AMD", contracts=8))
    seed_watchlist(db, ["AMD", "IBM", "KO"])
    caplog.set_level(logging.INFO, logger="kapman")

    assert run_cli("--start-date", "2025-12-09", "--end-date", "2025-12-22", "--provider", "unicorn", "--dry-run") == 0

    assert fake.requests == []
    messages = [record.getMessage() for record in caplog.records]
    [requests] = [message for message in messages if "requests_day_by_day" in message]
    [calls] = [message for message in messages if "api_calls_at_least" in message]
    # Day by day: 10 past sessions x 3 symbols x (/contracts + bulk /eod + stock close); by window
    # the same three once per symbol; 10 API calls per request.
    assert "provider=unicorn requests_day_by_day=90 requests_by_window=9" in requests
    assert "api_calls_at_least=90 (10 per request)" in calls


def test_by_window_a_backfill_stores_what_day_by_day_stores_for_far_fewer_requests(
    make_database, unicorn_env, monkeypatch, capsys
):
    fake = unicorn_env
    for symbol, contracts in (("AMD", 12), ("IBM", 9)):
        fake.add_chain(UnicornChain(symbol, contracts=contracts))
    argv = ["--start-date", "2025-12-09", "--end-date", "2025-12-22", "--provider", "unicorn", *UNPACED]
    outcomes, spent = [], []
    for mode in ([], ["--day-by-day"]):
        url = make_database()
        connection = psycopg2.connect(url)
        seed_watchlist(connection, ["AMD", "IBM"])
        monkeypatch.setenv("DATABASE_URL", url)
        unregister_provider("unicorn")
        fake.clear_requests()
        assert run_cli(*argv, *mode) == 0
        spent.append(len(fake.requests))
        outcomes.append((chain_digest(connection), [row[:2] + row[3:] for row in ledger(connection)]))
        connection.close()
    assert capsys.readouterr().out.count("days_attempted=10 succeeded=10") == 2
    assert outcomes[0] == outcomes[1] and len(outcomes[0][1]) == 2 * len(RANGE_SESSIONS)
    assert spent[0] * 5 <= spent[1]  # one hybrid pull per symbol instead of one per symbol-day
