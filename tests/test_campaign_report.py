"""``orcabench campaign report``'s paired leaderboard (issue 22): each variant against the reference's same variant.

A campaign pairs every cell with the reference model's cell of the same variant (system
message, protocol, thinking): Orca 2 under the cautious system message is compared with the
reference under the cautious one, not with whichever cell of the reference came first. Where
the reference was not run under a variant, its only cell stands in and the report says so;
where it has several cells and none of that variant, the cell is ranked but not paired, and
the report says that too.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

from store_samples import make_run

from orcabench.campaign.cells import CellPlan
from orcabench.campaign.report import campaign_report
from orcabench.campaign.spec import Campaign, Cell
from orcabench.engine.plan import RunConfig

N = 10
RIGHT, WRONG = [1.0] * N, [0.0] * N


def campaign(tmp_path: Path, scores: dict[tuple[str, str], list[float]]) -> tuple[Campaign, list[CellPlan]]:
    """Cells (model, system message) whose run directories hold ``scores`` on arc-easy; the reference is ``ref``."""
    cells, plans = [], []
    for (model, system_message), values in scores.items():
        cell = Cell(model, {"system_message": system_message}, RunConfig())
        run_dir = make_run(tmp_path / "campaign" / f"{model}-{system_message}", {"arc-easy": values}, model__name=model)
        cells.append(cell)
        plans.append(CellPlan(cell, cast(Any, SimpleNamespace(run_dir=run_dir))))  # the report reads the run directory
    return Campaign(tmp_path / "c.yaml", "c", tmp_path / "campaign", cells, "ref", 2, ["arc-easy"]), plans


def paired_rows(tmp_path: Path, scores: dict[tuple[str, str], list[float]]) -> tuple[dict[str, dict[str, Any]], str]:
    made, _ = campaign_report(*campaign(tmp_path, scores), tmp_path / "report", ("md", "html"))
    assert made.paired is not None
    return {row["entry"]: row for row in made.paired.to_dict("records")}, (tmp_path / "report" / "report.md").read_text()


def test_each_variant_is_paired_with_the_references_cell_of_the_same_variant(tmp_path: Path) -> None:
    # The reference is right on every question under `empty` and wrong on every one under `cautious`; so is the other
    # model: each variant is no different from the reference's same variant.
    rows, markdown = paired_rows(tmp_path, {("ref", "empty"): RIGHT, ("ref", "cautious"): WRONG,
                                            ("orca", "empty"): RIGHT, ("orca", "cautious"): WRONG})
    assert rows["orca · system_message=cautious"]["reference"] == "ref · system_message=cautious"
    assert (rows["orca · system_message=cautious"]["n"], rows["orca · system_message=cautious"]["delta"]) == (N, 0.0)
    assert rows["orca · system_message=empty"]["reference"] == "ref · system_message=empty"
    assert rows["ref · system_message=cautious"]["delta"] == 0.0  # each of the reference's cells is a reference row
    assert "## Paired against ref" in markdown and "| paired with |" in markdown
    assert "| ref · system_message=cautious |" in markdown
    site = (tmp_path / "report" / "site" / "index.html").read_text()
    assert "paired with</button>" in site and site.count('class="reference-row"') == 2


def test_a_variant_the_reference_lacks_is_paired_with_its_only_cell_and_the_report_says_so(tmp_path: Path) -> None:
    rows, markdown = paired_rows(tmp_path, {("ref", "empty"): RIGHT, ("orca", "empty"): RIGHT,
                                            ("orca", "cautious"): WRONG})
    assert rows["orca · system_message=cautious"]["reference"] == "ref · system_message=empty"
    assert rows["orca · system_message=cautious"]["delta"] == -100.0
    assert ("orca · system_message=cautious is paired with ref · system_message=empty: ref has no records under "
            "system_message=cautious.") in markdown
    assert "| paired with |" not in markdown  # one reference cell: the heading names it, no column needed


def test_a_variant_missing_from_a_reference_with_several_cells_is_ranked_but_not_paired(tmp_path: Path) -> None:
    rows, markdown = paired_rows(tmp_path, {("ref", "empty"): RIGHT, ("ref", "default"): RIGHT,
                                            ("orca", "cautious"): WRONG})
    unpaired = rows["orca · system_message=cautious"]
    assert unpaired["reference"] == "" and unpaired["n"] == 0 and unpaired["rank"] == 3
    assert ("orca · system_message=cautious is not paired: ref has no records under system_message=cautious (its "
            "cells: ref · system_message=empty, ref · system_message=default); add that variant to the reference.") in markdown
