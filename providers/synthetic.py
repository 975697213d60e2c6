"""The embedded default source: a deterministic, clearly labelled SIMULATED options market.

It exists so the whole pipeline (ingest, backfill, dealer metrics) can run with no API key and no
network, on data whose shape is close enough to a real chain that dealer metrics computed on it
look like real ones: a continuous underlying path, weekly and monthly expirations, a skewed IV
surface, Black-Scholes greeks and open interest that drifts smoothly from day to day.

Deterministic per (seed, symbol, session), in any process, so a re-run or a parallel backfill writes
identical rows. It behaves like a real source where that protects data: it refuses sessions that
have not closed yet and days that are not sessions. The market itself lives in
`providers._synthetic_market`; this module turns its arrays into the provider contract's records.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal

from markets.calendar import NEW_YORK, REGULAR_CLOSE_NY, WeekdayCalendar
from markets.symbols import InvalidSymbol, normalize_symbol
from providers._synthetic_market import EPOCH, HORIZON, ChainShape, SimulatedChain, simulate_chain
from providers.base import ChainSnapshot, EmptyChain, OptionQuote, SessionUnavailable, SymbolNotFound

PROVIDER_NAME = "synthetic"
DEFAULT_SEED = 20240101
SOURCE_LABEL = "SIMULATED market from the synthetic provider — not real data"
MODEL_VERSION = "synthetic-v1"

Clock = Callable[[], datetime]


def _utc_now() -> datetime:
    return datetime.now(UTC)


class SyntheticProvider:
    """A `ChainProvider` whose chains come from a seeded simulation instead of an API."""

    name = PROVIDER_NAME
    simulated = True

    def __init__(self, seed: int = DEFAULT_SEED, *, now: Clock = _utc_now, shape: ChainShape | None = None) -> None:
        """`now` is injectable so tests can pin the clock; `shape` sizes the chain (expiries, strikes)."""
        self.seed = seed
        self._now = now
        self.shape = shape or ChainShape()
        self._closes = WeekdayCalendar()

    def fetch_chain(self, symbol: str, session: date, *, large: bool = False) -> ChainSnapshot:
        """The simulated chain of `symbol` at the close of `session`; `large` changes nothing here.

        Raises `SessionUnavailable` for a day that is not a session or has not closed yet, because a
        source that answered for those would be inventing data a real one could not have.
        """
        underlying = self._underlying(symbol)
        self._check_session(session)
        arrays = simulate_chain(underlying, session, self.seed, self.shape)
        if arrays.strike_cents.size == 0:
            raise EmptyChain(f"synthetic market listed no contracts for {underlying} on {session.isoformat()}")
        return ChainSnapshot(
            symbol=underlying,
            session=session,
            underlying_close=arrays.underlying_close,
            quotes=_quotes(arrays),
            provider=PROVIDER_NAME,
            source=SOURCE_LABEL,
            missing_fields=(),
            simulated=True,
            notes={"model": MODEL_VERSION, "seed": str(self.seed)},
            risk_free_rate=0.04,  # the r its greeks are priced with (q = 0, the default): issue 15 item 1
        )

    @staticmethod
    def _underlying(symbol: str) -> str:
        try:
            return normalize_symbol(symbol)
        except InvalidSymbol as exc:
            raise SymbolNotFound(f"synthetic market has no underlying {symbol!r}: {exc}") from exc

    def _check_session(self, session: date) -> None:
        if session.weekday() >= 5:
            raise SessionUnavailable(f"{session.isoformat()} is a {session:%A}: not a trading session")
        if not EPOCH < session <= HORIZON:
            raise SessionUnavailable(
                f"session {session.isoformat()} is outside the simulated history "
                f"({EPOCH.isoformat()} to {HORIZON.isoformat()})"
            )
        if self._now() < self._closes.session_close(session):
            raise SessionUnavailable(
                f"session {session.isoformat()} has not closed yet (closes {REGULAR_CLOSE_NY:%H:%M} "
                f"{NEW_YORK.key}): its chain does not exist until then"
            )


def _quotes(arrays: SimulatedChain) -> tuple[OptionQuote, ...]:
    """Records from the arrays; `.tolist()` first because per-element numpy scalars are slow."""
    expirations = {ordinal: date.fromordinal(ordinal) for ordinal in set(arrays.expiration_ordinals.tolist())}
    strikes = {cents: Decimal(cents) / 100 for cents in set(arrays.strike_cents.tolist())}
    columns = zip(
        arrays.expiration_ordinals.tolist(),
        arrays.strike_cents.tolist(),
        arrays.is_call.tolist(),
        arrays.bid.tolist(),
        arrays.ask.tolist(),
        arrays.last.tolist(),
        arrays.volume.tolist(),
        arrays.open_interest.tolist(),
        arrays.implied_volatility.tolist(),
        arrays.delta.tolist(),
        arrays.gamma.tolist(),
        arrays.theta.tolist(),
        arrays.vega.tolist(),
        strict=True,
    )
    return tuple(
        OptionQuote(
            expiration_date=expirations[ordinal],
            strike_price=strikes[cents],
            option_type="C" if is_call else "P",
            bid=bid,
            ask=ask,
            last=last,
            volume=volume,
            open_interest=open_interest,
            implied_volatility=iv,
            delta=delta,
            gamma=gamma,
            theta=theta,
            vega=vega,
        )
        for ordinal, cents, is_call, bid, ask, last, volume, open_interest, iv, delta, gamma, theta, vega in columns
    )
