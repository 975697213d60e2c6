"""Range-aware fetching: serve a backfill's days from windows fetched once per symbol.

A backfill runs day by day (each session its own task, status, writes and retries), but a source
like Massive's daily history can answer many sessions of one symbol per request. `WindowPrefetcher`
sits between the days and such a provider: the first day that asks for a symbol triggers one window
fetch over that symbol's next incomplete sessions (a slice bounded in rows), the snapshots of the
other sessions wait in memory for their own days, and each is handed out once. A session the window
did not cover, a symbol whose answers could not be trusted, or a full cache falls back to the
per-day `fetch_chain`, so nothing changes about what is stored, only how many requests it takes.

Memory stays flat in the range's length: at most one slice per symbol waits, and the whole cache
is capped (beyond the cap, days are fetched one by one).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from datetime import date

from providers.base import ChainSnapshot, WindowNotServed, WindowProvider

logger = logging.getLogger("kapman.providers.window")

# Contracts fetched per symbol per window slice (analytics rows ~ contracts × sessions): a slice of
# a 5,000-contract chain spans 20 sessions, of a 500-contract chain 100 (capped at MAX_SLICE_SESSIONS).
MAX_SLICE_ROWS = 100_000
MAX_SLICE_SESSIONS = 60
# Before the first slice of a symbol its chain size is unknown: assume a large one.
ASSUMED_CONTRACTS = 5_000
# Sessions of a first slice (its chain size still unknown), for cost estimates.
ASSUMED_SLICE_SESSIONS = max(1, MAX_SLICE_ROWS // ASSUMED_CONTRACTS)
# Quotes waiting in memory for their days, across symbols (~300 bytes each).
MAX_CACHED_QUOTES = 1_000_000


class WindowPrefetcher:
    """A `ChainProvider` for one run: `fetch_chain` answered from windows where it can."""

    def __init__(self, provider: WindowProvider, plan: Mapping[str, Sequence[date]]) -> None:
        self.provider = provider
        self.name = provider.name
        self.simulated = provider.simulated
        # symbol → its incomplete sessions, ascending, not yet asked for in a window
        self._pending = {symbol: sorted(sessions) for symbol, sessions in plan.items() if len(sessions) > 1}
        self._cache: dict[tuple[str, date], ChainSnapshot] = {}
        self._cached_quotes = 0
        self._contracts: dict[str, int] = {}
        self._per_day: set[str] = set()
        self._lock = threading.Lock()
        self._symbol_locks: dict[str, threading.Lock] = {}
        self.window_fetches = 0

    def fetch_chain(self, symbol: str, session: date, *, large: bool = False) -> ChainSnapshot:
        with self._lock:
            symbol_lock = self._symbol_locks.setdefault(symbol, threading.Lock())
        # One window per symbol at a time: a second day asking for the same symbol waits for it.
        with symbol_lock:
            cached = self._take(symbol, session)
            if cached is not None:
                return cached
            slice_ = self._next_slice(symbol, session)
            if slice_:
                found = self._fetch_window(symbol, slice_, session, large)
                if found is not None:
                    return found
        return self.provider.fetch_chain(symbol, session, large=large)

    def _take(self, symbol: str, session: date) -> ChainSnapshot | None:
        with self._lock:
            snapshot = self._cache.pop((symbol, session), None)
            if snapshot is not None:
                self._cached_quotes -= len(snapshot.quotes)
            return snapshot

    def _next_slice(self, symbol: str, session: date) -> list[date]:
        """The sessions of the next window for `symbol`, starting with `session`; empty means day by
        day (a symbol not in the plan, one whose window failed, or a full cache)."""
        with self._lock:
            pending = self._pending.get(symbol)
            if not pending or session not in pending or symbol in self._per_day:
                return []
            if self._cached_quotes >= MAX_CACHED_QUOTES:
                return []
            contracts = self._contracts.get(symbol, ASSUMED_CONTRACTS)
            length = max(1, min(MAX_SLICE_SESSIONS, MAX_SLICE_ROWS // max(contracts, 1)))
            start = pending.index(session)
            slice_ = pending[start : start + length]
            self._pending[symbol] = pending[:start] + pending[start + length :]
            return slice_ if len(slice_) > 1 else []

    def _fetch_window(self, symbol: str, sessions: list[date], wanted: date, large: bool) -> ChainSnapshot | None:
        found: ChainSnapshot | None = None
        self.window_fetches += 1
        try:
            for snapshot in self.provider.fetch_window(symbol, sessions, large=large):
                if snapshot.symbol.upper() != symbol.upper() or snapshot.session not in sessions:
                    continue  # never stored under another symbol or session
                with self._lock:
                    self._contracts[symbol] = max(len(snapshot.quotes), 1)
                    if snapshot.session == wanted:
                        found = snapshot
                    else:
                        self._cache[(symbol, snapshot.session)] = snapshot
                        self._cached_quotes += len(snapshot.quotes)
        except WindowNotServed as exc:
            self._day_by_day(symbol, str(exc))
            return None
        except Exception as exc:  # noqa: BLE001 - any failure: the days ask for themselves and report it
            logger.info(
                "event=window_failed symbol=%s window=%s..%s error=%s (its days are fetched one by one)",
                symbol,
                sessions[0].isoformat(),
                sessions[-1].isoformat(),
                " ".join(str(exc).split())[:300],
            )
            return None
        logger.info(
            "event=window_fetched provider=%s symbol=%s sessions=%d window=%s..%s",
            self.name,
            symbol,
            len(sessions),
            sessions[0].isoformat(),
            sessions[-1].isoformat(),
        )
        return found

    def _day_by_day(self, symbol: str, reason: str) -> None:
        with self._lock:
            first_time = symbol not in self._per_day
            self._per_day.add(symbol)
            for key in [key for key in self._cache if key[0] == symbol]:
                self._cached_quotes -= len(self._cache.pop(key).quotes)
        if first_time:
            logger.warning("window fetching off for %s, fetching day by day: %s", symbol, reason)
