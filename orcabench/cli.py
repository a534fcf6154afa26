"""The ``orcabench`` command: a thin typer layer over :mod:`orcabench.api`.

Any bad input ends as one line on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
import yaml
from rich.console import Console
from rich.table import Table
from typer.exceptions import TyperException

from orcabench import __version__, api
from orcabench.console import RunDisplay, open_in_browser, say, show_orcabench_log, verbose_from_env, warn
from orcabench.models import BUILTIN_MODELS, DEFAULT_MODEL, Reasoning
from orcabench.summary import TaskSummary, reasoning_average
from orcabench.task import REASONING, SUITES, all_tasks
from orcabench.types import OrcabenchError

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


def _engine_settings(pairs: list[str] | None, dtype: str | None, max_model_len: int | None, tensor_parallel_size: int | None,
                     gpu_memory_utilization: float | None) -> dict[str, Any]:
    engine = _engine_args(pairs or [])
    for key, value in (("dtype", dtype), ("max_model_len", max_model_len), ("tensor_parallel_size", tensor_parallel_size),
                       ("gpu_memory_utilization", gpu_memory_utilization)):
        if value is not None:
            engine[key] = value
    return engine


@app.command()
def run(
    model: Annotated[str, typer.Option(help="registry name, local HF folder or Hub id")] = DEFAULT_MODEL,
    tasks: Annotated[str, typer.Option(help="comma-separated task names (orcabench list tasks)")] = "gsm8k",
    backend: Annotated[Optional[str], typer.Option(help="vllm, hf or openai; default: the model's")] = None,
    limit: Annotated[Optional[int], typer.Option(help="first N examples of each task")] = None,
    limit_per_subtask: Annotated[Optional[int],
                                 typer.Option(help="first N examples of each subtask (BBH, MMLU, ...), before --limit")] = None,
    batch_size: Annotated[Optional[int], typer.Option(help="hf: batch size; vllm: max concurrent sequences")] = None,
    data_dir: Annotated[Optional[Path],
                        typer.Option(help="local data mirror (default: $ORCABENCH_DATA_DIR, else the Hub)")] = None,
    output: Annotated[Optional[Path], typer.Option(help="run directory (default: runs/<model>-<backend>-<fingerprint>)")] = None,
    seed: Annotated[int, typer.Option(help="random seed")] = 1234,
    max_tokens: Annotated[Optional[int], typer.Option(help="override each task's max new tokens")] = None,
    dtype: Annotated[Optional[str], typer.Option(help="bfloat16, float16, float32 or auto")] = None,
    max_model_len: Annotated[Optional[int], typer.Option(help="context length for the engine")] = None,
    tensor_parallel_size: Annotated[Optional[int], typer.Option(help="vllm: GPUs per model")] = None,
    gpu_memory_utilization: Annotated[Optional[float], typer.Option(help="vllm: share of GPU memory to use")] = None,
    engine_arg: Annotated[Optional[list[str]], typer.Option(help="extra engine setting KEY=VALUE (repeatable)")] = None,
    strict: Annotated[bool, typer.Option(help="fail on malformed data rows instead of skipping them")] = False,
    replicas: Annotated[Optional[int], typer.Option(help="N engine replicas as Ray actors (docs/scale-out.md)")] = None,
    ray_address: Annotated[Optional[str], typer.Option(help="Ray cluster for --replicas (default: RAY_ADDRESS or local)")] = None,
    protocol: Annotated[Optional[str],
                        typer.Option(help="default or orca2 (the paper's protocol; default for Orca 2 models)")] = None,
    system_message: Annotated[Optional[str], typer.Option(help="empty, cautious, none, default, or the text itself")] = None,
    dry_run: Annotated[bool, typer.Option(help="print the resolved configuration and the first prompt; load no weights")] = False,
    lm_eval_include: Annotated[Optional[list[Path]], typer.Option(help="folder of lm-eval task YAMLs for lm-eval: tasks "
                                                                       "(repeatable; also $ORCABENCH_LM_EVAL_INCLUDE)")] = None,
    thinking: Annotated[bool | None, typer.Option("--thinking/--no-thinking", help=THINKING_HELP)] = None,
    server: Annotated[Optional[str], typer.Option(help="URL an `orcabench serve` printed: answer with its warm engine")] = None,
    verbose: Annotated[bool, typer.Option(help="show engine logs (else in RUN_DIR/engine.log; $ORCABENCH_VERBOSE=1)")] = False,
) -> None:
    ("Evaluate a model on tasks (lm-eval:<task> runs an lm-evaluation-harness task); "
     "re-running the same command resumes the run.")
    engine = _engine_settings(engine_arg, dtype, max_model_len, tensor_parallel_size, gpu_memory_utilization)
    config = api.RunConfig(model=model, tasks=_split(tasks), backend=backend, limit=limit,
                           limit_per_subtask=limit_per_subtask, batch_size=batch_size, data_dir=data_dir, output=output,
                           seed=seed, max_tokens=max_tokens, engine=engine, strict=strict, protocol=protocol,
                           system_message=system_message, lm_eval_include=lm_eval_include or [], replicas=replicas,
                           ray_address=ray_address, thinking=thinking, server=server)
    if dry_run:
        shown = api.dry_run(config)
        console.print_json(json.dumps(shown.description))
        if shown.first_prompt is not None:
            task_name, example, prompt = shown.first_prompt
            say(f"# first prompt: task {task_name}, example {example.id}, gold {example.gold}")
            if shown.description.get("model", {}).get("reasoning"):
                say(_reasoning_line(Reasoning(**shown.description["model"]["reasoning"])))
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
        result = api.run(config, events=display)
    show_run_result(result, model)


@app.command()
def serve(
    model: Annotated[str, typer.Option(help="registry name, local HF folder or Hub id")] = DEFAULT_MODEL,
    port: Annotated[int, typer.Option(help="port on 127.0.0.1 (0: any free one)")] = 8000,
    batch_size: Annotated[Optional[int], typer.Option(help="max concurrent sequences")] = None,
    seed: Annotated[int, typer.Option(help="random seed")] = 1234,
    dtype: Annotated[Optional[str], typer.Option(help="bfloat16, float16, float32 or auto")] = None,
    max_model_len: Annotated[Optional[int], typer.Option(help="context length for the engine")] = None,
    tensor_parallel_size: Annotated[Optional[int], typer.Option(help="GPUs per model")] = None,
    gpu_memory_utilization: Annotated[Optional[float], typer.Option(help="share of GPU memory to use")] = None,
    engine_arg: Annotated[Optional[list[str]], typer.Option(help="extra engine setting KEY=VALUE (repeatable)")] = None,
) -> None:
    """Keep one vLLM engine up (an OpenAI-compatible server) for `orcabench run --server URL`; Ctrl-C stops it."""
    from orcabench import serving
    from orcabench.backends.vllm import engine_options
    from orcabench.models import resolve_model

    spec = resolve_model(model)
    model_path, _ = api.model_location(spec)
    engine = {**spec.engine, **_engine_settings(engine_arg, dtype, max_model_len, tensor_parallel_size, gpu_memory_utilization)}
    options = engine_options(engine, seed, batch_size)

    def ready(url: str) -> None:
        say(f"orcabench serve: {spec.name} ready at {url} (Ctrl-C stops it)")
        sys.stdout.write(url + "\n")
        sys.stdout.flush()

    try:
        code = serving.serve(spec.name, model_path, options, port or serving.free_port(), ready)
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


def show_run_result(result: api.RunResult, model: str) -> None:
    print_summaries(result.summaries, title=f"{model} · {result.run_dir}")
    console.print(f"{result.model_calls} model call(s) this time; records in {result.run_dir / 'records.jsonl'}")


def print_summaries(summaries: list[TaskSummary], title: str) -> None:
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
        table.add_row(s.task, str(s.n), f"{100 * s.accuracy:.2f}", f"{100 * s.ci_low:.2f}–{100 * s.ci_high:.2f}",
                      macro, str(len(s.subtasks) or ""), f"{100 * s.unparsed_rate:.1f}%", *no_final,
                      f"{100 * (1 - s.unparsed_rate):.1f}%")
    console.print(table)
    if any(s.task in REASONING for s in summaries):
        average, missing = reasoning_average(summaries)
        console.print(f"Orca 2 reasoning average (6 benchmarks): {100 * average:.2f}" if average is not None
                      else f"Orca 2 reasoning average: not computed, missing {', '.join(missing)}")


@app.command("show-prompt")
def show_prompt(
    task: Annotated[str, typer.Option(help="task name")],
    model: Annotated[str, typer.Option(help="registry name, local HF folder or Hub id")] = DEFAULT_MODEL,
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
        say(_reasoning_line(view.reasoning))
    sys.stdout.write(view.prompt)
    sys.stdout.write("\n")
    for continuation in view.continuations:
        say(f"# continuation scored: {continuation!r}")
    say(f"# gold: {view.example.gold}")


def _reasoning_line(reasoning: Reasoning) -> str:
    switch = {None: "the template's default", True: "on", False: "off"}[reasoning.enable_thinking]
    return (f"# reasoning model: trace between {reasoning.start} and {reasoning.end} (never read for the answer); "
            f"enable_thinking: {switch}")


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
    scored = api.score_predictions(task, predictions, data_dir, strict=strict, model=model)
    for problem in scored.problems:
        say(f"skipped {problem}")
    if output is not None:
        output.write_text("".join(json.dumps(r.to_json(), ensure_ascii=False) + "\n" for r in scored.records), encoding="utf-8")
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
    """How a run's answers were read: share per extraction rule, weak readings, strict-vs-flexible agreement."""
    from orcabench.audit import audit_run  # only this command needs it

    for task in audit_run(run_dir):
        if not task.extracted:
            console.print(f"{task.task}: {task.n} sample(s) scored by loglikelihood; no text extracted")
            continue
        table = Table(title=f"{task.task} · {task.n} sample(s)", title_justify="left")
        for column in ("rule", "samples", "share"):
            table.add_column(column, justify="left" if column == "rule" else "right")
        for rule, count in task.rules.items():
            table.add_row(rule, str(count), f"{100 * count / task.n:.1f}%")
        console.print(table)
        agreement = "n/a (nothing parsed)" if task.agreement is None else f"{100 * task.agreement:.1f}%"
        console.print(f"strict-vs-flexible agreement: {agreement} ({task.strict_found} of {task.found} answers found by the "
                      f"explicit-answer rules alone); "
                      f"accuracy strict {task.strict_correct}/{task.n}, flexible {task.correct}/{task.n}",
                      markup=False, highlight=False)
        for record in task.weak[:samples]:
            tail = " ".join(record.output.split())[-160:]
            console.print(f"  {record.id} · {record.method} → {record.answer!r} (gold {record.gold!r}): …{tail}",
                          markup=False, highlight=False, soft_wrap=True)
        if len(task.weak) > samples:
            console.print(f"  … and {len(task.weak) - samples} more read by the weakest rules")


