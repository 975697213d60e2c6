"""Rounding for the JSON the dealer model emits: fixed precision per unit, never NaN or -0.0."""

import math
from collections.abc import Iterable

MONEY_DIGITS = 2  # dollars of GEX
PRICE_DIGITS = 4  # strikes, spot, flip; matches numeric(12,4) strikes
RATIO_DIGITS = 4  # dgpi, percentages, z-scores, confidence


def json_number(value: float | None, digits: int) -> float | None:
    """A finite float rounded to `digits`, or None for missing/NaN/inf (JSON has no NaN)."""
    return json_numbers([None if value is None else float(value)], digits)[0]


def json_numbers(values: Iterable[float | None], digits: int) -> list[float | None]:
    """`json_number` of each of `values` (Python floats or None), without a function call per value:
    the per-strike and profile curves hold hundreds of numbers a ticker-day. `+ 0.0` turns -0.0 into 0.0."""
    isfinite = math.isfinite
    return [round(value, digits) + 0.0 if value is not None and isfinite(value) else None for value in values]


def optional_float(value: float | int | None) -> float | None:
    """Read a JSON number back, keeping null as None."""
    return None if value is None else float(value)
