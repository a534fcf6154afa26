"""The Python API behind the CLI: notebooks and CI scripts call these directly.

:func:`run` is the only place that holds both a task and a backend: it loads examples,
renders prompts through the model's chat template, asks the backend for the pending
ones, scores each completion and appends it to the run store as it arrives.
"""

from __future__ import annotations

import hashlib
import json
import platform
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from orcabench import __version__
from orcabench.backends.base import BACKENDS, OPERATIONAL_ENGINE_KEYS, SECRET_ENGINE_KEYS, load_backend
from orcabench.bundled import converted_model_dir, source_info
from orcabench.data import download, in_mirror, load_rows, resolve_data_dir
from orcabench.events import RunEvents
from orcabench.models import DEFAULT_MODEL, ModelSpec, resolve_model, with_system_message
from orcabench import preflight
from orcabench.protocols import Protocol, get_protocol
from orcabench.prompts import PromptRenderer
from orcabench.summary import TaskSummary, summarize
from orcabench.store import RunStore, fingerprint_hash, read_records, write_json_atomic
from orcabench.task import Task, get_tasks
from orcabench.types import SCHEMA_VERSION, Completion, Example, OrcabenchError, Record, Request

# Called with (samples finished in this group, samples pending in total); for per-task
# counts and tokens, pass ``events`` (orcabench.events.RunEvents) as well.
ProgressCallback = Callable[[int, int], None]


@dataclass
class RunConfig:
    """Everything ``orcabench run`` takes; the CLI flags map one to one."""

    model: str = DEFAULT_MODEL
    tasks: Sequence[str] = ("gsm8k",)
    protocol: str | None = None  # None: the model's default protocol (orca2 for Orca 2 models)
    system_message: str | None = None  # a SYSTEM_MESSAGES setting or literal text; None: the protocol's, else the model's
    backend: str | None = None  # None: the model's default backend
    limit: int | None = None  # first N examples of each task
    limit_per_subtask: int | None = None  # first N of each subtask (a task without subtasks is one); before ``limit``
    batch_size: int | None = None  # hf: batch size; vllm: max_num_seqs
    data_dir: Path | None = None
    output: Path | None = None  # run directory; default runs/<model>-<backend>-<fingerprint>
    runs_root: Path = Path("runs")
    seed: int = 1234
    max_tokens: int | None = None  # overrides each task's default
    engine: dict[str, Any] = field(default_factory=dict)  # overrides the model's engine settings
    strict: bool = False  # fail on malformed data rows instead of skipping them


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


def new_manifest(fingerprint: dict[str, Any], model_path: str, data: dict[str, Any]) -> dict[str, Any]:
    """A run's manifest before its first session (native and lm-eval runs alike)."""
    return {"schema_version": SCHEMA_VERSION, "created": datetime.now(timezone.utc).isoformat(),
            "orcabench": {"version": __version__, "git_commit": _git_commit()}, "fingerprint": fingerprint,
            "model_path": model_path, "data": data, "host": _host(), "sessions": []}


def checked_data_dir(option: Path | None) -> Path | None:
    data_dir = resolve_data_dir(option)
    if data_dir is not None and not data_dir.is_dir():
        raise OrcabenchError(f"data directory {data_dir} does not exist; pass --data-dir pointing at a local mirror")
    return data_dir


def load_examples(task: Task, data_dir: Path | None, strict: bool = False) -> tuple[list[Example], dict[str, Any]]:
    """Every example of a task, in dataset order, and where its rows came from."""
    rows, provenance = load_rows(task.data, data_dir, task.name, strict=strict)
    examples = []
    for index, row in enumerate(rows):
        try:
            examples.append(task.parse_row(row.values, index))
        except (KeyError, TypeError, ValueError, IndexError) as error:
            raise OrcabenchError(f"task {task.name}: cannot read row {row.location}: {error!r}") from error
    return examples, provenance


def model_location(spec: ModelSpec) -> tuple[str, dict[str, Any]]:
    """Local folder (or Hub id) to load, and what identifies the weights for the manifest."""
    if spec.is_bundled:
        path = converted_model_dir(spec.name)
        return str(path), {"gguf_sha256": source_info(path).get("gguf_sha256")}
    return spec.source, {"revision": spec.revision}


def _host() -> dict[str, Any]:
    import os

    return {"hostname": socket.gethostname(), "platform": platform.platform(), "python": platform.python_version(),
            "cpus": os.cpu_count(), "processor": platform.processor()}


