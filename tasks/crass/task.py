"""CRASS substitute: BIG-bench ``crass_ai`` (44 counterfactual questions, 4 options each),
zero-shot, letter generated and extracted. Not the 274-item CRASS set of the Orca 2
paper, which is not staged: numbers are not comparable with the paper's CRASS column.
Options keep the order of ``target_scores`` in the file.
"""

from pathlib import Path
from typing import Any

from orcabench.answers import choice_example, judge
from orcabench.data import DataSpec, row_origin
from orcabench.task import GenerativeTask, register
from orcabench.types import Example, OrcabenchError


def parse_row(row: dict[str, Any], index: int) -> Example:
    _, position = row_origin(row)
    if "target_scores" in row:  # BIG-bench task.json
        question, options, scores = row["input"], list(row["target_scores"]), list(row["target_scores"].values())
    else:  # hails/bigbench: inputs, multiple_choice_targets, multiple_choice_scores
        question, options, scores = row["inputs"], row["multiple_choice_targets"], row["multiple_choice_scores"]
    if scores.count(1) != 1:
        raise OrcabenchError(f"crass row {position}: expected exactly one right option, scores {scores}")
    return choice_example(str(position), {"input": question.strip()}, options, scores.index(1))


register(
    GenerativeTask(name="crass-ai", version="1", description="BIG-bench crass_ai (44), zero-shot (substitute for the paper's 274-item CRASS)",
                   data=DataSpec(hub_path="hails/bigbench", hub_name="crass_ai_zero_shot", hub_split="default",
                                 local_files=("crass/bigbench_crass_ai/task.json",), local_format="json-examples"),
                   template_dir=Path(__file__).parent, template="zeroshot.j2", parse_row=parse_row, judge=judge, max_tokens=512),
)
