"""Snapshot dealer metrics: conventions, gamma flip, filters, status, dgpi, walls and JSON."""

import json
import math
from collections.abc import Callable, Sequence

import numpy as np
import pytest

from dealer import ChainArrays, DealerConfig, SnapshotMetrics, compute_snapshot_metrics
from dealer.exposure import contract_gex
from dealer.profile import nearest_zero_crossing

Row = tuple[float, bool, int, float | None, float | None, float | None]  # strike, call, dte, gamma, oi, iv


def chain_of(rows: Sequence[Row]) -> ChainArrays:
    strike, is_call, dte, gamma, oi, iv = zip(*rows, strict=True) if rows else ([],) * 6
    return ChainArrays.from_lists(strike, is_call, dte, gamma, oi, iv)


def textbook_gamma(spot: float, strike: float, dte: int, vol: float) -> float:
    """Black-Scholes gamma with r = q = 0, written independently of dealer.black_scholes."""
    years = max(dte, 1) / 365.0
    d1 = (math.log(spot / strike) + 0.5 * vol * vol * years) / (vol * math.sqrt(years))
    return math.exp(-0.5 * d1 * d1) / math.sqrt(2.0 * math.pi) / (spot * vol * math.sqrt(years))


def priced_chain(spot: float, contracts: Sequence[tuple[float, bool, int, float]], vol: float) -> ChainArrays:
    """Chain whose gammas are the textbook gammas at `spot`, as a consistent data source would give."""
    return chain_of([(k, call, dte, textbook_gamma(spot, k, dte, vol), oi, vol) for k, call, dte, oi in contracts])


def brute_force_profile(level: float, contracts: Sequence[tuple[float, bool, int, float]], vol: float) -> float:
    total = 0.0
    for strike, is_call, dte, oi in contracts:
        sign = 1.0 if is_call else -1.0
        total += sign * textbook_gamma(level, strike, dte, vol) * oi * 100.0 * level * level * 0.01
    return total


def bisect_root(func: Callable[[float], float], low: float, high: float) -> float:
    f_low = func(low)
    for _ in range(200):
        middle = 0.5 * (low + high)
        f_middle = func(middle)
        if (f_middle < 0.0) == (f_low < 0.0):
            low, f_low = middle, f_middle
        else:
            high = middle
    return 0.5 * (low + high)


def unique_root(spot: float, contracts: Sequence[tuple[float, bool, int, float]], vol: float) -> float:
    """Scan 0.8S..1.2S finely, assert exactly one sign change, and bisect it."""
    scan = [spot * (0.8 + 0.4 * i / 4000) for i in range(4001)]
    values = [brute_force_profile(level, contracts, vol) for level in scan]
    changes = [i for i in range(4000) if (values[i] < 0.0) != (values[i + 1] < 0.0)]
    assert len(changes) == 1, "the test chain must cross zero exactly once"
    i = changes[0]
    return bisect_root(lambda level: brute_force_profile(level, contracts, vol), scan[i], scan[i + 1])


def full_chain(count: int, spot: float = 100.0) -> ChainArrays:
    """`count` eligible calls and puts alternating across strikes near spot."""
    return chain_of([(spot - 10.0 + i, i % 2 == 0, 30, 0.02, 500.0, 0.25) for i in range(count)])


# --- 1. sign and unit convention ---------------------------------------------------------------

HAND_CHAIN_SPOT = 105.0
HAND_CHAIN: list[Row] = [
    (100.0, True, 30, 0.04, 500.0, 0.2),
    (105.0, False, 30, 0.05, 400.0, 0.2),
    (110.0, True, 30, 0.03, 300.0, 0.2),
]


def test_dealers_long_calls_short_puts_gex_in_dollars_per_one_percent() -> None:
    chain = chain_of(HAND_CHAIN)
    assert contract_gex(chain, HAND_CHAIN_SPOT).tolist() == pytest.approx([220_500.0, -220_500.0, 99_225.0])
    metrics = compute_snapshot_metrics(chain, HAND_CHAIN_SPOT)
    assert metrics.gex_net == pytest.approx(99_225.0)
    assert metrics.gex_gross == pytest.approx(540_225.0)
    assert metrics.gex_calls == pytest.approx(319_725.0)
    assert metrics.gex_puts == pytest.approx(-220_500.0)
    assert [wall.strike for wall in metrics.call_walls] == [100.0, 110.0]
    assert [wall.strike for wall in metrics.put_walls] == [105.0]
    assert metrics.call_walls[0].gex == pytest.approx(220_500.0)
    assert metrics.call_walls[0].distance == pytest.approx(-5.0)
    assert metrics.call_walls[0].distance_pct == pytest.approx(-100.0 * 5.0 / 105.0)
    assert metrics.put_walls[0].gex == pytest.approx(-220_500.0)
    assert metrics.put_walls[0].distance == 0.0


