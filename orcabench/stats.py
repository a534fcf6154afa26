"""Statistics on scored samples (scipy does the work)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

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


def cluster_labels(clusters: Sequence[str | None]) -> np.ndarray:
    """Integer cluster codes; an example with no cluster (None) is a cluster of its own."""
    codes: dict[str, int] = {}
    labels = [codes.setdefault(c, len(codes)) if c is not None else -1 for c in clusters]
    singles = iter(range(len(codes), len(codes) + labels.count(-1)))
    return np.array([label if label >= 0 else next(singles) for label in labels], dtype=int)


def clustered_se(scores: Sequence[float], clusters: Sequence[str | None]) -> float:
    """Cluster-robust standard error of a mean score (Miller 2024, "Adding Error Bars to Evals",
    arXiv 2411.00640, §2, clustered standard errors: the CLT variance plus the covariances of
    questions within a cluster).

    SE² = G / (G - 1) · (1 / n²) · Σ_c (Σ_{i ∈ c} (s_i - s̄))², for G clusters and n questions:
    Miller's sum of residual products within each cluster, written as the square of each
    cluster's residual sum, times the G / (G - 1) small-sample factor of the CR1 sandwich
    (Cameron & Miller 2015, "A Practitioner's Guide to Cluster-Robust Inference"), which is what
    ``statsmodels`` OLS with ``cov_type="cluster"`` reports for an intercept-only model. With
    every question its own cluster it is Miller's CLT standard error, sqrt(s² / n) with the
    n - 1 sample variance. NaN with fewer than two clusters.
    """
    values = np.asarray(scores, dtype=float)
    labels = cluster_labels(clusters)
    groups = int(labels.max()) + 1 if labels.size else 0
    if values.size != labels.size:
        raise ValueError(f"scores and clusters differ in length: {values.size} vs {labels.size}")
    if groups < 2:
        return float("nan")
    residual_sums = np.bincount(labels, weights=values - values.mean(), minlength=groups)
    return math.sqrt(groups / (groups - 1) * float(np.sum(residual_sums**2))) / values.size


def clustered_mean_ci(scores: Sequence[float], clusters: Sequence[str | None],
                      confidence: float = 0.95) -> tuple[float, float, float]:
    """Mean with a normal interval on the cluster-robust SE (Miller 2024 §2: mean ± z · SE_clustered),
    clipped to the score range [0, 1]; the mean itself when the SE is undefined (one cluster)."""
    from scipy import stats

    values = np.asarray(scores, dtype=float)
    if values.size == 0:
        return float("nan"), float("nan"), float("nan")
    mean, se = float(values.mean()), clustered_se(values, clusters)
    if math.isnan(se):
        return mean, mean, mean
    z = float(stats.norm.ppf(0.5 + confidence / 2))
    return mean, max(0.0, mean - z * se), min(1.0, mean + z * se)


def stratified_mean_ci(means: Sequence[float], standard_errors: Sequence[float],
                       confidence: float = 0.95) -> tuple[float, float, float]:
    """The unweighted mean of S strata (a macro average over subtasks) with its normal interval.

    The strata are sampled independently, so Var(mean) = (1 / S²) Σ_s SE_s² (the variance of a
    stratified mean with equal stratum weights: Cochran 1977, "Sampling Techniques", §5.3). Each
    SE_s is the stratum's own, clustered where its questions cluster. NaN bounds if any
    stratum's SE is undefined (a subtask of one question).
    """
    from scipy import stats

    m, se = np.asarray(means, dtype=float), np.asarray(standard_errors, dtype=float)
    if m.size == 0:
        return float("nan"), float("nan"), float("nan")
    mean = float(m.mean())
    total = math.sqrt(float(np.sum(se**2))) / m.size
    if math.isnan(total):
        return mean, float("nan"), float("nan")
    z = float(stats.norm.ppf(0.5 + confidence / 2))
    return mean, max(0.0, mean - z * total), min(1.0, mean + z * total)


# --- Paired comparison of two runs on the same examples (orcabench gate / compare) -------------


@dataclass(frozen=True)
class PairedStats:
    """Candidate vs baseline on the same n examples; accuracies and delta as fractions (0..1).

    ``worse`` counts pairs where the baseline scored higher (right -> wrong for 0/1 scores),
    ``better`` the reverse; ``p_value`` is the exact two-sided McNemar test on those
    discordant pairs (for graded scores such as DROP F1: the exact sign test, its
    generalisation), not yet corrected for testing several tasks.
    """

    n: int
    baseline: float
    candidate: float
    delta: float
    ci_low: float
    ci_high: float
    worse: int
    better: int
    p_value: float


def mcnemar_exact(worse: int, better: int) -> float:
    """Exact McNemar p-value (two-sided): ``worse`` successes in ``worse + better`` fair coin flips.

    Only discordant pairs carry information about a difference; under "no difference"
    each is equally likely to go either way, hence a binomial test with p = 1/2.
    """
    from scipy import stats

    if worse + better == 0:
        return 1.0
    return float(stats.binomtest(worse, worse + better, 0.5, alternative="two-sided").pvalue)


def paired_bootstrap_ci(baseline: Sequence[float], candidate: Sequence[float], confidence: float = 0.95,
                        resamples: int = 10_000, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap CI of mean(candidate) - mean(baseline), resampling example indices.

    Both runs are resampled with the same indices (``paired=True``), so the interval
    reflects per-example agreement rather than two independent accuracies. Percentile,
    not BCa: BCa is undefined when every pair agrees (the jackknife is constant), which
    is the common case for a gate. A fixed seed makes reports reproducible.
    """
    from scipy import stats

    a, b = np.asarray(baseline, dtype=float), np.asarray(candidate, dtype=float)
    if a.shape != b.shape:
        raise ValueError(f"paired samples differ in length: {a.size} vs {b.size}")
    if a.size == 0:
        return float("nan"), float("nan")
    differences = b - a
    if a.size == 1 or np.all(differences == differences[0]):  # every resample gives the same mean
        value = float(differences.mean())
        return value, value

    def delta(x: np.ndarray, y: np.ndarray, axis: int = -1) -> np.ndarray:
        return y.mean(axis=axis) - x.mean(axis=axis)

    result = stats.bootstrap((a, b), delta, paired=True, vectorized=True, n_resamples=resamples,
                             confidence_level=confidence, method="percentile", rng=np.random.default_rng(seed))
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values, in the input order.

    scipy has only Benjamini-Hochberg (``false_discovery_control``, which controls the
    false discovery rate); a gate wants the family-wise error rate, and Holm is
    uniformly more powerful than Bonferroni. The i-th smallest p (0-based) is multiplied
    by (m - i), made monotone with a running maximum and capped at 1 — as in
    ``statsmodels.stats.multitest.multipletests(method="holm")``.
    """
    p = np.asarray(p_values, dtype=float)
    if p.size == 0:
        return []
    order = np.argsort(p, kind="stable")
    scaled = p[order] * (p.size - np.arange(p.size))
    adjusted_sorted = np.minimum(np.maximum.accumulate(scaled), 1.0)
    adjusted = np.empty_like(p)
    adjusted[order] = adjusted_sorted
    return [float(x) for x in adjusted]


def clustered_difference_test(differences: Sequence[float], clusters: Sequence[str | None],
                              confidence: float = 0.95) -> tuple[float, float, float]:
    """A normal interval and two-sided p-value for the mean paired difference when questions cluster.

    Miller 2024 (arXiv 2411.00640), §4, paired differences: d_i = candidate_i - baseline_i is
    itself a per-question score, so its standard error is the clustered one of §2
    (:func:`clustered_se` on the d_i); the test is Wald's z = mean(d) / SE. With no spread at all
    (every difference equal) the interval is the point and p is 1 for a zero mean, 0 otherwise.
    """
    from scipy import stats

    d = np.asarray(differences, dtype=float)
    mean, se = float(d.mean()), clustered_se(d, clusters)
    if math.isnan(se) or se == 0.0:
        return mean, mean, 1.0 if mean == 0.0 else 0.0
    z = float(stats.norm.ppf(0.5 + confidence / 2))
    return max(-1.0, mean - z * se), min(1.0, mean + z * se), float(2 * stats.norm.sf(abs(mean) / se))


def paired_stats(baseline: Sequence[float], candidate: Sequence[float], confidence: float = 0.95,
                 resamples: int = 10_000, seed: int = 0, clusters: Sequence[str | None] | None = None) -> PairedStats:
    """Accuracy of each run, their difference with a paired bootstrap CI, and McNemar's exact p.

    With ``clusters`` naming at least one cluster (questions sharing a passage), the interval and
    p-value are the cluster-robust ones of :func:`clustered_difference_test` instead: resampling or
    testing questions one by one would treat a passage's questions as independent.
    """
    a, b = np.asarray(baseline, dtype=float), np.asarray(candidate, dtype=float)
    if a.shape != b.shape:
        raise ValueError(f"paired samples differ in length: {a.size} vs {b.size}")
    if a.size == 0:
        nan = float("nan")
        return PairedStats(0, nan, nan, nan, nan, nan, 0, 0, 1.0)
    worse, better = int(np.sum(a > b)), int(np.sum(b > a))
    if clusters is not None and any(c is not None for c in clusters):
        low, high, p_value = clustered_difference_test(b - a, clusters, confidence)
    else:
        (low, high), p_value = paired_bootstrap_ci(a, b, confidence, resamples, seed), mcnemar_exact(worse, better)
    return PairedStats(n=int(a.size), baseline=float(a.mean()), candidate=float(b.mean()), delta=float(b.mean() - a.mean()),
                       ci_low=low, ci_high=high, worse=worse, better=better, p_value=p_value)


# --- Non-inferiority of paired outcomes: one method for the verdict and the interval shown ------------


def tango_variance(worse: Any, better: Any, n: Any, delta0: Any) -> np.ndarray:
    """Variance of one paired difference at the maximum-likelihood cell probabilities under H0: delta = delta0.

    delta = P(better) - P(worse) (candidate - baseline); the constrained estimate of P(worse) is
    the root of a quadratic (Tango 1998, Statistics in Medicine 17:891-908). Unlike the Wald
    variance it stays positive when no pair is discordant, so 40 agreeing pairs do not "show"
    that nothing changed.
    """
    b, c, m, d0 = (np.asarray(x, dtype=float) for x in (worse, better, n, delta0))
    quad_b = (b + c) * (1 - d0) - 2 * d0 * (m - c)
    p_worse = (quad_b + np.sqrt(np.maximum(quad_b**2 + 8 * m * b * d0 * (1 - d0), 0.0))) / (4 * m)
    p_worse = np.clip(p_worse, np.maximum(0.0, -d0), (1 - d0) / 2)
    return np.maximum(2 * p_worse + d0 - d0**2, 1e-12)


def tango_z(worse: Any, better: Any, n: Any, delta0: Any) -> np.ndarray:
    """Tango's score statistic for H0: delta = delta0; about N(0, 1) under H0, larger when delta > delta0."""
    b, c, m = (np.asarray(x, dtype=float) for x in (worse, better, n))
    return (c - b - m * np.asarray(delta0, dtype=float)) / np.sqrt(m * tango_variance(b, c, m, delta0))


