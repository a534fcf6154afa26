"""Robustness of a number to the prompt's wording and the options' order (``--prompt-variants``, ``--circular``).

The per-task statistics are :mod:`orcabench.task.robustness`'s (one implementation: ``results.json`` holds the
same numbers); this module lays them out per model and compares models.

A run with variants holds, for each task, the same questions asked several ways (records with
the same ``id`` and their own ``variant``). Per model and task this module gives

- the accuracy under each variant, their mean, range (min–max) and standard deviation;
- a split of the variance of the 0/1 correct matrix (question × variant) into a between-question
  and a between-variant part;
- for rotations (CircularEval): plain accuracy (the data's own order, ``r0``), circular accuracy
  (right under every rotation) and the position bias (which letter it picks when wrong);
- across models (:func:`ranking_stability`): whether their order changes from variant to variant
  (Kendall's tau between the per-variant rankings, and the pairs of models that swap).
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import kendalltau

from orcabench.report.results import Results
from orcabench.store.reader import StoredRun
from orcabench.task.robustness import task_variant_stats

VARIANT_COLUMNS = ["entry", "task", "kind", "variants", "n", "mean", "min", "max", "sd", "per_variant", "questions",
                   "between_question", "between_variant", "residual", "plain", "circular", "position_bias"]
RANKING_COLUMNS = ["task", "kind", "variants", "models", "kendall_tau_min", "kendall_tau_mean", "stable", "swaps"]


def task_robustness(run: StoredRun, task: str) -> dict[str, Any] | None:
    """One row of the variants table for a run's task (:func:`orcabench.task.robustness.task_variant_stats`, the
    numbers ``results.json`` holds); None where the run asked it only one way."""
    stats = task_variant_stats(task, run.variants(task), run.records.values())
    return None if stats is None else dataclasses.asdict(stats)


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
