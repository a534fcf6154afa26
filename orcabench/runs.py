"""Reading stored runs: a run directory as a manifest plus its records (gate, results, reports).

Writing belongs to :mod:`orcabench.store`; this module only reads, never locks for
writing, and refuses a run another process is still writing.
"""

from __future__ import annotations

import fcntl
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orcabench.schema import Manifest
from orcabench.store import LOCK, MANIFEST, RECORDS, read_json, read_records
from orcabench.types import OrcabenchError, Record


@dataclass(frozen=True)
class StoredRun:
    path: Path
    manifest: Manifest
    records: dict[tuple[str, str], Record]
    problems: list[str]  # "file:line: problem" for each records line that could not be read

    @property
    def fingerprint(self) -> dict[str, Any]:
        return self.manifest.fingerprint.to_json()

    @property
    def label(self) -> str:
        model = self.fingerprint.get("model", {})
        return f"{model.get('name', '?')} · {self.fingerprint.get('backend', '?')}"

    def tasks(self) -> list[str]:
        """Tasks in the run's fingerprint order, then any others its records hold."""
        return list(dict.fromkeys([*self.fingerprint.get("tasks", {}), *(task for task, _ in self.records)]))


def load_run(path: Path) -> StoredRun:
    manifest_path = path / MANIFEST
    if not manifest_path.is_file():
        raise OrcabenchError(f"{path} is not an orcabench run (no {MANIFEST}); pass a run directory made by `orcabench run`")
    manifest = Manifest.from_json(read_json(manifest_path), str(manifest_path))
    _refuse_if_running(path)
    records, problems = read_records(path / RECORDS)
    return StoredRun(path, manifest, records, problems)


def _refuse_if_running(path: Path) -> None:
    """A run still being written would be gated on a partial set of samples: refuse instead.

    ``orcabench run`` holds an exclusive lock on the run's lock file while it works; a
    shared, non-blocking lock attempt tells whether it does, without writing anything
    (baselines may live on read-only storage).
    """
    lock_path = path / LOCK
    if not lock_path.is_file():
        return
    with lock_path.open("r") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError as error:
            raise OrcabenchError(f"run {path} is being written by an orcabench process; "
                                 "gate it when that run has finished") from error
        fcntl.flock(handle, fcntl.LOCK_UN)


def natural_order(sample_id: str) -> tuple[Any, ...]:
    """Sort key that puts "2" before "10" (ids are often dataset positions)."""
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", sample_id))
