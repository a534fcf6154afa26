"""DROP, RACE and HellaSwag: tasks whose data is not staged here (the Hub is out of reach).

Each task is checked end to end on a few rows written by hand in the upstream (Hub) row
format: written as the local mirror file its DataSpec names, loaded through
``load_rows`` + ``parse_row``, rendered, and model-style outputs scored. DROP's EM and F1
are checked against values computed by hand from the official metric's definition.
"""

from __future__ import annotations

import json
import runpy
from pathlib import Path
from typing import Any

import pytest

from orcabench.task.data import load_rows
from orcabench.answers.drop import drop_scores, normalize_span
from orcabench.answers.spans import extract_short_answer
from orcabench.task.summary import headline, summarize
from orcabench.task import builtin_tasks_dir, get_tasks
from orcabench.types import Completion, Example, OrcabenchError, Record


def load(name: str, rows: list[dict[str, Any]], mirror: Path) -> list[Example]:
    """The task's examples from ``rows`` written as its local mirror file."""
    (task,) = get_tasks([name])
    (relative,) = task.data.local_files
    path = mirror / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    loaded, provenance = load_rows(task.data, mirror, name, strict=True)
    assert provenance["source"] == "local" and list(provenance["files"]) == [relative]
    return [task.parse_row(row.values, index) for index, row in enumerate(loaded)]


def score(name: str, example: Example, output: str) -> tuple[str | None, str, float]:
    (task,) = get_tasks([name])
    verdict = task.score(example, Completion(text=output))
    return verdict.answer, verdict.method, verdict.score


def test_data_specs_name_the_hub_datasets_and_mirror_files() -> None:
    specs = {task.name: task.data for task in get_tasks(["drop", "drop-em", "race-high", "hellaswag"])}
    assert {name: (s.hub_path, s.hub_name, s.hub_split, s.local_files) for name, s in specs.items()} == {
        "drop": ("EleutherAI/drop", None, "validation", ("drop/validation.jsonl",)),
        "drop-em": ("EleutherAI/drop", None, "validation", ("drop/validation.jsonl",)),
        "race-high": ("ehovy/race", "high", "test", ("race/high/test.jsonl",)),
        "hellaswag": ("Rowan/hellaswag", None, "validation", ("hellaswag/validation.jsonl",)),
    }


# ---------------------------------------------------------------------------------------
# DROP metric: (prediction, gold answers, EM, F1), F1 worked out by hand. Bags of tokens
# after normalisation; F1 = 2PR / (P + R) per aligned span pair, averaged over
# max(#gold spans, #predicted spans), rounded to 2 decimals; best over the gold answers.
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("prediction", "golds", "em", "f1"),
    [
        ("24", [["24"]], 1.0, 1.0),
        ("24.0", [["24"]], 1.0, 1.0),  # numbers compare as floats
        ("1,024", [["1024"]], 1.0, 1.0),  # a thousands separator is not punctuation to keep
        ("24 points", [["24"]], 0.0, 0.67),  # P = 1/2, R = 1: F1 = 2/3
        ("25 yards", [["24 yards"]], 0.0, 0.0),  # the gold's number is missing: 0, not the bag F1 of 1/2
        ("twenty-four", [["24"]], 0.0, 0.0),
        ("the Giants", [["Giants"]], 1.0, 1.0),  # articles dropped
        ("Giants", [["the New York Giants"]], 0.0, 0.5),  # gold {new, york, giants}: P = 1, R = 1/3
        ("Dave's", [["Daves"]], 1.0, 1.0),  # punctuation dropped
        ("Dallas-Fort Worth", [["Dallas Fort Worth"]], 1.0, 1.0),  # hyphens split tokens
        ("March 5, 1990", [["5 March 1990"]], 0.0, 1.0),  # same bag, other order: F1 only
        # Multi-span golds: the prediction is split into spans and aligned one to one.
        ("Paul and Dave", [["Dave", "Paul"]], 1.0, 1.0),
        ("Dave, Paul", [["Dave", "Paul"]], 1.0, 1.0),
        ("Dave", [["Dave", "Paul"]], 0.0, 0.5),  # (1 + 0) / 2
        ("Dave, Paul and Tom", [["Dave", "Paul"]], 0.0, 0.67),  # (1 + 1 + 0) / 3
        ("Dave and Paul", [["Dave and Paul"]], 1.0, 1.0),  # a one-span gold is never split
        # Several gold answers: the best EM and the best F1.
        ("three", [["3"], ["three"]], 1.0, 1.0),
        ("the New York Giants", [["Giants"], ["New York Giants"]], 1.0, 1.0),
        ("New York", [["Giants"], ["New York Giants"]], 0.0, 0.8),  # P = 1, R = 2/3
        # Empty gold answers are ignored, as by the official script.
        ("", [[""]], 0.0, 0.0),
        ("x", [[""], ["x"]], 1.0, 1.0),
    ],
)
def test_drop_em_and_f1(prediction: str, golds: list[list[str]], em: float, f1: float) -> None:
    assert drop_scores(prediction, golds) == (em, f1)


