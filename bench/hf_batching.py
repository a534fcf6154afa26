"""The hf backend's static batches against its continuous batching, on the same prompts (issue 24).

Each side is ``orcabench run --backend hf`` end to end in a fresh process, on the same task,
questions, model (SmolLM2-135M in float32), greedy decoding, ``--max-tokens`` and
``--batch-size`` (static: the batch; continuous: the most sequences running at once); only
``--engine-arg batching=static|continuous`` differs. The order of the two sides alternates per
attempt. Per task it prints one row per side and attempt: wall time of the whole command (engine
start included), the session's engine start (tokenizer and weights) and generate seconds apart,
output tokens, generated tokens per second, and how many outputs are the same text on both sides;
then the medians and the ratios static / continuous (above 1: continuous is faster).

BBH-MC's questions are taken from every subtask in turn (``--limit-per-subtask``) so the
prompts and output lengths are as mixed as the suite's.

    python bench/hf_batching.py --tasks gsm8k,bbh-mc --limit 32 --max-tokens 256 --batch-size 16 --repeats 3 --threads 1
    python bench/hf_batching.py --check     # a tiny run (2 questions, 8 tokens, one attempt): the script works
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

SIDES = ("static", "continuous")


@dataclass(frozen=True)
class Side:
    """One ``orcabench run`` of one side: what the user waited for and what the session recorded."""

    batching: str  # what the session's backend info says ran
    wall: float  # the whole command, engine start included
    engine_start: float  # the session's engine_start_seconds (tokenizer and weights)
    generate: float  # the session's generate_seconds
    output_tokens: int
    texts: dict[str, str]  # example id -> output

    @property
    def tokens_per_second(self) -> float:
        return self.output_tokens / self.generate if self.generate else math.nan


def run_side(batching: str, task: str, args: argparse.Namespace, work: Path) -> Side:
    out = work / f"{task}-{batching}"
    command = [sys.executable, "-m", "orcabench.cli", "run", "--model", "smollm2-135m", "--tasks", task, "--backend", "hf",
               "--limit", str(args.limit), "--max-tokens", str(args.max_tokens), "--batch-size", str(args.batch_size),
               "--engine-arg", f"batching={batching}", "--data-dir", str(args.data_dir), "--output", str(out)]
    if task == "bbh-mc":
        command += ["--limit-per-subtask", str(max(1, math.ceil(args.limit / 23)))]
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads)} if args.threads else None
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, check=False, env=env)
    wall = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(f"{' '.join(command[3:8])} failed ({result.returncode}):\n{result.stdout[-2000:]}{result.stderr[-2000:]}")
    session = json.loads((out / "manifest.json").read_text())["sessions"][-1]
    records = [json.loads(line) for line in (out / "records.jsonl").read_text().splitlines()]
    return Side(session["backend"].get("batching", "static"), wall, session["engine_start_seconds"],
                session["generate_seconds"], sum(r["output_tokens"] for r in records), {r["id"]: r["output"] for r in records})


def measure(task: str, args: argparse.Namespace, work: Path) -> list[dict[str, Side]]:
    """``args.repeats`` attempts of both sides on ``task``, the order alternating."""
    attempts = []
    for index in range(args.repeats):
        order = SIDES if index % 2 == 0 else SIDES[::-1]
        attempt_dir = work / f"attempt-{index}"
        attempt_dir.mkdir(parents=True)
        load = os.getloadavg()[0]
        attempts.append({side: run_side(side, task, args, attempt_dir) for side in order})
        static, continuous = attempts[-1]["static"], attempts[-1]["continuous"]
        print(f"{task} attempt {index} ({order[0]} first, load {load:.1f} -> {os.getloadavg()[0]:.1f}): static "
              f"{static.wall:.1f} s ({static.generate:.1f} s generate), continuous {continuous.wall:.1f} s "
              f"({continuous.generate:.1f} s generate), ratio {static.wall / continuous.wall:.3f}", flush=True)
    return attempts


def report(task: str, attempts: list[dict[str, Side]], args: argparse.Namespace, load: tuple[float, float]) -> str:
    threads = f"OMP_NUM_THREADS={args.threads}" if args.threads else "threads as the environment says"
    lines = [f"\n{task}: smollm2-135m float32, --limit {args.limit}, --max-tokens {args.max_tokens}, "
             f"--batch-size {args.batch_size}, {threads}, load average {load[0]:.1f} before, {load[1]:.1f} after\n",
             "| attempt | side | ran | wall s | engine start s | generate s | output tokens | tokens/s | same text |",
             "|---|---|---|---|---|---|---|---|---|"]
    for index, attempt in enumerate(attempts):
        static, continuous = attempt["static"], attempt["continuous"]
        same = sum(static.texts[k] == continuous.texts.get(k) for k in static.texts)
        for name in (SIDES if index % 2 == 0 else SIDES[::-1]):
            side = attempt[name]
            lines.append(f"| {index} | {name} | {side.batching} | {side.wall:.1f} | {side.engine_start:.1f} "
                         f"| {side.generate:.1f} | {side.output_tokens} | {side.tokens_per_second:.1f} "
                         f"| {same}/{len(static.texts)} |")

    def median(name: str, field: str) -> float:
        return statistics.median(getattr(attempt[name], field) for attempt in attempts)

    for field in ("wall", "engine_start", "generate", "tokens_per_second"):
        lines.append(f"median {field}: static {median('static', field):.1f}, continuous {median('continuous', field):.1f}")
    wall = [a["static"].wall / a["continuous"].wall for a in attempts]
    generate = [a["static"].generate / a["continuous"].generate for a in attempts]
    lines.append(f"ratio static / continuous, wall (engine start included): median {statistics.median(wall):.3f} "
                 f"(min {min(wall):.3f}, max {max(wall):.3f}); generate alone: median {statistics.median(generate):.3f} "
                 f"(min {min(generate):.3f}, max {max(generate):.3f}); {len(attempts)} attempt(s)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", default="gsm8k,bbh-mc", help="comma-separated (default: gsm8k,bbh-mc)")
    parser.add_argument("--limit", type=int, default=32, help="questions per task")
    parser.add_argument("--max-tokens", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=16, help="static batch / most sequences running at once")
    parser.add_argument("--repeats", type=int, default=3, help="attempts per task (the side order alternates)")
    parser.add_argument("--threads", type=int, default=None,
                        help="OMP_NUM_THREADS for both sides (default: as the environment says)")
    parser.add_argument("--check", action="store_true", help="tiny run: 2 GSM8K questions, 8 tokens, one attempt")
    parser.add_argument("--data-dir", type=Path, default=Path(os.environ.get("ORCABENCH_DATA_DIR", "../shared/data")))
    args = parser.parse_args(argv)
    if args.check:
        args.tasks, args.limit, args.max_tokens, args.batch_size, args.repeats = "gsm8k", 2, 8, 2, 1
    args.data_dir = args.data_dir.resolve()
    with tempfile.TemporaryDirectory(prefix="orcabench-hf-batching-") as scratch:
        for task in args.tasks.split(","):
            before = os.getloadavg()[0]
            attempts = measure(task, args, Path(scratch) / task)
            print(report(task, attempts, args, (before, os.getloadavg()[0])), flush=True)


if __name__ == "__main__":
    main()
