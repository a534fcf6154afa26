"""Comparison tables from :class:`~orcabench.results.Results`: Markdown, CSV and LaTeX.

The paper-style table has entries (models) as rows and tasks as columns, in percent, the
best of each column marked; an ``average`` column where a row has every task shown, and
the paper's reasoning average where all six reasoning benchmarks are shown. Reference
cells the source could not verify carry a dagger.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pandas as pd

from orcabench.results import Results, load_results, reasoning_average
from orcabench.types import OrcabenchError

FORMATS = ("md", "csv", "latex", "html")
AVERAGE = "average"
REASONING_AVERAGE = "reasoning avg"
UNVERIFIED = "†"


def leaderboard(results: Results) -> pd.DataFrame:
    """Entries × tasks in percent, plus the averages (NaN where a row lacks a task)."""
    table = 100 * results.wide()
    table[AVERAGE] = table[results.task_names].mean(axis=1, skipna=False)
    reasoning = 100 * reasoning_average(results)
    if reasoning.notna().any():
        table[REASONING_AVERAGE] = reasoning
    return table


def resolve_baseline(results: Results, baseline: str | None) -> str | None:
    """An entry label (``·`` may be typed as ``/``: ``smollm2-135m/vllm``), or a model name
    that names exactly one entry."""
    if baseline is None:
        return None
    spelled = [entry for entry in results.entries if baseline in (entry, entry.replace(" · ", "/"))]
    matches = spelled or list(dict.fromkeys(results.tasks.loc[results.tasks["model"] == baseline, "entry"]))
    if len(matches) == 1:
        return matches[0]
    hint = f"it names {len(matches)} entries ({', '.join(matches)})" if matches else "no entry has that name"
    raise OrcabenchError(f"--baseline {baseline!r}: {hint}; use one of: {', '.join(results.entries)} "
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
    lines = ["| " + " | ".join(header) + " |", "|---|" + "---:|" * len(table.columns)]
    for i, (entry, row) in enumerate(table.iterrows()):
        cells = []
        for j, (column, value) in enumerate(row.items()):
            text = _cell(value, number) + (UNVERIFIED if (entry, column) in flagged else "")
            if marks[i, j]:
                text = f"**{text}**"
            cells.append(text)
        lines.append("| " + " | ".join([str(entry), *cells]) + " |")
    return "\n".join(lines)


def to_latex_table(table: pd.DataFrame, caption: str, best: Literal["column", "row"] | None = "column",
                   signed: bool = False) -> str:
    """A booktabs LaTeX table (pandas Styler); the best of each column (or row) in bold."""
    styler = table.style.format(precision=2, na_rep="--", formatter="{:+.2f}" if signed else None)
    if best:
        styler = styler.highlight_max(axis=0 if best == "column" else 1, props="textbf:--rwrap;")
    styler = styler.format_index(escape="latex", axis=0).format_index(escape="latex", axis=1)
    return styler.to_latex(hrules=True, caption=caption, position_float="centering")


@dataclass(frozen=True)
class Report:
    results: Results
    baseline: str | None
    charts: dict[str, Path]  # chart name -> its SVG file

    def notes(self) -> list[str]:
        lines = [f"{UNVERIFIED} cell not verified in its source (see results/)"] if unverified_cells(self.results) else []
        lines += [f"{name}: {citation}" for name, citation in self.results.citations.items()]
        lines += [f"{key}: {text}" for key, text in self.results.notes.items()]
        return lines

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
        if self.baseline is not None:
            lines += ["", f"## Δ against {self.baseline} (accuracy points)", "",
                      to_markdown_table(deltas(results, self.baseline), best=None, number="{:+.2f}")]
        for task in tasks_with_subtasks(results):
            lines += ["", f"## {task} by subtask (best per subtask in bold)", "",
                      to_markdown_table(subtask_table(results, task), best="row")]
        if self.charts:
            lines += ["", "## Charts", ""] + [f"![{name}]({chart_dir}/{path.name})" for name, path in self.charts.items()]
        return "\n".join(lines) + "\n"


def write_tables(report: Report, out_dir: Path, formats: Sequence[str]) -> list[Path]:
    """The tables in each requested format (``html`` is written by :mod:`orcabench.site`)."""
    results, written = report.results, []
    if "md" in formats:
        written.append(out_dir / "report.md")
        written[-1].write_text(report.markdown(), encoding="utf-8")
    if "csv" in formats:
        frames = {"leaderboard.csv": leaderboard(results).rename_axis("entry"), "tasks.csv": results.tasks,
                  "subtasks.csv": results.subtasks}
        if report.baseline is not None:
            frames["deltas.csv"] = deltas(results, report.baseline).rename_axis("entry")
        for name, frame in frames.items():
            written.append(out_dir / name)
            frame.to_csv(written[-1], index=name in ("leaderboard.csv", "deltas.csv"))
    if "latex" in formats:
        parts = [to_latex_table(leaderboard(results), "Zero-shot accuracy (\\%); best per column in bold.")]
        if report.baseline is not None:
            parts.append(to_latex_table(deltas(results, report.baseline), f"Accuracy points against {report.baseline}.",
                                        best=None, signed=True))
        parts += [to_latex_table(subtask_table(results, task), f"{task} by subtask (\\%); best per subtask in bold.", best="row")
                  for task in tasks_with_subtasks(results)]
        written.append(out_dir / "report.tex")
        written[-1].write_text("\n".join(parts), encoding="utf-8")
    return written


def write_report(paths: Sequence[Path], out_dir: Path, formats: Sequence[str] = ("md",), baseline: str | None = None,
                 reference: bool = True) -> tuple[Report, list[Path]]:
    """Load runs and references, then write the tables, the charts and (``html``) the site into ``out_dir``."""
    from orcabench import charts, site  # matplotlib loads only when a report is written

    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise OrcabenchError(f"--format {', '.join(unknown)}: choose among {', '.join(FORMATS)}")
    if out_dir.exists() and not out_dir.is_dir():
        raise OrcabenchError(f"--out {out_dir} is a file; pass a directory for the report")
    results = load_results(paths, reference=reference)
    baseline = resolve_baseline(results, baseline)
    out_dir.mkdir(parents=True, exist_ok=True)
    chart_files = charts.write_charts(charts.charts(results, baseline), out_dir / "charts")
    report = Report(results, baseline, chart_files)
    written = write_tables(report, out_dir, formats)
    written += [p.with_suffix(s) for p in chart_files.values() for s in (".png", ".svg")]
    if "html" in formats:
        written.append(site.write_site(report, out_dir / "site"))
    return report, written
