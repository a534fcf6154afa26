"""The reading pipeline: how an answer is read out of a model's output, in layers.

Layer 1 (the think trace) is split off by :mod:`orcabench.answers.traces`, which then hands
the final answer to a :class:`Reader`. The one reader today is :class:`RulePipeline`:

2. cut at an invented next turn (:mod:`orcabench.answers.turns`);
3. a structured answer (:mod:`orcabench.answers.structured`), whose value the answer
   format's own rules read;
4.–6. the answer format's rules (:mod:`orcabench.answers.text`, :mod:`orcabench.answers.choice`),
   explicit statements first, then the conclusion, then weak fallbacks;

and then the gate: a reading from the conclusion or weak layers is dropped (unparsed) for an
output that loops or was cut off (:mod:`orcabench.answers.signals`), or that hedges or asks
the user back, because there the last sentence or the last number is no verdict. Every
rule's layer is in :mod:`orcabench.answers.rules`.

A judge model would be another :class:`Reader`: it gets the same output and example and
returns the same kind of :class:`Reading`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Protocol

from orcabench.answers.rules import LAYERS, NONE
from orcabench.answers.signals import Signals, signals
from orcabench.answers.structured import structured_answer
from orcabench.answers.turns import invented_turn
from orcabench.types import Example, Score

# The layers a flagged or undecided output is not read by.
GATED_LAYERS = frozenset({5, 6})
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
    r"|\bnot\s+(?:listed|among|one\s+of|in)\s+(?:the\s+)?(?:given\s+)?(?:options|choices|answers)\b"
    r"|\b(?:is\s+)?not\s+(?:an|a\s+valid)\s+option\b|\bwe\s+(?:don't|do\s+not)\s+know\b|\bcan(?:'t|not)\s+solve\b",
    re.IGNORECASE,
)


def undecided(text: str) -> bool:
    """True when the output asks back for missing information or hedges without a verdict."""
    return _UNDECIDED_RE.search(text) is not None


@dataclass(frozen=True)
class Reading:
    """What a reader made of one output: the verdict, and what it noticed on the way."""

    score: Score
    signals: Signals = Signals()
    invented_turn: bool = False

    def record_extra(self) -> dict[str, Any]:
        """Fields for the record's ``extra``: the signals that are set (absent: False)."""
        return {**self.signals.record_extra(), **({"invented_turn": True} if self.invented_turn else {})}


class Reader(Protocol):
    """Reads one output (the final answer, trace already split off) against its example."""

    def read(self, output: str, example: Example, finish_reason: str | None = None) -> Reading: ...


# The answer format's rules and the comparison with the gold, applied to one text.
Scorer = Callable[[Example, str], Score]


@dataclass(frozen=True)
class RulePipeline:
    """The rule-based reader: layers 2–6 around the answer format's rules (``score``)."""

    score: Scorer

    def read(self, output: str, example: Example, finish_reason: str | None = None) -> Reading:
        found = signals(output, finish_reason)
        cut = invented_turn(output)
        text = output if cut is None else output[:cut].rstrip()
        structured = structured_answer(text)
        if structured is not None:
            value, rule = structured
            verdict = self.score(example, value)
            if verdict.answer is not None:
                return Reading(replace(verdict, method=rule), found, cut is not None)
            if rule == "json-answer":  # the model's own answer field holds no answer ("B or C", "unknown")
                return Reading(Score(answer=None, method=NONE, score=0.0), found, cut is not None)
        verdict = self.score(example, text)
        if LAYERS.get(verdict.method) in GATED_LAYERS and (found.flagged or undecided(text)):
            verdict = Score(answer=None, method=NONE, score=0.0)
        return Reading(verdict, found, cut is not None)
