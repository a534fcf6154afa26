"""The paired leaderboard: `orcabench report RUNS --reference MODEL`.

Each model's difference from the reference is the gate's paired statistics on the questions
both ran (one implementation: the numbers equal `orcabench compare`'s), cluster-robust where
questions share a passage, and models the data cannot tell apart share a rank.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

import pytest
from scipy import stats as scipy_stats
from store_samples import make_run

from orcabench import api
from orcabench.cli.run import main
from orcabench.report.paired import Pairing, paired_leaderboard
from orcabench.report.results import load_results
from orcabench.stats import clustered_se

N = 200


def scores(right: int, shift: int = 0) -> list[float]:
    """``right`` of N questions right, starting at question ``shift`` (so two models' right answers overlap)."""
    return [1.0 if (k - shift) % N < right else 0.0 for k in range(N)]


@pytest.fixture
def runs(tmp_path: Path) -> dict[str, Path]:
    # a: 160 right; b: 158, nearly the same questions (2 discordant pairs); c: 80.
    return {name: make_run(tmp_path / name, {"arc-easy": values}, model__name=name)
            for name, values in (("a", scores(160)), ("b", scores(158, 2)), ("c", scores(80)))}


def test_models_the_data_cannot_tell_apart_share_a_rank(runs: dict[str, Path]) -> None:
    results = load_results(list(runs.values()), reference=False)
    table = paired_leaderboard(results, "c · hf")
    ranked = {row["entry"]: (row["rank"], row["tied"]) for row in table.to_dict("records")}
    # a vs b: 2 discordant pairs, exact McNemar p = 0.5: tied at the top; c is 78-80 questions below both.
    assert ranked == {"a · hf": (1, True), "b · hf": (1, True), "c · hf": (3, False)}


def test_paired_differences_are_the_gates_paired_statistics(runs: dict[str, Path]) -> None:
    results = load_results(list(runs.values()), reference=False)
    rows = {row["entry"]: row for row in paired_leaderboard(results, "c · hf").to_dict("records")}
    for name in ("a", "b"):
        (compared,) = api.compare(runs["c"], runs[name]).tasks
        row = rows[f"{name} · hf"]
        assert (row["n"], row["delta"], row["ci_low"], row["ci_high"], row["p_value"]) == pytest.approx(
            (compared.stats.n, 100 * compared.stats.delta, 100 * compared.stats.ci_low, 100 * compared.stats.ci_high,
             compared.stats.p_value), rel=1e-12)
    assert (rows["c · hf"]["delta"], rows["c · hf"]["n"]) == (0.0, N) and math.isnan(rows["c · hf"]["ci_low"])


def test_a_pairing_gives_each_row_its_own_reference_and_leaves_rows_it_does_not_name_unpaired(
        runs: dict[str, Path]) -> None:
    results = load_results(list(runs.values()), reference=False)
    pairing = Pairing("per group", {"a · hf": "c · hf", "b · hf": "a · hf"})
    rows = {row["entry"]: row for row in paired_leaderboard(results, pairing).to_dict("records")}
    for entry, against in (("a · hf", "c · hf"), ("b · hf", "a · hf")):
        alone = {r["entry"]: r for r in paired_leaderboard(results, against).to_dict("records")}[entry]
        assert rows[entry]["reference"] == against
        assert (rows[entry]["n"], rows[entry]["delta"], rows[entry]["p_value"]) == (alone["n"], alone["delta"],
                                                                                   alone["p_value"])
    assert rows["c · hf"]["reference"] == "" and rows["c · hf"]["n"] == 0 and math.isnan(rows["c · hf"]["delta"])
    assert {e: r["rank"] for e, r in rows.items()} == {"a · hf": 1, "b · hf": 1, "c · hf": 3}  # ranks do not change


def test_paired_differences_only_use_the_questions_both_ran(tmp_path: Path) -> None:
    a = make_run(tmp_path / "a", {"arc-easy": [1.0] * 10}, model__name="a")
    b = make_run(tmp_path / "b", {"arc-easy": [0.0] * 6}, model__name="b")  # a --limit 6 run: ids 0..5
    (row,) = [r for r in paired_leaderboard(load_results([a, b], reference=False), "a · hf").to_dict("records")
              if r["entry"] == "b · hf"]
    assert (row["n"], row["delta"]) == (6, -100.0)


def test_a_clustered_tasks_paired_interval_is_cluster_robust(tmp_path: Path) -> None:
    clusters: list[str | None] = [f"article{k // 4}" for k in range(40)]  # ten articles of four questions
    base = [1.0 if k % 8 < 4 else 0.0 for k in range(40)]  # right on every other article
    other = [1.0 if k % 8 < 6 else 0.0 for k in range(40)]
    runs = [make_run(tmp_path / name, {"race": values}, model__name=name, clusters={"race": clusters})
            for name, values in (("ref", base), ("new", other))]
    (row,) = [r for r in paired_leaderboard(load_results(runs, reference=False), "ref · hf").to_dict("records")
              if r["entry"] == "new · hf"]
    differences = [b - a for a, b in zip(base, other)]
    se = clustered_se(differences, clusters)
    z = float(scipy_stats.norm.ppf(0.975))
    mean = sum(differences) / 40
    assert row["interval"] == "clustered"
    assert (row["delta"], row["ci_low"], row["ci_high"]) == pytest.approx(
        (100 * mean, 100 * (mean - z * se), 100 * (mean + z * se)), rel=1e-12)
    assert row["p_value"] == pytest.approx(2 * scipy_stats.norm.sf(mean / se), rel=1e-12)
    (compared,) = api.compare(runs[0], runs[1]).tasks  # orcabench compare shows the same clustered statistics
    assert (100 * compared.stats.ci_low, 100 * compared.stats.ci_high, compared.stats.p_value) == pytest.approx(
        (row["ci_low"], row["ci_high"], row["p_value"]), rel=1e-12)


def test_markdown_csv_and_latex_carry_the_same_columns(runs: dict[str, Path], tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "report"
    assert main(["report", *map(str, runs.values()), "--reference", "c", "--no-reference", "--format", "md,csv,latex",
                 "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    header = "| task | rank | model | n | accuracy | Δ | 95% CI | p | interval |"
    assert "## Paired against c · hf" in printed and header in printed
    markdown = (out / "report.md").read_text()
    assert header in markdown and "| arc-easy | =1 | a · hf | 200 | 80.00 | +40.00 |" in markdown
    with (out / "paired.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["task", "entry", "reference", "rank", "tied", "n", "accuracy", "delta", "ci_low", "ci_high",
                             "p_value", "interval"]
    assert {r["reference"] for r in rows} == {"c · hf"}
    assert [(r["entry"], r["rank"], r["tied"]) for r in rows] == [("a · hf", "1", "True"), ("b · hf", "1", "True"),
                                                                  ("c · hf", "3", "False")]
    latex = (out / "report.tex").read_text()
    assert "task & rank & model & n & accuracy & Δ & 95\\% CI & p & interval" in latex and "=1 & a · hf" in latex


def test_an_unknown_reference_is_one_line_and_exit_2(runs: dict[str, Path], tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", str(runs["a"]), "--reference", "nobody", "--out", str(tmp_path / "r")]) == 2
    assert "--reference 'nobody': no entry has that name" in capsys.readouterr().err


def test_the_site_shows_ties_as_a_bracket_and_sorts_the_paired_table(runs: dict[str, Path], tmp_path: Path,
                                                                     browser: Any) -> None:
    out = tmp_path / "report"
    assert main(["report", *map(str, runs.values()), "--reference", "c", "--no-reference", "--format", "html",
                 "--out", str(out)]) == 0
    page = browser.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.goto((out / "site" / "index.html").as_uri())
    assert page.locator("#paired-heading").inner_text() == "Paired against c · hf"
    tied = page.locator("#paired td.tied")
    assert tied.all_inner_texts() == ["=1", "=1"]
    # The bracket: a drawn left border on each tied rank cell, none on the untied one.
    widths = page.eval_on_selector_all("#paired tbody td:nth-child(2)",
                                       "cells => cells.map(c => getComputedStyle(c).borderLeftWidth)")
    assert widths == ["3px", "3px", "0px"]
    page.click("#paired thead button:text-is('Δ')")
    order = page.eval_on_selector_all("#paired tbody th", "cells => cells.map(c => c.dataset.value)")
    assert order == ["a · hf", "b · hf", "c · hf"]  # Δ high to low: +40, +39, 0
    page.click("#paired thead button:text-is('Δ')")
    assert page.eval_on_selector_all("#paired tbody th", "cells => cells.map(c => c.dataset.value)") == \
        ["c · hf", "b · hf", "a · hf"]
    assert problems == []
    page.close()
