"""The whole vocabulary of orcabench, in one place.

Data moves one way: a task turns dataset rows into :class:`Example` s and renders each
into a :class:`Request`; a backend answers requests with :class:`Completion` s; the task
extracts and scores the answer, and the run loop stores a :class:`Record`.

``Record`` is written to ``records.jsonl`` and is part of the public results schema: bump
:data:`SCHEMA_VERSION` whenever a field changes meaning or disappears.
"""

from __future__ import annotations

import fnmatch
import string
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:  # pydantic is imported by the readers that validate, not by everything that imports types
    from pathlib import Path

    from pydantic import ValidationError

SCHEMA_VERSION = 1

RequestKind = Literal["generate", "loglikelihood"]
# Unparsed reasons (``Record.method``): nothing could be read from the final answer, or
# there was none: a reasoning trace the budget ran out in, or one nothing followed.
UNPARSED = "none"
NO_FINAL_ANSWER = "no-final-answer"


class OrcabenchError(Exception):
    """Bad input or a broken environment: the CLI prints it as one line and exits 2."""


# What a value of each kind of pydantic error must be, where the reader gives no hint of its own.
_EXPECTED_BY_ERROR = {
    "string_type": "must be a string (quote it in YAML)", "int_type": "must be an integer",
    "float_type": "must be a number", "finite_number": "must be a finite number", "bool_type": "must be true or false",
    "dict_type": "must be a mapping", "model_type": "must be a mapping", "list_type": "must be a list",
    "tuple_type": "must be a list", "invalid_key": "must be a string key (quote it in YAML)",
}


def _shown(value: Any) -> str:
    text = repr(value)  # repr escapes newlines: the message stays one line
    return text if len(text) <= 60 else text[:57] + "…"


def _in_document(data: Any, loc: tuple[int | str, ...]) -> tuple[int, list[str], Any, Any]:
    """An error location in the document: how many steps deep, its key path, the value there and its parent.

    The location mixes the document's keys with pydantic's names for union members
    ("literal['all']", "list[str]"): only the steps that exist in the document are kept.
    """
    depth, path = 0, []
    value, parent = data, data
    for step in loc:
        if isinstance(value, Mapping) and step in value:
            parent, value = value, value[step]
            path.append(str(step))
        elif isinstance(value, list) and isinstance(step, int) and 0 <= step < len(value):
            parent, value = value, value[step]
            path[-1:] = [f"{path[-1] if path else ''}[{step}]"]
        else:
            continue
        depth += 1
    return depth, path, value, parent


def read_user_yaml(path: Path, where: str) -> Any:
    """The YAML a user wrote (a model file, a gate policy, a campaign, a reference), or one line naming ``where``
    and what is wrong with it: missing, unreadable, not UTF-8, not YAML. Its shape is the caller's to check."""
    import yaml

    if not path.is_file():
        raise OrcabenchError(f"{where} does not exist" if not path.exists() else f"{where} is not a file")
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise OrcabenchError(f"{where} is not valid YAML: {' '.join(str(error).split())}") from error
    except (UnicodeDecodeError, RecursionError) as error:
        raise OrcabenchError(f"{where} is not readable YAML text ({type(error).__name__}); save it as UTF-8") from error
    except OSError as error:
        raise OrcabenchError(f"{where} cannot be read ({error.strerror or error}); check its permissions") from error


def validation_problem(where: str, data: Any, error: ValidationError, expected: Mapping[str, str]) -> str:
    """A pydantic ``ValidationError`` on a user's file as one line: the file, the key, what it must be.

    ``where`` starts the line (e.g. ``"gate config gate.yaml: "``) and ``data`` is the document
    as read. ``expected`` maps dotted keys (fnmatch patterns such as ``tasks.*.margin``,
    first match wins) to what a value there must be, e.g. ``"must be between 0 and 100"``;
    without a match the kind of error says it ("must be an integer", "must be at least 1").
    """
    # A value that fits no member of a union gets one error per member: the one that reaches
    # deepest into the document says most (stop[1] is not a string, rather than stop is no string).
    located = [(*_in_document(data, problem["loc"]), problem) for problem in error.errors()]
    _, path, value, parent, problem = max(located, key=lambda found: found[0])
    kind = problem["type"]
    if kind == "extra_forbidden" and path:  # an unknown key: what its mapping may hold
        path, value = path[:-1], parent
    if kind == "invalid_key":
        value = problem["loc"][-1] if problem["loc"] else value
    key = ".".join(path)
    context = problem.get("ctx") or {}
    hint = _EXPECTED_BY_ERROR.get(kind) if kind == "invalid_key" else None
    if hint is None:
        hint = next((text for pattern, text in expected.items() if fnmatch.fnmatchcase(key, pattern)), None)
    if hint is None:
        hint = _EXPECTED_BY_ERROR.get(kind)
    if hint is None and kind == "greater_than_equal":
        hint = f"must be at least {context['ge']}"
    if hint is None and kind == "greater_than":
        hint = f"must be more than {context['gt']}"
    if hint is None and kind in ("less_than_equal", "less_than"):
        hint = f"must be at most {context.get('le', context.get('lt'))}"
    if hint is None:
        hint = f"is wrong: {problem['msg']}".replace("\n", " ")
    return f"{where}{key or 'the document'} {hint}, not {_shown(value)}"


VARIANT_SEPARATOR = "@"


def variant_label(task: str, variant: str | None) -> str:
    """A task variant's name in a plan and in record keys: ``gsm8k@zeroshot-p1``; the task itself without one."""
    return task if variant is None else f"{task}{VARIANT_SEPARATOR}{variant}"


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
    ``gold`` is the gold answer as records store it. ``cluster`` names the unit the example
    was sampled with, where several questions share one (RACE: the article; DROP: the passage):
    such questions are not independent, and intervals treat each cluster as one draw; None:
    the example stands alone.
    """

    id: str
    fields: dict[str, Any]
    gold: str
    subtask: str | None = None
    answer_format: str | None = None
    choices: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()
    targets: tuple[Any, ...] = ()
    cluster: str | None = None

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
    # The example's cluster (Example.cluster); absent from the line when None, so records of
    # unclustered tasks read and write as before, and older runs read as unclustered.
    cluster: str | None = None
    # The prompt variant or option rotation the sample was asked under (``--prompt-variants``: the
    # template's name, e.g. "zeroshot-p1"; ``--circular``: "r0", "r1", ...): the same ``id`` under each
    # variant is the same question. Absent from the line when None, as ``cluster``.
    variant: str | None = None

    @property
    def label(self) -> str:
        """The task as the run planned it: ``task``, or ``task@variant`` for a variant's sample."""
        return variant_label(self.task, self.variant)

    @property
    def key(self) -> tuple[str, str]:
        return (self.label, self.id)

    @property
    def parsed(self) -> bool:
        return self.method not in (UNPARSED, NO_FINAL_ANSWER)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        for optional in ("cluster", "variant"):
            if data[optional] is None:
                del data[optional]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Record:
        """A stored record of this schema version or a newer one.

        Fields a newer orcabench added are ignored rather than making the line unreadable
        (an unreadable line is set aside and its sample recomputed); a missing required
        field is still a TypeError.
        """
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})
