"""Provider faults from a loopback Massive server, through the whole pipeline: the ingest_options
flow → ingest_day (one Prefect day retry allowed) → PolygonProvider → HTTP → PostgreSQL.

What tests/integration/test_polygon_provider.py proves per request (429 Retry-After, 5xx, timeouts,
truncation, looping next_url, empty chain, 401, 403) and tests/e2e/test_polygon_backfill.py proves
per run (403 on history for every day, 429 holding back every thread, a 5xx burst on history) is
not repeated here. Each case here faults one symbol (IBM) of a two-symbol day, mostly on a later
page of its chain, after earlier pages were fine, and checks what only the pipeline decides: the
day's status, whether Prefect retried it, what the day says, and that the faulted symbol-day is
either complete or absent, never partly written.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime

import pytest

from flows.ingest import ingest_options
from flows.run import AllDaysFailed
from providers.http import HttpSettings
from tasks.day_report import DayReport
from tests.dbutil import seed_watchlist
from tests.drills.faulty_massive import FaultyMassive
from tests.drills.support import complete_symbol_days, half_written_symbol_days, registered_polygon, task_run_counts
from tests.fakes.massive import ChainSpec

NOW = datetime(2025, 12, 23, 22, 0, tzinfo=UTC)  # 17:00 New York, after the close
CURRENT = date(2025, 12, 23)  # so the chain comes from the paged snapshot (250 rows a page)
KEY = "drill-faults-key-4b1f9e0c2a"
CLEAN, FAULTY = "AMD", "IBM"
FAULTY_PATH = f"/v3/snapshot/options/{FAULTY}"
CONTRACTS = {CLEAN: 300, FAULTY: 600}  # 2 and 3 pages
SETTINGS = HttpSettings(
    requests_per_minute=60_000,
    burst=100,
    connect_timeout=1.0,
    # Generous for a loaded CI machine; the read-timeout case shortens it (`Case.read_timeout`).
    read_timeout=2.0,
    large_read_timeout=2.0,
    max_attempts=4,
    backoff_base=0.01,
    backoff_max=0.02,
)


def after_first_page(fake: FaultyMassive, **fault: object) -> None:
    """`fault` on every request to IBM's snapshot except the first (its first page is fine)."""
    fake.add_fault(FAULTY_PATH, times=1)  # a pass-through: the normal answer
    fake.add_fault(FAULTY_PATH, **fault)  # type: ignore[arg-type]


def burst(fake: FaultyMassive) -> None:
    fake.add_fault(FAULTY_PATH, times=1)
    for status in (500, 502, 503):
        fake.add_fault(FAULTY_PATH, status=status)


def retry_after_is_honoured(fake: FaultyMassive) -> None:
    requests = fake.requests_to(FAULTY_PATH)
    [limited] = [request for request in requests if request.status == 429]
    retried = [request for request in requests if request.received_at > limited.received_at]
    assert len(requests) == 4 and retried[0].received_at - limited.received_at >= 1.0


def burst_is_absorbed(fake: FaultyMassive) -> None:
    assert [request.status for request in fake.requests_to(FAULTY_PATH)] == [200, 500, 502, 503, 200, 200]


def refused_without_retries(fake: FaultyMassive) -> None:
    # One request per symbol at most (both may be in flight when the first refusal arrives), and
    # Prefect did not retry the day (checked by the attempts count).
    assert len(fake.requests) <= 2


@dataclass(frozen=True)
class Case:
    arrange: Callable[[FaultyMassive], None]
    status: str
    faulty_complete: bool
    attempts: int
    error: str | None = None
    check: Callable[[FaultyMassive], None] = field(default=lambda fake: None)
    read_timeout: float = SETTINGS.read_timeout


