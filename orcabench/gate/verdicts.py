"""Regression gating: a candidate run against a baseline run on the same examples.

``orcabench gate`` answers a CI system with an exit code: 0 pass, 1 regression, 2 bad input
(including a required task with fewer paired samples than its ``min_n``), 3 inconclusive.
``orcabench compare`` shows the paired statistics without a verdict.

Samples are paired by (task, example id). The default rule is a non-inferiority test per
required task on the difference delta = candidate - baseline, with one method behind both
the verdict and the interval shown (Tango's score bounds; docs/gate.md):

- ``pass`` when the lower bound, at the policy's confidence, is above -margin;
- ``regression`` when the upper bound, at 1 - alpha / k for k required tasks (Bonferroni:
  the chance of any false alarm stays below alpha), is below -margin;
- ``inconclusive`` otherwise, with roughly how many pairs would settle it.

The gate passes only when every required task passes (an intersection-union test: its error
rate is each task's, alpha). ``rule: lenient`` keeps the earlier rule, which passes unless a
drop beyond the margin is significant (exact McNemar, Holm-adjusted). ``--sequential`` runs
the anytime-valid version (:mod:`orcabench.gate.sequential`); informational tasks never gate.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from orcabench.gate.policy import COMPARE_POLICY, Policy, TaskPolicy
from orcabench.store.reader import StoredRun, load_run, natural_order
from orcabench.gate.sequential import Levels, SequenceResult, TaskSequence, passages, run_sequence, sequence_order
from orcabench.stats import (
    PairedStats,
    cluster_labels,
    clustered_difference_bounds,
    difference_bounds,
    difference_variance,
    holm,
    paired_stats,
    pairs_to_settle,
)
from orcabench.types import OrcabenchError

# The gate's verdict on the candidate (exit 0, 1, 2, 3); compare gives none.
GateVerdict = Literal["pass", "regression", "insufficient", "inconclusive"]
# A task's: the gate's, or "info" for an informational task; "" in a comparison without verdicts.
TaskVerdict = Literal["pass", "regression", "insufficient", "inconclusive", "info", ""]


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        return {k: v for key in sorted(value) for k, v in _flatten(value[key], f"{prefix}{key}.").items()}
    return {prefix.rstrip("."): value}


def _short(value: Any) -> str:
    text = json.dumps(value, sort_keys=True) if not isinstance(value, str) else value
    return text if len(text) <= 40 else text[:37] + "…"


def mismatches(baseline: StoredRun, candidate: StoredRun) -> list[str]:
    """What makes the two runs' scores incomparable: protocol, schema, and for each shared
    task its version, template hashes and data hashes. The model, backend, engine and
    sampling are expected to differ: that is what a gate compares."""
    a, b = baseline.fingerprint, candidate.fingerprint
    found = [f"{key}: {_short(old)} vs {_short(new)}"
             for key, old, new in (("protocol", a.protocol, b.protocol), ("schema_version", a.schema_version, b.schema_version))
             if old != new]
    tasks_a, tasks_b = a.tasks, b.tasks
    for task in [t for t in tasks_a if t in tasks_b]:
        for part in ("version", "templates", "data"):
            flat_a, flat_b = _flatten(tasks_a[task].get(part)), _flatten(tasks_b[task].get(part))
            for key in sorted(set(flat_a) | set(flat_b)):
                if flat_a.get(key) != flat_b.get(key):
                    name = f" {key}" if key else ""
                    found.append(f"task {task}: {part}{name} {_short(flat_a.get(key))} vs {_short(flat_b.get(key))}")
    return found


def setting_differences(baseline: StoredRun, candidate: StoredRun) -> list[str]:
    """Settings that differ and are allowed to (model, backend, engine, sampling): shown, not refused."""
    a, b = _flatten(baseline.fingerprint.settings()), _flatten(candidate.fingerprint.settings())
    return [f"{key}: {_short(a.get(key))} -> {_short(b.get(key))}" for key in sorted(set(a) | set(b)) if a.get(key) != b.get(key)]


def checked_pair(baseline: StoredRun, candidate: StoredRun, allow_mismatch: bool) -> list[str]:
    """The runs' mismatches; refused (one line naming the first three) unless ``allow_mismatch``."""
    found = mismatches(baseline, candidate)
    if found and not allow_mismatch:
        raise OrcabenchError(f"the runs are not comparable ({'; '.join(found[:3])}{'; …' if len(found) > 3 else ''}); "
                             "rerun with the same tasks, templates, protocol and data, or pass --allow-mismatch")
    return found


