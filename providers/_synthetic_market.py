"""The simulated market behind the synthetic provider, as numpy arrays (no records, no I/O).

Realistic enough to test dealer metrics on. What it lists is in `providers._synthetic_listing`;
here is how it is priced and held. The ranges below are what `tests/unit/test_synthetic_market.py`
checks on the default market (seed 20240101, late 2025):

- Chain size per session: index names (SPY, QQQ, IWM, DIA, SPX, NDX, RUT, XSP, DJX) 2,500-11,000
  contracts, SPY at least 4,000; single names 250-4,500 (AAPL, MSFT, NVDA 1,000-3,500).
- Strike spacing near the money (the five strikes nearest spot, nearest expiry): $1 for SPY, QQQ,
  IWM; $10 for SPX; $2.50 for AAPL, MSFT, NVDA; by price level for the rest (`SINGLE_STEPS`: a
  $20 name $0.50, a $60 name $1).
- Expirations: index names expire every session of the coming weeks (5 a week without holidays),
  single names once a week (Fridays, or the session before a Friday holiday); the farthest expiry
  is 2-3 years away; no expiry is a holiday or a weekend.
- Open interest is a path: from one session to the next, |ΔOI| ≤ that session's volume on every
  contract listed on both (a new contract's OI ≤ its volume); an expiry's total OI grows into its
  expiration (at least 1.4× from 20 sessions before to its last session), and the day after it
  expires none of its contracts are listed.
- Put/call open interest: index names 1.25-2.2 (put-heavy), single names 0.5-1.0 (call-heavy, most
  0.6-0.9).
- IV skew, 30-45 days out, one standard deviation of moneyness either side: index names have a
  steep put skew (the put-side IV at least 4 points above the call side, the call side below the
  money); single names a smile (both sides above the money, the put side higher).
- Pricing inputs: r = `RISK_FREE_RATE` for every name; q from the symbol's profile (index names
  0.6-1.6%, single names 0-4%, a third of unknown names 0). Greeks are Black-Scholes with exactly
  these r and q, T = max(DTE, 1)/365, on the stored IV and the stored (cent-rounded) close, so a
  consumer re-pricing with the snapshot's r and q reproduces them.

Every random number is derived from a stable digest of (seed, symbol, ...) rather than Python's
`hash()`, which is salted per process: a backfill split across workers must see the same market.
What must stay continuous from one session to the next (the underlying's path, the volatility
regime, open interest) is a closed-form function of the day, not a per-session draw, so any session
can be generated alone, in any order, in any process, and day-over-day dealer metrics move the way
real ones do.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

import numpy as np

from providers._synthetic_listing import (
    BAND_VOL_CAP,
    BAND_VOL_FLOOR,
    EPOCH,
    GRID_DAYS,
    HORIZON,
    PUT_SIDE_EXTENSION,
    day_index,
    expiry_schedule,
    increments_cents,
    listed_expiries,
    step_buckets,
    strike_hulls,
)

__all__ = ["EPOCH", "HORIZON", "ChainShape", "SimulatedChain", "simulate_chain"]

# The simulated history: one calendar-day grid, generated whole so a session's spot never depends on
# which other sessions were asked for. Prices are pinned to the reference table at ANCHOR.
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
INDEX_LIKE = frozenset({"SPY", "QQQ", "IWM", "DIA", "SPX", "NDX", "RUT", "XSP", "DJX"})


@dataclass(frozen=True)
class SymbolProfile:
    """What makes one underlying's market look like itself: price level, volatility, positioning."""

    index_like: bool
    reference_price: float  # spot at ANCHOR
    base_vol: float  # long-run implied volatility (decimal)
    oi_scale: float  # open interest of a crowded near-the-money contract
    put_call_ratio: float  # put OI per call OI at the crowded strikes
    skew: float  # IV slope per standard deviation of moneyness (negative: put skew)
    smile: float  # IV curvature per squared standard deviation
    dividend_yield: float  # continuous, annual (decimal)


