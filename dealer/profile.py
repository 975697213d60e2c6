"""Net GEX as a function of hypothetical spot: the curve behind gamma_flip and gex_slope.

At level L every contract's gamma is re-priced with Black-Scholes, its IV held fixed and the
snapshot's pricing inputs (r, q). Written out, the dollar profile is

    P(L) = L × Σ_j w_j exp(−½ d1_j(L)²),  d1_j(L) = a_j ln L + b_j,

with a_j = 1/(σ√T), b_j = (r − q + σ²/2)T·a_j − a_j ln K and w_j = sign·OI·e^(−qT)·a_j/√(2π) × 100 × 0.01:
d1 is affine in ln L, so everything per contract is computed once (`prepare_profile`) and a set of
levels costs one (levels × contracts) exponential and one matrix-vector product.
"""

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from dealer.black_scholes import year_fraction
from dealer.chain import ChainArrays
from dealer.config import DealerConfig
from dealer.exposure import CONTRACT_MULTIPLIER, ONE_PERCENT, dealer_sign
from dealer.pricing import PricingInputs

_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
# A contract whose |d1| stays above this over the whole grid adds exp(−72) ≈ 5e-32 of its own
# weight at most: far below the last digit of any published figure, so it is left out once.
NEGLIGIBLE_D1 = 12.0
# The nearest crossing is looked for in this many grid steps either side of spot first; the rest of
# the grid is evaluated only when that band cannot prove its crossing is the nearest (`gamma_flip`).
FIRST_BAND_STEPS = 20


@dataclass(frozen=True, eq=False)
class GammaProfile:
    """The per-contract terms of the profile (see the module docstring), aligned by contract."""

    slope: NDArray[np.float64]
    intercept: NDArray[np.float64]
    weight: NDArray[np.float64]

    def __len__(self) -> int:
        return int(self.weight.size)

    def at(self, levels: NDArray[np.float64]) -> NDArray[np.float64]:
        """Net GEX (dollars per 1% move) at each of `levels`."""
        levels = np.asarray(levels, dtype=np.float64)
        if self.weight.size == 0:
            return np.zeros_like(levels)
        exponent = np.multiply.outer(np.log(levels), self.slope)
        exponent += self.intercept
        np.square(exponent, out=exponent)
        exponent *= -0.5
        np.exp(exponent, out=exponent)
        return levels * (exponent @ self.weight)


def spot_levels(spot: float, config: DealerConfig) -> NDArray[np.float64]:
    """The grid of spot levels flip_grid_low·S … flip_grid_high·S, ascending."""
    return spot * np.linspace(config.flip_grid_low, config.flip_grid_high, config.flip_grid_points)


def prepare_profile(chain: ChainArrays, pricing: PricingInputs, lowest: float, highest: float) -> GammaProfile:
    """The profile terms of `chain`'s contracts (each must have a usable IV), for levels in [lowest, highest].

    Contracts whose |d1| exceeds `NEGLIGIBLE_D1` at every level of that range are left out: d1 is
    monotone in ln L, so its smallest magnitude over the range is at an end or zero between them.
    """
    years = year_fraction(chain.dte)
    vol_sqrt_t = chain.implied_volatility * np.sqrt(years)
    slope = 1.0 / vol_sqrt_t
    drift = (pricing.risk_free_rate - pricing.dividend_yield + 0.5 * chain.implied_volatility**2) * years
    intercept = (drift - np.log(chain.strike)) * slope
    low = slope * math.log(lowest) + intercept
    high = slope * math.log(highest) + intercept
    nearest = np.where(np.sign(low) != np.sign(high), 0.0, np.minimum(np.abs(low), np.abs(high)))
    keep = nearest < NEGLIGIBLE_D1
    scale = CONTRACT_MULTIPLIER * ONE_PERCENT * _INV_SQRT_2PI
    weight = dealer_sign(chain.is_call) * chain.open_interest * np.exp(-pricing.dividend_yield * years) * slope * scale
    return _merged(slope[keep], intercept[keep], weight[keep])


def _merged(slope: NDArray[np.float64], intercept: NDArray[np.float64], weight: NDArray[np.float64]) -> GammaProfile:
    """Contracts with the same (a, b) — a call and a put on one strike and expiry with one IV — have
    the same gamma at every level: one column with their summed weight instead of two."""
    if slope.size < 2:
        return GammaProfile(slope=slope, intercept=intercept, weight=weight)
    order = np.lexsort((intercept, slope))
    slope, intercept = slope[order], intercept[order]
    first = np.ones(slope.size, dtype=bool)
    first[1:] = (slope[1:] != slope[:-1]) | (intercept[1:] != intercept[:-1])
    group = np.cumsum(first) - 1
    summed = np.bincount(group, weights=weight[order], minlength=int(group[-1]) + 1)
    return GammaProfile(slope=slope[first], intercept=intercept[first], weight=summed)


