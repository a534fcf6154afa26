"""Answer extractors: one function per answer format.

Each extractor takes a model's raw output and returns ``(answer, method)``: the
normalised answer (or ``None``) and the name of the rule that produced it, so every
record says *how* its answer was read. ``tests/test_extract.py`` is the specification.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from functools import lru_cache

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


# ---------------------------------------------------------------------------------------
# Closed-set and free-form answers (BBH, AGIEval, MMLU, ARC, CRASS, LAMBADA).
#
# Shared conventions, so that every extractor reads the same way:
# * markdown emphasis, backticks and LaTeX ``\text{..}`` wrappers are removed first;
# * an explicit ``\boxed{..}`` wins, then the *last* final-answer phrase ("the answer is",
#   "Answer:", "the correct option is"), then a weaker format-specific fallback;
# * a hedge ("(A) or (B)", "yes or no") is unparsed (``none``): it scores 0 and counts in the
#   unparsed rate, rather than crediting either option.
# ``tests/test_extract_choices.py`` is the specification.
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
_FINAL_PHRASE_RE = re.compile(_FINAL_PHRASE, re.IGNORECASE)
_FINAL_PHRASE_CORE_RE = re.compile(_FINAL_PHRASE_CORE, re.IGNORECASE)
# What may follow a bare letter for it to be a letter and not a word ("the answer is A dog").
_AFTER_BARE_LETTER = r"(?=\s*$|\s*[.,;:!?)\]]|\s*[-–—]|\s+(?:because|since|as|which|for|and|with|so)\b)"
_HEDGE_AFTER_RE = re.compile(r"^\s*[)\]]?\s*,?\s*(?:or|and/or|/)\s*(?:option\s+|choice\s+)?[(\[]?([A-Za-z])(?:[)\]]|\b)", re.I)
_HEDGE_BEFORE_RE = re.compile(r"[(\[]?\b([A-Za-z])[)\]]?\s*,?\s*(?:or|and/or|/)\s*(?:option\s+|choice\s+)?[(\[]?$", re.I)


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
def _normalize_text(text: str) -> str:
    """Case- and punctuation-insensitive form used to match option texts and free text."""
    text = clean_markup(text).casefold()
    text = re.sub(r"[\s\u00a0]+", " ", text)
    return text.strip(" .,;:!?\"'“”‘’()[]{}").strip()


def _letter_at(text: str, valid: str) -> re.Match[str] | None:
    """A choice letter at the very start of ``text``: "(B)", "[B]", "B)", or a bare "B" that
    is not the start of a word."""
    pattern = rf"^\s*(?:\(\s*([{valid}])\s*\)|\[\s*([{valid}])\s*\]|([{valid}])(?=\))|([{valid}]){_AFTER_BARE_LETTER})"
    return re.match(pattern, text, re.IGNORECASE)


def _matched_letter(match: re.Match[str]) -> str:
    return next(group for group in match.groups() if group).upper()


def _hedged(text: str, start: int, end: int, letter: str) -> bool:
    """True when the letter at ``text[start:end]`` is offered together with another one."""
    after = _HEDGE_AFTER_RE.match(text[end:])
    before = _HEDGE_BEFORE_RE.search(text[:start])
    return any(m is not None and m.group(1).upper() != letter for m in (after, before))


def _option_by_text(texts: Sequence[str], letters: str, options: Sequence[str] | None, exact: bool = False) -> str | None:
    """The letter whose option text the first of ``texts`` that names one equals (``exact``)
    or starts with. The longest matching option wins; two different options of that length
    are no answer. ``texts`` are candidate readings, tried in order."""
    if not options:
        return None
    wanted = [(letter, _normalize_text(option)) for letter, option in zip(letters, options)]
    for text in texts:
        said = _normalize_text(text)
        best = [(len(w), letter) for letter, w in wanted
                if w and (said == w or (not exact and said.startswith(w) and not said[len(w)].isalnum()))]
        if exact and len(said) <= 1:
            continue  # a lone letter is a letter, even where some option's text is that letter
        if best:
            longest = max(length for length, _ in best)
            winners = {letter for length, letter in best if length == longest}
            return winners.pop() if len(winners) == 1 else None
    return None


def _phrase_word_starts(text: str, phrase: re.Match[str]) -> list[int]:
    """Where the answer may begin after a final-answer phrase: right after "answer", then
    after each following word of the phrase ("is", "therefore", "-"), in that order. An
    option's text may itself start like such a word ("is opened by ...", "So ...", "-1")."""
    keyword = re.search(r"answer|option|choice", text[phrase.start():phrase.end()], re.IGNORECASE)
    first = phrase.start() + (keyword.end() if keyword else 0)
    starts = [first] + [first + m.end() for m in re.finditer(r"\s+", text[first:phrase.end()])] + [phrase.end()]
    return list(dict.fromkeys(starts))


