from datetime import date

from flows.reporting import deployment_command, render_markdown, summarize
from markets.snapshot import snapshot_time_for
from tasks.day_report import DayReport


def report(day: int, status: str, rows: int = 0, error: str | None = None) -> DayReport:
    session = date(2025, 12, day)
    return DayReport(session, snapshot_time_for(session), status, "synthetic", rows_written=rows, error=error)


def test_summary_counts_each_status_and_rows():
    summary = summarize(
        [
            report(9, "succeeded", 10),
            report(10, "failed", error="boom"),
            report(11, "skipped"),
            report(12, "partial", 4),
        ],
        provider="synthetic",
        start_date=date(2025, 12, 9),
        end_date=date(2025, 12, 12),
        duration_seconds=1.25,
    )
    assert (summary.days_attempted, summary.days_succeeded, summary.days_failed) == (4, 1, 1)
    assert (summary.days_skipped, summary.days_partial, summary.rows_written) == (1, 1, 14)
    assert not summary.all_failed
    assert "days_attempted=4 succeeded=1 partial=1 failed=1 skipped=1 rows_written=14" in summary.line()


def test_markdown_gives_rerun_commands_for_failed_days_only():
    summary = summarize(
        [report(9, "succeeded", 10), report(10, "failed", error="boom")],
        provider="synthetic",
        start_date=date(2025, 12, 9),
        end_date=date(2025, 12, 10),
        duration_seconds=1.0,
    )
    markdown = render_markdown(summary)
    assert "python -m scripts.ingest_options --provider synthetic --as-of 2025-12-10" in markdown
    assert "--as-of 2025-12-09" not in markdown
    assert (
        "prefect deployment run 'backfill-options/options-backfill' --param start_date=2025-12-10"
        " --param end_date=2025-12-10 --param provider=synthetic"
    ) in markdown
    assert "boom" in markdown


def test_deployment_reruns_cover_each_stretch_of_failed_sessions_once():
    failed = [date(2025, 12, 11), date(2025, 12, 12), date(2025, 12, 15), date(2025, 12, 22)]
    assert deployment_command(failed, "polygon").splitlines() == [
        "prefect deployment run 'backfill-options/options-backfill' --param start_date=2025-12-11"
        " --param end_date=2025-12-15 --param provider=polygon",
        "prefect deployment run 'backfill-options/options-backfill' --param start_date=2025-12-22"
        " --param end_date=2025-12-22 --param provider=polygon",
    ]


def test_all_failed_only_when_every_day_failed():
    failed = [report(9, "failed"), report(10, "failed")]
    assert summarize(failed, provider="p", start_date=None, end_date=None, duration_seconds=0).all_failed
    assert not summarize([], provider="p", start_date=None, end_date=None, duration_seconds=0).all_failed
