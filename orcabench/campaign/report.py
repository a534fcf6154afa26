"""``orcabench campaign report``: the existing report and site over every cell, and the paired leaderboard.

One row per cell (model × variant, labelled as the campaign names it), never one per model:
two system messages of one model are two rows. The paired leaderboard
(:func:`orcabench.report.paired.paired_leaderboard`, the one ``orcabench report --reference``
draws) pairs every cell with the reference model's first cell on the examples both answered,
and groups the cells the data cannot tell apart.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from orcabench.campaign.cells import CellPlan
from orcabench.campaign.spec import Campaign
from orcabench.report.publish import write_report
from orcabench.report.tables import Report
from orcabench.store.writer import RECORDS
from orcabench.types import OrcabenchError


def stored_cells(cells: Sequence[CellPlan]) -> list[CellPlan]:
    """The cells with records to report (a failed or not yet started cell has none)."""
    return [c for c in cells if c.plan is not None and (c.plan.run_dir / RECORDS).is_file()
            and (c.plan.run_dir / RECORDS).stat().st_size > 0]


def campaign_report(campaign: Campaign, cells: Sequence[CellPlan], out: Path,
                    formats: Sequence[str] = ("md", "html")) -> tuple[Report, list[Path]]:
    """The report (tables, charts, site) over every stored cell, with the paired differences from the reference."""
    stored = stored_cells(cells)
    if not stored:
        raise OrcabenchError(f"campaign {campaign.name} has no records in {campaign.output} yet: run "
                             f"`orcabench campaign run {campaign.path}` first")
    labels = {c.plan.run_dir: c.name for c in stored if c.plan is not None}
    return write_report(list(labels), out, formats, labels=labels, paired_reference=reference_entry(campaign, stored))


def reference_entry(campaign: Campaign, cells: Sequence[CellPlan]) -> str | None:
    """The row the paired leaderboard is taken against: the reference model's first stored cell (its first variant)."""
    return next((c.name for c in cells if c.cell.model == campaign.reference), None) if campaign.reference else None
