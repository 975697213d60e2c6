"""What the simulated market lists on a session: its expirations and each expiration's strikes.

Listing follows the exchanges' rules closely enough that a chain has a real chain's shape:

- Expirations are NYSE sessions (`markets.calendar.exchange_holidays`, the XNYS rules): a weekly
  whose Friday is a holiday expires on the session before it, and so does a monthly (third Friday:
  June 2026's is Juneteenth, so it expires Thursday 2026-06-18).
- Every expiration is listed from a fixed number of calendar days before it until it expires, so a
  contract, once listed, stays listed to its expiry and is gone after it; the number of days is the
  longest of the categories the date belongs to (a monthly is also a weekly and, for an index, a
  daily). Index names list every session 4 weeks ahead, Fridays 9 weeks, monthlies 6 months,
  quarter-ends 13 months and December/January LEAPS 3 years; single names list Fridays 8 weeks,
  monthlies 100 days, quarterly-cycle monthlies (March, June, September, December) 9 months and
  January LEAPS 3 years. The farthest expiry is therefore always more than 2 years away.
- Strikes sit on increments set by the price level when the expiry was listed (`INDEX_STEPS`,
  `SINGLE_STEPS`): a coarse increment across a band of a few standard deviations of the expiry's
  move, and a fine one (SPY $1, AAPL $2.50) near the money once the expiry is within
  `FINE_DAYS`. The band is the hull of every day's band since listing, so strikes are added as the
  price moves and never removed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache

import numpy as np

from markets.calendar import DEFAULT_CALENDAR, exchange_holidays

EPOCH = date(2000, 1, 1)
HORIZON = date(2049, 12, 31)
# Calendar days an expiry is listed before it, by category (index names / single names).
INDEX_DAILY_DAYS, INDEX_WEEKLY_DAYS, INDEX_MONTHLY_DAYS, INDEX_QUARTERLY_DAYS = 28, 63, 190, 400
SINGLE_WEEKLY_DAYS, SINGLE_MONTHLY_DAYS, SINGLE_QUARTERLY_CYCLE_DAYS = 56, 100, 270
LEAPS_DAYS = 1096
# The grid of days the listing rules are evaluated on: every session's farthest expiry fits.
GRID_DAYS = (HORIZON - EPOCH).days + 1 + LEAPS_DAYS + 40
# Share of open interest an expiry draws, by category (monthlies and quarter-ends are crowded).
DAILY_WEIGHT, WEEKLY_WEIGHT, QUARTERLY_WEIGHT, MONTHLY_WEIGHT, LEAPS_WEIGHT = 0.45, 1.0, 1.7, 2.5, 1.4

# (price ceiling, fine increment, coarse increment) in dollars, for index names and single names; a
# coarse increment is a multiple of the fine one, so the two grids nest.
INDEX_STEPS: tuple[tuple[float, float, float], ...] = (
    (100.0, 0.5, 2.5),
    (1000.0, 1.0, 5.0),
    (2500.0, 5.0, 25.0),
    (10000.0, 10.0, 50.0),
    (math.inf, 50.0, 250.0),
)
SINGLE_STEPS: tuple[tuple[float, float, float], ...] = (
    (25.0, 0.5, 1.0),
    (75.0, 1.0, 5.0),
    (500.0, 2.5, 5.0),
    (1500.0, 5.0, 10.0),
    (math.inf, 10.0, 50.0),
)
# A price must sit this far inside a new increment bucket before listings switch to it, so a price
# hovering at a boundary does not alternate increments from one expiry to the next.
STEP_HYSTERESIS = 1.05
# Strike band half-widths in standard deviations of the expiry's move (base volatility × √τ, τ
# floored at TAU_FLOOR_DAYS); the put side reaches further, as real listings do.
COARSE_SIGMAS, FINE_SIGMAS, PUT_SIDE_EXTENSION = 1.3, 0.4, 1.3
FINE_DAYS = 63
# Bands follow volatility only within these levels: a 60%-vol name lists a wider range than a 20% one,
# not three times as wide, and a 15%-vol one not a narrower one.
BAND_VOL_FLOOR, BAND_VOL_CAP = 0.2, 0.4
# So that today's spot always sits well inside a short-dated expiry's band (exchanges add strikes as
# the price moves), no band is narrower than three weeks of moves.
TAU_FLOOR_DAYS = 21
# A minimum fine band (fraction of spot) so even a short-dated expiry has fine strikes around spot.
MIN_FINE_BAND = 0.015


def day_index(day: date) -> int:
    return (day - EPOCH).days


@dataclass(frozen=True)
class ExpirySchedule:
    """Per grid day: how many calendar days ahead it is listed as an expiry (-1: never) and its OI weight."""

    listed_days_ahead: np.ndarray
    weight: np.ndarray
    previous_session: np.ndarray  # the latest session strictly before each day (-1 before the first)


@lru_cache(maxsize=1)
def session_mask() -> np.ndarray:
    """True on every grid day that is an NYSE session (weekdays less the exchange's holidays)."""
    days = np.arange(GRID_DAYS)
    mask = (EPOCH.weekday() + days) % 7 < 5
    last = EPOCH + timedelta(days=GRID_DAYS - 1)
    closed = [day_index(day) for day in exchange_holidays(DEFAULT_CALENDAR) if EPOCH <= day <= last]
    mask[np.asarray(closed, dtype=np.int64)] = False
    mask.setflags(write=False)
    return mask


@lru_cache(maxsize=2)
def expiry_schedule(index_like: bool) -> ExpirySchedule:
    """The listing rules of one name type, evaluated once per process over the whole grid."""
    sessions = session_mask()
    days = np.arange(GRID_DAYS)
    latest = np.maximum.accumulate(np.where(sessions, days, -1))  # the latest session on or before
    previous = np.concatenate(([-1], latest[:-1]))

    session_days = np.flatnonzero(sessions)
    week = (session_days + EPOCH.weekday()) // 7  # Monday-based weeks
    weekly = session_days[np.append(week[1:] != week[:-1], True)]  # the last session of each week

    monthly, quarterly, leaps = [], [], []
    year, month = EPOCH.year, EPOCH.month
    while (end := _month_end(year, month)) < EPOCH + timedelta(days=GRID_DAYS):
        expiry = int(latest[day_index(third_friday(year, month))])
        monthly.append(expiry)
        if month == 1 or (index_like and month == 12):
            leaps.append(expiry)
        if month % 3 == 0:
            quarterly.append(int(latest[day_index(end)]) if index_like else expiry)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)

    ahead = np.full(GRID_DAYS, -1, dtype=np.int64)
    weight = np.zeros(GRID_DAYS)
    if index_like:
        categories = (
            (session_days, INDEX_DAILY_DAYS, DAILY_WEIGHT),
            (weekly, INDEX_WEEKLY_DAYS, WEEKLY_WEIGHT),
            (quarterly, INDEX_QUARTERLY_DAYS, QUARTERLY_WEIGHT),
            (monthly, INDEX_MONTHLY_DAYS, MONTHLY_WEIGHT),
            (leaps, LEAPS_DAYS, LEAPS_WEIGHT),
        )
    else:
        categories = (
            (weekly, SINGLE_WEEKLY_DAYS, WEEKLY_WEIGHT),
            (quarterly, SINGLE_QUARTERLY_CYCLE_DAYS, MONTHLY_WEIGHT),
            (monthly, SINGLE_MONTHLY_DAYS, MONTHLY_WEIGHT),
            (leaps, LEAPS_DAYS, LEAPS_WEIGHT),
        )
    for members, days_ahead, share in categories:
        members = np.asarray(members, dtype=np.int64)
        members = members[members >= 0]
        ahead[members] = np.maximum(ahead[members], days_ahead)
        weight[members] = np.maximum(weight[members], share)
    for array in (ahead, weight, previous):
        array.setflags(write=False)
    return ExpirySchedule(listed_days_ahead=ahead, weight=weight, previous_session=previous)