def score_bound(worse: Any, better: Any, n: Any, alpha: float, upper: bool) -> np.ndarray:
    """One-sided (1 - alpha) Tango score bound on delta (fractions), elementwise over arrays.

    The lower bound is the smallest delta0 that the one-sided score test at ``alpha`` does not
    reject (the statistic falls as delta0 rises, so bisection finds it); the upper bound likewise.
    """
    from scipy import stats

    b, c, m = (np.asarray(x, dtype=float) for x in (worse, better, n))
    z = stats.norm.ppf(1 - alpha)
    low, high = np.full(np.broadcast(b, c, m).shape, -1.0), np.full(np.broadcast(b, c, m).shape, 1.0)
    for _ in range(60):  # 2 / 2**60: far below any reported digit
        mid = (low + high) / 2
        statistic = tango_z(b, c, m, mid)
        inside = statistic > -z if upper else statistic < z  # mid is not rejected on the bound's side
        if upper:
            low, high = np.where(inside, mid, low), np.where(inside, high, mid)
        else:
            low, high = np.where(inside, low, mid), np.where(inside, mid, high)
    return high if not upper else low


def pairs_to_settle(delta: float, variance: float, margin: float, alpha: float) -> int | None:
    """Roughly how many pairs in all a fixed-n test at ``alpha`` needs to settle ``delta`` against ``-margin``,
    if the observed difference and variance held (normal approximation); None when they sit on the margin."""
    from scipy import stats

    gap = abs(delta + margin)
    if gap < 1e-9:
        return None
    return math.ceil(stats.norm.ppf(1 - alpha) ** 2 * max(variance, 1e-6) / gap**2)


