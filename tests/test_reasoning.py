"""Reasoning traces: only the final answer is read, the trace is kept, and a trace with no
answer after it is its own unparsed reason (``no-final-answer``).

The splitter's rules read as a table; scoring runs on the real tasks and staged data;
model files render through a real chat template (a local tokenizer folder built from the
bundled SmolLM2's tokenizer with a template that honours ``enable_thinking``). The real
server test (vLLM with a reasoning parser) is ``tests/test_reasoning_server.py``.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from conftest import orcabench

from orcabench import api
from orcabench.engine.execute import pending_item
from orcabench.engine.plan import load_examples
from orcabench.models.prompts import PromptRenderer
from orcabench.store.writer import RunStore
from orcabench.models.registry import ThinkingFormat, resolve_model
from orcabench.answers.traces import judge, split
from orcabench.report.results import load_results
from orcabench.task.summary import summarize
from orcabench.task import get_tasks
from orcabench.types import NO_FINAL_ANSWER, Completion, OrcabenchError, Record

THINKING_TEMPLATE = Path(__file__).parent / "reasoning" / "thinking.jinja"
PERCENT = ThinkingFormat(start="[[", end="]]")


@pytest.mark.parametrize(("text", "opened", "separate", "markers", "trace", "answer"), [
    # a closed trace: the answer is what follows it
    ("<think>2 + 2 is 5? No.</think>The answer is 4.", False, None, None, "2 + 2 is 5? No.", "The answer is 4."),
    # the prompt opened the trace (DeepSeek-R1 distills): the output only closes it
    ("Maybe 5.\n</think>\n\n4", True, None, None, "Maybe 5.", "4"),
    ("Maybe 5.\n</think>\n\n4", False, None, None, "Maybe 5.", "4"),
    # the budget ran out inside the trace: no final answer
    ("<think>First, 12 * 3 = 36, so", False, None, None, "First, 12 * 3 = 36, so", None),
    ("First, 12 * 3 = 36, so", True, None, None, "First, 12 * 3 = 36, so", None),
    # no trace at all: the whole output is the answer
    ("The answer is 4.", False, None, None, None, "The answer is 4."),
    # the last closing marker ends the trace (a trace that quotes the marker stays trace)
    ("<think>write </think> last?</think> 7", False, None, None, "write </think> last?", "7"),
    # a second trace the budget ran out in is trace too
    ("<think>a</think> 7 <think>check: 8", False, None, None, "a\ncheck: 8", "7"),
    # a trace the server returned apart: the text is the answer, empty text is none
    ("The answer is 4.", True, "hmm, 5?", None, "hmm, 5?", "The answer is 4."),
    ("", False, "hmm, 5?", None, "hmm, 5?", None),
    # a model's own markers
    ("[[ 5? ]] 4", False, None, PERCENT, "5?", "4"),
    ("<think>x</think> 4", False, None, PERCENT, None, "<think>x</think> 4"),
])
def test_the_splitter_separates_the_trace_from_the_final_answer(
    text: str, opened: bool, separate: str | None, markers: ThinkingFormat | None, trace: str | None, answer: str | None
) -> None:
    parts = split(text, markers or ThinkingFormat(), opened=opened, separate=separate)
    assert (parts.trace, parts.answer) == (trace, answer)


def _gsm8k(data_dir: Path) -> tuple[object, dict[str, object]]:
    (task,) = get_tasks(["gsm8k"])
    return task, {e.id: e for e in load_examples(task, data_dir)[0][:3]}  # golds: 18, 3, 70000


def test_an_answer_in_the_trace_is_never_read_only_the_final_answer_is(data_dir: Path) -> None:
    task, examples = _gsm8k(data_dir)
    right_after_wrong = Completion(text="<think>16 - 3 = 13, so the answer is 26.</think>\nShe makes $18.", finish_reason="stop")
    judged = judge(task, examples["0"], [right_after_wrong])
    assert (judged.score.answer, judged.score.score, judged.trace) == ("18", 1.0, "16 - 3 = 13, so the answer is 26.")

    wrong_after_right = Completion(text="<think>The answer is 18.</think>\nThe answer is 20.")
    assert judge(task, examples["0"], [wrong_after_right]).score.score == 0.0


def test_a_budget_spent_inside_the_trace_is_no_final_answer_even_when_the_trace_holds_the_gold(data_dir: Path) -> None:
    task, examples = _gsm8k(data_dir)
    truncated = Completion(text="<think>She sells 9 eggs, 9 * 2 = 18, the answer is 18", finish_reason="length")
    judged = judge(task, examples["0"], [truncated], count_tokens=lambda text: len(text.split()))
    assert (judged.score.method, judged.score.answer, judged.score.score) == (NO_FINAL_ANSWER, None, 0.0)
    assert judged.trace_tokens == 13  # counted where the backend did not count it
    # the prompt opened the trace: an output with no marker at all is all trace
    opened = judge(task, examples["0"], [Completion(text="9 * 2 = 18", finish_reason="length")], prompt="…assistant\n<think>\n")
    assert opened.score.method == NO_FINAL_ANSWER
    # a server's separate trace with no content
    server = judge(task, examples["0"], [Completion(text="", reasoning="the answer is 18", reasoning_tokens=6)])
    assert (server.score.method, server.trace, server.trace_tokens, server.from_server) == (
        NO_FINAL_ANSWER, "the answer is 18", 6, True)


def test_no_final_answer_counts_as_unparsed_and_apart_in_summaries_and_reports(tmp_path: Path) -> None:
    def rec(sample_id: str, method: str, score: float, reasoning: str | None) -> Record:
        return Record(task="gsm8k", id=sample_id, subtask=None, prompt="p", prompt_sha256="h", output="o", answer=None,
                      method=method, gold="1", score=score, prompt_tokens=1, output_tokens=1, finish_reason="length",
                      reasoning=reasoning)

    records = [rec("0", "last-number", 1.0, "t"), rec("1", NO_FINAL_ANSWER, 0.0, "t"), rec("2", "none", 0.0, None),
               rec("3", NO_FINAL_ANSWER, 0.0, "t")]
    assert not records[1].parsed
    summary = summarize("gsm8k", records)
    assert (summary.unparsed, summary.no_final_answer, summary.traces, summary.no_final_answer_rate) == (3, 2, 3, 0.5)

    run = tmp_path / "run"
    run.mkdir()
    fingerprint = {"model": {"name": "qwen3-0.6b"}, "backend": "vllm", "protocol": "default",
                   "tasks": {"gsm8k": {"version": "1"}}}
    (run / "manifest.json").write_text(json.dumps({"fingerprint": fingerprint, "sessions": []}))
    (run / "records.jsonl").write_text("".join(json.dumps(r.to_json()) + "\n" for r in records))
    row = load_results([run], reference=False).tasks.iloc[0]
    assert (row["unparsed_rate"], row["no_final_answer_rate"]) == (0.75, 0.5)


def test_score_reads_traces_truncated_traces_and_reasoning_content_and_counts_no_final_answer(
    tmp_path: Path, data_dir: Path
) -> None:
    predictions = tmp_path / "reasoning.jsonl"
    lines = [
        {"id": "0", "output": "<think>The answer is 26? No: 16 - 3 - 4 = 9, 9 * 2 = 18.</think>\nThe answer is 18."},
        {"id": "1", "output": "<think>2 + 1 = 3 bolts, the answer is 3", "finish_reason": "length"},
        {"id": "2", "output": "The answer is 70000.", "reasoning_content": "Maybe the answer is 5."},
        {"id": "3", "output": "", "reasoning_content": "The answer is 540", "finish_reason": "length", "reasoning_tokens": 5},
    ]
    predictions.write_text("".join(json.dumps(line) + "\n" for line in lines))
    result = orcabench("score", "--task", "gsm8k", "--predictions", str(predictions), "--data-dir", str(data_dir),
                       "--output", str(tmp_path / "scored.jsonl"))
    assert result.returncode == 0, result.stderr
    scored = [json.loads(line) for line in (tmp_path / "scored.jsonl").read_text().splitlines()]
    assert [(r["id"], r["answer"], r["method"], r["score"]) for r in scored] == [
        ("0", "18", "final-answer-phrase", 1.0), ("1", None, NO_FINAL_ANSWER, 0.0),
        ("2", "70000", "final-answer-phrase", 1.0), ("3", None, NO_FINAL_ANSWER, 0.0)]
    assert [r["reasoning"] for r in scored] == [
        "The answer is 26? No: 16 - 3 - 4 = 9, 9 * 2 = 18.", "2 + 1 = 3 bolts, the answer is 3", "Maybe the answer is 5.",
        "The answer is 540"]
    assert scored[3]["reasoning_tokens"] == 5 and scored[1]["finish_reason"] == "length"
    header, row = _table_row(result.stdout, "gsm8k")
    assert row[header.index("no final answer")] == "2 (50.0%)" and row[header.index("unparsed")] == "50.0%"


def _table_row(table: str, first: str) -> tuple[list[str], list[str]]:
    rows = [[cell.strip() for cell in line.strip("│┃ ").replace("┃", "│").split("│")] for line in table.splitlines()
            if line.startswith(("│", "┃"))]
    return rows[0], next(r for r in rows if r[0] == first)


def test_rescore_keeps_reading_final_answers_with_the_runs_markers(tmp_path: Path, data_dir: Path) -> None:
    from orcabench.task.data import sha256_file

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    files = {"gsm8k/test.jsonl": sha256_file(data_dir / "gsm8k/test.jsonl")}
    fingerprint = {"model": {"name": "m", "reasoning": {"start": "[[", "end": "]]", "enable_thinking": None}},
                   "tasks": {"gsm8k": {"version": "1", "data": files}}}
    manifest = {"fingerprint": fingerprint, "data": {"gsm8k": {"data_dir": str(data_dir)}}}
    (run_dir / "manifest.json").write_text(json.dumps(manifest))
    stale = [  # scored before traces were split: read from the trace
        Record(task="gsm8k", id="0", subtask=None, prompt="p", prompt_sha256="h", output="[[ so 18 ]] I think 26.",
               answer="26", method="last-number", gold="18", score=0.0, prompt_tokens=1, output_tokens=1, finish_reason="stop"),
        Record(task="gsm8k", id="1", subtask=None, prompt="p", prompt_sha256="h", output="[[ 2 + 1 = 3", answer="3",
               method="last-number", gold="3", score=1.0, prompt_tokens=1, output_tokens=1, finish_reason="length"),
    ]
    (run_dir / "records.jsonl").write_text("".join(json.dumps(r.to_json()) + "\n" for r in stale))
    result = api.rescore(run_dir)
    assert [(r.id, r.answer, r.method, r.reasoning) for r in RunStore(run_dir).records().values()] == [
        ("0", "26", "last-number", "so 18"), ("1", None, NO_FINAL_ANSWER, "2 + 1 = 3")]
    assert result.changed == 2 and result.summaries[0].no_final_answer == 1


# -- model files: markers and enable_thinking, rendered through a real chat template -----------


@pytest.fixture
def thinking_model_file(tmp_path: Path, smollm2_dir: Path) -> Path:
    """A model YAML file naming reasoning markers and enable_thinking, over a local tokenizer
    folder (the bundled SmolLM2's tokenizer and weights) whose chat template honours enable_thinking."""
    folder = tmp_path / "thinker"
    folder.mkdir()
    for name in ("config.json", "tokenizer.json", "tokenizer_config.json"):
        shutil.copy(smollm2_dir / name, folder / name)
    shutil.copy(THINKING_TEMPLATE, folder / "chat_template.jinja")
    path = tmp_path / "thinker.yaml"
    path.write_text(yaml.safe_dump({"name": "thinker", "source": "thinker", "engine": {"dtype": "float32"},
                                    "reasoning": {"start": "<think>", "end": "</think>", "enable_thinking": False}}))
    return path


def test_a_model_file_names_its_markers_and_turns_thinking_off_or_on_through_the_chat_template(
    thinking_model_file: Path, data_dir: Path
) -> None:
    spec = resolve_model(str(thinking_model_file))
    assert spec.reasoning == ThinkingFormat("<think>", "</think>", enable_thinking=False)

    off = orcabench("show-prompt", "--task", "gsm8k", "--model", str(thinking_model_file), "--data-dir", str(data_dir))
    assert off.returncode == 0, off.stderr
    assert off.stdout.endswith("<|im_start|>assistant\n<think>\n\n</think>\n\n\n")  # the empty trace: no thinking
    assert "trace between <think> and </think>" in off.stderr and "enable_thinking: off" in off.stderr

    on = api.show_prompt("gsm8k", str(thinking_model_file), data_dir=data_dir, thinking=True)
    assert on.prompt.endswith("<|im_start|>assistant\n<think>\n") and on.reasoning and on.reasoning.enable_thinking

    dry = orcabench("run", "--model", str(thinking_model_file), "--tasks", "gsm8k", "--limit", "1", "--data-dir", str(data_dir),
                    "--thinking", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    shown, _ = json.JSONDecoder().raw_decode(dry.stdout)
    assert shown["model"]["reasoning"] == {"start": "<think>", "end": "</think>", "enable_thinking": True}
    assert dry.stdout.endswith("<|im_start|>assistant\n<think>\n\n") and "enable_thinking: on" in dry.stderr


def test_the_chat_endpoint_is_told_the_template_arguments_the_prompt_was_rendered_with(
    thinking_model_file: Path, data_dir: Path
) -> None:
    resolved = api.plan(api.RunConfig(selection=api.Selection(model=str(thinking_model_file), tasks=["gsm8k"], limit=1,
                                                                     data_dir=data_dir)))
    (task,) = resolved.tasks
    renderer = PromptRenderer(resolved.spec, resolved.model_path)
    pending = pending_item(task, resolved.examples["gsm8k"][0], renderer, resolved.spec, None)
    assert pending.requests[0].chat_template_kwargs == {"enable_thinking": False}
    assert pending.requests[0].prompt.endswith("<think>\n\n</think>\n\n")


@pytest.mark.parametrize(("reasoning", "problem"), [
    ({"start": "<think>", "stop": "</think>"}, "reasoning is true, false or a mapping"),
    ({"start": "", "end": "</think>"}, "reasoning.start must be a non-empty string"),
    ({"enable_thinking": "yes"}, "reasoning.enable_thinking must be true, false or null"),
])
def test_bad_reasoning_settings_in_a_model_file_are_one_line_errors(tmp_path: Path, reasoning: object, problem: str) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(yaml.safe_dump({"name": "m", "source": "org/m", "reasoning": reasoning}))
    with pytest.raises(OrcabenchError, match=problem):
        resolve_model(str(path))


def test_every_generated_record_carries_the_loop_and_cut_off_signals_of_its_final_answer(data_dir: Path) -> None:
    task, examples = _gsm8k(data_dir)
    working = "16 - 3 = 13, then 13 - 4 = 9, so she sells 9 eggs at"
    cut = judge(task, examples["0"], [Completion(text=working, finish_reason="length")])
    assert (cut.score.method, cut.record_fields()["extra"]) == ("none", {"truncated": True})
    answered = "<think>x</think>The answer is 18.\nQuestion: more?"
    stated = judge(task, examples["0"], [Completion(text=answered, finish_reason="stop")])
    assert (stated.score.answer, stated.record_fields({"invented_turn": True, "kept": 1})["extra"]) == (
        "18", {"kept": 1, "invented_turn": True})
    assert stated.record_fields({"looped": True})["extra"] == {"invented_turn": True}  # a stale signal is recomputed
