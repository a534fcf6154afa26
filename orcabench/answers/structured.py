"""Layer 3 of the reading pipeline: answers given in a structure rather than in prose.

Each rule returns the raw text of the answer the structure holds, which the answer format's
own extractor then reads (``"(D) 12 km"`` is a letter for a choice task, ``"$240"`` a number
for a numeric one):

- ``json-answer``: the last JSON object (bare or in a ```json fence) with an answer-like key
  (``answer``, ``final_answer``, ``correct_option``, ...); keys before it (``reasoning``) are
  the working;
- ``table-row``: the one row of a markdown table marked as chosen (✅ / ✓ / "Yes" in a cell,
  the other rows ✗ / "No" / empty, or the only bold row); several marked rows are no answer;
- ``fenced-answer``: the last code fence, when it holds one short line and nothing else.
"""

from __future__ import annotations

import json
import re

# Keys compared lower case, without spaces, dashes and underscores.
_ANSWER_KEYS = ("finalanswer", "answer", "correctanswer", "correctoption", "correctchoice", "selectedoption",
                "selectedchoice", "selectedanswer", "choice", "option", "prediction", "result", "verdict", "label")
_FENCE_RE = re.compile(r"```[ \t]*([\w+-]*)[ \t]*\n(.*?)\n?[ \t]*```", re.DOTALL)
_CHOSEN_CELL = re.compile(r"^(?:✅|✔️?|✓|☑️?|yes|correct|chosen|selected|✅\s*yes|yes\s*✅)$", re.IGNORECASE)
_CHECK_MARK = re.compile(r"\s*(?:✅|✔️?|✓|☑️?)\s*")
_FENCED_ANSWER_CHARS = 40


def _objects(text: str) -> list[dict[str, object]]:
    """Every JSON object in the text, outermost ones, in order (braces balanced by scanning)."""
    found: list[dict[str, object]] = []
    decoder = json.JSONDecoder()
    position = 0
    while (start := text.find("{", position)) >= 0:
        try:
            value, end = decoder.raw_decode(text, start)
        except ValueError:
            position = start + 1
            continue
        if isinstance(value, dict):
            found.append(value)
        position = end
    return found


def json_answer(text: str) -> str | None:
    """The answer key's value of the last JSON object that has one ("" where it is null)."""
    for obj in reversed(_objects(text)):
        keys = {re.sub(r"[\s_-]", "", str(key)).casefold(): value for key, value in obj.items()}
        for key in _ANSWER_KEYS:
            if key not in keys:
                continue
            value = keys[key]
            # null or an empty answer is the model saying it has none: an empty string, read as no answer
            return str(value).strip() if isinstance(value, (str, int, float)) and not isinstance(value, bool) else ""
    return None


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def table_row(text: str) -> str | None:
    """The cells (less the marks) of the one chosen row of the last markdown table."""
    tables: list[list[list[str]]] = [[]]
    for line in text.splitlines():
        if line.strip().startswith("|") and line.strip().count("|") >= 2:
            tables[-1].append(_cells(line))
        elif tables[-1]:
            tables.append([])
    rows = next((table for table in reversed(tables) if table), [])
    body = [row for row in rows if not all(re.fullmatch(r":?-{2,}:?", cell) for cell in row if cell)]
    if len(rows) > len(body):  # a separator row follows the header
        body = body[1:]
    if len(body) < 2:
        return None
    plain = [[cell.replace("**", "").strip() for cell in row] for row in body]
    marked = [row for row in plain if any(_CHOSEN_CELL.match(cell) or _CHECK_MARK.search(cell) for cell in row)]
    if len(marked) == 1:
        named = [_CHECK_MARK.sub("", cell).strip() for cell in marked[0] if not _CHOSEN_CELL.match(cell)]
        named = [cell for cell in named if cell]
        if named:
            return " ".join(named)
    if marked:
        return None  # several rows marked chosen: no answer
    bold = [i for i, row in enumerate(body) if any(cell.startswith("**") and cell.endswith("**") and len(cell) > 4
                                                   for cell in row)]
    if len(bold) == 1:
        return " ".join(cell for cell in plain[bold[0]] if cell)
    return None


def fenced_answer(text: str) -> str | None:
    """The content of the last code fence when it is one short line (an answer, not code)."""
    fences = list(_FENCE_RE.finditer(text))
    if not fences:
        return None
    content = fences[-1].group(2).strip()
    if content and "\n" not in content and len(content) <= _FENCED_ANSWER_CHARS and not content.startswith("{"):
        return content
    return None


def structured_answer(text: str) -> tuple[str, str] | None:
    """``(raw answer, rule)`` of the first structure that holds an answer, or None."""
    for rule, read in (("json-answer", json_answer), ("table-row", table_row), ("fenced-answer", fenced_answer)):
        value = read(text)
        if value is not None:  # "" from json-answer: an answer field that holds none
            return value, rule
    return None
