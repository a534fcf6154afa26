"""lm-evaluation-harness output as orcabench records, and ``orcabench import lm-eval``.

The same code turns lm-eval's ``results_*.json`` + ``samples_*.jsonl`` into records and a
fingerprint whether the output was made by ``orcabench run --tasks lm-eval:...`` (see
:mod:`orcabench.lmeval.bridge`) or by lm-eval itself, so runs and imports gate against
each other.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orcabench.task.data import sha256_file
from orcabench.lmeval.tasks import INVALID
from orcabench.engine.session import RunSession, show_store_notices
from orcabench.store.schema import Fingerprint, Session, now, run_dir_name
from orcabench.store.writer import read_json
from orcabench.task.summary import TaskSummary, summarize
from orcabench.types import OrcabenchError, Record

PREFIX = "lm-eval:"
PROTOCOL = "lm-eval"
# Config keys that say where the rows come from: they go to the fingerprint's "data", not its "templates".
_DATA_KEYS = frozenset({"dataset_path", "dataset_name", "dataset_kwargs", "custom_dataset", "metadata"})
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+>")  # str() of a function: the address differs per process


# --- fingerprints: the same for a run made here and for imported output ---------------------


@dataclass(frozen=True)
class TaskGroup:
    """One orcabench task of an lm-eval run: an lm-eval group, or a single lm-eval task."""

    key: str  # "lm-eval:<name>"
    leaves: tuple[str, ...]  # lm-eval task names
    grouped: bool  # ids are "<leaf>/<doc_id>" (a group's tasks share one orcabench task)


def normalized_config(config: dict[str, Any]) -> dict[str, Any]:
    """A task config as lm-eval writes it into results_*.json (JSON-safe, functions by name)."""
    text = json.dumps(config, default=lambda o: o.item() if hasattr(o, "item") else sorted(o) if isinstance(o, set) else str(o))
    return json.loads(_ADDRESS.sub(">", text))


def _data_identity(config: dict[str, Any]) -> dict[str, Any]:
    """Where a task's rows come from: the dataset, and the sha256 of each local data file."""
    identity: dict[str, Any] = {"dataset_path": config.get("dataset_path"), "dataset_name": config.get("dataset_name")}
    kwargs = config.get("dataset_kwargs") or {}
    files = kwargs.get("data_files")
    if isinstance(files, (str, list)):
        files = {"train": files}  # datasets' split for bare data_files
    if files:
        identity["files"] = {split: [_digest(p) for p in paths] if isinstance(paths, list) else _digest(paths)
                             for split, paths in sorted(files.items())}
    elif kwargs.get("revision"):
        identity["revision"] = kwargs["revision"]
    return identity


def _digest(path: str) -> str:
    # By content, not path: a mirror may sit anywhere. A file absent here (imported
    # output from another machine) keeps its path, so a gate names what differs.
    return sha256_file(Path(path)) if Path(path).is_file() else f"missing: {path}"


