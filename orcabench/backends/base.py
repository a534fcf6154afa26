"""The backend boundary: a backend answers batches of requests, nothing more.

Backends know nothing about tasks. ``answer`` takes all requests at once (so the engine
can schedule them together) and yields lists of ``(index, completion)`` pairs *as they
finish*, in any order, so the run loop can store each group the moment it exists.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from orcabench.types import Completion, OrcabenchError, Request


@dataclass(frozen=True)
class BackendInfo:
    """What a backend tells the run manifest: which engine answered, on which library versions, with which settings.

    :meth:`to_json` is the session's ``backend`` entry, key for key as the backends wrote it
    before this record existed (manifests do not change). Secrets never belong here.
    """

    backend: str  # "hf", "vllm", "openai"
    versions: dict[str, str] = field(default_factory=dict)  # library -> version, in the order shown
    # The resolved engine settings and what the engine did (timings, servers, replicas), in the order shown.
    settings: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"backend": self.backend, **self.versions, **self.settings}


class Backend(Protocol):
    name: str

    def answer(self, requests: Sequence[Request]) -> Iterator[list[tuple[int, Completion]]]: ...

    def info(self) -> BackendInfo:
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


_KIND_NAMES = {int: "an integer", float: "a number", bool: "true or false", str: "a string"}


def engine_setting(owner: str, engine: dict[str, Any], key: str, kind: type, default: Any, minimum: float | None = None) -> Any:
    """``engine[key]`` checked to be a ``kind`` (an int is a float too) at least ``minimum``; ``default`` when absent.

    A wrong value is one line naming ``owner`` (e.g. "openai backend"), the setting and what it must be.
    """
    value = engine.get(key, default)
    if value is None:
        return None
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kind) or isinstance(value, bool) != (kind is bool) or (minimum is not None and value < minimum):
        bound = f" >= {minimum:g}" if minimum is not None else ""
        raise OrcabenchError(f"{owner}: engine setting {key}={value!r} must be {_KIND_NAMES[kind]}{bound}")
    return value


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
    trailing spaces of the context move to the continuation first. An empty context becomes
    the tokenizer's BOS (else EOS) token, so every continuation token has a predecessor.
    """
    context, continuation = request.prompt, request.continuation
    if not continuation:
        raise OrcabenchError("a loglikelihood request needs a non-empty continuation")
    stripped = len(context) - len(context.rstrip(" "))
    if stripped:
        context, continuation = context[:-stripped], context[-stripped:] + continuation
    whole = tokenizer(context + continuation, add_special_tokens=request.add_special_tokens).input_ids
    context_ids = list(tokenizer(context, add_special_tokens=request.add_special_tokens).input_ids)
    continuation_ids = list(whole[len(context_ids) :])
    if not context_ids:  # the first token needs something to be predicted from
        context_ids = [tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id]
    return context_ids, continuation_ids
