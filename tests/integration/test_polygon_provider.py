"""PolygonProvider against a loopback fake of the Massive API (no database, no internet).

The clock is pinned at 2025-12-23 22:00 UTC (17:00 New York, after the close): the current session
is 2025-12-23, and 2025-12-09 ... 2025-12-22 are past sessions served from the history endpoints.
"""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from providers.base import (
    AuthError,
    EmptyChain,
    MalformedResponse,
    ProviderError,
    SessionUnavailable,
    SymbolNotFound,
    TransientProviderError,
)
from providers.http import HttpSettings
from providers.polygon import PolygonProvider
from tasks.request import build_ingest_request
from tests.fakes.massive import NOT_AUTHORIZED_MESSAGE, ChainSpec, FakeMassive, unused_local_url

NOW = datetime(2025, 12, 23, 22, 0, tzinfo=UTC)
CURRENT = date(2025, 12, 23)
PAST = date(2025, 12, 15)
NEXT_PAST = date(2025, 12, 16)
# Fast enough for tests: a generous budget, millisecond backoff, short timeouts.
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


@pytest.fixture
def fake() -> Iterator[FakeMassive]:
    with FakeMassive() as server:
        yield server


@pytest.fixture
def provider_for() -> Iterator[Callable[..., PolygonProvider]]:
    built: list[PolygonProvider] = []

    def build(
        fake: FakeMassive | None,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        settings: HttpSettings = FAST,
    ) -> PolygonProvider:
        provider = PolygonProvider(
            api_key or (fake.api_key if fake else "unused-key-1234567890"),
            base_url=base_url or (fake.base_url if fake else unused_local_url()),
            clock=lambda: NOW,
            http_settings=settings,
        )
        built.append(provider)
        return provider

    yield build
    for provider in built:
        provider.close()


def contracts_by_key(fake: FakeMassive, symbol: str) -> dict:
    return {(c.expiration_date, c.strike_price, c.option_type): c for c in fake.contracts(symbol)}


# ---- current session: the chain snapshot ----------------------------------------------------------


def test_current_session_pages_the_whole_chain_and_keeps_duplicates_once(fake, provider_for):
    fake.add_chain(ChainSpec("AAPL", contracts=600, underlying_price=150.0, greekless_every=7, duplicates=(3, 260)))
    provider = provider_for(fake)

    chain = provider.fetch_chain("AAPL", CURRENT)

    snapshot_requests = fake.requests_to("/v3/snapshot/options/AAPL")
    assert len(snapshot_requests) == 3  # 250 + 250 + 102 rows
    expected = contracts_by_key(fake, "AAPL")
    assert len(chain.quotes) == 600
    assert {quote.key for quote in chain.quotes} == set(expected)
    assert chain.notes["duplicate_rows"] == "2"
    assert chain.dropped_rows == 0
    assert (chain.symbol, chain.session, chain.provider, chain.simulated) == ("AAPL", CURRENT, "polygon", False)
    assert chain.underlying_close == 150.0
    assert chain.missing_fields == ()


def test_contracts_without_greeks_are_kept_with_none_greeks(fake, provider_for):
    fake.add_chain(ChainSpec("AAPL", contracts=60, greekless_every=7))
    provider = provider_for(fake)

    chain = provider.fetch_chain("AAPL", CURRENT)

    expected = contracts_by_key(fake, "AAPL")
    for quote in chain.quotes:
        contract = expected[quote.key]
        values = fake.snapshot_values("AAPL", contract)
        assert (quote.bid, quote.ask, quote.last) == (values["bid"], values["ask"], values["last"])
        assert (quote.volume, quote.open_interest) == (values["volume"], values["open_interest"])
        if fake.is_greekless("AAPL", contract):
            assert (quote.implied_volatility, quote.delta, quote.gamma, quote.theta, quote.vega) == (None,) * 5
        else:
            assert quote.gamma == values["gamma"] and quote.implied_volatility == values["implied_volatility"]
    assert sum(1 for quote in chain.quotes if quote.gamma is None) == len(range(0, 60, 7))


