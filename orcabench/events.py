"""What a run tells its callers as it goes: one channel of typed events.

A :class:`orcabench.engine.session.RunSession` (and the loop it drives) emits, in order:
:class:`Opened` (the run directory is locked), :class:`Planned` (what is left to do),
:class:`Estimated` and :class:`Warned` (before the engine loads), :class:`BackendLoading`,
:class:`Started` (the engine is up, generation begins), :class:`RecordsStored` (each group as
it is stored), :class:`Finished`, and :class:`Warned` again for what generation showed. The
sequential gate adds :class:`ChunkDone` after each chunk. The console, the gate's progress
lines, a notebook and tests subscribe; an event nobody listens to costs nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from orcabench.types import Record


@dataclass(frozen=True)
class Opened:
    """The run directory exists and this process holds it."""

    run_dir: Path


@dataclass(frozen=True)
class Planned:
    """What this session has to do: examples per task in the plan, and how many are still to score."""

    planned: dict[str, int]
    pending: int
    requests: int


@dataclass(frozen=True)
class Estimated:
    """One line: requests, prompt tokens, the generation budget and, with history, the expected time."""

    line: str


@dataclass(frozen=True)
class Warned:
    """Something that matters to the results (also stored in the session's ``warnings``)."""

    message: str


@dataclass(frozen=True)
class BackendLoading:
    """The backend is about to load (the only expensive step); ``replicas``: engine replicas, None for one in-process."""

    backend: str
    model_path: str
    replicas: int | None = None


@dataclass(frozen=True)
class Started:
    """The backend is loaded; ``totals``: samples to score this time, per task."""

    totals: dict[str, int]


@dataclass(frozen=True)
class RecordsStored:
    """Records just stored (each has its task and output tokens); ``pending``: samples this call had to score."""

    records: tuple[Record, ...]
    pending: int


@dataclass(frozen=True)
class ChunkDone:
    """The sequential gate finished a chunk: pairs used so far, of those available, the tasks still open and
    those whose pairs ran out before their bets settled them (the fixed-n verdict decides those)."""

    chunk: int
    pairs_used: int
    pairs_available: int
    still_open: tuple[str, ...] = field(default=())
    unsettled: tuple[str, ...] = field(default=())

    def line(self) -> str:
        states = []
        if self.still_open:
            states.append("still open: " + ", ".join(self.still_open))
        if self.unsettled:
            states.append("pairs used up before settling: " + ", ".join(self.unsettled) + " (fixed-n verdict)")
        state = "; ".join(states) or "every required task settled"
        return f"chunk {self.chunk}: {self.pairs_used:,} of {self.pairs_available:,} pairs; {state}"


@dataclass(frozen=True)
class Finished:
    """Generation is over (or failed); the summary follows."""


RunEvent = Opened | Planned | Estimated | Warned | BackendLoading | Started | RecordsStored | ChunkDone | Finished
Subscriber = Callable[[RunEvent], None]


class RunEvents:
    """The channel: :meth:`emit` hands each event to every subscriber, in the order they subscribed."""

    def __init__(self, *subscribers: Subscriber) -> None:
        self._subscribers: list[Subscriber] = list(subscribers)

    def subscribe(self, subscriber: Subscriber) -> None:
        self._subscribers.append(subscriber)

    def emit(self, event: RunEvent) -> None:
        for subscriber in self._subscribers:
            subscriber(event)
