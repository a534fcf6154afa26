"""Robustness of a number to the prompt's wording and the options' order (``--prompt-variants``, ``--circular``).

A run with variants holds, for each task, the same questions asked several ways (records with
the same ``id`` and their own ``variant``). Per model and task this module gives

- the accuracy under each variant, their mean, range (min–max) and standard deviation;
- a split of the variance of the 0/1 correct matrix (question × variant) into a between-question
  and a between-variant part (:func:`variance_split`);
- for rotations (CircularEval): plain accuracy (the data's own order, ``r0``), circular accuracy
  (right under every rotation) and the position bias (which letter it picks when wrong);
- across models (:func:`ranking_stability`): whether their order changes from variant to variant
  (Kendall's tau between the per-variant rankings, and the pairs of models that swap).
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import kendalltau

from orcabench.report.results import Results
from orcabench.store.reader import StoredRun, natural_order
from orcabench.task.variants import ROTATION, variant_kind
from orcabench.types import Record

VARIANT_COLUMNS = ["entry", "task", "kind", "variants", "n", "mean", "min", "max", "sd", "per_variant", "questions",
                   "between_question", "between_variant", "residual", "plain", "circular", "position_bias"]
RANKING_COLUMNS = ["task", "kind", "variants", "models", "kendall_tau_min", "kendall_tau_mean", "stable", "swaps"]


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


def _matrix(by_variant: dict[str, dict[str, Record]], variants: Sequence[str]) -> tuple[np.ndarray, list[str]]:
    """The 0/1 matrix over the questions every one of ``variants`` holds (ids in natural order)."""
    ids = sorted(set.intersection(*(set(by_variant[v]) for v in variants)), key=natural_order) if variants else []
    return np.array([[by_variant[v][i].score for v in variants] for i in ids], dtype=float).reshape(len(ids), len(variants)), ids


def task_robustness(run: StoredRun, task: str) -> dict[str, Any] | None:
    """One row of the variants table for a run's task; None where the run asked it only one way."""
    variants = run.variants(task)
    if len(variants) < 2:
        return None
    by_variant: dict[str, dict[str, Record]] = {v: {} for v in variants}
    for record in run.records.values():
        if record.task == task and record.variant in by_variant:
            by_variant[record.variant][record.id] = record
    variants = [v for v in variants if by_variant[v]]
    if len(variants) < 2:
        return None
    accuracy = {v: float(np.mean([r.score for r in by_variant[v].values()])) for v in variants}
    values = np.array(list(accuracy.values()))
    kind = variant_kind(variants[0])
    # Rotations: questions with fewer options have fewer rotations; the split uses those every question has.
    common = [v for v in variants if all(set(by_variant[v]) >= set(by_variant[w]) for w in variants)] or variants
    matrix, _ = _matrix(by_variant, common if kind == ROTATION else variants)
    split = variance_split(matrix)
    row: dict[str, Any] = {
        "task": task, "kind": kind, "variants": len(variants), "n": max(len(by_variant[v]) for v in variants),
        "mean": float(values.mean()), "min": float(values.min()), "max": float(values.max()),
        "sd": float(values.std(ddof=1)), "per_variant": accuracy, "questions": split.questions,
        "between_question": split.between_question, "between_variant": split.between_variant, "residual": split.residual,
        "plain": math.nan, "circular": math.nan, "position_bias": {}}
    if kind == ROTATION:  # each question on the rotations stored (all of them once the run is finished)
        marks: dict[str, list[bool]] = {}
        for v in variants:
            for sample_id, record in by_variant[v].items():
                marks.setdefault(sample_id, []).append(record.score >= 1)
        every = [r for v in variants for r in by_variant[v].values()]
        row.update(plain=accuracy[variants[0]], circular=circular_accuracy(marks), position_bias=position_bias(every))
    return row


def variants_table(results: Results) -> pd.DataFrame:
    """One row per (entry, task) asked several ways; empty (with its columns) when no run has variants."""
    rows = []
    for (entry, task), run_id in results.chosen.items():
        row = task_robustness(results.runs[run_id], task)
        if row is not None:
            rows.append({"entry": entry, **row})
    return pd.DataFrame(rows, columns=VARIANT_COLUMNS)


