"""Closed-set answers: option letters (BBH multiple choice, AGIEval, MMLU, ARC, CRASS, RACE,
HellaSwag) and labels (yes/no, True/False, valid/invalid).

:func:`extract_choice` and :func:`extract_label` return ``(answer, rule)``; the shared conventions (markup removed,
``\\boxed{..}`` first, then the *last* final-answer phrase, hedges unparsed) are those of
:mod:`orcabench.answers.text`. ``tests/extraction_corpus.py`` is the specification.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from orcabench.answers.conclusion import conclusion_option, matched_letter, option_by_quantity, option_forms
from orcabench.answers.signals import undecided
from orcabench.answers.text import (
    FINAL_PHRASE_RE,
    NONE,
    asked,
    boxed_contents,
    clean_markup,
    normalize_text,
    rest_of_line,
)

# What may follow a bare letter for it to be a letter and not a word ("the answer is A dog"):
# an end, a line end (an explanation on the next line), punctuation, a dash or arrow, or a
# word that starts an explanation.
_AFTER_BARE_LETTER = (r"(?=\s*$|[ \t]*\n|\s*[.,;:!?)\]]|\s*[-–—→]|"
                      r"\s+(?:because|since|as|which|for|and|with|so|is|was|would|seems|looks|here)\b)")
_HEDGE_AFTER_RE = re.compile(r"^\s*[)\]]?\s*,?\s*(?:or|and/or|/)\s*(?:option\s+|choice\s+)?[(\[]?([A-Za-z])(?:[)\]]|\b)",
                             re.IGNORECASE)
_HEDGE_BEFORE_RE = re.compile(r"[(\[]?\b([A-Za-z])[)\]]?\s*,?\s*(?:or|and/or|/)\s*(?:option\s+|choice\s+)?[(\[]?$", re.IGNORECASE)
_ORDINALS = {"first": 0, "1st": 0, "second": 1, "2nd": 1, "third": 2, "3rd": 2, "fourth": 3, "4th": 3,
             "fifth": 4, "5th": 4, "sixth": 5, "6th": 5, "seventh": 6, "7th": 6, "eighth": 7, "8th": 7, "last": -1}
# An option named by position: "the third option", "the 2nd choice", and where options are
# lettered, by number: "Option 3", "choice #4", "option no. 2".
_ORDINAL = (rf"(?:(?:the\s+)?({'|'.join(_ORDINALS)})\s+(?:option|choice|answer|alternative|one)\b"
            r"|\b(?:option|choice)\s*(?:#\s*|no\.\s*|number\s+)?([1-9])\b(?![.,/:]\d))")
_ORDINAL_HEDGE_RE = re.compile(rf"^\s*(?:,|or|and/or|/)\s*(?:the\s+)?(?:{'|'.join(_ORDINALS)}|(?:option|choice)\s*#?\s*[1-9])\b",
                               re.IGNORECASE)
# "the third option is correct", "I'd pick the second choice": an ordinal said to be the answer.
_ORDINAL_CLAIM_RE = re.compile(
    rf"\b{_ORDINAL}(?:\s*\([A-Za-z]\))?\s+(?:is|seems|looks)\s+(?:the\s+)?(?:correct|right|best|true|answer)\b"
    rf"|\b(?:choose|pick|select|go\s+with|opt\s+for|vote\s+for)\s+{_ORDINAL}", re.IGNORECASE)
_AFFIRMATION_RE = re.compile(r"(?:is|would\s+be|seems)\s+(?:the\s+)?(?:correct|right|best|true|answer)\b|[-–—→]", re.IGNORECASE)


def _letter_at(text: str, valid: str) -> re.Match[str] | None:
    """A choice letter at the very start of ``text``: "(B)", "[B]", "B)", or a bare "B" that
    is not the start of a word."""
    pattern = rf"^\s*(?:\(\s*([{valid}])\s*\)|\[\s*([{valid}])\s*\]|([{valid}])(?=\))|([{valid}]){_AFTER_BARE_LETTER})"
    return re.match(pattern, text, re.IGNORECASE)


def _hedged(text: str, start: int, end: int, letter: str) -> bool:
    """True when the letter at ``text[start:end]`` is offered together with another one."""
    after = _HEDGE_AFTER_RE.match(text[end:])
    before = _HEDGE_BEFORE_RE.search(text[:start])
    return any(m is not None and m.group(1).upper() != letter for m in (after, before))


def _option_by_text(texts: Sequence[str], letters: str, options: Sequence[str] | None, exact: bool = False) -> str | None:
    """The letter whose option text the first of ``texts`` that names one equals (``exact``)
    or starts with. The option as written is tried before its article-less form; the longest
    matching option wins; two different options of that length are no answer. ``texts`` are
    candidate readings, tried in order."""
    if not options:
        return None
    wanted = [(letter, option_forms(option, said=False)) for letter, option in zip(letters, options)]
    for text in texts:
        if exact and len(normalize_text(text)) <= 1:
            continue  # a lone letter is a letter, even where some option's text is that letter
        for tier in (0, 1):  # options as written, then without their leading article
            for said in option_forms(text, said=True):
                best = [(len(form), letter) for letter, forms in wanted if forms for form in [forms[min(tier, len(forms) - 1)]]
                        if said == form or (not exact and said.startswith(form) and not said[len(form)].isalnum())]
                if best:
                    longest = max(length for length, _ in best)
                    winners = {letter for length, letter in best if length == longest}
                    return winners.pop() if len(winners) == 1 else None
    return None


def _ordinal_letter(match: re.Match[str], letters: str) -> str | None:
    named = next(group for group in match.groups() if group).casefold()
    index = int(named) - 1 if named.isdigit() else _ORDINALS[named]
    return letters[index] if index < len(letters) else None


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
    return re.split(r"\.\s", rest_of_line(text, start), maxsplit=1)[0]


def _contradicted(text: str, end: int, letter: str, letters: str, options: Sequence[str] | None) -> bool:
    """True when the letter ending at ``end`` is followed, on its line, by another option's
    text ("(C) 12/25/1937" where 12/25/1937 is option B): the two name different options."""
    rest = rest_of_line(text, end).strip(" .:)-–—")
    other = _option_by_text([rest], letters, options, exact=True) if rest and options else None
    return other is not None and other != letter


def _retracted(text: str, end: int, letter: str) -> bool:
    """True when, after the answer ending at ``end``, a sentence or line opens by saying that
    very option is wrong ("The correct answer is (B). ... Option (B) is incorrect because ..."):
    the model contradicts its own answer, and neither reading is its verdict."""
    name = rf"(?:(?:option|choice|answer)\s+)?(?:\(\s*{letter}\s*\)|(?-i:{letter.upper()})\b)"
    wrong = r"\s+is\s+(?:incorrect|wrong|false|not\s+(?:correct|right|true|the\s+(?:correct\s+|right\s+|best\s+)?answer))\b"
    return re.search(rf"(?:^|[.!?]\s+|\n)\s*{name}{wrong}", text[end:], re.IGNORECASE) is not None


def _leading_letter(text: str, letters: str, options: Sequence[str] | None) -> str | None:
    """The letter an output opens with, when what follows says it is the answer: nothing,
    punctuation and a line end, "because ...", "is right", a dash or arrow, or that option's text."""
    after = rf"(?=[.):,;]|\s*$|[ \t]*\n|\s*[-–—→]|\s+{_AFFIRMATION_RE.pattern})"
    match = re.match(rf"\s*(?:\(\s*([{letters}])\s*\)|([{letters}]){after})", text, re.IGNORECASE)
    if not match:
        return None
    letter, rest = matched_letter(match), text[match.end():].lstrip(".):,; \t")
    if text[match.end():].lstrip().startswith(":") and not match.group(1):
        pass  # "A:" is the prompt's "Q: ... A:" turn marker echoed; only that option's text makes it a letter
    elif not rest.strip() or rest.startswith("\n") or re.match(r"(?:because|since|as)\b", rest, re.IGNORECASE):
        return letter
    if _AFFIRMATION_RE.match(rest) and not _HEDGE_AFTER_RE.match(text[match.end():]):
        return letter
    option = options[letters.index(letter)] if options else None
    return letter if option and _option_by_text([rest], letter, [option]) else None


