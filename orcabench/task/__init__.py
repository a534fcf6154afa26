"""Tasks: the protocol, one general implementation, and the registry.

A task is one short Python file plus Jinja2 template(s) under ``tasks/<bench>/``. The
file builds :class:`GenerativeTask` objects (or anything satisfying :class:`Task`) and
registers them with :func:`register`. Third-party packages add tasks through the
``orcabench.tasks`` entry-point group, whose targets are called with no arguments and
return an iterable of tasks (or register them on import).
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import jinja2

from orcabench.task.data import DataSpec
from orcabench.registry import Registry, caller_file, loading_plugin
from orcabench.types import Completion, Example, Message, OrcabenchError, RequestKind, Score


@runtime_checkable
class Task(Protocol):
    """What the run loop needs of a task.

    ``kind="generate"``: one request per example, ``score(example, [completion])``.
    ``kind="loglikelihood"``: one request per entry of ``continuations(example)``, all
    sharing the rendered prompt as context, and ``score(example, completions)`` sees them
    in that order.
    """

    name: str
    version: str
    description: str
    data: DataSpec
    kind: RequestKind

    def parse_row(self, row: dict[str, Any], index: int) -> Example: ...

    def render(self, example: Example) -> list[Message]: ...

    def continuations(self, example: Example) -> list[str]: ...

    def score_completions(self, example: Example, completions: Sequence[Completion]) -> Score: ...

    def template_hashes(self) -> dict[str, str]: ...

    @property
    def max_tokens(self) -> int: ...

    @property
    def stop(self) -> tuple[str, ...]: ...


@dataclass
class TemplateTask:
    """The shared part of the built-in task kinds: data, a row parser and a Jinja2 template.

    ``template`` names a file in ``template_dir`` rendered with the example's fields (and
    its ``answer_format``, for templates that word a question by its format) as the user
    message; an undefined variable is an error, never an empty string.
    """

    name: str
    version: str
    description: str
    data: DataSpec
    template_dir: Path
    template: str
    parse_row: Callable[[dict[str, Any], int], Example]
    chain_of_thought: bool = False  # the template asks for step-by-step reasoning (protocols may refuse it)
    # Alternative templates beside ``template`` (paraphrases of its instruction, same answer format):
    # what ``--prompt-variants`` runs, after the default (orcabench.task.variants).
    variants: tuple[str, ...] = ()
    # The template lists the options from ``Example.choices`` (``options_text`` / ``options_inline``), so
    # ``--circular`` may rotate them; False where the options sit inside the question text (BBH).
    circular: bool = False
    _environment: jinja2.Environment = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._environment = jinja2.Environment(
            loader=jinja2.FileSystemLoader(self.template_dir),
            undefined=jinja2.StrictUndefined,
            keep_trailing_newline=False,
            autoescape=False,
        )

    def render(self, example: Example, template: str | None = None) -> list[Message]:
        """The user message: ``template`` (one of :attr:`prompt_templates`; default :attr:`template`) on the example."""
        template = template or self.template
        try:
            text = self._environment.get_template(template).render(answer_format=example.answer_format, **example.fields)
        except jinja2.UndefinedError as error:
            raise OrcabenchError(f"task {self.name}: template {template} on example {example.id}: {error}") from error
        return [Message("user", text)]

    @property
    def prompt_templates(self) -> tuple[str, ...]:
        """The default template, then its declared paraphrases."""
        return (self.template, *self.variants)

    def template_hashes(self, templates: Sequence[str] | None = None) -> dict[str, str]:
        """The SHA-256 of each template's text (the default one unless ``templates`` names others)."""
        return {name: hashlib.sha256((self.template_dir / name).read_bytes()).hexdigest()
                for name in (templates or (self.template,))}


@dataclass
class GenerativeTask(TemplateTask):
    """A zero-shot task scored by extracting an answer from generated text.

    ``extract`` reads the answer out of the output and ``is_correct`` compares it with
    the gold. Tasks whose answer format varies by example (options to map option text to,
    BBH's per-subtask formats, math equivalence) give ``judge`` instead, which scores with
    the example in hand (see :mod:`orcabench.answers.formats`).
    """

    extract: Callable[[str], tuple[str | None, str]] | None = None
    is_correct: Callable[[str, str], bool] = lambda answer, gold: answer == gold
    max_tokens: int = 512
    stop: tuple[str, ...] = ()
    kind: RequestKind = "generate"
    judge: Callable[[Example, str], Score] | None = None

    def __post_init__(self) -> None:
        if (self.extract is None) == (self.judge is None):
            raise TypeError(f"task {self.name}: give exactly one of extract and judge")
        super().__post_init__()

    def continuations(self, example: Example) -> list[str]:
        return []

    def score(self, example: Example, completion: Completion) -> Score:
        if self.judge is not None:
            return self.judge(example, completion.text)
        assert self.extract is not None
        answer, method = self.extract(completion.text)
        correct = answer is not None and self.is_correct(answer, example.gold)
        return Score(answer=answer, method=method, score=1.0 if correct else 0.0)

    def score_completions(self, example: Example, completions: Sequence[Completion]) -> Score:
        (completion,) = completions
        return self.score(example, completion)


