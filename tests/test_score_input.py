"""`orcabench score` reads predictions lines as a user gives them: a run's records.jsonl (lines of several tasks),
a BOM, text that is not Unicode. Every line is either scored, skipped with its reason, or counted as another
task's; nothing crashes, and ``--output`` is written whole or left as it was."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orcabench import api
from orcabench.cli.run import main
from orcabench.types import OrcabenchError

GSM8K_EXAMPLES = 1319


def write_lines(path: Path, lines: list[object]) -> Path:
    path.write_text("".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines), encoding="utf-8")
    return path


def test_a_runs_records_file_scores_only_its_own_tasks_lines(tmp_path: Path, data_dir: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    records = write_lines(tmp_path / "records.jsonl", [
        {"task": "gsm8k", "id": "0", "output": "The answer is 18."},
        {"task": "drop", "id": "0", "output": "The answer is 7."},  # same id, another task: not a duplicate
        {"task": "gsm8k", "id": "1", "output": "The answer is 3."},
        {"task": "drop", "id": "1", "output": "The answer is 8."},
        {"task": "arc-easy", "id": "0", "output": "B"},
    ])
    scored = api.score_predictions("gsm8k", records, data_dir)
    assert [r.id for r in scored.records] == ["0", "1"] and scored.summary.accuracy == 1.0
    assert scored.problems == []
    assert scored.other_tasks == {"drop": 2, "arc-easy": 1}
    assert scored.without_prediction == GSM8K_EXAMPLES - 2

    assert main(["score", "--task", "gsm8k", "--predictions", str(records), "--data-dir", str(data_dir)]) == 0
    stderr = capsys.readouterr().err
    assert "skipped 3 line(s) of other tasks (arc-easy: 1, drop: 2)" in stderr
    assert f"{GSM8K_EXAMPLES - 2} of {GSM8K_EXAMPLES} gsm8k example(s) had no prediction" in stderr
    assert "duplicate" not in stderr


def test_a_byte_order_mark_does_not_cost_the_first_line(tmp_path: Path, data_dir: Path) -> None:
    path = tmp_path / "bom.jsonl"
    path.write_bytes("\ufeff".encode() + b'{"id": "0", "output": "18"}\n{"id": "1", "output": "3"}\n')
    scored = api.score_predictions("gsm8k", path, data_dir)
    assert [r.id for r in scored.records] == ["0", "1"] and scored.problems == []


def test_text_that_is_not_unicode_is_reported_for_its_line_and_the_rest_is_scored(tmp_path: Path, data_dir: Path) -> None:
    path = tmp_path / "odd.jsonl"
    path.write_bytes(b'{"id": "0", "output": "lone \\ud800 surrogate"}\n'
                     b'{"id": "1", "output": "\xff\xfe not utf-8"}\n'
                     b'{"id": "2", "output": "The answer is 7."}\n')
    output = tmp_path / "scored.jsonl"
    output.write_text("earlier\n")
    scored = api.score_predictions("gsm8k", path, data_dir, output=output)
    assert [r.id for r in scored.records] == ["2"]
    assert [p.removeprefix(f"{path}:") for p in scored.problems] == [
        "1: holds a lone surrogate ('\\ud800'), which is not Unicode text",
        "2: not UTF-8 text (byte 0xff at column 24)"]
    assert [json.loads(line)["id"] for line in output.read_text().splitlines()] == ["2"]


# Property: whatever the lines, each non-blank one is accounted for exactly once, and --output is all or nothing.

VALID_IDS = ["0", "1", "2", "3"]
texts = st.text(alphabet=st.characters(codec=None, exclude_categories=["Cc"]), max_size=30)  # surrogates included
ids = st.one_of(st.sampled_from(VALID_IDS), st.integers(-2, 5), st.text(max_size=4), st.none())
objects = st.fixed_dictionaries(
    {}, optional={"id": ids, "output": st.one_of(texts, st.integers(), st.none()),
                  "task": st.one_of(st.sampled_from(["gsm8k", "drop", "bbh"]), st.integers()),
                  "reasoning_content": texts, "prompt": texts, "finish_reason": st.one_of(texts, st.none())})
lines = st.one_of(
    objects.map(lambda o: json.dumps(o).encode()),
    objects.map(lambda o: json.dumps(o, ensure_ascii=False).encode("utf-8", errors="surrogatepass")),
    st.binary(max_size=40).map(lambda b: b.replace(b"\n", b"")),
    st.just(b""), st.just(b"   "), st.just("\ufeff".encode()),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(lines, max_size=12), st.booleans())
def test_every_predictions_line_is_scored_skipped_or_counted_never_a_crash(
        tmp_path: Path, data_dir: Path, body: list[bytes], bom: bool) -> None:
    path = tmp_path / "p.jsonl"
    path.write_bytes(("\ufeff".encode() if bom else b"") + b"".join(line + b"\n" for line in body))
    output = tmp_path / "scored.jsonl"
    output.write_text("earlier\n")
    raw = [("\ufeff".encode() if bom else b"") + body[0], *body[1:]] if body else []
    content = [line for line in [raw[0].removeprefix("\ufeff".encode()), *raw[1:]] if line.strip()] if raw else []
    try:
        scored = api.score_predictions("gsm8k", path, data_dir, output=output)
    except OrcabenchError:
        assert output.read_text() == "earlier\n"  # a refusal writes nothing
        return
    assert len(scored.records) + len(scored.problems) + sum(scored.other_tasks.values()) == len(content)
    assert scored.without_prediction == GSM8K_EXAMPLES - len(scored.records)
    written = [json.loads(line) for line in output.read_text(encoding="utf-8").splitlines()]
    assert [w["id"] for w in written] == [r.id for r in scored.records]
