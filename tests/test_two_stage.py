"""`--extract two-stage`: outputs the rules read weakly or not at all are asked of the model once more.

A scripted model stands in (these tests are about control flow: which outputs are asked
again, what is asked, what the record keeps, resume); data, tasks, prompts, extractors and
the store are the real ones. End to end on the bundled model: tests/test_two_stage_models.py.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path

import pytest
from test_run_engine import plain_model, planned  # noqa: F401  (plain_model: a fixture)

from orcabench import api
from orcabench.answers.formats import choice_example, make_example
from orcabench.answers.second_stage import trigger
from orcabench.backends.base import BackendInfo
from orcabench.backends.cache import RESPONSES, CachedBackend
from orcabench.cli.run import main
from orcabench.report.audit import audit_run
from orcabench.store.writer import RunStore
from orcabench.types import Completion, OrcabenchError, Request

# First-stage outputs of gsm8k examples 0-2: one the explicit rules read, one only the last number
# reads, one nothing reads.
OUTPUTS = {0: "She sells 16 - 3 - 4 = 9 eggs. The answer is 18.",
           1: "She has 5 apples and then 13 pears",
           2: "I cannot tell without more information."}


def is_second_stage(request: Request) -> bool:
    return "\nTherefore, the answer (arabic numerals) is" in request.prompt


class TwoStageModel:
    """Answers a first request with the output scripted for its question, a second-stage request with ``reply``.

    ``die_in_second_stage`` raises after the first second-stage group, as a killed engine would.
    """

    name = "scripted"

    def __init__(self, prompts: dict[str, int], reply: str = " 18.", die_in_second_stage: bool = False) -> None:
        self.prompts, self.reply, self.die = prompts, reply, die_in_second_stage
        self.asked: list[list[Request]] = []

    def answer(self, requests: Sequence[Request]) -> Iterator[list[tuple[int, Completion]]]:
        self.asked.append(list(requests))
        for number, index in enumerate(range(len(requests))):
            request = requests[index]
            if is_second_stage(request) and self.die and number == 1:
                raise RuntimeError("engine died")
            text = self.reply if is_second_stage(request) else OUTPUTS[self.prompts[request.prompt]]
            yield [(index, Completion(text=text, prompt_tokens=5, output_tokens=3, finish_reason="stop"))]

    def info(self) -> BackendInfo:
        return BackendInfo(self.name)

    def close(self) -> None:
        pass


PlanOf = Callable[..., api.Plan]


@pytest.fixture
def plan_of(request: pytest.FixtureRequest, tmp_path: Path, data_dir: Path) -> Callable[..., api.Plan]:
    """Plans of gsm8k's first 3 examples on the scripted model, in one run directory, by extraction mode."""
    def make(extract: str = "two-stage") -> api.Plan:
        rules = planned(request.getfixturevalue("plain_model"), tmp_path, data_dir, tasks=("gsm8k",), limit=3)
        return api.plan(replace(rules.config, sampling=api.Sampling(extract=extract)))

    return make


def model_for(plan: api.Plan, **options: object) -> TwoStageModel:
    from orcabench.engine.execute import missing, prepare

    work = prepare(plan, missing(plan, {}))
    return TwoStageModel({item.requests[0].prompt: int(item.example.id) for item in work.items}, **options)  # type: ignore[arg-type]


def stored(run_dir: Path) -> dict[str, dict]:
    return {row["id"]: row for row in map(json.loads, (run_dir / "records.jsonl").read_text().splitlines())}


def test_only_weak_and_failed_readings_are_asked_again_and_the_second_stage_decides_where_it_reads(
        plan_of: PlanOf) -> None:
    plan = plan_of()
    model = model_for(plan)
    with RunStore(plan.run_dir).open(plan.fingerprint) as store:
        executed = api.execute(plan, model, store)
    first, second = model.asked
    assert len(first) == 3 and executed.requests == 5  # 3 first requests, 2 asked again
    by_prompt = {request.prompt: request for request in first}
    asked_ids = sorted(model.prompts[next(p for p in by_prompt if r.prompt.startswith(p))] for r in second)
    assert asked_ids == [1, 2]  # "The answer is 18." was read explicitly: not asked
    for request in second:
        original = next(p for p in by_prompt if request.prompt.startswith(p))
        output = OUTPUTS[model.prompts[original]]
        assert request.prompt == original + output + "\nTherefore, the answer (arabic numerals) is"
        assert request.max_tokens == 16 and request.stop == by_prompt[original].stop

    records = stored(plan.run_dir)
    assert records["0"]["method"] == "final-answer-phrase" and "second_stage" not in records["0"]["extra"]
    weak = records["1"]
    assert (weak["answer"], weak["method"]) == ("18", "two-stage:final-answer-phrase")
    assert weak["extra"]["first_stage"] == {"answer": "13", "method": "last-number", "score": 0.0}
    assert weak["extra"]["second_stage"] == {"answer": "18", "method": "final-answer-phrase", "score": float(weak["score"]),
                                             "output": " 18.", "output_tokens": 3, "finish_reason": "stop"}
    assert weak["output"] == OUTPUTS[1]  # the record's output is still the model's first answer
    assert records["2"]["extra"]["first_stage"]["method"] == "none" and records["2"]["method"].startswith("two-stage:")


