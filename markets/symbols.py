"""Underlying symbols: one normal form and one validity rule for every entry point."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable

from settings.errors import SetupError

# Letters/digits, with `.` or `-` for share classes (BRK.B, BF-B); digits alone are valid tickers
# in some markets, so "1234" stays a string symbol rather than becoming a number.
SYMBOL_PATTERN = re.compile(r"[A-Z0-9][A-Z0-9.\-]{0,9}")
MAX_SYMBOL_LENGTH = 10
# A watchlist file is a human-edited list of tickers: the whole US listed-options universe is about
# 6,000 underlyings, a few bytes each. 1 MiB is hundreds of times that, so anything larger is the
# wrong file (a data dump, a device such as /dev/zero), and is refused after reading at most this
# many bytes plus one, never loaded whole into memory.
MAX_WATCHLIST_FILE_BYTES = 1024 * 1024
# More distinct symbols than the whole listed-options universe (with room to spare) is a mistake, and
# would make every daily run ask the provider for that many chains.
MAX_WATCHLIST_SYMBOLS = 10_000


class InvalidSymbol(SetupError, ValueError):
    """A symbol that cannot be an underlying ticker; never written anywhere."""


class InvalidSymbolFile(InvalidSymbol):
    """A watchlist file that cannot be a list of symbols: too large, not UTF-8 text, too many symbols."""


def normalize_symbol(raw: str) -> str:
    """Upper-case and validate one symbol; the message names the offending input."""
    candidate = str(raw).strip().upper()
    if not candidate:
        raise InvalidSymbol("empty symbol")
    if len(candidate) > MAX_SYMBOL_LENGTH or not SYMBOL_PATTERN.fullmatch(candidate):
        shown = candidate if len(candidate) <= 40 else candidate[:37] + "..."
        raise InvalidSymbol(
            f"invalid symbol {shown!r}: use 1-{MAX_SYMBOL_LENGTH} letters/digits, optionally with . or -"
        )
    return candidate


def normalize_symbols(raw: Iterable[str]) -> tuple[str, ...]:
    """Normalise a list, dropping duplicates but keeping first-seen order."""
    seen: dict[str, None] = {}
    for item in raw:
        seen.setdefault(normalize_symbol(item), None)
    return tuple(seen)


def parse_symbol_list(text: str) -> tuple[str, ...]:
    """Parse a comma/space separated `--symbols` value."""
    return normalize_symbols(part for part in re.split(r"[,\s]+", text) if part)


def parse_symbol_file(text: str) -> tuple[str, ...]:
    """A watchlist file: one symbol per line (or comma separated), blank lines and # comments ignored.

    Any invalid symbol fails the whole file, naming its line, so a typo is never half-loaded; so
    does a file listing more than `MAX_WATCHLIST_SYMBOLS` distinct symbols.
    """
    symbols: dict[str, None] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        content = line.split("#", 1)[0].strip()
        if not content:
            continue
        for part in re.split(r"[,\s]+", content):
            if not part:
                continue
            try:
                symbols.setdefault(normalize_symbol(part), None)
            except InvalidSymbol as exc:
                raise InvalidSymbol(f"line {number}: {exc}") from exc
            if len(symbols) > MAX_WATCHLIST_SYMBOLS:
                raise InvalidSymbolFile(
                    f"line {number}: more than {MAX_WATCHLIST_SYMBOLS} symbols in one watchlist file;"
                    " split it into several files"
                )
    return tuple(symbols)


def read_symbol_file(path: str | os.PathLike[str]) -> tuple[str, ...]:
    """Read and parse a watchlist file, refusing what cannot be one with a one-line `InvalidSymbolFile`.

    At most `MAX_WATCHLIST_FILE_BYTES` + 1 bytes are read, so a huge file or an endless device
    (`/dev/zero`) is refused without being loaded. The text must be UTF-8 (a leading byte-order mark
    is allowed) and hold no NUL byte: a binary or Latin-1 file is refused, not half-decoded.
    """
    shown = repr(os.fspath(path))
    with open(path, "rb") as file:
        data = file.read(MAX_WATCHLIST_FILE_BYTES + 1)
    if len(data) > MAX_WATCHLIST_FILE_BYTES:
        raise InvalidSymbolFile(
            f"watchlist file {shown} is larger than {MAX_WATCHLIST_FILE_BYTES // 1024} KiB: a watchlist file"
            " is one symbol per line; split it into several files"
        )
    nul = data.find(b"\0")
    if nul >= 0:
        raise InvalidSymbolFile(
            f"watchlist file {shown} holds a NUL byte at line {_line_of(data, nul)}: it is binary,"
            " not a text file of symbols"
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidSymbolFile(
            f"watchlist file {shown} is not UTF-8 text (byte 0x{data[exc.start]:02X} at line"
            f" {_line_of(data, exc.start)}): save it as UTF-8, one symbol per line"
        ) from None
    return parse_symbol_file(text.removeprefix("\ufeff"))


def _line_of(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1
