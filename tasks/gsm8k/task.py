"""GSM8K (Cobbe et al., 2021): grade-school math word problems, scored by exact numeric match.

``gsm8k`` is the Orca 2 protocol: the question alone as the user message, no
chain-of-thought wording, answer generated and parsed. ``gsm8k-cot`` appends
"Let's think step by step." for comparison with CoT-prompted harnesses.
"""

from pathlib import Path
from typing import Any

from orcabench.task.data import DataSpec
from orcabench.answers.text import extract_number, normalize_number
from orcabench.task import GenerativeTask, register
from orcabench.types import Example, OrcabenchError

# Paraphrases of the default wording for --prompt-variants: no instruction on how to answer, as the default.
PARAPHRASES = ("zeroshot-p1.j2", "zeroshot-p2.j2", "zeroshot-p3.j2")
DATA = DataSpec(hub_path="openai/gsm8k", hub_name="main", hub_split="test", local_files=("gsm8k/test.jsonl",))


def parse_row(row: dict[str, Any], index: int) -> Example:
    try:
        question, solution = row["question"], row["answer"]
        gold = normalize_number(solution.rsplit("####", 1)[1])
    except (KeyError, IndexError, AttributeError) as error:
        raise OrcabenchError(f"gsm8k row {index}: expected 'question' and an 'answer' ending in '#### N' ({error!r})") from error
    if gold is None:
        raise OrcabenchError(f"gsm8k row {index}: the gold after '####' is not a number")
    return Example(id=str(index), fields={"question": question}, gold=gold, answer_format="number")  # read by extract_number


def make(name: str, template: str, description: str, chain_of_thought: bool = False) -> GenerativeTask:
    return GenerativeTask(
        name=name,
        version="1",
        description=description,
        data=DATA,
        template_dir=Path(__file__).parent,
        template=template,
        parse_row=parse_row,
        extract=extract_number,
        max_tokens=512,
        chain_of_thought=chain_of_thought,
        variants=PARAPHRASES if template == "zeroshot.j2" else (),
    )


register(
    make("gsm8k", "zeroshot.j2", "GSM8K test (1,319), zero-shot, question only (Orca 2 protocol)"),
    make("gsm8k-cot", "cot.j2", "GSM8K test (1,319), zero-shot with \"Let's think step by step.\"", chain_of_thought=True),
)
