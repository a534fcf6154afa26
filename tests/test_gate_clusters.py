"""The gate on clustered tasks (questions sharing a passage: RACE, DROP, AGIEval's passage subsets).

The fixed-n verdict's bounds are Tango's on counts divided by the design effect (Rao & Scott 1992),
checked against a hand computation; the sequential gate draws, chunks and bets on whole passages
(docs/gate.md, "Clustered tasks in the sequence"); both say so in gate.md and gate.json; tasks
without clusters are gated exactly as before.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from store_samples import make_run
from test_gate_sequential import load_bench, trinomial
from test_run_engine import ScriptedBackend, plain_model  # noqa: F401  (plain_model: a fixture)

from orcabench.cli.run import main
from orcabench.gate.policy import load_policy
from orcabench.gate.sequential import (
    Levels,
    TaskSequence,
    cs_bound,
    first_crossing,
    log_capital,
    refuted,
    run_sequence,
    sequence_order,
    unit_values,
)
from orcabench.gate.verdicts import compare_runs, replay
from orcabench.stats import clustered_difference_bounds, clustered_se, design_effect, difference_bounds, score_bound


def policy_file(tmp_path: Path, **policy: Any) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(policy))
    return path


def race_shaped(rng: np.random.Generator, articles: int, per_article: int, drop_articles: float,
                gain_articles: float) -> tuple[list[float], list[float], list[str | None]]:
    """Baseline and candidate scores on articles of ``per_article`` questions whose changes come a whole article
    at a time: a share of the articles all go right -> wrong, another all wrong -> right."""
    base, cand, clusters = [], [], []
    for a in range(articles):
        u = rng.random()
        for _ in range(per_article):
            if u < drop_articles:
                base.append(1.0), cand.append(0.0)
            elif u < drop_articles + gain_articles:
                base.append(0.0), cand.append(1.0)
            else:
                score = float(rng.random() < 0.6)
                base.append(score), cand.append(score)
            clusters.append(f"article{a}")
    return base, cand, clusters


# --- fixed n ----------------------------------------------------------------------------


def test_the_design_effect_is_the_clustered_variance_over_the_independent_one() -> None:
    d = np.array([-1, -1, -1, 0, 0, 0, 1, 0, 1, 0, 0, 0], dtype=float)
    clusters: list[str | None] = [f"p{k // 3}" for k in range(12)]
    expected = clustered_se(d, clusters) ** 2 / (d.var(ddof=1) / d.size)
    assert design_effect(d, clusters) == pytest.approx(expected) and expected > 1
    assert design_effect(d, [f"q{k}" for k in range(12)]) == pytest.approx(1.0)  # every question its own passage
    assert design_effect(np.zeros(12), clusters) == 1.0  # nothing varies: nothing to inflate
    spread = np.array([-1, 0, 1] * 4, dtype=float)  # each passage holds one of each: less variance than independent
    assert design_effect(spread, clusters) == 1.0  # never narrower than the independent bounds


def test_clustered_bounds_are_tangos_on_counts_shrunk_by_the_design_effect() -> None:
    d = np.array([-1.0] * 12 + [1.0] * 4 + [0.0] * 44)
    clusters: list[str | None] = [f"p{k // 4}" for k in range(60)]  # the drops come four to a passage
    (low, high), deff = clustered_difference_bounds(d, clusters, 0.05, 0.01)
    assert deff == pytest.approx(clustered_se(d, clusters) ** 2 / (d.var(ddof=1) / 60)) and deff > 2
    assert low == pytest.approx(float(score_bound(12 / deff, 4 / deff, 60 / deff, 0.05, upper=False)))
    assert high == pytest.approx(float(score_bound(12 / deff, 4 / deff, 60 / deff, 0.01, upper=True)))
    independent = difference_bounds(d, 0.05, 0.01)
    assert low < independent[0] and high > independent[1]  # wider than if the questions were independent
    graded = np.linspace(-0.5, 0.3, 60)  # DROP F1: a t interval on the clustered SE, G - 1 = 14 degrees of freedom
    (g_low, _), _ = clustered_difference_bounds(graded, clusters, 0.05, 0.05)
    from scipy import stats
    assert g_low == pytest.approx(graded.mean() - stats.t.ppf(0.95, 14) * clustered_se(graded, clusters))


def test_a_clustered_tasks_fixed_n_verdict_uses_the_clustered_bounds_and_says_so(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base, cand, clusters = race_shaped(np.random.default_rng(4), 150, 4, 0.04, 0.04)
    plain = {"race": [None] * len(base)}
    runs = {name: make_run(tmp_path / name, {"race": scores}, model__name=name, clusters={"race": clusters})
            for name, scores in (("base", base), ("cand", cand))}
    flat = {name: make_run(tmp_path / f"flat-{name}", {"race": scores}, model__name=name, clusters=plain)
            for name, scores in (("base", base), ("cand", cand))}
    policy = load_policy(policy_file(tmp_path, margin=3.0))
    (clustered,) = compare_runs(runs["base"], runs["cand"], policy).tasks
    (independent,) = compare_runs(flat["base"], flat["cand"], policy).tasks
    d = np.array(cand) - np.array(base)
    expected, deff = clustered_difference_bounds(d, clusters, 0.05, 0.05)
    assert clustered.bounds == pytest.approx(expected) and deff > 2
    assert clustered.variance is not None and clustered.variance.design_effect == pytest.approx(deff)
    assert independent.bounds == pytest.approx(difference_bounds(d, 0.05, 0.05))  # unclustered: unchanged
    assert independent.verdict == "pass" and clustered.verdict == "inconclusive"  # the independent bounds were too sure

    assert main(["gate", "--baseline", str(runs["base"]), "--candidate", str(runs["cand"]), "--config",
                 str(tmp_path / "policy.yaml"), "--out", str(tmp_path / "out")]) == 3
    out = capsys.readouterr().out
    assert "Clustered task(s) race (questions sharing a passage): cluster-robust verdicts" in out
    assert f"(clustered: 150 passages, design effect {deff:.2f})" in out
    (task,) = json.loads((tmp_path / "out" / "gate.json").read_text())["tasks"]
    assert task["variance"] == {"kind": "clustered", "clusters": 150, "design_effect": pytest.approx(deff),
                                "text": f"clustered: 150 passages, design effect {deff:.2f}"}
    assert main(["gate", "--baseline", str(flat["base"]), "--candidate", str(flat["cand"]), "--config",
                 str(tmp_path / "policy.yaml"), "--out", str(tmp_path / "flat-out")]) == 0
    (task,) = json.loads((tmp_path / "flat-out" / "gate.json").read_text())["tasks"]
    assert task["variance"]["kind"] == "independent" and "Clustered" not in capsys.readouterr().out


# --- the sequence -----------------------------------------------------------------------


def test_a_passages_questions_are_drawn_together_and_unclustered_orders_are_unchanged() -> None:
    ids = {"arc": [str(i) for i in range(30)], "race": [str(i) for i in range(40)]}
    of = {"race": {str(i): f"a{i // 4}" for i in range(40)}}
    order = sequence_order(ids, 5, of)
    positions: dict[str, list[int]] = {}
    for k, (t, i) in enumerate(order):
        if t == "race":
            positions.setdefault(of["race"][i], []).append(k)
    assert all(p == list(range(p[0], p[0] + 4)) for p in positions.values())  # a passage: four in a row
    assert list(positions) != [f"a{k}" for k in range(10)]  # passages shuffled
    assert [x for x in order if x[0] == "arc"] == [x for x in sequence_order(ids, 5) if x[0] == "arc"]
    assert sequence_order({"arc": ids["arc"]}, 5, {}) == sequence_order({"arc": ids["arc"]}, 5)


def test_passage_bets_are_the_question_bets_when_every_passage_is_one_question() -> None:
    d = trinomial(np.random.default_rng(2), (400,), 0.05, 0.1)
    ones = np.ones(400, dtype=int)
    assert unit_values(d, ones, -0.03, 1) == pytest.approx(d)
    assert refuted(d, -0.03, +1, 0.05, 30, ones, 1) == refuted(d, -0.03, +1, 0.05, 30)
    assert cs_bound(d, 0.05, 30, False, ones, 1) == pytest.approx(cs_bound(d, 0.05, 30, False))
    sizes = np.array([4] * 100)
    u = unit_values(d, sizes, -0.03, 4)
    assert u.size == 100 and u[0] == pytest.approx(-0.03 + (d[:4] + 0.03).sum() / 4) and np.all(np.abs(u) <= 1)


def test_passage_bets_hold_their_error_rate_where_question_bets_do_not() -> None:
    """Passages of 8 whose 8 questions all change together: betting question by question counts each passage
    eight times; betting on passages is the test the martingale argument covers (docs/gate.md)."""
    rng = np.random.default_rng(11)
    passages, per, alpha, margin = 150, 8, 0.05, 0.05
    changes = trinomial(rng, (2000, passages), 0.10, 0.05)  # a true drop of exactly the margin, whole passages at once
    d = np.repeat(changes, per, axis=1)
    sizes = np.full(passages, per)
    by_passage = first_crossing(log_capital(unit_values(d, sizes, -margin, per), -margin, +1), alpha, 30,
                                np.cumsum(sizes))
    by_question = first_crossing(log_capital(d, -margin, +1), alpha, 30)
    assert np.mean(by_passage > 0) <= alpha  # "non-inferior" wrongly shown at most alpha of the time
    assert np.mean(by_question > 0) > 2 * alpha
    assert np.all(by_passage[by_passage > 0] >= 4)  # no look before min_n = 30 questions: the 4th passage of 8


def test_run_sequence_never_splits_a_passage_across_chunks_or_the_limit(tmp_path: Path) -> None:
    ids = {"race": [str(i) for i in range(200)]}
    of = {"race": {str(i): f"a{i // 5}" for i in range(200)}}
    calls: list[list[tuple[str, str]]] = []

    def source(keys: list[tuple[str, str]]) -> dict[tuple[str, str], tuple[float, float]]:
        calls.append(keys)
        return {key: (1.0, 1.0) for key in keys}

    state = TaskSequence("race", 0.001, 30, 73, 200, [], [], cluster_of=of["race"], largest=5)  # never settles
    result = run_sequence(sequence_order(ids, 0, of), [state], Levels(0.05, 1), 12, source)
    assert [len(c) for c in calls] == [15] * 5  # 12 asked for: the third passage finished first, each time
    for chunk in calls:
        passages = [of["race"][i] for _, i in chunk]
        assert all(passages.count(p) == 5 for p in passages)
    assert state.verdict is None and result.pairs_used == len(state.keys) == 75  # max_n 73: up to a whole passage


def test_a_clustered_replay_takes_whole_passages_and_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base, cand, clusters = race_shaped(np.random.default_rng(5), 400, 5, 0.01, 0.01)
    runs = {name: make_run(tmp_path / name, {"race": scores}, model__name=name, clusters={"race": clusters})
            for name, scores in (("base", base), ("cand", cand))}
    config = policy_file(tmp_path, margin=8.0, chunk=50)
    comparison = replay(runs["base"], runs["cand"], load_policy(config))
    (task,) = comparison.tasks
    assert task.verdict == "pass" and task.basis == "sequential" and task.stats.n % 5 == 0
    assert task.variance is not None and task.variance.text.endswith("passages, bet on as units")
    assert main(["gate", "--baseline", str(runs["base"]), "--candidate", str(runs["cand"]), "--sequential", "--config",
                 str(config)]) == 0
    assert "its passages are drawn and bet on whole" in capsys.readouterr().out


def test_the_simulation_walks_the_same_chunks_as_the_gate_on_passages() -> None:
    bench = load_bench()
    rng = np.random.default_rng(8)
    sizes = np.array([300, 200])
    passages = [rng.integers(2, 7, 100) for _ in sizes]
    passages = [p[: int(np.searchsorted(np.cumsum(p), n)) + 1] for p, n in zip(passages, sizes)]
    sizes = np.array([int(p.sum()) for p in passages])
    in_order = bench.order_passages(sizes, passages)
    margins, levels = np.array([0.05, 0.08]), Levels(0.05, 2)
    counts = bench.cumulative_counts(sizes, in_order)
    for gate_index in range(4):
        diffs = [trinomial(rng, (int(n),), 0.1 if gate_index % 2 else 0.04, 0.04) for n in sizes]
        taus = []
        for side, level in ((+1, levels.sequential[0]), (-1, levels.sequential[1])):
            row = []
            for d, m, p in zip(diffs, margins, in_order):
                ends = np.concatenate([[0], np.cumsum(p)])
                row.append(ends[first_crossing(log_capital(unit_values(d, p, -m, int(p.max())), -m, side), level, 30,
                                               ends[1:])])
            taus.append(np.array([row]))
        taken, verdict = bench._walk(counts, sizes, taus[0], taus[1], 40)
        ids = {str(j): [str(i) for i in range(n)] for j, n in enumerate(sizes)}
        of = {str(j): {str(i): f"p{k}" for i, k in enumerate(np.repeat(np.arange(p.size), p))}
              for j, p in enumerate(passages)}
        states = [TaskSequence(str(j), float(margins[j]), 30, int(n), int(n), [], [], cluster_of=of[str(j)],
                               largest=int(passages[j].max())) for j, n in enumerate(sizes)]
        position = {str(j): 0 for j in range(sizes.size)}

        def source(keys: list[tuple[str, str]], diffs: list[np.ndarray] = diffs,
                   position: dict[str, int] = position) -> dict[tuple[str, str], tuple[float, float]]:
            out = {}
            for t, i in keys:
                value = diffs[int(t)][position[t]]
                position[t] += 1
                out[(t, i)] = (0.0, 1.0) if value > 0 else (1.0, 1.0 + value)
            return out

        result = run_sequence(sequence_order(ids, 0, of), states, levels, 40, source)
        assert [len(s.keys) for s in result.tasks] == taken[0].tolist()
        assert [{"pass": 1, "regression": -1, None: 0}[s.verdict] for s in result.tasks] == verdict[0].tolist()


def test_a_live_candidate_on_a_clustered_task_runs_whole_passages_per_chunk(
        plain_model: Path, tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    import orcabench.engine.session as run_session
    import orcabench.gate.candidate as gate_candidate
    from orcabench import api
    from orcabench.store.reader import load_run

    plan = api.plan(api.RunConfig(selection=api.Selection(model=str(plain_model), tasks=["agieval-mc"], limit_per_subtask=20,
                                                          data_dir=data_dir),
                                  engine=api.EngineSettings(backend="hf"), operations=api.Operations(output=tmp_path / "base")))
    with api.RunSession(plan, load=lambda _: ScriptedBackend()) as session:
        session.execute()
    baseline = load_run(plan.run_dir)
    of = {i: r.cluster for (_, i), r in baseline.records.items() if r.cluster is not None}
    assert of and len(set(of.values())) < len(of)  # some passages hold several questions
    backend = ScriptedBackend(group=4)
    monkeypatch.setattr(run_session, "load_backend", lambda *args, **kwargs: backend)
    policy = load_policy(policy_file(tmp_path, margin=30.0, chunk=5, min_n=10))
    result = gate_candidate.gate_candidate(plan.run_dir, gate_candidate.CandidateRun(model=str(plain_model),
                                                                                     output=tmp_path / "cand"), policy)
    (task,) = result.tasks
    assert task.clustered and task.verdict == "pass" and task.basis == "sequential"
    assert result.sequence is not None and result.sequence.pairs_used < result.sequence.pairs_available  # stopped early
    assert backend.asked  # the candidate ran: the passages it reached are stored whole
    stored = load_run(tmp_path / "cand")
    used = [i for (_, i) in stored.records]
    for passage in {of[i] for i in used if i in of}:
        assert {i for i, c in of.items() if c == passage} <= set(used)