def test_next_url_is_followed_with_its_cursor_only_auth_in_the_header_and_no_api_key(fake, provider_for):
    fake.add_chain(ChainSpec("MSFT", contracts=300, api_key_in_next_url=True))
    provider = provider_for(fake)

    provider.fetch_chain("MSFT", CURRENT)

    first, second = fake.requests_to("/v3/snapshot")
    assert first.query == {"limit": ["250"]}
    assert list(second.query) == ["cursor"]
    for request in (first, second):
        assert request.headers["Authorization"] == f"Bearer {fake.api_key}"
        assert "apikey" not in request.raw_path.lower()
        assert fake.api_key not in request.raw_path


def test_other_contract_types_and_rows_without_identity_are_dropped_and_counted(fake, provider_for):
    fake.add_chain(ChainSpec("AAPL", contracts=20, other_type_rows=2, rows_without_identity=3))
    provider = provider_for(fake)

    chain = provider.fetch_chain("AAPL", CURRENT)

    assert len(chain.quotes) == 20
    assert chain.dropped_rows == 5
    assert (chain.notes["dropped_other_type"], chain.notes["dropped_missing_identity"]) == ("2", "3")


def test_identity_falls_back_to_the_occ_ticker_and_last_to_the_day_close(fake, provider_for):
    body = {
        "status": "OK",
        "request_id": "r1",
        "results": [
            {"details": {"ticker": "O:AMCR1260116P00032500"}, "day": {"close": 1.25, "volume": 4}},
            {"details": {"ticker": "O:AMCR260116C00010000", "strike_price": 10}, "day": {"close": 0}},
            {"details": {"contract_type": "call"}, "open_interest": 5},  # no ticker, no expiry: dropped
        ],
    }
    fake.add_fault("/v3/snapshot/options/AMCR", status=200, body=body)
    provider = provider_for(fake)

    chain = provider.fetch_chain("AMCR", CURRENT)

    adjusted, regular = chain.quotes
    assert (adjusted.expiration_date, adjusted.strike_price, adjusted.option_type) == (
        date(2026, 1, 16),
        Decimal("32.5"),
        "P",
    )
    assert (adjusted.last, adjusted.volume) == (1.25, 4)
    assert regular.last is None  # a zero close means "no trade", not a price of 0
    assert chain.dropped_rows == 1
    assert chain.underlying_close is None
    assert {"bid", "ask", "delta"} <= set(chain.missing_fields)


def test_index_chain_uses_the_i_prefix_and_the_index_value(fake, provider_for):
    fake.add_chain(ChainSpec("SPX", contracts=120, index=True, extra_roots=("SPXW",), underlying_price=6000.0))
    provider = provider_for(fake)

    chain = provider.fetch_chain("SPX", CURRENT)

    assert [request.path for request in fake.requests][0] == "/v3/snapshot/options/I:SPX"
    assert len(chain.quotes) == 120
    assert chain.underlying_close == 6000.0


def test_empty_chain_is_an_error_not_a_zero_row_success(fake, provider_for):
    fake.add_chain(ChainSpec("EMPT", contracts=0))
    provider = provider_for(fake)

    with pytest.raises(EmptyChain, match="EMPT"):
        provider.fetch_chain("EMPT", CURRENT)


def test_unknown_symbol_is_symbol_not_found(fake, provider_for):
    provider = provider_for(fake)

    with pytest.raises(SymbolNotFound, match="ZZZZ"):
        provider.fetch_chain("ZZZZ", CURRENT)


def test_looping_next_url_is_reported_instead_of_followed_forever(fake, provider_for):
    fake.add_chain(ChainSpec("LOOP", contracts=900, loop_next_url=True))
    provider = provider_for(fake)

    with pytest.raises(MalformedResponse, match="repeated the same next_url cursor"):
        provider.fetch_chain("LOOP", CURRENT)

    assert len(fake.requests_to("/v3/snapshot")) == 2


# ---- past sessions: daily history -----------------------------------------------------------------