@dataclass
class LoglikelihoodChoiceTask(TemplateTask):
    """Multiple choice scored without generation: the option whose continuation (e.g.
    " B" after "Answer:") the model finds most likely is its answer (lm-eval's protocol).

    Examples carry their options in ``choices`` (see :func:`orcabench.answers.formats.choice_example`)
    and their gold is a letter.
    """

    continuation_format: str = " {letter}"
    kind: RequestKind = "loglikelihood"
    max_tokens: int = 1
    stop: tuple[str, ...] = ()

    def continuations(self, example: Example) -> list[str]:
        return [self.continuation_format.format(letter=letter) for letter in example.letters]

    def score_completions(self, example: Example, completions: Sequence[Completion]) -> Score:
        logprobs = [c.logprob if c.logprob is not None else float("-inf") for c in completions]
        answer = example.letters[max(range(len(logprobs)), key=logprobs.__getitem__)]
        return Score(answer=answer, method="loglikelihood-argmax", score=1.0 if answer == example.gold else 0.0)


def register(*tasks: Task) -> None:
    """Make tasks available by name (called from task files and plugins); a taken name is an error."""
    source = caller_file()
    for task in tasks:
        if not isinstance(task, Task):
            raise TypeError(f"{task!r} does not satisfy the orcabench Task protocol")
        TASKS.add(task.name, task, source)


def builtin_tasks_dir() -> Path:
    """``tasks/`` inside an installed wheel, or at the top of a source checkout."""
    package = Path(__file__).parent.parent
    packaged = package / "tasks"
    return packaged if packaged.is_dir() else package.parent / "tasks"


def _task_dirs() -> list[Path]:
    extra = [Path(p) for p in os.environ.get("ORCABENCH_TASKS_PATH", "").split(os.pathsep) if p]
    for directory in extra:
        # A mistyped folder would otherwise drop its tasks without a word ("unknown task" later).
        if not directory.is_dir():
            what = "is not a folder" if directory.exists() else "does not exist"
            raise OrcabenchError(f"ORCABENCH_TASKS_PATH names {directory}, which {what}: set it to folders "
                                 f"holding <task>/task.py files, separated by {os.pathsep!r}")
    return [builtin_tasks_dir(), *extra]


def _load_task_file(path: Path) -> None:
    module_name = "orcabench_tasks." + "_".join(path.relative_to(path.parents[1]).with_suffix("").parts)
    spec = importlib.util.spec_from_file_location(module_name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    with loading_plugin(str(path), "fix the file, or remove its folder from ORCABENCH_TASKS_PATH"):
        spec.loader.exec_module(module)


def _discover_tasks(registry: Registry[Task]) -> None:
    """Import every ``tasks/*/task.py`` and every ``orcabench.tasks`` entry point."""
    for directory in _task_dirs():
        for path in sorted(directory.glob("*/task.py")):
            _load_task_file(path)

    def add_provided(name: str, provided: Any, source: str) -> None:
        result = provided() if callable(provided) else provided
        for task in result or ():
            if not isinstance(task, Task):
                raise TypeError(f"{source} provided {task!r}, which does not satisfy the orcabench Task protocol")
            registry.add(task.name, task, source)

    registry.load_entry_points("orcabench.tasks", add_provided)


TASKS: Registry[Task] = Registry("task", _discover_tasks)


def discover() -> Registry[Task]:
    """Every task: built-in folders, ``ORCABENCH_TASKS_PATH`` folders and installed plugins."""
    return TASKS


def _add_suites(registry: Registry[tuple[str, ...]]) -> None:
    for name, members in _BUILTIN_SUITES.items():
        registry.add(name, members, __file__)


# Named sets of tasks, usable wherever a task name is. "orca2" is the paper's zero-shot
# table; the paper's reasoning headline (its Figure 4) averages the six REASONING_SUITE tasks, on
# the sets the paper scored: CRASS's 274 items (every paper cell is k/274; read from a mirror,
# crass-ai is the staged stand-in) and RACE's full test set (k/4,934).
REASONING_SUITE = ("agieval-mc", "bbh-mc", "drop", "crass", "race", "gsm8k")
# Tasks whose subtasks are reported alongside, but whose number is the accuracy over all
# their questions (micro), not the mean over subtasks: RACE's paper cells are k/4,934.
MICRO_AVERAGED = frozenset({"race"})
_BUILTIN_SUITES: dict[str, tuple[str, ...]] = {
    "orca2": (*REASONING_SUITE, "mmlu", "arc-easy", "arc-challenge", "hellaswag", "lambada"),
    "orca2-reasoning": REASONING_SUITE,
    "orca2-knowledge": ("mmlu", "arc-easy", "arc-challenge"),
    "orca2-completion": ("hellaswag", "lambada"),
}
SUITES: Registry[tuple[str, ...]] = Registry("suite", _add_suites)


def expand_task_names(names: Sequence[str]) -> list[str]:
    """Task names with suites replaced by their members, first occurrence kept."""
    return list(dict.fromkeys(member for name in names for member in SUITES.get(name, (name,))))


def get_tasks(names: Sequence[str]) -> list[Task]:
    expanded = expand_task_names(names)
    if not expanded:
        raise OrcabenchError("no task named: pass --tasks with task names or suites, e.g. --tasks gsm8k,bbh "
                             "(see `orcabench list tasks`)")
    unknown = [name for name in expanded if name not in TASKS]
    if unknown:
        raise OrcabenchError(
            f"unknown task {', '.join(unknown)}: choose from {', '.join(sorted(TASKS))} or a suite "
            f"({', '.join(SUITES)}) (see `orcabench list tasks`)"
        )
    return [TASKS[name] for name in expanded]


def all_tasks() -> Iterable[Task]:
    return TASKS.values()

