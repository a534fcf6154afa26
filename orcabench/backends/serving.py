"""A warm engine: ``orcabench serve`` keeps one vLLM engine up for many runs.

``orcabench serve --model M`` starts vLLM's OpenAI-compatible server (``python -m
vllm.entrypoints.openai.api_server``) on 127.0.0.1 with the model's resolved weights folder
and the engine settings an offline ``--backend vllm`` run would use, and prints its URL.
``orcabench run --server URL`` then sends the exact prompts orcabench renders through the
openai backend (completions endpoint, vLLM's ``add_special_tokens``), so each run skips the
engine start.

The server runs with :class:`EngineCard` as ASGI middleware, which answers ``GET
/orcabench/engine`` with the engine's settings read from the running engine's own
``VllmConfig`` — what a run's fingerprint names — not from what the launcher asked for.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from orcabench.types import OrcabenchError

ENGINE_PATH = "/orcabench/engine"
# Settings of the served engine that change what it answers: these enter a run's fingerprint.
CARD_KEYS = ("dtype", "max_model_len", "enforce_eager", "enable_prefix_caching", "seed", "max_num_seqs", "tensor_parallel_size",
             "kv_cache_dtype", "quantization")


def engine_card(vllm_config: Any) -> dict[str, Any]:
    """The served engine's settings, from vLLM's ``VllmConfig``."""
    model, cache = vllm_config.model_config, vllm_config.cache_config
    import vllm

    return {
        "vllm": vllm.__version__,
        "model": model.model,
        "served_model_name": model.served_model_name,
        "dtype": str(model.dtype).removeprefix("torch."),
        "max_model_len": model.max_model_len,
        "enforce_eager": model.enforce_eager,
        "enable_prefix_caching": cache.enable_prefix_caching,
        "seed": model.seed,
        "max_num_seqs": vllm_config.scheduler_config.max_num_seqs,
        "tensor_parallel_size": vllm_config.parallel_config.tensor_parallel_size,
        "kv_cache_dtype": str(cache.cache_dtype),
        "quantization": model.quantization,
        "device": str(vllm_config.device_config.device_type),
    }


class EngineCard:
    """ASGI middleware for vLLM's server (its ``--middleware`` option): ``GET /orcabench/engine`` → :func:`engine_card`."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] != ENGINE_PATH:
            await self.app(scope, receive, send)
            return
        body = json.dumps(engine_card(scope["app"].state.vllm_config)).encode()
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


def server_arguments(options: dict[str, Any]) -> list[str]:
    """``vllm.LLM`` keyword arguments as the API server's command-line flags."""
    flags: list[str] = []
    for key, value in options.items():
        flag = "--" + key.replace("_", "-")
        if value is True:
            flags.append(flag)
        elif value is False:
            flags.append("--no-" + flag[2:])
        elif value is not None:
            flags += [flag, json.dumps(value) if isinstance(value, (dict, list)) else str(value)]
    return flags


def _get_json(url: str, timeout: float = 5) -> Any:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return json.loads(response.read())


@dataclass(frozen=True)
class ServedEngine:
    """What a running ``orcabench serve`` says it serves."""

    url: str  # the API root, ending in /v1
    api_model: str  # the served model name (/v1/models)
    model_root: str  # the weights folder the server loaded
    card: dict[str, Any]  # engine settings (/orcabench/engine)

    @property
    def engine(self) -> dict[str, Any]:
        """The settings that change answers, for the fingerprint."""
        return {key: self.card.get(key) for key in CARD_KEYS}


def api_root(url: str) -> str:
    url = url.rstrip("/")
    return url if url.endswith("/v1") else url + "/v1"


def served_engine(url: str) -> ServedEngine:
    """Ask a running ``orcabench serve`` what it serves; a server that cannot say is a one-line error."""
    root = api_root(url)
    try:
        models = _get_json(root + "/models")["data"]
        card = _get_json(root.removesuffix("/v1") + ENGINE_PATH)
    except urllib.error.HTTPError as error:
        raise OrcabenchError(f"--server {url}: HTTP {error.code} from {error.url}; is it an `orcabench serve` server? "
                             "(other OpenAI-compatible servers: --backend openai --engine-arg base_url=URL)") from error
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise OrcabenchError(f"--server {url}: no answer from an `orcabench serve` server ({error}); start one with "
                             "`orcabench serve --model M` and pass the URL it prints") from error
    if not models:
        raise OrcabenchError(f"--server {url}: the server lists no model")
    return ServedEngine(root, str(models[0]["id"]), str(models[0].get("root") or card.get("model")), card)


def _exit_on_sigterm(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)


def serve(model_name: str, model_path: str, options: dict[str, Any], port: int,
          on_ready: Callable[[str], None], timeout: float = 900) -> int:
    """Run the server in the foreground until it exits or is interrupted; ``on_ready`` gets the URL."""
    command = [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", model_path,
               "--served-model-name", model_name, "--host", "127.0.0.1", "--port", str(port),
               "--middleware", f"{__name__}.{EngineCard.__name__}", *server_arguments(options)]
    env = dict(os.environ)
    env.pop("VLLM_ENABLE_V1_MULTIPROCESSING", None)  # the server's async engine runs in its own process
    process = subprocess.Popen(command, env=env, start_new_session=True)
    url = f"http://127.0.0.1:{port}/v1"
    # SIGTERM (a CI job's cleanup) stops the server too, through the ``finally`` below.
    previous = signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        deadline = time.monotonic() + timeout
        while process.poll() is None:
            try:
                _get_json(url + "/models", timeout=2)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise OrcabenchError(f"the vLLM server did not answer on {url} within {timeout:.0f} s") from None
                time.sleep(0.5)
        if process.poll() is not None:
            raise OrcabenchError(f"the vLLM server exited ({process.returncode}) before it answered; its log is above")
        on_ready(url)
        return process.wait()
    finally:
        signal.signal(signal.SIGTERM, previous)
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# Requests in flight at once for a --server run: enough that the server schedules a task
# set's requests together, as the offline engine does (the server's max_num_seqs caps it).
SERVER_CONCURRENCY = 128
# What a --server run may still set: how requests are sent, not what the engine answers.
_CLIENT_SETTINGS = frozenset({"concurrency", "timeout", "max_retries", "retry_base_delay", "retry_max_delay", "request_budget",
                              "response_cache"})


def server_run_engine(url: str, model_path: str, engine: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The openai backend's settings for a ``--server`` run, and the engine settings its fingerprint names.

    The fingerprint takes the served engine's settings as the server reports them, so
    runs against servers started with other settings never resume into each other.
    """
    from pathlib import Path

    served = served_engine(url)
    if Path(served.model_root).resolve() != Path(model_path).resolve():
        raise OrcabenchError(f"--server {url} serves {served.model_root}, but --model resolves to {model_path}: "
                             "pass the --model the server was started with")
    unknown = sorted(set(engine) - _CLIENT_SETTINGS)
    if unknown:
        raise OrcabenchError(f"--server: engine settings {', '.join(unknown)} belong to the server: "
                             "pass them to `orcabench serve`")
    backend = {"concurrency": SERVER_CONCURRENCY, **engine, "base_url": served.url, "api_model": served.api_model,
               "endpoint": "completions"}
    return backend, {**served.engine, "api_model": served.api_model, "endpoint": "completions"}
