"""The CPU thread rule both local engines use (orcabench.threads, issue 24), and that a session records it.

The rule's numbers come from measurements (docs/performance.md, "CPU threads"); no timing is
asserted here, only which count is chosen and why.
"""

from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from orcabench import threads
from orcabench.threads import Threads, choose, prefer_passive_wait, ray_cpu_share, runnable_elsewhere


def test_omp_num_threads_set_by_the_user_wins() -> None:
    assert choose({"OMP_NUM_THREADS": "3"}, cores=8, ray_cpus=None) == Threads(3, "OMP_NUM_THREADS", 8, None)


def test_omp_num_threads_wins_over_a_ray_share_it_differs_from() -> None:
    # Ray exports OMP_NUM_THREADS as the actor's share; a different value is the user's own.
    assert choose({"OMP_NUM_THREADS": "1"}, cores=8, ray_cpus=4.0) == Threads(1, "OMP_NUM_THREADS", 8, None)


def test_a_ray_replica_computes_with_its_cpu_share() -> None:
    assert choose({}, cores=16, ray_cpus=4.0) == Threads(4, "ray", 16, None)
    assert choose({"OMP_NUM_THREADS": "4"}, cores=16, ray_cpus=4.0).reason == "ray"  # what Ray itself exported
    assert choose({}, cores=16, ray_cpus=0.5).count == 1  # a fractional share still computes on one thread


def test_without_env_or_ray_the_rule_gives_a_thread_per_free_core() -> None:
    assert choose({}, cores=2, ray_cpus=None, busy=0) == Threads(2, "rule", 2, None, busy=0)  # a quiet machine
    assert choose({}, cores=8, ray_cpus=None, busy=3).count == 5
    assert choose({}, cores=1, ray_cpus=None, busy=0).count == 1


def test_a_busy_machine_still_gets_one_thread() -> None:
    # A second engine starting beside this one is runnable too: each of two takes one core of two.
    assert choose({}, cores=2, ray_cpus=None, busy=1).count == 1
    assert choose({}, cores=2, ray_cpus=None, busy=12) == Threads(1, "rule", 2, None, busy=12)


def test_vllm_in_the_process_keeps_a_core_for_its_python_thread_while_openmp_threads_spin() -> None:
    assert choose({}, cores=4, ray_cpus=None, busy=0, reserved=1).count == 3
    assert choose({}, cores=2, ray_cpus=None, busy=3, reserved=1).count == 1
    assert choose({"OMP_NUM_THREADS": "2"}, cores=2, ray_cpus=None, reserved=1).count == 2  # the user's count is kept


def test_passive_openmp_threads_leave_the_python_thread_its_core_so_nothing_is_reserved() -> None:
    passive = choose({"OMP_WAIT_POLICY": "PASSIVE"}, cores=2, ray_cpus=None, busy=0, reserved=1)
    assert (passive.count, passive.reserved) == (2, 0)
    assert choose({"OMP_WAIT_POLICY": "passive"}, cores=2, ray_cpus=None, busy=1, reserved=1).count == 1  # busy counts
    assert choose({"OMP_WAIT_POLICY": "ACTIVE"}, cores=2, ray_cpus=None, busy=0, reserved=1).count == 1


def test_the_other_runnable_tasks_are_counted_without_this_one() -> None:
    assert runnable_elsewhere(samples=3, interval_s=0.0) >= 0


@pytest.mark.parametrize("value", ["", "0", "-2", "two"])
def test_an_unusable_omp_num_threads_falls_back_to_the_rule(value: str) -> None:
    assert choose({"OMP_NUM_THREADS": value}, cores=4, ray_cpus=None, busy=0) == Threads(4, "rule", 4, None, busy=0)


def test_the_wait_policy_in_the_environment_is_recorded() -> None:
    choice = choose({"OMP_WAIT_POLICY": "PASSIVE"}, cores=2, ray_cpus=None, busy=1)
    assert choice.to_json() == {"count": 1, "reason": "rule", "cores": 2, "omp_wait_policy": "PASSIVE", "busy": 1,
                                "reserved": 0}


def test_passive_waiting_is_preferred_but_a_users_policy_is_kept() -> None:
    env: dict[str, str] = {}
    prefer_passive_wait(env)
    assert env == {"OMP_WAIT_POLICY": "PASSIVE"}
    mine = {"OMP_WAIT_POLICY": "ACTIVE"}
    prefer_passive_wait(mine)
    assert mine == {"OMP_WAIT_POLICY": "ACTIVE"}


def _fake_ray(actor_id: str | None, resources: dict[str, float]) -> Any:
    context = SimpleNamespace(get_actor_id=lambda: actor_id, get_assigned_resources=lambda: resources)
    return SimpleNamespace(is_initialized=lambda: True, get_runtime_context=lambda: context)


def test_the_ray_share_is_read_only_inside_an_actor(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "ray", raising=False)
    assert ray_cpu_share() is None  # Ray not imported: not a Ray worker, and Ray is not imported to find out
    monkeypatch.setitem(sys.modules, "ray", _fake_ray(None, {"CPU": 8.0}))
    assert ray_cpu_share() is None  # the driver: no actor
    monkeypatch.setitem(sys.modules, "ray", _fake_ray("actor-1", {"CPU": 2.0}))
    assert ray_cpu_share() == 2.0


def test_apply_gives_torch_the_chosen_count(monkeypatch: pytest.MonkeyPatch) -> None:
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    try:
        assert threads.apply_threads().reason == "OMP_NUM_THREADS" and torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


@pytest.mark.slow
def test_the_hf_session_records_the_threads_it_used(smollm2_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    from orcabench.backends.hf import HFBackend

    before = torch.get_num_threads()
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    try:
        backend = HFBackend(str(smollm2_dir), {"dtype": "float32", "device": "cpu"}, seed=0, batch_size=2)
        recorded = backend.info().to_json()["threads"]
        backend.close()
    finally:
        torch.set_num_threads(before)
    assert recorded["count"] == 1 and recorded["reason"] == "OMP_NUM_THREADS" and recorded["cores"] >= 1


def test_a_passive_policy_set_after_torch_loaded_is_not_in_force_so_vllm_keeps_its_core(
        monkeypatch: pytest.MonkeyPatch) -> None:
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setenv("OMP_WAIT_POLICY", "PASSIVE")
    monkeypatch.setitem(threads._WAIT_STATE, "set_after_torch", True)  # OpenMP read its default before this
    monkeypatch.setattr(threads, "available_cores", lambda: 2)
    monkeypatch.setattr(threads, "runnable_elsewhere", lambda: 0)
    monkeypatch.setattr(threads, "ray_cpu_share", lambda: None)
    try:
        choice = threads.apply_threads(reserved=1)
    finally:
        torch.set_num_threads(before)
    assert (choice.count, choice.reserved, choice.wait_policy) == (1, 1, None)
