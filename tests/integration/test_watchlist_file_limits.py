"""`python -m store watchlist load FILE` refuses what cannot be a watchlist file with one line and
exit 2, loads nothing, and never reads more than the size cap (an endless device included)."""

from __future__ import annotations

import os
import resource
import subprocess
import sys

import pytest

from markets.symbols import (
    MAX_WATCHLIST_FILE_BYTES,
    MAX_WATCHLIST_SYMBOLS,
    InvalidSymbolFile,
    parse_symbol_file,
    read_symbol_file,
)
from store.watchlist import list_entries
from tests.integration.test_store_cli import ROOT

# The loader runs under this address-space limit: reading an endless file whole would hit it.
CHILD_ADDRESS_SPACE = 1024 * 1024 * 1024


def load_file(path: str, database_url: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": database_url}

    def limit_memory() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (CHILD_ADDRESS_SPACE, CHILD_ADDRESS_SPACE))

    return subprocess.run(
        [sys.executable, "-m", "store", "watchlist", "load", path],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=limit_memory,
    )


def assert_refused_in_one_line(result: subprocess.CompletedProcess, *phrases: str) -> None:
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: watchlist file") or lines[0].startswith("error: line")
    for phrase in phrases:
        assert phrase in lines[0]


def symbols_text(count: int) -> str:
    return "\n".join(f"S{number}" for number in range(count)) + "\n"


def test_an_endless_device_is_refused_after_reading_the_cap(database_url, db):
    result = load_file("/dev/zero", database_url)

    assert_refused_in_one_line(result, "/dev/zero", "larger than 1024 KiB")
    assert list_entries(db) == []


def test_a_file_over_the_size_cap_is_refused(database_url, db, tmp_path):
    path = tmp_path / "huge.txt"
    line = b"SPY\n"
    path.write_bytes(line * (MAX_WATCHLIST_FILE_BYTES // len(line) + 1))

    result = load_file(str(path), database_url)

    assert_refused_in_one_line(result, "huge.txt", "larger than")
    assert list_entries(db) == []


def test_a_file_of_exactly_the_cap_is_read(database_url, db, tmp_path):
    path = tmp_path / "padded.txt"
    body = b"SPY\nQQQ\n"
    path.write_bytes(body + b"#" * (MAX_WATCHLIST_FILE_BYTES - len(body)))

    result = load_file(str(path), database_url)

    assert result.returncode == 0, result.stderr
    assert sorted(entry.symbol for entry in list_entries(db)) == ["QQQ", "SPY"]


@pytest.mark.parametrize(
    ("content", "phrases"),
    [
        ("SPY\nÄPPL\n".encode("latin-1"), ("not UTF-8 text", "byte 0xC4 at line 2")),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", ("NUL byte", "line 3", "binary")),
        (b"SPY\nQQQ\x00\n", ("NUL byte", "line 2")),
        (b"SPY\n\xff\xfe\xfd\n", ("not UTF-8 text", "0xFF")),
    ],
    ids=["latin-1", "png", "nul-byte", "invalid-utf-8"],
)
def test_a_file_that_is_not_utf8_text_is_refused(database_url, db, tmp_path, content, phrases):
    path = tmp_path / "symbols.txt"
    path.write_bytes(content)

    result = load_file(str(path), database_url)

    assert_refused_in_one_line(result, *phrases)
    assert list_entries(db) == []


def test_a_file_with_more_symbols_than_the_cap_is_refused(database_url, db, tmp_path):
    path = tmp_path / "many.txt"
    path.write_text(symbols_text(MAX_WATCHLIST_SYMBOLS + 1))

    result = load_file(str(path), database_url)

    assert_refused_in_one_line(result, f"more than {MAX_WATCHLIST_SYMBOLS} symbols")
    assert list_entries(db) == []


def test_the_symbol_cap_counts_distinct_symbols_and_a_bom_is_allowed(tmp_path):
    path = tmp_path / "repeats.txt"
    path.write_bytes("\ufeff".encode() + (symbols_text(MAX_WATCHLIST_SYMBOLS) * 2).encode())

    assert len(read_symbol_file(path)) == MAX_WATCHLIST_SYMBOLS


def test_parse_symbol_file_applies_the_symbol_cap_to_any_text():
    with pytest.raises(InvalidSymbolFile, match=f"line {MAX_WATCHLIST_SYMBOLS + 1}: more than"):
        parse_symbol_file(symbols_text(MAX_WATCHLIST_SYMBOLS + 5))


def test_a_path_with_a_newline_is_shown_on_one_line(tmp_path):
    path = tmp_path / "bad\nname.txt"
    path.write_bytes(b"\xc4\n")

    with pytest.raises(InvalidSymbolFile) as refused:
        read_symbol_file(path)

    assert "\n" not in str(refused.value) and "bad\\nname.txt" in str(refused.value)
