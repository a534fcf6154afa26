"""OpenAI-compatible backend: any server that speaks ``/v1/completions`` or ``/v1/chat/completions``.

Requests go out through the official ``openai`` client from a thread pool (``concurrency``
at a time) and each answer is handed back the moment it arrives. The client's own retry
loop is switched off (``max_retries=0``): this module owns the policy — exponential backoff
with jitter on 408/409/429/5xx, timeouts and connection errors, honouring ``Retry-After`` —
so it is documented and testable. A refused connection to a local address (127.0.0.0/8,
localhost, ::1) is not retried: nothing listens there, and waiting will not start a server.

The response cache (``responses.jsonl``: an interrupted API run never pays twice for a request
that came back) and the ``request_budget`` wrap this backend from outside
(``orcabench.backends.cache``, on by default for ``openai``; ``--engine-arg response_cache=false``
turns the cache off).

Engine settings (``--engine-arg KEY=VALUE``):

``base_url``       server root, e.g. ``http://127.0.0.1:8000/v1`` (else ``$OPENAI_BASE_URL``, else OpenAI); several
                   servers as ``URL1,URL2,…``: each request goes to the least-loaded, a failing one's share moves
                   (orcabench.backends.servers); the cache does not depend on which server answered
``api_key``        else ``$OPENAI_API_KEY``; a key-less local server gets a placeholder. Never in ``info()``.
``api_model``      the served model name (default: the model path orcabench resolved)
``endpoint``       ``completions`` (default: the exact prompt orcabench rendered and recorded)
                   or ``chat`` (``Request.messages``; the server applies its own chat template)
``concurrency``    requests in flight at once (8)
``max_retries``    retries after the first attempt (5); ``retry_base_delay`` (0.5 s), ``retry_max_delay`` (30 s)
``timeout``        seconds per HTTP request (600)
``vllm_extensions`` send vLLM's ``add_special_tokens`` on completions so the server tokenises the
                   prompt exactly as the offline backends do (true); false for servers that reject it
``tokenizer``      local tokenizer for loglikelihood requests (default: the model path)

Loglikelihood requests always use the completions endpoint (chat has no echo): the context and
continuation are tokenised locally the lm-evaluation-harness way (as the offline backends do),
sent as token ids with ``echo=True, logprobs=1, max_tokens=0``, and the continuation's
``token_logprobs`` are summed; a server without echoed prompt logprobs is a clear error.
"""

from __future__ import annotations

import ipaddress
import json
import os
import random
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import openai

from orcabench.backends.base import BackendInfo, encode_loglikelihood, engine_setting, truncate_at_stop
from orcabench.backends.servers import RetryPolicy, Server, ServerPool, server_urls
from orcabench.types import Completion, OrcabenchError, Request

ENDPOINTS = ("completions", "chat")
# Statuses worth another attempt: the same set the openai client retries on by itself.
_RETRY_STATUSES = frozenset({408, 409, 429})
# Body keys the openai client does not know; they travel in ``extra_body``.
_EXTRA_BODY_KEYS = frozenset({"add_special_tokens", "chat_template_kwargs"})
_OWN_SETTINGS = frozenset({"base_url", "api_key", "api_model", "endpoint", "concurrency", "max_retries", "retry_base_delay",
                           "retry_max_delay", "timeout", "vllm_extensions", "tokenizer"})
# Placeholder for servers that want no key: the openai client refuses to start without one.
_NO_KEY = "EMPTY"


@dataclass(frozen=True)
class Call:
    """One HTTP request as sent: which endpoint and its JSON body."""

    endpoint: str
    body: dict[str, Any]
    context_tokens: int = 0  # loglikelihood: where the continuation starts in the echoed prompt
    continuation_tokens: int = 0


def _setting(engine: dict[str, Any], key: str, kind: type, default: Any, minimum: float | None = None) -> Any:
    return engine_setting("openai backend", engine, key, kind, default, minimum)


