"""Readers of answers written as text rather than a number or an option letter.

A run of closing brackets (Dyck languages), a sorted word list, the word that ends a passage
(LAMBADA), a math expression (AGIEval math), a short phrase, and DROP's short answers. Each
takes a model's raw output and returns ``(answer, method)``, as the extractors of
:mod:`orcabench.answers.text` do, with whose shared helpers they read.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from orcabench.answers.text import (
    FINAL_PHRASE_RE,
    NONE,
    NUMBER_RE,
    _FINAL_PHRASE,
    asked,
    boxed_contents,
    clean_markup,
    closing_question,
    normalize_text,
    rest_of_line,
)


_BRACKET_RUN_RE = re.compile(r"[)\]}>](?:[\s`'\"]*[)\]}>])*")


def normalize_brackets(text: str) -> str:
    """A bracket sequence as BBH writes it: one bracket per token, single spaces."""
    return " ".join(ch for ch in text if ch in "()[]{}<>")


def extract_dyck(output: str) -> tuple[str | None, str]:
    """The closing-bracket sequence of a Dyck-language completion (BBH ``dyck_languages``).

    Rules: ``final-answer-phrase`` (the brackets right after the last "the answer is" /
    "Answer:", openers included, so a model that repeats the whole sequence is read as
    saying so, and scored wrong); ``leading-brackets`` (the output opens with a run of
    closing brackets, then explains it); ``last-bracket-run`` (the last run of closing
    brackets, unless in a question the output ends with).
    Spacing, backticks and quotes around brackets are ignored: ``]]>`` reads ``] ] >``.
    """
    text = clean_markup(output)
    for phrase in reversed(list(FINAL_PHRASE_RE.finditer(text))):
        run = re.match(r"[\s'\"]*((?:[()\[\]{}<>][\s'\"]*)+)", text[phrase.end():])
        if run:
            return normalize_brackets(run.group(1)), "final-answer-phrase"
    leading = re.match(r"[\s'\"]*(" + _BRACKET_RUN_RE.pattern + r")[\s'\".]*(?:\n|$)", text)
    if leading:
        return normalize_brackets(leading.group(1)), "leading-brackets"
    runs = list(_BRACKET_RUN_RE.finditer(text))
    if runs:
        return (None, NONE) if asked(text, runs[-1].start()) else (normalize_brackets(runs[-1].group()), "last-bracket-run")
    return None, NONE


_WORD_TRIM = ".,;:!?*\"“”‘’()[]{}<>"
_LIST_MARKER_RE = re.compile(r"^(?:\d+[.)]?|[-•*–])$")  # "1." arrives as "1": dots are trimmed first
_SORTED_PHRASE_RE = re.compile(
    _FINAL_PHRASE + r"|\bsorted(?:\s+(?:list|words|order|sequence))?\s*(?:is|would\s+be)?\s*:\s*"
    r"|\balphabetical(?:ly)?(?:\s+order)?\s*(?:is|would\s+be)?\s*:\s*",
    re.IGNORECASE,
)


def _word_tokens(text: str) -> list[str]:
    """Lower-case words, list markers dropped; a sentence end or a blank line becomes a "."
    token, which no vocabulary holds, so that a run of words never spans two sentences."""
    tokens: list[str] = []
    for raw in re.split(r"[\s,;]+", re.sub(r"\n[ \t]*\n", " ¶ ", text)):
        if raw == "¶":
            tokens.append(".")
            continue
        token = raw.strip(_WORD_TRIM).casefold()
        if token and not _LIST_MARKER_RE.match(token):
            tokens.append(token)
            if raw.rstrip("*`\"”’)").endswith((".", "!", "?")):
                tokens.append(".")
    return tokens


def _word_runs(tokens: list[str], vocabulary: set[str]) -> list[list[str]]:
    runs: list[list[str]] = [[]]
    for token in tokens:
        if token in vocabulary:
            runs[-1].append(token)
        elif runs[-1]:
            runs.append([])
    return [run for run in runs if run]


def extract_word_list(output: str, vocabulary: Sequence[str]) -> tuple[str | None, str]:
    """A list of words (BBH ``word_sorting``), lower case and space-separated, in the
    model's order; ``vocabulary`` is the task's own word list.

    Rules: ``final-answer-phrase`` (after the last "the answer is" / "sorted list:" /
    "alphabetical order:", the run of vocabulary words, across lines, list markers and
    commas skipped, ending at the first word that is not in the vocabulary, so a stray word
    ends the answer instead of being skipped over, and so does a blank line); ``last-word-run``
    (not in a question the output ends with: the last run with at
    least half as many words as the vocabulary, else the longest run, the later on a tie).
    """
    words = {word.casefold() for word in vocabulary}
    text = clean_markup(output)
    for phrase in reversed(list(_SORTED_PHRASE_RE.finditer(text))):
        runs = _word_runs(_word_tokens(text[phrase.end():]), words)
        first = _word_tokens(text[phrase.end():])[:1]
        if runs and first and first[0] in words:
            return " ".join(runs[0]), "final-answer-phrase"
    runs = _word_runs(_word_tokens(text), words)
    if not runs:
        return None, NONE
    long_runs = [run for run in runs if 2 * len(run) >= len(words)]
    chosen = long_runs[-1] if long_runs else max(reversed(runs), key=len)
    if chosen in _word_runs(_word_tokens(closing_question(text)[1]), words):
        return None, NONE  # "Do you want apple syndrome therefrom sorted?"
    return " ".join(chosen), "last-word-run"


def normalize_word(word: str) -> str:
    """A word compared case-insensitively, without the quotes and punctuation around it."""
    return word.strip(_WORD_TRIM + "'-–—…").casefold()


_WORD_PHRASE_RE = re.compile(
    r"\b(?:answer|missing\s+word|last\s+word|final\s+word|word)\s*(?:is|would\s+be|:)\s*"
    r"(?:(?:probably|likely|simply|just)\s+)?[:\-–—]?\s*",
    re.IGNORECASE,
)


# What follows "the last word is" when the model says it has no word to give.
_NO_WORD = frozenset({"missing", "unknown", "unclear", "not", "absent"})


def extract_last_word(output: str) -> tuple[str | None, str]:
    """The one word a model supplies to end a passage (LAMBADA), normalised as by
    :func:`normalize_word`.

    Rules: ``final-answer-phrase`` (the word right after the last "the missing word is",
    "Answer:", "the last word is"; not "the last word is missing"); ``continuation-word`` (the output's first word, when it is
    lower case or ends a sentence: the passage continued); ``first-word`` (otherwise the output's first word: the
    model answered with the word, or continued the passage with it).
    """
    text = clean_markup(output)
    for phrase in reversed(list(_WORD_PHRASE_RE.finditer(text))):
        raw = text[phrase.end():].split()
        tokens = [normalize_word(token) for token in raw]
        # "the last word is missing": said to be absent, not given. Not when the word is quoted or marked
        # ('The missing word is "missing".') or follows "Answer:": then it is the word given.
        stated = raw[:1] and (raw[0][0] in "\"'“‘*_" or phrase.group(0).lstrip().lower().startswith("answer")
                              or ":" in phrase.group(0))
        if tokens and tokens[0] in _NO_WORD and not stated:
            continue
        if tokens and tokens[0]:
            return tokens[0], "final-answer-phrase"
    for token in text.split():
        word = normalize_word(token)
        if word:
            # a word that goes on with the passage's sentence (lower case) or ends it ("Helen.") is the
            # continuation the task asks for; a capitalised word opening a clause may start a retelling
            continues = token[:1].islower() or re.search(r"[.!?,;:\"”’]$", token) is not None
            return word, "continuation-word" if continues else "first-word"
    return None, NONE


_MATH_SPAN_RE = re.compile(r"(?<!\\)\$\$?((?:[^$]|(?<=\\)\$)+?)(?<!\\)\$\$?|\\\((.+?)\\\)|\\\[(.+?)\\\]", re.DOTALL)


def _strip_math(text: str) -> str:
    text = re.sub(r"[.。]$", "", text.strip()).strip()
    return re.sub(r"^\$+|(?<!\\)\$+$", "", text).strip()


def extract_math(output: str) -> tuple[str | None, str]:
    """A free-form mathematical answer (AGIEval ``math``), as LaTeX text.

    Rules: ``boxed`` (the last ``\\boxed{..}``, any nesting); ``final-answer-phrase`` (after
    the last "the answer is" / "Final answer:", the first ``$..$`` span on that line, else
    the rest of the sentence); ``leading-answer`` (a short first line that starts like math,
    "$\\frac12$." or "15.", for prompts that end in "The answer is"); ``last-math`` (the last
    ``$..$``, ``\\(..\\)`` or ``\\[..\\]`` span); ``last-number`` (these two not from a question
    the output ends with). Compare with
    :func:`orcabench.answers.formats.math_equal`, not ``==``.
    """
    boxed = boxed_contents(output)
    if boxed:
        return boxed[-1].strip(), "boxed"
    for phrase in reversed(list(FINAL_PHRASE_RE.finditer(output))):
        line = rest_of_line(output, phrase.end())
        span = _MATH_SPAN_RE.search(line)
        if span and not line[: span.start()].strip():
            return next((group for group in span.groups() if group), "").strip(), "final-answer-phrase"
        sentence = re.split(r"(?<!\\)\.\s|\.$", line, maxsplit=1)[0]
        if _strip_math(sentence):
            return _strip_math(sentence), "final-answer-phrase"
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    if lines and len(lines[0]) <= 60 and re.match(r"[$\\\d(\[-]", lines[0]):
        return _strip_math(re.split(r"(?<!\\)\.\s", lines[0], maxsplit=1)[0]), "leading-answer"
    spans = [span for span in _MATH_SPAN_RE.finditer(output) if any(span.groups())]
    if spans:
        content = next(group for group in spans[-1].groups() if group).strip()
        return (None, NONE) if asked(output, spans[-1].start()) else (content, "last-math")
    numbers = list(NUMBER_RE.finditer(output))
    if numbers:
        return (None, NONE) if asked(output, numbers[-1].start()) else (numbers[-1].group(), "last-number")
    return None, NONE


def extract_phrase_text(output: str) -> tuple[str | None, str]:
    """A short free-text answer: the rest of the sentence after the last final-answer
    phrase (``final-answer-phrase``), else the last non-empty line (``last-line``)."""
    text = clean_markup(output)
    for phrase in reversed(list(FINAL_PHRASE_RE.finditer(text))):
        sentence = re.split(r"\.\s|\.$", rest_of_line(text, phrase.end()), maxsplit=1)[0]
        if normalize_text(sentence):
            return normalize_text(sentence), "final-answer-phrase"
    lines = [line for line in text.splitlines() if normalize_text(line)]
    return (normalize_text(lines[-1]), "last-line") if lines else (None, NONE)


# DROP: a short free-text answer (a number, a date, one or more spans), scored by token
# overlap (orcabench.answers.drop), so its original wording is kept rather than normalised.
# Only "answer" followed by "is" / ":" / "=" is a final-answer phrase here: a bare "answer"
# ("To answer this, ...") would read the reasoning's first words as the answer.
_SHORT_ANSWER_PHRASE_RE = re.compile(
    r"\b(?:final\s+|correct\s+|short\s+)?answer\s*(?:is|would\s+be|will\s+be|should\s+be|must\s+be|=|:)\s*[:\-–—]?\s*",
    re.IGNORECASE,
)


def _trim_short_answer(text: str) -> str:
    return text.strip().strip("\"'“”‘’").strip().rstrip(".!;:,").strip()


def extract_short_answer(output: str) -> tuple[str | None, str]:
    """A short free-text answer (DROP), in the model's own wording (trimmed of quotes and
    a final period).

    Rules: ``boxed`` (the last non-empty ``\\boxed{..}``); ``final-answer-phrase`` (after the
    last "the answer is" / "Answer:" / "final answer =", the rest of that sentence, on the
    next line when the phrase ends its line); ``whole-output`` (a one-line output is the
    answer); ``last-line`` (else the last non-empty line); ``none`` for an empty output.
    """
    text = clean_markup(output)
    for content in reversed(boxed_contents(text)):
        if _trim_short_answer(content):
            return _trim_short_answer(content), "boxed"
    for phrase in reversed(list(_SHORT_ANSWER_PHRASE_RE.finditer(text))):
        sentence = re.split(r"\.\s|\.$", rest_of_line(text, phrase.end()), maxsplit=1)[0]
        if _trim_short_answer(sentence):
            return _trim_short_answer(sentence), "final-answer-phrase"
    lines = [_trim_short_answer(line) for line in text.splitlines() if _trim_short_answer(line)]
    if not lines:
        return None, NONE
    return lines[-1], "whole-output" if len(lines) == 1 else "last-line"
