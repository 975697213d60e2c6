"""Rounding for the JSON the dealer model emits: fixed precision per unit, never NaN or -0.0."""

import math

MONEY_DIGITS = 2  # dollars of GEX
PRICE_DIGITS = 4  # strikes, spot, flip; matches numeric(12,4) strikes
RATIO_DIGITS = 4  # dgpi, percentages, z-scores, confidence


def json_number(value: float | None, digits: int) -> float | None:
    """A finite float rounded to `digits`, or None for missing/NaN/inf (JSON has no NaN)."""
    if value is None:
        return None
    number = float(value)
    if not math.isfinite(number):
        return None
    return round(number, digits) + 0.0  # + 0.0 turns -0.0 into 0.0


def optional_float(value: float | int | None) -> float | None:
    """Read a JSON number back, keeping null as None."""
    return None if value is None else float(value)
