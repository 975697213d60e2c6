"""`python -m store coverage`: which symbol-days the store holds, from which provider, and which are missing."""

from __future__ import annotations

from collections import Counter
from datetime import date
from pathlib import Path

from charts.coverage import MISSING_COLOUR, PROVIDER_COLOURS, SIMULATED_COLOUR
from store.__main__ import main as store_main
from tests.days import day_request, run_day
from tests.dbutil import seed_watchlist
from tests.doubles import RealTinyProvider, TinyChainProvider


def test_the_grid_names_each_symbol_days_source_and_the_command_fills_exactly_the_gaps(db, database_url, capsys):
    seed_watchlist(db, ["AAPL", "SPY"])
    run_day(date(2025, 12, 9), day_request("tiny"), TinyChainProvider(), database_url)  # simulated, both
    run_day(date(2025, 12, 10), day_request("polygon", symbols=("SPY",)), RealTinyProvider("polygon"), database_url)

    assert store_main(["coverage", "--start-date", "2025-12-09", "--end-date", "2025-12-12"]) == 0

    lines = capsys.readouterr().out.splitlines()
    assert lines[:5] == [
        "           AAPL  SPY",
        "2025-12-09    s    s",
        "2025-12-10    ·    P",
        "2025-12-11    ·    ·",
        "2025-12-12    ·    ·",
    ]
    assert lines[5] == "symbol_days=8 complete=3 simulated=2 missing=5 by_polygon=1"
    assert lines[-1] == (
        "fill the gaps: python -m scripts.ingest_options --provider polygon --start-date 2025-12-10 "
        "--end-date 2025-12-12 --symbols AAPL,SPY"
    )


def test_a_complete_window_says_nothing_is_missing(db, database_url, capsys):
    seed_watchlist(db, ["SPY"])
    run_day(date(2025, 12, 9), day_request("polygon"), RealTinyProvider("polygon"), database_url)
    assert store_main(["coverage", "--start-date", "2025-12-09", "--end-date", "2025-12-09", "--symbols", "SPY"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "nothing missing"


def _colour_pixels(png: Path) -> Counter:
    """How many pixels of each exact RGB colour the PNG holds."""
    from matplotlib.image import imread

    pixels = (imread(png)[:, :, :3] * 255).round().astype(int).reshape(-1, 3)
    return Counter(map(tuple, pixels.tolist()))


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    return tuple(int(hex_colour[index : index + 2], 16) for index in (1, 3, 5))


def test_the_heatmap_draws_each_kind_of_cell_in_its_colour_and_in_proportion(db, database_url, tmp_path, capsys):
    seed_watchlist(db, ["AAPL", "SPY"])
    run_day(date(2025, 12, 9), day_request("tiny"), TinyChainProvider(), database_url)  # 2 simulated
    run_day(
        date(2025, 12, 10), day_request("polygon", symbols=("SPY",)), RealTinyProvider("polygon"), database_url
    )  # 1 real
    png = tmp_path / "maps" / "coverage.png"

    assert store_main(["coverage", "--start-date", "2025-12-09", "--end-date", "2025-12-12", "--png", str(png)]) == 0

    assert capsys.readouterr().out.splitlines()[-1] == f"heatmap: {png}"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [path.name for path in png.parent.iterdir()] == ["coverage.png"]  # no temporary file left
    colours = _colour_pixels(png)
    missing, simulated = colours[_rgb(MISSING_COLOUR)], colours[_rgb(SIMULATED_COLOUR)]
    polygon = colours[_rgb(PROVIDER_COLOURS[0])]
    # 5 missing cells, 2 simulated, 1 polygon; the legend adds one small swatch of each. Letters
    # drawn on the cells take a few pixels, so the ratios are close to, not exactly, 5:2:1.
    assert polygon > 0 and simulated > 0 and missing > 0
    assert 1.6 < simulated / polygon < 2.4 and 4.0 < missing / polygon < 6.0


def test_a_picture_that_cannot_be_written_is_one_line_and_exit_2(db, database_url, tmp_path, capsys):
    seed_watchlist(db, ["SPY"])
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    code = store_main(
        ["coverage", "--start-date", "2025-12-09", "--end-date", "2025-12-09", "--png", str(blocker / "x.png")]
    )
    assert code == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and str(blocker) in error
