"""Questions that share a passage are not independent: clusters in the data model and the
cluster-robust intervals built on them (Miller 2024, "Adding Error Bars to Evals", arXiv 2411.00640).

RACE and DROP data are not staged here, so their test sets are small rows written in the
upstream (Hub) row format, loaded as the task's local mirror file; AGIEval reads the staged
mirror. Expected standard errors are computed by hand from the formula's definition (Miller's
double sum over pairs of questions in one cluster), independently of the implementation's
per-cluster residual sums, and checked against statsmodels' cluster-robust OLS.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import statsmodels.api as sm
from scipy import stats as scipy_stats

from orcabench.report.results import load_results
from orcabench.report.tables import Report
from orcabench.stats import clustered_mean_ci, clustered_se, mean_ci, stratified_mean_ci
from orcabench.task import get_tasks
from orcabench.task.data import load_rows
from orcabench.task.summary import CLUSTERED, INDEPENDENT, headline_ci, summarize
from orcabench.types import Example, Record
from store_samples import make_run

Z95 = float(scipy_stats.norm.ppf(0.975))


def hand_clustered_variance(scores: Sequence[float], clusters: Sequence[str]) -> float:
    """Miller 2024 §2 written out: (Σ_i e_i² + Σ_c Σ_{i≠j in c} e_i e_j) / n², times G / (G - 1) (CR1)."""
    n = len(scores)
    mean = sum(scores) / n
    residuals = [s - mean for s in scores]
    total = sum(e * e for e in residuals)
    for i in range(n):
        for j in range(n):
            if i != j and clusters[i] == clusters[j]:
                total += residuals[i] * residuals[j]
    groups = len(set(clusters))
    return groups / (groups - 1) * total / n**2


def records(task: str, examples: Sequence[Example], scores: Sequence[float]) -> list[Record]:
    return [Record(task=task, id=e.id, subtask=e.subtask, prompt="p", prompt_sha256="h", output="o", answer="a",
                   method="final-answer-phrase", gold=e.gold, score=s, prompt_tokens=1, output_tokens=1, finish_reason="stop",
                   cluster=e.cluster) for e, s in zip(examples, scores)]


def write_mirror(task_name: str, files: dict[str, list[dict[str, Any]]], mirror: Path) -> list[Example]:
    (task,) = get_tasks([task_name])
    for relative, rows in files.items():
        (mirror / relative).parent.mkdir(parents=True, exist_ok=True)
        (mirror / relative).write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    loaded, _ = load_rows(task.data, mirror, task_name, strict=True)
    return [task.parse_row(row.values, index) for index, row in enumerate(loaded)]


# --- the standard error itself ---------------------------------------------------------------


def test_clustered_se_matches_the_hand_computation_and_statsmodels_cluster_robust_ols() -> None:
    rng = np.random.default_rng(7)
    clusters = [f"c{k}" for k in rng.integers(0, 9, size=60)]
    scores = [float(x) for x in rng.integers(0, 2, size=60)]
    ours = clustered_se(scores, clusters)
    assert ours == pytest.approx(math.sqrt(hand_clustered_variance(scores, clusters)), rel=1e-12)
    codes = np.unique(clusters, return_inverse=True)[1]
    fit = sm.OLS(np.asarray(scores), np.ones((60, 1))).fit(cov_type="cluster", cov_kwds={"groups": codes})
    assert ours == pytest.approx(float(fit.bse[0]), rel=1e-10)


def test_with_every_question_its_own_cluster_the_clustered_se_is_the_clt_one() -> None:
    scores = [1.0, 0.0, 1.0, 1.0, 0.0, 1.0, 0.5]
    alone = clustered_se(scores, [None] * len(scores))  # None: a cluster of its own
    assert alone == pytest.approx(float(np.std(scores, ddof=1)) / math.sqrt(len(scores)), rel=1e-12)
    assert alone == pytest.approx(clustered_se(scores, [str(k) for k in range(len(scores))]), rel=1e-12)


def test_one_cluster_has_no_standard_error_and_its_interval_is_the_mean_alone() -> None:
    assert math.isnan(clustered_se([1.0, 0.0, 1.0], ["a", "a", "a"]))
    assert clustered_mean_ci([1.0, 0.0, 1.0, 1.0], ["a"] * 4) == (0.75, 0.75, 0.75)


def test_stratified_interval_of_a_macro_average_adds_the_strata_variances() -> None:
    # Two subtasks: means 0.8 and 0.4, SEs 0.1 and 0.05: Var(macro) = (0.01 + 0.0025) / 4.
    mean, low, high = stratified_mean_ci([0.8, 0.4], [0.1, 0.05])
    half = Z95 * math.sqrt(0.0125) / 2
    assert (mean, low, high) == pytest.approx((0.6, 0.6 - half, 0.6 + half), rel=1e-12)


# --- RACE: the article is the cluster ------------------------------------------------------------

ARTICLES = {  # article file -> the scores a model got on its questions (correlated within an article)
    "high1.txt": [1, 1, 1], "high2.txt": [0, 0, 0], "high3.txt": [1, 1, 0],
    "high4.txt": [1, 1], "high5.txt": [0, 0, 1], "middle6.txt": [1, 1, 1],
}


def race_rows() -> dict[str, list[dict[str, Any]]]:
    files: dict[str, list[dict[str, Any]]] = {"race/middle/test.jsonl": [], "race/high/test.jsonl": []}
    for article, scores in ARTICLES.items():
        config = "middle" if article.startswith("middle") else "high"
        for q in range(len(scores)):
            files[f"race/{config}/test.jsonl"].append(
                {"example_id": article, "article": f"The text of {article}.", "question": f"Question {q} on {article}?",
                 "options": ["one", "two", "three", "four"], "answer": "B"})
    return files


def test_race_names_each_questions_article_as_its_cluster(tmp_path: Path) -> None:
    examples = write_mirror("race", race_rows(), tmp_path)
    # The middle file is read first, then the high one; each question names its article.
    assert [(e.subtask, e.cluster) for e in examples] == [("middle", "middle6.txt")] * 3 + \
        [("high", article) for article, scores in ARTICLES.items() if article.startswith("high") for _ in scores]


def test_race_clustered_interval_is_wider_than_wilson_and_equals_the_hand_computation(tmp_path: Path) -> None:
    examples = write_mirror("race", race_rows(), tmp_path)
    by_article = {a: iter(s) for a, s in ARTICLES.items()}
    scores = [float(next(by_article[e.cluster])) for e in examples]
    summary = summarize("race", records("race", examples, scores))
    # By hand: n = 17, 11 right, mean 11/17; each article's residual sum (k right - n_c · 11/17) in 17ths is
    # 18, -33, 1, 12, -16, 18, whose squares add to 2,138 / 289; SE² = 6/5 · 2138/289 / 17² = 12,828 / 417,605.
    variance = Fraction(6, 5) * Fraction(2138, 289) / 289
    assert variance == Fraction(12828, 417605)
    half = Z95 * math.sqrt(variance)
    assert (summary.accuracy, summary.ci_low, summary.ci_high) == pytest.approx((11 / 17, 11 / 17 - half, 11 / 17 + half),
                                                                                rel=1e-12)
    assert (summary.interval, summary.clusters) == (CLUSTERED, 6)
    _, wilson_low, wilson_high = mean_ci(scores)
    assert summary.ci_high - summary.ci_low > wilson_high - wilson_low
    # RACE is micro-averaged: its headline interval is the clustered one, not the configs' stratified one.
    assert headline_ci(summary) == (summary.ci_low, summary.ci_high)


# --- DROP: the passage is the cluster (graded F1 scores) -------------------------------------------


def drop_row(section: str, query: str, passage: str) -> dict[str, Any]:
    empty = {"day": "", "month": "", "year": ""}
    return {"section_id": section, "query_id": query, "passage": passage, "question": f"What about {query}?",
            "answer": {"number": "3", "date": empty, "spans": [], "worker_id": "", "hit_id": ""},
            "validated_answers": {"number": [], "date": [], "spans": [], "worker_id": [], "hit_id": []}}


DROP_PASSAGES = {"nfl_1": [1.0, 0.5, 1.0], "nfl_2": [0.0, 0.0], "history_3": [1.0, 1.0, 0.8], "history_4": [0.4, 0.0],
                 "nfl_5": [0.5, 0.5, 0.0], "history_6": [1.0, 0.6]}


def test_drop_clustered_interval_is_wider_than_the_bootstrap_and_equals_the_hand_computation(tmp_path: Path) -> None:
    rows = [drop_row(section, f"{section}-q{k}", f"Passage {section}.") for section, s in DROP_PASSAGES.items()
            for k in range(len(s))]
    examples = write_mirror("drop", {"drop/validation.jsonl": rows}, tmp_path)
    assert [e.cluster for e in examples] == [section for section, s in DROP_PASSAGES.items() for _ in s]
    scores = [score for s in DROP_PASSAGES.values() for score in s]
    summary = summarize("drop", records("drop", examples, scores))
    mean = sum(scores) / len(scores)
    half = Z95 * math.sqrt(hand_clustered_variance(scores, [e.cluster for e in examples]))
    assert (summary.accuracy, summary.ci_low, summary.ci_high) == pytest.approx((mean, mean - half, mean + half), rel=1e-12)
    _, low, high = mean_ci(scores)  # independent questions: the bootstrap interval
    assert summary.ci_high - summary.ci_low > high - low


def test_drop_without_a_section_id_clusters_by_the_passage_text(tmp_path: Path) -> None:
    rows = [{**drop_row("", f"q{k}", passage), "section_id": None} for k, passage in enumerate(["A.", "A.", "B."])]
    first, second, third = write_mirror("drop", {"drop/validation.jsonl": rows}, tmp_path)
    assert first.cluster == second.cluster != third.cluster and first.cluster.startswith("sha256:")


# --- AGIEval: passage subsets cluster by the passage's hash ------------------------------------


def test_agieval_passage_subsets_cluster_by_passage_and_others_stand_alone() -> None:
    from orcabench.task.data import resolve_data_dir

    (task,) = get_tasks(["agieval-mc"])
    loaded, _ = load_rows(task.data, resolve_data_dir(None), "agieval-mc")
    examples = [task.parse_row(row.values, index) for index, row in enumerate(loaded)]
    by_subset: dict[str, list[Example]] = {}
    for example in examples:
        by_subset.setdefault(example.subtask or "", []).append(example)
    lsat_rc = by_subset["lsat-rc"]
    passages = {e.fields["passage"] for e in lsat_rc}
    assert len({e.cluster for e in lsat_rc}) == len(passages) < len(lsat_rc)  # several questions per passage
    assert all(e.cluster.startswith("lsat-rc/sha256:") for e in lsat_rc)
    assert all(e.cluster is None for e in by_subset["sat-en-without-passage"] + by_subset["aqua-rat"])


def test_a_macro_average_gets_its_own_stratified_interval_from_its_subtasks_clustered_errors() -> None:
    examples = [Example(id=f"{sub}/{k}", fields={}, gold="A", subtask=sub, cluster=f"{sub}/p{k // 2}")
                for sub in ("lsat-rc", "sat-en") for k in range(6)]
    scores = [1, 1, 0, 0, 1, 1, 0, 0, 0, 0, 1, 0]
    summary = summarize("agieval-mc", records("agieval-mc", examples, scores))
    parts = [(scores[:6], [e.cluster for e in examples[:6]]), (scores[6:], [e.cluster for e in examples[6:]])]
    means = [sum(s) / 6 for s, _ in parts]
    half = Z95 * math.sqrt(sum(hand_clustered_variance(s, c) for s, c in parts)) / 2
    macro = sum(means) / 2
    assert summary.macro_ci == pytest.approx((macro - half, macro + half), rel=1e-12)
    assert headline_ci(summary) == summary.macro_ci


# --- records and unclustered tasks ---------------------------------------------------------------


def test_records_keep_the_cluster_and_older_lines_read_as_unclustered() -> None:
    (record,) = records("race", [Example(id="high1.txt#0", fields={}, gold="A", cluster="high1.txt")], [1.0])
    line = record.to_json()
    assert line["cluster"] == "high1.txt" and Record.from_json(line) == record
    old = {k: v for k, v in line.items() if k != "cluster"}  # a record written before clusters existed
    assert Record.from_json(old).cluster is None
    # An unclustered record's line is what it was before clusters: no new key.
    assert "cluster" not in Record.from_json(old).to_json()


def test_an_unclustered_task_keeps_its_independent_interval_exactly() -> None:
    examples = [Example(id=str(k), fields={}, gold="A", subtask="s1" if k % 2 else "s2") for k in range(9)]
    scores = [1.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0, 0.0, 1.0]
    summary = summarize("gsm8k", records("gsm8k", examples, scores))
    assert (summary.accuracy, summary.ci_low, summary.ci_high) == mean_ci(scores)
    assert (summary.interval, summary.clusters) == (INDEPENDENT, None)


def test_reports_say_which_intervals_are_clustered(tmp_path: Path) -> None:
    scores = [float(s) for s in [*ARTICLES["middle6.txt"], *(x for a, s in ARTICLES.items() if a != "middle6.txt" for x in s)]]
    clusters: list[str | None] = [a for a in ["middle6.txt"] for _ in range(3)] + \
        [a for a, s in ARTICLES.items() if a != "middle6.txt" for _ in s]
    run = make_run(tmp_path / "run", {"race": scores}, clusters={"race": clusters})
    results = load_results([run], reference=False)
    (row,) = results.tasks.to_dict("records")
    assert (row["interval"], row["clusters"]) == ("clustered", 6)
    assert any("cluster-robust" in note and "6 clusters" in note for note in Report(results, None, {}).notes())
