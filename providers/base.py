"""The provider contract: records every source returns and the errors it may raise.

Errors are types because the caller's decision depends on them: a session the source cannot serve
is final for that day (retrying would only hammer the API), an auth problem is final for the run,
and only transient faults are worth a retry.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Literal, Protocol

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


class ProviderError(Exception):
    """Base of every provider failure; `retryable` tells the caller whether trying again can help."""

    retryable: bool = False


class SessionUnavailable(ProviderError):
    """This source cannot serve that session (not entitled, not published yet, or snapshot-only)."""


class AuthError(ProviderError):
    """Credentials missing or rejected: nothing will work until the user fixes them."""


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


class ResponseTooLarge(MalformedResponse):
    """An answer past the size limit (on the wire or decompressed): refused unread.

    Not retryable: the same request would be answered as large again, and each retry would spend
    the limit's worth of bandwidth and memory once more.
    """

    retryable = False


class ChainProvider(Protocol):
    """What ingest needs from a source."""

    name: str
    simulated: bool

    def fetch_chain(self, symbol: str, session: date, *, large: bool = False) -> ChainSnapshot:
        """Fetch `symbol`'s chain as of `session`. `large` selects the slow lane's longer timeout.

        Must raise `SessionUnavailable` rather than return data of another session.
        """
        ...
