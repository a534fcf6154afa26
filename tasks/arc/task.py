"""ARC (Clark et al., 2018): grade-school science questions, Easy (2,376) and Challenge
(1,172) test sets, zero-shot, the question and its lettered options alone; the letter is
generated and extracted (the Orca 2 protocol). The staged copy is llm-foundry's re-format
(``query``/``choices``/``gold``); AI2's format (as on the Hub) is read too.
"""

from pathlib import Path
from typing import Any

from orcabench.answers.formats import choice_example, judge
from orcabench.task.data import DataSpec, row_origin
from orcabench.task import GenerativeTask, register
from orcabench.types import Example


def parse_row(row: dict[str, Any], index: int) -> Example:
    _, position = row_origin(row)
    if "query" in row:  # llm-foundry: {"query": "Question: ...", "choices": [...], "gold": 0}
        question, options, gold = row["query"].removeprefix("Question:").strip(), row["choices"], int(row["gold"])
    else:  # allenai/ai2_arc: question, choices {text, label}, answerKey ("A".. or "1"..)
        question, options = row["question"], row["choices"]["text"]
        gold = list(row["choices"]["label"]).index(row["answerKey"])
    return choice_example(row.get("id") or str(position), {"question": question}, options, gold)


# Paraphrases of the default wording for --prompt-variants (the options listed the same way, lettered).
PARAPHRASES = ("zeroshot-p1.j2", "zeroshot-p2.j2", "zeroshot-p3.j2")


def make(name: str, file: str, config: str, count: str) -> GenerativeTask:
    return GenerativeTask(
        name=name, version="1", description=f"{config} test ({count}), zero-shot, letter generated and extracted",
        data=DataSpec(hub_path="allenai/ai2_arc", hub_name=config, hub_split="test", local_files=(file,)),
        template_dir=Path(__file__).parent, template="zeroshot.j2", parse_row=parse_row, judge=judge, max_tokens=512,
        variants=PARAPHRASES, circular=True,
    )


register(
    make("arc-easy", "arc/arc_easy.jsonl", "ARC-Easy", "2,376"),
    make("arc-challenge", "arc/arc_challenge.jsonl", "ARC-Challenge", "1,172"),
)
