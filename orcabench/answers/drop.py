"""DROP's exact match and F1 (Dua et al., 2019), as its official evaluator computes them.

Every answer (gold or predicted) is a list of *spans*. A span is normalised token by token:
lower case, punctuation removed (except inside numbers), numbers rewritten as floats
(``"1,024"`` -> ``"1024.0"``), articles dropped; tokens are split at spaces and hyphens.

* **EM** is 1 when the predicted and gold answers have the same normalised spans (as sets,
  and as many of them).
* **F1** pairs predicted and gold spans one to one (the optimal assignment) and averages the
  bag-of-tokens F1 of each gold span with its partner; a pair scores 0 when the gold span
  holds numbers and the predicted one none of them. Unpaired spans score 0. The mean is
  rounded to 2 decimals, as the official script does.
* Over several gold answers (DROP's validated answers) the best EM and the best F1 count,
  each maximised separately; gold answers with an empty first span are ignored.

This mirrors ``allennlp-reading-comprehension``'s ``drop_eval.py`` and lm-eval's
``tasks/drop/utils.py``. The one addition is :func:`prediction_spans`: a generating model
writes a multi-span answer as text ("Dave and Paul"), so against a gold answer of several
spans the prediction is split into spans first (lm-eval scores it as one span, which caps
such answers' F1 far below 1 however right they are).
"""

from __future__ import annotations

import re
import string
from collections.abc import Sequence

import numpy as np

_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)
_PUNCTUATION = set(string.punctuation)
# Where a textual list of answers splits: ";" / "&" / "and", and commas that are not
# thousands separators ("1,024" stays one number).
_SPAN_SEPARATOR = re.compile(r"\s*(?:;|&|\band\b|(?<!\d),|,(?!\d))\s*", re.IGNORECASE)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _normalize_token(token: str) -> str:
    token = token.lower()
    if not _is_number(token):
        token = "".join(ch for ch in token if ch not in _PUNCTUATION)
    if _is_number(token):
        token = str(float(token))
    return " ".join(_ARTICLES.sub(" ", token).split())


def normalize_span(span: str) -> str:
    """One span as DROP compares it: ``"The 1,024 yards"`` -> ``"1024.0 yards"``."""
    tokens = (_normalize_token(token) for token in re.split(" |-", span))
    return " ".join(token for token in tokens if token.strip()).strip()


def _bags(spans: Sequence[str]) -> tuple[list[str], list[set[str]]]:
    normalized = [normalize_span(span) for span in spans]
    return normalized, [set(span.split()) for span in normalized]


def _bag_f1(predicted: set[str], gold: set[str]) -> float:
    common = len(gold & predicted)
    precision = common / len(predicted) if predicted else 1.0
    recall = common / len(gold) if gold else 1.0
    return 0.0 if precision == 0.0 and recall == 0.0 else 2 * precision * recall / (precision + recall)


def _numbers_agree(gold: set[str], predicted: set[str]) -> bool:
    gold_numbers = {word for word in gold if _is_number(word)}
    return not gold_numbers or bool(gold_numbers & {word for word in predicted if _is_number(word)})


def em_f1(predicted: Sequence[str], gold: Sequence[str]) -> tuple[float, float]:
    """EM and F1 of one predicted answer against one gold answer, both lists of spans."""
    from scipy.optimize import linear_sum_assignment  # imported late: only DROP needs it

    predicted_spans, predicted_bags = _bags(predicted)
    gold_spans, gold_bags = _bags(gold)
    exact = float(set(predicted_spans) == set(gold_spans) and len(predicted_spans) == len(gold_spans))
    scores = np.zeros((len(gold_bags), len(predicted_bags)))
    for g, gold_bag in enumerate(gold_bags):
        for p, predicted_bag in enumerate(predicted_bags):
            if _numbers_agree(gold_bag, predicted_bag):
                scores[g, p] = _bag_f1(predicted_bag, gold_bag)
    best = np.zeros(max(len(gold_bags), len(predicted_bags)))
    for g, p in zip(*linear_sum_assignment(-scores)):
        best[g] = max(best[g], scores[g, p])
    return exact, round(float(np.mean(best)), 2)


def prediction_spans(prediction: str, gold_span_count: int) -> list[str]:
    """The prediction as a list of spans: split at list separators only when the gold
    answer it is compared with has several spans (splitting a one-span answer can only
    lower its score)."""
    if gold_span_count <= 1:
        return [prediction]
    spans = [span.strip() for span in _SPAN_SEPARATOR.split(prediction)]
    return [span for span in spans if span] or [prediction]


def drop_scores(prediction: str, golds: Sequence[Sequence[str]]) -> tuple[float, float]:
    """``(EM, F1)`` of a predicted answer against all of an example's gold answers
    (each a list of spans): the best of each over the gold answers."""
    best_em, best_f1 = 0.0, 0.0
    for gold in golds:
        if not gold or not gold[0].strip():
            continue  # the official evaluator skips empty gold answers
        em, f1 = em_f1(prediction_spans(prediction, len(gold)), gold)
        best_em, best_f1 = max(best_em, em), max(best_f1, f1)
    return best_em, best_f1
