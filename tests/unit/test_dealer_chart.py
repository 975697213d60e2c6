"""The dealer chart and the per-strike / profile data it is drawn from, on a demo-like ticker-day.

The ticker-day is the simulated market's SPY on the demo's last session (about 5,600 contracts),
straight from `simulate_chain`, as the dealer math sees a stored chain.
"""

from __future__ import annotations

import io
import json
from datetime import date
from functools import cache

import numpy as np
import pytest
from PIL import Image

from charts.dealer import (
    CALL_WALL_COLOUR,
    FLIP_COLOUR,
    PUT_WALL_COLOUR,
    SPOT_COLOUR,
    DealerChart,
    PanelBox,
    dealer_chart_path,
    render_dealer_png,
    write_dealer_chart,
)
from dealer import DEFAULT_CONFIG, ChainArrays, SnapshotMetrics, StrikeGex, compute_snapshot_metrics, pricing_inputs
from dealer.eligibility import classify_contracts
from dealer.exposure import contract_gex
from providers._synthetic_market import ChainShape, simulate_chain
from providers.synthetic import DEFAULT_SEED

SESSION = date(2025, 12, 22)


@cache
def spy() -> tuple[ChainArrays, SnapshotMetrics]:
    simulated = simulate_chain("SPY", SESSION, DEFAULT_SEED, ChainShape())
    chain = ChainArrays(
        strike=simulated.strike_cents / 100.0,
        is_call=simulated.is_call,
        dte=simulated.expiration_ordinals - SESSION.toordinal(),
        gamma=simulated.gamma,
        open_interest=simulated.open_interest.astype(np.float64),
        implied_volatility=simulated.implied_volatility,
    )
    pricing = pricing_inputs(simulated.risk_free_rate, simulated.dividend_yield, DEFAULT_CONFIG)
    return chain, compute_snapshot_metrics(chain, simulated.underlying_close, pricing=pricing)


@cache
def spy_chart() -> DealerChart:
    return render_dealer_png(spy()[1], symbol="SPY", session=SESSION, simulated=True)


def test_the_stored_strike_gex_sums_to_the_band_s_share_of_the_totals() -> None:
    chain, metrics = spy()
    assert len(chain) > 5_000 and metrics.status == "FULL"
    stored = SnapshotMetrics.from_json(json.loads(json.dumps(metrics.to_json())))
    rows = stored.strike_gex
    assert [row.strike for row in rows] == sorted({row.strike for row in rows})
    spot = metrics.spot
    assert all(abs(row.strike - spot) <= DEFAULT_CONFIG.wall_band * spot for row in rows)
    # Exactly the eligible contracts within ±20% of spot, recomputed from the chain.
    eligible = chain.subset(classify_contracts(chain, DEFAULT_CONFIG).eligible)
    gex = contract_gex(eligible, spot)
    in_band = np.abs(eligible.strike - spot) <= DEFAULT_CONFIG.wall_band * spot
    band_calls = float(gex[in_band & eligible.is_call].sum())
    band_puts = float(gex[in_band & ~eligible.is_call].sum())
    calls, puts, net = (sum(getattr(row, side) for row in rows) for side in ("calls", "puts", "net"))
    half_cent_per_strike = 0.005 * len(rows) + 1e-6
    assert calls == pytest.approx(band_calls, abs=half_cent_per_strike)
    assert puts == pytest.approx(band_puts, abs=half_cent_per_strike)
    assert net == pytest.approx(calls + puts, abs=3 * half_cent_per_strike)
    # The band holds nearly all of the day's GEX, and never more than the whole chain's.
    assert 0.0 <= calls <= stored.gex_calls + half_cent_per_strike
    assert stored.gex_puts - half_cent_per_strike <= puts <= 0.0
    assert abs(net - stored.gex_net) <= 0.01 * stored.gex_gross
    assert all(row.calls >= 0.0 >= row.puts for row in rows)
    # The walls are the band's largest strikes of their side.
    assert stored.call_walls[0].strike in {row.strike for row in rows}
    # Compact enough: 8 ticker-days of this size are well under 100 KB.
    assert len(json.dumps(metrics.to_json())) < 12_000


