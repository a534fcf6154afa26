"""The Python API behind the CLI: notebooks and CI scripts call these directly.

:func:`run` is the only place that holds both a task and a backend: it loads examples,
renders prompts through the model's chat template, asks the backend for the pending
ones, scores each completion and appends it to the run store as it arrives.
"""

from __future__ import annotations

import hashlib
import platform
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from orcabench import __version__
from orcabench.backends.base import BACKENDS, load_backend
from orcabench.bundled import converted_model_dir, source_info
from orcabench.data import load_rows, resolve_data_dir
from orcabench.models import DEFAULT_MODEL, PLAIN_SEPARATOR, ModelSpec, resolve_model
from orcabench.stats import mean_ci
from orcabench.store import RunStore, fingerprint_hash
from orcabench.task import Task, get_tasks
from orcabench.types import SCHEMA_VERSION, Completion, Example, Message, OrcabenchError, Record, Request

# Called with (samples finished in this group, samples pending in total).
ProgressCallback = Callable[[int, int], None]


@dataclass
class RunConfig:
    """Everything ``orcabench run`` takes; the CLI flags map one to one."""

    model: str = DEFAULT_MODEL
    tasks: Sequence[str] = ("gsm8k",)
    backend: str | None = None  # None: the model's default backend
    limit: int | None = None  # first N examples of each task
    batch_size: int | None = None  # hf: batch size; vllm: max_num_seqs
    data_dir: Path | None = None
    output: Path | None = None  # run directory; default runs/<model>-<backend>-<fingerprint>
    runs_root: Path = Path("runs")
    seed: int = 1234
    max_tokens: int | None = None  # overrides each task's default
    engine: dict[str, Any] = field(default_factory=dict)  # overrides the model's engine settings
    strict: bool = False  # fail on malformed data rows instead of skipping them


@dataclass(frozen=True)
class TaskSummary:
    """Accuracy over all samples of a task (micro), with its 95% CI, and per subtask."""

    task: str
    n: int
    accuracy: float
    ci_low: float
    ci_high: float
    unparsed: int
    subtasks: dict[str, tuple[float, int]] = field(default_factory=dict)  # subtask -> (accuracy, n)

    @property
    def unparsed_rate(self) -> float:
        return self.unparsed / self.n if self.n else 0.0

    @property
    def macro_accuracy(self) -> float | None:
        """Unweighted mean over subtasks, as BBH and AGIEval are reported; None without subtasks."""
        return sum(a for a, _ in self.subtasks.values()) / len(self.subtasks) if self.subtasks else None


@dataclass(frozen=True)
class RunResult:
    run_dir: Path
    summaries: list[TaskSummary]
    model_calls: int  # requests sent to the backend in this invocation
    seconds: float