def is_local(url: str) -> bool:
    """Whether ``url`` names this machine: localhost, 127.0.0.0/8 or ::1 (where a refusal means no server runs)."""
    host = urlsplit(url).hostname or ""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _refused(error: BaseException) -> bool:
    """Whether a connection error was the peer refusing the connection (nothing listens on the port)."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, ConnectionRefusedError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _one_line(text: str, limit: int = 300) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _retry_after(headers: Any) -> float | None:
    """Seconds from ``retry-after-ms`` or ``retry-after`` (numeric form only)."""
    for header, divisor in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(header) if headers is not None else None
        if value is None:
            continue
        try:
            return max(0.0, float(value) / divisor)
        except ValueError:
            continue  # an HTTP date: rare from API servers; our own backoff applies
    return None


class OpenAIBackend:
    name = "openai"

    def __init__(self, model_path: str, engine: dict[str, Any], seed: int) -> None:
        self.model_path = model_path
        self.seed = seed
        self.endpoint = _setting(engine, "endpoint", str, "completions")
        if self.endpoint not in ENDPOINTS:
            raise OrcabenchError(f"openai backend: endpoint={self.endpoint!r}: choose completions or chat")
        self.api_model = str(engine.get("api_model") or model_path)
        self.concurrency = _setting(engine, "concurrency", int, 8, minimum=1)
        self.retry = RetryPolicy(max_retries=_setting(engine, "max_retries", int, 5, minimum=0),
                                 base_delay=_setting(engine, "retry_base_delay", float, 0.5, minimum=0),
                                 max_delay=_setting(engine, "retry_max_delay", float, 30.0, minimum=0))
        self.timeout = _setting(engine, "timeout", float, 600.0, minimum=0.001)
        self.vllm_extensions = _setting(engine, "vllm_extensions", bool, True)
        self.tokenizer_path = str(engine.get("tokenizer") or model_path)
        self.ignored = sorted(set(engine) - _OWN_SETTINGS)  # dtype, max_model_len, …: the server's business
        base_url = engine.get("base_url") or os.environ.get("OPENAI_BASE_URL") or None
        api_key = engine.get("api_key") or os.environ.get("OPENAI_API_KEY") or None
        if api_key is None and base_url is None:
            raise OrcabenchError(
                "openai backend: set OPENAI_API_KEY, or point it at a server with --engine-arg base_url=http://HOST:PORT/v1"
            )
        self.pool = ServerPool(server_urls(base_url), str(api_key or _NO_KEY), self.timeout, self.retry, random.Random(seed))
        self._tokenizer: Any = None

    def info(self) -> BackendInfo:
        # The API key is deliberately absent: this record goes into the run manifest.
        urls = [server.url for server in self.pool.servers]
        return BackendInfo("openai", {"openai": openai.__version__}, {
            "base_url": urls[0] if len(urls) == 1 else urls,
            "servers": self.pool.info(),
            "api_model": self.api_model,
            "endpoint": self.endpoint,
            "concurrency": self.concurrency,
            "retry": {"max_retries": self.retry.max_retries, "base_delay": self.retry.base_delay,
                      "max_delay": self.retry.max_delay},
            "timeout": self.timeout,
            "vllm_extensions": self.vllm_extensions,
            "ignored_engine_settings": self.ignored,
        })

    def close(self) -> None:
        self.pool.close()

    # -- building requests ------------------------------------------------------------------

    def _call(self, request: Request) -> Call:
        if request.kind == "loglikelihood":
            return self._loglikelihood_call(request)
        body: dict[str, Any] = {"model": self.api_model, "max_tokens": request.max_tokens, "temperature": 0.0, "seed": self.seed}
        if request.stop:
            body["stop"] = list(request.stop)
        if self.endpoint == "chat":
            if not request.messages:
                raise OrcabenchError("openai backend: the chat endpoint needs the request's messages; use endpoint=completions")
            body["messages"] = [{"role": m.role, "content": m.content} for m in request.messages]
            if request.chat_template_kwargs:  # the server renders the template: tell it what orcabench rendered with
                body["chat_template_kwargs"] = request.chat_template_kwargs
        else:
            body["prompt"] = request.prompt
            if self.vllm_extensions:  # without it vLLM adds BOS to a chat prompt that already has one
                body["add_special_tokens"] = request.add_special_tokens
        return Call(self.endpoint, body)

    def _loglikelihood_call(self, request: Request) -> Call:
        tokenizer = self._load_tokenizer()
        context, continuation = encode_loglikelihood(tokenizer, request)
        # Token ids, not text: the split between context and continuation is then exactly
        # the offline backends', whatever the server's detokenised offsets would say.
        body = {"model": self.api_model, "prompt": context + continuation, "max_tokens": 0, "temperature": 0.0,
                "echo": True, "logprobs": 1, "seed": self.seed}
        return Call("completions", body, len(context), len(continuation))

    def _load_tokenizer(self) -> Any:
        if self._tokenizer is None:
            try:
                from transformers import AutoTokenizer

                self._tokenizer = AutoTokenizer.from_pretrained(self.tokenizer_path)
            except (ImportError, OSError, ValueError) as error:
                raise OrcabenchError(
                    f"openai backend: loglikelihood requests need the model's tokenizer; cannot load {self.tokenizer_path!r} "
                    f"({_one_line(error, 120)}): pass --engine-arg tokenizer=PATH_OR_HUB_ID"
                ) from error
        return self._tokenizer

    # -- sending ----------------------------------------------------------------------------

    @staticmethod
    def _send(client: openai.OpenAI, call: Call) -> dict[str, Any]:
        standard = {k: v for k, v in call.body.items() if k not in _EXTRA_BODY_KEYS}
        extra = {k: v for k, v in call.body.items() if k in _EXTRA_BODY_KEYS}
        create = client.chat.completions.create if call.endpoint == "chat" else client.completions.create
        response = create(**standard, extra_body=extra or None)
        return response.model_dump(mode="json")

    def _fetch(self, call: Call) -> dict[str, Any]:
        """Send one request under the retry policy; return the response.

        Each attempt goes to the least-loaded server that is up; a failed one is out of rotation
        for its backoff, so the retry goes to another server or, with one server, waits for it.
        A local server that refuses the connection is out for good; with none left, fail at once.
        """
        server: Server | None = None
        for attempt in range(self.retry.max_retries + 1):
            server = self.pool.acquire(avoid=server)
            if server is None:
                raise self._nothing_listens()
            started = time.monotonic()
            try:
                response = self._send(server.client, call)
            except openai.APIStatusError as error:
                retryable = error.status_code in _RETRY_STATUSES or error.status_code >= 500
                self.pool.release(server, time.monotonic() - started, failed=retryable,
                                  retry_after=_retry_after(error.response.headers), answered=False)
                if not retryable or attempt == self.retry.max_retries:
                    raise self._failure(call, server, f"HTTP {error.status_code}: {_one_line(error.message)}", attempt) from error
            except (openai.APITimeoutError, openai.APIConnectionError) as error:
                gone = _refused(error) and is_local(server.url)
                self.pool.release(server, time.monotonic() - started, failed=True, answered=False, gone=gone)
                if gone and all(s.gone for s in self.pool.servers):
                    raise self._nothing_listens() from error
                if attempt == self.retry.max_retries:
                    raise self._failure(call, server, type(error).__name__, attempt) from error
            except openai.APIError as error:  # a response the client could not read: retrying will not help
                self.pool.release(server, time.monotonic() - started, answered=False)
                raise self._failure(call, server, _one_line(error), attempt) from error
            else:
                self.pool.release(server, time.monotonic() - started)
                return response
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _nothing_listens(self) -> OrcabenchError:
        urls = ", ".join(server.url for server in self.pool.gone())
        return OrcabenchError(
            f"openai backend: connection refused at {urls}: no server is running there; start it (e.g. `orcabench serve "
            "--model MODEL --port PORT`, which prints its URL when ready) or check the address given to --server or "
            "--engine-arg base_url"
        )

    @staticmethod
    def _failure(call: Call, server: Server, what: str, attempt: int) -> OrcabenchError:
        tries = f" after {attempt + 1} attempts" if attempt else ""
        return OrcabenchError(f"openai backend: {call.endpoint} request to {server.url} failed{tries}: {what}")

    # -- answering --------------------------------------------------------------------------

    def answer(self, requests: Sequence[Request]) -> Iterator[list[tuple[int, Completion]]]:
        calls = [self._call(request) for request in requests]
        # Identical HTTP requests (a duplicated question) are sent once.
        identical: dict[str, list[int]] = {}
        for i, call in enumerate(calls):
            identical.setdefault(json.dumps([call.endpoint, call.body], sort_keys=True), []).append(i)
        if identical:
            yield from self._answer_over_http(requests, calls, list(identical.values()))

    def _answer_over_http(
        self, requests: Sequence[Request], calls: list[Call], groups: list[list[int]]
    ) -> Iterator[list[tuple[int, Completion]]]:
        """Send one request per group of identical requests; yield every finished group's answers at once."""
        executor = ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="orcabench-openai")
        futures: dict[Future[dict[str, Any]], list[int]] = {executor.submit(self._fetch, calls[g[0]]): g for g in groups}
        failure: OrcabenchError | None = None
        try:
            pending = set(futures)
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                group = []
                for future in done:
                    if future.cancelled():
                        continue
                    try:
                        response = future.result()
                        group += [(i, self._completion(requests[i], calls[i], response)) for i in futures[future]]
                    except OrcabenchError as error:
                        failure = failure or error
                if failure is not None:  # stop sending; requests already in flight still finish and count
                    for future in pending:
                        future.cancel()
                if group:
                    yield group
        finally:
            executor.shutdown(wait=False, cancel_futures=True)
        if failure is not None:
            raise failure

    # -- reading responses ------------------------------------------------------------------

    def _completion(self, request: Request, call: Call, response: dict[str, Any]) -> Completion:
        choices = response.get("choices") or []
        if not choices:
            raise OrcabenchError(f"openai backend: the server's {call.endpoint} response has no choices")
        choice, usage = choices[0], response.get("usage") or {}
        if request.kind == "loglikelihood":
            return self._loglikelihood(call, choice, usage)
        reasoning = None
        if call.endpoint == "chat":
            message = choice.get("message") or {}
            text = message.get("content") or ""
            # A server's reasoning parser returns the trace apart: reasoning_content (DeepSeek's API,
            # older vLLM) or reasoning (vLLM >= 0.10).
            reasoning = message.get("reasoning_content") or message.get("reasoning")
        else:
            text = choice.get("text") or ""
        # Servers cut at stop sequences themselves; cutting again covers those that do not.
        text, stopped = truncate_at_stop(text, request.stop)
        finish = "length" if choice.get("finish_reason") == "length" and not stopped else "stop"
        details = usage.get("completion_tokens_details") or {}
        return Completion(text=text, prompt_tokens=int(usage.get("prompt_tokens") or 0),
                          output_tokens=int(usage.get("completion_tokens") or 0), finish_reason=finish,
                          reasoning=reasoning if isinstance(reasoning, str) else None,
                          reasoning_tokens=details.get("reasoning_tokens") or None)

    @staticmethod
    def _loglikelihood(call: Call, choice: dict[str, Any], usage: dict[str, Any]) -> Completion:
        logprobs = choice.get("logprobs") or {}
        token_logprobs, top = logprobs.get("token_logprobs") or [], logprobs.get("top_logprobs") or []
        start, end = call.context_tokens, call.context_tokens + call.continuation_tokens
        if len(token_logprobs) < end or len(top) < end or any(token_logprobs[p] is None for p in range(start, end)):
            raise OrcabenchError(
                "openai backend: the server returned no prompt logprobs for echo=True, logprobs=1; loglikelihood tasks need "
                "a completions endpoint that echoes prompt logprobs (vLLM's does): pick a generative task or another server"
            )
        total, greedy = 0.0, True
        for position in range(start, end):
            value = float(token_logprobs[position])
            total += value
            # top_logprobs holds the top-1 alternative (plus the actual token): greedy when
            # nothing beats the actual token. Compared by value, as token strings can collide.
            greedy = greedy and value >= max((top[position] or {}).values(), default=value)
        return Completion(logprob=total, is_greedy=greedy, prompt_tokens=int(usage.get("prompt_tokens") or end))
