"""The specification of the numeric answer extractor (GSM8K and other numeric tasks).

Each case is a model output as small and large models really write them, the answer it
must yield, and the rule that must fire.
"""

import pytest

from orcabench.answers.text import extract_number, normalize_number


@pytest.mark.parametrize(
    ("output", "answer", "method"),
    [
        # The final-answer phrase wins over any number after it.
        ("She sells 9 eggs at $2 each, so 9 * 2 = 18. The answer is 18.", "18", "final-answer-phrase"),
        ("The answer is 18. (She ate 3 eggs and baked 4.)", "18", "final-answer-phrase"),
        ("Final answer: $1,234.50", "1234.5", "final-answer-phrase"),
        ("#### 72", "72", "final-answer-phrase"),
        ("So the answer is that she makes $18 every day.", "18", "final-answer-phrase"),
        ("The answer is **-5** degrees.", "-5", "final-answer-phrase"),
        ("Therefore, the final answer is 0.75", "0.75", "final-answer-phrase"),
        ("the answer is 3/4", "0.75", "final-answer-phrase"),
        # With several answer phrases, the last one is the model's final word.
        ("At first the answer is 12, but I forgot the tax. The answer is 15.", "15", "final-answer-phrase"),
        # LaTeX boxed answers beat everything, including phrases.
        ("The answer is 5. Wait, recompute: \\boxed{6}", "6", "boxed"),
        ("$\\boxed{\\$1,000}$", "1000", "boxed"),
        ("\\boxed{\\frac{1}{2}} hmm \\boxed{42}", "42", "boxed"),
        # Nested braces inside \boxed{} are read whole.
        ("\\boxed{3{,}450}", "3450", "boxed"),
        ("$\\boxed{\\frac{3}{4}}$", "0.75", "boxed"),
        ("The total is \\boxed{\\$75}.", "75", "boxed"),
        ("\\boxed{12 \\text{ km}}", "12", "boxed"),
        # Without a phrase, the concluding sentence's last computed "= N", or the number it marks.
        ("16 - 3 - 4 = 9 eggs, and 9 * 2 = $18 per day.", "18", "conclusion-number"),
        ("It takes 2 + 1 = 3 bolts.", "3", "conclusion-number"),
        ("Maria saves $60 a week.\nSo Maria will have $240 after 4 weeks.", "240", "conclusion-number"),
        ("So in total she pays **$96** over 8 months.", "96", "conclusion-number"),
        ("Each box holds 12, so he has 36 after 3 trips.", "36", "conclusion-number"),
        ("She has 16 eggs and eats 3.", "3", "last-number"),  # restates the question: no conclusion
        ("So she has 5 or 6 left.", None, "none"),  # two numbers offered: a hedge
        # Without a marked number, the last number in the text.
        ("It costs 1,000,000 dollars", "1000000", "last-number"),
        ("The temperature drops to −7", "-7", "last-number"),
        ("18.00", "18", "leading-number"),
        ("She runs 10-3 miles", "3", "last-number"),  # a range, not a negative number
        ("He pays .5 dollars", "0.5", "last-number"),
        ("There are 60% left, i.e. 30 apples.", "30", "last-number"),
        # Nothing numeric: unparsed, never a guess.
        ("I don't know.", None, "none"),
        ("", None, "none"),
    ],
)
def test_extract_number(output: str, answer: str | None, method: str) -> None:
    assert extract_number(output) == (answer, method)


@pytest.mark.parametrize(
    ("written", "canonical"),
    [("18", "18"), ("18.0", "18"), ("$1,234", "1234"), ("-0.50", "-0.5"), ("1/4", "0.25"), ("7.", "7"), ("abc", None)],
)
def test_normalize_number(written: str, canonical: str | None) -> None:
    assert normalize_number(written) == canonical
