"""The run store under faults: killed processes, torn and corrupt records lines.

A run killed with SIGKILL at any point and re-run ends with exactly the records of an
uninterrupted run, each sample once; a records file with a truncated last line and a
corrupt middle line keeps every readable record, and the two damaged samples are
recomputed once on resume.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from orcabench.store.writer import RunStore, read_records
from store_samples import FINGERPRINT, record  # tests/store_samples.py


def line(sample_id: str) -> str:
    return json.dumps(record(sample_id).to_json()) + "\n"


def test_a_truncated_last_line_and_a_corrupt_middle_line_are_recovered_on_resume(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    path = run / "records.jsonl"
    # Record 1 was damaged in place (bit rot, a bad copy); record 3 was being written when the process died.
    path.write_text(line("0") + '{"task": "gsm8k", "id": "1", "out\x00\x00\n' + line("2") + line("3")[:40])

    records, problems = read_records(path)  # what `orcabench gate` sees: the rest is usable, each problem located
    assert list(records) == [("gsm8k", "0"), ("gsm8k", "2")]
    assert problems[0].startswith(f"{path}:2: unreadable record") and problems[1] == f"{path}:4: truncated last line"

    store = RunStore(run).open(FINGERPRINT)  # what a resumed `orcabench run` does before asking for pending samples
    done = store.records()
    assert set(done) == {("gsm8k", "0"), ("gsm8k", "2")}  # 1 and 3 are pending again
    store.append([record("1"), record("3")])
    store.close()

    assert path.read_text() == line("0") + line("2") + line("1") + line("3")  # each sample once, nothing rewritten
    assert read_records(path) == ({("gsm8k", i): record(i) for i in "0213"}, [])
    (aside,) = run.glob("records.*.unreadable.jsonl")  # the damaged original is kept for inspection
    assert '"id": "1", "out' in aside.read_text()


def test_a_line_that_is_json_but_not_a_record_is_unreadable(tmp_path: Path) -> None:
    path = tmp_path / "records.jsonl"
    bad_score = {**record("1").to_json(), "score": "1.0"}
    int_id = {**record("2").to_json(), "id": 2}
    path.write_text(line("0") + "[1, 2]\n" + json.dumps(bad_score) + "\n" + json.dumps(int_id) + "\n" + '{"task": "gsm8k"}\n')
    records, problems = read_records(path)
    assert list(records) == [("gsm8k", "0")]
    assert [p.split(": ", 1)[0] for p in problems] == [f"{path}:{n}" for n in (2, 3, 4, 5)]
    assert "score must be a finite number" in problems[1] and "task and id must be strings" in problems[2]


def test_leftovers_of_an_interrupted_atomic_write_are_removed_on_open(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / ".manifest.json.abc123").write_text("{")  # killed between writing the temp file and renaming it
    (run / ".records.xyz").write_text("")
    RunStore(run).open(FINGERPRINT).close()
    assert sorted(p.name for p in run.iterdir()) == [".lock"]


# --- SIGKILL at random points of a real run (slow) --------------------------------------

# 8 GSM8K questions in batches of 2 on the hf backend: records land in 4 groups (8 new tokens each: cheap, still real).
RUN = ["run", "--model", "smollm2-135m", "--tasks", "gsm8k", "--limit", "8", "--max-tokens", "8", "--backend", "hf",
       "--batch-size", "2"]
KILLS = 10


def orcabench(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "orcabench.cli", *args], capture_output=True, text=True, timeout=900)


def lines_in(path: Path) -> int:
    return path.read_bytes().count(b"\n") if path.is_file() else 0


@pytest.mark.slow
def test_sigkill_at_ten_random_points_then_resume_gives_the_uninterrupted_records(tmp_path: Path, smollm2_dir: Path) -> None:
    reference = tmp_path / "reference"
    started = time.monotonic()
    result = orcabench(*RUN, "--output", str(reference))
    full_run_seconds = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    expected, problems = read_records(reference / "records.jsonl")
    assert problems == [] and len(expected) == 8

    # Kill points spread over the whole run: each attempt waits until the records file holds
    # a seeded target number of lines (0..7, rising), then a seeded delay, then SIGKILL. A
    # target already reached lands the kill during start-up (imports, model load, manifest);
    # the others land during generation or between a group's append and the next.
    rng = random.Random(20240611)
    targets = sorted(rng.randint(0, 7) for _ in range(KILLS))
    run_dir = tmp_path / "killed"
    records_file = run_dir / "records.jsonl"
    seen: list[tuple[int, float, int]] = []  # (target, delay, lines when killed)
    for target in targets:
        delay = rng.uniform(0.0, min(full_run_seconds / 4, 10.0))
        process = subprocess.Popen([sys.executable, "-m", "orcabench.cli", *RUN, "--output", str(run_dir)],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 600
        while process.poll() is None and lines_in(records_file) < target and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(delay)
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
        process.wait()
        seen.append((target, round(delay, 2), lines_in(records_file)))
    # At least some kills must have cut the run short, or this test proved nothing.
    assert any(lines < 8 for _, _, lines in seen), seen

    result = orcabench(*RUN, "--output", str(run_dir))
    assert result.returncode == 0, result.stderr
    raw = records_file.read_text().splitlines()
    keys = [(json.loads(text)["task"], json.loads(text)["id"]) for text in raw]
    assert len(keys) == len(set(keys)) == 8, f"duplicates or gaps: {keys} after kills {seen}"
    final, problems = read_records(records_file)
    assert problems == []
    assert {k: r.to_json() for k, r in final.items()} == {k: r.to_json() for k, r in expected.items()}, seen
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["fingerprint"] == json.loads((reference / "manifest.json").read_text())["fingerprint"]
    assert not list(run_dir.glob(".manifest.json.*")) and not list(run_dir.glob(".records.*"))
