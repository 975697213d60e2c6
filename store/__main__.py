"""`python -m store`: the database in use, and the watchlist that decides what is ingested.

python -m store url                       # URL of the database (starts the embedded server)
python -m store stop                      # stop the embedded server and the local Prefect server
python -m store watchlist add SPY QQQ     # add or re-activate symbols
python -m store watchlist load FILE       # one symbol per line; blank lines and # comments ok
python -m store watchlist show
python -m store watchlist deactivate TSLA
python -m store coverage --start-date 2025-12-09 --end-date 2025-12-22 [--symbols SPY,QQQ] [--png FILE]
python -m store export --start-date 2025-12-09 --end-date 2025-12-22 [--symbols SPY] --format parquet --out DIR
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path

import psycopg2

from markets.calendar import DEFAULT_CALENDAR, get_calendar
from markets.snapshot import days_between, parse_session_date, snapshot_time_for
from markets.symbols import InvalidSymbol, normalize_symbols, parse_symbol_list, read_symbol_file
from scripts import prefect_server
from settings.environment import Environment, read_environment
from settings.errors import SetupError
from settings.output import error_line
from store import embedded
from store.connection import DatabaseUnavailable, connect, refusing_setup, resolve_target
from store.coverage import read_coverage
from store.migrations import migrate
from store.watchlist import DEFAULT_WATCHLIST, active_symbols, deactivate_symbols, list_entries, load_symbols

# Watchlist names: short identifiers (the column is varchar(64) here, wider elsewhere).
WATCHLIST_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:\-]{0,63}")


def watchlist_name(text: str) -> str:
    if not WATCHLIST_NAME.fullmatch(text):
        shown = text if len(text) <= 40 else text[:37] + "..."
        raise argparse.ArgumentTypeError(
            f"invalid watchlist name {shown!r}: 1-64 letters, digits, '_', '.', ':' or '-', "
            "starting with a letter or digit"
        )
    return text


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m store", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("url", help="print the database URL (starting the embedded server if needed)")
    commands.add_parser("stop", help="stop the embedded PostgreSQL and the local Prefect server of this checkout")
    commands.add_parser("migrate", help="create or upgrade the schema")
    watchlist = commands.add_parser("watchlist", help="manage the symbols that are ingested")
    actions = watchlist.add_subparsers(dest="action", required=True)
    for name, help_text in (("add", "add or re-activate symbols"), ("deactivate", "stop ingesting symbols")):
        action = actions.add_parser(name, help=help_text)
        action.add_argument("symbols", nargs="+")
        action.add_argument("--watchlist", type=watchlist_name, default=DEFAULT_WATCHLIST)
    load = actions.add_parser("load", help="add symbols from a file (one per line, # comments)")
    load.add_argument("file", type=Path)
    load.add_argument("--watchlist", type=watchlist_name, default=DEFAULT_WATCHLIST)
    show = actions.add_parser("show", help="list watchlist entries")
    show.add_argument("--watchlist", type=watchlist_name, default=None)
    coverage = commands.add_parser(
        "coverage", help="which symbol-days the store holds for a window, from which provider, and which are missing"
    )
    coverage.add_argument("--start-date", type=_date, required=True)
    coverage.add_argument("--end-date", type=_date, required=True)
    coverage.add_argument("--symbols", type=_symbols, help="comma-separated (default: the active watchlist)")
    coverage.add_argument("--calendar", default=DEFAULT_CALENDAR)
    coverage.add_argument("--provider", help="the provider the fill command names (default: the window's own)")
    coverage.add_argument("--png", type=Path, metavar="FILE", help="also draw the grid as a PNG heatmap to FILE")
    # Dates and format are checked by `_export` itself, so a bad value is one `error:` line.
    export = commands.add_parser(
        "export", help="write stored chains and ledger rows to DIR/session=YYYY-MM-DD/ as parquet or csv"
    )
    export.add_argument("--start-date", required=True, metavar="YYYY-MM-DD", help="the first session (inclusive)")
    export.add_argument("--end-date", required=True, metavar="YYYY-MM-DD", help="the last session (inclusive)")
    export.add_argument("--symbols", help="comma-separated (default: every symbol stored)")
    export.add_argument("--format", default="parquet", metavar="{parquet,csv}", help="parquet (default) or csv")
    export.add_argument("--out", type=Path, required=True, metavar="DIR", help="receives DIR/session=YYYY-MM-DD/")
    return parser


class InvalidRunRange(SetupError, ValueError):
    """A window that runs backwards."""


def _date(text: str) -> date:
    try:
        return parse_session_date(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def _symbols(text: str) -> tuple[str, ...]:
    try:
        return parse_symbol_list(text)
    except InvalidSymbol as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def _coverage(connection, args: argparse.Namespace) -> int:  # noqa: ANN001 - psycopg2 connection
    """The sessions × symbols grid, totals and the command that fills the gaps."""
    if args.end_date < args.start_date:
        raise InvalidRunRange(f"--end-date {args.end_date} is before --start-date {args.start_date}")
    sessions = get_calendar(args.calendar).sessions(args.start_date, args.end_date)
    symbols = list(args.symbols) if args.symbols else active_symbols(connection)
    coverage = read_coverage(connection, {day: snapshot_time_for(day) for day in sessions}, symbols)
    for line in coverage.grid():
        print(line)
    totals = coverage.totals()
    print(" ".join(f"{name}={value}" for name, value in totals.items()))
    print("cells: provider initial = complete (real data), s = simulated, · = missing")
    providers = [name.removeprefix("by_") for name in totals if name.startswith("by_")]
    command = coverage.fill_command(args.provider or (providers[0] if len(providers) == 1 else None))
    print(f"fill the gaps: {command}" if command else "nothing missing")
    if args.png:
        from charts.coverage import write_coverage_png

        title = f"Coverage {args.start_date.isoformat()} to {args.end_date.isoformat()}"
        print(f"heatmap: {write_coverage_png(coverage, args.png, title=title)}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        environment = read_environment()
        if args.command == "export":
            return _export(environment, args)
        if args.command == "stop":
            print(embedded.stop(environment.pgdata or embedded.DEFAULT_DATA_DIR).message)
            print(prefect_server.stop(environment.prefect_home or prefect_server.DEFAULT_HOME).message)
            return 0
        target = resolve_target(environment.database_url, environment.pgdata)
        if args.command == "url":
            print(target.url)
            return 0
        connection = connect(target)
        with refusing_setup(target):
            migrate(connection)
            if args.command == "migrate":
                print(f"schema up to date on {target.display}")
                return 0
            if args.command == "coverage":
                return _coverage(connection, args)
            return _watchlist(connection, args)
    except (SetupError, OSError) as exc:
        print(error_line(exc), file=sys.stderr)
        return 2


def _export_date(flag: str, text: str) -> date:
    try:
        return parse_session_date(text)
    except ValueError as exc:
        raise SetupError(f"{flag}: {exc}") from None


def _export(environment: Environment, args: argparse.Namespace) -> int:
    """Check every input before the database is asked anything and DIR is touched, then stream
    each session's partition; a failure part-way leaves only whole files of whole sessions."""
    from store.export import FORMATS, export_sessions, prepare_directory  # pyarrow: only when exporting
    from store.readback import ticker_ids_of

    start, end = _export_date("--start-date", args.start_date), _export_date("--end-date", args.end_date)
    stamps = {day: snapshot_time_for(day) for day in days_between(start, end)}
    if args.format not in FORMATS:
        raise SetupError(f"--format {args.format[:20]!r} is not one of {', '.join(FORMATS)}")
    symbols = parse_symbol_list(args.symbols) if args.symbols is not None else None
    if symbols == ():
        raise SetupError("--symbols names no symbol")
    target = resolve_target(environment.database_url, environment.pgdata)
    connection = connect(target)
    try:
        with refusing_setup(target):
            migrate(connection)
            ticker_ids = ticker_ids_of(connection, symbols) if symbols is not None else None
        prepare_directory(args.out)
        sessions = rows = 0
        try:
            for exported in export_sessions(connection, stamps, ticker_ids, args.format, args.out):
                sessions += 1
                rows += exported.rows["options_chains"]
                counts = " ".join(f"{table}={count}" for table, count in exported.rows.items())
                print(f"{exported.directory} {counts}")
        except psycopg2.Error as exc:
            raise DatabaseUnavailable(
                f"export stopped after {sessions} complete sessions: {target.display}: {exc}"
            ) from None
    finally:
        connection.close()
    if sessions == 0:
        print(f"warning: no chain rows stored between {start} and {end}; nothing written", file=sys.stderr)
    else:
        print(f"{sessions} sessions, {rows} chain rows written to {args.out} as {args.format}")
    return 0


def _watchlist(connection, args: argparse.Namespace) -> int:  # noqa: ANN001 - psycopg2 connection
    if args.action == "show":
        entries = list_entries(connection, watchlist_id=args.watchlist)
        for entry in entries:
            state = "active" if entry.active else "inactive"
            print(f"{entry.watchlist_id}\t{entry.symbol}\t{state}\t{entry.source or ''}")
        print(f"{sum(entry.active for entry in entries)} active of {len(entries)}", file=sys.stderr)
        return 0
    if args.action == "load":
        symbols = read_symbol_file(args.file)
        changed = load_symbols(connection, symbols, watchlist_id=args.watchlist, source=f"file:{args.file.name}")
        print(f"{len(symbols)} symbols read, {changed} added or re-activated in watchlist {args.watchlist!r}")
        return 0
    symbols = normalize_symbols(args.symbols)
    if args.action == "add":
        changed = load_symbols(connection, symbols, watchlist_id=args.watchlist, source="cli")
        print(f"{changed} added or re-activated in watchlist {args.watchlist!r}")
    else:
        changed = deactivate_symbols(connection, symbols, watchlist_id=args.watchlist)
        print(f"{changed} deactivated in watchlist {args.watchlist!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
