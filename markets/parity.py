"""The underlying's price implied by an option chain, for sources without a stock price.

Put-call parity at one strike K and one expiry: C - P = DF x (F - K), so the forward is
F = K + (C - P) / DF. Over days, DF ~ 1 (a 30-day discount at 4% is 0.997): the estimate uses the
nearest expiration at least a week out (least early-exercise premium, most strikes quoted), the
strikes where |C - P| is smallest (at the money: tightest, most traded) and takes the median of
their forwards. It is an estimate of the forward, not the session's close, and is always stored and
shown as such.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

# Expirations closer than this carry pin and early-exercise noise; the nearest one past it is used.
MIN_DAYS_TO_EXPIRY = 7
# Strikes nearest the money whose forwards are combined (median).
STRIKES_USED = 3


@dataclass(frozen=True)
class QuotedPair:
    """A call and a put of one expiration and strike, at their mid prices."""

    expiration_date: date
    strike: Decimal
    call_mid: float
    put_mid: float


def forward_from_parity(pairs: Iterable[QuotedPair], session: date) -> float | None:
    """The forward implied at the strikes nearest the money of the first expiry a week out; None
    when no expiry has enough quoted pairs."""
    by_expiry: dict[date, list[QuotedPair]] = {}
    for pair in pairs:
        if pair.call_mid > 0 and pair.put_mid > 0 and pair.expiration_date >= session + timedelta(MIN_DAYS_TO_EXPIRY):
            by_expiry.setdefault(pair.expiration_date, []).append(pair)
    for expiry in sorted(by_expiry):
        candidates = sorted(by_expiry[expiry], key=lambda pair: abs(pair.call_mid - pair.put_mid))
        if len(candidates) >= STRIKES_USED:
            nearest = candidates[:STRIKES_USED]
            return round(statistics.median(float(pair.strike) + pair.call_mid - pair.put_mid for pair in nearest), 4)
    return None
