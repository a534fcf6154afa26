"""Sample records for the store tests (test_store.py, test_fault.py): one definition for both."""

from __future__ import annotations

from orcabench.types import Record

FINGERPRINT = {"model": "m", "backend": "hf", "tasks": {"gsm8k": {"version": "1"}}}


def record(sample_id: str, score: float = 1.0) -> Record:
    return Record(task="gsm8k", id=sample_id, subtask=None, prompt="p", prompt_sha256="h", output=f"out {sample_id}",
                  answer="1", method="last-number", gold="1", score=score, prompt_tokens=3, output_tokens=2,
                  finish_reason="stop")
