"""The Massive/Polygon provider through the whole pipeline: CLI → Prefect flow → ingest_day →
PolygonProvider → loopback fake of the Massive API → PostgreSQL.

`--provider polygon` is built from POLYGON_API_KEY / POLYGON_BASE_URL with the production HTTP
settings and the real clock (today is long after 2025-12-22, so the range is all past sessions).
Where a test needs the current session or millisecond retry backoff, it registers a PolygonProvider
built with a pinned clock (2025-12-23 17:00 New York, after the close) and fast HTTP settings.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

from markets.calendar import get_calendar
from markets.snapshot import snapshot_time_for
from providers.http import HttpSettings
from providers.polygon import PolygonProvider
from providers.registry import register_provider, unregister_provider
from scripts.ingest_options import main
from settings.environment import POLYGON_API_KEY as API_KEY_ENV
from settings.environment import POLYGON_BASE_URL as BASE_URL_ENV
from tests.dbutil import chain_digest, count, ledger, rows_per_snapshot, seed_watchlist
from tests.fakes.massive import ChainSpec, FakeMassive, RecordedRequest, unused_local_url

NOW = datetime(2025, 12, 23, 22, 0, tzinfo=UTC)
CURRENT = date(2025, 12, 23)
RANGE = ["--start-date", "2025-12-09", "--end-date", "2025-12-22"]
RANGE_SESSIONS = get_calendar("XNYS").sessions(date(2025, 12, 9), date(2025, 12, 22))
ANALYTICS = "/options/v1/analytics"
OPEN_INTEREST = "/options/v1/open-interest"
OPEN_CLOSE = "/v1/open-close/"
AGGREGATES = "/v2/aggs/ticker/"
SNAPSHOT = "/v3/snapshot/"
# Not in the default large-symbol list, so they share the regular lane.
REGULAR = ["AMD", "IBM", "KO", "XOM"]
# A budget that never paces these small runs (the default 300/min would make each test seconds slower).
UNPACED = ["--max-requests-per-minute", "60000"]
FAST = HttpSettings(
    requests_per_minute=60_000,
    burst=100,
    connect_timeout=1.0,
    read_timeout=5.0,
    large_read_timeout=5.0,
    max_attempts=4,
    backoff_base=0.01,
    backoff_max=0.05,
)
HISTORY_FIELDS = ("open_interest", "implied_volatility", "delta", "gamma", "theta", "vega")
GREEKS = ("implied_volatility", "delta", "gamma", "theta", "vega")


# ---- fixtures and helpers -----------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _fresh_polygon_instance() -> Iterator[None]:
    """The registry keeps one polygon instance per process (it owns the request budget) and reads
    POLYGON_* only when it builds it; every test here points polygon at its own fake."""
    unregister_provider("polygon")
    yield
    unregister_provider("polygon")


@pytest.fixture
def fake() -> Iterator[FakeMassive]:
    with FakeMassive() as server:
        yield server


@pytest.fixture
def polygon_env(fake: FakeMassive, monkeypatch: pytest.MonkeyPatch) -> FakeMassive:
    monkeypatch.setenv(BASE_URL_ENV, fake.base_url)
    monkeypatch.setenv(API_KEY_ENV, fake.api_key)
    return fake


@pytest.fixture
def pinned_polygon(fake: FakeMassive) -> Iterator[Callable[..., str]]:
    """Registers a PolygonProvider with the pinned clock and fast HTTP settings; returns its name."""
    built: list[tuple[str, PolygonProvider]] = []

    def register(name: str = "polygon-pinned", *, base_url: str | None = None) -> str:
        provider = PolygonProvider(
            fake.api_key, base_url=base_url or fake.base_url, clock=lambda: NOW, http_settings=FAST
        )
        register_provider(name, lambda settings: provider)
        built.append((name, provider))
        return name

    yield register
    for name, provider in built:
        unregister_provider(name)
        provider.close()


def run_cli(*argv: str) -> int:
    return main(list(argv), prog="python -m scripts.ingest_options")


def symbol_of(request: RecordedRequest) -> str:
    if request.path.startswith(OPEN_CLOSE):
        return request.path.split("/")[3].removeprefix("I:")
    if request.path.startswith(SNAPSHOT):
        return request.path.split("/")[4].removeprefix("I:")
    return request.param("underlying_ticker") or request.param("root") or "?"


def session_of(request: RecordedRequest) -> str:
    """The session a request asks for, or `first..last` for a window."""
    if request.path.startswith(OPEN_CLOSE):
        return request.path.split("/")[4]
    if request.path.startswith(AGGREGATES):
        return f"{request.path.split('/')[8]}..{request.path.split('/')[9]}"
    if request.param("date.gte"):
        return f"{request.param('date.gte')}..{request.param('date.lte')}"
    return request.param("date") or "?"


def stored_chain(db, symbol: str) -> dict[tuple, dict]:  # noqa: ANN001 - psycopg2 connection
    """(session, expiration, strike, type) → the stored row's values, as floats and ints."""
    with db, db.cursor() as cursor:
        cursor.execute(
            "SELECT (c.time AT TIME ZONE 'UTC')::date, c.expiration_date, c.strike_price, c.option_type, "
            "c.bid::float8, c.ask::float8, c.last::float8, c.volume, c.open_interest, "
            "c.implied_volatility::float8, c.delta::float8, c.gamma::float8, c.theta::float8, c.vega::float8 "
            "FROM options_chains c JOIN tickers t ON t.id = c.ticker_id WHERE t.symbol = %s",
            (symbol,),
        )
        names = ("bid", "ask", "last", "volume", *HISTORY_FIELDS)
        return {tuple(row[:4]): dict(zip(names, row[4:], strict=True)) for row in cursor.fetchall()}


