"""Results as data: run directories and reference results as tidy pandas DataFrames.

Every report (tables, charts, the HTML leaderboard) reads :class:`Results`, never the
run store directly. An *entry* is one row of a leaderboard: a model under one backend and
protocol (``smollm2-135m · vllm``) or a reference source's row (``Orca-2-13B (paper)``).

Which runs count: a run directory passed by name is always used; folders passed instead
(``runs/``) are searched for runs, and where several of them hold the same entry and
task, the latest wins. Reference files (``results/*.yaml``) hold published numbers with
their citation; they become rows marked ``source == "reference"``, never runs.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from orcabench.store.reader import StoredRun, find_runs, load_run, not_a_run
from orcabench.models.registry import BUILTIN_MODELS
from orcabench.store.writer import MANIFEST
from orcabench.task.results_file import RESULTS_FILE, ResultsFile, build_results, fingerprint_id, read_results
from orcabench.task.summary import CLUSTERED, INDEPENDENT
from orcabench.task import SUITES, discover
from orcabench.types import OrcabenchError, Record, read_user_yaml

REFERENCE_KIND = "orcabench-reference"
REFERENCE_SCHEMA_VERSION = 1

TASK_COLUMNS = ["entry", "source", "model", "backend", "protocol", "task", "accuracy", "micro_accuracy", "ci_low", "ci_high",
                "n", "unparsed_rate", "no_final_answer_rate", "kind", "cot", "subtasks", "size_params", "run_id", "run_dir",
                "date", "verified", "citation", "interval", "clusters", "macro_ci_low", "macro_ci_high", "accuracy_ci_low",
                "accuracy_ci_high", "subset"]
SUBTASK_COLUMNS = ["entry", "source", "model", "backend", "task", "subtask", "accuracy", "ci_low", "ci_high", "n",
                   "unparsed_rate", "no_final_answer_rate", "run_id", "date", "interval", "clusters"]
SAMPLE_COLUMNS = ["entry", "task", "subtask", "id", "prompt", "output", "answer", "method", "gold", "score", "run_id"]


def builtin_results_dir() -> Path:
    """``results/`` inside an installed wheel, or at the top of a source checkout."""
    package = Path(__file__).parent.parent
    packaged = package / "results"
    return packaged if packaged.is_dir() else package.parent / "results"


@dataclass(frozen=True)
class Results:
    """``tasks``: one row per (entry, task); ``subtasks``: one per (entry, task, subtask).

    Accuracies are fractions (0-1). A task's ``accuracy`` is the number the benchmark
    reports (:func:`orcabench.task.summary.headline`): the macro average over its subtasks where it has them, else the micro one.
    ``ci_low``..``ci_high`` is the micro accuracy's 95% interval, ``interval`` its kind ("independent", or
    "clustered" over ``clusters`` clusters: questions sharing a passage); ``macro_ci_low``..``macro_ci_high`` the
    macro average's stratified interval (tasks with subtasks); ``accuracy_ci_low``..``accuracy_ci_high`` the
    interval of ``accuracy`` itself (the macro one where it is a macro average). ``subset``: the run was
    limited (``--limit``, ``--limit-per-subtask``), so the cell is not the full test set.
    """

    tasks: pd.DataFrame
    subtasks: pd.DataFrame
    runs: dict[str, StoredRun] = field(default_factory=dict)  # entry -> its run (runs only)
    chosen: dict[tuple[str, str], str] = field(default_factory=dict)  # (entry, task) -> run id it came from
    notes: dict[str, str] = field(default_factory=dict)  # task or entry -> a reference source's note
    citations: dict[str, str] = field(default_factory=dict)  # reference name -> citation
    skipped: list[str] = field(default_factory=list)  # "path: why" for each run found in a folder that could not be read
    superseded: list[Path] = field(default_factory=list)  # runs found in folders that a later run of their entry hid
    read_notes: list[str] = field(default_factory=list)  # a run's results.json not used, and why (rebuilt from records)

    @property
    def entries(self) -> list[str]:
        return list(dict.fromkeys(self.tasks["entry"]))

    @property
    def task_names(self) -> list[str]:
        """The paper's table order (the orca2 suite) first, then others as they appear."""
        seen = list(dict.fromkeys(self.tasks["task"]))
        paper = [t for t in SUITES["orca2"] if t in seen]
        return paper + [t for t in seen if t not in paper]

    def samples(self, task: str | None = None) -> pd.DataFrame:
        """Per-sample records of the runs behind the table, one row per (entry, task, id)."""
        rows = []
        for (entry, task_name), run_id in self.chosen.items():
            if task is not None and task_name != task:
                continue
            run = self.runs[run_id]
            rows += [{"entry": entry, "task": r.task, "subtask": r.subtask, "id": r.id, "prompt": r.prompt, "output": r.output,
                      "answer": r.answer, "method": r.method, "gold": r.gold, "score": r.score, "run_id": run_id}
                     for r in run.task_records(task_name)]
        return pd.DataFrame(rows, columns=SAMPLE_COLUMNS)

    def wide(self, value: str = "accuracy") -> pd.DataFrame:
        """Entries as rows, tasks as columns (the paper's table layout)."""
        table = self.tasks.pivot(index="entry", columns="task", values=value)
        return table.reindex(index=self.entries, columns=self.task_names)


