"""UnicornProvider against a loopback fake of the EODHD Unicorn Bay API (no database, no internet).

The clock is pinned at 2025-12-24 06:00 UTC (01:00 New York, after EODHD's nightly update): the
current session is 2025-12-23 (served from /contracts); 2025-12-09 ... 2025-12-22 are past sessions
rebuilt from /eod rows whose id names them.
"""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, date, datetime

import pytest

from providers.base import (
    AuthError,
    EmptyChain,
    MalformedResponse,
    ProviderError,
    QuotaExhausted,
    SessionUnavailable,
    TransientProviderError,
)
from providers.http import HttpSettings
from providers.registry import get_provider, unregister_provider
from providers.unicorn import CONTRACTS_PATH, EOD_PATH, UnicornProvider
from tasks.request import build_ingest_request
from tests.fakes.massive import unused_local_url
from tests.fakes.unicorn import FakeUnicorn, UnicornChain

NOW = datetime(2025, 12, 24, 6, 0, tzinfo=UTC)
CURRENT = date(2025, 12, 23)
PAST = date(2025, 12, 9)
NEXT_PAST = date(2025, 12, 10)
STOCK_EOD = "/api/eod/"
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
QUOTE_VALUES = ("bid", "ask", "volume", "open_interest", "delta", "gamma", "theta", "vega")


@pytest.fixture
def fake() -> Iterator[FakeUnicorn]:
    with FakeUnicorn() as server:
        yield server


@pytest.fixture
def provider_for() -> Iterator[Callable[..., UnicornProvider]]:
    built: list[UnicornProvider] = []

    def build(
        fake: FakeUnicorn | None,
        *,
        token: str | None = None,
        base_url: str | None = None,
        settings: HttpSettings = FAST,
        **options: int,
    ) -> UnicornProvider:
        provider = UnicornProvider(
            token or (fake.token if fake else "unused-token-1234567890"),
            base_url=base_url or (fake.base_url if fake else unused_local_url()),
            clock=lambda: NOW,
            http_settings=settings,
            **options,
        )
        built.append(provider)
        return provider

    yield build
    for provider in built:
        provider.close()


def by_key(fake: FakeUnicorn, symbol: str) -> dict:
    return {(c.expiration_date, c.strike_price, c.option_type): c for c in fake.contracts(symbol)}


def as_stored(values: dict) -> dict:
    """The fake's attributes as the quote fields they become."""
    return {
        "bid": values["bid"],
        "ask": values["ask"],
        "volume": values["volume"],
        "open_interest": values["open_interest"],
        "delta": values["delta"],
        "gamma": values["gamma"],
        "theta": values["theta"],
        "vega": values["vega"],
    }


# ---- current session: /contracts -----------------------------------------------------------------


def test_current_session_pages_contracts_with_the_token_in_the_query_and_drops_stale_rows(provider_for):
    with FakeUnicorn(page_cap=15) as fake:
        fake.add_chain(UnicornChain("AAPL", contracts=40, underlying_price=150.0, stale_every=5, token_in_next=True))
        provider = provider_for(fake)

        chain = provider.fetch_chain("AAPL", CURRENT)

        pages = fake.requests_to(CONTRACTS_PATH)
        assert len(pages) == 3  # 15 + 15 + 10 rows
        assert [page.param("page[offset]") for page in pages] == ["0", "15", "30"]
        assert all(page.query["api_token"] == [fake.token] for page in pages)  # once, though next carried it
        assert pages[0].param("filter[underlying_symbol]") == "AAPL"
        assert pages[0].param("filter[exp_date_from]") == CURRENT.isoformat()
        assert fake.requests_to(EOD_PATH) == []  # the current session never reads history
        expected = by_key(fake, "AAPL")
        stale = {key for key, contract in expected.items() if contract.position % 5 == 4}
        assert {quote.key for quote in chain.quotes} == set(expected) - stale
        for quote in chain.quotes:
            values = fake.eod_values(expected[quote.key], CURRENT)
            assert {name: getattr(quote, name) for name in QUOTE_VALUES} == as_stored(values)
            assert quote.implied_volatility == values["volatility"]
        assert chain.notes["dropped_other_date"] == str(len(stale)) and chain.dropped_rows == len(stale)
        assert chain.underlying_close == fake.session_close("AAPL", CURRENT)
        assert (chain.session, chain.provider, chain.simulated) == (CURRENT, "unicorn", False)
        stock = fake.requests_to(STOCK_EOD)
        assert [(r.path, r.param("fmt"), r.param("from"), r.param("to")) for r in stock] == [
            ("/api/eod/AAPL.US", "json", "2025-12-23", "2025-12-23")
        ]
        assert chain.notes["api_calls"] == "30" and provider.api_calls == 30


