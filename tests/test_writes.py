"""Writes that cannot destroy: files are replaced whole or not at all, keep their permissions, never land in a
run directory that the command does not own, and a place that cannot be written is one line and exit 2."""

from __future__ import annotations

import builtins
import json
import os
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from orcabench.cli.run import main
from orcabench.store.files import write_atomic
from orcabench.types import OrcabenchError

REPO = Path(__file__).resolve().parents[1]
FIXTURE_RUN = REPO / "tests" / "fixtures" / "run-v1-gsm8k"


def one_error_line(capsys: pytest.CaptureFixture[str], *fragments: str) -> str:
    stderr = capsys.readouterr().err
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert "Traceback" not in stderr and len(lines) == 1, stderr
    assert lines[0].startswith("error: "), lines[0]
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def read_only(monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    """Make folders read-only: chmod, and (root ignores modes) the write calls refused under them as the kernel would."""
    folders: list[Path] = []

    def under(path: object) -> bool:
        try:
            resolved = Path(os.fsdecode(path)).resolve()  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return False
        return any(resolved == f or f in resolved.parents for f in folders)

    def denied(path: object) -> PermissionError:
        return PermissionError(13, "Permission denied", os.fsdecode(path))  # type: ignore[arg-type]

    real_open, real_os_open, real_access, real_mkdir = builtins.open, os.open, os.access, Path.mkdir

    def guarded_open(file: object, mode: str = "r", *args: object, **kwargs: object) -> object:
        if isinstance(file, (str, bytes, os.PathLike)) and any(c in mode for c in "wax+") and under(file):
            raise denied(file)
        return real_open(file, mode, *args, **kwargs)  # type: ignore[call-overload]

    def guarded_os_open(path: object, flags: int, *args: object, **kwargs: object) -> int:
        if flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT) and under(path):
            raise denied(path)
        return real_os_open(path, flags, *args, **kwargs)  # type: ignore[arg-type]

    def guarded_access(path: object, mode: int, *args: object, **kwargs: object) -> bool:
        return False if mode & os.W_OK and under(path) else real_access(path, mode, *args, **kwargs)  # type: ignore[arg-type]

    def guarded_mkdir(self: Path, *args: object, **kwargs: object) -> None:
        if under(self) and not self.exists():
            raise denied(self)
        real_mkdir(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(builtins, "open", guarded_open)
    monkeypatch.setattr(os, "open", guarded_os_open)
    monkeypatch.setattr(os, "access", guarded_access)
    monkeypatch.setattr(Path, "mkdir", guarded_mkdir)

    def make(folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        folders.append(folder.resolve())
        for path in (folder, *folder.rglob("*")):
            path.chmod(path.stat().st_mode & ~0o222)
        return folder

    yield make
    for folder in folders:
        for path in (folder, *folder.rglob("*")):
            path.chmod(path.stat().st_mode | 0o200)


def copy_run(tmp_path: Path) -> Path:
    return Path(shutil.copytree(FIXTURE_RUN, tmp_path / "runs" / "run-v1-gsm8k"))


# The helper

def test_a_failed_write_leaves_the_previous_file_whole(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    target.write_text("previous\n")

    def fails_half_way(handle: object) -> None:
        handle.write(b"half")  # type: ignore[attr-defined]
        raise RuntimeError("disk gone")

    with pytest.raises(RuntimeError):
        write_atomic(target, fails_half_way)
    assert target.read_text() == "previous\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]  # no temporary left behind


def test_a_replaced_file_keeps_its_permissions_and_a_new_one_gets_the_umasks(tmp_path: Path) -> None:
    kept = tmp_path / "kept.txt"
    kept.write_text("old")
    kept.chmod(0o640)
    write_atomic(kept, "new")
    assert kept.read_text() == "new" and stat.S_IMODE(kept.stat().st_mode) == 0o640
    umask = os.umask(0o022)
    os.umask(umask)
    fresh = write_atomic(tmp_path / "fresh.txt", "x")
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o666 & ~umask


def test_a_run_directorys_files_are_refused_unless_the_run_is_owned(tmp_path: Path) -> None:
    run = copy_run(tmp_path)
    before = (run / "records.jsonl").read_bytes()
    with pytest.raises(OrcabenchError, match="inside the run directory"):
        write_atomic(run / "records.jsonl", "{}\n", "--output")
    assert (run / "records.jsonl").read_bytes() == before
    write_atomic(run / "records.jsonl", before, owned_run=True)


# rescore, run, report and gate

def test_rescore_keeps_the_records_files_permissions(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = copy_run(tmp_path)
    (run / "records.jsonl").chmod(0o644)
    assert main(["rescore", str(run)]) == 0, capsys.readouterr().err
    assert stat.S_IMODE((run / "records.jsonl").stat().st_mode) == 0o644


def test_rescore_on_a_read_only_run_is_one_line_and_exit_2(tmp_path: Path, read_only: object,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    run = copy_run(tmp_path)
    before = {p.name: p.read_bytes() for p in run.iterdir()}
    read_only(run)  # type: ignore[operator]
    assert main(["rescore", str(run)]) == 2
    one_error_line(capsys, str(run), "permission denied")
    assert {p.name: p.read_bytes() for p in run.iterdir()} == before


@pytest.mark.parametrize("where", ["an existing file", "below a file", "in a read-only folder"])
def test_run_output_that_cannot_be_a_run_directory_is_one_line_and_exit_2(
        where: str, tmp_path: Path, read_only: object, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "file").write_text("mine\n")
    output = {"an existing file": tmp_path / "file", "below a file": tmp_path / "file" / "run",
              "in a read-only folder": read_only(tmp_path / "locked") / "run"}[where]  # type: ignore[operator]
    assert main(["run", "--limit", "1", "--output", str(output)]) == 2
    one_error_line(capsys, str(output))
    assert (tmp_path / "file").read_text() == "mine\n"


def test_report_into_a_read_only_folder_is_one_line_and_exit_2(tmp_path: Path, read_only: object,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    run = copy_run(tmp_path)
    out = read_only(tmp_path / "locked") / "report"  # type: ignore[operator]
    assert main(["report", str(run), "--out", str(out), "--no-reference"]) == 2
    one_error_line(capsys, "--out", str(out))


def test_gate_out_onto_an_existing_file_is_one_line_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = copy_run(tmp_path)
    (tmp_path / "gate-out").write_text("mine\n")
    assert main(["gate", "--baseline", str(run), "--candidate", str(run), "--out", str(tmp_path / "gate-out")]) == 2
    stderr = capsys.readouterr().err
    assert "Traceback" not in stderr and f"error: --out {tmp_path / 'gate-out'} is a file" in stderr
    assert (tmp_path / "gate-out").read_text() == "mine\n"


# score --output

@pytest.fixture
def predictions(tmp_path: Path) -> Path:
    path = tmp_path / "predictions.jsonl"
    path.write_text(json.dumps({"id": "0", "output": "The answer is 18."}) + "\n")
    return path


def test_score_refuses_to_write_into_a_run_directory(tmp_path: Path, predictions: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    run = copy_run(tmp_path)
    before = (run / "records.jsonl").read_bytes()
    for target in (run / "records.jsonl", run / "scored.jsonl"):
        assert main(["score", "--task", "gsm8k", "--predictions", str(predictions), "--output", str(target)]) == 2
        one_error_line(capsys, "inside the run directory")
    assert (run / "records.jsonl").read_bytes() == before and not (run / "scored.jsonl").exists()


@pytest.mark.parametrize("where", ["a directory", "under a missing folder"])
def test_score_output_that_cannot_be_written_is_one_line_and_exit_2(where: str, tmp_path: Path, predictions: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    output = tmp_path if where == "a directory" else tmp_path / "missing" / "scored.jsonl"
    assert main(["score", "--task", "gsm8k", "--predictions", str(predictions), "--output", str(output)]) == 2
    one_error_line(capsys, "--output", str(output))


def test_score_writes_output_only_on_success(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    output = tmp_path / "scored.jsonl"
    output.write_text("earlier results\n")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "0", "output": "18"}\nnot json\n')
    assert main(["score", "--task", "gsm8k", "--predictions", str(bad), "--output", str(output), "--strict"]) == 2
    assert output.read_text() == "earlier results\n"
    capsys.readouterr()
    assert main(["score", "--task", "gsm8k", "--predictions", str(bad), "--output", str(output)]) == 0
    assert [json.loads(line)["id"] for line in output.read_text().splitlines()] == ["0"]


def test_rescore_of_a_run_in_use_says_what_to_do_in_rescores_terms(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from orcabench.store.schema import Manifest
    from orcabench.store.writer import RunStore

    run = copy_run(tmp_path)
    fingerprint = Manifest.from_json(json.loads((run / "manifest.json").read_text())).fingerprint
    held = RunStore(run).open(fingerprint)
    try:
        assert main(["rescore", str(run)]) == 2
    finally:
        held.close()
    line = one_error_line(capsys, "in use by another orcabench process", "rescore it once that process has finished")
    assert "--output" not in line
