"""Phase timings for the run manifest: how long each step of a session took, in seconds.

A session's ``timings`` say where start-up goes (imports, tokenizer, weights, engine
start) without a profiler; ``docs/performance.md`` reads them.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager


class Timings(dict[str, float]):
    """Seconds per named phase, in the order the phases ran; a repeated phase adds up."""

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self[name] = round(self.get(name, 0.0) + time.perf_counter() - started, 3)
