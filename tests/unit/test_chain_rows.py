from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from providers.base import ChainSnapshot, OptionQuote
from tasks.chain_rows import validate_chain

COLUMNS = (
    "expiration_date",
    "strike_price",
    "option_type",
    "bid",
    "ask",
    "last",
    "volume",
    "open_interest",
    "implied_volatility",
    "delta",
    "gamma",
    "theta",
    "vega",
)

SESSION = date(2025, 12, 9)
GOOD = OptionQuote(
    expiration_date=date(2025, 12, 19),
    strike_price=Decimal("100"),
    option_type="C",
    bid=1.0,
    ask=1.2,
    open_interest=500,
    gamma=0.03,
)


def snapshot(*quotes: OptionQuote, dropped_rows: int = 0) -> ChainSnapshot:
    return ChainSnapshot("SPY", SESSION, 100.0, tuple(quotes), "test", "test", dropped_rows=dropped_rows)


def test_valid_rows_pass_in_store_column_order():
    validated = validate_chain(snapshot(GOOD))
    assert validated.rows == (
        (date(2025, 12, 19), Decimal("100.0000"), "C", 1.0, 1.2, None, None, 500, None, None, 0.03, None, None),
    )
    assert validated.dropped == {}


def test_malformed_rows_are_counted_and_dropped():
    validated = validate_chain(
        snapshot(
            GOOD,
            replace(GOOD, strike_price=Decimal("101"), option_type="X"),
            replace(GOOD, strike_price=Decimal("102"), expiration_date=date(2025, 12, 8)),
            replace(GOOD, strike_price=Decimal("100.12345")),
            replace(GOOD, strike_price=Decimal("-5")),
            replace(GOOD, strike_price=Decimal("103"), open_interest=-1),
            replace(GOOD, strike_price=None),
            dropped_rows=2,
        )
    )
    assert len(validated.rows) == 1
    assert validated.dropped == {
        "bad_option_type": 1,
        "expired_before_session": 1,
        "strike_precision": 1,
        "bad_strike": 1,
        "bad_count": 1,
        "missing_key_field": 1,
        "dropped_by_provider": 2,
    }
    assert validated.dropped_total == 8


def test_an_exact_repeat_of_a_contract_is_written_once():
    other = replace(GOOD, strike_price=Decimal("105"))
    # The same strike spelled differently, and a NaN that normalises to the same NULL, are exact repeats.
    validated = validate_chain(
        snapshot(GOOD, other, replace(GOOD, strike_price=Decimal("100.0")), GOOD, replace(other, vega=float("nan")))
    )
    assert [row[1] for row in validated.rows] == [Decimal("100.0000"), Decimal("105.0000")]
    assert validated.dropped == {"duplicate_contract": 3}


def test_a_contract_repeated_with_different_values_is_dropped_in_every_copy():
    other = replace(GOOD, strike_price=Decimal("105"))
    validated = validate_chain(
        snapshot(
            GOOD,
            other,
            GOOD,  # an exact repeat first...
            replace(GOOD, strike_price=Decimal("100.0"), bid=9.9),  # ...then a contradiction
            GOOD,
        )
    )
    assert [row[1] for row in validated.rows] == [Decimal("105.0000")]
    assert validated.dropped == {"conflicting_duplicate": 4}
    assert validated.dropped_total == 4


def test_a_conflict_only_in_a_value_that_is_nulled_anyway_is_an_exact_repeat():
    validated = validate_chain(snapshot(replace(GOOD, delta=float("nan")), replace(GOOD, delta=float("inf"))))
    assert len(validated.rows) == 1 and validated.dropped == {"duplicate_contract": 1}
    # Nulls are counted for the row kept, not for the copies dropped.
    assert validated.nulled == {"delta_not_finite": 1}


def test_non_finite_numbers_become_null_and_are_counted():
    validated = validate_chain(snapshot(replace(GOOD, gamma=float("nan"), delta=float("inf"), vega=0.1)))
    row = validated.rows[0]
    assert row[10] is None and row[9] is None and row[12] == 0.1
    assert validated.values_nulled == 2
    assert validated.nulled == {"gamma_not_finite": 1, "delta_not_finite": 1}


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("delta", 1.5),
        ("delta", -1.01),
        ("gamma", -0.001),
        ("gamma", 2e6),
        ("vega", -0.2),
        ("vega", 1e7),
        ("theta", -5e6),
        ("implied_volatility", -0.1),
        ("implied_volatility", 45.0),
        ("bid", -0.05),
        ("ask", 1e9),
        ("last", -1.0),
    ],
)
def test_values_outside_their_physical_range_become_null_and_are_counted(column, value):
    validated = validate_chain(snapshot(replace(GOOD, **{column: value})))

    [row] = validated.rows
    columns = dict(zip(COLUMNS, row, strict=True))
    assert columns[column] is None
    assert validated.nulled == {f"{column}_out_of_range": 1} and validated.values_nulled == 1
    # The rest of the row is intact and nothing is dropped.
    assert columns["open_interest"] == 500 and validated.dropped == {}


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("delta", 1.0),
        ("delta", -1.00005),  # model rounding
        ("gamma", 0.0),
        ("gamma", 350.0),  # a $1 stock an hour before expiry
        ("theta", -250.0),
        ("theta", 0.4),  # a deep in-the-money European put
        ("vega", 0.0),
        ("implied_volatility", 0.0),
        ("implied_volatility", 12.5),
        ("bid", 0.0),
        ("ask", 650_000.0),  # BRK.A territory
    ],
)
def test_extreme_but_possible_values_are_kept(column, value):
    validated = validate_chain(snapshot(replace(GOOD, **{column: value})))

    [row] = validated.rows
    assert dict(zip(COLUMNS, row, strict=True))[column] == value
    assert validated.nulled == {} and validated.values_nulled == 0


def test_four_decimal_strikes_keep_their_exact_value():
    validated = validate_chain(snapshot(replace(GOOD, strike_price=Decimal("187.1234"))))
    assert validated.rows[0][1] == Decimal("187.1234")


@pytest.mark.parametrize(
    ("rate", "dividend", "kept", "nulled"),
    [
        (0.043, 0.004, (0.043, 0.004), {}),
        (None, None, (None, None), {}),
        (-0.005, 0.0, (-0.005, 0.0), {}),  # negative rates exist
        (4.3, 0.004, (None, 0.004), {"risk_free_rate_out_of_range": 1}),  # a percent sent as a decimal
        (float("nan"), float("inf"), (None, None), {"risk_free_rate_not_finite": 1, "dividend_yield_not_finite": 1}),
    ],
)
def test_a_snapshots_pricing_inputs_are_kept_when_finite_and_in_range(rate, dividend, kept, nulled):
    validated = validate_chain(replace(snapshot(GOOD), risk_free_rate=rate, dividend_yield=dividend))
    assert (validated.risk_free_rate, validated.dividend_yield) == kept
    assert validated.nulled == nulled and len(validated.rows) == 1
