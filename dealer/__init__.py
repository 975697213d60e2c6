"""Dealer-metric math (`dealer-v2`) on numpy arrays: no I/O, no database, no Prefect."""

from dealer.chain import ChainArrays
from dealer.config import DEFAULT_CONFIG, MODEL_VERSION, READABLE_MODEL_VERSIONS, DealerConfig
from dealer.eligibility import ExclusionCounts
from dealer.exposure import StrikeGex, Wall
from dealer.history import HistoryMetrics, compute_history_metrics
from dealer.pricing import PricingInputs, pricing_inputs
from dealer.snapshot import STATUS_REASONS, SnapshotMetrics, SnapshotStatus, compute_snapshot_metrics

__all__ = [
    "DEFAULT_CONFIG",
    "MODEL_VERSION",
    "READABLE_MODEL_VERSIONS",
    "STATUS_REASONS",
    "ChainArrays",
    "DealerConfig",
    "ExclusionCounts",
    "HistoryMetrics",
    "PricingInputs",
    "SnapshotMetrics",
    "SnapshotStatus",
    "StrikeGex",
    "Wall",
    "compute_history_metrics",
    "compute_snapshot_metrics",
    "pricing_inputs",
]