@dataclass(frozen=True)
class Pending:
    """One example still to be scored, and the request(s) it needs answered."""

    task: Task
    example: Example
    requests: tuple[Request, ...]


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _git_commit() -> str | None:
    try:
        result = subprocess.run(
            ["git", "-C", str(Path(__file__).parent), "describe", "--always", "--dirty", "--abbrev=40"],
            capture_output=True, text=True, timeout=5, check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip() or None


class PromptRenderer:
    """Turns a task's messages into the exact prompt string the model receives."""

    def __init__(self, spec: ModelSpec, model_path: str) -> None:
        from transformers import AutoTokenizer

        self.spec = spec
        self.tokenizer = AutoTokenizer.from_pretrained(model_path, revision=spec.revision)
        if spec.prompt_format == "chat" and not self.tokenizer.chat_template:
            raise OrcabenchError(f"model {spec.name} has no chat template; give it prompt_format 'plain'")

    def messages(self, task_messages: list[Message]) -> list[Message]:
        system = [Message("system", self.spec.system_message)] if self.spec.system_message is not None else []
        return system + task_messages

    def render(self, messages: list[Message]) -> tuple[str, bool]:
        """The prompt text, and whether the tokenizer must add special tokens (BOS)."""
        if self.spec.prompt_format == "chat":
            text = self.tokenizer.apply_chat_template(
                [{"role": m.role, "content": m.content} for m in messages], tokenize=False, add_generation_prompt=True
            )
            return text, False  # chat templates write their own BOS where the model wants one
        return PLAIN_SEPARATOR.join(m.content for m in messages), True


def _model_path(spec: ModelSpec) -> tuple[str, dict[str, Any]]:
    """Local folder (or Hub id) to load, and what identifies the weights for the manifest."""
    if spec.is_bundled:
        path = converted_model_dir(spec.name)
        return str(path), {"gguf_sha256": source_info(path).get("gguf_sha256")}
    return spec.source, {"revision": spec.revision}


def _host() -> dict[str, Any]:
    import os

    return {"hostname": socket.gethostname(), "platform": platform.platform(), "python": platform.python_version(),
            "cpus": os.cpu_count(), "processor": platform.processor()}


def run(config: RunConfig, on_progress: ProgressCallback | None = None) -> RunResult:
    """Run (or resume) an evaluation; a finished run makes zero model calls."""
    started = time.time()
    spec = resolve_model(config.model)
    backend_name = config.backend or spec.default_backend
    if backend_name not in BACKENDS:
        raise OrcabenchError(f"unknown backend {backend_name!r}: choose one of {', '.join(BACKENDS)}")
    if config.limit is not None and config.limit < 1:
        raise OrcabenchError(f"--limit must be a positive number of examples, not {config.limit}")
    if config.max_tokens is not None and config.max_tokens < 1:
        raise OrcabenchError(f"--max-tokens must be positive, not {config.max_tokens}")
    tasks = get_tasks(list(dict.fromkeys(config.tasks)))
    data_dir = resolve_data_dir(config.data_dir)
    if data_dir is not None and not data_dir.is_dir():
        raise OrcabenchError(f"data directory {data_dir} does not exist; pass --data-dir pointing at a local mirror")

    examples: dict[str, list[Example]] = {}
    provenance: dict[str, Any] = {}
    for task in tasks:
        rows, provenance[task.name] = load_rows(task.data, data_dir, task.name, strict=config.strict)
        parsed = [task.parse_row(row.values, index) for index, row in enumerate(rows)]
        examples[task.name] = parsed[: config.limit] if config.limit else parsed

    model_path, weights = _model_path(spec)
    engine = {**spec.engine, **config.engine}
    fingerprint = {
        "schema_version": SCHEMA_VERSION,
        "model": {"name": spec.name, "source": spec.source, "weights": weights, "prompt_format": spec.prompt_format,
                  "system_message": spec.system_message, "stop": list(spec.stop)},
        "backend": backend_name,
        "engine": engine,
        "sampling": {"temperature": 0.0, "max_tokens": config.max_tokens, "seed": config.seed},
        "tasks": {
            task.name: {"version": task.version, "templates": task.template_hashes(),
                        "data": provenance[task.name].get("files") or {k: v for k, v in provenance[task.name].items() if k != "source"}}
            for task in tasks
        },
    }
    run_dir = config.output or config.runs_root / f"{spec.name}-{backend_name}-{fingerprint_hash(fingerprint)[:12]}"
    store = RunStore(run_dir).open(fingerprint)
    try:
        done = store.records()
        todo = [(task, example) for task in tasks for example in examples[task.name] if (task.name, example.id) not in done]
        pending: list[Pending] = []
        if todo:  # loading the tokenizer costs seconds: a finished run skips it
            renderer = PromptRenderer(spec, model_path)
            pending = [_pending(task, example, renderer, spec, config.max_tokens) for task, example in todo]

        manifest = store.manifest() or {
            "schema_version": SCHEMA_VERSION,
            "created": datetime.now(timezone.utc).isoformat(),
            "orcabench": {"version": __version__, "git_commit": _git_commit()},
            "fingerprint": fingerprint,
            "model_path": model_path,
            "data": provenance,
            "host": _host(),
            "sessions": [],
        }
        session: dict[str, Any] = {"started": datetime.now(timezone.utc).isoformat(), "pending": len(pending),
                                   "requests": sum(len(p.requests) for p in pending),
                                   "batch_size": config.batch_size, "limit": config.limit}
        manifest["sessions"].append(session)
        store.write_manifest(manifest)

        if pending:
            if on_progress:
                on_progress(0, len(pending))
            engine_started = time.time()
            backend = load_backend(backend_name, model_path, engine, seed=config.seed, batch_size=config.batch_size)
            session["backend"] = backend.info()
            session["engine_start_seconds"] = round(time.time() - engine_started, 3)
            try:
                _answer_and_store(backend, pending, store, done, on_progress)
            finally:
                backend.close()
        session["finished"] = datetime.now(timezone.utc).isoformat()
        session["seconds"] = round(time.time() - started, 3)
        store.write_manifest(manifest)
    finally:
        store.close()

    summaries = [summarize(task.name, [done[(task.name, e.id)] for e in examples[task.name]]) for task in tasks]
    return RunResult(run_dir=run_dir, summaries=summaries, model_calls=session["requests"], seconds=time.time() - started)


def _pending(task: Task, example: Example, renderer: PromptRenderer, spec: ModelSpec, max_tokens: int | None) -> Pending:
    messages = renderer.messages(task.render(example))
    prompt, add_special = renderer.render(messages)
    common = {"prompt": prompt, "messages": tuple(messages), "add_special_tokens": add_special}
    if task.kind == "loglikelihood":
        requests = tuple(Request(kind="loglikelihood", continuation=c, **common) for c in task.continuations(example))
    else:
        requests = (Request(kind="generate", max_tokens=max_tokens or task.max_tokens,
                            stop=tuple(dict.fromkeys([*task.stop, *spec.stop])), **common),)
    return Pending(task, example, requests)


def _answer_and_store(backend: Any, pending: list[Pending], store: RunStore, done: dict[tuple[str, str], Record],
                      on_progress: ProgressCallback | None) -> None:
    """Send every request at once; store each example's record as soon as all its requests are answered."""
    owner = [(item, slot) for item, p in enumerate(pending) for slot in range(len(p.requests))]
    answers: dict[int, list[Completion | None]] = {}
    for group in backend.answer([request for p in pending for request in p.requests]):
        records = []
        for flat_index, completion in group:
            item, slot = owner[flat_index]
            slots = answers.setdefault(item, [None] * len(pending[item].requests))
            slots[slot] = completion
            if all(c is not None for c in slots):
                records.append(_score(pending[item], [c for c in slots if c is not None]))
                del answers[item]
        store.append(records)
        for record in records:
            done[record.key] = record
        if on_progress and records:
            on_progress(len(records), len(pending))


def _score(item: Pending, completions: list[Completion]) -> Record:
    verdict = item.task.score_completions(item.example, completions)
    request = item.requests[0]
    extra: dict[str, Any] = {}
    if item.task.kind == "loglikelihood":
        extra = {"continuations": [r.continuation for r in item.requests], "logprobs": [c.logprob for c in completions],
                 "is_greedy": [c.is_greedy for c in completions]}
        best = max(range(len(completions)), key=lambda i: completions[i].logprob or float("-inf"))
        output, logprob = item.requests[best].continuation, completions[best].logprob
    else:
        output, logprob = completions[0].text, completions[0].logprob
    return Record(
        task=item.task.name,
        id=item.example.id,
        subtask=item.example.subtask,
        prompt=request.prompt,
        prompt_sha256=_sha256(request.prompt),
        output=output,
        answer=verdict.answer,
        method=verdict.method,
        gold=item.example.gold,
        score=verdict.score,
        prompt_tokens=completions[0].prompt_tokens,
        output_tokens=sum(c.output_tokens for c in completions),
        finish_reason=completions[0].finish_reason,
        logprob=logprob,
        extra=extra,
    )


def summarize(task: str, records: Sequence[Record]) -> TaskSummary:
    accuracy, low, high = mean_ci([r.score for r in records])
    by_subtask: dict[str, list[float]] = {}
    for record in records:
        if record.subtask is not None:
            by_subtask.setdefault(record.subtask, []).append(record.score)
    subtasks = {name: (sum(scores) / len(scores), len(scores)) for name, scores in sorted(by_subtask.items())}
    return TaskSummary(task=task, n=len(records), accuracy=accuracy, ci_low=low, ci_high=high,
                       unparsed=sum(not r.parsed for r in records), subtasks=subtasks)
