"""How many CPU threads a local engine computes with, and why: one rule for the hf and vLLM-CPU engines (issue 24).

In order, the first that applies:

1. ``OMP_NUM_THREADS`` set by the user: that many (reason ``"OMP_NUM_THREADS"``);
2. inside a Ray actor with a CPU share (``--replicas``: each replica gets ``num_cpus``): that
   share, at least one (reason ``"ray"``; Ray also sets ``OMP_NUM_THREADS`` to it, which is
   then read as Ray's, not the user's);
3. otherwise the rule measured in docs/performance.md (reason ``"rule"``): one thread per
   core that nothing else was running on when the engine started, at least one (:func:`rule`).

OpenMP threads that finish a parallel region spin for a while before they sleep (libgomp's
default); with a second engine on the same cores those spinning threads take the cores the
other engine computes on (issue 24: half the CPU in the kernel). ``OMP_WAIT_POLICY=PASSIVE``
makes them sleep at once. OpenMP reads it when the library loads, with torch, so
:func:`prefer_passive_wait` must run before torch is imported: the CLI calls it first thing.
The choice is recorded in the session's backend info (:meth:`Threads.to_json`).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

THREADS_ENV = "OMP_NUM_THREADS"
WAIT_ENV = "OMP_WAIT_POLICY"
PASSIVE = "PASSIVE"
_WAIT_STATE: dict[str, bool] = {}  # "set_after_torch": whether prefer_passive_wait came too late to matter


@dataclass(frozen=True)
class Threads:
    """The thread count an engine runs with, why, and the OpenMP wait policy in effect."""

    count: int
    reason: str  # "OMP_NUM_THREADS", "ray" or "rule"
    cores: int  # the cores this process may run on (its CPU affinity)
    wait_policy: str | None  # OMP_WAIT_POLICY as OpenMP read it; None: OpenMP's default (spin, then sleep)
    busy: int | None = None  # reason "rule": other tasks runnable at the engine's start
    reserved: int = 0  # reason "rule": cores kept for the engine's Python thread

    def to_json(self) -> dict[str, Any]:
        rule_inputs = {"busy": self.busy, "reserved": self.reserved} if self.busy is not None else {}
        return {"count": self.count, "reason": self.reason, "cores": self.cores, "omp_wait_policy": self.wait_policy,
                **rule_inputs}


def available_cores() -> int:
    """The cores this process may run on (a container's or ``taskset``'s limit, not the machine's)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def rule(cores: int, busy: int, reserved: int = 0) -> int:
    """Threads with neither ``OMP_NUM_THREADS`` nor a Ray share: the cores nothing else is running on, at least one.

    ``busy`` is how many other tasks were runnable when the engine started
    (:func:`runnable_elsewhere`); ``reserved`` cores are kept for the engine's own Python
    thread (vLLM in the process schedules and detokenises between forward passes: 1), only
    while OpenMP's threads spin (:func:`choose` drops it under ``OMP_WAIT_POLICY=PASSIVE``).

    Measured on the loaded 2-core machine (docs/performance.md, "CPU threads"): an OpenMP
    engine with more threads than free cores stalls at every parallel region on a
    descheduled thread and, with the default wait policy, spins while it waits; two engines
    of one thread per core each collapsed (a 15 s job still running after 16 minutes), one
    thread each finished. On the quiet machine (docs/performance.md) two runs of this rule
    at once each took 0.92× the time of one alone; one thread per core is not the fastest
    there for the hf engine on the 135M model (one thread is, by 7%), and spinning threads
    would be faster alone still but collapse beside another engine. Two runs started together
    usually see each other (both are importing) and take a core each; when they do not, two
    passive engines of two threads each measured 1.24-1.38× alone, not a collapse.
    """
    return max(1, cores - reserved - max(0, busy))


def runnable_elsewhere(samples: int = 5, interval_s: float = 0.02) -> int:
    """Tasks runnable now besides this one: the median of a few reads of ``/proc/loadavg``'s running count.

    0 where the count cannot be read (not Linux): the rule then gives one thread per core.
    """
    counts = []
    for sample in range(samples):
        try:
            running = Path("/proc/loadavg").read_text().split()[3].split("/")[0]
            counts.append(int(running) - 1)  # this process, reading
        except (OSError, IndexError, ValueError):
            return 0
        if sample + 1 < samples:
            time.sleep(interval_s)
    return max(0, sorted(counts)[len(counts) // 2])


def _int(value: str | None) -> int | None:
    try:
        number = int(str(value).strip())
    except ValueError:
        return None
    return number if number > 0 else None


def choose(env: Mapping[str, str], cores: int, ray_cpus: float | None, busy: int = 0, reserved: int = 0) -> Threads:
    """The thread count for this process: ``OMP_NUM_THREADS``, else the Ray share, else :func:`rule` (``busy``: its input)."""
    wait = env.get(WAIT_ENV) or None
    requested = _int(env.get(THREADS_ENV))
    share = max(1, int(ray_cpus)) if ray_cpus else None
    if share is not None and requested in (None, share):
        return Threads(share, "ray", cores, wait)
    if requested is not None:
        return Threads(requested, THREADS_ENV, cores, wait)
    if wait is not None and wait.upper() == PASSIVE:
        # Sleeping OpenMP threads leave the core to the Python thread between forward passes: on the quiet 2-core
        # machine vLLM ran GSM8K 20% faster with 2 passive threads than with 1 (docs/performance.md, "CPU threads").
        reserved = 0
    return Threads(rule(cores, busy, reserved), "rule", cores, wait, busy, reserved)


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


def prefer_passive_wait(env: MutableMapping[str, str] | None = None) -> None:
    """``OMP_WAIT_POLICY=PASSIVE`` unless set; effective only before torch (and its OpenMP) is imported."""
    env = os.environ if env is None else env
    if WAIT_ENV in env:
        return
    env[WAIT_ENV] = PASSIVE
    _WAIT_STATE["set_after_torch"] = "torch" in sys.modules


def apply_threads(reserved: int = 0) -> Threads:
    """Choose the thread count for this process and give it to torch (its OpenMP and MKL pools).

    ``reserved``: cores the rule keeps for the engine's Python thread (see :func:`rule`).
    """
    import torch

    environment, share = dict(os.environ), ray_cpu_share()
    if _WAIT_STATE.get("set_after_torch"):
        environment.pop(WAIT_ENV, None)  # in the environment, but set after OpenMP had read it: its default is in force
    needs_rule = share is None and _int(environment.get(THREADS_ENV)) is None
    choice = choose(environment, available_cores(), share, runnable_elsewhere() if needs_rule else 0, reserved)
    torch.set_num_threads(choice.count)
    return choice
