"""Every row of the adversarial extraction corpus (tests/extraction_corpus.py) reads as it says."""

from __future__ import annotations

from collections import Counter

import pytest
from extraction_corpus import CASES, CONTEXTS

from orcabench.answers.text import RULES, extract_dyck, extract_last_word, extract_math, extract_number, extract_word_list
from orcabench.answers.choice import extract_choice, extract_label


def read(context: str, output: str) -> tuple[str | None, str]:
    answer_format, argument = CONTEXTS[context]
    if answer_format == "choice":
        letters, options = argument
        return extract_choice(output, letters, options)
    if answer_format == "label":
        return extract_label(output, argument)
    if answer_format == "words":
        return extract_word_list(output, argument)
    return {"number": extract_number, "dyck": extract_dyck, "math": extract_math,
            "last-word": extract_last_word}[answer_format](output)


@pytest.mark.parametrize(("style", "context", "output", "expected"), CASES,
                         ids=[f"{i}-{style}-{context}" for i, (style, context, _, _) in enumerate(CASES)])
def test_corpus_case(style: str, context: str, output: str, expected: str | None) -> None:
    answer, rule = read(context, output)
    assert answer == expected, f"read by rule {rule}"
    assert rule in RULES and (rule == "none") == (answer is None)


def test_the_corpus_covers_every_style_and_format() -> None:
    assert len(CASES) >= 300
    assert len({(context, output) for _, context, output, _ in CASES}) == len(CASES)  # no row twice
    styles = Counter(style for style, *_ in CASES)
    assert set(styles) == {"orca2", "llama2", "wizard", "gpt4", "small", "real"} and min(styles.values()) >= 20
    formats = Counter(CONTEXTS[context][0] for _, context, _, _ in CASES)
    assert set(formats) == {"choice", "label", "number", "dyck", "words", "math", "last-word"}
    assert sum(expected is None for *_, expected in CASES) >= 40  # hedges, refusals, questions back
