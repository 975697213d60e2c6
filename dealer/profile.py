"""Net GEX as a function of hypothetical spot: the curve behind gamma_flip and gex_slope."""

import numpy as np
from numpy.typing import NDArray

from dealer.black_scholes import bs_gamma, year_fraction
from dealer.chain import ChainArrays
from dealer.config import DealerConfig
from dealer.exposure import dealer_sign, dollar_gex


def spot_levels(spot: float, config: DealerConfig) -> NDArray[np.float64]:
    """The grid of spot levels flip_grid_low·S … flip_grid_high·S, ascending."""
    return spot * np.linspace(config.flip_grid_low, config.flip_grid_high, config.flip_grid_points)


def net_gex_profile(chain: ChainArrays, levels: NDArray[np.float64], config: DealerConfig) -> NDArray[np.float64]:
    """Net GEX at each level, re-pricing every contract's gamma there with its IV held fixed.

    The chain must already hold only contracts with a usable IV. At level L the dollar conversion
    uses L², not the observed spot, because the question is "what would GEX be if spot were L".
    One (levels × contracts) gamma matrix and a matrix-vector product: no per-contract loop.
    """
    years = year_fraction(chain.dte)
    gamma = bs_gamma(
        levels[:, np.newaxis],
        chain.strike[np.newaxis, :],
        years[np.newaxis, :],
        chain.implied_volatility[np.newaxis, :],
        config.rate,
        config.dividend_yield,
    )
    # bs_gamma yields NaN only outside its domain; such a contract adds nothing rather than poisoning the sum.
    gamma = np.nan_to_num(gamma, nan=0.0)
    signed_open_interest = dealer_sign(chain.is_call) * chain.open_interest
    return dollar_gex(gamma @ signed_open_interest, 1.0, levels)


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


def profile_slope_at(chain: ChainArrays, spot: float, step: float, config: DealerConfig) -> float:
    """Central difference (P(S+h) − P(S−h)) / 2h of the net GEX profile, in GEX dollars per $1 of spot."""
    around = np.array([spot - step, spot + step])
    below, above = net_gex_profile(chain, around, config)
    return float((above - below) / (2.0 * step))
