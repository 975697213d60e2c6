"""Dealer-metric math (`dealer-v1`) on numpy arrays: no I/O, no database, no Prefect."""

from dealer.chain import ChainArrays
from dealer.config import DEFAULT_CONFIG, MODEL_VERSION, DealerConfig
from dealer.eligibility import ExclusionCounts
from dealer.exposure import Wall
from dealer.history import HistoryMetrics, compute_history_metrics
from dealer.snapshot import SnapshotMetrics, SnapshotStatus, compute_snapshot_metrics

__all__ = [
    "DEFAULT_CONFIG",
    "MODEL_VERSION",
    "ChainArrays",
    "DealerConfig",
    "ExclusionCounts",
    "HistoryMetrics",
    "SnapshotMetrics",
    "SnapshotStatus",
    "Wall",
    "compute_history_metrics",
    "compute_snapshot_metrics",
]
