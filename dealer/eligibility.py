"""Which contracts the model uses, and why each of the others was left out."""

from dataclasses import dataclass, fields

import numpy as np
from numpy.typing import NDArray

from dealer.chain import ChainArrays
from dealer.config import DealerConfig


@dataclass(frozen=True)
class ExclusionCounts:
    """Contracts left out, by the first rule each one failed (rules checked in field order).

    `expired` counts DTE below `min_dte` (expired contracts with the default min_dte=0).
    `expiring` counts contracts expiring on the session itself (DTE 0), left out of end-of-session
    metrics unless `include_expiring` (by then they have expired).
    `missing_gamma` counts gamma absent, non-finite or negative: a long option's gamma is never
    negative, and keeping one would silently invert the dealer sign convention.
    `low_open_interest` includes open interest the source did not report.
    """

    expired: int = 0
    expiring: int = 0
    beyond_max_dte: int = 0
    missing_gamma: int = 0
    low_open_interest: int = 0

    @property
    def total(self) -> int:
        return self.expired + self.expiring + self.beyond_max_dte + self.missing_gamma + self.low_open_interest

    def to_json(self) -> dict[str, int]:
        return {field.name: int(getattr(self, field.name)) for field in fields(self)}

    @classmethod
    def from_json(cls, data: dict[str, int]) -> "ExclusionCounts":
        return cls(**{field.name: int(data.get(field.name, 0)) for field in fields(cls)})


@dataclass(frozen=True, eq=False)
class Eligibility:
    """Masks aligned with the chain: `in_dte_window` feeds data-quality figures, `eligible` the metrics."""

    in_dte_window: NDArray[np.bool_]
    eligible: NDArray[np.bool_]
    excluded: ExclusionCounts

    @property
    def eligible_count(self) -> int:
        return int(np.count_nonzero(self.eligible))


def classify_contracts(chain: ChainArrays, config: DealerConfig) -> Eligibility:
    """Apply the eligibility rules; each contract is excluded for at most one (the first) reason."""
    expired = chain.dte < config.min_dte
    expiring = ~expired & (chain.dte == 0) if not config.include_expiring else np.zeros_like(expired)
    beyond_max_dte = ~expired & ~expiring & (chain.dte > config.max_dte)
    in_dte_window = ~(expired | expiring | beyond_max_dte)
    has_gamma = np.isfinite(chain.gamma) & (chain.gamma >= 0.0)
    missing_gamma = in_dte_window & ~has_gamma
    # NaN open interest compares False, so unreported OI lands here rather than passing.
    enough_open_interest = chain.open_interest >= config.min_open_interest
    low_open_interest = in_dte_window & has_gamma & ~enough_open_interest
    eligible = in_dte_window & has_gamma & enough_open_interest
    excluded = ExclusionCounts(
        expired=int(np.count_nonzero(expired)),
        expiring=int(np.count_nonzero(expiring)),
        beyond_max_dte=int(np.count_nonzero(beyond_max_dte)),
        missing_gamma=int(np.count_nonzero(missing_gamma)),
        low_open_interest=int(np.count_nonzero(low_open_interest)),
    )
    return Eligibility(in_dte_window=in_dte_window, eligible=eligible, excluded=excluded)