def test_past_session_comes_from_history_with_that_sessions_values_and_no_snapshot_request(provider_for):
    with FakeMassive(history_page_cap=250) as fake:
        fake.add_chain(ChainSpec("AAPL", contracts=600, underlying_price=150.0, greekless_every=7))
        provider = provider_for(fake)

        chain = provider.fetch_chain("AAPL", PAST)
        next_chain = provider.fetch_chain("AAPL", NEXT_PAST)

        assert fake.requests_to("/v3/snapshot") == []
        analytics = fake.requests_to("/options/v1/analytics")
        assert len(analytics) == 6  # 3 pages of 250 per session
        assert analytics[0].param("underlying_ticker") == "AAPL" and analytics[0].param("date") == "2025-12-15"
        open_interest = fake.requests_to("/options/v1/open-interest")
        assert {(r.param("root"), r.param("date")) for r in open_interest if r.param("root")} == {
            ("AAPL", "2025-12-15"),
            ("AAPL", "2025-12-16"),
        }
        expected = contracts_by_key(fake, "AAPL")
        assert len(chain.quotes) == 600 and {q.key for q in chain.quotes} == set(expected)
        for quote in chain.quotes:
            values = fake.history_values("AAPL", expected[quote.key], PAST)
            assert quote.open_interest == values["open_interest"]
            assert (quote.implied_volatility, quote.delta, quote.gamma, quote.theta, quote.vega) == tuple(
                values[name] for name in ("implied_volatility", "delta", "gamma", "theta", "vega")
            )
            assert (quote.bid, quote.ask, quote.last, quote.volume) == (None, None, None, None)
        assert chain.missing_fields == ("bid", "ask", "last", "volume")
        assert sum(1 for quote in chain.quotes if quote.gamma is None) == len(range(0, 600, 7))
        assert chain.session == PAST and chain.underlying_close == fake.session_close("AAPL", PAST)
        assert "open-close" in chain.notes["underlying_close_source"]
        next_oi = {q.key: q.open_interest for q in next_chain.quotes}
        assert all(next_oi[q.key] != q.open_interest for q in chain.quotes)
        assert next_chain.underlying_close != chain.underlying_close


def test_a_past_session_carries_the_rate_and_dividend_yield_its_analytics_were_priced_with(provider_for):
    with FakeMassive() as fake:
        fake.add_chain(ChainSpec("AAPL", contracts=50, underlying_price=150.0))
        provider = provider_for(fake)
        past = provider.fetch_chain("AAPL", PAST)
        current = provider.fetch_chain("AAPL", CURRENT)
    assert (past.risk_free_rate, past.dividend_yield) == (0.043, 0.004)
    # The live snapshot reports no model inputs: None, and dealer metrics use their defaults.
    assert (current.risk_free_rate, current.dividend_yield) == (None, None)


def test_history_rows_without_model_inputs_give_a_snapshot_without_them(provider_for):
    with FakeMassive(analytics_omit=("risk_free_rate", "dividend_yield")) as fake:
        fake.add_chain(ChainSpec("AAPL", contracts=50, underlying_price=150.0))
        chain = provider_for(fake).fetch_chain("AAPL", PAST)
    assert len(chain.quotes) == 50 and (chain.risk_free_rate, chain.dividend_yield) == (None, None)


def test_index_history_queries_the_bare_symbol_and_every_root(fake, provider_for):
    fake.add_chain(ChainSpec("SPX", contracts=200, index=True, extra_roots=("SPXW",), underlying_price=6000.0))
    provider = provider_for(fake)

    chain = provider.fetch_chain("SPX", PAST)

    assert fake.requests_to("/options/v1/analytics")[0].param("underlying_ticker") == "SPX"
    assert sorted(r.param("root") for r in fake.requests_to("/options/v1/open-interest")) == ["SPX", "SPXW"]
    assert fake.requests_to("/v1/open-close")[0].path == "/v1/open-close/I:SPX/2025-12-15"
    assert len(chain.quotes) == 200 and all(quote.open_interest is not None for quote in chain.quotes)


def test_past_close_falls_back_to_the_analytics_price_when_open_close_is_not_entitled(fake, provider_for):
    fake.add_chain(ChainSpec("AAPL", contracts=20))
    fake.add_fault("/v1/open-close", status=403)
    provider = provider_for(fake)

    chain = provider.fetch_chain("AAPL", PAST)

    assert chain.underlying_close == fake.analytics_underlying_price("AAPL", PAST)
    assert "15:45" in chain.notes["underlying_close_source"]


@pytest.mark.parametrize("unpublished", ["empty", "404"])
def test_unpublished_past_session_is_session_unavailable(provider_for, unpublished):
    with FakeMassive(published_through=date(2025, 12, 19), unpublished=unpublished) as fake:
        fake.add_chain(ChainSpec("AAPL", contracts=20))
        provider = provider_for(fake)

        with pytest.raises(SessionUnavailable, match=r"2025-12-22.*not published yet"):
            provider.fetch_chain("AAPL", date(2025, 12, 22))

        assert fake.requests_to("/v3/snapshot") == []


