"""Where a fresh process's engine start goes, phase by phase (issue 16).

Each attempt is a fresh Python process that times, in order: ``import torch``, ``import
transformers``, ``import vllm``, orcabench's tokenizer load and rendering of 32 GSM8K
prompts, and ``vllm.LLM(...)`` (SmolLM2-135M, float32, orcabench's engine options), with
vLLM's engine in a separate process (``VLLM_ENABLE_V1_MULTIPROCESSING=1``, vLLM's default)
or in this one (``=0``), and in-process with the tokenizer load and rendering in a thread
while the engine starts in the main thread (``in-process+overlap``). vLLM's own log lines
give the split inside ``LLM(...)``: weight load and "init engine" (memory profile, KV-cache
allocation, warm-up). The mode order alternates per attempt.

    flock /tmp/orcabench-heavy.lock .venv/bin/python bench/engine_start.py --repeats 3 --data-dir ../shared/data
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

PROBE = r"""
import json, os, sys, threading, time
from pathlib import Path
marks = {"start": time.time()}
import torch
marks["torch"] = time.time()
import transformers
marks["transformers"] = time.time()
import vllm
marks["vllm"] = time.time()
from orcabench.backends.vllm import engine_options
from orcabench.task.data import load_rows
from orcabench.models.registry import resolve_model
from orcabench.models.prompts import PromptRenderer
from orcabench.task import get_tasks

def render():  # orcabench's tokenizer load and chat-template rendering of 32 GSM8K prompts
    (task,) = get_tasks(["gsm8k"])
    renderer = PromptRenderer(resolve_model("smollm2-135m"), sys.argv[1])
    rows, _ = load_rows(task.data, Path(sys.argv[4]), "gsm8k")
    renderer.tokenizer
    marks["tokenizer"] = time.time()
    prompts = [renderer.render(renderer.messages(task.render(task.parse_row(r.values, i)))) for i, r in enumerate(rows[:32])]
    marks["render"] = time.time()

def engine():
    global llm
    llm = vllm.LLM(model=sys.argv[1], **engine_options({"dtype": "float32", "max_model_len": 4096}, 1234, None))
    marks["engine"] = time.time()

if sys.argv[3] == "overlap":  # rendering in a thread while the engine starts in the main thread
    thread = threading.Thread(target=render)
    thread.start()
    engine()
    thread.join()
else:
    render()
    engine()
marks["ready"] = time.time()
llm.llm_engine.engine_core.shutdown()
marks["shutdown"] = time.time()
json.dump(marks, open(sys.argv[2], "w"))
"""

# vLLM's own timings, logged by the engine (in whichever process it runs).
LOG_TIMINGS = {"weights": r"Loading weights took ([\d.]+) seconds",
               "model_load": r"Model loading took \S+ GiB memory and ([\d.]+) seconds",
               "init_engine": r"init engine \(profile, create kv cache, warmup model\) took ([\d.]+)"}


def log_timings(log: str) -> dict[str, float]:
    found = {}
    for name, pattern in LOG_TIMINGS.items():
        match = re.search(pattern, log)
        if match:
            found[name] = float(match.group(1))
    return found


# multiprocessing: vLLM's engine in a child process (its default); in-process: in this one;
# overlap: in-process, with orcabench's tokenizer load and rendering in a thread meanwhile.
MODES = {"multiprocessing": ("1", "sequential"), "in-process": ("0", "sequential"), "in-process+overlap": ("0", "overlap")}


def attempt(mode: str, model_path: str, work: Path, data_dir: Path) -> dict[str, float]:
    out = work / "marks.json"
    multiprocessing, order = MODES[mode]
    env = {**os.environ, "VLLM_ENABLE_V1_MULTIPROCESSING": multiprocessing}
    env.setdefault("VLLM_CPU_KVCACHE_SPACE", "2")
    result = subprocess.run([sys.executable, "-c", PROBE, model_path, str(out), order, str(data_dir)], env=env,
                            capture_output=True, text=True, check=False)
    if result.returncode:
        sys.exit(result.stderr[-3000:])
    marks = json.loads(out.read_text())
    phases = {f"{b}_s": marks[b] - marks[a] for a, b in itertools.pairwise(["start", "torch", "transformers", "vllm"])}
    if order == "sequential":
        phases |= {"tokenizer_s": marks["tokenizer"] - marks["vllm"], "render_s": marks["render"] - marks["tokenizer"],
                   "engine_s": marks["engine"] - marks["render"]}
    phases |= {"vllm_to_ready_s": marks["ready"] - marks["vllm"], "shutdown_s": marks["shutdown"] - marks["ready"]}
    return {**phases, **{f"{k}_s": v for k, v in log_timings(result.stdout + result.stderr).items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--modes", default=",".join(MODES), help=", ".join(MODES))
    parser.add_argument("--data-dir", type=Path, default=Path(os.environ.get("ORCABENCH_DATA_DIR", "../shared/data")))
    args = parser.parse_args()
    from orcabench.models.bundled import converted_model_dir

    model_path = str(converted_model_dir("smollm2-135m"))
    modes = args.modes.split(",")
    results: dict[str, list[dict[str, float]]] = {mode: [] for mode in modes}
    with tempfile.TemporaryDirectory() as scratch:
        for k in range(args.repeats):
            for mode in modes if k % 2 == 0 else modes[::-1]:
                row = attempt(mode, model_path, Path(scratch), args.data_dir.resolve())
                results[mode].append(row)
                print(json.dumps({"mode": mode, **{key: round(v, 2) for key, v in row.items()}}), flush=True)
    for mode, rows in results.items():
        keys = list(dict.fromkeys(key for row in rows for key in row))
        print(f"\n{mode} (median of {len(rows)}):",
              ", ".join(f"{key} {statistics.median(r[key] for r in rows if key in r):.2f}" for key in keys))


if __name__ == "__main__":
    main()
