"""The campaign file: models × variants × tasks, read strictly, and the cells it multiplies into.

A campaign is a YAML file (``name``, ``tasks``, ``limit``, ``models``, ``variants``,
``reference``, ``output``); unknown keys are refused and every problem is one line naming the
file, the key and the fix. Each model × variant is a :class:`Cell` whose :attr:`Cell.config`
is exactly the :class:`~orcabench.engine.plan.RunConfig` ``orcabench run`` builds from the
same flags, under the campaign's output folder: a cell is an ordinary run, and either
resumes the other.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from orcabench.engine.plan import (
    DEFAULT_SEED,
    EngineSettings,
    Operations,
    Prompting,
    RunConfig,
    Sampling,
    Selection,
    check_engine_settings,
)
from orcabench.models.registry import BUILTIN_MODELS, resolve_model
from orcabench.task import get_tasks
from orcabench.task.protocols import get_protocol
from orcabench.types import OrcabenchError, read_user_yaml, validation_problem

AXES = ("system_message", "protocol", "thinking")  # the variant axes, in the order a cell's name lists them


class _Variants(BaseModel):
    """Axes that multiply cells; each lists the values a model is run under."""

    model_config = ConfigDict(strict=True, extra="forbid")

    system_message: list[str] | None = Field(None, min_length=1)
    protocol: list[str] | None = Field(None, min_length=1)
    thinking: list[bool] | None = Field(None, min_length=1)


class _ModelEntry(BaseModel):
    """One entry under ``models:``: what ``orcabench run --model`` takes, and the engine flags of its runs."""

    model_config = ConfigDict(strict=True, extra="forbid", allow_inf_nan=False)

    model: str = Field(min_length=1)
    name: str | None = Field(None, min_length=1)  # the row's label; default: ``model``
    backend: Literal["vllm", "hf", "openai"] | None = None
    dtype: str | None = None
    max_model_len: int | None = Field(None, ge=1)
    tensor_parallel_size: int | None = Field(None, ge=1)
    gpu_memory_utilization: float | None = Field(None, gt=0.0, le=1.0)
    engine_args: dict[str, Any] = {}
    replicas: int = Field(1, ge=1)  # engine replicas of each of this model's cells (Ray actors)
    num_cpus: int | None = Field(None, ge=1)  # CPU-only Ray: cores each replica asks for (default: a node's cores)
    batch_size: int | None = Field(None, ge=1)
    max_tokens: int | None = Field(None, ge=1)
    variants: _Variants | None = None  # this model's own axes, instead of the campaign's


class _CampaignFile(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")

    name: str = Field(min_length=1)
    tasks: list[str] = Field(min_length=1)
    limit: int | None = Field(None, ge=1)
    limit_per_subtask: int | None = Field(None, ge=1)
    max_tokens: int | None = Field(None, ge=1)
    seed: int = DEFAULT_SEED
    models: list[_ModelEntry | str] = Field(min_length=1)
    variants: _Variants | None = None
    reference: str | None = None
    output: str = Field(min_length=1)
    data_dir: str | None = None
    retries: int = Field(2, ge=0, le=10)  # a cell whose engine dies runs again this many times before it is failed


_KEYS = ", ".join(_CampaignFile.model_fields)
_MODEL_KEYS = ", ".join(_ModelEntry.model_fields)
_EXPECTED = {
    "name": "must be a non-empty string",
    "tasks": "must be a list of task or suite names (orcabench list tasks)",
    "tasks.*": "must be a task or suite name",
    "models": f"must be a list of model names or mappings with keys among {_MODEL_KEYS}",
    "models.*.backend": "must be one of vllm, hf, openai",
    "models.*.gpu_memory_utilization": "must be in (0, 1]",
    "models.*.variants*": f"must map variant axes ({', '.join(AXES)}) to lists of at least one value",
    "models.*": f"must be a model name or a mapping with keys among {_MODEL_KEYS}",
    "variants.*": "must be a list of at least one value",
    "variants": f"must map variant axes ({', '.join(AXES)}) to lists of at least one value",
    "output": "must be the campaign folder (a path)",
    "retries": "must be an integer from 0 to 10",
}


@dataclass(frozen=True)
class Cell:
    """One model under one variant: an ordinary run (:attr:`config`), labelled for the campaign's table."""

    model: str  # the model's label (its ``name``, else ``model``)
    variant: dict[str, Any]  # axis -> value; empty when no axis applies
    config: RunConfig

    @property
    def variant_label(self) -> str:
        return ", ".join(f"{axis}={_show(value)}" for axis, value in self.variant.items())

    @property
    def name(self) -> str:
        return f"{self.model} · {self.variant_label}" if self.variant else self.model


