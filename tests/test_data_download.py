"""`orcabench data download` writes a verified mirror that runs and `data check` accept.

The Hub is unreachable here, so a dataset folder stands in for a Hub id: the `datasets`
library loads a local folder and a Hub repository through the same `load_dataset` call.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


TASK_FILE = '''
from pathlib import Path
from orcabench.task.data import DataSpec
from orcabench.answers.text import extract_number, normalize_number
from orcabench.task import GenerativeTask, register
from orcabench.types import Example

register(GenerativeTask(
    name="local-gsm", version="1", description="GSM8K-shaped rows from a dataset folder",
    data=DataSpec(hub_path={hub!r}, hub_split="test", local_files=("local-gsm/test.jsonl",)),
    template_dir=Path(__file__).parent, template="prompt.j2",
    parse_row=lambda row, i: Example(id=str(i), fields=row, gold=normalize_number(row["answer"].rsplit("####", 1)[1])),
    extract=extract_number,
))
'''

ROWS = [
    {"question": "What is 2 + 2?", "answer": "2 + 2 = 4\n#### 4"},
    {"question": "Half of 1,000?", "answer": "1000 / 2 = 500\n#### 500"},
    {"question": "Ünïcode çheck: 3 × 3?", "answer": "#### 9"},
]


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    hub = tmp_path / "hub-dataset"
    hub.mkdir()
    (hub / "test.jsonl").write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in ROWS), encoding="utf-8")
    task_dir = tmp_path / "tasks" / "local_gsm"
    task_dir.mkdir(parents=True)
    (task_dir / "task.py").write_text(TASK_FILE.format(hub=str(hub)))
    (task_dir / "prompt.j2").write_text("{{ question }}")
    return {**os.environ, "ORCABENCH_TASKS_PATH": str(tmp_path / "tasks"), "HF_HUB_OFFLINE": "1",
            "HF_DATASETS_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf-home")}


def orcabench(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "orcabench.cli", *args], capture_output=True, text=True, env=env, timeout=300)


def test_download_writes_rows_and_hashes_that_check_and_load(tmp_path: Path, env: dict[str, str]) -> None:
    mirror = tmp_path / "mirror"
    result = orcabench(env, "data", "download", "--tasks", "local-gsm", "--out", str(mirror))
    assert result.returncode == 0, result.stderr
    manifest = json.loads((mirror / "manifest.json").read_text())
    (relative,) = manifest["files"]
    assert relative.startswith("hub/") and relative.endswith("/default/test.jsonl")
    assert manifest["files"][relative]["examples"] == 3
    assert [json.loads(line) for line in (mirror / relative).read_text(encoding="utf-8").splitlines()] == ROWS

    check = orcabench(env, "data", "check", "--data-dir", str(mirror), "--tasks", "local-gsm")
    assert check.returncode == 0, check.stdout
    (mirror / relative).write_text((mirror / relative).read_text(encoding="utf-8").replace("500", "501"), encoding="utf-8")
    tampered = orcabench(env, "data", "check", "--data-dir", str(mirror), "--tasks", "local-gsm")
    assert tampered.returncode == 1 and "differs from manifest.json" in tampered.stdout
    # A run on the tampered mirror goes ahead (the data is the user's), but says so.
    planned = orcabench(env, "run", "--tasks", "local-gsm", "--data-dir", str(mirror), "--dry-run")
    assert planned.returncode == 0, planned.stderr
    assert f"local-gsm: {mirror / relative}: sha256" in planned.stdout + planned.stderr
    assert "differs from manifest.json" in planned.stdout + planned.stderr


def test_a_hub_that_cannot_be_reached_is_a_one_line_error(tmp_path: Path, env: dict[str, str]) -> None:
    result = orcabench(env, "data", "download", "--tasks", "gsm8k", "--out", str(tmp_path / "mirror"))
    assert result.returncode == 2
    assert result.stderr.startswith("error: could not load openai/gsm8k (main, test) from the Hub")
    assert len(result.stderr.strip().splitlines()) == 1
