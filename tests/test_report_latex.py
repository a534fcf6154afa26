"""report.tex carries what the Markdown, CSV and site show beside each run cell: its n and its 95% interval,
marked clustered (questions sharing passages) and subset (a --limit run) where so."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from store_samples import make_run

from orcabench.cli.run import main
from orcabench.stats import clustered_mean_ci, mean_ci


def test_the_latex_report_shows_each_run_cells_n_and_interval(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    race = [1.0, 0.0, 1.0, 1.0, 0.0, 0.0, 1.0, 1.0]
    clusters: list[str | None] = ["p1", "p1", "p2", "p2", "p3", "p3", "p4", "p4"]
    a = make_run(tmp_path / "a", {"race": race, "gsm8k": [1.0] * 1200 + [0.0] * 300}, finished="2026-01-01T00:00:00Z",
                 clusters={"race": clusters})
    manifest = json.loads((a / "manifest.json").read_text())
    manifest["sessions"][0]["limit"] = 8  # a --limit run: its cells are not the full test set
    (a / "manifest.json").write_text(json.dumps(manifest))
    out = tmp_path / "report"
    assert main(["report", str(a), "--no-reference", "--format", "latex,md", "--out", str(out)]) == 0
    capsys.readouterr()
    latex = (out / "report.tex").read_text()
    assert latex.count("\\begin{tabular}") == 3  # the leaderboard, the n of each cell, the interval of each cell
    n_table = latex.split("\\caption{Samples behind each run cell (n).}")[1].split("\\end{table}")[0]
    assert "1,500" in n_table and " 8 " in n_table and "smollm2-135m · hf" in n_table
    _, low, high = clustered_mean_ci(race, clusters)
    _, g_low, g_high = mean_ci([1.0] * 1200 + [0.0] * 300)
    intervals = latex.split("\\caption{95\\% interval of each run cell")[1].split("\\end{table}")[0]
    assert f"{100 * low:.1f}--{100 * high:.1f} (clustered) (subset)" in intervals
    assert f"{100 * g_low:.1f}--{100 * g_high:.1f} (subset)" in intervals
    markdown = (out / "report.md").read_text()  # the same cells as the Markdown's
    assert f"{100 * low:.1f}–{100 * high:.1f} (clustered) (subset)" in markdown