def test_a_current_session_not_yet_published_is_refused_never_stored_with_older_rows(provider_for):
    with FakeUnicorn(published_through=date(2025, 12, 22)) as fake:
        fake.add_chain(UnicornChain("AAPL", contracts=20))
        provider = provider_for(fake)

        with pytest.raises(SessionUnavailable, match=r"2025-12-23.*latest 2025-12-22.*not published yet"):
            provider.fetch_chain("AAPL", CURRENT)


def test_pagination_ends_on_an_empty_next_link(provider_for):
    with FakeUnicorn(page_cap=8) as fake:
        fake.add_chain(UnicornChain("AAPL", contracts=20, empty_next=True))
        chain = provider_for(fake).fetch_chain("AAPL", CURRENT)

        assert len(fake.requests_to(CONTRACTS_PATH)) == 3 and len(chain.quotes) == 20


def test_a_chain_past_the_offset_ceiling_is_sliced_by_expiration_type_and_strike(provider_for):
    # At most 10 + 5 rows per filter combination: 120 contracts (6 expirations x 20) need slicing,
    # and one expiration (20 contracts) still needs its types split.
    with FakeUnicorn(max_offset=10, page_cap=5) as fake:
        fake.add_chain(UnicornChain("AAPL", contracts=120))
        provider = provider_for(fake, max_offset=10)

        chain = provider.fetch_chain("AAPL", CURRENT)

        assert {quote.key for quote in chain.quotes} == set(by_key(fake, "AAPL"))
        assert len(chain.quotes) == 120
        requests = fake.requests_to(CONTRACTS_PATH)
        assert all(request.status == 200 for request in requests)
        assert max(int(request.param("page[offset]")) for request in requests) <= 10
        assert any(request.param("filter[exp_date_to]") for request in requests)
        assert any(request.param("filter[type]") for request in requests)


def test_a_repeated_page_stops_instead_of_looping(fake, provider_for):
    fake.add_chain(UnicornChain("LOOP", contracts=2500, loop_next=True))

    with pytest.raises(MalformedResponse, match="repeated"):
        provider_for(fake).fetch_chain("LOOP", CURRENT)

    assert len(fake.requests_to(CONTRACTS_PATH)) == 2


def test_a_next_link_to_another_host_is_refused_unfollowed(fake, provider_for):
    body = {"meta": {}, "data": [], "links": {"next": "http://evil.example/api/mp/unicornbay/options/contracts?x=1"}}
    fake.add_chain(UnicornChain("AAPL", contracts=4))
    fake.add_fault(CONTRACTS_PATH, status=200, body=body)

    with pytest.raises(MalformedResponse, match="another host"):
        provider_for(fake).fetch_chain("AAPL", CURRENT)

    assert len(fake.requests) == 1


def test_an_empty_chain_is_an_error(fake, provider_for):
    fake.add_chain(UnicornChain("EMPT", contracts=0))

    with pytest.raises(EmptyChain, match="EMPT"):
        provider_for(fake).fetch_chain("EMPT", CURRENT)


# ---- past sessions: /eod rows whose id names the session --------------------------------------------


