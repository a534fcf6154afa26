"""Answer formats shared by the task plugins: options, per-example formats, scoring.

A task whose examples carry their own answer format (multiple choice with its options,
BBH's per-subtask formats, math answers compared by equivalence) builds each
:class:`~orcabench.types.Example` with :func:`make_example` / :func:`choice_example` and
scores with :func:`judge` (``GenerativeTask(judge=judge, ...)``). The format names a pair
of functions: an extractor from :mod:`orcabench.answers.text` and a comparison with the gold.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from orcabench.answers.text import extract_number
from orcabench.answers.spans import extract_dyck, extract_last_word, extract_math, extract_phrase_text, extract_word_list
from orcabench.answers.choice import extract_choice, extract_label
from orcabench.types import Example, Score

LETTERS = string.ascii_uppercase
_OPTION_PREFIX_RE = re.compile(r"^\s*\(([A-Z])\)\s*")


def option_letters(count: int) -> str:
    if not 1 <= count <= len(LETTERS):
        raise ValueError(f"{count} options: expected 1 to {len(LETTERS)}")
    return LETTERS[:count]


def format_options(options: Sequence[str]) -> str:
    """Options as one block, one "(A) text" per line: the layout BBH itself uses."""
    return "\n".join(f"({letter}) {option}" for letter, option in zip(option_letters(len(options)), options))


def strip_option_prefix(option: str) -> str:
    """"(A)5(√3 + 1)" -> "5(√3 + 1)" (AGIEval writes each option with its letter)."""
    return _OPTION_PREFIX_RE.sub("", option, count=1).strip()


def listed_options(text: str) -> list[str]:
    """The option texts of a prompt that lists them as "Options:\\n(A) ...\\n(B) ..."."""
    _, found, block = text.rpartition("Options:")
    if not found:
        return []
    return [match.group(1).strip() for match in re.finditer(r"^\([A-Z]\)\s*(.*)$", block, re.MULTILINE)]


def math_equal(answer: str, gold: str) -> bool:
    """Mathematical equivalence of two LaTeX answers ("\\frac12" = "0.5" = "1/2").

    Equal normalised strings are equal without parsing (the common case, and fast); other
    pairs are parsed and compared by ``math-verify`` (sympy), which returns False on
    anything it cannot parse.
    """
    if _canonical_latex(answer) == _canonical_latex(gold):
        return True
    from math_verify import parse, verify  # imported late: ~1 s, and only math tasks need it

    try:
        return bool(verify(parse(f"${gold}$"), parse(f"${answer}$")))
    except Exception:  # math-verify raises on a few malformed inputs instead of returning False
        return False


def _canonical_latex(text: str) -> str:
    text = re.sub(r"\\[!,;:]|\\left|\\right|\\\$|\$|\s+", "", text)
    text = text.replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac").replace("^{\\circ}", "").replace("^\\circ", "")
    return text.rstrip(".")


@dataclass(frozen=True)
class AnswerFormat:
    """How answers of one kind are read (``extract``) and compared with the gold."""

    extract: Callable[[str, Example], tuple[str | None, str]]
    is_correct: Callable[[str, str], bool] = lambda answer, gold: answer == gold


FORMATS: dict[str, AnswerFormat] = {
    # choices: the option texts; gold: a letter
    "choice": AnswerFormat(lambda out, ex: extract_choice(out, ex.letters, ex.choices)),
    # labels (e.g. ("Yes", "No")); gold: one label, spelled as in labels
    "label": AnswerFormat(lambda out, ex: extract_label(out, ex.labels)),
    "number": AnswerFormat(lambda out, ex: extract_number(out)),  # gold: normalize_number(...)
    "dyck": AnswerFormat(lambda out, ex: extract_dyck(out)),  # gold: normalize_brackets(...)
    # labels: the words to sort; gold: the words, lower case, space-separated
    "words": AnswerFormat(lambda out, ex: extract_word_list(out, ex.labels)),
    "last-word": AnswerFormat(lambda out, ex: extract_last_word(out)),  # gold: normalize_word(...)
    "math": AnswerFormat(lambda out, ex: extract_math(out), math_equal),
    "text": AnswerFormat(lambda out, ex: extract_phrase_text(out)),  # gold: normalize_text(...)
}


def make_example(id: str, fields: dict[str, Any], gold: str, answer_format: str, subtask: str | None = None,
                 choices: Sequence[str] = (), labels: Sequence[str] = ()) -> Example:
    """An example read in ``answer_format``; ``fields`` are the template's variables only."""
    if answer_format not in FORMATS:
        raise ValueError(f"unknown answer format {answer_format!r}: choose from {', '.join(FORMATS)}")
    return Example(id=id, fields=fields, gold=gold, subtask=subtask, answer_format=answer_format, choices=tuple(choices),
                   labels=tuple(labels))


def choice_example(id: str, fields: dict[str, Any], options: Sequence[str], gold: str | int,
                   subtask: str | None = None) -> Example:
    """A multiple-choice example; ``gold`` is the right letter or its 0-based index.

    The template also sees ``letters`` and ``options_text`` (the formatted block); the
    scorer reads the option texts from ``Example.choices``.
    """
    letters = option_letters(len(options))
    gold_letter = letters[gold] if isinstance(gold, int) else gold.strip().strip("()").upper()
    if gold_letter not in letters:
        raise ValueError(f"example {id}: gold {gold!r} is not one of the {len(options)} options")
    fields = {**fields, "letters": letters, "options_text": format_options(options)}
    return make_example(id, fields, gold_letter, "choice", subtask, choices=options)


def rotated(example: Example, shift: int) -> Example:
    """A multiple-choice example with its options rotated ``shift`` places: option A becomes the
    one that was ``shift`` letters later (wrapping round), and the gold letter moves with its text.

    The blocks a template lists options from are rebuilt: ``options_text`` (:func:`format_options`)
    and, where the example has it, ``options_inline`` (AGIEval's "(A)text (B)text"). This is
    OpenCompass's CircularEval rotation (``opencompass/datasets/circular.py``: "ABCD" -> "BCDA", ...).
    """
    count = len(example.choices)
    if example.answer_format != "choice" or not count:
        raise ValueError(f"example {example.id} is not a multiple-choice question: its options cannot rotate")
    shift %= count
    options = example.choices[shift:] + example.choices[:shift]
    letters = option_letters(count)
    gold = letters[(letters.index(example.gold) - shift) % count]
    fields = {**example.fields, "letters": letters, "options_text": format_options(options)}
    if "options_inline" in fields:
        fields["options_inline"] = " ".join(f"({letter}){option}" for letter, option in zip(letters, options))
    return replace(example, fields=fields, gold=gold, choices=tuple(options))


def judge(example: Example, output: str) -> Score:
    """Score one output against its example's gold, in the example's answer format."""
    if example.answer_format not in FORMATS:
        raise ValueError(f"example {example.id} has no answer format orcabench.answers.formats can read "
                         f"({example.answer_format!r})")
    answer_format = FORMATS[example.answer_format]
    answer, method = answer_format.extract(output, example)
    correct = answer is not None and answer_format.is_correct(answer, example.gold)
    return Score(answer=answer, method=method, score=1.0 if correct else 0.0)
