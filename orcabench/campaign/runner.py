"""``orcabench campaign run``: every cell an ordinary :class:`~orcabench.engine.session.RunSession`, all at once on Ray.

Each cell's session runs in a thread of this process with ``--replicas`` engines as Ray
actors (:mod:`orcabench.backends.replicas`), so Ray places every engine where its resources
are free, a cell waits in Ray's queue until they are, and records come back here: this
process is the only writer of every run store and of the campaign's state file. An API
model's cell answers from this process beside them.

Faults: a cell whose engine dies (every replica gone, a replica that cannot start) is run
again — a new session on the same run, skipping what is stored — up to ``retries`` times,
then marked failed with the reason while the other cells go on. A cell that cannot be
planned or opened (a missing model folder, a run made with other settings) fails at once.
A driver killed at any moment loses nothing: every record is fsync'd as it is stored, and
running the campaign again resumes every cell.
"""

from __future__ import annotations

import fcntl
import threading
from collections.abc import Callable
from contextlib import ExitStack, nullcontext
from dataclasses import dataclass

from orcabench.campaign.cells import CellPlan
from orcabench.campaign.spec import Campaign
from orcabench.campaign.state import CellState, read_state, write_state
from orcabench.engine.session import RunSession, ray_connection
from orcabench.events import RecordsStored, RunEvent, RunEvents
from orcabench.store.files import ensure_directory
from orcabench.types import OrcabenchError

LOCK = ".campaign.lock"
_STOP_SECONDS = 30.0  # Ctrl-C: how long each cell's thread may take to close its session


@dataclass(frozen=True)
class CellChanged:
    """A cell moved on (started, retried, done, failed); the console prints it as a line."""

    cell: str
    state: CellState


@dataclass(frozen=True)
class CellProgress:
    """Records a cell just stored: its count so far in this session, of those it had to score."""

    cell: str
    stored: int
    pending: int


Listener = Callable[[CellChanged | CellProgress], None]


class CampaignRun:
    """One driver over a campaign's cells; :meth:`run` returns each cell's final state."""

    def __init__(self, campaign: Campaign, cells: list[CellPlan], listener: Listener | None = None,
                 ray_address: str | None = None) -> None:
        self.campaign, self.cells, self.ray_address = campaign, cells, ray_address
        self.listener = listener or (lambda change: None)
        self._lock = threading.Lock()  # the state file and the listener, shared by the cells' threads
        self._opening = threading.Lock()  # sessions open (render, count tokens) one at a time: one tokenizer per process
        self.states: dict[str, CellState] = {}
        self._sessions: dict[str, RunSession] = {}  # the cells' open sessions (Ctrl-C cancels them)
        self._stopped = threading.Event()  # Ctrl-C: the cells' threads start nothing more and write nothing more

    def run(self) -> dict[str, CellState]:
        folder = ensure_directory(self.campaign.output, "campaign output")
        with open(folder / LOCK, "w") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError as error:
                raise OrcabenchError(f"campaign folder {folder} is in use by another `orcabench campaign run`; "
                                     "wait for it (`orcabench campaign status` shows it) or pick another output") from error
            known = read_state(folder)
            for cell in self.cells:
                before = known.get(cell.name, CellState())
                self.states[cell.name] = CellState(attempts=before.attempts,
                                                   run_dir=None if cell.plan is None else str(cell.plan.run_dir))
            self._save()
            # Ray only when an engine cell has work (or was not counted): a finished campaign run again starts nothing.
            on_ray = any(c.plan is not None and c.plan.config.operations.replicas and c.pending != 0 for c in self.cells)
            with ray_connection(self.ray_address) if on_ray else nullcontext():
                threads = [threading.Thread(target=self._cell, args=(cell,), name=f"cell {cell.name}", daemon=True)
                           for cell in self.cells]
                for thread in threads:
                    thread.start()
                try:
                    for thread in threads:
                        while thread.is_alive():
                            thread.join(timeout=0.5)  # wakes for Ctrl-C
                except KeyboardInterrupt:
                    self._stopped.set()
                    with self._lock:
                        for state in self.states.values():
                            if state.status in ("planned", "running", "retrying"):
                                state.status, state.reason = "interrupted", "Ctrl-C: rerun the campaign to resume"
                        self._save()
                        sessions = list(self._sessions.values())
                    # The cells' engines stopped first, so that no thread is inside a Ray call when this process
                    # leaves Ray; each session then closes as after any error, its manifest written.
                    for session in sessions:
                        session.cancel()
                    for thread in threads:
                        thread.join(timeout=_STOP_SECONDS)
                    raise
        return self.states

    def _cell(self, cell: CellPlan) -> None:
        state = self.states[cell.name]
        if cell.plan is None:
            self._change(cell.name, status="failed", reason=cell.problem)
            return
        for attempt in range(self.campaign.retries + 1):
            if self._stopped.is_set():
                return
            self._change(cell.name, status="running" if attempt == 0 else "retrying", attempts=state.attempts + 1)
            session_stack = ExitStack()
            try:
                with self._opening:
                    session = session_stack.enter_context(RunSession(cell.plan, RunEvents(self._progress(cell.name))))
            except OrcabenchError as error:  # the run cannot be opened (another process holds it, other settings)
                self._change(cell.name, status="failed", reason=str(error))
                return
            with self._lock:
                self._sessions[cell.name] = session
            try:
                with session_stack:  # closes the backend and writes the manifest, also when the engine died
                    if self._stopped.is_set():
                        return
                    session.execute()
            except Exception as error:  # noqa: BLE001 -- an engine lost or a bug: the cell's reason, the others go on
                reason = str(error) if isinstance(error, OrcabenchError) else f"{type(error).__name__}: {error}"
                state.reason = reason.splitlines()[0] if reason else type(error).__name__
                continue
            self._change(cell.name, status="done", reason=None)
            return
        self._change(cell.name, status="failed",
                     reason=f"{state.reason} (after {self.campaign.retries + 1} attempt(s) in this campaign run)")

    def _progress(self, cell: str) -> Callable[[RunEvent], None]:
        stored = 0

        def heard(event: RunEvent) -> None:
            nonlocal stored
            if isinstance(event, RecordsStored):
                stored += len(event.records)
                with self._lock:
                    self.listener(CellProgress(cell, stored, event.pending))
        return heard

    def _change(self, cell: str, **changes: object) -> None:
        with self._lock:
            if self._stopped.is_set():
                return  # interrupted: the state file says so, and a session torn down by Ctrl-C is no failure
            state = self.states[cell]
            for key, value in changes.items():
                setattr(state, key, value)
            self._save()
            self.listener(CellChanged(cell, CellState(**vars(state))))

    def _save(self) -> None:
        write_state(self.campaign.output, self.campaign.name, self.states)
