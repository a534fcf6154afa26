"""``orcabench`` commands that read what runs left: reports, gates, run lists, data mirrors, listings."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from orcabench import __version__, api
from orcabench.cli.app import app, console, data_app, engine_args, list_app, split_names
from orcabench.console import open_in_browser, say, show_chunks
from orcabench.types import OrcabenchError


@data_app.command("download")
def data_download(
    tasks: Annotated[str, typer.Option(help="comma-separated tasks or suites")],
    out: Annotated[Path, typer.Option(help="the mirror folder to write")],
) -> None:
    """Fetch tasks' data from the Hub into a local mirror, with sha256s in its manifest.json."""
    files = api.download_data(split_names(tasks), out)
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
    checks = api.check_data(data_dir, split_names(tasks))
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
    for task in api.list_tasks():
        table.add_row(task.name, task.version, task.kind, task.data.hub_path, task.description)
    console.print(table)
    for suite, members in api.list_suites().items():
        console.print(f"suite {suite}: {', '.join(members)}")


@list_app.command("models")
def list_models() -> None:
    """Named models in the registry."""
    table = Table()
    for column in ("model", "source", "template", "system message (default; --system-message)", "protocol", "backend",
                   "size (B)", "engine"):
        table.add_column(column, overflow="fold", no_wrap=column == "model")
    for spec in api.list_models():
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
    if (candidate is None) == (candidate_model is None):
        raise OrcabenchError("give the candidate as a run (--candidate DIR) or as a model to run (--candidate-model M), "
                             "one of the two")
    if candidate_model is not None and not sequential:
        raise OrcabenchError("--candidate-model runs the candidate chunk by chunk: add --sequential "
                             "(or run it with `orcabench run` first)")
    policy = api.load_policy(config)
    if candidate_model is not None:
        comparison = api.gate_model(baseline, candidate_model, policy, allow_mismatch, output=candidate_output,
                                    backend=backend, batch_size=batch_size, max_tokens=max_tokens, data_dir=data_dir,
                                    engine=engine_args(engine_arg or []), events=api.RunEvents(show_chunks))
    else:
        comparison = api.gate(baseline, candidate, policy, allow_mismatch, sequential)  # type: ignore[arg-type]
    if out is not None:
        api.write_gate_reports(comparison, out)
    for problem in comparison.problems:
        say(f"warning: {problem} (skipped)")
    sys.stdout.write(api.gate_markdown(comparison))
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
    comparison = api.compare(run_a, run_b, allow_mismatch)
    for problem in comparison.problems:
        say(f"warning: {problem} (skipped)")
    # The gate's Markdown table, without the verdict: it reads the same in a terminal of any
    # width, a CI log and a PR comment.
    sys.stdout.write(api.gate_markdown(comparison))


@app.command()
def report(
    runs: Annotated[list[Path],
                    typer.Argument(help="run directories, folders of runs (latest per model and task), reference .yaml files")],
    baseline: Annotated[Optional[str],
                        typer.Option(help="entry (model/backend) or model name the deltas are taken against")] = None,
    format: Annotated[str, typer.Option("--format", help="comma-separated: md, csv, latex, html")] = "md",
    out: Annotated[Path, typer.Option(help="directory for the tables, charts/ and site/")] = Path("report"),
    reference: Annotated[Optional[str], typer.Option(
        help="entry (model/backend) or model name: add the paired leaderboard against it (differences on the questions "
             "both ran, with CIs, and the models the data cannot tell apart)")] = None,
    no_reference: Annotated[bool, typer.Option("--no-reference",
                                               help="leave out the paper's published numbers (results/)")] = False,
    open_site: Annotated[bool, typer.Option("--open", help="open the site (implies html) in the default browser")] = False,
) -> None:
    """Comparison tables, charts and a static HTML leaderboard from runs and reference results."""
    formats = split_names(format)
    if open_site and "html" not in formats:
        formats.append("html")
    made, written = api.report(runs, out, formats, baseline, not no_reference, reference)
    for reason in made.results.skipped:
        say(f"skipped {reason}")
    for note in made.results.read_notes:
        say(note)
    for path in made.results.superseded:
        say(f"not shown: {path} (a later run of the same model and backend covers its tasks; name it to show it too)")
    console.print(api.leaderboard_markdown(made), markup=False, highlight=False, soft_wrap=True)
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
    skipped: list[str] = []
    rows = api.list_runs(folder, model, task, skipped)
    for reason in skipped:
        say(f"skipped {reason}")
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
        table.add_row(relative_to(Path(row.path), folder), row.model, row.backend, ",".join(row.tasks), row.counts,
                      row.accuracies, row.status, short_date(row.date), style=None if row.status == "finished" else "yellow")
    console.print(table)


@app.command()
def version() -> None:
    """Print the orcabench version."""
    console.print(__version__)


def relative_to(path: Path, folder: Path) -> str:
    """A run's directory as listed under ``folder`` (its own path when it is not below it)."""
    try:
        return str(path.relative_to(folder))
    except ValueError:
        return str(path)


def short_date(iso: str) -> str:
    return iso[:16].replace("T", " ")

# After the results commands: `orcabench campaign …` (many runs at once on Ray).
import orcabench.cli.campaign  # noqa: E402, F401  (registers the campaign commands on the app)
