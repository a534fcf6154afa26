"""lm-evaluation-harness interop: lm-eval: tasks through `orcabench run`, `orcabench import lm-eval`.

The fast tests use hand-written lm-eval output in lm-eval's own file format; the slow
ones run lm-eval for real on local data (arc_easy, 20 samples) and gate the results.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import ENGINE, orcabench

from orcabench.cli.run import main
from orcabench.lmeval.bridge import INSTALL_HINT, lm_eval_names
from orcabench.lmeval.records import import_output
from orcabench.store.writer import read_records
from orcabench.types import OrcabenchError

GATE_POLICY = "min_n: 10\nrule: lenient\n"  # 20 samples: below the default min_n of 30; too few to show non-inferiority


# --- no model -------------------------------------------------------------------------------


def test_task_names_take_the_prefix_and_refuse_mixing() -> None:
    assert lm_eval_names(["gsm8k", "bbh"]) == []
    assert lm_eval_names(["lm-eval:arc_easy", "lm-eval:mmlu", "lm-eval:arc_easy"]) == ["arc_easy", "mmlu"]
    with pytest.raises(OrcabenchError, match="not both.*gsm8k"):
        lm_eval_names(["lm-eval:arc_easy", "gsm8k"])
    with pytest.raises(OrcabenchError, match="lm-eval:<task>"):
        lm_eval_names(["lm-eval:"])


def test_without_lm_eval_the_prefix_gives_an_install_hint(monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(sys.modules, "lm_eval", None)  # `import lm_eval` now raises ImportError
    assert main(["run", "--tasks", "lm-eval:arc_easy", "--limit", "2"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"error: {INSTALL_HINT}"
    assert len(err.splitlines()) == 1


def test_mixed_tasks_and_stray_include_are_refused(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["run", "--tasks", "lm-eval:arc_easy,gsm8k", "--dry-run"]) == 2
    assert "not both" in capsys.readouterr().err
    assert main(["run", "--tasks", "gsm8k", "--lm-eval-include", str(tmp_path), "--dry-run"]) == 2
    assert "--lm-eval-include applies to lm-eval" in capsys.readouterr().err


def test_local_configs_read_the_mirror_offline(monkeypatch: pytest.MonkeyPatch, data_dir: Path, tmp_path: Path) -> None:
    pytest.importorskip("lm_eval")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    from lm_eval.tasks import TaskManager

    from orcabench.lmeval.tasks import write_local_tasks

    written = write_local_tasks(data_dir, tmp_path)
    assert {"arc_easy", "arc_challenge", "gsm8k", "mmlu", "orcabench_gsm8k", "orcabench_mmlu_ll"} <= set(written)
    manager = TaskManager(include_path=str(tmp_path), include_defaults=False)
    arc = manager.load(["arc_easy"])["tasks"]["arc_easy"]
    doc = arc.eval_docs[0]
    assert len(arc.eval_docs) == 2376
    assert arc.doc_to_text(doc) == ("Question: Which statement best explains why photosynthesis is the foundation of most food "
                                    "webs?\nAnswer:")  # upstream's prompt, from the re-formatted rows
    assert arc.doc_to_target(doc) == 0
    gsm8k = manager.load(["gsm8k"])["tasks"]["gsm8k"]
    assert len(gsm8k.eval_docs) == 1319 and gsm8k.get_config("num_fewshot") == 5  # upstream's 5-shot, from the staged train split
    mmlu = manager.load(["mmlu"])
    assert len(mmlu["tasks"]) == 57 and "mmlu_stem" in mmlu["groups"]
    assert sum(len(t.eval_docs) for t in mmlu["tasks"].values()) == 14042
    algebra = mmlu["tasks"]["mmlu_abstract_algebra"]
    assert algebra.doc_to_text(algebra.eval_docs[0]).endswith("\nA. 0\nB. 4\nC. 2\nD. 6\nAnswer:")


# --- lm-eval output files, hand-written in lm-eval's format ------------------------------------


def _write_output(folder: Path, stamp: str = "2026-01-01T00-00-00.000000") -> Path:
    """A group of one multiple-choice task, and one generative task with two filters."""
    model_dir = folder / "__models__tiny"
    model_dir.mkdir(parents=True)
    mc_config = {"task": "quiz_a", "dataset_path": "json", "output_type": "multiple_choice", "doc_to_text": "{{q}}\nAnswer:",
                 "doc_to_choice": ["A", "B"], "metric_list": [{"metric": "acc"}], "metadata": {"version": 2.0}}
    gen_config = {"task": "sums", "dataset_path": "json", "output_type": "generate_until", "doc_to_text": "{{q}}",
                  "filter_list": [{"name": "strict", "filter": []}, {"name": "loose", "filter": []}],
                  "metric_list": [{"metric": "exact_match"}], "metadata": {"version": 1.0}}
    results = {"results": {}, "group_subtasks": {"quiz": ["quiz_a"]}, "configs": {"quiz_a": mc_config, "sums": gen_config},
               "config": {"model": "hf", "model_args": "pretrained=org/tiny,dtype=float32", "fewshot_seed": 1234},
               "model_name": "org/tiny", "lm_eval_version": "0.4.13"}
    (model_dir / f"results_{stamp}.json").write_text(json.dumps(results))
    mc = [{"doc_id": i, "doc": {}, "target": str(gold), "filter": "none", "metrics": ["acc"], "acc": float(pick == gold),
           "arguments": {f"gen_args_{k}": {"arg_0": f"Q{i}\nAnswer:", "arg_1": f" {c}"} for k, c in enumerate("AB")},
           "resps": [[[str(lp), "False"]] for lp in lps], "filtered_resps": [[str(lp), "False"] for lp in lps]}
          for i, (gold, pick, lps) in enumerate([(0, 0, [-1.0, -2.0]), (1, 0, [-0.5, -3.0])])]
    gen = [{"doc_id": i, "doc": {}, "target": target, "filter": name, "metrics": ["exact_match"],
            "exact_match": float(answer == target), "arguments": {"gen_args_0": {"arg_0": f"sum {i}", "arg_1": {"until": []}}},
            "resps": [[text]], "filtered_resps": [answer]}
           for i, (target, text, strict, loose) in enumerate([("4", "#### 4", "4", "4"), ("7", "seven", "[invalid]", "7")])
           for name, answer in (("strict", strict), ("loose", loose))]
    for task, rows in (("quiz_a", mc), ("sums", gen)):
        (model_dir / f"samples_{task}_{stamp}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return model_dir


def test_import_converts_lm_eval_output(tmp_path: Path) -> None:
    _write_output(tmp_path / "out")
    imported = import_output(tmp_path / "out", tmp_path / "run")
    assert imported.added == 4
    records, problems = read_records(tmp_path / "run" / "records.jsonl")
    assert not problems
    quiz = records[("lm-eval:quiz", "quiz_a/1")]
    assert (quiz.subtask, quiz.output, quiz.answer, quiz.gold, quiz.score, quiz.logprob) == ("quiz_a", " A", "A", "B", 0.0, -0.5)
    assert quiz.extra["logprobs"] == [-0.5, -3.0] and quiz.prompt == "Q1\nAnswer:"
    sums = records[("lm-eval:sums", "1")]  # the first filter answers; the others are kept
    assert (sums.subtask, sums.output, sums.answer, sums.method, sums.score) == (None, "seven", None, "none", 0.0)
    assert sums.extra["other_filters"]["loose"]["answer"] == "7"
    assert records[("lm-eval:sums", "0")].method == "lm-eval:strict"
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["fingerprint"]["protocol"] == "lm-eval" and manifest["fingerprint"]["backend"] == "hf"
    assert manifest["fingerprint"]["tasks"]["lm-eval:quiz"]["version"] == {"quiz_a": "2.0"}
    assert [s.task for s in imported.summaries] == ["lm-eval:quiz", "lm-eval:sums"]
    assert import_output(tmp_path / "out", tmp_path / "run").added == 0  # importing again adds nothing


def test_import_names_what_is_missing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["import", "lm-eval", str(tmp_path)]) == 2
    assert "no lm-eval results_*.json" in capsys.readouterr().err
    model_dir = _write_output(tmp_path / "out")
    next(model_dir.glob("samples_sums_*")).unlink()
    assert main(["import", "lm-eval", str(tmp_path / "out"), "--output", str(tmp_path / "run")]) == 2
    assert "--log_samples" in capsys.readouterr().err
    _write_output(tmp_path / "out2", stamp="a")
    _write_output(tmp_path / "out2" / "again", stamp="b")
    with pytest.raises(OrcabenchError, match="holds 2 lm-eval results files"):
        import_output(tmp_path / "out2")


# --- real runs: SmolLM2-135M on the staged ARC-Easy -------------------------------------------


def _run_args(backend: str, data_dir: Path, run_dir: Path) -> list[str]:
    return ["run", "--model", "smollm2-135m", "--tasks", "lm-eval:arc_easy", "--limit", "20", "--backend", backend,
            "--data-dir", str(data_dir), "--max-model-len", str(ENGINE["max_model_len"]), "--output", str(run_dir)]


@pytest.fixture(scope="module")
def hf_run(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Path:
    pytest.importorskip("lm_eval")
    run_dir = tmp_path_factory.mktemp("lm-eval-hf") / "arc-hf"
    code = main(_run_args("hf", data_dir, run_dir))
    assert code == 0
    return run_dir


@pytest.mark.slow
def test_lm_eval_task_runs_resumes_and_gates(hf_run: Path, tmp_path: Path, data_dir: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    records, problems = read_records(hf_run / "records.jsonl")
    assert not problems and len(records) == 20
    assert {task for task, _ in records} == {"lm-eval:arc_easy"}
    first = records[("lm-eval:arc_easy", "0")]
    assert first.prompt.endswith("<|im_start|>user\nQuestion: Which statement best explains why photosynthesis is the "
                                 "foundation of most food webs?\nAnswer:<|im_end|>\n<|im_start|>assistant\n")
    assert first.method == "loglikelihood-argmax" and len(first.extra["logprobs"]) == 4
    assert list((hf_run / "lm-eval").rglob("samples_arc_easy_*.jsonl"))  # lm-eval's own output is kept
    manifest = json.loads((hf_run / "manifest.json").read_text())
    assert manifest["fingerprint"]["protocol"] == "lm-eval" and manifest["fingerprint"]["engine"]["dtype"] == "float32"

    capsys.readouterr()
    code = main(_run_args("hf", data_dir, hf_run))  # the same command again: nothing to compute
    assert code == 0 and "0 model call(s)" in capsys.readouterr().out
    assert len(read_records(hf_run / "records.jsonl")[0]) == 20

    policy = tmp_path / "gate.yaml"
    policy.write_text(GATE_POLICY)
    assert main(["gate", "--baseline", str(hf_run), "--candidate", str(hf_run), "--config", str(policy)]) == 0


@pytest.mark.slow
def test_report_accepts_an_lm_eval_run(hf_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", str(hf_run), "--out", str(tmp_path / "report"), "--no-reference"]) == 0
    assert "lm-eval:arc_easy" in capsys.readouterr().out


@pytest.mark.slow
def test_import_of_lm_eval_output_gates_against_the_run(hf_run: Path, hf_backend: Any, data_dir: Path, tmp_path: Path) -> None:
    """lm-eval run by itself (simple_evaluate, --log_samples' files), imported: the same task, the same answers."""
    import lm_eval
    from lm_eval.loggers import EvaluationTracker
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager

    from orcabench.lmeval.tasks import write_local_tasks

    write_local_tasks(data_dir, tmp_path / "tasks")
    lm = HFLM(pretrained=hf_backend.model, tokenizer=hf_backend.tokenizer, batch_size=16, max_length=ENGINE["max_model_len"])
    tracker = EvaluationTracker(output_path=str(tmp_path / "out"))
    results = lm_eval.simple_evaluate(model=lm, model_args={"pretrained": "smollm2-135m"}, tasks=["arc_easy"], limit=20,
                                      task_manager=TaskManager(include_path=str(tmp_path / "tasks"), include_defaults=False),
                                      apply_chat_template=True,
                                      log_samples=True, evaluation_tracker=tracker)
    samples = results.pop("samples")
    tracker.save_results_aggregated(results=results, samples=samples)
    tracker.save_results_samples(task_name="arc_easy", samples=samples["arc_easy"])

    assert main(["import", "lm-eval", str(tmp_path / "out"), "--output", str(tmp_path / "imported")]) == 0
    ours, _ = read_records(hf_run / "records.jsonl")
    theirs, _ = read_records(tmp_path / "imported" / "records.jsonl")
    assert ours.keys() == theirs.keys()
    assert [ours[k].answer for k in ours] == [theirs[k].answer for k in ours]
    imported = json.loads((tmp_path / "imported" / "manifest.json").read_text())["fingerprint"]
    assert imported["tasks"] == json.loads((hf_run / "manifest.json").read_text())["fingerprint"]["tasks"]
    policy = tmp_path / "gate.yaml"
    policy.write_text(GATE_POLICY)
    assert main(["gate", "--baseline", str(hf_run), "--candidate", str(tmp_path / "imported"), "--config", str(policy)]) == 0


@pytest.mark.slow
@pytest.mark.vllm
def test_vllm_backend_run_gates_against_the_hf_run(hf_run: Path, data_dir: Path, tmp_path: Path) -> None:
    pytest.importorskip("vllm")
    # Its own process: lm-eval's in-process vLLM engine would, on shutdown, tear down the
    # parallel state that vLLM keeps per process, and with it the session's shared engine.
    vllm_run = tmp_path / "arc-vllm"
    result = orcabench(*_run_args("vllm", data_dir, vllm_run))
    assert result.returncode == 0, result.stderr
    hf_records, _ = read_records(hf_run / "records.jsonl")
    vllm_records, _ = read_records(vllm_run / "records.jsonl")
    same = sum(hf_records[k].answer == vllm_records[k].answer for k in hf_records)
    assert same >= 19, f"hf and vllm agree on {same}/20 ARC-Easy answers"
    policy = tmp_path / "gate.yaml"
    policy.write_text(GATE_POLICY)
    assert main(["gate", "--baseline", str(hf_run), "--candidate", str(vllm_run), "--config", str(policy)]) == 0
