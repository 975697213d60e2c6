"""One ticker-day's dealer positioning as a picture, drawn from its stored `dealer-v2` JSON.

Top panel: GEX by strike within the wall band (calls above zero, puts below, net as a line), in $ of
dealer gamma per 1% move, with vertical lines at spot, the gamma flip and the largest call and put
walls. Bottom panel: the net-GEX profile across hypothetical spot levels (the curve the flip is read
from), its zero line, spot and the flip. Both panels share the price axis, so a wall, the flip and
the profile's crossing line up by eye. Everything drawn is read from the stored JSON (`strike_gex`,
`gex_profile`): nothing is recomputed.

Marker colours (documented in the README, checked pixel by pixel in the tests; none is used for
anything else in the picture):

| mark | colour |
|---|---|
| spot | `SPOT_COLOUR` purple |
| gamma flip | `FLIP_COLOUR` orange |
| largest call wall | `CALL_WALL_COLOUR` dark green |
| largest put wall | `PUT_WALL_COLOUR` dark red |

Drawn with matplotlib's object API and the Agg canvas (no pyplot), matplotlib imported inside the
function, and written whole or not at all (`write_atomically`).
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from charts.files import write_atomically
from dealer import SnapshotMetrics
from store.dealer_rows import read_dealer_metrics

if TYPE_CHECKING:
    import psycopg2.extensions

SPOT_COLOUR = "#7b1fa2"
FLIP_COLOUR = "#ff8f00"
CALL_WALL_COLOUR = "#00796b"
PUT_WALL_COLOUR = "#c62828"
CALLS_COLOUR = "#a5d6a7"
PUTS_COLOUR = "#f8bbd0"
NET_COLOUR = "#1565c0"
ZERO_COLOUR = "#9e9e9e"
# Marker lines are 2 pt wide (about 2.8 px at 100 dpi): at any x at least one whole pixel column
# is painted in the exact colour, however the line falls on the pixel grid.
MARK_WIDTH = 2.0
FIGURE_SIZE_IN = (10.0, 7.5)
DPI = 100


@dataclass(frozen=True)
class PanelBox:
    """Where a panel's plotting area lies in the PNG (pixels, origin top-left) and its x range in
    price units: enough to find a price's pixel column without matplotlib."""

    left: float
    top: float
    right: float
    bottom: float
    x_min: float
    x_max: float

    def column_of(self, price: float) -> float:
        """The pixel column (x) at which `price` is drawn."""
        return self.left + (price - self.x_min) / (self.x_max - self.x_min) * (self.right - self.left)


@dataclass(frozen=True)
class DealerChart:
    """A rendered chart: PNG bytes, the two panels' boxes, and the prices each mark was drawn at."""

    png: bytes
    panels: tuple[PanelBox, ...]
    marks: dict[str, float]


@dataclass(frozen=True)
class DrawnChart:
    """A chart written for one ticker-day."""

    symbol: str
    session: date
    status: str
    path: Path


def _money(value: float, _position: Any = None) -> str:
    """$ with a K/M/B suffix, signed: axis labels a person can read at a glance."""
    magnitude = abs(value)
    for threshold, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if magnitude >= threshold:
            return f"{'-' if value < 0 else ''}${magnitude / threshold:,.3g}{suffix}"
    return f"{'-' if value < 0 else ''}${magnitude:,.0f}"


def _marks(metrics: SnapshotMetrics) -> dict[str, float]:
    marks: dict[str, float] = {}
    if metrics.spot is not None:
        marks["spot"] = metrics.spot
    if metrics.gamma_flip is not None:
        marks["gamma_flip"] = metrics.gamma_flip
    if metrics.call_walls:
        marks["call_wall"] = metrics.call_walls[0].strike
    if metrics.put_walls:
        marks["put_wall"] = metrics.put_walls[0].strike
    return marks


MARK_STYLE = {
    "put_wall": (PUT_WALL_COLOUR, "put wall", 3),
    "call_wall": (CALL_WALL_COLOUR, "call wall", 4),
    "gamma_flip": (FLIP_COLOUR, "gamma flip", 5),
    "spot": (SPOT_COLOUR, "spot", 6),
}


def _bar_width(strikes: Sequence[float]) -> float:
    gaps = [high - low for low, high in zip(strikes, strikes[1:], strict=False) if high > low]
    return 0.8 * min(gaps) if gaps else 1.0


