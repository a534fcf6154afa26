"""orcabench's own work on a whole suite, without a model: render, extract, score, store.

Every example of the suite's tasks whose data is staged goes through the code paths that
``orcabench run`` uses (:mod:`orcabench.api`): :func:`~orcabench.api.plan` loads the data,
:func:`~orcabench.api.prepare` renders each prompt through the model's chat template
(smollm2-135m's tokenizer template by default), and :func:`~orcabench.api.execute` (the run
loop) scores every completion with the task's extractor and appends the records to a real
:class:`~orcabench.store.writer.RunStore`, fsync'd group by group as a backend's groups arrive.

The model is replaced by canned completions, built before the clock starts: for generated
answers a few sentences of reasoning ending in "Therefore, the answer is <gold>.", for
loglikelihood tasks one log-probability per option with the gold's highest. Every example
therefore goes through extraction and scoring, and every record should come back parsed
and correct (the script says so, and exits 1 if not).

Tasks whose data is not in the mirror (drop, race and hellaswag need the Hub) are skipped
and named. Data loading and the tokenizer load (which imports transformers) are timed
apart from the harness work proper.

    python bench/harness_overhead.py --data-dir ../shared/data [--tasks orca2] [--group-size 16]
"""

from __future__ import annotations

import argparse
import gc
import os
import resource
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

_started = (time.perf_counter(), time.process_time())  # the orcabench imports below are timed
from orcabench.api import (  # noqa: E402  timed import, after _started on purpose
    Operations,
    Plan,
    Prompting,
    RunConfig,
    Selection,
    execute,
    missing,
    plan,
    prepare,
)
from orcabench.backends.base import BackendInfo  # noqa: E402  timed import, after _started on purpose
from orcabench.engine.execute import Pending  # noqa: E402  timed import, after _started on purpose
from orcabench.store.schema import Manifest, Session  # noqa: E402  timed import, after _started on purpose
from orcabench.task.data import in_mirror, resolve_data_dir  # noqa: E402  timed import, after _started on purpose
from orcabench.models.registry import DEFAULT_MODEL  # noqa: E402  timed import, after _started on purpose
from orcabench.models.prompts import PromptRenderer  # noqa: E402  timed import, after _started on purpose
from orcabench.store.writer import RunStore, read_records  # noqa: E402  timed import, after _started on purpose
from orcabench.task.summary import TaskSummary, summarize  # noqa: E402  timed import, after _started on purpose
from orcabench.task import get_tasks  # noqa: E402  timed import, after _started on purpose
from orcabench.types import Completion, Record, Request  # noqa: E402  timed import, after _started on purpose

_IMPORT_SECONDS = (time.perf_counter() - _started[0], time.process_time() - _started[1])

GOAL_SECONDS = 10.0
# The "model output" of a generated answer: some reasoning, then the gold. No digits, no
# lone capital letters and no label words, so the answer phrase is what the extractors read.
REASONING = ("To answer this, consider what the question states and check each possibility against it, "
             "ruling out the ones that do not fit the facts given. ") * 3


def canned_text(gold: str) -> str:
    return f"{REASONING}Therefore, the answer is {gold}."