@dataclass(frozen=True)
class Plan:
    """A run resolved from its config, before any weights are loaded (what ``--dry-run`` shows)."""

    spec: ModelSpec
    backend: str
    protocol: Protocol
    engine: dict[str, Any]
    tasks: list[Task]
    examples: dict[str, list[Example]]
    provenance: dict[str, Any]
    model_path: str
    fingerprint: dict[str, Any]
    run_dir: Path

    def first_prompt(self) -> tuple[Example, str]:
        task = next(t for t in self.tasks if self.examples[t.name])
        example = self.examples[task.name][0]
        renderer = PromptRenderer(self.spec, self.model_path)
        return example, renderer.render(renderer.messages(task.render(example)))[0]


def check_counts(config: RunConfig) -> None:
    """``--limit``, ``--limit-per-subtask`` and ``--max-tokens``, where given, are positive (native and lm-eval runs)."""
    if config.limit is not None and config.limit < 1:
        raise OrcabenchError(f"--limit must be a positive number of examples, not {config.limit}")
    if config.limit_per_subtask is not None and config.limit_per_subtask < 1:
        raise OrcabenchError(f"--limit-per-subtask must be a positive number of examples, not {config.limit_per_subtask}")
    if config.max_tokens is not None and config.max_tokens < 1:
        raise OrcabenchError(f"--max-tokens must be positive, not {config.max_tokens}")


def prompting(model: str, protocol_name: str | None, system_message: str | None) -> tuple[ModelSpec, Protocol]:
    """The model with the system message it is shown, and the protocol: ``--model``, ``--protocol``, ``--system-message``."""
    spec = resolve_model(model)
    protocol = get_protocol(protocol_name or spec.default_protocol)
    return with_system_message(spec, system_message or protocol.system_message), protocol


def plan(config: RunConfig) -> Plan:
    """Resolve model, protocol, tasks, data and the run directory; check everything a run needs."""
    spec, protocol = prompting(config.model, config.protocol, config.system_message)
    backend_name = config.backend or spec.default_backend
    if backend_name not in BACKENDS:
        raise OrcabenchError(f"unknown backend {backend_name!r}: choose one of {', '.join(BACKENDS)}")
    if spec.prompt_format == "api-chat" and backend_name != "openai":
        raise OrcabenchError(f"{spec.name} is served through an API: use --backend openai, not {backend_name}")
    check_counts(config)
    tasks = get_tasks(config.tasks)
    protocol.check(tasks)
    data_dir = checked_data_dir(config.data_dir)
    examples: dict[str, list[Example]] = {}
    provenance: dict[str, Any] = {}
    for task in tasks:
        parsed, provenance[task.name] = load_examples(task, data_dir, strict=config.strict)
        if config.limit_per_subtask:
            parsed = _first_per_subtask(parsed, config.limit_per_subtask)
        examples[task.name] = parsed[: config.limit] if config.limit else parsed

    model_path, weights = model_location(spec)
    engine = {**spec.engine, **config.engine}
    fingerprint = {
        "schema_version": SCHEMA_VERSION,
        "protocol": protocol.name,
        "model": {"name": spec.name, "source": spec.source, "weights": weights, "prompt_format": spec.prompt_format,
                  "chat_template": spec.chat_template, "system_message": spec.system_message, "stop": list(spec.all_stops)},
        "backend": backend_name,
        "engine": {k: v for k, v in engine.items() if k not in SECRET_ENGINE_KEYS | OPERATIONAL_ENGINE_KEYS},
        "sampling": {"temperature": 0.0, "max_tokens": config.max_tokens, "seed": config.seed},
        "tasks": {
            task.name: {"version": task.version, "templates": task.template_hashes(),
                        "data": provenance[task.name].get("files") or {k: v for k, v in provenance[task.name].items() if k != "source"}}
            for task in tasks
        },
    }
    run_dir = config.output or config.runs_root / f"{spec.name}-{backend_name}-{fingerprint_hash(fingerprint)[:12]}"
    return Plan(spec, backend_name, protocol, engine, tasks, examples, provenance, model_path, fingerprint, run_dir)


def _first_per_subtask(examples: list[Example], n: int) -> list[Example]:
    """A balanced slice for quick runs: the first ``n`` examples of each subtask, in dataset order."""
    seen: dict[str | None, int] = {}
    kept = []
    for example in examples:
        seen[example.subtask] = seen.get(example.subtask, 0) + 1
        if seen[example.subtask] <= n:
            kept.append(example)
    return kept


