"""The sequential gate running its own candidate: ``orcabench gate --candidate-model M --sequential``.

The candidate's run is planned like ``orcabench run`` would plan it, on the baseline's tasks,
protocol, data and sampling, and opened as an ordinary run directory. The sequence then asks
:func:`orcabench.engine.execute.execute` for each chunk's pairs on one backend (loaded only when a chunk
has something left to compute), so the records land in the store as they finish: a killed
gate, rerun with the same seed, walks the same chunks over what is stored and goes on where
it stopped, and ``orcabench run`` on the same run directory can complete it later.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orcabench.backends.registry import load_backend
from orcabench.engine.execute import execute
from orcabench.gate.verdicts import Comparison, Policy, checked_pair, required_ids, sequential_comparison, start_sequence
from orcabench.engine.plan import RunConfig, plan
from orcabench.store.reader import StoredRun, load_run
from orcabench.store.schema import Manifest, Session
from orcabench.engine.offline import recorded_data_dir
from orcabench.gate.sequential import SequenceResult, run_sequence
from orcabench.store.writer import run_session
from orcabench.types import OrcabenchError, Record


@dataclass(frozen=True)
class CandidateRun:
    """How to run the candidate; unset settings follow the baseline's run."""

    model: str
    output: Path | None = None
    backend: str | None = None
    batch_size: int | None = None
    max_tokens: int | None = None
    data_dir: Path | None = None
    engine: dict[str, Any] = field(default_factory=dict)


def candidate_config(baseline: StoredRun, tasks: list[str], settings: CandidateRun) -> RunConfig:
    fingerprint = baseline.fingerprint
    sampling = fingerprint.sampling  # the baseline's seed and generation budget: the candidate answers alike
    return RunConfig(model=settings.model, tasks=tasks, protocol=fingerprint.protocol,
                     backend=settings.backend or fingerprint.backend, batch_size=settings.batch_size,
                     data_dir=settings.data_dir or recorded_data_dir(baseline.manifest), output=settings.output,
                     seed=int(sampling.get("seed", 1234)),
                     max_tokens=settings.max_tokens if settings.max_tokens is not None else sampling.get("max_tokens"),
                     engine=dict(settings.engine))


def gate_candidate(baseline_dir: Path, settings: CandidateRun, policy: Policy, allow_mismatch: bool = False,
                   on_chunk: Callable[[str], None] | None = None) -> Comparison:
    """Run the candidate on the baseline's required examples chunk by chunk until every required task is settled."""
    baseline = load_run(baseline_dir)
    missing = [t for t in policy.named_required() if t not in baseline.tasks()]
    if missing:
        raise OrcabenchError(f"required task(s) {', '.join(missing)} not in the baseline "
                             f"(it has {', '.join(baseline.tasks()) or 'none'})")
    tasks = [t for t in baseline.tasks() if policy.for_task(t).required]
    run = plan(candidate_config(baseline, tasks, settings))
    planned = StoredRun(run.run_dir, Manifest.new(run.fingerprint, run.model_path, run.provenance), {}, [])
    found = checked_pair(baseline, planned, allow_mismatch)  # before any weights load
    ids = required_ids(baseline, tasks, policy)
    known = set(run.keys())
    absent = [(t, i) for t, task_ids in ids.items() for i in task_ids if (t, i) not in known]
    if absent:
        raise OrcabenchError(f"{len(absent)} baseline example(s) are not in the candidate's data, "
                             f"e.g. {absent[0][0]} {absent[0][1]}; point --data-dir at the data the baseline used")
    order, states, levels = start_sequence(ids, policy)
    session = Session(batch_size=settings.batch_size)
    with run_session(run.run_dir, run.fingerprint, run.model_path, run.provenance, session) as (store, manifest, _):
        done: dict[tuple[str, str], Record] = store.records()
        held: dict[str, Any] = {}

        def source(keys: list[tuple[str, str]]) -> dict[tuple[str, str], tuple[float, float]]:
            if any(key not in done for key in keys):
                if "backend" not in held:  # a sequence already stored to its stop loads no weights
                    held["backend"] = load_backend(run.backend, run.model_path, run.engine, seed=run.config.seed,
                                                   batch_size=settings.batch_size, cache_dir=run.run_dir)
                    session.backend = held["backend"].info().to_json()
                    store.write_manifest(manifest)
                executed = execute(run, held["backend"], store, keys=keys)
                done.update({record.key: record for record in executed.records})
                session.requests = (session.requests or 0) + executed.requests
            return {key: (baseline.records[key].score, done[key].score) for key in keys}

        def progress(result: SequenceResult) -> None:
            if on_chunk:
                open_tasks = [t.task for t in result.tasks if t.open]
                on_chunk(f"chunk {result.chunks}: {result.pairs_used:,} of {result.pairs_available:,} pairs; "
                         f"{'still open: ' + ', '.join(open_tasks) if open_tasks else 'every required task settled'}")

        try:
            result = run_sequence(order, states, levels, policy.chunk, source, progress)
        finally:
            if "backend" in held:
                held["backend"].close()
    return sequential_comparison(baseline, load_run(run.run_dir), policy, result, levels, found)
