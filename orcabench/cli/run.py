"""The ``orcabench`` command: a thin typer layer over :mod:`orcabench.api`.

Any bad input ends as one line on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table
from typer.exceptions import TyperException

from orcabench import api
import orcabench.cli.failures as failures
from orcabench.cli.app import (
    THINKING_HELP,
    app,
    console,
    engine_args,
    engine_settings,
    import_app,
    print_summaries,
    reasoning_line,
    show_run_result,
    split_names,
)
from orcabench.console import RunDisplay, say, show_orcabench_log, verbose_from_env, warn
from orcabench.types import OrcabenchError


@app.command()
def run(
    model: Annotated[str, typer.Option(help="registry name, local HF folder or Hub id")] = api.DEFAULT_MODEL,
    tasks: Annotated[str, typer.Option(help="comma-separated task names (orcabench list tasks)")] = "gsm8k",
    backend: Annotated[Optional[str], typer.Option(help="vllm, hf or openai; default: the model's")] = None,
    limit: Annotated[Optional[int], typer.Option(help="first N examples of each task")] = None,
    limit_per_subtask: Annotated[Optional[int],
                                 typer.Option(help="first N examples of each subtask (BBH, MMLU, ...), before --limit")] = None,
    batch_size: Annotated[Optional[int], typer.Option(help="hf: batch size; vllm: max concurrent sequences")] = None,
    data_dir: Annotated[Optional[Path],
                        typer.Option(help="local data mirror (default: $ORCABENCH_DATA_DIR, else the Hub)")] = None,
    output: Annotated[Optional[Path], typer.Option(help="run directory (default: runs/<model>-<backend>-<fingerprint>)")] = None,
    seed: Annotated[int, typer.Option(help="random seed")] = api.DEFAULT_SEED,
    max_tokens: Annotated[Optional[int], typer.Option(help="override each task's max new tokens")] = None,
    dtype: Annotated[Optional[str], typer.Option(help="bfloat16, float16, float32 or auto")] = None,
    max_model_len: Annotated[Optional[int], typer.Option(help="context length for the engine")] = None,
    tensor_parallel_size: Annotated[Optional[int], typer.Option(help="vllm: GPUs per model")] = None,
    gpu_memory_utilization: Annotated[Optional[float], typer.Option(help="vllm: share of GPU memory to use")] = None,
    engine_arg: Annotated[Optional[list[str]], typer.Option(help="extra engine setting KEY=VALUE (repeatable)")] = None,
    strict: Annotated[bool, typer.Option(help="fail on malformed data rows instead of skipping them")] = False,
    replicas: Annotated[Optional[int], typer.Option(help="N engine replicas as Ray actors (docs/scale-out.md)")] = None,
    ray_address: Annotated[Optional[str], typer.Option(help="Ray cluster for --replicas (default: RAY_ADDRESS or local)")] = None,
    replica_cpus: Annotated[Optional[int], typer.Option(help="CPU-only Ray: cores per replica (default: a node's share)")]
    = None,
    protocol: Annotated[Optional[str],
                        typer.Option(help="default or orca2 (the paper's protocol; default for Orca 2 models)")] = None,
    system_message: Annotated[Optional[str], typer.Option(help="empty, cautious, none, default, or the text itself")] = None,
    dry_run: Annotated[bool, typer.Option(help="print the resolved configuration and the first prompt; load no weights")] = False,
    lm_eval_include: Annotated[Optional[list[Path]], typer.Option(help="folder of lm-eval task YAMLs for lm-eval: tasks "
                                                                       "(repeatable; also $ORCABENCH_LM_EVAL_INCLUDE)")] = None,
    thinking: Annotated[bool | None, typer.Option("--thinking/--no-thinking", help=THINKING_HELP)] = None,
    server: Annotated[Optional[str], typer.Option(help="URL an `orcabench serve` printed: answer with its warm engine")] = None,
    verbose: Annotated[bool, typer.Option(help="show engine logs (else in RUN_DIR/engine.log; $ORCABENCH_VERBOSE=1)")] = False,
    extract: Annotated[str, typer.Option(help="rules, or two-stage: ask the model once more where the rules read weakly "
                                              "or not at all (zero-shot-CoT answer extraction)")] = "rules",
    prompt_variants: Annotated[Optional[str], typer.Option(help="all, or N: each task also under its paraphrased "
                                                                "instructions (the first N templates), as variants")] = None,
    circular: Annotated[bool, typer.Option(help="multiple choice: each question once per rotation of its options "
                                                "(CircularEval)")] = False,
) -> None:
    """Evaluate a model on tasks (lm-eval:<task>: an lm-evaluation-harness task); the same command again resumes the run."""
    config = api.RunConfig(
        selection=api.Selection(model=model, tasks=split_names(tasks), limit=limit, limit_per_subtask=limit_per_subtask,
                                data_dir=data_dir, strict=strict, lm_eval_include=lm_eval_include or [],
                                prompt_variants=prompt_variants, circular=circular),
        prompting=api.Prompting(protocol=protocol, system_message=system_message, thinking=thinking),
        sampling=api.Sampling(max_tokens=max_tokens, seed=seed, extract=extract),
        engine=api.EngineSettings(backend=backend, dtype=dtype, max_model_len=max_model_len,
                                  tensor_parallel_size=tensor_parallel_size, gpu_memory_utilization=gpu_memory_utilization,
                                  args=engine_args(engine_arg or [])),
        operations=api.Operations(output=output, batch_size=batch_size, server=server, replicas=replicas,
                                  ray_address=ray_address, replica_cpus=replica_cpus),
    )
    if dry_run:
        shown = api.dry_run(config)
        console.print_json(json.dumps(shown.description))
        if shown.first_prompt is not None:
            task_name, example, prompt = shown.first_prompt
            say(f"# first prompt: task {task_name}, example {example.id}, gold {example.gold}")
            if shown.description.get("model", {}).get("reasoning"):
                say(reasoning_line(api.ThinkingFormat(**shown.description["model"]["reasoning"])))
            sys.stdout.write(prompt + "\n")
        if shown.estimate is not None:
            say(shown.estimate.line())
        for warning in shown.warnings:
            warn(warning)
        return
    if api.is_lm_eval(config):  # lm-eval shows its own progress bars
        show_run_result(api.run(config), model)
        return
    with RunDisplay(verbose=verbose or verbose_from_env()) as display:
        result = api.run(config, events=api.RunEvents(display))
    show_run_result(result, model)


@app.command()
def serve(
    model: Annotated[str, typer.Option(help="registry name, local HF folder or Hub id")] = api.DEFAULT_MODEL,
    port: Annotated[int, typer.Option(help="port on 127.0.0.1 (0: any free one)")] = 8000,
    batch_size: Annotated[Optional[int], typer.Option(help="max concurrent sequences")] = None,
    seed: Annotated[int, typer.Option(help="random seed")] = api.DEFAULT_SEED,
    dtype: Annotated[Optional[str], typer.Option(help="bfloat16, float16, float32 or auto")] = None,
    max_model_len: Annotated[Optional[int], typer.Option(help="context length for the engine")] = None,
    tensor_parallel_size: Annotated[Optional[int], typer.Option(help="GPUs per model")] = None,
    gpu_memory_utilization: Annotated[Optional[float], typer.Option(help="share of GPU memory to use")] = None,
    engine_arg: Annotated[Optional[list[str]], typer.Option(help="extra engine setting KEY=VALUE (repeatable)")] = None,
) -> None:
    """Keep one vLLM engine up (an OpenAI-compatible server) for `orcabench run --server URL`; Ctrl-C stops it."""
    engine = engine_settings(engine_arg, dtype, max_model_len, tensor_parallel_size, gpu_memory_utilization)

    def ready(name: str, url: str) -> None:
        say(f"orcabench serve: {name} ready at {url} (Ctrl-C stops it)")
        sys.stdout.write(url + "\n")
        sys.stdout.flush()

    try:
        code = api.serve(model, port, batch_size, seed, engine, ready)
    except KeyboardInterrupt:
        say("orcabench serve: stopped")
        code = 0
    raise typer.Exit(code)


@import_app.command("lm-eval")
def import_lm_eval(
    results: Annotated[Path, typer.Argument(help="lm-eval's --output_path folder, or one results_*.json in it "
                                                 "(run with --log_samples)")],
    output: Annotated[Optional[Path], typer.Option(help="run directory (default: runs/<model>-<backend>-<fingerprint>)")] = None,
) -> None:
    """Convert lm-evaluation-harness output (results JSON + per-sample JSONL) into an orcabench run."""
    imported = api.import_lm_eval(results, output)
    print_summaries(imported.summaries, title=f"imported {results} · {imported.run_dir}")
    console.print(f"{imported.added} record(s) added to {imported.run_dir / 'records.jsonl'}")


@app.command("show-prompt")
def show_prompt(
    task: Annotated[str, typer.Option(help="task name")],
    model: Annotated[str, typer.Option(help="registry name, local HF folder or Hub id")] = api.DEFAULT_MODEL,
    index: Annotated[int, typer.Option(help="example position in the dataset")] = 0,
    data_dir: Annotated[Optional[Path], typer.Option(help="local data mirror")] = None,
    protocol: Annotated[str | None, typer.Option(help="default or orca2, as for run")] = None,
    system_message: Annotated[str | None, typer.Option(help="empty, cautious, none, default or the text, as for run")] = None,
    thinking: Annotated[bool | None, typer.Option("--thinking/--no-thinking", help=THINKING_HELP)] = None,
) -> None:
    """Print exactly what the model receives for one example (the prompt `run` sends with the same flags), and its gold answer."""
    view = api.show_prompt(task, model, index, data_dir, protocol=protocol, system_message=system_message, thinking=thinking)
    say(f"# task {task} · example {view.example.id} · model {model} · tokenizer adds BOS: {view.add_special_tokens}")
    if view.reasoning:
        say(reasoning_line(view.reasoning))
    sys.stdout.write(view.prompt)
    sys.stdout.write("\n")
    for continuation in view.continuations:
        say(f"# continuation scored: {continuation!r}")
    say(f"# gold: {view.example.gold}")


@app.command()
def score(
    task: Annotated[str, typer.Option(help="task whose extractor and gold answers to use")],
    predictions: Annotated[Path, typer.Option(help="JSONL: one {\"id\": ..., \"output\": ...} per line "
                                                   "(optional: reasoning_content, finish_reason, prompt)")],
    data_dir: Annotated[Optional[Path], typer.Option(help="local data mirror")] = None,
    output: Annotated[Optional[Path], typer.Option(help="write the scored records here (JSONL)")] = None,
    strict: Annotated[bool, typer.Option(help="stop at the first malformed line")] = False,
    model: Annotated[str | None, typer.Option(help="a model whose reasoning markers to use (default: <think>, </think>)")] = None,
) -> None:
    """Score model outputs produced elsewhere (API batch jobs) with orcabench's extractors (final answers, never think traces)."""
    scored = api.score_predictions(task, predictions, data_dir, strict=strict, model=model, output=output)
    for problem in scored.problems:
        say(f"skipped {problem}")
    if scored.other_tasks:
        counts = ", ".join(f"{name}: {count}" for name, count in sorted(scored.other_tasks.items()))
        say(f"skipped {sum(scored.other_tasks.values())} line(s) of other tasks ({counts})")
    if scored.without_prediction:
        say(f"{scored.without_prediction} of {scored.examples} {task} example(s) had no prediction (not in the summary)")
    print_summaries([scored.summary], title=f"{task} · {predictions} · {len(scored.problems)} line(s) skipped")


