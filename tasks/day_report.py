"""What one session's ingest did: the record a day task returns, retries with and the flow reports."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime
from enum import StrEnum


class DayStatus(StrEnum):
    """A day's outcome. `partial` and `failed` are retried; `skipped` means the ledger had it all."""

    SUCCEEDED = "succeeded"
    PARTIAL = "partial"
    FAILED = "failed"
    SKIPPED = "skipped"
    # A session of the range that had not closed when the run started: not run, not a failure.
    NOT_YET_AVAILABLE = "not_yet_available"


@dataclass(frozen=True)
class SymbolFailure:
    symbol: str
    error: str
    retryable: bool


@dataclass(frozen=True)
class DayReport:
    """What one session's ingest did; the row of the run's table artifact."""

    session: date
    snapshot_time: datetime
    status: DayStatus
    provider: str
    symbols_total: int = 0
    symbols_written: int = 0
    symbols_skipped: int = 0
    symbols_failed: int = 0
    # Of the symbols written, how many replaced earlier data (simulated, or another provider's
    # with `--replace`).
    symbols_replaced: int = 0
    # Symbols kept because another real provider wrote them, as SYMBOL(provider).
    kept_other_provider: tuple[str, ...] = ()
    rows_written: int = 0
    rows_dropped: int = 0
    duration_seconds: float = 0.0
    error: str | None = None
    failures: tuple[SymbolFailure, ...] = ()
    missing_fields: tuple[str, ...] = ()
    # Symbols stored with an estimated underlying close (flagged in the ledger, LIMITED at best).
    estimated_closes: tuple[str, ...] = ()
    # The source refused the run itself (quota spent, credentials rejected): no later day can do
    # better, so the run stops starting days.
    stop_run: bool = False
    simulated: bool = False
    retryable: bool = False

    @property
    def usable(self) -> bool:
        return self.status in (DayStatus.SUCCEEDED, DayStatus.SKIPPED)


class DayIncomplete(Exception):
    """Raised by the task for a failed or partial day, carrying the report for the flow."""

    def __init__(self, report: DayReport) -> None:
        super().__init__(f"session {report.session.isoformat()} {report.status}: {report.error}")
        self.report = report


def combine_attempts(earlier: DayReport, latest: DayReport) -> DayReport:
    """One report for a day ingested over several attempts: what each wrote, the latest's outcome.

    The symbols the earlier attempts wrote are among those the latest found complete; they count as
    written, not skipped. A latest attempt that found everything complete means the day succeeded.
    """
    if earlier.symbols_written == 0:
        return replace(latest, duration_seconds=round(earlier.duration_seconds + latest.duration_seconds, 3))
    written = earlier.symbols_written + latest.symbols_written
    status = DayStatus.SUCCEEDED if latest.status == DayStatus.SKIPPED else latest.status
    return replace(
        latest,
        status=status,
        symbols_written=written,
        symbols_skipped=max(0, latest.symbols_skipped - earlier.symbols_written),
        rows_written=earlier.rows_written + latest.rows_written,
        symbols_replaced=earlier.symbols_replaced + latest.symbols_replaced,
        rows_dropped=earlier.rows_dropped + latest.rows_dropped,
        duration_seconds=round(earlier.duration_seconds + latest.duration_seconds, 3),
        missing_fields=tuple(sorted({*earlier.missing_fields, *latest.missing_fields})),
        estimated_closes=tuple(sorted({*earlier.estimated_closes, *latest.estimated_closes})),
    )