def net_gex_profile(chain: ChainArrays, levels: NDArray[np.float64], pricing: PricingInputs) -> NDArray[np.float64]:
    """Net GEX of `chain` (contracts with a usable IV) at each of `levels`."""
    levels = np.asarray(levels, dtype=np.float64)
    return prepare_profile(chain, pricing, float(levels.min()), float(levels.max())).at(levels)


def nearest_zero_crossing(levels: NDArray[np.float64], values: NDArray[np.float64], target: float) -> float | None:
    """Where `values` changes sign, linearly interpolated; the crossing nearest `target`, or None.

    A sign change between neighbouring grid levels is interpolated between them. When the curve is
    exactly zero on a run of grid levels between a sign change, the crossing is that run's midpoint.
    A curve that touches zero without changing sign has no crossing. Equidistant ties go lower.
    """
    nonzero = np.flatnonzero(np.isfinite(values) & (values != 0.0))
    if nonzero.size < 2:
        return None
    signs = np.sign(values[nonzero])
    change = np.flatnonzero(signs[:-1] != signs[1:])
    if change.size == 0:
        return None
    left = nonzero[change]
    right = nonzero[change + 1]
    left_value = values[left]
    right_value = values[right]
    interpolated = levels[left] + (levels[right] - levels[left]) * left_value / (left_value - right_value)
    zero_run_middle = 0.5 * (levels[np.minimum(left + 1, right)] + levels[np.maximum(right - 1, left)])
    crossings = np.where(right == left + 1, interpolated, zero_run_middle)
    return float(crossings[np.argmin(np.abs(crossings - target))])


@dataclass(frozen=True, eq=False)
class ProfileReading:
    """What the snapshot takes from the profile: the flip, the slope at spot, the value at spot and
    the curve on every `stride`-th grid level (the stored profile)."""

    gamma_flip: float | None
    slope: float
    at_spot: float
    kept: NDArray[np.float64]


def read_profile(profile: GammaProfile, levels: NDArray[np.float64], spot: float, stride: int = 1) -> ProfileReading:
    """The profile's nearest crossing of zero over `levels` (exactly what `nearest_zero_crossing` of
    the whole grid gives), its central-difference slope at spot with h = one grid step, its value at
    spot and its values on every `stride`-th level, evaluated together in one product, usually on
    part of the grid only.

    The kept levels, the band of `FIRST_BAND_STEPS` levels either side of spot's node and the three
    points at and around spot are evaluated first. A crossing outside the band lies beyond the
    band's last level, so a band crossing strictly nearer spot than both band edges, found with no
    exact zero in the band, is the grid's nearest; otherwise the rest of the grid is evaluated and
    the whole grid decides.
    """
    step = float(levels[1] - levels[0])
    middle = int(np.argmin(np.abs(levels - spot)))
    first = max(0, middle - FIRST_BAND_STEPS)
    last = min(levels.size - 1, middle + FIRST_BAND_STEPS)
    wanted = np.zeros(levels.size, dtype=bool)
    wanted[::stride] = True
    wanted[first : last + 1] = True
    known = np.full(levels.size, np.nan)
    evaluated = np.flatnonzero(wanted)
    values = profile.at(np.concatenate([levels[evaluated], [spot, spot - step, spot + step]]))
    known[evaluated] = values[:-3]
    at_spot, below, above = values[-3:].tolist()
    slope = (above - below) / (2.0 * step)
    band = known[first : last + 1]
    if np.all(band != 0.0):
        crossing = nearest_zero_crossing(levels[first : last + 1], band, spot)
        reach = min(
            levels[last] - spot if last < levels.size - 1 else math.inf,
            spot - levels[first] if first > 0 else math.inf,
        )
        if crossing is not None and abs(crossing - spot) < reach:
            return ProfileReading(crossing, slope, at_spot, known[::stride])
    rest = np.flatnonzero(~wanted)
    if rest.size:
        known[rest] = profile.at(levels[rest])
    return ProfileReading(nearest_zero_crossing(levels, known, spot), slope, at_spot, known[::stride])


def gamma_flip(profile: GammaProfile, levels: NDArray[np.float64], spot: float) -> float | None:
    """The crossing of zero nearest spot (`read_profile`)."""
    return read_profile(profile, levels, spot).gamma_flip


def profile_slope_at(profile: GammaProfile, spot: float, step: float) -> float:
    """Central difference (P(S+h) − P(S−h)) / 2h of the net GEX profile, in GEX dollars per $1 of spot."""
    below, above = profile.at(np.array([spot - step, spot + step]))
    return float((above - below) / (2.0 * step))
