"""orcabench's vLLM path against raw ``vllm.LLM.generate`` on the same GSM8K prompts.

Both sides run as fresh processes, one after the other in this one invocation, with the
same model, engine settings and token ids:

- raw: ``LLM(...)`` then one ``generate`` call on the pre-tokenised prompts;
- orcabench: ``orcabench run --backend vllm`` end to end (imports, data loading, prompt
  rendering, engine start, generation, scoring, fsync'd records, manifest).

It prints both wall times (engine start included) and the throughput ratio
raw_time / orcabench_time (target >= 0.95), plus the same ratio for generation alone.

    python bench/vllm_overhead.py --limit 64 --max-tokens 256 [--repeats 2]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RAW_SCRIPT = r"""
import json, sys, time
started = time.time()
from vllm import LLM, SamplingParams
spec = json.load(open(sys.argv[1]))
llm = LLM(model=spec["model_path"], **spec["engine"])
ready = time.time()
params = SamplingParams(temperature=0.0, max_tokens=spec["max_tokens"])
outputs = llm.generate([{"prompt_token_ids": ids} for ids in spec["prompts"]], params, use_tqdm=False)
done = time.time()
json.dump({"engine_start": ready - started, "generate": done - ready, "total": done - started,
           "output_tokens": sum(len(o.outputs[0].token_ids) for o in outputs),
           "texts": [o.outputs[0].text for o in outputs]}, open(sys.argv[2], "w"))
"""


def prepare(limit: int, max_tokens: int, data_dir: Path) -> dict:
    """The exact token ids and engine options orcabench uses for this run."""
    from orcabench.engine.plan import model_location
    from orcabench.models.prompts import PromptRenderer
    from orcabench.backends.base import encode_prompt
    from orcabench.task.data import load_rows
    from orcabench.models.registry import resolve_model
    from orcabench.task import get_tasks
    from orcabench.types import Request

    spec = resolve_model("smollm2-135m")
    model_path, _ = model_location(spec)
    renderer = PromptRenderer(spec, model_path)
    (task,) = get_tasks(["gsm8k"])
    rows, _ = load_rows(task.data, data_dir, "gsm8k")
    prompts = []
    for index, row in enumerate(rows[:limit]):
        prompt, add_special = renderer.render(renderer.messages(task.render(task.parse_row(row.values, index))))
        prompts.append(encode_prompt(renderer.tokenizer, Request(kind="generate", prompt=prompt, add_special_tokens=add_special)))
    # Mirror VLLMBackend's options on this machine (prefix caching, seed, eager on CPU).
    import torch

    engine = {"enable_prefix_caching": True, "seed": 1234, **spec.engine}
    if not torch.cuda.is_available():
        engine["enforce_eager"] = True
    return {"model_path": model_path, "engine": engine, "max_tokens": max_tokens, "prompts": prompts}


def run_raw(spec_file: Path, workdir: Path) -> dict:
    out = workdir / "raw.json"
    subprocess.run([sys.executable, "-c", RAW_SCRIPT, str(spec_file), str(out)], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return json.loads(out.read_text())


def run_orcabench(limit: int, max_tokens: int, data_dir: Path, workdir: Path, attempt: int) -> dict:
    run_dir = workdir / f"orcabench-{attempt}"
    started = time.time()
    subprocess.run([sys.executable, "-m", "orcabench.cli", "run", "--model", "smollm2-135m", "--tasks", "gsm8k",
                    "--backend", "vllm", "--limit", str(limit), "--max-tokens", str(max_tokens),
                    "--data-dir", str(data_dir), "--output", str(run_dir)],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    total = time.time() - started
    session = json.loads((run_dir / "manifest.json").read_text())["sessions"][0]
    records = [json.loads(line) for line in (run_dir / "records.jsonl").read_text().splitlines()]
    # Generation alone: from the engine being ready to the last record stored.
    return {"total": total, "engine_start": session["engine_start_seconds"], "generate": session["generate_seconds"],
            "output_tokens": sum(r["output_tokens"] for r in records),
            "texts": [r["output"] for r in sorted(records, key=lambda r: int(r["id"]))]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, default=64)
    parser.add_argument("--max-tokens", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=1, help="alternate raw/orcabench this many times")
    parser.add_argument("--data-dir", type=Path, default=Path(os.environ.get("ORCABENCH_DATA_DIR", "../shared/data")))
    args = parser.parse_args()
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "2")

    with tempfile.TemporaryDirectory(prefix="orcabench-bench-") as tmp:
        workdir = Path(tmp)
        spec_file = workdir / "spec.json"
        spec_file.write_text(json.dumps(prepare(args.limit, args.max_tokens, args.data_dir)))
        rows = []
        for attempt in range(args.repeats):
            # Alternate the order so neither side always runs on a warm page cache.
            pair = [("raw", lambda: run_raw(spec_file, workdir)),
                    ("orcabench", lambda: run_orcabench(args.limit, args.max_tokens, args.data_dir, workdir, attempt))]
            results = dict((name, fn()) for name, fn in (pair if attempt % 2 == 0 else pair[::-1]))
            raw, ours = results["raw"], results["orcabench"]
            same = sum(a == b for a, b in zip(raw["texts"], ours["texts"]))
            rows.append((raw, ours, same))

    print(f"GSM8K, smollm2-135m, vLLM backend: {args.limit} prompts, max {args.max_tokens} new tokens, greedy")
    print(f"{'attempt':>7} {'raw total s':>11} {'ours total s':>12} {'ratio':>6} {'raw gen s':>9} {'ours gen s':>10} "
          f"{'gen ratio':>9} {'raw start s':>11} {'ours start s':>12} {'same text':>9}")
    for attempt, (raw, ours, same) in enumerate(rows):
        print(f"{attempt:>7} {raw['total']:>11.1f} {ours['total']:>12.1f} {raw['total'] / ours['total']:>6.3f} "
              f"{raw['generate']:>9.1f} {ours['generate']:>10.1f} {raw['generate'] / ours['generate']:>9.3f} "
              f"{raw['engine_start']:>11.1f} {ours['engine_start']:>12.1f} {same:>5}/{args.limit}")
    ratio = sum(r[0]["total"] for r in rows) / sum(r[1]["total"] for r in rows)
    print(f"throughput ratio orcabench/raw (engine start included): {ratio:.3f}  (target >= 0.95)")


if __name__ == "__main__":
    main()
