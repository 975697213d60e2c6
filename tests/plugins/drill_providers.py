"""Provider plugin for the failure drills (KAPMAN_PROVIDER_MODULES=tests.plugins.drill_providers).

`drill` serves a deterministic chain of KAPMAN_DRILL_CONTRACTS contracts (default 2000) per symbol-day
whose values depend only on (symbol, session), so a run that was killed and resumed can be compared
row for row with one that was not. It is a test double the drills steer through files in
KAPMAN_DRILL_DIR (without it, it is just a deterministic chain), so a test synchronises on what the
process has really done, never on timing:

- every fetch leaves `fetched-SYMBOL@SESSION-PID-N` (which process asked for which symbol-day, and
  how many times);
- `KAPMAN_DRILL_BLOCK=SYMBOL@SESSION,...`: that fetch leaves `fetching-SYMBOL@SESSION` and then
  blocks reading the FIFO `release-SYMBOL@SESSION` (which the test creates) until the test opens
  and closes it, or kills the process;
- `KAPMAN_DRILL_BARRIER=SESSION,...` with `KAPMAN_DRILL_PARTIES=N`: a fetch of those sessions
  returns only once N processes have fetched the same symbol-day, so N overlapping backfills are
  inside the same symbol-days at the same time.
"""

from __future__ import annotations

import os
import threading
import time
import zlib
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from providers.base import ChainSnapshot, OptionQuote, TransientProviderError
from providers.registry import register_provider

DEFAULT_CONTRACTS = 2000
STRIKES_PER_EXPIRATION = 100
# A barrier nobody else reaches must not hang a test run: the fetch fails instead (visibly).
BARRIER_TIMEOUT_SECONDS = 60.0


def tag(symbol: str, session: date) -> str:
    """How a symbol-day is named in marker files and in KAPMAN_DRILL_BLOCK."""
    return f"{symbol}@{session.isoformat()}"


def drill_chain(symbol: str, session: date, contracts: int) -> tuple[OptionQuote, ...]:
    """`contracts` quotes in a fixed order (the order the store receives them)."""
    seed = zlib.crc32(tag(symbol, session).encode())
    spot = 50 + seed % 200
    quotes = []
    for position in range(contracts):
        pair, option_type = divmod(position, 2)
        expiry_index, step = divmod(pair, STRIKES_PER_EXPIRATION)
        mix = (seed + 7919 * position) % 10_000
        bid = round(0.05 + mix / 400, 2)
        quotes.append(
            OptionQuote(
                expiration_date=session + timedelta(days=7 * (expiry_index + 1)),
                strike_price=Decimal(spot - STRIKES_PER_EXPIRATION // 4) + Decimal("0.25") * step,
                option_type="C" if option_type == 0 else "P",
                bid=bid,
                ask=round(bid + 0.05, 2),
                last=round(bid + 0.02, 2),
                volume=mix % 700,
                open_interest=100 + mix,
                implied_volatility=round(0.15 + mix / 50_000, 6),
                delta=round((0.5 - mix / 20_000) * (1 if option_type == 0 else -1), 6),
                gamma=round(0.001 + mix / 1_000_000, 6),
                theta=round(-0.01 - mix / 500_000, 6),
                vega=round(0.05 + mix / 100_000, 6),
            )
        )
    return tuple(quotes)


def underlying_close(symbol: str, session: date) -> float:
    return float(50 + zlib.crc32(tag(symbol, session).encode()) % 200) + 0.37


def _listed(name: str) -> set[str]:
    return {part.strip() for part in os.environ.get(name, "").split(",") if part.strip()}


class DrillProvider:
    name = "drill"
    simulated = True

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._fetches = 0

    def fetch_chain(self, symbol: str, session: date, *, large: bool = False) -> ChainSnapshot:
        if os.environ.get("KAPMAN_DRILL_DIR"):
            self._hooks(Path(os.environ["KAPMAN_DRILL_DIR"]), tag(symbol, session), session)
        contracts = int(os.environ.get("KAPMAN_DRILL_CONTRACTS", DEFAULT_CONTRACTS))
        return ChainSnapshot(
            symbol=symbol,
            session=session,
            underlying_close=underlying_close(symbol, session),
            quotes=drill_chain(symbol, session, contracts),
            provider=self.name,
            source="drill test chain",
            simulated=True,
        )

    def _hooks(self, marks: Path, symbol_day: str, session: date) -> None:
        with self._lock:
            self._fetches += 1
            (marks / f"fetched-{symbol_day}-{os.getpid()}-{self._fetches}").touch()
        if symbol_day in _listed("KAPMAN_DRILL_BLOCK"):
            (marks / f"fetching-{symbol_day}").touch()
            with open(marks / f"release-{symbol_day}") as fifo:
                fifo.read()
        if session.isoformat() in _listed("KAPMAN_DRILL_BARRIER"):
            self._meet(marks, symbol_day, int(os.environ.get("KAPMAN_DRILL_PARTIES", "2")))

    @staticmethod
    def _meet(marks: Path, symbol_day: str, parties: int) -> None:
        deadline = time.monotonic() + BARRIER_TIMEOUT_SECONDS
        while len({path.name.split("-")[-2] for path in marks.glob(f"fetched-{symbol_day}-*")}) < parties:
            if time.monotonic() > deadline:
                raise TransientProviderError(f"drill barrier: fewer than {parties} processes reached {symbol_day}")
            time.sleep(0.01)


register_provider("drill", lambda settings: DrillProvider())