def test_strike_gex_sums_expirations_before_ranking_walls() -> None:
    chain = chain_of(
        [
            (100.0, True, 7, 0.02, 1000.0, 0.2),  # 100 strike: two expirations, 1000 + 1000 units
            (100.0, True, 30, 0.01, 2000.0, 0.2),
            (102.0, True, 30, 0.03, 1000.0, 0.2),  # 1500 units: beats either 100 contract, not their sum
            (104.0, True, 30, 0.01, 1000.0, 0.2),
            (106.0, True, 30, 0.005, 1000.0, 0.2),
            (130.0, True, 30, 0.5, 1000.0, 0.2),  # largest of all, but outside +-20% of spot
            (95.0, False, 30, 0.01, 1000.0, 0.2),
            (90.0, False, 30, 0.03, 1000.0, 0.2),
        ]
    )
    metrics = compute_snapshot_metrics(chain, 100.0)
    assert [wall.strike for wall in metrics.call_walls] == [100.0, 102.0, 104.0]
    assert metrics.call_walls[0].gex == pytest.approx(2 * 0.02 * 1000.0 * 100.0 * 100.0**2 * 0.01)
    assert [wall.strike for wall in metrics.put_walls] == [90.0, 95.0]
    assert metrics.gex_calls == pytest.approx(
        (0.02 * 1000 * 2 + 0.03 * 1000 + 0.01 * 1000 + 0.005 * 1000 + 0.5 * 1000) * 100.0 * 100.0**2 * 0.01
    )


# --- 2. gamma flip -----------------------------------------------------------------------------

PUTS_BELOW_SPOT = [  # puts dominate lower strikes; calls at and above spot make gex_net positive
    (90.0, False, 30, 3000.0),
    (95.0, False, 30, 4000.0),
    (90.0, False, 60, 1000.0),
    (100.0, True, 30, 3000.0),
    (105.0, True, 30, 4000.0),
    (110.0, True, 60, 2000.0),
]
PUTS_AT_SPOT = [  # heavy puts at and just below spot, calls above: gex_net negative
    (95.0, False, 30, 3000.0),
    (100.0, False, 30, 4000.0),
    (105.0, True, 30, 3000.0),
    (110.0, True, 30, 3000.0),
    (115.0, True, 60, 2000.0),
]


def test_gamma_flip_matches_brute_force_root_and_lies_between_bracketing_grid_levels() -> None:
    spot, vol = 100.0, 0.25
    metrics = compute_snapshot_metrics(priced_chain(spot, PUTS_BELOW_SPOT, vol), spot)
    root = unique_root(spot, PUTS_BELOW_SPOT, vol)
    assert metrics.gamma_flip is not None
    assert metrics.gamma_flip == pytest.approx(root, rel=1e-3)
    step = 0.4 * spot / 160
    below = spot * 0.8 + step * math.floor((root - spot * 0.8) / step)
    assert below <= metrics.gamma_flip <= below + step


def test_positive_gex_net_puts_flip_below_spot_negative_puts_it_above() -> None:
    spot, vol = 100.0, 0.25
    long_gamma = compute_snapshot_metrics(priced_chain(spot, PUTS_BELOW_SPOT, vol), spot)
    short_gamma = compute_snapshot_metrics(priced_chain(spot, PUTS_AT_SPOT, vol), spot)
    assert long_gamma.gex_net is not None and long_gamma.gex_net > 0.0
    assert long_gamma.gamma_flip is not None and long_gamma.gamma_flip < spot
    assert short_gamma.gex_net is not None and short_gamma.gex_net < 0.0
    assert short_gamma.gamma_flip is not None and short_gamma.gamma_flip > spot
    assert short_gamma.gamma_flip == pytest.approx(unique_root(spot, PUTS_AT_SPOT, vol), rel=1e-3)


