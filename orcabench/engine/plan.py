"""Planning a run: a :class:`RunConfig` resolved into a :class:`Plan`, with nothing loaded.

``plan`` resolves the model, protocol, backend, tasks and data, and names the run
directory by the run's fingerprint. It loads no weights and no tokenizer, so ``--dry-run``
is fast and a bad flag fails before anything expensive starts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from orcabench.answers.second_stage import EXTRACT_MODES, RULES, TWO_STAGE
from orcabench.backends.registry import BACKENDS
from orcabench.engine import variants
from orcabench.models.bundled import converted_model_dir, source_info
from orcabench.task.data import load_rows, resolve_data_dir
from orcabench.models.registry import DEFAULT_MODEL, ModelSpec, resolve_model, with_system_message, with_thinking
from orcabench.models.prompts import PromptRenderer
from orcabench.task.protocols import Protocol, get_protocol
from orcabench.store.schema import Fingerprint, run_dir_name
from orcabench.task.summary import TaskSummary
from orcabench.task import Task, get_tasks
from orcabench.types import Example, OrcabenchError


DEFAULT_SEED = 1234  # the one seed default: `orcabench run`, `serve`, the gate's candidate, the API


def _refuse_unknown(cls: type, data: Mapping[str, Any], where: str) -> dict[str, Any]:
    """``data`` as keyword arguments of ``cls``; a key it does not know is one OrcabenchError naming the known ones."""
    if not isinstance(data, Mapping):
        raise OrcabenchError(f"{where}: expected a mapping of settings, not {type(data).__name__}")
    known = [f.name for f in fields(cls)]
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise OrcabenchError(f"{where}: unknown setting(s) {', '.join(map(str, unknown))}; known: {', '.join(known)}")
    return dict(data)


@dataclass(frozen=True, kw_only=True)
class Selection:
    """What is evaluated: the model, the tasks and which of their examples."""

    model: str = DEFAULT_MODEL
    tasks: Sequence[str] = ("gsm8k",)
    limit: int | None = None  # first N examples of each task
    limit_per_subtask: int | None = None  # first N of each subtask (a task without subtasks is one); before ``limit``
    data_dir: Path | None = None
    strict: bool = False  # fail on malformed data rows instead of skipping them
    lm_eval_include: Sequence[Path] = ()  # lm-eval: tasks only: folders of the user's lm-eval task configs
    # Each task under several wordings ("all" or the first N of its templates) or option rotations, as variants
    # of it in one run (orcabench.engine.variants)
    prompt_variants: int | str | None = None
    circular: bool = False


@dataclass(frozen=True, kw_only=True)
class Prompting:
    """How the examples are put to the model."""

    protocol: str | None = None  # None: the model's default protocol (orca2 for Orca 2 models)
    system_message: str | None = None  # a SYSTEM_MESSAGES setting or literal text; None: the protocol's, else the model's
    thinking: bool | None = None  # a reasoning model's enable_thinking; None: the model's setting


@dataclass(frozen=True, kw_only=True)
class Sampling:
    """How answers are drawn (greedy always) and read."""

    max_tokens: int | None = None  # overrides each task's default
    seed: int = DEFAULT_SEED
    # "rules", or "two-stage": weak and failed readings are asked of the model once more (orcabench.answers.second_stage)
    extract: str = RULES


@dataclass(frozen=True, kw_only=True)
class EngineSettings:
    """Which engine answers and its settings over the model's (``args``: any other engine setting, --engine-arg)."""

    backend: str | None = None  # None: the model's default backend
    dtype: str | None = None
    max_model_len: int | None = None
    tensor_parallel_size: int | None = None
    gpu_memory_utilization: float | None = None
    args: dict[str, Any] = field(default_factory=dict)

    def overrides(self) -> dict[str, Any]:
        """The settings given, over ``args`` (a flag wins over the same --engine-arg), as the engine takes them."""
        typed = {"dtype": self.dtype, "max_model_len": self.max_model_len, "tensor_parallel_size": self.tensor_parallel_size,
                 "gpu_memory_utilization": self.gpu_memory_utilization}
        return {**self.args, **{key: value for key, value in typed.items() if value is not None}}