# (reference price, long-run vol, OI scale, dividend yield) for names people will try first.
KNOWN_SYMBOLS: dict[str, tuple[float, float, float, float]] = {
    "SPY": (600.0, 0.16, 9000.0, 0.012),
    "QQQ": (520.0, 0.20, 6000.0, 0.006),
    "IWM": (230.0, 0.22, 5000.0, 0.012),
    "DIA": (430.0, 0.15, 1000.0, 0.016),
    "SPX": (6000.0, 0.16, 4000.0, 0.013),
    "XSP": (600.0, 0.16, 600.0, 0.013),
    "NDX": (21000.0, 0.20, 600.0, 0.007),
    "RUT": (2300.0, 0.22, 800.0, 0.013),
    "DJX": (430.0, 0.15, 300.0, 0.016),
    "AAPL": (230.0, 0.26, 12000.0, 0.004),
    "MSFT": (430.0, 0.24, 6000.0, 0.007),
    "NVDA": (140.0, 0.50, 20000.0, 0.0003),
    "TSLA": (350.0, 0.60, 12000.0, 0.0),
    "AMZN": (220.0, 0.32, 10000.0, 0.0),
    "META": (600.0, 0.35, 4000.0, 0.003),
    "GOOGL": (180.0, 0.30, 8000.0, 0.004),
    "GOOG": (180.0, 0.30, 4000.0, 0.004),
    "AMD": (140.0, 0.48, 10000.0, 0.0),
    "NFLX": (900.0, 0.38, 2000.0, 0.0),
    "BRK.B": (470.0, 0.18, 1500.0, 0.0),
    "JPM": (240.0, 0.22, 3000.0, 0.02),
    "GLD": (240.0, 0.15, 6000.0, 0.0),
    "TLT": (90.0, 0.15, 8000.0, 0.038),
}


@dataclass(frozen=True)
class ChainShape:
    """How much of the listed market to generate; the default is the whole realistic listing.

    Tests and benches that need small or exact sizes cut it: `max_expirations` keeps the nearest
    expiries, `max_strikes_per_expiry` each expiry's strikes nearest the money, `band_scale` widens
    (> 1) or narrows (< 1) every strike band, and `contracts` gives exactly that many contracts, the
    nearest the money, widening the bands as far as that takes. A cut chain's contracts carry the
    open interest, prices and greeks they have in the full chain (each is per contract), and the
    same volume unless the bands had to widen (a strike listed earlier under them had OI before).
    """

    max_expirations: int | None = None
    max_strikes_per_expiry: int | None = None
    band_scale: float = 1.0
    contracts: int | None = None

    def __post_init__(self) -> None:
        # An empty chain is an error, never a default.
        for name in ("max_expirations", "max_strikes_per_expiry", "contracts"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"ChainShape needs {name} >= 1 (or None for the whole listing)")
        if not 0.0 < self.band_scale <= 20.0:
            raise ValueError("ChainShape needs 0 < band_scale <= 20")


@dataclass(frozen=True)
class UnderlyingPath:
    """The whole simulated history of one underlying, one entry per calendar day since EPOCH."""

    closes: np.ndarray
    positioning_spot: np.ndarray
    vol_factor: np.ndarray
    step_bucket: np.ndarray  # index into the name type's strike increment table


@dataclass(frozen=True)
class SimulatedChain:
    """One symbol-day's chain as parallel arrays, sorted by (expiration, strike, type), calls first."""

    underlying_close: float
    risk_free_rate: float
    dividend_yield: float
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
    u_price, u_vol, u_oi, u_pcr, u_skew, u_dividend = _unit(stable_seed(seed, "profile", symbol), 6)
    index_like = symbol in INDEX_LIKE
    if symbol in KNOWN_SYMBOLS:
        price, vol, oi_scale, dividend_yield = KNOWN_SYMBOLS[symbol]
    else:
        price = float(np.exp(np.log(10.0) + u_price * np.log(40.0)))  # $10 .. $400
        vol = 0.22 + 0.43 * float(u_vol)
        oi_scale = float(np.exp(np.log(1000.0) + u_oi * np.log(8.0)))  # 1k .. 8k
        # A third pay nothing; the rest 0.3% .. 3.5%.
        dividend_yield = 0.0 if u_dividend < 1 / 3 else round(0.003 + 0.032 * (1.5 * float(u_dividend) - 0.5), 4)
    return SymbolProfile(
        index_like=index_like,
        reference_price=price,
        base_vol=vol,
        oi_scale=oi_scale,
        put_call_ratio=(1.5 + 0.35 * float(u_pcr)) if index_like else (0.68 + 0.18 * float(u_pcr)),
        skew=(-0.17 - 0.03 * float(u_skew)) if index_like else (-0.03 - 0.035 * float(u_skew)),
        smile=0.035 if index_like else 0.08,
        dividend_yield=dividend_yield,
    )


