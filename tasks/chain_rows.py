"""Turn a provider's `ChainSnapshot` into rows the store accepts, dropping what is malformed.

Providers are outside our control; this is the one gate every row passes, so nothing malformed
reaches the database whichever source it came from.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

from providers.base import ChainSnapshot, OptionQuote
from store.chains import ChainRow

MAX_STRIKE = Decimal("99999999.9999")  # numeric(12, 4)
MAX_INT = 2_147_483_647
STRIKE_QUANTUM = Decimal("0.0001")


@dataclass(frozen=True)
class ValidatedChain:
    rows: tuple[ChainRow, ...]
    # reason → number of provider rows dropped for it
    dropped: dict[str, int]
    # values that were not finite numbers and were stored as NULL instead
    values_nulled: int

    @property
    def dropped_total(self) -> int:
        return sum(self.dropped.values())


def _finite(value: float | None) -> tuple[float | None, bool]:
    if value is None:
        return None, False
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None, True
    return (number, False) if math.isfinite(number) else (None, True)


def _count(value: int | None) -> int | None:
    if value is None:
        return None
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("non-finite count")
    count = int(value)
    if count < 0 or count > MAX_INT:
        raise ValueError("count out of range")
    return count


def _drop_reason(quote: OptionQuote, session: date) -> str | None:
    if quote.expiration_date is None or quote.strike_price is None or quote.option_type is None:
        return "missing_key_field"
    if quote.option_type not in ("C", "P"):
        return "bad_option_type"
    if quote.expiration_date < session:
        return "expired_before_session"
    try:
        strike = Decimal(quote.strike_price)
    except (InvalidOperation, TypeError, ValueError):
        return "bad_strike"
    if not strike.is_finite() or strike <= 0 or strike > MAX_STRIKE:
        return "bad_strike"
    if strike != strike.quantize(STRIKE_QUANTUM):
        return "strike_precision"
    return None


def validate_chain(snapshot: ChainSnapshot) -> ValidatedChain:
    """Validate, normalise and de-duplicate on the contract key (first occurrence wins)."""
    dropped: Counter[str] = Counter()
    if snapshot.dropped_rows:
        dropped["dropped_by_provider"] += snapshot.dropped_rows
    nulled = 0
    rows: dict[tuple[date, Decimal, str], ChainRow] = {}
    for quote in snapshot.quotes:
        reason = _drop_reason(quote, snapshot.session)
        if reason is None:
            try:
                volume = _count(quote.volume)
                open_interest = _count(quote.open_interest)
            except (TypeError, ValueError):
                reason = "bad_count"
        if reason is not None:
            dropped[reason] += 1
            continue
        strike = Decimal(quote.strike_price).quantize(STRIKE_QUANTUM)
        key = (quote.expiration_date, strike, quote.option_type)
        if key in rows:
            dropped["duplicate_contract"] += 1
            continue
        numbers = []
        for raw in (
            quote.bid,
            quote.ask,
            quote.last,
            quote.implied_volatility,
            quote.delta,
            quote.gamma,
            quote.theta,
            quote.vega,
        ):
            value, was_bad = _finite(raw)
            nulled += was_bad
            numbers.append(value)
        bid, ask, last, iv, delta, gamma, theta, vega = numbers
        rows[key] = ChainRow(
            quote.expiration_date,
            strike,
            quote.option_type,
            bid,
            ask,
            last,
            volume,
            open_interest,
            iv,
            delta,
            gamma,
            theta,
            vega,
        )
    return ValidatedChain(rows=tuple(rows.values()), dropped=dict(dropped), values_nulled=nulled)
