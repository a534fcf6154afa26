"""The run store: one directory per run, a manifest plus an append-only records file.

Invariants: a record is never rewritten; records are appended and flushed to the OS as
soon as they exist, so a killed run loses at most the samples in flight (and fsync'd at
least every FSYNC_SECONDS and on close, bounding what a power cut can take); the manifest is
replaced atomically; one process at a time holds a run (a lock file); a run resumes only
under the settings it was started with (its fingerprint).
"""

from __future__ import annotations

import fcntl
import json
import math
import os
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any

from orcabench.store.files import ensure_directory, fsync_directory, write_atomic
from orcabench.store.schema import Fingerprint, Manifest, Session, now
from orcabench.types import OrcabenchError, Record

MANIFEST = "manifest.json"
RECORDS = "records.jsonl"
LOCK = ".lock"
FSYNC_SECONDS = 1.0


def write_json_atomic(path: Path, data: Any, owned_run: bool = False) -> None:
    """``data`` as indented JSON, replacing ``path`` at once (:func:`orcabench.store.files.write_atomic`)."""
    write_atomic(path, json.dumps(data, indent=2, sort_keys=True) + "\n", flag="file", owned_run=owned_run)


def read_json(path: Path, fix: str = "") -> Any:
    """A JSON file's content; a malformed file is one OrcabenchError naming it (and ``fix``, how to fix it)."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise OrcabenchError(f"{path} is not valid JSON ({error}){'; ' + fix if fix else ''}") from error
    except OSError as error:
        raise OrcabenchError(f"{path} cannot be read ({error.strerror or error}); check its permissions") from error


def parse_record_line(line: str) -> Record:
    """One records.jsonl line as a Record; ValueError says why it is not one.

    Beyond JSON syntax, the fields the run loop and the gate rely on are checked: a line
    that parses but holds a non-string id or a non-numeric score would otherwise be
    skipped silently on resume or break a summary later.
    """
    try:
        data = json.loads(line)
    except json.JSONDecodeError as error:
        raise ValueError(str(error)) from error
    if not isinstance(data, dict):
        raise ValueError(f"expected a JSON object, got {type(data).__name__}")
    try:
        record = Record.from_json(data)
    except TypeError as error:
        raise ValueError(str(error)) from error
    if not isinstance(record.task, str) or not isinstance(record.id, str):
        raise ValueError("task and id must be strings")
    if isinstance(record.score, bool) or not isinstance(record.score, (int, float)) or not math.isfinite(record.score):
        raise ValueError(f"score must be a finite number, not {record.score!r}")
    return record


def drop_torn_tail(path: Path) -> bool:
    """Cut an append-only JSONL file back to its last complete line; True when a fragment went.

    A process killed mid-write leaves a line without its newline: appending after it would
    glue the next line onto the fragment. Call only while holding the run's lock.
    """
    if not path.is_file():
        return False
    with path.open("rb+") as handle:
        data = handle.read()
        keep = data.rfind(b"\n") + 1
        if keep == len(data):
            return False
        handle.truncate(keep)
        os.fsync(handle.fileno())
    return True


def read_records(path: Path) -> tuple[dict[tuple[str, str], Record], list[str]]:
    """Records by (task, id), and a 'file:line: problem' for each line that could not be read.

    A torn last line (no newline: the process died mid-write) is reported as truncated;
    the first copy of a duplicated key wins, as records are never rewritten.
    """
    records: dict[tuple[str, str], Record] = {}
    problems: list[str] = []
    if not path.is_file():
        return records, problems
    with path.open(encoding="utf-8", errors="replace") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.endswith("\n"):
                problems.append(f"{path}:{number}: truncated last line")
                break
            if not line.strip():
                continue
            try:
                record = parse_record_line(line)
            except ValueError as error:
                problems.append(f"{path}:{number}: unreadable record ({error})")
                continue
            records.setdefault(record.key, record)
    return records, problems


class RunStore:
    """An open run directory, locked for this process until :meth:`close`.

    The store does not print: what it repaired or skipped (a torn last line, unreadable
    records) waits in :meth:`take_notices` for its caller to show.
    """

    def __init__(self, path: Path, when_busy: str = "wait for it or pick another --output") -> None:
        self.path = path
        self.when_busy = when_busy  # what to do when another process holds the run, in the command's own terms
        self._lock: IO[str] | None = None
        self._synced = 0.0  # time.monotonic() of the last fsync of the records file
        self._notices: list[str] = []

    def take_notices(self) -> list[str]:
        """What the store repaired or skipped since the last call, one line each (each sample named is recomputed)."""
        notices, self._notices = self._notices, []
        return notices

    @property
    def manifest_path(self) -> Path:
        return self.path / MANIFEST

    @property
    def records_path(self) -> Path:
        return self.path / RECORDS

    def open(self, fingerprint: Fingerprint) -> RunStore:
        """Lock the run, check it was made with ``fingerprint`` and repair a torn tail."""
        ensure_directory(self.path, "run directory")
        try:
            self._lock = open(self.path / LOCK, "w")
        except OSError as error:
            raise OrcabenchError(f"run directory {self.path} is not writable ({error.strerror}): orcabench cannot lock it; "
                                 "copy the run somewhere writable or fix its permissions") from error
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as error:
            self._lock.close()
            raise OrcabenchError(f"run {self.path} is in use by another orcabench process; {self.when_busy}") from error
        try:
            self.check_resumable(fingerprint)
        except OrcabenchError:
            self.close()
            raise
        self._drop_torn_tail()
        self._set_aside_unreadable_lines()
        self._remove_stale_temporaries()
        return self

    def _set_aside_unreadable_lines(self) -> None:
        """Move corrupt lines out of records.jsonl so their samples are recomputed exactly once.

        Left in place, a corrupt line would be reported on every later load, long after its
        sample was recomputed and appended. The original file is kept beside the run
        (hard-linked, like a rescore's) and the readable lines are copied byte for byte
        into a new records file that replaces it atomically: no record is altered.
        """
        if not self.records_path.is_file():
            return
        keep: list[bytes] = []
        problems: list[str] = []
        with self.records_path.open("rb") as handle:
            for number, raw in enumerate(handle, start=1):
                if not raw.strip():
                    continue
                try:
                    parse_record_line(raw.decode("utf-8", errors="replace"))
                except ValueError as error:
                    problems.append(f"{self.records_path}:{number}: unreadable record ({error})")
                    continue
                keep.append(raw)
        if not problems:
            return
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
        aside = self.path / f"records.{stamp}.unreadable.jsonl"
        os.link(self.records_path, aside)  # before the rename: the original is never without a name
        write_atomic(self.records_path, b"".join(keep), flag="records", owned_run=True)
        self._notices += [f"{problem}; that sample will be recomputed (original file kept as {aside.name})"
                          for problem in problems]

    def _remove_stale_temporaries(self) -> None:
        """Temp files of atomic writes interrupted by a kill; safe to delete while we hold the lock."""
        for pattern in (f".{MANIFEST}.*", ".records.*"):
            for leftover in self.path.glob(pattern):
                leftover.unlink(missing_ok=True)

    def _drop_torn_tail(self) -> None:
        if drop_torn_tail(self.records_path):
            self._notices.append(f"{self.records_path}: dropped a truncated last record; it will be recomputed")

    def check_resumable(self, fingerprint: Fingerprint) -> None:
        """Refuse a run made with other settings (also asked, without the lock, by ``--dry-run``)."""
        existing = self.manifest()
        if existing is not None and existing.fingerprint != fingerprint:
            changes = "; ".join(existing.fingerprint.differences(fingerprint)[:5])
            raise OrcabenchError(
                f"run {self.path} was made with other settings ({changes}); "
                "rerun with the original settings or choose a new --output"
            )

    def manifest(self) -> Manifest | None:
        if not self.manifest_path.is_file():
            return None
        return Manifest.from_json(read_json(self.manifest_path, "move the run aside or fix the file"), str(self.manifest_path))

    def write_manifest(self, manifest: Manifest) -> None:
        write_json_atomic(self.manifest_path, manifest.to_json(), owned_run=True)

    def records(self) -> dict[tuple[str, str], Record]:
        records, problems = read_records(self.records_path)
        self._notices += [f"{problem}; that sample will be recomputed" for problem in problems]
        return records

    def append(self, records: Iterable[Record]) -> None:
        lines = "".join(json.dumps(record.to_json(), ensure_ascii=False) + "\n" for record in records)
        if not lines:
            return
        created = not self.records_path.exists()
        with self.records_path.open("a", encoding="utf-8") as handle:
            handle.write(lines)
            handle.flush()  # in the OS now: a killed process loses nothing written
            # fsync costs ~4 ms, and vLLM finishes requests every engine step: sync at most
            # once per FSYNC_SECONDS (and on close), so a power cut loses at most that much.
            if created or time.monotonic() - self._synced >= FSYNC_SECONDS:
                os.fsync(handle.fileno())
                self._synced = time.monotonic()
        if created:  # the first records survive a power cut only if the file's name does too
            fsync_directory(self.path)

    def replace_records(self, records: Iterable[Record]) -> Path:
        """Write a new records file atomically (rescore); the previous one is kept and returned."""
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
        backup = self.path / f"records.{stamp}.jsonl"
        text = "".join(json.dumps(record.to_json(), ensure_ascii=False) + "\n" for record in records)
        if self.records_path.exists():
            os.link(self.records_path, backup)  # before the rename: the previous records are never without a name
        write_atomic(self.records_path, text, flag="records", owned_run=True)  # keeps the file's permissions
        return backup

    def __enter__(self) -> RunStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._lock is not None and self.records_path.exists():  # whatever the last append left unsynced
            with self.records_path.open("a", encoding="utf-8") as handle:
                os.fsync(handle.fileno())
        if self._lock is not None:
            self._lock.close()
            self._lock = None


@contextmanager
def run_session(run_dir: Path, fingerprint: Fingerprint, model_path: str, data: dict[str, Any], session: Session,
                clock: float | None = None, on_finish: Callable[[RunStore, Manifest], None] | None = None
                ) -> Iterator[tuple[RunStore, Manifest, Session]]:
    """Open (or create) a run, add ``session`` to its manifest, and finish it on the way out.

    Its one caller is :meth:`orcabench.engine.session.RunSession.open_store`, which every
    writer of runs goes through (``orcabench run``, the sequential gate, lm-eval runs and
    imports): the manifest is written when the session starts, so an interrupted one is
    still listed, and again with its end time when it finishes (``seconds`` counted from
    ``clock``, a ``time.time()``, default now), and ``on_finish`` is called then, the lock still
    held (the run session writes ``results.json`` there). The lock is always released.
    """
    clock = time.time() if clock is None else clock
    store = RunStore(run_dir).open(fingerprint)
    try:
        manifest = store.manifest() or Manifest.new(fingerprint, model_path, data)
        session.started = session.started or now()
        manifest.sessions.append(session)
        store.write_manifest(manifest)
        yield store, manifest, session
        session.finished = now()
        session.seconds = round(time.time() - clock, 3)
        store.write_manifest(manifest)
        if on_finish is not None:
            on_finish(store, manifest)
    finally:
        store.close()
