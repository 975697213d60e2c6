"""The simulated market behind the synthetic provider, as numpy arrays (no records, no I/O).

Every random number is derived from a stable digest of (seed, symbol, ...) rather than Python's
`hash()`, which is salted per process: a backfill split across workers must see the same market.
What must stay continuous from one session to the next (the underlying's path, the volatility
regime, open interest) is a function of the day index, not of a per-session draw, so day-over-day
dealer metrics move the way real ones do instead of jumping at random.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache

import numpy as np

# The simulated history: one calendar-day grid, generated whole so a session's spot never depends on
# which other sessions were asked for. Prices are pinned to the reference table at ANCHOR.
EPOCH = date(2000, 1, 1)
HORIZON = date(2049, 12, 31)
ANCHOR = date(2025, 1, 2)
TRADING_DAYS_PER_YEAR = 252.0
ANNUAL_DRIFT = 0.02
# Log price reverts to its drifting trend with a half-life of about a year, so a symbol stays within
# a plausible band of its reference price for decades (strike increments and counts stay realistic)
# while a day-to-day move is still a plain random step.
MEAN_REVERSION_PER_YEAR = 0.7
RISK_FREE_RATE = 0.04
# Trailing window of the reference spot that open interest is positioned around: positions are
# sticky to strikes, so they follow the underlying slowly rather than re-centre every day.
POSITIONING_WINDOW_DAYS = 20
# Listed strike increments: prices below each ceiling list strikes this far apart (dollars).
STEP_CEILINGS = np.array([25.0, 100.0, 300.0, 1000.0, 3000.0, 10000.0])
STRIKE_STEPS = np.array([0.5, 1.0, 2.5, 5.0, 10.0, 25.0, 50.0])
# A price must sit this far inside a new increment bucket before the chain switches to it, so a
# price hovering at a boundary does not relist the chain back and forth.
STEP_HYSTERESIS = 1.05
INDEX_LIKE = frozenset({"SPY", "QQQ", "IWM", "DIA", "SPX", "NDX", "RUT", "XSP", "DJX"})


@dataclass(frozen=True)
class SymbolProfile:
    """What makes one underlying's market look like itself: price level, volatility, positioning."""

    reference_price: float  # spot at ANCHOR
    base_vol: float  # long-run implied volatility (decimal)
    oi_scale: float  # open interest of a near-the-money contract before crowding weights
    put_call_ratio: float  # put OI relative to call OI
    skew: float  # IV slope per standard deviation of moneyness (negative: put skew)
    smile: float  # IV curvature per squared standard deviation


# (reference price, long-run vol, OI scale) for names people will try first.
KNOWN_SYMBOLS: dict[str, tuple[float, float, float]] = {
    "SPY": (600.0, 0.16, 25000.0),
    "QQQ": (520.0, 0.20, 16000.0),
    "IWM": (230.0, 0.22, 12000.0),
    "DIA": (430.0, 0.15, 2500.0),
    "SPX": (6000.0, 0.16, 10000.0),
    "XSP": (600.0, 0.16, 1500.0),
    "NDX": (21000.0, 0.20, 1500.0),
    "RUT": (2300.0, 0.22, 2000.0),
    "AAPL": (230.0, 0.26, 12000.0),
    "MSFT": (430.0, 0.24, 6000.0),
    "NVDA": (140.0, 0.50, 20000.0),
    "TSLA": (350.0, 0.60, 12000.0),
    "AMZN": (220.0, 0.32, 10000.0),
    "META": (600.0, 0.35, 4000.0),
    "GOOGL": (180.0, 0.30, 8000.0),
    "GOOG": (180.0, 0.30, 4000.0),
    "AMD": (140.0, 0.48, 10000.0),
    "NFLX": (900.0, 0.38, 2000.0),
    "BRK.B": (470.0, 0.18, 1500.0),
    "JPM": (240.0, 0.22, 3000.0),
    "GLD": (240.0, 0.15, 6000.0),
    "TLT": (90.0, 0.15, 8000.0),
}