# --- loading ------------------------------------------------------------------------------


def _date(run: StoredRun) -> str:
    return run.manifest.last_finished()


def _entry(run: StoredRun) -> str:
    protocol = run.fingerprint.protocol
    return run.label if protocol in (None, "default") else f"{run.label} · {protocol}"


def _kind(task_name: str, records: list[Record]) -> tuple[str, bool]:
    """(generative | loglikelihood, chain of thought?) from the task registry, else the records."""
    task = discover().get(task_name)
    if task is not None:
        kind = "generative" if task.kind == "generate" else "loglikelihood"
    else:
        kind = "loglikelihood" if any(r.logprob is not None for r in records) else "generative"
    return kind, task_name.endswith("-cot") or "cot" in task_name.split(":")[-1].split("_")


def _value(value: float | None) -> float:
    return math.nan if value is None else value


def _current(stored: ResultsFile, scores: dict[str, list[float]]) -> bool:
    """Does the file describe these records: the same tasks, each with its n and its mean score?"""
    if set(stored.tasks) != set(scores):
        return False
    return all(result.n == len(scores[task]) and result.micro_accuracy is not None
               and math.isclose(result.micro_accuracy, math.fsum(scores[task]) / len(scores[task]), abs_tol=1e-12)
               for task, result in stored.tasks.items())


def run_results(run: StoredRun, notes: list[str]) -> ResultsFile:
    """The run's ``results.json`` where it is present, of the run's fingerprint and current (every task's n equal to
    its records'); else the same rebuilt from the records. Why a file present was not used goes to ``notes``."""
    path = run.path / RESULTS_FILE
    try:
        stored = read_results(run.path)
    except OrcabenchError as error:
        notes.append(f"{error}; rebuilt from the records")
        stored = None
    expected = fingerprint_id(run.fingerprint)
    if stored is not None and stored.fingerprint_id != expected:
        notes.append(f"{path}: written for another fingerprint ({stored.fingerprint_id[:12]}, the run's is {expected[:12]}); "
                     "ignored, rebuilt from the records")
        stored = None
    scores = {task: [record.score for record in run.task_records(task)] for task in run.tasks()}
    scores = {task: values for task, values in scores.items() if values}
    if stored is not None and not _current(stored, scores):
        stored = None  # records added or rescored since (a session that did not finish): the records are the truth
    return stored or build_results(run.manifest, run.records.values())


def _run_rows(entry: str, run: StoredRun, run_id: str, task_name: str,
              results: ResultsFile) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    records = run.task_records(task_name)
    result = results.tasks[task_name]
    fingerprint = run.fingerprint
    model = fingerprint.model_name
    spec = BUILTIN_MODELS.get(model)
    kind, cot = _kind(task_name, records)
    date = _date(run)
    common = {"entry": entry, "source": "run", "model": model, "backend": fingerprint.backend, "run_id": run_id,
              "date": date}
    macro = result.macro_interval
    task_row = {**common, "protocol": fingerprint.protocol, "task": task_name,
                "accuracy": _value(result.value), "micro_accuracy": _value(result.micro_accuracy),
                "ci_low": _value(result.micro_interval.low), "ci_high": _value(result.micro_interval.high), "n": result.n,
                "unparsed_rate": result.unparsed_rate, "no_final_answer_rate": result.no_final_answer_rate,
                "kind": kind, "cot": cot, "subtasks": len(result.subtasks), "size_params": spec.size_params if spec else None,
                "run_dir": str(run.path), "verified": True, "citation": None,
                "interval": CLUSTERED if result.micro_interval.kind == "clustered" else INDEPENDENT,
                "clusters": result.clusters, "macro_ci_low": _value(macro.low) if macro else math.nan,
                "macro_ci_high": _value(macro.high) if macro else math.nan,
                "accuracy_ci_low": _value(result.interval.low), "accuracy_ci_high": _value(result.interval.high),
                "subset": result.subset}
    subtask_rows = []
    for subtask, part in result.subtasks.items():
        subtask_rows.append({**common, "task": task_name, "subtask": subtask, "accuracy": _value(part.accuracy),
                             "ci_low": _value(part.interval.low), "ci_high": _value(part.interval.high), "n": part.n,
                             "unparsed_rate": part.unparsed_rate, "no_final_answer_rate": part.no_final_answer_rate,
                             "interval": CLUSTERED if part.interval.kind == "clustered" else INDEPENDENT,
                             "clusters": part.clusters})
    return task_row, subtask_rows


