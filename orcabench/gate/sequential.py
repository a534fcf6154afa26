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
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
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


def first_crossing(log_k: np.ndarray, alpha: float, min_n: int) -> np.ndarray:
    """Pairs at which the capital first reaches 1/alpha at or after ``min_n`` pairs (0: never), per row."""
    hit = log_k >= math.log(1 / alpha)
    hit[..., : max(min_n - 1, 0)] = False
    return np.where(hit.any(axis=-1), hit.argmax(axis=-1) + 1, 0)


def refuted(d: np.ndarray, delta0: float, side: int, alpha: float, min_n: int) -> bool:
    """Has the bet on ``side`` of ``delta0`` reached 1/alpha at any look from ``min_n`` pairs on?"""
    return d.size >= max(min_n, 1) and bool(first_crossing(log_capital(d, delta0, side), alpha, min_n) > 0)


def cs_bound(d: np.ndarray, alpha: float, min_n: int, upper: bool) -> float:
    """The confidence sequence's lower (or upper) bound on the mean of ``d`` after these pairs: the
    smallest (largest) delta0 whose bet has not been refuted (bisection; the capital falls as delta0
    moves towards the data). -1 (+1) while fewer than ``min_n`` pairs are in."""
    side = -1 if upper else 1
    low, high = -1 + 1e-9, 1 - 1e-9
    if not refuted(d, high if upper else low, side, alpha, min_n):
        return 1.0 if upper else -1.0
    for _ in range(40):
        mid = (low + high) / 2
        rejected = refuted(d, mid, side, alpha, min_n)
        if upper:
            low, high = (low, mid) if rejected else (mid, high)
        else:
            low, high = (mid, high) if rejected else (low, mid)
    return high if upper else low


# --- the order of the sequence -------------------------------------------------------------------


def sequence_order(ids: dict[str, Sequence[str]], seed: int) -> list[tuple[str, str]]:
    """Every (task, id) in a seeded random order, interleaved so each task grows at the same rate
    (its k-th pair sits at the fraction (k + 1/2) / n of the sequence): the same seed, the same order."""
    rng = np.random.default_rng(seed)
    placed: list[tuple[float, int, str, str]] = []
    for rank, task in enumerate(ids):
        shuffled = [ids[task][i] for i in rng.permutation(len(ids[task]))]
        placed += [((k + 0.5) / len(shuffled), rank, task, sample) for k, sample in enumerate(shuffled)]
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

    @property
    def open(self) -> bool:
        return self.verdict is None and len(self.keys) < self.limit

    def look(self, levels: Levels) -> None:
        d = np.asarray(self.differences)
        alpha_pass, alpha_regression = levels.sequential
        if refuted(d, -self.margin, +1, alpha_pass, self.min_n):
            self.verdict = "pass"
        elif refuted(d, -self.margin, -1, alpha_regression, self.min_n):
            self.verdict = "regression"
        if self.verdict:
            self.settled_at = len(self.keys)

    def bounds(self, levels: Levels) -> tuple[float, float]:
        d = np.asarray(self.differences)
        alpha_pass, alpha_regression = levels.sequential
        return cs_bound(d, alpha_pass, self.min_n, upper=False), cs_bound(d, alpha_regression, self.min_n, upper=True)


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
    ``after_chunk`` sees the sequence after each look (the live gate emits it as an event)."""
    by_task = {t.task: t for t in tasks}
    position, chunks = 0, 0
    available = sum(t.available for t in tasks)
    while any(t.open for t in tasks) and position < len(order):
        batch: list[tuple[str, str]] = []
        taken = {t.task: len(t.keys) for t in tasks}
        while position < len(order) and len(batch) < chunk:
            task, sample = order[position]
            position += 1
            state = by_task.get(task)
            if state is not None and state.verdict is None and taken[task] < state.limit:
                batch.append((task, sample))
                taken[task] += 1
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
