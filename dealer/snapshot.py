"""Dealer metrics of one ticker-day: `compute_snapshot_metrics` and its result record."""

import math
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal

import numpy as np

from dealer._json import MONEY_DIGITS, PRICE_DIGITS, RATIO_DIGITS, json_number, json_numbers, optional_float
from dealer.chain import ChainArrays
from dealer.config import DEFAULT_CONFIG, MODEL_VERSION, DealerConfig
from dealer.eligibility import Eligibility, ExclusionCounts, classify_contracts
from dealer.exposure import StrikeCurve, StrikeGex, Wall, contract_gex, strike_gex_json
from dealer.pricing import PricingInputs, pricing_inputs
from dealer.profile import prepare_profile, read_profile, spot_levels

# The stored profile keeps every PROFILE_STRIDE-th level of the flip grid: with the default grid,
# 81 levels 0.8 S … 1.2 S in steps of 0.5% of S, spot the middle one. The whole grid's range, so a
# flip found anywhere on it lies on the stored curve too.
PROFILE_STRIDE = 2


class SnapshotStatus(StrEnum):
    """How far a ticker-day's snapshot metrics can be trusted (`status_reason` says why)."""

    FULL = "FULL"
    LIMITED = "LIMITED"
    INVALID = "INVALID"


Position = Literal["long_gamma", "short_gamma", "neutral"]

# Every `status_reason` a ticker-day can carry, with its status and meaning: the documented set
# (README "Dealer metrics"); nothing else is ever written.
STATUS_REASONS: dict[str, str] = {
    "ok": "FULL: at least full_min_contracts eligible contracts, an exact spot, IVs to re-price with",
    "few_eligible_contracts": "LIMITED: fewer than full_min_contracts eligible contracts",
    "missing_iv": "LIMITED: no eligible contract has an IV, so gamma_flip and gex_slope are null",
    "estimated_spot": "LIMITED: the spot is an estimated close recorded with the day, not an exact one",
    "empty_chain": "INVALID: the stored chain has no usable contract",
    "missing_spot": "INVALID: no usable close for the session",
    "no_eligible_contracts": "INVALID: no contract passes the eligibility rules",
    "no_chain": "INVALID: no complete snapshot of the ticker for the session in the ledger",
    "unknown_ticker": "INVALID: the ticker is not in the store",
    "error": "ERROR: the ticker-day could not be computed (the row's error says why)",
}


