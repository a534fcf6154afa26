"""The response cache and request budget as a wrapper around any backend (orcabench.backends.cache).

The inner backend here is scripted: it answers each prompt with a known text, in groups of a
chosen size, and can fail after a number of groups, as an engine or server that dies mid-run.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from orcabench.backends import registry
from orcabench.backends.base import Backend, BackendInfo, answer_in_order
from orcabench.backends.cache import RESPONSES, CachedBackend, request_key
from orcabench.registry import Registry
from orcabench.store.schema import Fingerprint
from orcabench.types import Completion, Message, OrcabenchError, Request


class Scripted:
    """A backend that answers ``prompt`` with ``"answer to " + prompt``; keeps every batch it was asked."""

    name = "scripted"

    def __init__(self, group_size: int = 2, fail_after_groups: int | None = None) -> None:
        self.group_size = group_size
        self.fail_after_groups = fail_after_groups
        self.asked: list[list[str]] = []
        self.closed = False

    def answer(self, requests: Sequence[Request]) -> Iterator[list[tuple[int, Completion]]]:
        self.asked.append([r.prompt for r in requests])
        for number, start in enumerate(range(0, len(requests), self.group_size)):
            if self.fail_after_groups is not None and number >= self.fail_after_groups:
                raise OrcabenchError("scripted backend: the engine died")
            yield [(i, Completion(text=f"answer to {requests[i].prompt}", prompt_tokens=len(requests[i].prompt),
                                  output_tokens=3, finish_reason="stop"))
                   for i in range(start, min(start + self.group_size, len(requests)))]

    def info(self) -> BackendInfo:
        return BackendInfo("scripted", {"version": "1"})

    def close(self) -> None:
        self.closed = True


def asking(*prompts: str) -> list[Request]:
    return [Request(kind="generate", prompt=p, max_tokens=8) for p in prompts]


def asked_prompts(inner: Scripted) -> list[str]:
    return [prompt for batch in inner.asked for prompt in batch]


def cache_lines(directory: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (directory / RESPONSES).read_text().splitlines()]


def test_each_answer_is_on_disk_before_it_is_handed_on(tmp_path: Path) -> None:
    requests = asking("a", "b", "c")
    backend = CachedBackend(Scripted(group_size=1), tmp_path)
    for group in backend.answer(requests):
        on_disk = {line["key"] for line in cache_lines(tmp_path)}
        assert {request_key(requests[i]) for i, _ in group} <= on_disk
    assert len(cache_lines(tmp_path)) == 3


def test_a_second_wrapper_on_the_run_directory_answers_from_the_file_without_asking_the_backend(tmp_path: Path) -> None:
    requests = asking("a", "b", "c")
    first = answer_in_order(CachedBackend(Scripted(), tmp_path), requests)
    inner = Scripted()
    again = CachedBackend(inner, tmp_path)
    assert again.cached_at_start == 3
    assert answer_in_order(again, requests) == first
    assert inner.asked == [] and again.cache_hits == 3


def test_a_backend_that_dies_mid_run_costs_only_what_had_not_come_back(tmp_path: Path) -> None:
    requests = asking("a", "b", "c", "d", "e")
    answered: list[int] = []
    with pytest.raises(OrcabenchError, match="the engine died"):
        for group in CachedBackend(Scripted(group_size=2, fail_after_groups=1), tmp_path).answer(requests):
            answered += [i for i, _ in group]
    assert answered == [0, 1]
    inner = Scripted()
    completions = answer_in_order(CachedBackend(inner, tmp_path), requests)
    assert asked_prompts(inner) == ["c", "d", "e"]
    assert [c.text for c in completions] == [f"answer to {p}" for p in "abcde"]


def test_identical_requests_are_asked_once_and_answered_for_each(tmp_path: Path) -> None:
    inner = Scripted()
    completions = answer_in_order(CachedBackend(inner, tmp_path), asking("a", "b", "a", "a"))
    assert asked_prompts(inner) == ["a", "b"]
    assert [c.text for c in completions] == ["answer to a", "answer to b", "answer to a", "answer to a"]
    assert len(cache_lines(tmp_path)) == 2


def test_the_key_is_every_field_of_the_request() -> None:
    base = Request(kind="generate", prompt="p", messages=(Message("user", "p"),), max_tokens=8, stop=("\n",))
    variants = [Request(kind="generate", prompt="p", messages=(Message("user", "q"),), max_tokens=8, stop=("\n",)),
                Request(kind="generate", prompt="p", messages=(Message("user", "p"),), max_tokens=9, stop=("\n",)),
                Request(kind="generate", prompt="p", messages=(Message("user", "p"),), max_tokens=8, stop=()),
                Request(kind="generate", prompt="p", messages=(Message("user", "p"),), max_tokens=8, stop=("\n",),
                        add_special_tokens=True),
                Request(kind="generate", prompt="p", messages=(Message("user", "p"),), max_tokens=8, stop=("\n",),
                        chat_template_kwargs={"enable_thinking": False}),
                Request(kind="loglikelihood", prompt="p", continuation=" x")]
    keys = {request_key(base)} | {request_key(v) for v in variants}
    assert len(keys) == len(variants) + 1
    assert request_key(base) == request_key(Request(kind="generate", prompt="p", messages=(Message("user", "p"),),
                                                    max_tokens=8, stop=("\n",)))


def test_every_field_of_a_completion_comes_back_from_the_file_exactly(tmp_path: Path) -> None:
    completion = Completion(text="t ü", logprob=-1.2345678901234567, is_greedy=False, prompt_tokens=7, output_tokens=0,
                            finish_reason="length", reasoning="thought", reasoning_tokens=4)

    class Fixed(Scripted):
        def answer(self, requests: Sequence[Request]) -> Iterator[list[tuple[int, Completion]]]:
            yield [(i, completion) for i in range(len(requests))]

    requests = asking("a")
    answer_in_order(CachedBackend(Fixed(), tmp_path), requests)
    assert answer_in_order(CachedBackend(Scripted(), tmp_path), requests) == [completion]


def test_torn_unreadable_and_old_format_lines_only_cost_their_request_again(tmp_path: Path) -> None:
    requests = asking("a", "b", "c")
    answer_in_order(CachedBackend(Scripted(), tmp_path), requests[:1])
    with (tmp_path / RESPONSES).open("a") as handle:
        # What the openai backend wrote before the cache moved out of it: a raw HTTP response.
        handle.write(json.dumps({"key": request_key(requests[1]), "endpoint": "completions", "response": {"choices": []}}) + "\n")
        handle.write("not json\n")
        handle.write('{"key": "torn')  # a process killed mid-append
    inner = Scripted()
    again = CachedBackend(inner, tmp_path)
    assert again.cached_at_start == 1
    answer_in_order(again, requests)
    assert asked_prompts(inner) == ["b", "c"]
    assert (tmp_path / RESPONSES).read_text().endswith("}\n")  # the fragment was cut before appending


def test_the_budget_sends_that_many_requests_then_stops_in_one_line_keeping_what_finished(tmp_path: Path) -> None:
    requests = asking("a", "b", "c", "d", "e")
    inner = Scripted(group_size=2)
    answered: list[int] = []
    with pytest.raises(OrcabenchError, match=r"request budget of 3 request\(s\) spent; 3 of 5 requests answered") as stop:
        for group in CachedBackend(inner, tmp_path, budget=3).answer(requests):
            answered += [i for i, _ in group]
    assert "\n" not in str(stop.value) and "rerun the same command" in str(stop.value)
    assert asked_prompts(inner) == ["a", "b", "c"] and answered == [0, 1, 2]
    # The next invocation has a fresh budget and pays only for the two still missing.
    inner = Scripted()
    again = CachedBackend(inner, tmp_path, budget=3)
    assert [c.text for c in answer_in_order(again, requests)] == [f"answer to {p}" for p in "abcde"]
    assert asked_prompts(inner) == ["d", "e"] and again.budget.sent == 2 and again.cache_hits == 3


def test_a_spent_budget_still_hands_back_cached_answers_before_stopping(tmp_path: Path) -> None:
    answer_in_order(CachedBackend(Scripted(), tmp_path), asking("a"))
    backend = CachedBackend(Scripted(), tmp_path, budget=1)
    answer_in_order(backend, asking("b"))
    answered: list[int] = []
    with pytest.raises(OrcabenchError, match=r"1 of 2 requests answered"):
        for group in backend.answer(asking("a", "c")):
            answered += [i for i, _ in group]
    assert answered == [0]


def test_info_is_the_inner_backend_s_plus_the_budget_and_the_cache_and_close_reaches_it(tmp_path: Path) -> None:
    answer_in_order(CachedBackend(Scripted(), tmp_path), asking("a", "b"))
    inner = Scripted()
    backend = CachedBackend(inner, tmp_path, budget=10)
    assert backend.info().to_json() == {"backend": "scripted", "version": "1", "request_budget": 10, "cached_responses": 2}
    assert backend.name == "scripted"
    backend.close()
    assert inner.closed


# -- through the one loader ---------------------------------------------------------------


@pytest.fixture
def scripted_registry(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """``load_backend`` sees a ``scripted`` backend (and an ``openai`` stand-in); returns the engines the factories got."""
    started: list[dict[str, Any]] = []

    def factory(model_path: str, engine: dict[str, Any], seed: int, batch_size: int | None, cache_dir: Path | None) -> Backend:
        started.append(engine)
        return Scripted()

    backends: Registry[Any] = Registry("backend")
    backends.add("scripted", factory)
    backends.add("openai", factory)
    monkeypatch.setattr(registry, "BACKENDS", backends)
    return started


def test_a_local_backend_is_not_cached_unless_asked(scripted_registry: list[dict[str, Any]], tmp_path: Path) -> None:
    backend = registry.load_backend("scripted", "m", {"dtype": "float32"}, seed=0, batch_size=None, cache_dir=tmp_path)
    answer_in_order(backend, asking("a"))
    assert isinstance(backend, Scripted) and not (tmp_path / RESPONSES).exists()
    assert scripted_registry == [{"dtype": "float32"}]


def test_response_cache_true_caches_any_backend_and_the_engine_never_sees_the_setting(
    scripted_registry: list[dict[str, Any]], tmp_path: Path
) -> None:
    engine = {"dtype": "float32", "response_cache": True, "request_budget": 5}
    backend = registry.load_backend("scripted", "m", engine, seed=0, batch_size=None, cache_dir=tmp_path)
    answer_in_order(backend, asking("a"))
    assert isinstance(backend, CachedBackend) and backend.budget.limit == 5
    assert len(cache_lines(tmp_path)) == 1
    assert scripted_registry == [{"dtype": "float32"}]


def test_a_budget_alone_wraps_without_writing_a_file(scripted_registry: list[dict[str, Any]], tmp_path: Path) -> None:
    backend = registry.load_backend("scripted", "m", {"request_budget": 1}, seed=0, batch_size=None, cache_dir=tmp_path)
    with pytest.raises(OrcabenchError, match="request budget of 1"):
        answer_in_order(backend, asking("a", "b"))
    assert not (tmp_path / RESPONSES).exists()


def test_openai_is_cached_by_default_and_can_be_told_not_to(scripted_registry: list[dict[str, Any]], tmp_path: Path) -> None:
    assert isinstance(registry.load_backend("openai", "m", {}, seed=0, batch_size=None, cache_dir=tmp_path), CachedBackend)
    plain = registry.load_backend("openai", "m", {"response_cache": False}, seed=0, batch_size=None, cache_dir=tmp_path)
    assert isinstance(plain, Scripted)


def test_bad_cache_settings_are_one_line_errors_before_the_engine_starts(
    scripted_registry: list[dict[str, Any]], tmp_path: Path
) -> None:
    for engine, message in (({"request_budget": "ten"}, "scripted backend: engine setting request_budget=.ten. must be an int"),
                            ({"request_budget": 0}, "request_budget=0 must be an integer >= 1"),
                            ({"response_cache": "yes"}, "response_cache='yes' must be true or false")):
        with pytest.raises(OrcabenchError, match=message):
            registry.load_backend("scripted", "m", engine, seed=0, batch_size=None, cache_dir=tmp_path)
    assert scripted_registry == []


def test_the_cache_settings_are_operational_a_run_resumes_with_or_without_them() -> None:
    def fingerprint(engine: dict[str, Any]) -> Fingerprint:
        return Fingerprint.build("orca2", {"name": "m"}, "vllm", engine, {"temperature": 0.0}, {})

    assert fingerprint({"dtype": "float32", "response_cache": True, "request_budget": 9}) == fingerprint({"dtype": "float32"})
