"""`orcabench run` end to end on the real default model, as a user runs it.

A run writes a manifest and scored records with real outputs; the same command again
makes zero model calls; a run killed with SIGKILL resumes to exactly the records of an
uninterrupted run.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
from conftest import kill_after_records, orcabench

from orcabench.answers.text import RULES
from orcabench.store.writer import read_records

pytestmark = pytest.mark.slow

# Small but real: 6 GSM8K questions, 64 new tokens each, batches of 2 on the hf backend.
RUN = ["run", "--model", "smollm2-135m", "--tasks", "gsm8k", "--limit", "6", "--max-tokens", "64"]


def records_of(run_dir: Path) -> dict[tuple[str, str], dict]:
    records, problems = read_records(run_dir / "records.jsonl")
    assert problems == []
    return {key: record.to_json() for key, record in records.items()}


@pytest.fixture(scope="module")
def hf_run(tmp_path_factory: pytest.TempPathFactory, smollm2_dir: Path) -> Path:
    run_dir = tmp_path_factory.mktemp("runs") / "hf"
    result = orcabench(*RUN, "--backend", "hf", "--batch-size", "2", "--output", str(run_dir))
    assert result.returncode == 0, result.stderr
    assert "6 model call(s) this time" in result.stdout
    return run_dir


def test_a_run_directory_holds_a_manifest_and_real_scored_outputs(hf_run: Path, data_dir: Path) -> None:
    manifest = json.loads((hf_run / "manifest.json").read_text())
    fingerprint = manifest["fingerprint"]
    assert manifest["schema_version"] == 1
    assert manifest["orcabench"]["version"]
    assert len(fingerprint["model"]["weights"]["gguf_sha256"]) == 64
    assert fingerprint["backend"] == "hf" and fingerprint["engine"]["dtype"] == "float32"
    assert fingerprint["sampling"] == {"temperature": 0.0, "max_tokens": 64, "seed": 1234}
    gsm8k = fingerprint["tasks"]["gsm8k"]
    assert gsm8k["version"] == "1" and set(gsm8k["templates"]) == {"zeroshot.j2"}
    manifest_data = json.loads((data_dir / "manifest.json").read_text())
    assert gsm8k["data"] == {"gsm8k/test.jsonl": manifest_data["files"]["gsm8k/test.jsonl"]["sha256"]}
    session = manifest["sessions"][0]
    assert session["backend"]["backend"] == "hf" and session["seconds"] > 0 and session["pending"] == 6
    threads = session["backend"]["threads"]  # orcabench.threads: how many, why, and OpenMP's wait policy
    assert threads["count"] >= 1 and threads["reason"] in ("rule", "OMP_NUM_THREADS")
    # The CLI makes a fixed count wait passively before torch loads; the rule's count keeps OpenMP's default and a governor.
    fixed = bool(os.environ.get("OMP_NUM_THREADS"))
    assert threads["omp_wait_policy"] == os.environ.get("OMP_WAIT_POLICY", "PASSIVE" if fixed else None)
    assert fixed or threads["adjusted"]["checks"] >= 1
    assert len(session["chat_template_sha256"]) == 64  # SmolLM2's own tokenizer template, as used
    assert {"hostname", "platform", "python"} <= set(manifest["host"])

    records = records_of(hf_run)
    assert sorted(int(sample_id) for _, sample_id in records) == list(range(6))
    rows = [json.loads(line) for line in (data_dir / "gsm8k/test.jsonl").read_text().splitlines()[:6]]
    questions = [row["question"] for row in rows]
    for (_, sample_id), record in records.items():
        # The question went through SmolLM2's ChatML template, unchanged.
        assert record["prompt"].endswith(f"<|im_start|>user\n{questions[int(sample_id)]}<|im_end|>\n<|im_start|>assistant\n")
        assert len(record["output"].strip()) > 20 and 0 < record["output_tokens"] <= 64
        assert record["score"] in (0.0, 1.0) and record["method"] in RULES  # a rule the number extractor names
        assert record["gold"] == rows[int(sample_id)]["answer"].rsplit("#### ", 1)[1].replace(",", "")


def test_the_same_command_again_makes_zero_model_calls(hf_run: Path) -> None:
    before = (hf_run / "records.jsonl").read_bytes()
    result = orcabench(*RUN, "--backend", "hf", "--batch-size", "2", "--output", str(hf_run))
    assert result.returncode == 0, result.stderr
    assert "0 model call(s) this time" in result.stdout
    assert (hf_run / "records.jsonl").read_bytes() == before
    last_session = json.loads((hf_run / "manifest.json").read_text())["sessions"][-1]
    assert last_session["pending"] == 0 and "backend" not in last_session  # the engine never started


def test_a_run_killed_halfway_resumes_to_exactly_the_uninterrupted_records(hf_run: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "killed"
    command = [sys.executable, "-m", "orcabench.cli", *RUN, "--backend", "hf", "--batch-size", "2", "--output", str(run_dir)]
    records_file = run_dir / "records.jsonl"
    finished_before_kill = kill_after_records(command, records_file, at_least=2)
    assert 2 <= finished_before_kill < 6

    result = orcabench(*RUN, "--backend", "hf", "--batch-size", "2", "--output", str(run_dir))
    assert result.returncode == 0, result.stderr
    assert f"{6 - finished_before_kill} model call(s) this time" in result.stdout
    lines = records_file.read_text().splitlines()
    assert len(lines) == 6, "exactly one record per sample"
    assert records_of(run_dir) == records_of(hf_run)


def test_the_vllm_backend_runs_the_same_command_with_the_same_answers(hf_run: Path, tmp_path: Path) -> None:
    result = orcabench(*RUN, "--backend", "vllm", "--output", str(tmp_path / "vllm"))
    assert result.returncode == 0, result.stderr
    vllm_records, hf_records = records_of(tmp_path / "vllm"), records_of(hf_run)
    assert vllm_records.keys() == hf_records.keys()
    same = [key for key in hf_records if vllm_records[key]["answer"] == hf_records[key]["answer"]]
    assert len(same) >= 5, {key: (hf_records[key]["output"], vllm_records[key]["output"]) for key in hf_records}
    manifest = json.loads((tmp_path / "vllm" / "manifest.json").read_text())
    assert manifest["sessions"][0]["backend"]["engine"]["enable_prefix_caching"] is True


def test_a_local_model_folder_runs_like_a_registry_name(smollm2_dir: Path, tmp_path: Path) -> None:
    result = orcabench("run", "--model", str(smollm2_dir), "--tasks", "gsm8k", "--limit", "2", "--max-tokens", "16",
                       "--backend", "hf", "--output", str(tmp_path / "local"))
    assert result.returncode == 0, result.stderr
    fingerprint = json.loads((tmp_path / "local" / "manifest.json").read_text())["fingerprint"]
    assert fingerprint["model"]["source"] == str(smollm2_dir) and fingerprint["model"]["prompt_format"] == "chat"
    assert len(records_of(tmp_path / "local")) == 2
