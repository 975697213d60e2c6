"""One ticker-day option chain as column arrays: the only input shape the dealer math accepts."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray


def _frozen_column(values: ArrayLike, dtype: type) -> NDArray[Any]:
    """Own a read-only copy, so a frozen chain cannot change under a computed result."""
    column = np.array(values, dtype=dtype, copy=True).reshape(-1)
    column.setflags(write=False)
    return column


@dataclass(frozen=True, eq=False)
class ChainArrays:
    """Contracts of one ticker on one session, aligned by index.

    NaN marks a value the source did not have (gamma, open interest, implied volatility); the
    eligibility rules decide what that means, so the loader never has to drop rows itself.
    `dte` is expiration − session in calendar days, computed by the caller. `dropped_rows` counts
    stored rows that could not become a contract at all (see `from_stored`).
    """

    strike: NDArray[np.float64]
    is_call: NDArray[np.bool_]
    dte: NDArray[np.int64]
    gamma: NDArray[np.float64]
    open_interest: NDArray[np.float64]
    implied_volatility: NDArray[np.float64]
    dropped_rows: int = 0

    def __post_init__(self) -> None:
        columns = {
            "strike": _frozen_column(self.strike, np.float64),
            "is_call": _frozen_column(self.is_call, np.bool_),
            "dte": _frozen_column(self.dte, np.int64),
            "gamma": _frozen_column(self.gamma, np.float64),
            "open_interest": _frozen_column(self.open_interest, np.float64),
            "implied_volatility": _frozen_column(self.implied_volatility, np.float64),
        }
        lengths = {name: column.size for name, column in columns.items()}
        if len(set(lengths.values())) > 1:
            raise ValueError(f"chain columns differ in length: {lengths}")
        strikes = columns["strike"]
        if not np.all(np.isfinite(strikes) & (strikes > 0.0)):
            raise ValueError("every strike must be a finite positive price")
        for name, column in columns.items():
            object.__setattr__(self, name, column)
        if self.dropped_rows < 0:
            raise ValueError("dropped_rows cannot be negative")

    def __len__(self) -> int:
        return int(self.strike.size)

    @classmethod
    def from_lists(
        cls,
        strike: Sequence[Any],
        is_call: Sequence[bool],
        dte: Sequence[int],
        gamma: Sequence[Any],
        open_interest: Sequence[Any],
        implied_volatility: Sequence[Any],
    ) -> "ChainArrays":
        """Build from Python sequences as rows come out of a store; None and Decimal are accepted."""
        return cls(
            strike=np.array(strike, dtype=np.float64),
            is_call=np.array(is_call, dtype=np.bool_),
            dte=np.array(dte, dtype=np.int64),
            gamma=np.array(gamma, dtype=np.float64),
            open_interest=np.array(open_interest, dtype=np.float64),
            implied_volatility=np.array(implied_volatility, dtype=np.float64),
        )

    @classmethod
    def from_stored(
        cls,
        strike: ArrayLike,
        call_code: ArrayLike,
        dte: ArrayLike,
        gamma: ArrayLike,
        open_interest: ArrayLike,
        implied_volatility: ArrayLike,
    ) -> "ChainArrays":
        """A chain from stored columns that another system may have filled: a row whose identity is
        unusable (strike missing, not finite or not positive; `call_code` neither 1 = call nor
        0 = put; `dte` missing as NaN) is dropped and counted in `dropped_rows`, so one bad row costs
        its own ticker-day one contract rather than the whole ticker its metrics."""
        strikes = np.asarray(strike, dtype=np.float64)
        codes = np.asarray(call_code)
        days = np.asarray(dte, dtype=np.float64)
        with np.errstate(invalid="ignore"):
            valid = np.isfinite(strikes) & (strikes > 0.0) & ((codes == 0) | (codes == 1)) & np.isfinite(days)
        if valid.all():
            return cls(strikes, codes == 1, days.astype(np.int64), gamma, open_interest, implied_volatility)
        return cls(
            strike=strikes[valid],
            is_call=codes[valid] == 1,
            dte=days[valid].astype(np.int64),
            gamma=np.asarray(gamma, dtype=np.float64)[valid],
            open_interest=np.asarray(open_interest, dtype=np.float64)[valid],
            implied_volatility=np.asarray(implied_volatility, dtype=np.float64)[valid],
            dropped_rows=int(valid.size - np.count_nonzero(valid)),
        )

    @classmethod
    def empty(cls) -> "ChainArrays":
        """A chain with no contracts, e.g. for a session the provider returned nothing for."""
        return cls.from_lists([], [], [], [], [], [])

    def subset(self, mask: NDArray[np.bool_]) -> "ChainArrays":
        """The contracts where `mask` holds, keeping column alignment."""
        return ChainArrays(
            strike=self.strike[mask],
            is_call=self.is_call[mask],
            dte=self.dte[mask],
            gamma=self.gamma[mask],
            open_interest=self.open_interest[mask],
            implied_volatility=self.implied_volatility[mask],
            dropped_rows=self.dropped_rows,
        )
