"""The static HTML leaderboard: one folder that works from ``file://`` and any static host.

No CDN and no server: pages are rendered with Jinja2, the scripts are local files, and
the sample browser's data is split into small JavaScript files (an index per task, then
chunks of :data:`CHUNK_SIZE` samples) that the page loads with ``<script>`` tags, because
browsers refuse ``fetch`` on ``file://``. A page never holds more than one chunk per
entry of sample text, so all of MMLU for eight models stays responsive.
"""

from __future__ import annotations

import json
import math
import re
import shutil
from pathlib import Path
from typing import Any

import jinja2
import pandas as pd

from orcabench import __version__
from orcabench.store.reader import natural_order
from orcabench.store.schema import safe_slug
from orcabench.report.tables import (AVERAGE, Report, best_cells, leaderboard, several_references, subtask_table,
                                     tasks_with_subtasks, unverified_cells)
from orcabench.report.results import Results
from orcabench.report.robustness import VARIANTS_CAPTION, ranking_display, variants_display
from orcabench.store.files import ensure_directory, write_atomic
from orcabench.types import Record

CHUNK_SIZE = 50
_RULE_CODES = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"  # one per extraction rule in a task
_TEMPLATES = Path(__file__).parent / "site_templates"
_ASSETS = ("style.css", "app.js")


def slug(name: str) -> str:
    """A task's folder and page name: ASCII for URLs, and never a step out of the site (".." is no slug)."""
    return safe_slug(re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-"), "task")


def _number(value: Any) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)


def _js(variable: str, key: str, payload: Any) -> str:
    # "</" cannot end a script here (these are separate files), but keep the JSON inert anyway.
    text = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).replace("</", "<\\/")
    return f"window.{variable}=window.{variable}||{{}};window.{variable}[{json.dumps(key)}]={text};\n"


def _sample_data(results: Results, task: str, out_dir: Path) -> int:
    """Write ``data/<task>/index.js`` and its chunks; returns how many samples.

    Plain dicts, not DataFrames: this walks every record of every entry once (100k+ for
    MMLU across eight models), where per-sample frame lookups would take minutes.
    """
    by_entry: dict[str, dict[str, Record]] = {}
    for entry in results.entries:
        run_id = results.chosen.get((entry, task))
        if run_id is not None:
            by_entry[entry] = {r.id: r for r in results.runs[run_id].task_records(task)}
    if not any(by_entry.values()):
        return 0
    entries = list(by_entry)
    ids = sorted({i for records in by_entry.values() for i in records}, key=natural_order)
    folder = out_dir / "data" / slug(task)
    ensure_directory(folder, "--out")
    # Extraction rules, one character per entry (an index into ``rules``), so that the browser
    # filters by rule without loading sample text: 8 entries of MMLU stay a small index.
    rules = sorted({r.method for records in by_entry.values() for r in records.values()})
    code = {rule: _RULE_CODES[k] for k, rule in enumerate(rules)}
    index_rows = []
    for start in range(0, len(ids), CHUNK_SIZE):
        chunk_number = start // CHUNK_SIZE
        chunk: dict[str, Any] = {}
        for sample_id in ids[start:start + CHUNK_SIZE]:
            records = [by_entry[entry].get(sample_id) for entry in entries]
            first = next(r for r in records if r is not None)
            prompts = list(dict.fromkeys(r.prompt for r in records if r is not None))
            answers = [None if r is None else {"output": r.output, "answer": r.answer, "method": r.method, "score": r.score,
                                               "prompt": prompts.index(r.prompt)} for r in records]
            marks = "".join("-" if r is None else "1" if r.score >= 1 else "0" for r in records)
            chunk[sample_id] = {"gold": first.gold, "subtask": first.subtask, "prompts": prompts, "answers": answers}
            read_by = "".join("-" if r is None else code[r.method] for r in records)
            index_rows.append([sample_id, first.subtask, marks, chunk_number, read_by])
        write_atomic(folder / f"{chunk_number}.js", _js("ORCABENCH_CHUNKS", f"{slug(task)}/{chunk_number}", chunk),
                                                   "--out")
    write_atomic(folder / "index.js", _js("ORCABENCH_INDEX", slug(task), {"task": task, "entries": entries, "rules": rules,
                                                                              "samples": index_rows}),
                                     "--out")
    return len(ids)


def _cell_details(results: Results) -> dict[tuple[str, str], dict[str, Any]]:
    """Per run cell (entry, task): its n, its interval in percent and whether it is a --limit subset, so that a
    6-question run does not read like the paper's full-set number beside it."""
    runs = results.tasks[results.tasks["source"] == "run"]
    return {(row["entry"], row["task"]): {"n": int(row["n"]), "low": _number(100 * row["accuracy_ci_low"]),
                                          "high": _number(100 * row["accuracy_ci_high"]), "subset": bool(row["subset"]),
                                          "clustered": row["interval"] == "clustered"}
            for row in runs.to_dict("records")}