# --- comparison -------------------------------------------------------------------------


@dataclass(frozen=True)
class Variance:
    """How a task's verdict treated its questions: independent, or clustered (questions sharing a passage)
    with ``clusters`` passages and the design effect its bounds used (docs/gate.md, clustered tasks)."""

    clustered: bool = False
    clusters: int | None = None
    design_effect: float | None = None

    @property
    def text(self) -> str:
        if not self.clustered:
            return "independent"
        if self.design_effect is None:  # the sequence's bets: whole passages are the units
            return f"clustered: {self.clusters:,} passages, bet on as units"
        return f"clustered: {self.clusters:,} passages, design effect {self.design_effect:.2f}"


def variance_of(clusters: list[str | None] | None) -> Variance:
    """Clustered when any pair names a cluster; the design effect is filled in by :func:`decide`."""
    if not clusters or all(c is None for c in clusters):
        return Variance()
    return Variance(True, int(cluster_labels(clusters).max()) + 1)


@dataclass(frozen=True)
class TaskResult:
    task: str
    stats: PairedStats  # on the pairs used
    p_adjusted: float | None  # lenient rule / compare: Holm-adjusted McNemar p; None: not tested
    only_baseline: int  # samples of this task in one run only: reported, not paired
    only_candidate: int
    flipped: list[str]  # every example id that went right -> wrong (baseline scored higher)
    policy: TaskPolicy
    verdict: TaskVerdict
    note: str
    bounds: tuple[float, float] | None = None  # the verdict's lower and upper bounds on delta (fractions)
    basis: str = ""  # "score" (fixed n) | "sequential" | "fixed-n" (the sequence ran out of data) | "lenient"
    available: int = 0  # pairs this task had; the sequential gate used stats.n of them
    more_pairs: int | None = None  # inconclusive: roughly how many more pairs would settle it
    variance: Variance | None = None  # what the bounds assumed: None for the lenient rule and compare

    @property
    def clustered(self) -> bool:
        return self.variance is not None and self.variance.clustered

    @property
    def drop_points(self) -> float:
        return -100 * self.stats.delta if self.stats.n else 0.0


@dataclass(frozen=True)
class SequenceInfo:
    pairs_used: int
    pairs_available: int
    chunks: int
    seed: int
    decided: bool  # every required task settled by its bets (else some got the fixed-n verdict)


@dataclass(frozen=True)
class Comparison:
    baseline: StoredRun
    candidate: StoredRun
    policy: Policy
    tasks: list[TaskResult]
    mismatches: list[str]  # allowed with --allow-mismatch, else the comparison was refused
    differences: list[str]
    unpaired_tasks: dict[str, str]  # task -> "baseline only" | "candidate only"
    gating: bool
    sequence: SequenceInfo | None = None
    unused_policy: list[str] = field(default_factory=list)  # policy entries for tasks in neither run

    @property
    def verdict(self) -> GateVerdict | None:
        if not self.gating:
            return None
        verdicts = {t.verdict for t in self.tasks}
        order: tuple[GateVerdict, ...] = ("regression", "insufficient", "inconclusive")
        return next((v for v in order if v in verdicts), "pass")

    @property
    def exit_code(self) -> int:
        return {"pass": 0, "regression": 1, "insufficient": 2, "inconclusive": 3, None: 0}[self.verdict]

    @property
    def problems(self) -> list[str]:
        return [*self.baseline.problems, *self.candidate.problems]


def _lenient(stats: PairedStats, p_adjusted: float, policy: TaskPolicy, alpha: float) -> tuple[GateVerdict, str]:
    drop, significant = -100 * stats.delta, p_adjusted < alpha
    if drop >= policy.margin and significant:
        return "regression", f"drop {drop:.2f} ≥ {policy.margin:g} points and p {p_adjusted:.3g} < {alpha:g}"
    if drop >= policy.margin:
        note = f"drop {drop:.2f} ≥ {policy.margin:g} points but not significant (p {p_adjusted:.3g} ≥ {alpha:g}; lenient rule)"
    elif drop > 0:
        note = f"drop {drop:.2f} within the margin of {policy.margin:g} points"
    elif drop < 0 and significant:
        note = f"improved by {-drop:.2f} points (p {p_adjusted:.3g})"
    else:
        note = "no significant change" if drop < 0 else "no drop"
    return "pass", note


