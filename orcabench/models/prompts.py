"""Prompt rendering: a task's messages to the exact text a model receives."""

from __future__ import annotations

import json
from functools import cached_property
from typing import Any

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

from orcabench.models.registry import PLAIN_SEPARATOR, ModelSpec
from orcabench.models.tokenizer import load_tokenizer
from orcabench.types import Message, OrcabenchError

# Chat templates are rendered the way transformers renders them: sandboxed, trimmed blocks off.
_TEMPLATES = ImmutableSandboxedEnvironment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)


class PromptRenderer:
    """Turns a task's messages into the exact prompt string the model receives.

    Built-in chat templates (:data:`orcabench.models.registry.CHAT_TEMPLATES`) and API chat models
    render without a tokenizer, so ``--dry-run`` never touches weights; otherwise the
    tokenizer's own chat template is used, loaded on first need.
    """

    def __init__(self, spec: ModelSpec, model_path: str) -> None:
        self.spec = spec
        self.model_path = model_path

    @property
    def needs_tokenizer(self) -> bool:
        """Whether rendering uses the tokenizer's own chat template (and so loads the tokenizer)."""
        return self.spec.prompt_format == "chat" and self.spec.template is None

    @cached_property
    def tokenizer(self) -> Any:
        tokenizer = load_tokenizer(self.model_path, revision=self.spec.revision, **self.spec.tokenizer)
        if self.spec.prompt_format == "chat" and self.spec.template is None and not tokenizer.chat_template:
            raise OrcabenchError(f"model {self.spec.name} has no chat template; give it a chat_template or prompt_format 'plain'")
        return tokenizer

    def chat_template_source(self) -> str | None:
        """The Jinja2 text that formats chat prompts, for the manifest; None for plain and API prompts."""
        if self.spec.prompt_format != "chat":
            return None
        return self.spec.template.source if self.spec.template else self.tokenizer.chat_template

    def count_tokens(self, text: str) -> int | None:
        """Tokens in a generated text (a reasoning trace), by the model's tokenizer; None for API models."""
        if self.spec.prompt_format == "api-chat":
            return None
        return len(self.tokenizer.encode(text, add_special_tokens=False))

    def messages(self, task_messages: list[Message]) -> list[Message]:
        system = [Message("system", self.spec.system_message)] if self.spec.system_message is not None else []
        return system + task_messages

    def template_kwargs(self) -> dict[str, Any]:
        """Extra chat-template variables (a reasoning model's ``enable_thinking``), for the prompt and the server."""
        return self.spec.reasoning.template_kwargs() if self.spec.reasoning and self.spec.prompt_format != "plain" else {}

    def render(self, messages: list[Message]) -> tuple[str, bool]:
        """The prompt text, and whether the tokenizer must add special tokens (BOS)."""
        as_dicts = [{"role": m.role, "content": m.content} for m in messages]
        if self.spec.prompt_format == "api-chat":
            # The server applies the model's template; the record keeps the messages exactly.
            return json.dumps(as_dicts, ensure_ascii=False), False
        if self.spec.prompt_format == "plain":
            return PLAIN_SEPARATOR.join(m.content for m in messages), True
        template = self.spec.template
        if template is not None:
            text = _TEMPLATES.from_string(template.source).render(
                messages=as_dicts, add_generation_prompt=True, bos_token=self.spec.bos_token, eos_token=self.spec.eos_token,
                **self.template_kwargs(),
            )
            return text, template.tokenizer_adds_bos
        text = self.tokenizer.apply_chat_template(as_dicts, tokenize=False, add_generation_prompt=True, **self.template_kwargs())
        return text, False  # tokenizer chat templates write their own BOS where the model wants one