def _leaderboard_rows(results: Results) -> tuple[list[str], list[dict[str, Any]]]:
    table = leaderboard(results)
    marks = best_cells(table, "column")
    meta = results.tasks.drop_duplicates("entry").set_index("entry")
    flagged = unverified_cells(results)
    details = _cell_details(results)
    rows = []
    for (entry, values), best in zip(table.iterrows(), marks.to_numpy()):
        cells = [{"value": _number(v), "best": bool(is_best), "flag": (entry, column) in flagged,
                  "detail": details.get((entry, str(column)))}
                 for (column, v), is_best in zip(values.items(), best)]
        rows.append({"entry": entry, "source": meta.loc[entry, "source"], "size": _number(meta.loc[entry, "size_params"]),
                     "cells": cells})
    return [str(c) for c in table.columns], rows


def _paired_rows(report: Report) -> list[dict[str, Any]]:
    """The paired leaderboard's rows, numbers as None where missing; ``group`` names a shared rank's
    models (task and rank), which the page draws as one bracket."""
    if report.paired is None:
        return []
    references = set(report.paired["reference"])
    return [{**{key: _number(row[key]) for key in ("n", "accuracy", "delta", "ci_low", "ci_high", "p_value")},
             "task": row["task"], "entry": row["entry"], "rank": int(row["rank"]), "tied": bool(row["tied"]),
             "interval": row["interval"], "group": f"{row['task']}/{row['rank']}", "reference": row["reference"],
             "is_reference": row["entry"] in references} for row in report.paired.to_dict("records")]


def write_site(report: Report, out_dir: Path) -> Path:
    """Render the site into ``out_dir`` (created); returns the path of ``index.html``."""
    results = report.results
    ensure_directory(out_dir, "--out")
    for asset in _ASSETS:
        shutil.copyfile(_TEMPLATES / asset, out_dir / asset)
    charts_dir = out_dir / "charts"
    ensure_directory(charts_dir, "--out")
    charts = {}
    for name, path in report.charts.items():
        for suffix in (".svg", ".png"):
            shutil.copyfile(path.with_suffix(suffix), charts_dir / path.with_suffix(suffix).name)
        charts[name] = f"charts/{path.name}"
    environment = jinja2.Environment(loader=jinja2.FileSystemLoader(_TEMPLATES), autoescape=True,
                                     undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    counts = {task: _sample_data(results, task, out_dir) for task in results.task_names}
    pages = [{"task": t, "href": f"task-{slug(t)}.html", "samples": counts[t]} for t in results.task_names]
    common = {"version": __version__, "pages": pages, "notes": report.notes()}
    columns, rows = _leaderboard_rows(results)
    write_atomic(out_dir / "index.html", environment.get_template("index.html.j2").render(
        **common, title="Leaderboard", columns=columns, average=AVERAGE, rows=rows, charts=charts, baseline=report.baseline,
        reference=report.reference, paired=_paired_rows(report), paired_caption=report.paired_caption,
        paired_with=report.paired is not None and several_references(report.paired)),
        "--out")
    with_subtasks = set(tasks_with_subtasks(results))
    for page in pages:
        task = page["task"]
        overview = [{key: None if pd.isna(value) else value for key, value in row.items()}
                    for row in results.tasks[results.tasks["task"] == task].to_dict("records")]
        subtasks = subtask_table(results, task) if task in with_subtasks else None
        variants = variants_display(report.variants[report.variants["task"] == task])
        ranking = ranking_display(report.ranking[report.ranking["task"] == task])
        write_atomic(out_dir / page["href"], environment.get_template("task.html.j2").render(
            **common, title=task, page=page, overview=overview, number=_number, slug=slug(task),
            variant_columns=[c for c in variants.columns if c != "task"], variants_caption=VARIANTS_CAPTION,
            variant_rows=variants.drop(columns="task").values.tolist() if not variants.empty else [],
            ranking_rows=ranking.to_dict("records"),
            subtask_columns=list(subtasks.columns) if subtasks is not None else [],
            subtask_rows=[(name, [(_number(v), bool(is_best)) for v, is_best in zip(values, best)])
                          for (name, values), best in zip(subtasks.iterrows(), best_cells(subtasks, "row").to_numpy())]
            if subtasks is not None else []),
            "--out")
    sample_tasks = [{"task": p["task"], "slug": slug(p["task"])} for p in pages if p["samples"]]
    write_atomic(out_dir / "samples.html", environment.get_template("samples.html.j2").render(
        **common, title="Samples", sample_tasks=sample_tasks, chunk_size=CHUNK_SIZE), "--out")
    return out_dir / "index.html"