def test_drop_normalisation() -> None:
    assert normalize_span("The 1,024 Yards!") == "1024.0 yards"
    assert normalize_span("an apple-a-day") == "apple day"


@pytest.mark.parametrize(
    ("output", "answer", "method"),
    [
        ("The answer is 24.", "24", "final-answer-phrase"),
        ("They scored 14 and 10.\nAnswer: 24 points", "24 points", "final-answer-phrase"),
        ("**Answer:** \"Dave\"", "Dave", "final-answer-phrase"),
        ("The answer is:\n24", "24", "final-answer-phrase"),  # the phrase ends its line
        ("The answer is 3.5 yards. The kick was short.", "3.5 yards", "final-answer-phrase"),
        ("The answer is 10. Wait, the final answer is 24.", "24", "final-answer-phrase"),  # the last phrase
        ("So the total is $\\boxed{24}$", "24", "boxed"),
        ("Dave and Paul.", "Dave and Paul", "whole-output"),
        ("To answer this, add 14 and 10.\n24", "24", "last-line"),  # a bare "answer" is no phrase
        ("", None, "none"),
    ],
)
def test_extract_short_answer(output: str, answer: str | None, method: str) -> None:
    assert extract_short_answer(output) == (answer, method)


PASSAGE = "The Bears scored 14 points in the first half and 10 in the second. Dave and Paul scored touchdowns."
ELEUTHER_DROP_ROWS = [  # EleutherAI/drop: answer + validated_answers (column-wise, as the Hub gives them)
    {"section_id": "nfl_1", "query_id": "q-number", "passage": PASSAGE, "question": "How many points did the Bears score?",
     "answer": {"number": "24", "date": {"day": "", "month": "", "year": ""}, "spans": [], "worker_id": "", "hit_id": ""},
     "validated_answers": {"number": ["24", ""], "date": [{"day": "", "month": "", "year": ""}] * 2,
                           "spans": [[], ["24 points"]], "worker_id": ["", ""], "hit_id": ["", ""]}},
    {"section_id": "nfl_1", "query_id": "q-spans", "passage": PASSAGE, "question": "Who scored touchdowns?",
     "answer": {"number": "", "date": {"day": "", "month": "", "year": ""}, "spans": ["Dave", "Paul"],
                "worker_id": "", "hit_id": ""},
     "validated_answers": {"number": [], "date": [], "spans": [], "worker_id": [], "hit_id": []}},
    {"section_id": "history_2", "query_id": "q-date", "passage": "The treaty was signed on 5 March 1990.",
     "question": "When was the treaty signed?",
     "answer": {"number": "", "date": {"day": "5", "month": "March", "year": "1990"}, "spans": [], "worker_id": "", "hit_id": ""},
     "validated_answers": {"number": [""], "date": {"day": ["5"], "month": ["March"], "year": ["1990"]},  # date column-wise too
                           "spans": [[]], "worker_id": [""], "hit_id": [""]}},
]


def test_drop_reads_eleutherai_rows_with_validated_answers(tmp_path: Path) -> None:
    number, spans, date = load("drop", ELEUTHER_DROP_ROWS, tmp_path)
    assert [e.id for e in (number, spans, date)] == ["q-number", "q-spans", "q-date"]
    # "24" again among the validated answers is dropped; "24 points" is a second gold answer.
    assert json.loads(number.gold) == [["24"], ["24 points"]]
    assert json.loads(spans.gold) == [["Dave", "Paul"]]
    assert json.loads(date.gold) == [["5 March 1990"]]
    (task,) = get_tasks(["drop"])
    assert task.render(number)[0].content == (
        f"{PASSAGE}\n\nQuestion: How many points did the Bears score?\n"
        "Answer with a number, a date, or a short span from the passage."
    )


