"""lm-evaluation-harness task configs that read a local data mirror instead of the Hub.

lm-eval's own ``arc_easy``, ``gsm8k`` and ``mmlu`` configs load their data from the
Hugging Face Hub. :func:`write_local_tasks` writes configs of the same names into a
folder, for every staged file the mirror holds: each *includes* lm-eval's own YAML (so
prompt, metrics and filters stay upstream's) and only swaps the data source for the
mirror's upstream-format file. The folder goes to lm-eval as an include path, which
overrides the built-in configs of the same names.

It also writes ``orcabench_gsm8k`` and ``orcabench_mmlu_ll``: lm-eval tasks with
orcabench's own prompts and answer extraction (the parity test and the speed benchmark
run them); ``docs/lm-eval.md`` lists what still differs.

This module imports nothing from lm-eval: the functions below are referenced from the
YAML (``!function orcabench.lmeval.tasks.<name>``) and run inside lm-eval.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import yaml

from orcabench.answers.formats import judge, make_example
from orcabench.answers.pipeline import RulePipeline
from orcabench.answers.text import normalize_number
from orcabench.types import OrcabenchError

INVALID = "[invalid]"  # lm-eval's filters answer this when nothing could be extracted
_MMLU_COLUMNS = ("question", "A", "B", "C", "D", "answer")


# --- functions the YAML refers to ---------------------------------------------------------


def mmlu_csv(data_files: dict[str, str], **_: Any) -> Any:
    """``custom_dataset``: MMLU's header-less upstream CSVs in cais/mmlu's layout.

    Read with Python's csv module, as orcabench reads them: the ``csv`` dataset builder
    (pandas) would turn options such as "None" into NaN and "0.50" into 0.5.
    """
    import datasets

    splits = {}
    for split, path in data_files.items():
        with open(path, newline="", encoding="utf-8") as handle:
            rows = [dict(zip(_MMLU_COLUMNS, row)) for row in csv.reader(handle)]
        splits[split] = datasets.Dataset.from_list(
            [{"question": r["question"], "choices": [r["A"], r["B"], r["C"], r["D"]], "answer": "ABCD".index(r["answer"].strip())}
             for r in rows]
        )
    return datasets.DatasetDict(splits)


def gsm8k_gold(doc: dict[str, Any]) -> str:
    """orcabench's gold for a GSM8K row: the number after '####', normalised."""
    return normalize_number(doc["answer"].rsplit("####", 1)[1]) or INVALID


def number_filter(resps: Any, docs: Any) -> list[list[str]]:
    """orcabench's reading of a number answer (the reading pipeline around :func:`orcabench.answers.text.extract_number`)
    as an lm-eval filter. lm-eval does not hand filters the finish reason, so an output cut at the token limit is
    known as cut off only where its text stops mid-clause; orcabench's own runs know it always."""
    example = make_example("lm-eval", {}, "", "number")
    return [[RulePipeline(judge).read(r, example).score.answer or INVALID for r in doc_resps] for doc_resps in resps]


# --- the configs --------------------------------------------------------------------------


def _upstream_dir() -> Path:
    import importlib.util

    spec = importlib.util.find_spec("lm_eval")
    if spec is None or spec.origin is None:
        raise OrcabenchError("lm-eval task configs include lm-eval's own YAML: pip install 'orcabench[lm-eval]'")
    return Path(spec.origin).parent / "tasks"


class _Function(str):
    """A value written as lm-eval's ``!function module.name`` tag."""


class _Dumper(yaml.SafeDumper):
    pass


_Dumper.add_representer(_Function, lambda dumper, value: dumper.represent_scalar("!function", str(value)))
# Prompts read as they render: multi-line strings as literal blocks.
_Dumper.add_representer(str, lambda dumper, value: dumper.represent_scalar("tag:yaml.org,2002:str", value,
                                                                           style="|" if "\n" in value else None))


def _here(name: str) -> _Function:
    return _Function(f"{__name__}.{name}")


def _write(path: Path, config: dict[str, Any]) -> None:
    path.write_text(yaml.dump(config, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=1000), encoding="utf-8")


def _local(files: dict[str, Path]) -> dict[str, Any]:
    return {"dataset_path": "json", "dataset_name": None, "dataset_kwargs": {"data_files": {s: str(p) for s, p in files.items()}}}


