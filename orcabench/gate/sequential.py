"""Anytime-valid tests for the sequential gate: betting e-processes on paired differences.

Each required task's paired differences ``d = candidate - baseline`` (in [-1, 1]; {-1, 0, 1}
for right/wrong scores) arrive in a seeded random order. For the margin ``m`` two bets run
on them (Waudby-Smith & Ramdas 2023, "Estimating means of bounded random variables by
betting", JRSS-B 86(1):1-27): one against "the drop is at least m" (its capital growing
shows non-inferiority) and one against "the drop is at most m" (a regression beyond the
margin). Each capital process is a nonnegative supermartingale under its null, so by
Ville's inequality it ever reaches ``1/alpha`` with probability at most ``alpha``: the gate
may look after every chunk and stop at any time without inflating its error rates.

The bets use the approximate growth-rate-adaptive fraction (aGRAPA, their Section 5.1) from
predictable (past-only) estimates of the mean and variance, truncated so no bet can lose
more than ``TRUNCATION`` of the capital. The confidence sequence's bounds are the margins no
bet has refuted at that level: the verdict "pass" is exactly "the lower bound is above
-margin", "regression" exactly "the upper bound is below -margin".

Clustered tasks (questions sharing a passage: RACE, DROP, AGIEval's passage subsets) are drawn
and bet on a whole passage at a time: the unit of the martingale is the passage, whose
questions are not independent of each other but are of other passages' (docs/gate.md,
"Clustered tasks in the sequence"; :func:`unit_values`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

TRUNCATION = 0.5  # WSR's c: a bet risks at most half the capital (their suggested 1/2 .. 3/4)


def log_capital(d: np.ndarray, delta0: float, side: int) -> np.ndarray:
    """log capital after each pair (last axis) of betting that the mean of ``d`` is above ``delta0``
    (``side`` +1) or below it (-1); ``d`` may carry leading axes (simulated gates)."""
    x, m = (np.asarray(d, dtype=float) + 1) / 2, (delta0 + 1) / 2  # on [0, 1], as in WSR
    t = np.arange(1, x.shape[-1] + 1)
    mean = (0.5 + np.cumsum(x, axis=-1)) / (t + 1)
    variance = (0.25 + np.cumsum((x - mean) ** 2, axis=-1)) / (t + 1)
    shape = (*x.shape[:-1], 1)
    mean_before = np.concatenate([np.full(shape, 0.5), mean[..., :-1]], axis=-1)
    variance_before = np.concatenate([np.full(shape, 0.25), variance[..., :-1]], axis=-1)
    gap = side * (mean_before - m)
    cap = TRUNCATION / (m if side > 0 else 1 - m)
    fraction = np.clip(gap / (variance_before + gap**2), 0.0, cap)
    return np.cumsum(np.log1p(side * fraction * (x - m)), axis=-1)


def first_crossing(log_k: np.ndarray, alpha: float, min_n: int, pairs: np.ndarray | None = None) -> np.ndarray:
    """Bets (units) at which the capital first reaches 1/alpha at or after ``min_n`` pairs (0: never), per row.
    ``pairs``: the pairs taken after each unit (a passage is several), when units are not single pairs."""
    hit = log_k >= math.log(1 / alpha)
    if pairs is None:
        hit[..., : max(min_n - 1, 0)] = False
    else:
        hit &= np.asarray(pairs) >= min_n
    return np.where(hit.any(axis=-1), hit.argmax(axis=-1) + 1, 0)


def unit_values(d: np.ndarray, sizes: np.ndarray, delta0: float, largest: int) -> np.ndarray:
    """One value per passage (last axis: its questions in order, ``sizes`` of them each) for the bet on ``delta0``:
    u = delta0 + Σ_{i in passage} (d_i - delta0) / S_max, with S_max the task's largest passage (known before any
    answer). u lies in [-1, 1], and for passages drawn independently E[u] - delta0 = E[S] (delta - delta0) / S_max
    has the sign of delta - delta0, delta being the question-level mean difference E[Σ d] / E[S]: a null about
    questions is a null about passages, so WSR's bet on the u's is a supermartingale over passages (docs/gate.md).
    A passage of one question with S_max 1 gives u = d: the unclustered bet."""
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(int)
    sums = np.add.reduceat(np.asarray(d, dtype=float) - delta0, starts, axis=-1)
    return delta0 + sums / largest


def refuted(d: np.ndarray, delta0: float, side: int, alpha: float, min_n: int, sizes: np.ndarray | None = None,
            largest: int = 1) -> bool:
    """Has the bet on ``side`` of ``delta0`` reached 1/alpha at any look from ``min_n`` pairs on?
    With ``sizes`` (passages, in order, covering ``d``) the bets are on whole passages (:func:`unit_values`)."""
    if d.size < max(min_n, 1):
        return False
    if sizes is None:
        return bool(first_crossing(log_capital(d, delta0, side), alpha, min_n) > 0)
    log_k = log_capital(unit_values(d, sizes, delta0, largest), delta0, side)
    return bool(first_crossing(log_k, alpha, min_n, np.cumsum(sizes)) > 0)


def cs_bound(d: np.ndarray, alpha: float, min_n: int, upper: bool, sizes: np.ndarray | None = None,
             largest: int = 1) -> float:
    """The confidence sequence's lower (or upper) bound on the mean of ``d`` after these pairs: the
    smallest (largest) delta0 whose bet has not been refuted (bisection; the capital falls as delta0
    moves towards the data). -1 (+1) while fewer than ``min_n`` pairs are in."""
    side = -1 if upper else 1
    low, high = -1 + 1e-9, 1 - 1e-9
    if not refuted(d, high if upper else low, side, alpha, min_n, sizes, largest):
        return 1.0 if upper else -1.0
    for _ in range(40):
        mid = (low + high) / 2
        rejected = refuted(d, mid, side, alpha, min_n, sizes, largest)
        if upper:
            low, high = (low, mid) if rejected else (mid, high)
        else:
            low, high = (mid, high) if rejected else (low, mid)
    return high if upper else low


# --- the order of the sequence -------------------------------------------------------------------


def passages(ids: Sequence[str], cluster_of: dict[str, str]) -> list[list[str]]:
    """A task's ids grouped into units: the questions of one passage together (in the given order), an id
    with no passage alone."""
    units: list[list[str]] = []
    by_cluster: dict[str, list[str]] = {}
    for sample in ids:
        cluster = cluster_of.get(sample)
        if cluster is None:
            units.append([sample])
        elif cluster in by_cluster:
            by_cluster[cluster].append(sample)
        else:
            by_cluster[cluster] = [sample]
            units.append(by_cluster[cluster])
    return units


def sequence_order(ids: dict[str, Sequence[str]], seed: int,
                   clusters: dict[str, dict[str, str]] | None = None) -> list[tuple[str, str]]:
    """Every (task, id) in a seeded random order, interleaved so each task grows at the same rate
    (its k-th unit sits at the fraction (k + 1/2) / units of the sequence): the same seed, the same order.
    A unit is a pair, or for a task in ``clusters`` (id -> passage) a whole passage, its questions together."""
    rng = np.random.default_rng(seed)
    placed: list[tuple[float, int, int, str, str]] = []
    for rank, task in enumerate(ids):
        units = passages(ids[task], (clusters or {}).get(task, {}))
        shuffled = [units[i] for i in rng.permutation(len(units))]
        placed += [((k + 0.5) / len(shuffled), rank, j, task, sample)
                   for k, unit in enumerate(shuffled) for j, sample in enumerate(unit)]
    return [(task, sample) for *_, task, sample in sorted(placed)]


@dataclass(frozen=True)
class Levels:
    """Error rates of one gate: non-inferiority per task at alpha (every required task must pass, an
    intersection-union test), regressions at alpha / k (Bonferroni over the k required tasks); a
    share of each goes to the fixed-n verdict given when a task's data runs out undecided."""

    alpha: float
    tasks: int
    fallback_share: float = 0.2

    @property
    def sequential(self) -> tuple[float, float]:
        return (1 - self.fallback_share) * self.alpha, (1 - self.fallback_share) * self.alpha / self.tasks

    @property
    def fallback(self) -> tuple[float, float]:
        return self.fallback_share * self.alpha, self.fallback_share * self.alpha / self.tasks


