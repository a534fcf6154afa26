"""LAMBADA, OpenAI's test variant (5,153): the model generates the passage's last word,
scored by exact match (the Orca 2 protocol), ignoring case and the punctuation and quotes
around the word (:func:`orcabench.answers.spans.normalize_word`).

The target is the last whitespace-separated word. In 6 rows llm-foundry's ``continuation``
spans a line break ("of\\n\\nPower"); its leading part is moved into the context so that the
model is asked for one word, as in every other row.
"""

from pathlib import Path
from typing import Any

from orcabench.answers.formats import judge, make_example
from orcabench.task.data import DataSpec, row_origin
from orcabench.answers.spans import normalize_word
from orcabench.task import GenerativeTask, register
from orcabench.types import Example, OrcabenchError


def split_last_word(text: str) -> tuple[str, str]:
    """``(context, last word)`` of a passage, split at its last whitespace."""
    stripped = text.rstrip()
    cut = max(stripped.rfind(" "), stripped.rfind("\n"), stripped.rfind("\t"))
    return stripped[: cut + 1], stripped[cut + 1:]


def parse_row(row: dict[str, Any], index: int) -> Example:
    _, position = row_origin(row)
    if "context" in row:  # llm-foundry: {"context", "continuation"}, the space between them dropped
        text = f"{row['context'].rstrip()} {row['continuation'].strip()}"
    else:  # EleutherAI/lambada_openai: {"text"}
        text = row["text"]
    context, word = split_last_word(text)
    gold = normalize_word(word)
    if not gold:
        raise OrcabenchError(f"lambada row {position}: no last word in {text[-40:]!r}")
    return make_example(str(position), {"context": context.rstrip()}, gold, "last-word")


register(
    GenerativeTask(name="lambada", version="1", description="LAMBADA (OpenAI) test (5,153), last word generated, exact match",
                   data=DataSpec(hub_path="EleutherAI/lambada_openai", hub_name="default", hub_split="test",
                                 local_files=("lambada/lambada_openai.jsonl",)),
                   template_dir=Path(__file__).parent, template="zeroshot.j2", parse_row=parse_row, judge=judge, max_tokens=32),
)