def task_entry(configs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The fingerprint of one orcabench task from its lm-eval tasks' (normalized) configs."""
    return {
        "version": {leaf: str((c.get("metadata") or {}).get("version")) for leaf, c in configs.items()},
        "templates": {leaf: hashlib.sha256(json.dumps({k: v for k, v in c.items() if k not in _DATA_KEYS}, sort_keys=True)
                                           .encode()).hexdigest() for leaf, c in configs.items()},
        "data": {leaf: _data_identity(c) for leaf, c in configs.items()},
    }


# --- lm-eval output -> records --------------------------------------------------------------


@dataclass(frozen=True)
class LmEvalOutput:
    """One lm-eval results file and the per-sample rows (``--log_samples``) beside it."""

    results_file: Path
    results: dict[str, Any]
    samples: dict[str, list[dict[str, Any]]]  # lm-eval task -> rows


def read_output(path: Path) -> LmEvalOutput:
    """lm-eval's output: ``path`` is a results_*.json or a folder holding exactly one (at any depth)."""
    if path.is_dir():
        found = sorted(path.rglob("results_*.json"))
        if not found:
            raise OrcabenchError(f"no lm-eval results_*.json under {path}: pass the folder lm-eval's --output_path wrote")
        if len(found) > 1:
            shown = ", ".join(str(p) for p in found[:3])
            raise OrcabenchError(f"{path} holds {len(found)} lm-eval results files ({shown}{', …' if len(found) > 3 else ''}); "
                                 "pass the one to import")
        path = found[0]
    if not path.is_file():
        raise OrcabenchError(f"{path} does not exist; pass lm-eval's --output_path folder or one of its results_*.json files")
    results = read_json(path)
    if not isinstance(results, dict) or not isinstance(results.get("configs"), dict) or not results["configs"]:
        raise OrcabenchError(f"{path} is not an lm-eval results file (no task configs)")
    stamp = path.stem.removeprefix("results_")
    samples: dict[str, list[dict[str, Any]]] = {}
    for leaf in results["configs"]:
        file = path.parent / f"samples_{leaf}_{stamp}.jsonl"
        if not file.is_file():
            raise OrcabenchError(f"{path.parent} has no {file.name}: orcabench needs per-sample output, "
                                 "rerun lm-eval with --log_samples")
        with file.open(encoding="utf-8") as handle:
            samples[leaf] = [json.loads(line) for line in handle if line.strip()]
    return LmEvalOutput(path, results, samples)


def groups_of(results: dict[str, Any]) -> list[TaskGroup]:
    """The orcabench tasks of lm-eval output: each top-level group, and each task in none."""
    children: dict[str, list[str]] = results.get("group_subtasks") or {}
    nested = {child for members in children.values() for child in members}

    def leaves(name: str) -> list[str]:
        return [leaf for child in children[name] for leaf in leaves(child)] if name in children else [name]

    groups = [TaskGroup(PREFIX + g, tuple(leaves(g)), True) for g in children if g not in nested and leaves(g)]
    grouped = {leaf for g in groups for leaf in g.leaves}
    return groups + [TaskGroup(PREFIX + leaf, (leaf,), False) for leaf in results["configs"] if leaf not in grouped]


def _arguments(row: dict[str, Any]) -> list[list[Any]]:
    """Each request's arguments: lm-eval writes {"gen_args_0": {"arg_0": ..}, ..} to samples files."""
    args = row.get("arguments")
    if isinstance(args, dict):
        return [[value for _, value in sorted(request.items(), key=lambda kv: int(kv[0].rsplit("_", 1)[1]))]
                for _, request in sorted(args.items(), key=lambda kv: int(kv[0].rsplit("_", 1)[1]))]
    return [list(request) for request in args or []]


def _score_metric(leaf: str, config: dict[str, Any], rows: list[dict[str, Any]]) -> str:
    """The metric that becomes a record's score: the task's first one with per-sample values in [0, 1]."""
    named = [m["metric"] for m in config.get("metric_list") or [] if isinstance(m.get("metric"), str)]
    for metric in named or [m for m in rows[0].get("metrics", [])]:
        values = [row.get(metric) for row in rows]
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and 0 <= v <= 1 for v in values):
            return metric
    raise OrcabenchError(f"lm-eval task {leaf} has no per-sample metric between 0 and 1 "
                         f"(it reports {', '.join(named) or 'none'}); "
                         "orcabench stores accuracy-like tasks only")


def records_of(group: TaskGroup, leaf: str, config: dict[str, Any], rows: list[dict[str, Any]]) -> list[Record]:
    """One Record per document of an lm-eval samples file (its rows: one per document and filter)."""
    if not rows:
        return []
    filters = [f["name"] for f in config.get("filter_list") or [] if isinstance(f, dict) and "name" in f] or ["none"]
    by_doc: dict[int, dict[str, dict[str, Any]]] = {}
    for row in rows:
        by_doc.setdefault(int(row["doc_id"]), {})[row.get("filter", "none")] = row
    # The task's first filter answers (gsm8k: strict-match); the others are kept in extra.
    main_filter = filters[0] if any(row.get("filter", "none") == filters[0] for row in rows) else rows[0].get("filter", "none")
    metric = _score_metric(leaf, config, [doc_rows[main_filter] for doc_rows in by_doc.values()])
    return [_record(group, leaf, config.get("output_type", ""), metric, main_filter, doc_id, doc_rows)
            for doc_id, doc_rows in sorted(by_doc.items())]


def _number(value: Any) -> float:
    return float(value)  # samples files hold numbers as strings ("-1.25")


