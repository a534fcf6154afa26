"""`--extract two-stage` end to end on the bundled model, on both backends (the session's shared engines).

A short two-stage run of gsm8k and bbh-mc, then the same run with a higher --limit: every
record's method names the stage that decided, the second stage's reply is kept, nothing is
asked twice across the two sessions, and `orcabench audit` shows the disagreement rate.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from test_report import SharedBackend

from orcabench import api
from orcabench.answers.second_stage import METHOD_PREFIX
from orcabench.answers.text import NONE
from orcabench.backends.cache import RESPONSES, cached
from orcabench.cli.run import main
from orcabench.engine import session as run_session

pytestmark = pytest.mark.slow


def two_stage_run(backend: str, engine: Any, run_dir: Path, data_dir: Path, limits: tuple[int, ...]) -> list[dict]:
    """The run at each --limit in turn, on ``engine`` (wrapped as the real loader wraps it); the sessions' manifests."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(run_session, "load_backend", lambda name, path, settings, *args, cache_dir=None, **kwargs: cached(
            name, settings, cache_dir, lambda _: SharedBackend(engine)))
        for limit in limits:
            api.run(api.RunConfig(selection=api.Selection(model="smollm2-135m", tasks=("gsm8k", "bbh-mc"), limit=limit,
                                                          data_dir=data_dir),
                                  sampling=api.Sampling(max_tokens=48, extract="two-stage"),  # 48: many cut off, read weakly
                                  engine=api.EngineSettings(backend=backend),
                                  operations=api.Operations(output=run_dir)))
    return json.loads((run_dir / "manifest.json").read_text())["sessions"]


def check_two_stage_run(run_dir: Path, sessions: list[dict], capsys: pytest.CaptureFixture[str]) -> None:
    records = [json.loads(line) for line in (run_dir / "records.jsonl").read_text().splitlines()]
    asked = [r for r in records if "second_stage" in r["extra"]]
    assert asked, "48 tokens leave some outputs read weakly or not at all: the second stage must be asked"
    for record in records:
        second = record["extra"].get("second_stage")
        if second is None:
            assert not record["method"].startswith(METHOD_PREFIX)
            continue
        first = record["extra"]["first_stage"]
        assert isinstance(second["output"], str) and second["output_tokens"] <= 16
        if second["method"] == NONE:  # the reply stated no answer: the rules' reading stands
            assert (record["answer"], record["method"]) == (first["answer"], first["method"])
        else:
            assert (record["answer"], record["method"]) == (second["answer"], METHOD_PREFIX + second["method"])
    # Nothing asked twice across both sessions: each answered request is kept once, and only new examples were sent.
    keys = [json.loads(line)["key"] for line in (run_dir / RESPONSES).read_text().splitlines()]
    assert len(keys) == len(set(keys)) == len(records) + len(asked)
    assert sum(session["requests"] for session in sessions) == len(records) + len(asked)
    assert [session["pending"] for session in sessions] == [6, 4]

    assert main(["audit", str(run_dir)]) == 0
    out = capsys.readouterr().out
    assert "second-stage request(s)" in out and "the stages disagree on" in out


def test_two_stage_on_hf_names_the_deciding_stage_and_resumes_without_asking_twice(
        hf_backend: Any, data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sessions = two_stage_run("hf", hf_backend, tmp_path / "hf", data_dir, limits=(3, 5))
    check_two_stage_run(tmp_path / "hf", sessions, capsys)


@pytest.mark.vllm
def test_two_stage_on_vllm_names_the_deciding_stage_and_resumes_without_asking_twice(
        vllm_backend: Any, data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sessions = two_stage_run("vllm", vllm_backend, tmp_path / "vllm", data_dir, limits=(3, 5))
    check_two_stage_run(tmp_path / "vllm", sessions, capsys)
