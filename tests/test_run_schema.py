"""The run schema: manifests and records are read tolerantly, old runs stay readable, names are unique.

``tests/fixtures/run-v1-gsm8k`` is a run written by ``orcabench run`` before the typed
schema existed (orcabench 0.1.0 at commit 75f8665: smollm2-135m, hf, gsm8k, --limit 2,
--max-tokens 16). It must always load, and resume.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import orcabench

from orcabench import api
from orcabench.registry import Registry
from orcabench.store.reader import load_run
from orcabench.store.schema import Fingerprint, Manifest
from orcabench.store.writer import RunStore, read_records
from orcabench.types import OrcabenchError
from store_samples import FINGERPRINT, record

FIXTURE = Path(__file__).parent / "fixtures" / "run-v1-gsm8k"


def test_a_record_line_with_a_field_from_a_newer_orcabench_loads_and_is_not_set_aside(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    newer = {**record("0").to_json(), "critique": "thought about it", "judge": {"model": "x"}}
    (run / "records.jsonl").write_text(json.dumps(newer) + "\n" + json.dumps(record("1").to_json()) + "\n")
    records, problems = read_records(run / "records.jsonl")
    assert problems == [] and records[("gsm8k", "0")] == record("0")
    with RunStore(run).open(FINGERPRINT) as store:
        assert list(store.records()) == [("gsm8k", "0"), ("gsm8k", "1")]
    assert not list(run.glob("records.*.unreadable.jsonl"))


def test_a_record_missing_a_required_field_is_still_unreadable(tmp_path: Path) -> None:
    path = tmp_path / "records.jsonl"
    data = record("0").to_json()
    del data["score"]
    path.write_text(json.dumps(data) + "\n")
    assert read_records(path)[1][0].startswith(f"{path}:1: unreadable record")


def test_a_manifest_with_unknown_fields_loads_and_keeps_them_when_written_back(tmp_path: Path) -> None:
    manifest = Manifest.new(FINGERPRINT, "/models/m", {}).to_json()
    manifest["provenance_v2"] = {"signed": True}
    manifest["fingerprint"]["judge"] = "gpt-4"  # a fingerprint part this version does not know still counts
    manifest["sessions"] = [{"started": "2026-01-01T00:00:00+00:00", "replicas": [{"node": "a"}]}]
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    newer = Fingerprint.from_json(manifest["fingerprint"])
    with RunStore(tmp_path).open(newer) as store:
        loaded = store.manifest()
        assert loaded is not None and loaded.sessions[0].extra == {"replicas": [{"node": "a"}]}
        store.write_manifest(loaded)
    written = json.loads((tmp_path / "manifest.json").read_text())
    assert written["provenance_v2"] == {"signed": True} and written["fingerprint"]["judge"] == "gpt-4"
    assert written["sessions"] == manifest["sessions"]
    with pytest.raises(OrcabenchError, match="other settings"):  # the unknown part is part of the fingerprint
        RunStore(tmp_path).open(FINGERPRINT)
    (tmp_path / "records.jsonl").write_text("")
    stored = load_run(tmp_path)  # what gates and reports read: typed, the unknown parts kept
    assert stored.fingerprint.extra == {"judge": "gpt-4"} and stored.fingerprint.settings()["judge"] == "gpt-4"
    assert stored.manifest.extra == {"provenance_v2": {"signed": True}}


def test_a_run_written_before_the_typed_schema_loads(data_dir: Path) -> None:
    run = load_run(FIXTURE)
    assert run.manifest.schema_version == 1 and run.fingerprint.backend == "hf"
    assert run.label == "smollm2-135m · hf" and run.tasks() == ["gsm8k"]
    assert sorted(run.records) == [("gsm8k", "0"), ("gsm8k", "1")] and run.problems == []
    assert run.manifest.sessions[0].requests == 2 and run.manifest.sessions[0].backend is not None


def test_todays_plan_of_the_same_command_has_the_old_runs_fingerprint(data_dir: Path, smollm2_dir: Path, tmp_path: Path) -> None:
    old = load_run(FIXTURE)
    plan = api.plan(api.RunConfig(selection=api.Selection(model="smollm2-135m", tasks=["gsm8k"], limit=2, data_dir=data_dir),
                                  sampling=api.Sampling(max_tokens=16),
                                  engine=api.EngineSettings(backend="hf"),
                                  operations=api.Operations(output=tmp_path / "run")))
    assert plan.fingerprint == old.fingerprint
    assert plan.fingerprint.digest()[:12] == old.fingerprint.digest()[:12]


@pytest.mark.slow
def test_a_run_written_before_the_typed_schema_resumes(data_dir: Path, smollm2_dir: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    shutil.copytree(FIXTURE, run)
    before = (run / "records.jsonl").read_text()
    result = orcabench("run", "--model", "smollm2-135m", "--backend", "hf", "--tasks", "gsm8k", "--limit", "3",
                       "--max-tokens", "16", "--data-dir", str(data_dir), "--output", str(run))
    assert result.returncode == 0, result.stderr
    assert "1 model call(s) this time" in result.stdout
    after = (run / "records.jsonl").read_text()
    assert after.startswith(before) and len(after.splitlines()) == 3
    manifest = json.loads((run / "manifest.json").read_text())
    assert len(manifest["sessions"]) == 2 and manifest["sessions"][1]["pending"] == 1


def test_a_name_defined_twice_is_an_error_naming_both_sources() -> None:
    registry: Registry[int] = Registry("widget")
    registry.add("a", 1, "plugin-one.py")
    registry.add("a", 1, "plugin-one.py")  # the same file loaded again redefines its own entry
    with pytest.raises(OrcabenchError, match=r"widget 'a' is defined twice: by plugin-one.py and by plugin-two.py"):
        registry.add("a", 2, "plugin-two.py")
    with pytest.raises(OrcabenchError, match=r"unknown widget 'b': choose one of a"):
        registry.lookup("b")


def test_a_task_folder_redefining_a_builtin_task_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from orcabench import task as task_module

    folder = tmp_path / "mytasks" / "gsm8k_again"
    folder.mkdir(parents=True)
    builtin = task_module.builtin_tasks_dir() / "gsm8k" / "task.py"
    (folder / "task.py").write_text(builtin.read_text().replace("Path(__file__).parent", f"Path({str(builtin.parent)!r})"))
    monkeypatch.setenv("ORCABENCH_TASKS_PATH", str(tmp_path / "mytasks"))
    monkeypatch.setattr(task_module, "TASKS", task_module.Registry("task", task_module._discover_tasks))
    with pytest.raises(OrcabenchError, match=rf"task 'gsm8k' is defined twice: by {builtin} and by {folder / 'task.py'}"):
        task_module.get_tasks(["gsm8k"])
