"""``orcabench campaign report``: the existing report and site over every cell, and the paired leaderboard.

One row per cell (model × variant, labelled as the campaign names it), never one per model:
two system messages of one model are two rows. The paired leaderboard
(:func:`orcabench.report.paired.paired_leaderboard`, the one ``orcabench report --reference``
draws) pairs every cell with the reference model's cell of the same variant (system message,
protocol, thinking) on the examples both answered — a reference per variant, a
:class:`~orcabench.report.paired.Pairing` — falling back to the reference's only cell where
the reference was not run under that variant (the report says so), and groups the cells the
data cannot tell apart.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from orcabench.campaign.cells import CellPlan
from orcabench.campaign.spec import Campaign
from orcabench.report.paired import Pairing
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
    return write_report(list(labels), out, formats, labels=labels, paired_reference=pairing(campaign, stored))


def pairing(campaign: Campaign, cells: Sequence[CellPlan]) -> Pairing | None:
    """Each stored cell's reference: the reference model's stored cell of the same variant; where it has none, its only
    stored cell (a note says so); where it has several and none of that variant, none (the cell is ranked, not paired)."""
    if campaign.reference is None:
        return None
    own = [c.cell for c in cells if c.cell.model == campaign.reference]
    if not own:
        return None
    references: dict[str, str] = {}
    notes: list[str] = []
    for found in (c.cell for c in cells):
        same = next((r for r in own if r.variant == found.variant), None)
        if same is not None:
            references[found.name] = same.name
        elif len(own) == 1:
            references[found.name] = own[0].name
            notes.append(f"{found.name} is paired with {own[0].name}: {campaign.reference} has no records under "
                         f"{found.variant_label or 'no variant'}.")
        else:
            notes.append(f"{found.name} is not paired: {campaign.reference} has no records under "
                         f"{found.variant_label or 'no variant'} (its cells: {', '.join(r.name for r in own)}); "
                         "add that variant to the reference.")
    return Pairing(campaign.reference, references, tuple(notes))