def third_friday(year: int, month: int) -> date:
    first = date(year, month, 1)
    return first + timedelta(days=(4 - first.weekday()) % 7 + 14)


def _month_end(year: int, month: int) -> date:
    following = date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1)
    return following - timedelta(days=1)


def listed_expiries(day: int, index_like: bool) -> np.ndarray:
    """Grid days of the expirations listed on `day` (ascending; `day` itself when it is one)."""
    ahead = expiry_schedule(index_like).listed_days_ahead[day : day + LEAPS_DAYS + 1]
    return day + np.flatnonzero(ahead >= np.arange(ahead.size))


def step_buckets(reference_spot: np.ndarray, index_like: bool) -> np.ndarray:
    """Index into the name type's increment table per day: follows the price, switching only once
    clearly past a bucket boundary.

    A sequential scan because the hysteresis depends on the previous day's bucket; it runs once per
    symbol per process (the underlying path is cached).
    """
    ceilings = np.array([ceiling for ceiling, _, _ in (INDEX_STEPS if index_like else SINGLE_STEPS)][:-1])
    bucket = np.searchsorted(ceilings, reference_spot, side="right").tolist()
    upper = np.searchsorted(ceilings, reference_spot * STEP_HYSTERESIS, side="right").tolist()
    lower = np.searchsorted(ceilings, reference_spot / STEP_HYSTERESIS, side="right").tolist()
    chosen = np.empty(len(bucket), dtype=np.int64)
    current = bucket[0]
    for position, (candidate, high, low) in enumerate(zip(bucket, upper, lower, strict=True)):
        if candidate != current and high == low == candidate:
            current = candidate
        chosen[position] = current
    return chosen