def test_the_stored_profile_is_the_curve_the_flip_is_read_from() -> None:
    _, metrics = spy()
    levels = np.array([level for level, _ in metrics.gex_profile])
    values = np.array([gex for _, gex in metrics.gex_profile])
    spot = metrics.spot
    assert levels.size == 81
    assert levels[0] == pytest.approx(0.8 * spot) and levels[-1] == pytest.approx(1.2 * spot)
    assert levels[40] == pytest.approx(spot)
    # At spot the profile is the re-priced net GEX (profile_gap's definition) ...
    assert values[40] == pytest.approx(metrics.gex_net + metrics.profile_gap * metrics.gex_gross, rel=1e-6)
    # ... and it changes sign between the two stored levels around the flip.
    below = np.flatnonzero(levels < metrics.gamma_flip)[-1]
    assert np.sign(values[below]) != np.sign(values[below + 1])


def test_a_row_of_the_first_dealer_v2_release_reads_back_with_net_only() -> None:
    payload = spy()[1].to_json()
    payload["strike_gex"] = [[row[0], row[3]] for row in payload["strike_gex"]]
    del payload["gex_profile"]
    read = SnapshotMetrics.from_json(payload)
    assert read.strike_gex[0] == StrikeGex(payload["strike_gex"][0][0], None, None, payload["strike_gex"][0][1])
    assert read.gex_profile == ()
    chart = render_dealer_png(read, symbol="SPY", session=SESSION)
    assert chart.png.startswith(b"\x89PNG")


def colour_columns(pixels: np.ndarray, colour: str, panel: PanelBox) -> np.ndarray:
    """Pixel columns inside `panel` where `colour` runs down at least 90% of the panel's height."""
    rgb = np.array([int(colour[i : i + 2], 16) for i in (1, 3, 5)])
    top, bottom = int(np.ceil(panel.top)) + 1, int(np.floor(panel.bottom)) - 1
    left, right = int(np.ceil(panel.left)) + 1, int(np.floor(panel.right)) - 1
    window = pixels[top:bottom, left:right]
    exact = np.all(window == rgb, axis=2)
    return left + np.flatnonzero(exact.sum(axis=0) >= 0.9 * (bottom - top))


def test_the_chart_marks_spot_flip_and_walls_as_vertical_lines_where_the_axes_put_them() -> None:
    _, metrics = spy()
    chart = spy_chart()
    assert 20_000 < len(chart.png) < 400_000
    pixels = np.asarray(Image.open(io.BytesIO(chart.png)).convert("RGB")).astype(int)
    assert pixels.shape[:2] == (750, 1000)
    top, bottom = chart.panels
    assert chart.marks == {
        "spot": metrics.spot,
        "gamma_flip": metrics.gamma_flip,
        "call_wall": metrics.call_walls[0].strike,
        "put_wall": metrics.put_walls[0].strike,
    }
    expected = [
        ("spot", SPOT_COLOUR, (top, bottom)),
        ("gamma_flip", FLIP_COLOUR, (top, bottom)),
        ("call_wall", CALL_WALL_COLOUR, (top,)),
        ("put_wall", PUT_WALL_COLOUR, (top,)),
    ]
    for name, colour, panels in expected:
        for panel in panels:
            columns = colour_columns(pixels, colour, panel)
            assert columns.size >= 1, (name, panel)
            assert abs(columns.mean() - panel.column_of(chart.marks[name])) <= 2.0, (name, columns)
            assert columns.max() - columns.min() <= 3, (name, columns)  # one line, not a smear
    # Walls are marks of the strike panel only.
    assert colour_columns(pixels, CALL_WALL_COLOUR, bottom).size == 0
    assert colour_columns(pixels, PUT_WALL_COLOUR, bottom).size == 0


def test_an_invalid_ticker_day_still_draws_and_the_file_is_written_whole(tmp_path) -> None:
    invalid = compute_snapshot_metrics(ChainArrays.empty(), None).to_json()
    drawn = write_dealer_chart({**invalid, "symbol": "BRK/B", "session": SESSION.isoformat()}, tmp_path)
    assert drawn.path == dealer_chart_path(tmp_path, "BRK/B", SESSION) == tmp_path / "BRK_B-2025-12-22.png"
    assert drawn.status == "INVALID" and drawn.path.read_bytes().startswith(b"\x89PNG")
    assert [path.name for path in tmp_path.iterdir()] == ["BRK_B-2025-12-22.png"]