def _opens_line(text: str, position: int) -> bool:
    return not text[text.rfind("\n", 0, position) + 1:position].strip()


def _lists_every_option(text: str, letters: str) -> bool:
    """True when every option's letter opens a line: the output repeats the options."""
    found = {m.group(1).upper() for m in re.finditer(rf"^\s*\(?([{letters}])[.):]", text, re.IGNORECASE | re.MULTILINE)}
    return len(letters) > 1 and found >= set(letters)


def _opens_a_list(text: str, letters: str) -> bool:
    """True when the output's first two lines open with consecutive option marks ("(A) Bladder",
    "(B) Kidney"): it lists options, and its first mark is no answer. An answer followed by a
    question the model made up ("(D) ...", then "Which of ...", "(A) ...") is still an answer."""
    lines = [line for line in text.splitlines() if line.strip()][:2]
    marks = [re.match(rf"\s*\(?([{letters}])[.):]", line, re.IGNORECASE) for line in lines]
    if len(marks) < 2 or not all(marks):
        return False
    first, second = (m.group(1).upper() for m in marks if m)
    return letters.upper().find(first) + 1 == letters.upper().find(second)


# Phrasings that say which letter the model picks: "I'd pick B —", "My choice: (C)", "Correct
# option → A", "going with D", and, after the letter, "Option B is correct", "(C) is the best fit".
_PICK = (r"\b(?:i(?:'d|\s+would|'ll|\s+will)?\s+(?:pick|choose|select|go\s+with|opt\s+for|vote\s+for|say)"
         r"|(?:my|our)\s+(?:final\s+)?(?:pick|choice|selection|vote|guess|best\s+guess)(?:\s+(?:is|would\s+be))?"
         r"|(?:going|go)\s+with|(?:correct|right|best|closest|most\s+(?:likely|plausible))\s+(?:option|choice|letter|pick|one)"
         r"\s*(?:is|would\s+be|→|->|=>|=|:)|\bthe\s+closest\s+(?:is|would\s+be)"
         r"|(?:answer|option|choice|letter)\s*(?:→|->|=>))"
         r"\s*[:\-–—→]?\s*(?:(?:option|choice|letter|answer)\s+)?")