def closes(db) -> dict[tuple[str, date], tuple[float | None, float | None]]:  # noqa: ANN001
    """(symbol, session) → (chain_snapshots.underlying_close, ohlcv.close)."""
    with db, db.cursor() as cursor:
        cursor.execute(
            "SELECT t.symbol, (cs.time AT TIME ZONE 'UTC')::date, cs.underlying_close::float8, o.close::float8 "
            "FROM chain_snapshots cs JOIN tickers t ON t.id = cs.ticker_id "
            "LEFT JOIN ohlcv o ON o.ticker_id = cs.ticker_id AND o.date = (cs.time AT TIME ZONE 'UTC')::date"
        )
        return {(row[0], row[1]): (row[2], row[3]) for row in cursor.fetchall()}


def artifacts(*keys: str) -> list:
    with get_client(sync_client=True) as client:
        return client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=list(keys))))


def latest_table(key: str = "options-backfill-days") -> list[dict]:
    latest = max(artifacts(key), key=lambda artifact: artifact.created)
    return json.loads(latest.data) if isinstance(latest.data, str) else latest.data


# ---- 1. the current session: the chain snapshot --------------------------------------------------


def test_current_session_lands_the_whole_paged_chain_at_its_snapshot_time(db, fake, pinned_polygon):
    # 600 contracts + 2 served again at the end = 602 snapshot rows: pages of 250 + 250 + 102.
    fake.add_chain(ChainSpec("AAPL", contracts=600, underlying_price=150.0, greekless_every=7, duplicates=(3, 260)))
    seed_watchlist(db, ["AAPL"])

    assert run_cli("--as-of", CURRENT.isoformat(), "--provider", pinned_polygon(), "--day-retries", "0") == 0

    pages = fake.requests_to("/v3/snapshot/options/AAPL")
    assert len(pages) == 3
    assert pages[0].query == {"limit": ["250"]} and all(list(page.query) == ["cursor"] for page in pages[1:])
    assert fake.requests_to("/options/") == []  # the current session never asks the history endpoints
    stamp = snapshot_time_for(CURRENT).strftime("%Y-%m-%dT%H:%M:%S.%f")
    assert stamp == "2025-12-23T23:59:59.999999"
    assert rows_per_snapshot(db) == {(stamp, "AAPL"): 600}  # duplicates written once
    stored = stored_chain(db, "AAPL")
    greekless = 0
    for contract in fake.contracts("AAPL"):
        row = stored[(CURRENT, contract.expiration_date, contract.strike_price, contract.option_type)]
        values = fake.snapshot_values("AAPL", contract)
        assert {name: row[name] for name in ("bid", "ask", "last", "volume", "open_interest")} == {
            name: values[name] for name in ("bid", "ask", "last", "volume", "open_interest")
        }
        if fake.is_greekless("AAPL", contract):
            greekless += 1
            assert [row[name] for name in GREEKS] == [None] * 5  # kept, greeks NULL
        else:
            assert [row[name] for name in GREEKS] == [values[name] for name in GREEKS]
    assert greekless == len(range(0, 600, 7))
    assert [entry[2:4] for entry in ledger(db)] == [("polygon", 600)]
    assert closes(db) == {("AAPL", CURRENT): (150.0, 150.0)}


