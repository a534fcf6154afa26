"""Run directories broken at random (manifest.json and records.jsonl truncated, overwritten, garbled, removed):
`runs`, `report` and `rescore` never crash (exit 2 with one line, or 0), name what they skipped and go on, and
never exit 0 having lost a record."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orcabench.cli.run import main
from orcabench.store.reader import load_run
from orcabench.types import OrcabenchError

FIXTURE_RUN = Path(__file__).resolve().parent / "fixtures" / "run-v1-gsm8k"
json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
                           max_leaves=8)

Corruption = Callable[[bytes], bytes | None]  # None: the file is removed


def truncated(at: float) -> Corruption:
    return lambda data: data[: int(len(data) * at)]


def flipped(at: float, byte: int) -> Corruption:
    def corrupt(data: bytes) -> bytes:
        if not data:
            return bytes([byte])
        position = int((len(data) - 1) * at)
        return data[:position] + bytes([byte]) + data[position + 1:]
    return corrupt


def key_set(key: str, value: object) -> Corruption:
    def corrupt(data: bytes) -> bytes:
        try:
            content = json.loads(data)
        except ValueError:
            return data
        if isinstance(content, dict):
            node, *path = content, *key.split(".")
            for part in path[:-1]:
                node = node.setdefault(part, {}) if isinstance(node.get(part, {}), dict) else {}
            node[path[-1]] = value
        return json.dumps(content).encode()
    return corrupt


units = st.floats(0, 1)
corruptions = st.one_of(
    st.builds(truncated, units),
    st.builds(flipped, units, st.integers(0, 255)),
    st.binary(max_size=60).map(lambda b: (lambda _: b)),
    json_values.map(lambda v: (lambda _: json.dumps(v).encode())),
    st.builds(key_set, st.sampled_from(["fingerprint", "fingerprint.tasks", "fingerprint.model", "sessions", "data",
                                        "fingerprint.model.name", "fingerprint.backend", "rescores", "created"]), json_values),
    st.just(lambda _: None),
    st.just(lambda data: data),  # left whole
)
record_lines = st.one_of(json_values.map(lambda v: json.dumps(v).encode() + b"\n"), st.binary(max_size=40))
records_corruptions = st.one_of(corruptions, record_lines.map(lambda line: (lambda data: data + line)))


def broken_runs(root: Path, manifest: Corruption, records: Corruption) -> tuple[Path, Path]:
    """A good run and a broken copy of it, side by side under ``root``."""
    good = Path(shutil.copytree(FIXTURE_RUN, root / "runs" / "good"))
    broken = Path(shutil.copytree(FIXTURE_RUN, root / "runs" / "broken"))
    for name, corrupt in (("manifest.json", manifest), ("records.jsonl", records)):
        changed = corrupt((broken / name).read_bytes())
        if changed is None:
            (broken / name).unlink()
        else:
            (broken / name).write_bytes(changed)
    return good, broken


def no_crash(code: int, stderr: str) -> None:
    assert "Traceback" not in stderr and "internal error" not in stderr, stderr
    assert code in (0, 2), stderr
    if code == 2:
        assert len([line for line in stderr.splitlines() if line.startswith("error: ")]) == 1, stderr


def loads(path: Path) -> bool:
    try:
        load_run(path)
        return True
    except OrcabenchError:
        return False


SETTINGS = settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@settings(SETTINGS, max_examples=30)
@given(corruptions, records_corruptions)
def test_runs_lists_every_readable_run_and_names_each_skipped_one(
        capsys: pytest.CaptureFixture[str], manifest: Corruption, records: Corruption) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        good, broken = broken_runs(Path(tmp), manifest, records)
        capsys.readouterr()
        code = main(["runs", str(good.parent)])
        out, err = capsys.readouterr()
        no_crash(code, err)
        assert code == 0 and "good" in out  # one broken run never hides the others
        listed = any(line.startswith("broken ") for line in out.splitlines())
        manifest_text = (broken / "manifest.json").read_bytes() if (broken / "manifest.json").exists() else None
        evidence = manifest_text is not None and ((broken / "records.jsonl").exists() or b"fingerprint" in manifest_text)
        assert listed or f"skipped {broken}" in err or not evidence


@settings(SETTINGS, max_examples=10)
@given(corruptions, records_corruptions)
def test_report_of_a_folder_goes_on_past_a_broken_run_and_names_it(
        capsys: pytest.CaptureFixture[str], manifest: Corruption, records: Corruption) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        good, broken = broken_runs(Path(tmp), manifest, records)
        capsys.readouterr()
        code = main(["report", str(good.parent), "--out", str(Path(tmp) / "report"), "--no-reference"])
        err = capsys.readouterr().err
        no_crash(code, err)
        assert code == 0, err
        # a folder without records is no run to report (`runs` lists it); any other is reported or named as skipped
        assert (f"skipped {broken}" in err or loads(broken)
                or not ((broken / "records.jsonl").exists() and (broken / "manifest.json").exists()))


@settings(SETTINGS, max_examples=25)
@given(corruptions, records_corruptions)
def test_rescore_of_a_broken_run_keeps_every_complete_record_line(
        capsys: pytest.CaptureFixture[str], manifest: Corruption, records: Corruption) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        _, broken = broken_runs(Path(tmp), manifest, records)
        before = (broken / "records.jsonl").read_bytes() if (broken / "records.jsonl").exists() else b""
        complete = [line for line in before.splitlines(keepends=True) if line.endswith(b"\n") and line.strip()]
        capsys.readouterr()
        code = main(["rescore", str(broken)])
        no_crash(code, capsys.readouterr().err)
        kept = b"".join(path.read_bytes() for path in broken.glob("records*.jsonl"))
        for line in complete:  # in the records, a backup or the file of unreadable lines set aside
            assert line in kept


def test_report_of_a_folder_names_the_runs_it_leaves_out(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    older = Path(shutil.copytree(FIXTURE_RUN, tmp_path / "runs" / "older"))
    newer = Path(shutil.copytree(FIXTURE_RUN, tmp_path / "runs" / "newer"))
    manifest = json.loads((newer / "manifest.json").read_text())
    manifest["sessions"][-1]["finished"] = "2099-01-01T00:00:00+00:00"
    (newer / "manifest.json").write_text(json.dumps(manifest))
    (tmp_path / "runs" / "broken").mkdir()
    (tmp_path / "runs" / "broken" / "manifest.json").write_text("{")
    (tmp_path / "runs" / "broken" / "records.jsonl").write_text("")
    assert main(["report", str(tmp_path / "runs"), "--out", str(tmp_path / "report"), "--no-reference"]) == 0
    err = capsys.readouterr().err
    assert f"not shown: {older} (a later run of the same model and backend covers its tasks" in err
    assert f"skipped {tmp_path / 'runs' / 'broken'}: " in err and "not valid JSON" in err
    assert str(newer) not in err


@pytest.mark.parametrize("name", [[], {"a": 1}, 7, None])
def test_a_run_whose_model_name_is_not_a_string_is_skipped_with_the_reason_not_shown_as_its_repr(
        name: object, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good, broken = broken_runs(tmp_path, key_set("fingerprint.model.name", name), lambda data: data)
    assert main(["runs", str(good.parent)]) == 0
    out, err = capsys.readouterr()
    assert not any(line.startswith("broken ") for line in out.splitlines())
    assert f"skipped {broken}" in err and "fingerprint.model.name should be a string" in err
