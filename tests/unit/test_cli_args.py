"""Flag rules of the ingest CLI: every invalid combination is an argparse error (exit 2, usage)."""

import pytest

from scripts.ingest_options import parse_args

PROG = "python -m scripts.ingest_options"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--as-of", "2025-12-09", "--start-date", "2025-12-09", "--end-date", "2025-12-10"], "--as-of cannot"),
        (["--as-of", "2025-12-09", "--end-date", "2025-12-10"], "--as-of cannot"),
        (["--start-date", "2025-12-09"], "--start-date needs --end-date"),
        (["--end-date", "2025-12-09"], "--end-date needs --start-date"),
        (
            ["--start-date", "2025-12-09", "--end-date", "2025-12-10", "--snapshot-time", "2025-12-09T20:00:00Z"],
            "single day only",
        ),
        (["--start-date", "2025-12-10", "--end-date", "2025-12-09"], "before --start-date"),
        (["--as-of", "2025-02-30"], "YYYY-MM-DD"),
        (["--start-date", "12/09/2025", "--end-date", "2025-12-10"], "YYYY-MM-DD"),
        (["--concurrency", "0"], "at least 1"),
        (["--heartbeat", "-3"], "at least 1"),
        (["--symbols", "SPY;DROP"], "invalid symbol"),
        (["--snapshot-time", "2025-12-09 8pm"], "is not ISO 8601"),
    ],
)
def test_invalid_flag_combinations_are_usage_errors(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        parse_args(argv, PROG)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: " + PROG)
    assert message in err


def test_valid_single_day_and_range_parse():
    single = parse_args(["--as-of", "2025-12-09", "--snapshot-time", "2025-12-09T21:00:00Z"], PROG)
    assert single.as_of.isoformat() == "2025-12-09"
    assert single.snapshot_time.isoformat() == "2025-12-09T21:00:00+00:00"
    ranged = parse_args(["--start-date", "2025-12-09", "--end-date", "2025-12-22", "--symbols", "spy,1234"], PROG)
    assert (ranged.start_date.isoformat(), ranged.end_date.isoformat()) == ("2025-12-09", "2025-12-22")
    assert ranged.symbols == ("SPY", "1234")


def test_backfill_module_requires_a_range(capsys):
    with pytest.raises(SystemExit) as exit_info:
        parse_args([], "python -m flows.backfill", range_only=True)
    assert exit_info.value.code == 2
    assert "--start-date and --end-date are required" in capsys.readouterr().err


def test_ctrl_c_while_the_run_is_being_opened_is_one_line_and_exit_130(monkeypatch, capsys):
    import flows.run
    import scripts.ingest_options as cli

    def interrupted(request):  # noqa: ANN001, ANN202
        raise KeyboardInterrupt

    # The command line imports the run path after parsing its flags: replaced where it is found.
    monkeypatch.setattr(flows.run, "preopen_run", interrupted)
    assert cli.main(["--provider", "synthetic", "--as-of", "2025-12-09"]) == 130
    assert capsys.readouterr().err.splitlines() == ["interrupted: before the run started; nothing was written"]
