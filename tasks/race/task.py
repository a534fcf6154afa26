"""RACE (Lai et al., 2017): English reading-comprehension exam questions for Chinese middle-
and high-school students, zero-shot, one example per question: the article, the question and
its four lettered options; the letter is generated and extracted (the Orca 2 protocol).

``race``: the full test set, middle + high (1,436 + 3,498 = 4,934 questions), each question's
config as its subtask, so runs report per config and overall. The overall number is the
accuracy over all 4,934 questions (micro; ``orcabench.task.MICRO_AVERAGED``): every RACE cell
of the Orca 2 paper but one is k/4,934, while only 7 of 11 are k/3,498.
``race-high``: the high-school test set alone (3,498 questions on 1,045 articles), the
variant orcabench used to call ``race``.

Rows are one question each, as ``ehovy/race`` (configs ``middle`` and ``high``, split
``test``) has them: ``example_id`` (the article's file name, "middle12.txt" / "high34.txt",
shared by its questions), ``article``, ``question``, ``options`` (4), ``answer`` (a letter); the
local mirror is those rows as JSON lines, ``race/middle/test.jsonl`` and ``race/high/test.jsonl``.
``EleutherAI/race`` groups an article's questions in one row (``problems``) and lm-eval asks
only the last of them, earlier ones given with their answers as context (1,045 examples for
high); such a row is refused here: turn it into one row per question with
:func:`flatten_grouped_row` first.
"""

import ast
from dataclasses import replace
from pathlib import Path
from typing import Any

from orcabench.answers.formats import choice_example, judge
from orcabench.task.data import DataSpec, row_origin, text_cluster
from orcabench.task import GenerativeTask, register
from orcabench.types import Example, OrcabenchError


def flatten_grouped_row(row: dict[str, Any]) -> list[dict[str, Any]]:
    """One ``EleutherAI/race`` row (an article and its ``problems``, a list or its Python
    repr) as ``ehovy/race``-style rows, one per question."""
    problems = ast.literal_eval(row["problems"]) if isinstance(row["problems"], str) else row["problems"]
    return [{"example_id": row.get("example_id", ""), "article": row["article"], **problem} for problem in problems]


def parse_row(row: dict[str, Any], index: int) -> Example:
    _, position = row_origin(row)
    if "problems" in row:
        raise OrcabenchError(f"race row {position}: an EleutherAI/race row groups an article's questions; "
                             "write one row per question (flatten_grouped_row in tasks/race/task.py)")
    fields = {"article": row["article"].strip(), "question": row["question"].strip()}
    # example_id names the article, not the question: the row's position makes the id unique
    # (middle and high articles are named apart, "middle12.txt" / "high34.txt").
    example_id = row.get("example_id") or "race"
    example = choice_example(f"{example_id}#{position}", fields, row["options"], row["answer"], subtask=_config(row, example_id))
    # An article's questions form one cluster (intervals count the article once): its file name,
    # else the article text's hash.
    return replace(example, cluster=row.get("example_id") or text_cluster(fields["article"]))


def _config(row: dict[str, Any], example_id: str) -> str | None:
    """middle or high: the Hub config a row came from, else its article's file name."""
    subset, _ = row_origin(row)
    if subset in CONFIGS:
        return subset
    return next((config for config in CONFIGS if example_id.startswith(config)), None)


CONFIGS = ("middle", "high")

register(
    GenerativeTask(name="race", version="2", description="RACE test, middle + high (4,934), zero-shot, per config and overall",
                   data=DataSpec(hub_path="ehovy/race", hub_split="test", hub_configs=CONFIGS,
                                 local_files=tuple(f"race/{config}/test.jsonl" for config in CONFIGS)),
                   template_dir=Path(__file__).parent, template="zeroshot.j2", parse_row=parse_row, judge=judge, max_tokens=512),
    GenerativeTask(name="race-high", version="1", description="RACE-high test (3,498), zero-shot, letter generated and extracted",
                   data=DataSpec(hub_path="ehovy/race", hub_name="high", hub_split="test", local_files=("race/high/test.jsonl",)),
                   template_dir=Path(__file__).parent, template="zeroshot.j2", parse_row=parse_row, judge=judge, max_tokens=512),
)
