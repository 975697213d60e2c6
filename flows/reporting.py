"""The run summary people read the next morning: totals, one row per day, re-run commands."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import date

from tasks.day_report import DayReport, DayStatus


@dataclass(frozen=True)
class RunSummary:
    """Totals of a run over one or more sessions; what the flow returns and the CLI prints."""

    start_date: date | None
    end_date: date | None
    provider: str
    days_attempted: int
    days_succeeded: int
    days_partial: int
    days_failed: int
    days_skipped: int
    rows_written: int
    duration_seconds: float
    days: tuple[DayReport, ...] = ()
    simulated: bool = False
    # The caller's identifier of this run (`--run-id`), carried into every line it prints.
    run_id: str | None = None
    days_not_yet_available: int = 0

    @property
    def all_failed(self) -> bool:
        return self.days_attempted > 0 and self.days_failed == self.days_attempted

    @property
    def failed_sessions(self) -> list[date]:
        return [day.session for day in self.days if day.status in (DayStatus.FAILED, DayStatus.PARTIAL)]

    def line(self) -> str:
        """The one-line summary logged at the end of every run."""
        label = " data=SIMULATED" if self.simulated else ""
        return (
            f"SUMMARY provider={self.provider}{label} days_attempted={self.days_attempted} "
            f"succeeded={self.days_succeeded} partial={self.days_partial} failed={self.days_failed} "
            f"skipped={self.days_skipped} rows_written={self.rows_written} "
            f"seconds={self.duration_seconds:.1f}"
            + (f" not_yet_available={self.days_not_yet_available}" if self.days_not_yet_available else "")
            + (f" run_id={self.run_id}" if self.run_id else "")
        )

    def json_line(self) -> str:
        """The machine-readable one-line summary of the run (`--emit-summary`)."""
        totals = {key: value for key, value in asdict(self).items() if key != "days"}
        return json.dumps({"event": "run_summary", **totals}, default=str, sort_keys=True)

    def to_dict(self) -> dict:
        payload = asdict(self)
        payload["days"] = [table_row(day) for day in self.days]
        return payload


def day_json_line(report: DayReport, run_id: str | None) -> str:
    """The machine-readable one-line summary of one day (`--emit-summary`)."""
    return json.dumps({"event": "day_summary", "run_id": run_id, "provider": report.provider, **table_row(report)})


def summarize(
    reports: list[DayReport],
    *,
    provider: str,
    start_date: date | None,
    end_date: date | None,
    duration_seconds: float,
    run_id: str | None = None,
) -> RunSummary:
    def count(status: DayStatus) -> int:
        return sum(1 for report in reports if report.status == status)

    return RunSummary(
        start_date=start_date,
        end_date=end_date,
        provider=provider,
        days_attempted=sum(report.status != DayStatus.NOT_YET_AVAILABLE for report in reports),
        days_succeeded=count(DayStatus.SUCCEEDED),
        days_partial=count(DayStatus.PARTIAL),
        days_failed=count(DayStatus.FAILED),
        days_skipped=count(DayStatus.SKIPPED),
        days_not_yet_available=count(DayStatus.NOT_YET_AVAILABLE),
        rows_written=sum(report.rows_written for report in reports),
        duration_seconds=round(duration_seconds, 3),
        days=tuple(reports),
        simulated=any(report.simulated for report in reports),
        run_id=run_id,
    )


def table_row(report: DayReport) -> dict[str, object]:
    """One row of the table artifact; strings and numbers only, so it renders anywhere."""
    return {
        "session": report.session.isoformat(),
        "snapshot_time": report.snapshot_time.isoformat(),
        "status": str(report.status),
        "symbols_ok": report.symbols_written,
        "symbols_skipped": report.symbols_skipped,
        "symbols_failed": report.symbols_failed,
        "symbols_replaced": report.symbols_replaced,
        "kept_other_provider": ",".join(report.kept_other_provider),
        "rows": report.rows_written,
        "rows_dropped": report.rows_dropped,
        "missing_fields": ",".join(report.missing_fields),
        "estimated_close": ",".join(report.estimated_closes),
        "seconds": report.duration_seconds,
        "error": report.error or "",
    }


def rerun_command(sessions: list[date], provider: str) -> str:
    """The CLI command that re-runs exactly these sessions (one per line for a scattered set)."""
    return "\n".join(
        f"python -m scripts.ingest_options --provider {provider} --as-of {session.isoformat()}" for session in sessions
    )


def deployment_command(sessions: list[date], provider: str) -> str:
    """The `prefect deployment run` command per contiguous stretch of these sessions (as ranges)."""
    stretches: list[tuple[date, date]] = []
    for session in sorted(sessions):
        if stretches and (session - stretches[-1][1]).days <= 4:  # the next session of a week or weekend
            stretches[-1] = (stretches[-1][0], session)
        else:
            stretches.append((session, session))
    return "\n".join(
        f"prefect deployment run 'backfill-options/options-backfill' --param start_date={first.isoformat()}"
        f" --param end_date={last.isoformat()} --param provider={provider}"
        for first, last in stretches
    )


def render_markdown(summary: RunSummary) -> str:
    period = (
        f"{summary.start_date.isoformat()} → {summary.end_date.isoformat()}"
        if summary.start_date and summary.end_date
        else "single session"
    )
    lines = [
        f"# Options backfill {period}",
        "",
    ]
    if summary.simulated:
        lines += ["**Data: SIMULATED (synthetic provider) — not real market data.**", ""]
    lines += [
        "| days attempted | succeeded | partial | failed | skipped | rows written | seconds |",
        "|---|---|---|---|---|---|---|",
        f"| {summary.days_attempted} | {summary.days_succeeded} | {summary.days_partial} | "
        f"{summary.days_failed} | {summary.days_skipped} | {summary.rows_written} | "
        f"{summary.duration_seconds:.1f} |",
        "",
        f"Provider: `{summary.provider}`",
    ]
    failed = summary.failed_sessions
    if failed:
        lines += ["", "## Days to re-run", ""]
        for day in summary.days:
            if day.status in (DayStatus.FAILED, DayStatus.PARTIAL):
                lines.append(f"- {day.session.isoformat()} ({day.status}): {day.error}")
        lines += ["", "From the command line:", "", "```", rerun_command(failed, summary.provider), "```"]
        lines += ["", "From the deployment (a worker):", "", "```", deployment_command(failed, summary.provider), "```"]
        lines += [
            "",
            "Either skips every symbol-day the ledger already holds, so re-running a whole range (or",
            "`prefect flow-run retry <this run's id>`) fetches only what is missing.",
        ]
    return "\n".join(lines) + "\n"