def _show(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


@dataclass(frozen=True)
class Campaign:
    path: Path
    name: str
    output: Path
    cells: list[Cell]
    reference: str | None
    retries: int
    tasks: list[str] = field(default_factory=list)


def _looks_like_path(model: str) -> bool:
    """Folders, Hub ids and YAML files are resolved when their cell is planned (a missing folder fails that cell only)."""
    return "/" in model or model.startswith((".", "~"))


def load_campaign(path: Path, output: Path | None = None) -> Campaign:
    """Read and validate a campaign file; ``output`` overrides its folder. Creates nothing."""
    where = f"campaign file {path}"
    if not path.exists():
        raise OrcabenchError(f"{where} does not exist; pass the path of a campaign .yaml (examples/campaigns/)")
    data = read_user_yaml(path, where)
    if not isinstance(data, dict):
        raise OrcabenchError(f"{where} must be a mapping with keys among {_KEYS}")
    unknown = sorted(str(key) for key in set(data) - set(_CampaignFile.model_fields))
    if unknown:
        raise OrcabenchError(f"{where}: unknown key(s) {', '.join(unknown)}; known: {_KEYS}")
    missing = [key for key, info in _CampaignFile.model_fields.items() if info.is_required() and key not in data]
    if missing:
        raise OrcabenchError(f"{where}: missing key(s) {', '.join(missing)}; add {' and '.join(missing)} "
                             "(examples/campaigns/bundled.yaml shows each)")
    try:
        read = _CampaignFile.model_validate(data)
    except ValidationError as error:
        raise OrcabenchError(validation_problem(f"{where}: ", data, error, _EXPECTED)) from error
    try:
        get_tasks(read.tasks)
    except OrcabenchError as error:
        raise OrcabenchError(f"{where}: tasks: {error}") from error
    entries = [_ModelEntry(model=entry) if isinstance(entry, str) else entry for entry in read.models]
    cells: list[Cell] = []
    for number, entry in enumerate(entries):
        key = f"models[{number}]"
        local = _check_model(where, key, entry)
        variants = entry.variants or read.variants or _Variants()
        for protocol in variants.protocol or ():
            try:
                get_protocol(protocol)
            except OrcabenchError as error:
                raise OrcabenchError(f"{where}: {key if entry.variants else ''}variants.protocol: {error}") from error
        for variant in _variants(variants):
            cells.append(Cell(entry.name or entry.model, variant, _config(read, entry, variant, output, local)))
    seen: dict[str, int] = {}
    for cell in cells:
        seen[cell.name] = seen.get(cell.name, 0) + 1
    twice = [name for name, count in seen.items() if count > 1]
    if twice:
        raise OrcabenchError(f"{where}: models: the cell {twice[0]!r} appears twice; give one of its models a distinct `name`")
    labels = list(dict.fromkeys(cell.model for cell in cells))
    if read.reference is not None and read.reference not in labels:
        raise OrcabenchError(f"{where}: reference {read.reference!r} is not among the models ({', '.join(labels)}); "
                             "name one of them (its `name`, else its `model`)")
    return Campaign(path, read.name, output or Path(read.output), cells, read.reference, read.retries, list(read.tasks))


def _check_model(where: str, key: str, entry: _ModelEntry) -> bool:
    """A registry name or a model file must resolve now; a folder or Hub id is resolved when its cell is planned.
    True when the model runs on a local engine (placed on Ray), False for an API model (answered from this process)."""
    backend = entry.backend
    if _looks_like_path(entry.model) and not entry.model.endswith((".yaml", ".yml")):
        pass
    elif entry.model not in BUILTIN_MODELS and not entry.model.endswith((".yaml", ".yml")):
        raise OrcabenchError(f"{where}: {key}.model: unknown model {entry.model!r}; use one of {', '.join(BUILTIN_MODELS)} "
                             "(orcabench list models), a model .yaml file, a local model folder, or a Hub id like org/name")
    else:
        try:
            backend = backend or resolve_model(entry.model).default_backend
        except OrcabenchError as error:
            raise OrcabenchError(f"{where}: {key}.model: {error}") from error
    try:
        check_engine_settings(_engine(entry))
    except OrcabenchError as error:
        raise OrcabenchError(f"{where}: {key}: {error}") from error
    return backend != "openai"


def _variants(variants: _Variants) -> list[dict[str, Any]]:
    """Every combination of the axes' values (one empty variant when no axis is given)."""
    axes = [(axis, getattr(variants, axis)) for axis in AXES if getattr(variants, axis) is not None]
    return [dict(zip([axis for axis, _ in axes], values)) for values in itertools.product(*[values for _, values in axes])]


def _engine(entry: _ModelEntry) -> EngineSettings:
    return EngineSettings(backend=entry.backend, dtype=entry.dtype, max_model_len=entry.max_model_len,
                          tensor_parallel_size=entry.tensor_parallel_size,
                          gpu_memory_utilization=entry.gpu_memory_utilization, args=dict(entry.engine_args))


def _config(read: _CampaignFile, entry: _ModelEntry, variant: dict[str, Any], output: Path | None, local: bool) -> RunConfig:
    """The RunConfig of ``orcabench run`` with this cell's flags; its runs land in the campaign folder.

    Replicas are operational (not in the fingerprint): the run directory is the one ``orcabench
    run`` without them names; the campaign connects to Ray once for all cells. An API model's
    cells run in this process (no engine to place).
    """
    return RunConfig(
        selection=Selection(model=entry.model, tasks=tuple(read.tasks), limit=read.limit,
                            limit_per_subtask=read.limit_per_subtask,
                            data_dir=Path(read.data_dir) if read.data_dir else None),
        prompting=Prompting(protocol=variant.get("protocol"), system_message=variant.get("system_message"),
                            thinking=variant.get("thinking")),
        sampling=Sampling(max_tokens=entry.max_tokens or read.max_tokens, seed=read.seed),
        engine=_engine(entry),
        operations=Operations(runs_root=output or Path(read.output), batch_size=entry.batch_size,
                              replicas=entry.replicas if local else None, replica_cpus=entry.num_cpus if local else None),
    )