# ---- 2. past sessions: daily history -------------------------------------------------------------


@pytest.mark.parametrize("fetching", ["by window", "day by day"])
def test_past_sessions_come_from_daily_history_with_each_days_own_values(db, polygon_env, fetching):
    fake = polygon_env
    fake.add_chain(ChainSpec("AMD", contracts=40, underlying_price=120.0))
    fake.add_chain(ChainSpec("IBM", contracts=30, underlying_price=250.0, greekless_every=5))
    seed_watchlist(db, ["AMD", "IBM"])
    mode = [] if fetching == "by window" else ["--day-by-day"]

    assert run_cli(*RANGE, "--provider", "polygon", *UNPACED, *mode) == 0

    assert len(RANGE_SESSIONS) == 10
    assert fake.requests_to(SNAPSHOT) == []  # the dateless snapshot is never asked for a past day
    asked = {session_of(request) for request in fake.requests}
    if fetching == "by window":  # one pass per symbol and endpoint over the whole range
        assert asked == {"2025-12-09..2025-12-22"}
        assert len(fake.requests) == 2 * 3
    else:
        assert asked == {day.isoformat() for day in RANGE_SESSIONS}
    expected_rows = {
        (snapshot_time_for(day).strftime("%Y-%m-%dT%H:%M:%S.%f"), symbol): contracts
        for day in RANGE_SESSIONS
        for symbol, contracts in (("AMD", 40), ("IBM", 30))
    }
    assert rows_per_snapshot(db) == expected_rows
    for symbol in ("AMD", "IBM"):
        stored = stored_chain(db, symbol)
        for day in RANGE_SESSIONS:
            for contract in fake.contracts(symbol):
                row = stored[(day, contract.expiration_date, contract.strike_price, contract.option_type)]
                values = fake.history_values(symbol, contract, day)
                assert {name: row[name] for name in HISTORY_FIELDS} == {name: values[name] for name in HISTORY_FIELDS}
                assert (row["bid"], row["ask"], row["last"], row["volume"]) == (None, None, None, None)
    # One contract across the range: a different open interest and gamma every day, as the fake's.
    first = fake.contracts("AMD")[0]
    stored = stored_chain(db, "AMD")
    by_day = [stored[(day, first.expiration_date, first.strike_price, first.option_type)] for day in RANGE_SESSIONS]
    assert len({row["open_interest"] for row in by_day}) == 10
    assert len({row["gamma"] for row in by_day}) == 10
    # Greekless contracts are kept with their open interest and NULL greeks.
    ibm = stored_chain(db, "IBM")
    greekless = [row for row in ibm.values() if row["gamma"] is None]
    assert len(greekless) == 10 * len(range(0, 30, 5))
    assert all(row["open_interest"] is not None for row in greekless)
    # The session close (day by day from /v1/open-close, by window from the range aggregate), per
    # day, in the ledger and in ohlcv.
    assert closes(db) == {
        (symbol, day): (fake.session_close(symbol, day), fake.session_close(symbol, day))
        for day in RANGE_SESSIONS
        for symbol in ("AMD", "IBM")
    }
    table = latest_table()
    assert [row["session"] for row in table] == [day.isoformat() for day in RANGE_SESSIONS]
    assert {(row["status"], row["missing_fields"]) for row in table} == {("succeeded", "ask,bid,last,volume")}


# ---- 3. a plan without the history entitlement ------------------------------------------------------