def _record(group: TaskGroup, leaf: str, output_type: str, metric: str, main_filter: str, doc_id: int,
            doc_rows: dict[str, dict[str, Any]]) -> Record:
    row = doc_rows[main_filter]
    arguments = _arguments(row)
    prompt = str(arguments[0][0]) if arguments and arguments[0] else ""
    metrics = {k: v for k, v in row.items() if k in row.get("metrics", []) and isinstance(v, (int, float))}
    extra: dict[str, Any] = {"lm_eval_task": leaf, "metric": metric, "metrics": metrics, "filter": main_filter,
                             "target": row.get("target")}
    logprob = None
    if output_type == "multiple_choice":
        continuations = [str(a[1]) for a in arguments]
        responses = [r if isinstance(r, list) else [r] for r in row["filtered_resps"]]
        logprobs = [_number(r[0]) for r in responses]
        best = max(range(len(logprobs)), key=logprobs.__getitem__)
        # Options are their continuations; where every option shares one (winogrande varies the
        # context instead), their positions.
        distinct = len(set(continuations)) == len(continuations)
        labels = [c.strip() for c in continuations] if distinct else [str(i) for i in range(len(continuations))]
        target = str(row.get("target"))
        gold = labels[int(target)] if target.isdigit() and int(target) < len(labels) else target
        output, answer, method, logprob = continuations[best], labels[best], "loglikelihood-argmax", logprobs[best]
        extra |= {"continuations": continuations, "logprobs": logprobs,
                  "is_greedy": [str(r[1]) == "True" if len(r) > 1 else None for r in responses]}
    elif output_type == "loglikelihood":
        response = row["filtered_resps"][0]
        logprob, greedy = _number(response[0]), str(response[1]) == "True"
        output, answer, method, gold = (str(arguments[0][1]), "greedy" if greedy else "not greedy", "loglikelihood",
                                        str(row.get("target")))
    else:  # generate_until and anything else that answers text
        output = str(row["resps"][0][0]) if row.get("resps") and row["resps"][0] else ""
        filtered = row["filtered_resps"][0] if isinstance(row.get("filtered_resps"), list) and row["filtered_resps"] else ""
        answer = None if filtered in ("", INVALID) else str(filtered)
        method = "none" if answer is None else f"lm-eval:{main_filter}"
        gold = str(row.get("target"))
        others = {name: {"answer": r["filtered_resps"][0] if r.get("filtered_resps") else None,
                         **{k: r[k] for k in r.get("metrics", []) if k in r}}
                  for name, r in doc_rows.items() if name != main_filter}
        if others:
            extra["other_filters"] = others
    return Record(
        task=group.key, id=sample_id(group, leaf, doc_id), subtask=leaf if group.grouped else None,
        prompt=prompt, prompt_sha256=hashlib.sha256(prompt.encode("utf-8")).hexdigest(), output=output, answer=answer,
        method=method, gold=gold, score=float(row[metric]), prompt_tokens=0, output_tokens=0, finish_reason=None,
        logprob=logprob, extra=extra,
    )


def sample_id(group: TaskGroup, leaf: str, doc_id: int) -> str:
    return f"{leaf}/{doc_id}" if group.grouped else str(doc_id)


def records_from_output(output: LmEvalOutput, groups: Sequence[TaskGroup]) -> list[Record]:
    configs = output.results["configs"]
    return [record for group in groups for leaf in group.leaves if leaf in output.samples
            for record in records_of(group, leaf, configs[leaf], output.samples[leaf])]


def summaries_of(groups: Sequence[TaskGroup], records: dict[tuple[str, str], Record],
               wanted: set[tuple[str, str]] | None = None) -> list[TaskSummary]:
    """Per orcabench task, over its records (those in ``wanted``, when given)."""
    return [summarize(g.key, [r for key, r in records.items() if key[0] == g.key and (wanted is None or key in wanted)])
            for g in groups]


# --- import -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportResult:
    run_dir: Path
    summaries: list[TaskSummary]
    added: int  # records new to the run (0 when the same output was imported before)


def _model_args(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    pairs = [part.split("=", 1) for part in str(value or "").split(",") if "=" in part]
    return {key.strip(): raw.strip() for key, raw in pairs}


def import_output(path: Path, output: Path | None = None, runs_root: Path = Path("runs")) -> ImportResult:
    """Convert lm-eval output (``--log_samples``) into an orcabench run; importing it again adds nothing."""
    lm_output = read_output(path)
    results, configs = lm_output.results, lm_output.results["configs"]
    groups = groups_of(results)
    run_config = results.get("config") or {}
    args = _model_args(run_config.get("model_args"))
    source = str(args.get("pretrained") or results.get("model_name") or run_config.get("model") or "unknown")
    model_name = Path(source).name if Path(source).is_absolute() else source.replace("/", "--")
    backend = str(run_config.get("model") or "unknown")
    fingerprint = Fingerprint.build(
        protocol=PROTOCOL,
        model={"name": model_name, "source": source, "weights": {"revision": args.get("revision")},
               "chat_template_sha256": results.get("chat_template_sha"), "system_message": results.get("system_instruction")},
        backend=backend,
        engine={k: v for k, v in args.items() if k != "pretrained"},
        sampling={"gen_kwargs": run_config.get("gen_kwargs"), "seed": run_config.get("fewshot_seed")},
        tasks={g.key: task_entry({leaf: normalized_config(configs[leaf]) for leaf in g.leaves}) for g in groups},
    )
    run_dir = output or runs_root / run_dir_name(model_name, backend, fingerprint)
    records = records_from_output(lm_output, groups)
    session = Session(imported=str(lm_output.results_file.resolve()), at=now())
    with RunSession.open_store(run_dir, fingerprint, source, {"lm_eval_version": results.get("lm_eval_version")},
                               session) as (store, _):
        done = store.records()
        show_store_notices(store)
        new = [r for r in records if r.key not in done]
        store.append(new)
        done.update({r.key: r for r in new})
        session.records = len(new)
    return ImportResult(run_dir, summaries_of(groups, done), len(new))