def pending_requests(resolved: Plan, config: RunConfig, done: dict[tuple[str, str], Record]) -> tuple[list[Pending], PromptRenderer]:
    """The examples still to be scored, each with its rendered request(s)."""
    renderer = PromptRenderer(resolved.spec, resolved.model_path)
    pending = [_pending(task, example, renderer, resolved.spec, config.max_tokens)
               for task in resolved.tasks for example in resolved.examples[task.name] if (task.name, example.id) not in done]
    return pending, renderer


def check_before_loading(resolved: Plan, config: RunConfig, pending: list[Pending],
                         renderer: PromptRenderer) -> tuple[preflight.Estimate, list[str]]:
    """The run's size and expected time, and the warnings known before any weights load."""
    requests = [request for p in pending for request in p.requests]
    counts, exact = preflight.count_prompt_tokens(requests, renderer)
    history = preflight.past_sessions(dict.fromkeys([config.runs_root, resolved.run_dir.parent]), resolved.spec.name, resolved.backend)
    estimate = preflight.estimate(requests, counts, exact, history, resolved.spec.name, resolved.backend)
    return estimate, preflight.prompt_warnings(renderer, requests, counts, exact, resolved.engine.get("max_model_len"))


def dry_run_estimate(resolved: Plan, config: RunConfig) -> tuple[preflight.Estimate, list[str]]:
    """``--dry-run``'s estimate: what a real run would still send (an existing run's records are read, not locked)."""
    done = read_records(resolved.run_dir / "records.jsonl")[0]
    pending, renderer = pending_requests(resolved, config, done)
    return check_before_loading(resolved, config, pending, renderer)


def run(config: RunConfig, on_progress: ProgressCallback | None = None, events: RunEvents | None = None) -> RunResult:
    """Run (or resume) an evaluation; a finished run makes zero model calls."""
    started = time.time()
    events = events or RunEvents()
    resolved = plan(config)
    backend_name, engine, tasks, examples = resolved.backend, resolved.engine, resolved.tasks, resolved.examples
    model_path, fingerprint, run_dir, provenance = resolved.model_path, resolved.fingerprint, resolved.run_dir, resolved.provenance
    store = RunStore(run_dir).open(fingerprint)
    events.opened(run_dir)
    try:
        done = store.records()
        pending: list[Pending] = []
        chat_template: str | None = None
        warnings: list[str] = []
        if any((t.name, e.id) not in done for t in tasks for e in examples[t.name]):  # the tokenizer costs seconds: a finished run skips it
            pending, renderer = pending_requests(resolved, config, done)
            chat_template = renderer.chat_template_source()
            estimate, warnings = check_before_loading(resolved, config, pending, renderer)
            events.estimate(estimate.line())
            for warning in warnings:
                events.warning(warning)

        manifest = store.manifest() or new_manifest(fingerprint, model_path, provenance)
        session: dict[str, Any] = {"started": datetime.now(timezone.utc).isoformat(), "pending": len(pending),
                                   "chat_template_sha256": _sha256(chat_template) if pending and chat_template else None,
                                   "requests": sum(len(p.requests) for p in pending),
                                   "batch_size": config.batch_size, "limit": config.limit,
                                   "limit_per_subtask": config.limit_per_subtask,
                                   "planned": {t.name: len(examples[t.name]) for t in tasks}, "warnings": warnings}
        if pending:
            session.update(prompt_tokens=estimate.prompt_tokens, generation_budget=estimate.budget)
        manifest["sessions"].append(session)
        store.write_manifest(manifest)

        if pending:
            if on_progress:
                on_progress(0, len(pending))
            engine_started = time.time()
            backend = load_backend(backend_name, model_path, engine, seed=config.seed, batch_size=config.batch_size,
                                   cache_dir=run_dir)
            session["backend"] = backend.info()
            session["engine_start_seconds"] = round(time.time() - engine_started, 3)
            new: list[Record] = []
            try:
                generation_started = time.time()
                events.started({t.name: n for t in tasks if (n := sum(p.task is t for p in pending))})
                _answer_and_store(backend, pending, store, done, on_progress, events, new)
                session["generate_seconds"] = round(time.time() - generation_started, 3)
            finally:
                events.finished()
                session["output_tokens"] = sum(r.output_tokens for r in new)
                backend.close()
            limits = {p.task.name: p.requests[0].max_tokens for p in pending if p.task.kind == "generate"}
            for warning in preflight.length_warnings(new, limits):
                warnings.append(warning)
                events.warning(warning)
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
                            stop=tuple(dict.fromkeys([*task.stop, *spec.all_stops])), **common),)
    return Pending(task, example, requests)