def decide(differences: np.ndarray, policy: TaskPolicy, alpha_pass: float, alpha_regression: float,
           clusters: list[str | None] | None = None) -> tuple[GateVerdict, str, tuple[float, float], int | None, Variance]:
    """Non-inferiority at fixed n: the verdict, its note, the bounds it rests on, for an inconclusive
    task roughly how many more pairs would settle it, and how the variance treated the questions.

    With ``clusters`` naming passages, the bounds are the cluster-robust ones
    (:func:`orcabench.stats.clustered_difference_bounds`: Tango's on counts shrunk by the design effect)."""
    margin = policy.margin / 100
    variance = variance_of(clusters)
    deff = 1.0
    if variance.clustered and clusters is not None:
        (low, high), deff = clustered_difference_bounds(differences, clusters, alpha_pass, alpha_regression)
        variance = Variance(True, variance.clusters, deff)
    else:
        low, high = difference_bounds(differences, alpha_pass, alpha_regression)
    shown = f"[{100 * low:+.2f}, {100 * high:+.2f}]"
    if low > -margin:
        return "pass", f"non-inferior: lower bound {100 * low:+.2f} > -{policy.margin:g} points", (low, high), None, variance
    if high < -margin:
        note = f"drop beyond the margin: upper bound {100 * high:+.2f} < -{policy.margin:g} points"
        return "regression", note, (low, high), None, variance
    delta = float(np.mean(differences)) if differences.size else 0.0
    needed = pairs_to_settle(delta, deff * difference_variance(differences, -margin), margin,
                             alpha_pass if delta > -margin else alpha_regression)
    more = None if needed is None else max(needed - differences.size, 1)
    hint = f"about {more:,} more pairs would likely settle it" if more else "the estimate sits on the margin"
    return "inconclusive", f"bounds {shown} straddle -{policy.margin:g} points; {hint}", (low, high), more, variance


@dataclass(frozen=True)
class _Paired:
    task: str
    ids: list[str]  # paired example ids, natural order
    baseline: np.ndarray
    candidate: np.ndarray
    only_baseline: int
    only_candidate: int
    clusters: list[str | None] = field(default_factory=list)  # each pair's cluster (questions sharing a passage)


def _pair(baseline: StoredRun, candidate: StoredRun, task: str) -> _Paired:
    # a run with variants is compared on its first (the default wording, the data's option order), as reports show it
    a, b = {r.id: r for r in baseline.task_records(task)}, {r.id: r for r in candidate.task_records(task)}
    paired = sorted(a.keys() & b.keys(), key=natural_order)
    clusters = [a[i].cluster or b[i].cluster for i in paired]
    return _Paired(task, paired, np.array([a[i].score for i in paired], dtype=float),
                   np.array([b[i].score for i in paired], dtype=float), len(a.keys() - b.keys()), len(b.keys() - a.keys()),
                   clusters)


def _shared_tasks(baseline: StoredRun, candidate: StoredRun, policy: Policy, gating: bool) -> tuple[list[str], dict[str, str]]:
    tasks_a, tasks_b = baseline.tasks(), candidate.tasks()
    shared = [t for t in tasks_a if t in tasks_b]
    unpaired = {**{t: "baseline only" for t in tasks_a if t not in tasks_b},
                **{t: "candidate only" for t in tasks_b if t not in tasks_a}}
    runs = f"baseline: {', '.join(tasks_a) or 'none'}; candidate: {', '.join(tasks_b) or 'none'}"
    if gating:
        missing = [t for t in policy.named_required() if t not in shared]
        if missing:
            raise OrcabenchError(f"required task(s) {', '.join(missing)} not in both runs ({runs})")
    if not shared:
        raise OrcabenchError(f"the runs share no task ({runs})")
    if gating and not any(policy.for_task(t).required for t in shared):
        # Every shared task informational (or required: false): a gate that gates nothing would always pass.
        raise OrcabenchError(f"the gate policy leaves no required task among the shared task(s) {', '.join(shared)}: "
                             "it would pass whatever the candidate does; make at least one of them required")
    return shared, unpaired