def test_open_interest_not_yet_published_is_session_unavailable(provider_for):
    with FakeMassive(open_interest_published_through=date(2025, 12, 19)) as fake:
        fake.add_chain(ChainSpec("AAPL", contracts=20))
        provider = provider_for(fake)

        with pytest.raises(SessionUnavailable, match="open interest is published the morning after"):
            provider.fetch_chain("AAPL", date(2025, 12, 22))


@pytest.mark.parametrize(
    ("omit", "field", "endpoint"),
    [
        ({"analytics_omit": ("gamma",)}, "gamma", "/options/v1/analytics"),
        ({"open_interest_omit": ("open_interest",)}, "open_interest", "/options/v1/open-interest"),
    ],
)
def test_a_history_field_absent_from_every_row_fails_loudly(provider_for, omit, field, endpoint):
    with FakeMassive(**omit) as fake:
        fake.add_chain(ChainSpec("AAPL", contracts=20))
        provider = provider_for(fake)

        with pytest.raises(MalformedResponse, match=rf"{endpoint}.*lack the field '{field}'"):
            provider.fetch_chain("AAPL", PAST)


@pytest.mark.parametrize(
    ("endpoint", "row", "problem"),
    [
        ("/options/v1/analytics", {"ticker": "O:AAPL260102C00080000", "date": "2025-12-12"}, "dated 2025-12-12"),
        ("/options/v1/open-interest", {"ticker": "O:MSFT260102C00080000", "open_interest": 5}, "root 'MSFT'"),
    ],
)
def test_a_history_filter_the_server_ignored_is_reported_not_paged_through(fake, provider_for, endpoint, row, problem):
    fake.add_chain(ChainSpec("AAPL", contracts=20))
    fake.add_fault(endpoint, status=200, body={"status": "OK", "results": [row], "next_url": f"{endpoint}?cursor=x"})
    provider = provider_for(fake)

    with pytest.raises(MalformedResponse, match=problem):
        provider.fetch_chain("AAPL", PAST)

    assert len(fake.requests_to(endpoint)) == 1


@pytest.mark.parametrize("session", [date(2025, 12, 24), date(2025, 12, 20), date(2025, 12, 25)])
def test_sessions_not_yet_closed_or_not_trading_days_are_refused_without_a_request(fake, provider_for, session):
    fake.add_chain(ChainSpec("AAPL", contracts=20))
    provider = provider_for(fake)

    with pytest.raises(SessionUnavailable, match=session.isoformat()):
        provider.fetch_chain("AAPL", session)

    assert fake.requests == []


# ---- errors -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("session", "endpoint"),
    [(CURRENT, "/v3/snapshot/options"), (PAST, "/options/v1/analytics")],
)
def test_403_is_session_unavailable_naming_session_endpoint_and_remedy_without_retries(
    fake, provider_for, session, endpoint
):
    fake.add_chain(ChainSpec("AAPL", contracts=20))
    fake.add_fault(endpoint, status=403, times=None)
    provider = provider_for(fake)

    with pytest.raises(SessionUnavailable) as raised:
        provider.fetch_chain("AAPL", session)

    message = str(raised.value)
    assert session.isoformat() in message and endpoint in message
    assert NOT_AUTHORIZED_MESSAGE in message and "upgrade the plan" in message and "another provider" in message
    assert "\n" not in message
    assert len(fake.requests) == 1


def test_401_is_auth_error_and_never_retried(fake, provider_for):
    fake.add_chain(ChainSpec("AAPL", contracts=20))
    provider = provider_for(fake, api_key="wrong-key-0123456789")

    with pytest.raises(AuthError, match="POLYGON_API_KEY") as raised:
        provider.fetch_chain("AAPL", CURRENT)

    assert "Unknown API Key" in str(raised.value)
    assert len(fake.requests) == 1


def test_429_retry_after_delays_the_next_request_by_at_least_that_long(fake, provider_for):
    fake.add_chain(ChainSpec("AAPL", contracts=20))
    fake.add_fault("/v3/snapshot", status=429, headers={"Retry-After": "2"})
    provider = provider_for(fake)

    chain = provider.fetch_chain("AAPL", CURRENT)

    limited, retried = fake.requests
    assert (limited.status, retried.status) == (429, 200)
    assert retried.received_at - limited.received_at >= 2.0
    assert len(chain.quotes) == 20


