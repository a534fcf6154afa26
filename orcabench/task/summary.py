"""Summaries of scored records: accuracy with CI, per subtask, and the paper's averages."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from orcabench.stats import mean_ci
from orcabench.task import MICRO_AVERAGED, REASONING_SUITE
from orcabench.types import NO_FINAL_ANSWER, Record


@dataclass(frozen=True)
class TaskSummary:
    """Accuracy over all samples of a task (micro), with its 95% CI, and per subtask."""

    task: str
    n: int
    accuracy: float
    ci_low: float
    ci_high: float
    unparsed: int
    subtasks: dict[str, tuple[float, int]] = field(default_factory=dict)  # subtask -> (accuracy, n)
    no_final_answer: int = 0  # of the unparsed: a reasoning trace with no final answer after it
    traces: int = 0  # samples whose output had a reasoning trace

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


def summarize(task: str, records: Sequence[Record]) -> TaskSummary:
    accuracy, low, high = mean_ci([r.score for r in records])
    by_subtask: dict[str, list[float]] = {}
    for record in records:
        if record.subtask is not None:
            by_subtask.setdefault(record.subtask, []).append(record.score)
    subtasks = {name: (sum(scores) / len(scores), len(scores)) for name, scores in sorted(by_subtask.items())}
    return TaskSummary(task=task, n=len(records), accuracy=accuracy, ci_low=low, ci_high=high,
                       unparsed=sum(not r.parsed for r in records), subtasks=subtasks,
                       no_final_answer=sum(r.method == NO_FINAL_ANSWER for r in records),
                       traces=sum(r.reasoning is not None for r in records))


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
