"""Bad input ends as one clear line on stderr and exit code 2 — never a traceback."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from conftest import orcabench

from orcabench.store.schema import Fingerprint, Manifest
from orcabench.store.writer import RunStore


def assert_one_line_error(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    for fragment in fragments:
        assert fragment in lines[0]


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["run", "--model", "no-such-model"], ["unknown model 'no-such-model'", "smollm2-135m", "orcabench list models"]),
        (["run", "--tasks", "gsm8k,nope"], ["unknown task nope", "gsm8k"]),
        (["run", "--backend", "tpu"], ["unknown backend 'tpu'", "vllm, hf"]),
        (["run", "--limit", "0"], ["--limit must be a positive number"]),
        (["run", "--limit", "many"], ["Invalid value for '--limit'", "orcabench run --help"]),
        (["run", "--no-such-flag"], ["No such option: --no-such-flag"]),
        (["run", "--engine-arg", "enforce_eager"], ["--engine-arg 'enforce_eager': write KEY=VALUE"]),
        (["run", "--data-dir", "/nonexistent/mirror"], ["data directory /nonexistent/mirror does not exist"]),
        (["run", "--max-tokens", "-5"], ["--max-tokens must be positive"]),
        (["frobnicate"], ["No such command 'frobnicate'"]),
        (["run", "--model", "gpt-4", "--backend", "vllm"], ["gpt-4 is served through an API: use --backend openai"]),
        (["run", "--protocol", "helm"], ["unknown protocol 'helm': choose one of default, orca2"]),
        (["run", "--model", "orca2-13b", "--tasks", "gsm8k-cot", "--dry-run"], ["protocol orca2", "gsm8k-cot"]),
        (["run", "--model", "nothere.yaml"], ["model file nothere.yaml does not exist"]),
        # Engine settings are checked before anything loads, --dry-run included, and a flag never silently beats an
        # --engine-arg of the same setting.
        (["run", "--batch-size", "0", "--dry-run"], ["--batch-size must be a positive number of sequences, not 0"]),
        (["run", "--tensor-parallel-size", "-2", "--dry-run"], ["--tensor-parallel-size must be a positive whole number"]),
        (["run", "--gpu-memory-utilization", "5", "--dry-run"], ["--gpu-memory-utilization", "in (0, 1], not 5.0"]),
        (["run", "--dtype", "banana", "--dry-run"], ["--dtype 'banana' is not a dtype", "bfloat16"]),
        (["run", "--engine-arg", "dtype=banana", "--dry-run"], ["--dtype 'banana' is not a dtype"]),
        (["run", "--dtype", "float32", "--engine-arg", "dtype=bfloat16", "--dry-run"],
         ["--dtype float32 and --engine-arg dtype=bfloat16 disagree"]),
        (["serve", "--dtype", "float32", "--engine-arg", "dtype=bfloat16"],
         ["--dtype float32 and --engine-arg dtype=bfloat16 disagree"]),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args: list[str], fragments: list[str]) -> None:
    assert_one_line_error(orcabench(*args), *fragments)


def test_a_mirror_without_the_task_file_names_the_missing_file(tmp_path: Path) -> None:
    result = orcabench("run", "--tasks", "gsm8k", "--data-dir", str(tmp_path))
    assert_one_line_error(result, f"{tmp_path}/gsm8k/test.jsonl does not exist", "--data-dir", "openai/gsm8k")


def test_a_run_directory_in_use_is_refused(tmp_path: Path, smollm2_dir: Path) -> None:
    held = RunStore(tmp_path / "run").open(Fingerprint.from_json({"protocol": "anything"}))
    try:
        result = orcabench("run", "--limit", "1", "--output", str(tmp_path / "run"))
    finally:
        held.close()
    assert_one_line_error(result, "in use by another orcabench process")


def test_a_run_directory_made_with_other_settings_is_refused(tmp_path: Path, smollm2_dir: Path) -> None:
    fingerprint = Fingerprint.from_json({"backend": "hf"})
    store = RunStore(tmp_path / "run").open(fingerprint)
    store.write_manifest(Manifest.new(fingerprint, "/models/m", {}))
    store.close()
    result = orcabench("run", "--limit", "1", "--output", str(tmp_path / "run"))
    assert_one_line_error(result, "was made with other settings", "choose a new --output")


FIXTURE_RUN = Path(__file__).parent / "fixtures" / "run-v1-gsm8k"


@pytest.mark.parametrize("command", [["report"], ["audit"], ["rescore"], ["runs"], ["gate", "--candidate", str(FIXTURE_RUN),
                                                                                    "--baseline"]])
@pytest.mark.parametrize(("given", "expected"), [
    (FIXTURE_RUN / "records.jsonl", f"is a file of the run {FIXTURE_RUN}; pass the run's folder, {FIXTURE_RUN}"),
    (FIXTURE_RUN / "manifest.json", f"is a file of the run {FIXTURE_RUN}; pass the run's folder"),
    (Path(__file__), "is a file, not an orcabench run"),
    (Path("/nonexistent/run"), "does not exist"),
])
def test_a_path_that_is_not_a_run_says_what_it_is(command: list[str], given: Path, expected: str) -> None:
    assert_one_line_error(orcabench(*command, str(given)), f"{given} {expected}")


def test_a_folder_without_a_manifest_is_not_called_missing(tmp_path: Path) -> None:
    result = orcabench("audit", str(tmp_path))
    assert_one_line_error(result, f"{tmp_path} is not an orcabench run (no manifest.json in it)")


def test_a_dry_run_on_a_run_made_with_other_settings_is_refused_as_the_run_would_be(
        tmp_path: Path, smollm2_dir: Path) -> None:
    fingerprint = Fingerprint.from_json({"backend": "hf"})
    store = RunStore(tmp_path / "run").open(fingerprint)
    store.write_manifest(Manifest.new(fingerprint, "/models/m", {}))
    store.close()
    result = orcabench("run", "--limit", "1", "--output", str(tmp_path / "run"), "--dry-run")
    assert_one_line_error(result, "was made with other settings", "choose a new --output")


def test_a_hub_id_neither_cached_nor_reachable_is_one_line_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    # A closed loopback port stands in for an unreachable Hub, the same with or without a network.
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    result = orcabench("run", "--model", "no-such-org/no-such-model", "--tasks", "gsm8k", "--limit", "1", "--dry-run")
    assert_one_line_error(result, "model no-such-org/no-such-model is not a local folder nor in the Hugging Face cache",
                          "http://127.0.0.1:9 cannot be reached", "pass a local model folder")


def test_list_shows_the_tasks_and_models() -> None:
    tasks = orcabench("list", "tasks")
    assert tasks.returncode == 0 and "gsm8k" in tasks.stdout and "gsm8k-cot" in tasks.stdout
    models = orcabench("list", "models")
    assert models.returncode == 0 and "smollm2-135m" in models.stdout and "gemma3-270m" in models.stdout
