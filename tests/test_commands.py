"""The commands around a run: show-prompt, score, rescore, data check, suites."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest
from conftest import orcabench

from orcabench import api
from orcabench.task.summary import TaskSummary, headline, reasoning_average
from orcabench.task.data import sha256_file
from orcabench.task import SUITES, get_tasks
from orcabench.types import Record


def test_suites_expand_to_their_tasks_in_order() -> None:
    assert [t.name for t in get_tasks(["orca2-knowledge", "mmlu", "gsm8k"])] == ["mmlu", "arc-easy", "arc-challenge", "gsm8k"]
    assert SUITES["orca2"][:6] == SUITES["orca2-reasoning"] == ("agieval-mc", "bbh-mc", "drop", "crass", "race", "gsm8k")


def summary(task: str, accuracy: float, subtasks: dict[str, tuple[float, int]] | None = None) -> TaskSummary:
    return TaskSummary(task=task, n=10, accuracy=accuracy, ci_low=0, ci_high=1, unparsed=0, subtasks=subtasks or {})


def test_the_reasoning_average_is_the_papers_six_benchmark_mean_or_nothing() -> None:
    six = [summary("agieval-mc", 0.9, {"a": (0.2, 5), "b": (0.4, 5)}), summary("bbh-mc", 0.5), summary("drop", 0.6),
           summary("crass", 0.7), summary("race", 0.8), summary("gsm8k", 0.1), summary("mmlu", 1.0)]
    average, missing = reasoning_average({s.task: headline(s) for s in six})
    # AGIEval counts with its macro average over subsets (0.3), not its micro accuracy.
    assert missing == [] and average == pytest.approx((0.3 + 0.5 + 0.6 + 0.7 + 0.8 + 0.1) / 6)
    assert reasoning_average({s.task: headline(s) for s in six[1:]}) == (None, ["agieval-mc"])
    assert reasoning_average({"agieval-mc": math.nan, **{s.task: headline(s) for s in six[1:]}}) == (None, ["agieval-mc"])


@pytest.mark.slow
def test_show_prompt_prints_exactly_the_model_input_and_the_gold(smollm2_dir: Path, data_dir: Path) -> None:
    result = orcabench("show-prompt", "--task", "gsm8k", "--index", "3", "--data-dir", str(data_dir))
    assert result.returncode == 0, result.stderr
    question = json.loads((data_dir / "gsm8k/test.jsonl").read_text().splitlines()[3])["question"]
    assert result.stdout == (
        "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n"
        f"<|im_start|>user\n{question}<|im_end|>\n<|im_start|>assistant\n\n"
    )
    assert "# gold: 540" in result.stderr


def test_score_rates_outside_outputs_and_reports_malformed_lines_by_number(tmp_path: Path, data_dir: Path) -> None:
    predictions = tmp_path / "predictions.jsonl"
    lines = [
        {"id": "0", "output": "She makes 9 * 2 = $18 a day. The answer is 18."},  # right
        {"id": "1", "output": "The answer is 4."},  # wrong (gold 3)
        "this is not json",
        {"id": "2", "output": "I cannot tell."},  # unparsed
        {"id": "99999", "output": "7"},  # unknown id
        {"id": "0", "output": "The answer is 5."},  # duplicate: the first counts
        {"id": "3"},  # no output
    ]
    predictions.write_text("\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n")

    scored = api.score_predictions("gsm8k", predictions, data_dir)
    assert [(r.id, r.score, r.method) for r in scored.records] == [
        ("0", 1.0, "final-answer-phrase"), ("1", 0.0, "final-answer-phrase"), ("2", 0.0, "none")]
    assert scored.summary.accuracy == pytest.approx(1 / 3) and scored.summary.unparsed == 1
    assert [p.split(": ", 1)[0] for p in scored.problems] == [f"{predictions}:{n}" for n in (3, 5, 6, 7)]

    result = orcabench("score", "--task", "gsm8k", "--predictions", str(predictions), "--data-dir", str(data_dir),
                       "--output", str(tmp_path / "scored.jsonl"))
    assert result.returncode == 0, result.stderr
    assert f"skipped {predictions}:3: not JSON" in result.stderr
    assert "33.33" in result.stdout
    assert len((tmp_path / "scored.jsonl").read_text().splitlines()) == 3

    strict = orcabench("score", "--task", "gsm8k", "--predictions", str(predictions), "--data-dir", str(data_dir), "--strict")
    assert strict.returncode == 2 and f"{predictions}:3: not JSON" in strict.stderr


def test_score_on_a_multiple_choice_task_maps_option_text_to_letters(tmp_path: Path, data_dir: Path) -> None:
    (arc,) = get_tasks(["arc-easy"])
    example = api.load_examples(arc, data_dir)[0][0]
    gold_text = example.choices["ABCD".index(example.gold)]
    predictions = tmp_path / "arc.jsonl"
    predictions.write_text(json.dumps({"id": example.id, "output": f"The answer is {gold_text}."}) + "\n")
    scored = api.score_predictions("arc-easy", predictions, data_dir)
    assert scored.records[0].answer == example.gold and scored.summary.accuracy == 1.0


def test_rescore_applies_the_current_extractor_to_stored_outputs_and_keeps_the_old_records(tmp_path: Path,
                                                                                           data_dir: Path) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    files = {"gsm8k/test.jsonl": sha256_file(data_dir / "gsm8k/test.jsonl")}
    fingerprint = {"tasks": {"gsm8k": {"version": "1", "data": files}}}
    (run_dir / "manifest.json").write_text(json.dumps({"fingerprint": fingerprint,
                                                       "data": {"gsm8k": {"data_dir": str(data_dir)}}}))
    stale = [  # scored by an older extractor that missed "The answer is"
        Record(task="gsm8k", id="0", subtask=None, prompt="p", prompt_sha256="h", output="So the answer is 18 dollars.",
               answer=None, method="none", gold="18", score=0.0, prompt_tokens=1, output_tokens=1, finish_reason="stop"),
        Record(task="gsm8k", id="1", subtask=None, prompt="p", prompt_sha256="h", output="It takes 2 + 1 = 3 bolts.",
               answer="3", method="conclusion-number", gold="3", score=1.0, prompt_tokens=1, output_tokens=1,
               finish_reason="stop"),
    ]
    (run_dir / "records.jsonl").write_text("".join(json.dumps(r.to_json()) + "\n" for r in stale))

    result = orcabench("rescore", str(run_dir))
    assert result.returncode == 0, result.stderr
    assert "1 record(s) changed" in result.stdout
    records = [json.loads(line) for line in (run_dir / "records.jsonl").read_text().splitlines()]
    assert [(r["id"], r["answer"], r["method"], r["score"]) for r in records] == [
        ("0", "18", "final-answer-phrase", 1.0), ("1", "3", "conclusion-number", 1.0)]
    manifest = json.loads((run_dir / "manifest.json").read_text())
    backup = run_dir / manifest["rescores"][0]["previous_records"]
    assert manifest["rescores"][0]["changed"] == 1
    assert backup.read_text() == "".join(json.dumps(r.to_json()) + "\n" for r in stale)


def test_rescore_of_something_that_is_not_a_run_is_a_clear_error(tmp_path: Path) -> None:
    result = orcabench("rescore", str(tmp_path))
    assert result.returncode == 2 and "is not an orcabench run" in result.stderr


def test_data_check_passes_on_the_staged_mirror(data_dir: Path) -> None:
    checks = {c.task: c for c in api.check_data(data_dir, ["gsm8k", "bbh", "mmlu"])}
    assert {name: (c.status, c.examples) for name, c in checks.items()} == {
        "gsm8k": ("ok", 1319), "bbh": ("ok", 6511), "mmlu": ("ok", 14042)}


def test_data_check_finds_a_corrupt_row_and_a_changed_file(tmp_path: Path, data_dir: Path) -> None:
    mirror = tmp_path / "mirror"
    (mirror / "gsm8k").mkdir(parents=True)
    lines = (data_dir / "gsm8k/test.jsonl").read_text().splitlines()
    lines[41] = lines[41][:30]  # a torn row
    (mirror / "gsm8k/test.jsonl").write_text("\n".join(lines) + "\n")
    shutil.copy(data_dir / "manifest.json", mirror / "manifest.json")
    result = orcabench("data", "check", "--data-dir", str(mirror), "--tasks", "gsm8k")
    assert result.returncode == 1
    assert f"gsm8k: malformed row {mirror}/gsm8k/test.jsonl:42: " in result.stdout
    (mirror / "gsm8k/test.jsonl").write_text("\n".join(lines[:41] + lines[42:]) + "\n")
    (check,) = api.check_data(mirror, ["gsm8k"])
    assert check.status == "failed" and "differs from manifest.json" in check.problems[0]