def _is_trinomial(d: np.ndarray) -> bool:
    return bool(np.isin(d, (-1.0, 0.0, 1.0)).all())


def difference_bounds(differences: Sequence[float], alpha_low: float, alpha_high: float) -> tuple[float, float]:
    """Lower (1 - alpha_low) and upper (1 - alpha_high) one-sided bounds on the mean paired difference.

    Right/wrong scores give differences in {-1, 0, 1}: Tango's score bounds. Graded scores
    (DROP F1) have no trinomial: a Student t interval on the differences.
    """
    from scipy import stats

    d = np.asarray(differences, dtype=float)
    if d.size == 0:
        return -1.0, 1.0
    if _is_trinomial(d):
        worse, better = int(np.sum(d < 0)), int(np.sum(d > 0))
        return (float(score_bound(worse, better, d.size, alpha_low, upper=False)),
                float(score_bound(worse, better, d.size, alpha_high, upper=True)))
    if d.size < 2:
        return -1.0, 1.0
    se = float(d.std(ddof=1)) / math.sqrt(d.size)
    mean = float(d.mean())
    return (max(-1.0, mean - stats.t.ppf(1 - alpha_low, d.size - 1) * se),
            min(1.0, mean + stats.t.ppf(1 - alpha_high, d.size - 1) * se))


