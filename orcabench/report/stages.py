"""The two readings of a ``--extract two-stage`` run, for ``orcabench audit``.

How many outputs the second stage was asked about (one request each), how many answers it
decided, and how often the two readings disagree on the outputs both could read: a high rate
says the rules' weak readings (the last number, the last label) often pick something the
model, asked for its answer, does not say.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from orcabench.answers.second_stage import METHOD_PREFIX
from orcabench.answers.text import NONE
from orcabench.types import Record


@dataclass(frozen=True)
class StagesAudit:
    """The second stage of a two-stage run: requests made, readings it decided, and disagreement with the rules."""

    asked: int = 0  # second-stage requests made (records that hold a second reading)
    decided: int = 0  # records whose answer the second stage read
    both_read: int = 0  # of those asked, outputs both stages read an answer from
    disagree: int = 0  # of those, with different answers

    @property
    def disagreement(self) -> float | None:
        return self.disagree / self.both_read if self.both_read else None


def stages_audit(records: list[Record]) -> StagesAudit:
    """Counted from the records' ``extra.first_stage`` / ``extra.second_stage`` (a rules run has neither: all zero)."""
    asked = [r.extra for r in records if isinstance(r.extra.get("second_stage"), dict)]
    both = [(first, second) for first, second in ((_stage(e, "first_stage"), _stage(e, "second_stage")) for e in asked)
            if first.get("method") != NONE and second.get("method") != NONE]
    return StagesAudit(asked=len(asked), decided=sum(r.method.startswith(METHOD_PREFIX) for r in records),
                       both_read=len(both), disagree=sum(first.get("answer") != second.get("answer") for first, second in both))


def _stage(extra: dict[str, Any], name: str) -> dict[str, Any]:
    value = extra.get(name)
    return value if isinstance(value, dict) else {"method": NONE}
