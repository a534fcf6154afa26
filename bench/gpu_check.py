"""orcabench's hf backend against raw ``model.generate`` on one GPU, on Llama-2-7B and -13B shapes with random weights.

For each shape the script builds a ``LlamaForCausalLM`` from a ``LlamaConfig`` written out
below, its weights drawn at random on the device by torch (no checkpoint is downloaded or
carried), saves it with the bundled model's tokenizer (its converted folder, chat template
included) to a temporary folder on the same machine, and then, on the same prompts at the
same settings (greedy, ``--tokens`` new tokens at most, one batch of every prompt):

- **orcabench**: ``orcabench run --backend hf`` through the API (``orcabench.api.run``) on that
  folder, GSM8K-shaped questions written to a temporary data mirror (random weights answer
  nothing right: scores mean nothing here, only speed);
- **raw**: ``model.generate`` on the model built in this process, the same rendered prompts
  (the stored records' prompts, tokenised as orcabench tokenised them: the prompt tokens are
  checked equal), left-padded in one batch, the same EOS ids (GSM8K has no stop strings, so
  neither side checks any).

It prints tokens/s of each (generated tokens / generation seconds; orcabench's is the
session's generate phase, which includes storing and scoring records as they finish), their
ratio, the peak GPU memory of each side (``torch.cuda.max_memory_allocated`` above what was
allocated before it), how many outputs are identical, and the fraction of the
memory-bandwidth roofline reached: the bytes of weights read per decode step (every
parameter but the input embedding, whose rows are gathered) × decode steps / generation
seconds, against ``--bandwidth-gbs`` (the GPU's published figure: H100 SXM 3350, H200 4800).
The last line is the one-line result, starting ``RESULT``.

    python bench/gpu_check.py --bandwidth-gbs 4800              # H200: 7b and 13b, bfloat16, 32 prompts × 128 tokens
    python bench/gpu_check.py --shapes 7b --bandwidth-gbs 3350  # H100, one shape
    python bench/gpu_check.py --tiny                            # a tiny Llama on CPU, float32: the test suite's run

Sized to finish within 8 minutes for both shapes on an H100/H200: most of the time is
writing and reading the saved weights (13.5 GB and 26 GB in bfloat16), not generating.
The vocabulary is the tokenizer's (49,152 for smollm2-135m), not Llama-2's 32,000: its
embedding and output layers are 1.5× Llama-2's (4% more weights for 7b, 3% for 13b).
"""

from __future__ import annotations

import argparse
import gc
import json
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Llama-2's published shapes (meta-llama/Llama-2-7b-hf and -13b-hf config.json), the vocabulary aside.
SHAPES: dict[str, dict[str, Any]] = {
    "7b": {"hidden_size": 4096, "intermediate_size": 11008, "num_hidden_layers": 32, "num_attention_heads": 32,
           "num_key_value_heads": 32, "max_position_embeddings": 4096, "rms_norm_eps": 1e-5},
    "13b": {"hidden_size": 5120, "intermediate_size": 13824, "num_hidden_layers": 40, "num_attention_heads": 40,
            "num_key_value_heads": 40, "max_position_embeddings": 4096, "rms_norm_eps": 1e-5},
    "tiny": {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4,
             "num_key_value_heads": 4, "max_position_embeddings": 2048, "rms_norm_eps": 1e-5},
}
GIB = 1024**3


@dataclass
class Side:
    tokens: int  # generated tokens, each output up to and including its first EOS
    seconds: float  # generation
    steps: int  # decode steps (a batch runs until its longest output ends)
    peak_gib: float | None
    outputs: list[str]

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / self.seconds


def _tokenizer_dir(model: str) -> Path:
    from orcabench.models.bundled import converted_model_dir

    return Path(converted_model_dir(model))


