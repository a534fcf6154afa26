"""The console of `orcabench run`: orcabench's lines only, the engines' output in RUN_DIR/engine.log.

The real CLI runs under a pseudo-terminal, as a user's shell runs it, with vLLM's default
multiprocessing engine (its EngineCore process writes straight to fds 1 and 2), on the
default model; then `orcabench runs` lists it beside a partial and a locked copy.
"""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import select
import shutil
import struct
import subprocess
import sys
import termios
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import DATA_DIR, REPO, orcabench

from orcabench import api
from orcabench.console import EngineCapture, say
from orcabench.models.registry import ModelSpec
from orcabench.engine.preflight import injected_system_prompt, length_warnings
from orcabench.models.prompts import PromptRenderer
from orcabench.report.listing import list_runs
from orcabench.store.schema import Fingerprint
from orcabench.store.writer import RunStore
from store_samples import make_run, record

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")  # colours and cursor moves: the text is what is checked
# Lines only an engine writes: vLLM's logger prefix and its EngineCore process, torch and Triton warnings.
ENGINE_MARKERS = ("(EngineCore", "INFO ", "WARNING ", "[W", "Triton", "kv_cache", "it/s]")
BASE = ["run", "--model", "smollm2-135m", "--backend", "vllm", "--tasks", "gsm8k", "--data-dir", str(DATA_DIR)]
RUN = [*BASE, "--limit", "2", "--max-tokens", "16"]