def _sentence(text: str, start: int) -> str:
    """The rest of the line from ``start``, up to a sentence end ". " (not "0.5")."""
    return re.split(r"\.\s", _rest_of_line(text, start), maxsplit=1)[0]


def _rest_of_line(text: str, start: int) -> str:
    return text[start:].split("\n", 1)[0]


def _leading_letter(text: str, letters: str, options: Sequence[str] | None) -> str | None:
    match = re.match(rf"\s*(?:\(\s*([{letters}])\s*\)|([{letters}])(?=[.):,;]|\s*$|\s*\n))", text, re.IGNORECASE)
    if not match:
        return None
    letter, rest = _matched_letter(match), text[match.end():].lstrip(".):,; \t")
    if not rest.strip() or rest.startswith("\n") or re.match(r"(?:because|since|as)\b", rest, re.IGNORECASE):
        return letter
    option = options[letters.index(letter)] if options else None
    return letter if option and _normalize_text(rest).startswith(_normalize_text(option)) else None


def extract_choice(output: str, letters: str = "ABCD", options: Sequence[str] | None = None) -> tuple[str | None, str]:
    """The option letter a model chose among ``letters`` (e.g. ``"ABCD"``), upper case.

    Rules, first that yields wins:
    ``boxed`` (``\\boxed{B}``, ``\\boxed{(B)}``, ``\\boxed{\\text{B}}``);
    ``final-answer-phrase`` (the *last* "the answer is (B)", "Answer: b", "the correct option
    is B because ..."; a bare letter must not start a word, so "the answer is A dog" is no
    letter); ``option-text`` (that phrase followed by an option's text instead of its
    letter, or the whole output / its last line being one option's text);
    ``leading-letter`` (the output opens with a letter followed by punctuation, a line end or
    that option's text: "(B) 6(√3 + √2)", "B. Because ...", for prompts that end in "the
    answer is"; "(A) is wrong ..." does not count);
    ``last-option-letter`` (the last "(B)", or "B." / "B)" opening a line, or a lone "B").
    A hedge ("(A) or (B)") where a rule fires makes the output unparsed (``none``).
    Letters outside ``letters`` are never answers.
    """
    text = clean_markup(output)
    for content in reversed(boxed_contents(text)):
        match = _letter_at(content + " ", letters)
        if match:
            return _matched_letter(match), "boxed"
    for phrase in reversed(list(_FINAL_PHRASE_RE.finditer(text))):
        starts = _phrase_word_starts(text, phrase)
        readings = [reading for start in starts for reading in (_rest_of_line(text, start), _sentence(text, start))]
        exact = _option_by_text(readings, letters, options, exact=True)
        if exact:  # "the answer is A and D." where an option reads "A and D"
            return exact, "option-text"
        match = _letter_at(text[phrase.end():], letters)
        if match:
            letter = _matched_letter(match)
            end = phrase.end() + match.end()
            return (None, NONE) if _hedged(text, phrase.end(), end, letter) else (letter, "final-answer-phrase")
        by_text = _option_by_text([_rest_of_line(text, start) for start in starts], letters, options)
        if by_text:
            return by_text, "option-text"
    leading = _leading_letter(text, letters, options)
    if leading:
        return leading, "leading-letter"
    marks = list(re.finditer(rf"\(\s*([{letters}])\s*\)|^\s*([{letters}])(?:[.):]|\s*$)", text, re.IGNORECASE | re.MULTILINE))
    if marks:
        last = marks[-1]
        letter = _matched_letter(last)
        return (None, NONE) if _hedged(text, last.start(), last.end(), letter) else (letter, "last-option-letter")
    lines = [line for line in text.splitlines() if line.strip()]
    by_text = _option_by_text([text, lines[-1] if lines else ""], letters, options, exact=True)
    if by_text:
        return by_text, "option-text"
    return None, NONE


