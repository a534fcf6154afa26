"""``results.json``: every finished session writes it beside the manifest (docs/results.md); the reports read it
where it is present, current and of the run's fingerprint, and rebuild the same from the records where not."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from store_samples import make_run
from test_run_engine import Interrupted, ScriptedBackend, planned, plain_model  # noqa: F401  (plain_model: a fixture)

from orcabench import api
from orcabench.cli.run import main
from orcabench.store.reader import load_run
from orcabench.task.results_file import (
    RESULTS_FILE,
    ResultsFile,
    fingerprint_id,
    parse_results,
    read_results,
    write_results,
)
from orcabench.task.summary import summarize
from orcabench.types import OrcabenchError


def test_a_finished_run_writes_its_results_beside_the_manifest(plain_model: Path, tmp_path: Path,  # noqa: F811
                                                               data_dir: Path) -> None:
    plan = planned(plain_model, tmp_path, data_dir, tasks=("gsm8k", "mmlu-ll"), limit=3)
    with api.RunSession(plan, load=lambda _: ScriptedBackend()) as session:
        session.execute()
    data = json.loads((plan.run_dir / RESULTS_FILE).read_text())
    results = ResultsFile.model_validate(data)  # unknown keys refused: the file is exactly the schema
    run = load_run(plan.run_dir)
    assert data["kind"] == "orcabench-results" and data["schema_version"] == 1
    assert data["variants"] is None  # a run without variants: the file is as before they were filled
    assert results.fingerprint_id == fingerprint_id(run.fingerprint) == run.fingerprint.digest()
    assert set(results.tasks) == {"gsm8k", "mmlu-ll"}
    for task, result in results.tasks.items():
        summary = summarize(task, [r for r in run.records.values() if r.task == task])
        assert (result.n, result.micro_accuracy, result.unparsed_rate) == (summary.n, summary.accuracy, summary.unparsed_rate)
        assert (result.micro_interval.low, result.micro_interval.high) == (summary.ci_low, summary.ci_high)
        assert result.micro_interval.kind == "wilson" and result.subset  # --limit 3: not the full test set
    gsm8k, mmlu = results.tasks["gsm8k"], results.tasks["mmlu-ll"]
    assert gsm8k.metric == "accuracy" and gsm8k.value == gsm8k.micro_accuracy and gsm8k.subtasks == {}
    assert mmlu.metric == "macro_accuracy" and mmlu.interval.kind == "stratified" and mmlu.subtasks
    assert mmlu.interval == mmlu.macro_interval
    (plan.run_dir / RESULTS_FILE).unlink()
    api.rescore(plan.run_dir, data_dir)  # a rescore changes scores: it writes the results again
    assert read_results(plan.run_dir).tasks == results.tasks  # type: ignore[union-attr]


def test_a_session_that_does_not_finish_writes_no_results(plain_model: Path, tmp_path: Path,  # noqa: F811
                                                          data_dir: Path) -> None:
    plan = planned(plain_model, tmp_path, data_dir, tasks=("gsm8k",), limit=4)
    with pytest.raises(KeyboardInterrupt):
        with api.RunSession(plan, load=lambda _: Interrupted(group=2)) as session:
            session.execute()
    assert not (plan.run_dir / RESULTS_FILE).exists()
    with api.RunSession(plan, load=lambda _: ScriptedBackend()) as session:  # resumed to the end: written, all four
        session.execute()
    assert read_results(plan.run_dir).tasks["gsm8k"].n == 4  # type: ignore[union-attr]


def test_reading_is_strict_unknown_or_missing_keys_are_one_line(tmp_path: Path) -> None:
    run = make_run(tmp_path / "run", {"gsm8k": [1.0, 0.0, 1.0]}, finished="2026-01-01T00:00:00Z")
    stored = load_run(run)
    write_results(run, stored.manifest, stored.records.values())
    data = json.loads((run / RESULTS_FILE).read_text())
    with pytest.raises(OrcabenchError, match=r"^x: surprise: Extra inputs are not permitted$"):
        parse_results({**data, "surprise": 1}, "x")
    del data["tasks"]["gsm8k"]["n"]
    with pytest.raises(OrcabenchError, match=r"^x: tasks.gsm8k.n: Field required$"):
        parse_results(data, "x")
    assert parse_results({**json.loads((run / RESULTS_FILE).read_text()), "variants": None}, "x").variants is None


def test_a_version_1_file_from_before_variants_were_filled_reads_and_variants_are_read_strictly(tmp_path: Path) -> None:
    run = make_run(tmp_path / "run", {"gsm8k": [1.0, 0.0, 1.0]}, finished="2026-01-01T00:00:00Z")
    stored = load_run(run)
    write_results(run, stored.manifest, stored.records.values())
    data = json.loads((run / RESULTS_FILE).read_text())
    assert data["variants"] is None
    older = {key: value for key, value in data.items() if key != "variants"}  # the key was optional from the start
    assert parse_results(older, "x").variants is None
    spread = {"kind": "prompt", "per_variant": {"zeroshot": {"accuracy": 0.5, "n": 2}, "zeroshot-p1": {"accuracy": 1.0, "n": 2}},
              "mean": 0.75, "min": 0.5, "max": 1.0, "sd": 0.35, "questions": 2, "between_question": 0.0,
              "between_variant": 0.1, "residual": 0.1}
    read = parse_results({**data, "variants": {"gsm8k": spread}}, "x").variants
    assert read is not None and read["gsm8k"].circular is None and read["gsm8k"].per_variant["zeroshot"].n == 2
    with pytest.raises(OrcabenchError, match=r"^x: variants.gsm8k.surprise: Extra inputs are not permitted$"):
        parse_results({**data, "variants": {"gsm8k": {**spread, "surprise": 1}}}, "x")


def runs_for_report(tmp_path: Path) -> list[Path]:
    """A clustered RACE-shaped run with subtasks, and a plain one: the table's every kind of cell."""
    race = [1.0, 0.0, 1.0, 1.0, 0.0, 0.0, 1.0, 1.0]
    return [make_run(tmp_path / "a", {"race": race, "gsm8k": [1.0, 0.0, 0.5]}, finished="2026-01-01T00:00:00Z",
                     subtasks={"race": ["high"] * 4 + ["middle"] * 4},
                     clusters={"race": ["p1", "p1", "p2", "p2", "p3", "p3", "p4", "p4"]}),
            make_run(tmp_path / "b", {"race": race[::-1], "gsm8k": [0.0, 0.0, 1.0]}, model__name="other",
                     finished="2026-01-02T00:00:00Z")]