def in_terminal(args: list[str], env: dict[str, str], timeout: float = 900) -> tuple[int, str]:
    """Run the CLI with stdin, stdout and stderr on a 120-column pseudo-terminal; everything it showed."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    process = subprocess.Popen([sys.executable, "-m", "orcabench.cli", *args], stdin=follower, stdout=follower, stderr=follower,
                               env=env, cwd=REPO, close_fds=True)
    os.close(follower)
    shown = bytearray()
    try:
        while True:
            ready, _, _ = select.select([leader], [], [], 0.5)
            if ready:
                try:
                    chunk = os.read(leader, 65536)
                except OSError:  # EIO: every holder of the terminal is gone
                    break
                if not chunk:
                    break
                shown += chunk
            elif process.poll() is not None:
                break
        code = process.wait(timeout=timeout)
    finally:
        os.close(leader)
    return code, ANSI.sub("", shown.decode("utf-8", errors="replace"))


def cli_env(**extra: str) -> dict[str, str]:
    env = {**os.environ, "VLLM_CPU_KVCACHE_SPACE": "1", "VLLM_HOST_IP": "127.0.0.1"}
    env.pop("VLLM_ENABLE_V1_MULTIPROCESSING", None)  # orcabench's default on CPU: the engine in this process
    env.pop("ORCABENCH_VERBOSE", None)
    return {**env, **extra}


@pytest.fixture(scope="module")
def quiet_run(tmp_path_factory: pytest.TempPathFactory, smollm2_dir: Path) -> tuple[int, str, Path]:
    run_dir = tmp_path_factory.mktemp("console") / "runs" / "quiet"
    # vLLM's own engine process (its default on CUDA) is the harder case: it writes to the fds it inherits.
    code, shown = in_terminal([*RUN, "--output", str(run_dir)], cli_env(VLLM_ENABLE_V1_MULTIPROCESSING="1"))
    return code, shown, run_dir


def test_the_terminal_shows_the_plan_the_progress_and_the_summary_but_no_engine_line(quiet_run: tuple[int, str, Path]) -> None:
    code, shown, run_dir = quiet_run
    assert code == 0, shown
    assert [marker for marker in ENGINE_MARKERS if marker in shown] == [], shown
    assert "plan: 2 request(s)" in shown and "generation budget 32 tokens" in shown
    assert "starting vLLM engine (CPU, float32)" in shown
    assert "gsm8k 2/2" in shown and "samples/s" in shown and "tok/s" in shown  # the live progress line, per task
    assert "2 model call(s) this time" in shown
    assert f"engine output: {run_dir / 'engine.log'}" in shown


def test_the_engine_output_goes_to_engine_log_including_the_engine_core_process(quiet_run: tuple[int, str, Path]) -> None:
    _, _, run_dir = quiet_run
    log = (run_dir / "engine.log").read_text()
    assert "(EngineCore" in log  # written by vLLM's engine process straight to its fds
    assert "INFO" in log


def test_warnings_that_matter_to_results_are_shown_once_and_kept_in_the_manifest(quiet_run: tuple[int, str, Path]) -> None:
    _, shown, run_dir = quiet_run
    session = json.loads((run_dir / "manifest.json").read_text())["sessions"][-1]
    assert session["planned"] == {"gsm8k": 2} and session["generation_budget"] == 32 and session["prompt_tokens"] > 0
    assert 0 < session["output_tokens"] <= 32
    template_warning = [w for w in session["warnings"] if "adds its own system prompt" in w]
    assert len(template_warning) == 1 and "SmolLM" in template_warning[0]
    assert shown.count("adds its own system prompt") == 1
    for warning in session["warnings"]:  # 16 tokens cut every GSM8K answer short: that is said too
        assert f"warning: {warning}"[:60] in shown
    assert any("stopped at max_tokens (16)" in w for w in session["warnings"])


def test_verbose_streams_the_engine_logs(tmp_path: Path, smollm2_dir: Path) -> None:
    env = {**cli_env(ORCABENCH_VERBOSE="1"), "VLLM_ENABLE_V1_MULTIPROCESSING": "0"}  # in-process: a quicker start
    result = subprocess.run([sys.executable, "-m", "orcabench.cli", *BASE, "--limit", "1", "--max-tokens", "4",
                             "--output", str(tmp_path / "run")],
                            capture_output=True, text=True, env=env, cwd=REPO, timeout=900)
    assert result.returncode == 0, result.stderr
    assert "INFO" in result.stdout + result.stderr  # vLLM's own log lines, as before
    assert not (tmp_path / "run" / "engine.log").exists()


def test_runs_lists_a_finished_a_partial_and_a_locked_run(quiet_run: tuple[int, str, Path], tmp_path: Path) -> None:
    _, _, finished = quiet_run
    runs = tmp_path / "runs"
    shutil.copytree(finished, runs / "finished")
    # What a run killed after its first sample leaves: one record, a session that never finished.
    partial = shutil.copytree(finished, runs / "partial")
    lines = (partial / "records.jsonl").read_text().splitlines(keepends=True)
    (partial / "records.jsonl").write_text(lines[0])
    manifest = json.loads((partial / "manifest.json").read_text())
    del manifest["sessions"][-1]["finished"]
    (partial / "manifest.json").write_text(json.dumps(manifest))
    locked = shutil.copytree(finished, runs / "locked")
    holder = RunStore(locked).open(Fingerprint.from_json(manifest["fingerprint"]))
    try:
        listed = orcabench("runs", str(runs), "--json")
        table = orcabench("runs", str(runs))
    finally:
        holder.close()
    assert listed.returncode == 0, listed.stderr
    rows = {Path(row["path"]).name: row for row in json.loads(listed.stdout)}
    assert {name: (row["status"], row["done"], row["planned"]) for name, row in rows.items()} == {
        "finished": ("finished", 2, 2), "partial": ("partial", 1, 2), "locked": ("being written", 2, 2)}
    assert rows["finished"]["model"] == "smollm2-135m" and rows["finished"]["backend"] == "vllm"
    assert list(rows["finished"]["tasks"]) == ["gsm8k"]
    assert table.returncode == 0, table.stderr
    by_run = {line.split()[0]: line for line in table.stdout.splitlines()[1:]}
    assert "1/2" in by_run["partial"] and "partial" in by_run["partial"]
    assert "being written" in by_run["locked"] and "2/2" in by_run["finished"] and "finished" in by_run["finished"]


def test_runs_filters_by_model_and_task(quiet_run: tuple[int, str, Path]) -> None:
    _, _, run_dir = quiet_run
    assert len(json.loads(orcabench("runs", str(run_dir.parent), "--json", "--task", "gsm8k").stdout)) == 1
    assert json.loads(orcabench("runs", str(run_dir.parent), "--json", "--model", "gemma3-270m").stdout) == []
    assert "no orcabench runs" in orcabench("runs", str(run_dir.parent), "--task", "bbh").stderr


def test_a_dry_run_estimates_the_time_from_earlier_runs_on_this_machine(quiet_run: tuple[int, str, Path]) -> None:
    _, _, run_dir = quiet_run
    result = orcabench(*BASE, "--limit", "4", "--max-tokens", "16", "--output", str(run_dir.parent / "next"), "--dry-run")
    assert result.returncode == 0, result.stderr
    (plan,) = [line for line in result.stderr.splitlines() if line.startswith("plan: ")]
    assert "4 request(s)" in plan and "generation budget 64 tokens" in plan
    assert "estimated" in plan and "earlier session(s) of smollm2-135m on vllm here" in plan
    assert not (run_dir.parent / "next").exists()  # a dry run writes nothing


def test_show_prompt_prints_byte_for_byte_what_run_sent(quiet_run: tuple[int, str, Path]) -> None:
    _, _, run_dir = quiet_run
    sent = [json.loads(line) for line in (run_dir / "records.jsonl").read_text().splitlines()]
    first = next(r for r in sent if r["id"] == "0")
    shown = orcabench("show-prompt", "--task", "gsm8k", "--model", "smollm2-135m", "--data-dir", str(DATA_DIR))
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout == first["prompt"] + "\n"


def test_show_prompt_takes_runs_prompt_flags_without_weights() -> None:
    shown = orcabench("show-prompt", "--task", "gsm8k", "--model", "orca2-13b", "--system-message", "cautious",
                      "--data-dir", str(DATA_DIR))
    assert shown.returncode == 0, shown.stderr
    config = api.RunConfig(selection=api.Selection(model="orca2-13b", tasks=["gsm8k"], data_dir=DATA_DIR, limit=1),
                           prompting=api.Prompting(system_message="cautious"))
    _, prompt = api.plan(config).first_prompt()  # what `run` renders and sends
    assert shown.stdout == prompt + "\n"
    assert prompt.startswith("<|im_start|>system\nYou are Orca, an AI language model created by Microsoft. You are a cautious")
    dry = orcabench("run", "--model", "orca2-13b", "--tasks", "gsm8k", "--system-message", "cautious",
                    "--data-dir", str(DATA_DIR), "--dry-run")
    assert dry.stdout.endswith(shown.stdout)


def test_empty_tasks_is_one_line_exit_2_and_creates_nothing(tmp_path: Path) -> None:
    for tasks in ("", " , ,"):
        result = orcabench("run", "--tasks", tasks, cwd=tmp_path)
        assert result.returncode == 2 and result.stderr.strip().count("\n") == 0, result.stderr
        assert result.stderr.startswith("error: no task named")
    assert list(tmp_path.iterdir()) == []


def test_report_open_hands_the_site_to_the_default_browser(tmp_path: Path) -> None:
    run_dir = make_run(tmp_path / "runs" / "one", {"gsm8k": [1.0, 0.0]}, finished="2026-11-30T10:00:00+00:00")
    browser = tmp_path / "browser"
    browser.write_text(f"#!/bin/sh\necho \"$1\" > {tmp_path / 'opened'}\n")
    browser.chmod(0o755)
    env = {**os.environ, "BROWSER": str(browser)}
    result = subprocess.run([sys.executable, "-m", "orcabench.cli", "report", str(run_dir), "--out", str(tmp_path / "report"),
                             "--open"], capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr
    site = (tmp_path / "report" / "site" / "index.html").resolve().as_uri()
    assert (tmp_path / "opened").read_text().strip() == site
    assert f"opened {site}" in result.stderr

    nothing = {"PATH": str(Path(sys.executable).parent), "HOME": str(tmp_path),  # no DISPLAY, no browser on PATH
               **{k: v for k, v in os.environ.items() if k == "PYTHONPATH"}}
    result = subprocess.run([sys.executable, "-m", "orcabench.cli", "report", str(run_dir), "--out", str(tmp_path / "report"),
                             "--open", "--format", "html"], capture_output=True, text=True, env=nothing, timeout=300)
    assert result.returncode == 0, result.stderr
    assert f"no web browser found on this machine: open {site} by hand" in result.stderr


SMOLLM_LIKE = ("{% if messages[0]['role'] != 'system' %}<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n{% endif %}"
               "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
               "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")


@pytest.mark.parametrize(("template", "system_message", "injected"), [
    (SMOLLM_LIKE, None, "You are a helpful assistant."),
    (SMOLLM_LIKE, "", None),  # the run gives one: nothing is injected
    ("chatml-orca2", None, None),  # ChatML writes a system turn only when there is one
])
def test_a_chat_template_that_injects_its_own_system_prompt_is_found(template: str, system_message: str | None,
                                                                      injected: str | None) -> None:
    spec = ModelSpec(name="m", source="/nowhere", chat_template=template, system_message=system_message)
    assert injected_system_prompt(PromptRenderer(spec, "/nowhere")) == injected


def test_many_samples_at_max_tokens_are_one_warning_per_task() -> None:
    cut = [replace(record(str(i)), finish_reason="length") for i in range(3)] + [record(str(i)) for i in range(3, 10)]
    (warning,) = length_warnings(cut, {"gsm8k": 256})
    assert warning.startswith("3 of 10 gsm8k sample(s) stopped at max_tokens (256)")
    one_in_ten = cut[2:] + [record(str(i)) for i in range(10, 12)]
    assert length_warnings(one_in_ten, {"gsm8k": 256}) == []  # not above the 10% line


def test_a_run_from_before_planned_counts_lists_its_status_with_an_unknown_plan(tmp_path: Path) -> None:
    make_run(tmp_path / "runs" / "old", {"gsm8k": [1.0, 0.0, 1.0, 1.0]}, finished="2026-11-30T10:00:00+00:00")
    (row,) = list_runs(tmp_path / "runs")
    assert (row.status, row.done, row.planned, row.counts) == ("finished", 4, None, "4/?")
    assert row.accuracies == "gsm8k 75.0" and row.date.startswith("2026-11-30")


def test_capture_sends_fd_writes_of_this_and_child_processes_to_the_log_and_orcabench_lines_to_the_terminal(
        tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    capture = EngineCapture()
    capture.start(tmp_path / "first.log")  # before the run directory is known
    os.write(2, b"engine: before the run dir\n")
    capture.move_to(tmp_path / "engine.log")
    child = "import os; os.write(1, b'child: stdout\\n'); os.write(2, b'child: stderr\\n')"  # as vLLM's EngineCore writes
    subprocess.run([sys.executable, "-c", child], check=True)
    say("orcabench: loading")
    capture.stop()
    say("orcabench: after")
    assert (tmp_path / "engine.log").read_text() == "engine: before the run dir\nchild: stdout\nchild: stderr\n"
    assert not (tmp_path / "first.log").exists()
    shown = capfd.readouterr()
    assert shown.err == "orcabench: loading\norcabench: after\n" and shown.out == ""
