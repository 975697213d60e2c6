"""The coverage grid as a picture: sessions down, symbols across, one colour per cell kind.

A person scanning a month of nightly runs sees a missing column (a symbol the provider does not
know) or a missing row (a failed session) at a glance, which the text grid only shows to someone
who reads it cell by cell. Drawn with matplotlib's object API and the Agg canvas (no pyplot, no
display, no global state), so it is safe inside a flow run's worker thread.
"""

from __future__ import annotations

import io
from pathlib import Path

from charts.files import write_atomically
from store.coverage import Coverage

MISSING_COLOUR = "#e8817a"
SIMULATED_COLOUR = "#c8c8c8"
# Real providers in the order they first appear in a window; more than these reuse the cycle.
PROVIDER_COLOURS = ("#3b78c2", "#3c9a5f", "#8a5cc2", "#c28a2b", "#2ba6b0")
# Past this many cells a per-cell letter would be unreadable: colours only.
LABELLED_CELLS = 1_500
# The tallest picture we draw (inches); a longer window gets thinner rows instead.
MAX_HEIGHT_IN = 30.0


def cell_kinds(coverage: Coverage) -> list[str]:
    """The legend's entries in drawing order: each real provider, then simulated, then missing."""
    providers = sorted({entry.provider for entry in coverage.cells.values() if not entry.simulated})
    return [*providers, "simulated", "missing"]


def _colour_of(kinds: list[str]) -> dict[str, str]:
    colours = {kind: PROVIDER_COLOURS[index % len(PROVIDER_COLOURS)] for index, kind in enumerate(kinds[:-2])}
    return {**colours, "simulated": SIMULATED_COLOUR, "missing": MISSING_COLOUR}


def kind_of(coverage: Coverage, day, symbol: str) -> str:  # noqa: ANN001 - a date
    entry = coverage.cells.get((day, symbol))
    if entry is None:
        return "missing"
    return "simulated" if entry.simulated else entry.provider


def render_coverage_png(coverage: Coverage, *, title: str | None = None) -> bytes:
    """The heatmap as PNG bytes (an empty window still draws, with a note instead of cells)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.colors import ListedColormap
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    kinds = cell_kinds(coverage)
    colours = _colour_of(kinds)
    index = {kind: position for position, kind in enumerate(kinds)}
    rows, columns = len(coverage.sessions), len(coverage.symbols)
    grid = [[index[kind_of(coverage, day, symbol)] for symbol in coverage.symbols] for day in coverage.sessions]

    row_height = min(0.28, MAX_HEIGHT_IN / max(rows, 1))
    figure = Figure(figsize=(max(4.5, 1.6 + 0.5 * columns), max(2.6, 1.9 + row_height * rows)), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    totals = coverage.totals()
    heading = title or "Coverage"
    axes.set_title(
        f"{heading}\n{totals['complete']}/{totals['symbol_days']} symbol-days complete, "
        f"{totals['simulated']} simulated, {totals['missing']} missing",
        fontsize=9,
    )
    if rows and columns:
        axes.imshow(
            grid,
            cmap=ListedColormap([colours[kind] for kind in kinds]),
            vmin=-0.5,
            vmax=len(kinds) - 0.5,
            aspect="auto",
            interpolation="nearest",
        )
        axes.set_xticks(range(columns), labels=coverage.symbols, rotation=90 if columns > 12 else 0, fontsize=8)
        step = max(1, rows // 60)
        axes.set_yticks(range(0, rows, step), labels=[day.isoformat() for day in coverage.sessions[::step]], fontsize=7)
        axes.xaxis.tick_top()
        # White lines between cells, so neighbouring cells of one kind still read as separate days.
        axes.set_xticks([x - 0.5 for x in range(1, columns)], minor=True)
        axes.set_yticks([y - 0.5 for y in range(1, rows)], minor=True)
        axes.grid(which="minor", color="white", linewidth=1)
        axes.tick_params(which="minor", length=0)
        if rows * columns <= LABELLED_CELLS:
            for y, day in enumerate(coverage.sessions):
                for x, symbol in enumerate(coverage.symbols):
                    axes.text(x, y, coverage.cell(day, symbol), ha="center", va="center", fontsize=8, color="#202020")
    else:
        axes.set_axis_off()
        axes.text(0.5, 0.5, "no sessions or no symbols in this window", ha="center", va="center")
    figure.legend(
        handles=[Patch(facecolor=colours[kind], label=kind) for kind in kinds],
        loc="lower center",
        ncol=len(kinds),
        fontsize=8,
        frameon=False,
    )
    figure.tight_layout(rect=(0, 0.06, 1, 1))
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def write_coverage_png(coverage: Coverage, path: Path, *, title: str | None = None) -> Path:
    """Write the heatmap to `path` (whole or not at all) and return it."""
    return write_atomically(path, render_coverage_png(coverage, title=title))
