"""Sample records and run directories for the store, fault, gate and report tests: one definition for all."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from orcabench.store.schema import Fingerprint
from orcabench.types import Record

FINGERPRINT = Fingerprint.from_json({"model": {"name": "m"}, "backend": "hf", "tasks": {"gsm8k": {"version": "1"}}})


def record(sample_id: str, score: float = 1.0) -> Record:
    return Record(task="gsm8k", id=sample_id, subtask=None, prompt="p", prompt_sha256="h", output=f"out {sample_id}",
                  answer="1", method="last-number", gold="1", score=score, prompt_tokens=3, output_tokens=2,
                  finish_reason="stop")


def fingerprint(tasks: dict[str, list[float]], **changes: Any) -> dict[str, Any]:
    """A run fingerprint; ``changes`` set nested keys, ``model__name="other"`` style."""
    fp = {"schema_version": 1, "protocol": "default", "backend": "hf", "sampling": {"max_tokens": None},
          "model": {"name": "smollm2-135m", "source": "bundled"},
          "tasks": {t: {"version": "1", "templates": {"zeroshot.j2": "aa"}, "data": {f"{t}/test.jsonl": "bb"}} for t in tasks}}
    for dotted, value in changes.items():
        node = fp
        *parents, leaf = dotted.split("__")
        for part in parents:
            node = node[part]
        node[leaf] = value
    return fp


def make_run(path: Path, tasks: dict[str, list[float]], ids: dict[str, list[str]] | None = None,
             subtasks: dict[str, list[str]] | None = None, finished: str | None = None,
             clusters: dict[str, list[str | None]] | None = None, **changes: Any) -> Path:
    """A run directory as `orcabench run` leaves it: scores per task, optional ids, subtasks, clusters and finish time."""
    path.mkdir(parents=True)
    sessions = [{"finished": finished}] if finished else []
    (path / "manifest.json").write_text(json.dumps({"fingerprint": fingerprint(tasks, **changes), "sessions": sessions}))
    lines = []
    for task, scores in tasks.items():
        task_ids = (ids or {}).get(task) or [str(i) for i in range(len(scores))]
        task_subtasks = (subtasks or {}).get(task) or [None] * len(scores)
        task_clusters = (clusters or {}).get(task) or [None] * len(scores)
        for sample_id, subtask, cluster, score in zip(task_ids, task_subtasks, task_clusters, scores):
            record = Record(task=task, id=sample_id, subtask=subtask, prompt="p", prompt_sha256="h", output="o", answer="a",
                            method="letter", gold="a", score=score, prompt_tokens=1, output_tokens=1, finish_reason="stop",
                            cluster=cluster)
            lines.append(json.dumps(record.to_json()) + "\n")
    (path / "records.jsonl").write_text("".join(lines))
    return path
