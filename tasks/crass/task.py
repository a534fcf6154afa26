"""CRASS (Frohberg & Binder, 2022): counterfactual reasoning, zero-shot, letter generated and
extracted (the Orca 2 protocol).

``crass``: the 274-item CRASS set the Orca 2 paper scored (every CRASS cell of its Table 1 is
k/274), apergo-ai's ``CRASS_FTM_main_data_set.csv`` (Apache-2.0, from
github.com/apergo-ai/CRASS-data-set; it is on no Hub dataset, so it is read from a mirror
only: ``--data-dir DIR`` with ``DIR/crass/CRASS_FTM_main_data_set.csv``). The file is
``;``-separated with a header: ``PCTID;BatchID;Premise;QCC;CorrectAnswer;Answer1;Answer2;
PossibleAnswer3`` (the fourth option often empty). The right answer always comes first in the
file, so the options are put in an order fixed per question (a shuffle seeded by its PCTID):
the same for every run and model, the gold letter spread over A-D.

``crass-ai``: BIG-bench ``crass_ai`` (44 counterfactual questions, 4 options each), the
staged stand-in; its numbers are not comparable with the paper's CRASS column. Options keep
the order of ``target_scores`` in the file.
"""

import random
from pathlib import Path
from typing import Any

from orcabench.answers.formats import choice_example, judge
from orcabench.task.data import DataSpec, row_origin
from orcabench.task import GenerativeTask, register
from orcabench.types import Example, OrcabenchError

CRASS_COLUMNS = ("PCTID", "Premise", "QCC", "CorrectAnswer", "Answer1", "Answer2", "PossibleAnswer3")


def parse_row(row: dict[str, Any], index: int) -> Example:
    _, position = row_origin(row)
    if "target_scores" in row:  # BIG-bench task.json
        question, options, scores = row["input"], list(row["target_scores"]), list(row["target_scores"].values())
    else:  # hails/bigbench: inputs, multiple_choice_targets, multiple_choice_scores
        question, options, scores = row["inputs"], row["multiple_choice_targets"], row["multiple_choice_scores"]
    if scores.count(1) != 1:
        raise OrcabenchError(f"crass row {position}: expected exactly one right option, scores {scores}")
    return choice_example(str(position), {"input": question.strip()}, options, scores.index(1))


def parse_crass_row(row: dict[str, Any], index: int) -> Example:
    _, position = row_origin(row)
    missing = [column for column in CRASS_COLUMNS if column not in row]
    if missing:
        raise OrcabenchError(f"crass row {position + 2}: no column {', '.join(missing)}; expected apergo-ai's "
                             f"CRASS_FTM_main_data_set.csv (';'-separated, header {';'.join(CRASS_COLUMNS)})")
    right = row["CorrectAnswer"].strip()
    wrong = (row["Answer1"], row["Answer2"], row["PossibleAnswer3"])
    options = [right] + [text.strip() for text in wrong if text and text.strip()]
    if len(options) < 3 or len(set(options)) != len(options):
        raise OrcabenchError(f"crass row {position + 2} (PCTID {row['PCTID']}): expected 3 or 4 different answers, got {options}")
    random.Random(f"crass:{row['PCTID']}").shuffle(options)  # a string seed hashes the same in every process
    fields = {"premise": row["Premise"].strip(), "question": row["QCC"].strip()}
    return choice_example(str(row["PCTID"]).strip(), fields, options, options.index(right))


register(
    GenerativeTask(name="crass", version="1", description="CRASS 274-item set (the paper's), zero-shot; from a mirror only",
                   data=DataSpec(hub_path="apergo-ai/CRASS-data-set", hub_split="test",
                                 local_files=("crass/CRASS_FTM_main_data_set.csv",), local_format="csv-semicolon"),
                   template_dir=Path(__file__).parent, template="crass.j2", parse_row=parse_crass_row, judge=judge,
                   max_tokens=512),
    GenerativeTask(name="crass-ai", version="1",
                   description="BIG-bench crass_ai (44), zero-shot (stand-in for the paper's 274-item CRASS)",
                   data=DataSpec(hub_path="hails/bigbench", hub_name="crass_ai_zero_shot", hub_split="default",
                                 local_files=("crass/bigbench_crass_ai/task.json",), local_format="json-examples"),
                   template_dir=Path(__file__).parent, template="zeroshot.j2", parse_row=parse_row, judge=judge, max_tokens=512),
)
