"""Metrics with confidence intervals.

Bootstrap CIs resample test items with replacement (percentile method, Efron & Tibshirani 1993).
A share of a few hundred cases or fewer gets an exact (Clopper-Pearson) interval,
:func:`exact_share`, which behaves at 0 and 1 where the bootstrap collapses to zero width; a
difference of two shares gets Newcombe's hybrid score interval, :func:`share_difference`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy import stats
from sklearn.metrics import average_precision_score, f1_score, roc_auc_score, roc_curve


@dataclass(frozen=True)
class Estimate:
    value: float
    ci_low: float
    ci_high: float
    n: int


def bootstrap_ci(metric: Callable[..., float], *arrays: np.ndarray, rng: np.random.Generator,
                 n_boot: int = 1000, alpha: float = 0.05) -> Estimate:
    """``metric(*arrays)`` with a percentile bootstrap CI over the rows of ``arrays``.

    Resamples in which the metric is undefined (one class only, for AUROC) are skipped.
    """
    arrays = tuple(np.asarray(a) for a in arrays)
    n = len(arrays[0])
    value = float(metric(*arrays))
    draws = []
    for _ in range(n_boot):
        idx = rng.integers(0, n, n)
        try:
            draws.append(float(metric(*(a[idx] for a in arrays))))
        except ValueError:
            continue
    draws = np.asarray([d for d in draws if np.isfinite(d)])
    if len(draws) < max(10, n_boot // 10):
        return Estimate(value, float("nan"), float("nan"), n)
    low, high = np.quantile(draws, [alpha / 2, 1 - alpha / 2])
    return Estimate(value, float(low), float(high), n)


def proportion_ci(successes: int, n: int, alpha: float = 0.05) -> Estimate:
    """A share with its Wilson score interval."""
    if n == 0:
        return Estimate(float("nan"), float("nan"), float("nan"), 0)
    z = stats.norm.ppf(1 - alpha / 2)
    p = successes / n
    denom = 1 + z**2 / n
    centre = (p + z**2 / (2 * n)) / denom
    half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / denom
    return Estimate(float(p), float(max(0.0, centre - half)), float(min(1.0, centre + half)), n)


def exact_share(successes: int, n: int, alpha: float = 0.05) -> Estimate:
    """A share with its exact Clopper-Pearson interval (scipy's ``binomtest``); 35/35 -> [0.900, 1]."""
    successes, n = int(successes), int(n)
    if n == 0:
        return Estimate(float("nan"), float("nan"), float("nan"), 0)
    if not 0 <= successes <= n:
        raise ValueError(f"exact_share: {successes} successes out of {n} cases")
    ci = stats.binomtest(successes, n).proportion_ci(1 - alpha, method="exact")
    return Estimate(successes / n, float(ci.low), float(ci.high), n)


def share_difference(k1: int, n1: int, k2: int, n2: int, alpha: float = 0.05) -> Estimate:
    """k1/n1 - k2/n2 with Newcombe's hybrid score interval (Newcombe 1998, method 10).

    Built from the two Wilson intervals, it never has zero width; for paired shares (the same
    cases under two models) it is conservative, since it ignores their positive correlation.
    ``n`` of the result is the smaller of the two counts.
    """
    if n1 == 0 or n2 == 0:
        return Estimate(float("nan"), float("nan"), float("nan"), 0)
    a, b = proportion_ci(k1, n1, alpha), proportion_ci(k2, n2, alpha)
    d = a.value - b.value
    low = d - np.sqrt((a.value - a.ci_low) ** 2 + (b.ci_high - b.value) ** 2)
    high = d + np.sqrt((a.ci_high - a.value) ** 2 + (b.value - b.ci_low) ** 2)
    return Estimate(float(d), float(low), float(high), min(int(n1), int(n2)))


def flip_counts(y_true: np.ndarray, pred_clean: np.ndarray, pred_triggered: np.ndarray,
                target: int) -> tuple[int, int]:
    """(flipped, eligible) for the usual backdoor attack-success rate.

    Eligible: test cases of a non-target class that the model classifies correctly without the
    trigger. Flipped: those of them that the trigger sends to ``target``. The flip rate
    flipped / eligible is what the attack adds beyond the model's own errors.
    """
    y, clean, trig = (np.asarray(a) for a in (y_true, pred_clean, pred_triggered))
    eligible = (y != target) & (clean == y)
    return int((eligible & (trig == target)).sum()), int(eligible.sum())


def two_sided_auroc(estimate: Estimate) -> Estimate:
    """max(AUROC, 1 - AUROC) with its interval folded the same way.

    A detector that ranks triggered inputs consistently *lower* separates them as well as one
    that ranks them higher; a stealth claim must survive both readings.
    """
    v, lo, hi = estimate.value, estimate.ci_low, estimate.ci_high
    folded = max(v, 1 - v)
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return Estimate(folded, float("nan"), float("nan"), estimate.n)
    if lo >= 0.5:
        return Estimate(folded, lo, hi, estimate.n)
    if hi <= 0.5:
        return Estimate(folded, 1 - hi, 1 - lo, estimate.n)
    return Estimate(folded, 0.5, max(hi, 1 - lo), estimate.n)


def mean_ci(values: np.ndarray, alpha: float = 0.05, bounds: tuple[float, float] | None = None) -> Estimate:
    """Mean with a t interval (for a handful of per-seed values).

    ``bounds``: the range the quantity can take, e.g. (0, 1) for a share or an AUROC; the t interval
    is clipped to it (on two seeds it is wide, and a share's interval must not reach below 0).
    """
    values = np.asarray(values, dtype=float)
    n = len(values)
    mean = float(values.mean()) if n else float("nan")
    if n < 2:
        return Estimate(mean, float("nan"), float("nan"), n)
    half = stats.t.ppf(1 - alpha / 2, n - 1) * values.std(ddof=1) / np.sqrt(n)
    low, high = mean - half, mean + half
    if bounds is not None:
        low, high = max(low, bounds[0]), min(high, bounds[1])
    return Estimate(mean, low, high, n)


def auroc(y_true: np.ndarray, score: np.ndarray) -> float:
    return float(roc_auc_score(y_true, score))


def auprc(y_true: np.ndarray, score: np.ndarray) -> float:
    return float(average_precision_score(y_true, score))


def accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return float(np.mean(np.asarray(y_true) == np.asarray(y_pred)))


def macro_f1(y_true: np.ndarray, y_pred: np.ndarray, labels=None) -> float:
    return float(f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0))


def tpr_at_fpr(y_true: np.ndarray, score: np.ndarray, fpr_target: float = 0.05) -> float:
    """Detection rate at a false-positive rate no higher than ``fpr_target`` (higher score = more suspicious)."""
    fpr, tpr, _ = roc_curve(y_true, score)
    ok = fpr <= fpr_target
    return float(tpr[ok].max()) if ok.any() else 0.0
