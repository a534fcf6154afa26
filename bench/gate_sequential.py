"""The sequential gate's error rates and savings, by simulation (docs/gate.md).

Simulated paired outcomes: per task a baseline accuracy in 0.3-0.8 and a share of
discordant pairs (right->wrong or wrong->right) split so that the candidate's true
difference is exactly the scenario's; the gate then runs as ``orcabench gate --sequential``
does (the same bets from orcabench.gate.sequential, the same chunks of the same interleaved
order, the same fixed-n verdict when a task's data runs out), vectorised over simulated gates.

Scenarios, each over ``--gates`` simulated gates:
  at the margin  one required task (each in turn) has a true drop equal to its margin, the
                 others none: a ``pass`` is a type-I error (the regression it should catch)
  no drop        no task changes: a ``regression`` is a false alarm; pairs used vs fixed n
  2x margin      one task (each in turn) drops by twice its margin: ``regression`` is power

The clustered scenario groups every task's questions into passages of 2-8 whose candidate
differences are correlated (each passage has its own share of discordant pairs and its own
direction, docs/gate.md); the gate draws and bets on whole passages, and its fixed-n verdicts
use the clustered bounds. For contrast the full table also runs the same data bet on question
by question, as if the passages were independent questions.

    python bench/gate_sequential.py --check      # the seeded quick version (one line)
    python bench/gate_sequential.py              # the full table, also with random discordance 5-30%
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from orcabench.gate.sequential import Levels, first_crossing, log_capital, sequence_order, unit_values
from orcabench.stats import tango_z

PASSAGE_SIZES = (2, 8)  # the clustered scenario's questions per passage (uniform), like RACE's and DROP's
PASSAGE_SPREAD = (0.2, 1.8)  # a passage's share of discordance, times the task's (equally likely)
PASSAGE_CONCENTRATION = 0.5  # Beta(κ q, κ (1 - q)) for a passage's chance that a discordant pair went wrong

# The real gate of the issue: required tasks at their full sizes, margins sized to what each can settle.
CHECK_TASKS = {"agieval-mc": (2546, 5.0), "bbh-mc": (5511, 3.0), "gsm8k": (1319, 5.0), "mmlu": (14042, 2.0),
               "arc-challenge": (1172, 5.0)}


@dataclass(frozen=True)
class Scenario:
    sizes: np.ndarray  # pairs per task
    margins: np.ndarray  # fractions
    discordance: np.ndarray  # per task
    accuracy: np.ndarray  # baseline accuracy per task
    passages: list[np.ndarray] | None = None  # per task: questions per passage, in sequence order (clustered scenario)
    by_question: bool = False  # bet question by question even where passages cluster (the contrast: clusters ignored)


@dataclass(frozen=True)
class Outcome:
    verdicts: np.ndarray  # per gate: "pass" | "regression" | "inconclusive"
    pairs: np.ndarray  # per gate: pairs used, all tasks together
    fixed_verdicts: np.ndarray  # the fixed-n gate (every pair) on the same data


def draw_differences(rng: np.random.Generator, gates: int, n: int, accuracy: float, discordance: float,
                     deltas: np.ndarray) -> np.ndarray:
    """candidate - baseline per pair: baseline right with ``accuracy``; a discordant pair goes
    right->wrong with P(worse) and wrong->right with P(better), P(better) - P(worse) = delta."""
    worse = (discordance - deltas) / 2
    better = (discordance + deltas) / 2
    if np.any(worse > accuracy) or np.any(better > 1 - accuracy) or np.any(worse < 0) or np.any(better < 0):
        raise ValueError("a scenario's discordance cannot carry its drop at that accuracy")
    base = rng.random((gates, n)) < accuracy
    u = rng.random((gates, n))
    # Given the baseline's answer, flip it with the conditional probability that yields P(worse), P(better).
    flip = np.where(base, u < (worse / accuracy)[:, None], u < (better / (1 - accuracy))[:, None])
    cand = base ^ flip
    return cand.astype(np.int8) - base.astype(np.int8)


def draw_clustered(rng: np.random.Generator, gates: int, passages: np.ndarray, accuracy: float, discordance: float,
                   deltas: np.ndarray) -> np.ndarray:
    """Like :func:`draw_differences`, with questions in passages whose differences are correlated: a passage's
    discordance is the task's times 0.2 or 1.8, and its chance q_c that a discordant pair went right->wrong is
    Beta(κ q, κ (1 - q)) with mean q = (1 - delta / discordance) / 2, independent of each other and of the
    passage's size, so the question-level mean difference is still exactly delta."""
    q = (1 - deltas / discordance) / 2
    if np.any(q <= 0) or np.any(q >= 1) or max(PASSAGE_SPREAD) * discordance > min(accuracy, 1 - accuracy):
        raise ValueError("a clustered scenario's discordance cannot carry its drop at that accuracy")
    count = passages.size
    spread = rng.choice(PASSAGE_SPREAD, (gates, count)) * discordance
    q_c = rng.beta(PASSAGE_CONCENTRATION * q[:, None], PASSAGE_CONCENTRATION * (1 - q[:, None]), (gates, count))
    worse = np.repeat(spread * q_c, passages, axis=1)
    better = np.repeat(spread * (1 - q_c), passages, axis=1)
    n = int(passages.sum())
    base = rng.random((gates, n)) < accuracy
    u = rng.random((gates, n))
    cand = base ^ np.where(base, u < worse / accuracy, u < better / (1 - accuracy))
    return cand.astype(np.int8) - base.astype(np.int8)


