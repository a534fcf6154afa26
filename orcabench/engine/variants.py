"""A plan's tasks expanded into variants: ``--prompt-variants all|N`` and ``--circular``.

Each variant is a :class:`orcabench.task.variants.VariantTask` with its own examples in the
plan (``plan.examples["gsm8k@zeroshot-p1"]``), so rendering, the one execution loop, the store
and resume work per (variant, id) unchanged. The fingerprint keeps one entry per task,
naming every template it ran by a hash of its text, and the variants in order; a run without
variants has the fingerprint it always had.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from orcabench.answers.formats import rotated
from orcabench.task import Task, all_tasks
from orcabench.task.variants import VariantTask, prompt_variants, rotates, rotation_variant, template_variant
from orcabench.types import Example, OrcabenchError

ALL = "all"


def parse_count(value: str | int | None) -> int | str | None:
    """``--prompt-variants``: "all", or a positive whole number of variants (the default template first)."""
    if value is None or value == ALL:
        return value
    try:
        count = int(value)
    except (TypeError, ValueError):
        count = 0
    if isinstance(value, bool) or count < 1 or str(count) != str(value).strip():
        raise OrcabenchError(f"--prompt-variants takes 'all' or a positive number of prompt variants, not {value!r}")
    return count


def check(tasks: Sequence[Task], prompt_count: int | str | None, circular: bool) -> None:
    """Refuse what cannot run, naming the tasks: variants of a task that has none (or fewer than asked),
    rotations of a task whose options are not its template's to list, or both at once."""
    if prompt_count is not None and circular:
        raise OrcabenchError("--prompt-variants and --circular each make their own variants of a task: run them "
                             "as two runs")
    if circular:
        refused = [task.name for task in tasks if not rotates(task)]
        if refused:
            allowed = ", ".join(sorted(t.name for t in all_tasks() if rotates(t)))
            raise OrcabenchError(f"--circular rotates the options of multiple-choice tasks; {', '.join(refused)} "
                                 f"{'has' if len(refused) == 1 else 'have'} none to rotate (e.g. {allowed})")
    if prompt_count is None:
        return
    for task in tasks:
        available = len(prompt_variants(task))
        if not available:
            having = ", ".join(sorted(t.name for t in all_tasks() if prompt_variants(t)))
            raise OrcabenchError(f"--prompt-variants: task {task.name} declares no prompt variants (tasks with them: "
                                 f"{having})")
        if prompt_count != ALL and int(prompt_count) > available:
            raise OrcabenchError(f"--prompt-variants {prompt_count}: task {task.name} has {available} prompt variants "
                                 f"(its default template and {available - 1} paraphrases); ask for at most {available}")


def expand(tasks: Sequence[Task], examples: dict[str, list[Example]], prompt_count: int | str | None,
           circular: bool) -> tuple[list[Task], dict[str, list[Example]]]:
    """The tasks as the run asks them: each task's variants in order (prompt templates, or rotations ``r0``..)
    with their examples; unchanged without either option. The same example id appears under every variant."""
    check(tasks, prompt_count, circular)
    if prompt_count is None and not circular:
        return list(tasks), examples
    expanded: list[Task] = []
    variant_examples: dict[str, list[Example]] = {}
    for task in tasks:
        own = examples[task.name]
        if circular:
            for shift in range(max((len(e.choices) for e in own), default=0)):
                variant = VariantTask(task, rotation_variant(shift))
                expanded.append(variant)
                variant_examples[variant.name] = [rotated(e, shift) for e in own if shift < len(e.choices)]
        else:
            templates = prompt_variants(task)
            for template in templates if prompt_count == ALL else templates[: int(str(prompt_count))]:
                variant = VariantTask(task, template_variant(template), template)
                expanded.append(variant)
                variant_examples[variant.name] = list(own)
    return expanded, variant_examples


def fingerprint_entry(tasks: Sequence[Task], task: Task, entry: dict[str, Any]) -> dict[str, Any]:
    """A task's fingerprint entry with its variants: every template run, by the hash of its text, and the variants in
    order (the first is the one a leaderboard cell shows). ``tasks`` are the plan's, variants included."""
    own = [t for t in tasks if isinstance(t, VariantTask) and t.task_name == task.name]
    if not own:
        return entry
    templates = [t.template for t in own if t.template] or None
    hashes = task.template_hashes(templates) if templates else task.template_hashes()  # type: ignore[call-arg]
    return {**entry, "templates": hashes, "variants": [t.variant for t in own]}
