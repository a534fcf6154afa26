"""The ``orcabench`` typer app and what its commands share: flag parsing and the summary table.

Commands live in :mod:`orcabench.cli.run` (running and scoring) and :mod:`orcabench.cli.results`
(reading results: reports, gates, run lists, data mirrors, listings).
"""

from __future__ import annotations

import statistics
import sys
from typing import Any

import typer
import yaml
from rich.console import Console
from rich.table import Table

from orcabench import api
from orcabench.types import VARIANT_SEPARATOR, OrcabenchError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False, rich_markup_mode=None,
                  help="Zero-shot reasoning benchmarks for small models, scored against larger baselines.")
list_app = typer.Typer(no_args_is_help=True, help="List what orcabench knows about.")
app.add_typer(list_app, name="list")
data_app = typer.Typer(no_args_is_help=True, help="Local data mirrors.")
app.add_typer(data_app, name="data")
import_app = typer.Typer(no_args_is_help=True, help="Bring other harnesses' results in as orcabench runs.")
app.add_typer(import_app, name="import")
# Logs and CI job output are no terminal: give tables room instead of rich's 80 columns.
console = Console(width=None if sys.stdout.isatty() else 200)
THINKING_HELP = "reasoning models: enable_thinking for the chat template (default: the model's)"


def split_names(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def engine_args(pairs: list[str]) -> dict[str, Any]:
    engine: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise OrcabenchError(f"--engine-arg {pair!r}: write KEY=VALUE, e.g. --engine-arg enforce_eager=true")
        engine[key.strip()] = yaml.safe_load(value)
    return engine


def engine_settings(pairs: list[str] | None, dtype: str | None, max_model_len: int | None, tensor_parallel_size: int | None,
                    gpu_memory_utilization: float | None) -> dict[str, Any]:
    """The engine flags over the --engine-arg pairs, checked by the same rule a run's are (api.check_engine_settings)."""
    settings = api.EngineSettings(dtype=dtype, max_model_len=max_model_len, tensor_parallel_size=tensor_parallel_size,
                                  gpu_memory_utilization=gpu_memory_utilization, args=engine_args(pairs or []))
    api.check_engine_settings(settings)
    return settings.overrides()


def show_run_result(result: api.RunResult, model: str) -> None:
    print_summaries(result.summaries, title=f"{model} · {result.run_dir}")
    console.print(f"{result.model_calls} model call(s) this time; records in {result.run_dir / 'records.jsonl'}")


def print_summaries(summaries: list[api.TaskSummary], title: str) -> None:
    table = Table(title=title)
    # Reasoning runs also show how many unparsed samples had a trace and no final answer.
    reasoning = any(s.traces or s.no_final_answer for s in summaries)
    columns = ("task", "n", "accuracy", "95% CI", "macro avg", "subtasks", "unparsed",
               *(("no final answer",) if reasoning else ()), "format OK")
    for column in columns:
        table.add_column(column, justify="left" if column == "task" else "right")
    for s in summaries:
        macro = "" if s.macro_accuracy is None else f"{100 * s.macro_accuracy:.2f}"
        no_final = (f"{s.no_final_answer} ({100 * s.no_final_answer_rate:.1f}%)",) if reasoning else ()
        clustered = " (clustered)" if s.clusters is not None else ""  # questions sharing a passage: a cluster-robust CI
        table.add_row(s.task, str(s.n), f"{100 * s.accuracy:.2f}", f"{100 * s.ci_low:.2f}–{100 * s.ci_high:.2f}{clustered}",
                      macro, str(len(s.subtasks) or ""), f"{100 * s.unparsed_rate:.1f}%", *no_final,
                      f"{100 * (1 - s.unparsed_rate):.1f}%")
    console.print(table)
    for line in variant_lines(summaries):
        console.print(line)
    if any(s.task in api.REASONING_SUITE for s in summaries):
        average, missing = api.reasoning_average({s.task: api.headline(s) for s in summaries})
        console.print(f"Orca 2 reasoning average (6 benchmarks): {100 * average:.2f}" if average is not None
                      else f"Orca 2 reasoning average: not computed, missing {', '.join(missing)}")


def variant_lines(summaries: list[api.TaskSummary]) -> list[str]:
    """One line per task run under several variants (``task@variant`` rows): the spread of its headline across them."""
    by_task: dict[str, list[float]] = {}
    for s in summaries:
        task, separator, _ = s.task.partition(VARIANT_SEPARATOR)
        if separator:
            by_task.setdefault(task, []).append(100 * api.headline(s))
    lines = []
    for task, values in by_task.items():
        sd = f" · sd {statistics.stdev(values):.2f}" if len(values) > 1 else ""
        lines.append(f"{task}: {len(values)} variants · mean {statistics.fmean(values):.2f} · min–max "
                     f"{min(values):.2f}–{max(values):.2f}{sd} (orcabench report RUN_DIR: the question/variant variance "
                     "split, circular accuracy, position bias)")
    return lines


def reasoning_line(reasoning: api.ThinkingFormat) -> str:
    switch = {None: "the template's default", True: "on", False: "off"}[reasoning.enable_thinking]
    return (f"# reasoning model: trace between {reasoning.start} and {reasoning.end} (never read for the answer); "
            f"enable_thinking: {switch}")
