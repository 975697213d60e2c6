"""The one HTTP client a provider uses: pooled session, bearer auth, timeouts, rate budget, retries.

Why the retry loop is ours and not urllib3's `Retry` mounted on the adapter: urllib3 retries and
sleeps inside the connection pool, where the shared request budget cannot see them. A retry would
skip the token bucket, and a 429's `Retry-After` would pause only the thread that got it while the
others kept hammering the host. So the adapter is mounted with `max_retries=0` and `ApiClient.get`
drives the attempts: every attempt (first or retry) takes a token from the shared `RequestBudget`,
and a 429 blocks that budget for every thread. urllib3's `Retry` still parses `Retry-After` (both
the seconds and the HTTP-date form).

The API key travels in the `Authorization` header (set by a requests auth hook, which requests
drops when a redirect leaves the host), or, for an API that takes it only there (EODHD's
`api_token`), as one query parameter added by an auth hook to each request as it is sent; such a
client follows no redirect (a 3xx is returned as an error answer), so the key goes only to the base
URL's origin. Every URL, log line and exception
message built here also goes through `redact`, in case a key reached a URL some other way (a
`next_url` carrying `apiKey=`, a misconfigured base URL). `ApiClient.get` sends nothing whose URL
would leave the base URL's scheme, host and port or carry user info, whatever path it is given.

Every answer is bounded twice. In time: `HttpSettings.total_timeout` covers connect, headers and
every read of the body (a per-read timeout alone lets a server dripping a byte every few seconds
hold a request for hours); a watchdog shuts the connection's socket at the deadline, wherever the
request is blocked, and the body loop checks the deadline between chunks. In size: the body is
streamed and decompressed here, chunk by chunk with a bounded output per step, so neither the wire
bytes nor the inflated bytes can pass `HttpSettings.max_response_bytes` (a gzip bomb is refused
after inflating at most that much, never inflated whole).
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import random
import re
import socket
import threading
import time
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlsplit

import requests
import urllib3.exceptions
from requests.adapters import HTTPAdapter
from requests.auth import AuthBase
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import InvalidHeader, LocationParseError
from urllib3.util import Retry, parse_url

from providers.base import MalformedResponse, ProviderError, ProviderSettings, ResponseTooLarge, TransientProviderError

logger = logging.getLogger("kapman.providers.http")

# 5 requests/second. Massive's paid plans are "unlimited" but ask clients to stay well under
# 100 requests/second; 300/min leaves a wide margin (and room for other jobs on the same key) while
# a nightly run of a few hundred symbols x a few pages still takes minutes, not hours. The free
# tier allows 5/min: its users set KAPMAN_MAX_REQUESTS_PER_MINUTE=5 (read by the run, see settings.environment).
DEFAULT_REQUESTS_PER_MINUTE = 300
REDACTED = "***"
_API_KEY_PARAM = re.compile(r"(?i)((?:apikey|api_token)=)[^&#\s'\"]+")
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
    """`text` with `secret` and any `apiKey=` or `api_token=` query value replaced by `***`."""
    if secret:
        text = text.replace(secret, REDACTED)
    return _API_KEY_PARAM.sub(rf"\g<1>{REDACTED}", text)


class _RedactQueryKeys(logging.Filter):
    """urllib3 logs each request line at DEBUG, query string included: a key that travels in the
    query (`api_token=`) is redacted there before any handler sees the record."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = _API_KEY_PARAM.sub(rf"\g<1>{REDACTED}", message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True


logging.getLogger("urllib3.connectionpool").addFilter(_RedactQueryKeys())


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
    # Wall-clock limit of one attempt: connect, headers and the whole body. The read timeouts above
    # bound each read only; a server dripping a byte at a time would otherwise hold a request for
    # as long as it likes. An attempt past it is retried like a timeout.
    total_timeout: float = 60.0
    # The slow lane's limit: its pages are big and its read timeout is long (a few pages of it).
    large_total_timeout: float = 600.0
    # Largest answer accepted, counted on the wire (compressed) and again decompressed. The biggest
    # real page is a history page of up to 49,999 rows, some 20 MB of JSON; a body past this is
    # refused (`ResponseTooLarge`, not retried: it would be as large again).
    max_response_bytes: int = 64 * 1024 * 1024


class BearerAuth(AuthBase):
    """Adds `Authorization: Bearer <key>`; requests strips it when a redirect changes host."""

    def __init__(self, api_key: str) -> None:
        self._api_key = api_key

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self._api_key}"
        return request

    def __repr__(self) -> str:
        return f"BearerAuth({REDACTED})"