@dataclass(frozen=True)
class ChainShape:
    """How much of the listed market to generate; the defaults give ~600-1,400 contracts a symbol-day."""

    weekly_expirations: int = 7
    monthly_months: int = 6
    leaps_years: int = 2
    max_strikes_per_expiry: int = 50
    # Strike range half-width in standard deviations of the expiry's move (the put side goes further).
    width_sigmas: float = 3.0
    put_side_extension: float = 1.25

    def __post_init__(self) -> None:
        # At least one weekly expiry and one strike each: an empty chain is an error, never a default.
        if self.weekly_expirations < 1 or self.max_strikes_per_expiry < 1:
            raise ValueError("ChainShape needs weekly_expirations >= 1 and max_strikes_per_expiry >= 1")
        if self.monthly_months < 0 or self.leaps_years < 0:
            raise ValueError("ChainShape needs monthly_months >= 0 and leaps_years >= 0")
        if self.width_sigmas <= 0 or self.put_side_extension <= 0:
            raise ValueError("ChainShape needs positive width_sigmas and put_side_extension")


@dataclass(frozen=True)
class UnderlyingPath:
    """The whole simulated history of one underlying, one entry per calendar day since EPOCH."""

    closes: np.ndarray
    positioning_spot: np.ndarray
    vol_factor: np.ndarray
    strike_step: np.ndarray


@dataclass(frozen=True)
class SimulatedChain:
    """One symbol-day's chain as parallel arrays, sorted by (expiration, strike, type)."""

    underlying_close: float
    expiration_ordinals: np.ndarray
    strike_cents: np.ndarray
    is_call: np.ndarray
    bid: np.ndarray
    ask: np.ndarray
    last: np.ndarray
    volume: np.ndarray
    open_interest: np.ndarray
    implied_volatility: np.ndarray
    delta: np.ndarray
    gamma: np.ndarray
    theta: np.ndarray
    vega: np.ndarray


def stable_seed(*parts: object) -> int:
    """A 64-bit seed that is the same in every process and on every machine."""
    digest = hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little")


def _unit(seed: int, count: int) -> np.ndarray:
    return np.random.default_rng(seed).random(count)


def symbol_profile(symbol: str, seed: int) -> SymbolProfile:
    """Table values for well-known names; anything else gets a plausible profile from its digest."""
    u_price, u_vol, u_oi, u_pcr, u_skew = _unit(stable_seed(seed, "profile", symbol), 5)
    index_like = symbol in INDEX_LIKE
    if symbol in KNOWN_SYMBOLS:
        price, vol, oi_scale = KNOWN_SYMBOLS[symbol]
    else:
        price = float(np.exp(np.log(10.0) + u_price * np.log(40.0)))  # $10 .. $400
        vol = 0.22 + 0.43 * float(u_vol)
        oi_scale = float(np.exp(np.log(1000.0) + u_oi * np.log(8.0)))  # 1k .. 8k
    return SymbolProfile(
        reference_price=price,
        base_vol=vol,
        oi_scale=oi_scale,
        put_call_ratio=(1.15 + 0.25 * float(u_pcr)) if index_like else (0.7 + 0.4 * float(u_pcr)),
        skew=(-0.17 - 0.03 * float(u_skew)) if index_like else (-0.07 - 0.05 * float(u_skew)),
        smile=0.035 if index_like else 0.045,
    )


def day_index(session: date) -> int:
    return (session - EPOCH).days


@lru_cache(maxsize=256)
def underlying_path(symbol: str, seed: int) -> UnderlyingPath:
    """A mean-reverting log-price walk on weekdays (weekends carry no move), pinned to the profile at ANCHOR.

    Its daily volatility follows the same slow regime factor as the options' ATM level, so realised
    and implied volatility agree.
    """
    profile = symbol_profile(symbol, seed)
    days = np.arange(day_index(HORIZON) + 1)
    weekday = (np.asarray(EPOCH.weekday()) + days) % 7 < 5
    vol_factor = _vol_regime(days, stable_seed(seed, "regime", symbol))
    daily_vol = profile.base_vol * vol_factor / np.sqrt(TRADING_DAYS_PER_YEAR)
    shocks = np.random.default_rng(stable_seed(seed, "path", symbol)).standard_normal(days.size)
    stationary_spread = profile.base_vol / math.sqrt(2 * MEAN_REVERSION_PER_YEAR)
    deviation = _mean_reverting_walk(np.where(weekday, daily_vol * shocks, 0.0), weekday, shocks[0] * stationary_spread)
    anchor = day_index(ANCHOR)
    trend = ANNUAL_DRIFT * (days - anchor) / 365.25
    closes = profile.reference_price * np.exp(deviation - deviation[anchor] + trend)
    positioning_spot = _trailing_mean(closes, POSITIONING_WINDOW_DAYS)
    path = UnderlyingPath(
        closes=closes,
        positioning_spot=positioning_spot,
        vol_factor=vol_factor,
        strike_step=_strike_steps(positioning_spot),
    )
    for array in (path.closes, path.positioning_spot, path.vol_factor, path.strike_step):
        array.setflags(write=False)
    return path


