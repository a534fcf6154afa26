"""Data-parallel replicas: N Ray actors, each holding one of orcabench's own backends.

This is a backend like the others (``answer`` yields finished groups, ``info``, ``close``),
so the run loop does not change and stays the only writer of the run store: resume depends
on the stored records alone, never on how many replicas computed them.

Work is handed out in small chunks, longest prompts first, one chunk in flight per replica:
a fast replica takes more chunks, a slow one fewer, and once the queue is empty an idle
replica takes a backup copy of a chunk still running elsewhere (whichever copy finishes
first counts), so a straggler never holds the end of the run. A replica that dies (its
worker SIGKILLed, an OOM, its node lost) has its chunk put back at the front of the queue
for the others; every request is answered once. When every replica is gone the run stops
with one line and keeps what finished.

Placement is Ray's: on a cluster with GPUs a replica asks for one GPU, or for a placement
group of ``tensor_parallel_size`` GPUs on one node (vLLM's Ray executor then places its
workers in it); on CPUs it asks for an equal share of the cluster's cores that one node can
hold (Ray sets ``OMP_NUM_THREADS`` to match), or the cores ``cpus`` names.

Each replica's engine writes its output (the engine's own fds 1 and 2 and its Python loggers)
into the run's ``engine.log``, as ``orcabench run`` captures an engine in its own process
(:class:`~orcabench.console.EngineCapture`), wherever the replica's node sees the run
directory (one machine, a shared filesystem); on a node that does not, Ray's session logs
keep it.
"""

from __future__ import annotations

import math
import os
import socket
import time
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from orcabench.backends.base import BackendInfo, answer_in_order
from orcabench.backends.registry import load_backend
from orcabench.console import EngineCapture
from orcabench.types import Completion, OrcabenchError, Request

INSTALL_HINT = "pip install 'orcabench[ray]'"
# Settings of the driver's environment that replicas need too (engine knobs, data and model caches);
# VLLM_HOST_IP and VLLM_PORT name the driver's own node, so each node keeps its own.
_FORWARDED_PREFIXES = ("VLLM_", "HF_", "ORCABENCH_", "TRANSFORMERS_", "TOKENIZERS_")
_NODE_LOCAL = frozenset({"VLLM_HOST_IP", "VLLM_PORT"})
# Chunks per replica at least (load balance, a lost chunk is small) and at most this many requests per chunk.
_CHUNKS_PER_REPLICA = 4
_MAX_CHUNK = {"hf": 16, "vllm": 256}


def _ray() -> Any:
    # orcabench joins Ray explicitly (connect); a Ray call after disconnecting (a campaign's Ctrl-C, in a cell's
    # thread) must fail rather than start a second local Ray instance behind the user's back.
    os.environ.setdefault("RAY_ENABLE_AUTO_CONNECT", "0")
    try:
        import ray
    except ImportError as error:
        raise OrcabenchError(f"--replicas runs on Ray, which is not installed: {INSTALL_HINT}") from error
    return ray


def connect(address: str | None) -> bool:
    """This process joined to Ray (``address``; None: $RAY_ADDRESS, else a local instance); True when this call
    connected (the caller shuts it down), False when it already was (a campaign's cells share its connection)."""
    ray = _ray()
    if ray.is_initialized():
        return False
    try:
        ray.init(address=address, log_to_driver=False, logging_level="ERROR", configure_logging=True)
    except (ConnectionError, RuntimeError, ValueError) as error:
        where = address or os.environ.get("RAY_ADDRESS") or "a local instance"
        raise OrcabenchError(f"cannot start or reach Ray at {where} ({_reason(error)}): check --ray-address "
                             "(or RAY_ADDRESS), or drop it for a local Ray instance") from error
    return True


def disconnect() -> None:
    _ray().shutdown()


def chunk_size(requests: int, replicas: int, backend: str, batch_size: int | None) -> int:
    """Small enough that every replica gets several chunks, large enough to fill one engine batch."""
    cap = batch_size or _MAX_CHUNK.get(backend, 16)
    return max(1, min(cap, math.ceil(requests / (replicas * _CHUNKS_PER_REPLICA))))


@dataclass(frozen=True)
class Chunk:
    id: int
    indices: tuple[int, ...]