def report_files(runs: list[Path], out: Path, capsys: pytest.CaptureFixture[str]) -> tuple[dict[str, str], str]:
    assert main(["report", *map(str, runs), "--no-reference", "--format", "md,csv,latex", "--out", str(out)]) == 0
    printed = capsys.readouterr()
    return {p.name: p.read_text() for p in sorted(out.iterdir()) if p.is_file()}, printed.out + printed.err


def test_the_report_is_the_same_from_results_json_and_from_the_records(tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    runs = runs_for_report(tmp_path)
    rebuilt, _ = report_files(runs, tmp_path / "from-records", capsys)
    for run in runs:
        stored = load_run(run)
        write_results(run, stored.manifest, stored.records.values())
    read, _ = report_files(runs, tmp_path / "from-file", capsys)
    assert read == rebuilt and "report.md" in read and "tasks.csv" in read

    path = runs[0] / RESULTS_FILE  # it is read: a value changed in the file shows in the table
    data = json.loads(path.read_text())
    data["tasks"]["gsm8k"]["value"] = 0.25
    path.write_text(json.dumps(data))
    tampered, _ = report_files(runs, tmp_path / "tampered", capsys)
    assert tampered["report.md"] != rebuilt["report.md"] and "25.00" in tampered["report.md"]


def test_a_results_json_of_another_fingerprint_is_ignored_with_a_note(tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    runs = runs_for_report(tmp_path)
    rebuilt, _ = report_files(runs, tmp_path / "from-records", capsys)
    stored = load_run(runs[0])
    write_results(runs[0], stored.manifest, stored.records.values())
    path = runs[0] / RESULTS_FILE
    data = json.loads(path.read_text())
    data["fingerprint_id"], data["tasks"]["gsm8k"]["value"] = "0" * 64, 0.25  # copied from another run
    path.write_text(json.dumps(data))
    read, printed = report_files(runs, tmp_path / "other", capsys)
    assert read == rebuilt
    ours = stored.fingerprint.digest()[:12]
    assert f"{path}: written for another fingerprint (000000000000, the run's is {ours}); ignored, rebuilt from the records" \
        in " ".join(printed.split())


def test_a_results_json_older_than_the_records_is_rebuilt(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    runs = runs_for_report(tmp_path)
    stored = load_run(runs[1])
    write_results(runs[1], stored.manifest, [r for r in stored.records.values() if r.id != "2"])  # before the last record
    data = json.loads((runs[1] / RESULTS_FILE).read_text())
    assert data["tasks"]["gsm8k"]["n"] == 2
    results = api.report(runs, tmp_path / "out", ["md"], None, False)[0].results
    assert results.tasks.set_index(["entry", "task"]).loc[("other · hf", "gsm8k"), "n"] == 3 and not results.read_notes
