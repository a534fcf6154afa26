"""``orcabench campaign report``: the existing report and site over every cell, and the paired differences.

One row per cell (model × variant, labelled as the campaign names it), never one per model:
two system messages of one model are two rows. Each cell of another model is paired with the
reference model's cell of the same variant (else the reference's first cell) on the examples
both answered, with the gate's paired statistics (:func:`orcabench.gate.verdicts.compare_runs`:
the difference, its 95% CI, the Holm-adjusted McNemar p).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from orcabench.campaign.cells import CellPlan
from orcabench.campaign.spec import Campaign
from orcabench.gate.policy import COMPARE_POLICY
from orcabench.gate.verdicts import compare_runs
from orcabench.report.publish import write_report
from orcabench.report.tables import PAIRED_COLUMNS, Report
from orcabench.store.writer import RECORDS
from orcabench.types import OrcabenchError


def stored_cells(cells: Sequence[CellPlan]) -> list[CellPlan]:
    """The cells with records to report (a failed or not yet started cell has none)."""
    return [c for c in cells if c.plan is not None and (c.plan.run_dir / RECORDS).is_file()
            and (c.plan.run_dir / RECORDS).stat().st_size > 0]


def reference_cell(cell: CellPlan, references: Sequence[CellPlan]) -> CellPlan | None:
    """The reference model's cell under the same variant, else its first cell; None for the reference's own cells."""
    if not references or cell.cell.model == references[0].cell.model:
        return None
    same = [ref for ref in references if ref.cell.variant == cell.cell.variant]
    return (same or list(references))[0]


def paired_differences(campaign: Campaign, cells: Sequence[CellPlan]) -> pd.DataFrame:
    """Each cell against its reference cell, task by task, in accuracy points (PAIRED_COLUMNS)."""
    references = [c for c in cells if c.cell.model == campaign.reference]
    rows = []
    for cell in cells:
        reference = reference_cell(cell, references)
        if reference is None:
            continue
        assert cell.plan is not None and reference.plan is not None  # stored cells are planned
        compared = compare_runs(reference.plan.run_dir, cell.plan.run_dir, COMPARE_POLICY, allow_mismatch=True, gating=False)
        for task in compared.tasks:
            stats = task.stats
            rows.append({"entry": cell.name, "reference": reference.name, "task": task.task, "n": stats.n,
                         "delta": 100 * stats.delta, "ci_low": 100 * stats.ci_low, "ci_high": 100 * stats.ci_high,
                         "p_holm": task.p_adjusted})
    return pd.DataFrame(rows, columns=PAIRED_COLUMNS)


def campaign_report(campaign: Campaign, cells: Sequence[CellPlan], out: Path,
                    formats: Sequence[str] = ("md", "html")) -> tuple[Report, list[Path]]:
    """The report (tables, charts, site) over every stored cell, with the paired differences from the reference."""
    stored = stored_cells(cells)
    if not stored:
        raise OrcabenchError(f"campaign {campaign.name} has no records in {campaign.output} yet: run "
                             f"`orcabench campaign run {campaign.path}` first")
    labels = {c.plan.run_dir: c.name for c in stored if c.plan is not None}
    paired = paired_differences(campaign, stored) if campaign.reference else None
    return write_report(list(labels), out, formats, labels=labels, paired=paired)
