"""What an output's shape says before any answer is read: did it loop, was it cut off.

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
# A run of this many words that recurs this often is a loop written without line breaks.
_LOOP_NGRAM = 10
_LOOP_NGRAM_REPEATS = 4


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


def looped(text: str) -> bool:
    """True when the output repeats one line, or one run of words, over and over."""
    lines = [" ".join(line.split()) for line in text.splitlines()]
    counts = Counter(line for line in lines if len(line) >= _LOOP_LINE_CHARS)
    if counts and counts.most_common(1)[0][1] >= _LOOP_LINE_REPEATS:
        return True
    words = re.findall(r"\S+", text.casefold())
    grams = Counter(tuple(words[i:i + _LOOP_NGRAM]) for i in range(len(words) - _LOOP_NGRAM + 1))
    return bool(grams) and grams.most_common(1)[0][1] >= _LOOP_NGRAM_REPEATS


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
