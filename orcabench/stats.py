"""Statistics on scored samples (scipy does the work)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def mean_ci(scores: Sequence[float], confidence: float = 0.95) -> tuple[float, float, float]:
    """Mean score with a confidence interval: Wilson for 0/1 scores, bootstrap otherwise."""
    from scipy import stats  # 1.5 s to import: only when a summary is computed

    values = np.asarray(scores, dtype=float)
    if values.size == 0:
        return float("nan"), float("nan"), float("nan")
    mean = float(values.mean())
    if np.isin(values, (0.0, 1.0)).all():
        interval = stats.binomtest(int(values.sum()), int(values.size)).proportion_ci(confidence, method="wilson")
        return mean, float(interval.low), float(interval.high)
    if values.size < 2 or np.all(values == values[0]):
        return mean, mean, mean
    result = stats.bootstrap((values,), np.mean, confidence_level=confidence, random_state=0)
    return mean, float(result.confidence_interval.low), float(result.confidence_interval.high)
