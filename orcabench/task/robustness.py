"""The numbers of a task asked several ways (``--prompt-variants``, ``--circular``), from its records.

One implementation for every reader: ``results.json`` (:mod:`orcabench.task.results_file`, its ``variants``)
and the report's variants table (:mod:`orcabench.report.robustness`) both call :func:`task_variant_stats`.
Per task: the accuracy and n under each variant, their mean, min, max and standard deviation; the split of
the question × variant 0/1 matrix's variance into a between-question and a between-variant part
(:func:`variance_split`); for rotations (CircularEval) plain accuracy (``r0``), circular accuracy and the
position bias of the wrong answers.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from orcabench.store.reader import natural_order
from orcabench.task.variants import ROTATION, variant_kind
from orcabench.types import Record


@dataclass(frozen=True)
class VarianceSplit:
    """The variance components of a question × variant matrix of 0/1 scores (fractions squared).

    ``between_question``: how much questions differ in difficulty; ``between_variant``: how much the
    variants move accuracy (its square root is the standard deviation of a variant's accuracy the
    data support, beyond chance); ``residual``: question-by-variant interaction and noise, which one
    answer per cell cannot tell apart.
    """

    questions: int
    variants: int
    between_question: float
    between_variant: float
    residual: float

    @property
    def total(self) -> float:
        return self.between_question + self.between_variant + self.residual

    def share(self, part: float) -> float:
        return part / self.total if self.total > 0 else math.nan


def variance_split(matrix: np.ndarray) -> VarianceSplit:
    """Variance components of a two-way crossed design with one observation per cell (questions × variants).

    The sums of squares of the two-way ANOVA without replication, their mean squares, and the
    ANOVA (method-of-moments) estimators of the random-effects variance components, negative
    estimates set to 0: σ²_question = (MS_q − MS_res)/k, σ²_variant = (MS_v − MS_res)/n,
    σ²_residual = MS_res, for n questions and k variants. Sources: Montgomery, *Design and Analysis
    of Experiments* (8th ed., 2013), §5.3.7 (one observation per cell: the interaction is not
    separable from error) and §13.3 (the two-factor random-effects model and its ANOVA
    estimators); the same p × i design is Brennan, *Generalizability Theory* (2001), §3.1.
    """
    scores = np.asarray(matrix, dtype=float)
    n, k = scores.shape
    if n < 2 or k < 2:
        return VarianceSplit(n, k, math.nan, math.nan, math.nan)
    grand = scores.mean()
    ss_question = k * float(((scores.mean(axis=1) - grand) ** 2).sum())
    ss_variant = n * float(((scores.mean(axis=0) - grand) ** 2).sum())
    ss_residual = float(((scores - grand) ** 2).sum()) - ss_question - ss_variant
    ms_question, ms_variant = ss_question / (n - 1), ss_variant / (k - 1)
    ms_residual = max(ss_residual, 0.0) / ((n - 1) * (k - 1))
    return VarianceSplit(n, k, max((ms_question - ms_residual) / k, 0.0), max((ms_variant - ms_residual) / n, 0.0),
                         ms_residual)


def circular_accuracy(correct: dict[str, list[bool]]) -> float:
    """The share of questions right under every rotation of their options: OpenCompass's CircularEval
    ``perf_circular`` (``opencompass/datasets/circular.py``, ``CircularEvaluator``: "a question is
    considered correct only if all its variations with shuffled options are answered correctly")."""
    return float(np.mean([all(marks) for marks in correct.values()])) if correct else math.nan


def position_bias(records: Sequence[Record]) -> dict[str, float]:
    """Among the wrong answers that name a letter, the share naming each letter (A.. in order): a model
    without a position preference spreads its errors over the wrong letters evenly, whatever the order."""
    picked = Counter(r.answer for r in records
                     if r.score < 1 and r.answer is not None and len(r.answer) == 1 and r.answer.isupper())
    total = sum(picked.values())
    return {letter: picked[letter] / total for letter in sorted(picked)} if total else {}


@dataclass(frozen=True)
class TaskVariantStats:
    """A task's numbers across its variants (fractions; NaN where undefined). ``plain``, ``circular`` and
    ``position_bias`` are for rotations only (NaN, NaN and {} for prompt variants)."""

    task: str
    kind: str  # PROMPT or ROTATION
    variants: int
    n: int  # the most questions any variant holds
    mean: float
    min: float
    max: float
    sd: float  # across the variants' accuracies, n - 1 in the denominator
    per_variant: dict[str, float]  # accuracy under each variant, in the run's order
    per_variant_n: dict[str, int]
    questions: int  # rows of the matrix the variance split is computed on
    between_question: float
    between_variant: float
    residual: float
    plain: float = math.nan
    circular: float = math.nan
    position_bias: dict[str, float] = field(default_factory=dict)


def _matrix(by_variant: dict[str, dict[str, Record]], variants: Sequence[str]) -> np.ndarray:
    """The 0/1 matrix over the questions every one of ``variants`` holds (ids in natural order)."""
    ids = sorted(set.intersection(*(set(by_variant[v]) for v in variants)), key=natural_order) if variants else []
    return np.array([[by_variant[v][i].score for v in variants] for i in ids], dtype=float).reshape(len(ids), len(variants))


def task_variant_stats(task: str, variants: Sequence[str], records: Iterable[Record]) -> TaskVariantStats | None:
    """``task``'s numbers across ``variants`` (the run's order: ``Fingerprint.variants``) from the run's records;
    None where fewer than two of them hold records (a run that asked it only one way)."""
    by_variant: dict[str, dict[str, Record]] = {v: {} for v in variants}
    for record in records:
        if record.task == task and record.variant in by_variant:
            by_variant[record.variant][record.id] = record
    present = [v for v in variants if by_variant[v]]
    if len(present) < 2:
        return None
    accuracy = {v: float(np.mean([r.score for r in by_variant[v].values()])) for v in present}
    values = np.array(list(accuracy.values()))
    kind = variant_kind(present[0])
    # Rotations: questions with fewer options have fewer rotations; the split uses those every question has.
    common = [v for v in present if all(set(by_variant[v]) >= set(by_variant[w]) for w in present)] or present
    split = variance_split(_matrix(by_variant, common if kind == ROTATION else present))
    rotation: dict[str, object] = {}
    if kind == ROTATION:  # each question on the rotations stored (all of them once the run is finished)
        marks: dict[str, list[bool]] = {}
        for v in present:
            for sample_id, record in by_variant[v].items():
                marks.setdefault(sample_id, []).append(record.score >= 1)
        every = [r for v in present for r in by_variant[v].values()]
        rotation = {"plain": accuracy[present[0]], "circular": circular_accuracy(marks),
                    "position_bias": position_bias(every)}
    return TaskVariantStats(
        task=task, kind=kind, variants=len(present), n=max(len(by_variant[v]) for v in present),
        mean=float(values.mean()), min=float(values.min()), max=float(values.max()), sd=float(values.std(ddof=1)),
        per_variant=accuracy, per_variant_n={v: len(by_variant[v]) for v in present}, questions=split.questions,
        between_question=split.between_question, between_variant=split.between_variant, residual=split.residual,
        **rotation)  # type: ignore[arg-type]