@data_app.command("download")
def data_download(
    tasks: Annotated[str, typer.Option(help="comma-separated tasks or suites")],
    out: Annotated[Path, typer.Option(help="the mirror folder to write")],
) -> None:
    """Fetch tasks' data from the Hub into a local mirror, with sha256s in its manifest.json."""
    files = api.download_data(_split(tasks), out)
    for relative, info in sorted(files.items()):
        console.print(f"{relative}: {info['examples']} rows, sha256 {info['sha256']}",
                      markup=False, highlight=False, soft_wrap=True)
    console.print(f"mirror ready: use --data-dir {out}", markup=False, highlight=False, soft_wrap=True)


@data_app.command("check")
def data_check(
    data_dir: Annotated[Optional[Path], typer.Option(help="the mirror (default: $ORCABENCH_DATA_DIR)")] = None,
    tasks: Annotated[str, typer.Option(help="comma-separated tasks or suites (default: every task)")] = "",
) -> None:
    """Validate a local data mirror: files, sha256 against its manifest.json, every row readable."""
    checks = api.check_data(data_dir, _split(tasks))
    table = Table()
    for column in ("task", "status", "examples", "problems"):
        table.add_column(column)
    for check in checks:
        table.add_row(check.task, check.status, str(check.examples), str(len(check.problems)))
    console.print(table)
    for check in checks:
        for problem in check.problems:
            console.print(f"{check.task}: {problem}", markup=False, highlight=False, soft_wrap=True)
    if any(check.status == "failed" for check in checks):
        raise typer.Exit(1)