def extract_label(output: str, labels: Sequence[str]) -> tuple[str | None, str]:
    """One of a closed set of answer words (``("Yes", "No")``, ``("True", "False")``,
    ``("valid", "invalid")``), returned spelled as in ``labels``; matching ignores case.

    Rules: ``boxed``; ``final-answer-phrase`` (the last "the answer is No"); ``leading-label``
    (the output starts with a label: direct answers such as "Yes, because ..."); ``last-label``
    (the last label word anywhere). Labels are whole words: "invalid" never reads as "valid".
    A hedge ("yes or no") where a rule fires is unparsed.
    """
    text = clean_markup(output)
    words = "|".join(re.escape(label) for label in sorted(labels, key=len, reverse=True))
    label_re = re.compile(rf"\b({words})\b", re.IGNORECASE)
    canonical = {label.casefold(): label for label in labels}
    hedge_re = re.compile(rf"^[\s.,]*(?:or|/|and/or)\s+({words})\b", re.IGNORECASE)

    def verdict(match: re.Match[str], rest: str, method: str) -> tuple[str | None, str]:
        label = canonical[match.group(1).casefold()]
        hedge = hedge_re.match(rest)
        if hedge and hedge.group(1).casefold() != label.casefold():
            return None, NONE
        return label, method

    for content in reversed(boxed_contents(text)):
        match = re.match(rf"\s*({words})\s*$", content, re.IGNORECASE)
        if match:
            return canonical[match.group(1).casefold()], "boxed"
    for phrase in reversed(list(_FINAL_PHRASE_RE.finditer(text))):
        match = re.match(rf"[\s\"'“(]*({words})\b", text[phrase.end():], re.IGNORECASE)
        if match:
            return verdict(match, text[phrase.end() + match.end():], "final-answer-phrase")
    match = re.match(rf"[\s\"'“(]*({words})(?=\s*$|\s*[.,;:!?)\n\"'”]|\s+[-–—])", text, re.IGNORECASE)
    if match:
        return verdict(match, text[match.end():], "leading-label")
    matches = list(label_re.finditer(text))
    if matches:
        last = matches[-1]
        earlier = re.search(rf"\b({words})\s*(?:or|/|and/or)\s*$", text[: last.start()], re.IGNORECASE)
        if earlier and earlier.group(1).casefold() != last.group(1).casefold():
            return None, NONE
        return canonical[last.group(1).casefold()], "last-label"
    return None, NONE


_CLOSING = ")]}>"
_BRACKET_RUN_RE = re.compile(r"[)\]}>](?:[\s`'\"]*[)\]}>])*")


def normalize_brackets(text: str) -> str:
    """A bracket sequence as BBH writes it: one bracket per token, single spaces."""
    return " ".join(ch for ch in text if ch in "()[]{}<>")


def extract_dyck(output: str) -> tuple[str | None, str]:
    """The closing-bracket sequence of a Dyck-language completion (BBH ``dyck_languages``).

    Rules: ``final-answer-phrase`` (the brackets right after the last "the answer is" /
    "Answer:", openers included, so a model that repeats the whole sequence is read as
    saying so, and scored wrong); ``last-bracket-run`` (the last run of closing brackets).
    Spacing, backticks and quotes around brackets are ignored: ``]]>`` reads ``] ] >``.
    """
    text = clean_markup(output)
    for phrase in reversed(list(_FINAL_PHRASE_RE.finditer(text))):
        run = re.match(r"[\s'\"]*((?:[()\[\]{}<>][\s'\"]*)+)", text[phrase.end():])
        if run:
            return normalize_brackets(run.group(1)), "final-answer-phrase"
    runs = _BRACKET_RUN_RE.findall(text)
    if runs:
        return normalize_brackets(runs[-1]), "last-bracket-run"
    return None, NONE


_WORD_TRIM = ".,;:!?*\"“”‘’()[]{}<>"
_LIST_MARKER_RE = re.compile(r"^(?:\d+[.)]?|[-•*–])$")  # "1." arrives as "1": dots are trimmed first
_SORTED_PHRASE_RE = re.compile(
    _FINAL_PHRASE + r"|\bsorted(?:\s+(?:list|words|order|sequence))?\s*(?:is|would\s+be)?\s*:\s*"
    r"|\balphabetical(?:ly)?(?:\s+order)?\s*(?:is|would\s+be)?\s*:\s*",
    re.IGNORECASE,
)


