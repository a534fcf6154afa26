"""Every example of every benchmark task: counted, rendered, and read back from model-style answers.

For each example, answers a model could write are built from the gold in several
phrasings; each must extract back to the gold and score 1. This checks the parsers, the
templates and the data together on all ~29k staged examples (no model, no tokenizer).
"""

from __future__ import annotations

import json
import runpy
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from types import SimpleNamespace

import pytest

from orcabench.answers.formats import _canonical_latex
from orcabench.task.data import load_rows
from orcabench.answers.text import normalize_text as _normalize_text
from orcabench.task import GenerativeTask, builtin_tasks_dir, get_tasks
from orcabench.types import Completion, Example

TASKS = ["bbh", "bbh-cot", "bbh-mc", "agieval", "agieval-mc", "mmlu", "arc-easy", "arc-challenge", "lambada", "crass-ai", "gsm8k"]


@cache
def examples(name: str, data_dir: Path) -> list[Example]:
    (task,) = get_tasks([name])
    rows, _ = load_rows(task.data, data_dir, name, strict=True)
    return [task.parse_row(row.values, index) for index, row in enumerate(rows)]


def manifest_count(task: GenerativeTask, data_dir: Path) -> int:
    files = json.loads((data_dir / "manifest.json").read_text())["files"]
    return sum(files[path]["examples"] for path in task.data.local_files)


@pytest.mark.parametrize("name", TASKS)
def test_counts_match_the_data_manifest_and_ids_are_unique(name: str, data_dir: Path) -> None:
    (task,) = get_tasks([name])
    found = examples(name, data_dir)
    assert len(found) == manifest_count(task, data_dir)
    assert len({example.id for example in found}) == len(found)


def test_suite_sizes(data_dir: Path) -> None:
    sizes = {name: len(examples(name, data_dir)) for name in TASKS}
    assert sizes == {"bbh": 6511, "bbh-cot": 6511, "bbh-mc": 5511, "agieval": 3852, "agieval-mc": 2546, "mmlu": 14042,
                     "arc-easy": 2376, "arc-challenge": 1172, "lambada": 5153, "crass-ai": 44, "gsm8k": 1319}
    assert len({e.subtask for e in examples("bbh", data_dir)}) == 27
    assert len({e.subtask for e in examples("mmlu", data_dir)}) == 57


def _choice_answers(example: Example) -> Iterator[str]:
    letter, letters, options = example.gold, example.letters, example.choices
    text = options[letters.index(letter)]
    other = letters[(letters.index(letter) + 1) % len(letters)]
    yield f"The answer is ({letter})."
    yield f"**{letter}**"
    yield f"Answer: {letter}"
    yield f"({letter}) {text}"
    yield f"\\boxed{{{letter}}}"
    yield f"The correct option is {letter.lower()} because it is the only one that fits."
    yield f"Option ({other}) looks tempting at first. However, the answer is ({letter}) {text}. The others do not hold."
    unique = [_normalize_text(option) for option in options].count(_normalize_text(text)) == 1
    # an option text that is a prefix of another is ambiguous
    if unique and "\n" not in text and len(_normalize_text(text)) > 1 and not any(
        _normalize_text(option).startswith(_normalize_text(text)) for option in options if option != text
    ):
        yield f"The answer is {text}."


def _answers(example: Example) -> Iterator[str]:
    gold, answer_format = example.gold, example.answer_format or "number"
    if answer_format == "choice":
        yield from _choice_answers(example)
    elif answer_format == "label":
        yield from (f"The answer is {gold}.", f"Therefore, the answer is {gold}.", f"**{gold}**", f"\\boxed{{{gold}}}",
                    f"{gold}, because that is what the question implies.", f"Answer: {gold.lower()}")
    elif answer_format == "number":
        yield from (f"The answer is {gold}.", f"**{gold}**", f"First, 2 + 3 = 5. So the answer is {gold}.",
                    f"Final answer: {gold}")
    elif answer_format == "dyck":
        yield from (f"The answer is {gold}.", f"Answer: {gold.replace(' ', '')}", f"`{gold}`",
                    f"So the closing sequence is: {gold}")
    elif answer_format == "words":
        words = gold.split()
        yield from (f"The answer is: {gold}", "Sorted list:\n" + "\n".join(f"{i}. {w}" for i, w in enumerate(words, 1)),
                    gold, f"**{', '.join(words)}**")
    elif answer_format == "last-word":
        yield from (gold, f'The missing word is "{gold}".', f"**{gold}**", f"{gold.capitalize()}.", f"Answer: {gold}")
    elif answer_format == "math":
        yield from (f"The answer is ${gold}$.", f"$\\boxed{{{gold}}}$",
                    f"We simplify, and $x = 2$ is a red herring. Final answer: ${gold}$. This completes the solution.")
    elif answer_format == "text":
        yield from (f"The answer is {gold}.", f"So the movie is this one.\n{gold}")
    else:
        raise AssertionError(f"no phrasings for answer format {answer_format}")


# bbh-cot, bbh-mc and agieval-mc hold the same examples as bbh / agieval (other prompts or a
# subset): they are rendered in full, and their scoring is the same judge.
SCORED = [name for name in TASKS if name not in ("bbh-cot", "bbh-mc", "agieval-mc")]


@pytest.mark.parametrize("name", TASKS)
def test_every_example_renders(name: str, data_dir: Path) -> None:
    (task,) = get_tasks([name])
    for example in examples(name, data_dir):
        assert task.render(example)[0].content.strip()  # StrictUndefined: a missing variable raises


@pytest.mark.parametrize("name", SCORED)
def test_every_example_renders_and_gold_answers_extract_back(name: str, data_dir: Path) -> None:
    (task,) = get_tasks([name])
    failures: list[str] = []
    checked = 0
    for example in examples(name, data_dir):
        prompt = task.render(example)[0].content  # StrictUndefined: a missing variable raises
        assert prompt.strip()
        for output in _answers(example):
            verdict = task.score(example, Completion(text=output))
            checked += 1
            if verdict.score != 1.0:
                failures.append(f"{example.id}: {output!r} -> {verdict.answer!r} ({verdict.method}), gold {example.gold!r}")
    assert not failures, f"{len(failures)} of {checked} answers misread, e.g.\n" + "\n".join(failures[:15])
    assert checked >= 3 * len(examples(name, data_dir))


def test_math_gold_answers_are_self_equivalent_by_string(data_dir: Path) -> None:
    """Gold-vs-gold never needs sympy: the test above stays fast, math-verify is for real outputs."""
    golds = [e.gold for e in examples("agieval", data_dir) if e.answer_format == "math"]
    assert len(golds) == 1000 and all(_canonical_latex(g) for g in golds)


def test_mmlu_categories_cover_exactly_the_57_subjects(data_dir: Path) -> None:
    module = SimpleNamespace(**runpy.run_path(str(builtin_tasks_dir() / "mmlu" / "task.py")))
    on_disk = {p.name.removesuffix("_test.csv") for p in (data_dir / "mmlu" / "test").glob("*_test.csv")}
    assert set(module.CATEGORY_OF) == on_disk and len(on_disk) == 57
    assert {c: len(s) for c, s in module.CATEGORIES.items()} == {"STEM": 19, "humanities": 13, "social sciences": 12, "other": 13}