CASES = {
    "429-retry-after-honoured": Case(
        lambda fake: after_first_page(fake, status=429, headers={"Retry-After": "1"}),
        "succeeded", True, 1, check=retry_after_is_honoured,
    ),
    "500-502-503-burst-absorbed": Case(
        burst, "succeeded", True, 1, check=burst_is_absorbed,
    ),
    "503-beyond-the-retry-budget": Case(
        lambda fake: after_first_page(fake, status=503, times=None),
        "partial", False, 2, "failed after 4 attempts; last: HTTP 503",
    ),
    "read-timeouts": Case(
        lambda fake: after_first_page(fake, delay=0.6, times=None),
        "partial", False, 2, "failed after 4 attempts; last: ReadTimeout", read_timeout=0.25,
    ),
    "connection-resets": Case(
        lambda fake: fake.add_reset(FAULTY_PATH, after=1, times=None),
        "partial", False, 2, "failed after 4 attempts; last: ConnectionError",
    ),
    "reset-mid-body-absorbed": Case(
        lambda fake: fake.add_reset(FAULTY_PATH, after=1, times=1, mid_body=True), "succeeded", True, 1
    ),
    "truncated-json": Case(
        lambda fake: after_first_page(fake, truncate=True, times=None), "partial", False, 2, "invalid JSON"
    ),
    "looping-next-url": Case(
        lambda fake: fake.add_chain(ChainSpec(FAULTY, contracts=CONTRACTS[FAULTY], loop_next_url=True)),
        "partial", False, 2, "repeated the same next_url cursor",
    ),
    "empty-chain": Case(
        lambda fake: fake.add_chain(ChainSpec(FAULTY, contracts=0)),
        "partial", False, 1, f"polygon returned an empty chain for {FAULTY}",
    ),
    "401-rejected-key": Case(
        lambda fake: setattr(fake, "api_key", "a-rotated-key-0000000000"),
        "failed", False, 1, "polygon rejected the API key (/v3/snapshot/options answered HTTP 401",
        check=refused_without_retries,
    ),
    "403-plan-not-entitled": Case(
        lambda fake: fake.add_fault("/v3/snapshot", status=403, times=None),
        "failed", False, 1, "the Massive plan is not entitled to this data: upgrade the plan",
        check=refused_without_retries,
    ),
}  # fmt: skip


@pytest.fixture
def fake() -> Iterator[FaultyMassive]:
    with FaultyMassive(api_key=KEY) as server:
        for symbol, contracts in CONTRACTS.items():
            server.add_chain(ChainSpec(symbol, contracts=contracts))
        yield server


@pytest.fixture
def polygon(fake: FaultyMassive, case: Case) -> Iterator[str]:
    """PolygonProvider with the pinned clock and the case's read timeout, registered for this test."""
    settings = replace(SETTINGS, read_timeout=case.read_timeout, large_read_timeout=case.read_timeout)
    with registered_polygon("polygon-drill", KEY, fake, now=NOW, settings=settings) as name:
        yield name


def run_current_session(provider: str) -> tuple[DayReport, dict[str, int]]:
    """The single-day flow with one immediate day retry; the day's final report and task attempts."""
    state = ingest_options(
        as_of=CURRENT, provider=provider, concurrency=2, day_retries=1, retry_delay_seconds=0, return_state=True
    )
    outcome = state.result(raise_on_failure=False)
    summary = outcome.summary if isinstance(outcome, AllDaysFailed) else outcome
    [day] = summary.days
    return day, task_run_counts(state.state_details.flow_run_id)


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_a_provider_fault_ends_with_the_right_day_status_and_no_partial_symbol_day(case, db, fake, polygon):
    seed_watchlist(db, [CLEAN, FAULTY])
    case.arrange(fake)

    day, attempts = run_current_session(polygon)

    assert day.status == case.status, day.error
    assert attempts == {f"ingest-{CURRENT.isoformat()}": case.attempts}
    if case.error is None:
        assert day.error is None
    else:
        assert case.error in day.error and "\n" not in day.error
    complete = {CLEAN, FAULTY} if case.faulty_complete else ({CLEAN} if day.status == "partial" else set())
    assert complete_symbol_days(db) == {f"{symbol}@{CURRENT.isoformat()}" for symbol in complete}
    assert half_written_symbol_days(db) == []  # and each complete symbol-day has its whole chain:
    with db, db.cursor() as cursor:
        cursor.execute("SELECT t.symbol, cs.contracts FROM chain_snapshots cs JOIN tickers t ON t.id = cs.ticker_id")
        assert dict(cursor.fetchall()) == {symbol: CONTRACTS[symbol] for symbol in complete}
    case.check(fake)
