"""Generation tokens/s with 1 … N CPU threads, one engine alone and two identical ones at once.

Each measurement is a fresh worker process (this script with ``--worker``) whose
``OMP_NUM_THREADS`` and ``OMP_WAIT_POLICY`` are set before torch is imported (OpenMP reads
them when it loads, so they cannot be changed later in a process). The worker loads the
model, generates a few untimed tokens, then times greedy generation of ``--prompts`` prompts
× ``--tokens`` new tokens (every prompt generates exactly that many: ``min_new_tokens``), and
prints its tokens/s and the CPU seconds it used (user and system: spinning OpenMP threads
show up as CPU time with no tokens). "concurrent" starts two identical workers at once; the
table gives each one's tokens/s (their mean) and the slowdown alone/concurrent time.

    python bench/threads.py                          # hf, threads 1..cores, OpenMP's default wait and PASSIVE
    python bench/threads.py --engine vllm --policies default
    python bench/threads.py --threads 1,2 --policies passive --repeats 3
    python bench/threads.py --threads 2 --policies spin1000,spin100000   # libgomp's spin bounded: GOMP_SPINCOUNT
    python bench/threads.py --threads 2 --policies default,passive,governed   # orcabench's governor against both
    python bench/threads.py --orcabench-run --limit 4 --tokens 128   # whole `orcabench run --backend hf` processes
    python bench/threads.py --orcabench-run --engine vllm --stagger 15   # vLLM; the second run starts 15 s later
    python bench/threads.py --orcabench-run --code /tmp/base          # the same, with another checkout's orcabench

``governed`` is OpenMP's default wait with orcabench's :class:`~orcabench.threads.ThreadGovernor`
ticked before each forward pass, starting at the cell's thread count (the most it may use).

``--orcabench-run`` times whole ``orcabench run --backend {hf,vllm}`` processes instead (GSM8K,
``--limit`` questions, ``--tokens`` new tokens at most, each into its own run folder), with
orcabench's own thread rule and nothing set in the environment: one alone, then two at once
(the second ``--stagger`` seconds after the first), ``--repeats`` times alternating; it prints
each wall time (from its own start) and generate phase (the manifest's).

The machine's load (``os.getloadavg``) is printed before and after: figures taken on a busy
machine are that machine's figures, not a quiet one's.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

POLICIES = {"default": None, "passive": "PASSIVE", "active": "ACTIVE", "governed": None}


def _prompts(count: int) -> list[str]:
    return [f"Question {i}: a farmer has {7 * i + 3} apples and gives away {i + 2}. How many are left? "
            "Let's think step by step." for i in range(count)]


def _model_dir(model: str) -> str:
    if Path(model).is_dir():
        return model
    from orcabench.models.bundled import converted_model_dir

    return str(converted_model_dir(model))


def _governor(governed: bool) -> Any:
    """orcabench's thread governor (``governed`` policy): starts at the worker's count, at most that many."""
    if not governed:
        return None
    import torch

    from orcabench.threads import ThreadGovernor

    count = torch.get_num_threads()
    return ThreadGovernor(cores=count, count=count)


def _hf_worker(model_dir: str, prompts: list[str], tokens: int, governor: Any) -> tuple[int, float]:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    tokenizer.padding_side = "left"
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    if governor:
        model.register_forward_pre_hook(governor.hook)
    batch = tokenizer(prompts, return_tensors="pt", padding=True)
    settings: dict[str, Any] = {"do_sample": False, "pad_token_id": tokenizer.pad_token_id,
                                "temperature": None, "top_p": None, "top_k": None}
    with torch.inference_mode():
        model.generate(**batch, max_new_tokens=4, min_new_tokens=4, **settings)  # untimed warm-up
        started = time.perf_counter()
        output = model.generate(**batch, max_new_tokens=tokens, min_new_tokens=tokens, **settings)
        seconds = time.perf_counter() - started
    return (output.shape[1] - batch["input_ids"].shape[1]) * len(prompts), seconds


def _vllm_worker(model_dir: str, prompts: list[str], tokens: int, governor: Any) -> tuple[int, float]:
    os.environ["VLLM_ENABLE_V1_MULTIPROCESSING"] = "0"  # in the process, as orcabench runs it on CPU
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
    from vllm import LLM, SamplingParams

    llm = LLM(model=model_dir, enforce_eager=True, dtype="float32", seed=0)
    params = SamplingParams(temperature=0.0, max_tokens=tokens, min_tokens=tokens)
    llm.generate(prompts, SamplingParams(temperature=0.0, max_tokens=4), use_tqdm=False)  # untimed warm-up
    engine, produced = llm.llm_engine, 0
    started = time.perf_counter()
    for index, prompt in enumerate(prompts):  # stepped here, as orcabench's vLLM backend does, to tick the governor
        engine.add_request(str(index), prompt, params)
    while engine.has_unfinished_requests():
        if governor:
            governor.tick()
        produced += sum(len(o.outputs[0].token_ids) for o in engine.step() if o.finished)
    return produced, time.perf_counter() - started


def worker(args: argparse.Namespace) -> None:
    if args.engine == "hf":
        # torch reads OMP_NUM_THREADS itself; said again here so the worker is explicit
        import torch

        torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", torch.get_num_threads())))
    before = resource.getrusage(resource.RUSAGE_SELF)
    generate = _hf_worker if args.engine == "hf" else _vllm_worker
    governor = _governor(os.environ.get("BENCH_GOVERNED") == "1")
    produced, seconds = generate(_model_dir(args.model), _prompts(args.prompts), args.tokens, governor)
    after = resource.getrusage(resource.RUSAGE_SELF)
    print(json.dumps({"tokens": produced, "seconds": seconds, "tokens_per_s": produced / seconds,
                      "user_s": after.ru_utime - before.ru_utime, "system_s": after.ru_stime - before.ru_stime,
                      "governor": governor.to_json() if governor else None}))


@dataclass
class Cell:
    policy: str
    threads: int
    alone: list[float]  # tokens/s of each alone attempt
    concurrent: list[float]  # tokens/s of each process of each concurrent attempt
    system_share: float  # system / (user + system) CPU seconds, concurrent attempts


def _launch(args: argparse.Namespace, threads: int, policy: str, copies: int) -> list[dict[str, float]]:
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    env.pop("OMP_WAIT_POLICY", None)
    if policy.startswith("spin"):  # libgomp's default waiting with a bounded spin: GOMP_SPINCOUNT=N
        env["GOMP_SPINCOUNT"] = policy.removeprefix("spin")
    elif POLICIES[policy]:
        env["OMP_WAIT_POLICY"] = str(POLICIES[policy])
    if policy == "governed":  # OpenMP's default wait; orcabench's governor lowers the count beside another engine
        env["BENCH_GOVERNED"] = "1"
    command = [sys.executable, __file__, "--worker", "--engine", args.engine, "--model", args.model,
               "--prompts", str(args.prompts), "--tokens", str(args.tokens)]
    processes = [subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for _ in range(copies)]
    results = []
    for process in processes:
        out, err = process.communicate()
        if process.returncode != 0:
            raise SystemExit(f"worker failed ({threads} threads, {policy}):\n{err[-2000:]}")
        results.append(json.loads(out.strip().splitlines()[-1]))
    return results


def measure(args: argparse.Namespace, policy: str, threads: int) -> Cell:
    alone: list[float] = []
    concurrent: list[float] = []
    user = system = 0.0
    for _ in range(args.repeats):  # alternating, so a change of load hits both sides
        alone += [r["tokens_per_s"] for r in _launch(args, threads, policy, 1)]
        pair = _launch(args, threads, policy, 2)
        concurrent += [r["tokens_per_s"] for r in pair]
        user += sum(r["user_s"] for r in pair)
        system += sum(r["system_s"] for r in pair)
    return Cell(policy, threads, alone, concurrent, system / max(user + system, 1e-9))


def table(cells: list[Cell]) -> str:
    def mean(values: list[float]) -> float:
        return sum(values) / len(values)

    lines = ["| wait policy | threads | alone tok/s | concurrent tok/s (each) | concurrent time / alone "
             "| system CPU share (concurrent) |", "|---|---|---|---|---|---|"]
    for c in cells:
        lines.append(f"| {c.policy} | {c.threads} | {mean(c.alone):.1f} | {mean(c.concurrent):.1f} | "
                     f"{mean(c.alone) / mean(c.concurrent):.2f}× | {c.system_share:.0%} |")
    return "\n".join(lines)


def _orcabench_runs(args: argparse.Namespace, copies: int, work: Path) -> list[dict[str, float]]:
    """``copies`` whole runs, the second ``--stagger`` seconds after the first; each one's wall time from its own start."""
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY")}
    if args.code:
        env["PYTHONPATH"] = args.code
    runs = []
    for copy in range(copies):
        if copy:
            time.sleep(args.stagger)
        out = work / f"run-{time.monotonic_ns()}-{copy}"
        command = [sys.executable, "-m", "orcabench.cli", "run", "--backend", args.engine, "--model", args.model,
                   "--tasks", "gsm8k", "--limit", str(args.limit), "--max-tokens", str(args.tokens), "--output", str(out)]
        process = subprocess.Popen(command, env=env, cwd=args.code or None, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE, text=True)
        runs.append((process, out, time.monotonic()))
    ended: dict[int, float] = {}
    while len(ended) < len(runs):
        for index, (process, _, _) in enumerate(runs):
            if index not in ended and process.poll() is not None:
                ended[index] = time.monotonic()
        time.sleep(0.05)
    results = []
    for index, (process, out, started) in enumerate(runs):
        if process.returncode != 0:
            raise SystemExit(f"orcabench run failed:\n{process.stderr.read()[-2000:] if process.stderr else ''}")
        session = json.loads((out / "manifest.json").read_text())["sessions"][-1]
        results.append({"wall": round(ended[index] - started, 2), "generate": session["generate_seconds"],
                        "threads": session["backend"].get("threads")})
    return results


