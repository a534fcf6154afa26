"""Prompt variants and CircularEval on the real bundled model, as a user runs them.

The variant run and the circular run answer through the session's shared vLLM engine
(``vllm_backend``, as tests/test_backends.py); the kill-and-resume test runs the CLI in its
own process, killed with SIGKILL, as tests/test_run.py does.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import kill_after_records, orcabench

from orcabench import api
from orcabench.report.publish import write_report

pytestmark = pytest.mark.slow

MAX_TOKENS = 64  # enough for a letter or a short sum; the point is the variants, not the model


class Shared:
    """The session's engine lent to one run: a RunSession closes its backend when it ends, this one stays up."""

    def __init__(self, backend: Any) -> None:
        self.backend, self.name = backend, backend.name

    def answer(self, requests: Any) -> Any:
        return self.backend.answer(requests)

    def info(self) -> Any:
        return self.backend.info()

    def close(self) -> None:
        pass


def run_with(backend: Any, out: Path, data_dir: Path, tasks: tuple[str, ...], **selection: Any) -> api.Plan:
    config = api.RunConfig(selection=api.Selection(model="smollm2-135m", tasks=tasks, limit=4, data_dir=data_dir,
                                                   **selection),
                           sampling=api.Sampling(max_tokens=MAX_TOKENS), engine=api.EngineSettings(backend="vllm"),
                           operations=api.Operations(output=out))
    with api.RunSession(api.plan(config), load=lambda _: Shared(backend)) as session:
        session.execute()
    return session.plan


def lines(run_dir: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (run_dir / "records.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def variant_run(tmp_path_factory: pytest.TempPathFactory, vllm_backend: Any, data_dir: Path) -> Path:
    out = tmp_path_factory.mktemp("variants") / "run"
    run_with(vllm_backend, out, data_dir, ("arc-easy", "gsm8k"), prompt_variants="all")
    return out


@pytest.fixture(scope="module")
def circular_run(tmp_path_factory: pytest.TempPathFactory, vllm_backend: Any, data_dir: Path) -> Path:
    out = tmp_path_factory.mktemp("circular") / "run"
    run_with(vllm_backend, out, data_dir, ("arc-easy",), circular=True)
    return out


def test_the_real_model_answers_every_variant_of_every_question_once(variant_run: Path) -> None:
    records = lines(variant_run)
    keys = [(r["task"], r["variant"], r["id"]) for r in records]
    assert len(keys) == len(set(keys)) == 2 * 4 * 4
    assert {r["variant"] for r in records} == {"zeroshot", "zeroshot-p1", "zeroshot-p2", "zeroshot-p3"}
    assert all(r["output"].strip() for r in records)  # real outputs, each read by the task's own reader


def test_the_report_of_a_real_variant_run_shows_mean_spread_and_the_variance_split(variant_run: Path,
                                                                                   tmp_path: Path) -> None:
    report, _ = write_report([variant_run], tmp_path, ("md", "csv"), reference=False)
    assert set(report.variants["task"]) == {"arc-easy", "gsm8k"}
    for row in report.variants.to_dict("records"):
        assert row["variants"] == 4 and row["min"] <= row["mean"] <= row["max"]
    assert "between-variant" in (tmp_path / "report.md").read_text()


def test_a_real_circular_run_reports_plain_and_circular_accuracy_and_position_bias(circular_run: Path,
                                                                                    tmp_path: Path) -> None:
    records = lines(circular_run)
    by_id: dict[str, set[str]] = {}
    for record in records:
        by_id.setdefault(record["id"], set()).add(record["variant"])
    assert sorted(by_id) == ["0", "1", "2", "3"] and all(len(v) >= 3 for v in by_id.values())
    report, _ = write_report([circular_run], tmp_path, ("md",), reference=False)
    row = report.variants.iloc[0]
    assert row["kind"] == "rotation" and row["circular"] <= row["plain"]  # right under all rotations: right under r0
    assert not row["position_bias"] or sum(row["position_bias"].values()) == pytest.approx(1.0)
    assert "wrong picks" in (tmp_path / "report.md").read_text()


def test_a_variant_run_killed_with_sigkill_resumes_the_rest_once(tmp_path: Path, data_dir: Path) -> None:
    run_dir = tmp_path / "killed"
    args = ["run", "--model", "smollm2-135m", "--tasks", "arc-easy", "--limit", "4", "--prompt-variants", "2",
            "--max-tokens", "32", "--backend", "hf", "--batch-size", "1", "--data-dir", str(data_dir),
            "--output", str(run_dir)]
    records_file = run_dir / "records.jsonl"
    before = kill_after_records([sys.executable, "-m", "orcabench.cli", *args], records_file, at_least=2)
    assert 2 <= before < 8
    result = orcabench(*args)
    assert result.returncode == 0, result.stderr
    assert f"{8 - before} model call(s) this time" in result.stdout
    keys = [(r["variant"], r["id"]) for r in lines(run_dir)]
    assert len(keys) == len(set(keys)) == 8
