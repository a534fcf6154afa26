"""The site's task page of a variant run, in a real browser: the spread across the variants and, for a circular
run, plain and circular accuracy and the letters picked when wrong — the numbers ``results.json`` holds."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from test_variants import PromptBackend, config, plain_model, run, wording_matters  # noqa: F401  (plain_model: a fixture)

from orcabench.cli.run import main


def points(value: float) -> str:
    return format(100 * value, ".1f")


def variants_section(page: Any) -> dict[str, str]:
    """The variants table's one row on a task page, column name → the text a reader sees."""
    assert page.locator("h2", has_text="Robustness to the wording and the option order").is_visible()
    columns = page.eval_on_selector_all("#variants thead th", "cells => cells.map(c => c.innerText.trim())")
    (row,) = page.eval_on_selector_all("#variants tbody tr", "rows => rows.map(r => [...r.cells].map(c => c.innerText))")
    return dict(zip(columns, row, strict=True))


@pytest.mark.parametrize("selection", [{"prompt_variants": "all"}, {"circular": True}])
def test_a_variant_runs_task_page_shows_the_spread_and_for_rotations_circular_accuracy_and_position_bias(
        selection: dict[str, object], plain_model: Path, tmp_path: Path, data_dir: Path,  # noqa: F811
        browser: Any) -> None:
    plan = run(config(plain_model, tmp_path / "run", data_dir, tasks=("arc-easy",), **selection),
               PromptBackend(wording_matters))
    numbers = json.loads((plan.run_dir / "results.json").read_text())["variants"]["arc-easy"]
    out = tmp_path / "report"
    assert main(["report", str(plan.run_dir), "--no-reference", "--format", "html", "--out", str(out)]) == 0
    page = browser.new_page()
    page.goto((out / "site" / "task-arc-easy.html").as_uri())
    shown = variants_section(page)
    assert shown["variants"] == str(len(numbers["per_variant"])) and shown["kind"] == numbers["kind"]
    assert shown["mean"] == points(numbers["mean"]) and shown["sd"] == points(numbers["sd"])
    assert shown["min–max"] == f"{points(numbers['min'])}–{points(numbers['max'])}"
    assert shown["between-question"].endswith("%") and shown["between-variant"].endswith("%")
    if numbers["kind"] == "rotation":
        assert shown["plain"] == points(numbers["plain"]) and shown["circular"] == points(numbers["circular"])
        assert shown["wrong picks"] == " ".join(f"{letter} {100 * share:.0f}%"
                                                for letter, share in numbers["position_bias"].items())
        assert shown["wrong picks"] != "–"
    else:
        assert shown["plain"] == shown["circular"] == shown["wrong picks"] == "–"
    page.close()