Settled = Literal["pass", "regression"]  # what a task's bets decided


@dataclass
class TaskSequence:
    """One task's pairs in sequence order so far, and whether its bets have settled it."""

    task: str
    margin: float  # fraction
    min_n: int
    limit: int  # pairs the sequence may take: the paired examples, capped by max_n
    available: int  # the paired examples (what a fixed-n gate would use)
    keys: list[str]
    differences: list[float]
    verdict: Settled | None = None  # once settled
    settled_at: int | None = None  # pairs used when it settled
    cluster_of: dict[str, str] = field(default_factory=dict)  # id -> passage: bets and chunks take whole passages
    largest: int = 1  # the task's largest passage, in questions (S_max of unit_values)

    @property
    def open(self) -> bool:
        return self.verdict is None and len(self.keys) < self.limit

    def look(self, levels: Levels) -> None:
        d, sizes = self._in_units()
        alpha_pass, alpha_regression = levels.sequential
        if refuted(d, -self.margin, +1, alpha_pass, self.min_n, sizes, self.largest):
            self.verdict = "pass"
        elif refuted(d, -self.margin, -1, alpha_regression, self.min_n, sizes, self.largest):
            self.verdict = "regression"
        if self.verdict:
            self.settled_at = len(self.keys)

    def bounds(self, levels: Levels) -> tuple[float, float]:
        d, sizes = self._in_units()
        alpha_pass, alpha_regression = levels.sequential
        return (cs_bound(d, alpha_pass, self.min_n, False, sizes, self.largest),
                cs_bound(d, alpha_regression, self.min_n, True, sizes, self.largest))

    def _in_units(self) -> tuple[np.ndarray, np.ndarray | None]:
        """The differences with each passage's questions together, and the passages' sizes (None: unclustered)."""
        if not self.cluster_of:
            return np.asarray(self.differences), None
        by_key = dict(zip(self.keys, self.differences))
        units = passages(self.keys, self.cluster_of)
        return (np.array([by_key[k] for unit in units for k in unit], dtype=float),
                np.array([len(unit) for unit in units], dtype=int))


