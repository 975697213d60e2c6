"""Turn a provider's `ChainSnapshot` into rows the store accepts, dropping what is malformed.

Providers are outside our control; this is the one gate every row passes, so nothing malformed
reaches the database whichever source it came from. A row whose identity is unusable is dropped and
counted by reason; a value that cannot be true (not a finite number, or outside its physical range)
is stored as NULL and counted by reason, the rest of its row kept.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation

from providers.base import ChainSnapshot, OptionQuote
from store.chains import ChainRow

MAX_STRIKE = Decimal("99999999.9999")  # numeric(12, 4)
MAX_INT = 2_147_483_647
STRIKE_QUANTUM = Decimal("0.0001")

# Physical ranges of the values a quote carries; a value outside its range is stored as NULL and
# counted (`ValidatedChain.nulled`), like a NaN, instead of feeding nonsense to the dealer metrics.
# |delta| is at most 1 for any option; the epsilon lets through the rounding of a model's output.
MAX_ABS_DELTA = 1.0001
# Implied volatility is a non-negative annualised decimal; 20 (2,000%) is beyond anything quoted even
# for a meme stock on its expiration day, so a larger value is a unit error (percent) or garbage.
MAX_IMPLIED_VOLATILITY = 20.0
# No greek of a listed option comes near a million in magnitude per share (gamma on a $1 stock an hour
# before expiry is in the hundreds); a larger number is an overflow or a unit error. Gamma and vega
# are also never negative for a long option.
MAX_ABS_GREEK = 1e6
# A premium is never worth more than its strike (a put) or its underlying (a call), and no strike we
# store exceeds MAX_STRIKE, so a bid, ask or last above it is garbage; a negative one is too.
MAX_OPTION_PRICE = float(MAX_STRIKE)
# A snapshot's pricing inputs (risk-free rate, dividend yield) are annualised decimals; no listed
# market has priced options with a rate or yield beyond ±100%, so a larger figure is a percent sent
# as a decimal, or garbage, and the day is stored without it (dealer metrics then use their defaults).
MAX_ABS_PRICING_INPUT = 1.0


@dataclass(frozen=True)
class ValidatedChain:
    rows: tuple[ChainRow, ...]
    # reason → number of provider rows dropped for it
    dropped: dict[str, int]
    # values that were not finite numbers or out of their physical range, stored as NULL instead
    values_nulled: int
    # the same, by reason: "<column>_not_finite" or "<column>_out_of_range" → number of values
    nulled: dict[str, int] = field(default_factory=dict)
    # The snapshot's pricing inputs, kept where they are finite and in range, else None (counted in
    # `nulled` as "<name>_not_finite" / "<name>_out_of_range").
    risk_free_rate: float | None = None
    dividend_yield: float | None = None

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


def _in_range(column: str, value: float) -> bool:
    if column == "delta":
        return abs(value) <= MAX_ABS_DELTA
    if column == "implied_volatility":
        return 0.0 <= value <= MAX_IMPLIED_VOLATILITY
    if column in ("gamma", "vega"):
        return 0.0 <= value <= MAX_ABS_GREEK
    if column == "theta":
        return abs(value) <= MAX_ABS_GREEK
    return 0.0 <= value <= MAX_OPTION_PRICE  # bid, ask, last


def _pricing_input(name: str, value: float | None, nulled: Counter[str]) -> float | None:
    """A snapshot-level pricing input as stored: a finite decimal within ±MAX_ABS_PRICING_INPUT, or None."""
    number, was_bad = _finite(value)
    if was_bad:
        nulled[f"{name}_not_finite"] += 1
        return None
    if number is not None and abs(number) > MAX_ABS_PRICING_INPUT:
        nulled[f"{name}_out_of_range"] += 1
        return None
    return number


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


# The quote's numeric values, in store column order (each name is an `OptionQuote` field).
_VALUE_COLUMNS = ("bid", "ask", "last", "implied_volatility", "delta", "gamma", "theta", "vega")


def validate_chain(snapshot: ChainSnapshot) -> ValidatedChain:
    """Validate, normalise and de-duplicate on the contract key.

    A contract (expiration, strike, type) that appears more than once is resolved after
    normalisation: copies equal to the first are exact repeats, one row is kept and each extra copy
    counted as `duplicate_contract`; if any copy differs, the source contradicts itself and there is
    no way to tell which copy is true, so every copy is dropped and counted as
    `conflicting_duplicate` (never a silent first-wins).
    """
    dropped: Counter[str] = Counter()
    if snapshot.dropped_rows:
        dropped["dropped_by_provider"] += snapshot.dropped_rows
    rows: dict[tuple[date, Decimal, str], ChainRow] = {}
    # contract key → copies seen; keys whose copies disagree; values nulled in each kept row
    copies: Counter[tuple[date, Decimal, str]] = Counter()
    conflicting: set[tuple[date, Decimal, str]] = set()
    row_nulls: dict[tuple[date, Decimal, str], Counter[str]] = {}
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
        numbers = []
        nulls: Counter[str] = Counter()
        for column in _VALUE_COLUMNS:
            raw = getattr(quote, column)
            value, was_bad = _finite(raw)
            if was_bad:
                nulls[f"{column}_not_finite"] += 1
            elif value is not None and not _in_range(column, value):
                nulls[f"{column}_out_of_range"] += 1
                value = None
            numbers.append(value)
        bid, ask, last, iv, delta, gamma, theta, vega = numbers
        row = ChainRow(
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
        copies[key] += 1
        if key not in rows:
            rows[key] = row
            row_nulls[key] = nulls
        elif rows[key] != row:
            conflicting.add(key)
    for key, seen in copies.items():
        if key in conflicting:
            del rows[key]
            dropped["conflicting_duplicate"] += seen
        elif seen > 1:
            dropped["duplicate_contract"] += seen - 1
    nulled: Counter[str] = Counter()
    for key in rows:
        nulled.update(row_nulls[key])
    risk_free_rate = _pricing_input("risk_free_rate", snapshot.risk_free_rate, nulled)
    dividend_yield = _pricing_input("dividend_yield", snapshot.dividend_yield, nulled)
    return ValidatedChain(
        rows=tuple(rows.values()),
        dropped=dict(dropped),
        values_nulled=sum(nulled.values()),
        nulled=dict(nulled),
        risk_free_rate=risk_free_rate,
        dividend_yield=dividend_yield,
    )
