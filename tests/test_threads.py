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
from orcabench.threads import ThreadGovernor, Threads, choose, choose_wait_policy, ray_cpu_share, runnable_elsewhere


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


def test_the_other_runnable_tasks_are_counted_without_this_one() -> None:
    assert runnable_elsewhere(samples=3, interval_s=0.0) >= 0


@pytest.mark.parametrize("value", ["", "0", "-2", "two"])
def test_an_unusable_omp_num_threads_falls_back_to_the_rule(value: str) -> None:
    assert choose({"OMP_NUM_THREADS": value}, cores=4, ray_cpus=None, busy=0) == Threads(4, "rule", 4, None, busy=0)


def test_the_wait_policy_in_the_environment_is_recorded() -> None:
    choice = choose({"OMP_WAIT_POLICY": "PASSIVE"}, cores=2, ray_cpus=None, busy=1)
    assert choice.to_json() == {"count": 1, "reason": "rule", "cores": 2, "omp_wait_policy": "PASSIVE", "busy": 1}


def test_a_fixed_thread_count_waits_passively_because_it_cannot_yield_the_cores() -> None:
    env = {"OMP_NUM_THREADS": "2"}
    choose_wait_policy(env)
    assert env == {"OMP_NUM_THREADS": "2", "OMP_WAIT_POLICY": "PASSIVE"}


def test_a_governed_count_keeps_openmps_spinning_default() -> None:
    env: dict[str, str] = {}
    choose_wait_policy(env)
    assert env == {}  # the rule's count: spinning is the fastest alone, and the governor yields the cores


@pytest.mark.parametrize("chosen", [{"OMP_WAIT_POLICY": "ACTIVE"}, {"GOMP_SPINCOUNT": "10000"}])
def test_the_users_own_way_of_waiting_is_kept(chosen: dict[str, str]) -> None:
    env = {"OMP_NUM_THREADS": "2", **chosen}
    choose_wait_policy(env)
    assert env == {"OMP_NUM_THREADS": "2", **chosen}


def _governed(readings: list[int], cores: int = 2, count: int = 2) -> tuple[ThreadGovernor, list[int]]:
    """A governor ticked once per check, the other runnable tasks read from a script: its count after each check."""
    torch = pytest.importorskip("torch")
    before, script, moments = torch.get_num_threads(), iter(readings), iter(range(len(readings)))
    governor = ThreadGovernor(cores, count, others=lambda: next(script), clock=lambda: float(next(moments)))
    counts = []
    try:
        for _ in readings:
            governor.tick()
            counts.append(governor.count)
    finally:
        torch.set_num_threads(before)
    return governor, counts


def test_a_second_engine_seen_in_two_checks_in_a_row_takes_a_core_from_the_count() -> None:
    governor, counts = _governed([0, 1, 1, 1])
    assert counts == [2, 2, 1, 1]
    assert governor.to_json() == {"least": 1, "changes": 1, "last": 1, "checks": 4}


def test_a_task_passing_by_changes_nothing() -> None:
    assert _governed([1, 0, 1, 0, 2, 0])[1] == [2] * 6


def test_the_count_comes_back_after_four_calm_checks_in_a_row() -> None:
    governor, counts = _governed([1, 1, 0, 0, 0, 1, 0, 0, 0, 0])
    assert counts == [2, 1, 1, 1, 1, 1, 1, 1, 1, 2]
    assert governor.to_json() == {"least": 1, "changes": 2, "last": 2, "checks": 10}


def test_more_busy_tasks_than_cores_still_leave_one_thread() -> None:
    assert _governed([5, 5], cores=4, count=4)[1] == [4, 1]


def test_the_governor_checks_at_most_once_an_interval_and_gives_torch_its_count() -> None:
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    readings = iter([1, 1])
    moments = iter([0.0, 0.1, 0.2, 0.3])  # checks at 0.0 and 0.3; the ticks between read nothing
    governor = ThreadGovernor(2, 2, others=lambda: next(readings), clock=lambda: next(moments))
    try:
        for _ in range(4):
            governor.tick()
        assert governor.count == 1 and torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


def test_a_real_competing_process_lowers_the_count(tmp_path: Path) -> None:
    """Two spinning processes are runnable beside this one: within seconds the governor computes on one thread."""
    pytest.importorskip("torch")
    if not Path("/proc/loadavg").exists():
        pytest.skip("the runnable count is read from /proc (Linux)")
    import subprocess
    import time

    import torch

    before = torch.get_num_threads()
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]
    governor = ThreadGovernor(2, 2)
    try:
        deadline = time.monotonic() + 60
        while governor.count == 2 and time.monotonic() < deadline:
            governor.tick()
            time.sleep(0.05)
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait()
        torch.set_num_threads(before)
    assert governor.count == 1 and governor.least == 1


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


def test_a_passive_policy_set_after_torch_loaded_is_recorded_as_openmps_default(monkeypatch: pytest.MonkeyPatch) -> None:
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setenv("OMP_WAIT_POLICY", "PASSIVE")
    monkeypatch.setitem(threads._WAIT_STATE, "set_after_torch", True)  # OpenMP read its default before this
    monkeypatch.setattr(threads, "available_cores", lambda: 2)
    monkeypatch.setattr(threads, "runnable_elsewhere", lambda: 0)
    monkeypatch.setattr(threads, "ray_cpu_share", lambda: None)
    try:
        choice = threads.apply_threads()
    finally:
        torch.set_num_threads(before)
    assert (choice.count, choice.wait_policy) == (2, None) and choice.governor is not None
    assert choice.to_json()["adjusted"] == {"least": 2, "changes": 0, "last": 2, "checks": 0}


@pytest.mark.slow
def test_the_hf_engine_ticks_its_governor_each_forward_pass_and_records_it(smollm2_dir: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    from orcabench.backends.hf import HFBackend
    from orcabench.types import Request

    before = torch.get_num_threads()
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    try:
        backend = HFBackend(str(smollm2_dir), {"dtype": "float32", "device": "cpu"}, seed=0, batch_size=2)
        list(backend.answer([Request(kind="generate", prompt="Two plus two is", max_tokens=3)]))
        recorded = backend.info().to_json()["threads"]
        backend.close()
    finally:
        torch.set_num_threads(before)
    assert recorded["reason"] == "rule" and recorded["adjusted"]["checks"] >= 1
    assert 1 <= recorded["adjusted"]["least"] <= recorded["count"] <= recorded["cores"]


@pytest.mark.slow
def test_the_vllm_engine_ticks_its_governor_between_steps_and_records_it(vllm_backend: Any) -> None:
    from orcabench.types import Request

    if vllm_backend.threads is None:
        pytest.skip("vLLM's engine runs in its own process here (VLLM_ENABLE_V1_MULTIPROCESSING=1): its threads are its own")
    list(vllm_backend.answer([Request(kind="generate", prompt="Two plus two is", max_tokens=3)]))
    recorded = vllm_backend.info().to_json()["threads"]
    if recorded["reason"] != "rule":
        pytest.skip(f"the thread count is fixed here ({recorded['reason']}): no governor")
    assert recorded["adjusted"]["checks"] >= 1
    assert 1 <= recorded["adjusted"]["least"] <= recorded["adjusted"]["last"] <= recorded["cores"]
