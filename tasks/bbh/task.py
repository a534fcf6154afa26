"""BIG-Bench Hard (Suzgun et al., 2022): 27 subtasks, 6,511 examples, zero-shot.

One task per variant, its examples tagged with their subtask (report per subtask and the
macro average over subtasks):

* ``bbh`` — all 27 subtasks, the question alone ("Q: ...\\nA:", lm-eval's zero-shot prompt);
* ``bbh-cot`` — the same with "Let's think step by step." (lm-eval's ``bbh_cot_zeroshot``);
* ``bbh-mc`` — the Orca 2 headline: the 23 subtasks with a closed answer set (options or
  yes/no-style labels), no chain-of-thought wording. Left out are the four free-form ones
  (dyck_languages, multistep_arithmetic_two, object_counting, word_sorting).

Data quirk kept as is: three multiple-choice targets are free text, not a letter
(movie_recommendation "Monsters, Inc", ruin_names "dearth, wind, & fire" and "rita, sue and
bob poo": the options split the name at its commas). They are scored as free text.
"""

from pathlib import Path
from typing import Any

from orcabench.answers.formats import choice_example, judge, listed_options, make_example
from orcabench.task.data import DataSpec, row_origin
from orcabench.answers.text import normalize_number, normalize_text
from orcabench.answers.spans import normalize_brackets
from orcabench.task import GenerativeTask, register
from orcabench.types import Example, OrcabenchError

LABELS: dict[str, tuple[str, str]] = {  # gold spelled exactly as in the data
    "boolean_expressions": ("True", "False"),
    "causal_judgement": ("Yes", "No"),
    "formal_fallacies": ("valid", "invalid"),
    "navigate": ("Yes", "No"),
    "sports_understanding": ("yes", "no"),
    "web_of_lies": ("Yes", "No"),
}
FREE_FORM = {"dyck_languages": "dyck", "multistep_arithmetic_two": "number", "object_counting": "number", "word_sorting": "words"}
MULTIPLE_CHOICE = (
    "date_understanding", "disambiguation_qa", "geometric_shapes", "hyperbaton", "logical_deduction_five_objects",
    "logical_deduction_seven_objects", "logical_deduction_three_objects", "movie_recommendation", "penguins_in_a_table",
    "reasoning_about_colored_objects", "ruin_names", "salient_translation_error_detection", "snarks", "temporal_sequences",
    "tracking_shuffled_objects_five_objects", "tracking_shuffled_objects_seven_objects",
    "tracking_shuffled_objects_three_objects",
)
SUBTASKS = tuple(sorted([*LABELS, *FREE_FORM, *MULTIPLE_CHOICE]))
HEADLINE = tuple(name for name in SUBTASKS if name not in FREE_FORM)


# Paraphrases of "Q: ... A:" for --prompt-variants: the question (with its own options) as BBH gives it.
PARAPHRASES = ("zeroshot-p1.j2", "zeroshot-p2.j2", "zeroshot-p3.j2")


def data(subtasks: tuple[str, ...]) -> DataSpec:
    return DataSpec(hub_path="SaylorTwift/bbh", hub_split="test", hub_configs=subtasks,
                    local_files=tuple(f"bbh/{name}.json" for name in subtasks), local_format="json-examples")


def parse_row(row: dict[str, Any], index: int) -> Example:
    subtask, position = row_origin(row)
    try:
        text, target = row["input"], row["target"].strip()
    except (KeyError, AttributeError) as error:
        raise OrcabenchError(f"bbh {subtask} row {position}: expected 'input' and 'target' ({error!r})") from error
    id_, fields = f"{subtask}/{position}", {"input": text}
    if subtask in LABELS:
        if target not in LABELS[subtask]:
            raise OrcabenchError(f"bbh {subtask} row {position}: target {target!r} is not one of {LABELS[subtask]}")
        return make_example(id_, fields, target, "label", subtask, labels=LABELS[subtask])
    answer_format = FREE_FORM.get(subtask)
    if answer_format == "number":
        return make_example(id_, fields, normalize_number(target) or target, "number", subtask)
    if answer_format == "dyck":
        return make_example(id_, fields, normalize_brackets(target), "dyck", subtask)
    if answer_format == "words":
        vocabulary = text.rpartition("List:")[2].split()
        return make_example(id_, fields, target.casefold(), "words", subtask, labels=vocabulary)
    if subtask not in MULTIPLE_CHOICE:
        raise OrcabenchError(f"bbh: unknown subtask {subtask!r} (file bbh/{subtask}.json)")
    if target.startswith("(") and target.endswith(")"):
        return choice_example(id_, fields, listed_options(text), target, subtask)
    return make_example(id_, fields, normalize_text(target), "text", subtask)  # the 3 quirky targets


def make(name: str, subtasks: tuple[str, ...], template: str, max_tokens: int, description: str) -> GenerativeTask:
    return GenerativeTask(name=name, version="1", description=description, data=data(subtasks),
                          template_dir=Path(__file__).parent, template=template, parse_row=parse_row, judge=judge,
                          max_tokens=max_tokens, chain_of_thought=template == "cot.j2",
                          variants=PARAPHRASES if template == "zeroshot.j2" else ())


register(
    make("bbh", SUBTASKS, "zeroshot.j2", 512, "BIG-Bench Hard, 27 subtasks (6,511), zero-shot, question only"),
    make("bbh-cot", SUBTASKS, "cot.j2", 1024, "BIG-Bench Hard, 27 subtasks (6,511), zero-shot, \"Let's think step by step.\""),
    make("bbh-mc", HEADLINE, "zeroshot.j2", 512,
         "BIG-Bench Hard, the 23 closed-answer subtasks (5,511), zero-shot (Orca 2 headline)"),
)