class QueryTokenAuth(AuthBase):
    """Adds `<param>=<key>` to the query of each request as it is sent (never to a URL we show)."""

    def __init__(self, param: str, api_key: str) -> None:
        self._param = param
        self._api_key = api_key

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.prepare_url(request.url, {self._param: self._api_key})
        return request

    def __repr__(self) -> str:
        return f"QueryTokenAuth({self._param}={REDACTED})"


# The connection each thread's request in flight is using, so its watchdog can shut it down.
_in_flight = threading.local()
_WATCHDOG_RECHECK_S = 0.05


class _Watchdog:
    """Shuts down the socket of one request's connection when its deadline passes.

    The socket is attached when the request's connection connects, or when the pool lends it an
    already connected one (see `_WatchedPool`), so the watchdog reaches it whatever the request is
    blocked on: connect, headers or a body read. (It holds the socket itself: http.client hands a
    response that ends its connection the socket and clears `connection.sock`.)
    """

    def __init__(self, seconds: float) -> None:
        self.expired = False
        self._sock: socket.socket | None = None
        self._done = False
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def __enter__(self) -> _Watchdog:
        _in_flight.watchdog = self
        self._timer.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        with self._lock:
            self._done = True
            self._timer.cancel()
        _in_flight.watchdog = None

    def attach(self, sock: socket.socket | None) -> None:
        if sock is None:
            return
        with self._lock:
            self._sock = sock
            if self.expired and not self._done:
                _shut(sock)

    def _expire(self) -> None:
        with self._lock:
            if self._done:
                return
            self.expired = True
            if self._sock is not None:
                _shut(self._sock)
            else:
                # Still resolving or connecting (no socket yet): look again shortly.
                self._timer = threading.Timer(_WATCHDOG_RECHECK_S, self._expire)
                self._timer.daemon = True
                self._timer.start()


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):  # already closed: nothing left to stop
        sock.shutdown(socket.SHUT_RDWR)


def _watch(sock: socket.socket | None) -> None:
    watchdog = getattr(_in_flight, "watchdog", None)
    if watchdog is not None:
        watchdog.attach(sock)


class _WatchedConnection:
    """Hands its socket to the watchdog of the requesting thread as soon as it is connected."""

    def connect(self) -> None:
        super().connect()  # type: ignore[misc]
        _watch(self.sock)  # type: ignore[attr-defined]


class _WatchedHTTPConnection(_WatchedConnection, HTTPConnection):
    pass


class _WatchedHTTPSConnection(_WatchedConnection, HTTPSConnection):
    pass


class _WatchedPool:
    """Hands an already connected socket it lends (keep-alive) to the requesting thread's watchdog."""

    def _get_conn(self, timeout: float | None = None) -> Any:
        connection = super()._get_conn(timeout)  # type: ignore[misc]
        _watch(getattr(connection, "sock", None))
        return connection


class _WatchedHTTPConnectionPool(_WatchedPool, HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSConnectionPool(_WatchedPool, HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


class _WatchedAdapter(HTTPAdapter):
    """An adapter whose pools attach each connection to the request's watchdog. (Through a proxy the
    watchdog has no socket to shut; the deadline is then checked between body chunks only.)"""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _WatchedHTTPConnectionPool,
            "https": _WatchedHTTPSConnectionPool,
        }


def build_session(
    api_key: str, *, pool_size: int = 16, user_agent: str = "kapman-options", token_param: str | None = None
) -> requests.Session:
    """A pooled session with bearer auth (or the key as the query parameter `token_param`) and no
    adapter-level retries (see the module docstring)."""
    session = requests.Session()
    session.auth = QueryTokenAuth(token_param, api_key) if token_param else BearerAuth(api_key)
    # Only the encodings `_Body` decodes itself, with a bounded output per step.
    session.headers.update({"Accept": "application/json", "Accept-Encoding": "gzip, deflate", "User-Agent": user_agent})
    adapter = _WatchedAdapter(pool_connections=4, pool_maxsize=pool_size, max_retries=0)
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
    # An error answer's body when it is not JSON (EODHD answers 401 as plain `Unauthenticated`, a
    # 404 as a page echoing the URL): redacted and bounded, for the provider's message.
    text: str = ""

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
_RETRYABLE_REQUESTS_EXCEPTIONS = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
)
# While the body streams from `response.raw`, urllib3's own errors and socket errors arrive
# unwrapped (resets, short bodies, read timeouts, a socket the watchdog shut down). Note that every
# requests exception is an OSError too: `_is_retryable` tells the two apart.
_TRANSPORT_EXCEPTIONS = (urllib3.exceptions.HTTPError, OSError)


