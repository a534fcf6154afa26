"""What an output's shape says before any answer is read: did it loop, was it cut off, does it
decline to answer (asks back, hedges, says no option is right).

Computed once per output and stored in its record (``extra.looped``, ``extra.truncated``).
The last mention of a number or a letter in a loop or in a derivation cut off mid-way is
not an answer, so the pipeline's conclusion and weak layers do not read flagged outputs;
an answer the model stated explicitly before the loop or the cut still counts.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

# A line at least this long, repeated this often, is a loop ("Step 3: 5 + 5 = 10" x 20);
# short lines ("---", "Yes") repeat in honest outputs.
_LOOP_LINE_CHARS = 12
_LOOP_LINE_REPEATS = 3
_LINE_MARK_RE = re.compile(r"^(?:[-*•]\s*)?\(?[A-Za-z][.):]\s*")
# A run of this many words that recurs this often is a loop written without line breaks.
_LOOP_NGRAM = 10
_LOOP_NGRAM_REPEATS = 3


@dataclass(frozen=True)
class Signals:
    looped: bool = False
    truncated: bool = False

    @property
    def flagged(self) -> bool:
        return self.looped or self.truncated

    def record_extra(self) -> dict[str, Any]:
        """The record's ``extra`` fields: only the signals that are set, so that an ordinary
        output's record is what it was before signals existed (an absent one reads as False,
        and rescoring an old run changes no record that reads the same)."""
        return {name: True for name, value in (("looped", self.looped), ("truncated", self.truncated)) if value}


def drop_list_mark(line: str) -> str:
    """A line without its list mark ("B: ", "(C) ", "- "): the text that repeats in a looping list."""
    return _LINE_MARK_RE.sub("", " ".join(line.split()))


def looped(text: str) -> bool:
    """True when the output repeats one line, or one run of words, over and over."""
    # a line's own list mark is no difference: "A: the answer is:", "B: the answer is:" repeat one line
    lines = [_LINE_MARK_RE.sub("", " ".join(line.split())) for line in text.splitlines()]
    counts = Counter(line for line in lines if len(line) >= _LOOP_LINE_CHARS)
    if counts and counts.most_common(1)[0][1] >= _LOOP_LINE_REPEATS:
        return True
    words = re.findall(r"\S+", text.casefold())
    grams = Counter(tuple(words[i:i + _LOOP_NGRAM]) for i in range(len(words) - _LOOP_NGRAM + 1))
    return bool(grams) and grams.most_common(1)[0][1] >= _LOOP_NGRAM_REPEATS


def _tail_run(spans: list[tuple[int, int]], end: int) -> int | None:
    """The first of the occurrences ``spans`` (start, end) of one repeated unit that, one after
    another with little between them, run on to the output's end: where its loop begins."""
    size = max(stop - start for start, stop in spans)
    slack = 2 * size + 40
    if end - spans[-1][1] > slack:
        return None  # the unit recurs, but the output went on to other things: no loop at its end
    first = len(spans) - 1
    while first > 0 and spans[first][0] - spans[first - 1][1] <= slack:
        first -= 1
    return spans[first][0] if len(spans) - first >= _LOOP_LINE_REPEATS else None


def loop(text: str) -> tuple[int, str] | None:
    """Where the loop the output ends in begins, and the text it repeats; None when it does not
    end in one (a phrase restated now and then is no loop to cut).

    The loop begins at the start of the line (or, for a loop written without line breaks, of the
    sentence) that holds the first of the repetitions that run on to the end; what it repeats is
    that line (its list mark dropped) or that run of words, as written."""
    end = len(text.rstrip())
    found: list[tuple[int, str]] = []
    units: dict[str, list[tuple[int, int]]] = {}
    for m in re.finditer(r"[^\n]+", text):
        line = _LINE_MARK_RE.sub("", " ".join(m.group().split()))
        if len(line) >= _LOOP_LINE_CHARS:
            units.setdefault(line, []).append((m.start(), m.end()))
    for line, spans in units.items():
        start = _tail_run(spans, end) if len(spans) >= _LOOP_LINE_REPEATS else None
        if start is not None:
            found.append((start, line))
    words = [(m.start(), m.end(), m.group().casefold()) for m in re.finditer(r"\S+", text)]
    grams: dict[tuple[str, ...], list[tuple[int, int]]] = {}
    for i in range(len(words) - _LOOP_NGRAM + 1):
        gram = tuple(word for *_, word in words[i:i + _LOOP_NGRAM])
        grams.setdefault(gram, []).append((words[i][0], words[i + _LOOP_NGRAM - 1][1]))
    for spans in grams.values():
        at = _tail_run(spans, end) if len(spans) >= _LOOP_NGRAM_REPEATS else None
        if at is not None:
            # the sentence the loop begins in: a loop written without line breaks may follow an answer on its line
            sentence_ends = [m.end() for m in re.finditer(r"[.!?](?:\s+|$)", text[:at])]
            start = max([text.rfind("\n", 0, at) + 1, *sentence_ends[-1:]])
            found.append((start, text[at:next(stop for begin, stop in spans if begin == at)]))
    return min(found) if found else None


