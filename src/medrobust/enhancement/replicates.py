"""Estimates pooled over the study's data draws, with intervals that neither draw noise nor sampling
noise can hide.

The study repeats everything on ``draws`` independent samples of stays (a different release,
external and reference sample each time; other attack seeds and CV folds too). A pooled estimate's
95% interval is the wider (the hull) of two intervals:

* the interval on all draws' cases pooled: exact Clopper-Pearson for a share
  (:func:`medrobust.core.metrics.exact_share`), a paired percentile bootstrap over cases for a
  difference between two models or two versions on the same cases (:func:`paired_difference`);
* the t interval of the per-draw values across draws (:func:`medrobust.core.metrics.mean_ci`),
  which carries the variation between samples of stays, attack seeds and folds.

With one draw only the first exists. The point estimate is the pooled one. (A generic helper that
core could hold; written here because a study does not edit core.)
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from medrobust.core.metrics import Estimate, exact_share, mean_ci

CHANCE = 0.5


def widen(pooled: Estimate, per_draw: Sequence[float], bounds: tuple[float, float] = (-np.inf, np.inf)) -> Estimate:
    """``pooled`` with its interval widened to cover the t interval of ``per_draw`` (clipped to ``bounds``)."""
    spread = mean_ci(np.asarray(per_draw, dtype=np.float64))
    low, high = pooled.ci_low, pooled.ci_high
    if np.isfinite(spread.ci_low) and np.isfinite(spread.ci_high):
        low = spread.ci_low if not np.isfinite(low) else min(low, spread.ci_low)
        high = spread.ci_high if not np.isfinite(high) else max(high, spread.ci_high)
    return Estimate(pooled.value, float(max(low, bounds[0])), float(min(high, bounds[1])), pooled.n)


def pooled_share(successes: Sequence[int], totals: Sequence[int]) -> Estimate:
    """sum(successes) / sum(totals) over draws; exact interval widened by the spread of the per-draw shares."""
    k, n = np.asarray(successes, dtype=np.int64), np.asarray(totals, dtype=np.int64)
    if n.sum() == 0:
        return Estimate(float("nan"), float("nan"), float("nan"), 0)
    per_draw = [a / b for a, b in zip(k, n) if b > 0]
    return widen(exact_share(int(k.sum()), int(n.sum())), per_draw, (0.0, 1.0))


def lead(a: np.ndarray, b: np.ndarray, floor: float | None = None) -> np.ndarray:
    """Mean of ``a`` minus mean of ``b`` along the last axis; with ``floor``, minus max(mean of b, floor)."""
    b_mean = b.mean(axis=-1)
    if floor is not None:
        b_mean = np.maximum(b_mean, floor)
    return a.mean(axis=-1) - b_mean


def paired_difference(a: Sequence[np.ndarray], b: Sequence[np.ndarray], rng: np.random.Generator, n_boot: int,
                      floor: float | None = None, alpha: float = 0.05) -> Estimate:
    """Mean of ``a`` minus mean of ``b`` (per-case values, e.g. 1 = correct) on the same cases, pooled over
    draws (``a[d]``, ``b[d]`` the cases of draw d). With ``floor``, ``b``'s mean counts as at least ``floor``
    (:data:`CHANCE` for "the lead over the better of the other model and chance").

    Interval: percentile bootstrap of the pooled cases, resampling (a, b) pairs within each draw
    (vectorised: one index matrix per draw), widened by the t interval of the per-draw values."""
    if not len(a) or sum(len(x) for x in a) == 0:
        return Estimate(float("nan"), float("nan"), float("nan"), 0)
    a = [np.asarray(x, dtype=np.float64) for x in a]
    b = [np.asarray(x, dtype=np.float64) for x in b]
    a_all, b_all = np.concatenate(a), np.concatenate(b)
    value = float(lead(a_all, b_all, floor))
    a_boot, b_boot = [], []
    for x, y in zip(a, b):
        idx = rng.integers(0, len(x), (n_boot, len(x)))
        a_boot.append(x[idx])
        b_boot.append(y[idx])
    draws = lead(np.concatenate(a_boot, axis=1), np.concatenate(b_boot, axis=1), floor)
    low, high = np.quantile(draws, [alpha / 2, 1 - alpha / 2])
    per_draw = [float(lead(x, y, floor)) for x, y in zip(a, b)]
    return widen(Estimate(value, float(low), float(high), len(a_all)), per_draw)


def mean_over_draws(per_draw: Sequence[float], n: int) -> Estimate:
    """Mean of a per-draw statistic with its t interval across draws (NaN interval for one draw)."""
    est = mean_ci(np.asarray(per_draw, dtype=np.float64))
    return Estimate(est.value, est.ci_low, est.ci_high, int(n))
