"""Hugging Face transformers backend: greedy decoding with continuous batching wherever transformers offers it for the
model, on CPU and GPU alike (:mod:`orcabench.backends.hf_continuous`), else (or with ``batching=static``) in static
batches of length-sorted, left-padded prompts; loglikelihoods in batched forward passes."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator, Sequence
from itertools import groupby
from typing import Any

import torch
import transformers
from transformers import AutoModelForCausalLM

from orcabench.backends.base import BackendInfo, encode_loglikelihood, encode_prompt, engine_setting, truncate_at_stop
from orcabench.backends.hf_continuous import (AUTO, BATCHING_MODES, CONTINUOUS, STATIC, ContinuousGenerator,
                                              unsupported_reason)
from orcabench.threads import apply_threads
from orcabench.timings import Timings
from orcabench.models.tokenizer import load_tokenizer
from orcabench.types import Completion, OrcabenchError, Request

log = logging.getLogger(__name__)
_HF_ENGINE_KEYS = {"dtype", "device", "max_model_len", "revision", "trust_remote_code", "attn_implementation", "batching"}


def _torch_dtype(name: str) -> torch.dtype | str:
    if name == "auto":
        return "auto"
    try:
        dtype = getattr(torch, {"bf16": "bfloat16", "fp16": "float16", "half": "float16", "float": "float32",
                                "fp32": "float32"}.get(name, name))
    except AttributeError as error:
        raise OrcabenchError(f"unknown dtype {name!r}: use bfloat16, float16, float32 or auto") from error
    if not isinstance(dtype, torch.dtype):
        raise OrcabenchError(f"unknown dtype {name!r}: use bfloat16, float16, float32 or auto")
    return dtype


class HFBackend:
    name = "hf"

    def __init__(self, model_path: str, engine: dict[str, Any], seed: int, batch_size: int) -> None:
        ignored = sorted(set(engine) - _HF_ENGINE_KEYS)
        if ignored:
            warnings.warn(f"hf backend ignores engine settings meant for vLLM: {', '.join(ignored)}", stacklevel=2)
        transformers.utils.logging.disable_progress_bar()
        self.engine = engine
        self.batch_size = batch_size
        self.device = engine.get("device") or ("cuda" if torch.cuda.is_available() else "cpu")
        self.threads = apply_threads() if self.device == "cpu" else None  # orcabench.threads: env, Ray share or rule
        torch.manual_seed(seed)
        log.info(f"loading the model with transformers ({self.device}, {engine.get('dtype', 'auto')}) …")
        load_kwargs = {"revision": engine.get("revision"), "trust_remote_code": engine.get("trust_remote_code", False)}
        self.timings = Timings()
        with self.timings.phase("tokenizer"):
            self.tokenizer = load_tokenizer(model_path, **load_kwargs)  # the prompt renderer's, when it loaded one
        with self.timings.phase("weights"):
            self.model = AutoModelForCausalLM.from_pretrained(
                model_path,
                dtype=_torch_dtype(str(engine.get("dtype", "auto"))),
                attn_implementation=engine.get("attn_implementation"),
                **load_kwargs,
            ).to(self.device)
        self.model.eval()
        if self.threads and self.threads.governor:  # each forward pass, in the thread that runs it (continuous: its own)
            self.model.register_forward_pre_hook(self.threads.governor.hook)
        config_eos = self.model.generation_config.eos_token_id
        eos = [config_eos] if isinstance(config_eos, int) else list(config_eos or [])
        if self.tokenizer.eos_token_id is not None and self.tokenizer.eos_token_id not in eos:
            eos.append(self.tokenizer.eos_token_id)
        self.eos_ids = eos
        self.pad_id = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else eos[0]
        self.max_length = int(engine.get("max_model_len") or getattr(self.model.config, "max_position_embeddings", 4096))
        self.batching, self.batching_note = self._choose_batching(engine_setting("hf backend", engine, "batching", str, AUTO))

    def _choose_batching(self, wanted: str) -> tuple[str, str | None]:
        """How generate requests are batched (``batching`` engine setting), and why static batches when auto chose them:
        auto batches continuously wherever transformers can for this model, and says why not where it cannot."""
        if wanted not in BATCHING_MODES:
            raise OrcabenchError(f"hf backend: engine setting batching={wanted!r} must be one of {', '.join(BATCHING_MODES)}")
        if wanted == STATIC:
            return STATIC, None
        reason = unsupported_reason(self.model)
        if wanted == CONTINUOUS and reason:
            raise OrcabenchError(f"hf backend: continuous batching is not available: {reason}")
        if reason is None:
            return CONTINUOUS, None
        log.info(f"static batches: {reason}")
        return STATIC, f"static batches: {reason}"

    def info(self) -> BackendInfo:
        return BackendInfo("hf", {"transformers": transformers.__version__, "torch": torch.__version__},
                           {"device": self.device, "dtype": str(self.model.dtype).removeprefix("torch."),
                            "batch_size": self.batch_size, "max_length": self.max_length, "batching": self.batching,
                            **({"batching_note": self.batching_note} if self.batching_note else {}),
                            "timings": dict(self.timings),
                            "threads": self.threads.to_json() if self.threads else None})

    def close(self) -> None:
        del self.model

    def answer(self, requests: Sequence[Request]) -> Iterator[list[tuple[int, Completion]]]:
        generate = [(i, r) for i, r in enumerate(requests) if r.kind == "generate"]
        loglikelihood = [(i, r) for i, r in enumerate(requests) if r.kind == "loglikelihood"]
        yield from self._generate(generate)
        yield from self._loglikelihood(loglikelihood)

    def _batches(self, items: list[tuple[int, list[int], Request]]) -> Iterator[list[tuple[int, list[int], Request]]]:
        # Requests with the same stop sequences share a batch (stopping is per batch
        # setting); longest first so padding is small and memory errors come early.
        by_stop = sorted(items, key=lambda item: (item[2].stop, -len(item[1])))
        for _, group in groupby(by_stop, key=lambda item: item[2].stop):
            members = list(group)
            for start in range(0, len(members), self.batch_size):
                yield members[start : start + self.batch_size]

    @torch.inference_mode()
    def _generate(self, items: list[tuple[int, Request]]) -> Iterator[list[tuple[int, Completion]]]:
        encoded = [(index, encode_prompt(self.tokenizer, request), request) for index, request in items]
        if self.batching == CONTINUOUS:  # --batch-size: the most sequences running at once
            generator = ContinuousGenerator(self.model, self.tokenizer, self.eos_ids, self.pad_id, self.batch_size)
            yield from generator.generate(encoded)
            return
        for batch in self._batches(encoded):
            width = max(len(ids) for _, ids, _ in batch)
            input_ids = torch.tensor([[self.pad_id] * (width - len(ids)) + ids for _, ids, _ in batch], device=self.device)
            attention = torch.tensor([[0] * (width - len(ids)) + [1] * len(ids) for _, ids, _ in batch], device=self.device)
            stop = list(batch[0][2].stop)
            output = self.model.generate(
                input_ids=input_ids,
                attention_mask=attention,
                max_new_tokens=max(request.max_tokens for _, _, request in batch),
                do_sample=False,
                temperature=None,
                top_p=None,
                top_k=None,
                pad_token_id=self.pad_id,
                eos_token_id=self.eos_ids,
                stop_strings=stop or None,
                tokenizer=self.tokenizer if stop else None,
            )
            finished = []
            for row, (index, ids, request) in enumerate(batch):
                new = output[row, width:].tolist()[: request.max_tokens]
                ended = next((k for k, token in enumerate(new) if token in self.eos_ids), None)
                if ended is not None:
                    new = new[: ended + 1]
                text, stopped = truncate_at_stop(self.tokenizer.decode(new, skip_special_tokens=True), request.stop)
                finish = "stop" if ended is not None or stopped else "length"
                finished.append((index, Completion(text=text, prompt_tokens=len(ids), output_tokens=len(new),
                                                   finish_reason=finish)))
            yield finished

    @torch.inference_mode()
    def _loglikelihood(self, items: list[tuple[int, Request]]) -> Iterator[list[tuple[int, Completion]]]:
        # Requests whose model input is the same token sequence (the options of a multiple-
        # choice question with one-token continuations: " A".." D") share one forward pass.
        by_input: dict[tuple[int, ...], list[tuple[int, list[int], int]]] = {}
        for index, request in items:
            context, continuation = encode_loglikelihood(self.tokenizer, request)
            whole = (context + continuation)[-(self.max_length + 1) :]
            by_input.setdefault(tuple(whole[:-1]), []).append((index, whole, len(continuation)))
        inputs_longest_first = sorted(by_input, key=len, reverse=True)
        for start in range(0, len(inputs_longest_first), self.batch_size):
            batch = inputs_longest_first[start : start + self.batch_size]
            width = len(batch[0])
            inputs = torch.tensor([list(ids) + [self.pad_id] * (width - len(ids)) for ids in batch], device=self.device)
            attention = torch.tensor([[1] * len(ids) + [0] * (width - len(ids)) for ids in batch], device=self.device)
            # Logits only where a continuation token is predicted: the full (batch, length,
            # vocabulary) tensor is gigabytes for a 262k-token vocabulary (Gemma 3).
            keep = sorted({p for ids in batch for _, whole, n in by_input[ids]
                           for p in range(len(whole) - 1 - n, len(whole) - 1)})
            column = {position: k for k, position in enumerate(keep)}
            logits = self.model(input_ids=inputs, attention_mask=attention,
                                logits_to_keep=torch.tensor(keep, device=self.device)).logits
            logprobs = torch.log_softmax(logits.float(), dim=-1)
            finished = []
            for row, ids in enumerate(batch):
                for index, whole, n_continuation in by_input[ids]:
                    end = len(whole) - 1
                    positions = torch.tensor([column[p] for p in range(end - n_continuation, end)], device=self.device)
                    targets = torch.tensor(whole[-n_continuation:], device=self.device)
                    scores = logprobs[row, positions]
                    finished.append((index, Completion(
                        logprob=float(scores.gather(1, targets[:, None]).sum()),
                        is_greedy=bool((scores.argmax(dim=-1) == targets).all()),
                        prompt_tokens=len(whole),
                    )))
            yield finished
