"""``orcabench campaign status``: the table filling in, read from the run stores (and the failures' reasons).

One row per cell (model × variant), one column per task: ``done/planned`` while a task is
incomplete, its headline score once complete. It reads records without locking anything,
so it works from another shell while the campaign runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from orcabench.campaign.cells import CellPlan
from orcabench.campaign.spec import Campaign
from orcabench.campaign.state import read_state
from orcabench.store.reader import being_written
from orcabench.store.writer import RECORDS, read_records
from orcabench.task.summary import headline, summarize


@dataclass(frozen=True)
class BoardRow:
    cell: str
    model: str
    variant: str
    done: dict[str, int]  # task -> records stored
    planned: dict[str, int]  # task -> examples in the cell's run
    scores: dict[str, float]  # task -> headline score (0..1), complete tasks only
    status: str  # done, running, partial, pending, failed
    reason: str | None = None
    attempts: int = 0
    run_dir: str | None = None
    tasks: list[str] = field(default_factory=list)

    def cell_text(self, task: str) -> str:
        if task in self.scores:
            return f"{100 * self.scores[task]:.1f}"
        if task not in self.planned:
            return "-"
        return f"{self.done.get(task, 0)}/{self.planned[task]}"


def board(campaign: Campaign, cells: list[CellPlan]) -> list[BoardRow]:
    states = read_state(campaign.output)
    rows = []
    for cell in cells:
        state = states.get(cell.name)
        planned = cell.planned
        done: dict[str, int] = {}
        scores: dict[str, float] = {}
        writing = False
        if cell.plan is not None and (cell.plan.run_dir / RECORDS).is_file():
            records = read_records(cell.plan.run_dir / RECORDS)[0]
            by_task: dict[str, list] = {}
            for record in records.values():
                if record.task in planned:
                    by_task.setdefault(record.task, []).append(record)
            done = {task: len(found) for task, found in by_task.items()}
            scores = {task: headline(summarize(task, by_task[task])) for task in planned
                      if done.get(task, 0) >= planned[task] and planned[task] > 0}
            writing = being_written(cell.plan.run_dir)
        complete = cell.plan is not None and all(done.get(task, 0) >= n for task, n in planned.items())
        reason = cell.problem or (state.reason if state else None)
        if complete:
            status, reason = "done", None
        elif cell.plan is None or (state is not None and state.status == "failed" and not writing):
            status = "failed"
        elif writing:
            status = "running"
        elif done:
            status = "partial"
        else:
            status = "pending"
        rows.append(BoardRow(cell.name, cell.cell.model, cell.cell.variant_label, done, planned, scores, status, reason,
                             state.attempts if state else 0, None if cell.plan is None else str(cell.plan.run_dir),
                             list(planned) or list(campaign.tasks)))
    return rows
