"""The Python API behind the CLI: notebooks and CI scripts call these directly.

A run is :func:`plan` (everything resolved, nothing loaded) and a :class:`RunSession` over
it: the run store opened under the plan's fingerprint, the backend loaded when something is
left to do, and the one loop (:mod:`orcabench.engine.execute`). :func:`run` is that, for
orcabench tasks and ``lm-eval:`` tasks alike; callers that need their own order or stopping
rule (the sequential gate) drive a :class:`RunSession` chunk by chunk.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orcabench.engine import preflight
from orcabench.lmeval import bridge as lm_eval_bridge
from orcabench.lmeval.records import import_output as import_lm_eval
from orcabench.events import RunEvents
from orcabench.engine.execute import Executed, Work, execute, missing, prepare
from orcabench.engine.mirror import DataCheck, check_data, download_data
from orcabench.models.registry import BUILTIN_MODELS, DEFAULT_MODEL, ModelSpec, ThinkingFormat, resolve_model
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
    check_engine_settings,
    checked_data_dir,
    load_examples,
    model_location,
    plan,
    prompting,
)
from orcabench.engine.session import RunSession, ask_server, preview
from orcabench.models.prompts import PromptRenderer
from orcabench.engine.offline import RescoreResult, ScoredPredictions, rescore, score_predictions
from orcabench.task.summary import TaskSummary, headline, reasoning_average, summarize
from orcabench.task import REASONING_SUITE, SUITES, Task, all_tasks, get_tasks
from orcabench.types import Example, OrcabenchError

if TYPE_CHECKING:  # imported on call below: gating and reporting pull in scipy, pandas and matplotlib
    from orcabench.campaign.board import BoardRow
    from orcabench.campaign.cells import CellPlan
    from orcabench.campaign.spec import Campaign
    from orcabench.campaign.state import CellState
    from orcabench.gate.policy import Policy
    from orcabench.gate.verdicts import Comparison
    from orcabench.report.audit import TaskAudit
    from orcabench.report.listing import RunRow
    from orcabench.report.tables import Report

__all__ = [
    "DEFAULT_MODEL", "DEFAULT_SEED", "REASONING_SUITE", "DataCheck", "DryRun", "EngineSettings", "Executed", "Operations",
    "Plan", "Prompting", "PromptView", "RescoreResult", "RunConfig", "RunEvents", "RunResult", "RunSession", "Sampling",
    "ScoredPredictions", "Selection", "TaskSummary", "ThinkingFormat", "Work", "audit", "check_data", "check_engine_settings",
    "campaign_board", "campaign_report", "compare", "load_campaign", "plan_campaign", "run_campaign",
    "download_data", "dry_run", "execute", "gate", "gate_markdown", "gate_model", "headline", "import_lm_eval", "is_lm_eval",
    "leaderboard_markdown", "list_models", "list_runs", "list_suites", "list_tasks", "load_policy", "missing", "plan",
    "prepare", "reasoning_average", "report", "rescore", "run", "score_predictions", "serve", "show_prompt",
    "write_gate_reports",
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
    lm_eval = bool(lm_eval_bridge.lm_eval_names(config.selection.tasks))
    if lm_eval and (config.selection.prompt_variants is not None or config.selection.circular):
        raise OrcabenchError("--prompt-variants and --circular apply to orcabench's own tasks; lm-eval:<task> tasks "
                             "render their own prompts")
    return lm_eval


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
    _, estimate, warnings = preview(resolved)
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


# --- what the commands list and read: tasks, models, a warm engine, stored runs, reports, gates, audits ---
# Each imports its module on call: listing, reporting and gating never load an engine (tests/test_startup.py).


def list_tasks() -> list[Task]:
    """Every task (``tasks/`` and installed plugins), by name."""
    return sorted(all_tasks(), key=lambda task: task.name)


def list_suites() -> dict[str, tuple[str, ...]]:
    """Named groups of tasks (``--tasks orca2``) and their members."""
    return dict(SUITES)


def list_models() -> list[ModelSpec]:
    """The named models of the registry."""
    return list(BUILTIN_MODELS.values())


def serve(model: str, port: int, batch_size: int | None, seed: int, engine: dict[str, Any],
          on_ready: Callable[[str, str], None]) -> int:
    """Keep one vLLM engine up as an OpenAI-compatible server on 127.0.0.1 (``port`` 0: any free one) until stopped.

    ``on_ready(model name, url)`` hears when it answers; returns the server's exit code.
    """
    from orcabench.backends import serving
    from orcabench.backends.vllm import engine_options

    spec = resolve_model(model)
    model_path, _ = model_location(spec)
    options = engine_options({**spec.engine, **engine}, seed, batch_size)
    return serving.serve(spec.name, model_path, options, port or serving.free_port(), lambda url: on_ready(spec.name, url))


def list_runs(folder: Path, model: str | None = None, task: str | None = None,
              skipped: list[str] | None = None) -> list[RunRow]:
    """Stored runs at or under ``folder``, newest first, with their status (finished, partial, being written);
    ``skipped`` hears each run directory that could not be read, and why."""
    from orcabench.report.listing import list_runs as listed

    return listed(folder, model, task, skipped)


def audit(run_dir: Path) -> list[TaskAudit]:
    """How a stored run's answers were read, per task."""
    from orcabench.report.audit import audit_run

    return audit_run(run_dir)