def test_a_429_holds_back_other_threads_of_the_same_provider(fake, provider_for):
    fake.add_chain(ChainSpec("AAPL", contracts=20))
    fake.add_chain(ChainSpec("MSFT", contracts=20))
    fake.add_fault("/v3/snapshot/options/AAPL", status=429, headers={"Retry-After": "1"})
    provider = provider_for(fake)

    with ThreadPoolExecutor(max_workers=2) as pool:
        first = pool.submit(provider.fetch_chain, "AAPL", CURRENT)
        deadline = time.monotonic() + 5
        while provider.budget.blocked_for() == 0 and time.monotonic() < deadline:
            time.sleep(0.005)  # polling for the block to start, not a synchronising sleep
        second = pool.submit(provider.fetch_chain, "MSFT", CURRENT)
        first.result(), second.result()

    limited = next(r for r in fake.requests if r.status == 429)
    other_thread = fake.requests_to("/v3/snapshot/options/MSFT")[0]
    assert other_thread.received_at - limited.received_at >= 1.0


def test_429_without_retry_after_backs_off_and_recovers(fake, provider_for):
    fake.add_chain(ChainSpec("AAPL", contracts=20))
    fake.add_fault("/v3/snapshot", status=429, times=2)
    provider = provider_for(fake)

    chain = provider.fetch_chain("AAPL", CURRENT)

    assert [r.status for r in fake.requests] == [429, 429, 200]
    assert len(chain.quotes) == 20


def test_server_rate_window_is_respected_after_its_429(fake, provider_for):
    fake.add_chain(ChainSpec("AAPL", contracts=1000))  # 4 pages
    fake.enforce_rate_limit(3, per_seconds=1.0, retry_after="1")
    provider = provider_for(fake)

    chain = provider.fetch_chain("AAPL", CURRENT)

    assert len(chain.quotes) == 1000
    assert [r.status for r in fake.requests] == [200, 200, 200, 429, 200]
    assert fake.rate_limited == 1


def test_request_budget_keeps_the_client_under_the_servers_window(fake, provider_for):
    fake.add_chain(ChainSpec("AAPL", contracts=2600))  # 11 pages
    fake.enforce_rate_limit(10, per_seconds=1.0)
    provider = provider_for(fake, settings=replace(FAST, requests_per_minute=480, burst=1))  # 8/s

    provider.fetch_chain("AAPL", CURRENT)

    assert len(fake.requests) == 11
    assert fake.rate_limited == 0
    assert fake.max_requests_in_window(1.0) <= 10


def test_5xx_burst_is_retried_and_recovered(fake, provider_for):
    fake.add_chain(ChainSpec("AAPL", contracts=300))
    fake.add_fault("/v3/snapshot", status=503, times=3)
    provider = provider_for(fake)

    chain = provider.fetch_chain("AAPL", CURRENT)

    assert [r.status for r in fake.requests] == [503, 503, 503, 200, 200]
    assert len(chain.quotes) == 300


def test_5xx_beyond_the_retry_budget_is_transient(fake, provider_for):
    fake.add_chain(ChainSpec("AAPL", contracts=20))
    fake.add_fault("/v3/snapshot", status=502, times=None)
    provider = provider_for(fake)

    with pytest.raises(TransientProviderError, match="failed after 4 attempts.*HTTP 502"):
        provider.fetch_chain("AAPL", CURRENT)

    assert len(fake.requests) == FAST.max_attempts


def test_slow_response_times_out_and_is_retried_while_the_large_lane_waits(fake, provider_for):
    fake.add_chain(ChainSpec("AAPL", contracts=20))
    # (a timeout well above a loaded machine's loopback answer time, a delay well above the timeout)
    fake.add_fault("/v3/snapshot", delay=1.5, times=1)
    provider = provider_for(fake, settings=replace(FAST, read_timeout=0.75, large_read_timeout=3.0))

    provider.fetch_chain("AAPL", CURRENT)
    assert len(fake.requests) == 2  # timed out once, then answered

    fake.clear_requests()
    fake.add_fault("/v3/snapshot", delay=1.5, times=1)
    provider.fetch_chain("AAPL", CURRENT, large=True)
    assert len(fake.requests) == 1