def test_gex_slope_is_central_difference_of_profile_per_dollar() -> None:
    spot, vol = 100.0, 0.25
    metrics = compute_snapshot_metrics(priced_chain(spot, PUTS_BELOW_SPOT, vol), spot)
    step = 0.25  # one grid step: 0.25% of spot
    expected = (
        brute_force_profile(spot + step, PUTS_BELOW_SPOT, vol) - brute_force_profile(spot - step, PUTS_BELOW_SPOT, vol)
    ) / (2 * step)
    assert metrics.gex_slope == pytest.approx(expected, rel=1e-9)
    assert metrics.gex_slope > 0.0  # at a flip below spot the profile is rising through S


def test_all_call_chain_has_no_gamma_flip() -> None:
    contracts = [(k, True, 30, 1000.0) for k in (90.0, 95.0, 100.0, 105.0, 110.0)]
    metrics = compute_snapshot_metrics(priced_chain(100.0, contracts, 0.3), 100.0)
    assert metrics.gex_net is not None and metrics.gex_net > 0.0
    assert metrics.gamma_flip is None
    assert metrics.to_json()["gamma_flip"] is None


def priced_chain_rows() -> list[Row]:
    return [(k, call, dte, textbook_gamma(100.0, k, dte, 0.25), oi, 0.25) for k, call, dte, oi in PUTS_BELOW_SPOT]


def test_contracts_without_iv_are_left_out_of_the_profile_and_counted() -> None:
    rows = [(k, call, dte, g, oi, None) for k, call, dte, g, oi, _ in priced_chain_rows()]
    metrics = compute_snapshot_metrics(chain_of(rows), 100.0)
    assert metrics.profile_contracts == 0
    assert metrics.profile_missing_iv == len(rows)
    assert metrics.gamma_flip is None and metrics.gex_slope is None
    assert metrics.gex_net is not None and metrics.gex_net > 0.0  # spot GEX needs no IV


