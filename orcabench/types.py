"""The whole vocabulary of orcabench, in one place.

Data moves one way: a task turns dataset rows into :class:`Example` s and renders each
into a :class:`Request`; a backend answers requests with :class:`Completion` s; the task
extracts and scores the answer, and the run loop stores a :class:`Record`.

``Record`` is written to ``records.jsonl`` and is part of the public results schema: bump
:data:`SCHEMA_VERSION` whenever a field changes meaning or disappears.
"""

from __future__ import annotations

import string
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal

SCHEMA_VERSION = 1

RequestKind = Literal["generate", "loglikelihood"]
# Unparsed reasons (``Record.method``): nothing could be read from the final answer, or
# there was none: a reasoning trace the budget ran out in, or one nothing followed.
UNPARSED = "none"
NO_FINAL_ANSWER = "no-final-answer"


class OrcabenchError(Exception):
    """Bad input or a broken environment: the CLI prints it as one line and exits 2."""


@dataclass(frozen=True)
class Message:
    role: Literal["system", "user", "assistant"]
    content: str


@dataclass(frozen=True)
class Example:
    """One dataset row: what the task's template renders, and apart from it what the scorer reads.

    ``fields`` are the template's variables and nothing else. The scorer's data has its own
    typed place: ``answer_format`` names how an output is read (a format of
    :mod:`orcabench.answers.formats`), ``choices`` are a multiple-choice question's option texts
    (lettered A, B, … in order), ``labels`` the closed set an answer is drawn from (BBH's
    yes/no or True/False labels; the words a word-sorting answer is made of), and
    ``targets`` every acceptable answer where there are several (DROP: each gold's spans).
    ``gold`` is the gold answer as records store it.
    """

    id: str
    fields: dict[str, Any]
    gold: str
    subtask: str | None = None
    answer_format: str | None = None
    choices: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()
    targets: tuple[Any, ...] = ()

    @property
    def letters(self) -> str:
        """The option letters of a multiple-choice example ("ABCD"), "" otherwise."""
        return string.ascii_uppercase[: len(self.choices)]


@dataclass(frozen=True)
class Request:
    """What a backend is asked to do for one example.

    ``prompt`` is the exact text the model receives (chat template and system message
    already applied); ``messages`` keeps the chat form for backends that take messages.
    ``add_special_tokens`` says whether the tokenizer should add BOS: chat templates
    usually write it themselves, plain prompts need the tokenizer to add it.
    """

    kind: RequestKind
    prompt: str
    messages: tuple[Message, ...] = ()
    continuation: str = ""  # loglikelihood only: the text whose log-probability is wanted
    max_tokens: int = 512
    stop: tuple[str, ...] = ()
    add_special_tokens: bool = False
    # Passed to the chat template by servers that render it themselves (the chat endpoint),
    # as orcabench passed them rendering ``prompt``: e.g. {"enable_thinking": False}.
    chat_template_kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Completion:
    """A backend's answer to one request."""

    text: str = ""  # generated text, stop sequence excluded
    logprob: float | None = None  # loglikelihood: sum over continuation tokens (nats)
    is_greedy: bool | None = None  # loglikelihood: continuation is the argmax path
    prompt_tokens: int = 0
    output_tokens: int = 0
    finish_reason: str | None = None  # "stop" | "length" | None
    reasoning: str | None = None  # the reasoning trace, where the server returns it apart from ``text``
    reasoning_tokens: int | None = None  # its length in tokens, where the server counts it


@dataclass(frozen=True)
class Score:
    """A task's verdict on one completion."""

    answer: str | None  # the extracted answer; None when nothing could be parsed
    method: str  # which extraction rule fired, e.g. "final-answer-phrase", "none"
    score: float  # 1.0 correct, 0.0 wrong; unparsed answers score 0.0


@dataclass(frozen=True)
class Record:
    """One scored sample, exactly as stored in ``records.jsonl``."""

    task: str
    id: str
    subtask: str | None
    prompt: str
    prompt_sha256: str
    output: str
    answer: str | None
    method: str
    gold: str
    score: float
    prompt_tokens: int
    output_tokens: int
    finish_reason: str | None
    logprob: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    reasoning: str | None = None  # the reasoning trace (never read for the answer); None: the output had none
    reasoning_tokens: int | None = None

    @property
    def key(self) -> tuple[str, str]:
        return (self.task, self.id)

    @property
    def parsed(self) -> bool:
        return self.method not in (UNPARSED, NO_FINAL_ANSWER)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Record:
        """A stored record of this schema version or a newer one.

        Fields a newer orcabench added are ignored rather than making the line unreadable
        (an unreadable line is set aside and its sample recomputed); a missing required
        field is still a TypeError.
        """
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})