@lru_cache(maxsize=256)
def underlying_path(symbol: str, seed: int) -> UnderlyingPath:
    """A mean-reverting log-price walk on weekdays (weekends carry no move), pinned to the profile at ANCHOR.

    Its daily volatility follows the same slow regime factor as the options' ATM level, so realised
    and implied volatility agree. It covers the listing grid (past HORIZON) so listing rules can
    read any day; only days up to HORIZON are ever a session's close.
    """
    profile = symbol_profile(symbol, seed)
    days = np.arange(GRID_DAYS)
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
        step_bucket=step_buckets(positioning_spot, profile.index_like),
    )
    for array in (path.closes, path.positioning_spot, path.vol_factor, path.step_bucket):
        array.setflags(write=False)
    return path


def _mean_reverting_walk(innovations: np.ndarray, weekday: np.ndarray, start: float) -> np.ndarray:
    """AR(1) on trading days; `start` is drawn from its stationary spread so early years look like the rest.

    A sequential scan (the recursion has no stable closed form over 19k days); it runs once per
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


_erfc = np.frompyfunc(math.erfc, 1, 1)


def norm_cdf_pair(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(N(x), N(−x)) from one math.erfc per element: the tail side exact to double precision, the
    other as one minus it (exact to the last bit of a number near 1)."""
    x = np.asarray(x, dtype=np.float64)
    tail = 0.5 * _erfc(np.abs(x) / math.sqrt(2.0)).astype(np.float64)
    return np.where(x >= 0, 1.0 - tail, tail), np.where(x >= 0, tail, 1.0 - tail)


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
    spot: float,
    strike: np.ndarray,
    years: np.ndarray,
    vol: np.ndarray,
    is_call: np.ndarray,
    rate: float,
    dividend_yield: float,
) -> BlackScholes:
    """European Black-Scholes-Merton with a continuous dividend yield, vectorised.

    gamma = e^(−qT) φ(d1) / (S σ √T), d1 = (ln(S/K) + (r − q + σ²/2) T) / (σ √T): the formula the
    dealer model re-prices with. Puts use N(−x) directly to keep tail precision.
    """
    root_t = np.sqrt(years)
    vol_root_t = vol * root_t
    d1 = (np.log(spot / strike) + (rate - dividend_yield + 0.5 * vol**2) * years) / vol_root_t
    d2 = d1 - vol_root_t
    discount = np.exp(-rate * years)
    carry = np.exp(-dividend_yield * years)
    n_d1, n_minus_d1 = norm_cdf_pair(d1)
    n_d2, n_minus_d2 = norm_cdf_pair(d2)
    density = norm_pdf(d1)
    decay = -spot * carry * density * vol / (2 * root_t)
    call_theta = decay - rate * strike * discount * n_d2 + dividend_yield * spot * carry * n_d1
    put_theta = decay + rate * strike * discount * n_minus_d2 - dividend_yield * spot * carry * n_minus_d1
    return BlackScholes(
        # Far out of the money both terms round to a few ulps apart: never below zero.
        price=np.maximum(
            np.where(
                is_call,
                spot * carry * n_d1 - strike * discount * n_d2,
                strike * discount * n_minus_d2 - spot * carry * n_minus_d1,
            ),
            0.0,
        ),
        delta=np.where(is_call, carry * n_d1, -carry * n_minus_d1),
        gamma=carry * density / (spot * vol_root_t),
        theta=np.where(is_call, call_theta, put_theta) / 365.0,
        vega=spot * carry * density * root_t / 100.0,
    )


