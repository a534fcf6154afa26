"""The specification of the closed-set and free-form extractors (BBH, AGIEval, MMLU, ARC,
CRASS, LAMBADA). Each row: a model output, the answer it must yield, the rule that fires.
"""

import pytest

from orcabench.answers.formats import choice_example, judge, math_equal
from orcabench.answers.spans import extract_dyck, extract_last_word, extract_math, extract_word_list
from orcabench.answers.choice import extract_choice, extract_label
from orcabench.task import GenerativeTask

OPTIONS = ["Bladder", "Kidney", "Ureter", "Urethra"]


@pytest.mark.parametrize(
    ("output", "answer", "method"),
    [
        # The last final-answer phrase decides; a letter earlier in the reasoning does not.
        ("The answer is (B).", "B", "final-answer-phrase"),
        ("Answer: C", "C", "final-answer-phrase"),
        ("(A) looks right at first, but (A) ignores filtering. The answer is (B).", "B", "final-answer-phrase"),
        ("The answer is (A). Wait, I misread. The correct answer is (C).", "C", "final-answer-phrase"),
        ("The correct option is B because the kidney filters blood.", "B", "final-answer-phrase"),
        ("the answer is (b)", "B", "final-answer-phrase"),  # lower case
        ("Final answer: **D**", "D", "final-answer-phrase"),  # markdown
        ("The best choice would be [C].", "C", "final-answer-phrase"),
        ("The answer is \\text{(B)}", "B", "final-answer-phrase"),
        # \boxed{} beats every phrase.
        ("The answer is (A). Rechecking: $\\boxed{C}$", "C", "boxed"),
        ("$\\boxed{\\text{(D)}}$", "D", "boxed"),
        # Option text instead of a letter maps to the letter.
        ("The answer is Kidney.", "B", "option-text"),
        ("The answer is the kidney, which filters blood.", "B", "option-text"),  # a leading article is no part of it
        ("The answer is kidney, which filters blood.", "B", "option-text"),
        ("Kidney", "B", "bare-option-text"),
        # Hedging between options is unparsed, never credited.
        ("The answer is (A) or (B).", None, "none"),
        ("The answer is either B or C.", None, "none"),
        ("It could be (B) or (C).", None, "none"),
        # Bare letters must not be words: "A" as an article, "I" as a pronoun.
        ("The answer is A dog could not do that.", None, "none"),
        ("The answer is A because the bladder stores urine.", "A", "final-answer-phrase"),
        # Outputs that open with the answer (prompts ending in "the answer is").
        ("(B) Kidney", "B", "leading-letter"),
        ("B. The kidney filters the blood.", "B", "leading-letter"),
        ("(A) is wrong since the bladder stores urine; so (B).", "B", "last-option-letter"),
        # Weaker fallback: the last option mark.
        ("**B**", "B", "leading-letter"),
        ("I think it's (C)", "C", "conclusion-option"),
        # Letters outside the options never count; nothing usable is unparsed.
        ("The answer is (E).", None, "none"),
        ("I am not sure.", None, "none"),
        ("", None, "none"),
    ],
)
def test_extract_choice(output: str, answer: str | None, method: str) -> None:
    assert extract_choice(output, "ABCD", OPTIONS) == (answer, method)


@pytest.mark.parametrize(
    ("output", "labels", "answer", "method"),
    [
        ("Therefore, the answer is False.", ("True", "False"), "False", "final-answer-phrase"),
        ("not ( True ) is False, and False and True is False. So the answer is True.",
         ("True", "False"), "True", "final-answer-phrase"),
        ("The answer is **yes**.", ("Yes", "No"), "Yes", "final-answer-phrase"),  # spelled as the task's labels
        ("the answer: no", ("yes", "no"), "no", "final-answer-phrase"),
        ("$\\boxed{\\text{No}}$", ("Yes", "No"), "No", "boxed"),
        ("Yes, because there is no other cause.", ("Yes", "No"), "Yes", "leading-label"),
        ("No. He did not intend it.", ("Yes", "No"), "No", "leading-label"),
        ("The premises do not support it, so the argument is invalid.", ("valid", "invalid"), "invalid", "last-label"),
        ("It is valid.", ("valid", "invalid"), "valid", "last-label"),  # "invalid" never reads as "valid"
        ("The answer is yes or no, depending on intent.", ("Yes", "No"), None, "none"),  # hedge
        ("Yes or no: hard to say.", ("Yes", "No"), None, "none"),
        ("Hard to tell.", ("Yes", "No"), None, "none"),
    ],
)
def test_extract_label(output: str, labels: tuple[str, str], answer: str | None, method: str) -> None:
    assert extract_label(output, labels) == (answer, method)