class ChunkQueue:
    """Which chunk a free replica works on next; each chunk counts once, whoever finishes it."""

    def __init__(self, sizes: Sequence[int], size: int) -> None:
        longest_first = sorted(range(len(sizes)), key=lambda i: (-sizes[i], i))
        self.chunks = [Chunk(n, tuple(longest_first[start : start + size]))
                       for n, start in enumerate(range(0, len(longest_first), size))]
        self.queued: deque[Chunk] = deque(self.chunks)
        self.copies: dict[int, int] = {}  # chunk id -> copies in flight
        self.complete: set[int] = set()

    @property
    def done(self) -> bool:
        return len(self.complete) == len(self.chunks)

    def take(self) -> Chunk | None:
        """The next queued chunk; when none is left, a backup copy of the oldest chunk running once."""
        if self.queued:
            chunk = self.queued.popleft()
        else:
            running_once = [c for c in self.chunks if self.copies.get(c.id) == 1 and c.id not in self.complete]
            if not running_once:
                return None
            chunk = running_once[0]
        self.copies[chunk.id] = self.copies.get(chunk.id, 0) + 1
        return chunk

    def finish(self, chunk: Chunk) -> bool:
        """True for the first copy to finish: its answers count, a later copy's are dropped."""
        self.copies[chunk.id] -= 1
        first = chunk.id not in self.complete
        self.complete.add(chunk.id)
        return first

    def lose(self, chunk: Chunk) -> None:
        """A replica died with this chunk: back to the front, unless another copy finished or still runs."""
        self.copies[chunk.id] -= 1
        if chunk.id not in self.complete and self.copies[chunk.id] == 0:
            self.queued.appendleft(chunk)

    def answered(self) -> int:
        return sum(len(c.indices) for c in self.chunks if c.id in self.complete)


class Replica:
    """One engine inside a Ray actor (``ray.remote`` wraps this class at start)."""

    def __init__(self, name: str, model_path: str, engine: dict[str, Any], seed: int, batch_size: int | None,
                 engine_log: str | None = None, index: int = 0) -> None:
        self.engine_log, self._capture = None, EngineCapture()
        if engine_log is not None and Path(engine_log).parent.is_dir():  # this node sees the run directory
            self._capture.start(Path(engine_log))  # for the worker's life: the actor is killed, never closed
            self.engine_log = engine_log
            os.write(1, f"orcabench: replica {index} on {socket.gethostname()} (pid {os.getpid()}): starting the "
                        f"{name} engine for {model_path}\n".encode())
        started = time.monotonic()
        self.backend = load_backend(name, model_path, engine, seed=seed, batch_size=batch_size)
        self.start_seconds = round(time.monotonic() - started, 3)
        self._capture.route_loggers()  # engines add log handlers when they load

    def describe(self) -> dict[str, Any]:
        import ray

        context = ray.get_runtime_context()
        return {"node_id": context.get_node_id(), "node_ip": ray.util.get_node_ip_address(), "hostname": socket.gethostname(),
                "pid": os.getpid(), "gpu_ids": [str(g) for g in ray.get_gpu_ids()], "engine_start_seconds": self.start_seconds,
                "engine_log": self.engine_log, "engine": self.backend.info()}

    def answer(self, requests: list[Request]) -> list[Completion]:
        return answer_in_order(self.backend, requests)


@dataclass
class _Member:
    """The driver's view of one replica: its actor handle, where it runs and what it did."""

    index: int
    actor: Any
    resources: dict[str, Any]
    placement_group: Any = None
    where: dict[str, Any] = field(default_factory=dict)
    chunks: int = 0
    requests: int = 0
    busy_seconds: float = 0.0
    lost: str | None = None

    def report(self) -> dict[str, Any]:
        where = {k: v for k, v in self.where.items() if k != "engine"}
        return {"replica": self.index, **where, "resources": self.resources, "chunks": self.chunks, "requests": self.requests,
                "busy_seconds": round(self.busy_seconds, 3), "lost": self.lost}


def _reason(error: BaseException) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return f"{type(error).__name__}: {lines[-1] if lines else ''}"[:300]


