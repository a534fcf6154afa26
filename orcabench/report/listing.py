"""``orcabench runs``: the stored runs as a list, partial ones plainly marked.

A run is *finished* when its latest session ended and every task holds as many records as
any session planned for it; *being written* while an orcabench process holds its lock;
*partial* otherwise (killed, interrupted, or resumed with a smaller ``--limit`` than an
earlier session planned), so nobody reports a half-finished number.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from orcabench.store.files import is_run_directory
from orcabench.store.reader import StoredRun, being_written, find_runs, load_run, not_a_run
from orcabench.store.writer import MANIFEST
from orcabench.task.summary import headline, summarize
from orcabench.types import OrcabenchError, variant_label

Status = Literal["finished", "partial", "being written"]


@dataclass(frozen=True)
class TaskProgress:
    done: int
    planned: int | None  # None: the run's manifest predates planned counts (or came from lm-eval)
    accuracy: float | None  # the task's headline (macro average over subtasks where it has them)


@dataclass(frozen=True)
class RunRow:
    path: str
    model: str
    backend: str
    protocol: str
    tasks: dict[str, TaskProgress]
    status: Status
    date: str

    @property
    def done(self) -> int:
        return sum(t.done for t in self.tasks.values())

    @property
    def planned(self) -> int | None:
        counts = [t.planned for t in self.tasks.values()]
        return None if any(c is None for c in counts) else sum(c for c in counts if c is not None)

    @property
    def counts(self) -> str:
        """``done/planned`` as listed (``?``: the plan is unknown)."""
        return f"{self.done}/{'?' if self.planned is None else self.planned}"

    @property
    def accuracies(self) -> str:
        """Each task's headline accuracy in percent, as listed (``–``: no records yet)."""
        return " · ".join(f"{task} {100 * t.accuracy:.1f}" if t.accuracy is not None else f"{task} –"
                          for task, t in self.tasks.items())

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "done": self.done, "planned": self.planned}


def _planned(run: StoredRun) -> dict[str, int]:
    """The largest count any session planned per task (absent from manifests written before sessions recorded it)."""
    planned: dict[str, int] = {}
    for session in run.manifest.sessions:
        for task, count in (session.planned or {}).items():
            planned[task] = max(planned.get(task, 0), int(count))
    return planned


def describe(run: StoredRun, written: bool) -> RunRow:
    planned = _planned(run)
    tasks: dict[str, TaskProgress] = {}
    for task in run.tasks():
        records = run.task_records(task)  # the headline: the first variant's, where the run has variants
        done = sum(r.task == task for r in run.records.values())  # every variant's samples count as done
        labels = [variant_label(task, v) for v in run.variants(task)] or [task]
        wanted = [planned[label] for label in labels if label in planned]
        tasks[task] = TaskProgress(done, sum(wanted) if wanted else None,
                                   headline(summarize(task, records)) if records else None)
    sessions = run.manifest.sessions
    ended = bool(sessions) and bool(sessions[-1].finished or sessions[-1].imported)
    complete = all(t.planned is None or t.done >= t.planned for t in tasks.values())
    status: Status = "being written" if written else "finished" if ended and complete and not run.problems else "partial"
    fingerprint = run.fingerprint
    return RunRow(str(run.path), fingerprint.model_name, fingerprint.backend, fingerprint.protocol or "default", tasks, status,
                  run.manifest.last_finished())


def list_runs(root: Path, model: str | None = None, task: str | None = None,
              skipped: list[str] | None = None) -> list[RunRow]:
    """Every run at or under ``root``, newest first; ``model`` and ``task`` keep only the runs that match.

    A run that cannot be read is left out and, in ``skipped``, named with the reason.
    """
    if not root.is_dir():
        raise not_a_run(root, "pass the folder that holds your runs (default: runs/)")
    rows = []
    # Runs without records yet (killed before the first sample) too: a listing shows every run.
    with_records = find_runs(root)
    started = [p.parent for p in root.rglob(MANIFEST) if p.parent not in with_records and looks_like_a_run(p.parent)]
    for path in sorted({*with_records, *started}):
        try:
            run = load_run(path, while_written=True)
        except OrcabenchError as error:
            if skipped is not None and looks_like_a_run(path):  # not a data mirror's or a report's manifest
                skipped.append(f"{path}: {error}")
            continue
        row = describe(run, being_written(path))
        if (model is None or row.model == model) and (task is None or task in row.tasks):
            rows.append(row)
    return sorted(rows, key=lambda r: r.date, reverse=True)


def looks_like_a_run(path: Path) -> bool:
    """A folder whose manifest.json is a run's, or broken beside a records file or lock: a run to report, not to hide."""
    if is_run_directory(path):
        return True
    try:
        return "fingerprint" in json.loads((path / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError, TypeError):
        return True  # unreadable: say so rather than hide it

