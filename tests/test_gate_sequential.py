"""The gate's one method with three outcomes, and the sequential (anytime-valid) gate.

The statistics are checked on simulated paired outcomes with known truth and fixed seeds
(coverage of the score bounds and of the confidence sequence, the verdict equal to what
the bounds say); the verdicts and replay on synthetic run directories through the CLI;
``bench/gate_sequential.py``'s vectorised gate against :func:`run_sequence` itself.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from conftest import kill_after_records
from store_samples import make_run
from test_run_engine import ScriptedBackend, plain_model  # noqa: F401  (plain_model: a fixture)

from orcabench import api
from orcabench.cli.run import main
from orcabench.gate.policy import load_policy
from orcabench.gate.verdicts import compare_runs, replay
from orcabench.gate.sequential import (
    Levels,
    TaskSequence,
    cs_bound,
    first_crossing,
    log_capital,
    refuted,
    run_sequence,
    sequence_order,
)
from orcabench.stats import score_bound, tango_z
from orcabench.types import Completion, Request

REPO = Path(__file__).resolve().parents[1]


def policy_file(tmp_path: Path, **policy: Any) -> Path:
    path = tmp_path / f"policy-{len(list(tmp_path.glob('policy-*.yaml')))}.yaml"
    path.write_text(yaml.safe_dump(policy))
    return path


def trinomial(rng: np.random.Generator, shape: tuple[int, ...], worse: float, better: float) -> np.ndarray:
    u = rng.random(shape)
    return np.where(u < worse, -1.0, np.where(u < worse + better, 1.0, 0.0))


# --- the case that started it -----------------------------------------------------------


def issue_runs(tmp_path: Path) -> tuple[Path, Path]:
    """smollm2-135m vs gemma3-270m on 40 pairs (issue 14): bbh-mc 9 right->wrong and 2 wrong->right, a 17.5-point
    drop with paired-bootstrap 95% CI [-32.5, -2.5] and McNemar p 0.065 (Holm over two tasks: 0.131); arc-easy 3 / 4."""
    bbh_base = [1.0] * 9 + [0.0] * 2 + [1.0] * 10 + [0.0] * 19
    bbh_cand = [0.0] * 9 + [1.0] * 2 + [1.0] * 10 + [0.0] * 19
    arc_base = [1.0] * 3 + [0.0] * 4 + [1.0] * 20 + [0.0] * 13
    arc_cand = [0.0] * 3 + [1.0] * 4 + [1.0] * 20 + [0.0] * 13
    base = make_run(tmp_path / "smollm2", {"arc-easy": arc_base, "bbh-mc": bbh_base})
    cand = make_run(tmp_path / "gemma3", {"arc-easy": arc_cand, "bbh-mc": bbh_cand}, model__name="gemma3-270m")
    return base, cand


def test_a_17_5_point_drop_whose_interval_excludes_zero_is_not_a_pass(tmp_path: Path) -> None:
    base, cand = issue_runs(tmp_path)
    lenient = compare_runs(base, cand, load_policy(policy_file(tmp_path, rule="lenient", min_n=30)))
    bbh = lenient.tasks[1]
    assert (bbh.stats.ci_low, bbh.stats.ci_high) == pytest.approx((-0.325, -0.025))
    assert bbh.p_adjusted == pytest.approx(0.1309, abs=1e-4)
    assert lenient.verdict == "pass" and "not significant (p 0.131" in bbh.note  # the old rule, kept when asked for

    strict = compare_runs(base, cand, load_policy(None))  # the default policy: non-inferiority, 1 point
    bbh = strict.tasks[1]
    assert strict.verdict == "regression" and bbh.verdict == "regression" and strict.exit_code == 1
    assert bbh.bounds is not None and bbh.bounds[1] < -0.01  # the bound the verdict names is the one shown
    assert bbh.note == f"drop beyond the margin: upper bound {100 * bbh.bounds[1]:+.2f} < -1 points"


def test_the_three_outcomes_and_their_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    same = [1.0] * 120 + [0.0] * 80
    worse = [0.0] * 40 + [1.0] * 80 + [0.0] * 80
    base = make_run(tmp_path / "a", {"gsm8k": same})
    config = policy_file(tmp_path, margin=3.0)
    cases = {"pass": (same, 0), "regression": (worse, 1), "inconclusive": ([0.0] * 6 + [1.0] * 114 + [1.0] * 4 + [0.0] * 76, 3)}
    for verdict, (scores, code) in cases.items():
        cand = make_run(tmp_path / verdict, {"gsm8k": scores})
        assert main(["gate", "--baseline", str(base), "--candidate", str(cand), "--config", str(config),
                     "--out", str(tmp_path / verdict / "report")]) == code
        report = json.loads((tmp_path / verdict / "report" / "gate.json").read_text())
        assert report["verdict"] == verdict and report["exit_code"] == code
        assert capsys.readouterr().out.startswith(f"## orcabench gate: {'PASS' if verdict == 'pass' else verdict.upper()}")
    (task,) = report["tasks"]  # the inconclusive one: 6 worse, 4 better of 200, a 1-point drop against a 3-point margin
    assert task["bounds"][0] < -0.03 < task["bounds"][1] and task["more_pairs"] > 0
    assert f"about {task['more_pairs']:,} more pairs would likely settle it" in task["note"]


def test_the_suggested_number_of_pairs_does_settle_the_task_when_the_rates_hold(tmp_path: Path) -> None:
    base = make_run(tmp_path / "a", {"gsm8k": [1.0] * 120 + [0.0] * 80})
    cand = make_run(tmp_path / "b", {"gsm8k": [0.0] * 6 + [1.0] * 114 + [1.0] * 4 + [0.0] * 76})
    (task,) = compare_runs(base, cand, load_policy(policy_file(tmp_path, margin=3.0))).tasks
    total = 200 + (task.more_pairs or 0)  # "roughly": a normal approximation of the score bound's width
    low = score_bound(round(6 / 200 * total * 1.1), round(4 / 200 * total * 1.1), round(total * 1.1), 0.05, upper=False)
    assert task.verdict == "inconclusive" and low > -0.03  # the same rates on 10% more than that: non-inferior
    assert score_bound(round(6 / 200 * total * 0.7), round(4 / 200 * total * 0.7), round(total * 0.7), 0.05, upper=False) < -0.03


# --- the fixed-n score bounds -----------------------------------------------------------


def test_score_bounds_cover_the_true_difference_at_their_confidence() -> None:
    rng = np.random.default_rng(5)
    for n, worse, better in ((40, 0.10, 0.05), (400, 0.08, 0.04), (2000, 0.02, 0.01)):
        d = trinomial(rng, (4000, n), worse, better)
        low = score_bound((d < 0).sum(axis=1), (d > 0).sum(axis=1), n, 0.05, upper=False)
        high = score_bound((d < 0).sum(axis=1), (d > 0).sum(axis=1), n, 0.05, upper=True)
        truth = better - worse
        assert 0.93 <= np.mean(low <= truth) <= 0.975, (n, np.mean(low <= truth))
        assert 0.93 <= np.mean(high >= truth) <= 0.975, (n, np.mean(high >= truth))


def test_score_bounds_with_no_discordant_pair_are_not_zero_width() -> None:
    # 40 agreeing pairs do not show that nothing changed: the score bound is about z^2 / n wide.
    assert score_bound(0, 0, 40, 0.05, upper=False) == pytest.approx(-0.0634, abs=1e-3)
    assert score_bound(0, 0, 40, 0.05, upper=True) == pytest.approx(0.0634, abs=1e-3)
    assert float(tango_z(0, 0, 40, -0.0634)) == pytest.approx(1.645, abs=0.01)


# --- the confidence sequence ------------------------------------------------------------


def test_the_confidence_sequence_excludes_the_truth_at_any_time_at_most_alpha_of_the_time() -> None:
    # Time-uniform: over 2000 looks at each of 1000 sequences, the bet on the true mean ever reaching 1/alpha.
    rng = np.random.default_rng(12)
    for worse, better in ((0.10, 0.05), (0.02, 0.02), (0.20, 0.02)):
        d = trinomial(rng, (1000, 2000), worse, better)
        truth = better - worse
        for side in (+1, -1):
            ever = first_crossing(log_capital(d, truth, side), 0.05, 1) > 0
            assert np.mean(ever) <= 0.05, (worse, better, side, np.mean(ever))


def test_the_bets_settle_a_clear_case_early_and_the_verdict_is_what_the_bounds_say() -> None:
    rng = np.random.default_rng(3)
    agreed = 0
    for worse, better in ((0.07, 0.07), (0.15, 0.0), (0.09, 0.05)):
        for row in trinomial(rng, (40, 1500), worse, better):
            for side in (+1, -1):
                rejected = refuted(row, -0.03, side, 0.05, 30)
                bound = cs_bound(row, 0.05, 30, upper=side < 0)
                assert rejected == (bound > -0.03 if side > 0 else bound < -0.03)
                agreed += 1
    assert agreed == 240
    no_drop = trinomial(rng, (1, 20_000), 0.075, 0.075)[0]
    assert 0 < first_crossing(log_capital(no_drop, -0.03, +1), 0.05, 30) < 5000  # non-inferiority shown in a fraction
    big_drop = trinomial(rng, (1, 20_000), 0.12, 0.02)[0]
    assert 0 < first_crossing(log_capital(big_drop, -0.03, -1), 0.01, 30) < 3000


def test_the_sequence_order_is_seeded_interleaved_and_complete() -> None:
    ids = {"big": [str(i) for i in range(300)], "small": [str(i) for i in range(100)]}
    order = sequence_order(ids, 7)
    assert order == sequence_order(ids, 7) and order != sequence_order(ids, 8)
    assert sorted(order) == sorted((t, i) for t, task_ids in ids.items() for i in task_ids)
    first_100 = [t for t, _ in order[:100]]
    assert first_100.count("big") == 75 and first_100.count("small") == 25  # each task grows at the same rate
    assert [i for t, i in order if t == "small"] != ids["small"]  # shuffled within the task


def test_run_sequence_stops_each_task_once_settled_and_a_replay_takes_the_same_chunks() -> None:
    rng = np.random.default_rng(1)
    values = {"flat": trinomial(rng, (3000,), 0.05, 0.05), "drop": trinomial(rng, (3000,), 0.2, 0.0)}
    ids = {t: [str(i) for i in range(3000)] for t in values}
    calls: list[list[tuple[str, str]]] = []

    def source(keys: list[tuple[str, str]]) -> dict[tuple[str, str], tuple[float, float]]:
        calls.append(keys)
        return {(t, i): (1.0, 1.0 + values[t][int(i)]) if values[t][int(i)] <= 0 else (0.0, 1.0) for t, i in keys}

    def states() -> list[TaskSequence]:
        return [TaskSequence(t, 0.05, 30, 3000, 3000, [], []) for t in values]

    result = run_sequence(sequence_order(ids, 0), states(), Levels(0.05, 2), 50, source)
    verdicts = {t.task: (t.verdict, len(t.keys)) for t in result.tasks}
    assert verdicts["flat"][0] == "pass" and verdicts["drop"][0] == "regression"
    assert result.pairs_used < 6000 / 3 and all(len(chunk) == 50 for chunk in calls[:-1])
    assert result.pairs_used == sum(len(chunk) for chunk in calls)
    first = [len(c) for c in calls]
    calls.clear()
    again = run_sequence(sequence_order(ids, 0), states(), Levels(0.05, 2), 50, source)
    assert [len(c) for c in calls] == first and {t.task: (t.verdict, len(t.keys)) for t in again.tasks} == verdicts


def load_bench() -> Any:
    """bench/gate_sequential.py as a module (registered, so its dataclasses resolve their annotations)."""
    if "gate_sequential" in sys.modules:
        return sys.modules["gate_sequential"]
    spec = importlib.util.spec_from_file_location("gate_sequential", REPO / "bench" / "gate_sequential.py")
    assert spec and spec.loader
    bench = importlib.util.module_from_spec(spec)
    sys.modules["gate_sequential"] = bench
    spec.loader.exec_module(bench)
    return bench


def test_the_simulation_walks_the_same_chunks_as_the_gate() -> None:
    bench = load_bench()
    sizes, margins = np.array([900, 400]), np.array([0.05, 0.08])
    rng = np.random.default_rng(4)
    for gate_index in range(6):
        diffs = [trinomial(rng, (n,), 0.1 if gate_index % 2 else 0.04, 0.04) for n in sizes]
        levels = Levels(0.05, 2)
        tau_pass = np.array([[first_crossing(log_capital(d, -m, +1), levels.sequential[0], 30) for d, m in zip(diffs, margins)]])
        tau_reg = np.array([[first_crossing(log_capital(d, -m, -1), levels.sequential[1], 30) for d, m in zip(diffs, margins)]])
        taken, verdict = bench._walk(bench.cumulative_counts(sizes), sizes, tau_pass, tau_reg, 40)
        ids = {str(j): [str(i) for i in range(n)] for j, n in enumerate(sizes)}
        states = [TaskSequence(str(j), float(margins[j]), 30, int(n), int(n), [], []) for j, n in enumerate(sizes)]
        # The bench draws each task's differences in sequence order: feed them in that order.
        position = {str(j): 0 for j in range(sizes.size)}

        def source(keys: list[tuple[str, str]], diffs: list[np.ndarray] = diffs,
                   position: dict[str, int] = position) -> dict[tuple[str, str], tuple[float, float]]:
            out = {}
            for t, i in keys:
                value = diffs[int(t)][position[t]]
                position[t] += 1
                out[(t, i)] = (0.0, 1.0) if value > 0 else (1.0, 1.0 + value)
            return out

        result = run_sequence(sequence_order(ids, 0), states, levels, 40, source)
        assert [len(s.keys) for s in result.tasks] == taken[0].tolist()
        assert [{"pass": 1, "regression": -1, None: 0}[s.verdict] for s in result.tasks] == verdict[0].tolist()


# --- replay and policy on run directories -----------------------------------------------


def test_replay_says_when_the_sequence_would_have_stopped(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rng = np.random.default_rng(9)
    base_scores = (rng.random(3000) < 0.6).astype(float)
    flips = rng.random(3000) < 0.08
    same = np.where(flips & (rng.random(3000) < 0.5), 1 - base_scores, base_scores)  # symmetric noise: no drop
    base = make_run(tmp_path / "a", {"mmlu": base_scores.tolist()})
    cand = make_run(tmp_path / "b", {"mmlu": same.tolist()}, model__name="other")
    config = policy_file(tmp_path, margin=3.0, chunk=100)
    assert main(["gate", "--baseline", str(base), "--candidate", str(cand), "--sequential", "--config", str(config),
                 "--out", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    report = json.loads((tmp_path / "out" / "gate.json").read_text())
    used = report["sequential"]["pairs_used"]
    assert out.startswith(f"## orcabench gate: PASS (decided after {used:,} of 3,000 pairs)")
    assert used % 100 == 0 and used < 1500 and report["sequential"]["samples_saved"] == 3000 - used
    (task,) = report["tasks"]
    assert task["basis"] == "sequential" and task["bounds"][0] > -0.03 and task["pairs_used"] == used
    assert replay(base, cand, load_policy(config)).sequence == replay(base, cand, load_policy(config)).sequence


def test_replay_gives_the_fixed_n_verdict_when_the_data_runs_out(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = make_run(tmp_path / "a", {"gsm8k": [1.0] * 120 + [0.0] * 80})
    cand = make_run(tmp_path / "b", {"gsm8k": [0.0] * 6 + [1.0] * 114 + [1.0] * 4 + [0.0] * 76})
    assert main(["gate", "--baseline", str(base), "--candidate", str(cand), "--sequential", "--config",
                 str(policy_file(tmp_path, margin=3.0))]) == 3
    out = capsys.readouterr().out
    assert "(data ran out; fixed-n verdict after 200 of 200 pairs)" in out.splitlines()[0]
    assert "**INCONCLUSIVE** (fixed-n): data ran out undecided after 200 pairs; fixed-n verdict: bounds" in out


def test_policy_keys_are_validated_and_unknown_ones_listed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    policy = load_policy(policy_file(tmp_path, margin=2, chunk=50, max_n=500, tasks={"mmlu": {"margin": 1.5, "max_n": 4000}}))
    assert (policy.for_task("gsm8k").margin, policy.for_task("gsm8k").max_n, policy.chunk) == (2.0, 500, 50)
    assert (policy.for_task("mmlu").margin, policy.for_task("mmlu").max_n) == (1.5, 4000)
    base = make_run(tmp_path / "a", {"gsm8k": [1.0] * 30})
    cases = [({"max_drop": 1}, ("unknown key(s) max_drop; known: chunk, confidence, informational, margin, max_n, min_n, "
                                "required, resamples, rule, seed, tasks")),
             ({"rule": "strict"}, "rule must be one of non-inferiority, lenient, not 'strict'"),
             ({"chunk": 0}, "chunk must be at least 1"),
             ({"tasks": {"gsm8k": {"max_n": 2.5}}}, "tasks.gsm8k.max_n must be an integer"),
             ({"tasks": {"gsm8k": {"alpha": 1}}}, "tasks.gsm8k must be a mapping with keys among margin, max_n, min_n, required")]
    for content, message in cases:
        config = policy_file(tmp_path, **content)
        assert main(["gate", "--baseline", str(base), "--candidate", str(base), "--config", str(config)]) == 2
        err = capsys.readouterr().err.strip()
        assert message in err and len(err.splitlines()) == 1, err


def test_the_candidate_is_a_run_or_a_model_to_run_sequentially(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = make_run(tmp_path / "a", {"gsm8k": [1.0] * 30})
    assert main(["gate", "--baseline", str(base)]) == 2
    assert "one of the two" in capsys.readouterr().err
    assert main(["gate", "--baseline", str(base), "--candidate-model", "smollm2-135m"]) == 2
    assert "add --sequential" in capsys.readouterr().err


# --- the gate running its candidate: control flow on a scripted backend ------------------


def scripted_baseline(model: Path, root: Path, data_dir: Path, n: int) -> Path:
    """A baseline run of gsm8k made by the run engine with the scripted backend (the same answer to everything)."""
    from orcabench.engine.session import RunSession

    plan = api.plan(api.RunConfig(selection=api.Selection(model=str(model), tasks=["gsm8k"], limit=n, data_dir=data_dir),
                                  engine=api.EngineSettings(backend="hf"),
                                  operations=api.Operations(output=root / "base")))
    with RunSession(plan, load=lambda _: ScriptedBackend()) as session:
        session.execute()
    return plan.run_dir


class DiesInItsSecondChunk(ScriptedBackend):
    """Answers the first chunk, then three requests of the second, then the engine dies."""

    def answer(self, requests: Sequence[Request]) -> Iterator[list[tuple[int, Completion]]]:
        self.fail_after = 1 if self.asked else None
        return super().answer(requests)


def test_the_last_chunk_line_never_says_settled_when_the_pairs_ran_out_first(
        plain_model: Path, tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    import orcabench.engine.session as run_session
    import orcabench.gate.candidate as gate_candidate
    from orcabench.events import ChunkDone

    baseline = scripted_baseline(plain_model, tmp_path, data_dir, 16)
    policy = load_policy(policy_file(tmp_path, margin=20.0, chunk=8, min_n=50))  # 16 pairs can never settle it
    monkeypatch.setattr(run_session, "load_backend", lambda *args, **kwargs: ScriptedBackend(group=3))
    lines: list[str] = []
    chunks = api.RunEvents(lambda event: lines.append(event.line()) if isinstance(event, ChunkDone) else None)
    result = gate_candidate.gate_candidate(baseline, gate_candidate.CandidateRun(model=str(plain_model),
                                                                                 output=tmp_path / "cand"),
                                           policy, events=chunks)
    assert result.sequence is not None and not result.sequence.decided
    assert lines[-1] == "chunk 2: 16 of 16 pairs; pairs used up before settling: gsm8k (fixed-n verdict)"
    assert not any("every required task settled" in line for line in lines)


def test_the_gate_runs_its_candidate_chunk_by_chunk_and_a_crashed_gate_resumes_to_the_same_pairs(
        plain_model: Path, tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    import orcabench.engine.session as run_session
    import orcabench.gate.candidate as gate_candidate
    from orcabench.events import ChunkDone

    baseline = scripted_baseline(plain_model, tmp_path, data_dir, 60)
    policy = load_policy(policy_file(tmp_path, margin=20.0, chunk=8, min_n=8))
    loaded: list[ScriptedBackend] = []

    def load(backend: ScriptedBackend) -> None:
        monkeypatch.setattr(run_session, "load_backend", lambda *args, **kwargs: loaded.append(backend) or backend)

    settings = gate_candidate.CandidateRun(model=str(plain_model), output=tmp_path / "cand")
    load(ScriptedBackend(group=3))
    lines: list[str] = []
    chunks = api.RunEvents(lambda event: lines.append(event.line()) if isinstance(event, ChunkDone) else None)
    first = gate_candidate.gate_candidate(baseline, settings, policy, events=chunks)
    assert first.verdict == "pass" and first.sequence is not None and first.sequence.decided
    used = first.sequence.pairs_used
    assert used < 60 and [len(asked) for asked in loaded[0].asked] == [8] * (used // 8)  # one execute per chunk
    assert lines[-1] == f"chunk {used // 8}: {used} of 60 pairs; every required task settled"
    assert len((tmp_path / "cand" / "records.jsonl").read_text().splitlines()) == used

    # Run again: everything the sequence needs is stored, so no backend loads and the verdict is the same.
    again = gate_candidate.gate_candidate(baseline, settings, policy)
    assert len(loaded) == 1 and again.sequence == first.sequence and again.tasks[0].bounds == first.tasks[0].bounds

    # A gate whose engine dies in its second chunk keeps what it stored; the rerun completes the same sequence.
    crashed = gate_candidate.CandidateRun(model=str(plain_model), output=tmp_path / "crashed")
    load(DiesInItsSecondChunk(group=3))
    with pytest.raises(RuntimeError, match="engine died"):
        gate_candidate.gate_candidate(baseline, crashed, policy)
    kept = len((tmp_path / "crashed" / "records.jsonl").read_text().splitlines())
    assert kept == 8 + 3 < used
    load(ScriptedBackend(group=5))
    resumed = gate_candidate.gate_candidate(baseline, crashed, policy)
    assert resumed.sequence == first.sequence and resumed.verdict == first.verdict
    assert sorted((tmp_path / "crashed" / "records.jsonl").read_text().splitlines()) == \
        sorted((tmp_path / "cand" / "records.jsonl").read_text().splitlines())
    assert sum(len(asked) for asked in loaded[-1].asked) == used - kept  # only what was missing


class CutOff(ScriptedBackend):
    """Every generation stops at max_tokens: a run of it warns that answers are cut off."""

    @staticmethod
    def _completion(request: Request) -> Completion:
        return Completion(text="The answer is 1", prompt_tokens=7, output_tokens=9, finish_reason="length")


def same_words(warnings: list[str]) -> list[str]:
    """Warnings with their counts left out ("31 of 40 gsm8k sample(s)..." and "8 of 8 ..." say the same)."""
    return [re.sub(r"\d+ of \d+", "N of M", warning) for warning in warnings]


def test_the_gates_candidate_session_records_what_orcabench_run_of_its_plan_records(
        plain_model: Path, tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    import orcabench.engine.session as run_session
    from orcabench.gate.candidate import CandidateRun, candidate_config, gate_candidate
    from orcabench.store.reader import load_run

    baseline = scripted_baseline(plain_model, tmp_path, data_dir, 24)
    policy = load_policy(policy_file(tmp_path, margin=20.0, chunk=8, min_n=8))
    monkeypatch.setattr(run_session, "load_backend", lambda *args, **kwargs: CutOff(group=3))
    settings = CandidateRun(model=str(plain_model), output=tmp_path / "gated", batch_size=4)
    gate_candidate(baseline, settings, policy)
    api.run(candidate_config(load_run(baseline), ["gsm8k"], CandidateRun(model=str(plain_model), output=tmp_path / "run",
                                                                          batch_size=4)))

    gated, ran = (json.loads((tmp_path / name / "manifest.json").read_text())["sessions"][-1] for name in ("gated", "run"))
    assert set(gated) == set(ran)  # timings, warnings, tokens, planned, backend: the same session record
    assert list(gated["timings"]) == list(ran["timings"]) and gated["backend"] == ran["backend"] == {"backend": "scripted"}
    assert gated["planned"] == ran["planned"] and ran["pending"] == ran["planned"]["gsm8k"]
    assert gated["pending"] == 24  # the baseline's examples: all the sequence could ask for
    assert gated["warnings"] and same_words(gated["warnings"]) == same_words(ran["warnings"])
    # What the gate sent is what its chunks needed, counted the same way as the full run.
    for session, name in ((gated, "gated"), (ran, "run")):
        prompts = [json.loads(line)["prompt"] for line in (tmp_path / name / "records.jsonl").read_text().splitlines()]
        assert session["requests"] == len(prompts) and session["output_tokens"] == 9 * len(prompts)
        assert session["prompt_tokens"] == sum(len(prompt) // 4 for prompt in prompts)  # no tokenizer: ~4 characters a token
        assert session["generation_budget"] == 512 * len(prompts)  # gsm8k's max_tokens
    assert gated["requests"] < ran["requests"] == ran["pending"]


# --- a real candidate, run by the gate (slow) -------------------------------------------

# With a 20-point margin and chunks of 8: agreeing pairs show non-inferiority after about 29
# pairs; a candidate cut to one token (most GSM8K answers have several digits) regresses in
# about 17. The baseline holds 48, so a sequence that stops early stops before its data runs out.
SEQUENTIAL_POLICY = {"margin": 20.0, "chunk": 8, "min_n": 8}
BASELINE_EXAMPLES = 48


@pytest.fixture(scope="module")
def echo(tmp_path_factory: pytest.TempPathFactory, smollm2_dir: Path) -> dict[str, Any]:
    """A real baseline run of the bundled model on the echo-number plugin task (tests/test_gate.py)."""

    from test_gate import ECHO_TASK

    root = tmp_path_factory.mktemp("gate-sequential-real")
    (root / "tasks" / "echo").mkdir(parents=True)
    (root / "tasks" / "echo" / "task.py").write_text(ECHO_TASK)
    (root / "tasks" / "echo" / "echo.j2").write_text("Repeat this number and nothing else: {{ number }}\n")
    env = {**os.environ, "ORCABENCH_TASKS_PATH": str(root / "tasks")}
    made = subprocess.run([sys.executable, "-m", "orcabench.cli", "run", "--model", "smollm2-135m", "--tasks", "echo-number",
                           "--limit", str(BASELINE_EXAMPLES), "--max-tokens", "16", "--backend", "hf", "--batch-size", "8",
                           "--output", str(root / "baseline")], env=env, capture_output=True, text=True, timeout=900, check=False)
    assert made.returncode == 0, made.stderr
    (root / "gate.yaml").write_text(yaml.safe_dump(SEQUENTIAL_POLICY))
    return {"root": root, "env": env, "baseline": root / "baseline"}


def gate_command(echo: dict[str, Any], output: Path, *flags: str) -> list[str]:

    return [sys.executable, "-m", "orcabench.cli", "gate", "--baseline", str(echo["baseline"]),
            "--candidate-model", "smollm2-135m",
            "--sequential", "--config", str(echo["root"] / "gate.yaml"), "--candidate-output", str(output),
            "--out", str(output.parent / f"{output.name}-report"), *flags]


def run_gate(echo: dict[str, Any], output: Path, *flags: str) -> tuple[int, dict[str, Any]]:

    done = subprocess.run(gate_command(echo, output, *flags), env=echo["env"], capture_output=True, text=True, timeout=900,
                          check=False)
    assert done.returncode in (0, 1, 3), done.stderr
    return done.returncode, json.loads((output.parent / f"{output.name}-report" / "gate.json").read_text())


def stored_keys(run_dir: Path) -> set[tuple[str, str]]:
    from orcabench.store.writer import read_records

    return set(read_records(run_dir / "records.jsonl")[0])


@pytest.mark.slow
def test_a_real_candidate_gated_sequentially_stops_early_and_a_killed_gate_resumes_to_the_same_verdict(
        echo: dict[str, Any]) -> None:

    cut = ("--max-tokens", "1", "--batch-size", "1", "--backend", "hf")
    code, report = run_gate(echo, echo["root"] / "cut", *cut)
    used = report["sequential"]["pairs_used"]
    assert code == 1 and report["verdict"] == "regression" and report["tasks"][0]["basis"] == "sequential"
    assert used < BASELINE_EXAMPLES and used % 8 == 0 and report["sequential"]["samples_saved"] == BASELINE_EXAMPLES - used
    assert len(stored_keys(echo["root"] / "cut")) == used  # the candidate computed only the pairs the sequence used

    # The same gate, SIGKILLed after its first few records, then run again: same pairs, same verdict.
    killed = echo["root"] / "killed"
    kill_after_records(gate_command(echo, killed, *cut), killed / "records.jsonl", at_least=3, env=echo["env"])
    kept = len(stored_keys(killed))
    assert 3 <= kept < used
    code_again, resumed = run_gate(echo, killed, *cut)
    assert code_again == code and resumed["verdict"] == report["verdict"]
    assert resumed["sequential"]["pairs_used"] == used and stored_keys(killed) == stored_keys(echo["root"] / "cut")
    assert resumed["tasks"][0]["bounds"] == report["tasks"][0]["bounds"]

    # The candidate's run is an ordinary partial run: `orcabench run` completes it.
    completed = subprocess.run([*gate_command(echo, killed)[:3], "run", "--model", "smollm2-135m", "--tasks", "echo-number",
                                "--limit", str(BASELINE_EXAMPLES), "--output", str(killed), *cut], env=echo["env"],
                               capture_output=True, text=True, timeout=900, check=False)
    assert completed.returncode == 0, completed.stderr
    assert f"{BASELINE_EXAMPLES - used} model call(s) this time" in completed.stdout
    assert len(stored_keys(killed)) == BASELINE_EXAMPLES

    # The resumed gate's session and `orcabench run`'s record the same things (--limit is the run's own selection).
    gated, ran = json.loads((killed / "manifest.json").read_text())["sessions"][-2:]
    assert set(gated) == set(ran) - {"limit"} and ran["limit"] == BASELINE_EXAMPLES
    assert list(gated["timings"]) == list(ran["timings"]) and set(gated["backend"]) == set(ran["backend"])
    assert gated["warnings"] and same_words(gated["warnings"]) == same_words(ran["warnings"])
    assert gated["planned"].keys() == ran["planned"].keys() and ran["requests"] == BASELINE_EXAMPLES - used
    assert gated["requests"] == used - kept and 0 < gated["output_tokens"] <= gated["requests"]  # max_tokens 1


@pytest.mark.slow
def test_a_real_candidate_against_itself_with_another_batch_size_passes_before_the_data_runs_out(echo: dict[str, Any]) -> None:
    code, report = run_gate(echo, echo["root"] / "same", "--batch-size", "3")
    assert code == 0 and report["verdict"] == "pass", report["summary"]
    assert report["sequential"]["pairs_used"] < BASELINE_EXAMPLES and report["tasks"][0]["basis"] == "sequential"
    assert report["tasks"][0]["bounds"][0] > -0.20