def unused_policy_entries(policy: Policy, tasks: list[str]) -> list[str]:
    """Policy entries naming a task in neither run: not applied, so reported (a typo would otherwise go unseen)."""
    known = set(tasks)
    unused = [f"tasks.{t}" for t in policy.tasks if t not in known]
    unused += [f"informational: {t}" for t in policy.informational if t not in known]
    return [f"{entry} names a task in neither run; it was not applied (check the task name)" for entry in unused]


def compare_runs(baseline_dir: Path, candidate_dir: Path, policy: Policy | None = None, allow_mismatch: bool = False,
                 gating: bool = True) -> Comparison:
    """Pair two runs by (task, example id) and test each task; ``gating`` adds verdicts."""
    policy = policy or (Policy() if gating else COMPARE_POLICY)
    baseline, candidate = load_run(baseline_dir), load_run(candidate_dir)
    found = checked_pair(baseline, candidate, allow_mismatch)
    shared, unpaired = _shared_tasks(baseline, candidate, policy, gating)
    pairs = [_pair(baseline, candidate, task) for task in shared]
    # Clustered tasks (questions sharing a passage) get the cluster-robust interval and p (orcabench.stats.paired_stats)
    # and cluster-robust verdict bounds (decide).
    stats = [paired_stats(p.baseline, p.candidate, policy.confidence, policy.resamples, policy.seed, p.clusters)
             for p in pairs]
    own = [policy.for_task(p.task) for p in pairs]
    # Holm over the tested family (compare and the lenient rule): every task with enough pairs to be decided.
    tested = [k for k, s in enumerate(stats) if s.n >= own[k].min_n]
    adjusted = dict(zip(tested, holm([stats[k].p_value for k in tested])))
    gates = sum(own[k].required for k in tested)
    results = []
    for k, (p, s, mine) in enumerate(zip(pairs, stats, own)):
        flipped = [i for i, x, y in zip(p.ids, p.baseline, p.candidate) if x > y]
        verdict: TaskVerdict = ""
        note, bounds, more, basis, variance = "", None, None, "", None
        if gating and k not in adjusted:
            verdict, note = "insufficient", f"{s.n} paired sample(s), fewer than min_n {mine.min_n}: no decision"
        elif gating and policy.rule == "lenient":
            (verdict, note), basis = _lenient(s, adjusted[k], mine, policy.alpha), "lenient"
        elif gating:
            verdict, note, bounds, more, variance = decide(p.candidate - p.baseline, mine, policy.alpha,
                                                           policy.alpha / max(gates, 1), p.clusters)
            basis = "score"
        if gating and not mine.required:
            verdict, note = "info", f"{note} (informational: does not gate)" if note else "informational"
        results.append(TaskResult(p.task, s, adjusted.get(k), p.only_baseline, p.only_candidate, flipped, mine, verdict, note,
                                  bounds, basis, s.n, more, variance))
    unused = unused_policy_entries(policy, [*baseline.tasks(), *candidate.tasks()]) if gating else []
    return Comparison(baseline, candidate, policy, results, found, setting_differences(baseline, candidate), unpaired, gating,
                      unused_policy=unused)


# --- the sequential gate ----------------------------------------------------------------


def required_ids(baseline: StoredRun, tasks: list[str], policy: Policy) -> dict[str, list[str]]:
    """The required tasks' baseline example ids (natural order): what the sequence draws from."""
    ids = {t: sorted((i for task, i in baseline.records if task == t), key=natural_order)
           for t in tasks if policy.for_task(t).required}
    if not ids:
        raise OrcabenchError(f"no required task to gate sequentially among {', '.join(tasks)}; check required/informational")
    return ids


def passages_of(run: StoredRun, ids: dict[str, list[str]]) -> dict[str, dict[str, str]]:
    """Each clustered task's id -> passage, from the run's records (tasks without clusters are left out)."""
    found = {t: {i: c for i in task_ids if (c := run.records[(t, i)].cluster) is not None} for t, task_ids in ids.items()}
    return {t: of for t, of in found.items() if of}


