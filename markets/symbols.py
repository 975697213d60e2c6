"""Underlying symbols: one normal form and one validity rule for every entry point."""

from __future__ import annotations

import re
from collections.abc import Iterable

from settings.errors import SetupError

# Letters/digits, with `.` or `-` for share classes (BRK.B, BF-B); digits alone are valid tickers
# in some markets, so "1234" stays a string symbol rather than becoming a number.
SYMBOL_PATTERN = re.compile(r"[A-Z0-9][A-Z0-9.\-]{0,9}")
MAX_SYMBOL_LENGTH = 10


class InvalidSymbol(SetupError, ValueError):
    """A symbol that cannot be an underlying ticker; never written anywhere."""


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

    Any invalid symbol fails the whole file, naming its line, so a typo is never half-loaded.
    """
    symbols: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        content = line.split("#", 1)[0].strip()
        if not content:
            continue
        for part in re.split(r"[,\s]+", content):
            if not part:
                continue
            try:
                symbols.append(normalize_symbol(part))
            except InvalidSymbol as exc:
                raise InvalidSymbol(f"line {number}: {exc}") from exc
    return normalize_symbols(symbols)