@dataclass(frozen=True, kw_only=True)
class Operations:
    """Where the run is written and how its requests are sent; none of it is in the fingerprint."""

    output: Path | None = None  # run directory; default runs/<model>-<backend>-<fingerprint>
    runs_root: Path = Path("runs")
    batch_size: int | None = None  # hf: batch size; vllm: max_num_seqs
    server: str | None = None  # an `orcabench serve` URL: answered by its warm engine (the openai backend)
    # A run resumes under any replica count (orcabench.backends.replicas).
    replicas: int | None = None  # engine replicas as Ray actors; None: the backend in this process
    ray_address: str | None = None  # Ray cluster to run them on; None: $RAY_ADDRESS, else a local Ray instance
    # CPU-only clusters: the cores each replica asks Ray for; None: an equal share of the cores one node holds.
    replica_cpus: int | None = None


@dataclass(frozen=True, kw_only=True)
class RunConfig:
    """Everything ``orcabench run`` takes, in typed parts; the CLI flags map one to one onto their fields."""

    selection: Selection = field(default_factory=Selection)
    prompting: Prompting = field(default_factory=Prompting)
    sampling: Sampling = field(default_factory=Sampling)
    engine: EngineSettings = field(default_factory=EngineSettings)
    operations: Operations = field(default_factory=Operations)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunConfig:
        """A config from nested mappings (a campaign file, a notebook); unknown keys are refused, naming the known ones."""
        types = {"selection": Selection, "prompting": Prompting, "sampling": Sampling, "engine": EngineSettings,
                 "operations": Operations}
        given = _refuse_unknown(cls, data, "run config")
        return cls(**{name: types[name](**_refuse_unknown(types[name], value, f"run config {name}"))
                      for name, value in given.items()})


@dataclass(frozen=True)
class RunResult:
    run_dir: Path
    summaries: list[TaskSummary]
    model_calls: int  # requests sent to the backend in this invocation
    seconds: float


@dataclass(frozen=True)
class Plan:
    """A run resolved from its config, before any weights are loaded (what ``--dry-run`` shows)."""

    config: RunConfig
    spec: ModelSpec
    backend: str
    protocol: Protocol
    engine: dict[str, Any]
    tasks: list[Task]
    examples: dict[str, list[Example]]
    provenance: dict[str, Any]
    model_path: str
    fingerprint: Fingerprint
    run_dir: Path
    # A --server run's fingerprint names the served engine's settings, which only the server can say: planning
    # makes no network call, so such a plan is complete only once RunSession (or a dry run) asked (served_by).
    served: bool = False

    @property
    def awaits_server(self) -> bool:
        """A --server plan whose engine settings the server has not yet reported."""
        return self.config.operations.server is not None and not self.served

    def served_by(self, engine: dict[str, Any], fingerprint_engine: dict[str, Any]) -> Plan:
        """This plan answered by a running server: the backend's settings, and the engine the fingerprint names."""
        old = self.fingerprint
        fingerprint = Fingerprint.build(protocol=old.protocol, model=old.model, backend=old.backend, engine=fingerprint_engine,
                                        sampling=old.sampling, tasks=old.tasks)
        return replace(self, engine=engine, fingerprint=fingerprint,
                       run_dir=run_directory(self.config, self.spec, self.backend, fingerprint), served=True)

    def keys(self) -> list[tuple[str, str]]:
        """Every (task, example id) of the run, in task order then dataset order."""
        return [(task.name, example.id) for task in self.tasks for example in self.examples[task.name]]

    def first_prompt(self) -> tuple[Example, str]:
        task = next(t for t in self.tasks if self.examples[t.name])
        example = self.examples[task.name][0]
        renderer = PromptRenderer(self.spec, self.model_path)
        return example, renderer.render(renderer.messages(task.render(example)))[0]


def checked_data_dir(option: Path | None) -> Path | None:
    data_dir = resolve_data_dir(option)
    if data_dir is not None and not data_dir.is_dir():
        raise OrcabenchError(f"data directory {data_dir} does not exist; pass --data-dir pointing at a local mirror")
    return data_dir


def load_examples(task: Task, data_dir: Path | None, strict: bool = False) -> tuple[list[Example], dict[str, Any]]:
    """Every example of a task, in dataset order, and where its rows came from."""
    rows, provenance = load_rows(task.data, data_dir, task.name, strict=strict)
    examples = []
    for index, row in enumerate(rows):
        try:
            examples.append(task.parse_row(row.values, index))
        except (KeyError, TypeError, ValueError, IndexError) as error:
            raise OrcabenchError(f"task {task.name}: cannot read row {row.location}: {error!r}") from error
    return examples, provenance


