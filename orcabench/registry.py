"""One registry shape for everything orcabench finds by name: tasks, suites, models, protocols, backends.

A :class:`Registry` is a read-only mapping from name to object that remembers where each
entry came from, fills itself on first use (built-ins, task folders, installed packages'
entry points), and refuses a second entry under a name already taken, naming both sources:
a plugin never silently replaces a built-in, nor one task file another.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from importlib.metadata import entry_points
from typing import Any, Generic, TypeVar

from orcabench.types import OrcabenchError

T = TypeVar("T")


class Registry(Mapping[str, T], Generic[T]):
    """Name → object, with the source of each entry; ``discover`` runs once, before the first read."""

    def __init__(self, kind: str, discover: Callable[[Registry[T]], None] | None = None) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}
        self._sources: dict[str, str] = {}
        self._discover = discover
        self._discovering = False

    def add(self, name: str, item: T, source: str | None = None) -> None:
        """Register ``item`` as ``name``; ``source`` (default: the calling file) is named in errors."""
        source = source or caller_file(1)
        # The same file run again (runpy, a reload) redefines its own entry; another source may not.
        if name in self._items and self._sources[name] != source:
            raise OrcabenchError(f"{self.kind} {name!r} is defined twice: by {self._sources[name]} and by {source}; "
                                 "rename one of them")
        self._items[name] = item
        self._sources[name] = source

    def source(self, name: str) -> str:
        self._ensure()
        return self._sources[name]

    def lookup(self, name: str) -> T:
        """The entry, or one line naming the choices."""
        self._ensure()
        if name not in self._items:
            raise OrcabenchError(f"unknown {self.kind} {name!r}: choose one of {', '.join(self._items)}")
        return self._items[name]

    def load_entry_points(self, group: str, add: Callable[[str, Any, str], None]) -> None:
        """Hand each installed ``group`` entry point's loaded object to ``add(name, object, source)``."""
        for entry in entry_points(group=group):
            source = f"entry point {entry.name} = {entry.value} ({group})"
            with loading_plugin(source, "fix or uninstall the package that provides it"):
                add(entry.name, entry.load(), source)

    def _ensure(self) -> None:
        if self._discover is not None and not self._discovering:
            discover, self._discover = self._discover, None
            self._discovering = True
            try:
                discover(self)
            finally:
                self._discovering = False

    def __getitem__(self, name: str) -> T:
        self._ensure()
        return self._items[name]

    def __iter__(self) -> Iterator[str]:
        self._ensure()
        return iter(self._items)

    def __len__(self) -> int:
        self._ensure()
        return len(self._items)


@contextmanager
def loading_plugin(source: str, fix: str) -> Iterator[None]:
    """Turn any error raised while loading user code (a task file, a plugin) into one line naming it.

    A broken plugin must not crash every command with a traceback (``orcabench list tasks``
    included): the line names the file (and the line in it, where known), the error and ``fix``.
    """
    try:
        yield
    except OrcabenchError:
        raise
    except Exception as error:  # noqa: BLE001 - user code can raise anything
        message = error.msg if isinstance(error, SyntaxError) else str(error)
        raise OrcabenchError(f"{source} failed to load: {_where(error, source)}"
                             f"{type(error).__name__}: {message}; {fix}") from error


def _where(error: BaseException, source: str) -> str:
    """``line N: `` of the innermost frame in ``source`` (or of a SyntaxError), where there is one."""
    if isinstance(error, SyntaxError) and error.lineno is not None:
        return f"line {error.lineno}: "
    lines = [frame.lineno for frame in traceback.extract_tb(error.__traceback__) if frame.filename == source]
    return f"line {lines[-1]}: " if lines else ""


def caller_file(depth: int = 1) -> str:
    """The file ``depth`` frames above the caller (a task file, a plugin module), for error messages."""
    frame = sys._getframe(depth + 1)
    return str(frame.f_globals.get("__file__", "?"))
