"""Prompt variants and CircularEval: one task asked several ways in one run, and what reports make of it.

A scripted backend stands in for the model (its answer may depend on the prompt, so wording and
option order can matter); the data, tasks, templates, readers and store are the real ones. The
same runs on the real bundled model are in tests/test_variants_real.py.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import orcabench

from orcabench import api
from orcabench.answers.formats import choice_example, rotated
from orcabench.backends.base import BackendInfo
from orcabench.report.publish import write_report
from orcabench.report.results import run_results
from orcabench.report.robustness import ranking_stability
from orcabench.store.reader import load_run
from orcabench.store.writer import read_records
from orcabench.task import TASKS
from orcabench.task.robustness import circular_accuracy, position_bias, variance_split
from orcabench.task.variants import prompt_variants
from orcabench.types import Completion, Record, Request

PARAPHRASED = ("gsm8k", "bbh-mc", "mmlu", "arc-easy", "arc-challenge", "agieval-mc")
ROOT = Path(__file__).parent.parent


class PromptBackend:
    """Answers each request with ``reply(prompt)``; ``fail_after`` raises after that many answers (a crashed engine)."""

    name = "scripted"

    def __init__(self, reply: Callable[[str], str], fail_after: int | None = None) -> None:
        self.reply, self.fail_after, self.asked = reply, fail_after, 0

    def answer(self, requests: Sequence[Request]) -> Iterator[list[tuple[int, Completion]]]:
        for index, request in enumerate(requests):
            if self.fail_after is not None and self.asked == self.fail_after:
                raise RuntimeError("engine died")
            self.asked += 1
            yield [(index, Completion(text=self.reply(request.prompt), prompt_tokens=5, output_tokens=3,
                                      finish_reason="stop"))]

    def info(self) -> BackendInfo:
        return BackendInfo(self.name)

    def close(self) -> None:
        pass


def always(letter: str) -> Callable[[str], str]:
    return lambda prompt: f"The answer is ({letter})."


def wording_matters(prompt: str) -> str:
    """Right-looking on the default ARC wording's first option, another letter under each paraphrase."""
    if "Question:" in prompt:
        return "The answer is (B)."
    if "Which of the following options" in prompt:
        return "The answer is (C)."
    return "The answer is (A). The answer is 18."


@pytest.fixture
def plain_model(tmp_path: Path) -> Path:
    folder = tmp_path / "weights"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    path = tmp_path / "scripted.yaml"
    path.write_text(f"name: scripted\nsource: {folder}\nprompt_format: plain\n")
    return path


def config(model: Path, out: Path, data_dir: Path, tasks: Sequence[str] = ("arc-easy", "gsm8k"), limit: int = 4,
           **selection: object) -> api.RunConfig:
    return api.RunConfig(selection=api.Selection(model=str(model), tasks=tasks, limit=limit, data_dir=data_dir,
                                                 **selection),  # type: ignore[arg-type]
                         engine=api.EngineSettings(backend="hf"), operations=api.Operations(output=out))


def run(cfg: api.RunConfig, backend: PromptBackend) -> api.Plan:
    with api.RunSession(api.plan(cfg), load=lambda _: backend) as session:
        session.execute()
    return session.plan


