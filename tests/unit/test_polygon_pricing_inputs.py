"""A Massive history answer's pricing inputs become one rate and one yield per snapshot, as decimals."""

from __future__ import annotations

import pytest

from providers.polygon import _pricing_input


def test_the_median_of_the_rows_is_the_snapshots_input() -> None:
    rows = [{"risk_free_rate": value} for value in (0.041, 0.043, 0.045, 0.05)]
    assert _pricing_input(rows, "risk_free_rate") == pytest.approx(0.044)


def test_a_rate_sent_as_percent_is_read_as_a_decimal() -> None:
    rows = [{"risk_free_rate": 4.3}, {"risk_free_rate": "4.3"}]
    assert _pricing_input(rows, "risk_free_rate") == pytest.approx(0.043)


def test_nested_keys_and_rows_without_the_input() -> None:
    rows = [{"model_inputs": {"dividend_yield": 0.004}}, {"model_inputs": {}}, {}]
    assert _pricing_input(rows, "model_inputs.dividend_yield") == pytest.approx(0.004)
    assert _pricing_input([{}, {"other": 1}], "risk_free_rate") is None
