"""The sequential gate running its own candidate: ``orcabench gate --candidate-model M --sequential``.

The candidate's run is planned like ``orcabench run`` would plan it, on the baseline's tasks,
protocol, data and sampling, and opened as an ordinary :class:`~orcabench.engine.session.RunSession`
(the same session record as ``orcabench run``). The sequence then asks the session for each
chunk's scores on one backend (loaded only when a chunk has something left to compute), so
the records land in the store as they finish: a killed gate, rerun with the same seed, walks
the same chunks over what is stored and goes on where it stopped, and ``orcabench run`` on
the same run directory can complete it later.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orcabench.engine.offline import recorded_data_dir
from orcabench.engine.plan import DEFAULT_SEED, EngineSettings, Operations, Prompting, RunConfig, Sampling, Selection
from orcabench.engine.session import RunSession
from orcabench.events import ChunkDone, RunEvents
from orcabench.gate.sequential import SequenceResult, run_sequence
from orcabench.gate.policy import Policy
from orcabench.gate.verdicts import (
    Comparison,
    checked_pair,
    passages_of,
    required_ids,
    sequential_comparison,
    start_sequence,
)
from orcabench.store.reader import StoredRun, load_run
from orcabench.store.schema import Manifest
from orcabench.types import OrcabenchError


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
    return RunConfig(
        selection=Selection(model=settings.model, tasks=tasks,
                            data_dir=settings.data_dir or recorded_data_dir(baseline.manifest)),
        prompting=Prompting(protocol=fingerprint.protocol),
        sampling=Sampling(max_tokens=settings.max_tokens if settings.max_tokens is not None else sampling.get("max_tokens"),
                          seed=int(sampling.get("seed", DEFAULT_SEED))),
        engine=EngineSettings(backend=settings.backend or fingerprint.backend, args=dict(settings.engine)),
        operations=Operations(output=settings.output, batch_size=settings.batch_size),
    )


def gate_candidate(baseline_dir: Path, settings: CandidateRun, policy: Policy, allow_mismatch: bool = False,
                   events: RunEvents | None = None) -> Comparison:
    """Run the candidate on the baseline's required examples chunk by chunk until every required task is settled.

    ``events`` hears the candidate's run session and a :class:`~orcabench.events.ChunkDone` after each chunk.
    """
    baseline = load_run(baseline_dir)
    missing = [t for t in policy.named_required() if t not in baseline.tasks()]
    if missing:
        raise OrcabenchError(f"required task(s) {', '.join(missing)} not in the baseline "
                             f"(it has {', '.join(baseline.tasks()) or 'none'})")
    tasks = [t for t in baseline.tasks() if policy.for_task(t).required]
    events = events or RunEvents()
    candidate = RunSession.from_config(candidate_config(baseline, tasks, settings), events)
    run = candidate.plan
    planned = StoredRun(run.run_dir, Manifest.new(run.fingerprint, run.model_path, run.provenance), {}, [])
    found = checked_pair(baseline, planned, allow_mismatch)  # before any weights load
    ids = required_ids(baseline, tasks, policy)
    known = set(run.keys())
    absent = [(t, i) for t, task_ids in ids.items() for i in task_ids if (t, i) not in known]
    if absent:
        raise OrcabenchError(f"{len(absent)} baseline example(s) are not in the candidate's data, "
                             f"e.g. {absent[0][0]} {absent[0][1]}; point --data-dir at the data the baseline used")
    order, states, levels = start_sequence(ids, policy, passages_of(baseline, ids))  # a passage's questions together
    candidate.scope = [(t, i) for t, task_ids in ids.items() for i in task_ids]  # what the sequence may ask for

    def source(keys: list[tuple[str, str]]) -> dict[tuple[str, str], tuple[float, float]]:
        # A sequence already stored to its stop computes nothing, so it loads no weights.
        scores = candidate.scores(keys)
        return {key: (baseline.records[key].score, scores[key]) for key in keys}

    def progress(result: SequenceResult) -> None:
        events.emit(ChunkDone(result.chunks, result.pairs_used, result.pairs_available,
                              tuple(t.task for t in result.tasks if t.open),
                              tuple(t.task for t in result.tasks if not t.open and t.verdict is None)))

    with candidate:
        result = run_sequence(order, states, levels, policy.chunk, source, progress)
    return sequential_comparison(baseline, load_run(run.run_dir), policy, result, levels, found)
