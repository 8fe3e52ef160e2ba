"""Draw the evaluation plot (core.evaluation_plot) as a PNG with matplotlib's Agg backend.

matplotlib is imported here, on first use, so the CLI starts without it.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from mlops.adapters import atomic
from mlops.core.evaluation_plot import (
    CANDIDATE_COLOUR,
    PRODUCTION_COLOUR,
    REFERENCE_COLOUR,
    ROC,
    Bar,
    Plot,
)

DPI = 110


def render(plot: Plot, path: Path) -> None:
    """Write the plot to `path` atomically: a reader sees the old PNG or the new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic.write_bytes(path, png(plot))


def png(plot: Plot) -> bytes:
    import matplotlib

    matplotlib.use("Agg", force=True)  # no display; the same pixels on every machine
    from matplotlib.figure import Figure

    rows = max(len(plot.bars), 1)
    figure = Figure(figsize=(12, max(5.5, 1.25 * rows + 2.5)), dpi=DPI, layout="constrained")
    grid = figure.add_gridspec(rows, 2, width_ratios=(1.5, 1))
    _main(figure.add_subplot(grid[:, 0]), plot)
    for index, bar in enumerate(plot.bars):
        _bar(figure.add_subplot(grid[index, 1]), bar, plot)
    figure.suptitle(f"{plot.title}\n{plot.subtitle}", fontsize=12)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


def _main(axes: Any, plot: Plot) -> None:
    if plot.kind == ROC:
        axes.plot([0, 1], [0, 1], color=REFERENCE_COLOUR, linestyle=":", label="chance")
        for series in plot.series:
            axes.plot(series.x, series.y, color=series.colour, linewidth=2,
                      linestyle="--" if series.dashed else "-", label=series.label)  # fmt: skip
        axes.set_xlim(-0.01, 1.01)
        axes.set_ylim(-0.01, 1.01)
        axes.set_title("ROC curve on the holdout")
        axes.legend(loc="lower right")
    else:
        values = [v for s in plot.series for v in (*s.x, *s.y)]
        low, high = min(values), max(values)
        axes.plot([low, high], [low, high], color=REFERENCE_COLOUR, linestyle=":",
                  label="perfect prediction")  # fmt: skip
        size = 36 if len(plot.series[0].x) < 100 else 16
        for series in plot.series:  # production hollow, so points on top of each other show
            hollow = {"facecolors": "none", "edgecolors": series.colour, "linewidths": 1.3}
            style = hollow if series.dashed else {"color": series.colour, "alpha": 0.6}
            axes.scatter(series.x, series.y, s=size * (1.6 if series.dashed else 1),
                         marker="^" if series.dashed else "o", label=series.label,
                         **style)  # fmt: skip
        axes.set_title("Predicted against actual on the holdout")
        axes.legend(loc="upper left")
    axes.set_xlabel(plot.x_label)
    axes.set_ylabel(plot.y_label)
    axes.grid(True, alpha=0.3)


def _bar(axes: Any, bar: Bar, plot: Plot) -> None:
    """Two horizontal bars for one metric (each metric has its own scale), values printed."""
    entries = [(plot.candidate_label, bar.candidate, CANDIDATE_COLOUR, "")]
    if plot.production_label is not None:
        entries.insert(0, (plot.production_label, bar.production, PRODUCTION_COLOUR, "//"))
    labels = [label for label, _, _, _ in entries]
    values = [0.0 if value is None else value for _, value, _, _ in entries]
    bars = axes.barh(labels, values, color=[c for _, _, c, _ in entries],
                     hatch=[h for _, _, _, h in entries], edgecolor="white")  # fmt: skip
    texts = ["n/a" if value is None else f"{value:.4g}" for _, value, _, _ in entries]
    axes.bar_label(bars, labels=texts, padding=3)
    top = max([abs(v) for v in values] + [1e-12])
    axes.set_xlim(min(0.0, *values) * 1.25, top * 1.3)
    axes.set_title(bar.title, fontsize=10, loc="left")
    axes.tick_params(axis="y", labelsize=9)
    axes.grid(True, axis="x", alpha=0.3)
