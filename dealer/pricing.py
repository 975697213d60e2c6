"""The one set of pricing inputs (risk-free rate, dividend yield) a snapshot is computed with.

A source prices its greeks with its own rate and yield; re-pricing the gamma profile with other
inputs makes the profile at spot disagree with `gex_net` (and can put the flip on the wrong side of
spot). So the inputs the source reported with the day are used wherever reported, each input
separately, and the configured defaults only where it reported none; the JSON says which.
"""

import math
from dataclasses import dataclass
from typing import Any, Literal

from dealer._json import RATIO_DIGITS, json_number
from dealer.config import DealerConfig

InputSource = Literal["provider", "default"]

# Pricing inputs are stored to 6 decimals in the JSON (0.0425 = 4.25%, a basis point is 0.0001).
PRICING_DIGITS = RATIO_DIGITS + 2


@dataclass(frozen=True)
class PricingInputs:
    """Annualised, continuously compounded decimals (0.043 = 4.3%), and where each came from."""

    risk_free_rate: float = 0.0
    dividend_yield: float = 0.0
    rate_source: InputSource = "default"
    dividend_source: InputSource = "default"

    def to_json(self) -> dict[str, Any]:
        return {
            "risk_free_rate": json_number(self.risk_free_rate, PRICING_DIGITS),
            "dividend_yield": json_number(self.dividend_yield, PRICING_DIGITS),
            "risk_free_rate_source": self.rate_source,
            "dividend_yield_source": self.dividend_source,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> "PricingInputs":
        """Read back; a row without the key (`dealer-v1`, which always priced with r = q = 0) gets the defaults."""
        if not data:
            return cls()
        return cls(
            risk_free_rate=float(data.get("risk_free_rate") or 0.0),
            dividend_yield=float(data.get("dividend_yield") or 0.0),
            rate_source=data.get("risk_free_rate_source", "default"),
            dividend_source=data.get("dividend_yield_source", "default"),
        )


def _reported(value: float | None) -> float | None:
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def pricing_inputs(risk_free_rate: float | None, dividend_yield: float | None, config: DealerConfig) -> PricingInputs:
    """The inputs a snapshot is priced with: each reported one as reported, else the configured default."""
    rate = _reported(risk_free_rate)
    dividend = _reported(dividend_yield)
    return PricingInputs(
        risk_free_rate=config.rate if rate is None else rate,
        dividend_yield=config.dividend_yield if dividend is None else dividend,
        rate_source="default" if rate is None else "provider",
        dividend_source="default" if dividend is None else "provider",
    )
