"""Reading stored runs: a run directory as a manifest plus its records (gate, results, reports).

Writing belongs to :mod:`orcabench.store.writer`; this module only reads, never locks for
writing, and refuses a run another process is still writing.
"""

from __future__ import annotations

import fcntl
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orcabench.store.schema import Fingerprint, Manifest
from orcabench.store.writer import LOCK, MANIFEST, RECORDS, read_json, read_records
from orcabench.types import OrcabenchError, Record


@dataclass(frozen=True)
class StoredRun:
    path: Path
    manifest: Manifest
    records: dict[tuple[str, str], Record]
    problems: list[str]  # "file:line: problem" for each records line that could not be read

    @property
    def fingerprint(self) -> Fingerprint:
        return self.manifest.fingerprint

    @property
    def label(self) -> str:
        return self.fingerprint.label

    def variants(self, task: str) -> list[str]:
        """The task's variants in the run's order (``--prompt-variants``, ``--circular``); [] for a run without them."""
        return self.fingerprint.variants(task, self.records.values())

    def task_records(self, task: str) -> list[Record]:
        """The task's records as a leaderboard counts them (``Fingerprint.leaderboard_records``)."""
        return self.fingerprint.leaderboard_records(task, self.records.values())

    def tasks(self) -> list[str]:
        """Tasks in the run's fingerprint order, then any others its records hold."""
        return list(dict.fromkeys([*self.fingerprint.tasks, *(record.task for record in self.records.values())]))


def not_a_run(path: Path, fix: str) -> OrcabenchError:
    """The error for a path given as a run that is none, saying what it is instead.

    A file of a run (its records.jsonl or manifest.json) names the run's folder; a missing
    path, another file and a folder without a manifest are each said as such, never one
    "does not exist" for all.
    """
    if path.is_file() and (path.parent / MANIFEST).is_file():
        return OrcabenchError(f"{path} is a file of the run {path.parent}; pass the run's folder, {path.parent}")
    if path.is_file():
        return OrcabenchError(f"{path} is a file, not an orcabench run; {fix}")
    if path.is_dir():
        return OrcabenchError(f"{path} is not an orcabench run (no {MANIFEST} in it); {fix}")
    return OrcabenchError(f"{path} does not exist; {fix}")


def load_run(path: Path, while_written: bool = False) -> StoredRun:
    """A stored run; one another process is still writing is refused unless ``while_written`` (listing it, not scoring it)."""
    manifest_path = path / MANIFEST
    if not manifest_path.is_file():
        raise not_a_run(path, "pass a run directory made by `orcabench run`")
    manifest = Manifest.from_json(read_json(manifest_path), str(manifest_path))
    if not while_written:
        _refuse_if_running(path)
    try:
        records, problems = read_records(path / RECORDS)
    except OSError as error:
        raise OrcabenchError(f"{path / RECORDS} cannot be read ({error.strerror or error}); check its permissions") from error
    return StoredRun(path, manifest, records, problems)


def _refuse_if_running(path: Path) -> None:
    """A run still being written would be gated on a partial set of samples: refuse instead."""
    if being_written(path):
        raise OrcabenchError(f"run {path} is being written by an orcabench process; gate it when that run has finished")


def being_written(path: Path) -> bool:
    """Whether an orcabench process holds the run now.

    ``orcabench run`` holds an exclusive lock on the run's lock file while it works; a
    shared, non-blocking lock attempt tells whether it does, without writing anything
    (baselines may live on read-only storage).
    """
    lock_path = path / LOCK
    if not lock_path.is_file():
        return False
    with lock_path.open("r") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
    return False


def find_runs(path: Path) -> list[Path]:
    """Run directories at or under ``path``: folders holding a manifest and records (or ``path`` itself)."""
    return sorted(p.parent for p in path.rglob(MANIFEST) if (p.parent / RECORDS).exists() or p.parent == path)


def natural_order(sample_id: str) -> tuple[Any, ...]:
    """Sort key that puts "2" before "10" (ids are often dataset positions)."""
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", sample_id))