def _mean_reverting_walk(innovations: np.ndarray, weekday: np.ndarray, start: float) -> np.ndarray:
    """AR(1) on trading days; `start` is drawn from its stationary spread so early years look like the rest.

    A sequential scan (the recursion has no stable closed form over 18k days); it runs once per
    symbol per process because the path is cached.
    """
    keep = 1.0 - MEAN_REVERSION_PER_YEAR / TRADING_DAYS_PER_YEAR
    level = float(start)
    walk = np.empty(innovations.size)
    for day, (innovation, trading) in enumerate(zip(innovations.tolist(), weekday.tolist(), strict=True)):
        if trading:
            level = level * keep + innovation
        walk[day] = level
    return walk


def _vol_regime(days: np.ndarray, seed: int) -> np.ndarray:
    """A slow multiplicative volatility factor (roughly 0.75x .. 1.35x): calm and stressed spells."""
    phases = _unit(seed, 3) * 2 * np.pi
    exponent = sum(
        amplitude * np.sin(2 * np.pi * days / period + phase)
        for amplitude, period, phase in zip((0.12, 0.10, 0.08), (47.0, 131.0, 389.0), phases, strict=True)
    )
    return np.exp(exponent)


def _trailing_mean(values: np.ndarray, window: int) -> np.ndarray:
    totals = np.cumsum(values)
    means = totals / np.arange(1, values.size + 1)
    means[window:] = (totals[window:] - totals[:-window]) / window
    return means


def _strike_steps(reference_spot: np.ndarray) -> np.ndarray:
    """The listed increment per day: follows the price level, switching only once clearly past a bucket.

    A sequential scan because the hysteresis depends on the previous day's bucket; it runs once per
    symbol per process (the path is cached).
    """
    bucket = np.searchsorted(STEP_CEILINGS, reference_spot, side="right").tolist()
    upper = np.searchsorted(STEP_CEILINGS, reference_spot * STEP_HYSTERESIS, side="right").tolist()
    lower = np.searchsorted(STEP_CEILINGS, reference_spot / STEP_HYSTERESIS, side="right").tolist()
    chosen = np.empty(len(bucket), dtype=np.int64)
    current = bucket[0]
    for day, (candidate, high, low) in enumerate(zip(bucket, upper, lower, strict=True)):
        if candidate != current and high == low == candidate:
            current = candidate
        chosen[day] = current
    return STRIKE_STEPS[chosen]


def third_friday(year: int, month: int) -> date:
    first = date(year, month, 1)
    return first + timedelta(days=(4 - first.weekday()) % 7 + 14)


def listed_expirations(session: date, shape: ChainShape) -> list[tuple[date, float]]:
    """Expirations listed on `session` with their share of open interest (monthlies are crowded).

    Weekly Fridays (a Friday session lists its own 0-DTE expiry), standard monthlies, and January
    LEAPS beyond the monthly horizon.
    """
    first_friday = session + timedelta(days=(4 - session.weekday()) % 7)
    weight: dict[date, float] = {first_friday + timedelta(weeks=week): 1.0 for week in range(shape.weekly_expirations)}
    for offset in range(shape.monthly_months + 1):
        year, month = divmod(session.month - 1 + offset, 12)
        expiry = third_friday(session.year + year, month + 1)
        if expiry >= session:
            weight[expiry] = 2.5
    horizon = max(weight)
    for year in range(session.year + 1, session.year + 4):
        expiry = third_friday(year, 1)
        if expiry > horizon and sum(day.month == 1 and day > horizon for day in weight) < shape.leaps_years:
            weight[expiry] = 1.5
    return sorted(weight.items())