@list_app.command("tasks")
def list_tasks() -> None:
    """Tasks found in tasks/ and in installed plugins."""
    table = Table()
    for column in ("task", "version", "kind", "data (Hub id)", "description"):
        table.add_column(column, no_wrap=column == "task")
    for task in sorted(all_tasks(), key=lambda t: t.name):
        table.add_row(task.name, task.version, task.kind, task.data.hub_path, task.description)
    console.print(table)
    for suite, members in SUITES.items():
        console.print(f"suite {suite}: {', '.join(members)}")


@list_app.command("models")
def list_models() -> None:
    """Named models in the registry."""
    table = Table()
    for column in ("model", "source", "template", "system message (default; --system-message)", "protocol", "backend",
                   "size (B)", "engine"):
        table.add_column(column, overflow="fold", no_wrap=column == "model")
    for spec in BUILTIN_MODELS.values():
        template = spec.chat_template or ("tokenizer's" if spec.prompt_format == "chat" else spec.prompt_format)
        if spec.reasoning:
            template += f"; trace {spec.reasoning.start}…{spec.reasoning.end}"
        default = "template's own" if spec.system_message is None else ("empty" if spec.system_message == ""
                                                                        else repr(spec.system_message))
        engine = ", ".join(f"{k}={v}" for k, v in spec.engine.items())
        table.add_row(spec.name, spec.source, template, f"{default}; empty | cautious | none | TEXT", spec.default_protocol,
                      spec.default_backend, f"{spec.size_params:g}" if spec.size_params else "?", engine)
    console.print(table)
    console.print("Orca-1-13B was never released publicly, so it has no entry; use a model .yaml file for a private copy.")