def _answer_and_store(backend: Any, pending: list[Pending], store: RunStore, done: dict[tuple[str, str], Record],
                      on_progress: ProgressCallback | None, events: RunEvents, new: list[Record]) -> None:
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
        new += records
        if records:
            events.records(records)
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


@dataclass(frozen=True)
class PromptView:
    example: Example
    prompt: str
    add_special_tokens: bool
    continuations: list[str]


def show_prompt(task_name: str, model: str = DEFAULT_MODEL, index: int = 0, data_dir: Path | None = None,
                protocol: str | None = None, system_message: str | None = None) -> PromptView:
    """Exactly what the model receives for one example, after chat template and system message (as :func:`run` renders it)."""
    spec, resolved_protocol = prompting(model, protocol, system_message)
    (task,) = get_tasks([task_name])
    resolved_protocol.check([task])
    examples, _ = load_examples(task, checked_data_dir(data_dir))
    if not 0 <= index < len(examples):
        raise OrcabenchError(f"--index {index} is out of range: task {task.name} has examples 0..{len(examples) - 1}")
    renderer = PromptRenderer(spec, model_location(spec)[0])
    example = examples[index]
    prompt, add_special = renderer.render(renderer.messages(task.render(example)))
    return PromptView(example, prompt, add_special, task.continuations(example))


@dataclass(frozen=True)
class ScoredPredictions:
    summary: TaskSummary
    records: list[Record]
    problems: list[str]  # "file:line: what is wrong", one per skipped line


def score_predictions(task_name: str, predictions: Path, data_dir: Path | None = None, strict: bool = False) -> ScoredPredictions:
    """Score outputs produced elsewhere (one JSON object per line: id, output) with the task's extractor."""
    (task,) = get_tasks([task_name])
    if task.kind != "generate":
        raise OrcabenchError(f"task {task.name} is scored by loglikelihood; `orcabench score` takes generated text: pick a generative task")
    if not predictions.is_file():
        raise OrcabenchError(f"predictions file {predictions} does not exist")
    examples = {e.id: e for e in load_examples(task, checked_data_dir(data_dir))[0]}
    records: dict[str, Record] = {}
    problems: list[str] = []
    with predictions.open(encoding="utf-8", errors="replace") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            problem, item = _prediction(line, examples, records)
            if problem:
                problems.append(f"{predictions}:{number}: {problem}")
                if strict:
                    raise OrcabenchError(f"{problems[-1]} (drop --strict to skip such lines)")
                continue
            example, output = item
            verdict = task.score_completions(example, [Completion(text=output)])
            records[example.id] = Record(
                task=task.name, id=example.id, subtask=example.subtask, prompt="", prompt_sha256="", output=output,
                answer=verdict.answer, method=verdict.method, gold=example.gold, score=verdict.score,
                prompt_tokens=0, output_tokens=0, finish_reason=None,
            )
    if not records:
        raise OrcabenchError(f"{predictions}: no usable prediction lines (each line: {{\"id\": ..., \"output\": ...}}); "
                             + (problems[0] if problems else "the file is empty"))
    return ScoredPredictions(summarize(task.name, list(records.values())), list(records.values()), problems)


def _prediction(line: str, examples: dict[str, Example], seen: dict[str, Record]) -> tuple[str | None, Any]:
    try:
        value = json.loads(line)
    except json.JSONDecodeError as error:
        return f"not JSON ({error.msg})", None
    if not isinstance(value, dict) or not isinstance(value.get("output"), str) or "id" not in value:
        return "expected an object with \"id\" and a string \"output\"", None
    sample_id = str(value["id"])
    if sample_id not in examples:
        return f"unknown example id {sample_id!r}", None
    if sample_id in seen:
        return f"duplicate id {sample_id!r} (the first one counts)", None
    return None, (examples[sample_id], value["output"])


@dataclass(frozen=True)
class RescoreResult:
    summaries: list[TaskSummary]
    changed: int
    backup: Path