def _is_retryable(exc: BaseException) -> bool:
    if isinstance(exc, requests.RequestException):
        return isinstance(exc, _RETRYABLE_REQUESTS_EXCEPTIONS)
    return True


# Bytes asked of the wire per read, and the most one decompression step may produce.
_CHUNK_BYTES = 64 * 1024


class _DeadlineExceeded(Exception):
    """An attempt ran past its total deadline (raised between chunks, or mapped from a watchdog shutdown)."""


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
        token_param: str | None = None,
    ) -> None:
        """`token_param` names the query parameter that carries the key (default: a bearer header)."""
        self.settings = settings or HttpSettings()
        self.provider = provider
        self.base_url = base_url.rstrip("/")
        self._api_key = api_key
        self.budget = budget or RequestBudget.within(
            resolve_requests_per_minute(self.settings.requests_per_minute), burst=self.settings.burst
        )
        self._sleep = sleep
        self._jitter = jitter
        self.session = build_session(api_key, pool_size=self.settings.pool_size, token_param=token_param)
        # A redirect would carry a key sent in the query to wherever it points: none is followed.
        self._follow_redirects = token_param is None
        self._retry_after_parser = Retry()

    def redact(self, text: str) -> str:
        return redact(text, self._api_key)

    def close(self) -> None:
        self.session.close()

    def get(self, path: str, params: Mapping[str, Any] | None = None, *, large: bool = False) -> ApiResponse:
        """GET `path` (path and optional query, relative to the base URL) and return the final answer.

        `path` must start with `/` and keep the request on the base URL's scheme, host and port
        without user info; anything else is refused (`ProviderError`) before a byte is sent.
        """
        settings = self.settings
        timeout = (settings.connect_timeout, settings.large_read_timeout if large else settings.read_timeout)
        total_timeout = settings.large_total_timeout if large else settings.total_timeout
        shown = self.redact(_with_query(path, params))
        self._refuse_other_origins(path)
        last_problem = ""
        for attempt in range(1, settings.max_attempts + 1):
            waited = self.budget.acquire()
            if waited > 0:
                logger.debug("event=budget_wait provider=%s path=%s waited_s=%.3f", self.provider, shown, waited)
            started = time.monotonic()
            watchdog = _Watchdog(total_timeout)
            try:
                with watchdog:
                    status, headers, content = self._fetch(path, params, timeout, started + total_timeout, shown)
            except (_DeadlineExceeded, *_TRANSPORT_EXCEPTIONS) as exc:
                if not (watchdog.expired or _is_retryable(exc)):
                    raise ProviderError(
                        f"{self.provider}: GET {shown} cannot be sent: {type(exc).__name__}:"
                        f" {self._exception_text(exc)}"
                    ) from None
                if watchdog.expired or isinstance(exc, _DeadlineExceeded):
                    last_problem = (
                        f"no complete answer within the total deadline of {total_timeout:g}s"
                        f" (HttpSettings.{'large_total_timeout' if large else 'total_timeout'})"
                    )
                else:
                    last_problem = f"{type(exc).__name__}: {self._exception_text(exc)}"
                delay = self._backoff(attempt)
                self._log_retry(shown, attempt, last_problem, delay)
                if attempt < settings.max_attempts:
                    self._sleep(delay)
                continue
            elapsed_ms = int((time.monotonic() - started) * 1000)
            answer = self._answer(status, content, shown, elapsed_ms)
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
                delay = self._rate_limit_delay(headers, attempt, shown)
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

    def _refuse_other_origins(self, path: str) -> None:
        """Refuse a path that would take the request (and the key) off the base URL's origin."""
        url = self.base_url + path
        problem = _leaves_origin(self.base_url, url) if path.startswith("/") else "does not start with '/'"
        if problem:
            shown = self.redact(repr(path[:120]))
            raise ProviderError(
                f"{self.provider}: refused to request the path {shown}: it {problem}, so the request would"
                f" leave {self.redact(self.base_url)} (the API key is only ever sent there)"
            )

    def _fetch(
        self, path: str, params: Mapping[str, Any] | None, timeout: tuple[float, float], deadline: float, shown: str
    ) -> tuple[int, Mapping[str, str], bytes]:
        """One attempt: status, headers and the whole body, read within the deadline and the size cap."""
        response = self.session.get(
            self.base_url + path, params=params, timeout=timeout, stream=True, allow_redirects=self._follow_redirects
        )
        try:
            body = _Body(response, self.settings.max_response_bytes)
            chunks = []
            for chunk in body.chunks():
                if time.monotonic() > deadline:
                    raise _DeadlineExceeded()
                chunks.append(chunk)
            # A socket the watchdog shut down can look like the end of a body without a length.
            if time.monotonic() > deadline:
                raise _DeadlineExceeded()
            return response.status_code, response.headers, b"".join(chunks)
        except ResponseTooLarge as exc:
            raise ResponseTooLarge(f"{self.provider}: GET {shown} {exc}") from None
        except _UnreadableEncoding as exc:
            raise MalformedResponse(f"{self.provider}: GET {shown} {exc}") from None
        finally:
            response.close()

    def _answer(self, status: int, content: bytes, shown: str, elapsed_ms: int) -> ApiResponse:
        try:
            body: Any = json.loads(content) if content else None
        except ValueError as exc:
            if 200 <= status < 300:
                raise MalformedResponse(
                    f"{self.provider}: GET {shown} answered HTTP {status} with invalid JSON"
                    f" ({len(content)} bytes, truncated?): {exc}"
                ) from None
            body = None
        request_id = body.get("request_id") if isinstance(body, dict) else None
        text = ""
        if body is None and content and not 200 <= status < 300:
            text = self._exception_text(content[: _MAX_ERROR_TEXT * 4].decode("utf-8", "replace"))
        return ApiResponse(
            status=status,
            url=shown,
            body=body,
            request_id=request_id if isinstance(request_id, str) else None,
            elapsed_ms=elapsed_ms,
            text=text,
        )

    def _backoff(self, attempt: int) -> float:
        """Exponential backoff (base x 2^(attempt-1), capped) plus random jitter on top."""
        settings = self.settings
        delay = min(settings.backoff_max, settings.backoff_base * 2 ** (attempt - 1))
        return delay * (1 + settings.backoff_jitter * self._jitter())

    def _rate_limit_delay(self, headers: Mapping[str, str], attempt: int, shown: str) -> float:
        header = headers.get("Retry-After")
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

    def _exception_text(self, exc: BaseException | str) -> str:
        """requests/urllib3 embed URLs (and could embed anything) in messages: redact and bound them."""
        text = self.redact(" ".join(str(exc).split()))
        return text if len(text) <= _MAX_ERROR_TEXT else text[: _MAX_ERROR_TEXT - 3] + "..."