@app.command()
def gate(
    baseline: Annotated[Path, typer.Option(help="the baseline run directory")],
    candidate: Annotated[Optional[Path], typer.Option(help="the candidate run directory (--sequential: replay on it)")] = None,
    candidate_model: Annotated[Optional[str], typer.Option(
        help="run this model as the candidate on the baseline's examples (with --sequential)")] = None,
    sequential: Annotated[bool, typer.Option(
        help="anytime-valid gate: evaluate in seeded chunks, stop once every required task is settled")] = False,
    config: Annotated[Optional[Path], typer.Option("--config", "--policy", help=(
        "gate policy YAML (rule, confidence, margin, min_n, max_n, chunk, required, informational, tasks)"))] = None,
    out: Annotated[Optional[Path], typer.Option(help="write gate.md, gate.json and gate.junit.xml here")] = None,
    allow_mismatch: Annotated[bool, typer.Option(help="compare even if versions, templates, protocol or data differ")] = False,
    candidate_output: Annotated[Optional[Path], typer.Option(
        help="--candidate-model: its run directory (default runs/<model>-<backend>-<fingerprint>; resumes)")] = None,
    backend: Annotated[Optional[str], typer.Option(help="--candidate-model: vllm, hf or openai (default: baseline's)")] = None,
    batch_size: Annotated[Optional[int], typer.Option(help="--candidate-model: hf batch size / vllm max_num_seqs")] = None,
    max_tokens: Annotated[Optional[int], typer.Option(help="--candidate-model: max new tokens (default: baseline's)")] = None,
    data_dir: Annotated[Optional[Path], typer.Option(help="--candidate-model: data mirror (default: baseline's)")] = None,
    engine_arg: Annotated[Optional[list[str]], typer.Option(help="--candidate-model: engine KEY=VALUE (repeatable)")] = None,
) -> None:
    """Exit 0 when the candidate passes against the baseline, 1 on a regression, 3 when inconclusive (2: bad input)."""
    from orcabench import gate as gating  # scipy: only when gating
    from orcabench.gate_report import to_markdown, write_reports

    if (candidate is None) == (candidate_model is None):
        raise OrcabenchError("give the candidate as a run (--candidate DIR) or as a model to run (--candidate-model M), "
                             "one of the two")
    if candidate_model is not None and not sequential:
        raise OrcabenchError("--candidate-model runs the candidate chunk by chunk: add --sequential "
                             "(or run it with `orcabench run` first)")
    policy = gating.load_policy(config)
    if candidate_model is not None:
        from orcabench.gate_candidate import CandidateRun, gate_candidate

        run_settings = CandidateRun(model=candidate_model, output=candidate_output, backend=backend, batch_size=batch_size,
                                    max_tokens=max_tokens, data_dir=data_dir, engine=_engine_args(engine_arg or []))
        comparison = gate_candidate(baseline, run_settings, policy, allow_mismatch, on_chunk=say)
    elif sequential:
        comparison = gating.replay(baseline, candidate, policy, allow_mismatch)  # type: ignore[arg-type]
    else:
        comparison = gating.compare_runs(baseline, candidate, policy, allow_mismatch, gating=True)  # type: ignore[arg-type]
    if out is not None:
        write_reports(comparison, out)
    for problem in comparison.problems:
        say(f"warning: {problem} (skipped)")
    sys.stdout.write(to_markdown(comparison))
    if comparison.verdict == "insufficient":
        undecided = [t.task for t in comparison.tasks if t.verdict == "insufficient"]
        raise OrcabenchError(f"required task(s) {', '.join(undecided)} have fewer paired samples than the policy's min_n: "
                             "run more examples or lower min_n")
    raise typer.Exit(comparison.exit_code)


