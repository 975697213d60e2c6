"""Throughput of the dealer model: snapshot + history metrics per ticker-day on realistic chains.

Run `python bench/dealer_metrics.py [--ticker-days N] [--seed S]`; prints one line of figures.
Chains are built (seeded) before timing starts, so the figure is the model's cost alone.
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dealer import ChainArrays, SnapshotMetrics, compute_history_metrics, compute_snapshot_metrics  # noqa: E402
from dealer.black_scholes import bs_gamma, year_fraction  # noqa: E402

EXPIRATION_DTES = np.array([0, 2, 7, 14, 21, 30, 45, 60, 90, 120])  # the last one is beyond max_dte
STRIKES_PER_EXPIRATION = 100
LOOKBACK_SESSIONS = 5


def strike_ladder(spot: float) -> np.ndarray:
    """100 strikes from about 0.7 × spot on the round increment listed exchanges would use."""
    increment = min((0.5, 1.0, 2.5, 5.0, 10.0), key=lambda step: abs(step - 0.006 * spot))
    first = np.floor(0.7 * spot / increment) * increment
    return first + increment * np.arange(STRIKES_PER_EXPIRATION)


def realistic_chain(rng: np.random.Generator, spot: float) -> ChainArrays:
    """Calls and puts on 100 strikes × 10 expirations = 2,000 contracts.

    Gamma comes from a skewed IV smile; open interest peaks near the money, is heavier on
    out-of-the-money sides (puts below spot, calls above) and on strikes divisible by 5;
    a few percent of gammas and IVs are missing, as real sources have.
    """
    strike, dte = (grid.ravel() for grid in np.meshgrid(strike_ladder(spot), EXPIRATION_DTES))
    strike = np.concatenate([strike, strike])
    dte = np.concatenate([dte, dte])
    is_call = np.repeat([True, False], strike.size // 2)
    years = year_fraction(dte)
    log_moneyness = np.log(strike / spot)
    standardised = log_moneyness / np.sqrt(years)
    volatility = np.clip(0.22 - 0.08 * standardised + 0.05 * standardised**2, 0.05, 2.0)
    volatility *= rng.uniform(0.9, 1.1)
    gamma = bs_gamma(spot, strike, years, volatility)
    out_of_the_money = np.where(is_call, strike > spot, strike < spot)
    open_interest = np.floor(
        rng.lognormal(6.5, 1.0, strike.size)
        * np.exp(-(log_moneyness**2) / 0.05)
        * np.where(out_of_the_money, 2.0, 1.0)
        * np.where(np.isclose(np.mod(strike, 5.0), 0.0), 2.0, 1.0)
    )
    gamma[rng.random(strike.size) < 0.02] = np.nan
    volatility[rng.random(strike.size) < 0.01] = np.nan
    return ChainArrays(strike, is_call, dte, gamma, open_interest, volatility)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ticker-days", type=int, default=500)
    parser.add_argument("--seed", type=int, default=20240601)
    args = parser.parse_args()

    rng = np.random.default_rng(args.seed)
    spots = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.015, args.ticker_days)))
    chains = [realistic_chain(rng, float(spot)) for spot in spots]

    history: list[SnapshotMetrics] = []
    started = time.perf_counter()
    for chain, spot in zip(chains, spots, strict=True):
        today = compute_snapshot_metrics(chain, float(spot))
        compute_history_metrics(today, history[-LOOKBACK_SESSIONS:])
        history.append(today)
    seconds = time.perf_counter() - started

    contracts = round(sum(len(chain) for chain in chains) / len(chains))
    print(
        f"dealer_metrics contracts_per_day={contracts} ticker_days={args.ticker_days} "
        f"seconds={seconds:.3f} ticker_days_per_second={args.ticker_days / seconds:.1f}"
    )


if __name__ == "__main__":
    main()