@app.command()
def rescore(
    run_dir: Annotated[Path, typer.Argument(help="a run directory")],
    data_dir: Annotated[Optional[Path], typer.Option(help="local data mirror (default: the one the run used)")] = None,
) -> None:
    """Score a stored run again with the current extractors, without the model."""
    result = api.rescore(run_dir, data_dir)
    print_summaries(result.summaries, title=f"rescored {run_dir}")
    console.print(f"{result.changed} record(s) changed; the previous records are in {result.backup}")


@app.command()
def audit(
    run_dir: Annotated[Path, typer.Argument(help="a run directory")],
    samples: Annotated[int, typer.Option(help="outputs read by the weakest rules to show per task, for spot checks")] = 5,
) -> None:
    """How a run's answers were read: share per extraction rule and per reading layer, loops and cut-offs, weak readings,
    strict-vs-flexible agreement."""
    for task in api.audit(run_dir):
        if not task.extracted:
            console.print(f"{task.task}: {task.n} sample(s) scored by loglikelihood; no text extracted")
            continue
        table = Table(title=f"{task.task} · {task.n} sample(s)", title_justify="left")
        for column in ("rule", "samples", "share"):
            table.add_column(column, justify="left" if column == "rule" else "right")
        for rule, count in task.rules.items():
            table.add_row(rule, str(count), f"{100 * count / task.n:.1f}%")
        console.print(table)
        layers = ", ".join(f"{name} {100 * count / task.n:.1f}%" for name, count in task.layers.items())
        console.print(f"by layer: {layers}", markup=False, highlight=False)
        console.print(f"looped: {task.looped}, cut off: {task.truncated}, "
                      f"invented next turn cut: {task.invented_turns} of {task.n}", markup=False, highlight=False)
        agreement = "n/a (nothing parsed)" if task.agreement is None else f"{100 * task.agreement:.1f}%"
        console.print(f"strict-vs-flexible agreement: {agreement} ({task.strict_found} of {task.found} answers found by the "
                      "rules that read an answer marked as such alone: structured, boxed, final-answer phrase, "
                      "letter phrasing); "
                      f"accuracy strict {task.strict_correct}/{task.n}, flexible {task.correct}/{task.n}",
                      markup=False, highlight=False)
        stages = task.stages
        if stages.asked:
            rate = "n/a" if stages.disagreement is None else f"{100 * stages.disagreement:.1f}%"
            console.print(f"two-stage: {stages.asked} second-stage request(s), {stages.decided} answer(s) decided by the "
                          f"second stage; the stages disagree on {stages.disagree} of {stages.both_read} output(s) both "
                          f"read ({rate})", markup=False, highlight=False)
        for record in task.weak[:samples]:
            tail = " ".join(record.output.split())[-160:]
            console.print(f"  {record.id} · {record.method} → {record.answer!r} (gold {record.gold!r}): …{tail}",
                          markup=False, highlight=False, soft_wrap=True)
        if len(task.weak) > samples:
            console.print(f"  … and {len(task.weak) - samples} more read by the weakest rules")


