"""``orcabench campaign run|status|report FILE``: a campaign file's cells (model × variant runs) at once on Ray."""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Optional, Self

import typer
from rich.console import Console
from rich.live import Live
from rich.table import Table

from orcabench import api
from orcabench.cli.app import app, console, split_names
from orcabench.console import say
from orcabench.types import OrcabenchError

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
    with LiveBoard(campaign.name, lambda: api.campaign_board(campaign, cells)) as board:
        states = api.run_campaign(campaign, cells, listener=board, ray_address=ray_address)
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


def change_line(change: Any) -> str | None:
    """A cell that starts, retries, finishes or fails, as one line (None: per-record progress, which the board shows)."""
    state = getattr(change, "state", None)
    if state is None:
        return None
    reason = f": {state.reason}" if state.reason and state.status in ("retrying", "failed") else ""
    return f"{change.cell}: {state.status} (attempt {state.attempts}){reason}"


def show_change(change: Any) -> None:
    """The running campaign's lines off a terminal: one per cell that starts, retries, finishes or fails."""
    text = change_line(change)
    if text is not None:
        say(text)


class LiveBoard:
    """The running campaign's console, subscribed to its cell events.

    On a terminal: the table ``campaign status`` shows, redrawn in place on each cell event and
    every ``every`` seconds (records done/planned, read from the run stores), with a line above it
    only for a cell that is retried or fails; engines log to their cells' ``engine.log``. Off a
    terminal (CI, a pipe): one line per cell event, and the board once at the end.
    """

    def __init__(self, name: str, rows: Callable[[], list[Any]], out: Console = console, every: float | None = 5.0) -> None:
        self.name, self.rows, self.out, self.every = name, rows, out, every
        self.live: Live | None = None
        self._drawing = threading.Lock()  # cell events (the cells' threads) and the timer redraw one at a time
        self._stop = threading.Event()
        self._timer: threading.Thread | None = None

    def __enter__(self) -> Self:
        if self.out.is_terminal:
            self.live = Live(board_table(self.name, self.rows()), console=self.out, auto_refresh=False,
                             redirect_stdout=True, redirect_stderr=True)
            self.live.start(refresh=True)
            if self.every is not None:
                self._timer = threading.Thread(target=self._tick, args=(self.every,), name="campaign board", daemon=True)
                self._timer.start()
        return self

    def __call__(self, change: Any) -> None:
        if self.live is None:
            show_change(change)
        elif getattr(change, "state", None) is not None:
            if change.state.status in ("retrying", "failed"):
                self.live.console.print(change_line(change), markup=False, highlight=False, soft_wrap=True)
            self.refresh()

    def refresh(self) -> None:
        """Redraw the board from the run stores now (one that cannot be read this moment waits for the next redraw:
        the board never stops a cell)."""
        with self._drawing:
            if self.live is None:
                return
            try:
                table = board_table(self.name, self.rows())
            except (OrcabenchError, OSError, ValueError):
                return
            self.live.update(table, refresh=True)

    def _tick(self, every: float) -> None:
        while not self._stop.wait(every):
            self.refresh()

    def __exit__(self, kind: type[BaseException] | None, *exc: object) -> None:
        self._stop.set()
        if self._timer is not None:
            self._timer.join()
        if self.live is None:
            if kind is None:  # the campaign ended (a Ctrl-C or an error says its own line)
                self.out.print(board_table(self.name, self.rows()))
            return
        self.refresh()  # the final board stays on the screen
        with self._drawing:
            self.live.stop()
            self.live = None


def board_table(name: str, rows: list[Any]) -> Table:
    tasks = list(dict.fromkeys(task for row in rows for task in row.tasks))
    table = Table(title=f"campaign {name}: done/planned, or the headline score (%) once a task is complete",
                  title_justify="left")
    for column in ("model", "variant", *tasks, "status"):
        table.add_column(column, justify="left" if column in ("model", "variant", "status") else "right")
    for row in rows:
        status = f"{row.status}: {row.reason}" if row.status == "failed" and row.reason else row.status
        table.add_row(row.model, row.variant or "-", *[row.cell_text(task) for task in tasks], status)
    return table


def show_board(campaign: Any, rows: list[Any]) -> None:
    console.print(board_table(campaign.name, rows))
