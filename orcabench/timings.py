"""Phase timings for the run manifest: how long each step of a session took, in seconds.

A session's ``timings`` say where start-up goes (imports, tokenizer, weights, engine
start) without a profiler; ``docs/performance.md`` reads them.
"""

from __future__ import annotations

import importlib
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType


class Timings(dict[str, float]):
    """Seconds per named phase, in the order the phases ran; a repeated phase adds up."""

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self[name] = round(self.get(name, 0.0) + time.perf_counter() - started, 3)


# Seconds each heavy library took to import in this process (its first import only):
# a module imports once per process, so these are the process's, not a session's.
IMPORT_SECONDS: dict[str, float] = {}


def import_module(name: str) -> ModuleType:
    """``importlib.import_module``, timing the first import of ``name`` into :data:`IMPORT_SECONDS`."""
    if name in sys.modules:
        return sys.modules[name]
    started = time.perf_counter()
    module = importlib.import_module(name)
    IMPORT_SECONDS[name] = round(time.perf_counter() - started, 3)
    return module
