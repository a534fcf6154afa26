"""How many CPU threads a local engine computes with, and why: one rule for the hf and vLLM-CPU engines (issue 24).

In order, the first that applies:

1. ``OMP_NUM_THREADS`` set by the user: that many, fixed (reason ``"OMP_NUM_THREADS"``);
2. inside a Ray actor with a CPU share (``--replicas``: each replica gets ``num_cpus``): that
   share, at least one, fixed (reason ``"ray"``; Ray also sets ``OMP_NUM_THREADS`` to it, which is
   then read as Ray's, not the user's);
3. otherwise (reason ``"rule"``) one thread per core that nothing else is running on, at least
   one (:func:`rule`) — at the engine's start and again while it computes: a
   :class:`ThreadGovernor` lowers the count when another task starts to compete for the cores
   and raises it back when the cores are free again.

Why a governor (measured on the 2-core machine, docs/performance.md "CPU threads"): OpenMP
threads that finish a parallel region spin for a while before they sleep (libgomp's default).
Alone, one spinning thread per core is the fastest setting for both engines (hf 90.7 tok/s
against 68.7 with the threads sleeping at once, ``OMP_WAIT_POLICY=PASSIVE``; vLLM 198.8 against
141.4). Beside a second engine the same threads collapse (each engine 4.9× and 7.8× slower):
a team of two threads on a core shared with another process stalls at every region while its
partner spins. One thread per engine has no partner to wait for. So a counted thread spins
while the cores are free and the count drops to the free cores when they are not; OpenMP's wait
policy cannot be changed once it is loaded, the thread count can, before any parallel region.

A count that is fixed (the user's ``OMP_NUM_THREADS``) cannot yield, so the CLI makes its
threads wait passively (:func:`choose_wait_policy`, before torch and its OpenMP load) unless the
user chose how OpenMP waits. The choice is recorded in the session's backend info
(:meth:`Threads.to_json`).
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

THREADS_ENV = "OMP_NUM_THREADS"
WAIT_ENV = "OMP_WAIT_POLICY"
SPIN_ENV = "GOMP_SPINCOUNT"  # libgomp: how long an idle thread spins before it sleeps
PASSIVE = "PASSIVE"
_WAIT_STATE: dict[str, bool] = {}  # "set_after_torch": whether choose_wait_policy came too late to matter


def available_cores() -> int:
    """The cores this process may run on (a container's or ``taskset``'s limit, not the machine's)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def rule(cores: int, busy: int) -> int:
    """One thread per core that no other task is running on (``busy`` of them), at least one."""
    return max(1, cores - max(0, busy))


def _runnable_now() -> int | None:
    """Tasks runnable on the machine now that are not this process's threads (None: not readable, not Linux).

    ``/proc/loadavg``'s running count covers every runnable thread, this process's too; its own
    are counted from ``/proc/self/task`` just before and after, and the larger count taken (a
    thread of ours that started or stopped in between is then not taken for another task).
    """
    try:
        before = _own_runnable()
        running = int(Path("/proc/loadavg").read_text().split()[3].split("/")[0])
        return max(0, running - max(before, _own_runnable()))
    except (OSError, IndexError, ValueError):
        return None


def _own_runnable() -> int:
    count = 0
    for task in Path("/proc/self/task").iterdir():
        try:
            stat = (task / "stat").read_text()
        except OSError:  # the thread ended
            continue
        count += stat[stat.rindex(")") + 2 :].startswith("R")
    return count


def runnable_elsewhere(samples: int = 3, interval_s: float = 0.002) -> int:
    """Tasks runnable now besides this process's threads: the least of a few reads (a passing task is not counted).

    0 where the count cannot be read (not Linux): the rule then gives one thread per core.
    """
    counts = []
    for sample in range(samples):
        count = _runnable_now()
        if count is None:
            return 0
        counts.append(count)
        if sample + 1 < samples:
            time.sleep(interval_s)
    return min(counts)


def _others_once() -> int:
    """One read of :func:`_runnable_now` (0 where unreadable): a governor check's input, cheap beside a forward pass."""
    return _runnable_now() or 0


@dataclass
class ThreadGovernor:
    """Keeps an engine's torch threads at the cores no other task runs on, checked as the engine computes.

    :meth:`tick` runs before each forward pass in the thread that runs it (OpenMP's thread count
    is that thread's own). Every ``interval_s`` it counts the other runnable tasks once
    (:func:`_runnable_now`: no sleeping between reads in the engine's thread); a count of free
    cores below the current one for ``busy_checks`` checks in a row lowers it, above it for ``calm_checks`` checks raises it (a
    task passing by changes nothing; a second engine is seen within half a second).
    """

    cores: int
    count: int
    others: Callable[[], int] = _others_once
    clock: Callable[[], float] = time.monotonic
    interval_s: float = 0.25
    busy_checks: int = 2
    calm_checks: int = 4
    least: int = field(init=False)
    changes: int = field(default=0, init=False)
    checks: int = field(default=0, init=False)
    _next_check: float = field(default=0.0, init=False)
    _streak: int = field(default=0, init=False)  # checks in a row that asked for a change in the same direction
    _lowering: bool = field(default=False, init=False)  # that direction
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def __post_init__(self) -> None:
        self.least = self.count

    def tick(self) -> None:
        now = self.clock()
        if now >= self._next_check and self._lock.acquire(blocking=False):
            try:
                self._next_check = now + self.interval_s
                self.checks += 1
                self._check(rule(self.cores, self.others()))
            finally:
                self._lock.release()
        _give_torch(self.count)

    def hook(self, *_: Any) -> None:
        """:meth:`tick` as a torch forward pre-hook (``module.register_forward_pre_hook(governor.hook)``)."""
        self.tick()

    def _check(self, free: int) -> None:
        if free == self.count:
            self._streak = 0
            return
        lowering = free < self.count
        self._streak = self._streak + 1 if lowering == self._lowering else 1
        self._lowering = lowering
        if self._streak >= (self.busy_checks if lowering else self.calm_checks):
            self.count, self._streak = free, 0
            self.least = min(self.least, free)
            self.changes += 1

    def to_json(self) -> dict[str, Any]:
        return {"least": self.least, "changes": self.changes, "last": self.count, "checks": self.checks}


def _give_torch(count: int) -> None:
    # torch._C's own functions: vLLM's CPU worker replaces ``torch.set_num_threads`` with a no-op that logs a warning.
    import torch

    if torch._C.get_num_threads() != count:
        torch._C.set_num_threads(count)


@dataclass(frozen=True)
class Threads:
    """The thread count an engine starts with, why, the OpenMP wait policy in effect, and what adjusts it."""

    count: int
    reason: str  # "OMP_NUM_THREADS", "ray" or "rule"
    cores: int  # the cores this process may run on (its CPU affinity)
    wait_policy: str | None  # OMP_WAIT_POLICY as OpenMP read it; None: OpenMP's default (spin, then sleep)
    busy: int | None = None  # reason "rule": other tasks runnable at the engine's start
    governor: ThreadGovernor | None = field(default=None, compare=False)  # reason "rule": adjusts the count later

    def to_json(self) -> dict[str, Any]:
        rule_inputs = {"busy": self.busy} if self.busy is not None else {}
        adjusted = {"adjusted": self.governor.to_json()} if self.governor else {}
        return {"count": self.count, "reason": self.reason, "cores": self.cores, "omp_wait_policy": self.wait_policy,
                **rule_inputs, **adjusted}


def _int(value: str | None) -> int | None:
    try:
        number = int(str(value).strip())
    except ValueError:
        return None
    return number if number > 0 else None


def choose(env: Mapping[str, str], cores: int, ray_cpus: float | None, busy: int = 0) -> Threads:
    """The thread count for this process: ``OMP_NUM_THREADS``, else the Ray share, else :func:`rule` (``busy``: its input)."""
    wait = env.get(WAIT_ENV) or None
    requested = _int(env.get(THREADS_ENV))
    share = max(1, int(ray_cpus)) if ray_cpus else None
    if share is not None and requested in (None, share):
        return Threads(share, "ray", cores, wait)
    if requested is not None:
        return Threads(requested, THREADS_ENV, cores, wait)
    return Threads(rule(cores, busy), "rule", cores, wait, busy)


def ray_cpu_share() -> float | None:
    """The CPUs Ray assigned to this process's actor (``num_cpus``), or None outside a Ray actor.

    Ray is never imported here: outside a Ray worker it has not been imported.
    """
    ray = sys.modules.get("ray")
    if ray is None:
        return None
    try:
        if not ray.is_initialized():
            return None
        context = ray.get_runtime_context()
        if context.get_actor_id() is None:
            return None
        cpus = context.get_assigned_resources().get("CPU")
    except Exception:  # noqa: BLE001 - a Ray that cannot answer is no share
        return None
    return float(cpus) if cpus else None


def choose_wait_policy(env: MutableMapping[str, str] | None = None) -> None:
    """``OMP_WAIT_POLICY=PASSIVE`` for a fixed ``OMP_NUM_THREADS`` unless the user chose how OpenMP waits.

    Effective only before torch (and its OpenMP) is imported. Counts the rule chooses keep
    OpenMP's default (spin, then sleep): their governor yields the cores instead.
    """
    env = os.environ if env is None else env
    if WAIT_ENV in env or SPIN_ENV in env or _int(env.get(THREADS_ENV)) is None:
        return
    env[WAIT_ENV] = PASSIVE
    _WAIT_STATE["set_after_torch"] = "torch" in sys.modules


def apply_threads() -> Threads:
    """Choose the thread count for this process, give it to torch (its OpenMP and MKL pools), and govern a rule's count."""
    environment, share = dict(os.environ), ray_cpu_share()
    if _WAIT_STATE.get("set_after_torch"):
        environment.pop(WAIT_ENV, None)  # in the environment, but set after OpenMP had read it: its default is in force
    needs_rule = share is None and _int(environment.get(THREADS_ENV)) is None
    choice = choose(environment, available_cores(), share, runnable_elsewhere() if needs_rule else 0)
    if choice.reason == "rule":
        choice = replace(choice, governor=ThreadGovernor(choice.cores, choice.count))
    _give_torch(choice.count)
    return choice
