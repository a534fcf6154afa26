"""Local data mirrors: check one against its manifest and the tasks' parsers, or write one from the Hub."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from orcabench.task.data import download, in_mirror, manifest_mismatches
from orcabench.engine.plan import checked_data_dir, load_examples
from orcabench.store.writer import write_json_atomic
from orcabench.task import all_tasks, get_tasks
from orcabench.types import Example, OrcabenchError


@dataclass(frozen=True)
class DataCheck:
    task: str
    status: str  # "ok" | "absent" (no file of it in the mirror, not asked for) | "failed"
    examples: int
    problems: list[str]


def check_data(data_dir: Path | None, task_names: Sequence[str] = ()) -> list[DataCheck]:
    """Validate a local mirror: files present, sha256 as its manifest.json says, every row readable."""
    mirror = checked_data_dir(data_dir)
    if mirror is None:
        raise OrcabenchError("no mirror to check: pass --data-dir DIR or set ORCABENCH_DATA_DIR")
    tasks = get_tasks(task_names) if task_names else sorted(all_tasks(), key=lambda t: t.name)
    checks = []
    for task in tasks:
        if not task_names and not in_mirror(task.data, mirror):
            checks.append(DataCheck(task.name, "absent", 0, []))
            continue
        problems: list[str] = []
        examples: list[Example] = []
        try:
            examples, provenance = load_examples(task, mirror, strict=True)
        except OrcabenchError as error:
            problems.append(str(error))
        else:
            problems += manifest_mismatches(mirror, provenance["files"])
        checks.append(DataCheck(task.name, "failed" if problems else "ok", len(examples), problems))
    return checks


def download_data(task_names: Sequence[str], out_dir: Path) -> dict[str, dict[str, Any]]:
    """Fetch tasks' data from the Hub into a verified local mirror (for air-gapped clusters).

    Files land under ``out_dir/hub/``; ``out_dir/manifest.json`` records each file's sha256,
    size and example count, so ``orcabench data check`` can verify the copy later.
    """
    if not task_names:
        raise OrcabenchError("name the tasks to download: --tasks gsm8k,bbh (or a suite such as orca2)")
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest_path = out_dir / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.is_file() else {}
    files: dict[str, dict[str, Any]] = manifest.setdefault("files", {})
    for task in get_tasks(task_names):
        files.update(download(task.data, task.name, out_dir))
        manifest.setdefault("downloaded", {})[task.name] = datetime.now(timezone.utc).isoformat()
        write_json_atomic(manifest_path, manifest)  # after each task: an interrupted download keeps what it fetched
    return files