def implied_vol_surface(
    profile: SymbolProfile, vol_factor: float, spot: float, strike: np.ndarray, years: np.ndarray
) -> np.ndarray:
    """ATM term structure plus a skewed smile in standard deviations of moneyness from the forward.

    The short end carries today's regime and the long end the symbol's long-run level, so a stressed
    spell shows up as backwardation. Moneyness is soft-clipped so the wings flatten instead of
    exploding for 0-DTE contracts.
    """
    atm = profile.base_vol + (profile.base_vol * vol_factor - profile.base_vol) * np.exp(-years / 0.3)
    forward = spot * np.exp((RISK_FREE_RATE - profile.dividend_yield) * years)
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

    expiry_day: np.ndarray  # grid day of the expiration
    listing_day: np.ndarray  # grid day the expiration was first listed
    strike_cents: np.ndarray
    is_call: np.ndarray
    fine_cents: np.ndarray  # the expiry's fine strike increment (round strikes crowd)
    expiry_weight: np.ndarray  # the expiry's share of open interest (monthlies are crowded)
    listed_before: np.ndarray  # listed on the session before too (else its OI then was 0)

    @property
    def strike(self) -> np.ndarray:
        return self.strike_cents / 100.0

    def days_to_expiry(self, day: int) -> np.ndarray:
        return self.expiry_day - day

    def expiration_ordinals(self) -> np.ndarray:
        return self.expiry_day + EPOCH.toordinal()

    def keys(self, symbol_seed: int) -> np.ndarray:
        """One integer per contract of one symbol, for per-contract hashing."""
        packed = (self.expiration_ordinals().astype(np.uint64) << np.uint64(34)) | (
            self.strike_cents.astype(np.uint64) << np.uint64(1)
        )
        return (packed | self.is_call.astype(np.uint64)) ^ np.uint64(symbol_seed & 0xFFFFFFFFFFFFFFFF)

    def take(self, rows: np.ndarray) -> ListedContracts:
        return ListedContracts(
            expiry_day=self.expiry_day[rows],
            listing_day=self.listing_day[rows],
            strike_cents=self.strike_cents[rows],
            is_call=self.is_call[rows],
            fine_cents=self.fine_cents[rows],
            expiry_weight=self.expiry_weight[rows],
            listed_before=self.listed_before[rows],
        )