def increments_cents(bucket: int, index_like: bool) -> tuple[int, int]:
    """(fine, coarse) strike increments in cents of one bucket."""
    _, fine, coarse = (INDEX_STEPS if index_like else SINGLE_STEPS)[bucket]
    return round(fine * 100), round(coarse * 100)


@dataclass(frozen=True)
class StrikeBands:
    """Per listed expiry, the coarse and the fine strike band in cents (low > high: none)."""

    coarse_low: np.ndarray
    coarse_high: np.ndarray
    fine_low: np.ndarray
    fine_high: np.ndarray

    def strikes(self, expiry: int, fine_cents: int, coarse_cents: int) -> np.ndarray:
        """Expiry number `expiry`'s strikes: coarse multiples in its coarse band, fine ones in its fine band."""
        coarse = _multiples(float(self.coarse_low[expiry]), float(self.coarse_high[expiry]), coarse_cents)
        fine = _multiples(float(self.fine_low[expiry]), float(self.fine_high[expiry]), fine_cents)
        return np.union1d(coarse, fine)

    def lists(
        self, expiry: np.ndarray, strike_cents: np.ndarray, fine_cents: np.ndarray, coarse_cents: np.ndarray
    ) -> np.ndarray:
        """Which of these (expiry number, strike) pairs the bands list: the rule of `strikes`, as a mask."""
        coarse = (
            (strike_cents % coarse_cents == 0)
            & (strike_cents >= self.coarse_low[expiry])
            & (strike_cents <= self.coarse_high[expiry])
        )
        fine = (
            (strike_cents % fine_cents == 0)
            & (strike_cents >= self.fine_low[expiry])
            & (strike_cents <= self.fine_high[expiry])
        )
        return coarse | fine


def strike_hulls(
    closes: np.ndarray,
    band_vol: float,
    expiries: np.ndarray,
    listings: np.ndarray,
    previous: int,
    today: int,
    band_scale: float,
) -> tuple[StrikeBands, StrikeBands]:
    """Per expiry, the hull of every day's bands from its listing through `previous` (the session
    before) and through `today`.

    Both from one vectorised pass over every (expiry, day since listing), because a contract's open
    interest the session before is zero unless it was listed then. `listings` must not be after
    `today`.
    """
    lengths = today - listings + 1
    starts = np.concatenate(([0], np.cumsum(lengths)[:-1]))
    days = np.repeat(listings - starts, lengths) + np.arange(int(lengths.sum()))
    to_go = np.repeat(expiries, lengths) - days
    spots = closes[days] * 100.0
    spread = band_vol * band_scale * np.sqrt(np.maximum(to_go, TAU_FLOOR_DAYS) / 365.0)
    fine_spread = np.maximum(FINE_SIGMAS * spread, MIN_FINE_BAND * band_scale)
    near = to_go <= FINE_DAYS
    bands = (
        spots * np.exp(-COARSE_SIGMAS * PUT_SIDE_EXTENSION * spread),
        spots * np.exp(COARSE_SIGMAS * spread),
        np.where(near, spots * np.exp(-PUT_SIDE_EXTENSION * fine_spread), math.inf),
        np.where(near, spots * np.exp(fine_spread), -math.inf),
    )
    lowest = (True, False, True, False)
    through_today = StrikeBands(
        *((np.minimum if low else np.maximum).reduceat(band, starts) for band, low in zip(bands, lowest, strict=True))
    )
    then = days <= previous
    through_previous = StrikeBands(
        *(
            (np.minimum if low else np.maximum).reduceat(np.where(then, band, math.inf if low else -math.inf), starts)
            for band, low in zip(bands, lowest, strict=True)
        )
    )
    return through_previous, through_today


def _multiples(low: float, high: float, step: int) -> np.ndarray:
    if not low <= high:
        return np.empty(0, dtype=np.int64)
    first = max(1, math.ceil(low / step))
    last = math.floor(high / step)
    return np.arange(first, last + 1, dtype=np.int64) * step
