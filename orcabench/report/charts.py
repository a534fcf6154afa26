"""Charts for reports (matplotlib; PNG and SVG): readable in grayscale, labelled, no overlapping text.

Grayscale: bars carry hatches as well as colours, the heatmap prints each cell's value,
and the size chart tells tasks apart by marker and line style.
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # reports are written headless; never open a window

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.colors import TwoSlopeNorm
from matplotlib.figure import Figure

from orcabench.report.results import Results
from orcabench.store.files import ensure_directory, write_atomic

HATCHES = ("", "//", "..", "xx", "\\\\", "oo", "--", "++", "**", "OO")
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<", ">", "*")
LINESTYLES = ("-", "--", ":", "-.")
CMAP = "cividis"  # monotonic in lightness: ordered colours survive a grayscale print


def bar_chart(results: Results) -> Figure:
    """Accuracy per task, one bar per entry, with 95% CI error bars where a run has them."""
    tasks, entries = results.task_names, results.entries
    frame = results.tasks.set_index(["entry", "task"])
    width = 0.8 / len(entries)
    figure, axes = plt.subplots(figsize=(max(6.0, 1.2 * len(tasks) * max(1, len(entries) / 4) + 2), 4.8), layout="constrained")
    colors = plt.get_cmap(CMAP)(np.linspace(0.05, 0.95, len(entries)))
    for k, entry in enumerate(entries):
        xs, heights, with_ci = [], [], []
        for t, task in enumerate(tasks):
            if (entry, task) not in frame.index:
                continue
            row = frame.loc[(entry, task)]
            xs.append(t - 0.4 + width * (k + 0.5))
            heights.append(100 * row["accuracy"])
            # A CI only where it belongs to the plotted number: micro accuracy of a run without subtasks.
            if not math.isnan(row["ci_low"]) and row["subtasks"] == 0:
                with_ci.append((xs[-1], heights[-1], 100 * row["ci_low"], 100 * row["ci_high"]))
        axes.bar(xs, heights, width=width, color=colors[k], edgecolor="black", linewidth=0.6,
                 hatch=HATCHES[k % len(HATCHES)], label=entry)
        if with_ci:
            x, y, low, high = (np.array(column) for column in zip(*with_ci))
            axes.errorbar(x, y, yerr=[y - low, high - y], fmt="none", ecolor="black", capsize=2, linewidth=0.8)
    axes.set_xlim(-0.5, len(tasks) - 0.5)
    axes.set_xticks(range(len(tasks)), tasks, rotation=30 if len(tasks) > 4 else 0, ha="right" if len(tasks) > 4 else "center")
    axes.set_xlabel("benchmark")
    axes.set_ylabel("accuracy (%)")
    axes.set_ylim(0, 100)
    axes.set_title("Zero-shot accuracy (error bars: 95% CI)")
    axes.grid(axis="y", linewidth=0.4, alpha=0.6)
    axes.set_axisbelow(True)
    figure.legend(loc="outside right upper", fontsize="small", frameon=False)
    return figure


def delta_heatmap(results: Results, baseline: str) -> Figure | None:
    """Δ accuracy (points) of each run entry against the baseline: per subtask, and per task for tasks without."""
    whole = results.tasks[(results.tasks["source"] == "run") & (results.tasks["subtasks"] == 0)]
    rows = pd.concat([whole.assign(row=whole["task"]),
                      results.subtasks.assign(row=results.subtasks["task"] + " / " + results.subtasks["subtask"])])
    order = list(dict.fromkeys(rows["row"]))
    table = rows.pivot(index="row", columns="entry", values="accuracy").reindex(order)
    if baseline not in table.columns or len(table.columns) < 2:
        return None
    delta = 100 * table.drop(columns=baseline).sub(table[baseline], axis=0)
    delta = delta.reindex(columns=[e for e in results.entries if e in delta.columns])
    limit = max(1.0, float(np.nanmax(np.abs(delta.to_numpy()))) if delta.notna().any().any() else 1.0)
    height = max(3.0, 0.28 * len(delta) + 1.8)
    figure, axes = plt.subplots(figsize=(max(5.0, 1.8 * len(delta.columns) + 3.5), height), layout="constrained")
    image = axes.imshow(delta.to_numpy(dtype=float), cmap="PuOr", norm=TwoSlopeNorm(0, -limit, limit), aspect="auto")
    for (i, j), value in np.ndenumerate(delta.to_numpy(dtype=float)):
        if not math.isnan(value):
            axes.text(j, i, f"{value:+.0f}", ha="center", va="center", fontsize=7,
                      color="white" if abs(value) > 0.6 * limit else "black")
    # One line per part of "model · backend": horizontal, and narrower than a column.
    axes.set_xticks(range(len(delta.columns)), [str(entry).replace(" · ", "\n") for entry in delta.columns])
    axes.set_yticks(range(len(delta)), delta.index, fontsize=7 if len(delta) > 20 else 9)
    axes.set_xlabel("model")
    axes.set_ylabel("task / subtask")
    axes.set_title(f"Δ accuracy against {baseline}")
    figure.colorbar(image, ax=axes, label="Δ accuracy (points)")
    return figure


def size_chart(results: Results) -> Figure | None:
    """Accuracy against model size (billions of parameters, log scale), one series per task."""
    known = results.tasks.dropna(subset=["size_params"])
    if known.empty or known["size_params"].nunique() < 2:
        return None
    figure, axes = plt.subplots(figsize=(7.5, 4.8), layout="constrained")
    styles = zip(itertools.cycle(LINESTYLES), itertools.cycle(MARKERS))
    for task in results.task_names:
        rows = known[known["task"] == task].sort_values("size_params")
        if rows.empty:
            continue
        linestyle, marker = next(styles)
        best = rows.groupby("size_params")["accuracy"].max()  # the best entry at each size
        axes.plot(best.index, 100 * best.to_numpy(), linestyle=linestyle, marker=marker, color="black", label=task,
                  markerfacecolor="white", linewidth=1)
    axes.set_xscale("log")
    axes.set_xlabel("model size (billions of parameters, log scale)")
    axes.set_ylabel("accuracy (%)")
    axes.set_ylim(0, 100)
    axes.set_title("Accuracy against model size (best entry per size)")
    axes.grid(linewidth=0.4, alpha=0.6)
    figure.legend(loc="outside right upper", fontsize="small", frameon=False)
    return figure


def charts(results: Results, baseline: str | None) -> dict[str, Figure]:
    figures = {"accuracy": bar_chart(results), "size": size_chart(results)}
    if baseline is not None:
        figures["delta"] = delta_heatmap(results, baseline)
    return {name: figure for name, figure in figures.items() if figure is not None}


def write_charts(figures: dict[str, Figure], out_dir: Path) -> dict[str, Path]:
    """Each figure as ``<name>.png`` and ``<name>.svg``; returns the SVG paths (figures are closed)."""
    ensure_directory(out_dir, "--out")
    written = {}
    for name, figure in figures.items():
        write_atomic(out_dir / f"{name}.png", lambda handle: figure.savefig(handle, format="png", dpi=150), "--out")
        write_atomic(out_dir / f"{name}.svg", lambda handle: figure.savefig(handle, format="svg"), "--out")
        written[name] = out_dir / f"{name}.svg"
        plt.close(figure)
    return written
