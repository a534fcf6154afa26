"""Summaries of scored records: accuracy with CI, per subtask, and the paper's averages."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from orcabench.stats import clustered_mean_ci, clustered_se, mean_ci, stratified_mean_ci
from orcabench.task import MICRO_AVERAGED, REASONING_SUITE
from orcabench.types import NO_FINAL_ANSWER, Record


# The kinds of interval a summary gives: Wilson (0/1 scores) or bootstrap (graded) for
# independent questions, the cluster-robust normal interval where questions share a passage.
INDEPENDENT, CLUSTERED = "independent", "clustered"


@dataclass(frozen=True)
class TaskSummary:
    """Accuracy over all samples of a task (micro), with its 95% CI, and per subtask.

    Where the task's records name clusters (questions on one passage) the CI is cluster-robust
    (:func:`orcabench.stats.clustered_mean_ci`) and ``clusters`` counts them; else it is
    :func:`orcabench.stats.mean_ci`'s and ``clusters`` is None. ``macro_ci`` is the stratified
    interval of the macro average (:func:`orcabench.stats.stratified_mean_ci`), None without subtasks.
    """

    task: str
    n: int
    accuracy: float
    ci_low: float
    ci_high: float
    unparsed: int
    subtasks: dict[str, tuple[float, int]] = field(default_factory=dict)  # subtask -> (accuracy, n)
    no_final_answer: int = 0  # of the unparsed: a reasoning trace with no final answer after it
    traces: int = 0  # samples whose output had a reasoning trace
    clusters: int | None = None  # distinct clusters (a question without one counts as its own); None: unclustered
    macro_ci: tuple[float, float] | None = None

    @property
    def interval(self) -> str:
        """How ``ci_low``..``ci_high`` was computed: INDEPENDENT or CLUSTERED."""
        return INDEPENDENT if self.clusters is None else CLUSTERED

    @property
    def no_final_answer_rate(self) -> float:
        return self.no_final_answer / self.n if self.n else 0.0

    @property
    def unparsed_rate(self) -> float:
        return self.unparsed / self.n if self.n else 0.0

    @property
    def macro_accuracy(self) -> float | None:
        """Unweighted mean over subtasks, as BBH and AGIEval are reported; None without subtasks."""
        return sum(a for a, _ in self.subtasks.values()) / len(self.subtasks) if self.subtasks else None


def _interval(records: Sequence[Record]) -> tuple[float, float, float, int | None]:
    """Mean, CI and cluster count: cluster-robust where any record names a cluster."""
    scores = [r.score for r in records]
    if not any(r.cluster is not None for r in records):
        return (*mean_ci(scores), None)
    clusters = [r.cluster for r in records]
    return (*clustered_mean_ci(scores, clusters), len(set(clusters) - {None}) + clusters.count(None))


def summarize(task: str, records: Sequence[Record]) -> TaskSummary:
    accuracy, low, high, clusters = _interval(records)
    by_subtask: dict[str, list[Record]] = {}
    for record in records:
        if record.subtask is not None:
            by_subtask.setdefault(record.subtask, []).append(record)
    subtasks = {name: (sum(r.score for r in part) / len(part), len(part)) for name, part in sorted(by_subtask.items())}
    macro_ci = None
    if subtasks:  # each subtask a stratum, with its own (clustered where it clusters) standard error
        errors = [clustered_se([r.score for r in by_subtask[name]], [r.cluster for r in by_subtask[name]]) for name in subtasks]
        _, macro_low, macro_high = stratified_mean_ci([mean for mean, _ in subtasks.values()], errors)
        macro_ci = (macro_low, macro_high)
    return TaskSummary(task=task, n=len(records), accuracy=accuracy, ci_low=low, ci_high=high,
                       unparsed=sum(not r.parsed for r in records), subtasks=subtasks,
                       no_final_answer=sum(r.method == NO_FINAL_ANSWER for r in records),
                       traces=sum(r.reasoning is not None for r in records), clusters=clusters, macro_ci=macro_ci)


def headline_ci(summary: TaskSummary) -> tuple[float, float]:
    """The interval of :func:`headline`'s number: the stratified one for a macro average, else the task's."""
    macro = None if summary.task in MICRO_AVERAGED else summary.macro_ci
    return macro if macro is not None else (summary.ci_low, summary.ci_high)


def headline(summary: TaskSummary) -> float:
    """The number a benchmark reports: the macro average over subtasks where it has them,
    unless the task is micro-averaged (RACE)."""
    macro = None if summary.task in MICRO_AVERAGED else summary.macro_accuracy
    return macro if macro is not None else summary.accuracy


def reasoning_average(headlines: Mapping[str, float]) -> tuple[float | None, list[str]]:
    """The Orca 2 paper's reasoning average (Figure 4) of the tasks' headline accuracies, and the benchmarks it is missing.

    The value is None unless all six benchmarks are present (a NaN is missing): a partial
    mean is not the paper's number. The console's summary and the reports' leaderboard both use this.
    """
    missing = [name for name in REASONING_SUITE if name not in headlines or math.isnan(headlines[name])]
    if missing:
        return None, missing
    return sum(headlines[name] for name in REASONING_SUITE) / len(REASONING_SUITE), []
