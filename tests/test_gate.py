"""`orcabench gate` and `orcabench compare`: paired statistics, the verdict rule, the reports.

The statistics are checked against independent computations on synthetic paired
vectors with known answers; the CLI against synthetic run directories; and, marked slow,
the whole gate against two real runs of the bundled model (one made worse on one task)
and `examples/ci/gate.sh` run as CI would.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from scipy import stats as sps
from store_samples import make_run

from orcabench.cli.run import main
from orcabench.gate.policy import load_policy
from orcabench.gate.verdicts import compare_runs
from orcabench.gate.outputs import to_json
from orcabench.stats import holm, mcnemar_exact, paired_bootstrap_ci, paired_stats

REPO = Path(__file__).resolve().parents[1]


# --- statistics against independent computations ----------------------------------------


def test_mcnemar_exact_p_matches_the_hand_computed_binomial_tail() -> None:
    # 6 pairs right -> wrong, 1 wrong -> right: P(X <= 1) for X ~ Bin(7, 1/2) is 8/128, doubled.
    assert mcnemar_exact(6, 1) == pytest.approx(2 * (1 + 7) / 2**7)
    assert mcnemar_exact(1, 6) == pytest.approx(0.125)  # symmetric
    assert mcnemar_exact(5, 0) == pytest.approx(2 / 32)
    assert mcnemar_exact(0, 0) == 1.0  # no discordant pair: no evidence of any difference
    assert mcnemar_exact(3, 3) == 1.0


def test_paired_stats_agree_with_scipy_on_the_paired_vectors() -> None:
    rng = np.random.default_rng(7)
    baseline = (rng.random(300) < 0.62).astype(float)
    candidate = baseline.copy()
    flip_down = rng.choice(np.flatnonzero(baseline == 1), 25, replace=False)
    flip_up = rng.choice(np.flatnonzero(baseline == 0), 8, replace=False)
    candidate[flip_down], candidate[flip_up] = 0.0, 1.0

    result = paired_stats(baseline, candidate, seed=3)
    assert result.n == 300 and (result.worse, result.better) == (25, 8)
    assert result.baseline == pytest.approx(baseline.mean()) and result.candidate == pytest.approx(candidate.mean())
    assert result.delta == pytest.approx((8 - 25) / 300)
    assert result.p_value == pytest.approx(sps.binomtest(25, 33, 0.5).pvalue)

    # An independent paired bootstrap (plain numpy, other seed, more resamples) lands on the same interval.
    indices = np.random.default_rng(99).integers(0, 300, size=(40_000, 300))
    deltas = candidate[indices].mean(axis=1) - baseline[indices].mean(axis=1)
    low, high = np.percentile(deltas, [2.5, 97.5])
    assert result.ci_low == pytest.approx(low, abs=0.004) and result.ci_high == pytest.approx(high, abs=0.004)
    assert result.ci_low < result.delta < result.ci_high


def test_the_bootstrap_ci_covers_the_true_delta_about_95_percent_of_the_time() -> None:
    # Known truth: each example flips right -> wrong with prob 0.10 and wrong -> right with 0.04,
    # from a baseline at 60% accuracy: true delta = 0.4 * 0.04 - 0.6 * 0.10 = -0.044.
    rng = np.random.default_rng(11)
    true_delta, covered, trials = 0.4 * 0.04 - 0.6 * 0.10, 0, 200
    for trial in range(trials):
        baseline = (rng.random(400) < 0.6).astype(float)
        u = rng.random(400)
        candidate = np.where(baseline == 1, (u >= 0.10).astype(float), (u < 0.04).astype(float))
        low, high = paired_bootstrap_ci(baseline, candidate, resamples=1000, seed=trial)
        covered += low <= true_delta <= high
    assert 0.89 <= covered / trials <= 0.99


def test_paired_bootstrap_is_reproducible_and_degenerate_cases_are_exact() -> None:
    a = [1.0, 0.0, 1.0, 1.0, 0.0, 1.0, 0.0, 1.0]
    b = [1.0, 0.0, 0.0, 1.0, 0.0, 1.0, 1.0, 0.0]
    assert paired_bootstrap_ci(a, b, seed=5) == paired_bootstrap_ci(a, b, seed=5)
    assert paired_bootstrap_ci(a, a) == (0.0, 0.0)  # every pair agrees: no uncertainty about a zero delta
    with pytest.raises(ValueError, match="differ in length"):
        paired_stats([1.0], [1.0, 0.0])


def test_holm_adjustment_on_known_p_values() -> None:
    # Sorted: 0.01*4=0.04, 0.03*3=0.09, 0.04*2=0.08 -> 0.09 (monotone), 0.2*1=0.2.
    assert holm([0.01, 0.04, 0.03, 0.2]) == pytest.approx([0.04, 0.09, 0.09, 0.2])
    assert holm([0.5, 0.6]) == pytest.approx([1.0, 1.0])  # capped at 1
    assert holm([0.02]) == pytest.approx([0.02])  # one test: unchanged
    assert holm([]) == []


def test_graded_scores_use_the_sign_test_on_pairs_that_differ() -> None:
    # DROP-style F1: three pairs got worse, none better.
    baseline, candidate = [1.0, 0.5, 0.8, 0.2, 1.0], [0.5, 0.5, 0.4, 0.2, 0.9]
    result = paired_stats(baseline, candidate)
    assert (result.worse, result.better) == (3, 0)
    assert result.p_value == pytest.approx(0.25)
    assert result.delta == pytest.approx((-0.5 - 0.4 - 0.1) / 5)


# --- synthetic run directories ----------------------------------------------------------


def policy_file(tmp_path: Path, **policy: Any) -> Path:
    path = tmp_path / f"gate-{len(list(tmp_path.glob('gate-*.yaml')))}.yaml"  # a new file per call
    path.write_text(yaml.safe_dump(policy))
    return path


def test_under_the_lenient_rule_a_half_point_drop_on_50_samples_is_not_significant_and_passes(tmp_path: Path) -> None:
    # 50 graded samples; one loses a quarter point: the mean drops by 0.5 points.
    base_scores = [1.0] * 30 + [0.0] * 20
    cand_scores = list(base_scores)
    cand_scores[3] = 0.75
    base = make_run(tmp_path / "a", {"drop": base_scores, "gsm8k": [1.0] * 25 + [0.0] * 25})
    cand = make_run(tmp_path / "b", {"drop": cand_scores, "gsm8k": [1.0] * 25 + [0.0] * 25})
    result = compare_runs(base, cand, load_policy(policy_file(tmp_path, rule="lenient", margin=0.0, min_n=50)))
    (drop, gsm8k) = result.tasks
    assert drop.drop_points == pytest.approx(0.5)
    assert drop.p_adjusted == pytest.approx(1.0) and drop.verdict == "pass" and "not significant" in drop.note
    assert gsm8k.verdict == "pass" and result.verdict == "pass" and result.exit_code == 0


def test_a_significant_drop_beyond_the_allowance_fails_and_names_the_task(tmp_path: Path,
                                                                          capsys: pytest.CaptureFixture[str]) -> None:
    base = make_run(tmp_path / "a", {"arc-easy": [1.0] * 40 + [0.0] * 20, "gsm8k": [1.0] * 30 + [0.0] * 30})
    cand = make_run(tmp_path / "b", {"arc-easy": [1.0] * 25 + [0.0] * 35, "gsm8k": [1.0] * 30 + [0.0] * 30},
                    model__name="new-checkpoint", sampling__max_tokens=64)
    out = tmp_path / "out"
    code = main(["gate", "--baseline", str(base), "--candidate", str(cand), "--out", str(out)])
    printed = capsys.readouterr().out
    assert code == 1
    assert printed.startswith("## orcabench gate: REGRESSION in arc-easy")
    assert "| arc-easy | 60 | 66.67 | 41.67 | -25.00 |" in printed
    # 15 flips right -> wrong, none back: McNemar p = 2 / 2**15, Holm over 2 tasks doubles it.
    verdict = json.loads((out / "gate.json").read_text())
    arc = verdict["tasks"][0]
    assert verdict["verdict"] == "regression" and verdict["exit_code"] == 1
    assert arc["p_value"] == pytest.approx(2 / 2**15) and arc["p_adjusted"] == pytest.approx(4 / 2**15)
    assert arc["flipped_right_to_wrong"] == [str(i) for i in range(25, 40)]
    assert "`25`, `26`, `27`, `28`, `29` (and 10 more)" in (out / "gate.md").read_text()
    assert "model.name: smollm2-135m -> new-checkpoint" in " ".join(verdict["settings_differ"])
    suite = ET.parse(out / "gate.junit.xml").getroot().find("testsuite")
    assert suite is not None and suite.get("tests") == "2" and suite.get("failures") == "1"
    cases = {case.get("name"): case for case in suite.iter("testcase")}
    assert cases["arc-easy"].find("failure") is not None and cases["gsm8k"].find("failure") is None
    assert {case.get("classname") for case in cases.values()} == {"orcabench.gate"}  # CI dashboards group by it


def test_a_drop_within_its_allowance_passes_and_informational_tasks_never_gate(tmp_path: Path) -> None:
    base = make_run(tmp_path / "a", {"arc-easy": [1.0] * 40 + [0.0] * 20, "lambada": [1.0] * 40 + [0.0] * 20})
    cand = make_run(tmp_path / "b", {"arc-easy": [1.0] * 25 + [0.0] * 35, "lambada": [1.0] * 25 + [0.0] * 35})
    # 15 of 60 right -> wrong: the lower 95% bound is -35.1 points, inside a 40-point margin.
    config = policy_file(tmp_path, informational=["lambada"], tasks={"arc-easy": {"margin": 40}})
    result = compare_runs(base, cand, load_policy(config))
    assert [t.verdict for t in result.tasks] == ["pass", "info"] and result.exit_code == 0
    assert result.tasks[0].note == "non-inferior: lower bound -35.14 > -40 points"


def test_a_required_task_with_too_few_pairs_is_no_decision_and_exits_2(tmp_path: Path,
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    base = make_run(tmp_path / "a", {"gsm8k": [1.0] * 10})
    cand = make_run(tmp_path / "b", {"gsm8k": [0.0] * 10})
    assert main(["gate", "--baseline", str(base), "--candidate", str(cand)]) == 2  # default min_n is 30
    captured = capsys.readouterr()
    assert "NO DECISION" in captured.out
    assert captured.err.strip().endswith("required task(s) gsm8k have fewer paired samples than the policy's min_n: "
                                         "run more examples or lower min_n")


def test_samples_and_tasks_in_one_run_only_are_reported_not_paired(tmp_path: Path) -> None:
    base = make_run(tmp_path / "a", {"gsm8k": [1.0] * 40, "crass-ai": [1.0] * 5})
    cand = make_run(tmp_path / "b", {"gsm8k": [1.0] * 35}, ids={"gsm8k": [str(i) for i in range(5, 40)]})
    result = compare_runs(base, cand)
    (gsm8k,) = result.tasks
    assert gsm8k.stats.n == 35 and (gsm8k.only_baseline, gsm8k.only_candidate) == (5, 0)
    assert result.unpaired_tasks == {"crass-ai": "baseline only"}
    markdown = to_json(result)
    assert markdown["unpaired_tasks"] == {"crass-ai": "baseline only"}


@pytest.mark.parametrize(("change", "named"), [
    ({"tasks__gsm8k__templates": {"zeroshot.j2": "cc"}}, "task gsm8k: templates zeroshot.j2 aa vs cc"),
    ({"tasks__gsm8k__version": "2"}, "task gsm8k: version 1 vs 2"),
    ({"tasks__gsm8k__data": {"gsm8k/test.jsonl": "dd"}}, "task gsm8k: data gsm8k/test.jsonl bb vs dd"),
    ({"protocol": "orca2"}, "protocol: default vs orca2"),
])
def test_runs_with_other_templates_versions_data_or_protocol_are_refused_unless_allowed(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], change: dict[str, Any], named: str) -> None:
    base = make_run(tmp_path / "a", {"gsm8k": [1.0] * 30})
    cand = make_run(tmp_path / "b", {"gsm8k": [1.0] * 30}, **change)
    assert main(["gate", "--baseline", str(base), "--candidate", str(cand)]) == 2
    err = capsys.readouterr().err
    assert named in err and "--allow-mismatch" in err and len(err.strip().splitlines()) == 1
    assert main(["gate", "--baseline", str(base), "--candidate", str(cand), "--allow-mismatch",
                 "--config", str(policy_file(tmp_path, margin=20))]) == 0
    assert named in capsys.readouterr().out  # listed under "compared despite mismatches"


def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = make_run(tmp_path / "a", {"gsm8k": [1.0] * 30})
    cases = [
        (["gate", "--baseline", str(tmp_path / "nope"), "--candidate", str(base)], "nope does not exist; pass a run directory"),
        (["gate", "--baseline", str(base), "--candidate", str(base), "--config", str(tmp_path / "no.yaml")], "does not exist"),
        (["gate", "--baseline", str(base), "--candidate", str(base), "--config", str(policy_file(tmp_path, alpah=0.1))],
         "unknown key(s) alpah"),
        (["gate", "--baseline", str(base), "--candidate", str(base), "--config", str(policy_file(tmp_path, confidence=2))],
         "confidence must be between 0.5 and 0.999"),
        (["gate", "--baseline", str(base), "--candidate", str(base), "--config", str(policy_file(tmp_path, required=["bbh"]))],
         "required task(s) bbh not in both runs"),
        (["compare", str(base)], "Missing argument"),
    ]
    for argv, message in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err.strip()
        assert message in err and len(err.splitlines()) == 1, err


def test_a_run_still_being_written_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from orcabench.store.schema import Fingerprint
    from orcabench.store.writer import RunStore

    base = make_run(tmp_path / "a", {"gsm8k": [1.0] * 30})
    cand = make_run(tmp_path / "b", {"gsm8k": [1.0] * 30})
    fingerprint = Fingerprint.from_json(json.loads((cand / "manifest.json").read_text())["fingerprint"])
    store = RunStore(cand).open(fingerprint)  # as `orcabench run` does
    try:
        assert main(["gate", "--baseline", str(base), "--candidate", str(cand)]) == 2
        assert "is being written by an orcabench process" in capsys.readouterr().err
    finally:
        store.close()
    assert main(["gate", "--baseline", str(base), "--candidate", str(cand),
                 "--config", str(policy_file(tmp_path, margin=20))]) == 0


def test_unreadable_records_lines_are_reported_and_skipped(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = make_run(tmp_path / "a", {"gsm8k": [1.0] * 30})
    cand = make_run(tmp_path / "b", {"gsm8k": [1.0] * 30})
    with (cand / "records.jsonl").open("a") as handle:
        handle.write('{"task": "gsm8k", "id": "30", "sco\n')
    assert main(["gate", "--baseline", str(base), "--candidate", str(cand), "--out", str(tmp_path / "out"),
                 "--config", str(policy_file(tmp_path, margin=20))]) == 0
    captured = capsys.readouterr()
    assert f"{cand / 'records.jsonl'}:31: unreadable record" in captured.err
    assert json.loads((tmp_path / "out" / "gate.json").read_text())["problems"][0].startswith(f"{cand / 'records.jsonl'}:31:")


def test_compare_prints_the_paired_table_without_a_verdict(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = make_run(tmp_path / "a", {"gsm8k": [1.0] * 6 + [0.0] * 4})
    cand = make_run(tmp_path / "b", {"gsm8k": [1.0] * 3 + [0.0] * 7})
    assert main(["compare", str(base), str(cand)]) == 0
    out = capsys.readouterr().out
    assert "gsm8k" in out and "60.00" in out and "30.00" in out and "-30.00" in out and "0.25" in out
    assert "REGRESSION" not in out and "pass" not in out
    assert compare_runs(base, cand, gating=False).verdict is None


def test_policy_defaults_and_per_task_overrides() -> None:
    assert load_policy(None).for_task("gsm8k").required is True
    policy = load_policy(None).__class__(required=("gsm8k",), tasks={"bbh": {"margin": 3, "required": True}})
    assert policy.for_task("arc-easy").required is False and policy.for_task("bbh").margin == 3.0
    assert policy.named_required() == ["gsm8k", "bbh"]
    assert math.isclose(policy.for_task("gsm8k").margin, 1.0)


def test_the_workflow_file_is_valid_yaml_that_runs_the_gate_script() -> None:
    workflow = yaml.safe_load((REPO / "examples/ci/orcabench-gate.yml").read_text())
    steps = [step for job in workflow["jobs"].values() for step in job["steps"]]
    assert any("examples/ci/gate.sh" in step.get("run", "") for step in steps)
    assert any("GITHUB_STEP_SUMMARY" in step.get("run", "") for step in steps)
    assert os.access(REPO / "examples/ci/gate.sh", os.X_OK)
    example = load_policy(REPO / "examples/ci/gate.yaml")  # the example policy is one the gate accepts
    assert example.for_task("crass-ai").required is False and example.for_task("gsm8k").margin == 2.0


# --- real runs of the bundled model (slow) ----------------------------------------------

# The bundled 135M model is near chance on the benchmarks (it answers "(C)" to most
# multiple-choice questions), so no 8-sample drop on them can be significant. It does
# repeat a number reliably: this plugin task (found through ORCABENCH_TASKS_PATH, GSM8K's
# answers as data) gives the gate a task on which a real regression is detectable.
ECHO_TASK = '''
import re
from pathlib import Path

from orcabench.task.data import DataSpec
from orcabench.task import GenerativeTask, register
from orcabench.types import Example, Score


def parse_row(row, index):
    number = row["answer"].rsplit("#### ", 1)[1].replace(",", "").strip()
    return Example(id=str(index), fields={"number": number}, gold=number)


def judge(example, output):
    # Right when the number is among the output's numbers ("1. Repeat the number: 540" counts).
    numbers = re.findall(r"-?\\d+", output.replace(",", ""))
    if not numbers:
        return Score(answer=None, method="none", score=0.0)
    right = example.gold in numbers
    return Score(answer=example.gold if right else numbers[0], method="number-in-output", score=1.0 if right else 0.0)


register(GenerativeTask(name="echo-number", version="1", description="repeat a number (GSM8K answers)",
                        data=DataSpec(hub_path="openai/gsm8k", hub_name="main", hub_split="test",
                                      local_files=("gsm8k/test.jsonl",)),
                        template_dir=Path(__file__).parent, template="echo.j2", parse_row=parse_row,
                        judge=judge, max_tokens=16))
'''
REAL_RUN = ["--limit", "12", "--backend", "hf", "--batch-size", "4"]
# Twelve pairs, one gating task: 12 agreeing pairs show non-inferiority within 25 points (lower bound -18.4),
# 8 or more of 12 right -> wrong a drop beyond them (upper bound -26.3 or lower).
SMOKE_POLICY = {"margin": 25.0, "min_n": 8, "informational": ["crass-ai"]}


@pytest.fixture(scope="module")
def real(tmp_path_factory: pytest.TempPathFactory, smollm2_dir: Path) -> dict[str, Any]:
    """A baseline run of the bundled model, and a candidate run made by examples/ci/gate.sh
    from a model YAML file whose answers are cut to one token (--max-tokens 1)."""
    root = tmp_path_factory.mktemp("gate-real")
    (root / "tasks" / "echo").mkdir(parents=True)
    (root / "tasks" / "echo" / "task.py").write_text(ECHO_TASK)
    (root / "tasks" / "echo" / "echo.j2").write_text("Repeat this number and nothing else: {{ number }}\n")
    env = {**os.environ, "ORCABENCH_TASKS_PATH": str(root / "tasks")}
    baseline = root / "baseline"
    result = subprocess.run([sys.executable, "-m", "orcabench.cli", "run", "--model", "smollm2-135m", "--tasks",
                             "echo-number,crass-ai", "--max-tokens", "16", *REAL_RUN, "--output", str(baseline)],
                            env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr
    model_file = root / "my-model.yaml"
    model_file.write_text(yaml.safe_dump({"name": "my-checkpoint", "source": str(smollm2_dir), "prompt_format": "chat",
                                          "engine": {"dtype": "float32", "max_model_len": 4096}}))
    config = root / "gate.yaml"
    config.write_text(yaml.safe_dump(SMOKE_POLICY))
    script = subprocess.run(["bash", str(REPO / "examples/ci/gate.sh")], cwd=root, capture_output=True, text=True, timeout=900,
                            env={**env, "ORCABENCH": str(Path(sys.executable).parent / "orcabench"),
                                 "ORCABENCH_BASELINE": str(baseline), "ORCABENCH_MODEL": str(model_file),
                                 "ORCABENCH_CANDIDATE": str(root / "candidate"), "ORCABENCH_GATE_CONFIG": str(config),
                                 "ORCABENCH_RUN_ARGS": " ".join([*REAL_RUN, "--max-tokens", "1"]),
                                 "ORCABENCH_OUT": str(root / "report")})
    return {"root": root, "env": env, "baseline": baseline, "candidate": root / "candidate", "config": config, "script": script}


def real_gate(real: dict[str, Any], baseline: Path, candidate: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "orcabench.cli", "gate", "--baseline", str(baseline),
                           "--candidate", str(candidate),
                           "--config", str(real["config"])], env=real["env"], capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_gate_sh_runs_the_checkpoint_and_fails_the_gate_on_the_task_it_broke(real: dict[str, Any]) -> None:
    script = real["script"]
    assert script.returncode == 1, script.stdout + script.stderr
    assert "## orcabench gate: REGRESSION in echo-number\n" in script.stdout
    manifest = json.loads((real["candidate"] / "manifest.json").read_text())
    assert manifest["fingerprint"]["model"]["name"] == "my-checkpoint"  # the YAML model file was run
    assert set(manifest["fingerprint"]["tasks"]) == {"echo-number", "crass-ai"}  # the baseline's tasks
    verdict = json.loads((real["root"] / "report" / "gate.json").read_text())
    by_task = {t["task"]: t for t in verdict["tasks"]}
    assert by_task["echo-number"]["verdict"] == "regression" and by_task["crass-ai"]["verdict"] == "info"
    assert by_task["echo-number"]["n"] == 12 and by_task["echo-number"]["worse"] >= 8
    assert "sampling.max_tokens: 16 -> 1" in verdict["settings_differ"]
    suite = ET.parse(real["root"] / "report" / "gate.junit.xml").getroot().find("testsuite")
    assert suite is not None and suite.get("failures") == "1"


@pytest.mark.slow
def test_gate_on_real_runs_names_the_regressed_task_and_passes_a_run_against_itself(real: dict[str, Any]) -> None:
    worse = real_gate(real, real["baseline"], real["candidate"])
    assert worse.returncode == 1, worse.stdout + worse.stderr
    assert "REGRESSION in echo-number" in worse.stdout and "| crass-ai | 12 |" in worse.stdout
    same = real_gate(real, real["candidate"], real["candidate"])
    assert same.returncode == 0, same.stdout + same.stderr
    assert same.stdout.startswith("## orcabench gate: PASS")


@pytest.mark.slow
def test_a_real_run_whose_template_hash_differs_is_refused_as_incomparable(real: dict[str, Any], tmp_path: Path) -> None:
    # The same task with another template is another measurement: the gate will not pair it silently.
    broken = json.loads((real["baseline"] / "manifest.json").read_text())
    broken["fingerprint"]["tasks"]["echo-number"]["templates"]["echo.j2"] = "0" * 64
    shutil.copytree(real["baseline"], tmp_path / "broken")
    (tmp_path / "broken" / "manifest.json").write_text(json.dumps(broken))
    refused = real_gate(real, real["baseline"], tmp_path / "broken")
    assert refused.returncode == 2 and "task echo-number: templates echo.j2" in refused.stderr
