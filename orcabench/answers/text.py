"""Answer extractors: one function per answer format.

Each extractor takes a model's raw output and returns ``(answer, method)``: the
normalised answer (or ``None``) and the name of the rule that produced it, so every
record says *how* its answer was read. Numbers and the helpers every format shares live
here; option letters in :mod:`orcabench.answers.choice`; answers written as text (bracket
runs, word lists, a last word, math, short phrases) in :mod:`orcabench.answers.spans`.
``tests/extraction_corpus.py`` (real chat-model answer styles, every format) is the
specification; :data:`RULES` names every rule.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from functools import lru_cache

# The rule names and their layers live in orcabench.answers.rules; re-exported here, where
# callers (audit, the two-stage reader) have always found them.
from orcabench.answers.rules import EXPLICIT_RULES, NONE, RULES, WEAK_RULES  # noqa: F401

# A number as people write it: optional sign (a hyphen only when it is not a range or
# subtraction such as "10-3"), thousands separators, decimals, or a simple fraction.
NUMBER = r"(?:(?<![\w.])[-−–])?\d{1,3}(?:,\d{3})+(?:\.\d+)?|(?:(?<![\w.])[-−–])?\d+(?:\.\d+)?(?:/\d+)?|(?:(?<![\w.])[-−–])?\.\d+"
NUMBER_RE = re.compile(NUMBER)
_HASHES_RE = re.compile(r"####\s*\$?\s*(" + NUMBER + ")")
# "The answer is 18", "Final answer: $18", "the answer is therefore **18**",
# "So the answer is that she makes $18": a few filler words are allowed after the phrase,
# never past a sentence end or a question mark.
_PHRASE_RE = re.compile(
    r"(?:final\s+answer|the\s+answer|answer)\s*(?:is|=|:|would\s+be|will\s+be)?\s*:?"
    r"(?:(?![.!]\s)[^\d\n−–?-]){0,40}?(" + NUMBER + ")",
    re.IGNORECASE,
)
# A phrase's number that opens an equation ("18 + 38 = 56"): the answer is its result.
_EQUATION_RESULT_RE = re.compile(r"[\d.,$\s]+(?:[-+*/×x÷][\d.,$\s()]+)+=\s*\$?\s*(" + NUMBER + ")")
_NUMBER_HEDGE_RE = re.compile(r"\s*,?\s*(?:or|and/or|/)\s*\$?\s*\d")
# The first line is the number, perhaps with a unit: "18", "$18.", "9 coins", "**72**".
_LEADING_NUMBER_RE = re.compile(r"^\s*(?:\$\s*)?(" + NUMBER + r")\s*(?:%|[A-Za-z]+(?:\s+[A-Za-z]+){0,2})?\s*[.!]?[ \t]*(?:\n|$)")
# Answer first: a first sentence that states the quantity, then a colon, "because" or "Here's
# why" introduces the working ("There are 9 coins: 4 dimes, 3 nickels and 2 pennies.").
_VERBS = (r"needs?|makes?|made|earns?|earned|spends?|spent|pays?|paid|has|have|had|gets?|got|saves?|saved|owes?|"
          r"loses?|lost|sells?|sold|buys?|bought|uses?|used|costs?|takes?|took|eats?|ate|runs?|ran|reads?|walks?|walked")
_ANSWER_FIRST_RE = re.compile(
    r"^\s*(?:(?:sure|of\s+course|certainly|great\s+question|okay|ok)\b[^.!\n]{0,30}[.!]\s*)?"
    r"(?:there\s+(?:are|is|were|was|will\s+be)"
    r"|(?:the\s+)?(?:total|result|sum|number|cost|price|amount|difference|profit|value)\b[^\n:.?\d]{0,40}?"
    r"\b(?:is|was|are|were|will\s+be|comes\s+to)"
    rf"|(?:he|she|they|it|we|i|you|[a-z]+)\s+(?:will\s+|would\s+|can\s+)?(?:{_VERBS}))"
    r"\s+(?:a\s+total\s+of\s+|in\s+total\s+|about\s+|exactly\s+|only\s+)?\$?\s*(" + NUMBER + r")"
    r"[^\n\d:.?]{0,40}?(?::|\s+(?:because|since|as)\b|\s+[—–]\s|\.\s+(?:here'?s\s+(?:why|how)|here\s+is\s+(?:why|how)))",
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
    ``boxed`` (LaTeX ``\\boxed{..}``, braces balanced, LaTeX number markup read as plain:
    ``3{,}450``, ``\\frac{3}{4}``, ``\\$75``), ``final-answer-phrase`` ("#### N", "The answer
    is N", "Final answer: N", the explanation after it or not; not a phrase inside a
    question; an equation after it reads as its result: "the answer: 18 + 38 = 56");
    ``leading-number`` (the first line is the number: "$18." then the working);
    ``answer-first`` (the first sentence states the number and a colon or "because" starts the
    working, whose numbers are not answers: "There are 9 coins: 4 dimes, 3 nickels and 2
    pennies."); ``conclusion-number`` (the number the concluding sentence asserts, see
    :func:`conclusion_number`); ``last-number`` (the last number anywhere). A number these three rules would
    read from a question the output ends with ("Do you mean 5 or 6 apples?") is ``none``, and
    so is a hedged phrase ("the answer is 5 or 6").
    """
    for content in reversed(boxed_contents(output)):
        numbers = NUMBER_RE.findall(latex_plain(content))
        if numbers and normalize_number(numbers[-1]) is not None:
            return normalize_number(numbers[-1]), "boxed"
    for method, pattern in (("final-answer-phrase", _HASHES_RE), ("final-answer-phrase", _PHRASE_RE)):
        for match in reversed(list(pattern.finditer(output))):
            numbers = NUMBER_RE.findall(match.group(1))
            value = normalize_number(numbers[-1]) if numbers else None
            if value is None or (pattern is _PHRASE_RE and re.match(r"[^.!?\n]*\?", output[match.end():])):
                continue  # "can you tell me if the answer is $2 per egg?" asks, and answers nothing
            if _NUMBER_HEDGE_RE.match(output[match.end():]):
                return None, NONE  # "the answer is 5 or 6"
            result = _EQUATION_RESULT_RE.match(output[match.start(1):])
            if result and normalize_number(result.group(1)) is not None:
                return normalize_number(result.group(1)), method  # "we get the answer: 18 + 38 = 56"
            return value, method
    text = clean_markup(output)
    for method, pattern in (("leading-number", _LEADING_NUMBER_RE), ("answer-first", _ANSWER_FIRST_RE)):
        match = pattern.match(text)
        if match and normalize_number(match.group(1)) is not None:
            return (None, NONE) if asked(text, match.start(1)) else (normalize_number(match.group(1)), method)
    concluded = conclusion_number(output)
    if concluded == HEDGE:
        return None, NONE
    if concluded is not None:
        return concluded, "conclusion-number"
    for candidate in reversed(list(NUMBER_RE.finditer(output))):
        value = normalize_number(candidate.group())
        if value is not None:
            return (None, NONE) if asked(output, candidate.start()) else (value, "last-number")
    return None, NONE