_CLAIM_AFTER = (r"\s+(?:is|seems|looks)\s+(?:to\s+be\s+)?(?:the\s+)?"
                r"(?:correct|right|best|true|most\s+(?:likely|plausible|accurate|appropriate|reasonable))\b")
_NEGATED_RE = re.compile(r"(?:\bnot|n't|\bnever|\bnor)\W*(?:\w+\W+){0,2}$", re.IGNORECASE)


def _phrased_letter(text: str, letters: str) -> str | None:
    """The letter of the last phrase that picks one ("I'd pick B", "Option B is correct"); a
    bare letter must be upper case ("I'd pick a bigger one" picks nothing). Negated phrases
    ("I wouldn't pick B") and hedges ("I'd pick B or C") are no answer."""
    upper = letters.upper()
    letter = rf"(?:\(\s*([{letters}])\s*\)|\[\s*([{letters}])\s*\]|(?-i:\b([{upper}])){_AFTER_BARE_LETTER})"
    picks = [(m, m.start(1) if m.group(1) else m.start()) for m in
             re.finditer(rf"{_PICK}{letter}", text, re.IGNORECASE)]
    claimed = (rf"(?:\b(?:option|choice|letter)\s+)?(?:\(\s*([{letters}])\s*\)|(?-i:\b([{upper}])\b))"
               rf"(?:\s*\([^()\n]{{1,80}}\))?{_CLAIM_AFTER}")  # "Option E (69000 volts) is the correct answer"
    picks += [(m, m.start()) for m in re.finditer(claimed, text, re.IGNORECASE)]
    for match, start in sorted(picks, key=lambda pick: pick[0].end(), reverse=True):
        chosen = matched_letter(match)
        if _NEGATED_RE.search(text[:match.start()]) or re.match(r"\s*not\b", text[match.end():], re.IGNORECASE):
            continue
        if asked(text, match.start()):
            continue
        if _hedged(text, start, match.end(), chosen) or undecided(text[match.end():]):
            return None  # "I'd pick B or C"; "The closest is (C). But it's not correct: the answer is not listed."
        return chosen
    return None