@pytest.mark.parametrize(
    ("index", "output", "answer", "method", "f1", "em"),
    [
        (0, "14 + 10 = 24, so the answer is 24.", "24", "final-answer-phrase", 1.0, 1.0),
        (0, "The answer is 24 points.", "24 points", "final-answer-phrase", 1.0, 1.0),  # the validated answer
        (0, "The answer is 14 points.", "14 points", "final-answer-phrase", 0.0, 0.0),
        (1, "Paul and Dave", "Paul and Dave", "whole-output", 1.0, 1.0),
        (1, "Answer: Dave", "Dave", "final-answer-phrase", 0.5, 0.0),
        (2, "It was signed on March 5, 1990.\nThe answer is March 5, 1990.", "March 5, 1990", "final-answer-phrase", 1.0, 0.0),
        (2, "", None, "none", 0.0, 0.0),
    ],
)
def test_drop_scores_f1_and_drop_em_exact_match(tmp_path: Path, index: int, output: str, answer: str | None,
                                                  method: str, f1: float, em: float) -> None:
    examples = load("drop", ELEUTHER_DROP_ROWS, tmp_path)
    assert score("drop", examples[index], output) == (answer, method, f1)
    assert score("drop-em", examples[index], output) == (answer, method, em)
    # A record's answer and gold are enough to recompute both numbers.
    if answer is not None:
        assert drop_scores(answer, json.loads(examples[index].gold)) == (em, f1)


def test_drop_reads_ucinlp_rows_with_answers_spans(tmp_path: Path) -> None:
    rows = [
        {"section_id": "nfl_1", "query_id": "u-1", "passage": PASSAGE, "question": "Who scored touchdowns?",
         "answers_spans": {"spans": ["Dave", "Paul"], "types": ["span", "span"]}},
        {"section_id": "nfl_1", "query_id": "u-2", "passage": PASSAGE, "question": "How many points in the second half?",
         "answers_spans": {"spans": ["10"], "types": ["number"]}},
    ]
    multi, number = load("drop", rows, tmp_path)
    assert (json.loads(multi.gold), json.loads(number.gold)) == ([["Dave", "Paul"]], [["10"]])
    assert score("drop", multi, "Dave, Paul")[2] == 1.0
    assert score("drop", number, "The answer is ten.")[2] == 0.0  # a number written in words is not the number
    with pytest.raises(OrcabenchError, match="no gold answer"):
        load("drop", [{**rows[0], "answers_spans": {"spans": [], "types": []}}], tmp_path)


# ---------------------------------------------------------------------------------------
# RACE (one row per question, as ehovy/race)
# ---------------------------------------------------------------------------------------
ARTICLE = "Tom lives in a small town. Every morning he walks his dog to the river before school."
RACE_ROWS = [
    {"example_id": "high1.txt", "article": ARTICLE, "question": "Where does Tom walk his dog?",
     "options": ["To the park", "To the school", "To the river", "To the town hall"], "answer": "C"},
    {"example_id": "high1.txt", "article": ARTICLE, "question": "Tom walks his dog _ .",
     "options": ["every morning", "every evening", "at weekends", "after school"], "answer": "A"},
]


def test_race_one_example_per_question(tmp_path: Path) -> None:
    river, when = load("race-high", RACE_ROWS, tmp_path)
    assert [(e.id, e.gold) for e in (river, when)] == [("high1.txt#0", "C"), ("high1.txt#1", "A")]
    (race,) = get_tasks(["race-high"])
    assert race.render(river)[0].content == (
        f"Article: {ARTICLE}\n\nQuestion: Where does Tom walk his dog?\n"
        "(A) To the park\n(B) To the school\n(C) To the river\n(D) To the town hall"
    )
    assert score("race", river, "He walks it to the river. The answer is (C).") == ("C", "final-answer-phrase", 1.0)
    assert score("race", river, "The answer is To the river.") == ("C", "option-text", 1.0)
    assert score("race", when, "B. every evening") == ("B", "leading-letter", 0.0)
    assert score("race", when, "It is either (A) or (B).") == (None, "none", 0.0)


def test_race_refuses_grouped_rows_and_flattens_them(tmp_path: Path) -> None:
    module = runpy.run_path(str(builtin_tasks_dir() / "race" / "task.py"))
    problems = [{k: row[k] for k in ("question", "options", "answer")} for row in RACE_ROWS]
    grouped = {"article": ARTICLE, "problems": repr(problems)}  # EleutherAI/race: problems as a Python repr
    with pytest.raises(OrcabenchError, match="groups an article's questions"):
        load("race-high", [grouped], tmp_path)
    flat = module["flatten_grouped_row"](grouped)
    assert [e.gold for e in load("race-high", flat, tmp_path)] == ["C", "A"]


