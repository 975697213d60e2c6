"""Black-Scholes gamma against textbook values and its domain handling."""

import math

import numpy as np
import pytest

from dealer.black_scholes import bs_gamma, year_fraction


def test_at_the_money_one_year_gamma_matches_textbook_value() -> None:
    # d1 = 0.1, phi(0.1) = 0.396953 -> gamma = 0.396953 / (100 * 0.2) = 0.019848
    assert float(bs_gamma(100.0, 100.0, 1.0, 0.2)) == pytest.approx(0.019848, abs=5e-7)


def test_hull_example_with_rate_matches_published_gamma() -> None:
    # Hull, Options Futures and Other Derivatives: S=49, K=50, r=5%, sigma=20%, T=20 weeks -> gamma 0.066
    assert float(bs_gamma(49.0, 50.0, 20.0 / 52.0, 0.2, rate=0.05)) == pytest.approx(0.0655, abs=5e-4)


def test_dividend_yield_discounts_gamma_by_exp_minus_q_t() -> None:
    spot, strike, years, vol, q = 100.0, 100.0, 0.5, 0.3, 0.04
    d1 = (math.log(spot / strike) + (-q + 0.5 * vol * vol) * years) / (vol * math.sqrt(years))
    expected = (
        math.exp(-q * years) * math.exp(-0.5 * d1 * d1) / math.sqrt(2 * math.pi) / (spot * vol * math.sqrt(years))
    )
    assert float(bs_gamma(spot, strike, years, vol, dividend_yield=q)) == pytest.approx(expected, rel=1e-12)


def test_gamma_broadcasts_levels_against_contracts() -> None:
    levels = np.array([90.0, 100.0, 110.0])[:, np.newaxis]
    strikes = np.array([95.0, 100.0, 105.0, 110.0])[np.newaxis, :]
    gamma = bs_gamma(levels, strikes, 0.25, 0.2)
    assert gamma.shape == (3, 4)
    assert gamma[1, 1] == pytest.approx(float(bs_gamma(100.0, 100.0, 0.25, 0.2)))


def test_inputs_outside_the_model_domain_give_nan_not_errors() -> None:
    gamma = bs_gamma(
        100.0, np.array([100.0, 100.0, -5.0, 100.0]), np.array([1.0, 0.0, 1.0, 1.0]), np.array([0.2, 0.2, 0.2, 0.0])
    )
    assert np.isfinite(gamma[0])
    assert np.isnan(gamma[1:]).all()


def test_year_fraction_floors_same_day_expiry_at_one_day() -> None:
    assert year_fraction(np.array([0, 1, 365])).tolist() == pytest.approx([1 / 365, 1 / 365, 1.0])
