"""Tunable thresholds of the dealer model, in one frozen record so a run's inputs are explicit."""

from dataclasses import dataclass

MODEL_VERSION = "dealer-v2"
# Earlier versions whose stored rows are still read (`SnapshotMetrics.from_json`); never used as priors.
READABLE_MODEL_VERSIONS = ("dealer-v1", MODEL_VERSION)


@dataclass(frozen=True)
class DealerConfig:
    """Thresholds for `dealer-v2`; the defaults are the documented model (docs/design.md §6).

    `rate` and `dividend_yield` are the defaults for a snapshot whose source reported no pricing
    inputs (`dealer.pricing`). `include_expiring` keeps contracts expiring on the session itself: at
    the end-of-session snapshot they are gone, so by default they are left out (`excluded.expiring`).

    `flip_grid_points` defaults to 161 so the 0.8S…1.2S grid steps by exactly 0.25% of spot (spot
    itself is the middle node). At that spacing the linear interpolation of the zero crossing is far
    inside strike spacing and 0.1% of price, while the (levels × contracts) gamma matrix for a
    2,000-contract chain stays near 2.6 MB and a few milliseconds.
    """

    min_dte: int = 0
    max_dte: int = 90
    min_open_interest: float = 100.0
    wall_band: float = 0.20
    walls_top_n: int = 3
    flip_grid_low: float = 0.8
    flip_grid_high: float = 1.2
    flip_grid_points: int = 161
    rate: float = 0.0
    dividend_yield: float = 0.0
    full_min_contracts: int = 25
    position_threshold: float = 10.0
    include_expiring: bool = False

    def __post_init__(self) -> None:
        if self.min_dte > self.max_dte:
            raise ValueError(f"min_dte={self.min_dte} exceeds max_dte={self.max_dte}")
        if not 0.0 < self.flip_grid_low < 1.0 < self.flip_grid_high:
            raise ValueError("the flip grid must bracket spot: 0 < flip_grid_low < 1 < flip_grid_high")
        if self.flip_grid_points < 3:
            raise ValueError("flip_grid_points must be at least 3")
        if self.wall_band <= 0.0 or self.walls_top_n < 0:
            raise ValueError("wall_band must be positive and walls_top_n non-negative")
        if self.full_min_contracts < 1:
            raise ValueError("full_min_contracts must be at least 1")
        if not 0.0 <= self.position_threshold <= 100.0:
            raise ValueError("position_threshold is a dgpi level and must lie in [0, 100]")


DEFAULT_CONFIG = DealerConfig()
