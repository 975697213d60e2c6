"""What the store holds for a window: sessions × symbols, each symbol-day complete (by which
provider, simulated or not) or missing, read from the ledger alone (never a scan of the chains)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime

import psycopg2.extensions

from store.chains import LedgerEntry, ledger_entries

MISSING, SIMULATED = "·", "s"


@dataclass(frozen=True)
class Coverage:
    """The ledger's view of a window; `cells` holds the complete symbol-days only."""

    sessions: tuple[date, ...]
    symbols: tuple[str, ...]
    cells: Mapping[tuple[date, str], LedgerEntry]

    @property
    def missing(self) -> list[tuple[date, str]]:
        return [(day, symbol) for day in self.sessions for symbol in self.symbols if (day, symbol) not in self.cells]

    def totals(self) -> dict[str, int]:
        providers = Counter(entry.provider for entry in self.cells.values() if not entry.simulated)
        return {
            "symbol_days": len(self.sessions) * len(self.symbols),
            "complete": len(self.cells),
            "simulated": sum(entry.simulated for entry in self.cells.values()),
            "missing": len(self.missing),
            **{f"by_{provider}": count for provider, count in sorted(providers.items())},
        }

    def cell(self, day: date, symbol: str) -> str:
        """One grid cell: the provider's initial (upper case), `s` for simulated data, `·` missing."""
        entry = self.cells.get((day, symbol))
        if entry is None:
            return MISSING
        return SIMULATED if entry.simulated else entry.provider[:1].upper()

    def grid(self) -> list[str]:
        """The grid as text lines: one row per session, one column per symbol."""
        width = max([len(symbol) for symbol in self.symbols] + [1])
        lines = [" " * 10 + " " + " ".join(symbol.rjust(width) for symbol in self.symbols)]
        for day in self.sessions:
            lines.append(day.isoformat() + " " + " ".join(self.cell(day, s).rjust(width) for s in self.symbols))
        return lines

    def table(self) -> list[dict[str, str]]:
        """One row per session for a table artifact: each symbol's provider, SIMULATED or missing."""

        def label(day: date, symbol: str) -> str:
            entry = self.cells.get((day, symbol))
            if entry is None:
                return "missing"
            return f"{entry.provider} (SIMULATED)" if entry.simulated else entry.provider

        return [{"session": day.isoformat(), **{s: label(day, s) for s in self.symbols}} for day in self.sessions]

    def fill_command(self, provider: str | None) -> str | None:
        """The command that fetches exactly the missing symbol-days (None when nothing is missing)."""
        missing = self.missing
        if not missing:
            return None
        days = sorted({day for day, _ in missing})
        symbols = [symbol for symbol in self.symbols if any(symbol == s for _, s in missing)]
        source = f" --provider {provider}" if provider else ""
        return (
            f"python -m scripts.ingest_options{source} --start-date {days[0].isoformat()} "
            f"--end-date {days[-1].isoformat()} --symbols {','.join(symbols)}"
        )


def read_coverage(
    connection: psycopg2.extensions.connection, stamps: Mapping[date, datetime], symbols: Sequence[str]
) -> Coverage:
    """The coverage of `symbols` over the sessions of `stamps` (session → its snapshot identity)."""
    entries = ledger_entries(connection, list(stamps.values()), symbols)
    session_of = {stamp: day for day, stamp in stamps.items()}
    cells = {(session_of[stamp], symbol): entry for (stamp, symbol), entry in entries.items()}
    return Coverage(sessions=tuple(stamps), symbols=tuple(symbols), cells=cells)