def clustered_scenario(seed: int) -> Scenario:
    """The check scenario's tasks, every one in passages of 2-8 questions, accuracy 0.3-0.7 (the passages' spread
    of discordance needs room on both sides); sizes rounded to whole passages."""
    rng = np.random.default_rng(seed)
    base = check_scenario(seed)
    passages = []
    for n in base.sizes:
        drawn = rng.integers(PASSAGE_SIZES[0], PASSAGE_SIZES[1] + 1, int(n))
        passages.append(drawn[: int(np.searchsorted(np.cumsum(drawn), n)) + 1])
    sizes = np.array([int(p.sum()) for p in passages])
    return Scenario(sizes, base.margins, base.discordance, rng.uniform(0.3, 0.7, sizes.size), order_passages(sizes, passages))


def _order(sizes: np.ndarray, passages: list[np.ndarray] | None) -> list[tuple[str, str]]:
    ids = {str(j): [str(i) for i in range(int(n))] for j, n in enumerate(sizes)}
    clusters = None
    if passages is not None:
        clusters = {str(j): {str(i): f"p{k}" for i, k in enumerate(np.repeat(np.arange(p.size), p))}
                    for j, p in enumerate(passages)}
    return sequence_order(ids, 0, clusters)  # the interleaving alone does not depend on the seed


def order_passages(sizes: np.ndarray, passages: list[np.ndarray]) -> list[np.ndarray]:
    """Each task's passage sizes in the order the gate draws them (the sequence order shuffles passages)."""
    found: list[list[int]] = [[] for _ in sizes]
    last: tuple[str, str] | None = None
    clusters = [np.repeat(np.arange(p.size), p) for p in passages]
    for task, sample in _order(sizes, passages):
        unit = (task, str(clusters[int(task)][int(sample)]))
        if unit == last:
            found[int(task)][-1] += 1
        else:
            found[int(task)].append(1)
        last = unit
    return [np.array(f) for f in found]


def cumulative_counts(sizes: np.ndarray, passages: list[np.ndarray] | None = None) -> np.ndarray:
    """Pairs of each task among the first p of the interleaved order, p = 0..sum(sizes); with ``passages`` only at
    the ends of whole passages (a chunk never splits one)."""
    order = _order(sizes, passages)
    tasks = np.array([int(task) for task, _ in order])
    onehot = np.zeros((tasks.size + 1, sizes.size), dtype=np.int32)
    onehot[np.arange(1, tasks.size + 1), tasks] = 1
    counts = np.cumsum(onehot, axis=0)
    if passages is None:
        return counts
    clusters = [np.repeat(np.arange(p.size), p) for p in passages]
    unit = [(int(t), int(clusters[int(t)][int(i)])) for t, i in order]
    ends = [0] + [p + 1 for p in range(len(unit)) if p + 1 == len(unit) or unit[p + 1] != unit[p]]
    return counts[ends]


