"""The reading pipeline, layer by layer (orcabench.answers.pipeline and the modules of its layers).

tests/extraction_corpus.py specifies what whole outputs read as; these cases pin each layer's
rule on its own, so that a change to one layer shows where it broke.
"""

from __future__ import annotations

import pytest

from orcabench.answers.choice import extract_choice
from orcabench.answers.formats import choice_example, judge, make_example
from orcabench.answers.pipeline import Reader, Reading, RulePipeline
from orcabench.answers.rules import EXPLICIT_RULES, LAYER_NAMES, LAYERS, RULES, WEAK_RULES, layer_of
from orcabench.answers.signals import Signals, looped, signals, undecided
from orcabench.answers.structured import fenced_answer, json_answer, structured_answer, table_row
from orcabench.answers.text import extract_number
from orcabench.answers.turns import cut_invented_turn
from orcabench.types import NO_FINAL_ANSWER

ORGANS = ["Bladder", "Kidney", "Ureter", "Urethra"]


# ---- the rules and their layers --------------------------------------------------------------
def test_every_rule_has_a_layer_and_the_explicit_and_weak_sets_are_layers() -> None:
    assert set(LAYERS) == set(RULES)
    assert {LAYERS[rule] for rule in EXPLICIT_RULES} <= {3, 4}
    assert WEAK_RULES == {rule for rule, layer in LAYERS.items() if layer == 6}
    assert (layer_of(NO_FINAL_ANSWER), layer_of("none"), layer_of("loglikelihood-argmax")) == (1, 0, None)
    assert LAYER_NAMES[layer_of("table-row")] == "structured"


# ---- layer 2: an invented next turn ---------------------------------------------------------
@pytest.mark.parametrize(("output", "kept"), [
    ("The answer is 18.\n\nQuestion: How many are left?\nAnswer: 3", "The answer is 18."),
    ("B\nQ: Which organ stores urine?\nA: A", "B"),
    ("No.\nHuman: Is the sky blue?", "No."),
    ("Mercury\n\n### Instruction:\nName the largest planet.", "Mercury"),
    ("$18\n<|user|>\nAnd in a week?", "$18"),
    ("18<|im_start|>user\nmore", "18"),
    ("Question: Which organ filters blood?\nAnswer: B", "Question: Which organ filters blood?\nAnswer: B"),  # an echo
    ("The question asks which organ filters blood. The answer is B.", "The question asks which organ filters blood. "
     "The answer is B."),  # "question" mid-line is prose
])
def test_only_the_text_before_the_first_invented_turn_is_read(output: str, kept: str) -> None:
    assert cut_invented_turn(output) == kept


# ---- layer 3: structured answers --------------------------------------------------------------
def test_json_answers_bare_or_fenced_with_reasoning_before_them() -> None:
    assert json_answer('{"reasoning": "x", "answer": "C"}') == "C"
    assert json_answer('```json\n{"steps": ["a"], "final_answer": 18}\n```') == "18"
    assert json_answer('{"Correct Option": "(D) 12 km"}') == "(D) 12 km"
    assert json_answer('{"answer": null}') == ""  # the model's answer field is empty: no answer
    assert json_answer('{"reasoning": "no answer key"}') is None
    assert json_answer("no JSON {here}") is None


def test_the_one_marked_row_of_a_table() -> None:
    table = "| Option | Organ | Filters? |\n|---|---|---|\n| A | Bladder | No |\n| B | Kidney | ✅ Yes |\n| C | Ureter | No |"
    assert table_row(table) == "B Kidney"
    assert table_row("| A | Bladder |\n|---|---|\n| **B** | **Kidney** |\n| C | Ureter |") == "B Kidney"
    assert table_row("| A | ✅ |\n| B | ✅ |\n| C | ❌ |") is None  # two rows chosen
    assert table_row("| A | Bladder |\n| B | Kidney |") is None  # nothing marked


def test_an_answer_alone_in_a_code_fence() -> None:
    assert fenced_answer("Final answer:\n```\nB\n```") == "B"
    assert fenced_answer("```python\ndef f(x):\n    return x\n```") is None
    assert structured_answer("Just prose, no structure.") is None


# ---- layers 4 and 5: the new explicit and concluding rules ------------------------------------
@pytest.mark.parametrize(("output", "answer", "method"), [
    ("I'd pick B — the kidney.", "B", "letter-phrase"),
    ("My choice: (C)", "C", "letter-phrase"),
    ("Correct option → A", "A", "letter-phrase"),
    ("Looking at it again, Option B is correct.", "B", "letter-phrase"),
    ("I wouldn't pick B.", None, "none"),
    ("I'd pick B or C.", None, "none"),
    ("**Choice D**", "D", "set-off-letter"),
    ("Option 2 is correct.", "B", "ordinal-option"),
    ("I'll go with choice #4.", "D", "ordinal-option"),
    ("The answer is option 3.", "C", "ordinal-option"),
    ("The organ that filters the blood is the kidney.", "B", "conclusion-option"),
    ("A kidney is an organ.", None, "none"),  # the option as the sentence's subject asserts nothing
    ("It is the kidney or the ureter.", None, "none"),
    ("**Kidney.**\n\nIt filters the blood.", "B", "leading-option-text"),
])
def test_letter_phrasings_positions_and_the_conclusion(output: str, answer: str | None, method: str) -> None:
    assert extract_choice(output, "ABCD", ORGANS) == (answer, method)


