"""The ``orcabench`` command: a thin typer layer over :mod:`orcabench.api`.

Any bad input ends as one line on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from typer._click import exceptions as click_exceptions  # typer >= 0.26 vendors click
import yaml
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from orcabench import __version__, api
from orcabench.models import BUILTIN_MODELS, DEFAULT_MODEL
from orcabench.task import all_tasks
from orcabench.types import OrcabenchError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False, rich_markup_mode=None,
                  help="Zero-shot reasoning benchmarks for small models, scored against larger baselines.")
list_app = typer.Typer(no_args_is_help=True, help="List what orcabench knows about.")
app.add_typer(list_app, name="list")
console = Console()
err = Console(stderr=True)


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def _engine_args(pairs: list[str]) -> dict[str, Any]:
    engine: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise OrcabenchError(f"--engine-arg {pair!r}: write KEY=VALUE, e.g. --engine-arg enforce_eager=true")
        engine[key.strip()] = yaml.safe_load(value)
    return engine


@app.command()
def run(
    model: Annotated[str, typer.Option(help="registry name, local HF folder or Hub id")] = DEFAULT_MODEL,
    tasks: Annotated[str, typer.Option(help="comma-separated task names (orcabench list tasks)")] = "gsm8k",
    backend: Annotated[Optional[str], typer.Option(help="vllm or hf; default: the model's")] = None,
    limit: Annotated[Optional[int], typer.Option(help="first N examples of each task")] = None,
    batch_size: Annotated[Optional[int], typer.Option(help="hf: batch size; vllm: max concurrent sequences")] = None,
    data_dir: Annotated[Optional[Path], typer.Option(help="local data mirror (default: $ORCABENCH_DATA_DIR, else the Hub)")] = None,
    output: Annotated[Optional[Path], typer.Option(help="run directory (default: runs/<model>-<backend>-<fingerprint>)")] = None,
    seed: Annotated[int, typer.Option(help="random seed")] = 1234,
    max_tokens: Annotated[Optional[int], typer.Option(help="override each task's max new tokens")] = None,
    dtype: Annotated[Optional[str], typer.Option(help="bfloat16, float16, float32 or auto")] = None,
    max_model_len: Annotated[Optional[int], typer.Option(help="context length for the engine")] = None,
    tensor_parallel_size: Annotated[Optional[int], typer.Option(help="vllm: GPUs per model")] = None,
    gpu_memory_utilization: Annotated[Optional[float], typer.Option(help="vllm: share of GPU memory to use")] = None,
    engine_arg: Annotated[Optional[list[str]], typer.Option(help="extra engine setting KEY=VALUE (repeatable)")] = None,
    strict: Annotated[bool, typer.Option(help="fail on malformed data rows instead of skipping them")] = False,
) -> None:
    """Evaluate a model on tasks; re-running the same command resumes the run."""
    engine = _engine_args(engine_arg or [])
    for key, value in (("dtype", dtype), ("max_model_len", max_model_len), ("tensor_parallel_size", tensor_parallel_size),
                       ("gpu_memory_utilization", gpu_memory_utilization)):
        if value is not None:
            engine[key] = value
    config = api.RunConfig(model=model, tasks=_split(tasks), backend=backend, limit=limit, batch_size=batch_size,
                           data_dir=data_dir, output=output, seed=seed, max_tokens=max_tokens, engine=engine, strict=strict)
    progress = Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
        console=err, transient=False,
    )
    bar: dict[str, Any] = {}

    def advance(finished: int, total: int) -> None:
        if not bar:
            progress.start()
            bar["id"] = progress.add_task("samples", total=total, rate="")
        progress.advance(bar["id"], finished)
        speed = progress.tasks[0].speed
        progress.update(bar["id"], rate=f"{speed:.2f} samples/s" if speed else "")

    try:
        result = api.run(config, on_progress=advance)
    finally:
        if bar:
            progress.stop()
    table = Table(title=f"{model} · {result.run_dir}")
    for column in ("task", "n", "accuracy", "95% CI", "macro avg", "subtasks", "unparsed"):
        table.add_column(column, justify="left" if column == "task" else "right")
    for s in result.summaries:
        macro = "" if s.macro_accuracy is None else f"{100 * s.macro_accuracy:.2f}"
        table.add_row(s.task, str(s.n), f"{100 * s.accuracy:.2f}", f"{100 * s.ci_low:.2f}–{100 * s.ci_high:.2f}",
                      macro, str(len(s.subtasks) or ""), f"{100 * s.unparsed_rate:.1f}%")
    console.print(table)
    console.print(f"{result.model_calls} model call(s) this time; records in {result.run_dir / 'records.jsonl'}")


@list_app.command("tasks")
def list_tasks() -> None:
    """Tasks found in tasks/ and in installed plugins."""
    table = Table()
    for column in ("task", "version", "kind", "data (Hub id)", "description"):
        table.add_column(column)
    for task in sorted(all_tasks(), key=lambda t: t.name):
        table.add_row(task.name, task.version, task.kind, task.data.hub_path, task.description)
    console.print(table)


@list_app.command("models")
def list_models() -> None:
    """Named models in the registry."""
    table = Table()
    for column in ("model", "prompt format", "system message", "backend", "size (B)", "description"):
        table.add_column(column)
    for spec in BUILTIN_MODELS.values():
        table.add_row(spec.name, spec.prompt_format, "template default" if spec.system_message is None else repr(spec.system_message),
                      spec.default_backend, f"{spec.size_params:g}" if spec.size_params else "?", spec.description)
    console.print(table)


@app.command()
def version() -> None:
    """Print the orcabench version."""
    console.print(__version__)


def main(argv: list[str] | None = None) -> int:
    try:
        app(args=argv, prog_name="orcabench", standalone_mode=False)
    except OrcabenchError as error:
        err.print(f"error: {error}", markup=False, highlight=False, soft_wrap=True)
        return 2
    except click_exceptions.NoArgsIsHelpError as error:
        err.print(error.format_message(), markup=False, highlight=False)
        return 2
    except click_exceptions.UsageError as error:
        where = f"orcabench {error.ctx.command_path.split(' ', 1)[1]}" if error.ctx and " " in error.ctx.command_path else "orcabench"
        err.print(f"error: {error.format_message()} (see `{where} --help`)", markup=False, highlight=False, soft_wrap=True)
        return 2
    except (typer.Abort, KeyboardInterrupt):
        err.print("interrupted: finished samples are saved; the same command resumes", markup=False)
        return 130
    except click_exceptions.ClickException as error:
        err.print(f"error: {error.format_message()}", markup=False, highlight=False, soft_wrap=True)
        return 2
    return 0


def entry() -> None:
    sys.exit(main())


if __name__ == "__main__":
    entry()