def test_an_unentitled_plan_fails_every_past_day_with_one_line_and_no_retry_storm(db, polygon_env, capsys):
    fake = polygon_env
    for symbol in REGULAR:
        fake.add_chain(ChainSpec(symbol, contracts=20))
    fake.add_fault(ANALYTICS, status=403, times=None)
    seed_watchlist(db, REGULAR)

    # Default --day-retries (2): a refused session must not be retried by Prefect either.
    code = run_cli(
        *RANGE, "--provider", "polygon", "--concurrency", "1", "--large-symbols", "SPY", "--day-by-day", *UNPACED
    )

    assert code == 1
    assert "days_attempted=10 succeeded=0 partial=0 failed=10 skipped=0 rows_written=0" in capsys.readouterr().out
    assert count(db, "options_chains") == 0 and count(db, "chain_snapshots") == 0 and count(db, "ohlcv") == 0
    requests = fake.requests
    assert {(request.path, request.status) for request in requests} == {(ANALYTICS, 403)}
    # The bound: one fetch lane with one worker. When the refusal arrives that worker may already
    # hold the next queued symbol before ingest cancels the queue, so at most 2 of the 4 symbols are
    # asked, each refused at its first request (a 403 is final for the HTTP client). Asking every
    # symbol, with Prefect's 2 day retries on top, would be 12 requests per day.
    per_day = Counter(session_of(request) for request in requests)
    assert set(per_day) == {day.isoformat() for day in RANGE_SESSIONS}
    assert all(1 <= asked <= 2 for asked in per_day.values()), per_day
    assert len(requests) <= 2 * len(RANGE_SESSIONS)
    table = latest_table()
    assert [row["status"] for row in table] == ["failed"] * 10
    for row in table:
        assert "\n" not in row["error"]
        assert "HTTP 403" in row["error"] and "not entitled" in row["error"] and "upgrade the plan" in row["error"]
        assert f"session {row['session']}" in row["error"]


# ---- 4. rate limits -----------------------------------------------------------------------------------


def test_a_429_retry_after_holds_back_every_thread_and_the_backfill_completes(db, polygon_env):
    fake = polygon_env
    symbols = REGULAR[:3]
    for symbol in symbols:
        fake.add_chain(ChainSpec(symbol, contracts=20))
    fake.add_fault(OPEN_INTEREST, status=429, headers={"Retry-After": "2"}, times=1)
    seed_watchlist(db, symbols)

    code = run_cli(
        "--start-date", "2025-12-15", "--end-date", "2025-12-16", "--provider", "polygon",
        "--concurrency", "3", "--large-symbols", "SPY", "--day-retries", "0", *UNPACED,
    )  # fmt: skip

    assert code == 0
    requests = fake.requests
    limited = [request for request in requests if request.status == 429]
    assert len(limited) == 1
    refused_at = limited[0].received_at
    retried = next(r for r in requests if r.raw_path == limited[0].raw_path and r.received_at > refused_at)
    assert retried.received_at - refused_at >= 2.0
    # Requests already in flight when the 429 arrived may land just after it; nothing else is sent
    # by any thread until Retry-After has passed.
    assert [r for r in requests if refused_at + 0.5 <= r.received_at < refused_at + 2.0] == []
    assert len({(symbol, stamp[:10]) for stamp, symbol in rows_per_snapshot(db)}) == 2 * len(symbols)


def test_the_configured_request_budget_keeps_under_the_servers_window_limit(db, polygon_env, capsys):
    fake = polygon_env
    for symbol in ("AMD", "IBM"):
        fake.add_chain(ChainSpec(symbol, contracts=10))
    # --max-requests-per-minute 600 is 10 requests/s with a burst of 10: at most 20 in any second,
    # which is exactly what the fake accepts; one more and it answers 429.
    fake.enforce_rate_limit(20, per_seconds=1.0, retry_after="1")
    seed_watchlist(db, ["AMD", "IBM"])

    code = run_cli(
        "--start-date", "2025-12-15", "--end-date", "2025-12-19", "--provider", "polygon",
        "--concurrency", "2", "--max-requests-per-minute", "600", "--day-retries", "0", "--day-by-day",
    )  # fmt: skip

    assert code == 0
    assert "days_attempted=5 succeeded=5" in capsys.readouterr().out
    requests = fake.requests
    assert len(requests) == 5 * 2 * 3  # analytics + open interest + open-close per symbol-day
    assert fake.rate_limited == 0
    assert fake.max_requests_in_window(1.0) <= 20
    # The budget did pace: 30 requests with a burst of 10 at 10/s take at least 2 s.
    assert requests[-1].received_at - requests[0].received_at >= 1.8


