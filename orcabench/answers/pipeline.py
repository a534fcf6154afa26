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

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Protocol

from orcabench.answers.rules import LAYERS, NONE
from orcabench.answers.signals import Signals, signals, undecided
from orcabench.answers.structured import structured_answer
from orcabench.answers.turns import invented_turn
from orcabench.types import Example, Score

# The layers a flagged or undecided output is not read by.
GATED_LAYERS = frozenset({5, 6})
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
        cut = invented_turn(output)
        text = output if cut is None else output[:cut].rstrip()
        # the signals of the text that is read: an output cut at an invented turn finished its
        # own answer before the budget ran out, whatever the invented turn did after it
        found = signals(text, finish_reason if cut is None else None)
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
