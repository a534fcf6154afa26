"""Prompt rendering: a task's messages to the exact text a model receives."""

from __future__ import annotations

from orcabench.models import PLAIN_SEPARATOR, ModelSpec
from orcabench.types import Message, OrcabenchError


class PromptRenderer:
    """Turns a task's messages into the exact prompt string the model receives."""

    def __init__(self, spec: ModelSpec, model_path: str) -> None:
        from transformers import AutoTokenizer

        self.spec = spec
        self.tokenizer = AutoTokenizer.from_pretrained(model_path, revision=spec.revision)
        if spec.prompt_format == "chat" and not self.tokenizer.chat_template:
            raise OrcabenchError(f"model {spec.name} has no chat template; give it prompt_format 'plain'")

    def messages(self, task_messages: list[Message]) -> list[Message]:
        system = [Message("system", self.spec.system_message)] if self.spec.system_message is not None else []
        return system + task_messages

    def render(self, messages: list[Message]) -> tuple[str, bool]:
        """The prompt text, and whether the tokenizer must add special tokens (BOS)."""
        if self.spec.prompt_format == "chat":
            text = self.tokenizer.apply_chat_template(
                [{"role": m.role, "content": m.content} for m in messages], tokenize=False, add_generation_prompt=True
            )
            return text, False  # chat templates write their own BOS where the model wants one
        return PLAIN_SEPARATOR.join(m.content for m in messages), True
