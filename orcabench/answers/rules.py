"""Every rule an extractor may name, what it reads, and the layer of the reading pipeline it
belongs to (:mod:`orcabench.answers.pipeline`).

A record's ``method`` is one of these names, so every answer says how it was read. The
layers, in the order the pipeline tries them:

1. ``trace``: a think trace is split off (:mod:`orcabench.answers.traces`); an output that is
   all trace has ``no-final-answer``;
2. ``turn``: text after an invented next turn ("Question:", "Human:") is dropped; no rule of
   its own, the record's ``extra.invented_turn`` says it happened;
3. ``structured``: a JSON answer key, a marked table row, an answer alone in a code fence;
4. ``explicit``: what the model marked as its answer (boxed, final-answer phrases, letter
   phrasings, positions, an answer stated first);
5. ``conclusion``: the last sentence or line that asserts an answer (a letter, one option's
   text or value, the number it asserts), and the same read against the example's question
   (a state asked about, the quantity asked for: :mod:`orcabench.answers.question`);
6. ``weak``: the last mention of something answer-shaped; *disabled* (as layer 5 is) for an
   output that loops or was cut off, or that hedges or asks back.
"""

from __future__ import annotations

from orcabench.types import NO_FINAL_ANSWER, UNPARSED

NONE = UNPARSED
LAYER_NAMES: dict[int, str] = {1: "trace", 2: "turn", 3: "structured", 4: "explicit", 5: "conclusion", 6: "weak"}

# rule -> (layer, what it reads)
_RULES: dict[str, tuple[int, str]] = {
    "json-answer": (3, "the value of an answer key ('answer', 'final_answer', ...) in a JSON object"),
    "table-row": (3, "the one row of a markdown table marked chosen (✅, 'Yes', bold)"),
    "fenced-answer": (3, "an answer alone in a code fence"),
    "boxed": (4, "the last \\boxed{..}, braces balanced"),
    "final-answer-phrase": (4, "after the last 'the answer is' / 'Answer:' / '#### N'"),
    "option-text": (4, "after a final-answer phrase, one option's text instead of its letter"),
    "ordinal-option": (4, "an option named by position ('the third option', 'Option 3', 'choice #4') said to be the answer"),
    "letter-phrase": (4, "a letter the model says it picks ('I'd pick B', 'My choice: (C)', 'Option B is correct')"),
    "leading-letter": (4, "the output opens with a letter that the rest explains"),
    "set-off-letter": (4, "a letter in bold, after an arrow, or 'Choice C - ...' mid-sentence"),
    "leading-label": (4, "the output opens with a label ('Yes, because ...')"),
    "leading-number": (4, "the output's first line is a number ('$18.', '9 coins')"),
    "answer-first": (4, "the first sentence states the number and the rest explains it"),
    "leading-brackets": (4, "the output opens with a run of closing brackets"),
    "leading-answer": (4, "a short first line that starts like math"),
    "continuation-word": (4, "the word a LAMBADA continuation opens with: lower case, or ending a sentence ('Helen.')"),
    "leading-option-text": (4, "the output's first line is one option's text ('**Operant conditioning.**')"),
    "conclusion-option": (5, "the last sentence that asserts an answer names one option's letter, text or value"),
    "conclusion-number": (5, "the number the last asserting sentence marks: the last '= N', currency, bold, 'is N'"),
    "conclusion-state": (5, "a yes/no question's state ('Is the coin still heads up?') or its opposite asserted of its "
                            "subject in the last sentence naming either ('So the coin is tails up.' -> No)"),
    "conclusion-asked-number": (5, "of the concluding sentence's numbers, the one whose noun the question asks ('how many "
                                   "gold coins' -> '30 gold coins'), never one that only restates the question's data"),
    "conclusion-before-cut": (5, "in an output cut off, a concluding sentence naming what the question asks with a number, "
                                 "no number after it (the cut fell in a digression, not the working)"),
    "bare-option-text": (5, "the whole output or its last line is one option's text"),
    "first-word": (5, "the output's first word, capitalised and opening a clause (LAMBADA): perhaps a retelling"),
    "whole-output": (5, "a one-line output is the answer (DROP)"),
    "last-number": (6, "the last number anywhere"),
    "last-option-letter": (6, "the last '(B)' or line-opening 'B.'"),
    "last-label": (6, "the last label word anywhere"),
    "last-bracket-run": (6, "the last run of closing brackets"),
    "last-word-run": (6, "the last long run of the task's words"),
    "last-math": (6, "the last $..$ span"),
    "last-line": (6, "the last non-empty line"),
    NONE: (0, "nothing could be read: scores 0 and counts as unparsed"),
}
RULES: dict[str, str] = {rule: what for rule, (_, what) in _RULES.items()}
# rule -> layer (0: unparsed). Methods named outside this module (no-final-answer, the
# loglikelihood argmax) have no layer here; see layer_of.
LAYERS: dict[str, int] = {rule: layer for rule, (layer, _) in _RULES.items()}
# The explicit rules read an answer the model marked as its answer (layers 3 and 4, less the
# "answer first" readings, which only infer that the opening is the answer); the weak ones
# read the last mention of something answer-shaped. A model-based second stage asks again
# where a reading is weak or none.
EXPLICIT_RULES = frozenset({"json-answer", "table-row", "fenced-answer", "boxed", "final-answer-phrase", "option-text",
                            "ordinal-option", "letter-phrase"})
WEAK_RULES = frozenset(rule for rule, layer in LAYERS.items() if layer == 6)


def layer_of(method: str) -> int | None:
    """The pipeline layer of a record's method: 1 for a trace with no final answer, 0 for
    unparsed, None for methods that read no text (loglikelihood)."""
    if method == NO_FINAL_ANSWER:
        return 1
    return LAYERS.get(method)
