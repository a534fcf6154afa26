"""`orcabench report`: results as DataFrames, the paper-style tables, charts and the static site.

The loader's rules run on synthetic run directories; the report itself runs on real runs
of both bundled models on both backends (the session's engines, shared), and the site is
driven in headless Chromium.
"""

from __future__ import annotations

import itertools
import json
import math
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import html5lib
import pandas as pd
import pytest
from conftest import ENGINE
import matplotlib.text
from matplotlib.container import BarContainer
from matplotlib.figure import Figure
from store_samples import make_run

from orcabench import api
from orcabench.engine import session as run_session
from orcabench.report import charts, site
from orcabench.report.audit import audit_run
from orcabench.answers.text import EXPLICIT_RULES, WEAK_RULES
from orcabench.cli.run import main
from orcabench.report.tables import Report, deltas, leaderboard, resolve_baseline
from orcabench.report.results import builtin_results_dir, load_reference, load_results
from orcabench.types import OrcabenchError

BASELINE = "smollm2-135m · hf"


# --- the loader on synthetic runs ---------------------------------------------------------


def test_a_folder_of_runs_keeps_the_latest_run_per_model_and_task(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    make_run(runs / "old", {"gsm8k": [0, 0, 0, 0], "arc-easy": [1, 1]}, finished="2026-01-01T00:00:00+00:00")
    make_run(runs / "new", {"gsm8k": [1, 1, 1, 0]}, finished="2026-02-01T00:00:00+00:00")
    make_run(runs / "other-model", {"gsm8k": [1, 0]}, model__name="gemma3-270m", finished="2025-01-01T00:00:00+00:00")

    results = load_results([runs], reference=False)

    rows = results.tasks.set_index(["entry", "task"])
    assert rows.loc[("smollm2-135m · hf", "gsm8k"), "accuracy"] == 0.75  # the newer run
    assert rows.loc[("smollm2-135m · hf", "gsm8k"), "run_id"] == "new"
    assert rows.loc[("smollm2-135m · hf", "arc-easy"), "run_id"] == "old"  # only the old run has it
    assert rows.loc[("gemma3-270m · hf", "gsm8k"), "accuracy"] == 0.5
    assert set(results.tasks["source"]) == {"run"}
    assert results.tasks.loc[results.tasks["task"] == "gsm8k", "n"].tolist() == [4, 2]


def test_a_named_run_wins_over_a_newer_found_one_and_two_named_runs_are_both_shown(tmp_path: Path) -> None:
    named = make_run(tmp_path / "pinned", {"gsm8k": [0, 0]}, finished="2026-01-01T00:00:00+00:00")
    make_run(tmp_path / "runs" / "newer", {"gsm8k": [1, 1]}, finished="2026-03-01T00:00:00+00:00")
    assert load_results([named, tmp_path / "runs"], reference=False).tasks["accuracy"].tolist() == [0.0]

    second = make_run(tmp_path / "second", {"gsm8k": [1, 0]}, finished="2026-02-01T00:00:00+00:00")
    both = load_results([named, second], reference=False)
    assert both.entries == ["smollm2-135m · hf [pinned]", "smollm2-135m · hf [second]"]


def test_a_run_reached_twice_is_loaded_once(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    run = make_run(runs / "team" / "only", {"gsm8k": [1, 0]}, finished="2026-01-01T00:00:00+00:00")

    overlapping = load_results([runs, runs / "team", run, run], reference=False)

    assert overlapping.tasks["run_id"].tolist() == ["only"]
    assert overlapping.entries == ["smollm2-135m · hf"]


def test_tasks_with_subtasks_report_the_macro_average_and_keep_per_subtask_rows(tmp_path: Path) -> None:
    run = make_run(tmp_path / "run", {"bbh-mc": [1, 1, 1, 0]}, subtasks={"bbh-mc": ["a", "a", "a", "b"]})

    results = load_results([run], reference=False)

    task = results.tasks.iloc[0]
    assert (task["accuracy"], task["micro_accuracy"], task["subtasks"]) == (0.5, 0.75, 2)
    assert results.subtasks.set_index("subtask")["accuracy"].to_dict() == {"a": 1.0, "b": 0.0}
    assert results.subtasks.set_index("subtask")["n"].to_dict() == {"a": 3, "b": 1}
    samples = results.samples()
    assert len(samples) == 4 and set(samples["run_id"]) == {"run"}


def test_the_markdown_report_bolds_the_best_model_per_subtask_and_lists_the_samples_behind_each_cell(tmp_path: Path) -> None:
    make_run(tmp_path / "runs" / "small", {"bbh-mc": [1, 1, 0, 0], "gsm8k": [1, 0, 0]}, subtasks={"bbh-mc": ["a", "a", "b", "b"]})
    make_run(tmp_path / "runs" / "big", {"bbh-mc": [0, 0, 1, 1]}, subtasks={"bbh-mc": ["a", "a", "b", "b"]},
             model__name="gemma3-270m")
    results = load_results([tmp_path / "runs"], reference=False)

    markdown = Report(results, baseline=None, charts={}).markdown()

    subtasks = markdown.split("## bbh-mc by subtask (best per subtask in bold)\n\n")[1]
    assert results.entries == ["gemma3-270m · hf", "smollm2-135m · hf"]  # the runs' folder order
    assert subtasks.splitlines()[2:4] == ["| a | 0.00 | **100.00** |", "| b | **100.00** | 0.00 |"]
    samples = markdown.split("## Samples behind each run cell\n\n")[1].split("\n\n")[0]
    assert samples.splitlines()[2:] == ["| gemma3-270m · hf | 4 | – |", "| smollm2-135m · hf | 4 | 3 |"]


def test_a_pipe_or_line_break_in_a_model_name_cannot_break_a_markdown_table(tmp_path: Path) -> None:
    make_run(tmp_path / "runs" / "odd", {"gsm8k": [1, 0]}, model__name="a|b\nc")
    make_run(tmp_path / "runs" / "plain", {"gsm8k": [1, 1]})
    markdown = Report(load_results([tmp_path / "runs"], reference=False), baseline=None, charts={}).markdown()

    for table in [block for block in markdown.split("\n\n") if block.startswith("| ")]:
        rows = table.splitlines()
        widths = {len(re.findall(r"(?<!\\)\|", row)) for row in rows}
        assert len(widths) == 1, table  # every row has as many cells as the header
    assert "| a\\|b c · hf |" in markdown


def test_the_paper_reference_is_a_cited_source_marked_reference_never_a_run(tmp_path: Path) -> None:
    paper = load_reference(builtin_results_dir() / "orca2-paper.yaml")
    assert "arXiv:2311.11045" in paper.citation and "crass" in paper.notes
    rows = paper.rows
    by = {(r["entry"], r["task"]): r for r in rows}
    assert by[("Orca-2-13B (paper)", "gsm8k")]["accuracy"] == pytest.approx(0.5914)
    assert by[("Orca-2-13B (paper)", "mmlu")]["verified"] and not by[("Orca-2-13B (paper)", "arc-easy")]["verified"]
    assert {r["source"] for r in rows} == {"reference"} and {r["run_id"] for r in rows} == {None}

    run = make_run(tmp_path / "run", {"gsm8k": [1, 0]})
    results = load_results([run])  # the built-in reference joins for the tasks the runs hold
    assert set(results.task_names) == {"gsm8k"}
    assert "Orca-2-13B (paper)" in results.entries and list(results.runs) == ["run"]
    assert results.samples()["entry"].unique().tolist() == ["smollm2-135m · hf"]
    everything = load_results([run, builtin_results_dir() / "orca2-paper.yaml"])  # named: all of its tasks
    assert {"drop", "race", "hellaswag", "gsm8k"} <= set(everything.task_names)


def test_the_paper_reasoning_average_appears_only_with_all_six_benchmarks() -> None:
    results = load_results([builtin_results_dir() / "orca2-paper.yaml"])
    table = leaderboard(results)
    assert table.loc["Orca-2-13B (paper)", "reasoning avg"] == pytest.approx(64.495, abs=0.01)  # the paper prints 64.49
    assert table.loc["Orca-2-7B (paper)", "reasoning avg"] == pytest.approx(60.60, abs=0.01)


def test_deltas_are_taken_against_the_baseline_entry_or_its_model_name(tmp_path: Path) -> None:
    make_run(tmp_path / "runs" / "a", {"gsm8k": [1, 1, 0, 0]})
    make_run(tmp_path / "runs" / "b", {"gsm8k": [1, 1, 1, 0]}, model__name="gemma3-270m")
    results = load_results([tmp_path / "runs"], reference=False)
    assert resolve_baseline(results, "smollm2-135m") == "smollm2-135m · hf"
    assert deltas(results, "smollm2-135m · hf").loc["gemma3-270m · hf", "gsm8k"] == pytest.approx(25.0)
    with pytest.raises(OrcabenchError, match="use one of: smollm2-135m · hf, gemma3-270m · hf"):
        resolve_baseline(results, "llama")


def test_a_model_on_two_backends_is_named_as_its_entry_typed_with_a_slash(tmp_path: Path) -> None:
    make_run(tmp_path / "runs" / "hf", {"gsm8k": [1, 0]})
    make_run(tmp_path / "runs" / "vllm", {"gsm8k": [1, 1]}, backend="vllm")
    results = load_results([tmp_path / "runs"], reference=False)
    with pytest.raises(OrcabenchError, match=r"it names 2 entries \(smollm2-135m · hf, smollm2-135m · vllm\)"):
        resolve_baseline(results, "smollm2-135m")
    assert (resolve_baseline(results, "smollm2-135m/vllm") == resolve_baseline(results, "smollm2-135m · vllm")
            == "smollm2-135m · vllm")


@pytest.mark.parametrize(("args", "message"), [
    (["report", "{tmp}/missing"], "does not exist"),
    (["report", "{tmp}/empty"], "holds no orcabench runs"),
    (["report", "{tmp}/not-a-reference.yaml"], "is not an orcabench reference file"),
    (["report", "{tmp}/runs", "--format", "pdf"], "--format pdf: choose among md, csv, latex, html"),
    (["report", "{tmp}/runs", "--baseline", "gpt-5"], "--baseline 'gpt-5'"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                          args: list[str], message: str) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "not-a-reference.yaml").write_text("models: []\n")
    make_run(tmp_path / "runs" / "a", {"gsm8k": [1, 0]})
    assert main([a.format(tmp=tmp_path) for a in args] + ["--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1 and "Traceback" not in err


def test_the_sample_browser_pages_large_runs_instead_of_inlining_them(tmp_path: Path) -> None:
    # All of MMLU for eight models: 14,042 samples each.
    n = 14_042
    subjects = [f"subject{i % 57}" for i in range(n)]
    for k in range(8):
        make_run(tmp_path / "runs" / f"m{k}", {"mmlu": [float((i * (k + 3)) % 4 == 0) for i in range(n)]},
                 subtasks={"mmlu": subjects}, model__name=f"model-{k}")
    results = load_results([tmp_path / "runs"], reference=False)
    assert site._sample_data(results, "mmlu", tmp_path / "site") == n

    folder = tmp_path / "site" / "data" / "mmlu"
    chunks = sorted(folder.glob("[0-9]*.js"))
    assert len(chunks) == math.ceil(n / site.CHUNK_SIZE)
    assert max(p.stat().st_size for p in chunks) < 200_000
    index = json.loads((folder / "index.js").read_text().split("=", 2)[2].rstrip(";\n"))
    assert len(index["samples"]) == n and len(index["entries"]) == 8
    assert (folder / "index.js").stat().st_size < 2_000_000  # ids, subtasks and right/wrong marks only


# --- real runs of both bundled models, both backends --------------------------------------


class SharedBackend:
    """The session's engine, lent to `api.run`: its close() must not stop the shared engine."""

    def __init__(self, backend: Any) -> None:
        self._backend = backend

    def __getattr__(self, name: str) -> Any:
        return getattr(self._backend, name)

    def close(self) -> None:
        pass


@pytest.fixture(scope="module")
def real_runs(tmp_path_factory: pytest.TempPathFactory, data_dir: Path, smollm2_dir: Path, hf_backend: Any,
              vllm_backend: Any) -> Iterator[Path]:
    """A folder of real runs: smollm2-135m on vLLM and transformers, gemma3-270m on transformers;
    per model and backend one generative run (gsm8k, arc-easy) and one loglikelihood run
    (mmlu-ll, one question per subject), all on the session's engines."""
    from orcabench.backends.hf import HFBackend
    from orcabench.models.bundled import converted_model_dir

    gemma_dir = converted_model_dir("gemma3-270m")
    gemma = HFBackend(str(gemma_dir), ENGINE, seed=0, batch_size=16)
    engines = {(str(smollm2_dir), "vllm"): vllm_backend, (str(smollm2_dir), "hf"): hf_backend, (str(gemma_dir), "hf"): gemma}
    root = tmp_path_factory.mktemp("report") / "runs"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(run_session, "load_backend", lambda name, path, *args, **kwargs: SharedBackend(engines[(path, name)]))
        for model, backend in (("smollm2-135m", "vllm"), ("smollm2-135m", "hf"), ("gemma3-270m", "hf")):
            api.run(api.RunConfig(selection=api.Selection(model=model, tasks=("gsm8k", "arc-easy"), limit=6, data_dir=data_dir),
                                  sampling=api.Sampling(max_tokens=48),
                                  engine=api.EngineSettings(backend=backend),
                                  operations=api.Operations(output=root / f"{model}-{backend}-generate")))
            api.run(api.RunConfig(selection=api.Selection(model=model, tasks=("mmlu-ll",), limit_per_subtask=1,
                                                          data_dir=data_dir),
                                  engine=api.EngineSettings(backend=backend),
                                  operations=api.Operations(output=root / f"{model}-{backend}-mmlu")))
    gemma.close()
    yield root


@pytest.fixture(scope="module")
def report_dir(real_runs: Path) -> Path:
    out = real_runs.parent / "report"
    code = main(["report", str(real_runs), "--baseline", BASELINE, "--format", "md,csv,latex,html", "--out", str(out)])
    assert code == 0
    return out


@pytest.mark.slow
@pytest.mark.vllm
def test_audit_shows_how_real_runs_of_both_bundled_models_were_read(real_runs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("smollm2-135m-vllm-generate", "gemma3-270m-hf-generate"):
        records = _records(real_runs / name)
        audits = audit_run(real_runs / name)
        assert [a.task for a in audits] == ["arc-easy", "gsm8k"]
        for audit in audits:
            mine = [r for r in records if r["task"] == audit.task]
            methods = [r["method"] for r in mine]
            assert audit.rules == {m: methods.count(m) for m in set(methods)} and audit.n == len(mine) == 6
            assert audit.found == sum(m != "none" for m in methods)
            assert audit.strict_found == sum(m in EXPLICIT_RULES for m in methods)
            assert audit.strict_correct == sum(r["method"] in EXPLICIT_RULES and r["score"] == 1 for r in mine)
            assert [r.id for r in audit.weak] == sorted((r["id"] for r in mine if r["method"] in WEAK_RULES), key=int)
        assert main(["audit", str(real_runs / name), "--samples", "6"]) == 0
        out = capsys.readouterr().out
        for audit in audits:
            assert f"{audit.task} · 6 sample(s)" in out and f"({audit.strict_found} of {audit.found} answers" in out
            for record in audit.weak:
                assert f"{record.id} · {record.method} → {record.answer!r}" in out
    assert main(["audit", str(real_runs / "gemma3-270m-hf-mmlu")]) == 0
    assert "57 sample(s) scored by loglikelihood; no text extracted" in capsys.readouterr().out


def _records(run_dir: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (run_dir / "records.jsonl").read_text().splitlines()]


@pytest.mark.slow
@pytest.mark.vllm
def test_report_of_real_runs_writes_every_table_with_the_paper_alongside(real_runs: Path, report_dir: Path) -> None:
    for name in ("report.md", "report.tex", "leaderboard.csv", "tasks.csv", "subtasks.csv", "deltas.csv"):
        assert (report_dir / name).stat().st_size > 0, name
    board = pd.read_csv(report_dir / "leaderboard.csv", index_col="entry")
    assert {"smollm2-135m · vllm", "smollm2-135m · hf", "gemma3-270m · hf",
            "Orca-2-13B (paper)", "GPT-4 (paper)"} <= set(board.index)
    assert list(board.columns[:3]) == ["gsm8k", "arc-easy", "mmlu-ll"]
    for run_dir in real_runs.iterdir():  # each run row is the mean score of its records
        fingerprint = json.loads((run_dir / "manifest.json").read_text())["fingerprint"]
        entry = f"{fingerprint['model']['name']} · {fingerprint['backend']}"
        for task in fingerprint["tasks"]:
            scores = [r["score"] for r in _records(run_dir) if r["task"] == task]
            if task != "mmlu-ll":  # mmlu-ll reports the macro average over subjects
                assert board.loc[entry, task] == pytest.approx(100 * sum(scores) / len(scores))
    assert board.loc["Orca-2-13B (paper)", "gsm8k"] == pytest.approx(59.14)
    assert math.isnan(board.loc["Orca-2-13B (paper)", "mmlu-ll"])  # the paper has no loglikelihood MMLU
    subtasks = pd.read_csv(report_dir / "subtasks.csv")
    assert subtasks.query("task == 'mmlu-ll'")["subtask"].nunique() == 57

    markdown = (report_dir / "report.md").read_text()
    table = markdown.split("\n\n")[2]
    assert "| Orca-2-13B (paper) | 59.14 |" in table and "| smollm2-135m · vllm |" in table  # side by side
    assert "## Δ against smollm2-135m · hf" in markdown and "## mmlu-ll by subtask" in markdown
    assert "arXiv:2311.11045" in markdown and "![accuracy](charts/accuracy.svg)" in markdown
    latex = (report_dir / "report.tex").read_text()
    # the leaderboard, each run cell's n and interval, the deltas, mmlu-ll by subtask
    assert latex.count("\\begin{tabular}") == 5 and "\\textbf{" in latex and "\\toprule" in latex
    assert "smollm2-135m · vllm" in latex and "Orca-2-13B w/ cautious sm (paper)" in latex


@pytest.mark.slow
@pytest.mark.vllm
def overlapping_text(figure: Figure) -> list[tuple[str, str]]:
    """Pairs of visible, non-empty texts whose drawn boxes overlap (what a reader could not read)."""
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()  # type: ignore[attr-defined]
    texts = [t for t in figure.findobj(matplotlib.text.Text) if t.get_visible() and t.get_text().strip()]
    boxes = [(t.get_text(), t.get_window_extent(renderer)) for t in texts]
    return [(a, b) for (a, box_a), (b, box_b) in itertools.combinations(boxes, 2)
            if box_a.width and box_b.width and box_a.overlaps(box_b)]


def test_charts_are_written_labelled_and_free_of_overlapping_text(real_runs: Path, report_dir: Path) -> None:
    for name in ("accuracy", "size", "delta"):
        for suffix in (".png", ".svg"):
            assert (report_dir / "charts" / f"{name}{suffix}").stat().st_size > 5_000, f"{name}{suffix}"
    results = load_results([real_runs])
    figures = charts.charts(results, resolve_baseline(results, BASELINE))
    labels = {name: (figure.axes[0].get_xlabel(), figure.axes[0].get_ylabel()) for name, figure in figures.items()}
    assert labels == {"accuracy": ("benchmark", "accuracy (%)"),
                      "size": ("model size (billions of parameters, log scale)", "accuracy (%)"),
                      "delta": ("model", "task / subtask")}
    accuracy = figures["accuracy"].axes[0]
    assert [t.get_text() for t in accuracy.get_xticklabels()] == ["gsm8k", "arc-easy", "mmlu-ll"]
    bars = [c for c in accuracy.containers if isinstance(c, BarContainer)]
    assert len(bars) == len(results.entries)  # one bar series per entry, paper rows included
    assert figures["delta"].axes[0].get_title() == f"Δ accuracy against {BASELINE}"
    for name, figure in figures.items():
        assert overlapping_text(figure) == [], name


@pytest.mark.slow
@pytest.mark.vllm
def test_every_page_of_the_site_parses_as_html5_without_errors(report_dir: Path) -> None:
    pages = sorted((report_dir / "site").glob("*.html"))
    assert {p.name for p in pages} == {"index.html", "samples.html", "task-gsm8k.html", "task-arc-easy.html", "task-mmlu-ll.html"}
    for page in pages:
        parser = html5lib.HTMLParser(strict=True)
        parser.parse(page.read_bytes())
        assert parser.errors == [], page.name
    text = (report_dir / "site" / "index.html").read_text()
    assert "http://" not in text and "https://" not in text.replace("https://arxiv.org", "")  # nothing from a CDN


def _column(page: Any, table: str, column: int) -> list[str]:
    return page.eval_on_selector_all(f"#{table} tbody tr", f"rows => rows.map(r => r.cells[{column}].dataset.value)")


@pytest.mark.slow
@pytest.mark.vllm
def test_the_site_works_in_headless_chromium_from_disk(report_dir: Path, real_runs: Path, browser: Any) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    problems: list[str] = []
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("requestfailed", lambda request: problems.append(f"failed: {request.url}"))

    page.goto((report_dir / "site" / "index.html").as_uri())
    header = page.locator("#leaderboard thead th").all_inner_texts()
    gsm8k = header.index("gsm8k")
    page.click("#leaderboard thead button:text-is('gsm8k')")
    values = _column(page, "leaderboard", gsm8k)
    numbers = [float(v) for v in values if v]
    assert numbers == sorted(numbers, reverse=True) and values[len(numbers):] == [""] * (len(values) - len(numbers))
    page.click("#leaderboard thead button:text-is('gsm8k')")
    numbers = [float(v) for v in _column(page, "leaderboard", gsm8k) if v]
    assert numbers == sorted(numbers)
    page.click("#leaderboard thead button:text-is('model')")
    names = _column(page, "leaderboard", 0)
    assert names == sorted(names, key=str.lower)

    page.click("header nav a:text-is('mmlu-ll')")
    assert page.title().startswith("mmlu-ll")
    assert page.locator("#subtasks tbody tr").count() == 57
    page.click("#browse")
    page.wait_for_selector("#samples[data-ready=true]")
    entries = page.eval_on_selector_all("#entry-a option", "options => options.map(o => o.textContent)")
    a, b = entries.index("smollm2-135m · vllm"), entries.index("gemma3-270m · hf")
    page.select_option("#entry-a", str(a))
    page.select_option("#entry-b", str(b))
    page.select_option("#filter", "a-right-b-wrong")
    page.wait_for_function("document.querySelector('#position').textContent.includes('page 1')")

    scores = {name: {r["id"]: r["score"] for r in _records(real_runs / f"{name}-mmlu")}
              for name in ("smollm2-135m-vllm", "gemma3-270m-hf")}
    expected = sorted(i for i, s in scores["smollm2-135m-vllm"].items() if s == 1 and scores["gemma3-270m-hf"][i] == 0)
    assert expected, "the two models should disagree somewhere on 57 questions"
    assert page.locator("#position").inner_text().startswith(f"{len(expected)} sample(s)")
    shown = page.eval_on_selector_all("#samples article", "cards => cards.map(c => [c.dataset.id, c.dataset.marks])")
    assert sorted(i for i, _ in shown) == expected
    assert all(marks[a] == "1" and marks[b] == "0" for _, marks in shown)
    first = page.locator("#samples article").first
    assert first.locator("table.answers tbody tr").count() == 3  # every model's output side by side
    assert "gold:" in first.inner_text()

    # Filter by extraction rule: the samples entry A's answers were read by that rule, and only those.
    gsm8k = [r for r in _records(real_runs / "smollm2-135m-vllm-generate") if r["task"] == "gsm8k"]
    rule = max(sorted({r["method"] for r in gsm8k}), key=[r["method"] for r in gsm8k].count)
    page.select_option("#task", "gsm8k")
    page.wait_for_function(f"Array.from(document.querySelectorAll('#rule option'))"
                           f".some(o => o.textContent === {json.dumps(rule)})")
    entries = page.eval_on_selector_all("#entry-a option", "options => options.map(o => o.textContent)")
    a = entries.index("smollm2-135m · vllm")
    page.select_option("#entry-a", str(a))
    page.select_option("#filter", "all")
    page.select_option("#rule", label=rule)
    expected = sorted((r["id"] for r in gsm8k if r["method"] == rule), key=int)
    page.wait_for_function(f"document.querySelector('#position').textContent.startsWith('{len(expected)} sample(s)')")
    shown = page.eval_on_selector_all("#samples article", f"cards => cards.map(c => [c.dataset.id, "
                                      f"c.querySelectorAll('table.answers tbody tr')[{a}]"
                                      f".querySelector('td[data-rule]').dataset.rule])")
    assert sorted((i for i, _ in shown), key=int) == expected and {r for _, r in shown} == {rule}

    screenshot = report_dir / "samples-browser.png"
    page.screenshot(path=str(screenshot), full_page=True)
    assert screenshot.stat().st_size > 10_000
    page.close()
    assert problems == []
