"""The same run with 1 and with N replicas (``orcabench run --replicas``), engine start included.

Each side is a fresh ``orcabench run`` process against the same Ray instance (a one-node
cluster this script starts on 127.0.0.1 and shuts down, or ``--ray-address`` of a running one), on
GSM8K with greedy decoding. It prints both wall times, the samples per second of each and
the throughput ratio ``time(1 replica) / time(N replicas)`` — the issue's target on GPUs is
>= 0.9 * N for N <= 8 on one node — plus generation alone (the manifest's generate_seconds),
and checks the two runs stored the same output, answer and score for every sample.

    python bench/replicas.py --backend hf --replicas 2 --limit 16 --max-tokens 64
    python bench/replicas.py --backend vllm --replicas 8 --limit 2000 --max-tokens 512 --ray-address auto
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


def run(args: argparse.Namespace, replicas: int, out: Path, address: str) -> dict[str, float]:
    command = [sys.executable, "-m", "orcabench.cli", "run", "--model", args.model, "--tasks", args.tasks,
               "--limit", str(args.limit), "--max-tokens", str(args.max_tokens), "--backend", args.backend,
               "--replicas", str(replicas), "--ray-address", address, "--output", str(out)]
    if args.data_dir:
        command += ["--data-dir", args.data_dir]
    started = time.monotonic()
    subprocess.run(command, check=True, capture_output=True, text=True)
    wall = time.monotonic() - started
    session = json.loads((out / "manifest.json").read_text())["sessions"][-1]
    samples = session["pending"]
    return {"wall": wall, "generate": session["generate_seconds"], "engine_start": session["engine_start_seconds"],
            "samples": samples}


def outputs(run_dir: Path) -> dict[tuple[str, str], tuple[str, object, float]]:
    rows = (json.loads(line) for line in (run_dir / "records.jsonl").read_text().splitlines())
    return {(r["task"], r["id"]): (r["output"], r["answer"], r["score"]) for r in rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--tasks", default="gsm8k")
    parser.add_argument("--backend", default="hf", choices=["hf", "vllm"])
    parser.add_argument("--replicas", type=int, default=2)
    parser.add_argument("--limit", type=int, default=16)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--data-dir", default=os.environ.get("ORCABENCH_DATA_DIR"))
    parser.add_argument("--ray-address", default=None, help="a running cluster (default: start a local one here)")
    args = parser.parse_args()

    cluster = None
    address = args.ray_address
    if address is None:  # this script's own instance, so it never touches another Ray on the machine
        os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"  # stay on 127.0.0.1
        from ray.cluster_utils import Cluster

        cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": os.cpu_count(), "include_dashboard": False})
        address = cluster.address
    try:
        with tempfile.TemporaryDirectory(prefix="orcabench-replicas-") as tmp:
            one = run(args, 1, Path(tmp) / "one", address)
            many = run(args, args.replicas, Path(tmp) / "many", address)
            same = outputs(Path(tmp) / "one") == outputs(Path(tmp) / "many")
    finally:
        if cluster is not None:
            cluster.shutdown()
    n = args.replicas
    print(f"{one['samples']} samples, {args.backend}, {os.cpu_count()} CPUs")
    for label, side in (("1 replica", one), (f"{n} replicas", many)):
        print(f"{label:>11}: {side['wall']:7.1f} s wall ({side['samples'] / side['wall']:.2f} samples/s), "
              f"engine start {side['engine_start']:.1f} s, generation {side['generate']:.1f} s")
    print(f"throughput ratio, wall:       {one['wall'] / many['wall']:.2f}x (ideal {n}x)")
    print(f"throughput ratio, generation: {one['generate'] / many['generate']:.2f}x")
    print(f"identical records: {same}")


if __name__ == "__main__":
    main()