# (baseline score, candidate score) for each requested (task, id); may compute them (a live run) or look them up.
PairSource = Callable[[list[tuple[str, str]]], dict[tuple[str, str], tuple[float, float]]]


@dataclass(frozen=True)
class SequenceResult:
    tasks: list[TaskSequence]
    chunks: int
    pairs_used: int
    pairs_available: int


def run_sequence(order: list[tuple[str, str]], tasks: list[TaskSequence], levels: Levels, chunk: int,
                 source: PairSource, after_chunk: Callable[[SequenceResult], None] | None = None) -> SequenceResult:
    """Take the order a chunk at a time (skipping settled and full tasks), look after each chunk, and
    stop when no task is open. A replay and a live run walk the same chunks: the stored pairs decide.
    A clustered task's passage is never split: a chunk, and a task's ``limit``, end after a whole passage.
    ``after_chunk`` sees the sequence after each look (the live gate emits it as an event)."""
    by_task = {t.task: t for t in tasks}
    position, chunks = 0, 0
    available = sum(t.available for t in tasks)
    current: dict[str, str | None] = {t.task: None for t in tasks}  # the passage a task is in the middle of
    while any(t.open for t in tasks) and position < len(order):
        batch: list[tuple[str, str]] = []
        taken = {t.task: len(t.keys) for t in tasks}

        def continues(task: str, sample: str) -> bool:
            state = by_task.get(task)
            return state is not None and current[task] is not None and state.cluster_of.get(sample) == current[task]

        while position < len(order) and (len(batch) < chunk or (batch and continues(*order[position]))):
            task, sample = order[position]
            position += 1
            state = by_task.get(task)
            if state is not None and state.verdict is None and (taken[task] < state.limit or continues(task, sample)):
                batch.append((task, sample))
                taken[task] += 1
                current[task] = state.cluster_of.get(sample)
        if not batch:
            break
        scores = source(batch)
        for task, sample in batch:
            base, cand = scores[(task, sample)]
            by_task[task].keys.append(sample)
            by_task[task].differences.append(cand - base)
        chunks += 1
        for state in tasks:
            if state.verdict is None:
                state.look(levels)
        if after_chunk:
            after_chunk(SequenceResult(tasks, chunks, sum(len(t.keys) for t in tasks), available))
    return SequenceResult(tasks, chunks, sum(len(t.keys) for t in tasks), available)
