"""A campaign's cells planned: each cell's :class:`~orcabench.engine.plan.Plan` (its run directory, examples,
fingerprint), exactly as ``orcabench run`` plans the same flags, and what it still has to send.

A cell that cannot be planned (a model folder that does not exist, a run directory made
with other settings) is kept with its one-line problem: it fails, the other cells go on.
"""

from __future__ import annotations

from dataclasses import dataclass
from orcabench.campaign.spec import Campaign, Cell
from orcabench.engine.plan import Plan, plan
from orcabench.engine.preflight import Estimate
from orcabench.engine.session import preview
from orcabench.types import OrcabenchError


@dataclass
class CellPlan:
    cell: Cell
    plan: Plan | None  # None: the cell cannot be planned (``problem`` says why)
    problem: str | None = None
    pending: int | None = None  # examples still to score; None: not counted (plan_cells without ``estimated``)
    estimate: Estimate | None = None  # what it still sends (with ``estimated``)

    @property
    def name(self) -> str:
        return self.cell.name

    @property
    def planned(self) -> dict[str, int]:
        """Examples per task in the cell's run."""
        return {} if self.plan is None else {task.name: len(self.plan.examples[task.name]) for task in self.plan.tasks}

    def placement(self) -> str:
        """What the cell asks Ray for, as ``--replicas`` asks (docs/scale-out.md); an API model runs in this process."""
        if self.plan is None:
            return "-"
        replicas = self.plan.config.operations.replicas
        if not replicas:
            return "this process (API)"
        tensor_parallel = int(self.plan.engine.get("tensor_parallel_size") or 1)
        cpus = self.plan.config.operations.replica_cpus
        return f"{replicas} replica(s) × {tensor_parallel} GPU, or {f'{cpus} CPU(s)' if cpus else 'a node’s cores'}"


def plan_cells(campaign: Campaign, estimated: bool = False) -> list[CellPlan]:
    """Every cell planned (nothing loaded); with ``estimated``, also rendered and counted as ``--dry-run`` does."""
    planned = []
    for cell in campaign.cells:
        try:
            resolved = plan(cell.config)
        except OrcabenchError as error:
            planned.append(CellPlan(cell, None, str(error)))
            continue
        found = CellPlan(cell, resolved)
        if estimated:
            try:
                work, found.estimate, _ = preview(resolved)
                found.pending = len(work.items)
            except OrcabenchError as error:
                found.plan, found.problem = None, str(error)
        planned.append(found)
    return planned