@pytest.mark.parametrize(
    ("output", "answer", "method"),
    [
        ("The answer is ] ] >", "] ] >", "final-answer-phrase"),
        ("Answer: ]]>", "] ] >", "final-answer-phrase"),
        ("We close { then [: `} ]`", "} ]", "last-bracket-run"),
        ("The answer is [ ( ) ]", "[ ( ) ]", "final-answer-phrase"),  # the whole sequence again: read as said (wrong)
        ("No brackets here.", None, "none"),
    ],
)
def test_extract_dyck(output: str, answer: str | None, method: str) -> None:
    assert extract_dyck(output) == (answer, method)


VOCABULARY = ["syndrome", "therefrom", "apple"]


@pytest.mark.parametrize(
    ("output", "answer", "method"),
    [
        ("The answer is: apple syndrome therefrom", "apple syndrome therefrom", "final-answer-phrase"),
        ("Sorted list:\n1. apple\n2. syndrome\n3. therefrom", "apple syndrome therefrom", "final-answer-phrase"),
        ("**Apple, Syndrome, Therefrom.**", "apple syndrome therefrom", "last-word-run"),
        # A word that is not in the list ends the answer: it is not skipped over.
        ("The answer is: apple banana syndrome therefrom", "apple", "final-answer-phrase"),
        ("apple comes first, then syndrome.\napple syndrome therefrom", "apple syndrome therefrom", "last-word-run"),
        ("Nothing to sort.", None, "none"),
    ],
)
def test_extract_word_list(output: str, answer: str | None, method: str) -> None:
    assert extract_word_list(output, VOCABULARY) == (answer, method)


@pytest.mark.parametrize(
    ("output", "answer", "method"),
    [
        ("signs", "signs", "continuation-word"),
        ("Signs.", "signs", "continuation-word"),
        (' chains and walked away.\n\nI was so angry.', "chains", "continuation-word"),
        ("I'm not going to lie.", "i'm", "first-word"),  # a new clause: a retelling, perhaps
        ('The missing word is "signs".', "signs", "final-answer-phrase"),
        ("The last word is probably **signs**.", "signs", "final-answer-phrase"),
        ("", None, "none"),
    ],
)
def test_extract_last_word(output: str, answer: str | None, method: str) -> None:
    assert extract_last_word(output) == (answer, method)


@pytest.mark.parametrize(
    ("output", "answer", "method"),
    [
        ("so $x = \\boxed{\\frac{\\sqrt{6}}{3}}$", "\\frac{\\sqrt{6}}{3}", "boxed"),
        ("The answer is $(3,4]$.", "(3,4]", "final-answer-phrase"),
        ("Final answer: 0.25 cm. Done.", "0.25 cm", "final-answer-phrase"),
        (" $\\frac{1}{2}$.", "\\frac{1}{2}", "leading-answer"),
        ("We get $x=2$, hence $y = \\sqrt{5}$", "y = \\sqrt{5}", "last-math"),
        ("The value is 12 or so", "12", "last-number"),
        ("no idea", None, "none"),
    ],
)
def test_extract_math(output: str, answer: str | None, method: str) -> None:
    assert extract_math(output) == (answer, method)


@pytest.mark.parametrize(
    ("answer", "gold", "equal"),
    [("\\frac{1}{2}", "0.5", True), ("\\dfrac12", "\\frac{1}{2}", True), ("(3, 4]", "(3,4]", True),
     ("2\\sqrt{3}", "\\sqrt{12}", True), ("\\$15.48", "15.48", True), ("1/3", "0.33", False), ("x", "y", False)],
)
def test_math_equal(answer: str, gold: str, equal: bool) -> None:
    assert math_equal(answer, gold) is equal


def test_judge_scores_unparsed_as_zero_and_keeps_the_rule() -> None:
    example = choice_example("1", {"question": "Which organ filters blood?"}, OPTIONS, 1)
    assert judge(example, "The answer is (B).").score == 1.0
    hedged = judge(example, "(A) or (B)")
    assert (hedged.answer, hedged.method, hedged.score) == (None, "none", 0.0)


def test_a_task_takes_exactly_one_of_extract_and_judge(tmp_path) -> None:
    from orcabench.task.data import DataSpec

    spec = DataSpec(hub_path="x", hub_split="test", local_files=("x.jsonl",))
    with pytest.raises(TypeError):
        GenerativeTask(name="t", version="1", description="", data=spec, template_dir=tmp_path, template="t.j2",
                       parse_row=lambda row, index: None)  # type: ignore[arg-type, return-value]
