"""Tasks are plugins: found in tasks/, in ORCABENCH_TASKS_PATH folders and through entry points."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from orcabench import task as task_module
from orcabench.task.data import load_rows
from orcabench.task import get_tasks
from orcabench.types import Completion, OrcabenchError


def test_gsm8k_renders_every_test_question_alone_and_scores_its_own_gold(data_dir: Path) -> None:
    manifest = json.loads((data_dir / "manifest.json").read_text())
    gsm8k, cot = get_tasks(["gsm8k", "gsm8k-cot"])
    rows, provenance = load_rows(gsm8k.data, data_dir, "gsm8k")
    assert len(rows) == manifest["files"]["gsm8k/test.jsonl"]["examples"] == 1319
    assert provenance["files"] == {"gsm8k/test.jsonl": manifest["files"]["gsm8k/test.jsonl"]["sha256"]}
    for index, row in enumerate(rows):
        example = gsm8k.parse_row(row.values, index)
        # The Orca 2 protocol: the question alone, no chain-of-thought wording.
        assert [m.content for m in gsm8k.render(example)] == [row.values["question"]]
        assert cot.render(example)[0].content == row.values["question"] + "\nLet's think step by step."
        solution = f"Let me work it out step by step.\nThe answer is {example.gold}."
        assert gsm8k.score(example, Completion(text=solution)).score == 1.0
        assert gsm8k.score(example, Completion(text="I am not sure.")).method == "none"


def test_gsm8k_gold_is_the_number_after_the_four_hashes() -> None:
    (gsm8k,) = get_tasks(["gsm8k"])
    example = gsm8k.parse_row({"question": "q", "answer": "2 + 2 = <<2+2=4>>4\n#### 1,024"}, 7)
    assert (example.id, example.gold) == ("7", "1024")
    with pytest.raises(OrcabenchError, match="gsm8k row 3"):
        gsm8k.parse_row({"question": "q", "answer": "no hashes"}, 3)


def test_unknown_task_names_the_known_ones() -> None:
    with pytest.raises(OrcabenchError, match=r"unknown task nope: choose from .*gsm8k"):
        get_tasks(["nope"])


TASK_DEFINITION = '''
from pathlib import Path
from orcabench.task.data import DataSpec
from orcabench.answers.text import extract_number
from orcabench.task import GenerativeTask, register
from orcabench.types import Example

TASK = GenerativeTask(
    name="{name}", version="3", description="a third-party task",
    data=DataSpec(hub_path="someone/arith", hub_split="test", local_files=("arith.jsonl",)),
    template_dir=Path(__file__).parent, template="prompt.j2",
    parse_row=lambda row, i: Example(id=str(i), fields=row, gold=str(row["sum"])),
    extract=extract_number,
)
'''
TASK_FILE = TASK_DEFINITION + "register(TASK)\n"  # a tasks/ folder registers on import
PLUGIN_MODULE = TASK_DEFINITION + "def tasks():\n    return [TASK]\n"  # an entry point returns its tasks


@pytest.fixture
def fresh_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(task_module, "TASKS", task_module.Registry("task", task_module._discover_tasks))


def test_a_task_folder_on_orcabench_tasks_path_is_discovered(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                             fresh_registry: None) -> None:
    folder = tmp_path / "mytasks" / "arith"
    folder.mkdir(parents=True)
    (folder / "task.py").write_text(TASK_FILE.format(name="arith"))
    (folder / "prompt.j2").write_text("What is {{ a }} + {{ b }}?")
    monkeypatch.setenv("ORCABENCH_TASKS_PATH", str(tmp_path / "mytasks"))
    (arith,) = get_tasks(["arith"])
    example = arith.parse_row({"a": 2, "b": 3, "sum": 5}, 0)
    assert arith.render(example)[0].content == "What is 2 + 3?"
    assert arith.score(example, Completion(text="2 + 3 = 5")).score == 1.0
    assert "gsm8k" in task_module.discover()  # the built-in tasks are still there


def test_an_installed_package_adds_tasks_through_the_entry_point_group(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                       fresh_registry: None) -> None:
    package = tmp_path / "orcabench_plugin_demo"
    package.mkdir()
    (package / "__init__.py").write_text(PLUGIN_MODULE.format(name="plugin-arith"))
    (package / "prompt.j2").write_text("{{ a }} plus {{ b }}")
    dist = tmp_path / "orcabench_plugin_demo-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: orcabench-plugin-demo\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[orcabench.tasks]\ndemo = orcabench_plugin_demo:tasks\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    (task,) = get_tasks(["plugin-arith"])
    assert task.render(task.parse_row({"a": 1, "b": 1, "sum": 2}, 0))[0].content == "1 plus 1"
    sys.modules.pop("orcabench_plugin_demo", None)


@pytest.mark.parametrize(("source", "expected"), [
    ("from orcabench.task import register\nTASK = (\n", "line 2: SyntaxError: '(' was never closed"),
    ("import os\n\nraise RuntimeError('no data here')\n", "line 3: RuntimeError: no data here"),
    ("from orcabench.task import register\nregister(42)\n", "line 2: TypeError: 42 does not satisfy"),
])
def test_a_broken_task_file_is_one_line_naming_the_file_and_line_even_for_list_tasks(
        source: str, expected: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_registry: None,
        capsys: pytest.CaptureFixture[str]) -> None:
    from orcabench.cli.run import main

    task_file = tmp_path / "mytasks" / "broken" / "task.py"
    task_file.parent.mkdir(parents=True)
    task_file.write_text(source)
    monkeypatch.setenv("ORCABENCH_TASKS_PATH", str(tmp_path / "mytasks"))
    assert main(["list", "tasks"]) == 2
    (line,) = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert line.startswith(f"error: {task_file} failed to load: {expected}")
    assert line.endswith("fix the file, or remove its folder from ORCABENCH_TASKS_PATH")


@pytest.mark.parametrize("kind", ["missing", "a file"])
def test_a_tasks_path_entry_that_is_not_a_folder_is_refused_not_ignored(
        kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_registry: None) -> None:
    entry = tmp_path / "mytaks"
    if kind == "a file":
        entry.write_text("")
    monkeypatch.setenv("ORCABENCH_TASKS_PATH", str(entry))
    with pytest.raises(OrcabenchError, match=f"ORCABENCH_TASKS_PATH names {entry}, which "
                                             f"{'does not exist' if kind == 'missing' else 'is not a folder'}"):
        get_tasks(["gsm8k"])


def test_a_plugin_whose_entry_point_fails_to_import_is_one_line_naming_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_registry: None) -> None:
    dist = tmp_path / "orcabench_plugin_broken-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: orcabench-plugin-broken\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[orcabench.tasks]\nbroken = orcabench_plugin_missing:tasks\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(OrcabenchError, match=r"entry point broken = orcabench_plugin_missing:tasks \(orcabench.tasks\) "
                                             r"failed to load: ModuleNotFoundError: .*fix or uninstall"):
        get_tasks(["gsm8k"])


def test_a_template_variable_the_row_lacks_is_a_clear_error() -> None:
    (gsm8k,) = get_tasks(["gsm8k"])
    from orcabench.types import Example

    with pytest.raises(OrcabenchError, match=r"task gsm8k: template zeroshot.j2 on example x: 'question' is undefined"):
        gsm8k.render(Example(id="x", fields={}, gold="1"))
