"""The extraction corpus's real cases: outputs real models wrote, read by a careful human.

``extraction_corpus_real.jsonl`` holds one case a line. Each names where its output came from
(``source``: a public repository, commit, file and sample id, or the bundled model, task,
example id and the command that ran it), the model, the task, the answer format and what the
format needs to be read (the options of a multiple-choice question, a label set, a word list),
the gold answer when known, the output verbatim, and ``expected``: the answer a careful human
grader reads in it, normalised as ``tests/extraction_corpus.py`` normalises (an upper-case
letter, a label spelled as in the label set, a number without commas or a trailing ``.0``),
or ``null`` where a human reads no answer (a loop, a cut-off derivation, a hedge, an invented
next turn answered instead of this one). ``why`` explains the tricky readings. ``question``, where the source
gives it, is the question as the task's example holds it (the question-aware rules of the reader read it).

The labels were written from the outputs, not from any extractor's reading: an extractor that
disagrees with a row is wrong about that row (or the row is mislabelled, and the fix is a
reviewed change to the row, never to the test).

This module turns the lines into :class:`RealCase` records and ``CONTEXTS`` (id -> (answer
format, format argument)), the written corpus's context shape, so that the same reader runs both.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DATA = Path(__file__).with_name("extraction_corpus_real.jsonl")

# The formats the written corpus reads, and the field of a line that carries each one's argument.
ARGUMENT_FIELD: dict[str, str | None] = {
    "choice": "options", "label": "labels", "words": "vocabulary",
    "number": None, "dyck": None, "math": None, "last-word": None,
}


@dataclass(frozen=True)
class RealCase:
    """One output a real model wrote, and how a human reads it."""

    id: str
    source: str
    model: str
    bundled: bool  # written by one of the two bundled models (smollm2-135m, gemma3-270m)
    task: str
    answer_format: str
    argument: Any  # (letters, options) for choice, the label tuple, the word list, or None
    gold: str | None
    output: str
    finish_reason: str | None  # as the run recorded it ("length": cut off at max_tokens); None where the log has none
    expected: str | None
    why: str
    question: str | None = None  # the question as the task's example holds it, where the source gives it

    @property
    def context(self) -> tuple[str, Any]:
        return self.answer_format, self.argument


def parse_case(line: dict[str, Any]) -> RealCase:
    """A case from one decoded line; a line without a field its format needs is refused."""
    answer_format = line["format"]
    if answer_format not in ARGUMENT_FIELD:
        raise ValueError(f"{line['id']}: unknown format {answer_format!r}")
    field = ARGUMENT_FIELD[answer_format]
    argument: Any = None
    if answer_format == "choice":
        options = list(line["options"])
        argument = (line["letters"], options)
        if len(line["letters"]) != len(options):
            raise ValueError(f"{line['id']}: {len(line['letters'])} letters for {len(options)} options")
    elif answer_format == "label":
        argument = tuple(line["labels"])
    elif field is not None:
        argument = list(line[field])
    return RealCase(id=line["id"], source=line["source"], model=line["model"], bundled=bool(line["bundled"]),
                    task=line["task"], answer_format=answer_format, argument=argument, gold=line.get("gold"),
                    output=line["output"], finish_reason=line.get("finish_reason"), expected=line["expected"],
                    why=line.get("why", ""), question=line.get("question"))


def load_cases(path: Path = DATA) -> list[RealCase]:
    with path.open(encoding="utf-8") as handle:
        return [parse_case(json.loads(line)) for line in handle if line.strip()]


REAL_CASES: list[RealCase] = load_cases()
# The written corpus's context shape: context names are the case ids, so they never collide with its own.
CONTEXTS: dict[str, tuple[str, Any]] = {case.id: case.context for case in REAL_CASES}
# The question each case answers, where its source gives it (the reader's question-aware rules read it).
QUESTIONS: dict[str, str] = {case.id: case.question for case in REAL_CASES if case.question is not None}
