"""A model-based second reading: zero-shot-CoT answer extraction (Kojima et al. 2022, §3).

With ``--extract two-stage``, an output the rules read only weakly (a rule of
:data:`~orcabench.answers.text.WEAK_RULES`) or not at all is put back to the same model once:
its prompt, its own output, and an *answer trigger* for the example's answer format
("Therefore, among A through E, the answer is", "Therefore, the answer (arabic numerals)
is"), continued for a few tokens, greedy. That continuation is read as a statement of the
answer by the explicit rules alone (:data:`~orcabench.answers.text.EXPLICIT_RULES`): a
second stage that does not state an answer leaves the first reading standing.

Both readings are kept in the record (``extra.first_stage``, ``extra.second_stage``) and
``method`` says which stage decided: ``two-stage:<rule>`` when the second did. The reply is
stored, so ``rescore`` reads it again and a resumed run never asks it again.

The seam for other model-based readers (a judge model, say) is :class:`SecondStage`: what to
ask the model about one output, and how to read its reply into an answer and a method.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Protocol

from orcabench.answers.text import EXPLICIT_RULES, NONE, WEAK_RULES
from orcabench.task import Task
from orcabench.types import Completion, Example, Message, Record, Request, Score

RULES, TWO_STAGE = "rules", "two-stage"
EXTRACT_MODES = (RULES, TWO_STAGE)
METHOD_PREFIX = TWO_STAGE + ":"  # Record.method when the second stage decided: "two-stage:final-answer-phrase"
# The reply is read as the rest of this sentence, so the explicit rules see a stated answer whatever
# the trigger's wording ("the answer (Yes or No) is" would read as a hedge between two labels).
READ_AS = "The answer is "


@dataclass(frozen=True)
class Trigger:
    """The words that ask for the answer, and how many tokens the model may answer with."""

    text: str
    max_tokens: int


def trigger(example: Example) -> Trigger:
    """The answer trigger for an example's answer format (Kojima et al.'s Table 9 wording where it has one)."""
    if example.answer_format == "choice" and example.letters:
        letters = example.letters
        among = f"between A and {letters[-1]}" if len(letters) == 2 else f"among A through {letters[-1]}"
        return Trigger(f"Therefore, {among}, the answer is", 8)
    if example.answer_format == "label" and example.labels:
        return Trigger(f"Therefore, the answer ({' or '.join(example.labels)}) is", 8)
    if example.answer_format == "number":
        return Trigger("Therefore, the answer (arabic numerals) is", 16)
    if example.answer_format == "words":  # a whole sorted list
        return Trigger("Therefore, the answer is", 96)
    return Trigger("Therefore, the answer is", 32)


def wanted(method: str) -> bool:
    """Whether the rules' reading is weak enough to ask the model: a weak rule, or nothing read.

    An output with a think trace and no final answer (``no-final-answer``) is not asked: its
    trace is never read for an answer, by rules or by the model.
    """
    return method == NONE or method in WEAK_RULES


class SecondStage(Protocol):
    """A model-based reader: the request that asks about one output, and the reading of the reply."""

    name: str

    def ask(self, request: Request, output: str, example: Example) -> Request: ...

    def read(self, task: Task, example: Example, reply: str) -> Score: ...


class ZeroShotCoT:
    """Kojima et al.'s answer extraction: the model's own output continued with an answer trigger."""

    name = TWO_STAGE

    def ask(self, request: Request, output: str, example: Example) -> Request:
        """The first request continued: same chat template, the output in the assistant's turn, then the trigger.

        A new line keeps the trigger apart from an output cut off mid-sentence.
        """
        said = trigger(example)
        continued = f"{output.rstrip()}\n{said.text}"
        return replace(request, prompt=request.prompt + continued, max_tokens=said.max_tokens,
                       messages=(*request.messages, Message("assistant", continued)))

    def read(self, task: Task, example: Example, reply: str) -> Score:
        """The reply read by the task's own scorer as "The answer is <reply>"; only an explicit rule counts."""
        score = task.score_completions(example, [Completion(text=READ_AS + reply.lstrip())])
        return score if score.method in EXPLICIT_RULES else Score(answer=None, method=NONE, score=0.0)


def decided(record: Record, reading: Score, reply: Completion) -> Record:
    """``record`` (the rules' reading) with both readings kept: the second stage decides where it read an answer,
    else the first stands."""
    first = {"answer": record.answer, "method": record.method, "score": record.score}
    second: dict[str, Any] = {"answer": reading.answer, "method": reading.method, "score": reading.score,
                              "output": reply.text, "output_tokens": reply.output_tokens,
                              "finish_reason": reply.finish_reason}
    extra = {**record.extra, "first_stage": first, "second_stage": second}
    if reading.method == NONE:
        return replace(record, answer=first["answer"], method=first["method"], score=first["score"], extra=extra)
    return replace(record, answer=reading.answer, method=METHOD_PREFIX + reading.method, score=reading.score, extra=extra)


def generated_tokens(record: Record) -> int:
    """Tokens the model generated for a record: its output's, and its second-stage reply's where it was asked again."""
    second = record.extra.get("second_stage")
    reply = second.get("output_tokens") if isinstance(second, dict) else None
    return record.output_tokens + (reply if isinstance(reply, int) else 0)


def reread(task: Task, example: Example, record: Record) -> Record:
    """A rescored record read again with its stored second stage (no model): the first reading is ``record``'s own.

    A record whose rules now read it strongly keeps its stored reply beside the new reading; one
    without a stored reply stays a first-stage reading (only a model could ask).
    """
    stored = record.extra.get("second_stage")
    plain = replace(record, extra={k: v for k, v in record.extra.items() if k not in ("first_stage", "second_stage")})
    if not isinstance(stored, dict) or not isinstance(stored.get("output"), str):
        return plain
    reply = Completion(text=stored["output"], output_tokens=stored.get("output_tokens") or 0,
                       finish_reason=stored.get("finish_reason"))
    reading = ZeroShotCoT().read(task, example, reply.text)
    both = decided(plain, reading, reply)
    if wanted(record.method):
        return both
    return replace(plain, extra=both.extra)  # the rules read it strongly now: the first stage decides