def _swaps(accuracy: pd.DataFrame) -> list[tuple[str, str]]:
    """Pairs of entries (rows) ordered one way under one variant (column) and the other way under another."""
    swapped = []
    for a, b in itertools.combinations(accuracy.index, 2):
        signs = set(np.sign(accuracy.loc[a] - accuracy.loc[b]).tolist()) - {0.0}
        if len(signs) > 1:
            swapped.append((str(a), str(b)))
    return swapped


def ranking_stability(table: pd.DataFrame) -> pd.DataFrame:
    """Per task with at least two entries asked under the same variants: Kendall's tau between the
    entries' accuracies under each pair of variants (``scipy.stats.kendalltau``, tau-b: ties allowed;
    1 = the same order), its minimum and mean over pairs, and the pairs of entries that swap places."""
    rows = []
    for (task, kind), part in table.groupby(["task", "kind"], sort=False):
        if len(part) < 2:
            continue
        accuracy = pd.DataFrame(list(part["per_variant"]), index=list(part["entry"])).dropna(axis=1)
        if accuracy.shape[1] < 2:
            continue
        taus = []
        for first, second in itertools.combinations(accuracy.columns, 2):
            tau = kendalltau(accuracy[first], accuracy[second]).statistic
            taus.append(float(tau) if tau is not None else math.nan)
        finite = [t for t in taus if not math.isnan(t)]
        swaps = _swaps(accuracy)
        rows.append({"task": task, "kind": kind, "variants": accuracy.shape[1], "models": len(accuracy),
                     "kendall_tau_min": min(finite) if finite else math.nan,
                     "kendall_tau_mean": float(np.mean(finite)) if finite else math.nan,
                     "stable": not swaps, "swaps": swaps})
    return pd.DataFrame(rows, columns=RANKING_COLUMNS)


def _points(value: float, spec: str = ".1f") -> str:
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else format(100 * value, spec)


def variants_display(table: pd.DataFrame) -> pd.DataFrame:
    """The variants table as every format shows it: accuracies in percent, the variance parts as shares."""
    shown = []
    for row in table.to_dict("records"):
        total = row["between_question"] + row["between_variant"] + row["residual"]

        def share(part: float, total: float = total) -> str:
            return "–" if not total or math.isnan(total) else f"{100 * part / total:.0f}%"

        bias = row["position_bias"] or {}
        shown.append({
            "model": row["entry"], "task": row["task"], "kind": row["kind"], "variants": row["variants"], "n": row["n"],
            "mean": _points(row["mean"]), "min–max": f"{_points(row['min'])}–{_points(row['max'])}",
            "sd": _points(row["sd"]), "between-question": share(row["between_question"]),
            "between-variant": share(row["between_variant"]),
            "plain": _points(row["plain"]), "circular": _points(row["circular"]),
            "wrong picks": " ".join(f"{letter} {100 * part:.0f}%" for letter, part in bias.items()) or "–"})
    return pd.DataFrame(shown)


def ranking_display(table: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame([{
        "task": row["task"], "kind": row["kind"], "variants": row["variants"], "models": row["models"],
        "Kendall τ (min)": "–" if math.isnan(row["kendall_tau_min"]) else f"{row['kendall_tau_min']:.2f}",
        "order": "stable" if row["stable"] else "changes",
        "pairs that swap": "; ".join(f"{a} ↔ {b}" for a, b in row["swaps"]) or "–"} for row in table.to_dict("records")])


VARIANTS_CAPTION = ("Each task asked several ways (--prompt-variants: paraphrased instructions; --circular: options "
                    "rotated). Accuracy in percent: mean, min–max and standard deviation across the variants; the "
                    "variance of the question × variant 0/1 matrix split into between-question and between-variant "
                    "parts (ANOVA variance components; the rest is interaction and noise). Rotations: plain is the "
                    "data's own option order, circular counts a question right only if every rotation is "
                    "(OpenCompass CircularEval); wrong picks: the letters chosen when wrong.")
RANKING_CAPTION = ("Whether the order of the models survives the variants: Kendall's τ between their per-variant "
                   "rankings (1: the same order under every pair of variants) and the pairs that swap places.")
