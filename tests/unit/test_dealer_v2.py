"""dealer-v2: pricing inputs, expiring contracts, bad stored rows, confidence, status reasons, and
the fast profile against the plain (levels × contracts) Black-Scholes evaluation it replaced."""

import numpy as np
import pytest

from dealer import STATUS_REASONS, ChainArrays, DealerConfig, PricingInputs, compute_snapshot_metrics, pricing_inputs
from dealer.black_scholes import bs_gamma, year_fraction
from dealer.exposure import dealer_sign, dollar_gex
from dealer.profile import gamma_flip, nearest_zero_crossing, net_gex_profile, prepare_profile, spot_levels


def plain_profile(chain: ChainArrays, levels: np.ndarray, rate: float, dividend: float) -> np.ndarray:
    """The dealer-v1 evaluation: the full gamma matrix from bs_gamma, summed with signed OI."""
    gamma = bs_gamma(
        levels[:, None],
        chain.strike[None, :],
        year_fraction(chain.dte)[None, :],
        chain.implied_volatility,
        rate,
        dividend,
    )
    return dollar_gex(np.nan_to_num(gamma) @ (dealer_sign(chain.is_call) * chain.open_interest), 1.0, levels)


def random_chain(rng: np.random.Generator, spot: float, size: int, rate: float, dividend: float) -> ChainArrays:
    """Contracts whose gamma is priced with (rate, dividend) at `spot`, as a consistent source gives."""
    strike = np.round(spot * np.exp(rng.normal(0.0, 0.15, size)), 1)
    dte = rng.integers(0, 120, size)
    iv = rng.uniform(0.1, 0.6, size)
    gamma = bs_gamma(spot, strike, year_fraction(dte), iv, rate, dividend)
    open_interest = np.floor(rng.lognormal(6.0, 1.2, size))
    return ChainArrays(strike, rng.random(size) < rng.uniform(0.3, 0.7), dte, gamma, open_interest, iv)


@pytest.mark.parametrize("seed", range(40))
def test_the_fast_profile_and_flip_equal_the_plain_evaluation(seed: int) -> None:
    rng = np.random.default_rng(seed)
    spot, rate, dividend = float(rng.uniform(20, 600)), float(rng.uniform(0, 0.06)), float(rng.uniform(0, 0.03))
    chain = random_chain(rng, spot, int(rng.integers(5, 400)), rate, dividend)
    levels = spot_levels(spot, DealerConfig())
    pricing = PricingInputs(rate, dividend)
    plain = plain_profile(chain, levels, rate, dividend)
    fast = net_gex_profile(chain, levels, pricing)
    assert fast == pytest.approx(plain, rel=1e-9, abs=1e-9 * np.abs(plain).max())
    profile = prepare_profile(chain, pricing, float(levels[0]), float(levels[-1]))
    expected = nearest_zero_crossing(levels, plain, spot)
    found = gamma_flip(profile, levels, spot)
    assert (found is None) == (expected is None)
    if expected is not None:
        assert round(found, 4) == round(expected, 4)


def test_a_flip_beyond_the_first_band_is_found_on_the_whole_grid() -> None:
    # Calls far above spot, puts at spot: net GEX is negative near spot and turns positive ~12% up.
    chain = ChainArrays(
        np.array([100.0, 115.0]), np.array([False, True]), np.array([30, 30]), np.array([0.01, 0.01]),
        np.array([1000.0, 20000.0]), np.array([0.1, 0.1]),
    )  # fmt: skip
    levels = spot_levels(100.0, DealerConfig())
    profile = prepare_profile(chain, PricingInputs(), float(levels[0]), float(levels[-1]))
    expected = nearest_zero_crossing(levels, plain_profile(chain, levels, 0.0, 0.0), 100.0)
    assert expected is not None and expected > 105.0  # outside the ±5% band searched first
    assert gamma_flip(profile, levels, 100.0) == pytest.approx(expected, abs=1e-9)


def test_profile_at_spot_equals_gex_net_when_priced_with_the_sources_inputs_and_not_otherwise() -> None:
    rng = np.random.default_rng(7)
    chain = random_chain(rng, 500.0, 800, rate=0.04, dividend=0.013)
    reported = pricing_inputs(0.04, 0.013, DealerConfig())
    consistent = compute_snapshot_metrics(chain, 500.0, pricing=reported)
    assert abs(consistent.profile_gap) < 1e-9
    assert consistent.to_json()["pricing"]["risk_free_rate_source"] == "provider"
    # Re-pricing with r = q = 0 what the source priced with 4% and 1.3% (the dealer-v1 mismatch).
    defaults = compute_snapshot_metrics(chain, 500.0)
    assert abs(defaults.profile_gap) > 1e-4
    assert defaults.gex_net == consistent.gex_net  # the data side is the source's own gammas


def test_each_unreported_input_falls_back_to_its_configured_default() -> None:
    config = DealerConfig(rate=0.03, dividend_yield=0.01)
    assert pricing_inputs(None, None, config) == PricingInputs(0.03, 0.01, "default", "default")
    assert pricing_inputs(0.05, None, config) == PricingInputs(0.05, 0.01, "provider", "default")
    assert pricing_inputs(float("nan"), 0.0, config) == PricingInputs(0.03, 0.0, "default", "provider")


