"""The one HTTP client a provider uses: pooled session, bearer auth, timeouts, rate budget, retries.

Why the retry loop is ours and not urllib3's `Retry` mounted on the adapter: urllib3 retries and
sleeps inside the connection pool, where the shared request budget cannot see them. A retry would
skip the token bucket, and a 429's `Retry-After` would pause only the thread that got it while the
others kept hammering the host. So the adapter is mounted with `max_retries=0` and `ApiClient.get`
drives the attempts: every attempt (first or retry) takes a token from the shared `RequestBudget`,
and a 429 blocks that budget for every thread. urllib3's `Retry` still parses `Retry-After` (both
the seconds and the HTTP-date form).

The API key only ever travels in the `Authorization` header (set by a requests auth hook, which
requests drops when a redirect leaves the host), never in a URL. Every URL, log line and exception
message built here also goes through `redact`, in case a key reached a URL some other way (a
`next_url` carrying `apiKey=`, a misconfigured base URL).
"""

from __future__ import annotations

import json
import logging
import math
import random
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from requests.auth import AuthBase
from urllib3.exceptions import InvalidHeader
from urllib3.util import Retry

from providers.base import MalformedResponse, ProviderError, TransientProviderError

logger = logging.getLogger("kapman.providers.http")

# 5 requests/second. Massive's paid plans are "unlimited" but ask clients to stay well under
# 100 requests/second; 300/min leaves a wide margin (and room for other jobs on the same key) while
# a nightly run of a few hundred symbols x a few pages still takes minutes, not hours. The free
# tier allows 5/min: its users set KAPMAN_MAX_REQUESTS_PER_MINUTE=5 (read by the run, see settings.environment).
DEFAULT_REQUESTS_PER_MINUTE = 300
REDACTED = "***"
_API_KEY_PARAM = re.compile(r"(?i)(apikey=)[^&#\s'\"]+")
_MAX_ERROR_TEXT = 300


def resolve_requests_per_minute(configured: int | None) -> int:
    """The run's budget (`--max-requests-per-minute` or `KAPMAN_MAX_REQUESTS_PER_MINUTE`, resolved
    by the run), else the default (300/min)."""
    if configured is None:
        return DEFAULT_REQUESTS_PER_MINUTE
    if configured <= 0:
        raise ValueError(f"max_requests_per_minute must be positive, got {configured}")
    return configured


def redact(text: str, secret: str | None) -> str:
    """`text` with `secret` and any `apiKey=` query value replaced by `***`."""
    if secret:
        text = text.replace(secret, REDACTED)
    return _API_KEY_PARAM.sub(rf"\g<1>{REDACTED}", text)


# The share of a request budget left unused so that jitter never tips a request over it.
PACING_MARGIN = 0.02


