"""Comparison tables from :class:`~orcabench.report.results.Results`: Markdown, CSV and LaTeX.

The paper-style table has entries (models) as rows and tasks as columns, in percent, the
best of each column marked; an ``average`` column where a row has every task shown, and
the paper's reasoning average where all six reasoning benchmarks are shown. Reference
cells the source could not verify carry a dagger.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Literal

import pandas as pd

from orcabench.console import markdown_row
from orcabench.report.paired import ALPHA, Pairing, paired_leaderboard
from orcabench.report.results import Results
from orcabench.report.robustness import (
    RANKING_CAPTION,
    VARIANTS_CAPTION,
    ranking_display,
    ranking_stability,
    variants_display,
    variants_table,
)
from orcabench.task.summary import reasoning_average
from orcabench.types import OrcabenchError

FORMATS = ("md", "csv", "latex", "html")
AVERAGE = "average"
REASONING_AVERAGE = "reasoning avg"
UNVERIFIED = "†"


def leaderboard(results: Results) -> pd.DataFrame:
    """Entries × tasks in percent, plus the averages (NaN where a row lacks a task)."""
    table = 100 * results.wide()
    table[AVERAGE] = table[results.task_names].mean(axis=1, skipna=False)
    reasoning = 100 * pd.Series({entry: reasoning_average(row.to_dict())[0] for entry, row in results.wide().iterrows()},
                                index=table.index, dtype=float)
    if reasoning.notna().any():
        table[REASONING_AVERAGE] = reasoning
    return table


def resolve_baseline(results: Results, baseline: str | None, flag: str = "--baseline") -> str | None:
    """An entry label (``·`` may be typed as ``/``: ``smollm2-135m/vllm``), or a model name
    that names exactly one entry (``flag`` names the option in the error)."""
    if baseline is None:
        return None
    spelled = [entry for entry in results.entries if baseline in (entry, entry.replace(" · ", "/"))]
    matches = spelled or list(dict.fromkeys(results.tasks.loc[results.tasks["model"] == baseline, "entry"]))
    if len(matches) == 1:
        return matches[0]
    hint = f"it names {len(matches)} entries ({', '.join(matches)})" if matches else "no entry has that name"
    raise OrcabenchError(f"{flag} {baseline!r}: {hint}; use one of: {', '.join(results.entries)} "
                         "(type · as /, e.g. model/backend)")


def deltas(results: Results, baseline: str) -> pd.DataFrame:
    """Each other entry minus the baseline, in accuracy points (NaN where either lacks the task)."""
    table = leaderboard(results)
    return table.drop(index=baseline).sub(table.loc[baseline], axis=1)


def subtask_table(results: Results, task: str) -> pd.DataFrame:
    """Subtasks × entries in percent for one task."""
    rows = results.subtasks[results.subtasks["task"] == task]
    table = 100 * rows.pivot(index="subtask", columns="entry", values="accuracy")
    return table.reindex(columns=[e for e in results.entries if e in table.columns])


def tasks_with_subtasks(results: Results) -> list[str]:
    return [t for t in results.task_names if (results.subtasks["task"] == t).any()]


def unverified_cells(results: Results) -> set[tuple[str, str]]:
    rows = results.tasks[(results.tasks["source"] == "reference") & ~results.tasks["verified"].astype(bool)]
    return set(zip(rows["entry"], rows["task"]))


def samples_table(results: Results) -> pd.DataFrame:
    """Run entries × tasks: the number of scored samples behind each run cell."""
    runs = results.tasks[results.tasks["source"] == "run"]
    table = runs.pivot(index="entry", columns="task", values="n")
    return table.reindex(index=[e for e in results.entries if e in table.index],
                         columns=[t for t in results.task_names if t in table.columns])


def clustered_notes(results: Results) -> list[str]:
    """One line per task whose intervals are cluster-robust, naming the clusters (none for unclustered tasks)."""
    rows = results.tasks[results.tasks["interval"] == "clustered"]
    lines = []
    for task, part in rows.groupby("task", sort=False):
        counts = ", ".join(f"{entry}: {clusters:,}" for entry, clusters in zip(part["entry"], part["clusters"]))
        lines.append(f"{task}: questions share passages, so its 95% intervals are cluster-robust (Miller 2024, "
                     f"arXiv 2411.00640 §2), one cluster per passage ({counts} clusters)")
    return lines


def intervals_table(results: Results) -> pd.DataFrame:
    """Run entries × tasks: the 95% interval of each run cell's number in percent, "(clustered)" where
    its questions share passages and "(subset)" where the run was limited (--limit); "–" where there is none."""
    runs = results.tasks[results.tasks["source"] == "run"]
    texts = {}
    for row in runs.to_dict("records"):
        low, high = row["accuracy_ci_low"], row["accuracy_ci_high"]
        text = "–" if pd.isna(low) else f"{100 * low:.1f}–{100 * high:.1f}"
        text += " (clustered)" if row["interval"] == "clustered" else ""
        texts[(row["entry"], row["task"])] = text + (" (subset)" if row["subset"] else "")
    entries = [e for e in results.entries if e in set(runs["entry"])]
    tasks = [t for t in results.task_names if t in set(runs["task"])]
    return pd.DataFrame([[texts.get((e, t), "–") for t in tasks] for e in entries], index=entries, columns=tasks)


def _cell(value: float, number: str) -> str:
    if value is None or math.isnan(value):
        return "–"
    return number.format(value)


def best_cells(table: pd.DataFrame, best: Literal["column", "row"] | None) -> pd.DataFrame:
    """True where a cell holds the highest value of its column (or row); a missing value never does."""
    if best is None:
        return pd.DataFrame(False, index=table.index, columns=table.columns)
    if best == "column":
        return table.eq(table.max(axis=0), axis="columns")
    return table.eq(table.max(axis=1), axis="index")


def to_markdown_table(table: pd.DataFrame, best: Literal["column", "row"] | None = "column", number: str = "{:.2f}",
                      flagged: set[tuple[str, str]] = frozenset()) -> str:
    """A GitHub Markdown table; the best value of each column (or row) in bold."""
    marks = best_cells(table, best).to_numpy()
    header = ["", *map(str, table.columns)]
    lines = [markdown_row(header), "|---|" + "---:|" * len(table.columns)]
    for i, (entry, row) in enumerate(table.iterrows()):
        cells = []
        for j, (column, value) in enumerate(row.items()):
            text = _cell(value, number) + (UNVERIFIED if (entry, column) in flagged else "")
            if marks[i, j]:
                text = f"**{text}**"
            cells.append(text)
        lines.append(markdown_row([entry, *cells]))
    return "\n".join(lines)


def to_latex_table(table: pd.DataFrame, caption: str, best: Literal["column", "row"] | None = "column",
                   signed: bool = False) -> str:
    """A booktabs LaTeX table (pandas Styler); the best of each column (or row) in bold."""
    styler = table.style.format(precision=2, na_rep="--", formatter="{:+.2f}" if signed else None)
    if best:
        styler = styler.highlight_max(axis=0 if best == "column" else 1, props="textbf:--rwrap;")
    styler = styler.format_index(escape="latex", axis=0).format_index(escape="latex", axis=1)
    return styler.to_latex(hrules=True, caption=caption, position_float="centering")


def to_latex_text_table(table: pd.DataFrame, caption: str) -> str:
    """A booktabs LaTeX table of text cells (escaped; an en dash written as ``--``), as :func:`to_latex_table` lays out."""
    cells = table.map(lambda value: str(value).replace("–", "--"))
    styler = cells.style.format(escape="latex").format_index(escape="latex", axis=0).format_index(escape="latex", axis=1)
    return styler.to_latex(hrules=True, caption=caption, position_float="centering")


def latex_cell_tables(results: Results) -> list[str]:
    """What the Markdown, CSV and site show beside each run cell, for ``report.tex``: its n, and its 95% interval
    marked clustered and subset where so (none when the report holds no runs)."""
    samples = samples_table(results)
    if samples.empty:
        return []
    counts = samples.map(lambda value: "–" if pd.isna(value) else f"{int(value):,}")
    return [to_latex_text_table(counts, "Samples behind each run cell (n)."),
            to_latex_text_table(intervals_table(results), "95\\% interval of each run cell (percent); clustered: "
                                "cluster-robust, questions share passages; subset: a --limit run, not the full test set.")]


def paired_table(frame: pd.DataFrame) -> pd.DataFrame:
    """The paired leaderboard as the tables show it (every format the same columns): a shared
    rank as "=2", accuracy, Δ and its CI in points, p to three significant digits."""
    def number(value: float, spec: str) -> str:
        return "–" if pd.isna(value) else format(value, spec)

    table = pd.DataFrame({
        "task": frame["task"], "rank": [f"={r}" if tied else str(r) for r, tied in zip(frame["rank"], frame["tied"])],
        "model": frame["entry"], "n": frame["n"].astype(int), "accuracy": [number(v, ".2f") for v in frame["accuracy"]],
        "Δ": [number(v, "+.2f") for v in frame["delta"]],
        "95% CI": ["–" if pd.isna(lo) else f"[{lo:+.2f}, {hi:+.2f}]" for lo, hi in zip(frame["ci_low"], frame["ci_high"])],
        "p": [number(v, ".3g") for v in frame["p_value"]], "interval": frame["interval"]})
    if several_references(frame):
        table["paired with"] = frame["reference"].replace("", "–")
    return table


def several_references(frame: pd.DataFrame) -> bool:
    """Whether the rows are paired with more than one entry (a reference per variant): the tables then say with which."""
    return frame["reference"].nunique() > 1


def paired_caption(reference: str, pairing: Pairing | None = None) -> str:
    against = (f"each row from {reference}'s row of the same variant (else its only row)" if pairing is not None
               else reference)
    caption = (f"Paired differences from {against} on the questions both ran (accuracy points, 95% CI; "
               f"cluster-robust where questions share a passage). A rank shared (=) means the data cannot tell the "
               f"models apart: paired against the best of their group, Holm-corrected, none differs at α={ALPHA:g}.")
    return " ".join([caption, *(pairing.notes if pairing is not None else ())])


@dataclass(frozen=True)
class Report:
    results: Results
    baseline: str | None
    charts: dict[str, Path]  # chart name -> its SVG file
    reference: str | None = None  # the entry the paired leaderboard is taken against (--reference), or the pairing's label
    pairing: Pairing | None = None  # a reference per group of rows (a campaign's variants), instead of one entry

    @cached_property
    def paired(self) -> pd.DataFrame | None:  # cached: each format shows it, and its bootstrap is not free
        """The paired leaderboard (:func:`orcabench.report.paired.paired_leaderboard`), None without --reference."""
        return None if self.reference is None else paired_leaderboard(self.results, self.pairing or self.reference)

    @property
    def paired_caption(self) -> str:
        return paired_caption(self.reference or "", self.pairing)

    @cached_property
    def variants(self) -> pd.DataFrame:
        """Per model and task asked several ways: spread, variance split, circular accuracy (report.robustness)."""
        return variants_table(self.results)

    @cached_property
    def ranking(self) -> pd.DataFrame:
        """Per task asked several ways of several models: whether their order survives (Kendall's tau, swaps)."""
        return ranking_stability(self.variants)

    def robustness_markdown(self) -> list[str]:
        """The variants and ranking-stability sections of the Markdown report (no lines for runs without variants)."""
        if self.variants.empty:
            return []
        shown = variants_display(self.variants)
        lines = ["", "## Robustness to the prompt's wording and the options' order", "", VARIANTS_CAPTION, "",
                 markdown_row(list(shown.columns)), "|---|---|---|" + "---:|" * (len(shown.columns) - 3)]
        lines += [markdown_row([str(v) for v in row]) for row in shown.itertuples(index=False)]
        if not self.ranking.empty:
            ranked = ranking_display(self.ranking)
            lines += ["", "## Ranking stability across variants", "", RANKING_CAPTION, "",
                      markdown_row(list(ranked.columns)), "|---|---|" + "---:|" * 3 + "---|---|"]
            lines += [markdown_row([str(v) for v in row]) for row in ranked.itertuples(index=False)]
        return lines

    def notes(self) -> list[str]:
        lines = [f"{UNVERIFIED} cell not verified in its source (see results/)"] if unverified_cells(self.results) else []
        lines += clustered_notes(self.results)
        lines += [f"{name}: {citation}" for name, citation in self.results.citations.items()]
        lines += [f"{key}: {text}" for key, text in self.results.notes.items()]
        return lines

    def paired_markdown(self) -> list[str]:
        """The paired leaderboard's section of the Markdown report (no lines without --reference)."""
        if self.paired is None or self.reference is None:
            return []
        table = paired_table(self.paired)
        lines = ["", f"## Paired against {self.reference}", "", self.paired_caption, "",
                 markdown_row(list(table.columns)), "|---|---|---|" + "---:|" * 5 + "---|" * (len(table.columns) - 8)]
        return lines + [markdown_row([str(v) for v in row]) for row in table.itertuples(index=False)]

    def markdown(self, chart_dir: str = "charts") -> str:
        results = self.results
        lines = ["# orcabench report", "",
                 ("Accuracy in percent; best per column in bold; `average` over the tasks shown (only for rows with all "
                  "of them); each run row comes from the records of the run named in `tasks.csv`."), "",
                 to_markdown_table(leaderboard(results), flagged=unverified_cells(results)), ""]
        lines += [f"- {note}" for note in self.notes()]
        samples = samples_table(results)
        if not samples.empty:  # a run cell over a few samples is not the paper's full test set
            lines += ["", "## Samples behind each run cell", "", to_markdown_table(samples, best=None, number="{:.0f}")]
            intervals = intervals_table(results)
            lines += ["", "## 95% interval of each run cell (percent; subset: a --limit run, not the full test set)", "",
                      markdown_row(["", *intervals.columns]), "|---|" + "---:|" * len(intervals.columns)]
            lines += [markdown_row([entry, *row]) for entry, row in zip(intervals.index, intervals.to_numpy().tolist())]
        lines += self.paired_markdown()
        lines += self.robustness_markdown()
        if self.baseline is not None:
            lines += ["", f"## Δ against {self.baseline} (accuracy points)", "",
                      to_markdown_table(deltas(results, self.baseline), best=None, number="{:+.2f}")]
        for task in tasks_with_subtasks(results):
            lines += ["", f"## {task} by subtask (best per subtask in bold)", "",
                      to_markdown_table(subtask_table(results, task), best="row")]
        if self.charts:
            lines += ["", "## Charts", ""] + [f"![{name}]({chart_dir}/{path.name})" for name, path in self.charts.items()]
        return "\n".join(lines) + "\n"
