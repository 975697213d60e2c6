"""Gamma exposure at the observed spot: per contract, per strike, and the walls it forms."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

from dealer._json import MONEY_DIGITS, PRICE_DIGITS, RATIO_DIGITS, json_number, json_numbers
from dealer.chain import ChainArrays

CONTRACT_MULTIPLIER = 100.0
ONE_PERCENT = 0.01


def dealer_sign(is_call: NDArray[np.bool_]) -> NDArray[np.float64]:
    """+1 for calls, −1 for puts: the model assumes dealers are long calls and short puts."""
    return np.where(is_call, 1.0, -1.0)


def dollar_gex(signed_open_interest: NDArray[np.float64], gamma: NDArray[np.float64], spot: Any) -> NDArray[np.float64]:
    """Dollar gamma per 1% move: sign·OI × gamma × 100 × S² × 0.01 (broadcasts over spot levels)."""
    spot_squared = np.square(spot)
    return signed_open_interest * gamma * CONTRACT_MULTIPLIER * spot_squared * ONE_PERCENT


def contract_gex(chain: ChainArrays, spot: float) -> NDArray[np.float64]:
    """GEX of every contract at `spot`, aligned with the chain (NaN where gamma or OI is missing)."""
    return dollar_gex(dealer_sign(chain.is_call) * chain.open_interest, chain.gamma, spot)


@dataclass(frozen=True)
class Wall:
    """A strike with outsized dealer gamma; `gex` keeps its sign (put walls are negative)."""

    strike: float
    gex: float
    distance: float
    distance_pct: float

    def to_json(self) -> dict[str, float | None]:
        return {
            "strike": json_number(self.strike, PRICE_DIGITS),
            "gex": json_number(self.gex, MONEY_DIGITS),
            "distance": json_number(self.distance, PRICE_DIGITS),
            "distance_pct": json_number(self.distance_pct, RATIO_DIGITS),
        }

    @classmethod
    def from_json(cls, data: dict[str, float]) -> "Wall":
        return cls(
            strike=float(data["strike"]),
            gex=float(data["gex"]),
            distance=float(data["distance"]),
            distance_pct=float(data["distance_pct"]),
        )


class StrikeGex(NamedTuple):
    """One strike's GEX at the observed spot, summed over expirations: calls (≥ 0), puts (≤ 0) and
    net = calls + puts, in $ per 1% move with `gex_net`'s sign convention.

    Stored compactly as `[strike, calls, puts, net]`. Rows written by the first dealer-v2 release
    kept `[strike, net]` only: they read back with `calls` and `puts` None. A named tuple, not a
    dataclass: a ticker-day has hundreds of them.
    """

    strike: float
    calls: float | None
    puts: float | None
    net: float

    def to_json(self) -> list[float | None]:
        return strike_gex_json((self,))[0]

    @classmethod
    def from_json(cls, data: list[float | None]) -> "StrikeGex":
        if len(data) == 2:
            return cls(strike=float(data[0]), calls=None, puts=None, net=float(data[1]))
        strike, calls, puts, net = data
        return cls(
            strike=float(strike),
            calls=None if calls is None else float(calls),
            puts=None if puts is None else float(puts),
            net=float(net),
        )


def strike_gex_json(rows: Sequence[StrikeGex]) -> list[list[float | None]]:
    """`[strike, calls, puts, net]` of every row, rounded a column at a time."""
    if not rows:
        return []
    strikes, calls, puts, nets = zip(*rows, strict=True)
    return [
        list(row)
        for row in zip(
            json_numbers(strikes, PRICE_DIGITS),
            json_numbers(calls, MONEY_DIGITS),
            json_numbers(puts, MONEY_DIGITS),
            json_numbers(nets, MONEY_DIGITS),
            strict=True,
        )
    ]


@dataclass(frozen=True, eq=False)
class StrikeCurve:
    """GEX per distinct strike (ascending): the calls' sum and the puts' sum, as arrays. One pass of
    the contracts gives both the stored per-strike breakdown and the walls picked from it."""

    strike: NDArray[np.float64]
    calls: NDArray[np.float64]
    puts: NDArray[np.float64]

    @classmethod
    def of(cls, strike: NDArray[np.float64], gex: NDArray[np.float64], is_call: NDArray[np.bool_]) -> "StrikeCurve":
        strikes, index = np.unique(strike, return_inverse=True)
        index = index.reshape(-1)
        calls = np.bincount(index, weights=np.where(is_call, gex, 0.0), minlength=strikes.size)
        puts = np.bincount(index, weights=np.where(is_call, 0.0, gex), minlength=strikes.size)
        return cls(strike=strikes, calls=calls, puts=puts)

    def rows(self) -> tuple[StrikeGex, ...]:
        """Every strike as `StrikeGex(strike, calls, puts, net = calls + puts)`."""
        columns = (self.strike, self.calls, self.puts, self.calls + self.puts)
        return tuple(map(StrikeGex._make, zip(*(column.tolist() for column in columns), strict=True)))

    def call_walls(self, spot: float, top_n: int) -> tuple[Wall, ...]:
        return top_walls(self.strike, self.calls, spot, top_n)

    def put_walls(self, spot: float, top_n: int) -> tuple[Wall, ...]:
        return top_walls(self.strike, self.puts, spot, top_n)


def top_walls(strikes: NDArray[np.float64], totals: NDArray[np.float64], spot: float, top_n: int) -> tuple[Wall, ...]:
    """The `top_n` of `strikes` (distinct) by |strike GEX| `totals`, largest first; ties go to the
    strike nearer spot.

    Strikes whose GEX is exactly zero are not walls (a strike with puts only has no call GEX), so
    fewer than `top_n` may come back. `distance` is strike − spot in dollars and `distance_pct` the
    same in percent of spot.
    """
    magnitude = np.abs(totals)
    candidates = np.flatnonzero(magnitude > 0.0)
    order = np.lexsort((np.abs(strikes[candidates] - spot), -magnitude[candidates]))
    chosen = candidates[order[:top_n]]
    return tuple(
        Wall(
            strike=float(strikes[i]),
            gex=float(totals[i]),
            distance=float(strikes[i] - spot),
            distance_pct=float(100.0 * (strikes[i] - spot) / spot),
        )
        for i in chosen
    )