def _default_burst(requests_per_minute: float) -> int:
    """One second's worth, at least 1 (at 5/min that means strict pacing)."""
    return max(1, int(requests_per_minute // 60))


class RequestBudget:
    """A thread-safe token bucket of requests per minute, shared by every request of one provider.

    `burst` tokens may be spent at once; after that, requests are paced at the steady rate. A
    rate-limit answer calls `block_for`, which holds back every caller, not just the one that got the
    429, and forfeits the burst so traffic resumes one request at a time. `clock` and `sleep` are
    injectable so tests can drive time.
    """

    def __init__(
        self,
        requests_per_minute: float,
        *,
        burst: int | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if requests_per_minute <= 0:
            raise ValueError(f"requests_per_minute must be positive, got {requests_per_minute}")
        # The steady rate; `budget_per_minute` is the budget it keeps within (see `within`).
        self.requests_per_minute = requests_per_minute
        self.budget_per_minute = requests_per_minute
        self.capacity = float(burst if burst is not None else _default_burst(requests_per_minute))
        if self.capacity < 1:
            raise ValueError(f"burst must be at least 1, got {burst}")
        self._rate = requests_per_minute / 60.0
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._tokens = self.capacity
        self._refilled_at = clock()
        self._blocked_until = -math.inf
        self._shared_gate: Callable[[], None] | None = None

    @classmethod
    def within(
        cls,
        budget_per_minute: float,
        *,
        burst: int | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> RequestBudget:
        """A bucket whose requests never exceed `budget_per_minute` in any 60-second window.

        A bucket paced at the budget itself could send its burst on top of a full minute's worth
        (a server counting a rolling minute would answer 429), so the steady rate sets aside the
        burst beyond its first token, and a further `PACING_MARGIN` for the network jitter between
        taking a token and the request's arrival. (A burst set above half the budget still keeps
        half the budget as the steady rate, and can then exceed the budget in a minute.)
        """
        capacity = burst if burst is not None else _default_burst(budget_per_minute)
        steady = (budget_per_minute - (capacity - 1)) * (1 - PACING_MARGIN)
        bucket = cls(max(steady, budget_per_minute / 2), burst=capacity, clock=clock, sleep=sleep)
        bucket.budget_per_minute = budget_per_minute
        return bucket

    def share_with(self, gate: Callable[[], None] | None) -> None:
        """Also pass `gate` before every request: a budget shared with other processes or machines.

        The local bucket still paces this process (and absorbs its 429 blocks); the gate blocks until
        the shared budget has room, so workers elsewhere spending the same API key are counted too.
        """
        self._shared_gate = gate

    def acquire(self) -> float:
        """Wait for a token (and for any block to pass); returns the seconds waited."""
        waited = 0.0
        while True:
            with self._lock:
                now = self._clock()
                if now < self._blocked_until:
                    wait = self._blocked_until - now
                else:
                    self._refill(now)
                    # (a hair under 1 is a whole token: the refill's float arithmetic must not leave a
                    # caller waiting ever smaller fractions of a nanosecond)
                    if self._tokens >= 1 - 1e-9:
                        self._tokens = max(0.0, self._tokens - 1)
                        gate = self._shared_gate
                        break
                    wait = (1 - self._tokens) / self._rate
            # Sleep outside the lock; re-check afterwards because a block may have arrived meanwhile.
            self._sleep(wait)
            waited += wait
        if gate is not None:
            started = self._clock()
            gate()
            waited += self._clock() - started
        return waited

    def block_for(self, seconds: float) -> None:
        """Hold every caller back for `seconds` from now (a 429's Retry-After or backoff)."""
        with self._lock:
            now = self._clock()
            until = now + max(0.0, seconds)
            if until > self._blocked_until:
                self._blocked_until = until
            self._refill(now)
            # The bucket refills only from the end of the block, starting with one token.
            self._tokens = min(self._tokens, 1.0)
            self._refilled_at = max(self._refilled_at, self._blocked_until)

    def blocked_for(self) -> float:
        """Seconds until the current block ends (0 when not blocked)."""
        with self._lock:
            return max(0.0, self._blocked_until - self._clock())

    def _refill(self, now: float) -> None:
        elapsed = now - self._refilled_at
        if elapsed > 0:
            self._tokens = min(self.capacity, self._tokens + elapsed * self._rate)
            self._refilled_at = now


@dataclass(frozen=True)
class HttpSettings:
    """Transport knobs; the defaults are for production, tests shrink the delays."""

    # None: KAPMAN_MAX_REQUESTS_PER_MINUTE, else DEFAULT_REQUESTS_PER_MINUTE.
    requests_per_minute: int | None = None
    # None: one second's worth of the rate (at least 1).
    burst: int | None = None
    # Connections kept per host: size it to the number of threads fetching at once.
    pool_size: int = 16
    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    # The slow lane (large symbols): big pages, slow server-side pagination.
    large_read_timeout: float = 180.0
    # Attempts per request, the first included (429s, 5xx, timeouts and connection errors).
    max_attempts: int = 5
    backoff_base: float = 1.0
    backoff_max: float = 30.0
    # Up to this fraction of the delay is added at random, so threads do not retry in lockstep.
    backoff_jitter: float = 0.25
    # A longer Retry-After is not waited out in-process: the request fails as transient.
    max_retry_after: float = 120.0


class BearerAuth(AuthBase):
    """Adds `Authorization: Bearer <key>`; requests strips it when a redirect changes host."""

    def __init__(self, api_key: str) -> None:
        self._api_key = api_key

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self._api_key}"
        return request

    def __repr__(self) -> str:
        return f"BearerAuth({REDACTED})"


def build_session(api_key: str, *, pool_size: int = 16, user_agent: str = "kapman-options") -> requests.Session:
    """A pooled session with bearer auth and no adapter-level retries (see the module docstring)."""
    session = requests.Session()
    session.auth = BearerAuth(api_key)
    session.headers.update({"Accept": "application/json", "User-Agent": user_agent})
    adapter = HTTPAdapter(pool_connections=4, pool_maxsize=pool_size, max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


@dataclass(frozen=True)
class ApiResponse:
    """A final (non-retried) answer: 2xx with parsed JSON, or a 4xx the caller must interpret."""

    status: int
    # Path and query as requested, redacted.
    url: str
    body: Any
    request_id: str | None
    elapsed_ms: int

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def error_text(self) -> str:
        """The body's `message` or `error` (Massive uses both), else its `status`, else ''."""
        if isinstance(self.body, dict):
            for field_name in ("message", "error", "status"):
                value = self.body.get(field_name)
                if isinstance(value, str) and value.strip():
                    return value.strip()
        return ""

    @property
    def body_status(self) -> str:
        if isinstance(self.body, dict) and isinstance(self.body.get("status"), str):
            return self.body["status"]
        return ""


# Transport faults worth another attempt. Everything else from requests is a configuration problem.
_RETRYABLE_EXCEPTIONS = (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError)


class ApiClient:
    """GETs JSON from one host within one request budget, retrying what is worth retrying.

    Statuses: 2xx returns the parsed body (invalid JSON raises `MalformedResponse`); 429, 5xx,
    timeouts and connection errors are retried with backoff and end as `TransientProviderError`;
    other statuses (401, 403, 404, 400...) are returned at once, never retried, for the provider to
    turn into its own error types.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        settings: HttpSettings | None = None,
        *,
        provider: str,
        budget: RequestBudget | None = None,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.settings = settings or HttpSettings()
        self.provider = provider
        self.base_url = base_url.rstrip("/")
        self._api_key = api_key
        self.budget = budget or RequestBudget.within(
            resolve_requests_per_minute(self.settings.requests_per_minute), burst=self.settings.burst
        )
        self._sleep = sleep
        self._jitter = jitter
        self.session = build_session(api_key, pool_size=self.settings.pool_size)
        self._retry_after_parser = Retry()

    def redact(self, text: str) -> str:
        return redact(text, self._api_key)

    def close(self) -> None:
        self.session.close()

    def get(self, path: str, params: Mapping[str, Any] | None = None, *, large: bool = False) -> ApiResponse:
        """GET `path` (path and optional query, relative to the base URL) and return the final answer."""
        settings = self.settings
        timeout = (settings.connect_timeout, settings.large_read_timeout if large else settings.read_timeout)
        shown = self.redact(_with_query(path, params))
        last_problem = ""
        for attempt in range(1, settings.max_attempts + 1):
            waited = self.budget.acquire()
            if waited > 0:
                logger.debug("event=budget_wait provider=%s path=%s waited_s=%.3f", self.provider, shown, waited)
            started = time.monotonic()
            try:
                response = self.session.get(self.base_url + path, params=params, timeout=timeout)
            except _RETRYABLE_EXCEPTIONS as exc:
                last_problem = f"{type(exc).__name__}: {self._exception_text(exc)}"
                delay = self._backoff(attempt)
                self._log_retry(shown, attempt, last_problem, delay)
                if attempt < settings.max_attempts:
                    self._sleep(delay)
                continue
            except requests.RequestException as exc:
                raise ProviderError(
                    f"{self.provider}: GET {shown} cannot be sent: {type(exc).__name__}: {self._exception_text(exc)}"
                ) from None
            elapsed_ms = int((time.monotonic() - started) * 1000)
            answer = self._answer(response, shown, elapsed_ms)
            logger.debug(
                "event=http_response provider=%s method=GET path=%s status=%d elapsed_ms=%d attempt=%d request_id=%s",
                self.provider,
                shown,
                answer.status,
                elapsed_ms,
                attempt,
                answer.request_id,
            )
            if answer.status == 429:
                delay = self._rate_limit_delay(response, attempt, shown)
                last_problem = f"HTTP 429 {self.redact(answer.error_text)!r}".strip()
                self.budget.block_for(delay)
                logger.warning(
                    "event=rate_limited provider=%s path=%s attempt=%d block_s=%.3f request_id=%s",
                    self.provider,
                    shown,
                    attempt,
                    delay,
                    answer.request_id,
                )
                continue
            if answer.status >= 500:
                last_problem = f"HTTP {answer.status} {self.redact(answer.error_text)!r}"
                delay = self._backoff(attempt)
                self._log_retry(shown, attempt, last_problem, delay, answer.request_id)
                if attempt < settings.max_attempts:
                    self._sleep(delay)
                continue
            if not answer.ok:
                logger.info(
                    "event=http_error provider=%s path=%s status=%d error=%r request_id=%s",
                    self.provider,
                    shown,
                    answer.status,
                    self.redact(answer.error_text),
                    answer.request_id,
                )
            return answer
        logger.warning(
            "event=retries_exhausted provider=%s path=%s attempts=%d last=%r",
            self.provider,
            shown,
            settings.max_attempts,
            last_problem,
        )
        raise TransientProviderError(
            f"{self.provider}: GET {shown} failed after {settings.max_attempts} attempts; last: {last_problem}"
        )

    def _answer(self, response: requests.Response, shown: str, elapsed_ms: int) -> ApiResponse:
        try:
            body: Any = json.loads(response.content) if response.content else None
        except ValueError as exc:
            if 200 <= response.status_code < 300:
                raise MalformedResponse(
                    f"{self.provider}: GET {shown} answered HTTP {response.status_code} with invalid JSON"
                    f" ({len(response.content)} bytes, truncated?): {exc}"
                ) from None
            body = None
        request_id = body.get("request_id") if isinstance(body, dict) else None
        return ApiResponse(
            status=response.status_code,
            url=shown,
            body=body,
            request_id=request_id if isinstance(request_id, str) else None,
            elapsed_ms=elapsed_ms,
        )

    def _backoff(self, attempt: int) -> float:
        """Exponential backoff (base x 2^(attempt-1), capped) plus random jitter on top."""
        settings = self.settings
        delay = min(settings.backoff_max, settings.backoff_base * 2 ** (attempt - 1))
        return delay * (1 + settings.backoff_jitter * self._jitter())

    def _rate_limit_delay(self, response: requests.Response, attempt: int, shown: str) -> float:
        header = response.headers.get("Retry-After")
        if header is None:
            return self._backoff(attempt)
        try:
            delay = float(self._retry_after_parser.parse_retry_after(header))
        except InvalidHeader:
            logger.warning("event=bad_retry_after provider=%s path=%s value=%r", self.provider, shown, header)
            return self._backoff(attempt)
        if delay > self.settings.max_retry_after:
            self.budget.block_for(self.settings.max_retry_after)
            raise TransientProviderError(
                f"{self.provider}: GET {shown} rate limited with Retry-After {delay:.0f}s, longer than"
                f" the {self.settings.max_retry_after:.0f}s this process waits; try again later"
            )
        return delay

    def _log_retry(self, shown: str, attempt: int, problem: str, delay: float, request_id: str | None = None) -> None:
        will_retry = attempt < self.settings.max_attempts
        logger.warning(
            "event=%s provider=%s path=%s attempt=%d problem=%r delay_s=%s request_id=%s",
            "retry" if will_retry else "attempt_failed",
            self.provider,
            shown,
            attempt,
            problem,
            f"{delay:.3f}" if will_retry else "-",
            request_id,
        )

    def _exception_text(self, exc: BaseException) -> str:
        """requests/urllib3 embed URLs (and could embed anything) in messages: redact and bound them."""
        text = self.redact(" ".join(str(exc).split()))
        return text if len(text) <= _MAX_ERROR_TEXT else text[: _MAX_ERROR_TEXT - 3] + "..."


def _with_query(path: str, params: Mapping[str, Any] | None) -> str:
    if not params:
        return path
    query = "&".join(f"{name}={value}" for name, value in params.items())
    return f"{path}{'&' if '?' in path else '?'}{query}"