def design_effect(differences: Sequence[float], clusters: Sequence[str | None]) -> float:
    """How much clustering inflates the variance of the mean paired difference: the clustered
    variance over the independent one, deff = SE²_clustered / (s² / n) (Kish 1965, "Survey
    Sampling", §8.2; SE_clustered is :func:`clustered_se`, Miller 2024 §2). Taken as at least 1, so
    clusters never narrow a gate's bounds; 1 when the differences have no spread (nothing to inflate)
    or fewer than two clusters."""
    d = np.asarray(differences, dtype=float)
    if d.size < 2 or float(d.var(ddof=1)) == 0.0:
        return 1.0
    se = clustered_se(d, clusters)
    if math.isnan(se):
        return 1.0
    return max(1.0, se**2 / (float(d.var(ddof=1)) / d.size))


def clustered_difference_bounds(differences: Sequence[float], clusters: Sequence[str | None], alpha_low: float,
                                alpha_high: float) -> tuple[tuple[float, float], float]:
    """:func:`difference_bounds` when questions cluster, and the design effect it used.

    Right/wrong scores: Tango's score bounds on counts divided by the design effect (the Rao-Scott
    adjustment for clustered binary data: Rao & Scott 1992, "A simple method for the analysis of
    clustered binary data", Biometrics 48:577-585 — the clustered sample carries the information of
    n / deff independent ones). Graded scores: a Student t interval on the clustered SE with G - 1
    degrees of freedom for G clusters (Cameron & Miller 2015, "A Practitioner's Guide to
    Cluster-Robust Inference", §VI.C).
    """
    from scipy import stats

    d = np.asarray(differences, dtype=float)
    deff = design_effect(d, clusters)
    if d.size == 0:
        return (-1.0, 1.0), deff
    if _is_trinomial(d):
        worse, better = np.sum(d < 0) / deff, np.sum(d > 0) / deff
        n = d.size / deff
        return ((float(score_bound(worse, better, n, alpha_low, upper=False)),
                 float(score_bound(worse, better, n, alpha_high, upper=True))), deff)
    groups = int(cluster_labels(clusters).max()) + 1
    se = clustered_se(d, clusters)
    if groups < 2 or math.isnan(se):
        return (-1.0, 1.0), deff
    mean = float(d.mean())
    return ((max(-1.0, mean - stats.t.ppf(1 - alpha_low, groups - 1) * se),
             min(1.0, mean + stats.t.ppf(1 - alpha_high, groups - 1) * se)), deff)


def difference_variance(differences: Sequence[float], delta0: float) -> float:
    """The variance of one paired difference that the bounds above use, at delta0."""
    d = np.asarray(differences, dtype=float)
    if d.size and _is_trinomial(d):
        return float(tango_variance(int(np.sum(d < 0)), int(np.sum(d > 0)), d.size, delta0))
    return float(d.var(ddof=1)) if d.size > 1 else 0.25
