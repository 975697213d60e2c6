"""Providers for tests: a small deterministic chain, and wrappers that record or fail calls.

They are real `ChainProvider`s registered by name, so flows and the CLI use them exactly as they
use `synthetic` or `polygon`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

from providers.base import ChainProvider, ChainSnapshot, OptionQuote
from providers.registry import register_provider, unregister_provider


class TinyChainProvider:
    """20 strikes × 2 expirations × C/P whose values depend on (symbol, session)."""

    name = "tiny"
    simulated = True

    def fetch_chain(self, symbol: str, session: date, *, large: bool = False) -> ChainSnapshot:
        seed = sum(map(ord, symbol)) + session.toordinal() % 97
        spot = 100.0 + seed % 50
        quotes = []
        for expiry_offset in (7, 35):
            expiration = session + timedelta(days=expiry_offset)
            for step in range(20):
                strike = Decimal(int(spot) - 10 + step) + Decimal("0.5")
                for option_type in ("C", "P"):
                    quotes.append(
                        OptionQuote(
                            expiration_date=expiration,
                            strike_price=strike,
                            option_type=option_type,
                            bid=round(1.0 + step * 0.1, 2),
                            ask=round(1.1 + step * 0.1, 2),
                            last=1.05,
                            volume=10 + step,
                            open_interest=100 + (seed * (step + (1 if option_type == "C" else 3))) % 900,
                            implied_volatility=0.2 + step * 0.001,
                            delta=0.5,
                            gamma=0.01 + step * 0.0001,
                            theta=-0.05,
                            vega=0.1,
                        )
                    )
        return ChainSnapshot(
            symbol=symbol,
            session=session,
            underlying_close=spot,
            quotes=tuple(quotes),
            provider=self.name,
            source="tiny test chain",
            simulated=True,
        )


class RealTinyProvider(TinyChainProvider):
    """The tiny chain as a real (not simulated) source `name` reports it; `close_offset` and
    `bid_offset` set its data apart from another source's for the same symbol-day."""

    simulated = False

    def __init__(self, name: str, *, close_offset: float = 0.0, bid_offset: float = 0.0) -> None:
        self.name, self.close_offset, self.bid_offset = name, close_offset, bid_offset

    def fetch_chain(self, symbol: str, session: date, *, large: bool = False) -> ChainSnapshot:
        snapshot = super().fetch_chain(symbol, session, large=large)
        quotes = tuple(replace(quote, bid=(quote.bid or 0.0) + self.bid_offset) for quote in snapshot.quotes)
        return replace(
            snapshot,
            provider=self.name,
            simulated=False,
            underlying_close=snapshot.underlying_close + self.close_offset,
            quotes=quotes,
        )


class RecordingProvider:
    """Delegates to `inner` and records every (symbol, session) asked for, in call order."""

    def __init__(self, inner: ChainProvider, name: str = "recording") -> None:
        self.inner = inner
        self.name = name
        self.simulated = inner.simulated
        self.calls: list[tuple[str, date]] = []
        self._lock = threading.Lock()

    def fetch_chain(self, symbol: str, session: date, *, large: bool = False) -> ChainSnapshot:
        with self._lock:
            self.calls.append((symbol, session))
        snapshot = self.inner.fetch_chain(symbol, session, large=large)
        return ChainSnapshot(**{**snapshot.__dict__, "provider": self.name})

    @property
    def sessions(self) -> list[date]:
        """Distinct sessions in first-call order."""
        return list(dict.fromkeys(session for _, session in self.calls))


class FailingProvider(RecordingProvider):
    """Raises `error(symbol, session)` when `should_fail(symbol, session)` holds."""

    def __init__(
        self,
        inner: ChainProvider,
        should_fail: Callable[[str, date], bool],
        error: Callable[[str, date], Exception],
        name: str = "failing",
    ) -> None:
        super().__init__(inner, name)
        self.should_fail = should_fail
        self.error = error

    def fetch_chain(self, symbol: str, session: date, *, large: bool = False) -> ChainSnapshot:
        if self.should_fail(symbol, session):
            with self._lock:
                self.calls.append((symbol, session))
            raise self.error(symbol, session)
        return super().fetch_chain(symbol, session, large=large)


@contextmanager
def registered(provider: RecordingProvider | TinyChainProvider) -> Iterator[None]:
    register_provider(provider.name, lambda settings: provider)
    try:
        yield
    finally:
        unregister_provider(provider.name)
