"""`orcabench audit RUN`: how a stored run's answers were read (real runs: tests/test_report.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from store_samples import make_run

from orcabench.report.audit import audit_run
from orcabench.cli.run import main


def _set_methods(run: Path, methods: list[str]) -> None:
    lines = (run / "records.jsonl").read_text().splitlines()
    rows = [json.loads(line) | {"method": method, "answer": None if method == "none" else "a"}
            for line, method in zip(lines, methods)]
    (run / "records.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))


def test_agreement_is_the_share_of_found_answers_the_explicit_rules_read(tmp_path: Path) -> None:
    run = make_run(tmp_path / "run", {"gsm8k": [1, 1, 0, 1, 0, 0]})
    _set_methods(run, ["final-answer-phrase", "boxed", "final-answer-phrase", "last-number", "last-number", "none"])
    (audit,) = audit_run(run)
    assert audit.rules == {"final-answer-phrase": 2, "last-number": 2, "boxed": 1, "none": 1}
    assert (audit.strict_found, audit.found, audit.agreement) == (3, 5, 0.6)
    assert (audit.strict_correct, audit.correct) == (2, 3)
    assert [r.id for r in audit.weak] == ["3", "4"]


def test_nothing_parsed_has_no_agreement_rate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = make_run(tmp_path / "run", {"gsm8k": [0, 0]})
    _set_methods(run, ["none", "none"])
    assert audit_run(run)[0].agreement is None
    assert main(["audit", str(run)]) == 0
    assert "strict-vs-flexible agreement: n/a (nothing parsed)" in capsys.readouterr().out


def test_a_folder_that_is_no_run_is_one_line_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert "is not an orcabench run" in err and len(err.splitlines()) == 1


def test_rules_are_grouped_by_reading_layer_with_loop_and_cut_off_counts(tmp_path: Path,
                                                                         capsys: pytest.CaptureFixture[str]) -> None:
    run = make_run(tmp_path / "run", {"gsm8k": [1, 1, 0, 1, 0, 0]})
    _set_methods(run, ["json-answer", "boxed", "conclusion-number", "last-number", "none", "no-final-answer"])
    lines = [json.loads(line) for line in (run / "records.jsonl").read_text().splitlines()]
    signals = [{}, {"looped": False, "truncated": False}, {"invented_turn": True}, {}, {"looped": True},
               {"looped": False, "truncated": True}]  # the first and fourth: written before the signals were recorded
    (run / "records.jsonl").write_text("".join(json.dumps(row | {"extra": extra}) + "\n" for row, extra in zip(lines, signals)))
    (audit,) = audit_run(run)
    assert audit.layers == {"trace": 1, "structured": 1, "explicit": 1, "conclusion": 1, "weak": 1, "unparsed": 1}
    assert (audit.looped, audit.truncated, audit.invented_turns) == (1, 1, 1)
    assert main(["audit", str(run)]) == 0
    out = capsys.readouterr().out
    assert "by layer: trace 16.7%, structured 16.7%, explicit 16.7%, conclusion 16.7%, weak 16.7%, unparsed 16.7%" in out
    assert "looped: 1, cut off: 1, invented next turn cut: 1 of 6" in out
