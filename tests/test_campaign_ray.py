"""``orcabench campaign run`` on a real two-node Ray cluster on 127.0.0.1 (issue 22), as a user runs it.

One small campaign (the bundled model under two system messages, two tasks, plus a cell whose
model folder does not exist) and one cluster serve the module. A campaign's cells must be
the runs ``orcabench run`` makes with the same flags, run on both nodes at once; a driver
SIGKILLed three times and run again must end with the uninterrupted campaign's records; a
cell whose engine is killed mid-run is retried and completes; the failed cell is reported
with its reason while the others finish; Ctrl-C stops cleanly (exit 130) and the same command
finishes the campaign; the report's site shows one row per cell and the paired differences.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import orcabench
from test_replicas import TwoNodes, records_of, start, stored, wait_for

FAILED = 1  # a campaign with a failed cell (README, "Exit codes")
# The reference (the bundled model, system message empty) and the same model under its own system message, as two
# models: the second is paired with the first in the report.
CELLS = {"smollm2-135m · system_message=empty": "empty", "smollm2-own-sm · system_message=default": "default"}
MISSING = "missing-folder"


@pytest.fixture(scope="module")
def cluster() -> Iterator[TwoNodes]:
    pytest.importorskip("ray")
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"  # test traffic stays on loopback
    nodes = TwoNodes()
    yield nodes
    nodes.cluster.shutdown()


@pytest.fixture(scope="module")
def campaign_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("campaign-file")
    path = folder / "small.yaml"
    path.write_text(yaml.safe_dump({
        "name": "small", "tasks": ["gsm8k", "arc-easy"], "limit": 3, "max_tokens": 24,
        "models": [{"model": "smollm2-135m", "backend": "hf"},
                   {"model": "smollm2-135m", "backend": "hf", "name": "smollm2-own-sm",
                    "variants": {"system_message": ["default"]}},
                   {"model": str(folder / "no-such-model-folder"), "name": MISSING}],
        "variants": {"system_message": ["empty"]}, "reference": "smollm2-135m",
        "output": str(folder / "unused")}, sort_keys=False))
    return path


def run_dirs(output: Path) -> dict[str, Path]:
    state = json.loads((output / "campaign.json").read_text())["cells"]
    return {cell: Path(entry["run_dir"]) for cell, entry in state.items() if entry["run_dir"]}


def status(path: Path, output: Path) -> dict[str, dict[str, Any]]:
    result = orcabench("campaign", "status", str(path), "--output", str(output), "--json")
    assert result.returncode == 0, result.stderr
    return {row["cell"]: row for row in json.loads(result.stdout)}


@pytest.fixture(scope="module")
def uninterrupted(cluster: TwoNodes, campaign_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    output = tmp_path_factory.mktemp("uninterrupted")
    result = orcabench("campaign", "run", str(campaign_path), "--output", str(output), "--ray-address", cluster.address)
    assert result.returncode == FAILED, result.stderr  # the missing folder's cell; the others finish
    return output


@pytest.mark.slow
def test_cells_are_the_runs_orcabench_run_makes_and_run_on_both_nodes(uninterrupted: Path, tmp_path: Path) -> None:
    cells = run_dirs(uninterrupted)
    assert set(cells) == set(CELLS)
    for cell, system_message in CELLS.items():
        separate = tmp_path / system_message
        result = orcabench("run", "--model", "smollm2-135m", "--tasks", "gsm8k,arc-easy", "--limit", "3", "--max-tokens", "24",
                           "--backend", "hf", "--system-message", system_message, "--output", str(separate))
        assert result.returncode == 0, result.stderr
        assert records_of(cells[cell]) == records_of(separate)
        campaign_manifest = json.loads((cells[cell] / "manifest.json").read_text())
        assert campaign_manifest["fingerprint"] == json.loads((separate / "manifest.json").read_text())["fingerprint"]
    sessions = [json.loads((run_dir / "manifest.json").read_text())["sessions"][-1] for run_dir in cells.values()]
    nodes = {replica["node_id"] for session in sessions for replica in session["backend"]["replicas"]["placement"]}
    assert len(nodes) == 2, "the cells did not use both nodes"  # one CPU each, one engine per cell: side by side


@pytest.mark.slow
def test_each_cells_engine_output_is_in_its_run_directorys_engine_log(uninterrupted: Path) -> None:
    for cell, run_dir in run_dirs(uninterrupted).items():
        log = (run_dir / "engine.log").read_text()
        placement = json.loads((run_dir / "manifest.json").read_text())["sessions"][-1]["backend"]["replicas"]["placement"]
        assert [replica["engine_log"] for replica in placement] == [str(run_dir / "engine.log")], cell
        assert f"(pid {placement[0]['pid']}): starting the hf engine for " in log, cell  # written by the Ray worker


@pytest.mark.slow
def test_status_shows_the_finished_cells_scores_and_the_failed_cell_with_its_reason(uninterrupted: Path,
                                                                                   campaign_path: Path) -> None:
    rows = status(campaign_path, uninterrupted)
    for cell in CELLS:
        assert rows[cell]["status"] == "done" and rows[cell]["done"] == {"gsm8k": 3, "arc-easy": 3}
        assert set(rows[cell]["scores"]) == {"gsm8k", "arc-easy"}
    failed = rows[f"{MISSING} · system_message=empty"]
    assert failed["status"] == "failed" and "no-such-model-folder" in failed["reason"] and "\n" not in failed["reason"]
    result = orcabench("campaign", "status", str(campaign_path), "--output", str(uninterrupted))
    assert result.returncode == 0 and "failed: " in result.stdout and "done" in result.stdout


@pytest.mark.slow
def test_a_driver_killed_three_times_then_run_again_ends_with_the_uninterrupted_records(
        cluster: TwoNodes, campaign_path: Path, uninterrupted: Path, tmp_path: Path) -> None:
    output, moments = tmp_path / "killed", random.Random(22)
    command = ["campaign", "run", str(campaign_path), "--output", str(output), "--ray-address", cluster.address]

    def total() -> int:
        return sum(stored(run_dir) for run_dir in run_dirs(output).values()) if (output / "campaign.json").is_file() else 0

    for _ in range(3):
        before, wanted = total(), moments.randint(1, 2)  # a different moment each time, the same on every CI run
        driver = start(*command)
        wait_for(lambda: total() >= before + wanted, driver, f"{wanted} new record(s)")
        driver.send_signal(signal.SIGKILL)  # the driver: Ray ends the cells' engines
        driver.communicate()
    result = orcabench(*command)
    assert result.returncode == FAILED, result.stderr
    cells, reference = run_dirs(output), run_dirs(uninterrupted)
    for cell in CELLS:
        assert records_of(cells[cell]) == records_of(reference[cell])  # each sample once, none missing, the same answers
        assert cells[cell].name == reference[cell].name


@pytest.mark.slow
def test_a_cell_whose_engine_is_killed_mid_run_is_retried_and_completes(cluster: TwoNodes, campaign_path: Path,
                                                                         uninterrupted: Path, tmp_path: Path) -> None:
    output = tmp_path / "engine-killed"
    driver = start("campaign", "run", str(campaign_path), "--output", str(output), "--ray-address", cluster.address)
    victim: dict[str, Any] = {}

    def an_engine_started_with_work_left() -> bool:
        if not (output / "campaign.json").is_file():
            return False
        for cell, run_dir in run_dirs(output).items():
            manifest = run_dir / "manifest.json"
            if not manifest.is_file() or stored(run_dir) >= 6:
                continue
            backend = json.loads(manifest.read_text())["sessions"][-1].get("backend") or {}
            pids = [r.get("pid") for r in backend.get("replicas", {}).get("placement", []) if r.get("pid")]
            if pids and pids[0] in cluster.replica_workers():
                victim.update(cell=cell, pid=pids[0], run_dir=run_dir)
                return True
        return False

    wait_for(an_engine_started_with_work_left, driver, "a cell's engine at work")
    os.kill(victim["pid"], signal.SIGKILL)
    assert stored(victim["run_dir"]) < 6, "the cell finished before its engine could be killed"
    out, err = driver.communicate(timeout=900)
    assert driver.returncode == FAILED, err
    assert f"{victim['cell']}: retrying (attempt 2)" in err
    state = json.loads((output / "campaign.json").read_text())["cells"]
    assert state[victim["cell"]]["status"] == "done" and state[victim["cell"]]["attempts"] == 2
    reference = run_dirs(uninterrupted)
    for cell, run_dir in run_dirs(output).items():
        assert records_of(run_dir) == records_of(reference[cell])


@pytest.mark.slow
def test_the_report_site_has_a_row_per_cell_and_the_paired_difference_from_the_reference(
        uninterrupted: Path, campaign_path: Path, tmp_path: Path, browser: Any) -> None:
    out = tmp_path / "report"
    result = orcabench("campaign", "report", str(campaign_path), "--output", str(uninterrupted), "--out", str(out))
    assert result.returncode == 0, result.stderr
    page = browser.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.goto((out / "site" / "index.html").as_uri())
    rows = page.eval_on_selector_all("#leaderboard tbody tr.run th", "cells => cells.map(c => c.dataset.value)")
    assert rows == list(CELLS)  # one row per model × variant: the bundled model's two runs are not collapsed
    paired = page.eval_on_selector_all("#paired tbody tr", "rows => rows.map(r => [...r.cells].map(c => c.dataset.value))")
    reference, own = list(CELLS)
    # The paired leaderboard (the one `orcabench report --reference` draws): per task, every cell, paired with the
    # reference model's cell on the examples both answered.
    assert sorted((row[0], row[2]) for row in paired) == [(task, entry) for task in ("arc-easy", "gsm8k")
                                                          for entry in sorted((reference, own))]
    runs = run_dirs(uninterrupted)
    for task, _, entry, n, _, delta, low, _, _ in paired:
        if entry == reference:
            continue
        ours, theirs = records_of(runs[own]), records_of(runs[reference])
        keys = [key for key in ours if key[0] == task]
        expected = 100 * sum(ours[key][2] - theirs[key][2] for key in keys) / len(keys)
        assert int(n) == len(keys) == 3 and float(delta) == pytest.approx(expected) and float(low) <= float(delta)
    page.click("#paired thead button:text-is('Δ')")
    deltas = [float(v) for v in page.eval_on_selector_all("#paired tbody tr", "rows => rows.map(r => r.cells[5].dataset.value)")
              if v]
    assert deltas == sorted(deltas, reverse=True) or deltas == sorted(deltas)
    assert problems == []


@pytest.mark.slow
def test_ctrl_c_stops_the_campaign_cleanly_and_the_same_command_finishes_it(cluster: TwoNodes, campaign_path: Path,
                                                                             uninterrupted: Path, tmp_path: Path) -> None:
    output = tmp_path / "interrupted"
    command = ["campaign", "run", str(campaign_path), "--output", str(output), "--ray-address", cluster.address]
    driver = subprocess.Popen([sys.executable, "-m", "orcabench.cli", *command], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True,
                              preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # as a terminal's Ctrl-C
    wait_for(lambda: (output / "campaign.json").is_file() and any(stored(d) for d in run_dirs(output).values()),
             driver, "a stored record")
    driver.send_signal(signal.SIGINT)
    _, err = driver.communicate(timeout=300)
    assert driver.returncode == 130, err
    assert "interrupted — rerun the same command to resume" in err and "ERROR" not in err
    state = json.loads((output / "campaign.json").read_text())["cells"]
    assert {state[cell]["status"] for cell in CELLS} <= {"interrupted", "done"}
    kept = {cell: records_of(run_dir) if (run_dir / "records.jsonl").is_file() else {}
            for cell, run_dir in run_dirs(output).items()}
    assert any(kept.values())
    result = orcabench(*command)
    assert result.returncode == FAILED, result.stderr
    reference = run_dirs(uninterrupted)
    for cell, run_dir in run_dirs(output).items():
        finished = records_of(run_dir)
        assert finished == records_of(reference[cell])
        assert all(finished[key] == value for key, value in kept[cell].items())  # what Ctrl-C kept stays as it was