@dataclass(frozen=True)
class Reference:
    """A reference file's rows (one per model and task) and the notes that apply to them."""

    name: str  # "paper": its rows are the entries "<model> (paper)"
    citation: str
    rows: list[dict[str, Any]]
    notes: dict[str, str]  # task or model name -> note


def load_reference(path: Path, tasks: set[str] | None = None) -> Reference:
    """A reference file; with ``tasks``, only its rows (and notes) for those tasks."""
    data = read_user_yaml(path, f"reference file {path}")
    if not isinstance(data, dict) or data.get("kind") != REFERENCE_KIND:
        raise OrcabenchError(f"{path} is not an orcabench reference file (it needs `kind: {REFERENCE_KIND}`); "
                             "pass run directories or reference .yaml files")
    if data.get("schema_version") != REFERENCE_SCHEMA_VERSION:
        raise OrcabenchError(f"{path}: reference schema_version {data.get('schema_version')!r} is not supported "
                             f"(this orcabench reads {REFERENCE_SCHEMA_VERSION})")
    name, citation = str(data.get("name", path.stem)), str(data.get("citation", "")).strip()
    rows = []
    shown: set[str] = set()  # the tasks and model names of the rows kept: what a note may be about
    for number, model in enumerate(data.get("models") or []):
        scores = model.get("scores") if isinstance(model, dict) else None
        if not isinstance(scores, dict) or "name" not in model:
            raise OrcabenchError(f"{path}: models[{number}] needs a name and a scores mapping (task: percent)")
        unverified = set(model.get("unverified") or [])
        for task, percent in scores.items():
            if isinstance(percent, bool) or not isinstance(percent, (int, float)) or not 0 <= percent <= 100:
                raise OrcabenchError(f"{path}: {model['name']} {task} must be a percentage between 0 and 100, not {percent!r}")
            if tasks is not None and task not in tasks:
                continue
            shown |= {task, str(model["name"])}
            rows.append({"entry": f"{model['name']} ({name})", "source": "reference", "model": model.get("model", model["name"]),
                         "backend": None, "protocol": data.get("protocol"), "task": task, "accuracy": percent / 100,
                         "micro_accuracy": percent / 100, "ci_low": math.nan, "ci_high": math.nan, "n": None,
                         "unparsed_rate": math.nan, "no_final_answer_rate": math.nan,
                         "kind": "generative", "cot": False, "subtasks": 0,
                         "size_params": model.get("size_params"), "run_id": None, "run_dir": str(path), "date": None,
                         "verified": task not in unverified, "citation": citation, "interval": None, "clusters": None,
                         "macro_ci_low": math.nan, "macro_ci_high": math.nan, "accuracy_ci_low": math.nan,
                         "accuracy_ci_high": math.nan, "subset": False})
    notes = {str(k): str(v) for k, v in (data.get("notes") or {}).items() if str(k) in shown}
    return Reference(name, citation, rows, notes)


def _is_reference(path: Path) -> bool:
    return path.is_file() and path.suffix in (".yaml", ".yml")