def model_location(spec: ModelSpec) -> tuple[str, dict[str, Any]]:
    """Local folder (or Hub id) to load, and what identifies the weights for the manifest."""
    if spec.is_bundled:
        path = converted_model_dir(spec.source.removeprefix("bundled:"))  # a YAML model may rename a bundled one
        return str(path), {"gguf_sha256": source_info(path).get("gguf_sha256")}
    return spec.source, {"revision": spec.revision}


def check_counts(config: RunConfig) -> None:
    """``--limit``, ``--limit-per-subtask`` and ``--max-tokens``, where given, are positive (native and lm-eval runs)."""
    selection, operations, max_tokens = config.selection, config.operations, config.sampling.max_tokens
    if selection.limit is not None and selection.limit < 1:
        raise OrcabenchError(f"--limit must be a positive number of examples, not {selection.limit}")
    if selection.limit_per_subtask is not None and selection.limit_per_subtask < 1:
        raise OrcabenchError(f"--limit-per-subtask must be a positive number of examples, not {selection.limit_per_subtask}")
    if max_tokens is not None and max_tokens < 1:
        raise OrcabenchError(f"--max-tokens must be positive, not {max_tokens}")
    if operations.replicas is not None and operations.replicas < 1:
        raise OrcabenchError(f"--replicas must be a positive number of engine replicas, not {operations.replicas}")
    if operations.ray_address and not operations.replicas:
        raise OrcabenchError("--ray-address names the Ray cluster for --replicas N: add --replicas")
    if operations.replica_cpus is not None and operations.replica_cpus < 1:
        raise OrcabenchError(f"--replica-cpus must be a positive number of cores, not {operations.replica_cpus}")
    if operations.replica_cpus is not None and not operations.replicas:
        raise OrcabenchError("--replica-cpus sets the cores of each replica of --replicas N: add --replicas")
    if operations.batch_size is not None and operations.batch_size < 1:
        raise OrcabenchError(f"--batch-size must be a positive number of sequences, not {operations.batch_size}")
    check_engine_settings(config.engine)
    if config.sampling.extract not in EXTRACT_MODES:
        raise OrcabenchError(f"--extract {config.sampling.extract!r}: choose {' or '.join(EXTRACT_MODES)}")


# dtype names both CPU/GPU engines take (vLLM's names; hf maps the same ones onto torch dtypes)
DTYPES = ("auto", "float32", "float16", "bfloat16", "half", "float", "fp32", "fp16", "bf16")


def check_engine_settings(engine: EngineSettings) -> None:
    """Engine flags are checked before anything loads: a bad value is one line here, not an engine traceback later."""
    typed = {"dtype": engine.dtype, "max_model_len": engine.max_model_len,
             "tensor_parallel_size": engine.tensor_parallel_size, "gpu_memory_utilization": engine.gpu_memory_utilization}
    for key, value in typed.items():
        if value is not None and key in engine.args and str(engine.args[key]) != str(value):
            flag = "--" + key.replace("_", "-")
            raise OrcabenchError(f"{flag} {value} and --engine-arg {key}={engine.args[key]} disagree: give the setting once")
    settings = engine.overrides()
    dtype = settings.get("dtype")
    if dtype is not None and str(dtype) not in DTYPES:
        raise OrcabenchError(f"--dtype {dtype!r} is not a dtype: use one of {', '.join(DTYPES)}")
    for key in ("max_model_len", "tensor_parallel_size"):
        value = settings.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise OrcabenchError(f"--{key.replace('_', '-')} must be a positive whole number, not {value!r}")
    utilization = settings.get("gpu_memory_utilization")
    if utilization is not None and (isinstance(utilization, bool) or not isinstance(utilization, (int, float))
                                    or not 0 < utilization <= 1):
        raise OrcabenchError(f"--gpu-memory-utilization is the share of GPU memory vLLM may use, in (0, 1], not {utilization!r}")


def model_entry(spec: ModelSpec, weights: dict[str, Any]) -> dict[str, Any]:
    """The fingerprint's ``model`` entry for a model orcabench loads itself (its tasks and lm-eval's)."""
    return {"name": spec.name, "source": spec.source, "weights": weights, "prompt_format": spec.prompt_format,
            "chat_template": spec.chat_template, "system_message": spec.system_message,
            **({"reasoning": asdict(spec.reasoning)} if spec.reasoning else {})}  # absent otherwise: older runs resume


def prompting(model: str, protocol_name: str | None, system_message: str | None,
              thinking: bool | None = None) -> tuple[ModelSpec, Protocol]:
    """The model as it is prompted, and the protocol: ``--model``, ``--protocol``, ``--system-message``, ``--thinking``."""
    spec = resolve_model(model)
    protocol = get_protocol(protocol_name or spec.default_protocol)
    return with_thinking(with_system_message(spec, system_message or protocol.system_message), thinking), protocol


