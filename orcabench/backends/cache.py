"""Answers kept on disk and a cap on what one invocation may ask for: a wrapper around any backend.

``CachedBackend`` wraps a started backend (as ``ReplicaBackend`` wraps engines) and keeps the
protocol: ``answer`` yields finished groups, ``info``, ``close``. Every completion the inner
backend returns is appended and fsync'd to ``<run_dir>/responses.jsonl`` under the sha256 of
its request *before* it is handed on, and a later wrapper on the same run directory answers
those requests from the file: a killed run, re-run, never asks again for an answer that came
back, even one the run loop had not stored yet. Identical requests in one call go to the inner
backend once.

The request budget counts the distinct uncached requests handed to the inner backend in
this invocation; past it the wrapper hands on nothing more, yields what finished, and stops
with one line (the run keeps every stored record; a rerun spends a fresh budget).

Both are engine settings that change how requests are sent, not what is answered
(``store.schema.OPERATIONAL_ENGINE_KEYS``: a run resumes with or without them), and
the loader takes them out of the engine settings the inner backend sees:

``response_cache``  keep answers in ``responses.jsonl`` (default: true for ``openai``, where
                    every request costs money; false for local engines)
``request_budget``  requests this invocation may send to the backend (unlimited)
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

from orcabench.backends.base import Backend, BackendInfo, engine_setting
from orcabench.store.writer import drop_torn_tail
from orcabench.types import Completion, OrcabenchError, Request

RESPONSES = "responses.jsonl"
CACHE_SETTINGS = frozenset({"response_cache", "request_budget"})
# Backends whose every request is paid for keep their answers unless told not to.
CACHED_BY_DEFAULT = frozenset({"openai"})
_COMPLETION_FIELDS = frozenset(f.name for f in fields(Completion))


def request_key(request: Request) -> str:
    """The cache key: sha256 of the request's every field as JSON, keys sorted, no whitespace.

    A run directory belongs to one fingerprint (model, backend, engine, sampling), so within
    it the request alone decides the answer; which server answered does not matter.
    """
    canonical = json.dumps(asdict(request), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class RequestBudget:
    """How many requests this invocation may still send; ``take`` grants what is left."""

    def __init__(self, limit: int | None) -> None:
        self.limit = limit
        self.sent = 0

    def take(self, wanted: int) -> int:
        granted = wanted if self.limit is None else max(0, min(wanted, self.limit - self.sent))
        self.sent += granted
        return granted


class ResponseCache:
    """Completions by request key, read from and appended to ``responses.jsonl`` (fsync'd per group)."""

    def __init__(self, directory: Path | None) -> None:
        self.path = directory / RESPONSES if directory is not None else None
        self.completions: dict[str, Completion] = {}
        if self.path is not None and self.path.is_file():
            drop_torn_tail(self.path)  # the run lock is ours
            self._load()

    def _load(self) -> None:
        assert self.path is not None
        with self.path.open(encoding="utf-8", errors="replace") as handle:
            for line in handle:
                try:
                    entry = json.loads(line)
                    completion = Completion(**{k: v for k, v in entry["completion"].items() if k in _COMPLETION_FIELDS})
                except (json.JSONDecodeError, KeyError, TypeError, AttributeError):
                    continue  # an unreadable line (or a raw HTTP response of the older format) only costs that request again
                self.completions.setdefault(entry["key"], completion)

    def get(self, key: str) -> Completion | None:
        return self.completions.get(key)

    def put(self, answers: Sequence[tuple[str, Completion]]) -> None:
        """Keep ``(key, completion)`` pairs; on disk (flushed and fsync'd) before this returns."""
        for key, completion in answers:
            self.completions.setdefault(key, completion)
        if self.path is None or not answers:
            return
        lines = "".join(json.dumps({"key": key, "completion": asdict(completion)}, ensure_ascii=False) + "\n"
                        for key, completion in answers)
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(lines)
            handle.flush()
            os.fsync(handle.fileno())


class CachedBackend:
    """``inner`` with its answers kept in ``directory``'s ``responses.jsonl`` (None: in memory) and a request budget."""

    def __init__(self, inner: Backend, directory: Path | None, budget: int | None = None) -> None:
        self.inner = inner
        self.name = inner.name
        self.cache = ResponseCache(directory)
        self.budget = RequestBudget(budget)
        self.cached_at_start = len(self.cache.completions)
        self.cache_hits = 0

    def answer(self, requests: Sequence[Request]) -> Iterator[list[tuple[int, Completion]]]:
        keys = [request_key(request) for request in requests]
        hits = [(i, hit) for i, key in enumerate(keys) if (hit := self.cache.get(key)) is not None]
        self.cache_hits += len(hits)
        if hits:
            yield hits
        # Identical requests (a duplicated question) are asked once, in request order.
        missing: dict[str, list[int]] = {}
        for i, key in enumerate(keys):
            if self.cache.get(key) is None:
                missing.setdefault(key, []).append(i)
        groups = list(missing.values())
        sent = groups[: self.budget.take(len(groups))]
        answered = len(hits)
        if sent:
            for group in self.inner.answer([requests[g[0]] for g in sent]):
                self.cache.put([(keys[sent[j][0]], completion) for j, completion in group])
                out = [(i, completion) for j, completion in group for i in sent[j]]
                answered += len(out)
                yield out
        if len(sent) < len(groups):
            raise OrcabenchError(
                f"{self.name} backend: request budget of {self.budget.limit} request(s) spent; {answered} of {len(requests)} "
                "requests answered and stored; rerun the same command to spend another budget (answered requests come from "
                "the cache)"
            )

    def info(self) -> BackendInfo:
        inner = self.inner.info()
        return replace(inner, settings={**inner.settings, "request_budget": self.budget.limit,
                                        "cached_responses": self.cached_at_start})

    def close(self) -> None:
        self.inner.close()


@dataclass(frozen=True)
class CacheSettings:
    """The wrapper's own engine settings, read (and checked) apart from the inner backend's."""

    response_cache: bool
    request_budget: int | None

    @classmethod
    def from_engine(cls, backend: str, engine: dict[str, Any]) -> CacheSettings:
        owner = f"{backend} backend"
        return cls(response_cache=engine_setting(owner, engine, "response_cache", bool, backend in CACHED_BY_DEFAULT),
                   request_budget=engine_setting(owner, engine, "request_budget", int, None, minimum=1))

    @property
    def wanted(self) -> bool:
        return self.response_cache or self.request_budget is not None


def cached(backend: str, engine: dict[str, Any], cache_dir: Path | None, start: Callable[[dict[str, Any]], Backend]) -> Backend:
    """``start(engine settings without the cache's)``, wrapped in :class:`CachedBackend` when the settings ask for it.

    The settings are checked before ``start``, so a bad one costs no engine start. With the
    cache off, a budget alone wraps the backend with an in-memory cache (dedup only).
    """
    settings = CacheSettings.from_engine(backend, engine)
    inner = start({k: v for k, v in engine.items() if k not in CACHE_SETTINGS})
    if not settings.wanted:
        return inner
    return CachedBackend(inner, cache_dir if settings.response_cache else None, settings.request_budget)
