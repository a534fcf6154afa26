"""The run store keeps every finished sample, exactly once, whatever happened to the process."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from orcabench.store.schema import Fingerprint, Manifest
from orcabench.store.writer import RunStore, read_records
from orcabench.types import OrcabenchError
from store_samples import FINGERPRINT, record  # tests/store_samples.py


def test_records_are_appended_and_read_back(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "run").open(FINGERPRINT)
    store.append([record("0"), record("1", 0.0)])
    store.append([record("2")])
    assert list(store.records()) == [("gsm8k", "0"), ("gsm8k", "1"), ("gsm8k", "2")]
    assert store.records()[("gsm8k", "1")] == record("1", 0.0)
    store.close()


def test_manifest_is_written_atomically_and_read_back(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "run").open(FINGERPRINT)
    manifest = Manifest.new(FINGERPRINT, "/models/m", {"gsm8k": {"files": {}}})
    store.write_manifest(manifest)
    assert store.manifest() == manifest
    assert [p.name for p in (tmp_path / "run").iterdir() if p.name.startswith(".manifest")] == []
    store.close()


def test_a_torn_last_line_is_dropped_on_open_so_the_sample_is_recomputed(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "run").open(FINGERPRINT)
    store.append([record("0"), record("1")])
    store.close()
    path = tmp_path / "run" / "records.jsonl"
    path.write_bytes(path.read_bytes()[:-25])  # killed in the middle of writing record 1

    records, problems = read_records(path)
    assert list(records) == [("gsm8k", "0")]
    assert problems == [f"{path}:2: truncated last line"]

    store = RunStore(tmp_path / "run").open(FINGERPRINT)
    assert path.read_bytes().endswith(b"\n")
    store.append([record("1")])
    assert list(store.records()) == [("gsm8k", "0"), ("gsm8k", "1")]
    store.close()


def test_a_corrupt_middle_line_is_reported_by_line_and_the_rest_stays_usable(tmp_path: Path) -> None:
    path = tmp_path / "records.jsonl"
    lines = [json.dumps(record(str(i)).to_json()) for i in range(3)]
    path.write_text(lines[0] + "\n" + '{"task": "gsm8k", "id": \n' + lines[2] + "\n")
    records, problems = read_records(path)
    assert list(records) == [("gsm8k", "0"), ("gsm8k", "2")]
    assert len(problems) == 1 and problems[0].startswith(f"{path}:2: unreadable record")


def test_the_first_copy_of_a_record_wins(tmp_path: Path) -> None:
    path = tmp_path / "records.jsonl"
    path.write_text(json.dumps(record("0", 1.0).to_json()) + "\n" + json.dumps(record("0", 0.0).to_json()) + "\n")
    records, _ = read_records(path)
    assert records[("gsm8k", "0")].score == 1.0


def test_a_run_made_with_other_settings_refuses_to_resume(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "run").open(FINGERPRINT)
    store.write_manifest(Manifest.new(FINGERPRINT, "/models/m", {}))
    store.close()
    other = Fingerprint.from_json({**FINGERPRINT.to_json(), "backend": "vllm"})
    with pytest.raises(OrcabenchError, match=r"other settings \(backend: 'hf' -> 'vllm'\)"):
        RunStore(tmp_path / "run").open(other)


def test_two_processes_cannot_hold_one_run(tmp_path: Path) -> None:
    first = RunStore(tmp_path / "run").open(FINGERPRINT)
    with pytest.raises(OrcabenchError, match="in use by another orcabench process"):
        RunStore(tmp_path / "run").open(FINGERPRINT)
    first.close()
    RunStore(tmp_path / "run").open(FINGERPRINT).close()  # free again once released
