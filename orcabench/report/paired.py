"""The paired leaderboard: each model against a reference model on the questions both ran, and
the groups of models the data cannot tell apart.

Two models 0.8 points apart on a thousand questions are usually indistinguishable; a table of
point estimates ranks noise. Per task, each run entry's difference from the reference is
:func:`orcabench.stats.paired_stats` on the shared example ids — the statistics ``orcabench
compare`` and the gate show (paired bootstrap CI and exact McNemar p; cluster-robust where the
task's questions share passages). Ranks are shared by models that cannot be told apart:

1. the best remaining model (highest accuracy on its own questions) opens a group;
2. every other remaining model is compared with it, paired, and the p-values are
   Holm-adjusted for the number of those comparisons; those not significant at ``alpha``
   join the group, which takes the rank of its first place (competition ranking: 1, 1, 3);
3. repeat with the models left.

A tie is "not shown to differ", not "equal"; groups are not transitive (a model tied with the
best may still differ from another member). Reference rows (published numbers) have no
per-question scores and take no part.

The reference is one entry (``--reference``), or one per group of rows (a :class:`Pairing`):
a campaign pairs each variant's cell with the reference model's cell of the same variant.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from orcabench.report.results import Results
from orcabench.store.reader import natural_order
from orcabench.stats import PairedStats, holm, paired_stats
from orcabench.types import Record

PAIRED_COLUMNS = ["task", "entry", "reference", "rank", "tied", "n", "accuracy", "delta", "ci_low", "ci_high", "p_value",
                  "interval"]
ALPHA = 0.05


@dataclass(frozen=True)
class Pairing:
    """A reference per group of rows: each entry's paired difference is taken from ``references[entry]`` (an entry
    absent from it is ranked but not paired). ``label`` names the reference in headings; ``notes`` say where the
    grouping fell back (a variant the reference was not run under)."""

    label: str
    references: Mapping[str, str]
    notes: tuple[str, ...] = field(default=())

    def of(self, entry: str) -> str | None:
        return self.references.get(entry)


@dataclass(frozen=True)
class _Scores:
    entry: str
    records: dict[str, Record]  # example id -> record

    @property
    def accuracy(self) -> float:
        return float(np.mean([r.score for r in self.records.values()]))


def _scores(results: Results, task: str) -> list[_Scores]:
    found = []
    for entry in results.entries:
        run_id = results.chosen.get((entry, task))
        if run_id is not None:
            records = {r.id: r for r in results.runs[run_id].task_records(task)}
            if records:
                found.append(_Scores(entry, records))
    return found


def paired(a: _Scores, b: _Scores, confidence: float = 1 - ALPHA) -> PairedStats:
    """b - a on the example ids both hold, clustered by the passage either record names."""
    shared = sorted(a.records.keys() & b.records.keys(), key=natural_order)  # the gate's order: the same bootstrap draws
    clusters = [a.records[i].cluster or b.records[i].cluster for i in shared]
    return paired_stats([a.records[i].score for i in shared], [b.records[i].score for i in shared], confidence,
                        clusters=clusters)


def tie_ranks(scores: list[_Scores], alpha: float = ALPHA) -> dict[str, int]:
    """Each entry's shared rank (the module's procedure)."""
    remaining = sorted(scores, key=lambda s: -s.accuracy)
    ranks: dict[str, int] = {}
    while remaining:
        best, others = remaining[0], remaining[1:]
        adjusted = holm([paired(best, other).p_value for other in others])
        group = [best] + [other for other, p in zip(others, adjusted) if p >= alpha]
        rank = len(ranks) + 1
        ranks.update({member.entry: rank for member in group})
        remaining = [s for s in remaining if s.entry not in ranks]
    return ranks


def paired_leaderboard(results: Results, reference: str | Pairing, alpha: float = ALPHA) -> pd.DataFrame:
    """One row per (task, run entry): its shared rank, whether it shares it, and its paired
    difference from its reference (``reference``, or the entry's own under a :class:`Pairing`;
    accuracy points, with the (1 - alpha) CI and p) on the ``n`` questions both ran. A
    reference's own row has delta 0 and no interval."""
    rows = []
    for task in results.task_names:
        scores = _scores(results, task)
        if not scores:
            continue
        ranks = tie_ranks(scores, alpha)
        by_entry = {s.entry: s for s in scores}
        counts = pd.Series(ranks).value_counts()
        for s in sorted(scores, key=lambda s: (ranks[s.entry], -s.accuracy)):
            against = reference.of(s.entry) if isinstance(reference, Pairing) else reference
            base = None if against is None else by_entry.get(against)
            row = {"task": task, "entry": s.entry, "reference": against or "", "rank": ranks[s.entry],
                   "tied": bool(counts[ranks[s.entry]] > 1),
                   "accuracy": 100 * s.accuracy, "interval": "clustered" if any(r.cluster for r in s.records.values())
                   else "independent"}
            if base is None:
                row.update(n=0, delta=np.nan, ci_low=np.nan, ci_high=np.nan, p_value=np.nan)
            elif s is base:
                row.update(n=len(s.records), delta=0.0, ci_low=np.nan, ci_high=np.nan, p_value=np.nan)
            else:
                stats = paired(base, s, 1 - alpha)
                row.update(n=stats.n, delta=100 * stats.delta, ci_low=100 * stats.ci_low, ci_high=100 * stats.ci_high,
                           p_value=stats.p_value)
            rows.append(row)
    return pd.DataFrame(rows, columns=PAIRED_COLUMNS)
