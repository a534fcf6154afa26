"""One invocation on a run directory: :class:`RunSession`, the lifecycle every launcher drives.

``orcabench run`` (:func:`orcabench.api.run`), the sequential gate's candidate (chunk by
chunk) and the lm-eval bridge all run through here, so their run directories get the same
session record. Entering a session asks a ``--server`` for its engine settings (the
fingerprint names them), opens the run store under the plan's fingerprint with a
:class:`~orcabench.store.schema.Session` added, renders what is still to do and runs the
pre-run checks once (the estimate and the warnings). :meth:`RunSession.execute` loads the
backend the first time something is left to compute (replicas included) and runs the one
loop (:func:`orcabench.engine.execute.execute`) on all or some keys. Leaving it closes the
backend (also on an exception or Ctrl-C), records timings, tokens, requests and the length
warnings, and writes the manifest. What happens along the way is emitted as
:mod:`orcabench.events`.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any

from orcabench.answers.second_stage import generated_tokens, trigger
from orcabench.backends.base import Backend
from orcabench.backends.cache import cached
from orcabench.backends.registry import load_backend
from orcabench.backends.serving import server_run_engine
from orcabench.console import ENGINE_LOG, say
from orcabench.engine import preflight
from orcabench.engine.execute import Executed, Pending, Work, execute, missing, prepare
from orcabench.engine.plan import Plan, RunConfig, plan
from orcabench.events import BackendLoading, Estimated, Finished, Opened, Planned, RunEvents, Started, Warned
from orcabench.models.prompts import PromptRenderer
from orcabench.store.schema import Fingerprint, Manifest, Session
from orcabench.store.writer import RECORDS, RunStore, read_records, run_session
from orcabench.task import Task
from orcabench.task.results_file import write_results
from orcabench.timings import IMPORT_SECONDS, Timings
from orcabench.types import Example, OrcabenchError, Record

Key = tuple[str, str]


def load_plan_backend(plan: Plan) -> Backend:
    """The one backend loader: the plan's engine in this process, or ``--replicas N`` of it as Ray actors."""
    operations, seed = plan.config.operations, plan.config.sampling.seed
    if operations.replicas:
        from orcabench.backends.replicas import ReplicaBackend  # Ray is an extra: imported only when asked for

        # The response cache wraps the replicas as a whole: one file, written by this process only.
        return cached(plan.backend, plan.engine, plan.run_dir,
                      lambda engine: ReplicaBackend(plan.backend, plan.model_path, engine, seed=seed,
                                                    batch_size=operations.batch_size, replicas=operations.replicas,
                                                    address=operations.ray_address, cpus=operations.replica_cpus,
                                                    engine_log=plan.run_dir / ENGINE_LOG))
    return load_backend(plan.backend, plan.model_path, plan.engine, seed=seed, batch_size=operations.batch_size,
                        cache_dir=plan.run_dir)


def ask_server(plan: Plan) -> Plan:
    """A ``--server`` plan completed with what the server says it runs (its fingerprint names the served engine);
    any other plan as it is. The only network call before a run opens its store."""
    if not plan.awaits_server:
        return plan
    server = plan.config.operations.server
    assert server is not None  # awaits_server says so
    engine, fingerprint_engine = server_run_engine(server, plan.model_path, plan.config.engine.overrides())
    return plan.served_by(engine, fingerprint_engine)


@contextmanager
def ray_connection(address: str | None) -> Iterator[None]:
    """This process on Ray for the block (a launcher running many replicated runs at once: a campaign); the replicas
    of every run session inside share the connection, and it ends with the block if this opened it."""
    from orcabench.backends.replicas import connect, disconnect  # Ray is an extra: imported only when asked for

    opened = connect(address)
    try:
        yield
    finally:
        if opened:
            disconnect()


def preview(plan: Plan) -> tuple[Work, preflight.Estimate, list[str]]:
    """What a session over ``plan`` would still send, its estimate and warnings, without opening (or locking) its run:
    ``--dry-run`` and a campaign's plan. A run made with other settings is refused as the session would."""
    RunStore(plan.run_dir).check_resumable(plan.fingerprint)
    done = read_records(plan.run_dir / RECORDS)[0]  # an existing run is read, never locked
    renderer = PromptRenderer(plan.spec, plan.model_path)
    work = prepare(plan, missing(plan, done), renderer)
    estimate, warnings = preflight.check(plan, [r for p in work.items for r in p.requests], renderer,
                                         preflight.second_stage_limits(plan, [(p.task, p.example) for p in work.items]))
    return work, estimate, warnings


def show_store_notices(store: RunStore) -> None:
    """What the store repaired or skipped, on orcabench's stderr (the store itself does not print)."""
    for notice in store.take_notices():
        say(notice, style="yellow")


