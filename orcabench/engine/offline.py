"""Scoring without a model: outputs made elsewhere (``orcabench score``) and stored runs again (``rescore``)."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from orcabench.console import say
from orcabench.models.registry import ThinkingFormat, resolve_model
from orcabench.engine.plan import checked_data_dir, load_examples
from orcabench.answers.second_stage import reread
from orcabench.answers.traces import judge, predicted_completion, separate_trace
from orcabench.store.files import check_writable_file, write_atomic
from orcabench.store.schema import Manifest, now, orcabench_version
from orcabench.store.reader import not_a_run
from orcabench.store.writer import RunStore
from orcabench.task.results_file import write_results
from orcabench.task.summary import TaskSummary, summarize
from orcabench.task import Task, all_tasks, get_tasks
from orcabench.task.variants import ROTATION, rotation_of, variant_kind
from orcabench.answers.formats import rotated
from orcabench.types import Completion, Example, OrcabenchError, Record


@dataclass(frozen=True)
class ScoredPredictions:
    summary: TaskSummary
    records: list[Record]
    problems: list[str]  # "file:line: what is wrong", one per skipped line
    other_tasks: dict[str, int] = field(default_factory=dict)  # lines whose "task" is another task: skipped, counted
    examples: int = 0  # the task's examples; those without a usable line are ``without_prediction``

    @property
    def without_prediction(self) -> int:
        return self.examples - len(self.records)


def score_predictions(task_name: str, predictions: Path, data_dir: Path | None = None, strict: bool = False,
                      model: str | None = None, output: Path | None = None) -> ScoredPredictions:
    """Score outputs produced elsewhere (one JSON object per line: id, output) with the task's extractor.

    Only final answers are scored: a line's think trace (in ``output``, or apart as
    ``reasoning_content``) is kept in the record, never read; ``model`` names other trace markers.
    A line with a ``task`` (a run's records.jsonl) counts for this task, or for a task that asks the same
    prompts of the same data (``drop`` outputs scored as ``drop-em``); other tasks' lines are skipped and counted.
    ``output``: the scored records as JSONL, written only once scoring succeeded
    (never into a run directory).
    """
    markers = resolve_model(model).reasoning if model else None
    (task,) = get_tasks([task_name])
    if task.kind != "generate":
        raise OrcabenchError(f"task {task.name} is scored by loglikelihood; `orcabench score` takes generated text: "
                             "pick a generative task")
    if predictions.is_dir():
        raise OrcabenchError(f"--predictions {predictions} is a directory; pass the JSONL file of predictions")
    if not predictions.is_file():
        raise OrcabenchError(f"predictions file {predictions} does not exist")
    if output is not None:
        check_writable_file(output, "--output")  # before the work: a bad --output fails fast, and nothing is written
        if output.resolve() == predictions.resolve():
            raise OrcabenchError(f"--output {output} is the predictions file; write the scored records elsewhere")
    examples = {e.id: e for e in load_examples(task, checked_data_dir(data_dir))[0]}
    records: dict[str, Record] = {}
    problems: list[str] = []
    other_tasks: Counter[str] = Counter()
    same_prompts = prompt_twins(task)
    with predictions.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if number == 1:
                raw = raw.removeprefix(BOM)  # editors on Windows start UTF-8 files with one
            if not raw.strip():
                continue
            problem, item = _prediction(raw, same_prompts, examples, records)
            if isinstance(item, str):  # another task's line
                other_tasks[item] += 1
                continue
            if problem:
                problems.append(f"{predictions}:{number}: {problem}")
                if strict:
                    raise OrcabenchError(f"{problems[-1]} (drop --strict to skip such lines)")
                continue
            example, line = item
            completion = predicted_completion(line)
            prompt = line.get("prompt") if isinstance(line.get("prompt"), str) else ""  # says whether it opened a trace
            judged = judge(task, example, [completion], markers, prompt)
            records[example.id] = Record(
                task=task.name, id=example.id, subtask=example.subtask, cluster=example.cluster, prompt="", prompt_sha256="",
                output=completion.text,
                gold=example.gold, prompt_tokens=0, output_tokens=completion.output_tokens,
                finish_reason=completion.finish_reason, **judged.record_fields(),
            )
    if not records:
        others = f"; {sum(other_tasks.values())} line(s) of other tasks ({', '.join(sorted(other_tasks))})" if other_tasks else ""
        raise OrcabenchError(f"{predictions}: no usable prediction lines for task {task.name} "
                             f"(each line: {{\"id\": ..., \"output\": ...}}); "
                             + (problems[0] if problems else "the file is empty") + others)
    if output is not None:
        write_atomic(output, "".join(json.dumps(r.to_json(), ensure_ascii=False) + "\n" for r in records.values()), "--output")
    return ScoredPredictions(summarize(task.name, list(records.values())), list(records.values()), problems,
                             dict(other_tasks), len(examples))


BOM = "\ufeff".encode("utf-8")


def prompt_twins(task: Task) -> set[str]:
    """The task and every task that sends the same prompts over the same data (same kind, data, template): their
    outputs answer this task's questions, scored by this task's rule."""
    def prompts(other: Task) -> tuple[Any, ...]:
        return (other.kind, getattr(other, "data", None), getattr(other, "template_dir", None), getattr(other, "template", None),
                getattr(other, "parse_row", None))

    mine = prompts(task)
    return {task.name} | {other.name for other in all_tasks() if mine[1] is not None and prompts(other) == mine}


def _prediction(raw: bytes, task_names: set[str], examples: dict[str, Example],
                seen: dict[str, Record]) -> tuple[str | None, Any]:
    """(problem, None) for a bad line, (None, (example, line)) for a good one, (None, task) for another task's line."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        return f"not UTF-8 text (byte 0x{raw[error.start]:02x} at column {error.start + 1})", None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        return f"not JSON ({error.msg})", None
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as error:  # a lone surrogate such as "\ud800": JSON allows it, Unicode text does not
        return f"holds a lone surrogate ({error.object[error.start:error.end]!a}), which is not Unicode text", None
    if not isinstance(value, dict) or not isinstance(value.get("output"), str) or "id" not in value:
        return "expected an object with \"id\" and a string \"output\"", None
    if "task" in value:
        if not isinstance(value["task"], str):
            return f"\"task\" must be a task name, not {value['task']!r}", None
        if value["task"] not in task_names:
            return None, value["task"]
    sample_id = str(value["id"])
    if sample_id not in examples:
        return f"unknown example id {sample_id!r}", None
    if sample_id in seen:
        return f"duplicate id {sample_id!r} (the first one counts)", None
    return None, (examples[sample_id], value)


@dataclass(frozen=True)
class RescoreResult:
    summaries: list[TaskSummary]
    changed: int
    backup: Path


def rescore(run_dir: Path, data_dir: Path | None = None) -> RescoreResult:
    """Score a stored run's outputs again with today's extractors; no model is loaded.

    The records file is replaced atomically and the previous one kept beside it, so the
    change is traceable; the manifest lists each rescore.
    """
    store = RunStore(run_dir, when_busy="rescore it once that process has finished")
    manifest = store.manifest() if run_dir.is_dir() else None
    if manifest is None:
        raise not_a_run(run_dir, "pass a run directory")
    fingerprint = manifest.fingerprint
    store.open(fingerprint)
    try:
        data_dir = checked_data_dir(data_dir) or recorded_data_dir(manifest)
        tasks = get_tasks(list(fingerprint.tasks))
        recorded = fingerprint.thinking_markers
        markers = ThinkingFormat(**recorded) if recorded is not None else None
        old = store.records()
        for notice in store.take_notices():  # what opening repaired, and lines it could not read: the store does not print
            say(notice, style="yellow")
        new: list[Record] = []
        for task in tasks:
            examples, provenance = load_examples(task, data_dir)
            if provenance.get("files") and provenance["files"] != fingerprint.tasks[task.name]["data"]:
                raise OrcabenchError(f"the data of task {task.name} differs from the run's (file hashes); "
                                     "point --data-dir at the run's data")
            by_id = {e.id: e for e in examples}
            for record in old.values():
                if record.task == task.name:  # every variant's record, read against the question as it was asked
                    new.append(_rescored(task, asked(by_id[record.id], record.variant), record, markers))
        changed = sum(old[record.key] != record for record in new)  # by key: old is in completion order
        backup = store.replace_records(new)
        manifest.rescores.append({"at": now(), "changed": changed, "orcabench": orcabench_version(),
                                  "previous_records": backup.name})
        store.write_manifest(manifest)
        write_results(run_dir, manifest, new)  # the scores changed: so do the run's results
    finally:
        store.close()
    firsts = {task.name: (fingerprint.tasks[task.name].get("variants") or [None])[0] for task in tasks}
    summaries = [summarize(task.name, [r for r in new if r.task == task.name and r.variant == firsts[task.name]])
                 for task in tasks]
    return RescoreResult(summaries, changed, backup)


def asked(example: Example, variant: str | None) -> Example:
    """The example as a record's variant asked it: its options rotated for a ``--circular`` rotation, else as read."""
    if variant is not None and variant_kind(variant) == ROTATION:
        return rotated(example, rotation_of(variant))
    return example


def recorded_data_dir(manifest: Manifest) -> Path | None:
    for provenance in manifest.data.values():
        if isinstance(provenance, dict) and provenance.get("data_dir"):
            return Path(provenance["data_dir"])
    return None


def _rescored(task: Task, example: Example, record: Record, markers: ThinkingFormat | None) -> Record:
    if task.kind == "loglikelihood":
        completions = [Completion(logprob=lp) for lp in record.extra["logprobs"]]
    else:
        completions = [Completion(text=record.output, reasoning=separate_trace(record.to_json()),
                                  reasoning_tokens=record.reasoning_tokens, finish_reason=record.finish_reason)]
    judged = judge(task, example, completions, markers, record.prompt)
    rescored = replace(record, **judged.record_fields({k: v for k, v in record.extra.items() if k != "reasoning_source"}))
    return reread(task, example, rescored)  # a two-stage record's stored reply, read again