def design_effects(d: np.ndarray, passages: np.ndarray) -> np.ndarray:
    """Per gate, orcabench.stats.design_effect of the differences (rows) in these passages, vectorised."""
    n, groups = d.shape[-1], passages.size
    starts = np.concatenate([[0], np.cumsum(passages)[:-1]])
    residual = d - d.mean(axis=-1, keepdims=True)
    clustered = groups / (groups - 1) * (np.add.reduceat(residual, starts, axis=-1) ** 2).sum(axis=-1) / n**2
    independent = d.var(axis=-1, ddof=1) / n
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(independent > 0, np.maximum(1.0, clustered / independent), 1.0)


def simulate(scenario: Scenario, deltas: np.ndarray, alpha: float, chunk: int, min_n: int, seed: int,
             batch: int = 250) -> Outcome:
    """``deltas``: (gates, tasks) true differences. The sequential gate and the fixed-n gate on the same pairs."""
    gates, k = deltas.shape
    levels = Levels(alpha, k)
    (seq_pass, seq_reg), (fb_pass, fb_reg) = levels.sequential, levels.fallback
    from scipy import stats

    z_fb_pass, z_fb_reg = stats.norm.ppf(1 - fb_pass), stats.norm.ppf(1 - fb_reg)
    z_pass, z_reg = stats.norm.ppf(1 - alpha), stats.norm.ppf(1 - alpha / k)
    counts = cumulative_counts(scenario.sizes, None if scenario.by_question else scenario.passages)
    verdicts = np.empty(gates, dtype=object)
    fixed = np.empty(gates, dtype=object)
    pairs = np.zeros(gates, dtype=np.int64)
    rng = np.random.default_rng(seed)
    for start in range(0, gates, batch):
        rows = slice(start, min(start + batch, gates))
        g = rows.stop - rows.start
        tau_pass, tau_reg = np.zeros((g, k), np.int64), np.zeros((g, k), np.int64)
        fb_verdict = np.zeros((g, k), np.int8)  # +1 pass, -1 regression, 0 inconclusive (all n_j pairs)
        fixed_verdict = np.zeros((g, k), np.int8)
        for j in range(k):
            m = float(scenario.margins[j])
            if scenario.passages is None:
                d = draw_differences(rng, g, int(scenario.sizes[j]), float(scenario.accuracy[j]),
                                     float(scenario.discordance[j]), deltas[rows, j])
                deff = np.ones(g)
            else:
                passages = scenario.passages[j]
                d = draw_clustered(rng, g, passages, float(scenario.accuracy[j]), float(scenario.discordance[j]),
                                   deltas[rows, j])
                deff = design_effects(d.astype(float), passages)
            if scenario.by_question:  # the gate before passages: questions in a random order, independent bounds
                d, deff = d[:, rng.permutation(d.shape[1])], np.ones(g)
            if scenario.passages is None or scenario.by_question:
                tau_pass[:, j] = first_crossing(log_capital(d, -m, +1), seq_pass, min_n)
                tau_reg[:, j] = first_crossing(log_capital(d, -m, -1), seq_reg, min_n)
            else:  # whole passages: one bet each, crossings as the pairs taken at that passage's end
                ends, largest = np.concatenate([[0], np.cumsum(passages)]), int(passages.max())
                for tau, side, level in ((tau_pass, +1, seq_pass), (tau_reg, -1, seq_reg)):
                    log_k = log_capital(unit_values(d, passages, -m, largest), -m, side)
                    tau[:, j] = ends[first_crossing(log_k, level, min_n, ends[1:])]
            worse, better, n = (d < 0).sum(axis=1) / deff, (d > 0).sum(axis=1) / deff, d.shape[1] / deff
            z = tango_z(worse, better, n, -m)  # clustered: the Rao-Scott counts of orcabench.stats.clustered_difference_bounds
            fb_verdict[:, j] = np.where(z >= z_fb_pass, 1, np.where(z <= -z_fb_reg, -1, 0))
            fixed_verdict[:, j] = np.where(z >= z_pass, 1, np.where(z <= -z_reg, -1, 0))
        taken, verdict = _walk(counts, scenario.sizes, tau_pass, tau_reg, chunk)
        final = np.where(verdict == 0, fb_verdict, verdict)
        verdicts[rows] = _gate_verdict(final)
        fixed[rows] = _gate_verdict(fixed_verdict)
        pairs[rows] = taken.sum(axis=1)
    return Outcome(verdicts, pairs, fixed)