def _word_tokens(text: str) -> list[str]:
    """Lower-case words, list markers dropped; a sentence end becomes a "." token, which no
    vocabulary holds, so that a run of words never spans two sentences."""
    tokens: list[str] = []
    for raw in re.split(r"[\s,;]+", text):
        token = raw.strip(_WORD_TRIM).casefold()
        if token and not _LIST_MARKER_RE.match(token):
            tokens.append(token)
            if raw.rstrip("*`\"”’)").endswith((".", "!", "?")):
                tokens.append(".")
    return tokens


def _word_runs(tokens: list[str], vocabulary: set[str]) -> list[list[str]]:
    runs: list[list[str]] = [[]]
    for token in tokens:
        if token in vocabulary:
            runs[-1].append(token)
        elif runs[-1]:
            runs.append([])
    return [run for run in runs if run]


def extract_word_list(output: str, vocabulary: Sequence[str]) -> tuple[str | None, str]:
    """A list of words (BBH ``word_sorting``), lower case and space-separated, in the
    model's order; ``vocabulary`` is the task's own word list.

    Rules: ``final-answer-phrase`` (after the last "the answer is" / "sorted list:" /
    "alphabetical order:", the run of vocabulary words, across lines, list markers and
    commas skipped, ending at the first word that is not in the vocabulary, so a stray word
    ends the answer instead of being skipped over); ``last-word-run`` (the last run with at
    least half as many words as the vocabulary, else the longest run, the later on a tie).
    """
    words = {word.casefold() for word in vocabulary}
    text = clean_markup(output)
    for phrase in reversed(list(_SORTED_PHRASE_RE.finditer(text))):
        runs = _word_runs(_word_tokens(text[phrase.end():]), words)
        first = _word_tokens(text[phrase.end():])[:1]
        if runs and first and first[0] in words:
            return " ".join(runs[0]), "final-answer-phrase"
    runs = _word_runs(_word_tokens(text), words)
    if not runs:
        return None, NONE
    long_runs = [run for run in runs if 2 * len(run) >= len(words)]
    chosen = long_runs[-1] if long_runs else max(reversed(runs), key=len)
    return " ".join(chosen), "last-word-run"


def normalize_word(word: str) -> str:
    """A word compared case-insensitively, without the quotes and punctuation around it."""
    return word.strip(_WORD_TRIM + "'-–—…").casefold()


_WORD_PHRASE_RE = re.compile(
    r"\b(?:answer|missing\s+word|last\s+word|final\s+word|word)\s*(?:is|would\s+be|:)\s*"
    r"(?:(?:probably|likely|simply|just)\s+)?[:\-–—]?\s*",
    re.IGNORECASE,
)


def extract_last_word(output: str) -> tuple[str | None, str]:
    """The one word a model supplies to end a passage (LAMBADA), normalised as by
    :func:`normalize_word`.

    Rules: ``final-answer-phrase`` (the word right after the last "the missing word is",
    "Answer:", "the last word is"); ``first-word`` (otherwise the output's first word: the
    model answered with the word, or continued the passage with it).
    """
    text = clean_markup(output)
    for phrase in reversed(list(_WORD_PHRASE_RE.finditer(text))):
        tokens = [normalize_word(token) for token in text[phrase.end():].split()]
        if tokens and tokens[0]:
            return tokens[0], "final-answer-phrase"
    for token in text.split():
        word = normalize_word(token)
        if word:
            return word, "first-word"
    return None, NONE


_MATH_SPAN_RE = re.compile(r"(?<!\\)\$\$?((?:[^$]|(?<=\\)\$)+?)(?<!\\)\$\$?|\\\((.+?)\\\)|\\\[(.+?)\\\]", re.DOTALL)


def _strip_math(text: str) -> str:
    text = re.sub(r"[.。]$", "", text.strip()).strip()
    return re.sub(r"^\$+|(?<!\\)\$+$", "", text).strip()