@app.command()
def compare(
    run_a: Annotated[Path, typer.Argument(help="baseline run directory")],
    run_b: Annotated[Path, typer.Argument(help="candidate run directory")],
    allow_mismatch: Annotated[bool, typer.Option(help="compare even if versions, templates, protocol or data differ")] = False,
) -> None:
    """Paired statistics of two runs per task (delta, bootstrap CI, McNemar p with Holm), no verdict."""
    from orcabench import gate as gating
    from orcabench.gate_report import to_markdown

    comparison = gating.compare_runs(run_a, run_b, allow_mismatch=allow_mismatch, gating=False)
    for problem in comparison.problems:
        say(f"warning: {problem} (skipped)")
    # The gate's Markdown table, without the verdict: it reads the same in a terminal of any
    # width, a CI log and a PR comment.
    sys.stdout.write(to_markdown(comparison))


@app.command()
def report(
    runs: Annotated[list[Path],
                    typer.Argument(help="run directories, folders of runs (latest per model and task), reference .yaml files")],
    baseline: Annotated[Optional[str],
                        typer.Option(help="entry (model/backend) or model name the deltas are taken against")] = None,
    format: Annotated[str, typer.Option("--format", help="comma-separated: md, csv, latex, html")] = "md",
    out: Annotated[Path, typer.Option(help="directory for the tables, charts/ and site/")] = Path("report"),
    reference: Annotated[bool, typer.Option(help="add the paper's published numbers (results/) for the tasks shown")] = True,
    open_site: Annotated[bool, typer.Option("--open", help="open the site (implies html) in the default browser")] = False,
) -> None:
    """Comparison tables, charts and a static HTML leaderboard from runs and reference results."""
    from orcabench.publish import write_report
    from orcabench.report import leaderboard, to_markdown_table

    formats = _split(format)
    if open_site and "html" not in formats:
        formats.append("html")
    made, written = write_report(runs, out, formats, baseline, reference)
    console.print(to_markdown_table(leaderboard(made.results)), markup=False, highlight=False, soft_wrap=True)
    for path in written:
        say(f"wrote {path}")
    if open_site:
        open_in_browser(next(path for path in written if path.name == "index.html"))


@app.command("runs")
def runs_list(
    folder: Annotated[Path, typer.Argument(help="a folder of runs, or one run directory")] = Path("runs"),
    model: Annotated[str | None, typer.Option(help="only runs of this model (registry name)")] = None,
    task: Annotated[str | None, typer.Option(help="only runs holding this task")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON array instead of the table")] = False,
) -> None:
    """List stored runs: model, backend, tasks, samples done / planned, accuracy, status (finished, partial, being written)."""
    from orcabench.runlist import accuracies, counts, list_runs, relative_to, short_date

    rows = list_runs(folder, model, task)
    if as_json:
        sys.stdout.write(json.dumps([row.to_json() for row in rows], indent=2) + "\n")
        return
    if not rows:
        say(f"no orcabench runs under {folder}" + (" that match" if model or task else ""))
        return
    table = Table(box=None, pad_edge=False)
    for column in (f"run (in {folder})", "model", "backend", "tasks", "n", "accuracy", "status", "date (UTC)"):
        table.add_column(column, no_wrap=True, overflow="ellipsis", justify="right" if column == "n" else "left")
    for row in rows:
        table.add_row(relative_to(Path(row.path), folder), row.model, row.backend, ",".join(row.tasks), counts(row),
                      accuracies(row), row.status, short_date(row.date), style=None if row.status == "finished" else "yellow")
    console.print(table)


@app.command()
def version() -> None:
    """Print the orcabench version."""
    console.print(__version__)


def main(argv: list[str] | None = None) -> int:
    show_orcabench_log()
    try:
        code = app(args=argv, prog_name="orcabench", standalone_mode=False)
    except OrcabenchError as error:
        say(f"error: {error}")
        return 2
    except (typer.Abort, KeyboardInterrupt):
        say("interrupted: finished samples are saved; the same command resumes")
        return 130
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
        return 2
    return code if isinstance(code, int) else 0  # typer.Exit(n) comes back as n


def entry() -> None:
    sys.exit(main())


if __name__ == "__main__":
    entry()
