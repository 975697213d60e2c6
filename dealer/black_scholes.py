"""Black-Scholes gamma, vectorised, for re-pricing a chain at hypothetical spot levels."""

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray

DAYS_PER_YEAR = 365.0
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


def year_fraction(dte: ArrayLike) -> NDArray[np.float64]:
    """Years to expiry from calendar days, floored at one day so a same-day expiry keeps finite gamma."""
    days = np.asarray(dte, dtype=np.float64)
    return np.maximum(days, 1.0) / DAYS_PER_YEAR


def bs_gamma(
    spot: ArrayLike,
    strike: ArrayLike,
    years: ArrayLike,
    volatility: ArrayLike,
    rate: float = 0.0,
    dividend_yield: float = 0.0,
) -> NDArray[np.float64]:
    """Gamma of a European option (same for calls and puts), broadcasting over all array inputs.

    gamma = e^(−qT) φ(d1) / (S σ √T), d1 = (ln(S/K) + (r − q + σ²/2) T) / (σ √T).
    Inputs outside the model's domain (S, K, T or σ not positive and finite) give NaN rather than
    raising, so one bad row cannot abort a whole chain; callers filter before summing.
    """
    s = np.asarray(spot, dtype=np.float64)
    k = np.asarray(strike, dtype=np.float64)
    t = np.asarray(years, dtype=np.float64)
    sigma = np.asarray(volatility, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
        # Logs and per-contract terms are taken on the inputs before broadcasting, so a
        # (levels × contracts) call does its transcendental work once per row/column, not per cell.
        vol_sqrt_t = sigma * np.sqrt(t)
        drift = (rate - dividend_yield + 0.5 * sigma * sigma) * t
        d1 = (np.log(s) - np.log(k) + drift) / vol_sqrt_t
        scale = np.exp(-dividend_yield * t) * _INV_SQRT_2PI / vol_sqrt_t
        gamma = np.exp(-0.5 * d1 * d1) * scale / s
    valid = (s > 0.0) & (k > 0.0) & (t > 0.0) & (sigma > 0.0) & np.isfinite(gamma)
    return np.where(valid, gamma, np.nan)