def test_truncated_json_is_malformed_response(fake, provider_for):
    fake.add_chain(ChainSpec("AAPL", contracts=20))
    fake.add_fault("/v3/snapshot", truncate=True, times=None)
    provider = provider_for(fake)

    with pytest.raises(MalformedResponse, match="invalid JSON"):
        provider.fetch_chain("AAPL", CURRENT)


def test_connection_refused_is_transient(provider_for):
    provider = provider_for(None, base_url=unused_local_url())

    with pytest.raises(TransientProviderError, match="ConnectionError"):
        provider.fetch_chain("AAPL", CURRENT)


# ---- secrets ------------------------------------------------------------------------------------


def test_api_key_appears_in_no_log_record_and_no_exception_text(caplog, provider_for):
    caplog.set_level(logging.DEBUG)
    wrong_key = "wrong-secret-key-55aa66bb"
    errors: list[BaseException] = []

    def attempt(call: Callable[[], object]) -> None:
        try:
            call()
        except ProviderError as exc:
            errors.append(exc)

    with FakeMassive() as fake:
        fake.add_chain(ChainSpec("AAPL", contracts=300, api_key_in_next_url=True))
        good = provider_for(fake)
        attempt(lambda: good.fetch_chain("AAPL", CURRENT))
        attempt(lambda: good.fetch_chain("AAPL", PAST))
        attempt(lambda: provider_for(fake, api_key=wrong_key).fetch_chain("AAPL", CURRENT))
        fake.add_fault("/v3/snapshot", status=403)
        attempt(lambda: good.fetch_chain("AAPL", CURRENT))
        fake.add_fault("/v3/snapshot", status=500, times=FAST.max_attempts)
        attempt(lambda: good.fetch_chain("AAPL", CURRENT))
        fake.add_fault("/v3/snapshot", truncate=True)
        attempt(lambda: good.fetch_chain("AAPL", CURRENT))
        secret = fake.api_key
    closed = provider_for(None, api_key=secret, base_url=unused_local_url())
    attempt(lambda: closed.fetch_chain("AAPL", CURRENT))

    assert [type(error).__name__ for error in errors] == [
        "AuthError",
        "SessionUnavailable",
        "TransientProviderError",
        "MalformedResponse",
        "TransientProviderError",
    ]
    assert caplog.records, "expected DEBUG/INFO/WARNING records to inspect"
    for key in (secret, wrong_key):
        assert key not in caplog.text
        for record in caplog.records:
            assert key not in record.getMessage()
        for error in errors:
            assert key not in str(error) and key not in repr(error)
            assert key not in "".join(traceback.format_exception(error))


# ---- construction -------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [None, "", "   "])
def test_a_run_without_an_api_key_is_auth_error(monkeypatch, value):
    if value is None:
        monkeypatch.delenv("POLYGON_API_KEY", raising=False)
    else:
        monkeypatch.setenv("POLYGON_API_KEY", value)
    request = build_ingest_request(as_of=CURRENT, provider="polygon")

    with pytest.raises(AuthError, match="set POLYGON_API_KEY") as raised:
        PolygonProvider.from_settings(request.provider_settings())

    assert "\n" not in str(raised.value)


def test_a_run_takes_key_base_url_and_request_budget_from_flags_then_environment(fake, monkeypatch):
    fake.add_chain(ChainSpec("AAPL", contracts=20))
    monkeypatch.setenv("POLYGON_API_KEY", fake.api_key)
    monkeypatch.setenv("POLYGON_BASE_URL", fake.base_url)
    monkeypatch.setenv("KAPMAN_MAX_REQUESTS_PER_MINUTE", "900")
    flagged = build_ingest_request(as_of=CURRENT, provider="polygon", max_requests_per_minute=1234)
    unflagged = build_ingest_request(as_of=CURRENT, provider="polygon")

    configured = PolygonProvider.from_settings(flagged.provider_settings(), clock=lambda: NOW)
    from_environment = PolygonProvider.from_settings(unflagged.provider_settings(), clock=lambda: NOW)
    try:
        chain = configured.fetch_chain("AAPL", CURRENT)
        assert (configured.name, configured.simulated) == ("polygon", False)
        assert configured.budget.budget_per_minute == 1234
        assert from_environment.budget.budget_per_minute == 900
        assert len(chain.quotes) == 20
    finally:
        configured.close()
        from_environment.close()
