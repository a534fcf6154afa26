"""Shared fixtures: the staged benchmark data, the bundled model, and one engine per backend.

Each vLLM engine start costs CI 20-70 s, so the real backends are session-scoped and
shared by every test that needs them. vLLM runs in-process under pytest.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

# Property tests draw the same examples on every run: CI must never go red by chance. A new
# failing example is found by running with HYPOTHESIS_PROFILE=explore (fresh random draws).
settings.register_profile("repeatable", derandomize=True, database=None)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))

os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "2")

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
os.environ.setdefault("ORCABENCH_DATA_DIR", str(SHARED_DATA))
DATA_DIR = Path(os.environ["ORCABENCH_DATA_DIR"])

# Both backends compare at the same dtype, the bundled models' float32 (see orcabench.models.registry).
ENGINE = {"dtype": "float32", "max_model_len": 2048}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked ``long`` (over five minutes here) run only when ``-m`` names them (``pytest -m long``):
    CI's budget holds their shorter versions. Skipped, not deselected, so the summary says they exist."""
    if "long" in (config.getoption("markexpr") or ""):
        return
    skip = pytest.mark.skip(reason="long: over five minutes on 2 CPU cores; run with `pytest -m long`")
    for item in items:
        if item.get_closest_marker("long"):
            item.add_marker(skip)


def orcabench(*args: str, cwd: Path | None = None, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    """The CLI as a user runs it: its own process, its own engine."""
    return subprocess.run([sys.executable, "-m", "orcabench.cli", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=timeout)


def kill_after_records(command: list[str], records_file: Path, at_least: int, env: dict[str, str] | None = None) -> int:
    """Start ``command``, SIGKILL it once ``records_file`` holds ``at_least`` lines, and return how many it held.

    Fails (rather than passing vacuously) when the process ends before it could be killed. Lines are counted
    complete (a record torn by the kill is not one)."""
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def stored() -> int:
        return records_file.read_text().count("\n") if records_file.is_file() else 0

    deadline = time.time() + 600
    while time.time() < deadline and process.poll() is None and stored() < at_least:
        time.sleep(0.05)
    assert process.poll() is None, "the process finished before it could be killed"
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    return stored()


@pytest.fixture(scope="session")
def data_dir() -> Path:
    if not (DATA_DIR / "manifest.json").is_file():
        pytest.fail(f"benchmark data not found at {DATA_DIR}: set ORCABENCH_DATA_DIR to the staged shared/data folder")
    return DATA_DIR


@pytest.fixture(scope="session")
def smollm2_dir() -> Path:
    from orcabench.models.bundled import converted_model_dir

    return converted_model_dir("smollm2-135m")


@pytest.fixture(scope="session")
def hf_backend(smollm2_dir: Path) -> Iterator[object]:
    from orcabench.backends.hf import HFBackend

    backend = HFBackend(str(smollm2_dir), ENGINE, seed=0, batch_size=32)
    yield backend
    backend.close()


@pytest.fixture(scope="session")
def gsm8k_prompts(data_dir: Path, smollm2_dir: Path) -> list[tuple[Any, Any]]:
    """The first 50 GSM8K test questions as SmolLM2 receives them: (example, request) pairs, 256 new tokens at most."""
    from orcabench.models.prompts import PromptRenderer
    from orcabench.models.registry import resolve_model
    from orcabench.task import get_tasks
    from orcabench.task.data import load_rows
    from orcabench.types import Request

    (task,) = get_tasks(["gsm8k"])
    renderer = PromptRenderer(resolve_model("smollm2-135m"), str(smollm2_dir))
    rows, _ = load_rows(task.data, data_dir, "gsm8k")
    prompts = []
    for index, row in enumerate(rows[:50]):
        example = task.parse_row(row.values, index)
        prompt, add_special = renderer.render(renderer.messages(task.render(example)))
        prompts.append((example, Request(kind="generate", prompt=prompt, max_tokens=256, add_special_tokens=add_special)))
    return prompts


@pytest.fixture(scope="session")
def vllm_backend(smollm2_dir: Path) -> Iterator[object]:
    from orcabench.backends.vllm import VLLMBackend

    backend = VLLMBackend(str(smollm2_dir), ENGINE, seed=0, max_num_seqs=None)
    yield backend
    backend.close()


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


# Shared by the report's and the paired leaderboard's browser tests: one Chromium per test module.
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if CHROMIUM is None:
        if os.environ.get("ORCABENCH_REQUIRE_BROWSER"):
            pytest.fail("headless Chromium is required here (ORCABENCH_REQUIRE_BROWSER): apt-get install chromium")
        pytest.skip("no Chromium on this machine (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        yield chromium
        chromium.close()