def test_zero_crossing_nearest_target_wins_and_zero_runs_resolve_to_their_middle() -> None:
    levels = np.array([0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    values = np.array([1.0, -1.0, -1.0, -3.0, 1.0, 0.0, 0.0])
    assert nearest_zero_crossing(levels, values, target=0.0) == pytest.approx(0.5)
    assert nearest_zero_crossing(levels, values, target=5.0) == pytest.approx(3.75)
    plateau = np.array([-2.0, 0.0, 0.0, 0.0, 2.0, 3.0, 4.0])
    assert nearest_zero_crossing(levels, plateau, target=6.0) == pytest.approx(2.0)
    touching = np.array([2.0, 1.0, 0.0, 1.0, 2.0, 3.0, 4.0])
    assert nearest_zero_crossing(levels, touching, target=2.0) is None


# --- 3. filters --------------------------------------------------------------------------------


def test_ineligible_contracts_are_excluded_and_counted_by_first_failing_rule() -> None:
    chain = chain_of(
        [
            (100.0, True, -1, 0.02, 500.0, 0.2),  # expired
            (100.0, True, -3, None, 5.0, 0.2),  # expired (first rule wins over gamma and OI)
            (100.0, True, 91, 0.02, 500.0, 0.2),  # beyond max dte
            (100.0, True, 30, None, 500.0, 0.2),  # missing gamma
            (100.0, True, 30, -0.01, 500.0, 0.2),  # negative gamma counts as missing
            (100.0, True, 30, 0.02, 99.0, 0.2),  # low OI
            (100.0, True, 30, 0.02, None, 0.2),  # unreported OI
            (100.0, True, 0, 0.01, 100.0, 0.2),  # expiring on the session (eligible with include_expiring)
            (100.0, True, 1, 0.01, 100.0, 0.2),  # eligible: dte 1 and OI exactly the minimum
            (100.0, False, 90, 0.01, 1000.0, 0.2),  # eligible: dte exactly the maximum
        ]
    )
    metrics = compute_snapshot_metrics(chain, 100.0)
    assert metrics.contracts_total == 10
    assert metrics.contracts_eligible == 2
    assert metrics.excluded.to_json() == {
        "expired": 2,
        "expiring": 1,
        "beyond_max_dte": 1,
        "missing_gamma": 2,
        "low_open_interest": 2,
    }
    assert metrics.gex_net == pytest.approx((0.01 * 100.0 - 0.01 * 1000.0) * 100.0 * 100.0**2 * 0.01)
    kept = compute_snapshot_metrics(chain, 100.0, DealerConfig(include_expiring=True))
    assert kept.contracts_eligible == 3 and kept.excluded.expiring == 0 and kept.include_expiring is True
    assert kept.gex_net == pytest.approx((0.02 * 100.0 - 0.01 * 1000.0) * 100.0 * 100.0**2 * 0.01)


def test_total_open_interest_counts_every_contract_with_oi_by_side() -> None:
    chain = chain_of(
        [
            (100.0, True, -1, 0.02, 500.0, 0.2),
            (100.0, True, 30, None, 250.0, 0.2),
            (100.0, True, 30, 0.02, None, 0.2),
            (100.0, False, 200, 0.02, 50.0, 0.2),
            (100.0, False, 30, 0.02, 1000.0, 0.2),
        ]
    )
    metrics = compute_snapshot_metrics(chain, 100.0)
    assert (metrics.open_interest_calls, metrics.open_interest_puts, metrics.open_interest_total) == (
        750,
        1050,
        1800,
    )


def test_config_overrides_filters() -> None:
    chain = chain_of([(100.0, True, 120, 0.02, 50.0, 0.2), (100.0, True, 3, 0.02, 500.0, 0.2)])
    metrics = compute_snapshot_metrics(chain, 100.0, DealerConfig(min_dte=5, max_dte=180, min_open_interest=10))
    assert metrics.contracts_eligible == 1
    assert metrics.excluded.expired == 1


# --- 4. status and confidence ------------------------------------------------------------------


def test_status_full_at_25_eligible_limited_below_invalid_at_zero() -> None:
    full = compute_snapshot_metrics(full_chain(25), 100.0)
    limited = compute_snapshot_metrics(full_chain(24), 100.0)
    single = compute_snapshot_metrics(full_chain(1), 100.0)
    none_eligible = compute_snapshot_metrics(chain_of([(100.0, True, 30, 0.02, 5.0, 0.2)]), 100.0)
    assert (full.status, full.status_reason) == ("FULL", "ok")
    assert (limited.status, limited.status_reason) == ("LIMITED", "few_eligible_contracts")
    assert single.status == "LIMITED" and single.gex_net is not None
    assert (none_eligible.status, none_eligible.status_reason) == ("INVALID", "no_eligible_contracts")
    assert none_eligible.gex_net is None and none_eligible.excluded.low_open_interest == 1


@pytest.mark.parametrize("spot", [None, float("nan"), 0.0, -5.0, float("inf")])
def test_missing_spot_is_invalid_with_null_metrics_but_counts_reported(spot: float | None) -> None:
    metrics = compute_snapshot_metrics(full_chain(30), spot)
    assert (metrics.status, metrics.status_reason) == ("INVALID", "missing_spot")
    assert metrics.contracts_total == 30 and metrics.contracts_eligible == 30
    assert metrics.open_interest_total == 15_000
    payload = metrics.to_json()
    for key in ("spot", "gex_net", "gex_gross", "gamma_flip", "gex_slope", "dgpi", "position"):
        assert payload[key] is None, key
    assert payload["call_walls"] == [] and payload["put_walls"] == []
    assert payload["confidence"] == 0.0


def test_empty_chain_is_invalid() -> None:
    metrics = compute_snapshot_metrics(ChainArrays.empty(), 100.0)
    assert (metrics.status, metrics.status_reason) == ("INVALID", "empty_chain")
    assert metrics.contracts_total == 0 and metrics.open_interest_total == 0
    assert metrics.gex_net is None


def test_confidence_scales_with_eligible_count_and_oi_share_with_gamma() -> None:
    assert compute_snapshot_metrics(full_chain(25), 100.0).confidence == pytest.approx(1.0)
    assert compute_snapshot_metrics(full_chain(10), 100.0).confidence == pytest.approx(0.4)
    rows = [(100.0 + i, i % 2 == 0, 30, 0.02, 500.0, 0.2) for i in range(25)]
    rows += [(100.0 + i, i % 2 == 0, 30, None, 500.0, 0.2) for i in range(25)]  # half the OI lacks gamma
    half = compute_snapshot_metrics(chain_of(rows), 100.0)
    assert half.gamma_oi_share == pytest.approx(0.5)
    assert half.confidence == pytest.approx(0.5)


# --- 5. dgpi and position ----------------------------------------------------------------------


def two_sided(call_units: float, put_units: float) -> SnapshotMetrics:
    """A call and a put at 100 with gamma x OI of `call_units` and `put_units`."""
    chain = chain_of(
        [(100.0, True, 30, call_units / 1000.0, 1000.0, 0.2), (100.0, False, 30, put_units / 1000.0, 1000.0, 0.2)]
    )
    return compute_snapshot_metrics(chain, 100.0)


@pytest.mark.parametrize(
    ("call_units", "put_units", "dgpi", "position"),
    [
        (50.0, 0.0, 100.0, "long_gamma"),
        (0.0, 50.0, -100.0, "short_gamma"),
        (50.0, 50.0, 0.0, "neutral"),
        (55.0, 45.0, 10.0, "neutral"),
        (45.0, 55.0, -10.0, "neutral"),
        (55.25, 44.75, 10.5, "long_gamma"),
        (44.75, 55.25, -10.5, "short_gamma"),
    ],
)
def test_dgpi_is_bounded_and_position_uses_strict_ten_point_thresholds(
    call_units: float, put_units: float, dgpi: float, position: str
) -> None:
    metrics = two_sided(call_units, put_units)
    assert metrics.dgpi == pytest.approx(dgpi)
    assert -100.0 <= metrics.dgpi <= 100.0
    assert metrics.position == position


def test_dgpi_is_null_when_gross_gex_is_zero() -> None:
    metrics = two_sided(0.0, 0.0)
    assert metrics.status == "LIMITED"
    assert metrics.gex_gross == 0.0
    assert metrics.dgpi is None and metrics.position is None


def test_position_threshold_is_configurable() -> None:
    chain = chain_of([(100.0, True, 30, 0.055, 1000.0, 0.2), (100.0, False, 30, 0.045, 1000.0, 0.2)])
    assert compute_snapshot_metrics(chain, 100.0, DealerConfig(position_threshold=5.0)).position == "long_gamma"


# --- JSON --------------------------------------------------------------------------------------


# The keys of a `dealer-v1` row (v2 adds rows_dropped, include_expiring, pricing, profile_gap).
V1_KEYS = {
    "model_version",
    "status",
    "status_reason",
    "spot",
    "contracts_total",
    "contracts_eligible",
    "excluded",
    "profile_contracts",
    "profile_missing_iv",
    "open_interest_total",
    "open_interest_calls",
    "open_interest_puts",
    "gamma_oi_share",
    "confidence",
    "gex_net",
    "gex_gross",
    "gex_calls",
    "gex_puts",
    "gamma_flip",
    "gex_slope",
    "dgpi",
    "position",
    "call_walls",
    "put_walls",
}


def test_json_is_strict_rounded_and_round_trips() -> None:
    metrics = compute_snapshot_metrics(priced_chain(100.0, PUTS_BELOW_SPOT, 0.25), 100.0)
    payload = metrics.to_json()
    text = json.dumps(payload, allow_nan=False)
    assert json.loads(text) == payload
    assert payload["model_version"] == "dealer-v2"
    assert set(payload) == V1_KEYS | {
        "rows_dropped",
        "include_expiring",
        "pricing",
        "profile_gap",
        "strike_gex",
        "gex_profile",
    }
    assert payload["include_expiring"] is False and payload["excluded"]["expiring"] == 0
    assert payload["pricing"] == {
        "risk_free_rate": 0.0,
        "dividend_yield": 0.0,
        "risk_free_rate_source": "default",
        "dividend_yield_source": "default",
    }
    assert payload["gex_net"] == round(metrics.gex_net, 2)
    assert payload["gamma_flip"] == round(metrics.gamma_flip, 4)
    assert SnapshotMetrics.from_json(payload).to_json() == payload


def test_a_stored_dealer_v1_row_is_read_as_what_v1_computed() -> None:
    v2 = compute_snapshot_metrics(priced_chain(100.0, PUTS_BELOW_SPOT, 0.25), 100.0).to_json()
    v1 = {key: value for key, value in v2.items() if key in V1_KEYS}
    v1["model_version"] = "dealer-v1"
    v1["excluded"] = {key: count for key, count in v1["excluded"].items() if key != "expiring"}
    read = SnapshotMetrics.from_json(v1)
    # v1 kept expiring contracts and priced its profile with r = q = 0, and says so when read back.
    assert (read.model_version, read.include_expiring, read.excluded.expiring) == ("dealer-v1", True, 0)
    assert (read.pricing.risk_free_rate, read.pricing.dividend_yield) == (0.0, 0.0)
    assert (read.gex_net, read.gamma_flip, read.profile_gap) == (v2["gex_net"], v2["gamma_flip"], None)
    assert read.strike_gex == () and read.gex_profile == ()