def test_a_past_session_is_rebuilt_from_rows_observed_that_day_never_from_a_tradetime_match(fake, provider_for):
    fake.add_chain(UnicornChain("AAPL", contracts=40, underlying_price=150.0, quiet_every=4))
    provider = provider_for(fake)

    chain = provider.fetch_chain("AAPL", PAST)
    following = provider.fetch_chain("AAPL", NEXT_PAST)

    expected = by_key(fake, "AAPL")
    assert {quote.key for quote in chain.quotes} == set(expected)
    for quote in chain.quotes:
        contract = expected[quote.key]
        values = fake.eod_values(contract, PAST)
        assert {name: getattr(quote, name) for name in QUOTE_VALUES} == as_stored(values)
    # The trap: many of that day's rows carry an older tradetime (no trade that day), and the
    # tradetime filter also returns later-dated stale rows; every stored value is the day's own.
    assert sum(1 for c in fake.contracts("AAPL") if fake.tradetime(c, PAST) != PAST.isoformat()) > 10
    bulk = [r for r in fake.requests_to(EOD_PATH) if r.param("filter[underlying_symbol]")]
    assert [(r.param("filter[tradetime_from]"), r.param("filter[tradetime_to]")) for r in bulk[:1]] == [
        ("2025-11-09", "2025-12-09")
    ]
    # Quiet contracts (never traded) are missed by the bulk pull and fetched one by one.
    one_by_one = {r.param("filter[contract]") for r in fake.requests_to(EOD_PATH) if r.param("filter[contract]")}
    assert {c.contract for c in fake.contracts("AAPL") if c.quiet} <= one_by_one
    assert chain.notes["contracts_fetched_one_by_one"] == "10"
    assert int(chain.notes["dropped_non_session"]) > 0  # their histories hold 2025-11-27 (Thanksgiving) rows
    assert fake.requests_to(CONTRACTS_PATH)[0].param("filter[exp_date_from]") == PAST.isoformat()
    # Each day its own values: open interest differs for every contract from one session to the next.
    next_oi = {quote.key: quote.open_interest for quote in following.quotes}
    assert all(next_oi[quote.key] != quote.open_interest for quote in chain.quotes)
    assert chain.underlying_close == fake.session_close("AAPL", PAST) != following.underlying_close
    assert "not adjusted_close" in chain.notes["underlying_close_source"]


def test_contracts_listed_after_the_session_have_no_row_and_are_left_out(fake, provider_for):
    fake.add_chain(UnicornChain("AAPL", contracts=20, late_every=5, late_listing=date(2025, 12, 15)))
    provider = provider_for(fake)

    chain = provider.fetch_chain("AAPL", PAST)

    listed_then = {key for key, c in by_key(fake, "AAPL").items() if c.listed <= PAST}
    assert {quote.key for quote in chain.quotes} == listed_then and len(listed_then) == 16


def test_rows_whose_quote_time_disagrees_with_their_id_are_dropped(fake, provider_for):
    fake.add_chain(UnicornChain("AAPL", contracts=4, quiet_every=0))
    good = fake.eod_values(fake.contracts("AAPL")[0], PAST)
    bad = {**fake.eod_values(fake.contracts("AAPL")[1], PAST), "bid_date": "2025-12-10 20:59:59"}
    rows = [
        {"id": f"{values['contract']}-{PAST.isoformat()}", "type": "options-eod", "attributes": values}
        for values in (good, bad)
    ]
    fake.add_fault(CONTRACTS_PATH, status=200, body={"data": [], "links": {"next": None}})
    fake.add_fault(EOD_PATH, status=200, body={"meta": {}, "data": rows, "links": {"next": None}})

    chain = provider_for(fake).fetch_chain("AAPL", PAST)

    assert [quote.open_interest for quote in chain.quotes] == [good["open_interest"]]
    assert chain.notes["dropped_mismatch"] == "1" and chain.dropped_rows == 1


def test_a_session_without_rows_is_session_unavailable(provider_for):
    with FakeUnicorn(published_through=date(2025, 12, 19)) as fake:
        fake.add_chain(UnicornChain("AAPL", contracts=8))

        with pytest.raises(SessionUnavailable, match=r"no .*/eod rows of AAPL observed on 2025-12-22"):
            provider_for(fake).fetch_chain("AAPL", date(2025, 12, 22))


@pytest.mark.parametrize("session", [date(2025, 12, 24), date(2025, 12, 20), date(2025, 11, 27)])
def test_sessions_not_closed_or_not_trading_days_are_refused_without_a_request(fake, provider_for, session):
    fake.add_chain(UnicornChain("AAPL", contracts=4))

    with pytest.raises(SessionUnavailable, match=session.isoformat()):
        provider_for(fake).fetch_chain("AAPL", session)

    assert fake.requests == []


def test_without_the_stock_endpoint_the_close_is_estimated_by_parity_and_flagged(provider_for):
    with FakeUnicorn(stock_eod_status=403) as fake:
        fake.add_chain(UnicornChain("AAPL", contracts=40))

        chain = provider_for(fake).fetch_chain("AAPL", PAST)

        # The fake's mids keep put-call parity around its spot; bid/ask are rounded to cents.
        assert chain.close_estimated and abs(chain.underlying_close - fake.spot("AAPL", PAST)) <= 0.01
        assert "ESTIMATED" in chain.notes["underlying_close_source"]
        assert len(chain.quotes) == 40


