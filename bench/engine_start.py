"""Where a fresh process's engine start goes, phase by phase (issue 16).

Each attempt is a fresh Python process that times, in order: ``import torch``, ``import
transformers``, ``import vllm``, ``AutoTokenizer.from_pretrained`` and ``vllm.LLM(...)``
(SmolLM2-135M, float32, orcabench's engine options), with vLLM's engine in a separate
process (``VLLM_ENABLE_V1_MULTIPROCESSING=1``, vLLM's default) or in this one (``=0``).
vLLM's own log lines give the split inside ``LLM(...)``: weight load and "init engine"
(memory profile, KV-cache allocation, warm-up). Modes alternate per attempt.

    flock /tmp/orcabench-heavy.lock .venv/bin/python bench/engine_start.py --repeats 2
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
import json, os, sys, time
marks = {"start": time.time()}
import torch
marks["torch"] = time.time()
import transformers
marks["transformers"] = time.time()
import vllm
marks["vllm"] = time.time()
from transformers import AutoTokenizer
AutoTokenizer.from_pretrained(sys.argv[1])
marks["tokenizer"] = time.time()
from orcabench.backends.vllm import engine_options
llm = vllm.LLM(model=sys.argv[1], **engine_options({"dtype": "float32", "max_model_len": 4096}, 1234, None))
marks["engine"] = time.time()
llm.llm_engine.engine_core.shutdown()
marks["shutdown"] = time.time()
json.dump(marks, open(sys.argv[2], "w"))
"""

# vLLM's own timings, logged by the engine (in whichever process it runs).
LOG_TIMINGS = {"weights": r"Loading weights took ([\d.]+) seconds", "model_load": r"Model loading took \S+ GiB memory and ([\d.]+) seconds",
               "init_engine": r"init engine \(profile, create kv cache, warmup model\) took ([\d.]+)"}


def log_timings(log: str) -> dict[str, float]:
    found = {}
    for name, pattern in LOG_TIMINGS.items():
        match = re.search(pattern, log)
        if match:
            found[name] = float(match.group(1))
    return found


def attempt(multiprocessing: bool, model_path: str, work: Path) -> dict[str, float]:
    out = work / "marks.json"
    env = {**os.environ, "VLLM_ENABLE_V1_MULTIPROCESSING": "1" if multiprocessing else "0"}
    env.setdefault("VLLM_CPU_KVCACHE_SPACE", "2")
    result = subprocess.run([sys.executable, "-c", PROBE, model_path, str(out)], env=env, capture_output=True, text=True, check=False)
    if result.returncode:
        sys.exit(result.stderr[-3000:])
    marks = json.loads(out.read_text())
    order = ["start", "torch", "transformers", "vllm", "tokenizer", "engine", "shutdown"]
    phases = {f"{b}_s": marks[b] - marks[a] for a, b in itertools.pairwise(order)}
    return {**phases, **{f"{k}_s": v for k, v in log_timings(result.stdout + result.stderr).items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    from orcabench.bundled import converted_model_dir

    model_path = str(converted_model_dir("smollm2-135m"))
    results: dict[bool, list[dict[str, float]]] = {True: [], False: []}
    with tempfile.TemporaryDirectory() as scratch:
        for k in range(args.repeats):
            for mp in ((True, False) if k % 2 == 0 else (False, True)):
                row = attempt(mp, model_path, Path(scratch))
                results[mp].append(row)
                print(json.dumps({"multiprocessing": mp, **{key: round(v, 2) for key, v in row.items()}}), flush=True)
    for mp, rows in results.items():
        keys = sorted({key for row in rows for key in row})
        print(f"\nVLLM_ENABLE_V1_MULTIPROCESSING={int(mp)} (median of {len(rows)}):",
              ", ".join(f"{key} {statistics.median(r[key] for r in rows if key in r):.2f}" for key in keys))


if __name__ == "__main__":
    main()