def stored(run_dir: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in (run_dir / "records.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("name", PARAPHRASED)
def test_each_reasoning_task_declares_three_paraphrases_beside_its_default_that_keep_its_answer_format(
        name: str, data_dir: Path) -> None:
    task = TASKS[name]
    templates = prompt_variants(task)
    assert templates[0] == "zeroshot.j2" and len(templates) >= 4
    assert all((ROOT / "tasks" / name.split("-")[0] / t).is_file() for t in templates)
    example = api.plan(api.RunConfig(selection=api.Selection(tasks=[name], limit=1, data_dir=data_dir))).examples[name][0]
    default = task.render(example)[0].content
    for template in templates[1:]:
        text = task.render(example, template)[0].content
        assert text != default
        for value in example.fields.values():  # the question and its options, as the default gives them
            if isinstance(value, str) and value.strip() and value in default:
                assert value in text, (template, value)
        # the answer-format instruction the readers rely on stays
        for cue in ("Among A through", "Answer:", "the answer is"):
            if cue in default:
                assert cue in text, (template, cue)


def test_prompt_variants_all_asks_every_template_with_the_same_ids_and_records_the_variant_apart(
        plain_model: Path, tmp_path: Path, data_dir: Path) -> None:
    plan = run(config(plain_model, tmp_path / "run", data_dir, prompt_variants="all"), PromptBackend(wording_matters))
    names = ["zeroshot", "zeroshot-p1", "zeroshot-p2", "zeroshot-p3"]
    assert [t.name for t in plan.tasks] == [f"{task}@{v}" for task in ("arc-easy", "gsm8k") for v in names]
    records = stored(plan.run_dir)
    assert len(records) == 2 * 4 * 4
    for task in ("arc-easy", "gsm8k"):
        ids = {v: [r["id"] for r in records if r["task"] == task and r["variant"] == v] for v in names}
        assert all(sorted(found) == ["0", "1", "2", "3"] for found in ids.values())  # paired: the same ids
    prompts = {r["variant"]: r["prompt"] for r in records if r["task"] == "arc-easy" and r["id"] == "0"}
    assert prompts["zeroshot-p2"].startswith("Question: ") and len(set(prompts.values())) == 4


def test_prompt_variants_n_asks_the_default_and_the_first_paraphrases(plain_model: Path, tmp_path: Path,
                                                                        data_dir: Path) -> None:
    plan = api.plan(config(plain_model, tmp_path / "run", data_dir, tasks=("gsm8k",), prompt_variants="2"))
    assert [t.name for t in plan.tasks] == ["gsm8k@zeroshot", "gsm8k@zeroshot-p1"]
    assert plan.fingerprint.tasks["gsm8k"]["variants"] == ["zeroshot", "zeroshot-p1"]


def test_an_ordinary_run_writes_records_and_a_fingerprint_as_before(plain_model: Path, tmp_path: Path,
                                                                     data_dir: Path) -> None:
    plan = run(config(plain_model, tmp_path / "run", data_dir, tasks=("gsm8k",), limit=2), PromptBackend(always("A")))
    assert all("variant" not in record for record in stored(plan.run_dir))
    assert set(plan.fingerprint.tasks["gsm8k"]) == {"version", "templates", "data"}
    assert list(plan.fingerprint.tasks["gsm8k"]["templates"]) == ["zeroshot.j2"]
    ordinary = Record(task="t", id="1", subtask=None, prompt="p", prompt_sha256="s", output="o", answer=None,
                      method="none", gold="g", score=0.0, prompt_tokens=1, output_tokens=1, finish_reason="stop")
    assert "variant" not in ordinary.to_json() and ordinary.key == ("t", "1")
    assert Record.from_json({**ordinary.to_json(), "variant": "zeroshot-p1"}).key == ("t@zeroshot-p1", "1")


def test_the_fingerprint_names_each_template_by_the_hash_of_its_text(plain_model: Path, tmp_path: Path,
                                                                      data_dir: Path) -> None:
    import hashlib

    plan = api.plan(config(plain_model, tmp_path / "run", data_dir, tasks=("arc-easy",), prompt_variants="all"))
    templates = plan.fingerprint.tasks["arc-easy"]["templates"]
    assert list(templates) == ["zeroshot.j2", "zeroshot-p1.j2", "zeroshot-p2.j2", "zeroshot-p3.j2"]
    for name, digest in templates.items():
        assert digest == hashlib.sha256((ROOT / "tasks" / "arc" / name).read_bytes()).hexdigest()
    ordinary = api.plan(config(plain_model, tmp_path / "run2", data_dir, tasks=("arc-easy",)))
    assert ordinary.run_dir.name != plan.run_dir.name  # another run: its own directory


def test_a_variant_run_killed_midway_resumes_each_variant_and_id_exactly_once(plain_model: Path, tmp_path: Path,
                                                                                data_dir: Path) -> None:
    cfg = config(plain_model, tmp_path / "run", data_dir, prompt_variants="all")
    with pytest.raises(RuntimeError):
        run(cfg, PromptBackend(wording_matters, fail_after=11))
    assert len(stored(tmp_path / "run")) == 11
    resumed = PromptBackend(wording_matters)
    run(cfg, resumed)
    assert resumed.asked == 32 - 11
    keys = [(r["task"], r["variant"], r["id"]) for r in stored(tmp_path / "run")]
    assert len(keys) == len(set(keys)) == 32
    uninterrupted = tmp_path / "whole"
    run(config(plain_model, uninterrupted, data_dir, prompt_variants="all"), PromptBackend(wording_matters))
    assert read_records(tmp_path / "run" / "records.jsonl")[0].keys() == read_records(uninterrupted / "records.jsonl")[0].keys()


@pytest.mark.parametrize(("flags", "says"), [
    (["--prompt-variants", "0"], "--prompt-variants takes 'all' or a positive number"),
    (["--prompt-variants", "7"], "task arc-easy has 4 prompt variants"),
    (["--prompt-variants", "all", "--tasks", "drop"], "task drop declares no prompt variants"),
    (["--circular", "--tasks", "gsm8k"], "gsm8k has none to rotate"),
    (["--circular", "--prompt-variants", "2"], "run them as two runs"),
])
def test_bad_variant_flags_are_one_line_and_exit_2(flags: list[str], says: str, data_dir: Path) -> None:
    result = orcabench("run", "--dry-run", "--tasks", "arc-easy", "--limit", "2", *flags)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and says in result.stderr, result.stderr


def test_a_rotation_shifts_the_options_and_moves_the_gold_letter_with_its_text() -> None:
    example = choice_example("q", {"question": "2+2?"}, ["3", "4", "5", "6"], "B")
    once = rotated(example, 1)
    assert once.choices == ("4", "5", "6", "3") and once.gold == "A"
    assert once.fields["options_text"] == "(A) 4\n(B) 5\n(C) 6\n(D) 3"
    assert rotated(example, 3).gold == "C" and rotated(example, 0) == example
    assert all(r.choices[ord(r.gold) - ord("A")] == "4" for r in (rotated(example, k) for k in range(4)))


def test_circular_runs_each_question_once_per_rotation_and_reports_plain_circular_and_position_bias(
        plain_model: Path, tmp_path: Path, data_dir: Path) -> None:
    plan = run(config(plain_model, tmp_path / "run", data_dir, tasks=("arc-easy",), circular=True),
               PromptBackend(always("A")))
    records = stored(plan.run_dir)
    golds = {(r["variant"], r["id"]): r["gold"] for r in records}
    assert len(records) == sum(len(e.choices) for e in plan.examples["arc-easy@r0"])
    assert all(r["answer"] == "A" for r in records)
    report, _ = write_report([plan.run_dir], tmp_path / "report", ("md", "csv"), reference=False)
    row = report.variants.iloc[0]
    assert row["kind"] == "rotation"
    assert row["plain"] == np.mean([golds[("r0", i)] == "A" for i in ("0", "1", "2", "3")])
    # Always "A" is right under exactly one rotation of each question: never under all of them.
    assert row["circular"] == 0.0 and row["position_bias"] == {"A": 1.0}
    assert "circular" in (tmp_path / "report" / "report.md").read_text()
    assert (tmp_path / "report" / "variants.csv").is_file()


def test_circular_accuracy_is_opencompass_perf_circular_and_bias_counts_only_wrong_letters() -> None:
    assert circular_accuracy({"1": [True, True, True], "2": [True, False, True], "3": [True, True]}) == 2 / 3

    def record(answer: str | None, score: float) -> Record:
        return Record(task="t", id="1", subtask=None, prompt="", prompt_sha256="", output="", answer=answer,
                      method="m", gold="A", score=score, prompt_tokens=0, output_tokens=0, finish_reason=None)

    picks = [record("B", 0.0), record("B", 0.0), record("C", 0.0), record("A", 1.0), record(None, 0.0)]
    assert position_bias(picks) == {"B": 2 / 3, "C": 1 / 3}


def test_the_variance_split_is_the_two_way_anova_variance_components_by_hand() -> None:
    matrix = np.array([[1, 1, 1], [1, 0, 1], [0, 0, 1], [0, 0, 0]], dtype=float)  # 4 questions × 3 variants
    n, k, grand = 4, 3, 6 / 12
    ss_q = k * sum((m - grand) ** 2 for m in (1, 2 / 3, 1 / 3, 0))
    ss_v = n * sum((m - grand) ** 2 for m in (2 / 4, 1 / 4, 3 / 4))
    ss_res = 12 * grand * (1 - grand) - ss_q - ss_v
    ms_res = ss_res / ((n - 1) * (k - 1))
    split = variance_split(matrix)
    assert split.between_question == pytest.approx((ss_q / (n - 1) - ms_res) / k)
    assert split.between_variant == pytest.approx(max((ss_v / (k - 1) - ms_res) / n, 0.0))
    assert split.residual == pytest.approx(ms_res)
    same = variance_split(np.array([[1, 1], [0, 0], [1, 1]], dtype=float))
    assert same.between_variant == 0 and same.residual == 0 and same.between_question > 0
    by_variant = variance_split(np.array([[1, 0], [1, 0], [1, 0]], dtype=float))
    assert by_variant.between_question == 0 and by_variant.between_variant == pytest.approx(0.5)


def test_a_report_gives_each_model_and_task_its_mean_spread_and_split_across_variants(
        plain_model: Path, tmp_path: Path, data_dir: Path) -> None:
    plan = run(config(plain_model, tmp_path / "run", data_dir, prompt_variants="all"), PromptBackend(wording_matters))
    report, written = write_report([plan.run_dir], tmp_path / "report", ("md", "csv", "html"), reference=False)
    records = [r for r in stored(plan.run_dir) if r["task"] == "arc-easy"]
    per_variant = {v: np.mean([r["score"] for r in records if r["variant"] == v])
                   for v in ("zeroshot", "zeroshot-p1", "zeroshot-p2", "zeroshot-p3")}
    row = report.variants.set_index("task").loc["arc-easy"]
    assert row["per_variant"] == pytest.approx(per_variant)
    assert row["mean"] == pytest.approx(np.mean(list(per_variant.values())))
    assert (row["min"], row["max"]) == (min(per_variant.values()), max(per_variant.values()))
    assert row["sd"] == pytest.approx(np.std(list(per_variant.values()), ddof=1))
    matrix = np.array([[next(r["score"] for r in records if r["variant"] == v and r["id"] == i) for v in per_variant]
                       for i in ("0", "1", "2", "3")])
    assert row["between_variant"] == pytest.approx(variance_split(matrix).between_variant)
    # The leaderboard cell is the default wording's, as in a run without variants.
    cell = report.results.tasks.set_index("task").loc["arc-easy"]
    assert cell["accuracy"] == per_variant["zeroshot"] and cell["n"] == 4
    markdown = (tmp_path / "report" / "report.md").read_text()
    assert "## Robustness to the prompt's wording" in markdown and "between-variant" in markdown
    assert tmp_path / "report" / "variants.csv" in written
    page = (tmp_path / "report" / "site" / "task-arc-easy.html").read_text()
    assert 'id="variants"' in page and "between-variant" in page
    listed = api.list_runs(plan.run_dir)[0]
    assert listed.status == "finished" and listed.tasks["arc-easy"].done == 16 == listed.tasks["arc-easy"].planned


def test_ranking_stability_gives_kendalls_tau_between_variant_rankings_and_the_pairs_that_swap() -> None:
    table = pd.DataFrame([
        {"entry": "big", "task": "arc", "kind": "prompt", "per_variant": {"a": 0.9, "b": 0.8, "c": 0.9}},
        {"entry": "mid", "task": "arc", "kind": "prompt", "per_variant": {"a": 0.6, "b": 0.85, "c": 0.6}},
        {"entry": "small", "task": "arc", "kind": "prompt", "per_variant": {"a": 0.3, "b": 0.2, "c": 0.3}},
        {"entry": "big", "task": "gsm8k", "kind": "prompt", "per_variant": {"a": 0.5, "b": 0.4}},
        {"entry": "small", "task": "gsm8k", "kind": "prompt", "per_variant": {"a": 0.1, "b": 0.2}},
    ])
    stability = ranking_stability(table).set_index("task")
    assert stability.loc["arc", "swaps"] == [("big", "mid")] and not stability.loc["arc", "stable"]
    assert stability.loc["arc", "kendall_tau_min"] == pytest.approx(1 / 3)  # a vs b: one of three pairs discordant
    assert stability.loc["gsm8k", "stable"] and stability.loc["gsm8k", "kendall_tau_min"] == 1.0


def test_two_models_variant_runs_report_whether_their_order_survives(plain_model: Path, tmp_path: Path,
                                                                       data_dir: Path) -> None:
    first = run(config(plain_model, tmp_path / "first", data_dir, tasks=("arc-easy",), prompt_variants="all"),
                PromptBackend(wording_matters))
    second = run(config(plain_model, tmp_path / "second", data_dir, tasks=("arc-easy",), prompt_variants="all"),
                 PromptBackend(always("B")))
    report, _ = write_report([first.run_dir, second.run_dir], tmp_path / "report", ("md", "html"), reference=False,
                             labels={first.run_dir: "wording", second.run_dir: "always-b"})
    assert len(report.ranking) == 1 and report.ranking.iloc[0]["models"] == 2
    assert "## Ranking stability across variants" in (tmp_path / "report" / "report.md").read_text()
    assert 'id="ranking"' in (tmp_path / "report" / "site" / "task-arc-easy.html").read_text()


def test_an_earlier_runs_records_read_as_without_variants() -> None:
    run_dir = ROOT / "tests" / "fixtures" / "run-v1-gsm8k"
    stored_run = load_run(run_dir)
    assert stored_run.variants("gsm8k") == []
    assert stored_run.task_records("gsm8k") == [r for r in stored_run.records.values() if r.task == "gsm8k"]


def test_rescoring_a_circular_run_reads_every_rotation_against_its_own_option_order(plain_model: Path, tmp_path: Path,
                                                                                     data_dir: Path) -> None:
    plan = run(config(plain_model, tmp_path / "run", data_dir, tasks=("arc-easy",), circular=True),
               PromptBackend(always("A")))
    before = {(r["variant"], r["id"]): (r["gold"], r["score"]) for r in stored(plan.run_dir)}
    result = api.rescore(plan.run_dir)
    assert result.changed == 0
    assert {(r["variant"], r["id"]): (r["gold"], r["score"]) for r in stored(plan.run_dir)} == before
    assert result.summaries[0].n == 4  # the headline: the data's own order, r0


def test_compare_pairs_two_variant_runs_on_their_first_variant_as_the_leaderboard_does(plain_model: Path, tmp_path: Path,
                                                                                        data_dir: Path) -> None:
    first = run(config(plain_model, tmp_path / "a", data_dir, tasks=("arc-easy",), prompt_variants="all"),
                PromptBackend(wording_matters))
    second = run(config(plain_model, tmp_path / "b", data_dir, tasks=("arc-easy",), prompt_variants="all"),
                 PromptBackend(always("B")))
    compared = api.compare(first.run_dir, second.run_dir, allow_mismatch=True)
    (task,) = compared.tasks
    default = {r["id"]: r["score"] for r in stored(first.run_dir) if r["variant"] == "zeroshot"}
    assert task.task == "arc-easy" and task.stats.n == 4 and task.stats.baseline == np.mean(list(default.values()))


def test_the_run_summary_adds_one_line_per_task_with_the_spread_of_its_variants() -> None:
    from orcabench.cli.app import variant_lines
    from orcabench.task.summary import TaskSummary

    def summary(name: str, accuracy: float) -> TaskSummary:
        return TaskSummary(task=name, n=4, accuracy=accuracy, ci_low=0.0, ci_high=1.0, unparsed=0)

    (line,) = variant_lines([summary("gsm8k", 0.5), summary("arc-easy@r0", 0.25), summary("arc-easy@r1", 0.75)])
    assert line.startswith("arc-easy: 2 variants · mean 50.00 · min–max 25.00–75.00 · sd 35.36")
    assert variant_lines([summary("gsm8k", 0.5)]) == []


def test_a_variant_runs_results_json_counts_each_task_as_its_leaderboard_does_the_first_variant(
        plain_model: Path, tmp_path: Path, data_dir: Path) -> None:
    plan = run(config(plain_model, tmp_path / "run", data_dir, tasks=("arc-easy",), prompt_variants="all"),
               PromptBackend(wording_matters))
    results = json.loads((plan.run_dir / "results.json").read_text())
    first = [r for r in stored(plan.run_dir) if r["variant"] == "zeroshot"]
    arc = results["tasks"]["arc-easy"]
    assert arc["n"] == len(first) == 4  # not the 16 records of all four wordings
    assert arc["micro_accuracy"] == pytest.approx(sum(float(r["score"]) for r in first) / 4)
    notes: list[str] = []
    read = run_results(load_run(plan.run_dir), notes)
    assert read.written == results["written"] and notes == []  # current, so the report reads the file, not a rebuild


def as_written(row: pd.Series) -> dict[str, object]:
    """A report's variants row as results.json writes it: NaN as null, the rotation numbers only for rotations."""
    def number(value: float) -> float | None:
        return None if np.isnan(value) else float(value)

    rotation = row["kind"] == "rotation"
    return {"kind": row["kind"], "mean": number(row["mean"]), "min": number(row["min"]), "max": number(row["max"]),
            "sd": number(row["sd"]), "questions": row["questions"],
            "between_question": number(row["between_question"]), "between_variant": number(row["between_variant"]),
            "residual": number(row["residual"]), "plain": number(row["plain"]) if rotation else None,
            "circular": number(row["circular"]) if rotation else None,
            "position_bias": row["position_bias"] if rotation else None}


@pytest.mark.parametrize("tasks, selection", [(("arc-easy", "gsm8k"), {"prompt_variants": "all"}),
                                              (("arc-easy",), {"circular": True})])
def test_a_variant_runs_results_json_holds_each_tasks_numbers_across_variants_as_the_report_computes_them(
        tasks: tuple[str, ...], selection: dict[str, object], plain_model: Path, tmp_path: Path, data_dir: Path) -> None:
    plan = run(config(plain_model, tmp_path / "run", data_dir, tasks=tasks, **selection), PromptBackend(wording_matters))
    written = json.loads((plan.run_dir / "results.json").read_text())["variants"]
    report, _ = write_report([plan.run_dir], tmp_path / "report", ("csv",), reference=False)
    table = report.variants.set_index("task")
    assert set(written) == set(table.index) == set(tasks)
    records = stored(plan.run_dir)
    for task, numbers in written.items():
        row = table.loc[task]
        assert {key: value for key, value in numbers.items() if key != "per_variant"} == as_written(row)
        assert {v: part["accuracy"] for v, part in numbers["per_variant"].items()} == row["per_variant"]
        assert list(numbers["per_variant"]) == load_run(plan.run_dir).variants(task)  # the run's order, first counted
        assert {v: part["n"] for v, part in numbers["per_variant"].items()} == {
            v: sum(r["task"] == task and r["variant"] == v for r in records) for v in numbers["per_variant"]}
    if "circular" in selection:
        arc = written["arc-easy"]
        assert arc["kind"] == "rotation" and arc["plain"] == arc["per_variant"]["r0"]["accuracy"]
        assert arc["circular"] is not None and arc["position_bias"]
    else:
        assert written["gsm8k"]["kind"] == "prompt" and written["gsm8k"]["circular"] is None