class RunSession:
    """A plan's run directory, opened for one session: ``with RunSession(plan) as session: session.execute()``.

    ``events`` hears what happens (:mod:`orcabench.events`); ``timings`` may already hold the
    planning phase (:meth:`from_config` times it); ``load`` replaces the backend loader (tests,
    benchmarks with canned completions). :attr:`scope`, set before the session opens, bounds
    what it renders and estimates up front to the keys a caller may ask for (the sequential
    gate: the baseline's examples); None: the whole plan.
    """

    def __init__(self, plan: Plan, events: RunEvents | None = None, *, timings: Timings | None = None,
                 started: float | None = None, load: Callable[[Plan], Backend] = load_plan_backend) -> None:
        self.plan = plan
        self.events = events or RunEvents()
        self.timings = Timings() if timings is None else timings  # seconds per phase (docs/performance.md reads them)
        self._clock = time.time() if started is None else started
        self._load = load
        self.scope: list[Key] | None = None
        selection = plan.config.selection
        self.session = Session(batch_size=plan.config.operations.batch_size, limit=selection.limit,
                               limit_per_subtask=selection.limit_per_subtask, timings=self.timings, warnings=[])
        self._stack = ExitStack()
        self._store: RunStore | None = None
        self._manifest: Manifest | None = None
        self.records: dict[Key, Record] = {}  # every stored record of the run, this session's included
        self._rendered: dict[Key, Pending] = {}  # what was pending when the session opened, rendered once
        self._template_sha256: str | None = None
        self._prompt_tokens: dict[Key, int] = {}
        self._backend: Backend | None = None
        self._added: list[Record] = []  # the records this session stored
        self._sent = 0  # requests sent to the backend

    @classmethod
    def from_config(cls, config: RunConfig, events: RunEvents | None = None, **options: Any) -> RunSession:
        """A session over ``config``'s plan, the planning timed as the session's first phase."""
        started, timings = time.time(), Timings()
        with timings.phase("plan"):
            resolved = plan(config)
        return cls(resolved, events, timings=timings, started=started, **options)

    @staticmethod
    @contextmanager
    def open_store(run_dir: Path, fingerprint: Fingerprint, model_path: str, data: dict[str, Any], session: Session,
                   clock: float | None = None) -> Iterator[tuple[RunStore, Manifest]]:
        """The run store opened under ``fingerprint`` with ``session`` added, its manifest written on the way in and out.

        The one way any writer of runs opens a store (this class, the lm-eval bridge and
        import); what the store repaired on opening is shown on stderr. A session that finishes
        writes ``results.json`` from every record the run holds (docs/results.md).
        """
        def finished(store: RunStore, manifest: Manifest) -> None:
            write_results(store.path, manifest, store.records().values())

        with run_session(run_dir, fingerprint, model_path, data, session, clock=clock,
                         on_finish=finished) as (store, manifest, _):
            show_store_notices(store)
            yield store, manifest

    # -- the lifecycle ---------------------------------------------------------------------

    def __enter__(self) -> RunSession:
        self.plan = ask_server(self.plan)  # before the store opens: the fingerprint names the served engine
        plan = self.plan
        self.session.planned = {task.name: len(plan.examples[task.name]) for task in plan.tasks}
        self._store, self._manifest = self._stack.enter_context(
            self.open_store(plan.run_dir, plan.fingerprint, plan.model_path, plan.provenance, self.session, clock=self._clock))
        try:
            self.events.emit(Opened(plan.run_dir))
            self.records = self._store.records()
            show_store_notices(self._store)
            self._prepare()
        except BaseException:
            self._stack.__exit__(*sys.exc_info())
            raise
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        try:
            if self._backend is not None:
                try:
                    self.events.emit(Finished())
                finally:
                    self.session.backend = self._backend.info().to_json()  # again: replicas report their timings and losses
                    with self.timings.phase("close"):
                        self._backend.close()
                    # Each library's import (within the phases above), once per process: a notebook pays it once.
                    self.timings.update({f"import.{name}": seconds for name, seconds in IMPORT_SECONDS.items()})
            if exc_type is None:
                self._account()
        finally:
            self._stack.__exit__(exc_type, exc, traceback)  # the manifest, finished (when nothing failed); the lock

    def _prepare(self) -> None:
        """Render what is pending, run the pre-run checks once and write the manifest, before any weights load."""
        plan, session, timings = self.plan, self.session, self.timings
        todo = missing(plan, self.records, self.scope)
        renderer = PromptRenderer(plan.spec, plan.model_path)
        if todo and renderer.needs_tokenizer:  # the tokenizer loads only if something is left to do
            with timings.phase("tokenizer"):
                renderer.tokenizer  # noqa: B018 -- loaded here so its cost is timed apart from rendering
        with timings.phase("render"):
            work = prepare(plan, todo, renderer)
        self._rendered = {(p.task.name, p.example.id): p for p in work.items}
        self._template_sha256 = work.chat_template_sha256
        session.pending, session.requests, session.chat_template_sha256 = (len(work.items), work.requests,
                                                                           work.chat_template_sha256)
        self.events.emit(Planned(dict(session.planned or {}), len(work.items), work.requests))
        if work.items:
            requests = [r for p in work.items for r in p.requests]
            counts, exact = preflight.count_prompt_tokens(requests, renderer)
            limits = preflight.second_stage_limits(plan, [(p.task, p.example) for p in work.items])
            estimate, warnings = preflight.check_counted(plan, requests, counts, exact, renderer, limits)
            counted = iter(counts)
            self._prompt_tokens = {key: sum(next(counted) for _ in p.requests) for key, p in self._rendered.items()}
            session.prompt_tokens, session.generation_budget = estimate.prompt_tokens, estimate.budget
            self.events.emit(Estimated(estimate.line()))
            for warning in warnings:
                self._warn(warning)
        self._write_manifest()

    def _write_manifest(self) -> None:
        if self._manifest is None:
            raise OrcabenchError("the run session is not open: use it as `with RunSession(plan) as session:`")
        self.store.write_manifest(self._manifest)

    def _warn(self, message: str) -> None:
        assert self.session.warnings is not None
        self.session.warnings.append(message)
        self.events.emit(Warned(message))

    def _account(self) -> None:
        """Requests, tokens and the length warnings of what this session sent (all that was pending, for a full run)."""
        session, sent = self.session, [self._rendered[record.key] for record in self._added]
        session.requests = self._sent
        if self._rendered:
            session.prompt_tokens = sum(self._prompt_tokens[record.key] for record in self._added)
            session.generation_budget = sum(r.max_tokens for p in sent for r in p.requests if r.kind == "generate")
            # the second-stage requests this session sent (a record asked again keeps the reply in extra.second_stage)
            session.generation_budget += sum(trigger(p.example).max_tokens for record, p in zip(self._added, sent)
                                             if isinstance(record.extra.get("second_stage"), dict))
        if self._backend is not None:
            session.output_tokens = sum(generated_tokens(record) for record in self._added)  # second-stage replies too
            limits = {p.task.name: p.requests[0].max_tokens for p in sent if p.task.kind == "generate"}
            for warning in preflight.length_warnings(self._added, limits):
                self._warn(warning)

    # -- what a launcher calls -------------------------------------------------------------

    @property
    def store(self) -> RunStore:
        if self._store is None:
            raise OrcabenchError("the run session is not open: use it as `with RunSession(plan) as session:`")
        return self._store

    def pending(self, keys: Sequence[Key] | None = None) -> list[tuple[Task, Example]]:
        """The plan's examples (or those of ``keys``, in that order) that have no stored record yet."""
        return missing(self.plan, self.records, keys)

    def backend(self) -> Backend:
        """The plan's backend, loaded on first use (the one expensive step) and closed when the session ends."""
        if self._backend is None:
            plan, session = self.plan, self.session
            self.events.emit(BackendLoading(plan.backend, plan.model_path, plan.config.operations.replicas))
            loading = time.time()
            with self.timings.phase("engine_start"):
                self._backend = self._load(plan)
            session.backend = self._backend.info().to_json()
            session.engine_start_seconds = round(time.time() - loading, 3)
            self._write_manifest()  # an interrupted session still names its engine
            totals: dict[str, int] = {}
            for pending in self._rendered.values():
                totals[pending.task.name] = totals.get(pending.task.name, 0) + 1
            self.events.emit(Started({task.name: totals[task.name] for task in plan.tasks if task.name in totals}))
        return self._backend

    def cancel(self) -> None:
        """Close the backend now, from another thread (a launcher's Ctrl-C): an :meth:`execute` in progress ends with
        the backend's error, and what it stored stays stored. A backend still loading is not reached."""
        backend = self._backend
        if backend is not None:
            backend.close()

    def execute(self, keys: Sequence[Key] | None = None) -> Executed:
        """Answer, score and store what is pending (of ``keys``, in that order, when given); loads the backend if needed."""
        todo = self.pending(keys)
        if not todo:
            return Executed([], 0, 0.0)
        outside = [(task.name, example.id) for task, example in todo if (task.name, example.id) not in self._rendered]
        if outside:
            raise OrcabenchError(f"{len(outside)} requested example(s) are outside the session's scope, e.g. {outside[0]}")
        work = Work([self._rendered[(task.name, example.id)] for task, example in todo], self._template_sha256)
        backend = self.backend()
        with self.timings.phase("generate"):
            executed = execute(self.plan, backend, self.store, work=work, events=self.events)
        self.session.generate_seconds = round((self.session.generate_seconds or 0.0) + executed.seconds, 3)
        self._sent += executed.requests
        self._added += executed.records
        self.records.update({record.key: record for record in executed.records})
        return executed

    def scores(self, keys: Sequence[Key]) -> dict[Key, float]:
        """The score of each of ``keys``, computing those not yet stored (the sequential gate's pair source)."""
        self.execute(keys)
        return {key: self.records[key].score for key in keys}
