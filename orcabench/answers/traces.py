"""Reasoning traces: split an output into its trace and its final answer, before extraction.

Layer 1 of the reading pipeline (:mod:`orcabench.answers.pipeline`): :func:`judge` splits the
trace off, then hands the final answer to the rule pipeline.

Reasoning models write ``<think> … </think>`` before they answer, or their template opens
the trace in the prompt (DeepSeek-R1 distills: the prompt ends in ``<think>\\n``) and the
output only closes it; OpenAI-compatible servers started with a reasoning parser return
the trace apart from the answer (``reasoning_content``; vLLM calls it ``reasoning``).
Wherever the trace comes from, only the final answer is read: the trace may try answers
and drop them. The rules:

- the *last* closing marker ends the trace (the Qwen3 model card's own parsing): what
  follows it is the final answer, what precedes it (less an opening marker) the trace;
- an opening marker with no closing marker after it opens a trace that never closed
  (the budget ran out in it, or the model stopped there): the text before the marker,
  if any, is the final answer, else there is none;
- with neither, the whole output is the final answer, unless the prompt opened the trace
  (it ends with the opening marker), which makes the whole output trace;
- a trace the server returned apart from the text stands beside that text, which is the
  final answer (an empty one is none).

An output with a trace and no final answer scores 0 as the unparsed reason
``no-final-answer``, whatever the trace says.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from orcabench.answers.pipeline import RulePipeline
from orcabench.answers.signals import signals
from orcabench.models.registry import THINK, ThinkingFormat
from orcabench.task import Task
from orcabench.types import NO_FINAL_ANSWER, Completion, Example, Score

TokenCounter = Callable[[str], "int | None"]
# Record.extra["reasoning_source"]: the trace came from the server, apart from the output
# (else it was split from the output, and is found there again on rescoring).
SERVER = "server"
# Record.extra fields the reader sets (Reading.record_extra), recomputed by every scoring.
READING_EXTRA = frozenset({"looped", "truncated", "invented_turn"})


@dataclass(frozen=True)
class Split:
    trace: str | None  # None: the output had no trace
    answer: str | None  # None: no final answer (the trace never closed, or nothing followed it)

    @property
    def no_final_answer(self) -> bool:
        return self.trace is not None and not (self.answer or "").strip()


def opens_trace(prompt: str, markers: ThinkingFormat = THINK) -> bool:
    """Whether the prompt leaves the model inside a trace (its template wrote the opening marker last)."""
    return prompt.rstrip().endswith(markers.start)


def split(text: str, markers: ThinkingFormat = THINK, *, opened: bool = False, separate: str | None = None) -> Split:
    """The trace and the final answer of one output (rules in the module docstring)."""
    end = text.rfind(markers.end)
    if end >= 0:
        before, answer = text[:end], text[end + len(markers.end):]
        start = before.find(markers.start)
        trace = before[start + len(markers.start):] if start >= 0 else before
        reopened = answer.find(markers.start)  # a second trace the budget ran out in
        if reopened >= 0:
            trace, answer = f"{trace.strip()}\n{answer[reopened + len(markers.start):].strip()}", answer[:reopened]
        return Split(trace.strip(), answer.strip())
    start = text.find(markers.start)
    if start >= 0:
        return Split(text[start + len(markers.start):].strip(), text[:start].strip() or None)
    if separate is not None:
        return Split(separate.strip(), text.strip() or None)
    if opened:
        return Split(text.strip(), None)
    return Split(None, text)


def separate_trace(line: dict[str, Any]) -> str | None:
    """The trace a predictions line or stored record carries apart from its output, if any.

    ``reasoning_content`` (the OpenAI-compatible name) or ``reasoning`` (vLLM's newer name,
    and a record's field); a stored record's ``reasoning`` counts only where the server
    returned it, since a trace split from the output is found in the output again.
    """
    value = line.get("reasoning_content")
    if value is None and isinstance(line.get("reasoning"), str):
        extra = line.get("extra")
        if not isinstance(extra, dict) or extra.get("reasoning_source") == SERVER:
            value = line["reasoning"]
    return value if isinstance(value, str) else None


def predicted_completion(line: dict[str, Any]) -> Completion:
    """A predictions line as a completion: ``output``, and optionally ``reasoning_content``, ``finish_reason``,
    ``output_tokens`` and ``reasoning_tokens``; fields of another type are ignored."""
    def number(key: str) -> int | None:
        value = line.get(key)
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    finish = line.get("finish_reason")
    return Completion(text=line["output"], reasoning=separate_trace(line),
                      finish_reason=finish if isinstance(finish, str) else None,
                      output_tokens=number("output_tokens") or 0, reasoning_tokens=number("reasoning_tokens"))


@dataclass(frozen=True)
class Judged:
    """A task's verdict on the final answer, and the trace kept beside it."""

    score: Score
    trace: str | None
    trace_tokens: int | None
    from_server: bool = False  # the trace came apart from the output (Record.extra["reasoning_source"])
    reading: dict[str, Any] = field(default_factory=dict)  # the reader's signals (Reading.record_extra)

    def record_fields(self, extra: dict[str, Any] | None = None) -> dict[str, Any]:
        """Record's answer, method, score and trace fields (and ``extra``, marked where the trace came from the server,
        with the reader's signals: looped, truncated, invented_turn)."""
        kept = {k: v for k, v in (extra or {}).items() if k not in READING_EXTRA}  # a rescore recomputes them
        extra = {**kept, **self.reading, **({"reasoning_source": SERVER} if self.from_server else {})}
        return {"answer": self.score.answer, "method": self.score.method, "score": self.score.score,
                "reasoning": self.trace, "reasoning_tokens": self.trace_tokens, "extra": extra}


def judge(task: Task, example: Example, completions: Sequence[Completion], markers: ThinkingFormat | None = None,
          prompt: str = "", count_tokens: TokenCounter | None = None) -> Judged:
    """Score a generative task on the final answer only; loglikelihood tasks as they are.

    The one place every scorer (the run loop, ``score``, ``rescore``) turns completions
    into a verdict, so a trace is never read for an answer by any of them.
    """
    if task.kind != "generate":
        return Judged(task.score_completions(example, completions), None, None)
    (completion,) = completions
    reader = RulePipeline(lambda ex, text: task.score_completions(ex, [replace(completion, text=text)]))
    markers = markers or THINK
    parts = split(completion.text, markers, opened=opens_trace(prompt, markers), separate=completion.reasoning)
    if parts.trace is None:
        reading = reader.read(completion.text, example, completion.finish_reason)
        return Judged(reading.score, None, None, reading=reading.record_extra())
    from_server = completion.reasoning is not None and markers.end not in completion.text and markers.start not in completion.text
    tokens = completion.reasoning_tokens or None
    if tokens is None and count_tokens is not None:
        tokens = count_tokens(parts.trace)
    if parts.no_final_answer:
        return Judged(Score(answer=None, method=NO_FINAL_ANSWER, score=0.0), parts.trace, tokens, from_server,
                      signals(parts.trace, completion.finish_reason).record_extra())
    reading = reader.read(parts.answer or "", example, completion.finish_reason)
    return Judged(reading.score, parts.trace, tokens, from_server, reading.record_extra())