def strike_grid_cents(spot: float, step: float, atm_vol: float, days_to_expiry: int, shape: ChainShape) -> np.ndarray:
    """Strikes (integer cents) around spot: finer for near expiries, wider for far ones.

    Later expiries list coarser increments that are multiples of the near ones, so an expiry rolling
    into the near-term bucket gains strikes between the ones it had instead of losing any.
    """
    multiple = 1 if days_to_expiry <= 60 else 2 if days_to_expiry <= 240 else 4
    step_cents = round(step * 100) * multiple
    move = atm_vol * math.sqrt(max(days_to_expiry, 2) / 365.0)
    low = spot * math.exp(-shape.width_sigmas * shape.put_side_extension * move)
    high = spot * math.exp(shape.width_sigmas * move)
    first = max(1, math.ceil(low * 100 / step_cents))
    last = max(first, math.floor(high * 100 / step_cents))
    strikes = np.arange(first, last + 1, dtype=np.int64) * step_cents
    if strikes.size > shape.max_strikes_per_expiry:
        log_distance = np.log(strikes / (spot * 100))
        scaled = np.where(log_distance < 0, -log_distance / shape.put_side_extension, log_distance)
        strikes = np.sort(strikes[np.argsort(scaled, kind="stable")[: shape.max_strikes_per_expiry]])
    return strikes


_erfc = np.frompyfunc(math.erfc, 1, 1)


def norm_cdf(x: np.ndarray) -> np.ndarray:
    """Standard normal CDF via math.erfc: exact to double precision, tails included."""
    return 0.5 * _erfc(-np.asarray(x, dtype=np.float64) / math.sqrt(2.0)).astype(np.float64)


def norm_pdf(x: np.ndarray) -> np.ndarray:
    return np.exp(-0.5 * np.square(x)) / math.sqrt(2.0 * math.pi)


@dataclass(frozen=True)
class BlackScholes:
    """Price and greeks; theta per calendar day, vega per one volatility point."""

    price: np.ndarray
    delta: np.ndarray
    gamma: np.ndarray
    theta: np.ndarray
    vega: np.ndarray


def black_scholes(
    spot: float, strike: np.ndarray, years: np.ndarray, vol: np.ndarray, is_call: np.ndarray, rate: float
) -> BlackScholes:
    """European Black-Scholes with q = 0, vectorised; puts use N(-x) directly to keep tail precision."""
    root_t = np.sqrt(years)
    d1 = (np.log(spot / strike) + (rate + 0.5 * vol**2) * years) / (vol * root_t)
    d2 = d1 - vol * root_t
    discount = np.exp(-rate * years)
    n_d1, n_d2 = norm_cdf(d1), norm_cdf(d2)
    n_minus_d1, n_minus_d2 = norm_cdf(-d1), norm_cdf(-d2)
    density = norm_pdf(d1)
    decay = -spot * density * vol / (2 * root_t)
    call_price = spot * n_d1 - strike * discount * n_d2
    put_price = strike * discount * n_minus_d2 - spot * n_minus_d1
    return BlackScholes(
        price=np.where(is_call, call_price, put_price),
        delta=np.where(is_call, n_d1, -n_minus_d1),
        gamma=density / (spot * vol * root_t),
        theta=np.where(is_call, decay - rate * strike * discount * n_d2, decay + rate * strike * discount * n_minus_d2)
        / 365.0,
        vega=spot * density * root_t / 100.0,
    )


def implied_vol_surface(
    profile: SymbolProfile, vol_factor: float, spot: float, strike: np.ndarray, years: np.ndarray
) -> np.ndarray:
    """ATM term structure plus a skewed smile in standard deviations of moneyness.

    The short end carries today's regime and the long end the symbol's long-run level, so a stressed
    spell shows up as backwardation. Moneyness is soft-clipped so the wings flatten instead of
    exploding for 0-DTE contracts.
    """
    atm = profile.base_vol + (profile.base_vol * vol_factor - profile.base_vol) * np.exp(-years / 0.3)
    forward = spot * np.exp(RISK_FREE_RATE * years)
    moneyness = np.log(strike / forward) / (atm * np.sqrt(np.maximum(years, 2 / 365.0)))
    clipped = 4.0 * np.tanh(moneyness / 4.0)
    vol = atm * (1.0 + profile.skew * clipped + profile.smile * clipped**2)
    return np.round(np.clip(vol, 0.06, 1.9), 6)