# ---- 5. the API key never surfaces ---------------------------------------------------------------


def _texts_outside_the_request_headers(db, caplog, capsys) -> list[tuple[str, str]]:  # noqa: ANN001
    """(where, text) for every place a secret could surface: log records (with tracebacks), the
    console, artifacts, Prefect run states and the ledger."""
    out, err = capsys.readouterr()
    texts = [("stdout", out), ("stderr", err), ("log", caplog.text)]
    texts += [(f"log {record.name}", record.getMessage()) for record in caplog.records]
    keys = ["options-backfill-days", "options-backfill-summary", "options-ingest-days", "options-ingest-summary"]
    for artifact in artifacts(*keys):
        data = artifact.data if isinstance(artifact.data, str) else json.dumps(artifact.data, default=str)
        texts += [(f"artifact {artifact.key}", data), (f"artifact {artifact.key}", artifact.description or "")]
    with get_client(sync_client=True) as client:
        runs = [*client.read_flow_runs(limit=200), *client.read_task_runs(limit=200)]
    texts += [(f"state of {run.name}", run.state.message or "") for run in runs if run.state is not None]
    with db, db.cursor() as cursor:
        cursor.execute("SELECT * FROM chain_snapshots")
        texts += [("chain_snapshots", repr(row)) for row in cursor.fetchall()]
    return texts


def lines_with(secret: str, texts: list[tuple[str, str]]) -> list[str]:
    """Each distinct line holding `secret`, with where it was seen."""
    return sorted({f"{where}: {line.strip()}" for where, text in texts for line in text.splitlines() if secret in line})


def test_the_api_key_appears_in_no_log_error_artifact_or_ledger_row(db, polygon_env, pinned_polygon, caplog, capsys):
    fake = polygon_env
    key = fake.api_key
    echo = {"status": "ERROR", "request_id": "echo", "error": f"bad request: apiKey={key} key {key}"}
    for symbol in ("AMD", "IBM"):
        fake.add_chain(ChainSpec(symbol, contracts=20))
    fake.add_fault(ANALYTICS, status=403, times=1, body={**echo, "status": "NOT_AUTHORIZED"})
    fake.add_fault(OPEN_INTEREST, status=503, times=1, body=echo)
    fake.add_fault(OPEN_INTEREST, status=400, times=1, body=echo)
    fake.add_fault(OPEN_CLOSE, status=404, times=1, body=echo)
    seed_watchlist(db, ["AMD", "IBM"])
    caplog.set_level(logging.DEBUG)

    # Run 1: polygon from the environment, against a server that echoes the key in error bodies.
    first = run_cli(
        "--start-date", "2025-12-09", "--end-date", "2025-12-11", "--provider", "polygon",
        "--concurrency", "1", "--large-symbols", "SPY", "--day-retries", "0", "--log-level", "DEBUG", *UNPACED,
    )  # fmt: skip
    # Run 2: every request raises (nobody listens on the port); errors embed the URLs tried.
    closed = pinned_polygon("polygon-closed", base_url=unused_local_url())
    second = run_cli(
        "--start-date", "2025-12-12", "--end-date", "2025-12-15", "--provider", closed,
        "--day-retries", "0", "--log-level", "DEBUG",
    )  # fmt: skip

    assert first == 0 and second == 1
    assert {request.status for request in fake.requests} >= {403, 503, 400, 404, 200}
    assert all(request.headers["Authorization"] == f"Bearer {key}" for request in fake.requests)
    assert count(db, "chain_snapshots") > 0  # run 1 wrote some symbol-days
    table = latest_table()
    assert {row["status"] for row in table} == {"failed"}
    assert all("ConnectionError" in row["error"] for row in table)
    texts = _texts_outside_the_request_headers(db, caplog, capsys)
    assert any("ConnectionError" in text and "127.0.0.1" in text for _, text in texts)  # the errors were captured
    assert any("***" in text for _, text in texts)  # and the echoed key was redacted, not dropped
    leaks = lines_with(key, texts)
    assert leaks == [], "\n".join(leaks)


