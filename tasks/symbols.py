"""Which symbols a run ingests: the active watchlist, narrowed by `--symbols`."""

from __future__ import annotations

import psycopg2.extensions

from settings.errors import SetupError
from store.watchlist import active_symbols


class NoSymbolsToIngest(SetupError, ValueError):
    """The watchlist (or its intersection with `--symbols`) is empty: the run cannot do anything."""


def resolve_symbols(connection: psycopg2.extensions.connection, requested: tuple[str, ...] | None) -> list[str]:
    """Active watchlist ∩ requested, in watchlist order; an empty result is an error, not a no-op."""
    universe = active_symbols(connection)
    if not universe:
        raise NoSymbolsToIngest(
            "the watchlist has no active symbols: add some with "
            "`python -m store watchlist add SPY QQQ` or `python -m store watchlist load FILE`"
        )
    if requested is None:
        return universe
    active = set(universe)
    chosen = [symbol for symbol in requested if symbol in active]
    if not chosen:
        raise NoSymbolsToIngest(
            f"none of --symbols {','.join(requested)} is on the active watchlist "
            f"({len(universe)} symbols; see `python -m store watchlist show`)"
        )
    return chosen
