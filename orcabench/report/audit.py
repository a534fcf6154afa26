"""How a stored run's answers were read: ``orcabench audit RUN``.

Per task: the share of samples per extraction rule, the outputs read by the weakest rules
(the last number, the last option letter, ...) for spot checks, and the strict-vs-flexible
agreement: of the answers the extractors found with all their rules (flexible), the share
that the rules reading an answer the model marked as such (``EXPLICIT_RULES``: structured
answers, ``boxed``, ``final-answer-phrase``, letter phrasings, ...) also find. The "explicit"
layer is wider: it also holds the answer-first readings (an output that opens with its answer),
which infer rather than read the mark. Every extractor tries its explicit rules first, so a record's
stored rule tells which reading found it; a wide gap says the prompt's answer format is not
being followed. Audit reads the rules stored in the records: ``orcabench rescore`` first to
audit a run with the current extractors.

The rules are also grouped by the layer of the reading pipeline that read them
(:mod:`orcabench.answers.rules`: trace, structured, explicit, conclusion, weak, unparsed),
beside the count of outputs flagged as looping or cut off (whose conclusion and weak readings
the pipeline refuses) and of outputs cut at an invented next turn; runs written before these
signals were recorded count none.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from orcabench.answers.rules import LAYER_NAMES, layer_of
from orcabench.answers.second_stage import METHOD_PREFIX
from orcabench.answers.text import EXPLICIT_RULES, NONE, WEAK_RULES
from orcabench.report.stages import StagesAudit, stages_audit
from orcabench.store.reader import load_run, natural_order
from orcabench.types import Record

NOT_EXTRACTED = frozenset({"loglikelihood-argmax"})  # the answer is the likeliest option: no text is read


@dataclass(frozen=True)
class TaskAudit:
    task: str
    n: int
    rules: dict[str, int]  # rule -> samples it read, most used first
    strict_found: int  # answers the explicit rules read
    found: int  # answers any rule read
    strict_correct: int  # right answers the explicit rules read
    correct: int
    weak: list[Record]  # samples read by the weakest rules, in id order
    stages: StagesAudit = field(default_factory=StagesAudit)  # --extract two-stage: the second reading (report.stages)
    layers: dict[str, int] = field(default_factory=dict)  # pipeline layer -> samples it read, in layer order
    looped: int = 0  # outputs that repeat a line or a run of words over and over
    truncated: int = 0  # outputs cut off: finish_reason "length", or text that stops mid-clause
    invented_turns: int = 0  # outputs cut at a next turn the model wrote itself

    @property
    def agreement(self) -> float | None:
        """Share of the answers found by all rules that the explicit rules alone find."""
        return self.strict_found / self.found if self.found else None

    @property
    def extracted(self) -> bool:
        return not set(self.rules) <= NOT_EXTRACTED


def layer_name(method: str) -> str | None:
    """The pipeline layer a method belongs to, by name ("unparsed" for none); None for methods that read no text."""
    if method.startswith(METHOD_PREFIX):  # the model's second reading decided (--extract two-stage)
        return "second stage"
    layer = layer_of(method)
    return None if layer is None else LAYER_NAMES.get(layer, "unparsed")


def audit_records(task: str, records: list[Record]) -> TaskAudit:
    ordered = sorted(records, key=lambda r: natural_order(r.id))
    rules = Counter(r.method for r in ordered)
    by_layer = Counter(name for r in ordered if (name := layer_name(r.method)) is not None)
    layer_order = [*LAYER_NAMES.values(), "second stage", "unparsed"]
    strict = [r for r in ordered if r.method in EXPLICIT_RULES]
    return TaskAudit(
        task=task, n=len(ordered), rules=dict(rules.most_common()),
        strict_found=len(strict), found=sum(r.method != NONE for r in ordered),
        strict_correct=sum(r.score >= 1 for r in strict), correct=sum(r.score >= 1 for r in ordered),
        weak=[r for r in ordered if r.method in WEAK_RULES],
        stages=stages_audit(ordered),
        layers={name: by_layer[name] for name in layer_order if by_layer[name]},
        looped=sum(r.extra.get("looped") is True for r in ordered),
        truncated=sum(r.extra.get("truncated") is True for r in ordered),
        invented_turns=sum(r.extra.get("invented_turn") is True for r in ordered),
    )


def audit_run(path: Path) -> list[TaskAudit]:
    """One :class:`TaskAudit` per task of the run at ``path``, in the run's task order."""
    run = load_run(path)
    by_task: dict[str, list[Record]] = {}
    for record in run.records.values():
        by_task.setdefault(record.task, []).append(record)
    return [audit_records(task, by_task[task]) for task in run.tasks() if task in by_task]