def _leading_option_text(text: str, letters: str, options: Sequence[str] | None) -> str | None:
    """The option whose text the output's first line is ("**Operant conditioning.**", then the why)."""
    lines = [_without_foreign_mark(line, letters) for line in text.splitlines() if line.strip()]
    if len(lines) < 2 or _lists_on(text, letters, options):
        return None
    return _option_by_text([lines[0]], letters, options, exact=True)


def _without_foreign_mark(line: str, letters: str) -> str:
    """The line without an opening letter mark the question does not have ("(E) ..." among
    four options): the option's text under it still names that option."""
    return re.sub(rf"^\s*\((?-i:(?![{letters}])[A-Z])\)\s*", "", line)


def _lists_on(text: str, letters: str, options: Sequence[str] | None) -> bool:
    """True when the output opens with an option's text and its next line with an option mark
    ("Kidney\nB: Ureter\nC: ..."): the model goes on listing the prompt's options, and
    neither the first text nor the marks after it are an answer."""
    lines = [line for line in text.splitlines() if line.strip()]
    return (len(lines) >= 2 and re.match(rf"\s*\(?[{letters}][.):]", lines[1], re.IGNORECASE) is not None
            and _option_by_text([lines[0]], letters, options, exact=True) is not None)


def _set_off_letter(raw: str, text: str, letters: str) -> str | None:
    """A letter set off mid-sentence: in bold ("I'd go with **B** here"), after an arrow ("so:
    → D"), or named as a choice and followed by a dash ("Choice C – the mitochondria"). Only
    when every such mark names the same letter: several are a list of options, not an answer."""
    end = r"(?=\s*$|\s*\n|[\s.,;:!)\]])"
    marks = [(m.group(1).upper(), m.start(), m.end(), raw) for m in
             re.finditer(rf"\*\*\s*(?:(?:choice|option|answer|letter)\s*:?\s*)?\(?\s*([{letters}])\s*\)?\s*[.:]?\s*\*\*",
                         raw, re.IGNORECASE)]
    for pattern in (rf"(?:→|⇒|=>|->)\s*(?:option\s+|choice\s+)?\(?([{letters}])\)?{end}",
                    rf"\b(?:option|choice)\s+\(?([{letters}])\)?\s*(?:[–—]|-\s)"):
        marks += [(m.group(1).upper(), m.start(), m.end(), text) for m in re.finditer(pattern, text, re.IGNORECASE)]
    found = {letter for letter, *_ in marks}
    if len(found) != 1:
        return None
    letter, start, stop, source = marks[-1]
    return None if _hedged(source, start, stop, letter) else letter