def latex_plain(text: str) -> str:
    """LaTeX number markup as plain text: ``3{,}450`` -> ``3,450``, ``\\frac{3}{4}`` -> ``3/4``,
    ``\\$75`` -> ``$75``, ``\\text{..}`` unwrapped."""
    text = clean_markup(text)
    text = re.sub(r"\\[dt]?frac\s*\{([^{}]*)\}\s*\{([^{}]*)\}", r"(\1)/(\2)", text)
    text = re.sub(r"\(\s*(" + NUMBER + r")\s*\)/\(\s*(" + NUMBER + r")\s*\)", r"\1/\2", text)
    for latex, plain in (("{,}", ","), ("\\,", ""), ("\\!", ""), ("\\ ", " "), ("\\$", "$"), ("\\%", "%")):
        text = text.replace(latex, plain)
    return text


# The concluding sentence of a number answer: the quantity it asserts, strongest mark first.
HEDGE = "hedge"
_SENTENCE_SPLIT_RE = re.compile(r"(?<=[.!?])\s+(?=\S)|\n+")
_COMPUTED_RE = re.compile(r"=\s*(?:\*\*)?\s*[$€£]?\s*(" + NUMBER + ")")
# A sentence that draws the conclusion: only there does "has N" state the answer rather than
# restate the question's data ("She has 16 eggs and eats 3.").
_CONCLUDING_RE = re.compile(r"\b(?:so|therefore|thus|hence|in\s+total|altogether|overall|finally|in\s+the\s+end|"
                            r"as\s+a\s+result|(?:that|this|which)\s+means)\b", re.IGNORECASE)