def extract_math(output: str) -> tuple[str | None, str]:
    """A free-form mathematical answer (AGIEval ``math``), as LaTeX text.

    Rules: ``boxed`` (the last ``\\boxed{..}``, any nesting); ``final-answer-phrase`` (after
    the last "the answer is" / "Final answer:", the first ``$..$`` span on that line, else
    the rest of the sentence); ``leading-answer`` (a short first line that starts like math,
    "$\\frac12$." or "15.", for prompts that end in "The answer is"); ``last-math`` (the last
    ``$..$``, ``\\(..\\)`` or ``\\[..\\]`` span); ``last-number``. Compare with
    :func:`orcabench.answers.math_equal`, not ``==``.
    """
    boxed = boxed_contents(output)
    if boxed:
        return boxed[-1].strip(), "boxed"
    for phrase in reversed(list(_FINAL_PHRASE_RE.finditer(output))):
        line = _rest_of_line(output, phrase.end())
        span = _MATH_SPAN_RE.search(line)
        if span and not line[: span.start()].strip():
            return next((group for group in span.groups() if group), "").strip(), "final-answer-phrase"
        sentence = re.split(r"(?<!\\)\.\s|\.$", line, maxsplit=1)[0]
        if _strip_math(sentence):
            return _strip_math(sentence), "final-answer-phrase"
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    if lines and len(lines[0]) <= 60 and re.match(r"[$\\\d(\[-]", lines[0]):
        return _strip_math(re.split(r"(?<!\\)\.\s", lines[0], maxsplit=1)[0]), "leading-answer"
    spans = [next(group for group in span if group).strip() for span in _MATH_SPAN_RE.findall(output) if any(span)]
    if spans:
        return spans[-1], "last-math"
    numbers = _NUMBER_RE.findall(output)
    if numbers:
        return numbers[-1], "last-number"
    return None, NONE


def extract_phrase_text(output: str) -> tuple[str | None, str]:
    """A short free-text answer: the rest of the sentence after the last final-answer
    phrase (``final-answer-phrase``), else the last non-empty line (``last-line``)."""
    text = clean_markup(output)
    for phrase in reversed(list(_FINAL_PHRASE_RE.finditer(text))):
        sentence = re.split(r"\.\s|\.$", _rest_of_line(text, phrase.end()), maxsplit=1)[0]
        if _normalize_text(sentence):
            return _normalize_text(sentence), "final-answer-phrase"
    lines = [line for line in text.splitlines() if _normalize_text(line)]
    return (_normalize_text(lines[-1]), "last-line") if lines else (None, NONE)


def normalize_text_answer(text: str) -> str:
    """How :func:`extract_phrase_text` writes its answers, for normalising gold strings."""
    return _normalize_text(text)


# DROP: a short free-text answer (a number, a date, one or more spans), scored by token
# overlap (orcabench.drop_metric), so its original wording is kept rather than normalised.
# Only "answer" followed by "is" / ":" / "=" is a final-answer phrase here: a bare "answer"
# ("To answer this, ...") would read the reasoning's first words as the answer.
_SHORT_ANSWER_PHRASE_RE = re.compile(
    r"\b(?:final\s+|correct\s+|short\s+)?answer\s*(?:is|would\s+be|will\s+be|should\s+be|must\s+be|=|:)\s*[:\-–—]?\s*",
    re.IGNORECASE,
)


def _trim_short_answer(text: str) -> str:
    return text.strip().strip("\"'“”‘’").strip().rstrip(".!;:,").strip()


def extract_short_answer(output: str) -> tuple[str | None, str]:
    """A short free-text answer (DROP), in the model's own wording (trimmed of quotes and
    a final period).

    Rules: ``boxed`` (the last non-empty ``\\boxed{..}``); ``final-answer-phrase`` (after the
    last "the answer is" / "Answer:" / "final answer =", the rest of that sentence, on the
    next line when the phrase ends its line); ``whole-output`` (a one-line output is the
    answer); ``last-line`` (else the last non-empty line); ``none`` for an empty output.
    """
    text = clean_markup(output)
    for content in reversed(boxed_contents(text)):
        if _trim_short_answer(content):
            return _trim_short_answer(content), "boxed"
    for phrase in reversed(list(_SHORT_ANSWER_PHRASE_RE.finditer(text))):
        sentence = re.split(r"\.\s|\.$", _rest_of_line(text, phrase.end()), maxsplit=1)[0]
        if _trim_short_answer(sentence):
            return _trim_short_answer(sentence), "final-answer-phrase"
    lines = [_trim_short_answer(line) for line in text.splitlines() if _trim_short_answer(line)]
    if not lines:
        return None, NONE
    return lines[-1], "whole-output" if len(lines) == 1 else "last-line"