def test_race_scores_middle_and_high_per_config_and_over_all_questions(tmp_path: Path) -> None:
    (race,) = get_tasks(["race"])
    assert (race.data.hub_path, race.data.hub_configs, race.data.hub_split) == ("ehovy/race", ("middle", "high"), "test")
    middle = [{**row, "example_id": "middle7.txt"} for row in RACE_ROWS[:1]]
    for relative, rows in zip(race.data.local_files, (middle, RACE_ROWS)):
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    loaded, provenance = load_rows(race.data, tmp_path, "race", strict=True)
    examples = [race.parse_row(row.values, index) for index, row in enumerate(loaded)]
    assert list(provenance["files"]) == ["race/middle/test.jsonl", "race/high/test.jsonl"]
    assert [(e.id, e.subtask) for e in examples] == [("middle7.txt#0", "middle"), ("high1.txt#0", "high"),
                                                     ("high1.txt#1", "high")]
    # Two of three right: 2/3 over all questions (the paper's k/4,934), not the mean of the configs (0.75).
    records = [Record(task="race", id=e.id, subtask=e.subtask, prompt="p", prompt_sha256="h", output="o", answer="a",
                      method="final-answer-phrase", gold=e.gold, score=score, prompt_tokens=1, output_tokens=1,
                      finish_reason="stop") for e, score in zip(examples, (1.0, 1.0, 0.0))]
    summary = summarize("race", records)
    assert summary.subtasks == {"high": (0.5, 2), "middle": (1.0, 1)}
    assert headline(summary) == pytest.approx(2 / 3)


def test_list_tasks_shows_race_on_the_full_test_set_and_crass_on_the_274_items(capsys: pytest.CaptureFixture[str]) -> None:
    from orcabench.cli.run import main

    assert main(["list", "tasks"]) == 0
    rows = {line.split("│")[1].strip(): line for line in capsys.readouterr().out.splitlines() if line.count("│") > 3}
    assert "middle + high (4,934)" in rows["race"] and "(3,498)" in rows["race-high"]
    assert "274-item" in rows["crass"] and "(44)" in rows["crass-ai"]


# ---------------------------------------------------------------------------------------
# CRASS, the 274-item set (apergo-ai's CRASS_FTM_main_data_set.csv: ";"-separated, a header)
# ---------------------------------------------------------------------------------------
CRASS_CSV = (
    "\ufeffPCTID;BatchID;Premise;QCC;CorrectAnswer;Answer1;Answer2;PossibleAnswer3\n"
    "1;1;A woman opens a treasure chest.;What would have happened if the woman had not opened the treasure chest?;"
    "The treasure chest would have remained closed.;The treasure chest would have been open.;"
    "That is not possible.;\n"
    "2;1;A man drinks a beer.;What would have happened if the man had drunk a rainbow?;That is not possible.;"
    "It would have been tasty.;It would have been awful.;I don't know.\n"
)


def test_crass_reads_the_274_item_file_layout_with_the_options_in_a_fixed_shuffled_order(tmp_path: Path) -> None:
    (crass,) = get_tasks(["crass"])
    (relative,) = crass.data.local_files
    assert relative == "crass/CRASS_FTM_main_data_set.csv"
    (tmp_path / relative).parent.mkdir(parents=True)
    (tmp_path / relative).write_text(CRASS_CSV, encoding="utf-8")
    loaded, _ = load_rows(crass.data, tmp_path, "crass", strict=True)
    chest, rainbow = [crass.parse_row(row.values, index) for index, row in enumerate(loaded)]
    assert (chest.id, len(chest.choices), rainbow.id, len(rainbow.choices)) == ("1", 3, "2", 4)
    for example, right in ((chest, "The treasure chest would have remained closed."), (rainbow, "That is not possible.")):
        assert example.choices[example.letters.index(example.gold)] == right
    again = [crass.parse_row(row.values, index) for index, row in enumerate(load_rows(crass.data, tmp_path, "crass")[0])]
    assert [e.choices for e in again] == [chest.choices, rainbow.choices]  # the same order every time
    prompt = crass.render(chest)[0].content
    assert prompt.startswith("A woman opens a treasure chest.\nWhat would have happened if the woman had not opened")
    assert f"({chest.gold}) The treasure chest would have remained closed." in prompt
    assert score("crass", chest, f"The answer is ({chest.gold}).") == (chest.gold, "final-answer-phrase", 1.0)
    assert score("crass", rainbow, "That is not possible.")[2] == 1.0


def test_a_crass_file_in_another_layout_is_one_clear_error(tmp_path: Path) -> None:
    (crass,) = get_tasks(["crass"])
    (tmp_path / "crass").mkdir()
    (tmp_path / "crass" / "CRASS_FTM_main_data_set.csv").write_text("id;question\n1;Why?\n", encoding="utf-8")
    (row,) = load_rows(crass.data, tmp_path, "crass")[0]
    with pytest.raises(OrcabenchError, match=r"crass row 2: no column PCTID, Premise, QCC"):
        crass.parse_row(row.values, 0)


