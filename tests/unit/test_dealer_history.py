"""History dealer metrics: day-over-day changes, lookback change, z-score and null propagation."""

import json
import math
from dataclasses import replace

import pytest

from dealer import ChainArrays, HistoryMetrics, SnapshotMetrics, Wall, compute_history_metrics, compute_snapshot_metrics


def snapshot(
    gex_net: float | None,
    open_interest_total: int = 10_000,
    gamma_flip: float | None = 100.0,
    call_wall: float | None = 105.0,
    put_wall: float | None = 95.0,
) -> SnapshotMetrics:
    """A real snapshot with the fields history reads set to hand-chosen values."""
    chain = ChainArrays.from_lists([100.0, 100.0], [True, False], [30, 30], [0.02, 0.01], [500, 500], [0.2, 0.2])
    base = compute_snapshot_metrics(chain, 100.0)
    return replace(
        base,
        gex_net=gex_net,
        open_interest_total=open_interest_total,
        gamma_flip=gamma_flip,
        call_walls=() if call_wall is None else (Wall(call_wall, 1.0, call_wall - 100.0, call_wall - 100.0),),
        put_walls=() if put_wall is None else (Wall(put_wall, -1.0, put_wall - 100.0, put_wall - 100.0),),
    )


PRIOR = [
    snapshot(100.0, open_interest_total=9_000, gamma_flip=97.0),
    snapshot(200.0, open_interest_total=9_500, gamma_flip=98.0),
    snapshot(300.0, open_interest_total=9_800, gamma_flip=98.5),
    snapshot(400.0, open_interest_total=9_900, gamma_flip=99.0),
    snapshot(500.0, open_interest_total=10_000, gamma_flip=99.5, call_wall=105.0, put_wall=100.0),
]


def test_history_values_from_a_hand_checkable_sequence() -> None:
    today = snapshot(800.0, open_interest_total=10_750, gamma_flip=98.25, call_wall=110.0, put_wall=95.0)
    history = compute_history_metrics(today, PRIOR)
    assert history.lookback_sessions == 5
    assert history.gex_net_change_1d == pytest.approx(300.0)
    assert history.open_interest_total_change_1d == 750
    assert history.gamma_flip_change_1d == pytest.approx(-1.25)
    assert history.call_wall_shift_1d == pytest.approx(5.0)
    assert history.put_wall_shift_1d == pytest.approx(-5.0)
    assert history.gex_net_change_lookback == pytest.approx(700.0)
    # priors 100..500: mean 300, sample variance (4e4 + 1e4 + 0 + 1e4 + 4e4) / 4 = 25,000
    assert history.gex_net_lookback_mean == pytest.approx(300.0)
    assert history.gex_net_lookback_std == pytest.approx(math.sqrt(25_000.0))
    assert history.gex_net_zscore == pytest.approx(math.sqrt(10.0))  # 500 / (50 * sqrt(10))


def test_nulls_propagate_to_the_changes_that_need_them() -> None:
    today = snapshot(None, gamma_flip=None, call_wall=None)
    history = compute_history_metrics(today, PRIOR)
    assert history.gex_net_change_1d is None
    assert history.gamma_flip_change_1d is None
    assert history.call_wall_shift_1d is None
    assert history.gex_net_change_lookback is None
    assert history.gex_net_zscore is None
    assert history.gex_net_lookback_mean == pytest.approx(300.0)  # the window itself is complete
    assert history.put_wall_shift_1d == pytest.approx(-5.0)
    assert history.open_interest_total_change_1d == 0


def test_a_prior_with_null_gex_net_voids_the_zscore_but_not_the_lookback_change() -> None:
    prior = [*PRIOR[:2], replace(PRIOR[2], gex_net=None), *PRIOR[3:]]
    history = compute_history_metrics(snapshot(800.0), prior)
    assert history.gex_net_zscore is None and history.gex_net_lookback_std is None
    assert history.gex_net_change_lookback == pytest.approx(700.0)
    assert history.gex_net_change_1d == pytest.approx(300.0)


def test_previous_day_null_voids_only_day_over_day_changes() -> None:
    prior = [*PRIOR[:-1], replace(PRIOR[-1], gex_net=None, gamma_flip=None, put_walls=())]
    history = compute_history_metrics(snapshot(800.0), prior)
    assert history.gex_net_change_1d is None
    assert history.gamma_flip_change_1d is None
    assert history.put_wall_shift_1d is None
    assert history.call_wall_shift_1d == 0.0
    assert history.gex_net_change_lookback == pytest.approx(700.0)


def test_zscore_is_null_with_flat_window_or_fewer_than_two_priors() -> None:
    flat = [snapshot(250.0) for _ in range(5)]
    assert compute_history_metrics(snapshot(800.0), flat).gex_net_zscore is None
    single = compute_history_metrics(snapshot(800.0), PRIOR[-1:])
    assert single.gex_net_zscore is None
    assert single.gex_net_change_1d == pytest.approx(300.0)
    assert single.gex_net_change_lookback == pytest.approx(300.0)


def test_empty_history_has_the_same_json_keys_all_null() -> None:
    complete = compute_history_metrics(snapshot(800.0), PRIOR).to_json()
    missing = HistoryMetrics.empty().to_json()
    assert set(missing) == set(complete)
    assert all(value is None for value in missing.values())
    assert json.loads(json.dumps(complete, allow_nan=False)) == complete
    assert complete["gex_net_zscore"] == round(math.sqrt(10.0), 4)


def test_history_from_stored_json_matches_history_from_snapshots() -> None:
    today = snapshot(800.0, open_interest_total=10_750, gamma_flip=98.25, call_wall=110.0)
    stored = [SnapshotMetrics.from_json(prior.to_json()) for prior in PRIOR]
    assert compute_history_metrics(today, stored) == compute_history_metrics(today, PRIOR)
