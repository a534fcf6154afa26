"""A gate's policy: the YAML a user writes (strict types, unknown keys refused, one-line errors) and the typed
:class:`Policy` the verdicts are computed under."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from orcabench.types import OrcabenchError, read_user_yaml, validation_problem

RULES = ("non-inferiority", "lenient")


@dataclass(frozen=True)
class TaskPolicy:
    required: bool
    margin: float  # accuracy points: a drop of at least this much is a regression
    min_n: int  # fewer pairs than this: no decision (exit 2 for a required task); sequential: no stop before
    max_n: int | None  # sequential: pairs the sequence may take from this task at most (None: all)


@dataclass(frozen=True)
class Policy:
    """The gate's rules, as read from ``gate.yaml`` (every key optional)."""

    rule: str = "non-inferiority"
    confidence: float = 0.95  # 1 - alpha: the chance that the gate's verdict is right
    margin: float = 1.0
    min_n: int = 30
    max_n: int | None = None
    chunk: int = 100  # sequential: pairs computed between two looks
    required: tuple[str, ...] | None = None  # None: every paired task gates
    informational: tuple[str, ...] = ()
    tasks: dict[str, dict[str, Any]] = field(default_factory=dict)  # per task: margin / min_n / max_n / required
    resamples: int = 10_000  # the paired bootstrap shown beside the lenient rule and by compare
    seed: int = 0  # bootstrap resamples and the sequential gate's order

    @property
    def alpha(self) -> float:
        return 1 - self.confidence

    def for_task(self, task: str) -> TaskPolicy:
        own = self.tasks.get(task, {})
        required = task not in self.informational and (self.required is None or task in self.required)
        max_n = own.get("max_n", self.max_n)
        return TaskPolicy(required=bool(own.get("required", required)), margin=float(own.get("margin", self.margin)),
                          min_n=int(own.get("min_n", self.min_n)), max_n=None if max_n is None else int(max_n))

    def named_required(self) -> list[str]:
        """Tasks the policy requires by name: they must be in both runs."""
        named = list(self.required or ())
        named += [t for t, own in self.tasks.items() if own.get("required") is True and t not in named]
        return [t for t in named if self.for_task(t).required]


# Compare has no verdict: every paired task is tested, none gates.
COMPARE_POLICY = Policy(min_n=1, required=())

class _TaskPolicyFile(BaseModel):
    """One entry under ``tasks:`` in ``gate.yaml``: this task's own margin, min_n, max_n, required."""

    model_config = ConfigDict(strict=True, extra="forbid", allow_inf_nan=False)

    # Only the keys written are kept (exclude_unset): the defaults here are never used.
    margin: float = Field(1.0, ge=0.0, le=100.0)
    min_n: int = Field(30, ge=1)
    max_n: int | None = Field(None, ge=1)  # null: every pair, whatever the policy's max_n
    required: bool = True


class _PolicyFile(BaseModel):
    """``gate.yaml`` as written: strict types (no "3" for 3, no .nan), unknown keys refused."""

    model_config = ConfigDict(strict=True, extra="forbid", allow_inf_nan=False)

    rule: Literal["non-inferiority", "lenient"] = "non-inferiority"
    confidence: float = Field(0.95, ge=0.5, le=0.999)
    margin: float = Field(1.0, ge=0.0, le=100.0)
    min_n: int = Field(30, ge=1)
    max_n: int | None = Field(None, ge=1)
    chunk: int = Field(100, ge=1)
    required: Literal["all"] | list[str] = "all"
    informational: list[str] = []
    tasks: dict[str, _TaskPolicyFile] | None = None
    resamples: int = Field(10_000, ge=100)
    seed: int = Field(0, ge=0)


_POLICY_KEYS = set(_PolicyFile.model_fields)
_TASK_KEYS = set(_TaskPolicyFile.model_fields)
# What each key must be, for the one-line error (orcabench.types.validation_problem).
_POLICY_EXPECTED = {
    "rule": f"must be one of {', '.join(RULES)}",
    "confidence": "must be between 0.5 and 0.999",
    "margin": "must be between 0.0 and 100.0",
    "tasks.*.margin": "must be between 0.0 and 100.0",
    "tasks.*.min_n": "must be an integer, at least 1",
    "tasks.*.max_n": "must be an integer, at least 1, or null",
    "tasks.*.required": "must be true or false",
    "tasks.*": f"must be a mapping with keys among {', '.join(sorted(_TASK_KEYS))}",
    "tasks": f"must map task names to {{{', '.join(sorted(_TASK_KEYS))}}}",
    "required*": 'must be "all" or a list of task names',
    "informational*": "must be a list of task names",
}


def load_policy(path: Path | None) -> Policy:
    """Read and validate a gate policy; no file: the defaults (non-inferiority, 95%, 1 point, n >= 30).

    A policy must gate something: ``required: []``, or a task both required and
    informational, is bad input (whether the runs leave a task to gate is checked when they
    are paired, :func:`_shared_tasks`).
    """
    if path is None:
        return Policy()
    data = read_user_yaml(path, f"gate config {path}")
    data = {} if data is None else data
    known = ", ".join(sorted(_POLICY_KEYS))
    if not isinstance(data, dict):
        raise OrcabenchError(f"gate config {path} must be a mapping with keys among {known}")
    unknown = sorted(str(key) for key in set(data) - _POLICY_KEYS)
    if unknown:
        raise OrcabenchError(f"gate config {path}: unknown key(s) {', '.join(unknown)}; known: {known}")
    where = f"gate config {path}: "
    try:
        read = _PolicyFile.model_validate(data)
    except ValidationError as error:
        raise OrcabenchError(validation_problem(where, data, error, _POLICY_EXPECTED)) from error
    tasks = {task: own.model_dump(exclude_unset=True) for task, own in (read.tasks or {}).items()}
    required = None if read.required == "all" else tuple(read.required)
    if required == ():
        raise OrcabenchError(f"{where}required is an empty list: the gate would gate nothing and always pass; "
                             "name the tasks that gate, or write required: all")
    marked = {task: own["required"] for task, own in tasks.items() if "required" in own}
    both = [t for t in read.informational if t in (required or ()) or marked.get(t) is True]
    both += [t for t in required or () if marked.get(t) is False and t not in both]  # required, and tasks.t.required: false
    if both:
        raise OrcabenchError(f"{where}task(s) {', '.join(both)} both required and informational; "
                             "keep each task in one of the two")
    return Policy(rule=read.rule, confidence=read.confidence, margin=read.margin, min_n=read.min_n, max_n=read.max_n,
                  chunk=read.chunk, required=required, informational=tuple(read.informational), tasks=tasks,
                  resamples=read.resamples, seed=read.seed)
