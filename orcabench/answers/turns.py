"""Layer 2 of the reading pipeline: an invented next turn.

A base or weak model that has answered often goes on to write the next turn of the
conversation itself ("Question: ...", "Q: ...", "Human: ...", "### Instruction: ...") and
answers that too. Only the text before the first invented turn is the model's answer.

A turn marker opens a line and follows some text: an output that *starts* by restating the
question ("Question: ... Answer: B") echoes the prompt's format, it does not begin a new turn.
"""

from __future__ import annotations

import re

# Markers of a new user turn, at a line start: plain-text formats ("Question:", "Q2:",
# "Human:", "User:"), Alpaca headings ("### Instruction", "### Question"), and chat-template
# tokens a base model writes out as text.
_TURN_RE = re.compile(
    r"^[ \t]*(?:\*\*)?(?:Question|Q|Human|User)\s*\d*\s*(?:\*\*)?\s*:"
    r"|^[ \t]*#{2,4}\s*(?:Instruction|Human|User|Question)\b"
    r"|<\|im_start\|>\s*user|<\|start_header_id\|>\s*user|<start_of_turn>\s*user|<\|user\|>|\[INST\]",
    re.IGNORECASE | re.MULTILINE,
)


def invented_turn(text: str) -> int | None:
    """Where the first invented turn starts, or None."""
    for match in _TURN_RE.finditer(text):
        if text[:match.start()].strip():
            return match.start()
    return None


def cut_invented_turn(text: str) -> str:
    """The text before the first invented turn (all of it when there is none)."""
    start = invented_turn(text)
    return text if start is None else text[:start].rstrip()


# An invented question block written without a turn marker: a statement line, a fresh option
# list that starts at the first letter ("(A) ...", "(B) ..."), and its answer line ("Answer: (D)").
# A line that introduces the options ("Let's review the options:") is no new question.
_BLOCK_RE = re.compile(
    r"^[ \t]*(?![(\[]?[A-Za-z][.):\]])[^\n]*[^\s:][ \t]*\n"          # the new statement, not an option, no colon at its end
    r"[ \t]*[(\[]?A[.):\]][^\n]*\n(?:[ \t]*[(\[]?[B-Z][.):\]][^\n]*\n)+"  # (A) ... (B) ... : the options
    r"[ \t]*(?:\*\*)?(?:Answer|Correct\s+answer|The\s+answer\s+is)\b",  # its answer
    re.IGNORECASE | re.MULTILINE,
)


def question_blocks(text: str) -> list[int]:
    """Where each question block (a statement, its option list, "Answer: ...") starts. Two or
    more are a model that goes on writing, and answering, new questions in the prompt's own
    format; one alone may be the question restated with its answer."""
    return [match.start() for match in _BLOCK_RE.finditer(text)]