def test_expiring_contracts_are_excluded_by_default_and_the_json_says_so() -> None:
    spot = 100.0
    rows = [(95.0 + i, i % 2 == 0, dte, 0.05, 1000.0, 0.2) for i in range(10) for dte in (0, 7)]
    strike, is_call, dte, gamma, oi, iv = (np.array(column) for column in zip(*rows, strict=True))
    chain = ChainArrays(strike, is_call, dte, gamma, oi, iv)
    default = compute_snapshot_metrics(chain, spot)
    kept = compute_snapshot_metrics(chain, spot, DealerConfig(include_expiring=True))
    assert (default.contracts_eligible, default.excluded.expiring) == (10, 10)
    assert (kept.contracts_eligible, kept.excluded.expiring) == (20, 0)
    assert kept.gex_gross == pytest.approx(2.0 * default.gex_gross)
    assert default.to_json()["include_expiring"] is False and kept.to_json()["include_expiring"] is True
    assert default.to_json()["excluded"]["expiring"] == 10


def test_a_stored_row_without_a_usable_identity_is_dropped_and_counted() -> None:
    chain = ChainArrays.from_stored(
        strike=[100.0, np.nan, 0.0, -5.0, 101.0, 102.0, 103.0],
        call_code=[1, 1, 0, 1, -1, 0, 1],
        dte=[30, 30, 30, 30, 30, np.nan, 30],
        gamma=[0.02] * 7,
        open_interest=[500.0] * 7,
        implied_volatility=[0.2] * 7,
    )
    assert len(chain) == 2 and chain.dropped_rows == 5
    assert chain.strike.tolist() == [100.0, 103.0] and chain.is_call.tolist() == [True, True]
    metrics = compute_snapshot_metrics(chain, 100.0)
    assert metrics.to_json()["rows_dropped"] == 5 and metrics.contracts_total == 2


def test_confidence_reflects_the_share_of_eligible_contracts_without_iv() -> None:
    size = 40
    base = dict(
        strike=np.linspace(90, 110, size), is_call=np.arange(size) % 2 == 0, dte=np.full(size, 30),
        gamma=np.full(size, 0.03), open_interest=np.full(size, 500.0),
    )  # fmt: skip
    iv = np.full(size, 0.2)
    quarter_missing = iv.copy()
    quarter_missing[: size // 4] = np.nan
    full = compute_snapshot_metrics(ChainArrays(implied_volatility=iv, **base), 100.0)
    partial = compute_snapshot_metrics(ChainArrays(implied_volatility=quarter_missing, **base), 100.0)
    none = compute_snapshot_metrics(ChainArrays(implied_volatility=np.full(size, np.nan), **base), 100.0)
    assert full.confidence == pytest.approx(1.0)
    assert partial.confidence == pytest.approx(0.75)
    assert (none.status, none.status_reason, none.gamma_flip, none.confidence) == ("LIMITED", "missing_iv", None, 0.0)


@pytest.mark.parametrize(
    "chain, spot",
    [
        (ChainArrays.empty(), 100.0),
        (ChainArrays.from_lists([100.0], [True], [30], [0.02], [500.0], [0.2]), None),
        (ChainArrays.from_lists([100.0], [True], [30], [0.02], [5.0], [0.2]), 100.0),
        (ChainArrays.from_lists([100.0], [True], [30], [0.02], [500.0], [0.2]), 100.0),
        (ChainArrays.from_lists([100.0], [True], [30], [0.02], [500.0], [None]), 100.0),
    ],
)
def test_every_status_reason_is_one_of_the_documented_set(chain: ChainArrays, spot: float | None) -> None:
    metrics = compute_snapshot_metrics(chain, spot)
    assert metrics.status_reason in STATUS_REASONS
    assert STATUS_REASONS[metrics.status_reason].startswith(str(metrics.status))


def test_strike_gex_in_the_band_is_kept_and_the_walls_are_its_largest_entries() -> None:
    rows = [
        (100.0, True, 30, 0.02, 500.0, 0.2),
        (100.0, True, 60, 0.01, 500.0, 0.2),  # same strike, another expiry: summed
        (100.0, False, 30, 0.02, 200.0, 0.2),
        (110.0, True, 30, 0.02, 900.0, 0.2),
        (90.0, False, 30, 0.02, 700.0, 0.2),
        (150.0, True, 30, 0.02, 5000.0, 0.2),  # beyond the ±20% wall band
    ]
    strike, is_call, dte, gamma, oi, iv = (np.array(column) for column in zip(*rows, strict=True))
    metrics = compute_snapshot_metrics(ChainArrays(strike, is_call, dte, gamma, oi, iv), 100.0)
    dollars = 100.0 * 100.0**2 * 0.01
    assert [row.strike for row in metrics.strike_gex] == [90.0, 100.0, 110.0]
    at_100 = {row.strike: row for row in metrics.strike_gex}[100.0]
    assert at_100.calls == pytest.approx((0.02 * 500 + 0.01 * 500) * dollars)
    assert at_100.puts == pytest.approx(-0.02 * 200 * dollars)
    assert at_100.net == pytest.approx(at_100.calls + at_100.puts)
    assert metrics.call_walls[0].strike == 110.0 and metrics.put_walls[0].strike == 90.0
    put_wall = round(-0.02 * 700 * dollars, 2)
    assert metrics.to_json()["strike_gex"][0] == [90.0, 0.0, put_wall, put_wall]
