"""The bench scripts keep working: bench/harness_overhead.py sends a small slice through render, extract,
score and store, and the run it writes holds one parsed, correct record per example;
bench/hf_batching.py --check runs both of the hf backend's batchings end to end; bench/gpu_check.py runs end to
end on CPU with its tiny Llama and prints its one-line result.

No timing is asserted (timings belong to docs/performance.md, not to CI). Marked slow like
the other tests that need smollm2-135m's converted folder: its tokenizer renders the prompts.
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

from orcabench.store.writer import read_records

BENCH = Path(__file__).resolve().parents[1] / "bench" / "harness_overhead.py"


def _bench_module():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("harness_overhead", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_harness_benchmark_stores_one_scored_record_per_example(tmp_path: Path, data_dir: Path, smollm2_dir: Path) -> None:
    bench = _bench_module()
    mirror = tmp_path / "mirror"  # two tasks' data staged, arc-easy's not
    mirror.mkdir()
    for name in ("gsm8k", "mmlu"):
        (mirror / name).symlink_to(data_dir / name)
    run_dir = tmp_path / "run"
    m = bench.measure(mirror, run_dir, tasks=["gsm8k", "mmlu", "arc-easy"], limit=20, group_size=7)

    assert m.tasks == {"gsm8k": 20, "mmlu": 20} and m.skipped == ["arc-easy"]
    records, problems = read_records(run_dir / "records.jsonl")
    assert problems == []
    assert {task: sum(1 for t, _ in records if t == task) for task in ("gsm8k", "mmlu", "arc-easy")} == {**m.tasks, "arc-easy": 0}
    assert all(r.parsed and r.score == 1.0 and r.prompt.startswith("<|im_start|>") for r in records.values())
    assert m.records == m.parsed == m.correct == m.summarized == 40
    assert m.appends == 6  # 40 requests in groups of 7, one fsync'd append each
    assert set(m.seconds) == {*bench.SETUP_STAGES, *bench.HARNESS_STAGES}
    assert "skipped (data not staged in" in bench.report(m, mirror)


GPU_CHECK = Path(__file__).resolve().parents[1] / "bench" / "gpu_check.py"
GPU_CHECK_RESULT = re.compile(r"RESULT cpu \(\d+ s\): tiny: orcabench [\d.]+ tok/s, raw [\d.]+ tok/s, ratio [\d.]+, "
                              r"peak n/a, roofline n/a, identical [0-4]/4")


@pytest.mark.slow
def test_the_gpu_check_runs_end_to_end_on_cpu_with_a_tiny_llama(smollm2_dir: Path) -> None:
    # The same script that measures Llama-2 7B and 13B shapes on a GPU: random weights built in
    # the process, saved with smollm2-135m's tokenizer, `orcabench run --backend hf` against raw
    # generate on the same prompts. On CPU there is no GPU memory and no bandwidth to compare with.
    result = subprocess.run([sys.executable, str(GPU_CHECK), "--tiny", "--device", "cpu"], capture_output=True, text=True,
                            timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    last = result.stdout.strip().splitlines()[-1]
    assert GPU_CHECK_RESULT.fullmatch(last), last


@pytest.mark.slow
def test_hf_batching_benchmark_runs_both_sides_and_prints_their_ratio(data_dir: Path, smollm2_dir: Path) -> None:
    script = BENCH.parent / "hf_batching.py"
    result = subprocess.run([sys.executable, str(script), "--check", "--data-dir", str(data_dir)],
                            capture_output=True, text=True, check=False, timeout=900)
    assert result.returncode == 0, result.stderr[-2000:]
    rows = [line for line in result.stdout.splitlines() if line.startswith("| 0 |")]
    assert [row.split(" | ")[1:3] for row in rows] == [["static", "static"], ["continuous", "continuous"]]
    assert all(row.endswith("| 2/2 |") for row in rows)  # 8 greedy tokens: the same text either way
    assert "ratio static / continuous, wall (engine start included): median" in result.stdout
