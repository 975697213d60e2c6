import pytest

from markets.symbols import InvalidSymbol, normalize_symbol, parse_symbol_file, parse_symbol_list


@pytest.mark.parametrize(
    ("raw", "expected"), [("spy", "SPY"), (" BRK.B ", "BRK.B"), ("1234", "1234"), ("BF-B", "BF-B")]
)
def test_valid_symbols_are_normalised(raw, expected):
    assert normalize_symbol(raw) == expected


@pytest.mark.parametrize(
    "raw",
    ["", "SP Y", "SPY;DROP TABLE tickers", "O'NEIL", "ÄPPL", "A" * 31, ".SPY", 'SPY"', "🚀"],
)
def test_hostile_symbols_are_refused_with_the_input_named(raw):
    with pytest.raises(InvalidSymbol):
        normalize_symbol(raw)


def test_symbol_list_keeps_order_and_drops_duplicates():
    assert parse_symbol_list("spy, qqq,SPY  aapl") == ("SPY", "QQQ", "AAPL")


def test_watchlist_file_ignores_blank_lines_comments_and_duplicates():
    text = "# demo watchlist\nSPY\n\n  qqq  # tech\nSPY\nAAPL,MSFT\n"
    assert parse_symbol_file(text) == ("SPY", "QQQ", "AAPL", "MSFT")


def test_watchlist_file_with_a_bad_symbol_names_the_line():
    with pytest.raises(InvalidSymbol, match="line 3"):
        parse_symbol_file("SPY\nQQQ\nBAD;SYMBOL\n")