def test_the_plan_counts_every_outputs_second_stage_request_as_an_upper_bound(plan_of: PlanOf) -> None:
    two_stage, rules = plan_of(), plan_of("rules")
    bound, plain = api.dry_run(two_stage.config).estimate, api.dry_run(rules.config).estimate  # what --dry-run shows
    assert bound is not None and plain is not None
    # gsm8k's 3 first requests; any of the 3 outputs may be read weakly, and each is asked again at most once,
    # with the number trigger's 16 tokens: the budget holds them all, though only the first stage tells which
    assert (bound.requests, bound.second_stage, bound.second_stage_tokens) == (3, 3, 16)
    assert bound.budget == plain.budget + 3 * 16
    line = bound.line()
    assert "3 request(s) · up to 3 second-stage request(s) of ≤16 tokens" in line
    assert f"generation budget {bound.budget:,} tokens (sum of max_tokens, the second stage as an upper bound)" in line
    assert (plain.second_stage, "second-stage" in plain.line()) == (0, False)  # a rules run asks nothing again


def test_the_sessions_budget_is_the_bound_before_the_run_and_what_was_sent_after_it(plan_of: PlanOf) -> None:
    plan = plan_of()
    plain = api.dry_run(plan_of("rules").config).estimate
    assert plain is not None
    with api.RunSession(plan, load=lambda _: model_for(plan)) as session:
        assert session.session.generation_budget == plain.budget + 3 * 16  # before: every output may be asked
        session.execute()
    sent = json.loads((plan.run_dir / "manifest.json").read_text())["sessions"][-1]
    assert sent["generation_budget"] == plain.budget + 2 * 16  # after: the two outputs that were asked again


def test_a_second_stage_that_states_no_answer_leaves_the_rules_reading_standing(plan_of: PlanOf) -> None:
    plan = plan_of()
    with RunStore(plan.run_dir).open(plan.fingerprint) as store:
        api.execute(plan, model_for(plan, reply=" not clear from the question"), store)
    records = stored(plan.run_dir)
    assert (records["1"]["answer"], records["1"]["method"]) == ("13", "last-number")
    assert records["1"]["extra"]["second_stage"]["method"] == "none"
    assert (records["2"]["answer"], records["2"]["method"]) == (None, "none")


def test_a_rules_run_asks_nothing_again_and_names_no_extraction_mode(plan_of: PlanOf) -> None:
    plan = plan_of("rules")
    model = model_for(plan)
    with RunStore(plan.run_dir).open(plan.fingerprint) as store:
        assert api.execute(plan, model, store).requests == 3
    assert len(model.asked) == 1 and "extract" not in plan.fingerprint.sampling  # older runs' fingerprints still match
    assert stored(plan.run_dir)["1"]["method"] == "last-number"
    assert "response_cache" not in plan.engine


def test_the_fingerprint_names_two_stage_and_a_rules_run_does_not_resume_under_it(plan_of: PlanOf) -> None:
    rules = plan_of("rules")
    two_stage = plan_of()
    assert two_stage.fingerprint.sampling["extract"] == "two-stage" and two_stage.run_dir == rules.run_dir  # same --output
    with api.RunSession(rules, load=lambda _: model_for(rules)) as session:
        session.execute()
    with pytest.raises(OrcabenchError, match=r"other settings \(sampling\.extract: None -> 'two-stage'\)"):
        with api.RunSession(two_stage, load=lambda _: model_for(two_stage)):
            pass


