"""The one run loop: a plan's pending examples through a backend into the run store.

:func:`execute` is the only place that holds tasks and a backend at once. It renders the
prompts of the examples not yet stored, sends every request at once, and as each
example's requests are all answered, extracts and scores the answer and appends the
record (resume = skip stored keys). With ``--extract two-stage`` the outputs the rules read
weakly or not at all are asked once more, after the first requests are all answered
(:mod:`orcabench.answers.second_stage`), and their records stored as those replies come.
Callers choose what to run and when to stop: ``orcabench run`` executes everything pending,
the sequential gate executes chosen keys chunk by chunk on one backend, benchmarks execute
against canned completions.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from orcabench.backends.base import Backend
from orcabench.events import RecordsStored, RunEvents
from orcabench.models.registry import ModelSpec, ThinkingFormat
from orcabench.engine.plan import Plan
from orcabench.models.prompts import PromptRenderer
from orcabench.answers.second_stage import TWO_STAGE, SecondStage, ZeroShotCoT, decided, wanted
from orcabench.answers.traces import TokenCounter, judge
from orcabench.store.writer import RunStore
from orcabench.task import Task
from orcabench.task.variants import task_and_variant
from orcabench.types import Completion, Example, OrcabenchError, Record, Request


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Pending:
    """One example still to be scored, and the request(s) it needs answered."""

    task: Task
    example: Example
    requests: tuple[Request, ...]
    markers: ThinkingFormat | None = None  # the model's trace markers (None: <think> … </think>)
    count_tokens: TokenCounter | None = None  # a trace's length in tokens


@dataclass(frozen=True)
class Work:
    """The rendered requests of the examples a call will run, and the chat template they used."""

    items: list[Pending]
    chat_template_sha256: str | None

    @property
    def requests(self) -> int:
        return sum(len(p.requests) for p in self.items)


@dataclass(frozen=True)
class Executed:
    """What one :func:`execute` call did: the records it added, the requests it sent and how long it took."""

    records: list[Record]
    requests: int
    seconds: float


def missing(plan: Plan, done: dict[tuple[str, str], Record],
            keys: Sequence[tuple[str, str]] | None = None) -> list[tuple[Task, Example]]:
    """The plan's examples (or those of ``keys``, in that order) that have no stored record yet."""
    by_key = {(task.name, example.id): (task, example) for task in plan.tasks for example in plan.examples[task.name]}
    wanted = plan.keys() if keys is None else list(dict.fromkeys(keys))
    unknown = [key for key in wanted if key not in by_key]
    if unknown:
        raise OrcabenchError(f"{len(unknown)} requested example(s) are not in the run's plan, e.g. {unknown[0]}")
    return [by_key[key] for key in wanted if key not in done]


def prepare(plan: Plan, todo: Sequence[tuple[Task, Example]], renderer: PromptRenderer | None = None) -> Work:
    """Render ``todo``'s prompts through the model's chat template (loads the tokenizer if the template needs it)."""
    if not todo:
        return Work([], None)
    renderer = renderer or PromptRenderer(plan.spec, plan.model_path)
    items = [pending_item(task, example, renderer, plan.spec, plan.config.sampling.max_tokens) for task, example in todo]
    template = renderer.chat_template_source()
    return Work(items, sha256_text(template) if template else None)


def pending_item(task: Task, example: Example, renderer: PromptRenderer, spec: ModelSpec, max_tokens: int | None) -> Pending:
    messages = renderer.messages(task.render(example))
    prompt, add_special = renderer.render(messages)
    common = {"prompt": prompt, "messages": tuple(messages), "add_special_tokens": add_special,
              "chat_template_kwargs": renderer.template_kwargs()}
    if task.kind == "loglikelihood":
        requests = tuple(Request(kind="loglikelihood", continuation=c, **common) for c in task.continuations(example))
    else:
        requests = (Request(kind="generate", max_tokens=max_tokens or task.max_tokens,
                            stop=tuple(dict.fromkeys([*task.stop, *spec.all_stops])), **common),)
    return Pending(task, example, requests, spec.reasoning, renderer.count_tokens)


def execute(plan: Plan, backend: Backend, store: RunStore, keys: Sequence[tuple[str, str]] | None = None,
            work: Work | None = None, events: RunEvents | None = None) -> Executed:
    """Answer, score and store the plan's examples that have no record yet.

    ``keys`` restricts the call to those (task, id) pairs, in that order (already stored ones
    are skipped); ``work`` passes requests rendered earlier (e.g. while the engine started).
    Every request is sent at once; each example's record is appended as soon as all its
    requests are answered. A backend that answers a request twice, or leaves one
    unanswered, is an error: the records already stored stay, and a rerun resumes.
    ``events`` hears :class:`~orcabench.events.RecordsStored` for each group as it is stored.
    """
    started = time.time()
    if work is None:
        work = prepare(plan, missing(plan, store.records(), keys))
    added: list[Record] = []
    second: SecondStage | None = ZeroShotCoT() if plan.config.sampling.extract == TWO_STAGE else None
    asked = 0
    if work.items:
        added, asked = _answer_and_store(backend, work.items, store, events or RunEvents(), second)
    return Executed(added, work.requests + asked, time.time() - started)


