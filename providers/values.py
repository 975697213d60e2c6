"""Reading numbers out of a provider's JSON, the same way for every source.

Values are read as the source reported them: what is not a number is None; NaN, infinities and
negative counts are kept, for the one validator (`tasks/chain_rows.py`) to store as NULL or drop
and count, so a bad feed shows in the day's report instead of vanishing here.
"""

from __future__ import annotations

import math
from decimal import Decimal, InvalidOperation
from typing import Any


def reported(value: Any) -> float | None:  # noqa: ANN401 - any JSON value
    """A number as the source reported it, NaN and infinities included (booleans are not numbers)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def number(value: Any) -> float | None:  # noqa: ANN401
    """A finite number, or None: for values a provider computes with (prices, closes)."""
    found = reported(value)
    return found if found is not None and math.isfinite(found) else None


def count(value: Any) -> int | float | None:  # noqa: ANN401
    """A count as reported, rounded when it is one; negative and non-finite values are kept for the
    validator to drop the row and count it (`bad_count`), never quietly turned into NULL."""
    found = reported(value)
    if found is None or not math.isfinite(found):
        return found
    return int(round(found))


def strike(value: Any) -> Decimal | None:  # noqa: ANN401
    """A positive strike as an exact Decimal (a float's shortest repr, so 101.1 stays 101.1)."""
    found = number(value)
    if found is None or found <= 0:
        return None
    try:
        return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    except InvalidOperation:
        return None
