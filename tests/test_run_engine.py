"""The run engine: ``plan`` resolves, ``execute`` answers, scores and stores; resume skips what is stored.

A scripted backend stands in for the model (these tests are about control flow); the
data, tasks, prompts, extractors and the store are the real ones. The same loop runs real
models in tests/test_run.py and tests/test_backends.py.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from orcabench import api
from orcabench.backends.base import BackendInfo
from orcabench.engine.execute import best_option
from orcabench.store.writer import RunStore
from orcabench.types import Completion, OrcabenchError, Request


class ScriptedBackend:
    """Answers every request with a fixed text (or log-probability), in groups, in a chosen order.

    ``twice`` answers that request index a second time; ``never`` leaves those unanswered;
    ``fail_after`` raises after that many groups, as a crashed engine would.
    """

    name = "scripted"

    def __init__(self, group: int = 2, reverse: bool = False, twice: int | None = None, never: Sequence[int] = (),
                 fail_after: int | None = None) -> None:
        self.group, self.reverse, self.twice, self.never, self.fail_after = group, reverse, twice, set(never), fail_after
        self.asked: list[list[Request]] = []

    def answer(self, requests: Sequence[Request]) -> Iterator[list[tuple[int, Completion]]]:
        self.asked.append(list(requests))
        order = [i for i in range(len(requests)) if i not in self.never]
        order = order[::-1] if self.reverse else order
        for number, start in enumerate(range(0, len(order), self.group)):
            if self.fail_after is not None and number == self.fail_after:
                raise RuntimeError("engine died")
            indices = (order[start : start + self.group]
                       + ([self.twice] if self.twice in order[start : start + self.group] else []))
            yield [(i, self._completion(requests[i])) for i in indices]

    @staticmethod
    def _completion(request: Request) -> Completion:
        if request.kind == "loglikelihood":  # " B" is the likeliest option, at exactly 0.0
            return Completion(logprob=0.0 if request.continuation == " B" else -2.5, is_greedy=request.continuation == " B")
        return Completion(text="Step by step... The answer is 18.", prompt_tokens=7, output_tokens=9, finish_reason="stop")

    def info(self) -> BackendInfo:
        return BackendInfo(self.name)

    def close(self) -> None:
        pass


@pytest.fixture
def plain_model(tmp_path: Path) -> Path:
    """A model file whose prompts render without a tokenizer (plain format): nothing is loaded."""
    folder = tmp_path / "weights"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    path = tmp_path / "scripted.yaml"
    path.write_text(f"name: scripted\nsource: {folder}\nprompt_format: plain\n")
    return path


def planned(plain_model: Path, tmp_path: Path, data_dir: Path, tasks: Sequence[str] = ("gsm8k", "mmlu-ll"),
            limit: int = 3) -> api.Plan:
    return api.plan(api.RunConfig(selection=api.Selection(model=str(plain_model), tasks=tasks, limit=limit, data_dir=data_dir),
                                  engine=api.EngineSettings(backend="hf"),
                                  operations=api.Operations(output=tmp_path / "run")))


def stored_keys(run_dir: Path) -> list[tuple[str, str]]:
    lines = (run_dir / "records.jsonl").read_text().splitlines()
    return [(json.loads(line)["task"], json.loads(line)["id"]) for line in lines]


def test_plan_resolves_everything_and_loads_nothing(plain_model: Path, tmp_path: Path, data_dir: Path) -> None:
    plan = planned(plain_model, tmp_path, data_dir)
    assert [t.name for t in plan.tasks] == ["gsm8k", "mmlu-ll"]
    assert plan.keys()[:3] == [("gsm8k", "0"), ("gsm8k", "1"), ("gsm8k", "2")] and len(plan.keys()) == 6
    assert plan.run_dir == tmp_path / "run" and not plan.run_dir.exists()
    assert plan.fingerprint.backend == "hf" and set(plan.fingerprint.tasks) == {"gsm8k", "mmlu-ll"}


def test_execute_stores_each_example_once_and_a_second_call_makes_no_request(plain_model: Path, tmp_path: Path,
                                                                              data_dir: Path) -> None:
    plan = planned(plain_model, tmp_path, data_dir)
    backend = ScriptedBackend(reverse=True)
    with RunStore(plan.run_dir).open(plan.fingerprint) as store:
        executed = api.execute(plan, backend, store)
        assert executed.requests == 3 + 3 * 4  # one per gsm8k question, one per MMLU option
        again = api.execute(plan, backend, store)
    assert again.requests == 0 and again.records == [] and len(backend.asked) == 1
    assert sorted(stored_keys(plan.run_dir)) == sorted(plan.keys())


def test_execute_runs_only_the_keys_asked_for_in_their_order(plain_model: Path, tmp_path: Path, data_dir: Path) -> None:
    plan = planned(plain_model, tmp_path, data_dir, tasks=("gsm8k",), limit=5)
    backend = ScriptedBackend(group=1)
    chunk = [("gsm8k", "3"), ("gsm8k", "0"), ("gsm8k", "3")]  # a repeated key runs once
    with RunStore(plan.run_dir).open(plan.fingerprint) as store:
        api.execute(plan, backend, store, keys=chunk)
        assert stored_keys(plan.run_dir) == [("gsm8k", "3"), ("gsm8k", "0")]
        api.execute(plan, backend, store, keys=[("gsm8k", "0"), ("gsm8k", "4")])  # "0" is stored: only "4" is asked
        with pytest.raises(OrcabenchError, match="not in the run's plan"):
            api.execute(plan, backend, store, keys=[("gsm8k", "99")])
    assert [len(asked) for asked in backend.asked] == [2, 1]
    prompts = {json.loads(line)["id"]: json.loads(line)["prompt"]
               for line in (plan.run_dir / "records.jsonl").read_text().splitlines()}
    assert [r.prompt for r in backend.asked[0]] == [prompts["3"], prompts["0"]]  # sent in the order asked for


def test_a_backend_answering_a_request_twice_is_an_error_and_no_record_is_doubled(plain_model: Path, tmp_path: Path,
                                                                                   data_dir: Path) -> None:
    plan = planned(plain_model, tmp_path, data_dir, tasks=("gsm8k",), limit=4)
    with RunStore(plan.run_dir).open(plan.fingerprint) as store:
        with pytest.raises(OrcabenchError, match="answered request 2 twice"):
            api.execute(plan, ScriptedBackend(group=2, twice=2), store)
    keys = stored_keys(plan.run_dir)
    assert keys == [("gsm8k", "0"), ("gsm8k", "1")] and len(set(keys)) == len(keys)


def test_requests_left_unanswered_are_an_error_and_a_rerun_completes_the_run(plain_model: Path, tmp_path: Path,
                                                                              data_dir: Path) -> None:
    plan = planned(plain_model, tmp_path, data_dir, tasks=("gsm8k",), limit=4)
    with RunStore(plan.run_dir).open(plan.fingerprint) as store:
        with pytest.raises(OrcabenchError, match="left 1 request\\(s\\) unanswered; 3 record\\(s\\) were kept"):
            api.execute(plan, ScriptedBackend(never=[1]), store)
        rerun = ScriptedBackend()
        api.execute(plan, rerun, store)
    assert [len(asked) for asked in rerun.asked] == [1]
    assert sorted(stored_keys(plan.run_dir)) == sorted(plan.keys())


def test_an_engine_dying_between_groups_keeps_the_groups_before_and_resume_does_the_rest(plain_model: Path, tmp_path: Path,
                                                                                          data_dir: Path) -> None:
    plan = planned(plain_model, tmp_path, data_dir, tasks=("gsm8k",), limit=5)
    with RunStore(plan.run_dir).open(plan.fingerprint) as store:
        with pytest.raises(RuntimeError, match="engine died"):
            api.execute(plan, ScriptedBackend(group=2, fail_after=1), store)
    assert stored_keys(plan.run_dir) == [("gsm8k", "0"), ("gsm8k", "1")]
    with RunStore(plan.run_dir).open(plan.fingerprint) as store:
        resumed = ScriptedBackend()
        api.execute(plan, resumed, store)
    assert len(resumed.asked[0]) == 3 and stored_keys(plan.run_dir)[2:] == [("gsm8k", "2"), ("gsm8k", "3"), ("gsm8k", "4")]


def test_a_loglikelihood_of_exactly_zero_wins_its_argmax(plain_model: Path, tmp_path: Path, data_dir: Path) -> None:
    assert best_option([Completion(logprob=-1.0), Completion(logprob=0.0), Completion(logprob=None)]) == 1
    plan = planned(plain_model, tmp_path, data_dir, tasks=("mmlu-ll",), limit=2)
    with RunStore(plan.run_dir).open(plan.fingerprint) as store:
        records = api.execute(plan, ScriptedBackend(), store).records
    assert {(r.answer, r.output, r.logprob) for r in records} == {("B", " B", 0.0)}


def test_a_two_task_rescore_that_changes_nothing_reports_zero_changed(plain_model: Path, tmp_path: Path, data_dir: Path) -> None:
    plan = planned(plain_model, tmp_path, data_dir, tasks=("gsm8k", "arc-easy"), limit=3)
    with api.RunSession(plan, load=lambda _: ScriptedBackend(reverse=True)) as session:
        session.execute()  # stored in completion order: arc-easy first
    assert stored_keys(plan.run_dir)[0][0] == "arc-easy"
    result = api.rescore(plan.run_dir, data_dir)
    assert result.changed == 0
    manifest = json.loads((plan.run_dir / "manifest.json").read_text())
    assert manifest["rescores"][-1]["changed"] == 0 and manifest["sessions"][0]["finished"]


def test_run_accepts_lm_eval_tasks_and_says_what_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    real_import = builtins.__import__

    def without_lm_eval(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "lm_eval" or name.startswith("lm_eval."):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", without_lm_eval)
    with pytest.raises(OrcabenchError, match=r"pip install 'orcabench\[lm-eval\]'"):
        api.run(api.RunConfig(selection=api.Selection(tasks=["lm-eval:arc_easy"])))


# --- the run session: one lifecycle, one event channel ------------------------------------


class Interrupted(ScriptedBackend):
    """Answers one group, then the user presses Ctrl-C; remembers whether it was closed."""

    closed = False

    def answer(self, requests: Sequence[Request]) -> Iterator[list[tuple[int, Completion]]]:
        for number, group in enumerate(super().answer(requests)):
            if number == 1:
                raise KeyboardInterrupt
            yield group

    def close(self) -> None:
        self.closed = True


def test_a_session_emits_its_events_in_order_and_records_what_it_did(plain_model: Path, tmp_path: Path, data_dir: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from orcabench.engine import session as run_session
    from orcabench.events import (BackendLoading, Estimated, Finished, Opened, Planned, RecordsStored, RunEvent, Started,
                                  Warned)

    seen: list[RunEvent] = []
    monkeypatch.setattr(run_session, "load_backend", lambda *args, **kwargs: ScriptedBackend(group=2))
    config = planned(plain_model, tmp_path, data_dir, tasks=("gsm8k",), limit=3).config
    result = api.run(config, events=api.RunEvents(seen.append))
    kinds = [type(event) for event in seen]
    assert kinds == [Opened, Planned, Estimated, BackendLoading, Started, RecordsStored, RecordsStored, Finished]
    assert not any(isinstance(event, Warned) for event in seen)
    assert seen[1] == Planned({"gsm8k": 3}, 3, 3) and seen[4] == Started({"gsm8k": 3})
    assert [len(event.records) for event in seen if isinstance(event, RecordsStored)] == [2, 1]
    session = json.loads((result.run_dir / "manifest.json").read_text())["sessions"][-1]
    assert {"plan", "render", "engine_start", "generate", "close"} <= set(session["timings"])
    assert (session["pending"], session["requests"], session["output_tokens"]) == (3, 3, 27) and session["finished"]

    again: list[RunEvent] = []
    api.run(config, events=api.RunEvents(again.append))  # nothing left: no backend, no estimate
    assert [type(event) for event in again] == [Opened, Planned]


def test_ctrl_c_mid_run_closes_the_backend_keeps_the_records_and_leaves_the_session_unfinished(
        plain_model: Path, tmp_path: Path, data_dir: Path) -> None:
    plan = planned(plain_model, tmp_path, data_dir, tasks=("gsm8k",), limit=4)
    backend = Interrupted(group=2)
    with pytest.raises(KeyboardInterrupt):
        with api.RunSession(plan, load=lambda _: backend) as session:
            session.execute()
    assert backend.closed and stored_keys(plan.run_dir) == [("gsm8k", "0"), ("gsm8k", "1")]
    interrupted = json.loads((plan.run_dir / "manifest.json").read_text())["sessions"][-1]
    assert "finished" not in interrupted and interrupted["backend"] == {"backend": "scripted"}
    with api.RunSession(plan, load=lambda _: ScriptedBackend()) as session:  # the lock was released: it resumes
        assert [example.id for _, example in session.pending()] == ["2", "3"]


def test_planning_a_server_run_makes_no_network_call_and_the_session_asks_before_opening_the_store(
        plain_model: Path, tmp_path: Path, data_dir: Path) -> None:
    from test_openai_backend import free_port

    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    config = api.RunConfig(selection=api.Selection(model=str(plain_model), tasks=["gsm8k"], limit=1, data_dir=data_dir),
                           operations=api.Operations(server=url, output=tmp_path / "run"))
    plan = api.plan(config)
    assert plan.awaits_server and plan.backend == "openai"
    with pytest.raises(OrcabenchError, match="no answer from an `orcabench serve` server"):
        with api.RunSession(plan):
            pass
    assert not (tmp_path / "run").exists()


def test_a_run_config_is_typed_parts_and_unknown_settings_are_refused() -> None:
    config = api.RunConfig.from_dict({"selection": {"model": "smollm2-135m", "tasks": ["gsm8k"]}, "sampling": {"seed": 7}})
    assert (config.selection.model, config.sampling.seed, config.prompting) == ("smollm2-135m", 7, api.Prompting())
    assert api.RunConfig().sampling.seed == api.DEFAULT_SEED
    with pytest.raises(OrcabenchError, match=r"run config sampling: unknown setting\(s\) temperature; known: max_tokens, seed"):
        api.RunConfig.from_dict({"sampling": {"temperature": 0.7}})
    with pytest.raises(OrcabenchError, match=r"run config: unknown setting\(s\) model; known: selection, prompting"):
        api.RunConfig.from_dict({"model": "smollm2-135m"})
    with pytest.raises(TypeError, match="modle"):
        api.Selection(modle="smollm2-135m")  # type: ignore[call-arg]
    engine = api.EngineSettings(dtype="float32", args={"dtype": "bfloat16", "enforce_eager": True})
    assert engine.overrides() == {"dtype": "float32", "enforce_eager": True}  # a flag wins over the same --engine-arg


def test_a_backends_info_is_stored_key_for_key_as_the_backends_wrote_it_before_the_typed_record() -> None:
    # The manifest's session keeps the old layout: the engine's name, its library versions, then its settings.
    info = BackendInfo("hf", {"transformers": "4.57", "torch": "2.8"}, {"device": "cpu", "timings": {"generate": 1.5}})
    assert list(info.to_json().items()) == [("backend", "hf"), ("transformers", "4.57"), ("torch", "2.8"), ("device", "cpu"),
                                            ("timings", {"generate": 1.5})]
    assert json.loads(json.dumps(info.to_json())) == info.to_json()