# ---------------------------------------------------------------------------------------
# HellaSwag (Rowan/hellaswag rows)
# ---------------------------------------------------------------------------------------
HELLASWAG_ROWS = [
    {"ind": 24, "activity_label": "Roof shingle removal",
     "ctx_a": "A man is sitting on a roof.", "ctx_b": "he", "ctx": "A man is sitting on a roof. he",
     "endings": ["is using wrap to wrap a pair of skis.", "is ripping level tiles off.",
                 "is holding a rubik's cube.", "starts pulling up roofing on a roof."],
     "source_id": "activitynet~v_-JhWjGDPHMY", "split": "val", "split_type": "indomain", "label": "3"},
    {"ind": 92, "activity_label": "Home and Garden",
     "ctx_a": "[header] How to clean a kettle [title] Fill the kettle with water.", "ctx_b": "",
     "ctx": "[header] How to clean a kettle [title] Fill the kettle with water.",
     "endings": ["[step] Add a cup of vinegar and boil it.", "Throw the kettle away.",
                 "[step] Paint the kettle [substeps] blue.", "Put the kettle in the freezer."],
     "source_id": "wikihow~1234", "split": "val", "split_type": "zeroshot", "label": "0"},
]


def test_hellaswag_context_endings_and_letters(tmp_path: Path) -> None:
    roof, kettle = load("hellaswag", HELLASWAG_ROWS, tmp_path)
    assert [(e.id, e.gold) for e in (roof, kettle)] == [("24", "D"), ("92", "A")]
    assert roof.fields["context"] == "Roof shingle removal: A man is sitting on a roof. He"
    # WikiHow markup as lm-eval cleans it: " [title]" ends a sentence, other [tags] go.
    assert kettle.fields["context"] == "Home and Garden: How to clean a kettle. Fill the kettle with water."
    assert list(kettle.choices) == ["Add a cup of vinegar and boil it.", "Throw the kettle away.",
                                        "Paint the kettle blue.", "Put the kettle in the freezer."]
    (task,) = get_tasks(["hellaswag"])
    assert task.render(roof)[0].content == (
        "Which ending continues the text best?\n\nRoof shingle removal: A man is sitting on a roof. He\n"
        "(A) is using wrap to wrap a pair of skis.\n(B) is ripping level tiles off.\n"
        "(C) is holding a rubik's cube.\n(D) starts pulling up roofing on a roof."
    )
    assert score("hellaswag", roof, "The answer is (D).") == ("D", "final-answer-phrase", 1.0)
    assert score("hellaswag", roof, "D") == ("D", "leading-letter", 1.0)
    assert score("hellaswag", kettle, "Add a cup of vinegar and boil it.") == ("A", "bare-option-text", 1.0)
    assert score("hellaswag", kettle, "The answer is (B).") == ("B", "final-answer-phrase", 0.0)


def test_hellaswag_label_as_int_and_missing_label(tmp_path: Path) -> None:
    upstream = {**HELLASWAG_ROWS[0], "label": 1}  # rowanz/hellaswag's own jsonl: label is an int
    assert load("hellaswag", [upstream], tmp_path)[0].gold == "B"
    with pytest.raises(OrcabenchError, match="no label"):
        load("hellaswag", [{**HELLASWAG_ROWS[0], "label": ""}], tmp_path)  # the test split's rows


def test_drop_em_of_a_drop_run_is_its_records_scored_as_drop_em_predictions(tmp_path: Path) -> None:
    """The README's recipe: records.jsonl lines carry ``id`` and ``output``, so `orcabench score
    --task drop-em` reads a `drop` run's records as predictions, with no new generation."""
    from orcabench.api import score_predictions

    examples = load("drop", ELEUTHER_DROP_ROWS, tmp_path)
    outputs = ["The answer is 24.", "Answer: Dave", "The answer is March 5, 1990."]
    records = [{"task": "drop", "id": e.id, "output": o, "gold": e.gold, "score": score("drop", e, o)[2]}
               for e, o in zip(examples, outputs)]
    assert [r["score"] for r in records] == [1.0, 0.5, 1.0]  # F1
    path = tmp_path / "records.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    scored = score_predictions("drop-em", path, tmp_path, strict=True)
    assert [r.score for r in scored.records] == [1.0, 0.0, 0.0]  # EM
    assert scored.summary.accuracy == pytest.approx(1 / 3)