def _answered(backend: Backend, requests: list[Request], added: list[Record]) -> Iterator[list[tuple[int, Completion]]]:
    """The backend's groups of (request index, completion); a request answered twice, out of range or never is an error
    (``added``: the records this call kept so far, for the message)."""
    answered: set[int] = set()
    for group in backend.answer(requests):
        for index, _ in group:
            if index in answered or not 0 <= index < len(requests):
                raise OrcabenchError(f"backend {backend.name} answered request {index} twice or out of range; "
                                     f"{len(added)} record(s) of this call were kept")
            answered.add(index)
        yield group
    if len(answered) < len(requests):
        raise OrcabenchError(f"backend {backend.name} left {len(requests) - len(answered)} request(s) unanswered; "
                             f"{len(added)} record(s) were kept and the same command resumes the rest")


def _answer_and_store(backend: Backend, pending: list[Pending], store: RunStore, events: RunEvents,
                      second: SecondStage | None) -> tuple[list[Record], int]:
    """Store every pending example's record; with a second stage, those it wants after their second reply.
    Returns the records and the number of second-stage requests sent."""
    owner = [(item, slot) for item, p in enumerate(pending) for slot in range(len(p.requests))]
    answers: dict[int, list[Completion | None]] = {}
    added: list[Record] = []
    waiting: list[tuple[Pending, Record]] = []  # first readings the second stage is to read again
    for group in _answered(backend, [request for p in pending for request in p.requests], added):
        records = []
        for flat_index, completion in group:
            item, slot = owner[flat_index]
            slots = answers.setdefault(item, [None] * len(pending[item].requests))
            slots[slot] = completion
            if all(c is not None for c in slots):
                record = score_record(pending[item], [c for c in slots if c is not None])
                if second is not None and wanted(record.method):  # a loglikelihood argmax is never wanted
                    waiting.append((pending[item], record))
                else:
                    records.append(record)
                del answers[item]
        _store(store, records, added, events, len(pending))
    if second is not None and waiting:
        _second_stage(backend, second, waiting, store, added, events, len(pending))
    return added, len(waiting)


def _second_stage(backend: Backend, second: SecondStage, waiting: list[tuple[Pending, Record]], store: RunStore,
                  added: list[Record], events: RunEvents, total: int) -> None:
    """Ask the second stage about each waiting record's output, all at once, and store each record as its reply comes."""
    requests = [second.ask(item.requests[0], record.output, item.example) for item, record in waiting]
    for group in _answered(backend, requests, added):
        records = []
        for index, reply in group:
            item, record = waiting[index]
            records.append(decided(record, second.read(item.task, item.example, reply.text), reply))
        _store(store, records, added, events, total)


def _store(store: RunStore, records: list[Record], added: list[Record], events: RunEvents, total: int) -> None:
    store.append(records)
    added += records
    if records:
        events.emit(RecordsStored(tuple(records), total))


def best_option(completions: Sequence[Completion]) -> int:
    """Index of the most likely continuation; a missing log-probability never wins (0.0 is a log-probability)."""
    return max(range(len(completions)),
               key=lambda i: completions[i].logprob if completions[i].logprob is not None else float("-inf"))


def score_record(item: Pending, completions: list[Completion]) -> Record:
    """The stored record of one example: its prompt, raw output, the answer extracted from its final answer
    (never its reasoning trace, kept beside it) and score."""
    request = item.requests[0]
    judged = judge(item.task, item.example, completions, item.markers, request.prompt, item.count_tokens)
    extra: dict[str, Any] = {}
    if item.task.kind == "loglikelihood":
        extra = {"continuations": [r.continuation for r in item.requests], "logprobs": [c.logprob for c in completions],
                 "is_greedy": [c.is_greedy for c in completions]}
        best = best_option(completions)
        output, logprob = item.requests[best].continuation, completions[best].logprob
    else:
        output, logprob = completions[0].text, completions[0].logprob
    task, variant = task_and_variant(item.task)
    return Record(
        task=task,
        variant=variant,
        id=item.example.id,
        subtask=item.example.subtask,
        cluster=item.example.cluster,
        prompt=request.prompt,
        prompt_sha256=sha256_text(request.prompt),
        output=output,
        gold=item.example.gold,
        prompt_tokens=completions[0].prompt_tokens,
        output_tokens=sum(c.output_tokens for c in completions),
        finish_reason=completions[0].finish_reason,
        logprob=logprob,
        **judged.record_fields(extra),
    )
