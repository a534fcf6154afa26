"""Layer 5, read against the question: a conclusion that answers what the question asks.

The answer format's rules read an output alone. Some conclusions only make sense against the
question they answer, which the reader has in hand (the example's ``fields``: ``question``, or
BBH's ``input``):

- a yes/no question that asks whether something is in a state ("Is the coin still heads up?",
  "Is the following sentence plausible?") answered by a sentence that asserts that subject in
  the state (yes) or in its opposite (no): "So the coin is tails up." (``conclusion-state``);
- a number conclusion that names several quantities ("Gretchen has 50 silver coins and 30 gold
  coins.") answers with the one whose noun the question asks ("how many gold coins"), and never
  with a number that only restates the question's data when the sentence states one other
  (``conclusion-asked-number``); an output whose every number is the question's own data has no
  answer in its last number;
- an output cut off after it concluded: a concluding sentence that names what the question asks
  and asserts a number, after which no number follows (a digression, not more working), is that
  number although the output was cut (``conclusion-before-cut``).

Each rule returns a value (a label, a number) that the format's own rules then read, as the
structured layer does; :mod:`orcabench.answers.pipeline` decides where each applies.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from orcabench.answers.text import HEDGE, NUMBER_RE, conclusion_number, concluding_sentence, normalize_number, prose
from orcabench.types import Example

# The fields a task keeps its question in (GSM8K, MMLU, ARC, AGIEval, RACE, DROP, crass: "question"; BBH and
# crass-ai: "input"); HellaSwag and LAMBADA have none.
QUESTION_FIELDS = ("question", "input")
# States a yes/no question asks about, each with its stated opposite.
_OPPOSITES = (("heads", "tails"), ("plausible", "implausible"), ("true", "false"), ("valid", "invalid"),
              ("possible", "impossible"), ("correct", "incorrect"), ("likely", "unlikely"),
              ("consistent", "inconsistent"), ("reasonable", "unreasonable"), ("grammatical", "ungrammatical"))
_OPPOSITE: dict[str, str] = {**dict(_OPPOSITES), **{b: a for a, b in _OPPOSITES}}
_YES_NO_RE = re.compile(r"^\W*(?:is|are|was|were|does|do|did|will|would|can|could|has|have)\s+(.+?)\?\W*$",
                        re.IGNORECASE | re.DOTALL)
# Words of a yes/no question's subject that name no thing ("Is *the following* sentence still ...").
_SUBJECT_FILLER = frozenset("the a an this that these those following given still now yet already then".split())
_PRONOUN_RE = r"it|this|that|they|its"
_NEGATION_RE = re.compile(r"\b(?:not|never|no\s+longer)\b|n't\b", re.IGNORECASE)
_SENTENCE_RE = re.compile(r"(?<=[.!?])\s+(?=\S)|\n+")
# "how many gold coins does ...", "how much profit did ...": the words the question asks a number of.
_ASKED_RE = re.compile(r"\bhow\s+(?:many|much)\s+((?:[a-z][a-z'-]*\s*){1,5})", re.IGNORECASE)
_ASKED_SKIP = frozenset("more fewer less extra total".split())
_ASKED_STOP = frozenset((
    "does do did is are was were will would can could should must has have had remain remains remained left in on at "
    "of for to from with by there he she they it we i you his her their its than per each altogether when after before "
    "if all").split())
_WORD_RE = re.compile(r"[a-z][a-z'-]*")
# A sentence of working: a number, or an operation on named quantities ("x + y", "= total").
_WORKING_RE = re.compile(r"[=+×÷]|\s[-/*]\s")
_CONCLUDING_RE = re.compile(r"\b(?:so|therefore|thus|hence|in\s+total|altogether|overall|finally|in\s+the\s+end|"
                            r"as\s+a\s+result|(?:that|this|which)\s+means)\b", re.IGNORECASE)


def question_of(example: Example) -> str | None:
    """The question an example asks, as its task keeps it in ``fields``; None where it keeps none."""
    for key in QUESTION_FIELDS:
        value = example.fields.get(key)
        if isinstance(value, str) and value.strip():
            return value
    return None


def _stem(word: str) -> str:
    """A word without case and a plural ``s`` ("Coins" -> "coin"), so that "coin" and "coins" match."""
    word = word.casefold().strip("'")
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


def _sentences(text: str) -> list[str]:
    return [sentence.strip() for sentence in _SENTENCE_RE.split(text) if sentence.strip()]


def _asked_state(question: str) -> tuple[str, frozenset[str]] | None:
    """The state a yes/no question asks about and the words of its subject ("Is the coin still heads
    up?" -> ("heads", {"coin"}); "Does the coin still show heads?" -> ("heads", {"coin", "show"}));
    None when its last yes/no question names no known state, or names a state and its opposite
    ("true or false?")."""
    for sentence in reversed(_sentences(question)):
        match = _YES_NO_RE.match(sentence)
        if not match:
            continue
        words = _WORD_RE.findall(match.group(1).casefold())
        states = [i for i, word in enumerate(words) if word in _OPPOSITE]
        if not states or any(_OPPOSITE[words[i]] in words for i in states):
            return None
        subject = frozenset(_stem(word) for word in words[:states[-1]] if word not in _SUBJECT_FILLER)
        return (words[states[-1]], subject) if subject else None
    return None


def conclusion_state(output: str, question: str, labels: Sequence[str]) -> str | None:
    """The yes/no label of the last sentence that asserts the asked subject in the asked state or
    its opposite ("Is the coin still heads up?" / "So the coin is tails up." -> the no label). A
    word of the subject (or a pronoun) must come before the state; a negation between them turns
    it round; a sentence naming both the state and its opposite is no answer."""
    by_word = {label.casefold(): label for label in labels}
    asked = _asked_state(question)
    if asked is None or set(by_word) != {"yes", "no"}:
        return None
    state, subject = asked
    opposite = _OPPOSITE[state]
    for sentence in reversed(_sentences(prose(output))):
        if sentence.rstrip(" *_\"')").endswith("?"):
            continue
        said = sentence.casefold()
        found = [m for m in re.finditer(rf"\b(?:{state}|{opposite})\b", said)]
        if not found:
            continue
        if len({m.group() for m in found}) > 1:
            return None  # "heads up, not tails up": both sides named
        at = found[-1].start()
        subjects = [m for m in re.finditer(r"[a-z][a-z'-]*", said[:at])
                    if _stem(m.group()) in subject or re.fullmatch(_PRONOUN_RE, m.group())]
        if not subjects:
            return None
        holds = (found[-1].group() == state) != bool(_NEGATION_RE.search(said[subjects[-1].end():at]))
        return by_word["yes" if holds else "no"]
    return None


def asked_words(question: str) -> frozenset[str]:
    """The words of what a question asks a number of ("how many gold coins does she have?" ->
    {"gold", "coin"}); empty when it asks no "how many/much" of a named thing."""
    matches = list(_ASKED_RE.finditer(question))
    if not matches:
        return frozenset()
    words: list[str] = []
    for word in matches[-1].group(1).casefold().split():
        if word in _ASKED_STOP:
            break
        if word not in _ASKED_SKIP:
            words.append(_stem(word))
    return frozenset(words)


def _data(question: str) -> set[str]:
    """The numbers a question gives."""
    return {value for value in map(normalize_number, NUMBER_RE.findall(question)) if value is not None}


def _mentions(sentence: str) -> list[tuple[str, tuple[str, ...]]]:
    """Each number of a sentence with the words that follow it up to the next number, comma or
    "and" ("50 silver coins and 30 gold coins" -> (50, (silver, coin)), (30, (gold, coin)))."""
    found = []
    for match in NUMBER_RE.finditer(sentence):
        value = normalize_number(match.group())
        if value is None:
            continue
        after = re.split(r"[,;.:!?()=+*/×÷]|\band\b|\bor\b|\d", sentence[match.end():].casefold(), maxsplit=1)[0]
        found.append((value, tuple(_stem(word) for word in _WORD_RE.findall(after)[:4])))
    return found


def asked_number(output: str, question: str, read: str | None) -> str | None:
    """The number the concluding sentence gives for what the question asks, where it differs from
    ``read`` (the format's own reading): of several numbers, the only one whose following words
    hold every word the question asks a number of ("how many gold coins" -> "30 gold coins");
    else, where ``read`` only restates the question's data (the question's own number with the
    question's own noun after it: "from the 12 cakes" for "bakes 12 cakes") and the sentence states
    one other number that is not the question's, that one. None: the format's reading stands (a
    number the question also gives may be the answer: "-1 + 2 is 1, times 3 is 3")."""
    sentence = concluding_sentence(output)
    if sentence is None:
        return None
    mentions = _mentions(sentence)
    asked = asked_words(question)
    if asked and len({value for value, _ in mentions}) > 1:
        matching = {value for value, words in mentions if asked <= set(words)}
        if len(matching) == 1:
            return matching.pop()
        if matching:
            return None
    given = {(value, words[0]) for value, words in _mentions(question) if words}
    read_at = [bool(words) and (value, words[0]) in given for value, words in mentions if value == read]
    if read_at and all(read_at):  # every mention of the read number restates the question's
        others = {value for value, _ in mentions if value not in _data(question)}
        if len(others) == 1:
            return others.pop()
    return None


def restates_data(output: str, question: str) -> bool:
    """True when every number of the output is one the question gives: the output computed nothing,
    and its last number only restates the question's data."""
    said = {value for value in map(normalize_number, NUMBER_RE.findall(prose(output))) if value is not None}
    return bool(said) and said <= _data(question)


def names_asked(sentence: str, question: str) -> bool:
    """True when a sentence names every word of what the question asks a number of ("The number of
    grey objects on the floor is 11." for "how many grey objects remain on it?")."""
    asked = asked_words(question)
    return bool(asked) and asked <= {_stem(word) for word in _WORD_RE.findall(sentence.casefold())}


def concluded_before_cut(output: str, question: str) -> str | None:
    """The number of the last sentence that concludes ("so", "therefore"), names what the question
    asks and asserts a number, where no number follows it: an output cut off in a digression after
    its conclusion, not in its working ("So, the profit made by Josh is 0. This is a classic example
    of ..."). None otherwise."""
    sentences = _sentences(prose(output))
    for index in range(len(sentences) - 1, -1, -1):
        sentence, after = sentences[index], " ".join(sentences[index + 1:])
        if not NUMBER_RE.search(sentence) and not _WORKING_RE.search(sentence):
            continue
        if not (_CONCLUDING_RE.search(sentence) and names_asked(sentence, question)):
            return None  # the last sentence with a number is working, not the conclusion
        if not after or not re.search(r"[.!]\W*$", sentence):
            return None  # the cut fell in the conclusion itself ("So the profit is 70000 - ")
        if names_asked(after, question):
            return None  # what follows still works on what the question asks ("Now we add the days ...")
        value = conclusion_number(sentence)
        return value if value not in (None, HEDGE) else None
    return None
