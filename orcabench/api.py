"""The Python API behind the CLI: notebooks and CI scripts call these directly.

A run is :func:`plan` (everything resolved, nothing loaded) and a :class:`RunSession` over
it: the run store opened under the plan's fingerprint, the backend loaded when something is
left to do, and the one loop (:mod:`orcabench.engine.execute`). :func:`run` is that, for
orcabench tasks and ``lm-eval:`` tasks alike; callers that need their own order or stopping
rule (the sequential gate) drive a :class:`RunSession` chunk by chunk.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orcabench.engine import preflight
from orcabench.lmeval import bridge as lm_eval_bridge
from orcabench.lmeval.records import import_output as import_lm_eval
from orcabench.events import RunEvents
from orcabench.engine.execute import Executed, Work, execute, missing, prepare
from orcabench.engine.mirror import DataCheck, check_data, download_data
from orcabench.models.registry import DEFAULT_MODEL, ThinkingFormat
from orcabench.engine.plan import (
    DEFAULT_SEED,
    EngineSettings,
    Operations,
    Plan,
    Prompting,
    RunConfig,
    RunResult,
    Sampling,
    Selection,
    checked_data_dir,
    load_examples,
    model_location,
    plan,
    prompting,
)
from orcabench.engine.session import RunSession, ask_server
from orcabench.models.prompts import PromptRenderer
from orcabench.engine.offline import RescoreResult, ScoredPredictions, rescore, score_predictions
from orcabench.store.writer import RECORDS, read_records
from orcabench.task.summary import summarize
from orcabench.task import get_tasks
from orcabench.types import Example, OrcabenchError

__all__ = [
    "DEFAULT_SEED", "DataCheck", "DryRun", "EngineSettings", "Executed", "Operations", "Plan", "Prompting", "PromptView",
    "RescoreResult", "RunConfig", "RunEvents", "RunResult", "RunSession", "Sampling", "ScoredPredictions", "Selection", "Work",
    "check_data", "download_data", "dry_run", "execute", "import_lm_eval", "is_lm_eval", "missing", "plan", "prepare",
    "rescore", "run", "score_predictions", "show_prompt",
]


def run(config: RunConfig, events: RunEvents | None = None) -> RunResult:
    """Run (or resume) an evaluation; a finished run makes zero model calls and loads nothing.

    ``events`` hears what the console shows (:mod:`orcabench.events`): the estimate, warnings, each stored group.
    """
    if is_lm_eval(config):
        if config.operations.replicas:
            raise OrcabenchError("--replicas applies to orcabench's own tasks; lm-eval:<task> tasks run in one process")
        return lm_eval_bridge.run(config)
    started = time.time()
    with RunSession.from_config(config, events) as run_session:
        run_session.execute()
    resolved, done = run_session.plan, run_session.records
    summaries = [summarize(task.name, [done[(task.name, e.id)] for e in resolved.examples[task.name]]) for task in resolved.tasks]
    return RunResult(run_dir=resolved.run_dir, summaries=summaries, model_calls=run_session.session.requests or 0,
                     seconds=time.time() - started)


def is_lm_eval(config: RunConfig) -> bool:
    """Whether the run's tasks are lm-eval tasks (``lm-eval:<task>``); a run never mixes the two."""
    return bool(lm_eval_bridge.lm_eval_names(config.selection.tasks))


@dataclass(frozen=True)
class DryRun:
    description: dict[str, Any]  # run directory, model path, examples per task, the fingerprint
    first_prompt: tuple[str, Example, str] | None  # (task, example, prompt); lm-eval renders its own
    estimate: preflight.Estimate | None = None  # what a real run would still send (lm-eval: None)
    warnings: list[str] = field(default_factory=list)


def dry_run(config: RunConfig) -> DryRun:
    """What ``--dry-run`` prints, with no weights loaded (a ``--server`` is asked what it runs: the fingerprint names it)."""
    if is_lm_eval(config):
        return DryRun(lm_eval_bridge.describe(config), None)
    resolved = ask_server(plan(config))
    description = {"run_dir": str(resolved.run_dir), "model_path": resolved.model_path,
                   "examples": {t: len(e) for t, e in resolved.examples.items()}, **resolved.fingerprint.to_json()}
    if not any(resolved.examples.values()):
        return DryRun(description, None)
    example, prompt = resolved.first_prompt()
    task_name = next(t.name for t in resolved.tasks if resolved.examples[t.name])
    renderer = PromptRenderer(resolved.spec, resolved.model_path)
    done = read_records(resolved.run_dir / RECORDS)[0]  # an existing run is read, never locked
    work = prepare(resolved, missing(resolved, done), renderer)
    estimate, warnings = preflight.check(resolved, [r for p in work.items for r in p.requests], renderer)
    return DryRun(description, (task_name, example, prompt), estimate, warnings)


@dataclass(frozen=True)
class PromptView:
    example: Example
    prompt: str
    add_special_tokens: bool
    continuations: list[str]
    reasoning: ThinkingFormat | None = None  # the model's trace markers and thinking switch, as rendered


def show_prompt(task_name: str, model: str = DEFAULT_MODEL, index: int = 0, data_dir: Path | None = None,
                protocol: str | None = None, system_message: str | None = None, thinking: bool | None = None) -> PromptView:
    """Exactly what the model receives for one example, after chat template, system message and thinking switch (as
    :func:`run` renders it)."""
    spec, resolved_protocol = prompting(model, protocol, system_message, thinking)
    (task,) = get_tasks([task_name])
    resolved_protocol.check([task])
    examples, _ = load_examples(task, checked_data_dir(data_dir))
    if not 0 <= index < len(examples):
        raise OrcabenchError(f"--index {index} is out of range: task {task.name} has examples 0..{len(examples) - 1}")
    renderer = PromptRenderer(spec, model_location(spec)[0])
    example = examples[index]
    prompt, add_special = renderer.render(renderer.messages(task.render(example)))
    return PromptView(example, prompt, add_special, task.continuations(example), spec.reasoning)
