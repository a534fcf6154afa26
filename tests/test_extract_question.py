"""The conclusion read against the question (orcabench.answers.question), rule by rule.

tests/extraction_corpus.py (contexts with a question) and tests/extraction_corpus_real.jsonl (cases with their
question) specify whole outputs; these pin where the question comes from and what each rule reads in it.
"""

from __future__ import annotations

import pytest

from orcabench.answers.formats import choice_example, judge, make_example
from orcabench.answers.pipeline import RulePipeline
from orcabench.answers.question import (
    asked_number,
    asked_words,
    concluded_before_cut,
    conclusion_state,
    names_asked,
    question_of,
    restates_data,
)
from orcabench.answers.rules import LAYERS
from orcabench.answers.traces import judge as judge_completion
from orcabench.task import get_tasks
from orcabench.types import Completion

COIN = "A coin is heads up. Ka flips the coin. Is the coin still heads up?"
GOLD = "Gretchen has 110 coins. There are 30 more gold coins than silver coins. How many gold coins does Gretchen have?"


def test_the_question_is_the_examples_question_or_bbh_input_field() -> None:
    assert question_of(make_example("q", {"question": "How many?"}, "1", "number")) == "How many?"
    assert question_of(make_example("b", {"input": "Is it plausible?"}, "yes", "label", labels=("yes", "no"))) == \
        "Is it plausible?"
    assert question_of(make_example("n", {}, "1", "number")) is None
    assert question_of(choice_example("h", {"context": "A man"}, ["runs", "sits"], 0)) is None  # HellaSwag: no question


@pytest.mark.parametrize(("output", "label"), [
    ("So the coin is tails up.", "No"),
    ("Therefore, the coin is still heads up.", "Yes"),
    ("It is no longer heads up.", "No"),
    ("The coin is heads up or tails up.", None),  # both named
    ("Heads up is the usual start.", None),  # no subject before the state
    ("Ka flips it.", None),  # no state named
])
def test_a_state_or_its_opposite_asserted_of_the_subject_answers_yes_or_no(output: str, label: str | None) -> None:
    assert conclusion_state(output, COIN, ("Yes", "No")) == label


def test_a_does_question_names_its_subject_before_its_verb() -> None:
    question = "A coin is heads up. Ka flips the coin. Does the coin still show heads?"
    assert conclusion_state("Now the coin shows tails.", question, ("Yes", "No")) == "No"
    assert conclusion_state("Tails.", question, ("Yes", "No")) is None  # no subject before the state


def test_a_state_question_needs_yes_no_labels_and_one_state() -> None:
    assert conclusion_state("So the coin is tails up.", COIN, ("True", "False")) is None
    assert conclusion_state("The sentence is true.", "Is the sentence true or false?", ("Yes", "No")) is None


def test_what_a_question_asks_a_number_of() -> None:
    assert asked_words(GOLD) == {"gold", "coin"}
    assert asked_words("How much profit did he make?") == {"profit"}
    assert asked_words("How much did she earn?") == frozenset()
    assert names_asked("The number of gold coins is 70.", GOLD)
    assert not names_asked("The number of silver coins is 40.", GOLD)


def test_the_asked_quantity_and_never_the_questions_data() -> None:
    assert asked_number("Therefore, Gretchen has 40 silver coins and 70 gold coins.", GOLD, "40") == "70"
    assert asked_number("Gretchen has 40 gold coins and 70 gold coins.", GOLD, "40") is None  # two match
    assert asked_number("He earns 36 from the 12 cakes.", "He bakes 12 cakes. How much does he earn?", "12") == "36"
    assert asked_number("Gretchen has 70 gold coins.", GOLD, "70") is None  # the format's reading stands
    assert asked_number("-1 + 2 is 1, times 3 is 3.", "((-1 + 2) * 3) =", "3") is None  # 3 is the answer here too
    assert restates_data("She has 110 coins, 30 of them more gold.", GOLD)
    assert not restates_data("She has 70 gold coins.", GOLD)


def test_a_conclusion_before_a_cut_stands_only_before_a_digression() -> None:
    question = "How much profit did he make?"
    assert concluded_before_cut("So, the profit is 70. This reminds me of the", question) == "70"
    assert concluded_before_cut("So, the profit is 70. Now the profit minus the", question) is None
    assert concluded_before_cut("So, the profit is 70 -", question) is None
    assert concluded_before_cut("So the value is 200. It was a good", question) is None


def test_the_pipeline_names_the_question_rule_and_never_overrules_an_explicit_answer() -> None:
    example = make_example("c", {"question": COIN}, "No", "label", labels=("Yes", "No"))
    reader = RulePipeline(judge)
    reading = reader.read("Ka flips it once.\nSo the coin is tails up.", example, "stop")
    assert (reading.score.answer, reading.score.method, reading.score.score) == ("No", "conclusion-state", 1.0)
    assert LAYERS["conclusion-state"] == 5
    explicit = reader.read("The coin is tails up.\nThe answer is Yes.", example, "stop")
    assert (explicit.score.answer, explicit.score.method) == ("Yes", "final-answer-phrase")
    blind = make_example("c", {}, "No", "label", labels=("Yes", "No"))  # no question: the format's rules alone
    assert reader.read("So the coin is tails up.", blind, "stop").score.answer is None


def test_a_tasks_own_example_brings_its_question_to_the_reader_on_the_runs_path() -> None:
    (gsm8k,) = get_tasks(["gsm8k"])
    example = gsm8k.parse_row({"question": GOLD, "answer": "110 - 30 = 80, 80 / 2 = 40, 40 + 30 = 70\n#### 70"}, 0)
    judged = judge_completion(gsm8k, example, [Completion(text="So Gretchen has 40 silver coins and 70 gold coins.")])
    assert (judged.score.answer, judged.score.method, judged.score.score) == ("70", "conclusion-asked-number", 1.0)