def load_results(paths: Sequence[Path], reference: bool = True, labels: Mapping[Path, str] | None = None) -> Results:
    """Runs (named run dirs, or folders to search) and reference files as :class:`Results`.

    ``reference``: also add the built-in reference sources (``results/``), restricted to
    the tasks the runs hold, unless a reference file was passed explicitly. ``labels``:
    a named run directory's row label (a campaign's cell, model × variant), instead of its
    model · backend: runs of one model under two variants stay two rows.
    """
    named: list[Path] = []
    found: list[Path] = []
    references: list[Path] = []
    for path in paths:
        if _is_reference(path):
            references.append(path)
        elif (path / MANIFEST).is_file():
            named.append(path)
        elif path.is_dir():
            runs_below = find_runs(path)
            if not runs_below:
                raise OrcabenchError(f"{path} holds no orcabench runs (no {MANIFEST} below it); pass run directories made by "
                                     "`orcabench run` or reference .yaml files")
            found += runs_below
        else:
            raise not_a_run(path, "pass run directories, folders of runs, or reference .yaml files")

    # One run reached twice (named twice, or through overlapping folders) loads once.
    named = list({path.resolve(): path for path in named}.values())
    named_at = {path.resolve() for path in named}
    found = [path for path in dict.fromkeys(p.resolve() for p in found) if path not in named_at]
    runs = {}
    given = {path.resolve(): label for path, label in (labels or {}).items()}
    labelled: dict[str, str] = {}  # run id -> the label given for it
    skipped: list[str] = []
    for path in [*named, *found]:
        try:
            run = load_run(path)
        except OrcabenchError as error:
            if path in named:  # asked for by name: the report would silently lack it
                raise
            skipped.append(f"{path}: {error}")  # one broken run in a folder does not cost the others
            continue
        run_id = path.name if path.name not in runs else str(path)
        runs[run_id] = run
        if path.resolve() in given and path in named:
            labelled[run_id] = given[path.resolve()]
    ids = list(runs)
    named_ids, found_ids = ids[: len(named)], ids[len(named):]
    entries = {run_id: _entry(run) for run_id, run in runs.items()}
    # A run named on the command line is always shown; two named runs of one entry are
    # both wanted, so their labels carry the run id.
    per_entry = pd.Series([entries[r] for r in named_ids], dtype=object).value_counts()
    shown = {r: labelled.get(r) or (f"{entries[r]} [{r}]" if per_entry.get(entries[r], 0) > 1 else entries[r])
             for r in named_ids}
    picks: dict[tuple[str, str], str] = {(shown[r], task): r for r in named_ids for task in runs[r].tasks()}
    covered = {(entries[r], task) for r in named_ids for task in runs[r].tasks()}
    # Runs found in folders: for each (entry, task) not named, the latest run wins.
    for run_id in sorted(found_ids, key=lambda r: _date(runs[r])):
        for task in runs[run_id].tasks():
            if (entries[run_id], task) not in covered:
                picks[(entries[run_id], task)] = run_id
    position = {run_id: k for k, run_id in enumerate(ids)}  # rows follow the order runs were given / found
    picks = dict(sorted(picks.items(), key=lambda item: position[item[1]]))
    task_rows, subtask_rows = [], []
    read_notes: list[str] = []
    files: dict[str, ResultsFile] = {}  # run id -> its results (results.json, or rebuilt from its records)
    for (label, task), run_id in picks.items():
        if run_id not in files:
            files[run_id] = run_results(runs[run_id], read_notes)
        row, subs = _run_rows(label, runs[run_id], run_id, task, files[run_id])
        task_rows.append(row)
        subtask_rows += subs

    notes: dict[str, str] = {}
    citations: dict[str, str] = {}
    run_tasks = {row["task"] for row in task_rows}
    # Built-in references join a report only where they share its tasks; files named, whole.
    restrict = reference and not references
    for path in sorted(builtin_results_dir().glob("*.yaml")) if restrict else references:
        loaded = load_reference(path, run_tasks if restrict else None)
        if loaded.rows:
            task_rows += loaded.rows
            citations[loaded.name] = loaded.citation
            notes.update(loaded.notes)
    if not task_rows:
        raise OrcabenchError("nothing to report: the runs hold no records; pass finished run directories"
                             + (f" ({len(skipped)} unreadable run(s) skipped: {skipped[0]})" if skipped else ""))
    tasks = pd.DataFrame(task_rows, columns=TASK_COLUMNS)
    subtasks = pd.DataFrame(subtask_rows, columns=SUBTASK_COLUMNS)
    for frame in (tasks, subtasks):  # a count stays an integer beside the empty cells of unclustered rows
        frame["clusters"] = frame["clusters"].astype("Int64")
    used = set(picks.values())
    superseded = [runs[run_id].path for run_id in found_ids if run_id not in used]
    return Results(tasks=tasks, subtasks=subtasks, runs={k: v for k, v in runs.items() if k in used}, chosen=picks,
                   notes=notes, citations=citations, skipped=skipped,
                   superseded=superseded, read_notes=read_notes)
