"""Answer extractors: one function per answer format.

Each extractor takes a model's raw output and returns ``(answer, method)``: the
normalised answer (or ``None``) and the name of the rule that produced it, so every
record says *how* its answer was read. ``tests/test_extract.py`` is the specification.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

NONE = "none"

# A number as people write it: optional sign (a hyphen only when it is not a range or
# subtraction such as "10-3"), thousands separators, decimals, or a simple fraction.
_NUMBER = r"(?:(?<![\w.])[-−–])?\d{1,3}(?:,\d{3})+(?:\.\d+)?|(?:(?<![\w.])[-−–])?\d+(?:\.\d+)?(?:/\d+)?|(?:(?<![\w.])[-−–])?\.\d+"
_NUMBER_RE = re.compile(_NUMBER)
_BOXED_RE = re.compile(r"\\boxed\s*\{((?:[^{}]|\{[^{}]*\})*)\}")
_HASHES_RE = re.compile(r"####\s*\$?\s*(" + _NUMBER + ")")
# "The answer is 18", "Final answer: $18", "the answer is therefore **18**",
# "So the answer is that she makes $18": a few filler words are allowed after the phrase.
_PHRASE_RE = re.compile(
    r"(?:final\s+answer|the\s+answer|answer)\s*(?:is|=|:|would\s+be|will\s+be)?\s*:?"
    r"[^\d\n−–-]{0,40}?(" + _NUMBER + ")",
    re.IGNORECASE,
)


def normalize_number(text: str) -> str | None:
    """Canonical decimal string for a number as written ("$1,234.50" -> "1234.5")."""
    cleaned = (
        text.strip()
        .replace(",", "")
        .replace("$", "")
        .replace("−", "-")
        .replace("–", "-")
        .replace(" ", "")
        .rstrip(".")
    )
    try:
        if "/" in cleaned:
            numerator, denominator = cleaned.split("/", 1)
            value = Decimal(numerator) / Decimal(denominator)
        else:
            value = Decimal(cleaned)
    except (InvalidOperation, ZeroDivisionError, ValueError):
        return None
    if value == value.to_integral_value():
        return str(value.quantize(Decimal(1)))
    return format(value.normalize(), "f")


def extract_number(output: str) -> tuple[str | None, str]:
    """The final numeric answer of a free-text solution.

    Rules, first match wins (the *last* occurrence of each in the text):
    ``boxed`` (LaTeX ``\\boxed{..}``), ``final-answer-phrase`` ("#### N", "The answer
    is N", "Final answer: N"), ``last-number`` (the last number anywhere), ``none``.
    """
    for method, pattern in (("boxed", _BOXED_RE), ("final-answer-phrase", _HASHES_RE), ("final-answer-phrase", _PHRASE_RE)):
        matches = pattern.findall(output)
        for candidate in reversed(matches):
            numbers = _NUMBER_RE.findall(candidate)
            if numbers:
                value = normalize_number(numbers[-1])
                if value is not None:
                    return value, method
    for candidate in reversed(_NUMBER_RE.findall(output)):
        value = normalize_number(candidate)
        if value is not None:
            return value, "last-number"
    return None, NONE