def extract_choice(output: str, letters: str = "ABCD", options: Sequence[str] | None = None) -> tuple[str | None, str]:
    """The option letter a model chose among ``letters`` (e.g. ``"ABCD"``), upper case.

    Rules, first that yields wins:
    ``boxed`` (``\\boxed{B}``, ``\\boxed{(B)}``, ``\\boxed{\\text{B}}``, an option's text boxed, or one
    option's quantity boxed in scientific notation: ``\\boxed{2.25\\times 10^6\\,\\text{m/s}}``);
    ``final-answer-phrase`` (the *last* "the answer is (B)", "Answer: b", "### Answer: C" with
    the explanation on the next line, "the correct option is B because ..."; a bare letter must
    not start a word, so "the answer is A dog" is no letter); ``option-text`` (that phrase
    followed by an option's text instead of its letter, a leading article or final period
    allowed); ``ordinal-option`` ("the answer is the third option", "the second choice is
    correct");
    ``letter-phrase`` (a letter the model says it picks: "I'd pick B —", "My choice: (C)",
    "Correct option → A", "Option B is correct", "the closest is (E)"; not negated, hedged, asked
    or retracted by a later "none of the options");
    ``leading-letter`` (the output opens with its answer: a letter followed by punctuation,
    a line end, a dash, "is right", or that option's text: "(B) 6(√3 + √2)", "**(C)** is right;
    (B) fails because ..."; later mentions then explain it; "(A) is wrong ..." does not count);
    ``leading-option-text`` (the first line is one option's text, the next ones explain it);
    ``ordinal-option`` also where a position is said to be correct ("Option 2 is correct");
    ``set-off-letter`` (a letter in bold, "**Choice D**", after an arrow, or "Choice C – ..." mid-sentence);
    ``bare-option-text`` (the whole output or its last line is one option's text, "About 30%.");
    ``conclusion-option`` (the last sentence that mentions an option asserts exactly one, by
    letter, normalised text or value: "The closest planet is Mercury.");
    ``last-option-letter`` (the last "(B)", or "B." / "B)" opening a line, or a lone "B"; not
    the marks of a block that lists every option, one a line: that repeats the question).
    A hedge ("(A) or (B)") where a rule fires makes the output unparsed (``none``), and so
    does a letter the weak rules would read from a question the output ends with, and a letter
    followed on its line by another option's text ("(C) 12/25/1937" where that date is (B)).
    Letters outside ``letters`` are never answers.
    """
    text = re.sub(r"\\\(\s*([A-Za-z])\s*\\\)", r"\1", clean_markup(output))  # "The answer is \( I \)."
    for content in reversed(boxed_contents(text)):
        match = _letter_at(content + " ", letters)
        if match:
            return matched_letter(match), "boxed"
        by_text = _option_by_text([content], letters, options, exact=True) or option_by_quantity(content, letters, options)
        if by_text:
            return by_text, "boxed"
    for phrase in reversed(list(FINAL_PHRASE_RE.finditer(text))):
        if re.search(r"\b(?:your|an?)\s*$", text[:phrase.start()], re.IGNORECASE):
            continue  # "Choose your answer:", "Write an answer:": the prompt's instruction echoed, no statement
        starts = _phrase_word_starts(text, phrase)
        readings = [reading for start in starts for reading in (rest_of_line(text, start), _sentence(text, start))]
        exact = _option_by_text(readings, letters, options, exact=True)
        if exact:  # "the answer is A and D." where an option reads "A and D"
            return exact, "option-text"
        match = _letter_at(text[phrase.end():], letters)
        if match:
            letter = matched_letter(match)
            end = phrase.end() + match.end()
            if (_hedged(text, phrase.end(), end, letter) or _contradicted(text, end, letter, letters, options)
                    or _retracted(text, end, letter)):
                return None, NONE
            return letter, "final-answer-phrase"
        for start in (phrase.end(), *reversed(starts)):  # "the answer is option 2": "option" is also a phrase word
            ordinal = re.match(rf"\s*{_ORDINAL}", text[start:], re.IGNORECASE)
            if ordinal and _ordinal_letter(ordinal, letters):
                hedge = _ORDINAL_HEDGE_RE.match(text[start + ordinal.end():])
                return (None, NONE) if hedge else (_ordinal_letter(ordinal, letters), "ordinal-option")
        by_text = _option_by_text([rest_of_line(text, start) for start in starts], letters, options)
        if by_text:
            return by_text, "option-text"
    phrased = _phrased_letter(text, letters)
    if phrased:
        return phrased, "letter-phrase"
    leading = None if _opens_a_list(text, letters) else _leading_letter(text, letters, options)
    if leading:
        return leading, "leading-letter"
    leading = _leading_option_text(text, letters, options)
    if leading:
        return leading, "leading-option-text"
    claims = [_ordinal_letter(m, letters) for m in _ORDINAL_CLAIM_RE.finditer(text)]
    if claims and claims[-1]:
        return claims[-1], "ordinal-option"
    set_off = _set_off_letter(output, text, letters)
    if set_off:
        return set_off, "set-off-letter"
    lines = [_without_foreign_mark(line, letters) for line in text.splitlines() if line.strip()]
    by_text = _option_by_text([lines[0] if len(lines) == 1 else text, lines[-1] if lines else ""], letters, options,
                              exact=True)
    if by_text:
        return by_text, "bare-option-text"
    concluded = None if boxed_contents(text) else conclusion_option(output, letters, options)
    if concluded:
        return concluded, "conclusion-option"
    marks = list(re.finditer(rf"\(\s*([{letters}])\s*\)|^\s*([{letters}])(?:[.)]|\s*$)", text, re.IGNORECASE | re.MULTILINE))
    if _lists_every_option(text, letters):  # the question repeated: its option marks are no answers
        marks = [m for m in marks if not _opens_line(text, m.start())]
    if _lists_on(text, letters, options):
        marks = []
    if marks:
        last = marks[-1]
        letter = matched_letter(last)
        if (_hedged(text, last.start(), last.end(), letter) or asked(text, last.start())
                or _contradicted(text, last.end(), letter, letters, options)):
            return None, NONE
        return letter, "last-option-letter"
    return None, NONE