# After this module's commands, so `orcabench --help` lists run, serve and the scoring commands first.
import orcabench.cli.results  # noqa: E402, F401  (registers the results commands on the app)


def main(argv: list[str] | None = None) -> int:
    """Run one command; the exit code follows the contract in :mod:`orcabench.cli.failures` (README, "Exit codes")."""
    argv = sys.argv[1:] if argv is None else argv
    show_orcabench_log()
    try:
        code = app(args=argv, prog_name="orcabench", standalone_mode=False)
    except OrcabenchError as error:
        say(f"error: {error}")
        return failures.BAD_INPUT
    except (typer.Abort, KeyboardInterrupt):
        say(failures.interrupted_line(argv))
        return failures.INTERRUPTED
    except TyperException as error:  # click's usage errors, as typer (which vendors click) raises them
        message = error.format_message() if hasattr(error, "format_message") else str(error)
        context = getattr(error, "ctx", None)
        if type(error).__name__ == "NoArgsIsHelpError":
            say(message)
        elif context is not None:
            path = context.command_path
            where = f"orcabench {path.split(' ', 1)[1]}" if " " in path else "orcabench"
            say(f"error: {message} (see `{where} --help`)")
        else:
            say(f"error: {message}")
        return failures.BAD_INPUT
    except OSError as error:
        if error.filename is None:  # not about a path the user gave: a bug, below
            say(failures.internal_error_line(error, argv))
            return failures.INTERNAL_ERROR
        say(f"error: {error.filename}: {error.strerror or error}; check the path and its permissions")
        return failures.BAD_INPUT
    except Exception as error:  # a bug: never a verdict's exit code, one line and the traceback in a file
        say(failures.internal_error_line(error, argv))
        return failures.INTERNAL_ERROR
    if code == failures.INTERRUPTED:  # typer turns Ctrl-C into a silent Exit(130)
        say(failures.interrupted_line(argv))
    return code if isinstance(code, int) else failures.OK  # typer.Exit(n) comes back as n


def entry() -> None:
    sys.exit(main())


if __name__ == "__main__":
    entry()
