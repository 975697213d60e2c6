"""OCC option tickers as Massive writes them: `O:` + ROOT + YYMMDD + C|P + strike x 1000 (8 digits).

Massive strips the OSI space padding from the root, so the root is whatever precedes the fixed
15-character tail. The root is not the underlying (SPXW lists under SPX, AMCR1 is an adjusted AMCR
root): callers take the underlying from the source, never from the ticker.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Literal

OCC_PREFIX = "O:"
# The root: 1-6 characters, a letter first, digits allowed after it (AMCR1). The tail has a fixed
# width, so a root ending in a digit cannot be confused with the expiry.
_ROOT = r"[A-Z][A-Z0-9]{0,5}"
_TICKER = re.compile(rf"(?P<root>{_ROOT})(?P<expiry>\d{{6}})(?P<option_type>[CP])(?P<strike>\d{{8}})")
_ROOT_ONLY = re.compile(_ROOT)
STRIKE_SCALE = 1000
MAX_ENCODED_STRIKE = 99_999_999
EXAMPLE = "O:AAPL230616C00150000"


class InvalidOccTicker(ValueError):
    """Text that is not a Massive OCC option ticker, or terms that cannot be written as one."""


@dataclass(frozen=True, slots=True)
class OccContract:
    """The contract terms an OCC ticker encodes; the strike is exact (Decimal, no float rounding)."""

    root: str
    expiration_date: date
    option_type: Literal["C", "P"]
    strike_price: Decimal

    @property
    def ticker(self) -> str:
        return format_occ_ticker(self.root, self.expiration_date, self.option_type, self.strike_price)


def parse_occ_ticker(ticker: str) -> OccContract:
    """Parse `O:AAPL230616C00150000` (the `O:` prefix is optional) into its terms.

    Two-digit years are read as 20YY: listed options expire at most a few years out.
    """
    if not isinstance(ticker, str):
        raise InvalidOccTicker(f"OCC ticker must be text, got {type(ticker).__name__}")
    body = ticker[len(OCC_PREFIX) :] if ticker.startswith(OCC_PREFIX) else ticker
    match = _TICKER.fullmatch(body)
    if match is None:
        raise InvalidOccTicker(
            f"{_shown(ticker)} is not a Massive OCC option ticker: expected [O:]ROOT (1-6 letters/digits)"
            f" + YYMMDD + C|P + 8-digit strike x 1000, e.g. {EXAMPLE}"
        )
    expiry = match["expiry"]
    try:
        expiration = date(2000 + int(expiry[:2]), int(expiry[2:4]), int(expiry[4:]))
    except ValueError:
        raise InvalidOccTicker(f"{_shown(ticker)} has an impossible expiration date {expiry} (YYMMDD)") from None
    encoded_strike = int(match["strike"])
    if encoded_strike == 0:
        raise InvalidOccTicker(f"{_shown(ticker)} has a zero strike")
    option_type: Literal["C", "P"] = "C" if match["option_type"] == "C" else "P"
    return OccContract(
        root=match["root"],
        expiration_date=expiration,
        option_type=option_type,
        strike_price=Decimal(encoded_strike) / STRIKE_SCALE,
    )


def format_occ_ticker(
    root: str,
    expiration_date: date,
    option_type: str,
    strike_price: Decimal | int | str | float,
    *,
    prefix: bool = True,
) -> str:
    """Write contract terms as a Massive ticker; the inverse of `parse_occ_ticker`.

    Floats are read through their shortest repr (32.5 -> "32.5") so 0.1-style noise never reaches
    the strike; a strike that is not a whole number of tenths of a cent is refused, not rounded.
    """
    if not isinstance(root, str) or not _ROOT_ONLY.fullmatch(root):
        raise InvalidOccTicker(f"root {root!r} is not 1-6 upper-case letters/digits starting with a letter")
    if not 2000 <= expiration_date.year <= 2099:
        raise InvalidOccTicker(f"expiration {expiration_date.isoformat()} cannot be written as YYMMDD (20YY)")
    if option_type not in ("C", "P"):
        raise InvalidOccTicker(f"option type {option_type!r} must be 'C' or 'P'")
    try:
        strike = Decimal(repr(strike_price)) if isinstance(strike_price, float) else Decimal(strike_price)
    except (InvalidOperation, TypeError, ValueError):
        raise InvalidOccTicker(f"strike {strike_price!r} is not a number") from None
    encoded = strike * STRIKE_SCALE
    if not encoded.is_finite() or encoded != encoded.to_integral_value():
        raise InvalidOccTicker(f"strike {strike_price!r} is not a multiple of 0.001")
    if not 0 < encoded <= MAX_ENCODED_STRIKE:
        raise InvalidOccTicker(f"strike {strike_price!r} is outside (0, 99999.999]")
    text = f"{root}{expiration_date:%y%m%d}{option_type}{int(encoded):08d}"
    return OCC_PREFIX + text if prefix else text


def _shown(text: str) -> str:
    return repr(text if len(text) <= 40 else text[:37] + "...")
