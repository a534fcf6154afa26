"""What a reader of the leaderboard needs at a glance: each run cell's n and interval, a mark on
cells computed on a subset (--limit), right and wrong drawn plainly in the sample browser, and
notes that cite the paper and results/orca2-paper.yaml rather than a development-tree path."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from store_samples import make_run

from orcabench.cli.run import main
from orcabench.report.results import load_results
from orcabench.report.tables import Report
from orcabench.stats import mean_ci


def limited(path: Path, limit: int) -> Path:
    """Mark a run as made with --limit (its session records the limit, as `orcabench run` does)."""
    manifest = json.loads((path / "manifest.json").read_text())
    manifest["sessions"] = [{"finished": "2026-12-01T00:00:00+00:00", "limit": limit}]
    (path / "manifest.json").write_text(json.dumps(manifest))
    return path


def test_the_markdown_report_gives_each_run_cells_interval_and_marks_subsets(tmp_path: Path) -> None:
    full = make_run(tmp_path / "full", {"gsm8k": [1.0, 0.0, 1.0, 1.0]}, model__name="a")
    small = limited(make_run(tmp_path / "small", {"gsm8k": [1.0, 0.0, 0.0]}, model__name="b"), 3)
    markdown = Report(load_results([full, small], reference=False), None, {}).markdown()
    section = markdown.split("## 95% interval of each run cell")[1].split("\n\n")[1]
    _, low_a, high_a = mean_ci([1.0, 0.0, 1.0, 1.0])
    _, low_b, high_b = mean_ci([1.0, 0.0, 0.0])
    assert section.splitlines()[2:] == [f"| a · hf | {100 * low_a:.1f}–{100 * high_a:.1f} |",
                                        f"| b · hf | {100 * low_b:.1f}–{100 * high_b:.1f} (subset) |"]


def test_reference_notes_cite_the_paper_and_its_results_file_not_a_development_path(tmp_path: Path) -> None:
    run = make_run(tmp_path / "run", {"gsm8k": [1.0], "arc-easy": [1.0]})
    notes = Report(load_results([run]), None, {}).notes()
    checks = [note for note in notes if "k/N check" in note]
    assert len(checks) == 2 and not any("shared/" in note for note in notes)
    assert all("results/orca2-paper.yaml" in note for note in checks)
    assert any(note.startswith("gsm8k:") and "Table 1" in note for note in checks)
    assert any(note.startswith("arc-easy:") and "Table 2" in note for note in checks)


def test_the_site_shows_n_interval_and_subset_under_each_run_cell_and_draws_wrong_plainly(tmp_path: Path, browser: Any) -> None:
    full = make_run(tmp_path / "full", {"arc-easy": [1.0, 0.0, 1.0, 1.0]}, model__name="a")
    small = limited(make_run(tmp_path / "small", {"arc-easy": [1.0, 0.0, 0.0]}, model__name="b"), 3)
    out = tmp_path / "report"
    assert main(["report", str(full), str(small), "--no-reference", "--format", "html", "--out", str(out)]) == 0
    page = browser.new_page()
    page.goto((out / "site" / "index.html").as_uri())
    details = page.eval_on_selector_all("#leaderboard tbody tr", "rows => rows.map(r => [r.cells[0].dataset.value, "
                                        "r.cells[2].querySelector('.detail') && r.cells[2].querySelector('.detail').innerText])")
    _, low, high = mean_ci([1.0, 0.0, 0.0])
    assert dict(details)["b · hf"] == f"{100 * low:.1f}–{100 * high:.1f} · n=3 subset"
    assert dict(details)["a · hf"].endswith("· n=4")

    page.goto((out / "site" / "samples.html").as_uri() + "?task=arc-easy")
    page.wait_for_selector("#samples[data-ready=true]")
    wrong = page.locator("#samples td.wrong").first
    right = page.locator("#samples td.right").first
    assert wrong.inner_text() == "✗ wrong" and right.inner_text() == "✓ right"
    style = "c => [getComputedStyle(c).textDecorationLine, getComputedStyle(c).color]"
    wrong_style, right_style = wrong.evaluate(style), right.evaluate(style)
    assert wrong_style[0] == right_style[0] == "none"  # not struck through: a struck "wrong" reads as "not wrong"
    assert wrong_style[1] != right_style[1]
    page.close()
