"""Exit codes are a contract (README, "Exit codes"): an error never borrows a verdict's code.

Every command is run with a forced internal error (an inner function made to raise): it must exit 4 — never
0, 1 or 3, which scripts and CI read as results — with one line on stderr naming the error and a file that
holds the traceback. Ctrl-C exits 130 and says how to resume where resuming applies.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from orcabench.cli import failures
from orcabench.cli.run import main

REPO = Path(__file__).resolve().parents[1]
FIXTURE_RUN = REPO / "tests" / "fixtures" / "run-v1-gsm8k"


def forced(*args: object, **kwargs: object) -> None:
    raise RuntimeError("forced failure for the exit-code contract")


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    return Path(shutil.copytree(FIXTURE_RUN, tmp_path / "runs" / "run-v1-gsm8k"))


def commands(run: Path, tmp: Path) -> list[tuple[list[str], str]]:
    """Each command with the inner function forced to fail (``module:attribute``; a class attribute is patched on the
    class, so it is reached however the command imports what it uses)."""
    predictions = tmp / "predictions.jsonl"
    predictions.write_text('{"id": "0", "output": "42"}\n')
    registry, manifest = "orcabench.registry:Registry._ensure", "orcabench.store.schema:Manifest.from_json"
    campaign = tmp / "campaign.yaml"
    campaign.write_text(f"name: c\ntasks: [gsm8k]\nlimit: 1\nmodels: [{{model: smollm2-135m, backend: hf}}]\n"
                        f"output: {tmp / 'campaign'}\n")
    return [
        (["list", "tasks"], registry),
        (["list", "models"], registry),
        (["run", "--limit", "1", "--dry-run"], registry),
        (["run", "--limit", "1", "--output", str(tmp / "new-run")], registry),
        (["show-prompt", "--task", "gsm8k"], registry),
        (["score", "--task", "gsm8k", "--predictions", str(predictions)], registry),
        (["rescore", str(run)], manifest),
        (["runs", str(run.parent)], manifest),
        (["report", str(run), "--out", str(tmp / "report")], manifest),
        (["gate", "--baseline", str(run), "--candidate", str(run)], manifest),
        (["gate", "--baseline", str(run), "--candidate", str(run), "--sequential"], manifest),
        (["compare", str(run), str(run)], manifest),
        (["audit", str(run)], manifest),
        (["data", "check", "--tasks", "gsm8k"], registry),
        (["data", "download", "--tasks", "gsm8k", "--out", str(tmp / "mirror")], registry),
        (["import", "lm-eval", str(predictions)], "orcabench.lmeval.records:read_output"),
        (["serve"], registry),
        (["campaign", "run", str(campaign), "--dry-run"], registry),
        (["campaign", "status", str(campaign)], registry),
        (["campaign", "report", str(campaign)], registry),
    ]


def patch(monkeypatch: pytest.MonkeyPatch, target: str, replacement: object) -> None:
    module_name, _, attribute = target.partition(":")
    owner: object = __import__(module_name, fromlist=["_"])
    *classes, name = attribute.split(".")
    for class_name in classes:
        owner = getattr(owner, class_name)
    monkeypatch.setattr(owner, name, replacement)


@pytest.mark.parametrize("index", range(20))
def test_an_internal_error_exits_4_with_one_line_naming_a_traceback_file(
        index: int, run_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    args, target = commands(run_dir, tmp_path)[index]
    patch(monkeypatch, target, forced)
    code = main(args)
    stderr = capsys.readouterr().err
    assert code not in (failures.OK, failures.REGRESSION, failures.INCONCLUSIVE), (args, stderr)
    assert code == failures.INTERNAL_ERROR, (args, stderr)
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert "Traceback" not in stderr
    error_lines = [line for line in lines if line.startswith("internal error: ")]
    assert len(error_lines) == 1, stderr
    assert "RuntimeError: forced failure for the exit-code contract" in error_lines[0]
    match = re.search(r"traceback in (\S+?);", error_lines[0])
    assert match, error_lines[0]
    saved = Path(match.group(1))
    try:
        text = saved.read_text()
        assert "Traceback (most recent call last)" in text and "forced failure" in text
        assert text.startswith("orcabench " + " ".join(args))
    finally:
        saved.unlink()


def test_every_command_is_in_the_forced_error_list(run_dir: Path, tmp_path: Path) -> None:
    from orcabench.cli.app import app

    def names(group: object, prefix: str = "") -> set[str]:
        found = {prefix + (c.name or c.callback.__name__) for c in group.registered_commands}  # type: ignore[attr-defined]
        for sub in group.registered_groups:  # type: ignore[attr-defined]
            found |= names(sub.typer_instance, prefix + sub.name + " ")
        return found

    covered = {" ".join(args[:2]) if args[0] in ("list", "data", "import", "campaign") else args[0]
               for args, _ in commands(run_dir, tmp_path)}
    missing = {name.replace("_", "-") for name in names(app)} - covered - {"version"}  # version cannot fail
    assert not missing, f"commands without a forced-error case: {missing}"


@pytest.mark.parametrize(("args", "resumable"), [(["run", "--limit", "1", "--dry-run"], True), (["list", "tasks"], False)])
def test_ctrl_c_exits_130_and_says_how_to_resume_where_resuming_applies(
        args: list[str], resumable: bool, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    def interrupt(*_: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("orcabench.registry.Registry._ensure", interrupt)
    assert main(args) == failures.INTERRUPTED
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    expected = "interrupted — rerun the same command to resume" if resumable else "interrupted"
    assert lines[-1].startswith(expected)
    assert ("rerun" in lines[-1]) == resumable


def test_a_filesystem_error_on_a_users_path_is_bad_input_not_a_crash(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    def unreadable(*_: object, **__: object) -> None:
        raise PermissionError(13, "Permission denied", str(tmp_path / "runs" / "manifest.json"))

    monkeypatch.setattr("orcabench.store.schema.Manifest.from_json", unreadable)
    run = shutil.copytree(FIXTURE_RUN, tmp_path / "runs" / "r")
    assert main(["audit", str(run)]) == failures.BAD_INPUT
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert lines == [f"error: {tmp_path / 'runs' / 'manifest.json'}: Permission denied; check the path and its permissions"]


def test_the_readme_table_lists_each_exit_code() -> None:
    readme = (REPO / "README.md").read_text()
    table = readme[readme.index("### Exit codes"):].split("\n\n")[2]
    codes = {int(row.split("|")[1]) for row in table.splitlines()[2:]}
    assert codes == {failures.OK, failures.REGRESSION, failures.BAD_INPUT, failures.INCONCLUSIVE, failures.INTERNAL_ERROR,
                     failures.INTERRUPTED}