class ReplicaBackend:
    """``replicas`` copies of backend ``name`` on a Ray cluster (``address``; None: $RAY_ADDRESS or a local instance)."""

    def __init__(self, name: str, model_path: str, engine: dict[str, Any], seed: int, batch_size: int | None,
                 replicas: int, address: str | None = None, cpus: int | None = None,
                 engine_log: Path | None = None) -> None:
        ray = _ray()
        if name == "openai":
            raise OrcabenchError("--replicas runs local engines (vllm, hf); spread --backend openai over several servers "
                                 "with --engine-arg base_url=URL1,URL2")
        self.name, self.backend_name, self.batch_size, self.count = name, name, batch_size, replicas
        # Absolute: a Ray worker does not start in this process's working directory.
        self.cpus, self.engine_log = cpus, None if engine_log is None else str(engine_log.absolute())
        self._started_ray = connect(address)
        self.address = ray.get_runtime_context().gcs_address
        self.members = self._start(ray, name, model_path, engine, seed, batch_size)
        self.last_chunk_size: int | None = None

    # -- start ------------------------------------------------------------------------------

    def _start(self, ray: Any, name: str, model_path: str, engine: dict[str, Any], seed: int,
               batch_size: int | None) -> list[_Member]:
        resources, bundles = self._resources(ray, name, engine)
        env = {k: v for k, v in os.environ.items() if k.startswith(_FORWARDED_PREFIXES) and k not in _NODE_LOCAL}
        env.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")  # the engine lives in the actor: killed with it, nothing orphaned
        if "num_gpus" not in resources:
            # vLLM-CPU pins each engine to the node's first cores; replicas sharing a node would share them.
            env.setdefault("VLLM_CPU_OMP_THREADS_BIND", "nobind")
        if bundles:
            engine = {"distributed_executor_backend": "ray", **engine}
        actor_class = ray.remote(Replica)
        members = []
        for index in range(self.count):
            options: dict[str, Any] = {**resources, "runtime_env": {"env_vars": env}, "max_restarts": 0,
                                       "max_concurrency": 1}
            group = None
            if bundles:
                from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

                group = ray.util.placement_group(bundles, strategy="STRICT_PACK")
                options["scheduling_strategy"] = PlacementGroupSchedulingStrategy(group, placement_group_capture_child_tasks=True)
            else:
                options["scheduling_strategy"] = "SPREAD"  # one replica per node while nodes last
            actor = actor_class.options(**options).remote(name, model_path, engine, seed, batch_size, self.engine_log, index)
            members.append(_Member(index, actor, {k: v for k, v in resources.items()} | ({"bundles": bundles} if bundles else {}),
                                   group))
        # Engines load in parallel; a replica that cannot start is dropped, the run goes on with the rest.
        pending = {m.actor.describe.remote(): m for m in members}
        while pending:
            (ready,), _ = ray.wait(list(pending), num_returns=1)
            member = pending.pop(ready)
            try:
                member.where = ray.get(ready)
            except ray.exceptions.RayError as error:
                cause = getattr(error, "cause", None)
                if isinstance(cause, OrcabenchError):  # bad settings: the same on every replica
                    self._kill(ray, members)
                    raise OrcabenchError(str(cause)) from error
                self._lose(ray, member, f"did not start: {_reason(error)}")
        if not any(m.lost is None for m in members):
            reasons = "; ".join(f"replica {m.index} {m.lost}" for m in members)
            self._kill(ray, members)
            raise OrcabenchError(f"no replica started on Ray at {self.address}: {reasons}")
        return members

    def _resources(self, ray: Any, name: str, engine: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, float]]]:
        """Actor options, and placement-group bundles for a tensor-parallel vLLM replica (else empty)."""
        total = ray.cluster_resources()
        gpus, cpus = float(total.get("GPU", 0)), float(total.get("CPU", 0))
        tensor_parallel = int(engine.get("tensor_parallel_size") or 1)
        if gpus and name == "vllm" and tensor_parallel > 1:
            if gpus < tensor_parallel * self.count:
                raise OrcabenchError(f"{self.count} replicas of tensor_parallel_size={tensor_parallel} need "
                                     f"{self.count * tensor_parallel} GPUs; the Ray cluster has {gpus:g}: use fewer --replicas")
            return {"num_cpus": 1, "num_gpus": 0}, [{"GPU": 1, "CPU": 1}] + [{"GPU": 1}] * (tensor_parallel - 1)
        if gpus:
            if gpus < self.count:
                raise OrcabenchError(f"{self.count} replicas need {self.count} GPUs; the Ray cluster has {gpus:g}: "
                                     f"use --replicas {int(gpus)} or add nodes")
            return {"num_cpus": 1, "num_gpus": 1}, []
        if cpus < self.count:
            raise OrcabenchError(f"{self.count} replicas need {self.count} CPUs; the Ray cluster has {cpus:g}: use --replicas "
                                 f"{int(cpus)} or add nodes")
        # An equal share of the cores, no more than one node holds, or the cores asked for (Ray sets OMP_NUM_THREADS to it).
        largest_node = max(float(node["Resources"].get("CPU", 0)) for node in ray.nodes() if node["Alive"])
        if self.cpus is not None and self.cpus > largest_node:
            raise OrcabenchError(f"{self.cpus} CPUs per replica: no node of the Ray cluster has that many (the largest has "
                                 f"{largest_node:g}); ask for at most {int(largest_node)}")
        return {"num_cpus": self.cpus or max(1, int(min(largest_node, cpus // self.count)))}, []

    # -- answer -----------------------------------------------------------------------------

    def answer(self, requests: Sequence[Request]) -> Iterator[list[tuple[int, Completion]]]:
        ray = _ray()
        if not requests:
            return
        size = chunk_size(len(requests), len(self.alive), self.backend_name, self.batch_size)
        self.last_chunk_size = size
        queue = ChunkQueue([len(r.prompt) + len(r.continuation) for r in requests], size)
        running: dict[Any, tuple[_Member, Chunk, float]] = {}

        def feed(member: _Member) -> None:
            chunk = queue.take()
            if chunk is not None:
                ref = member.actor.answer.remote([requests[i] for i in chunk.indices])
                running[ref] = (member, chunk, time.monotonic())

        for member in self.alive:
            feed(member)
        while not queue.done:
            if not running:
                reasons = "; ".join(f"replica {m.index} {m.lost}" for m in self.members)
                raise OrcabenchError(f"every replica is gone ({reasons}); {queue.answered()} of {len(requests)} requests "
                                     "answered and stored: rerun the same command to resume")
            (ready,), _ = ray.wait(list(running), num_returns=1)
            member, chunk, sent = running.pop(ready)
            try:
                completions = ray.get(ready)
            except ray.exceptions.RayError as error:
                cause = getattr(error, "cause", None)
                if isinstance(cause, OrcabenchError):  # the engine refused the input: another replica would too
                    raise OrcabenchError(str(cause)) from error
                self._lose(ray, member, _reason(error))
                queue.lose(chunk)
                for idle in self.alive:  # the chunk is back in the queue: a replica waiting for work takes it
                    if not any(m is idle for m, _, _ in running.values()):
                        feed(idle)
                continue
            member.chunks += 1
            member.requests += len(chunk.indices)
            member.busy_seconds += time.monotonic() - sent
            first = queue.finish(chunk)
            feed(member)  # before the run loop stores this group, so the replica never waits on the store
            if first:
                yield list(zip(chunk.indices, completions))

    @property
    def alive(self) -> list[_Member]:
        return [m for m in self.members if m.lost is None]

    def _lose(self, ray: Any, member: _Member, reason: str) -> None:
        member.lost = reason
        self._kill(ray, [member])

    @staticmethod
    def _kill(ray: Any, members: Sequence[_Member]) -> None:
        if not ray.is_initialized():
            return  # disconnected (a campaign's Ctrl-C): the actors died with it, and ray.kill would start a new Ray
        for member in members:
            try:
                ray.kill(member.actor, no_restart=True)
            except ray.exceptions.RayError:
                pass  # already gone
            if member.placement_group is not None:
                ray.util.remove_placement_group(member.placement_group)

    # -- manifest and shutdown --------------------------------------------------------------

    def info(self) -> BackendInfo:
        """The first live replica's engine info (what answered is the same engine everywhere), plus the replicas."""
        ray = _ray()
        replicas = {"count": self.count, "ray": ray.__version__, "address": self.address, "chunk_size": self.last_chunk_size,
                    "placement": [m.report() for m in self.members]}
        engine: BackendInfo | None = next((m.where["engine"] for m in self.members if m.where), None)
        if engine is None:  # no replica started: the engine asked for, with no versions to tell
            return BackendInfo(self.backend_name, {}, {"replicas": replicas})
        return replace(engine, settings={**engine.settings, "replicas": replicas})

    def close(self) -> None:
        ray = _ray()
        self._kill(ray, self.alive)
        if self._started_ray:
            ray.shutdown()
