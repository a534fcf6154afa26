"""orcabench's own console lines, with the engines' output kept out of them.

vLLM's EngineCore process, Ray workers, torch and C++ code write straight to file
descriptors 1 and 2, so configuring Python logging cannot quiet them: while an engine
runs, :class:`EngineCapture` points fds 1 and 2 at ``RUN_DIR/engine.log`` and orcabench's
console (:data:`err`) writes to a copy of the original terminal descriptor instead.
:class:`RunDisplay` is the run's console: the estimate, what is loading, one live
progress line, the warnings; ``--verbose`` (``ORCABENCH_VERBOSE=1``) leaves the engines'
output on the terminal as it comes.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any, Self

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from orcabench.events import ChunkDone, Estimated, Finished, Opened, RecordsStored, RunEvent, Started, Warned
from orcabench.types import Record

ENGINE_LOG = "engine.log"
VERBOSE_ENV = "ORCABENCH_VERBOSE"
# Python loggers whose handlers are pointed at the engine log too (they may hold a stream
# other than fds 1/2, e.g. a notebook's or pytest's sys.stdout).
ENGINE_LOGGERS = ("vllm", "transformers", "torch", "ray", "huggingface_hub", "datasets", "lm_eval")

err = Console(stderr=True)  # orcabench's stderr lines: the terminal, also while engine output is captured
log = logging.getLogger("orcabench")


def say(message: str, style: str | None = None) -> None:
    """One plain line on orcabench's stderr: no markup, no highlighting, never wrapped."""
    err.print(message, style=style, markup=False, highlight=False, soft_wrap=True)


def warn(message: str) -> None:
    say(f"warning: {message}", style="yellow")


def open_in_browser(path: Path) -> None:
    """Open a local file in the default web browser, or say plainly that there is none."""
    import webbrowser

    uri = path.resolve().as_uri()
    try:
        browser = webbrowser.get()
    except webbrowser.Error:
        say(f"no web browser found on this machine: open {uri} by hand")
        return
    say(f"opened {uri}" if browser.open(uri) else f"the browser did not open {uri}: open it by hand")


def verbose_from_env() -> bool:
    return os.environ.get(VERBOSE_ENV, "").strip().lower() not in ("", "0", "false", "no", "off")


