"""AGIEval v1, English (Zhong et al., 2023): 10 subsets, 3,852 examples, zero-shot.

The prompts are AGIEval's own zero-shot ones (``convert_zero_shot`` in the AGIEval repo):
the passage, "Q: <question> Answer Choices: (A)... (B)...", then "A: Among A through E,
the answer is" (multiple choice) or "A: The answer is" (``math``, cloze).

* ``agieval`` — all 10 subsets; ``math`` answers are compared by mathematical equivalence
  (:func:`orcabench.answers.formats.math_equal`, math-verify), the others by option letter;
* ``agieval-mc`` — the Orca 2 headline, "English multiple-choice tasks": the 8 subsets of
  Orca's AGIEval tables (aqua-rat, logiqa-en, lsat-ar/lr/rc, sat-en, sat-en-without-passage,
  sat-math; lm-eval's ``agieval_nous``). gaokao-english is English multiple choice too but
  is not in those tables.
"""

from dataclasses import replace
from pathlib import Path
from typing import Any

from orcabench.answers.formats import choice_example, judge, make_example, option_letters, strip_option_prefix
from orcabench.task.data import DataSpec, row_origin, text_cluster
from orcabench.task import GenerativeTask, register
from orcabench.types import Example, OrcabenchError

HEADLINE = ("aqua-rat", "logiqa-en", "lsat-ar", "lsat-lr", "lsat-rc", "sat-en", "sat-en-without-passage", "sat-math")
SUBSETS = (*HEADLINE, "gaokao-english", "math")
CLOZE = {"math"}


def data(subsets: tuple[str, ...]) -> DataSpec:
    return DataSpec(hub_path="hails/agieval-{config}", hub_split="test", hub_configs=subsets,
                    local_files=tuple(f"agieval/v1/{name}.jsonl" for name in subsets))


def parse_row(row: dict[str, Any], index: int) -> Example:
    subset, position = row_origin(row)
    if "question" not in row:
        raise OrcabenchError(f"agieval {subset} row {position}: expected AGIEval's own jsonl fields (passage, question, "
                             "options, label, answer); the Hub's pre-processed hails/agieval-* rows are not supported, "
                             "use --data-dir")
    id_, fields = f"{subset}/{position}", {"passage": row.get("passage") or "", "question": row["question"]}
    if subset in CLOZE:
        example = make_example(id_, fields, str(row["answer"]).strip(), "math", subset)
    else:
        options = [strip_option_prefix(option) for option in row["options"]]
        letters = option_letters(len(options))
        inline = " ".join(f"({letter}){option}" for letter, option in zip(letters, options))
        example = choice_example(id_, {**fields, "options_inline": inline}, options, str(row["label"]), subset)
    # Questions on one passage (LSAT-RC/AR/LR, SAT-English, LogiQA) form one cluster, named by the
    # passage's hash within its subset; a question without a passage stands alone.
    passage = fields["passage"].strip()
    return replace(example, cluster=f"{subset}/{text_cluster(passage)}") if passage else example


# Paraphrases for --prompt-variants; each keeps "Among A through E, the answer is" (or "The answer is").
PARAPHRASES = ("zeroshot-p1.j2", "zeroshot-p2.j2", "zeroshot-p3.j2")


def make(name: str, subsets: tuple[str, ...], description: str) -> GenerativeTask:
    # --circular rotates the options of the multiple-choice subsets only (agieval's math is cloze)
    return GenerativeTask(name=name, version="1", description=description, data=data(subsets),
                          template_dir=Path(__file__).parent, template="zeroshot.j2", parse_row=parse_row, judge=judge,
                          max_tokens=512, variants=PARAPHRASES, circular=not set(subsets) & CLOZE)


register(
    make("agieval", SUBSETS, "AGIEval English, 10 subsets (3,852) incl. math (cloze), zero-shot"),
    make("agieval-mc", HEADLINE, "AGIEval English multiple choice, 8 subsets (2,546), zero-shot (Orca 2 headline)"),
)
