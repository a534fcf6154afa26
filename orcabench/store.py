"""The run store: one directory per run, a manifest plus an append-only records file.

Invariants: a record is never rewritten; records are appended and fsync'd as soon as
they exist, so a killed run loses at most the samples in flight; the manifest is
replaced atomically; one process at a time holds a run (a lock file); a run resumes only
under the settings it was started with (its fingerprint).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import tempfile
from datetime import datetime, timezone
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

from rich.console import Console

from orcabench.types import OrcabenchError, Record

MANIFEST = "manifest.json"
RECORDS = "records.jsonl"
LOCK = ".lock"
_stderr = Console(stderr=True)


def fingerprint_hash(fingerprint: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(fingerprint, sort_keys=True).encode()).hexdigest()


def _diff(old: Any, new: Any, prefix: str = "") -> list[str]:
    if isinstance(old, dict) and isinstance(new, dict):
        return [d for key in sorted(set(old) | set(new)) for d in _diff(old.get(key), new.get(key), f"{prefix}{key}.")]
    return [] if old == new else [f"{prefix.rstrip('.')}: {old!r} -> {new!r}"]


def write_json_atomic(path: Path, data: Any) -> None:
    with tempfile.NamedTemporaryFile("w", dir=path.parent, prefix=f".{path.name}.", delete=False, encoding="utf-8") as handle:
        json.dump(data, handle, indent=2, sort_keys=True)
        handle.write("\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(handle.name, path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


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
                record = Record.from_json(json.loads(line))
            except (json.JSONDecodeError, TypeError) as error:
                problems.append(f"{path}:{number}: unreadable record ({error})")
                continue
            records.setdefault(record.key, record)
    return records, problems


class RunStore:
    """An open run directory, locked for this process until :meth:`close`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock: IO[str] | None = None

    @property
    def manifest_path(self) -> Path:
        return self.path / MANIFEST

    @property
    def records_path(self) -> Path:
        return self.path / RECORDS

    def open(self, fingerprint: dict[str, Any]) -> RunStore:
        """Lock the run, check it was made with ``fingerprint`` and repair a torn tail."""
        self.path.mkdir(parents=True, exist_ok=True)
        self._lock = open(self.path / LOCK, "w")
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as error:
            self._lock.close()
            raise OrcabenchError(f"run {self.path} is in use by another orcabench process; wait for it or pick another --output") from error
        existing = self.manifest()
        if existing is not None and existing.get("fingerprint") != fingerprint:
            self.close()
            changes = "; ".join(_diff(existing.get("fingerprint"), fingerprint)[:5])
            raise OrcabenchError(
                f"run {self.path} was made with other settings ({changes}); rerun with the original settings or choose a new --output"
            )
        self._drop_torn_tail()
        return self

    def _drop_torn_tail(self) -> None:
        if not self.records_path.is_file():
            return
        with self.records_path.open("rb+") as handle:
            data = handle.read()
            keep = data.rfind(b"\n") + 1
            if keep < len(data):
                _stderr.print(f"[yellow]{self.records_path}: dropped a truncated last record; it will be recomputed[/yellow]")
                handle.truncate(keep)
                os.fsync(handle.fileno())

    def manifest(self) -> dict[str, Any] | None:
        if not self.manifest_path.is_file():
            return None
        try:
            return json.loads(self.manifest_path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as error:
            raise OrcabenchError(f"{self.manifest_path} is not valid JSON ({error}); move the run aside or fix the file") from error

    def write_manifest(self, manifest: dict[str, Any]) -> None:
        write_json_atomic(self.manifest_path, manifest)

    def records(self) -> dict[tuple[str, str], Record]:
        records, problems = read_records(self.records_path)
        for problem in problems:
            _stderr.print(f"[yellow]{problem}; that sample will be recomputed[/yellow]")
        return records

    def append(self, records: Iterable[Record]) -> None:
        lines = "".join(json.dumps(record.to_json(), ensure_ascii=False) + "\n" for record in records)
        if not lines:
            return
        with self.records_path.open("a", encoding="utf-8") as handle:
            handle.write(lines)
            handle.flush()
            os.fsync(handle.fileno())

    def replace_records(self, records: Iterable[Record]) -> Path:
        """Write a new records file atomically (rescore); the previous one is kept and returned."""
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
        backup = self.path / f"records.{stamp}.jsonl"
        with tempfile.NamedTemporaryFile("w", dir=self.path, prefix=".records.", delete=False, encoding="utf-8") as handle:
            handle.writelines(json.dumps(record.to_json(), ensure_ascii=False) + "\n" for record in records)
            handle.flush()
            os.fsync(handle.fileno())
        os.link(self.records_path, backup)
        os.replace(handle.name, self.records_path)
        return backup

    def close(self) -> None:
        if self._lock is not None:
            self._lock.close()
            self._lock = None
