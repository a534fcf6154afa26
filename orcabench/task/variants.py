"""Task variants: one task asked several ways in one run (``--prompt-variants``, ``--circular``).

A :class:`VariantTask` is a task under another name (``gsm8k@zeroshot-p1``, ``arc-easy@r2``)
that renders with one of the task's declared templates, or on examples whose options were
rotated (the plan does that: :func:`orcabench.engine.variants.expand`). Everything else — data,
reading, scoring — is the task's own, and its records keep the task's name and the example's
id, with the variant in :attr:`orcabench.types.Record.variant`: the same id under each variant
is the same question, so variants pair like runs do.

Variant names: a prompt variant is its template's file name without ``.j2`` (the default
template comes first); a rotation is ``r<k>``, the options shifted ``k`` places (``r0`` is the
order the data gives).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

from orcabench.task import Task
from orcabench.types import Completion, Example, Message, RequestKind, Score, variant_label

ROTATION_PREFIX = "r"
# The two kinds of variant a run may hold; what a report computes differs (spread vs circular accuracy).
PROMPT, ROTATION = "prompt", "rotation"


def template_variant(template: str) -> str:
    """A prompt variant's name: its template's file name without the extension ("zeroshot-p1")."""
    return PurePath(template).stem


def rotation_variant(shift: int) -> str:
    return f"{ROTATION_PREFIX}{shift}"


def variant_kind(variant: str) -> str:
    """ROTATION for ``r<k>``, else PROMPT."""
    rest = variant.removeprefix(ROTATION_PREFIX)
    return ROTATION if rest != variant and rest.isdigit() else PROMPT


def rotation_of(variant: str) -> int:
    return int(variant.removeprefix(ROTATION_PREFIX))


@dataclass(frozen=True)
class VariantTask:
    """``base`` under the name ``base.name@variant``; ``template``: the template it renders with (None: the default)."""

    base: Any  # a Task (a TemplateTask for prompt variants)
    variant: str
    template: str | None = None

    @property
    def name(self) -> str:
        return variant_label(self.base.name, self.variant)

    @property
    def task_name(self) -> str:
        """The task's own name, as its records store it."""
        return str(self.base.name)

    @property
    def version(self) -> str:
        return str(self.base.version)

    @property
    def description(self) -> str:
        return f"{self.base.description} — variant {self.variant}"

    @property
    def data(self) -> Any:
        return self.base.data

    @property
    def kind(self) -> RequestKind:
        kind: RequestKind = self.base.kind
        return kind

    @property
    def max_tokens(self) -> int:
        return int(self.base.max_tokens)

    @property
    def stop(self) -> tuple[str, ...]:
        return tuple(self.base.stop)

    @property
    def chain_of_thought(self) -> bool:
        return bool(getattr(self.base, "chain_of_thought", False))

    def parse_row(self, row: dict[str, Any], index: int) -> Example:
        example: Example = self.base.parse_row(row, index)
        return example

    def render(self, example: Example) -> list[Message]:
        messages: list[Message] = (self.base.render(example, self.template) if self.template
                                   else self.base.render(example))
        return messages

    def continuations(self, example: Example) -> list[str]:
        return list(self.base.continuations(example))

    def score_completions(self, example: Example, completions: Sequence[Completion]) -> Score:
        score: Score = self.base.score_completions(example, completions)
        return score

    def score(self, example: Example, completion: Completion) -> Score:
        return self.score_completions(example, [completion])

    def template_hashes(self) -> dict[str, str]:
        hashes: dict[str, str] = (self.base.template_hashes([self.template]) if self.template
                                  else self.base.template_hashes())
        return hashes

    def __getattr__(self, name: str) -> Any:  # judge, extract and whatever else a reader asks of the task
        if name.startswith("__") or name == "base":  # not yet set (a copy being built): no recursion
            raise AttributeError(name)
        return getattr(self.base, name)


def task_and_variant(task: Task) -> tuple[str, str | None]:
    """The name a record of ``task`` stores, and its variant (None for an ordinary task)."""
    if isinstance(task, VariantTask):
        return task.task_name, task.variant
    return task.name, None


def prompt_variants(task: Task) -> tuple[str, ...]:
    """The templates ``--prompt-variants`` may run for a task: its default, then its paraphrases (() if it has none)."""
    templates = tuple(getattr(task, "prompt_templates", ()))
    return templates if len(templates) > 1 else ()


def rotates(task: Task) -> bool:
    """Whether ``--circular`` may rotate the task's options (a multiple-choice template listing ``Example.choices``)."""
    return bool(getattr(task, "circular", False))