@dataclass(frozen=True)
class SnapshotMetrics:
    """Everything `dealer-v2` says about one ticker-day.

    Counts are always filled. Metric fields are None when `status` is INVALID, and `gamma_flip` /
    `gex_slope` / `profile_gap` are also None when no eligible contract has an IV to re-price with.
    `profile_gap` is (profile at spot − gex_net) / gex_gross: near zero when the source's gammas and
    the re-priced ones agree (same pricing inputs, every eligible contract with an IV). Values are
    kept at full precision here and rounded only by `to_json`.
    """

    status: SnapshotStatus
    status_reason: str
    spot: float | None
    contracts_total: int
    contracts_eligible: int
    excluded: ExclusionCounts
    profile_contracts: int
    profile_missing_iv: int
    open_interest_total: int
    open_interest_calls: int
    open_interest_puts: int
    gamma_oi_share: float | None
    confidence: float
    gex_net: float | None = None
    gex_gross: float | None = None
    gex_calls: float | None = None
    gex_puts: float | None = None
    gamma_flip: float | None = None
    gex_slope: float | None = None
    dgpi: float | None = None
    position: Position | None = None
    call_walls: tuple[Wall, ...] = ()
    put_walls: tuple[Wall, ...] = ()
    model_version: str = MODEL_VERSION
    rows_dropped: int = 0
    include_expiring: bool = False
    pricing: PricingInputs = PricingInputs()
    profile_gap: float | None = None
    # GEX per strike (calls, puts, net) within the wall band (±wall_band of spot), ascending strike:
    # the curve the walls are picked from, kept so a reader can check, re-rank or draw them.
    strike_gex: tuple[StrikeGex, ...] = ()
    # (level, net GEX) of the re-priced profile on every PROFILE_STRIDE-th flip-grid level,
    # ascending: the curve gamma_flip is read from, kept so a chart needs no recomputation.
    gex_profile: tuple[tuple[float, float], ...] = ()

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (for `daily_snapshots.dealer_metrics_json`): rounded, no NaN."""
        return {
            "model_version": self.model_version,
            "status": str(self.status),
            "status_reason": self.status_reason,
            "spot": json_number(self.spot, PRICE_DIGITS),
            "contracts_total": self.contracts_total,
            "contracts_eligible": self.contracts_eligible,
            "excluded": self.excluded.to_json(),
            "profile_contracts": self.profile_contracts,
            "profile_missing_iv": self.profile_missing_iv,
            "open_interest_total": self.open_interest_total,
            "open_interest_calls": self.open_interest_calls,
            "open_interest_puts": self.open_interest_puts,
            "gamma_oi_share": json_number(self.gamma_oi_share, RATIO_DIGITS),
            "confidence": json_number(self.confidence, RATIO_DIGITS),
            "gex_net": json_number(self.gex_net, MONEY_DIGITS),
            "gex_gross": json_number(self.gex_gross, MONEY_DIGITS),
            "gex_calls": json_number(self.gex_calls, MONEY_DIGITS),
            "gex_puts": json_number(self.gex_puts, MONEY_DIGITS),
            "gamma_flip": json_number(self.gamma_flip, PRICE_DIGITS),
            "gex_slope": json_number(self.gex_slope, MONEY_DIGITS),
            "dgpi": json_number(self.dgpi, RATIO_DIGITS),
            "position": self.position,
            "call_walls": [wall.to_json() for wall in self.call_walls],
            "put_walls": [wall.to_json() for wall in self.put_walls],
            "rows_dropped": self.rows_dropped,
            "include_expiring": self.include_expiring,
            "pricing": self.pricing.to_json(),
            "profile_gap": json_number(self.profile_gap, RATIO_DIGITS + 2),
            "strike_gex": strike_gex_json(self.strike_gex),
            "gex_profile": _profile_json(self.gex_profile),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "SnapshotMetrics":
        """Rebuild a stored snapshot, of this model or of `dealer-v1` (which kept expiring contracts
        and priced its profile with r = q = 0: read so, never guessed otherwise)."""
        version = data.get("model_version", MODEL_VERSION)
        return cls(
            status=SnapshotStatus(data["status"]),
            status_reason=data["status_reason"],
            spot=optional_float(data.get("spot")),
            contracts_total=int(data["contracts_total"]),
            contracts_eligible=int(data["contracts_eligible"]),
            excluded=ExclusionCounts.from_json(data.get("excluded", {})),
            profile_contracts=int(data.get("profile_contracts", 0)),
            profile_missing_iv=int(data.get("profile_missing_iv", 0)),
            open_interest_total=int(data["open_interest_total"]),
            open_interest_calls=int(data["open_interest_calls"]),
            open_interest_puts=int(data["open_interest_puts"]),
            gamma_oi_share=optional_float(data.get("gamma_oi_share")),
            confidence=float(data.get("confidence") or 0.0),
            gex_net=optional_float(data.get("gex_net")),
            gex_gross=optional_float(data.get("gex_gross")),
            gex_calls=optional_float(data.get("gex_calls")),
            gex_puts=optional_float(data.get("gex_puts")),
            gamma_flip=optional_float(data.get("gamma_flip")),
            gex_slope=optional_float(data.get("gex_slope")),
            dgpi=optional_float(data.get("dgpi")),
            position=data.get("position"),
            call_walls=tuple(Wall.from_json(wall) for wall in data.get("call_walls", [])),
            put_walls=tuple(Wall.from_json(wall) for wall in data.get("put_walls", [])),
            model_version=version,
            rows_dropped=int(data.get("rows_dropped", 0)),
            include_expiring=bool(data.get("include_expiring", version == "dealer-v1")),
            pricing=PricingInputs.from_json(data.get("pricing")),
            profile_gap=optional_float(data.get("profile_gap")),
            strike_gex=tuple(StrikeGex.from_json(row) for row in data.get("strike_gex", [])),
            gex_profile=tuple((float(level), float(gex)) for level, gex in data.get("gex_profile", [])),
        )


def _profile_json(profile: tuple[tuple[float, float], ...]) -> list[list[float | None]]:
    """`[level, net GEX]` of every profile point, rounded a column at a time."""
    if not profile:
        return []
    levels, values = zip(*profile, strict=True)
    return [
        list(point)
        for point in zip(json_numbers(levels, PRICE_DIGITS), json_numbers(values, MONEY_DIGITS), strict=True)
    ]


def usable_spot(spot: float | None) -> float | None:
    """Spot as a float when it is a finite positive price, else None (treated as missing)."""
    if spot is None:
        return None
    value = float(spot)
    return value if math.isfinite(value) and value > 0.0 else None


def gamma_oi_share(chain: ChainArrays, eligibility: Eligibility) -> float | None:
    """Share of open interest (within the DTE window) on contracts that carry a usable gamma.

    Low-OI contracts count in both numerator and denominator: this measures how much of the
    traded book the source priced, not how much the OI filter kept.
    """
    open_interest = np.where(np.isfinite(chain.open_interest), chain.open_interest, 0.0)
    in_window = eligibility.in_dte_window
    window_total = float(open_interest[in_window].sum())
    if window_total <= 0.0:
        return None
    has_gamma = np.isfinite(chain.gamma) & (chain.gamma >= 0.0)
    return float(open_interest[in_window & has_gamma].sum()) / window_total


def confidence_score(eligible: int, oi_share: float | None, missing_iv: int, config: DealerConfig) -> float:
    """min(1, eligible / full_min_contracts) × gamma_oi_share × (1 − missing_iv / eligible): 1.0 for
    a full chain whose every eligible contract has a gamma and an IV.

    Each factor is in [0, 1], so a thin chain, a source missing greeks on much of the open interest,
    or eligible contracts without an IV (left out of the flip and slope) pull confidence down
    proportionally. INVALID snapshots get 0 from the caller.
    """
    coverage = min(1.0, eligible / config.full_min_contracts)
    priced = 1.0 - missing_iv / eligible if eligible else 0.0
    return coverage * (oi_share or 0.0) * priced


def classify_position(dgpi: float | None, config: DealerConfig) -> Position | None:
    """long_gamma above +threshold, short_gamma below −threshold, else neutral.

    Compared at the precision dgpi is published with, so the label always agrees with the number a
    reader sees (a computed 10.000000000000002 is 10.0 and neutral).
    """
    if dgpi is None:
        return None
    published = round(dgpi, RATIO_DIGITS)
    if published > config.position_threshold:
        return "long_gamma"
    if published < -config.position_threshold:
        return "short_gamma"
    return "neutral"


def compute_snapshot_metrics(
    chain: ChainArrays,
    spot: float | None,
    config: DealerConfig = DEFAULT_CONFIG,
    pricing: PricingInputs | None = None,
) -> SnapshotMetrics:
    """Compute `dealer-v2` metrics for one ticker-day chain at the session's spot.

    `pricing` is the snapshot's one set of pricing inputs (`dealer.pricing.pricing_inputs`); None
    means the source reported none, so the configured defaults. Status precedence: an empty chain is
    `empty_chain`, then an unusable spot (None, NaN, ≤ 0) is `missing_spot`, then zero eligible
    contracts is `no_eligible_contracts`; all three are INVALID with null metrics and the counts
    still reported. Otherwise FULL, or LIMITED for `few_eligible_contracts`, then `missing_iv`.
    """
    pricing = pricing if pricing is not None else pricing_inputs(None, None, config)
    eligibility = classify_contracts(chain, config)
    eligible_chain = chain.subset(eligibility.eligible)
    has_iv = np.isfinite(eligible_chain.implied_volatility) & (eligible_chain.implied_volatility > 0.0)
    open_interest = np.where(np.isfinite(chain.open_interest), chain.open_interest, 0.0)
    calls_open_interest = int(round(float(open_interest[chain.is_call].sum())))
    puts_open_interest = int(round(float(open_interest[~chain.is_call].sum())))
    oi_share = gamma_oi_share(chain, eligibility)
    counts: dict[str, Any] = {
        "contracts_total": len(chain),
        "contracts_eligible": eligibility.eligible_count,
        "excluded": eligibility.excluded,
        "profile_contracts": int(np.count_nonzero(has_iv)),
        "profile_missing_iv": int(np.count_nonzero(~has_iv)),
        "open_interest_total": calls_open_interest + puts_open_interest,
        "open_interest_calls": calls_open_interest,
        "open_interest_puts": puts_open_interest,
        "gamma_oi_share": oi_share,
        "rows_dropped": chain.dropped_rows,
        "include_expiring": config.include_expiring,
        "pricing": pricing,
    }
    spot_value = usable_spot(spot)

    def invalid(reason: str) -> SnapshotMetrics:
        return SnapshotMetrics(
            status=SnapshotStatus.INVALID, status_reason=reason, spot=spot_value, confidence=0.0, **counts
        )

    if len(chain) == 0:
        return invalid("empty_chain")
    if spot_value is None:
        return invalid("missing_spot")
    eligible = eligibility.eligible_count
    if eligible == 0:
        return invalid("no_eligible_contracts")

    missing_iv = counts["profile_missing_iv"]
    if eligible < config.full_min_contracts:
        status, reason = SnapshotStatus.LIMITED, "few_eligible_contracts"
    elif missing_iv == eligible:
        status, reason = SnapshotStatus.LIMITED, "missing_iv"
    else:
        status, reason = SnapshotStatus.FULL, "ok"
    exposure = _exposure_metrics(eligible_chain, spot_value, config)
    return SnapshotMetrics(
        status=status,
        status_reason=reason,
        spot=spot_value,
        confidence=confidence_score(eligible, oi_share, missing_iv, config),
        **counts,
        **exposure,
        **_profile_metrics(eligible_chain.subset(has_iv), spot_value, pricing, exposure, config),
    )


def _exposure_metrics(chain: ChainArrays, spot: float, config: DealerConfig) -> dict[str, Any]:
    """GEX totals, dgpi/position and walls of the eligible contracts at the observed spot."""
    gex = contract_gex(chain, spot)
    calls = chain.is_call
    gex_net = float(gex.sum())
    gex_gross = float(np.abs(gex).sum())
    dgpi = None if gex_gross == 0.0 else max(-100.0, min(100.0, 100.0 * gex_net / gex_gross))
    in_band = np.abs(chain.strike - spot) <= config.wall_band * spot
    curve = StrikeCurve.of(chain.strike[in_band], gex[in_band], calls[in_band])
    return {
        "strike_gex": curve.rows(),
        "gex_net": gex_net,
        "gex_gross": gex_gross,
        "gex_calls": float(gex[calls].sum()),
        "gex_puts": float(gex[~calls].sum()),
        "dgpi": dgpi,
        "position": classify_position(dgpi, config),
        "call_walls": curve.call_walls(spot, config.walls_top_n),
        "put_walls": curve.put_walls(spot, config.walls_top_n),
    }


def _profile_metrics(
    profile_chain: ChainArrays,
    spot: float,
    pricing: PricingInputs,
    exposure: dict[str, Any],
    config: DealerConfig,
) -> dict[str, Any]:
    """gamma_flip, gex_slope and profile_gap from the re-priced profile; None without contracts to re-price.

    gex_slope is the central difference of the profile at S with h = one grid step (0.25% of S by
    default), in GEX dollars per $1 of spot: positive means dealer gamma grows as spot rises.
    """
    if len(profile_chain) == 0:
        return {"gamma_flip": None, "gex_slope": None, "profile_gap": None}
    levels = spot_levels(spot, config)
    profile = prepare_profile(profile_chain, pricing, float(levels[0]), float(levels[-1]))
    gross = exposure["gex_gross"]
    reading = read_profile(profile, levels, spot, PROFILE_STRIDE)
    return {
        "gex_profile": tuple(zip(levels[::PROFILE_STRIDE].tolist(), reading.kept.tolist(), strict=True)),
        "gamma_flip": reading.gamma_flip,
        "gex_slope": reading.slope,
        "profile_gap": (reading.at_spot - exposure["gex_net"]) / gross if gross > 0.0 else None,
    }