class _SayHandler(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.WARNING:
            warn(record.getMessage())
        else:
            say(record.getMessage())


def show_orcabench_log() -> None:
    """Show orcabench's own INFO lines (what is loading, and why it takes time) on :data:`err`; idempotent.

    Library callers who never call this see only warnings, through Python's last-resort handler.
    """
    if not any(isinstance(h, _SayHandler) for h in log.handlers):
        log.addHandler(_SayHandler())
    log.setLevel(logging.INFO)
    log.propagate = False


def _flush_c_stdio() -> None:
    """Flush C-level stdout/stderr buffers so their bytes land where they were written from."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).fflush(None)


class EngineCapture:
    """Points fds 1 and 2, and the engines' Python loggers, at a log file until :meth:`stop`.

    :meth:`start` may begin with a temporary file (before the run directory is known: the
    bundled model's conversion); :meth:`move_to` appends what it holds to the run's
    ``engine.log`` and continues there.
    """

    def __init__(self) -> None:
        self.path: Path | None = None
        self._saved: tuple[int, int] | None = None
        self._terminal: IO[str] | None = None
        self._stream: IO[str] | None = None
        self._swapped: list[tuple[logging.StreamHandler[Any], Any]] = []

    @property
    def active(self) -> bool:
        return self._saved is not None

    def start(self, path: Path) -> None:
        sys.stdout.flush()
        sys.stderr.flush()
        _flush_c_stdio()
        self._saved = (os.dup(1), os.dup(2))
        self._terminal = os.fdopen(os.dup(self._saved[1]), "w", buffering=1, encoding="utf-8", errors="replace")
        with contextlib.suppress(OSError):
            err.width = os.get_terminal_size(self._saved[1]).columns  # fds 0-2 no longer tell rich the width
        err.file = self._terminal
        self._point_at(path)

    def move_to(self, path: Path) -> None:
        if not self.active or self.path == path:
            return
        previous = self.path
        self._flush()
        path.parent.mkdir(parents=True, exist_ok=True)
        if previous is not None and previous.is_file():
            with previous.open("rb") as source, path.open("ab") as target:
                shutil.copyfileobj(source, target)
        self._point_at(path)
        if previous is not None:
            previous.unlink(missing_ok=True)

    def stop(self) -> None:
        if self._saved is None:
            return
        self._flush()
        for handler, stream in self._swapped:
            handler.setStream(stream)
        self._swapped = []
        os.dup2(self._saved[0], 1)
        os.dup2(self._saved[1], 2)
        for fd in self._saved:
            os.close(fd)
        self._saved = None
        err.file = None  # type: ignore[assignment]  # back to following sys.stderr
        err.width = None  # type: ignore[assignment]
        for stream in (self._terminal, self._stream):
            if stream is not None:
                stream.close()
        self._terminal = self._stream = None

    def _flush(self) -> None:
        sys.stdout.flush()
        sys.stderr.flush()
        _flush_c_stdio()
        if self._stream is not None:
            self._stream.flush()

    def _point_at(self, path: Path) -> None:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        os.close(fd)
        old = self._stream
        self._stream = path.open("a", encoding="utf-8", buffering=1)
        self.path = path
        self.route_loggers()
        if old is not None:
            old.close()

    def route_loggers(self) -> None:
        """Point the engines' Python log handlers at the log file (again: engines add handlers when imported)."""
        if self._stream is None:
            return
        swapped = {id(handler) for handler, _ in self._swapped}
        for name in ENGINE_LOGGERS:
            for handler in logging.getLogger(name).handlers:
                if isinstance(handler, logging.StreamHandler) and not isinstance(handler, logging.FileHandler):
                    previous = handler.setStream(self._stream)
                    if id(handler) not in swapped:
                        self._swapped.append((handler, previous))
                        swapped.add(id(handler))


def markdown_row(cells: Sequence[object]) -> str:
    """One GitHub Markdown table row. A ``|`` in a cell (a model named ``a|b``) would split the cell and a
    line break would end the row, so the first is escaped and the second becomes a space."""
    return "| " + " | ".join(" ".join(str(cell).replace("|", "\\|").split()) for cell in cells) + " |"


def duration(seconds: float) -> str:
    """A short human duration: "45 s", "3 min 05 s", "1 h 20 min"."""
    seconds = max(0, round(seconds))
    if seconds < 90:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 90:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def show_chunks(event: RunEvent) -> None:
    """The sequential gate's progress: one line per chunk (a subscriber of :class:`orcabench.events.RunEvents`)."""
    if isinstance(event, ChunkDone):
        say(event.line())


class RunDisplay:
    """The console of one ``orcabench run``: orcabench's lines only, the engines' output in ``engine.log``.

    Used as a context manager around the run, and subscribed to its :class:`orcabench.events.RunEvents`
    (it is called with each event).
    """

    def __init__(self, verbose: bool = False) -> None:
        self.capture = None if verbose else EngineCapture()
        self.progress: Progress | None = None
        self._bar: Any = None
        self._totals: dict[str, int] = {}
        self._done: dict[str, int] = {}
        self._tokens = 0
        self._started = 0.0

    def __enter__(self) -> Self:
        if self.capture is not None:
            handle, name = tempfile.mkstemp(prefix="orcabench-engine-", suffix=".log")
            os.close(handle)
            self.capture.start(Path(name))
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop_progress()
        if self.capture is None:
            return
        path = self.capture.path
        self.capture.stop()
        if path is not None and path.name != ENGINE_LOG:  # the run never got a directory
            if path.is_file() and path.stat().st_size:
                say(f"engine output so far: {path}")
            else:
                path.unlink(missing_ok=True)

    # the run's events

    def __call__(self, event: RunEvent) -> None:
        if isinstance(event, Opened):
            self.opened(event.run_dir)
        elif isinstance(event, Estimated):
            say(event.line)
        elif isinstance(event, Warned):
            warn(event.message)
        elif isinstance(event, Started):
            self.started(event.totals)
        elif isinstance(event, RecordsStored):
            self.records(event.records)
        elif isinstance(event, Finished):
            self._stop_progress()

    def opened(self, run_dir: Path) -> None:
        if self.capture is not None:
            self.capture.move_to(run_dir / ENGINE_LOG)
            say(f"engine output: {run_dir / ENGINE_LOG} (--verbose shows it here)")

    def started(self, totals: dict[str, int]) -> None:
        """Generation begins (the engine is up): one live line from here on."""
        if self.capture is not None:
            self.capture.route_loggers()
        self._totals = dict(totals)
        self._done = dict.fromkeys(totals, 0)
        self._started = time.monotonic()
        self.progress = Progress(
            TextColumn("{task.description}"), BarColumn(bar_width=24), TextColumn("{task.fields[stats]}"),
            TimeElapsedColumn(), console=err, transient=False, redirect_stdout=False, redirect_stderr=False,
            refresh_per_second=4,
        )
        self.progress.start()
        self._bar = self.progress.add_task(self._counts(), total=sum(totals.values()), stats="")

    def records(self, records: Sequence[Record]) -> None:
        if self.progress is None:
            return
        for record in records:
            self._done[record.task] = self._done.get(record.task, 0) + 1
            self._tokens += record.output_tokens
        self.progress.update(self._bar, advance=len(records), description=self._counts(), stats=self.stats())

    # display

    def _counts(self) -> str:
        counts = [f"{task} {self._done.get(task, 0)}/{total}" for task, total in self._totals.items()]
        if len(counts) > 1:
            counts.append(f"all {sum(self._done.values())}/{sum(self._totals.values())}")
        return " · ".join(counts)

    def stats(self) -> str:
        """samples/s, generated tokens/s and the ETA at the rate so far."""
        elapsed = max(time.monotonic() - self._started, 1e-6)
        done, total = sum(self._done.values()), sum(self._totals.values())
        rate = done / elapsed
        eta = f"ETA {duration((total - done) / rate)}" if rate and done < total else ""
        return " · ".join(part for part in (f"{rate:.2f} samples/s", f"{self._tokens / elapsed:.0f} tok/s", eta) if part)

    def _stop_progress(self) -> None:
        if self.progress is not None:
            self.progress.update(self._bar, stats=self.stats())
            self.progress.stop()
            self.progress = None
