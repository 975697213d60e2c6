"""The shared request budget: a token bucket per provider, and Retry-After blocking every caller."""

from __future__ import annotations

import threading
import time

import pytest

from providers.http import (
    DEFAULT_REQUESTS_PER_MINUTE,
    RequestBudget,
    redact,
    resolve_requests_per_minute,
)


class FakeClock:
    """Monotonic seconds that only move when someone sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def budget_on(clock: FakeClock, per_minute: float, burst: int | None = None) -> RequestBudget:
    return RequestBudget(per_minute, burst=burst, clock=clock, sleep=clock.sleep)


def test_burst_is_free_then_requests_are_paced_at_the_rate():
    clock = FakeClock()
    budget = budget_on(clock, per_minute=120, burst=3)  # 2 per second

    start = clock.now
    stamps = []
    for _ in range(7):
        budget.acquire()
        stamps.append(clock.now - start)

    assert stamps[:3] == [0, 0, 0]
    assert stamps[3:] == pytest.approx([0.5, 1.0, 1.5, 2.0])


def test_default_burst_is_one_seconds_worth_and_at_least_one():
    assert RequestBudget(300).capacity == 5
    assert RequestBudget(5).capacity == 1


def test_tokens_refill_while_idle_but_never_beyond_the_burst():
    clock = FakeClock()
    budget = budget_on(clock, per_minute=60, burst=2)
    for _ in range(2):
        budget.acquire()

    clock.now += 100  # a long idle spell
    waits = [budget.acquire() for _ in range(3)]

    assert waits == pytest.approx([0, 0, 1.0])


def test_free_tier_rate_spaces_requests_twelve_seconds_apart():
    clock = FakeClock()
    budget = budget_on(clock, per_minute=5)

    start = clock.now
    for _ in range(6):
        budget.acquire()

    assert clock.now - start == pytest.approx(60.0)


def test_retry_after_blocks_the_next_request_for_at_least_that_long():
    clock = FakeClock()
    budget = budget_on(clock, per_minute=600, burst=10)
    budget.acquire()

    budget.block_for(2.0)
    blocked_at = clock.now
    budget.acquire()

    assert clock.now - blocked_at >= 2.0


def test_a_block_forfeits_the_burst_so_traffic_resumes_one_at_a_time():
    clock = FakeClock()
    budget = budget_on(clock, per_minute=60, burst=5)

    budget.block_for(10.0)
    unblocked = clock.now + 10.0
    stamps = []
    for _ in range(3):
        budget.acquire()
        stamps.append(clock.now - unblocked)

    assert stamps == pytest.approx([0.0, 1.0, 2.0])


def test_a_shorter_block_never_shortens_a_longer_one():
    clock = FakeClock()
    budget = budget_on(clock, per_minute=600)

    budget.block_for(5.0)
    budget.block_for(1.0)

    assert budget.blocked_for() == pytest.approx(5.0)
    waited = budget.acquire()
    assert waited == pytest.approx(5.0)


def test_threads_share_one_budget():
    budget = RequestBudget(6000, burst=1)  # 100 per second, real clock
    stamps: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(5):
            budget.acquire()
            with lock:
                stamps.append(time.monotonic())

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    stamps.sort()
    # 30 tokens at 100/s with a burst of 1: at least 29 intervals of 10 ms between first and last.
    assert len(stamps) == 30
    assert stamps[-1] - stamps[0] >= 0.29 - 0.01


def test_a_block_from_one_thread_holds_back_every_other_thread():
    budget = RequestBudget(60_000, burst=10)
    blocked_at = time.monotonic()
    budget.block_for(0.3)
    finished: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        budget.acquire()
        with lock:
            finished.append(time.monotonic())

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(finished) == 4
    assert min(finished) - blocked_at >= 0.3


def test_rate_comes_from_the_run_else_the_default():
    assert resolve_requests_per_minute(42) == 42
    assert resolve_requests_per_minute(None) == DEFAULT_REQUESTS_PER_MINUTE == 300


def test_non_positive_rates_are_refused():
    with pytest.raises(ValueError):
        resolve_requests_per_minute(0)
    with pytest.raises(ValueError):
        RequestBudget(0)


def test_redact_hides_the_key_and_any_api_key_parameter():
    text = "GET /v3/x?cursor=abc&apiKey=s3cr3t-key&b=1 failed for s3cr3t-key; also APIKEY=other"

    cleaned = redact(text, "s3cr3t-key")

    assert "s3cr3t-key" not in cleaned and "other" not in cleaned
    assert cleaned == "GET /v3/x?cursor=abc&apiKey=***&b=1 failed for ***; also APIKEY=***"


def test_a_shared_gate_is_passed_once_per_request_after_the_local_token_and_its_wait_counts():
    clock = FakeClock()
    budget = budget_on(clock, per_minute=60, burst=1)  # 1 per second locally
    passes: list[float] = []

    def shared_budget_allows() -> None:  # a shared budget that needs 3 s per request
        passes.append(clock.now)
        clock.sleep(3.0)

    budget.share_with(shared_budget_allows)
    waited = [budget.acquire() for _ in range(3)]

    # Each request passed the gate once, after its local token; the gate's time is waiting time,
    # and the local bucket refilled meanwhile, so it adds no wait of its own.
    assert passes == [1000.0, 1003.0, 1006.0]
    assert waited == [3.0, 3.0, 3.0]
    budget.share_with(None)
    assert budget.acquire() == 0.0 and len(passes) == 3


@pytest.mark.parametrize(("budget", "burst"), [(300, None), (600, 10), (5, None), (120, 3)])
def test_a_budget_never_exceeds_its_requests_per_minute_in_any_minute_and_uses_at_least_95_percent(budget, burst):
    clock = FakeClock()
    bucket = RequestBudget.within(budget, burst=burst, clock=clock, sleep=clock.sleep)
    stamps = []
    for _ in range(budget * 5):  # five minutes of requests as fast as the bucket allows
        bucket.acquire()
        stamps.append(clock.now)

    # Any closed 60 s window, counted from each request on (where the densest window starts).
    densest = max(sum(1 for stamp in stamps[index:] if stamp <= start + 60.0) for index, start in enumerate(stamps))
    assert densest <= budget
    used_per_minute = (len(stamps) - 1) / (stamps[-1] - stamps[0]) * 60
    assert used_per_minute >= 0.95 * budget