def test_an_exhausted_429_whose_body_echoes_the_key_does_not_leak_it(db, fake, pinned_polygon, caplog, capsys):
    key = fake.api_key
    fake.add_chain(ChainSpec("AMD", contracts=20))
    fake.add_fault(
        ANALYTICS,
        status=429,
        times=FAST.max_attempts,
        headers={"Retry-After": "0"},
        body={"status": "ERROR", "request_id": "echo", "error": f"too many requests for apiKey={key}"},
    )
    seed_watchlist(db, ["AMD"])
    caplog.set_level(logging.DEBUG)

    code = run_cli("--as-of", "2025-12-15", "--provider", pinned_polygon(), "--day-retries", "0")

    assert code == 1
    assert [request.status for request in fake.requests] == [429] * FAST.max_attempts
    error = latest_table("options-ingest-days")[0]["error"]
    assert "429" in error and "after 4 attempts" in error
    texts = _texts_outside_the_request_headers(db, caplog, capsys)
    leaks = lines_with(key, texts)
    assert leaks == [], "\n".join(leaks)


# ---- 6. no API key ----------------------------------------------------------------------------------


@pytest.mark.parametrize("api_key", [None, "   "], ids=["unset", "blank"])
def test_a_missing_api_key_is_one_error_line_before_any_day_starts(api_key, db, fake, monkeypatch, capsys, caplog):
    fake.add_chain(ChainSpec("AMD", contracts=20))
    seed_watchlist(db, ["AMD"])
    monkeypatch.setenv(BASE_URL_ENV, fake.base_url)
    if api_key is not None:
        monkeypatch.setenv(API_KEY_ENV, api_key)
    caplog.set_level(logging.INFO, logger="kapman")

    code = run_cli(*RANGE, "--provider", "polygon")

    assert code == 2
    err = capsys.readouterr().err.strip()
    assert err.splitlines() == [err]
    assert err.startswith("error: polygon needs an API key: set POLYGON_API_KEY")
    assert fake.requests == []
    assert not any(record.getMessage().startswith(("START", "RANGE")) for record in caplog.records)
    assert count(db, "options_chains") == 0 and count(db, "chain_snapshots") == 0


# ---- 7. the seed's acceptance command -----------------------------------------------------------------


def test_the_acceptance_command_backfills_cleanly_and_a_rerun_asks_nothing(db, polygon_env, monkeypatch, capsys):
    fake = polygon_env
    specs = [
        ChainSpec("SPX", contracts=60, underlying_price=6800.0, index=True, extra_roots=("SPXW",)),
        ChainSpec("SPY", contracts=50, underlying_price=680.0),
        ChainSpec("AAPL", contracts=40, underlying_price=270.0, greekless_every=9),
        *(ChainSpec(symbol, contracts=30) for symbol in REGULAR),
    ]
    for spec in specs:
        fake.add_chain(spec)
    seed_watchlist(db, [spec.symbol for spec in specs])
    # Keeps the command exactly the seed's; the default 300/min would pace 210 requests over 40 s.
    monkeypatch.setenv("KAPMAN_MAX_REQUESTS_PER_MINUTE", "60000")
    command = ["--provider", "polygon", "--concurrency", "6", "--start-date", "2025-12-09", "--end-date", "2025-12-22"]

    assert run_cli(*command) == 0

    assert "days_attempted=10 succeeded=10 partial=0 failed=0 skipped=0" in capsys.readouterr().out
    assert fake.requests_to(SNAPSHOT) == []
    assert rows_per_snapshot(db) == {
        (snapshot_time_for(day).strftime("%Y-%m-%dT%H:%M:%S.%f"), spec.symbol): spec.contracts
        for day in RANGE_SESSIONS
        for spec in specs
    }
    assert {row[2] for row in ledger(db)} == {"polygon"}
    # The index is asked by its bare symbol on history, as I:SPX on open-close, and for both roots' OI.
    equities = {"SPY", "AAPL", *REGULAR}
    assert {r.param("underlying_ticker") for r in fake.requests_to(ANALYTICS)} == {"SPX", *equities}
    assert {r.param("root") for r in fake.requests_to(OPEN_INTEREST)} == {"SPX", "SPXW", *equities}
    assert {r.path.split("/")[4] for r in fake.requests_to(AGGREGATES)} == {"I:SPX", *equities}
    # By window: one pass per symbol (and per root) over the range, not one per session.
    assert len(fake.requests_to(ANALYTICS)) == len(specs) and fake.requests_to(OPEN_CLOSE) == []
    before = (rows_per_snapshot(db), ledger(db), chain_digest(db), count(db, "ohlcv"))
    fake.clear_requests()

    assert run_cli(*command) == 0

    assert fake.requests == []
    assert "succeeded=0 partial=0 failed=0 skipped=10 rows_written=0" in capsys.readouterr().out
    assert (rows_per_snapshot(db), ledger(db), chain_digest(db), count(db, "ohlcv")) == before


