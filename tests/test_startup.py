"""Start-up: what a command imports, the session's phase timings, and a warm engine (``orcabench serve``).

The end-to-end test starts ``orcabench serve`` (vLLM's OpenAI server with orcabench's
engine card) and checks that ``orcabench run --server URL`` stores the same records as an
offline ``--backend vllm`` run of the same prompts, resumes with zero model calls, and
names the served engine's settings in its fingerprint.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import orcabench
from store_samples import make_run

from orcabench.backends.serving import ServedEngine, served_engine, server_arguments
from orcabench.timings import IMPORT_SECONDS, Timings, import_module
from orcabench.types import OrcabenchError

HEAVY = ("torch", "transformers", "vllm")


def imported_by(*args: str, cwd: Path) -> list[str]:
    """The heavy libraries in ``sys.modules`` after ``orcabench ARGS`` ran in a fresh interpreter."""
    probe = ("import json, sys\nfrom orcabench.cli.run import main\ncode = main(sys.argv[1:])\n"
             f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))\nsys.exit(code)")
    result = subprocess.run([sys.executable, "-c", probe, *args], check=False, capture_output=True, text=True, cwd=cwd,
                            timeout=120)
    assert result.returncode in (0, 1), result.stderr  # gate exits 1 on a regression
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_listing_reporting_gating_and_scoring_never_import_torch(tmp_path: Path, data_dir: Path) -> None:
    base = make_run(tmp_path / "base", {"gsm8k": [1.0] * 30 + [0.0] * 10}, finished="2026-01-01T00:00:00+00:00")
    cand = make_run(tmp_path / "cand", {"gsm8k": [1.0] * 20 + [0.0] * 20}, finished="2026-01-01T00:00:00+00:00")
    predictions = tmp_path / "predictions.jsonl"
    predictions.write_text('{"id": "0", "output": "The answer is 18."}\n')
    commands = {
        "list tasks": ["list", "tasks"],
        "list models": ["list", "models"],
        "report": ["report", str(base), str(cand), "--out", str(tmp_path / "report"), "--format", "md,csv"],
        "gate": ["gate", "--baseline", str(base), "--candidate", str(cand)],
        "score": ["score", "--task", "gsm8k", "--predictions", str(predictions), "--data-dir", str(data_dir)],
    }
    assert {name: imported_by(*args, cwd=tmp_path) for name, args in commands.items()} == {name: [] for name in commands}


def test_phases_add_up_and_an_import_is_timed_once() -> None:
    timings = Timings()
    for _ in range(2):
        with timings.phase("render"):
            pass
    with timings.phase("generate"):
        sum(range(10_000))
    assert list(timings) == ["render", "generate"] and all(seconds >= 0 for seconds in timings.values())
    import_module("json.tool")
    first = IMPORT_SECONDS["json.tool"]
    assert import_module("json.tool") is sys.modules["json.tool"] and IMPORT_SECONDS["json.tool"] == first


def test_engine_options_become_the_servers_flags() -> None:
    flags = server_arguments({"dtype": "float32", "enforce_eager": True, "enable_prefix_caching": False, "seed": 7,
                              "max_num_seqs": None, "limit_mm_per_prompt": {"image": 0}})
    assert flags == ["--dtype", "float32", "--enforce-eager", "--no-enable-prefix-caching", "--seed", "7",
                     "--limit-mm-per-prompt", '{"image": 0}']


def test_a_server_that_is_not_there_is_one_line_naming_the_fix() -> None:
    from test_openai_backend import free_port

    expected = r"--server http://127\.0\.0\.1:\d+: no answer .* `orcabench serve --model M`"
    with pytest.raises(OrcabenchError, match=expected) as failure:
        served_engine(f"http://127.0.0.1:{free_port()}")
    assert "\n" not in str(failure.value)


# -- a warm engine, end to end ------------------------------------------------------------------


@pytest.fixture(scope="module")
def served(smollm2_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from test_openai_backend import VLLMServer

    def command(port: int) -> list[str]:
        return [sys.executable, "-m", "orcabench.cli", "serve", "--model", "smollm2-135m", "--port", str(port),
                "--dtype", "float32", "--max-model-len", "2048"]

    # Started here, awaited on first use: it boots while the offline run starts its own engine.
    server = VLLMServer(smollm2_dir, tmp_path_factory.mktemp("orcabench-serve") / "serve.log", command=command)
    yield server
    server.stop()


def records_by_id(run_dir: Path) -> dict[str, dict[str, Any]]:
    return {r["id"]: r for r in map(json.loads, (run_dir / "records.jsonl").read_text().splitlines())}


@pytest.mark.slow
@pytest.mark.vllm
def test_a_run_against_orcabench_serve_stores_the_records_of_the_offline_engine(served: Any, tmp_path: Path,
                                                                               data_dir: Path) -> None:
    common = ["--model", "smollm2-135m", "--tasks", "gsm8k", "--limit", "4", "--max-tokens", "32", "--data-dir", str(data_dir)]
    offline = orcabench("run", *common, "--backend", "vllm", "--dtype", "float32", "--max-model-len", "2048",
                        "--output", str(tmp_path / "offline"))
    assert offline.returncode == 0, offline.stderr
    over_http = orcabench("run", *common, "--server", served.root, "--output", str(tmp_path / "served"))
    assert over_http.returncode == 0, over_http.stderr

    a, b = records_by_id(tmp_path / "offline"), records_by_id(tmp_path / "served")
    assert len(a) == 4 and a.keys() == b.keys()
    assert {i: (r["prompt"], r["output"], r["answer"], r["score"]) for i, r in a.items()} == \
           {i: (r["prompt"], r["output"], r["answer"], r["score"]) for i, r in b.items()}

    manifest = json.loads((tmp_path / "served" / "manifest.json").read_text())
    engine = manifest["fingerprint"]["engine"]
    assert (engine["dtype"], engine["max_model_len"], engine["api_model"], engine["endpoint"]) == \
           ("float32", 2048, "smollm2-135m", "completions")  # read from the running engine, not from flags
    assert manifest["fingerprint"]["backend"] == "openai"
    assert manifest["sessions"][-1]["backend"]["base_url"] == served.url + "/"

    again = orcabench("run", *common, "--server", served.url, "--output", str(tmp_path / "served"))
    assert again.returncode == 0 and "0 model call(s) this time" in again.stdout, again.stderr
    wrong = orcabench("run", *common, "--server", served.url, "--dtype", "bfloat16", "--output", str(tmp_path / "other"))
    assert wrong.returncode == 2 and "belong to the server: pass them to `orcabench serve`" in wrong.stderr


@pytest.mark.slow
@pytest.mark.vllm
def test_the_engine_card_is_what_the_server_runs(served: Any, smollm2_dir: Path) -> None:
    engine: ServedEngine = served_engine(served.url)
    assert engine.api_model == "smollm2-135m" and Path(engine.model_root) == smollm2_dir
    assert engine.card["dtype"] == "float32" and engine.card["enforce_eager"] is True and engine.card["seed"] == 1234