def rescore(run_dir: Path, data_dir: Path | None = None) -> RescoreResult:
    """Score a stored run's outputs again with today's extractors; no model is loaded.

    The records file is replaced atomically and the previous one kept beside it, so the
    change is traceable; the manifest lists each rescore.
    """
    store = RunStore(run_dir)
    manifest = store.manifest() if run_dir.is_dir() else None
    if manifest is None:
        raise OrcabenchError(f"{run_dir} is not an orcabench run (no manifest.json); pass a run directory")
    fingerprint = manifest["fingerprint"]
    store.open(fingerprint)
    try:
        data_dir = checked_data_dir(data_dir) or _recorded_data_dir(manifest)
        tasks = get_tasks(list(fingerprint["tasks"]))
        old = store.records()
        new: list[Record] = []
        for task in tasks:
            examples, provenance = load_examples(task, data_dir)
            if provenance.get("files") and provenance["files"] != fingerprint["tasks"][task.name]["data"]:
                raise OrcabenchError(f"the data of task {task.name} differs from the run's (file hashes); point --data-dir at the run's data")
            by_id = {e.id: e for e in examples}
            for (task_name, sample_id), record in old.items():
                if task_name == task.name:
                    new.append(_rescored(task, by_id[sample_id], record))
        changed = sum(a != b for a, b in zip(old.values(), new))
        backup = store.replace_records(new)
        manifest.setdefault("rescores", []).append({"at": datetime.now(timezone.utc).isoformat(), "changed": changed,
                                                    "orcabench": {"version": __version__, "git_commit": _git_commit()},
                                                    "previous_records": backup.name})
        store.write_manifest(manifest)
    finally:
        store.close()
    summaries = [summarize(task.name, [r for r in new if r.task == task.name]) for task in tasks]
    return RescoreResult(summaries, changed, backup)


def _recorded_data_dir(manifest: dict[str, Any]) -> Path | None:
    for provenance in manifest.get("data", {}).values():
        if provenance.get("data_dir"):
            return Path(provenance["data_dir"])
    return None


def _rescored(task: Task, example: Example, record: Record) -> Record:
    if task.kind == "loglikelihood":
        completions = [Completion(logprob=lp) for lp in record.extra["logprobs"]]
    else:
        completions = [Completion(text=record.output)]
    verdict = task.score_completions(example, completions)
    return replace(record, answer=verdict.answer, method=verdict.method, score=verdict.score)


@dataclass(frozen=True)
class DataCheck:
    task: str
    status: str  # "ok" | "absent" (no file of it in the mirror, not asked for) | "failed"
    examples: int
    problems: list[str]


def check_data(data_dir: Path | None, task_names: Sequence[str] = ()) -> list[DataCheck]:
    """Validate a local mirror: files present, sha256 as its manifest.json says, every row readable."""
    mirror = checked_data_dir(data_dir)
    if mirror is None:
        raise OrcabenchError("no mirror to check: pass --data-dir DIR or set ORCABENCH_DATA_DIR")
    manifest_path = mirror / "manifest.json"
    expected = json.loads(manifest_path.read_text())["files"] if manifest_path.is_file() else {}
    from orcabench.task import all_tasks

    tasks = get_tasks(task_names) if task_names else sorted(all_tasks(), key=lambda t: t.name)
    checks = []
    for task in tasks:
        if not task_names and not in_mirror(task.data, mirror):
            checks.append(DataCheck(task.name, "absent", 0, []))
            continue
        problems: list[str] = []
        examples: list[Example] = []
        try:
            examples, provenance = load_examples(task, mirror, strict=True)
        except OrcabenchError as error:
            problems.append(str(error))
        else:
            for relative, digest in provenance["files"].items():
                if relative in expected and expected[relative]["sha256"] != digest:
                    problems.append(f"{mirror / relative}: sha256 {digest[:12]}… differs from manifest.json's {expected[relative]['sha256'][:12]}…")
        checks.append(DataCheck(task.name, "failed" if problems else "ok", len(examples), problems))
    return checks


def download_data(task_names: Sequence[str], out_dir: Path) -> dict[str, dict[str, Any]]:
    """Fetch tasks' data from the Hub into a verified local mirror (for air-gapped clusters).

    Files land under ``out_dir/hub/``; ``out_dir/manifest.json`` records each file's sha256,
    size and example count, so ``orcabench data check`` can verify the copy later.
    """
    if not task_names:
        raise OrcabenchError("name the tasks to download: --tasks gsm8k,bbh (or a suite such as orca2)")
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest_path = out_dir / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.is_file() else {}
    files: dict[str, dict[str, Any]] = manifest.setdefault("files", {})
    for task in get_tasks(task_names):
        files.update(download(task.data, task.name, out_dir))
        manifest.setdefault("downloaded", {})[task.name] = datetime.now(timezone.utc).isoformat()
        write_json_atomic(manifest_path, manifest)  # after each task: an interrupted download keeps what it fetched
    return files
