"""Continuous batching for the hf backend, on transformers' continuous-batching manager.

Every generate request is submitted at once; transformers' manager (paged attention: the KV
cache in fixed-size pages, each step one forward over the running sequences' new tokens, sdpa
or eager attention over the pages) keeps at most ``max_concurrent`` sequences running. A
sequence leaves at its end-of-sequence token, its ``max_tokens`` or its first stop string, and a
waiting one joins at the next step, so no step is spent on a finished sequence. Each completion
is handed back the moment it finishes, as vLLM's are.

Stop strings are not a stopping rule the manager knows: a request with stop strings streams its
tokens, the text is checked after every token, and the request is cancelled at the first stop
string (the text cut before it, as on the static path).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import transformers

from orcabench.backends.base import truncate_at_stop
from orcabench.types import Completion, OrcabenchError, Request


STATIC, CONTINUOUS, AUTO = "static", "continuous", "auto"
BATCHING_MODES = (AUTO, CONTINUOUS, STATIC)
_PAGE_TOKENS = 256  # tokens per KV-cache page (transformers' default page size)
_STEP_TOKENS = 1024  # most prompt tokens prefilled in one step; long prompts are split across steps
_CACHE_HEADROOM = 1.25  # the scheduler admits new sequences only while 15% of the cache is free
_POLL_SECONDS = 1.0  # how long to wait for a result before checking the manager is alive


def unsupported_reason(model: Any) -> str | None:
    """Why transformers' continuous batching cannot run ``model`` here; None when it can."""
    if not callable(getattr(model, "init_continuous_batching", None)):
        return f"transformers {transformers.__version__} has no continuous batching (it came in 4.56)"
    attention = str(getattr(model.config, "_attn_implementation", None))
    if attention not in ("sdpa", "eager", "paged|eager") and "flash" not in attention:
        return f"attention implementation {attention!r} has no paged version (sdpa, eager and flash do)"
    return None


@dataclass
class _Running:
    """One submitted request: where its completion goes and how far its text is checked for stop strings."""

    index: int
    prompt_tokens: int
    request: Request
    checked: int = 0  # generated tokens already known to hold no stop string


class ContinuousGenerator:
    """Greedy generation of many requests through one continuous-batching manager per call."""

    def __init__(self, model: Any, tokenizer: Any, eos_ids: Sequence[int], pad_id: int, max_concurrent: int) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.eos_ids = list(eos_ids)
        self.pad_id = pad_id
        self.max_concurrent = max_concurrent

    def _config(self, items: Sequence[tuple[int, list[int], Request]]) -> Any:
        from transformers.generation.configuration_utils import ContinuousBatchingConfig

        # The cache holds the longest sequences that can run at once, in whole pages each, with the
        # scheduler's headroom. Left to itself on CPU, transformers sizes it to 90% of the machine's RAM.
        longest = max(len(ids) + request.max_tokens for _, ids, request in items)
        running = min(self.max_concurrent, len(items))
        pages = math.ceil(running * (math.ceil(longest / _PAGE_TOKENS) + 1) * _CACHE_HEADROOM) + 1
        return ContinuousBatchingConfig(page_size=_PAGE_TOKENS, num_blocks=pages, max_batch_tokens=_STEP_TOKENS,
                                        max_requests_per_batch=self.max_concurrent, allow_block_sharing=False,
                                        auto_switch_to_flash=False,  # the attention the static path uses
                                        use_cuda_graph=None if self.model.device.type == "cuda" else False)

    def generate(self, items: Sequence[tuple[int, list[int], Request]]) -> Iterator[list[tuple[int, Completion]]]:
        """Completions of ``(index, prompt ids, request)`` items, in groups as they finish (each index once)."""
        if not items:
            return
        generation = transformers.GenerationConfig(do_sample=False, max_new_tokens=max(r.max_tokens for _, _, r in items),
                                                   eos_token_id=self.eos_ids, pad_token_id=self.pad_id)
        manager = self.model.init_continuous_batching(generation_config=generation,
                                                      continuous_batching_config=self._config(items))
        manager.start()
        running: dict[str, _Running] = {}
        try:
            for index, ids, request in items:
                request_id = f"r{index}"
                running[request_id] = _Running(index, len(ids), request)
                manager.add_request(ids, request_id=request_id, max_new_tokens=request.max_tokens,
                                    streaming=bool(request.stop), eos_token_id=self.eos_ids)
            while running:
                outputs = self._next_outputs(manager)
                finished = []
                for output in outputs:
                    state = running.get(output.request_id)
                    if state is None:  # a streamed step of a request already ended at a stop string
                        continue
                    completion = self._finished(state, output)
                    if completion is not None:
                        del running[output.request_id]
                        finished.append((state.index, completion))
                        if not output.is_finished():
                            manager.cancel_request(output.request_id)
                if finished:
                    yield finished
        finally:
            # Left early (an error, Ctrl-C, the caller stopped reading): drop what is still running, do not finish it.
            manager.stop(block=True, hard_stop=bool(running))
            manager.destroy()

    def _next_outputs(self, manager: Any) -> list[Any]:
        """Every output the manager has delivered, waiting for at least one; an error if the manager died."""
        first = None
        while first is None:
            first = manager.get_result(timeout=_POLL_SECONDS)
            if first is None and not manager.is_running():
                error = manager.background_thread_status.fatal_error
                raise OrcabenchError(f"transformers' continuous batching stopped: {error or 'the generation loop exited'}")
        outputs = [first]
        while (more := manager.get_result(timeout=0)) is not None:
            outputs.append(more)
        return outputs

    def _finished(self, state: _Running, output: Any) -> Completion | None:
        """The request's completion if ``output`` ends it (end of sequence, max_tokens, a stop string), else None."""
        if output.error is not None:
            raise OrcabenchError(f"transformers' continuous batching failed a request: {output.error}")
        tokens = list(output.generated_tokens)
        stop_at = self._first_stop(state, tokens)
        if stop_at is not None:
            tokens = tokens[:stop_at]
        elif not output.is_finished():
            return None
        ended = next((k for k, token in enumerate(tokens) if token in self.eos_ids), None)
        if ended is not None:
            tokens = tokens[: ended + 1]
        text, stopped = truncate_at_stop(self._text(tokens), state.request.stop)
        finish = "stop" if ended is not None or stopped else "length"
        return Completion(text=text, prompt_tokens=state.prompt_tokens, output_tokens=len(tokens), finish_reason=finish)

    def _first_stop(self, state: _Running, tokens: list[int]) -> int | None:
        """The fewest generated tokens whose text holds a stop string (None: none does yet)."""
        stops = state.request.stop
        if not stops:
            return None
        # Only the end of the text can hold a new stop string: decode a window of tokens long enough to hold the
        # longest one (a token is at least one character), plus a few for multi-byte characters split across tokens.
        window = max(len(s) for s in stops) + 4
        for end in range(state.checked + 1, len(tokens) + 1):
            tail = self.tokenizer.decode(tokens[max(0, end - window) : end], skip_special_tokens=True)
            if any(s in tail for s in stops) and truncate_at_stop(self._text(tokens[:end]), stops)[1]:
                return end  # confirmed on the whole text, as the completion's text is cut
            state.checked = end
        return None

    def _text(self, tokens: list[int]) -> str:
        return str(self.tokenizer.decode(tokens, skip_special_tokens=True))