def canned_completions(item: Pending) -> list[Completion]:
    """What a backend would return for one example's requests, answering it correctly."""
    if item.task.kind == "loglikelihood":
        return [Completion(logprob=-0.25 if r.continuation.strip() == item.example.gold else -3.0 - 0.1 * slot,
                           is_greedy=r.continuation.strip() == item.example.gold, prompt_tokens=len(r.prompt) // 4)
                for slot, r in enumerate(item.requests)]
    text = canned_text(item.example.gold)
    return [Completion(text=text, prompt_tokens=len(item.requests[0].prompt) // 4, output_tokens=len(text) // 4,
                       finish_reason="stop")]


class CannedBackend:
    """Stands in for the model: yields precomputed completions in groups of ``group_size``
    requests, the way a backend yields the requests finished by one engine step or batch."""

    name = "canned"

    def __init__(self, completions: list[Completion], group_size: int) -> None:
        self.completions = completions
        self.group_size = group_size
        self.groups = [[(i, completions[i]) for i in range(start, min(start + group_size, len(completions)))]
                       for start in range(0, len(completions), group_size)]

    def answer(self, requests: Sequence[Request]) -> Iterator[list[tuple[int, Completion]]]:
        assert len(requests) == len(self.completions)
        yield from self.groups

    def info(self) -> BackendInfo:
        return BackendInfo(self.name, {}, {"group_size": self.group_size})

    def close(self) -> None:
        pass


class TimedStore(RunStore):
    """The real run store, with the time spent in :meth:`append` (JSON, write, fsync) summed,
    and the part of it spent inside ``os.fsync``."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.append_seconds = 0.0
        self.append_cpu_seconds = 0.0
        self.fsync_seconds = 0.0
        self.appends = 0

    def append(self, records: Iterable[Record]) -> None:
        real_fsync = os.fsync

        def timed_fsync(fd: int) -> None:
            started = time.perf_counter()
            real_fsync(fd)
            self.fsync_seconds += time.perf_counter() - started

        started = _now()
        os.fsync = timed_fsync  # the store calls os.fsync: count its share, for the report only
        try:
            super().append(records)
        finally:
            os.fsync = real_fsync
        wall, cpu = _now()
        self.append_seconds += wall - started[0]
        self.append_cpu_seconds += cpu - started[1]
        self.appends += 1


def _now() -> tuple[float, float]:
    """Wall clock and this process's CPU time (the CPU is shared: wall time waits, CPU time does not)."""
    return time.perf_counter(), time.process_time()


class GCTimer:
    """Wall time the cyclic garbage collector takes, through ``gc.callbacks`` (it runs
    inside whichever stage allocates, so it is part of those stages' figures)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.collections = 0
        self.paused = False
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if self.paused:
            return
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.seconds += time.perf_counter() - self._started
            self.collections += 1


def _rss_mib() -> float:
    """Peak resident set size of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@dataclass
class Measurement:
    tasks: dict[str, int]  # examples per measured task
    skipped: list[str]  # tasks of the selection whose data is not staged
    run_dir: Path
    group_size: int
    appends: int = 0
    requests: int = 0
    seconds: dict[str, float] = field(default_factory=dict)  # stage -> wall seconds
    cpu_seconds: dict[str, float] = field(default_factory=dict)  # stage -> this process's CPU seconds
    rss_after: dict[str, float] = field(default_factory=dict)  # stage -> peak RSS (MiB) after it
    fsync_seconds: float = 0.0  # part of "store append" spent in os.fsync
    gc_seconds: float = 0.0  # part of the harness stages spent in the cyclic garbage collector
    gc_collections: int = 0
    stored_mib: float = 0.0  # size of records.jsonl
    peak_rss_mib: float = 0.0  # ru_maxrss when the run was done (before the check that reads the store back)
    summarized: int = 0  # examples in the run's task summaries
    records: int = 0
    parsed: int = 0
    correct: int = 0
    tracemalloc_peak_mib: float | None = None  # peak of Python allocations made inside measure()
    tracemalloc_data_mib: float | None = None  # of them, live after the data load
    tracemalloc_setup_mib: float | None = None  # of them, live after data and tokenizer load

    @property
    def examples(self) -> int:
        return sum(self.tasks.values())

    @property
    def harness_seconds(self) -> float:
        return sum(self.seconds[s] for s in HARNESS_STAGES)

    @property
    def total_seconds(self) -> float:
        return sum(self.seconds.values())


HARNESS_STAGES = ("render", "extract + score", "store append", "store open, manifest, summaries")
SETUP_STAGES = ("import orcabench", "data load", "tokenizer load")
STAGE_NOTES = {
    "import orcabench": "orcabench modules (not transformers)",
    "data load": "plan(): read files, sha256, parse rows",
    "tokenizer load": "import transformers + AutoTokenizer",
    "render": "task template + chat template -> Requests",
    "extract + score": "run loop: extractors, scoring, Records",
    "store append": "JSON lines, write, fsync per group",
    "store open, manifest, summaries": "lock, 2 atomic manifests, summarize",
}


def staged_tasks(names: Sequence[str], data_dir: Path | None) -> tuple[list[str], list[str]]:
    """The selected tasks (suites expanded) split into those with data in the mirror and the rest."""
    tasks = get_tasks(names)
    if data_dir is None:  # no mirror: every task loads from the Hub
        return [task.name for task in tasks], []
    return ([task.name for task in tasks if in_mirror(task.data, data_dir)],
            [task.name for task in tasks if not in_mirror(task.data, data_dir)])


def measure(data_dir: Path | None, out_dir: Path, tasks: Sequence[str] = ("orca2",), limit: int | None = None,
            model: str = DEFAULT_MODEL, protocol: str | None = None, group_size: int = 16,
            trace_memory: bool = False) -> Measurement:
    """Render, score and store every example of ``tasks`` (each capped at ``limit``) into a
    run at ``out_dir``, timing each stage; the run store holds one record per example."""
    if trace_memory:
        tracemalloc.start()
    seconds: dict[str, float] = {"import orcabench": _IMPORT_SECONDS[0]}
    cpu: dict[str, float] = {"import orcabench": _IMPORT_SECONDS[1]}
    rss: dict[str, float] = {"import orcabench": _rss_mib()}

    def timed(stage: str, started: tuple[float, float]) -> None:
        wall, used = _now()
        seconds[stage] = seconds.get(stage, 0.0) + wall - started[0]
        cpu[stage] = cpu.get(stage, 0.0) + used - started[1]
        rss[stage] = _rss_mib()

    started = _now()
    data_dir = resolve_data_dir(data_dir)
    names, skipped = staged_tasks(tasks, data_dir)
    config = RunConfig(selection=Selection(model=model, tasks=names, limit=limit, data_dir=data_dir),
                       prompting=Prompting(protocol=protocol),
                       operations=Operations(output=out_dir))
    resolved = plan(config)  # what run() calls first: tasks, data, fingerprint
    timed("data load", started)
    traced_data = tracemalloc.get_traced_memory()[0] / 2**20 if trace_memory else None

    renderer = PromptRenderer(resolved.spec, resolved.model_path)
    started = _now()
    if resolved.spec.prompt_format == "chat" and resolved.spec.template is None:
        renderer.tokenizer  # noqa: B018  (cached property: loads the tokenizer, as the first render would)
    timed("tokenizer load", started)
    traced_before = tracemalloc.get_traced_memory()[0] / 2**20 if trace_memory else None

    measurement = Measurement({t.name: len(resolved.examples[t.name]) for t in resolved.tasks}, skipped,
                              resolved.run_dir, group_size)

    gc_timer = GCTimer()
    gc.callbacks.append(gc_timer)
    try:
        summaries = _harness(resolved, config, renderer, measurement, seconds, cpu, rss, timed, gc_timer)
    finally:
        gc.callbacks.remove(gc_timer)
    measurement.gc_seconds, measurement.gc_collections = gc_timer.seconds, gc_timer.collections
    measurement.summarized = sum(summary.n for summary in summaries)

    if trace_memory:
        measurement.tracemalloc_peak_mib = tracemalloc.get_traced_memory()[1] / 2**20
        measurement.tracemalloc_data_mib = traced_data
        measurement.tracemalloc_setup_mib = traced_before
        tracemalloc.stop()
    measurement.seconds = {stage: seconds[stage] for stage in (*SETUP_STAGES, *HARNESS_STAGES)}
    measurement.cpu_seconds = {stage: cpu[stage] for stage in (*SETUP_STAGES, *HARNESS_STAGES)}
    measurement.rss_after = rss
    measurement.peak_rss_mib = _rss_mib()
    records_path = RunStore(resolved.run_dir).records_path
    measurement.stored_mib = records_path.stat().st_size / 2**20
    stored, problems = read_records(records_path)
    if problems:
        raise RuntimeError(f"the run store has unreadable lines: {problems[:3]}")
    measurement.records = len(stored)
    measurement.parsed = sum(r.parsed for r in stored.values())
    measurement.correct = sum(r.score == 1.0 for r in stored.values())
    return measurement


def _harness(resolved: Plan, config: RunConfig, renderer: PromptRenderer, measurement: Measurement,
             seconds: dict[str, float], cpu: dict[str, float], rss: dict[str, float],
             timed: Callable[[str, tuple[float, float]], None],
             gc_timer: GCTimer) -> list[TaskSummary]:
    """What run() does between plan() and its return, with a canned backend: open the store,
    render every pending example, write the manifest, score and store, summarize."""
    started = _now()
    store = TimedStore(resolved.run_dir).open(resolved.fingerprint)
    try:
        done = store.records()
        todo = missing(resolved, done)
        timed("store open, manifest, summaries", started)

        started = _now()
        work = prepare(resolved, todo, renderer)
        timed("render", started)

        started = _now()
        manifest = Manifest.new(resolved.fingerprint, resolved.model_path, resolved.provenance)
        session = Session(pending=len(work.items), chat_template_sha256=work.chat_template_sha256, requests=work.requests,
                          backend={"name": "canned (bench/harness_overhead.py)"}, started=datetime.now(timezone.utc).isoformat())
        manifest.sessions.append(session)
        store.write_manifest(manifest)
        timed("store open, manifest, summaries", started)

        # The model: canned completions, made off the clock (and off the GC count).
        gc_timer.paused = True
        backend = CannedBackend([c for p in work.items for c in canned_completions(p)], group_size=measurement.group_size)
        measurement.requests = len(backend.completions)
        gc_timer.paused = False

        started = _now()
        executed = execute(resolved, backend, store, work=work)  # the run loop itself: extract, score, store
        done.update({record.key: record for record in executed.records})
        wall, used = _now()
        seconds["extract + score"] = wall - started[0] - store.append_seconds
        cpu["extract + score"] = used - started[1] - store.append_cpu_seconds
        seconds["store append"], cpu["store append"] = store.append_seconds, store.append_cpu_seconds
        rss["extract + score"] = rss["store append"] = _rss_mib()
        measurement.appends, measurement.fsync_seconds = store.appends, store.fsync_seconds

        started = _now()
        session.finished = datetime.now(timezone.utc).isoformat()
        store.write_manifest(manifest)
    finally:
        store.close()
    summaries = [summarize(task.name, [done[(task.name, e.id)] for e in resolved.examples[task.name]])
                 for task in resolved.tasks]
    timed("store open, manifest, summaries", started)
    return summaries


def _filesystem(path: Path) -> str:
    """The mount type holding ``path`` (fsync cost depends on it: tmpfs makes it free)."""
    best, kind = "", "?"
    try:
        with open("/proc/mounts") as mounts:
            for line in mounts:
                parts = line.split()
                if len(parts) > 2 and str(path.resolve()).startswith(parts[1]) and len(parts[1]) > len(best):
                    best, kind = parts[1], parts[2]
    except OSError:
        pass
    return kind


def report(m: Measurement, data_dir: Path | None) -> str:
    n = max(m.examples, 1)
    lines = [
        (f"harness overhead without a model: {len(m.tasks)} tasks, {m.examples:,} examples, {m.requests:,} requests "
         f"({', '.join(f'{k} {v:,}' for k, v in m.tasks.items())})"),
        f"skipped (data not staged in {data_dir}): {', '.join(m.skipped) or 'none'}",
        (f"store: {m.run_dir} ({_filesystem(m.run_dir.parent)}); {m.group_size} requests per stored group, "
         f"{m.appends:,} fsync'd appends; python {sys.version.split()[0]}, {os.cpu_count()} CPUs"),
        "",
        f"{'stage':<33} {'wall s':>7} {'CPU s':>7} {'us/example':>10} {'peak RSS MiB':>12}  what",
    ]

    def row(stage: str) -> str:
        s = m.seconds[stage]
        return (f"{stage:<33} {s:>7.2f} {m.cpu_seconds[stage]:>7.2f} {s / n * 1e6:>10.0f} "
                f"{m.rss_after.get(stage, 0.0):>12.0f}  {STAGE_NOTES[stage]}")

    lines += [row(s) for s in SETUP_STAGES]
    lines.append("-" * 80)
    lines += [row(s) for s in HARNESS_STAGES]
    lines.append("-" * 80)
    harness, total = m.harness_seconds, m.total_seconds
    verdict = "meets" if harness < GOAL_SECONDS else "misses"
    harness_cpu = sum(m.cpu_seconds[s] for s in HARNESS_STAGES)
    lines.append(f"{'harness work (render..summaries)':<33} {harness:>7.2f} {harness_cpu:>7.2f} {harness / n * 1e6:>10.0f} "
                 f"{'':>12}  {verdict} the {GOAL_SECONDS:.0f} s goal (wall)")
    lines.append(f"{'end to end (all rows)':<33} {total:>7.2f} {sum(m.cpu_seconds.values()):>7.2f} {total / n * 1e6:>10.0f} "
                 f"{m.peak_rss_mib:>12.0f}  {'meets' if total < GOAL_SECONDS else 'misses'} it "
                 "with data and tokenizer load counted")
    lines.append(f"harness work: {m.gc_seconds:.2f} s of it in Python's cyclic garbage collector "
                 f"({m.gc_collections:,} collections)")
    lines.append(f"store append: {m.fsync_seconds:.2f} s of it in os.fsync ({m.appends:,} calls, "
                 f"{m.stored_mib:.1f} MiB of records written)")
    lines.append(f"peak RSS (ru_maxrss) {m.peak_rss_mib:.0f} MiB, of which "
                 f"{m.rss_after['tokenizer load'] - m.rss_after['data load']:.0f} MiB came with the tokenizer load "
                 "(transformers, torch)")
    if m.tracemalloc_peak_mib is not None:
        lines.append(f"tracemalloc peak {m.tracemalloc_peak_mib:.0f} MiB of Python allocations made by measure(); live "
                     f"after data load {m.tracemalloc_data_mib:.0f} MiB, after tokenizer load "
                     f"{m.tracemalloc_setup_mib:.0f} MiB (timings above are slowed by tracing)")
    lines.append(f"records stored {m.records:,}/{m.examples:,}, parsed {m.parsed:,}, correct {m.correct:,} "
                 "(canned answers are the gold: all three should equal the examples)")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=None, help="local mirror (default: $ORCABENCH_DATA_DIR)")
    parser.add_argument("--tasks", default="orca2", help="tasks or suites, comma-separated (default: orca2)")
    parser.add_argument("--model", default=DEFAULT_MODEL, help="whose chat template renders the prompts")
    parser.add_argument("--protocol", default=None, help="as orcabench run --protocol (default: the model's)")
    parser.add_argument("--limit", type=int, default=None, help="first N examples of each task")
    parser.add_argument("--group-size", type=int, default=16,
                        help="requests per stored group, i.e. per fsync'd append (hf: its batch size, 16; "
                             "vLLM: the requests one engine step finishes, often a few)")
    parser.add_argument("--output", type=Path, default=None, help="run directory to keep (default: a temporary one)")
    parser.add_argument("--tracemalloc", action="store_true",
                        help="also report tracemalloc's peak (slows the timed stages: use for memory only)")
    args = parser.parse_args()
    if args.group_size < 1:
        parser.error("--group-size must be positive")
    with tempfile.TemporaryDirectory(prefix="orcabench-harness-") as tmp:
        out = args.output or Path(tmp) / "run"
        if args.output is not None and (out / "records.jsonl").exists():
            parser.error(f"{out} already holds records: the benchmark needs a fresh run directory")
        m = measure(args.data_dir, out, [t for t in args.tasks.split(",") if t], limit=args.limit, model=args.model,
                    protocol=args.protocol, group_size=args.group_size, trace_memory=args.tracemalloc)
        print(report(m, resolve_data_dir(args.data_dir)))
    return 0 if m.records == m.parsed == m.correct == m.summarized == m.examples else 1


if __name__ == "__main__":
    sys.exit(main())