def _with_query(path: str, params: Mapping[str, Any] | None) -> str:
    if not params:
        return path
    query = "&".join(f"{name}={value}" for name, value in params.items())
    return f"{path}{'&' if '?' in path else '?'}{query}"


class _UnreadableEncoding(Exception):
    """A Content-Encoding this client did not ask for, or a compressed body that does not decode."""


class _Body:
    """A streamed response body, decompressed here so that both the wire bytes and the decoded bytes
    stop at `limit`: each decompression step produces at most `_CHUNK_BYTES`, so a small compressed
    body that inflates to gigabytes is refused after inflating `limit` bytes, not inflated whole."""

    def __init__(self, response: requests.Response, limit: int) -> None:
        self.response = response
        self.limit = limit
        self.wire_bytes = 0
        self.decoded_bytes = 0
        encoding = response.headers.get("Content-Encoding", "identity").strip().lower()
        if encoding in ("", "identity"):
            self._decoder: Any = None
        elif encoding in ("gzip", "x-gzip"):
            self._decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif encoding == "deflate":
            self._decoder = zlib.decompressobj()
        else:
            raise _UnreadableEncoding(f"answered with Content-Encoding {encoding[:40]!r}, which was not asked for")
        self._encoding = encoding

    def chunks(self) -> Iterator[bytes]:
        declared = self.response.headers.get("Content-Length", "")
        if declared.strip().isdigit() and int(declared) > self.limit:
            raise self._too_large(f"declares Content-Length {int(declared)}")
        raw = self.response.raw
        while True:
            data = raw.read(_CHUNK_BYTES, decode_content=False)
            if not data:
                break
            self.wire_bytes += len(data)
            if self.wire_bytes > self.limit:
                raise self._too_large(f"sent more than {self.limit} bytes")
            yield from self._decoded(data)
        if self._decoder is not None:
            yield from self._decoded(b"", final=True)

    def _decoded(self, data: bytes, *, final: bool = False) -> Iterator[bytes]:
        if self._decoder is None:
            pieces: Iterator[bytes] = iter((data,))
        else:
            pieces = self._inflate(data, final)
        for piece in pieces:
            self.decoded_bytes += len(piece)
            if self.decoded_bytes > self.limit:
                raise self._too_large(f"inflates past {self.limit} bytes ({self.wire_bytes} bytes read on the wire)")
            if piece:
                yield piece

    def _inflate(self, data: bytes, final: bool) -> Iterator[bytes]:
        try:
            while True:
                decoder = self._decoder
                yield decoder.decompress(data, _CHUNK_BYTES)
                data = decoder.unconsumed_tail
                if decoder.eof and decoder.unused_data and self._encoding != "deflate":
                    # Another gzip member follows (concatenated gzip is valid gzip).
                    data = decoder.unused_data
                    self._decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
                    continue
                if not data:
                    break
            if final:
                yield self._decoder.flush()
                if not self._decoder.eof:
                    raise _UnreadableEncoding(f"answered a {self._encoding} body that ends before its end marker")
        except zlib.error as exc:
            raise _UnreadableEncoding(f"answered a {self._encoding} body that does not decode: {exc}") from None

    def _too_large(self, what: str) -> ResponseTooLarge:
        return ResponseTooLarge(
            f"answered a body that {what}, over the {self.limit}-byte limit (HttpSettings.max_response_bytes); refused"
        )