def report(runs: Sequence[Path], out: Path, formats: Sequence[str] = ("md",), baseline: str | None = None,
           reference: bool = True, paired_reference: str | None = None) -> tuple[Report, list[Path]]:
    """Tables, charts and the HTML site from runs and reference files into ``out``; the report and the files written.
    ``reference``: add the paper's published rows; ``paired_reference``: the entry or model the paired
    leaderboard (differences with CIs, tie groups) is taken against."""
    from orcabench.report.publish import write_report

    return write_report(runs, out, formats, baseline, reference, paired_reference=paired_reference)


def leaderboard_markdown(made: Report) -> str:
    """The report's leaderboard (entries × tasks, with the averages) as a Markdown table, the paired
    leaderboard after it where the report has a reference, and the variants' spread and ranking stability
    where runs asked tasks several ways."""
    from orcabench.report.tables import leaderboard, to_markdown_table

    return "\n".join([to_markdown_table(leaderboard(made.results)), *made.paired_markdown(), *made.robustness_markdown()])


def load_policy(path: Path | None) -> Policy:
    """A gate policy file, validated (None: the defaults)."""
    from orcabench.gate.policy import load_policy as loaded

    return loaded(path)


def compare(baseline: Path, candidate: Path, allow_mismatch: bool = False) -> Comparison:
    """Two stored runs' paired statistics per task, without a verdict."""
    from orcabench.gate.verdicts import compare_runs

    return compare_runs(baseline, candidate, allow_mismatch=allow_mismatch, gating=False)


def gate(baseline: Path, candidate: Path, policy: Policy | None = None, allow_mismatch: bool = False,
         sequential: bool = False) -> Comparison:
    """A stored candidate run against a stored baseline run: the fixed-n verdicts, or with ``sequential`` the
    anytime-valid gate replayed on the two runs (where it would have stopped, and with what verdict)."""
    from orcabench.gate import policy as policies, verdicts

    policy = policy or policies.Policy()
    if sequential:
        return verdicts.replay(baseline, candidate, policy, allow_mismatch)
    return verdicts.compare_runs(baseline, candidate, policy, allow_mismatch, gating=True)


def gate_model(baseline: Path, model: str, policy: Policy | None = None, allow_mismatch: bool = False, *,
               output: Path | None = None, backend: str | None = None, batch_size: int | None = None,
               max_tokens: int | None = None, data_dir: Path | None = None, engine: dict[str, Any] | None = None,
               events: RunEvents | None = None) -> Comparison:
    """The sequential gate running ``model`` as the candidate on the baseline's examples, chunk by chunk, until every
    required task is settled; unset settings follow the baseline's run."""
    from orcabench.gate.candidate import CandidateRun, gate_candidate
    from orcabench.gate.policy import Policy

    settings = CandidateRun(model=model, output=output, backend=backend, batch_size=batch_size, max_tokens=max_tokens,
                            data_dir=data_dir, engine=dict(engine or {}))
    return gate_candidate(baseline, settings, policy or Policy(), allow_mismatch, events=events)


def gate_markdown(comparison: Comparison) -> str:
    """A comparison as the gate's Markdown (a verdict only where it gated)."""
    from orcabench.gate.outputs import to_markdown

    return to_markdown(comparison)


def write_gate_reports(comparison: Comparison, out: Path) -> dict[str, Path]:
    """``gate.md``, ``gate.json`` and ``gate.junit.xml`` in ``out``."""
    from orcabench.gate.outputs import write_reports

    return write_reports(comparison, out)


# -- campaigns: many runs (model × variant cells) at once on Ray; docs/campaigns.md --------------


def load_campaign(path: Path, output: Path | None = None) -> Campaign:
    """A campaign file read strictly (one-line errors, nothing created); ``output`` overrides its folder."""
    from orcabench.campaign.spec import load_campaign as loaded

    return loaded(path, output)


def plan_campaign(campaign: Campaign, estimated: bool = False) -> list[CellPlan]:
    """Each cell's plan, as ``orcabench run`` plans the same flags; ``estimated``: what each still sends, counted."""
    from orcabench.campaign.cells import plan_cells

    return plan_cells(campaign, estimated)


def run_campaign(campaign: Campaign, cells: list[CellPlan], listener: Callable[[Any], None] | None = None,
                 ray_address: str | None = None) -> dict[str, CellState]:
    """Run (or resume) every cell at once on Ray (``ray_address``; None: $RAY_ADDRESS, else a local instance);
    each cell's final state (done, or failed with the reason)."""
    from orcabench.campaign.runner import CampaignRun

    return CampaignRun(campaign, cells, listener, ray_address).run()


def campaign_board(campaign: Campaign, cells: list[CellPlan]) -> list[BoardRow]:
    """The table filling in, from the run stores: one row per cell, done/planned or the score per task."""
    from orcabench.campaign.board import board

    return board(campaign, cells)


def campaign_report(campaign: Campaign, cells: list[CellPlan], out: Path,
                    formats: Sequence[str] = ("md", "html")) -> tuple[Report, list[Path]]:
    """The report and site over every stored cell (one row per model × variant), with each cell's paired difference
    from the reference model's cell and its CI."""
    from orcabench.campaign.report import campaign_report as made

    return made(campaign, cells, out, formats)
