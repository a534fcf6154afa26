"""`orcabench run --replicas N`: engine replicas as Ray actors, the run loop the only writer.

The fast tests pin the hand-out rules (longest first, a lost chunk back to the front, every
request counted once). The slow ones build a real two-node Ray cluster on 127.0.0.1 with
Ray's own ``Cluster`` (shared by the whole module) and check, as a user runs it, that
replicated runs give the records of a single-process run with their replicas on both nodes:
when SIGKILL ends one replica's worker mid-run (nothing lost, nothing stored twice), and when
a run killed under 2 replicas resumes under 1, is killed again and finishes under 2.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import orcabench

from orcabench import api
from orcabench.backends.replicas import ChunkQueue, chunk_size
from orcabench.store.writer import read_records
from orcabench.types import OrcabenchError

# The done-when command of issue 13: two tasks (one generative, one loglikelihood), 12 samples.
RUN = ["run", "--model", "smollm2-135m", "--tasks", "gsm8k,arc-easy", "--limit", "6", "--max-tokens", "32"]


# -- the hand-out rules -------------------------------------------------------------------


def test_chunks_go_out_longest_first_and_a_lost_chunk_goes_back_to_the_front() -> None:
    queue = ChunkQueue(sizes=[5, 50, 20, 40, 10], size=2)
    first, second = queue.take(), queue.take()
    assert first is not None and second is not None
    assert (first.indices, second.indices) == ((1, 3), (2, 4))
    queue.lose(first)  # its replica died
    again = queue.take()
    assert again == first  # before the rest of the queue
    assert queue.finish(again) and queue.finish(second)
    last = queue.take()
    assert last is not None and last.indices == (0,) and queue.finish(last)
    assert queue.done and queue.answered() == 5 and queue.take() is None


def test_an_idle_replica_backs_up_a_running_chunk_and_only_the_first_copy_counts() -> None:
    queue = ChunkQueue(sizes=[3, 2, 1], size=3)
    chunk = queue.take()
    backup = queue.take()  # nothing queued: a copy of the chunk running once
    assert chunk is not None and backup == chunk
    assert queue.take() is None  # never a third copy
    assert queue.finish(backup) is True
    assert queue.finish(chunk) is False  # the slower copy's answers are dropped
    assert queue.done


def test_a_lost_copy_is_not_requeued_while_another_copy_still_runs() -> None:
    queue = ChunkQueue(sizes=[1, 1], size=2)
    chunk = queue.take()
    backup = queue.take()
    assert chunk is not None and backup is not None
    queue.lose(chunk)
    assert list(queue.queued) == []  # the backup still runs: nothing to hand out twice
    queue.lose(backup)
    assert list(queue.queued) == [chunk]  # both copies lost: back in the queue, once


def test_chunks_are_small_enough_for_every_replica_to_take_several() -> None:
    assert chunk_size(30, replicas=2, backend="hf", batch_size=None) == 4
    assert chunk_size(10_000, replicas=8, backend="vllm", batch_size=None) == 256
    assert chunk_size(10_000, replicas=8, backend="hf", batch_size=8) == 8
    assert chunk_size(1, replicas=4, backend="hf", batch_size=None) == 1


def test_replica_settings_are_checked_before_anything_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    for config, message in ((api.RunConfig(operations=api.Operations(replicas=0)), "--replicas must be a positive number"),
                            (api.RunConfig(operations=api.Operations(ray_address="127.0.0.1:6379")), "add --replicas"),
                            (api.RunConfig(engine=api.EngineSettings(backend="openai"),
                                           operations=api.Operations(replicas=2)), "base_url=URL1,URL2"),
                            (api.RunConfig(operations=api.Operations(replicas=1, replica_cpus=0)),
                             "--replica-cpus must be a positive number of cores, not 0"),
                            (api.RunConfig(operations=api.Operations(replica_cpus=2)), "add --replicas")):
        with pytest.raises(OrcabenchError, match=message):
            api.plan(config)


def test_without_ray_installed_the_error_is_one_line_with_the_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    from orcabench.backends.replicas import ReplicaBackend

    monkeypatch.setitem(sys.modules, "ray", None)  # import ray now raises ImportError
    with pytest.raises(OrcabenchError, match=r"^--replicas runs on Ray, which is not installed: pip install 'orcabench\[ray\]'$"):
        ReplicaBackend("hf", "unused", {}, seed=0, batch_size=None, replicas=2)


class CpuCluster:
    """What ReplicaBackend asks Ray about placement: two alive CPU-only nodes of 2 cores each."""

    def cluster_resources(self) -> dict[str, float]:
        return {"CPU": 4.0}

    def nodes(self) -> list[dict[str, Any]]:
        return [{"Alive": True, "Resources": {"CPU": 2.0}}, {"Alive": True, "Resources": {"CPU": 2.0}}]


def cpu_request(replicas: int, cpus: int | None) -> dict[str, Any]:
    from orcabench.backends.replicas import ReplicaBackend

    backend = ReplicaBackend.__new__(ReplicaBackend)  # placement only: no Ray, no engine
    backend.count, backend.cpus = replicas, cpus
    resources, bundles = backend._resources(CpuCluster(), "hf", {})
    assert bundles == []
    return resources


def test_on_cpus_a_replica_asks_for_a_nodes_cores_unless_told_how_many() -> None:
    assert cpu_request(replicas=1, cpus=None) == {"num_cpus": 2}  # the default: engines on one node take turns
    assert cpu_request(replicas=4, cpus=None) == {"num_cpus": 1}  # an equal share of the cluster's cores
    assert cpu_request(replicas=1, cpus=1) == {"num_cpus": 1}  # two such engines share a node
    with pytest.raises(OrcabenchError, match=r"^3 CPUs per replica: no node of the Ray cluster has that many \(the "
                                             r"largest has 2\); ask for at most 2$"):
        cpu_request(replicas=1, cpus=3)


WORKER = """
import logging, os, sys
from pathlib import Path
import orcabench.backends.replicas as replicas