def start_sequence(ids: dict[str, list[str]], policy: Policy, clusters: dict[str, dict[str, str]] | None = None
                   ) -> tuple[list[tuple[str, str]], list[TaskSequence], Levels]:
    """The order, each task's state and the error levels; a task in ``clusters`` (id -> passage) is drawn and bet
    on a whole passage at a time (:mod:`orcabench.gate.sequential`)."""
    clusters = clusters or {}
    order = sequence_order(ids, policy.seed, clusters)
    states = []
    for task, task_ids in ids.items():
        own = policy.for_task(task)
        limit = len(task_ids) if own.max_n is None else min(own.max_n, len(task_ids))
        cluster_of = clusters.get(task, {})
        largest = max((len(unit) for unit in passages(task_ids, cluster_of)), default=1)
        states.append(TaskSequence(task, own.margin / 100, own.min_n, limit, len(task_ids), [], [],
                                   cluster_of=cluster_of, largest=largest))
    return order, states, Levels(policy.alpha, len(states))


def sequential_comparison(baseline: StoredRun, candidate: StoredRun, policy: Policy, result: SequenceResult, levels: Levels,
                          found: list[str]) -> Comparison:
    """The gate's verdicts from a finished sequence: the bets' where they settled, else the fixed-n verdict."""
    results = []
    for state in result.tasks:
        own = policy.for_task(state.task)
        base = np.array([baseline.records[(state.task, i)].score for i in state.keys], dtype=float)
        cand = base + np.asarray(state.differences, dtype=float)
        clusters = [state.cluster_of.get(i) for i in state.keys]
        stats = paired_stats(base, cand, policy.confidence, policy.resamples, policy.seed, clusters)
        variance = variance_of(clusters)
        flipped = sorted((i for i, d in zip(state.keys, state.differences) if d < 0), key=natural_order)
        available = state.available
        if len(state.keys) < own.min_n:
            verdict, note, bounds, more, basis = "insufficient", "", None, None, ""
            note = f"{len(state.keys)} pair(s), fewer than min_n {own.min_n}"
        elif state.verdict:
            bounds, basis, more = state.bounds(levels), "sequential", None
            verdict = state.verdict
            side = f"lower bound {100 * bounds[0]:+.2f} > -{own.margin:g}" if verdict == "pass" else \
                f"upper bound {100 * bounds[1]:+.2f} < -{own.margin:g}"
            shown = "non-inferior" if verdict == "pass" else "drop beyond the margin"
            note = f"{shown} after {state.settled_at:,} of {available:,} pairs: {side} points"
        else:
            alpha_pass, alpha_regression = levels.fallback
            verdict, note, bounds, more, variance = decide(np.asarray(state.differences, dtype=float), own, alpha_pass,
                                                           alpha_regression, clusters)
            basis, note = "fixed-n", f"data ran out undecided after {len(state.keys):,} pairs; fixed-n verdict: {note}"
        results.append(TaskResult(state.task, stats, None, 0, 0, flipped, own, verdict, note, bounds, basis, available, more,
                                  variance))
    info = SequenceInfo(result.pairs_used, result.pairs_available, result.chunks, policy.seed,
                        all(t.verdict for t in result.tasks))
    unused = unused_policy_entries(policy, [*baseline.tasks(), *candidate.tasks()])
    return Comparison(baseline, candidate, policy, results, found, setting_differences(baseline, candidate), {}, True, info,
                      unused)


def replay(baseline_dir: Path, candidate_dir: Path, policy: Policy, allow_mismatch: bool = False) -> Comparison:
    """The sequential gate on two stored runs: when it would have stopped, and with what verdict."""
    baseline, candidate = load_run(baseline_dir), load_run(candidate_dir)
    found = checked_pair(baseline, candidate, allow_mismatch)
    shared, _ = _shared_tasks(baseline, candidate, policy, gating=True)
    pairs = {t: _pair(baseline, candidate, t) for t in shared}
    ids = required_ids(baseline, shared, policy)
    ids = {t: pairs[t].ids for t in ids}  # a replay can only use the pairs both runs hold
    clusters = {t: {i: c for i, c in zip(pairs[t].ids, pairs[t].clusters) if c is not None} for t in ids}
    order, states, levels = start_sequence(ids, policy, {t: of for t, of in clusters.items() if of})
    scores = {(t, i): (a, b) for t, p in pairs.items() for i, a, b in zip(p.ids, p.baseline, p.candidate)}

    def source(keys: list[tuple[str, str]]) -> dict[tuple[str, str], tuple[float, float]]:
        return {key: scores[key] for key in keys}

    result = run_sequence(order, states, levels, policy.chunk, source)
    return sequential_comparison(baseline, candidate, policy, result, levels, found)