def extract_label(output: str, labels: Sequence[str]) -> tuple[str | None, str]:
    """One of a closed set of answer words (``("Yes", "No")``, ``("True", "False")``,
    ``("valid", "invalid")``), returned spelled as in ``labels``; matching ignores case.

    Rules: ``boxed``; ``final-answer-phrase`` (the last "the answer is No"; labels listed in brackets
    after the phrase name the choices: "the answer (Yes or No) is No"); ``leading-label``
    (the output starts with a label: direct answers such as "Yes, because ..."); ``last-label``
    (the last label word anywhere, unless it is in a question the output ends with). Labels are
    whole words: "invalid" never reads as "valid". A hedge ("yes or no") where a rule fires is
    unparsed, and so is a list of the labels ("- Yes", "- No") where only ``last-label`` would read one.
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
    # the labels listed after the phrase name the choices, not the answer: "the answer (Yes or No) is Yes"
    listing = re.compile(rf"\(\s*(?:{words})(?:\s*(?:,|or|/)\s*(?:{words}))+\s*\)\s*(?:is\b|would\s+be\b|[:=])?",
                         re.IGNORECASE)
    for phrase in reversed(list(FINAL_PHRASE_RE.finditer(text))):
        start = phrase.end()
        listed_labels = listing.match(text, start)
        start = listed_labels.end() if listed_labels else start
        match = re.match(rf"[\s\"'“(]*({words})\b", text[start:], re.IGNORECASE)
        if match:
            return verdict(match, text[start + match.end():], "final-answer-phrase")
    match = re.match(rf"[\s\"'“(]*({words})(?=\s*$|\s*[.,;:!?)\n\"'”]|\s+[-–—])", text, re.IGNORECASE)
    if match:
        return verdict(match, text[match.end():], "leading-label")
    listed = re.findall(rf"^\s*(?:[-*•]|\d+[.)])\s*({words})\s*[.,;]?\s*$", text, re.IGNORECASE | re.MULTILINE)
    if len({label.casefold() for label in listed}) > 1:
        return None, NONE  # "- Yes\n- No\n- Yes": the labels listed, none chosen
    matches = list(label_re.finditer(text))
    if matches:
        last = matches[-1]
        if asked(text, last.start()):
            return None, NONE
        earlier = re.search(rf"\b({words})\s*(?:or|/|and/or)\s*$", text[: last.start()], re.IGNORECASE)
        if earlier and earlier.group(1).casefold() != last.group(1).casefold():
            return None, NONE
        return canonical[last.group(1).casefold()], "last-label"
    return None, NONE