_ASSERTED_RE = re.compile(
    r"\b(?:is|are|was|were|has|have|had|equals?|totals?|comes\s+to|gets?|earns?|makes?|needs?|costs?|pays?|spends?|"
    r"saves?|owes?|will\s+(?:have|be|get|need|pay|make|earn|spend|cost|save|take)|would\s+(?:have|be|get|need|pay|cost)|"
    r"leaves?|remains?|left\s+with)\s+(?:to\s+(?:buy|get|make|pay|spend|order|use|bake|sell|save|take|bring|pack)\s+)?"
    r"(?:a\s+total\s+of\s+|in\s+total\s+|about\s+|exactly\s+|only\s+|just\s+)?"
    r"(?:\*\*)?\s*[$€£]?\s*(" + NUMBER + ")",
    re.IGNORECASE,
)
_BOLD_NUMBER_RE = re.compile(r"\*\*[^*\n\d]{0,12}?[$€£]?\s*(" + NUMBER + r")[^*\n]{0,20}\*\*")
_CURRENCY_RE = re.compile(r"[$€£]\s*(" + NUMBER + ")")
_NUMBER_OR_RE = re.compile("(?:" + NUMBER + r")\s*\bor\b\s*\$?\s*(?:" + NUMBER + ")", re.IGNORECASE)  # "144 / 12" divides
# A number that only says over how long ("after 4 weeks", "in 3 days"): the question's data, not the answer.
_DURATION_RE = re.compile(r"\b(?:in|after|for|over|within|every|per)\s+(?:the\s+next\s+|the\s+first\s+)?(" + NUMBER +
                          r")\s+(?:weeks?|days?|months?|years?|hours?|minutes?|seconds?|mornings?|nights?)\b", re.IGNORECASE)


_FENCED_CODE_RE = re.compile(r"```.*?(?:```|$)", re.DOTALL)


def prose(text: str) -> str:
    """The text without its code fences: code is not a sentence that concludes anything."""
    return _FENCED_CODE_RE.sub("\n", text)


def concluding_sentence(text: str) -> str | None:
    """The last sentence or line of the output that holds a number and asks nothing."""
    for sentence in reversed(_SENTENCE_SPLIT_RE.split(prose(text))):
        if NUMBER_RE.search(sentence) and not sentence.rstrip(" *_\"')").endswith("?"):
            return sentence
    return None


# A trailing clause that says what the answer is for ("so that every student can have 2") or
# what is left over besides it (", and he will have 2 left over"): a by-product of the answer,
# which the main clause before it asserts.
_BY_PRODUCT_RE = re.compile(
    r"\s+(?:so\s+that|in\s+order\s+to)\b"
    r"|,?\s+(?:and|with)\s+(?![^.;]*\b(?:and|with)\s)[^.;]*\b(?:left\s*over|leftover|remaining|to\s+spare|left)"
    r"[\s.!*]*$",
    re.IGNORECASE)


def conclusion_number(output: str) -> str | None:
    """The number the concluding sentence asserts ("So Maria will have $240 after 4 weeks."
    -> 240): the last computed "= N" in it, else (in a sentence that concludes: "so",
    "therefore", "in total") the last number it states with a verb ("is", "has", "will have"),
    else the one in bold, else the one with a currency sign, else the only one that is not a
    duration ("36 eggs in 4 weeks"). None when
    the sentence marks no number (the weak rules read its last one); :data:`HEDGE` when it
    offers two ("5 or 6")."""
    sentence = concluding_sentence(latex_plain(output) if "\\" in output else output)
    if sentence is None:
        return None
    if _NUMBER_OR_RE.search(sentence):
        return HEDGE
    concluding = _CONCLUDING_RE.search(sentence) is not None
    by_product = _BY_PRODUCT_RE.search(sentence)
    if concluding and by_product and not _COMPUTED_RE.search(sentence):
        # "Therefore, he will need to buy 7 packs ..., and he will have 2 left over." -> 7: the main clause's
        # quantity, where it states one, over the by-product's
        main = [normalize_number(match.group(1)) for match in _ASSERTED_RE.finditer(sentence[:by_product.start()])]
        if [value for value in main if value is not None]:
            return [value for value in main if value is not None][-1]
    for pattern in (_COMPUTED_RE, _ASSERTED_RE, _BOLD_NUMBER_RE, _CURRENCY_RE):
        if pattern is _ASSERTED_RE and not concluding:
            continue
        found = [normalize_number(match.group(1)) for match in pattern.finditer(sentence)]
        found = [value for value in found if value is not None]
        if found:
            return found[-1]
    durations = {match.start(1) for match in _DURATION_RE.finditer(sentence)}
    numbers = [match for match in NUMBER_RE.finditer(sentence)]
    rest = [match for match in numbers if match.start() not in durations]
    if durations and len(rest) == 1 and normalize_number(rest[0].group()) is not None:
        return normalize_number(rest[0].group())  # "She will eat 36 eggs in 4 weeks."
    return None


