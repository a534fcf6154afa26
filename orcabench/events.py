"""What a run tells its caller as it goes (the CLI's console; a notebook may pass its own).

:func:`orcabench.api.run` calls these in order: ``opened`` (the run directory is locked),
``estimate`` and ``warning`` (before the engine loads), ``started`` (the engine is up,
generation begins), ``records`` (each group as it is stored), ``finished``. The base class
does nothing, so a caller overrides only what it shows.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from orcabench.types import Record


class RunEvents:
    def opened(self, run_dir: Path) -> None:
        """The run directory exists and this process holds it."""

    def estimate(self, line: str) -> None:
        """One line: requests, prompt tokens, the generation budget and, with history, the expected time."""

    def warning(self, message: str) -> None:
        """Something that matters to the results (also stored in the session's ``warnings``)."""

    def started(self, totals: dict[str, int]) -> None:
        """The backend is loaded; ``totals``: samples to score this time, per task."""

    def records(self, records: Sequence[Record]) -> None:
        """Records just stored (each has its task and output tokens)."""

    def finished(self) -> None:
        """Generation is over (or failed); the summary follows."""
