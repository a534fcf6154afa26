"""``results.json``: a run's results in one small file, beside its manifest (docs/results.md).

Every finished session writes it (:func:`write_results`, through the store's one safe-write
helper), from every record the run holds: per task and subtask the headline metric, n, the
95% interval and its kind, the unparsed and no-final-answer rates, with the fingerprint's id
and ``schema_version``. ``orcabench report`` and the campaign report read it where it is
present, current and of the run's fingerprint (:func:`read_results`), and rebuild the same
thing from the records where not (:func:`build_results`): one representation, so the tables
are the same either way. Reading is strict: an unknown key, a missing one or a wrong type is
refused (one line), as the policy and campaign files are.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from orcabench.store.files import write_atomic
from orcabench.store.schema import Fingerprint, Manifest, now
from orcabench.task import MICRO_AVERAGED
from orcabench.task.robustness import TaskVariantStats, task_variant_stats
from orcabench.task.summary import CLUSTERED, TaskSummary, summarize
from orcabench.task.variants import ROTATION
from orcabench.types import OrcabenchError, Record

RESULTS_FILE = "results.json"
RESULTS_KIND = "orcabench-results"
RESULTS_SCHEMA_VERSION = 1
CONFIDENCE = 0.95

# How an interval was computed: Wilson (right/wrong scores) or a bootstrap (graded) for independent
# questions, cluster-robust where questions share a passage, stratified for a macro average over subtasks.
IntervalKind = Literal["wilson", "bootstrap", "clustered", "stratified"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Interval(_Strict):
    low: float | None  # null: undefined (one question, one cluster)
    high: float | None
    kind: IntervalKind
    confidence: float = CONFIDENCE


class SubtaskResult(_Strict):
    accuracy: float | None
    n: int
    interval: Interval
    clusters: int | None = None  # passages, where the questions cluster
    unparsed_rate: float
    no_final_answer_rate: float


class TaskResult(_Strict):
    metric: Literal["accuracy", "macro_accuracy"]  # the headline: the macro average over subtasks where reported so
    value: float | None
    interval: Interval  # the headline's
    n: int
    micro_accuracy: float | None
    micro_interval: Interval
    macro_interval: Interval | None = None  # tasks with subtasks: the stratified interval of their macro average
    clusters: int | None = None
    unparsed_rate: float
    no_final_answer_rate: float
    subset: bool  # the run was limited (--limit, --limit-per-subtask): not the full test set
    subtasks: dict[str, SubtaskResult] = {}


class VariantAccuracy(_Strict):
    accuracy: float | None
    n: int


class TaskVariants(_Strict):
    """A task asked several ways (``--prompt-variants``, ``--circular``): :class:`TaskVariantStats`, NaN as null."""

    kind: Literal["prompt", "rotation"]
    per_variant: dict[str, VariantAccuracy]  # in the run's order; the first is the one ``tasks`` counts
    mean: float | None
    min: float | None
    max: float | None
    sd: float | None  # of the variants' accuracies (n - 1)
    questions: int  # the question × variant matrix the split is computed on
    between_question: float | None  # variance components (fractions squared); null: fewer than two questions
    between_variant: float | None
    residual: float | None
    plain: float | None = None  # rotations only: the data's own option order (r0)
    circular: float | None = None  # rotations only: right under every rotation (OpenCompass CircularEval)
    position_bias: dict[str, float] | None = None  # rotations only: the letters picked when wrong, as shares


class ResultsFile(_Strict):
    kind: Literal["orcabench-results"]
    schema_version: Literal[1]
    fingerprint_id: str  # the fingerprint's digest (its first 12 characters name the run directory)
    model: str
    backend: str
    protocol: str | None
    written: str  # when this file was written (UTC, ISO 8601)
    tasks: dict[str, TaskResult]
    # Runs with variants (prompt variants, CircularEval): each task asked several ways. Absent or null otherwise.
    variants: dict[str, TaskVariants] | None = None


def fingerprint_id(fingerprint: Fingerprint) -> str:
    return fingerprint.digest()


def _number(value: float) -> float | None:
    return None if math.isnan(value) else float(value)


def _kind(summary: TaskSummary, records: Sequence[Record]) -> IntervalKind:
    if summary.interval == CLUSTERED:
        return "clustered"
    return "wilson" if all(r.score in (0.0, 1.0) for r in records) else "bootstrap"


def _interval(low: float, high: float, kind: IntervalKind) -> Interval:
    return Interval(low=_number(low), high=_number(high), kind=kind)


def task_result(task: str, records: Sequence[Record], subset: bool) -> TaskResult:
    """One task's entry, from its records (:func:`orcabench.task.summary.summarize`, the run summary's numbers)."""
    summary = summarize(task, records)
    micro = _interval(summary.ci_low, summary.ci_high, _kind(summary, records))
    macro = None if summary.macro_ci is None else _interval(*summary.macro_ci, "stratified")
    headline_is_macro = bool(summary.subtasks) and task not in MICRO_AVERAGED
    by_subtask: dict[str, list[Record]] = {}
    for record in records:
        if record.subtask is not None:
            by_subtask.setdefault(record.subtask, []).append(record)
    subtasks = {}
    for name in summary.subtasks:
        part = summarize(task, by_subtask[name])
        subtasks[name] = SubtaskResult(accuracy=_number(part.accuracy), n=part.n,
                                       interval=_interval(part.ci_low, part.ci_high, _kind(part, by_subtask[name])),
                                       clusters=part.clusters, unparsed_rate=part.unparsed_rate,
                                       no_final_answer_rate=part.no_final_answer_rate)
    value = summary.macro_accuracy if headline_is_macro else summary.accuracy
    return TaskResult(metric="macro_accuracy" if headline_is_macro else "accuracy", value=_number(value),
                      interval=macro if headline_is_macro and macro is not None else micro, n=summary.n,
                      micro_accuracy=_number(summary.accuracy), micro_interval=micro, macro_interval=macro,
                      clusters=summary.clusters, unparsed_rate=summary.unparsed_rate,
                      no_final_answer_rate=summary.no_final_answer_rate, subset=subset, subtasks=subtasks)


def task_variants(stats: TaskVariantStats) -> TaskVariants:
    rotation = stats.kind == ROTATION
    return TaskVariants(
        kind="rotation" if rotation else "prompt",
        per_variant={v: VariantAccuracy(accuracy=_number(a), n=stats.per_variant_n[v]) for v, a in stats.per_variant.items()},
        mean=_number(stats.mean), min=_number(stats.min), max=_number(stats.max), sd=_number(stats.sd),
        questions=stats.questions, between_question=_number(stats.between_question),
        between_variant=_number(stats.between_variant), residual=_number(stats.residual),
        plain=_number(stats.plain) if rotation else None, circular=_number(stats.circular) if rotation else None,
        position_bias=dict(stats.position_bias) if rotation else None)


def variants_results(fingerprint: Fingerprint, tasks: Iterable[str], records: Sequence[Record]) -> dict[str, TaskVariants] | None:
    """Each task asked several ways, with its numbers across the variants (:func:`task_variant_stats`, the report's);
    None for a run without variants, whose file is then as before."""
    found = {}
    for task in tasks:
        stats = task_variant_stats(task, fingerprint.variants(task, records), records)
        if stats is not None:
            found[task] = task_variants(stats)
    return found or None


def is_subset(manifest: Manifest) -> bool:
    return any(s.limit is not None or s.limit_per_subtask is not None for s in manifest.sessions)


def build_results(manifest: Manifest, records: Iterable[Record]) -> ResultsFile:
    """The results of a run's records (every task they hold, in the order they first appear; for a variant run, as
    its leaderboard counts them: the first variant)."""
    records = list(records)
    fingerprint = manifest.fingerprint
    tasks = dict.fromkeys(record.task for record in records)
    by_task = {task: fingerprint.leaderboard_records(task, records) for task in tasks}  # a variant run: its first variant
    subset = is_subset(manifest)
    return ResultsFile(kind=RESULTS_KIND, schema_version=RESULTS_SCHEMA_VERSION, fingerprint_id=fingerprint_id(fingerprint),
                       model=fingerprint.model_name, backend=fingerprint.backend, protocol=fingerprint.protocol,
                       written=now(), tasks={task: task_result(task, part, subset) for task, part in by_task.items()},
                       variants=variants_results(fingerprint, tasks, records))


def write_results(run_dir: Path, manifest: Manifest, records: Iterable[Record]) -> Path:
    """``results.json`` in ``run_dir``, replaced all at once (the caller holds the run's lock)."""
    results = build_results(manifest, records)
    text = json.dumps(results.model_dump(mode="json"), indent=2, ensure_ascii=False) + "\n"
    return write_atomic(run_dir / RESULTS_FILE, text, "results", owned_run=True)


def parse_results(data: Any, where: str) -> ResultsFile:
    """A results file's JSON, validated strictly; bad content is one line naming the file and the first problem."""
    try:
        return ResultsFile.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        place = ".".join(str(part) for part in first["loc"]) or "the file"
        raise OrcabenchError(f"{where}: {place}: {first['msg']}") from None


def read_results(run_dir: Path) -> ResultsFile | None:
    """``run_dir``'s results.json, or None where it has none. Unreadable or invalid: one line (OrcabenchError)."""
    path = run_dir / RESULTS_FILE
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise OrcabenchError(f"{path}: not a readable results file ({error})") from None
    return parse_results(data, str(path))