def test_an_option_value_in_the_conclusion_is_matched_after_normalising_units_and_number_formats() -> None:
    options = ["$1,000", "$1,500", "12 km", "37"]
    assert extract_choice("So the bike costs 1500 dollars in total.", "ABCD", options) == ("B", "conclusion-option")
    assert extract_choice("Thus she walked a distance of 12 km.", "ABCD", options) == ("C", "conclusion-option")
    assert extract_choice("Their ages add up to **37**.", "ABCD", options) == ("D", "conclusion-option")


# ---- the gate: loops, cut-offs, hedges and questions back ------------------------------------
def test_loops_are_repeated_lines_or_runs_of_words_not_honest_lists() -> None:
    assert looped("Step 1: 5 + 5 = 10\n" * 4)
    assert looped("we add the eggs and then we sell the eggs at the market " * 4)
    assert not looped("Step 1: 16 - 3 = 13\nStep 2: 13 - 4 = 9\nStep 3: 9 * 2 = 18\n---\n---\n---")
    assert signals("The answer is 5.", "length") == Signals(looped=False, truncated=True)
    assert signals("The answer is 5.", "stop") == Signals()
    # a text that stops mid-clause was cut off, whatever its finish_reason (public logs carry none)
    assert signals("Therefore, the final value of", None) == Signals(truncated=True)
    assert signals("9 * 2 =", "stop").truncated and not signals("The value is 12 or so", None).truncated


def _read(output: str, finish_reason: str | None = "stop") -> Reading:
    example = make_example("1", {}, "18", "number")
    return RulePipeline(judge).read(output, example, finish_reason)


def test_a_cut_off_or_looping_output_is_not_read_by_the_conclusion_or_weak_layers() -> None:
    working = "16 - 3 = 13 eggs, then 13 - 4 = 9 eggs, then 9 * 2 = 18 dollars"
    assert _read(working).score.method == "conclusion-number"
    cut = _read(working, "length")
    assert (cut.score.answer, cut.score.method, cut.signals.truncated) == (None, "none", True)
    assert _read("The answer is 18. Then she sells the rest of the", "length").score.answer == "18"  # explicit: kept
    loop = _read("Step: 9 * 2 = 18 dollars\n" * 5)
    assert (loop.score.answer, loop.signals.looped) == (None, True)
    assert loop.record_extra() == {"looped": True}  # only the signals that are set


def test_hedges_and_questions_back_are_no_answer_where_only_the_prose_would_give_one() -> None:
    assert undecided("The problem doesn't say how many tickets — could you tell me?")
    assert undecided("On one hand it holds; on the other it does not.")
    assert not undecided("So she makes $18 every day.")
    assert _read("It doesn't say how many eggs she eats; with 3 she would have 13 left.").score.answer is None
    assert _read("It doesn't say how many she eats, but the answer is 18.").score.answer == "18"


def test_the_invented_turn_is_recorded_and_its_answer_never_read() -> None:
    reading = _read("The answer is 18.\nQuestion: And in a week?\nAnswer: 126")
    assert (reading.score.answer, reading.invented_turn) == ("18", True)
    assert reading.record_extra()["invented_turn"] is True


def test_a_structured_answer_is_read_by_the_formats_own_rules() -> None:
    example = choice_example("1", {}, ORGANS, 1)
    reading = RulePipeline(judge).read('{"reasoning": "filters blood", "final_answer": "(B) Kidney"}', example)
    assert (reading.score.answer, reading.score.method, reading.score.score) == ("B", "json-answer", 1.0)
    unread = RulePipeline(judge).read('{"answer": "unknown"} The kidney filters blood.', example)
    assert unread.score.method == "none"  # the model's own answer field says it has none


def test_the_rule_pipeline_is_a_reader_a_judge_model_could_replace() -> None:
    reader: Reader = RulePipeline(judge)
    assert reader.read("The answer is 18.", make_example("1", {}, "18", "number")).score.score == 1.0


def test_nested_braces_in_boxed_numbers_are_read_whole() -> None:
    assert extract_number("\\boxed{3{,}450}") == ("3450", "boxed")
    assert extract_number("\\boxed{\\frac{3}{4}}") == ("0.75", "boxed")
    assert extract_number("\\boxed{\\$75}") == ("75", "boxed")