# ---- lanes, and transient faults -------------------------------------------------------------------


def test_large_symbols_are_fetched_one_at_a_time_while_regular_symbols_run_concurrently(db, polygon_env):
    fake = polygon_env
    large, regular = ["SPY", "QQQ"], REGULAR[:3]
    for symbol in large + regular:
        fake.add_chain(ChainSpec(symbol, contracts=10))
    delay = 0.3
    fake.add_fault("/", delay=delay, times=None)  # every request takes `delay` to answer
    seed_watchlist(db, large + regular)

    code = run_cli(
        "--as-of", "2025-12-15", "--provider", "polygon", "--concurrency", "3",
        "--large-symbols", ",".join(large), "--day-retries", "0", *UNPACED,
    )  # fmt: skip

    assert code == 0
    assert {symbol for _, symbol in rows_per_snapshot(db)} == set(large + regular)
    by_symbol: dict[str, list[float]] = {}
    for request in fake.requests:
        by_symbol.setdefault(symbol_of(request), []).append(request.received_at)
    assert all(len(by_symbol[symbol]) == 3 for symbol in large + regular)
    # Each request is busy from its arrival until `delay` later: the large lane's requests, across
    # both large symbols, never overlap (each arrives after the previous one was answered).
    large_arrivals = sorted(stamp for symbol in large for stamp in by_symbol[symbol])
    gaps = [later - earlier for earlier, later in zip(large_arrivals, large_arrivals[1:], strict=False)]
    assert min(gaps) >= delay - 0.02, gaps
    spans = sorted((min(by_symbol[symbol]), max(by_symbol[symbol]) + delay) for symbol in large)
    assert spans[0][1] <= spans[1][0] + 0.02
    # The regular symbols' first requests all arrive while the first of them is still being answered.
    firsts = [min(by_symbol[symbol]) for symbol in regular]
    assert max(firsts) - min(firsts) < delay


def test_a_transient_5xx_burst_is_absorbed_by_http_retries_and_the_day_succeeds(db, fake, pinned_polygon, capsys):
    fake.add_chain(ChainSpec("AMD", contracts=30))
    fake.add_fault(ANALYTICS, status=503, times=2)
    fake.add_fault(OPEN_INTEREST, status=502, times=1)
    seed_watchlist(db, ["AMD"])

    # No day retries: the HTTP client alone has to absorb the burst.
    assert run_cli("--as-of", "2025-12-15", "--provider", pinned_polygon(), "--day-retries", "0") == 0

    assert [request.status for request in fake.requests_to(ANALYTICS)] == [503, 503, 200]
    assert [request.status for request in fake.requests_to(OPEN_INTEREST)] == [502, 200]
    assert "days_attempted=1 succeeded=1 partial=0 failed=0" in capsys.readouterr().out
    session = date(2025, 12, 15)
    assert rows_per_snapshot(db) == {(snapshot_time_for(session).strftime("%Y-%m-%dT%H:%M:%S.%f"), "AMD"): 30}
    assert closes(db) == {("AMD", session): (fake.session_close("AMD", session),) * 2}
