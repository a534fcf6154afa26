"""The reading pipeline: how an answer is read out of a model's output, in layers.

Layer 1 (the think trace) is split off by :mod:`orcabench.answers.traces`, which then hands
the final answer to a :class:`Reader`. The one reader today is :class:`RulePipeline`:

2. cut at an invented next turn (:mod:`orcabench.answers.turns`);
3. a structured answer (:mod:`orcabench.answers.structured`), whose value the answer
   format's own rules read;
4.–6. the answer format's rules (:mod:`orcabench.answers.text`, :mod:`orcabench.answers.choice`),
   explicit statements first, then the conclusion, then weak fallbacks; where those read no
   answer or only a conclusion or weak one, the conclusion read against the example's question
   (:mod:`orcabench.answers.question`);

and then the gate: a reading from the conclusion or weak layers is dropped (unparsed) for an
output that loops or was cut off (:mod:`orcabench.answers.signals`), or that hedges or asks
the user back, because there the last sentence or the last number is no verdict. Where the
output shows it finished its answer first, that answer stands: a repetition closed by a new
conclusion, a loop repeating one sentence that answers what the question asks, a cut that fell
in a digression after the conclusion (``conclusion-before-cut``). Every rule's layer is in
:mod:`orcabench.answers.rules`.

A judge model would be another :class:`Reader`: it gets the same output and example and
returns the same kind of :class:`Reading`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Protocol

from orcabench.answers.question import (
    asked_number,
    concluded_before_cut,
    conclusion_state,
    names_asked,
    question_of,
    restates_data,
)
from orcabench.answers.rules import LAYERS, NONE
from orcabench.answers.signals import Signals, drop_list_mark, loop, signals, undecided
from orcabench.answers.structured import structured_answer
from orcabench.answers.turns import invented_turn, question_blocks
from orcabench.types import Example, Score

# The layers a flagged or undecided output is not read by.
GATED_LAYERS = frozenset({5, 6})
# The layers that read an answer rather than the last mention of one.
READ_LAYERS = frozenset({3, 4, 5})
# The layers whose reading the question-aware conclusion (orcabench.answers.question) may overrule:
# the format's own conclusion, its weak fallbacks, and none.
QUESTION_OVERRULES = frozenset({0, 5, 6})
# The number readings of the format's rules that read the concluding sentence or the last number.
_NUMBER_CONCLUSIONS = frozenset({"conclusion-number", "last-number"})
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
        blocks = question_blocks(text)
        if len(blocks) > 1:
            # an answer, then new questions in the prompt's format, each answered too: the answer before
            # the first one counts where there is one, else only the first block's own. (One such block
            # may be the question restated with its answer, " D\nWhich organ ...?\n(A) ...\nAnswer: B".)
            before = text[:blocks[0]].rstrip()
            answered = (bool(before) and LAYERS.get(self._read(example, before).method) in READ_LAYERS
                        and not undecided(before))
            end = blocks[0] if answered else blocks[1]
            cut, text = end, text[:end].rstrip()
        # the signals of the text that is read: an output cut at an invented turn finished its
        # own answer before the budget ran out, whatever the invented turn did after it
        found = signals(text, finish_reason if cut is None else None)
        verdict = self._verdict(text, example, found)
        repeated = loop(text) if found.looped else None
        if repeated is not None:
            # an answer read where the output loops is a verdict only where what the loop repeats states
            # that answer itself ("Among A through D, the answer is D." again and again) or the text before
            # the loop does; a loop that repeats an answer phrase with no answer in it ("B: Among A through
            # E, the answer is:"), or runs on inside the phrase's sentence ("the answer is 120% of 960,
            # which is 120% of 960, ..."), is no verdict: the text before the loop is read instead
            start, unit = repeated
            before = text[:start].rstrip()
            # an output that stopped by itself may close its repetition with a conclusion of its own
            # ("... ruling out the rest. Therefore, the answer is 18."): that conclusion is an answer
            last = text.rfind(unit)
            after = text[last + len(unit):].strip() if last >= 0 else ""
            # what follows the last repetition concludes only if it is new text, not more of the loop
            # ("D, the answer is:\nD:" after "C: Among A through D, the answer is:" is the loop going on)
            rest = " ".join(drop_list_mark(line) for line in after.splitlines()).strip()
            # (a conclusion the gate dropped counts here too: the loop ended, and new text concluded)
            ungated = verdict if verdict.answer is not None or undecided(text) else self._read(example, text)
            concluded = (not found.truncated and bool(rest) and rest not in " ".join(text[start:last].split())
                         and self._states(ungated, after, example))
            if concluded:
                verdict = ungated
            elif not (self._states(verdict, unit, example) or self._states(verdict, before, example)):
                verdict = self._repeated_answer(unit, before, example) or self._verdict(before, example, found)
        return Reading(verdict, found, cut is not None)

    def _repeated_answer(self, unit: str, before: str, example: Example) -> Score | None:
        """The answer of a loop that repeats one sentence answering what the question asks ("The number
        of grey objects on the floor is 11." under every letter): the model said its answer over and
        over. None where the sentence does not name what the question asks, or the text before the
        loop reads another answer."""
        question = question_of(example)
        if question is None or not names_asked(unit, question):
            return None
        said = self._read(example, unit)
        if said.answer is None or LAYERS.get(said.method) not in READ_LAYERS:
            return None
        earlier = self._read(example, before) if before.strip() else None
        return said if earlier is None or earlier.answer in (None, said.answer) else None

    def _states(self, verdict: Score, part: str, example: Example) -> bool:
        """True when ``part`` of the output, read alone, states the verdict's answer (not as a weak reading)."""
        again = self._read(example, part)
        return verdict.answer is not None and again.answer == verdict.answer and LAYERS.get(again.method) in READ_LAYERS

    def _verdict(self, text: str, example: Example, found: Signals) -> Score:
        """Layers 3-6 on ``text``, and the gate."""
        structured = structured_answer(text)
        if structured is not None:
            value, rule = structured
            verdict = self.score(example, value)
            if verdict.answer is not None:
                return replace(verdict, method=rule)
            if rule == "json-answer":  # the model's own answer field holds no answer ("B or C", "unknown")
                return Score(answer=None, method=NONE, score=0.0)
        verdict = self._read(example, text)
        if LAYERS.get(verdict.method) in GATED_LAYERS and (found.flagged or undecided(text)):
            verdict = Score(answer=None, method=NONE, score=0.0)
        if verdict.answer is None and found.truncated and not found.looped and not undecided(text):
            # cut off after its conclusion, in a digression with no number: the conclusion stands
            question = question_of(example)
            value = concluded_before_cut(text, question) if question and example.answer_format == "number" else None
            if value is not None:
                verdict = self._as(example, value, "conclusion-before-cut") or verdict
        return verdict

    def _read(self, example: Example, text: str) -> Score:
        """The format's rules on ``text``, then, where they read no answer or only a conclusion or a
        weak one, the question-aware conclusion (:mod:`orcabench.answers.question`)."""
        verdict = self.score(example, text)
        question = question_of(example)
        if question is None or LAYERS.get(verdict.method) not in QUESTION_OVERRULES:
            return verdict
        if example.answer_format == "label":
            value, rule = conclusion_state(text, question, example.labels), "conclusion-state"
        elif example.answer_format == "number" and verdict.method in _NUMBER_CONCLUSIONS:
            if verdict.method == "last-number" and restates_data(text, question):
                return Score(answer=None, method=NONE, score=0.0)  # every number is the question's own data
            value, rule = asked_number(text, question, verdict.answer), "conclusion-asked-number"
        else:
            return verdict
        reread = self._as(example, value, rule) if value is not None else None
        if reread is None or reread.answer == verdict.answer:
            return verdict  # the question changed nothing: the format's own rule keeps its name (a rescore changes nothing)
        return reread

    def _as(self, example: Example, value: str, rule: str) -> Score | None:
        """``value`` read by the format's own rules and scored, named as read by ``rule``; None where
        the format reads no answer in it."""
        verdict = self.score(example, value)
        return replace(verdict, method=rule) if verdict.answer is not None else None