def closing_question(text: str) -> tuple[int, str]:
    """Where the question an output ends with starts, and its text ("Do you mean 5 or 6
    apples?"); ``(len(text), "")`` when the output does not end by asking something."""
    end = len(text.rstrip().rstrip("\"'”’)]*"))
    if not text[:end].endswith("?"):
        return len(text), ""
    start = max(text.rfind(mark, 0, end - 1) for mark in (". ", "! ", "? ", "\n")) + 1
    return start, text[start:end]


def asked(text: str, position: int) -> bool:
    """True when ``text[position]`` lies in the question the output ends with: what a model
    asks the user about is no answer, so the weak rules do not read it."""
    return position >= closing_question(text)[0]


# ---------------------------------------------------------------------------------------
# Closed-set and free-form answers (BBH, AGIEval, MMLU, ARC, CRASS, LAMBADA).
#
# Shared conventions, so that every extractor reads the same way:
# * markdown emphasis, backticks and LaTeX ``\text{..}`` wrappers are removed first;
# * an explicit ``\boxed{..}`` wins, then the *last* final-answer phrase ("the answer is",
#   "Answer:", "the correct option is"), then a weaker format-specific fallback;
# * a hedge ("(A) or (B)", "yes or no") is unparsed (``none``): it scores 0 and counts in the
#   unparsed rate, rather than crediting either option.
# ``tests/extraction_corpus.py`` is the specification.
# ---------------------------------------------------------------------------------------

_MARKDOWN_RE = re.compile(r"\*\*|__|`|(?<!\w)\*(?=\S)|(?<=\S)\*(?!\w)")
_LATEX_WRAPPER_RE = re.compile(r"\\(?:text|textbf|mathrm|mathbf|texttt)\s*\{([^{}]*)\}")
# "the answer is", "Final answer:", "the correct option is", "the best choice would be".
_FINAL_PHRASE_CORE = (
    r"(?:\b(?:final\s+|correct\s+|right\s+|best\s+)?answer\b|\b(?:correct|right|best|final)\s+(?:option|choice)\b)"
    r"(?:\s*(?:is|would\s+be|will\s+be|must\s+be|should\s+be|=|:)\b)*\s*[:\-–—]?\s*"
)
_FINAL_PHRASE = (
    _FINAL_PHRASE_CORE + r"(?:(?:therefore|thus|then|clearly|probably|definitely|likely|indeed|option|choice|letter)\b\s*)*"
    r"[:\-–—]?\s*"
)
FINAL_PHRASE_RE = re.compile(_FINAL_PHRASE, re.IGNORECASE)


def clean_markup(text: str) -> str:
    """The text without markdown emphasis and LaTeX text wrappers (``**B**`` -> ``B``)."""
    previous = None
    while previous != text:  # nested wrappers: \textbf{\text{B}}
        previous, text = text, _LATEX_WRAPPER_RE.sub(r"\1", text)
    return _MARKDOWN_RE.sub("", text)


def boxed_contents(text: str) -> list[str]:
    """Contents of every ``\\boxed{..}`` / ``\\fbox{..}``, braces balanced to any depth."""
    found: list[str] = []
    for match in re.finditer(r"\\(?:boxed|fbox)\s*\{", text):
        depth, start = 1, match.end()
        for position in range(start, len(text)):
            depth += {"{": 1, "}": -1}.get(text[position], 0)
            if depth == 0:
                found.append(text[start:position])
                break
    return found


@lru_cache(maxsize=65536)  # option texts are normalised again for every output scored
def normalize_text(text: str) -> str:
    """Case- and punctuation-insensitive form used to match option texts and free text, and
    how :func:`orcabench.answers.spans.extract_phrase_text` writes its answers (normalise gold strings with it)."""
    text = clean_markup(text).casefold()
    text = re.sub(r"[\s\u00a0]+", " ", text)
    return text.strip(" .,;:!?\"'“”‘’()[]{}").strip()


def rest_of_line(text: str, start: int) -> str:
    return text[start:].split("\n", 1)[0]