def write_local_tasks(data_dir: Path, out_dir: Path) -> list[str]:
    """Write local-data lm-eval configs for the files ``data_dir`` holds; the task and group names written."""
    upstream = _upstream_dir()
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[str] = []
    data_dir = data_dir.resolve()

    # ARC: the mirror has llm-foundry's re-format ({"query": "Question: ...", "choices", "gold"}),
    # so the prompt fields are re-pointed; the text is upstream's "Question: {question}\nAnswer:".
    for name, file in (("arc_easy", "arc/arc_easy.jsonl"), ("arc_challenge", "arc/arc_challenge.jsonl")):
        if (data_dir / file).is_file():
            _write(out_dir / f"{name}.yaml", {
                "include": str(upstream / "arc" / f"{name}.yaml"), "task": name, **_local({"test": data_dir / file}),
                "training_split": None, "validation_split": None, "test_split": "test",
                "doc_to_text": "{{query}}\nAnswer:", "doc_to_target": "{{gold}}", "doc_to_choice": "{{choices}}",
                "doc_to_decontamination_query": "{{query}}\nAnswer:",
            })
            written.append(name)

    gsm8k_test, gsm8k_train = data_dir / "gsm8k/test.jsonl", data_dir / "gsm8k/train.jsonl"
    if gsm8k_test.is_file() and gsm8k_train.is_file():  # upstream is 5-shot from train
        _write(out_dir / "gsm8k.yaml", {"include": str(upstream / "gsm8k" / "gsm8k.yaml"), "task": "gsm8k",
                                        **_local({"train": gsm8k_train, "test": gsm8k_test})})
        written.append("gsm8k")
    if gsm8k_test.is_file():
        _write(out_dir / "orcabench_gsm8k.yaml", {
            "task": "orcabench_gsm8k", **_local({"test": gsm8k_test}), "test_split": "test",
            "output_type": "generate_until", "doc_to_text": "{{question}}",
            "generation_kwargs": {"until": [], "do_sample": False, "temperature": 0.0, "max_gen_toks": 512},
            "doc_to_target": _here("gsm8k_gold"),
            "filter_list": [{"name": "orcabench", "filter": [{"function": "custom", "filter_fn": _here("number_filter")},
                                                             {"function": "take_first"}]}],
            "metric_list": [{"metric": "exact_match", "aggregation": "mean", "higher_is_better": True}],
            "metadata": {"version": 1.0},
        })
        written.append("orcabench_gsm8k")

    written += _write_mmlu(upstream / "mmlu" / "default", data_dir / "mmlu", out_dir)
    return written


def _write_mmlu(upstream: Path, mirror: Path, out_dir: Path) -> list[str]:
    subjects = sorted(p.stem.removeprefix("mmlu_") for p in upstream.glob("mmlu_*.yaml"))
    # Upstream draws its (optional) few-shot examples from dev, and loads that split up front.
    splits = {s: {"test": mirror / "test" / f"{s}_test.csv", "dev": mirror / "dev" / f"{s}_dev.csv"} for s in subjects}
    if not subjects or not all(path.is_file() for files in splits.values() for path in files.values()):
        return []
    mmlu_dir = out_dir / "mmlu"
    mmlu_dir.mkdir(exist_ok=True)
    data = {"dataset_path": "csv", "dataset_name": None, "custom_dataset": _here("mmlu_csv")}
    for subject in subjects:
        files = {split: str(path) for split, path in splits[subject].items()}
        # Upstream's prompt, metrics, tags (mmlu_stem_tasks, ...) and description, local rows.
        _write(mmlu_dir / f"mmlu_{subject}.yaml", {"include": str(upstream / f"mmlu_{subject}.yaml"), **data,
                                                   "dataset_kwargs": {"data_files": files}})
        # orcabench's mmlu-ll: its prompt (tasks/mmlu/zeroshot.j2) and continuations " A".." D".
        _write(mmlu_dir / f"orcabench_mmlu_ll_{subject}.yaml", {
            "task": f"orcabench_mmlu_ll_{subject}", "task_alias": subject, "tag": "orcabench_mmlu_ll_tasks", **data,
            "dataset_kwargs": {"data_files": {"test": files["test"]}}, "test_split": "test", "output_type": "multiple_choice",
            "doc_to_text": f"The following is a multiple choice question about {subject.replace('_', ' ')}.\n\n"
                           "{{question.strip()}}\n(A) {{choices[0]}}\n(B) {{choices[1]}}\n"
                           "(C) {{choices[2]}}\n(D) {{choices[3]}}\nAnswer:",
            # lm-eval drops target_delimiter under a chat template; the space lives in the choices instead.
            "doc_to_choice": [" A", " B", " C", " D"], "target_delimiter": "", "doc_to_target": "answer",
            "metric_list": [{"metric": "acc", "aggregation": "mean", "higher_is_better": True}],
            "metadata": {"version": 1.0},
        })
    # The upstream groups (mmlu, mmlu_stem, ...) by reference, so they resolve without lm-eval's own index.
    for group in upstream.glob("_mmlu*.yaml"):
        _write(mmlu_dir / f"{group.stem}.yaml", {"include": str(group)})
    _write(mmlu_dir / "orcabench_mmlu_ll.yaml", {
        "group": "orcabench_mmlu_ll", "task": ["orcabench_mmlu_ll_tasks"],
        "aggregate_metric_list": [{"metric": "acc", "weight_by_size": True}], "metadata": {"version": 1.0},
    })
    return ["mmlu", "mmlu_stem", "mmlu_humanities", "mmlu_social_sciences", "mmlu_other", "orcabench_mmlu_ll",
            *(f"mmlu_{s}" for s in subjects), *(f"orcabench_mmlu_ll_{s}" for s in subjects)]
