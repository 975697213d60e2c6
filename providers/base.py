"""The provider contract: records every source returns and the errors it may raise.

Errors are types because the caller's decision depends on them: a session the source cannot serve
is final for that day (retrying would only hammer the API), an auth problem is final for the run,
and only transient faults are worth a retry.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Literal, Protocol, runtime_checkable

from settings.errors import SetupError

OptionType = Literal["C", "P"]

# Columns a source may be unable to provide (reported, never silently zero-filled).
QUOTE_FIELDS: tuple[str, ...] = (
    "bid",
    "ask",
    "last",
    "volume",
    "open_interest",
    "implied_volatility",
    "delta",
    "gamma",
    "theta",
    "vega",
)


@dataclass(frozen=True, slots=True)
class OptionQuote:
    """One contract's end-of-session values; None where the source has none."""

    expiration_date: date
    strike_price: Decimal
    option_type: OptionType
    bid: float | None = None
    ask: float | None = None
    last: float | None = None
    volume: int | None = None
    open_interest: int | None = None
    implied_volatility: float | None = None
    delta: float | None = None
    gamma: float | None = None
    theta: float | None = None
    vega: float | None = None

    @property
    def key(self) -> tuple[date, Decimal, str]:
        """The contract's identity within one symbol-day (the table key minus time and ticker)."""
        return (self.expiration_date, self.strike_price, self.option_type)


@dataclass(frozen=True)
class ChainSnapshot:
    """One underlying's chain for one session, as a source reported it."""

    symbol: str
    session: date
    underlying_close: float | None
    quotes: tuple[OptionQuote, ...]
    provider: str
    # Human label of where the data came from, e.g. "SIMULATED market (synthetic provider)".
    source: str
    # Columns this source could not provide for this session (stored as NULL, reported per day).
    missing_fields: tuple[str, ...] = ()
    # Provider rows dropped as malformed before they became quotes.
    dropped_rows: int = 0
    simulated: bool = False
    notes: dict[str, str] = field(default_factory=dict)
    # The close is an estimate (e.g. the forward implied by put-call parity), never an exact spot.
    close_estimated: bool = False
    # Pricing inputs the source reports for this session (annualised, continuously compounded, as
    # fractions: 0.043 = 4.3%); None where it reports none. Stored with the snapshot so the dealer
    # metrics price the gamma profile with the same inputs the source priced its greeks with.
    risk_free_rate: float | None = None
    dividend_yield: float | None = None


class ProviderError(Exception):
    """Base of every provider failure; `retryable` tells the caller whether trying again can help."""

    retryable: bool = False


class SessionUnavailable(ProviderError):
    """This source cannot serve that session (not entitled, not published yet, or snapshot-only)."""


class QuotaExhausted(SessionUnavailable):
    """The source's request quota is spent until it resets: no session can be served before then.

    A `SessionUnavailable` so that the day stops asking at once and is not retried; the provider
    itself refuses every later fetch without a request until the reset, so the rest of the run ends
    in one line per day and completed symbol-days stay for the re-run.
    """


class AuthError(ProviderError, SetupError):
    """Credentials missing or rejected: nothing will work until the user fixes them (before a run
    starts, the run is unusable; during a run, the day fails without retrying)."""


class TransientProviderError(ProviderError):
    """Network faults, 5xx, rate limiting past the retry budget: worth another attempt later."""

    retryable = True


class EmptyChain(ProviderError):
    """The source answered with no contracts; never treated as a zero-row success."""


class SymbolNotFound(ProviderError):
    """The source does not know this underlying."""


class MalformedResponse(ProviderError):
    """The source answered with something we cannot read (truncated JSON, missing fields)."""

    retryable = True


@dataclass(frozen=True)
class ProviderSettings:
    """What a provider is built from; a provider ignores what it has no use for.

    Passed in by the run (never read from the environment here), and the key of the process-wide
    instance, so every day and thread of a run with the same settings shares one request budget.
    """

    max_requests_per_minute: int | None = None
    # Called before every request once the provider's own budget allowed it; blocks until a budget
    # shared beyond this process (e.g. a Prefect global concurrency limit) allows it too. Part of the
    # instance key: give the same callable for the same shared budget.
    request_gate: Callable[[], None] | None = None
    api_key: str | None = field(default=None, repr=False)
    base_url: str | None = None


class ResponseTooLarge(MalformedResponse):
    """An answer past the size limit (on the wire or decompressed): refused unread.

    Not retryable: the same request would be answered as large again, and each retry would spend
    the limit's worth of bandwidth and memory once more.
    """

    retryable = False


class WindowNotServed(ProviderError):
    """A window fetch whose answer cannot be trusted (e.g. the date-range filter was ignored): the
    caller fetches those sessions day by day instead. Never stored, never a day's failure."""


class ChainProvider(Protocol):
    """What ingest needs from a source."""

    name: str
    simulated: bool

    def fetch_chain(self, symbol: str, session: date, *, large: bool = False) -> ChainSnapshot:
        """Fetch `symbol`'s chain as of `session`. `large` selects the slow lane's longer timeout.

        Must raise `SessionUnavailable` rather than return data of another session.
        """
        ...


@runtime_checkable
class WindowProvider(ChainProvider, Protocol):
    """A source that can serve many sessions of one symbol per request (a backfill's window).

    `fetch_window` yields one snapshot per session its answer covers, each exactly what
    `fetch_chain` would return for that session; a session it does not cover is not yielded (the
    caller fetches it day by day), and `WindowNotServed` says the whole answer is not to be trusted.
    `estimated_requests` tells a dry run what a run will cost.
    """

    def fetch_window(
        self, symbol: str, sessions: Sequence[date], *, large: bool = False
    ) -> Iterator[ChainSnapshot]: ...

    def estimated_requests(self, sessions_by_symbol: Mapping[str, Sequence[date]], *, window: bool) -> int: ...
