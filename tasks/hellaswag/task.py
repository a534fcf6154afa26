"""HellaSwag (Zellers et al., 2019): pick the most plausible ending of an ActivityNet or
WikiHow passage, validation set (10,042), zero-shot and generative as in the Orca 2 paper:
the context and its four endings are shown lettered, the letter is generated and extracted
(not lm-eval's loglikelihood over the endings).

Rows as on the Hub (``Rowan/hellaswag``, split ``validation``): ``ind``, ``activity_label``,
``ctx_a``, ``ctx_b``, ``endings`` (4), ``label`` (a digit string); the local mirror is those
rows as JSON lines, ``hellaswag/validation.jsonl`` (the upstream ``hellaswag_val.jsonl`` has
the same fields, ``label`` an int). Text is cleaned as lm-eval does: the context is
"<activity label>: <ctx_a> <ctx_b capitalised>", and WikiHow's "[header]" / "[title]" /
"[step]" markup is removed, since it is scraping residue that no reader should see.
"""

import re
from pathlib import Path
from typing import Any

from orcabench.answers.formats import choice_example, judge
from orcabench.task.data import DataSpec, row_origin
from orcabench.task import GenerativeTask, register
from orcabench.types import Example, OrcabenchError


def preprocess(text: str) -> str:
    """lm-eval's HellaSwag clean-up: " [title]" becomes a sentence break, other [tags] go;
    then the spaces a leading tag leaves are trimmed (lm-eval keeps them: its endings are
    continuations, ours are listed options)."""
    text = text.strip().replace(" [title]", ". ")
    return re.sub(r"\[.*?\]", "", text).replace("  ", " ").strip()


def parse_row(row: dict[str, Any], index: int) -> Example:
    _, position = row_origin(row)
    if str(row.get("label", "")).strip() == "":
        raise OrcabenchError(f"hellaswag row {position}: no label (the test split has none; use validation)")
    context = preprocess(f"{row['activity_label']}: {row['ctx_a']} {row['ctx_b'].capitalize()}")
    endings = [preprocess(ending) for ending in row["endings"]]
    return choice_example(str(row.get("ind", position)), {"context": context}, endings, int(row["label"]))


register(
    GenerativeTask(name="hellaswag", version="1",
                   description="HellaSwag validation (10,042), zero-shot, ending chosen by letter, generated and extracted",
                   data=DataSpec(hub_path="Rowan/hellaswag", hub_split="validation", local_files=("hellaswag/validation.jsonl",)),
                   template_dir=Path(__file__).parent, template="zeroshot.j2", parse_row=parse_row, judge=judge, max_tokens=512),
)