def test_an_unknown_extraction_mode_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(OrcabenchError, match="--extract 'regex': choose rules or two-stage"):
        api.plan(api.RunConfig(sampling=api.Sampling(extract="regex")))
    assert main(["run", "--tasks", "gsm8k", "--extract", "regex", "--dry-run"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "error: --extract 'regex': choose rules or two-stage"
    assert api.RunConfig.from_dict({"sampling": {"extract": "two-stage"}}).sampling.extract == "two-stage"


def test_a_chat_endpoint_cannot_continue_the_models_answer_so_two_stage_is_refused_there() -> None:
    with pytest.raises(OrcabenchError, match="--extract two-stage continues the model's own answer"):
        api.plan(api.RunConfig(selection=api.Selection(model="gpt-4"), sampling=api.Sampling(extract="two-stage")))


def test_each_answer_format_gets_its_trigger_and_a_few_tokens() -> None:
    four = choice_example("q", {}, ["a", "b", "c", "d"], 0)
    two = choice_example("q", {}, ["yes", "no"], 0)
    assert trigger(four).text == "Therefore, among A through D, the answer is" and trigger(four).max_tokens <= 8
    assert trigger(two).text == "Therefore, between A and B, the answer is"
    label = make_example("q", {}, "Yes", "label", labels=("Yes", "No"))
    assert trigger(label).text == "Therefore, the answer (Yes or No) is"
    assert trigger(make_example("q", {}, "3", "number")).text == "Therefore, the answer (arabic numerals) is"
    assert trigger(make_example("q", {}, "x", "text")).text == "Therefore, the answer is"


def test_a_run_killed_in_the_second_stage_resumes_without_asking_any_answered_request_again(
        plan_of: PlanOf) -> None:
    plan = plan_of()
    assert plan.engine["response_cache"] is True  # two-stage keeps every answer as it comes (backends.cache)
    dying = model_for(plan, die_in_second_stage=True)
    with RunStore(plan.run_dir).open(plan.fingerprint) as store:
        with pytest.raises(RuntimeError, match="engine died"):
            api.execute(plan, CachedBackend(dying, plan.run_dir), store)
    assert sorted(stored(plan.run_dir)) == ["0", "1"]  # the explicit reading, and the one second reply that came
    resumed = model_for(plan)
    with RunStore(plan.run_dir).open(plan.fingerprint) as store:
        api.execute(plan, CachedBackend(resumed, plan.run_dir), store)
    assert [len(asked) for asked in resumed.asked] == [1]  # example 2's second stage only: its first answer was kept
    assert is_second_stage(resumed.asked[0][0])
    keys = [json.loads(line)["key"] for line in (plan.run_dir / RESPONSES).read_text().splitlines()]
    assert len(keys) == len(set(keys)) == 5  # every request answered exactly once across both sessions
    assert stored(plan.run_dir)["2"]["method"] == "two-stage:final-answer-phrase"


def test_rescore_reads_the_stored_second_stage_again_and_audit_shows_the_disagreement(
        plan_of: PlanOf, data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plan = plan_of()
    with api.RunSession(plan, load=lambda _: model_for(plan)) as session:
        assert len(session.execute().records) == 3
    session_record = json.loads((plan.run_dir / "manifest.json").read_text())["sessions"][-1]
    assert (session_record["requests"], session_record["output_tokens"]) == (5, 5 * 3)  # the replies' tokens count too
    before = stored(plan.run_dir)
    assert api.rescore(plan.run_dir, data_dir).changed == 0
    assert stored(plan.run_dir) == before

    (audit,) = audit_run(plan.run_dir)
    stages = audit.stages
    assert (stages.asked, stages.decided, stages.both_read, stages.disagree) == (2, 2, 1, 1)  # 13 (last number) vs 18
    assert audit.layers.get("second stage") == 2  # answers the second stage decided are a layer of their own
    assert main(["audit", str(plan.run_dir)]) == 0
    out = capsys.readouterr().out
    assert ("two-stage: 2 second-stage request(s), 2 answer(s) decided by the second stage; the stages disagree on 1 of 1 "
            "output(s) both read (100.0%)") in out
    assert "two-stage:final-answer-phrase" in out


def test_lm_eval_tasks_keep_lm_evals_own_reading_and_refuse_two_stage() -> None:
    pytest.importorskip("lm_eval")
    config = api.RunConfig(selection=api.Selection(tasks=["lm-eval:arc_easy"]), sampling=api.Sampling(extract="two-stage"))
    with pytest.raises(OrcabenchError, match="lm-eval: tasks are read by lm-eval's own filters, not --extract two-stage"):
        api.dry_run(config)


@pytest.mark.parametrize(("example", "reply", "reading"), [
    (choice_example("q", {}, ["a", "b", "c", "d"], 1), " (B).", ("B", "final-answer-phrase")),
    (make_example("q", {}, "No", "label", labels=("Yes", "No")), " No, because", ("No", "final-answer-phrase")),
    (make_example("q", {}, "12", "number"), " $12.", ("12", "final-answer-phrase")),
    (make_example("q", {}, "] )", "dyck"), " ] )", ("] )", "final-answer-phrase")),
    # Only an explicit statement counts: what a weak rule would read from the reply is no answer.
    (choice_example("q", {}, ["a", "b", "c", "d"], 1), " (A) or (B)", (None, "none")),
    (make_example("q", {}, "12", "number"), "\nQuestion: how many boxes? 12", (None, "none")),  # only last-number reads it
    (make_example("q", {}, "No", "label", labels=("Yes", "No")), "\n\nQuestion: is it Yes", (None, "none")),
])
def test_the_reply_is_read_as_a_stated_answer_by_the_explicit_rules_only(example: object, reply: str,
                                                                         reading: tuple[str | None, str]) -> None:
    from orcabench.answers.second_stage import ZeroShotCoT
    from orcabench.task import get_tasks

    (bbh,) = get_tasks(["bbh"])  # scores by each example's own answer format
    score = ZeroShotCoT().read(bbh, example, reply)  # type: ignore[arg-type]
    assert (score.answer, score.method) == reading