# Words no finished sentence ends with: an output that stops on one was cut off, whatever its
# finish_reason says (outputs from public logs carry none).
_UNFINISHED_RE = re.compile(r"(?:\b(?:the|a|an|of|to|and|or|but|it|is|are|was|were|that|which|with|for|from|by|in|on|at|"
                            r"as|than|because|if|we|i|its|their|his|her|this|these)|[,=+×(])\s*$",
                            re.IGNORECASE)


def unfinished(text: str) -> bool:
    """True when the output stops mid-clause ("Therefore, the final value of")."""
    return bool(text.strip()) and _UNFINISHED_RE.search(text.rstrip()) is not None


def signals(text: str, finish_reason: str | None = None) -> Signals:
    """The signals of one output: ``truncated`` when the backend said the budget ran out
    (``finish_reason`` "length") or the text stops mid-clause."""
    return Signals(looped=looped(text), truncated=finish_reason == "length" or unfinished(text))


# An output that asks the user for what it lacks, or weighs both sides without a verdict.
_UNDECIDED_RE = re.compile(
    r"\b(?:could|can|would)\s+you\s+(?:please\s+)?(?:tell|clarify|provide|specify|confirm|share|let\s+me\s+know|give)\b"
    r"|\bplease\s+(?:provide|clarify|specify|confirm|let\s+me\s+know)\b"
    r"|\b(?:i|we)\s+(?:would\s+|will\s+)?need\s+(?:more|additional|further)\s+(?:information|details|context)\b"
    r"|\b(?:doesn't|does\s+not|don't|do\s+not|didn't|did\s+not)\s+(?:say|specify|mention|state|tell\s+(?:us|me))\b"
    r"|\bnot\s+enough\s+information\b|\b(?:cannot|can't|can\s+not)\s+be\s+determined\b"
    r"|\bmissing\s+(?:information|data|details)\b"
    r"|\bon\s+(?:the\s+)?one\s+hand\b|\bit\s+(?:really\s+|all\s+)?depends\b|\bhard\s+to\s+say\b"
    r"|\bcould\s+go\s+either\s+way\b|\b(?:i'?m|i\s+am)\s+not\s+(?:sure|certain)\b"
    # no option is right, in the model's own words
    r"|\bnone\s+of\s+the\s+(?:above|options|choices|answers)\b|\(none\)"
    r"|\bnot\s+(?:listed\s+(?:in|among)|listed|among|one\s+of|in)\s+(?:the\s+)?(?:given\s+)?(?:options|choices|answers)\b"
    r"|\b(?:is\s+)?not\s+(?:an|a\s+valid)\s+option\b|\bwe\s+(?:don't|do\s+not)\s+know\b|\bcan(?:'t|not)\s+solve\b"
    # the word asked for, said to be missing rather than given (LAMBADA: "The sentence is missing the last word.")
    r"|\b(?:is|was)\s+missing\s+(?:the|a|its|one)\s+(?:last|final|missing|closing)\s+word\b"
    r"|\b(?:last|final)\s+word\s+(?:is|was)\s+missing\b",
    re.IGNORECASE,
)


def undecided(text: str) -> bool:
    """True when the output asks back for missing information or hedges without a verdict."""
    return _UNDECIDED_RE.search(text) is not None