def scripted(name, model_path, engine, seed, batch_size):  # an engine that talks on its fds and its logger
    os.write(1, b"engine: stdout while loading\\n")
    os.write(2, b"engine: stderr while loading\\n")
    handler = logging.StreamHandler(sys.stderr)
    logging.getLogger("vllm").addHandler(handler)
    return object()

replicas.load_backend = scripted
replica = replicas.Replica("hf", "some-model", {}, 0, None, engine_log=sys.argv[1], index=1)
logging.getLogger("vllm").warning("engine: a log line")
os.write(2, b"engine: after loading\\n")
print(replica.engine_log)
"""


def test_a_replicas_engine_writes_into_the_runs_engine_log_where_its_node_sees_the_run(tmp_path: Path) -> None:
    log = tmp_path / "run" / "engine.log"
    log.parent.mkdir()
    worker = subprocess.run([sys.executable, "-c", WORKER, str(log)], capture_output=True, text=True, check=True)
    assert worker.stdout == worker.stderr == ""  # nothing left on the worker's own fds (Ray's session logs)
    lines = log.read_text().splitlines()
    assert lines[0].startswith("orcabench: replica 1 on ") and lines[0].endswith("starting the hf engine for some-model")
    assert lines[1:] == ["engine: stdout while loading", "engine: stderr while loading", "engine: a log line",
                         "engine: after loading", str(log)]


def test_a_replica_on_a_node_without_the_run_directory_leaves_its_output_to_ray(tmp_path: Path) -> None:
    elsewhere = tmp_path / "not-on-this-node" / "engine.log"
    worker = subprocess.run([sys.executable, "-c", WORKER, str(elsewhere)], capture_output=True, text=True, check=True)
    assert worker.stdout == "engine: stdout while loading\nNone\n"
    assert "engine: stderr while loading" in worker.stderr and "engine: after loading" in worker.stderr
    assert not elsewhere.parent.exists()


# -- a real two-node cluster on the loopback address ---------------------------------------


class TwoNodes:
    """Ray's own test cluster: a head and one more node, one CPU each, all on 127.0.0.1."""

    def __init__(self) -> None:
        from ray.cluster_utils import Cluster

        self.cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
        self.cluster.add_node(num_cpus=1)
        self.cluster.wait_for_nodes()
        self.address = self.cluster.address

    def raylet_pids(self) -> set[int]:
        from ray._private import ray_constants

        return {info.process.pid for node in self.cluster.list_all_nodes()
                for info in node.all_processes.get(ray_constants.PROCESS_TYPE_RAYLET, [])}

    def replica_workers(self) -> list[int]:
        """Worker processes holding a replica actor, children of this cluster's raylets only."""
        raylets, found = self.raylet_pids(), []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                cmdline = (entry / "cmdline").read_bytes().split(b"\0")[0].decode()
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            if cmdline.startswith("ray::Replica") and parent in raylets:
                found.append(int(entry.name))
        return found


@pytest.fixture(scope="module")
def cluster() -> Iterator[TwoNodes]:
    pytest.importorskip("ray")
    # Without it Ray swaps 127.0.0.1 for the machine's network address; test traffic stays on loopback.
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    nodes = TwoNodes()
    yield nodes
    nodes.cluster.shutdown()