def plan(config: RunConfig) -> Plan:
    """Resolve model, protocol, tasks, data and the run directory; check everything a run needs. No network call:
    a --server run's engine is asked by :class:`orcabench.engine.session.RunSession` (see :attr:`Plan.awaits_server`)."""
    selection, prompts, operations = config.selection, config.prompting, config.operations
    spec, protocol = prompting(selection.model, prompts.protocol, prompts.system_message, prompts.thinking)
    backend_name = config.engine.backend or spec.default_backend
    if operations.server:
        if config.engine.backend not in (None, "openai"):
            raise OrcabenchError(f"--server runs through the server's engine: drop --backend {config.engine.backend}")
        backend_name = "openai"
    if backend_name not in BACKENDS:
        raise OrcabenchError(f"unknown backend {backend_name!r}: choose one of {', '.join(BACKENDS)}")
    if spec.prompt_format == "api-chat" and backend_name != "openai":
        raise OrcabenchError(f"{spec.name} is served through an API: use --backend openai, not {backend_name}")
    if operations.replicas and backend_name == "openai":
        raise OrcabenchError("--replicas runs local engines (vllm, hf); spread --backend openai over several servers "
                             "with --engine-arg base_url=URL1,URL2")
    if selection.lm_eval_include:
        raise OrcabenchError("--lm-eval-include applies to lm-eval:<task> tasks only")
    check_counts(config)
    two_stage = config.sampling.extract == TWO_STAGE
    if two_stage and (spec.prompt_format == "api-chat" or config.engine.overrides().get("endpoint") == "chat"):
        raise OrcabenchError("--extract two-stage continues the model's own answer in the prompt it was given, which a "
                             "chat endpoint cannot: use --extract rules, or the completions endpoint")
    tasks = get_tasks(selection.tasks)
    protocol.check(tasks)
    prompt_count = variants.parse_count(selection.prompt_variants)
    variants.check(tasks, prompt_count, selection.circular)
    data_dir = checked_data_dir(selection.data_dir)
    examples: dict[str, list[Example]] = {}
    provenance: dict[str, Any] = {}
    for task in tasks:
        parsed, provenance[task.name] = load_examples(task, data_dir, strict=selection.strict)
        if selection.limit_per_subtask:
            parsed = first_per_subtask(parsed, selection.limit_per_subtask)
        examples[task.name] = parsed[: selection.limit] if selection.limit else parsed
    planned, examples = variants.expand(tasks, examples, prompt_count, selection.circular)

    model_path, weights = model_location(spec)
    engine = {**spec.engine, **config.engine.overrides()}
    if two_stage:  # answers kept as they come: a run killed between the stages asks neither again (backends.cache)
        engine.setdefault("response_cache", True)
    fingerprint = Fingerprint.build(
        protocol=protocol.name,
        model={**model_entry(spec, weights), "stop": list(spec.all_stops)},
        backend=backend_name,
        engine=engine,
        sampling={"temperature": 0.0, "max_tokens": config.sampling.max_tokens, "seed": config.sampling.seed,
                  **({"extract": TWO_STAGE} if two_stage else {})},  # absent for rules: older runs resume
        tasks={
            task.name: variants.fingerprint_entry(planned, task, {
                "version": task.version, "templates": task.template_hashes(),
                "data": provenance[task.name].get("files") or {k: v for k, v in provenance[task.name].items() if k != "source"}})
            for task in tasks
        },
    )
    return Plan(config, spec, backend_name, protocol, engine, planned, examples, provenance, model_path, fingerprint,
                run_directory(config, spec, backend_name, fingerprint))


def run_directory(config: RunConfig, spec: ModelSpec, backend: str, fingerprint: Fingerprint) -> Path:
    """``--output``, else runs/<model>-<backend>-<fingerprint>: the same settings always land in the same run."""
    return config.operations.output or config.operations.runs_root / run_dir_name(spec.name, backend, fingerprint)


def first_per_subtask(examples: list[Example], n: int) -> list[Example]:
    """A balanced slice for quick runs: the first ``n`` examples of each subtask, in dataset order."""
    seen: dict[str | None, int] = {}
    kept = []
    for example in examples:
        seen[example.subtask] = seen.get(example.subtask, 0) + 1
        if seen[example.subtask] <= n:
            kept.append(example)
    return kept