def splitmix_uniform(keys: np.ndarray, salt: int) -> np.ndarray:
    """Uniform [0, 1) per integer key: a vectorised SplitMix64 hash, stable across processes."""
    state = keys.astype(np.uint64) ^ np.uint64(salt & 0xFFFFFFFFFFFFFFFF)
    state = state + np.uint64(0x9E3779B97F4A7C15)
    state = (state ^ (state >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    state = (state ^ (state >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    state = state ^ (state >> np.uint64(31))
    return (state >> np.uint64(11)).astype(np.float64) / float(1 << 53)


@dataclass(frozen=True)
class ListedContracts:
    """The contracts listed on one session, one row per (expiry, strike, type), sorted by that key."""

    expiration_ordinals: np.ndarray
    strike_cents: np.ndarray
    is_call: np.ndarray
    days_to_expiry: np.ndarray
    expiry_weight: np.ndarray  # the expiry's share of open interest (monthlies are crowded)

    @property
    def strike(self) -> np.ndarray:
        return self.strike_cents / 100.0

    @property
    def years(self) -> np.ndarray:
        """Time to expiry for pricing, floored at one day so a 0-DTE contract keeps finite greeks."""
        return np.maximum(self.days_to_expiry, 1) / 365.0

    def keys(self, symbol_seed: int) -> np.ndarray:
        """One integer per contract of one symbol, for per-contract hashing."""
        packed = (self.expiration_ordinals.astype(np.uint64) << np.uint64(34)) | (
            self.strike_cents.astype(np.uint64) << np.uint64(1)
        )
        return (packed | self.is_call.astype(np.uint64)) ^ np.uint64(symbol_seed & 0xFFFFFFFFFFFFFFFF)


def listed_contracts(
    session: date, spot: float, strike_step: float, atm_vol: float, shape: ChainShape
) -> ListedContracts:
    """Every expiry's strike grid, each strike as a call and a put."""
    ordinals, strikes, dtes, weights = [], [], [], []
    for expiry, weight in listed_expirations(session, shape):
        dte = (expiry - session).days
        grid = strike_grid_cents(spot, strike_step, atm_vol, dte, shape)
        strikes.append(grid)
        ordinals.append(np.full(grid.size, expiry.toordinal(), dtype=np.int64))
        dtes.append(np.full(grid.size, dte, dtype=np.int64))
        weights.append(np.full(grid.size, weight))
    count = sum(grid.size for grid in strikes)
    return ListedContracts(
        expiration_ordinals=np.repeat(np.concatenate(ordinals), 2),
        strike_cents=np.repeat(np.concatenate(strikes), 2),
        is_call=np.tile(np.array([True, False]), count),
        days_to_expiry=np.repeat(np.concatenate(dtes), 2),
        expiry_weight=np.repeat(np.concatenate(weights), 2),
    )


# Open interest drifts by a sum of slow sinusoids per contract: smooth in the day index (a few
# percent a day), different for every contract, and evaluable for any day without history.
OI_WAVES: tuple[tuple[float, float], ...] = ((0.06, 11.0), (0.10, 29.0), (0.15, 73.0))


def open_interest(
    profile: SymbolProfile,
    contracts: ListedContracts,
    symbol_seed: int,
    day: int,
    positioning_spot: float,
    strike_step: float,
) -> np.ndarray:
    """Positions crowd round strikes near the (slow) spot, puts below it and calls above it.

    Every input moves smoothly with the session, so OI on D and D+1 differ by a few percent, which is
    what makes day-over-day GEX, wall and flip changes meaningful.
    """
    dte = contracts.days_to_expiry
    horizon = np.sqrt(np.maximum(dte, 21) / 365.0)
    deviations = np.log(contracts.strike / positioning_spot) / (profile.base_vol * horizon)
    centre = np.where(contracts.is_call, 0.5, -0.7)
    crowding = np.exp(-0.5 * ((deviations - centre) / 1.1) ** 2)
    term = contracts.expiry_weight * (0.35 + 0.65 * np.exp(-dte / 75.0))
    side = np.where(contracts.is_call, 1.0, profile.put_call_ratio)
    level = profile.oi_scale * (crowding * term * _roundness(contracts.strike_cents, strike_step) * side + 0.006)
    keys = contracts.keys(symbol_seed)
    drift = sum(
        amplitude * np.sin(2 * np.pi * (day / period + splitmix_uniform(keys, stable_seed(symbol_seed, period))))
        for amplitude, period in OI_WAVES
    )
    return np.floor(level * np.exp(drift) + 0.5).astype(np.int64)


def _roundness(strike_cents: np.ndarray, strike_step: float) -> np.ndarray:
    """Traders pile into round strikes: ten increments apart most, every other increment a little."""
    step_cents = round(strike_step * 100)
    return np.where(
        strike_cents % (10 * step_cents) == 0, 1.8, np.where(strike_cents % (2 * step_cents) == 0, 1.3, 1.0)
    )


def quoted_prices(
    theoretical: np.ndarray, atm_closeness: np.ndarray, days_to_expiry: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bid/ask around the model price on the exchange tick (5 cents from $3), last inside them.

    Spreads grow slower than price (cheap options quote ~5-10% wide, deep ITM ones ~1-2%) and widen
    away from the money and in LEAPS, where market makers carry more risk per trade.
    """
    illiquidity = (1.0 + 1.5 * (1.0 - atm_closeness)) * np.where(days_to_expiry > 180, 1.5, 1.0)
    tick = np.where(theoretical >= 3.0, 0.05, 0.01)
    half_spread = np.maximum((0.01 + 0.025 * theoretical**0.7) * illiquidity, tick) / 2
    bid = np.maximum(np.floor((theoretical - half_spread) / tick + 1e-9) * tick, 0.0)
    ask = np.maximum(np.ceil((theoretical + half_spread) / tick - 1e-9) * tick, bid + 0.01)
    last = np.clip(theoretical + half_spread * rng.uniform(-1.0, 1.0, theoretical.size), np.maximum(bid, 0.01), ask)
    return np.round(bid, 2), np.round(ask, 2), np.round(last, 2)


def simulate_chain(symbol: str, session: date, seed: int, shape: ChainShape) -> SimulatedChain:
    """The full chain of `symbol` at the close of `session`."""
    profile = symbol_profile(symbol, seed)
    path = underlying_path(symbol, seed)
    day = day_index(session)
    spot = round(float(path.closes[day]), 2)
    vol_factor = float(path.vol_factor[day])
    strike_step = float(path.strike_step[day])
    contracts = listed_contracts(session, spot, strike_step, profile.base_vol * vol_factor, shape)

    strike, years = contracts.strike, contracts.years
    iv = implied_vol_surface(profile, vol_factor, spot, strike, years)
    model = black_scholes(spot, strike, years, iv, contracts.is_call, RISK_FREE_RATE)
    oi = open_interest(
        profile, contracts, stable_seed(seed, "contracts", symbol), day, float(path.positioning_spot[day]), strike_step
    )
    rng = np.random.default_rng(stable_seed(seed, "session", symbol, session.isoformat()))
    atm_closeness = np.exp(-0.5 * (np.log(strike / spot) / (iv * np.sqrt(years))) ** 2)
    bid, ask, last = quoted_prices(model.price, atm_closeness, contracts.days_to_expiry, rng)
    turnover = 0.02 + 0.45 * atm_closeness * np.exp(-contracts.days_to_expiry / 12.0)
    volume = np.floor(oi * turnover * rng.lognormal(0.0, 0.5, oi.size)).astype(np.int64)
    return SimulatedChain(
        underlying_close=spot,
        expiration_ordinals=contracts.expiration_ordinals,
        strike_cents=contracts.strike_cents,
        is_call=contracts.is_call,
        bid=bid,
        ask=ask,
        last=last,
        volume=volume,
        open_interest=oi,
        implied_volatility=iv,
        delta=model.delta,
        gamma=model.gamma,
        theta=model.theta,
        vega=model.vega,
    )