def records_of(run_dir: Path) -> dict[tuple[str, str], tuple[str, Any, float]]:
    """What must not depend on how a run was computed: output, answer and score per sample."""
    lines = (run_dir / "records.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    keys = [(r["task"], r["id"]) for r in records]
    assert len(keys) == len(set(keys)), "a sample was stored twice"
    return {(r["task"], r["id"]): (r["output"], r["answer"], r["score"]) for r in records}


def stored(run_dir: Path) -> int:
    """Whole records on disk (a line torn by a kill does not count; the next run drops it)."""
    path = run_dir / "records.jsonl"
    return len(read_records(path)[0]) if path.is_file() else 0


def placement(run_dir: Path) -> list[dict[str, Any]]:
    manifest = json.loads((run_dir / "manifest.json").read_text())
    return manifest["sessions"][-1]["backend"]["replicas"]["placement"]


@pytest.fixture(scope="module")
def hf_reference(tmp_path_factory: pytest.TempPathFactory, smollm2_dir: Path) -> Path:
    run_dir = tmp_path_factory.mktemp("reference") / "hf"
    result = orcabench(*RUN, "--backend", "hf", "--output", str(run_dir))
    assert result.returncode == 0, result.stderr
    return run_dir


def start(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "orcabench.cli", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def wait_for(condition: Any, process: subprocess.Popen[str], what: str, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert process.poll() is None, f"the run ended before {what}: {process.communicate()}"
        assert time.monotonic() < deadline, f"no {what} after {timeout:.0f} s"
        time.sleep(0.05)


@pytest.mark.slow
def test_a_replica_killed_mid_run_loses_nothing_and_duplicates_nothing(cluster: TwoNodes, hf_reference: Path,
                                                                      tmp_path: Path) -> None:
    run_dir = tmp_path / "killed-replica"
    run = start(*RUN, "--backend", "hf", "--replicas", "2", "--ray-address", cluster.address, "--output", str(run_dir))
    wait_for(lambda: stored(run_dir) >= 1 and len(cluster.replica_workers()) == 2, run, "a stored record")
    victim = cluster.replica_workers()[0]
    os.kill(victim, signal.SIGKILL)
    out, err = run.communicate(timeout=600)
    assert run.returncode == 0, err
    assert records_of(run_dir) == records_of(hf_reference)
    replicas = placement(run_dir)
    assert len({r["node_id"] for r in replicas}) == 2, "both replicas on one node"
    lost = [r for r in replicas if r["lost"]]
    assert [r["pid"] for r in lost] == [victim]  # the other replica finished the run
    assert "Actor" in lost[0]["lost"]  # Ray's ActorDiedError, as the manifest records it


@pytest.mark.slow
def test_a_run_killed_under_two_replicas_resumes_under_one_and_the_other_way_round(cluster: TwoNodes, hf_reference: Path,
                                                                                   tmp_path: Path) -> None:
    run_dir = tmp_path / "resumed"
    command = [*RUN, "--backend", "hf", "--ray-address", cluster.address, "--output", str(run_dir)]
    for replicas in ("2", "1"):
        before = stored(run_dir)
        run = start(*command, "--replicas", replicas)
        wait_for(lambda: stored(run_dir) > before, run, f"a new record under {replicas} replica(s)")
        run.send_signal(signal.SIGKILL)  # the driver: Ray ends its replicas
        run.communicate()
        assert stored(run_dir) < 12, "the run finished before it could be killed"
    before = stored(run_dir)
    result = orcabench(*command, "--replicas", "2")
    assert result.returncode == 0, result.stderr
    assert records_of(run_dir) == records_of(hf_reference)
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["sessions"][-1]["pending"] == 12 - before  # only what the killed runs had not stored
    # Two replicas on two nodes, neither lost: the plain replicated run. (Not "each finished a
    # chunk": once the queue is empty the fast replica takes a backup copy of the slow one's
    # chunk, and when the copy wins, the slow one has finished nothing; that is scheduling.)
    replicas = placement(run_dir)
    assert len({r["node_id"] for r in replicas}) == 2, "both replicas on one node"
    assert all(r["lost"] is None and r["engine_start_seconds"] > 0 for r in replicas)
    assert sum(r["requests"] for r in replicas) >= 12 - before  # every pending request answered by some replica
    # One run is one run: the fingerprint, so the default directory name, is that of the run without --replicas.
    assert manifest["fingerprint"] == json.loads((hf_reference / "manifest.json").read_text())["fingerprint"]


@pytest.mark.slow
@pytest.mark.vllm
def test_vllm_replicas_on_two_nodes_give_the_records_of_one_engine(cluster: TwoNodes, tmp_path: Path, smollm2_dir: Path) -> None:
    pytest.importorskip("vllm")
    vllm_run = ["run", "--model", "smollm2-135m", "--tasks", "gsm8k", "--limit", "4", "--max-tokens", "32", "--backend", "vllm"]
    reference, replicated = tmp_path / "one-engine", tmp_path / "two-replicas"
    single = orcabench(*vllm_run, "--output", str(reference))
    assert single.returncode == 0, single.stderr
    result = orcabench(*vllm_run, "--replicas", "2", "--ray-address", cluster.address, "--output", str(replicated))
    assert result.returncode == 0, result.stderr
    assert records_of(replicated) == records_of(reference)
    replicas = placement(replicated)
    # Not "each finished a chunk": a backup copy may finish the slow replica's only chunk first.
    assert len({r["node_id"] for r in replicas}) == 2 and all(r["lost"] is None for r in replicas)
    assert sum(r["requests"] for r in replicas) >= 4
    assert json.loads((replicated / "manifest.json").read_text())["sessions"][-1]["backend"]["backend"] == "vllm"
