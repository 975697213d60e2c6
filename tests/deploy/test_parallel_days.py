"""Parallel days: the same rows and ledger as sequential days, one request budget, and Dask.

These run the flow in this process against the folder's Prefect server: in one process every day
shares the registry's one provider instance, hence one request budget, whatever runs the days
(the flow's threads or a Dask cluster of threads).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from functools import cache, lru_cache

import psycopg2
import pytest
from distributed import Client as DaskClient
from distributed import LocalCluster, get_task_stream
from prefect.logging.handlers import APILogWorker
from prefect.settings import PREFECT_API_URL, temporary_settings

import providers.polygon
from flows.backfill import backfill_options
from markets.calendar import get_calendar
from providers.registry import unregister_provider
from settings.environment import POLYGON_API_KEY as API_KEY_ENV
from settings.environment import POLYGON_BASE_URL as BASE_URL_ENV
from tests.dbutil import contents, seed_watchlist
from tests.deploy.conftest import BACKFILL
from tests.fakes.massive import ChainSpec, FakeMassive

START, END = date(2025, 12, 9), date(2025, 12, 12)
SESSIONS = ["2025-12-09", "2025-12-10", "2025-12-11", "2025-12-12"]
SYMBOLS = ["KO", "XOM"]
# 480 requests/minute: 8 per second after a burst of 8 (one second's worth). Unpaced, the 24
# requests of four parallel days arrive within a fraction of a second.
BUDGET_PER_MINUTE = 480
RATE, BURST = BUDGET_PER_MINUTE / 60, 8


def seed(url: str, symbols: list[str]) -> None:
    connection = psycopg2.connect(url)
    seed_watchlist(connection, symbols)
    connection.close()


@pytest.fixture(autouse=True)
def prefect_api(prefect_server) -> Iterator[None]:
    with temporary_settings(updates={PREFECT_API_URL: prefect_server.api_url}):
        yield
        # Ship this test's run logs while the server is still the one they belong to.
        APILogWorker.drain_all(timeout=10)


@cache
def _calendar_once(name: str):  # noqa: ANN202
    """The provider asks its calendar a few questions per fetch; pandas-market-calendars recomputes
    each answer (~0.2 s of CPU): answer each once, so the timings here measure the budget."""
    calendar = get_calendar(name)

    class Once:
        sessions = staticmethod(lru_cache(maxsize=None)(calendar.sessions))
        session_close = staticmethod(lru_cache(maxsize=None)(calendar.session_close))

    Once.name = calendar.name
    return Once()


@pytest.fixture
def massive(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeMassive]:
    """A loopback Massive API the polygon provider is pointed at (a fresh provider instance)."""
    monkeypatch.setattr(providers.polygon, "get_calendar", _calendar_once)
    unregister_provider("polygon")
    with FakeMassive() as fake:
        for symbol in SYMBOLS:
            fake.add_chain(ChainSpec(symbol, contracts=20))
        monkeypatch.setenv(BASE_URL_ENV, fake.base_url)
        monkeypatch.setenv(API_KEY_ENV, fake.api_key)
        yield fake
    unregister_provider("polygon")


def sessions_in_request_order(fake: FakeMassive) -> list[str]:
    return [request.param("date") for request in fake.requests_to("/options/v1/analytics")]


def test_four_parallel_days_write_what_one_at_a_time_writes_within_one_request_budget(
    make_database, monkeypatch, massive
):
    sequential_url, parallel_url = make_database(), make_database()
    for url in (sequential_url, parallel_url):
        seed(url, SYMBOLS)

    def backfill(url: str, max_parallel_days: int):  # noqa: ANN202
        monkeypatch.setenv("DATABASE_URL", url)
        return backfill_options(
            start_date=START,
            end_date=END,
            provider="polygon",
            max_parallel_days=max_parallel_days,
            max_requests_per_minute=BUDGET_PER_MINUTE,
            day_retries=0,
            # Day by day: the point is how parallel days share one budget (windows: tests/e2e/…windows).
            fetch_by_window=False,
        )

    one_at_a_time = backfill(sequential_url, 1)
    assert sessions_in_request_order(massive) == sorted(sessions_in_request_order(massive))
    massive.clear_requests()

    parallel = backfill(parallel_url, 4)
    assert one_at_a_time.days_succeeded == parallel.days_succeeded == 4
    assert contents(parallel_url) == contents(sequential_url)
    assert len(contents(parallel_url)[1]) == len(SESSIONS) * len(SYMBOLS)

    # The days really overlapped: the first requests already ask for several sessions ...
    first_requests = sessions_in_request_order(massive)[: len(SESSIONS)]
    assert len(set(first_requests)) > 1
    # ... yet the provider never saw more than the token bucket allows in any window: the burst
    # plus the rate (+1: a request arrives a loopback round trip after it takes its token).
    for seconds in (1.0, 2.0, 4.0):
        assert massive.max_requests_in_window(seconds) <= BURST + RATE * seconds + 1, seconds
    assert massive.rate_limited == 0


def test_days_run_on_a_dask_cluster_and_write_what_the_flow_threads_write(make_database, monkeypatch):
    pytest.importorskip("prefect_dask")
    threads_url, dask_url = make_database(), make_database()
    for url in (threads_url, dask_url):
        seed(url, ["AAPL", "1234"])

    monkeypatch.setenv("DATABASE_URL", threads_url)
    by_threads = backfill_options(start_date=START, end_date=END, provider="synthetic", day_retries=0)

    monkeypatch.setenv("DATABASE_URL", dask_url)
    with (
        LocalCluster(n_workers=1, threads_per_worker=4, processes=False, dashboard_address=None) as cluster,
        DaskClient(cluster) as client,
        get_task_stream(client) as stream,
    ):
        by_dask = backfill_options(
            start_date=START,
            end_date=END,
            provider="synthetic",
            max_parallel_days=4,
            dask_address=cluster.scheduler_address,
            day_retries=0,
        )
    assert by_threads.days_succeeded == by_dask.days_succeeded == 4
    assert contents(dask_url) == contents(threads_url)
    # Every day was a task on the Dask cluster.
    assert len([task for task in stream.data if task["key"].startswith("ingest_day")]) == len(SESSIONS)


def test_dask_local_starts_a_temporary_cluster(make_database, monkeypatch):
    pytest.importorskip("prefect_dask")
    url = make_database()
    seed(url, ["SPY"])
    monkeypatch.setenv("DATABASE_URL", url)
    summary = backfill_options(
        start_date=START, end_date=START, provider="synthetic", symbols=["SPY"], dask_address="local", day_retries=0
    )
    assert summary.days_succeeded == 1 and summary.rows_written > 0


def test_an_unknown_shared_rate_limit_fails_the_run_with_the_command_that_creates_it(make_database, monkeypatch):
    url = make_database()
    seed(url, ["SPY"])
    monkeypatch.setenv("DATABASE_URL", url)
    state = backfill_options(
        start_date=START,
        end_date=END,
        provider="synthetic",
        symbols=["SPY"],
        shared_rate_limit="no-such-limit",
        return_state=True,
    )
    assert state.is_failed()
    assert "prefect gcl create no-such-limit --limit" in state.message


def test_workers_in_separate_processes_share_one_budget_through_a_global_concurrency_limit(deployed, package_database):
    """Two flow runs in two worker processes, each with a local budget far above the shared one."""
    server = deployed.server
    created = server.cli("gcl", "create", "massive-requests", "--limit", "2", "--slot-decay-per-second", "4")
    assert created.returncode == 0, created.stdout + created.stderr
    with FakeMassive() as fake:
        for symbol in SYMBOLS:
            fake.add_chain(ChainSpec(symbol, contracts=20))
        env = {"POLYGON_BASE_URL": fake.base_url, "POLYGON_API_KEY": fake.api_key}
        params = {
            "start_date": "2025-12-11",
            "end_date": "2025-12-12",
            "provider": "polygon",
            "max_parallel_days": "2",
            "max_requests_per_minute": "60000",
            "shared_rate_limit": "massive-requests",
            "fetch_by_window": "false",
        }
        urls = [package_database(SYMBOLS), package_database(SYMBOLS)]
        started = [deployed.start(BACKFILL, params=params, env={**env, "DATABASE_URL": url}) for url in urls]
        runs = [server.wait_for_flow_run(flow_run_id) for flow_run_id in started]
    assert [run["state_type"] for run in runs] == ["COMPLETED", "COMPLETED"], [run["state"] for run in runs]
    assert contents(urls[0]) == contents(urls[1])
    assert len(fake.requests) == 2 * 2 * len(SYMBOLS) * 3
    # limit 2, decay 4/s: at most 2 + 4·W requests in any W seconds, across both processes.
    for seconds in (1.0, 2.0):
        assert fake.max_requests_in_window(seconds) <= 2 + 4 * seconds + 1, seconds
