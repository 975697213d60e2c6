"""Dealer metrics that compare a ticker-day with its prior sessions: `compute_history_metrics`."""

import math
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

from dealer._json import MONEY_DIGITS, PRICE_DIGITS, RATIO_DIGITS, json_number
from dealer.exposure import Wall
from dealer.snapshot import SnapshotMetrics


@dataclass(frozen=True)
class HistoryMetrics:
    """Changes against prior sessions; every field is None when its inputs are missing.

    `*_1d` compare today with the most recent prior session. `gex_net_change_lookback` is
    today − the oldest prior. The z-score uses the mean and sample standard deviation (ddof=1) of
    the priors' gex_net; it is None with fewer than 2 priors, zero spread, or any prior gex_net null
    (a window with a hole is not silently shortened).
    """

    lookback_sessions: int | None = None
    gex_net_change_1d: float | None = None
    open_interest_total_change_1d: int | None = None
    gamma_flip_change_1d: float | None = None
    call_wall_shift_1d: float | None = None
    put_wall_shift_1d: float | None = None
    gex_net_change_lookback: float | None = None
    gex_net_lookback_mean: float | None = None
    gex_net_lookback_std: float | None = None
    gex_net_zscore: float | None = None

    @classmethod
    def empty(cls) -> "HistoryMetrics":
        """All-null metrics for a MISSING_HISTORY day, so its JSON carries the same keys."""
        return cls()

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict: rounded, null where unknown."""
        digits = {
            "gex_net_change_1d": MONEY_DIGITS,
            "gamma_flip_change_1d": PRICE_DIGITS,
            "call_wall_shift_1d": PRICE_DIGITS,
            "put_wall_shift_1d": PRICE_DIGITS,
            "gex_net_change_lookback": MONEY_DIGITS,
            "gex_net_lookback_mean": MONEY_DIGITS,
            "gex_net_lookback_std": MONEY_DIGITS,
            "gex_net_zscore": RATIO_DIGITS,
        }
        result: dict[str, Any] = {}
        for field in fields(self):
            value = getattr(self, field.name)
            result[field.name] = json_number(value, digits[field.name]) if field.name in digits else value
        return result


def _difference(current: float | None, previous: float | None) -> float | None:
    if current is None or previous is None:
        return None
    return current - previous


def _top_strike(walls: tuple[Wall, ...]) -> float | None:
    return walls[0].strike if walls else None


def _zscore(value: float | None, window: Sequence[float | None]) -> tuple[float | None, ...]:
    """(mean, sample std, z) of `value` within `window`; None parts where undefined."""
    if len(window) < 2 or any(item is None for item in window):
        return None, None, None
    values = [float(item) for item in window if item is not None]
    mean = math.fsum(values) / len(values)
    std = math.sqrt(math.fsum((item - mean) ** 2 for item in values) / (len(values) - 1))
    if value is None or std == 0.0:
        return mean, std, None
    return mean, std, (value - mean) / std


def compute_history_metrics(today: SnapshotMetrics, prior: Sequence[SnapshotMetrics]) -> HistoryMetrics:
    """Compare `today` with `prior`: the lookback sessions, ascending, most recent last.

    The caller has already checked the sessions are all present (MISSING_HISTORY is its decision);
    this only does arithmetic and propagates nulls. An empty `prior` gives all-null changes.
    """
    if not prior:
        return HistoryMetrics(lookback_sessions=0)
    previous = prior[-1]
    mean, std, zscore = _zscore(today.gex_net, [snapshot.gex_net for snapshot in prior])
    return HistoryMetrics(
        lookback_sessions=len(prior),
        gex_net_change_1d=_difference(today.gex_net, previous.gex_net),
        open_interest_total_change_1d=today.open_interest_total - previous.open_interest_total,
        gamma_flip_change_1d=_difference(today.gamma_flip, previous.gamma_flip),
        call_wall_shift_1d=_difference(_top_strike(today.call_walls), _top_strike(previous.call_walls)),
        put_wall_shift_1d=_difference(_top_strike(today.put_walls), _top_strike(previous.put_walls)),
        gex_net_change_lookback=_difference(today.gex_net, prior[0].gex_net),
        gex_net_lookback_mean=mean,
        gex_net_lookback_std=std,
        gex_net_zscore=zscore,
    )
