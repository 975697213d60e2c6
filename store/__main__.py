"""`python -m store`: the database in use, and the watchlist that decides what is ingested.

python -m store url                       # URL of the database (starts the embedded server)
python -m store stop                      # stop the embedded server
python -m store watchlist add SPY QQQ     # add or re-activate symbols
python -m store watchlist load FILE       # one symbol per line; blank lines and # comments ok
python -m store watchlist show
python -m store watchlist deactivate TSLA
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from pathlib import Path

from markets.symbols import normalize_symbols, read_symbol_file
from settings.environment import read_environment
from settings.errors import SetupError
from settings.output import error_line
from store import embedded
from store.connection import connect, refusing_setup, resolve_target
from store.migrations import migrate
from store.watchlist import DEFAULT_WATCHLIST, deactivate_symbols, list_entries, load_symbols

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
    commands.add_parser("stop", help="stop the embedded server")
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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        environment = read_environment()
        if args.command == "stop":
            print(embedded.stop(environment.pgdata or embedded.DEFAULT_DATA_DIR).message)
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
            return _watchlist(connection, args)
    except (SetupError, OSError) as exc:
        print(error_line(exc), file=sys.stderr)
        return 2


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