def listed_contracts(
    profile: SymbolProfile, path: UnderlyingPath, day: int, previous: int, band_scale: float, shape: ChainShape
) -> ListedContracts:
    """Every listed expiry's strikes on `day`, each strike as a call and a put (calls first)."""
    schedule = expiry_schedule(profile.index_like)
    expiries = listed_expiries(day, profile.index_like)
    if shape.max_expirations is not None:
        expiries = expiries[: shape.max_expirations]
    listings = expiries - schedule.listed_days_ahead[expiries]
    first_day = np.maximum(listings, 0)
    increments = np.array(
        [increments_cents(bucket, profile.index_like) for bucket in path.step_bucket[first_day].tolist()],
        dtype=np.int64,
    ).reshape(-1, 2)
    band_vol = min(max(profile.base_vol, BAND_VOL_FLOOR), BAND_VOL_CAP)
    before, today = strike_hulls(path.closes, band_vol, expiries, first_day, previous, day, band_scale)
    spot_cents = path.closes[day] * 100.0
    grids = []
    for number, (fine, coarse) in enumerate(increments.tolist()):
        strikes = today.strikes(number, fine, coarse)
        if shape.max_strikes_per_expiry is not None and strikes.size > shape.max_strikes_per_expiry:
            distance = np.log(strikes / spot_cents)
            scaled = np.where(distance < 0, -distance / PUT_SIDE_EXTENSION, distance)
            strikes = np.sort(strikes[np.argsort(scaled, kind="stable")[: shape.max_strikes_per_expiry]])
        grids.append(strikes)
    counts = np.array([grid.size for grid in grids], dtype=np.int64)
    number = np.repeat(np.arange(expiries.size), counts * 2)
    strikes = np.repeat(np.concatenate(grids) if grids else np.empty(0, dtype=np.int64), 2)
    fine, coarse = increments[number, 0], increments[number, 1]
    return ListedContracts(
        expiry_day=expiries[number],
        listing_day=listings[number],
        strike_cents=strikes,
        is_call=np.tile(np.array([True, False]), strikes.size // 2),
        fine_cents=fine,
        expiry_weight=schedule.weight[expiries][number],
        listed_before=before.lists(number, strikes, fine, coarse),
    )


def shaped_contracts(
    profile: SymbolProfile, path: UnderlyingPath, day: int, previous: int, shape: ChainShape
) -> ListedContracts:
    """The listing cut to the shape; for an exact `contracts` count, the bands widen until it fits."""
    band_scale = shape.band_scale
    contracts = listed_contracts(profile, path, day, previous, band_scale, shape)
    if shape.contracts is None:
        return contracts
    while contracts.strike_cents.size < shape.contracts and band_scale < 20.0:
        band_scale = min(20.0, band_scale * 1.6)
        contracts = listed_contracts(profile, path, day, previous, band_scale, shape)
    years = np.maximum(contracts.days_to_expiry(day), 30) / 365.0
    distance = np.log(contracts.strike_cents / (path.closes[day] * 100.0))
    scaled = np.where(distance < 0, -distance / PUT_SIDE_EXTENSION, distance) / np.sqrt(years)
    keep = np.sort(np.argsort(scaled, kind="stable")[: shape.contracts])
    return contracts.take(keep)


# Open interest (closed form per contract and day, see `open_interest`).
CALL_CENTRE, PUT_CENTRE, CROWD_WIDTH = 0.4, -0.8, 0.75  # in standard deviations of the expiry's life
BUILD_DAYS = 10.0  # positions open over the first weeks after listing ...
INTO_EXPIRY_DAYS, FAR_SHARE = 30.0, 0.3  # ... and build into expiry from 30% of the final level
FAR_FLOOR = 0.006  # far-from-the-money contracts still hold a little
OI_NOISE_PATHS, OI_NOISE_SHIFTS = 64, 4096
OI_NOISE_SD, OI_NOISE_KEEP = 0.3, 0.95  # log-OI noise: stationary spread, persistence per session


@lru_cache(maxsize=8)
def oi_noise(seed: int) -> np.ndarray:
    """Shared AR(1) paths of log open interest, one step per weekday (paths × weekdays + shifts).

    A contract reads one path at its own offset, so no two contracts move alike and its noise on any
    day is a lookup: OI stays a closed form of the day, with day-over-day moves that persist.
    """
    steps = int(np.count_nonzero((EPOCH.weekday() + np.arange(GRID_DAYS)) % 7 < 5)) + OI_NOISE_SHIFTS + 1
    shocks = np.random.default_rng(stable_seed(seed, "oi-noise")).standard_normal((steps, OI_NOISE_PATHS))
    shocks *= OI_NOISE_SD * math.sqrt(1.0 - OI_NOISE_KEEP**2)
    paths = np.empty((steps, OI_NOISE_PATHS))
    level = shocks[0] / math.sqrt(1.0 - OI_NOISE_KEEP**2)
    for step in range(steps):
        level = OI_NOISE_KEEP * level + shocks[step]
        paths[step] = level
    result = np.ascontiguousarray(paths.T)
    result.setflags(write=False)
    return result


@lru_cache(maxsize=1)
def _weekday_ordinal() -> np.ndarray:
    """Weekdays before each grid day: the noise paths' clock (weekends do not move positions)."""
    weekday = (EPOCH.weekday() + np.arange(GRID_DAYS)) % 7 < 5
    ordinal = np.cumsum(weekday) - weekday
    ordinal.setflags(write=False)
    return ordinal


def open_interest(
    profile: SymbolProfile,
    contracts: ListedContracts,
    keys: np.ndarray,
    symbol_seed: int,
    market_seed: int,
    day: int,
    positioning_spot: float,
) -> np.ndarray:
    """Open interest of every contract at the end of `day`, a closed form of the day.

    Positions crowd round strikes near the (slow) spot, puts below it and calls above it, within a
    width set by the expiry's listed life (so they stay where they were opened rather than shrink as
    expiry nears); they open over the first weeks after listing, build into expiry and carry a
    persistent per-contract noise. Volume is then defined to cover the day's change (`simulate_chain`).
    """
    dte = contracts.expiry_day - day
    age = day - contracts.listing_day
    life = np.maximum(contracts.expiry_day - contracts.listing_day, 21)
    width = profile.base_vol * np.sqrt(np.minimum(life, 365) / 365.0)
    deviations = np.log(contracts.strike / positioning_spot) / width
    centre = np.where(contracts.is_call, CALL_CENTRE, PUT_CENTRE)
    # Positions per unit of log-moneyness: a strike below spot stands for a wider slice of it than one
    # above (strikes are evenly spaced in dollars), so put and call sides weigh as their profile says.
    crowding = np.exp(-0.5 * ((deviations - centre) / CROWD_WIDTH) ** 2) * positioning_spot / contracts.strike
    build = (1.0 - np.exp(-(age + 1) / BUILD_DAYS)) * (FAR_SHARE + (1.0 - FAR_SHARE) * np.exp(-dte / INTO_EXPIRY_DAYS))
    side = np.where(contracts.is_call, 1.0, profile.put_call_ratio)
    level = (
        profile.oi_scale
        * build
        * side
        * (contracts.expiry_weight * crowding * _roundness(contracts.strike_cents, contracts.fine_cents) + FAR_FLOOR)
    )
    path = (keys % np.uint64(OI_NOISE_PATHS)).astype(np.int64)
    offset = (splitmix_uniform(keys, stable_seed(symbol_seed, "oi-offset")) * OI_NOISE_SHIFTS).astype(np.int64)
    noise = oi_noise(market_seed)[path, int(_weekday_ordinal()[day]) + offset]
    return np.floor(level * np.exp(noise) + 0.5).astype(np.int64)


def _roundness(strike_cents: np.ndarray, fine_cents: np.ndarray) -> np.ndarray:
    """Traders pile into round strikes: ten increments apart most, five apart more, two a little."""
    return np.where(
        strike_cents % (10 * fine_cents) == 0,
        1.8,
        np.where(strike_cents % (5 * fine_cents) == 0, 1.35, np.where(strike_cents % (2 * fine_cents) == 0, 1.1, 1.0)),
    )


def quoted_prices(
    theoretical: np.ndarray, atm_closeness: np.ndarray, days_to_expiry: np.ndarray, position_in_spread: np.ndarray
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
    last = np.clip(theoretical + half_spread * (2.0 * position_in_spread - 1.0), np.maximum(bid, 0.01), ask)
    return np.round(bid, 2), np.round(ask, 2), np.round(last, 2)


def simulate_chain(symbol: str, session: date, seed: int, shape: ChainShape) -> SimulatedChain:
    """The full chain of `symbol` at the close of `session` (contracts expiring that session included)."""
    profile = symbol_profile(symbol, seed)
    path = underlying_path(symbol, seed)
    day = day_index(session)
    previous = int(expiry_schedule(profile.index_like).previous_session[day])
    spot = round(float(path.closes[day]), 2)
    vol_factor = float(path.vol_factor[day])
    contracts = shaped_contracts(profile, path, day, previous, shape)

    dte = contracts.days_to_expiry(day)
    strike = contracts.strike
    years = np.maximum(dte, 1) / 365.0  # floored at one day so a 0-DTE contract keeps finite greeks
    iv = implied_vol_surface(profile, vol_factor, spot, strike, years)
    model = black_scholes(spot, strike, years, iv, contracts.is_call, RISK_FREE_RATE, profile.dividend_yield)

    symbol_seed = stable_seed(seed, "contracts", symbol)
    keys = contracts.keys(symbol_seed)
    oi = open_interest(profile, contracts, keys, symbol_seed, seed, day, float(path.positioning_spot[day]))
    held_before = contracts.listed_before & (contracts.listing_day <= previous)
    oi_before = np.where(
        held_before,
        open_interest(
            profile, contracts, keys, symbol_seed, seed, previous, float(path.positioning_spot[max(previous, 0)])
        ),
        0,
    )
    # Volume covers the day's change in open interest (every opening or closing trade is volume) plus
    # churn: trades that offset each other, heaviest near the money and near expiry (0-DTE above all).
    atm_closeness = np.exp(-0.5 * (np.log(strike / spot) / (iv * np.sqrt(years))) ** 2)
    turnover = 0.015 + atm_closeness * (0.5 * np.exp(-dte / 7.0) + np.where(dte == 0, 1.5, 0.0))
    churn_draw = splitmix_uniform(keys, stable_seed(symbol_seed, "churn", day))
    churn = np.floor(np.maximum(oi, oi_before) * turnover * np.exp(2.0 * churn_draw - 1.0)).astype(np.int64)
    volume = np.abs(oi - oi_before) + churn

    position = splitmix_uniform(keys, stable_seed(symbol_seed, "last", day))
    bid, ask, last = quoted_prices(model.price, atm_closeness, dte, position)
    return SimulatedChain(
        underlying_close=spot,
        risk_free_rate=RISK_FREE_RATE,
        dividend_yield=profile.dividend_yield,
        expiration_ordinals=contracts.expiration_ordinals(),
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