def orcabench_runs(args: argparse.Namespace) -> None:
    import tempfile

    print(f"orcabench run --backend {args.engine} ({args.code or 'this checkout'}): gsm8k --limit {args.limit} "
          f"--max-tokens {args.tokens}, second run {args.stagger} s after the first, load before {os.getloadavg()}",
          flush=True)
    alone: list[dict[str, float]] = []
    pairs: list[dict[str, float]] = []
    with tempfile.TemporaryDirectory(prefix="orcabench-threads-") as work:
        for attempt in range(args.repeats):
            alone += _orcabench_runs(args, 1, Path(work))
            pairs += _orcabench_runs(args, 2, Path(work))
            print(f"attempt {attempt + 1}: alone {alone[-1]}; two at once {pairs[-2:]}", flush=True)

    def median(values: list[float]) -> float:
        return sorted(values)[len(values) // 2]

    wall, generate = median([a["wall"] for a in alone]), median([a["generate"] for a in alone])
    pair_wall, pair_generate = median([p["wall"] for p in pairs]), median([p["generate"] for p in pairs])
    print(f"load after {os.getloadavg()}")
    print(f"alone: wall {wall:.1f} s, generate {generate:.1f} s (medians); two at once: each wall {pair_wall / wall:.2f}× "
          f"alone, generate {pair_generate / generate:.2f}× (worst {max(p['wall'] for p in pairs) / wall:.2f}× wall)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engine", default="hf", choices=["hf", "vllm"])
    parser.add_argument("--model", default="smollm2-135m", help="a bundled model's name or a model folder")
    parser.add_argument("--threads", default=None, help="comma-separated thread counts (default: 1..cores)")
    parser.add_argument("--policies", default="default,passive",
                        help=f"OpenMP wait policies: {', '.join(POLICIES)}, or spinN (GOMP_SPINCOUNT=N, e.g. spin1000)")
    parser.add_argument("--prompts", type=int, default=8)
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--orcabench-run", action="store_true", help="time whole `orcabench run` processes")
    parser.add_argument("--limit", type=int, default=4, help="--orcabench-run: GSM8K questions")
    parser.add_argument("--code", default=None, help="--orcabench-run: another checkout's root (PYTHONPATH)")
    parser.add_argument("--stagger", type=float, default=0.0,
                        help="--orcabench-run: seconds between the two runs' starts (one already computing alone)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return
    if args.orcabench_run:
        orcabench_runs(args)
        return
    cores = len(os.sched_getaffinity(0))
    counts = [int(t) for t in args.threads.split(",")] if args.threads else list(range(1, cores + 1))
    print(f"{args.engine}, {args.model}: {args.prompts} prompts × {args.tokens} tokens, {cores} cores, "
          f"load before {os.getloadavg()}", flush=True)
    cells = []
    for policy in args.policies.split(","):
        for threads in counts:
            cells.append(measure(args, policy, threads))
            print(table(cells[-1:]).splitlines()[-1], flush=True)
    print(f"load after {os.getloadavg()}\n")
    print(table(cells))


if __name__ == "__main__":
    main()