def build_model(shape: str, tokenizer: Any, device: str, dtype: Any, seed: int) -> Any:
    """The shape's Llama with random weights, created on ``device`` in ``dtype`` (nothing read from disk)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(**SHAPES[shape], vocab_size=len(tokenizer), tie_word_embeddings=False,
                         bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                         pad_token_id=tokenizer.pad_token_id)
    torch.manual_seed(seed)
    default = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        with torch.device(device):
            model = LlamaForCausalLM(config)
    finally:
        torch.set_default_dtype(default)
    return model.eval()


def weight_bytes_per_step(model: Any) -> int:
    """Bytes of weights one decode step reads: every parameter but the input embedding (only its rows are gathered)."""
    embedding = model.get_input_embeddings().weight
    return sum(p.numel() * p.element_size() for p in model.parameters() if p is not embedding)


def synthetic_mirror(root: Path, count: int) -> Path:
    """A data mirror whose gsm8k/test.jsonl holds ``count`` GSM8K-shaped questions (no real data needed on the GPU host)."""
    (root / "gsm8k").mkdir(parents=True)
    rows = [{"question": f"A baker makes {12 + i} trays of {3 + i % 7} rolls each and sells {5 + i} rolls. "
                         f"A friend brings {i % 4 + 1} more trays. How many rolls does the baker have now?",
             "answer": f"Some working.\n#### {(12 + i) * (3 + i % 7) - (5 + i) + (i % 4 + 1) * (3 + i % 7)}"}
            for i in range(count)]
    (root / "gsm8k" / "test.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    return root


def _peak_above(device: str, before: int) -> float | None:
    import torch

    return (torch.cuda.max_memory_allocated() - before) / GIB if device.startswith("cuda") else None


def _reset_peak(device: str) -> int:
    import torch

    if not device.startswith("cuda"):
        return 0
    gc.collect()
    torch.cuda.empty_cache()
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    return int(torch.cuda.memory_allocated())


def run_orcabench(folder: Path, mirror: Path, out: Path, args: argparse.Namespace, dtype_name: str) -> tuple[Side, list[Any]]:
    from orcabench.api import run
    from orcabench.engine.plan import EngineSettings, Operations, RunConfig, Sampling, Selection
    from orcabench.store.writer import read_records

    config = RunConfig(selection=Selection(model=str(folder), tasks=("gsm8k",), limit=args.prompts, data_dir=mirror),
                       sampling=Sampling(max_tokens=args.tokens),
                       engine=EngineSettings(backend="hf", dtype=dtype_name, args={"device": args.device}),
                       operations=Operations(output=out, batch_size=args.prompts))
    before = _reset_peak(args.device)
    run(config)
    peak = _peak_above(args.device, before)
    session = json.loads((out / "manifest.json").read_text())["sessions"][-1]
    records, problems = read_records(out / "records.jsonl")
    if problems or len(records) != args.prompts:
        raise SystemExit(f"orcabench stored {len(records)} records of {args.prompts} ({problems})")
    ordered = sorted(records.values(), key=lambda r: int(r.id))
    # One batch holds every prompt, so it ran as many steps as its longest output.
    steps = max(r.output_tokens for r in ordered)
    side = Side(int(session["output_tokens"]), float(session["generate_seconds"]), steps, peak, [r.output for r in ordered])
    return side, ordered


def run_raw(model: Any, tokenizer: Any, records: list[Any], args: argparse.Namespace) -> Side:
    import torch

    special = next((flag for flag in (False, True)
                    if all(len(tokenizer(r.prompt, add_special_tokens=flag).input_ids) == r.prompt_tokens for r in records)),
                   None)
    if special is None:
        raise SystemExit("the stored prompts do not tokenise to the stored prompt token counts: not the same prompts")
    ids = [tokenizer(r.prompt, add_special_tokens=special).input_ids for r in records]
    eos = model.generation_config.eos_token_id
    eos_ids = [eos] if isinstance(eos, int) else list(eos or [])
    if tokenizer.eos_token_id is not None and tokenizer.eos_token_id not in eos_ids:
        eos_ids.append(tokenizer.eos_token_id)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else eos_ids[0]
    width = max(map(len, ids))
    input_ids = torch.tensor([[pad] * (width - len(row)) + row for row in ids], device=args.device)
    attention = torch.tensor([[0] * (width - len(row)) + [1] * len(row) for row in ids], device=args.device)
    before = _reset_peak(args.device)
    with torch.inference_mode():
        started = time.perf_counter()
        output = model.generate(input_ids=input_ids, attention_mask=attention, max_new_tokens=args.tokens, do_sample=False,
                                temperature=None, top_p=None, top_k=None, pad_token_id=pad, eos_token_id=eos_ids)
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()
        seconds = time.perf_counter() - started
    peak = _peak_above(args.device, before)
    tokens, texts = 0, []
    for row in output[:, width:].tolist():
        ended = next((k for k, token in enumerate(row) if token in eos_ids), None)
        new = row if ended is None else row[: ended + 1]
        tokens += len(new)
        texts.append(tokenizer.decode(new, skip_special_tokens=True))
    return Side(tokens, seconds, output.shape[1] - width, peak, texts)


def check_shape(shape: str, args: argparse.Namespace, work: Path) -> str:
    import torch
    from transformers import AutoTokenizer

    dtype_name = args.dtype or ("bfloat16" if args.device.startswith("cuda") else "float32")
    dtype = getattr(torch, dtype_name)
    source = _tokenizer_dir(args.tokenizer_model)
    tokenizer = AutoTokenizer.from_pretrained(source)
    started = time.perf_counter()
    model = build_model(shape, tokenizer, args.device, dtype, args.seed)
    if args.device.startswith("cuda"):
        torch.cuda.synchronize()
    built = time.perf_counter() - started
    folder = work / f"llama-{shape}-random"
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    saved = time.perf_counter() - started - built
    parameters = sum(p.numel() for p in model.parameters())
    print(f"{shape}: {parameters / 1e9:.2f} B parameters, {dtype_name} on {args.device}: built in {built:.1f} s, "
          f"saved in {saved:.1f} s", flush=True)
    mirror = synthetic_mirror(work / f"mirror-{shape}", args.prompts)
    ours, records = run_orcabench(folder, mirror, work / f"run-{shape}", args, dtype_name)
    raw = run_raw(model, tokenizer, records, args)
    same = sum(a == b for a, b in zip(ours.outputs, raw.outputs))
    per_step = weight_bytes_per_step(model)
    del model
    shutil.rmtree(folder, ignore_errors=True)  # 13b's weights are 26 GB: one shape on disk at a time
    roofline = ""
    for name, side in (("orcabench", ours), ("raw generate", raw)):
        achieved = per_step * side.steps / side.seconds / 1e9
        fraction = f"{achieved / args.bandwidth_gbs:.1%} of {args.bandwidth_gbs:g} GB/s" if args.bandwidth_gbs else "n/a"
        peak = f"{side.peak_gib:.2f} GiB" if side.peak_gib is not None else "n/a (not a GPU)"
        print(f"  {name:>12}: {side.tokens} tokens in {side.seconds:.2f} s = {side.tokens_per_s:.1f} tok/s, "
              f"{side.steps} decode steps, weights read {achieved:.1f} GB/s ({fraction}), peak memory {peak}", flush=True)
        if name == "orcabench":
            roofline = f"{achieved / args.bandwidth_gbs:.1%}" if args.bandwidth_gbs else "n/a"
    ratio = ours.tokens_per_s / raw.tokens_per_s
    print(f"  orcabench / raw tokens/s: {ratio:.2f}; identical outputs: {same}/{len(records)}", flush=True)
    peak = f"{ours.peak_gib:.1f}GiB" if ours.peak_gib is not None else "n/a"
    return (f"{shape}: orcabench {ours.tokens_per_s:.1f} tok/s, raw {raw.tokens_per_s:.1f} tok/s, ratio {ratio:.2f}, "
            f"peak {peak}, roofline {roofline}, identical {same}/{len(records)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tiny", action="store_true", help="a tiny Llama, float32, 4 prompts × 8 tokens: runs on CPU")
    parser.add_argument("--shapes", default="7b,13b", help=f"comma-separated, of {', '.join(SHAPES)}")
    parser.add_argument("--prompts", type=int, default=32)
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--dtype", default=None, help="default: bfloat16 on a GPU, float32 on CPU")
    parser.add_argument("--device", default=None, help="default: cuda when available, else cpu")
    parser.add_argument("--bandwidth-gbs", type=float, default=None, help="the GPU's published memory bandwidth, GB/s")
    parser.add_argument("--tokenizer-model", default="smollm2-135m", help="the bundled model whose tokenizer is used")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    import torch

    args.device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    if args.tiny:
        args.shapes, args.prompts, args.tokens = "tiny", min(args.prompts, 4), min(args.tokens, 8)
    shapes = args.shapes.split(",")
    unknown = sorted(set(shapes) - set(SHAPES))
    if unknown:
        parser.error(f"unknown shape(s) {', '.join(unknown)}: choose from {', '.join(SHAPES)}")
    device_name = torch.cuda.get_device_name() if args.device.startswith("cuda") else "cpu"
    print(f"gpu_check on {device_name}: {args.prompts} prompts × {args.tokens} tokens, shapes {', '.join(shapes)}", flush=True)
    started = time.perf_counter()
    results = []
    with tempfile.TemporaryDirectory(prefix="orcabench-gpu-check-") as work:
        for shape in shapes:
            results.append(check_shape(shape, args, Path(work)))
    print(f"RESULT {device_name} ({time.perf_counter() - started:.0f} s): " + "; ".join(results))


if __name__ == "__main__":
    main()
