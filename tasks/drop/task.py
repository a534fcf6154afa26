"""DROP (Dua et al., 2019): reading comprehension with discrete reasoning over a passage
(counting, arithmetic, dates, several spans), validation set (9,536), zero-shot; the model
writes a short answer, read by :func:`orcabench.answers.spans.extract_short_answer` and scored by
DROP's official F1 and exact match (:mod:`orcabench.answers.drop`).

``drop`` scores F1 (0..1, the benchmark's usual headline), ``drop-em`` exact match: same
examples, prompt and extraction. EM of a ``drop`` run needs no new generation: score its
``records.jsonl`` (each line has ``id`` and ``output``) as predictions for ``drop-em``, or
call ``drop_scores(record.answer, json.loads(record.gold))`` — each record's ``gold`` is the
JSON list of gold answers, each a list of spans.

Rows are read in both Hub shapes, written one JSON object a line to ``drop/validation.jsonl``:
``EleutherAI/drop`` (lm-eval's source: ``answer`` plus ``validated_answers``, each with
``number`` / ``date`` / ``spans``; golds built as lm-eval's ``get_answers`` does) and
``ucinlp/drop`` (``answers_spans`` {``spans``, ``types``}: one gold answer).
"""

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from orcabench.task.data import DataSpec, text_cluster
from orcabench.answers.drop import drop_scores
from orcabench.answers.text import NONE
from orcabench.answers.spans import extract_short_answer
from orcabench.task import GenerativeTask, register
from orcabench.types import Example, OrcabenchError, Score


def _gold(answer: dict[str, Any]) -> list[str]:
    """One EleutherAI/drop answer as spans: its number, else its spans, else its date."""
    if str(answer.get("number") or "").strip():
        return [str(answer["number"])]
    if answer.get("spans"):
        return list(answer["spans"])
    date = answer.get("date") or {}
    return [" ".join(str(date.get(part) or "") for part in ("day", "month", "year")).strip()]


def _item(column: Any, i: int) -> Any:
    # A nested dict column (``date``) may itself come column-wise: {"day": [...], ...}.
    return {key: values[i] for key, values in column.items()} if isinstance(column, dict) else column[i]


def _validated(validated: Any) -> list[dict[str, Any]]:
    """``validated_answers`` as a list of answers: the Hub stores a sequence of dicts column-wise."""
    if isinstance(validated, dict):
        return [{key: _item(validated[key], i) for key in ("number", "date", "spans")} for i in range(len(validated["number"]))]
    return list(validated or [])


def gold_answers(row: dict[str, Any]) -> list[list[str]]:
    if "answers_spans" in row:  # ucinlp/drop
        candidates = [list(row["answers_spans"]["spans"])]
    else:  # EleutherAI/drop
        candidates = [_gold(answer) for answer in [row["answer"], *_validated(row.get("validated_answers"))]]
    golds: list[list[str]] = []
    for candidate in candidates:  # de-duplicated in order, as lm-eval does
        if candidate and candidate not in golds:
            golds.append(candidate)
    return golds


def parse_row(row: dict[str, Any], index: int) -> Example:
    golds = gold_answers(row)
    if not any(gold[0].strip() for gold in golds):
        raise OrcabenchError(f"drop row {index} ({row.get('query_id')}): no gold answer")
    fields = {"passage": row["passage"].strip(), "question": row["question"].strip(), "section_id": row.get("section_id")}
    # Records keep the gold as one string (JSON); the scorer reads each gold's spans from targets.
    # A passage's questions form one cluster: its section_id (the passage's id in both Hub shapes),
    # else the passage text's hash.
    return Example(id=str(row.get("query_id") or index), fields=fields, gold=json.dumps(golds, ensure_ascii=False),
                   targets=tuple(tuple(gold) for gold in golds), cluster=row.get("section_id") or text_cluster(fields["passage"]))


def _judge(metric: int) -> Callable[[Example, str], Score]:
    """A judge scoring DROP's EM (``metric=0``) or F1 (``metric=1``)."""
    def judge(example: Example, output: str) -> Score:
        answer, method = extract_short_answer(output)
        if answer is None:
            return Score(answer=None, method=NONE, score=0.0)
        return Score(answer=answer, method=method, score=drop_scores(answer, example.targets)[metric])

    return judge


def make(name: str, metric: int, what: str) -> GenerativeTask:
    return GenerativeTask(
        name=name, version="1", description=f"DROP validation (9,536), zero-shot, short answer generated, {what}",
        data=DataSpec(hub_path="EleutherAI/drop", hub_split="validation", local_files=("drop/validation.jsonl",)),
        template_dir=Path(__file__).parent, template="zeroshot.j2", parse_row=parse_row, judge=_judge(metric), max_tokens=512,
    )


register(make("drop", 1, "DROP F1"), make("drop-em", 0, "DROP exact match"))