def _origin(url: str) -> tuple[str, str, int | None, str | None]:
    """(scheme, host, port, user info) as urllib3 (which opens the connection) parses `url`."""
    parsed = parse_url(url)
    scheme = (parsed.scheme or "").lower()
    port = parsed.port or {"http": 80, "https": 443}.get(scheme)
    return scheme, (parsed.host or "").lower(), port, parsed.auth


def _leaves_origin(base_url: str, url: str) -> str:
    """Why `url` is not on `base_url`'s origin ('' when it is), checked with both URL parsers that
    see it (urllib3 connects, urllib.parse is what a reader of this code would trust)."""
    if any(character.isspace() or ord(character) < 32 or ord(character) == 127 for character in url):
        return "holds blanks or control characters"
    try:
        base, target = _origin(base_url), _origin(url)
        split_base, split_target = urlsplit(base_url), urlsplit(url)
        split_ports = (split_base.port, split_target.port)
    except (LocationParseError, ValueError):
        return "does not parse as a URL"
    if target[3] is not None and target[3] != base[3]:
        return "carries user info"
    if split_target.username is not None and split_target.username != split_base.username:
        return "carries user info"
    if target[0] != base[0]:
        return "changes the scheme"
    if target[1:3] != base[1:3]:
        return "changes the host or port"
    if (split_target.hostname, split_ports[1]) != (split_base.hostname, split_ports[0]):
        return "changes the host or port"
    return ""


_DEFAULT_PORTS = {"http": 80, "https": 443}


def next_page_path(next_url: str, base_url: str, *, drop_params: tuple[str, ...] = ()) -> str:
    """A response's next-page link as a path and query to send to `base_url`; `ValueError` saying
    why when it would leave the base URL's own scheme, host and port (a response never decides where
    the key goes). Absolute links must name exactly the base URL's origin; relative ones must be a
    path from the root. Blanks and control characters are refused outright: URL parsers disagree on
    them (urllib.parse silently drops a newline or a tab, a server may not). Query parameters named
    in `drop_params` (credentials the client adds itself) are removed.
    """
    if any(character.isspace() or ord(character) < 32 or ord(character) == 127 for character in next_url):
        raise ValueError("holds blanks or control characters")
    if "\\" in next_url:
        raise ValueError("holds a backslash (read as a slash by some URL parsers)")
    parts = urlsplit(next_url)
    if parts.scheme or parts.netloc:
        base = urlsplit(base_url)
        if "@" in parts.netloc:
            raise ValueError("carries user info")
        if parts.scheme.lower() != base.scheme.lower():
            raise ValueError(f"names another scheme ({parts.scheme or 'none'!r})")
        try:
            port = parts.port or _DEFAULT_PORTS.get(parts.scheme.lower())
        except ValueError:
            raise ValueError("has an unreadable port") from None
        base_port = base.port or _DEFAULT_PORTS.get(base.scheme.lower())
        if (parts.hostname or "", port) != (base.hostname or "", base_port):
            raise ValueError("names another host or port")
    if not parts.path.startswith("/") or parts.path.startswith("//"):
        raise ValueError("has a path that does not start with a single '/'")
    dropped = {name.lower() for name in drop_params}
    kept = [part for part in parts.query.split("&") if part and part.split("=", 1)[0].lower() not in dropped]
    return parts.path + ("?" + "&".join(kept) if kept else "")


def settings_for_run(settings: ProviderSettings, base: HttpSettings) -> HttpSettings:
    """A provider's HTTP settings for a run: `base` (its own defaults, or a test's), with the run's
    request budget where the run names one."""
    if settings.max_requests_per_minute is None:
        return base
    return replace(base, requests_per_minute=settings.max_requests_per_minute)
