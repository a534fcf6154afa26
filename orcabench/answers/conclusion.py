"""The conclusion layer for options (layer 5): the last sentence that names one option, by its
letter, its text or its value.

An option's text or value is matched after normalising case, punctuation, articles, markdown,
units, number words and dates, and only where the sentence asserts exactly one option: an
option that is only the sentence's subject asserts nothing. :mod:`orcabench.answers.choice`
reads options by letter and calls this layer after its explicit rules.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import Decimal

from orcabench.answers.text import (
    NUMBER,
    NUMBER_RE,
    clean_markup,
    conclusion_number,
    latex_plain,
    normalize_number,
    normalize_text,
    prose,
)

# Around an option's text: a leading article, and before a bare value a word of approximation
# ("About 30%."), neither of which changes which option is meant.
_ARTICLE_RE = re.compile(r"^(?:the|a|an)\s+")
_QUALIFIER_RE = re.compile(r"^(?:about|approximately|around|roughly|nearly|exactly|just|only|it\s+is|it's|it\s+was)\s+")

def matched_letter(match: re.Match[str]) -> str:
    return next(group for group in match.groups() if group).upper()


def option_forms(text: str, said: bool) -> list[str]:
    """Ways to read a text, strictest first: as written, without a leading article (and, for
    what the model said, without a word of approximation)."""
    form = normalize_text(text)
    forms = [form]
    if said:
        forms.append(_QUALIFIER_RE.sub("", form))
    forms += [_ARTICLE_RE.sub("", f) for f in forms]
    return list(dict.fromkeys(f for f in forms if f))


# The conclusion (layer 5): the last sentence that names an option, by letter, text or value.
_SENTENCE_END_RE = re.compile(r"(?<=[.!?])\s+(?=\S)|\n+")
_OPTION_MARK_RE = re.compile(r"^\s*(?:[-*•]\s*)?\(?[A-Z][.):](?:\s|$)")
# Where an option's text in a sentence is what the sentence asserts: after a verb or mark
# ("The closest planet is Mercury.", "So: 37") or at its end; as its subject ("A kidney is an
# organ that ...") it is what the sentence talks about, not its answer.
_CLAIMED_SUBJECT_RE = re.compile(r"\b(?:is|are)\s+(?:the\s+)?(?:best|correct|right|most\s+(?:likely|accurate|appropriate))"
                                 r"\s+(?:answer|description|choice|option|explanation|fit)\b")
_COMPLEMENT_RE = re.compile(r"\b(?:is|are|was|were|be|it's|that's|'s|becomes?|equals?|gives?|get|gets)\s|[:=→]\s*")
_CONCLUSION_SENTENCES = 3  # how far back from the end the conclusion may lie ("Hope this helps!" after it)


_MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november",
           "december")
_NUMERIC_DATE_RE = re.compile(r"(?<![\d/])(\d{1,2})/(\d{1,2})/(\d{4})(?![\d/])")
_WRITTEN_DATE_RE = re.compile(rf"\b({'|'.join(_MONTHS)})\s+(\d{{1,2}})(?:st|nd|rd|th)?,?\s+(\d{{4}})\b", re.IGNORECASE)


def canonical_dates(text: str) -> str:
    """Dates as MM/DD/YYYY ("4/9/1968" and "April 9, 1968" -> "04/09/1968"), so that an option's
    date matches however the model wrote it."""
    text = _WRITTEN_DATE_RE.sub(lambda m: f"{_MONTHS.index(m.group(1).casefold()) + 1}/{m.group(2)}/{m.group(3)}", text)
    return _NUMERIC_DATE_RE.sub(lambda m: f"{int(m.group(1)):02d}/{int(m.group(2)):02d}/{m.group(3)}", text)


_NUMBER_WORDS = {word: index for index, word in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen "
    "eighteen nineteen twenty".split())}


def _option_value(option: str) -> str | None:
    """An option that is a number, perhaps with a unit or sign ("37", "$1,500", "12 km", "30%"),
    or a number word ("eleven"), as its value."""
    word = normalize_text(option)
    if word in _NUMBER_WORDS:
        return str(_NUMBER_WORDS[word])
    match = re.fullmatch(rf"\s*[$€£]?\s*({NUMBER})\s*(?:%|[A-Za-z]+(?:\s+[A-Za-z]+)?)?\s*\.?", clean_markup(option))
    return normalize_number(match.group(1)) if match else None


# A number word that counts ("eleven apples"), not one that stands for a thing ("the one on the left",
# "one of them", "no one").
_COUNTING_WORD_RE = re.compile(rf"(?<!\bthe\s)(?<!\bthis\s)(?<!\bthat\s)(?<!\bno\s)(?<!\beach\s)(?<!\bany\s)"
                               rf"(?<!\bwhich\s)\b({'|'.join(_NUMBER_WORDS)})\b(?!\s+of\b)(?!-)", re.IGNORECASE)


def _worded_values(sentence: str) -> set[str]:
    """The values of the number words a sentence counts with ("eleven" -> "11")."""
    return {str(_NUMBER_WORDS[m.group(1).casefold()]) for m in _COUNTING_WORD_RE.finditer(sentence)}


# A quantity as an option or a boxed answer writes it: a number, perhaps in scientific notation
# ("2.25 × 10^6", "2.25\\times 10^{6}", "3e-4"), perhaps with a unit ("m/s", "km", "%").
_QUANTITY_RE = re.compile(rf"\s*[$€£]?\s*({NUMBER})\s*(?:(?:[×x*·]|\\times|\\cdot)\s*10\s*\^\s*\{{?\s*([-−]?\d+)\s*\}}?"
                          r"|[eE]([-+−]?\d+))?\s*(%|[A-Za-zµ°Ω/][A-Za-z0-9µ°Ω/^·*]*(?:\s+[A-Za-z/][A-Za-z0-9/^]*)?)?\s*\.?\s*")


def _quantity(text: str) -> tuple[str, str, bool] | None:
    """The value and unit of a quantity, and whether it is written in scientific notation
    ("2.25\\times 10^6\\,\\text{m/s}" -> ("2250000", "m/s", True)), or None."""
    match = _QUANTITY_RE.fullmatch(latex_plain(text))
    value = normalize_number(match.group(1)) if match else None
    if match is None or value is None:
        return None
    exponent = match.group(2) or match.group(3)
    if exponent:
        value = normalize_number(format(Decimal(value).scaleb(int(exponent.replace("−", "-"))), "f"))
    return (value, (match.group(4) or "").casefold(), bool(exponent)) if value is not None else None


def option_by_quantity(text: str, letters: str, options: Sequence[str] | None) -> str | None:
    """The one option whose quantity ``text`` states in scientific notation, or states where the
    option is in it: same value and (where both give one) same unit ("\\boxed{2.25\\times
    10^6\\,\\text{m/s}}" for an option "2.25 × 10^6 m/s", whose spelling LaTeX cannot match);
    None for none or several."""
    said = _quantity(text)
    if said is None or not options:
        return None
    found = {letter for letter, option in zip(letters, options) for quantity in [_quantity(option)]
             if quantity is not None and (said[2] or quantity[2]) and quantity[0] == said[0]
             and (not said[1] or not quantity[1] or said[1] == quantity[1])}
    return found.pop() if len(found) == 1 else None


def _named_options(sentence: str, letters: str, options: Sequence[str] | None) -> tuple[set[str], set[str], set[str]]:
    """The options a sentence mentions, those it asserts, and those it only names before its
    verb (its subject or data: "Adding one day to 11/02/2019 gives ..."): by letter ("(B)",
    "B."), by normalised text (a longer option's text that holds a shorter one counts once;
    asserted after a verb or at the sentence's end), or by value (the number the sentence
    asserts, else the only number in it that is an option's value)."""
    upper = letters.upper()
    asserted = {matched_letter(m) for m in re.finditer(
        rf"\(\s*([{letters}])\s*\)|(?-i:\b([{upper}]))(?=\s*[.!;,)]|\s*$|\s+(?:is|it\s+is|fits|wins)\b)", sentence)}
    mentioned = set(asserted) | {m.group(1) for m in re.finditer(rf"(?-i:\b([{upper}])\b)(?!['’])", sentence)
                                 if m.group(1) not in "AI"}
    before: set[str] = set()
    if not options:
        return mentioned, asserted, before
    said = f" {canonical_dates(normalize_text(sentence))} "
    verb = min((m.end() for m in _COMPLEMENT_RE.finditer(said)), default=None)
    # "X is the best description": the subject is what the sentence claims to be the answer
    claimed_subject = _CLAIMED_SUBJECT_RE.search(said) is not None
    spans: list[tuple[int, int, str]] = []
    for letter, option in zip(letters, options):
        for form in map(canonical_dates, option_forms(option, said=False)):
            found = [m.start() for m in re.finditer(rf"(?<![\w/]){re.escape(form)}(?![\w/])", said)] if len(form) > 1 else []
            if found:
                spans += [(at, at + len(form), letter) for at in found]
                break
    for start, end, letter in spans:
        if any(s <= start and end <= e and (s, e) != (start, end) for s, e, _ in spans):
            continue  # "conditioning" inside "operant conditioning"
        mentioned.add(letter)
        if (verb is not None and start >= verb - 1) or not said[end:].strip() or claimed_subject:
            asserted.add(letter)
        elif verb is not None:
            before.add(letter)
    values = {_option_value(option): letter for letter, option in zip(letters, options)}
    values.pop(None, None)
    if values:
        number = conclusion_number(sentence)
        stated = {normalize_number(n) for n in NUMBER_RE.findall(clean_markup(sentence))} & set(values)
        if number is None and not stated and not mentioned:
            stated = _worded_values(sentence) & set(values)  # "So there are eleven." for an option "11"
        if number in values:
            mentioned.add(values[number])
            asserted.add(values[number])
        elif len(stated) == 1:
            only = values[stated.pop()]
            mentioned.add(only)
            asserted.add(only)
    return mentioned, asserted, before


def conclusion_option(output: str, letters: str, options: Sequence[str] | None) -> str | None:
    """The one option the concluding sentence asserts; None when it asserts several, or
    negates. The conclusion is the last of the final few sentences to mention any option,
    not a question, not code; an output that ends by listing options has none."""
    sentences = [s for s in _SENTENCE_END_RE.split(prose(output)) if s.strip()][-_CONCLUSION_SENTENCES:]
    for sentence in reversed(sentences):
        if _OPTION_MARK_RE.match(clean_markup(sentence)):
            return None  # the output ends by listing options: no sentence concludes it
        if sentence.rstrip(" *_\"')").endswith("?"):
            continue
        mentioned, asserted, before = _named_options(sentence, letters, options)
        if not mentioned:
            continue
        if re.search(r"\b(?:not|never|nor)\b|n't\b", sentence, re.IGNORECASE) or len(asserted) != 1:
            return None  # "not Venus", "B or C", "both X and Y"
        return asserted.pop() if mentioned - asserted <= before else None
    return None
