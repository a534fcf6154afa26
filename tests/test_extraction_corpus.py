"""Every row of the adversarial extraction corpus (tests/extraction_corpus.py) reads as it says."""

from __future__ import annotations

from collections import Counter

import pytest
from extraction_corpus import CASES, CONTEXTS, CUT_OFF, NEW_STYLES, QUESTIONS

from orcabench.answers.formats import judge, make_example
from orcabench.answers.pipeline import RulePipeline
from orcabench.answers.text import RULES


def read(context: str, output: str, finish_reason: str | None = None) -> tuple[str | None, str]:
    """The output read as a run reads it: the reading pipeline around the format's rules (``finish_reason``: as the
    run recorded it; by default "length" for the cut-off contexts, else "stop"), the context's question, where it
    has one, in the example's fields as a task puts it there."""
    answer_format, argument = CONTEXTS[context]
    choices, labels = (argument[1], ()) if answer_format == "choice" else ((), argument or ())
    fields = {"question": QUESTIONS[context]} if context in QUESTIONS else {}
    example = make_example("case", fields, "", answer_format, choices=choices, labels=labels)
    reading = RulePipeline(judge).read(output, example, finish_reason or ("length" if context in CUT_OFF else "stop"))
    return reading.score.answer, reading.score.method


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
    assert set(styles) == {"orca2", "llama2", "wizard", "gpt4", "small", "real", *NEW_STYLES} and min(styles.values()) >= 8
    formats = Counter(CONTEXTS[context][0] for _, context, _, _ in CASES)
    assert set(formats) == {"choice", "label", "number", "dyck", "words", "math", "last-word"}
    assert sum(expected is None for *_, expected in CASES) >= 40  # hedges, refusals, questions back