def render_dealer_png(metrics: SnapshotMetrics, *, symbol: str, session: date, simulated: bool = False) -> DealerChart:
    """Draw one ticker-day (an INVALID or pre-chart row still draws, with a note where data is missing)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch
    from matplotlib.ticker import FuncFormatter

    figure = Figure(figsize=FIGURE_SIZE_IN, dpi=DPI)
    FigureCanvasAgg(figure)
    top, bottom = figure.subplots(2, 1, sharex=True, height_ratios=(3, 2))
    marks = _marks(metrics)
    label = " SIMULATED" if simulated else ""
    figure.suptitle(
        f"{symbol} {session.isoformat()}{label}: dealer GEX, $ per 1% move ({metrics.status}, "
        f"{metrics.model_version}, {metrics.position or 'no position'})",
        fontsize=10,
    )
    strikes = [row.strike for row in metrics.strike_gex]
    handles: list[Any] = []
    if metrics.strike_gex:
        width = _bar_width(strikes)
        if all(row.calls is not None and row.puts is not None for row in metrics.strike_gex):
            top.bar(strikes, [row.calls for row in metrics.strike_gex], width=width, color=CALLS_COLOUR, zorder=1)
            top.bar(strikes, [row.puts for row in metrics.strike_gex], width=width, color=PUTS_COLOUR, zorder=1)
            handles += [Patch(color=CALLS_COLOUR, label="calls"), Patch(color=PUTS_COLOUR, label="puts")]
        top.plot(strikes, [row.net for row in metrics.strike_gex], color=NET_COLOUR, linewidth=1.2, zorder=2)
        handles.append(Line2D([], [], color=NET_COLOUR, label="net"))
    else:
        top.text(0.5, 0.5, f"no GEX by strike stored ({metrics.status_reason})", ha="center", transform=top.transAxes)
    top.axhline(0.0, color=ZERO_COLOUR, linewidth=0.8, zorder=0)
    top.set_ylabel("GEX by strike", fontsize=9)
    top.set_title(
        f"net {_money(metrics.gex_net) if metrics.gex_net is not None else '-'}, "
        f"calls {_money(metrics.gex_calls) if metrics.gex_calls is not None else '-'}, "
        f"puts {_money(metrics.gex_puts) if metrics.gex_puts is not None else '-'} (eligible contracts)",
        fontsize=9,
    )

    levels = [level for level, _ in metrics.gex_profile]
    if metrics.gex_profile:
        bottom.plot(levels, [gex for _, gex in metrics.gex_profile], color=NET_COLOUR, linewidth=1.5, zorder=2)
    else:
        bottom.text(0.5, 0.5, "no net-GEX profile stored", ha="center", transform=bottom.transAxes)
    bottom.axhline(0.0, color=ZERO_COLOUR, linewidth=0.8, zorder=0)
    bottom.set_ylabel("net GEX if spot were", fontsize=9)
    bottom.set_xlabel("price", fontsize=9)

    for name, (colour, text, order) in MARK_STYLE.items():
        if name not in marks:
            continue
        panels = (top, bottom) if name in ("spot", "gamma_flip") else (top,)
        for axes in panels:
            axes.axvline(marks[name], color=colour, linewidth=MARK_WIDTH, zorder=order)
        same = " (= call wall)" if name == "put_wall" and marks.get("call_wall") == marks[name] else ""
        handles.append(Line2D([], [], color=colour, linewidth=MARK_WIDTH, label=f"{text} {marks[name]:,.2f}{same}"))

    xs = strikes + levels + list(marks.values())
    if xs:
        low, high = min(xs), max(xs)
        pad = 0.02 * (high - low) if high > low else 1.0
        top.set_xlim(low - pad, high + pad)
    for axes in (top, bottom):
        axes.yaxis.set_major_formatter(FuncFormatter(_money))
        axes.tick_params(labelsize=8)
        axes.grid(axis="y", color="#eeeeee", linewidth=0.6, zorder=0)
    figure.legend(handles=handles, loc="lower center", ncol=min(len(handles), 7) or 1, fontsize=8, frameon=False)
    figure.subplots_adjust(left=0.085, right=0.985, top=0.89, bottom=0.13, hspace=0.08)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    height = figure.bbox.height
    boxes = []
    for axes in (top, bottom):
        extent = axes.get_window_extent()
        x_min, x_max = axes.get_xlim()
        boxes.append(PanelBox(extent.x0, height - extent.y1, extent.x1, height - extent.y0, x_min, x_max))
    return DealerChart(png=buffer.getvalue(), panels=tuple(boxes), marks=marks)


def dealer_chart_path(directory: Path, symbol: str, session: date) -> Path:
    """`<directory>/<SYMBOL>-<session>.png` (a character a file name cannot hold becomes `_`)."""
    return directory / f"{re.sub(r'[^A-Za-z0-9._-]', '_', symbol)}-{session.isoformat()}.png"


def write_dealer_chart(payload: dict[str, Any], directory: Path) -> DrawnChart:
    """Draw one stored `dealer_metrics_json` (it names its symbol and session) into `directory`."""
    symbol, session = payload["symbol"], date.fromisoformat(payload["session"])
    metrics = SnapshotMetrics.from_json(payload)
    chart = render_dealer_png(metrics, symbol=symbol, session=session, simulated=bool(payload.get("simulated")))
    path = write_atomically(dealer_chart_path(directory, symbol, session), chart.png)
    return DrawnChart(symbol=symbol, session=session, status=str(metrics.status), path=path)


def write_dealer_charts(
    connection: psycopg2.extensions.connection,
    ticker_days: Collection[tuple[str, date]],
    snapshot_time: Callable[[date], datetime],
    directory: Path,
) -> list[DrawnChart]:
    """Draw every stored ticker-day of `ticker_days` (symbol, session), one session's rows read at a
    time; ticker-days with no stored row are left out. Ordered by session, then symbol."""
    wanted: dict[date, set[str]] = {}
    for symbol, session in ticker_days:
        wanted.setdefault(session, set()).add(symbol)
    drawn: list[DrawnChart] = []
    for session in sorted(wanted):
        stored = read_dealer_metrics(connection, snapshot_time(session))
        for symbol in sorted(wanted[session] & set(stored)):
            payload = {"symbol": symbol, "session": session.isoformat(), **stored[symbol]}
            drawn.append(write_dealer_chart(payload, directory))
    return drawn
