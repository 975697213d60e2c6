"""What every command-line front shares: flag types, logging, and how errors become exit codes.

Exit codes: 0 the run finished (some days may have failed: see the summary), 1 every day failed,
2 the run was unusable (bad flags, garbage in an environment variable, unknown provider, no
watchlist, database unreachable, no key): one line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable
from datetime import date, datetime
from typing import TypeVar

from flows.param_values import session_date, snapshot_time, symbol_list

EXIT_OK, EXIT_ALL_FAILED, EXIT_UNUSABLE = 0, 1, 2
# 128 + SIGINT, as a shell reports a Ctrl-C (a run interrupted later exits the same way, see lifetime.py).
EXIT_INTERRUPTED = 130
LOG_LEVELS = ["DEBUG", "INFO", "WARNING", "ERROR"]

T = TypeVar("T")


def _flag_type(validate: Callable[[str], T]) -> Callable[[str], T]:
    """An argparse type from a parameter validator, so a flag and a deployment parameter accept and
    refuse the same values with the same message."""

    def parse(text: str) -> T:
        try:
            return validate(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from exc

    parse.__name__ = validate.__name__
    return parse


def _symbols(text: str) -> tuple[str, ...]:
    symbols = symbol_list(text)
    if not symbols:
        raise ValueError("no symbol given")
    return tuple(symbols)


def _at_least(minimum: int) -> Callable[[str], int]:
    def number(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise ValueError(f"{text!r} is not a whole number") from None
        if value < minimum:
            raise ValueError(f"must be at least {minimum} (got {value})")
        return value

    number.__name__ = f"at_least_{minimum}"
    return number


date_flag: Callable[[str], date] = _flag_type(session_date)
timestamp_flag: Callable[[str], datetime | None] = _flag_type(snapshot_time)
symbols_flag: Callable[[str], tuple[str, ...]] = _flag_type(_symbols)
positive_int_flag: Callable[[str], int] = _flag_type(_at_least(1))
non_negative_int_flag: Callable[[str], int] = _flag_type(_at_least(0))


def log_level(level: str, *, verbose: bool = False, quiet: bool = False) -> str:
    """`--verbose` is DEBUG; `--quiet` is WARNING unless DEBUG was asked for (as in the trading system)."""
    if verbose:
        return "DEBUG"
    if quiet and level != "DEBUG":
        return "WARNING"
    return level


def configure_logging(level: str) -> None:
    """Set our loggers' level; Prefect's console and API handlers (via `extra_loggers` and the root
    logger) print and ship the lines, so the terminal and the UI show the same events."""
    logging.getLogger("kapman").setLevel(level)
    if logging.getLevelName(level) > logging.INFO:
        # Quiet means quiet: Prefect's own per-run INFO lines too.
        logging.getLogger("prefect").setLevel(level)