def _walk(counts: np.ndarray, sizes: np.ndarray, tau_pass: np.ndarray, tau_reg: np.ndarray, chunk: int):
    """orcabench.gate.sequential.run_sequence's chunks, for all gates at once: from the order's position p, a
    chunk ends at the first p' where the open tasks have taken ``chunk`` more pairs; a task settles
    at the first chunk end at or after its bet's crossing."""
    g, k = tau_pass.shape
    total = counts.shape[0] - 1
    position = np.zeros(g, dtype=np.int64)
    taken = np.zeros((g, k), dtype=np.int64)
    verdict = np.zeros((g, k), dtype=np.int8)
    while True:
        open_ = (verdict == 0) & (taken < sizes[None, :])
        active = open_.any(axis=1) & (position < total)
        if not active.any():
            return taken, verdict
        target = (counts[position] * open_).sum(axis=1) + chunk
        low, high = position.copy(), np.full(g, total)
        for _ in range(int(np.ceil(np.log2(total + 1))) + 1):  # smallest p' with open counts >= target
            mid = (low + high) // 2
            enough = (counts[mid] * open_).sum(axis=1) >= target
            high, low = np.where(enough, mid, high), np.where(enough, low, mid + 1)
        new_position = np.where(active, np.minimum(high, total), position)
        taken = np.where(open_ & active[:, None], counts[new_position], taken)
        position = new_position
        undecided = (verdict == 0) & active[:, None]
        passed = undecided & (tau_pass > 0) & (tau_pass <= taken)
        regressed = undecided & ~passed & (tau_reg > 0) & (tau_reg <= taken)
        verdict = np.where(passed, 1, np.where(regressed, -1, verdict)).astype(np.int8)


def _gate_verdict(per_task: np.ndarray) -> np.ndarray:
    return np.where((per_task == -1).any(axis=1), "regression", np.where((per_task == 1).all(axis=1), "pass", "inconclusive"))


def one_task_at(factor: float, scenario: Scenario, gates: int) -> np.ndarray:
    """(gates, tasks) true deltas: task g mod k drops by ``factor`` x its margin, the others do not change."""
    k = scenario.sizes.size
    deltas = np.zeros((gates, k))
    deltas[np.arange(gates), np.arange(gates) % k] = -factor * scenario.margins[np.arange(gates) % k]
    return deltas


def evaluate(scenario: Scenario, gates: int, alpha: float, chunk: int, min_n: int, seed: int) -> dict[str, float]:
    at_margin = simulate(scenario, one_task_at(1.0, scenario, gates), alpha, chunk, min_n, seed)
    no_drop = simulate(scenario, np.zeros((gates, scenario.sizes.size)), alpha, chunk, min_n, seed + 1)
    double = simulate(scenario, one_task_at(2.0, scenario, gates), alpha, chunk, min_n, seed + 2)
    fixed_n = scenario.sizes.sum()
    return {
        "type_i": float(np.mean(at_margin.verdicts == "pass")),
        "false_alarms": float(np.mean(no_drop.verdicts == "regression")),
        "power": float(np.mean(double.verdicts == "regression")),
        "mean_pairs": float(100 * no_drop.pairs.mean() / fixed_n),
        "p95_pairs": float(100 * np.percentile(no_drop.pairs, 95) / fixed_n),
        "pass_at_no_drop": float(np.mean(no_drop.verdicts == "pass")),
        "mean_pairs_2x": float(100 * double.pairs.mean() / fixed_n),
        "fixed_type_i": float(np.mean(at_margin.fixed_verdicts == "pass")),
        "fixed_false_alarms": float(np.mean(no_drop.fixed_verdicts == "regression")),
        "fixed_power": float(np.mean(double.fixed_verdicts == "regression")),
        "fixed_pass_at_no_drop": float(np.mean(no_drop.fixed_verdicts == "pass")),
    }