def test_a_chain_too_thin_for_parity_leaves_the_close_missing_not_guessed(provider_for):
    with FakeUnicorn(stock_eod_status=403) as fake:
        fake.add_chain(UnicornChain("AAPL", contracts=2))

        chain = provider_for(fake).fetch_chain("AAPL", PAST)

        assert chain.underlying_close is None and not chain.close_estimated
        assert chain.notes["underlying_close_source"] == "unavailable"


# ---- cost control and errors ----------------------------------------------------------------------------


def test_402_stops_the_provider_naming_the_reset_time_and_later_fetches_ask_nothing(fake, provider_for):
    fake.add_chain(UnicornChain("AAPL", contracts=8))
    fake.add_chain(UnicornChain("MSFT", contracts=8))
    provider = provider_for(fake)
    provider.fetch_chain("AAPL", CURRENT)
    fake.add_fault(CONTRACTS_PATH, status=402, times=None)
    fake.clear_requests()

    with pytest.raises(QuotaExhausted) as raised:
        provider.fetch_chain("MSFT", CURRENT)
    asked = len(fake.requests)
    with pytest.raises(QuotaExhausted):
        provider.fetch_chain("AAPL", PAST)

    message = str(raised.value)
    assert "quota is exhausted" in message and "HTTP 402" in message and "resets at 19:01 GMT+0000" in message
    assert "re-run the same command" in message and "\n" not in message
    assert [r.path for r in fake.requests] == [CONTRACTS_PATH, "/api/internal-user"]  # not retried
    assert len(fake.requests) == asked
    assert not isinstance(raised.value, TransientProviderError) and not raised.value.retryable


@pytest.mark.parametrize(("status", "said"), [(401, "rejected the API token"), (403, "not entitled")])
def test_401_and_403_are_fatal_auth_errors_never_retried(fake, provider_for, status, said):
    fake.add_chain(UnicornChain("AAPL", contracts=8))
    fake.add_fault(CONTRACTS_PATH, status=status, times=None)
    provider = provider_for(fake)

    with pytest.raises(AuthError, match=said) as raised:
        provider.fetch_chain("AAPL", CURRENT)
    with pytest.raises(AuthError):
        provider.fetch_chain("AAPL", PAST)

    assert "UNICORN_API_TOKEN" in str(raised.value)
    assert len(fake.requests) == 1


def test_a_wrong_token_answered_in_plain_text_is_an_auth_error(fake, provider_for):
    fake.add_chain(UnicornChain("AAPL", contracts=8))

    with pytest.raises(AuthError, match='HTTP 401 "Unauthenticated"'):
        provider_for(fake, token="wrong-token-0123456789").fetch_chain("AAPL", CURRENT)


def test_422_is_reported_as_our_bug_with_the_apis_message(fake, provider_for):
    fake.add_chain(UnicornChain("AAPL", contracts=8))
    fake.add_fault(EOD_PATH, status=422)

    with pytest.raises(
        ProviderError, match=r'HTTP 422 "filter\.underlying_symbol: The filter.*bug in kapman-options'
    ) as raised:
        provider_for(fake).fetch_chain("AAPL", PAST)

    assert not raised.value.retryable
    assert len(fake.requests_to(EOD_PATH)) == 1


def test_429_retry_after_is_honoured_and_5xx_bursts_are_retried(fake, provider_for):
    fake.add_chain(UnicornChain("AAPL", contracts=8))
    fake.add_fault(CONTRACTS_PATH, status=429, headers={"Retry-After": "1"})
    fake.add_fault(CONTRACTS_PATH, status=502, times=2)

    chain = provider_for(fake).fetch_chain("AAPL", CURRENT)

    limited, *rest = fake.requests_to(CONTRACTS_PATH)
    assert [limited.status, *(r.status for r in rest)] == [429, 502, 502, 200]
    assert rest[0].received_at - limited.received_at >= 1.0
    assert len(chain.quotes) == 8


def test_5xx_beyond_the_retry_budget_is_transient(fake, provider_for):
    fake.add_chain(UnicornChain("AAPL", contracts=8))
    fake.add_fault(CONTRACTS_PATH, status=502, times=None)

    with pytest.raises(TransientProviderError, match="failed after 4 attempts.*HTTP 502"):
        provider_for(fake).fetch_chain("AAPL", CURRENT)


