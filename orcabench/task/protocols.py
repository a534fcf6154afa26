"""Evaluation protocols: named presets that pin how a published table was measured.

``orca2`` is the Orca 2 paper's protocol, as far as public sources confirm it
(``shared/reference/orca2-paper.md``): zero-shot, greedy, no chain-of-thought wording
added, answers generated and parsed by one extractor shared by every model (never
loglikelihood), an empty system message for every model unless one is asked for, and the
format-OK (parsed) rate reported beside accuracy. Unconfirmed details are choices made
here and kept as settings: the empty system message still emits an empty system turn
(``--system-message none`` drops it), and max new tokens is each task's default
(``--max-tokens``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from orcabench.registry import Registry
from orcabench.task import Task
from orcabench.types import OrcabenchError


@dataclass(frozen=True)
class Protocol:
    name: str
    description: str
    system_message: str | None = None  # the setting applied when --system-message is not given
    generated_answers_only: bool = False
    no_chain_of_thought: bool = False

    def check(self, tasks: Sequence[Task]) -> None:
        """Refuse tasks the protocol does not allow, naming them and the way out."""
        wrong = [t.name for t in tasks if (self.generated_answers_only and t.kind != "generate")
                 or (self.no_chain_of_thought and getattr(t, "chain_of_thought", False))]
        if wrong:
            raise OrcabenchError(
                f"protocol {self.name} scores generated answers without chain-of-thought wording; {', '.join(wrong)} "
                f"do not fit: drop them or pass --protocol default"
            )


PROTOCOLS: Registry[Protocol] = Registry("protocol")
for _protocol in (
    Protocol("default", "each task's and model's own settings"),
    Protocol("orca2", "Orca 2 paper: zero-shot, greedy, no CoT wording, generated + parsed, empty system message",
             system_message="empty", generated_answers_only=True, no_chain_of_thought=True),
):
    PROTOCOLS.add(_protocol.name, _protocol, __file__)


def get_protocol(name: str) -> Protocol:
    return PROTOCOLS.lookup(name)
