"""``orcabench campaign run|status|report FILE``: a campaign file's cells (model × variant runs) at once on Ray."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.table import Table

from orcabench import api
from orcabench.cli.app import app, console, split_names
from orcabench.console import say

campaign_app = typer.Typer(no_args_is_help=True, help="Campaigns: models × variants × tasks in one resumable command, on Ray.")
app.add_typer(campaign_app, name="campaign")

FILE = Annotated[Path, typer.Argument(help="the campaign .yaml (examples/campaigns/)")]
OUTPUT = Annotated[Optional[Path], typer.Option(help="campaign folder (default: the file's `output`)")]
FAILED = 1  # some cell failed (README, "Exit codes"); bad input stays 2


@campaign_app.command("run")
def run(
    file: FILE,
    output: OUTPUT = None,
    ray_address: Annotated[Optional[str], typer.Option(help="Ray cluster (default: RAY_ADDRESS, else a local instance)")] = None,
    dry_run: Annotated[bool, typer.Option(help="print the cells and what each still sends; load no weights, start nothing")]
    = False,
) -> None:
    """Run (or resume) every cell at once on Ray; the same command again resumes the campaign."""
    campaign = api.load_campaign(file, output)
    cells = api.plan_campaign(campaign, estimated=True)
    show_plan(campaign, cells)
    if dry_run:
        return
    states = api.run_campaign(campaign, cells, listener=show_change, ray_address=ray_address)
    show_board(campaign, api.campaign_board(campaign, cells))
    failed = [name for name, state in states.items() if state.status == "failed"]
    if failed:
        say(f"{len(failed)} cell(s) failed: {', '.join(failed)}; fix the cause and run the same command to retry them")
        raise typer.Exit(FAILED)


@campaign_app.command("status")
def status(file: FILE, output: OUTPUT = None,
           as_json: Annotated[bool, typer.Option("--json", help="one JSON array instead of the table")] = False) -> None:
    """The table filling in, from the run stores (works while the campaign runs): done/planned or the score per task."""
    campaign = api.load_campaign(file, output)
    rows = api.campaign_board(campaign, api.plan_campaign(campaign))
    if as_json:
        sys.stdout.write(json.dumps([vars(row) for row in rows], indent=2) + "\n")
        return
    show_board(campaign, rows)


@campaign_app.command("report")
def report(
    file: FILE,
    output: OUTPUT = None,
    out: Annotated[Optional[Path], typer.Option(help="directory for the tables, charts/ and site/ (default: OUTPUT/report)")]
    = None,
    format: Annotated[str, typer.Option("--format", help="comma-separated: md, csv, latex, html")] = "md,html",
) -> None:
    """The leaderboard of every cell (one row per model × variant), the paper's numbers beside, the site, and each
    cell's paired difference from the reference model with its confidence interval."""
    campaign = api.load_campaign(file, output)
    made, written = api.campaign_report(campaign, api.plan_campaign(campaign), out or campaign.output / "report",
                                        split_names(format))
    for note in made.results.read_notes:  # a cell's results.json not used (rebuilt from its records), and why
        say(note)
    console.print(api.leaderboard_markdown(made), markup=False, highlight=False, soft_wrap=True)
    for path in written:
        say(f"wrote {path}")


def line(text: str) -> None:
    """One line on stdout, never wrapped (the plan is the command's output)."""
    console.print(text, markup=False, highlight=False, soft_wrap=True)


def show_plan(campaign: Any, cells: list[Any]) -> None:
    """One line per cell (logs and CI keep it whole): its run directory, what it still sends, where it runs."""
    line(f"campaign {campaign.name}: {len(cells)} cell(s) in {campaign.output}")
    for cell in cells:
        if cell.plan is None:
            line(f"  {cell.name}: cannot be planned: {cell.problem}")
            continue
        sends = cell.estimate.line().removeprefix("plan: ") if cell.estimate is not None else ""
        line(f"  {cell.name}: {cell.plan.run_dir.name} · {cell.pending} example(s) to score · {sends} · {cell.placement()}")


def show_change(change: Any) -> None:
    """The running campaign's lines: one per cell that starts, retries, finishes or fails (engines log to engine.log)."""
    state = getattr(change, "state", None)
    if state is None:
        return  # per-record progress: the board at the end says it
    reason = f": {state.reason}" if state.reason and state.status in ("retrying", "failed") else ""
    say(f"{change.cell}: {state.status} (attempt {state.attempts}){reason}")


def show_board(campaign: Any, rows: list[Any]) -> None:
    tasks = list(dict.fromkeys(task for row in rows for task in row.tasks))
    table = Table(title=f"campaign {campaign.name}: done/planned, or the headline score (%) once a task is complete",
                  title_justify="left")
    for column in ("model", "variant", *tasks, "status"):
        table.add_column(column, justify="left" if column in ("model", "variant", "status") else "right")
    for row in rows:
        status = f"{row.status}: {row.reason}" if row.status == "failed" and row.reason else row.status
        table.add_row(row.model, row.variant or "-", *[row.cell_text(task) for task in tasks], status)
    console.print(table)