def test_the_configured_budget_keeps_under_the_servers_window(provider_for):
    with FakeUnicorn(page_cap=2) as fake:
        fake.add_chain(UnicornChain("AAPL", contracts=22))  # 11 pages
        fake.enforce_rate_limit(10, per_seconds=1.0)
        provider = provider_for(fake, settings=replace(FAST, requests_per_minute=480, burst=1))
        started = time.monotonic()

        provider.fetch_chain("AAPL", CURRENT)

        assert fake.rate_limited == 0 and len(fake.requests_to(CONTRACTS_PATH)) == 11
        assert time.monotonic() - started >= 1.0


# ---- secrets ----------------------------------------------------------------------------------------


def test_the_token_appears_in_no_log_record_and_no_exception_text(caplog, provider_for):
    caplog.set_level(logging.DEBUG)
    wrong = "wrong-unicorn-token-77ee88ff"
    errors: list[BaseException] = []

    def attempt(call: Callable[[], object]) -> None:
        try:
            call()
        except ProviderError as exc:
            errors.append(exc)

    with FakeUnicorn(page_cap=5) as fake:
        fake.add_chain(UnicornChain("AAPL", contracts=12, token_in_next=True))
        good = provider_for(fake)
        attempt(lambda: good.fetch_chain("AAPL", CURRENT))
        attempt(lambda: good.fetch_chain("AAPL", PAST))
        attempt(lambda: provider_for(fake, token=wrong).fetch_chain("AAPL", CURRENT))
        fake.add_fault(CONTRACTS_PATH, status=404)  # the page echoes the URL, token included
        attempt(lambda: good.fetch_chain("AAPL", CURRENT))
        fake.add_fault(CONTRACTS_PATH, status=502, times=FAST.max_attempts, body=f"bad gateway {fake.token}")
        attempt(lambda: good.fetch_chain("AAPL", CURRENT))
        fake.add_fault(CONTRACTS_PATH, status=422, body={"errors": {"api_token": [f"bad {fake.token}"]}})
        attempt(lambda: good.fetch_chain("AAPL", CURRENT))
        secret = fake.token
    attempt(lambda: provider_for(None, token=secret, base_url=unused_local_url()).fetch_chain("AAPL", CURRENT))

    assert [type(error).__name__ for error in errors] == [
        "AuthError",
        "ProviderError",
        "TransientProviderError",
        "ProviderError",
        "TransientProviderError",
    ]
    assert "Not found" in str(errors[1]) and "api_token=***" in str(errors[1])
    assert caplog.records
    for key in (secret, wrong):
        assert key not in caplog.text
        for error in errors:
            assert key not in str(error) and key not in "".join(traceback.format_exception(error))


# ---- construction -------------------------------------------------------------------------------


@pytest.mark.parametrize("variable", ["UNICORN_API_TOKEN", "UNICORN_API_KEY", "EODHD_API_TOKEN"])
def test_the_run_builds_unicorn_from_the_trading_systems_variables(fake, monkeypatch, variable):
    fake.add_chain(UnicornChain("AAPL", contracts=8))
    for name in ("UNICORN_API_TOKEN", "UNICORN_API_KEY", "EODHD_API_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(variable, fake.token)
    monkeypatch.setenv("UNICORN_BASE_URL", fake.base_url + "/api")  # the trading system's form
    request = build_ingest_request(start_date=PAST, end_date=PAST, provider="unicorn", max_requests_per_minute=900)
    unregister_provider("unicorn")
    try:
        provider = get_provider("unicorn", request.provider_settings())
        chain = provider.fetch_chain("AAPL", PAST)
        assert (provider.name, provider.simulated, provider.budget.budget_per_minute) == ("unicorn", False, 900)
        assert len(chain.quotes) == 8
    finally:
        unregister_provider("unicorn")


def test_a_run_without_a_token_is_one_line_auth_error(monkeypatch):
    for name in ("UNICORN_API_TOKEN", "UNICORN_API_KEY", "EODHD_API_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    request = build_ingest_request(start_date=PAST, end_date=PAST, provider="unicorn")

    with pytest.raises(AuthError, match="unicorn needs an API token: pass --api-key or set UNICORN_API_TOKEN") as e:
        UnicornProvider.from_settings(request.provider_settings())

    assert "\n" not in str(e.value)