def check_scenario(seed: int) -> Scenario:
    rng = np.random.default_rng(seed)
    sizes = np.array([n for n, _ in CHECK_TASKS.values()])
    margins = np.array([m for _, m in CHECK_TASKS.values()]) / 100
    return Scenario(sizes, margins, np.full(sizes.size, 0.15), rng.uniform(0.3, 0.8, sizes.size))


def random_scenario(seed: int, tasks: int = 5) -> Scenario:
    """Several tasks, discordance 5-30%, accuracy 0.3-0.8; margins sized to what the full data can settle: 1.5x the
    margin a fixed-n one-sided test at 5% shows with 95% power at no drop, sqrt((1.645 + 1.645)^2 * discordance / n)."""
    rng = np.random.default_rng(seed)
    sizes = rng.choice([1172, 1319, 2546, 5511, 14042], tasks, replace=False)
    discordance = rng.uniform(0.05, 0.30, tasks)
    margins = np.ceil(1.5 * np.sqrt(3.29**2 * discordance / sizes) * 100 * 2) / 2 / 100  # up to half a point
    return Scenario(sizes, margins, discordance, rng.uniform(0.3, 0.8, tasks))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="the seeded quick version; prints one line")
    parser.add_argument("--gates", type=int, default=None, help="simulated gates per scenario (default 2000)")
    parser.add_argument("--alpha", type=float, default=0.05)
    parser.add_argument("--chunk", type=int, default=100)
    parser.add_argument("--min-n", type=int, default=30)
    parser.add_argument("--seed", type=int, default=20231)
    args = parser.parse_args()
    gates = args.gates or 2000
    started = time.time()
    if args.check:
        r = evaluate(check_scenario(args.seed), gates, args.alpha, args.chunk, args.min_n, args.seed)
        print(f"sequential gate: type-I {r['type_i']:.3f} at the margin, false alarms {r['false_alarms']:.3f} at no drop, "
              f"power {r['power']:.3f} at 2x margin, mean pairs {r['mean_pairs']:.1f}% of fixed n")
        r = evaluate(clustered_scenario(args.seed), gates, args.alpha, args.chunk, args.min_n, args.seed)
        print(f"clustered (passages of 2-8, whole passages): type-I {r['type_i']:.3f} at the margin, false alarms "
              f"{r['false_alarms']:.3f} at no drop, power {r['power']:.3f} at 2x margin, "
              f"mean pairs {r['mean_pairs']:.1f}% of fixed n")
        return 0
    clustered = clustered_scenario(args.seed)
    scenarios = {"issue's real gate (15% discordance)": check_scenario(args.seed),
                 **{f"random tasks, seed {s}": random_scenario(s) for s in (1, 2, 3)},
                 "issue's gate, clustered: passages of 2-8, bet on whole": clustered,
                 "the same clustered data bet on question by question (clusters ignored)":
                     Scenario(clustered.sizes, clustered.margins, clustered.discordance, clustered.accuracy,
                              clustered.passages, by_question=True)}
    print("| scenario | type-I at margin | false alarms | power at 2x | pass at no drop | mean pairs | p95 pairs | "
          "fixed-n: type-I / false alarms / power / pass at no drop |")
    print("|---|---:|---:|---:|---:|---:|---:|---|")
    for name, scenario in scenarios.items():
        r = evaluate(scenario, gates, args.alpha, args.chunk, args.min_n, args.seed)
        print(f"| {name} | {r['type_i']:.3f} | {r['false_alarms']:.3f} | {r['power']:.3f} | {r['pass_at_no_drop']:.3f} | "
              f"{r['mean_pairs']:.1f}% | {r['p95_pairs']:.1f}% | {r['fixed_type_i']:.3f} / {r['fixed_false_alarms']:.3f} / "
              f"{r['fixed_power']:.3f} / {r['fixed_pass_at_no_drop']:.3f} |")
        print(f"<!-- sizes {scenario.sizes.tolist()}, margins {np.round(100 * scenario.margins, 1).tolist()} points, "
              f"discordance {np.round(scenario.discordance, 3).tolist()} -->")
    print(f"# {gates} gates per scenario, alpha {args.alpha}, chunk {args.chunk}, min_n {args.min_n}; "
          f"{time.time() - started:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
