"""Metrics of a job and their bootstrap replicates, computed for all resamples at once.

A job draws ``B`` resamples of its test stays once (multinomial counts, one row per resample) and
evaluates every metric on the same resamples, so a difference of two metrics (poisoned minus
clean-model ASR, AUPRC change) gets a paired CI. Weighted AUROC/AUPRC/TPR-at-FPR below equal
scikit-learn's ``roc_auc_score``/``average_precision_score``/``roc_curve`` on the resampled data
(ties included) and are checked against them in the tests; computing them on count weights keeps
1,000 resamples of 1,800 stays at a few milliseconds per metric.

Across seeds (:func:`seed_bootstrap`) the percentile CI comes from a two-level bootstrap: each
replicate resamples the seeds with replacement, then averages those seeds' test-set replicates,
so the interval carries both seed-to-seed and test-sampling variation.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from medrobust.core.seeding import make_rng


def resample_counts(n: int, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """(n_boot, n) bootstrap counts; row b says how often each item appears in resample b."""
    if n == 0 or n_boot == 0:
        return np.zeros((n_boot, n))
    return rng.multinomial(n, np.full(n, 1.0 / n), size=n_boot).astype(np.float64)


def _sorted_class_weights(y: np.ndarray, score: np.ndarray, weights: np.ndarray,
                          descending: bool) -> tuple[np.ndarray, np.ndarray]:
    """Per distinct score (in order) and resample: summed weights of positives and negatives, (G, B).

    Items run along axis 0 so each reduction adds whole contiguous rows of B resamples; pass
    Fortran-ordered weights (as :func:`with_full_sample` returns) to make the transpose free.
    """
    y = np.asarray(y).astype(bool)
    score = np.asarray(score, dtype=float)
    order = np.argsort(-score if descending else score, kind="mergesort")
    s = score[order]
    wt = np.atleast_2d(weights).T[order]                  # (n, B)
    pos = wt * y[order][:, None]
    neg = wt - pos
    if len(s) > 1 and np.any(s[1:] == s[:-1]):            # ties: one group per distinct score
        starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])
        pos, neg = np.add.reduceat(pos, starts, axis=0), np.add.reduceat(neg, starts, axis=0)
    return pos, neg


def weighted_auroc(y: np.ndarray, score: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """AUROC per weight row (weights: (B, n)); NaN where a row lacks a class."""
    pos, neg = _sorted_class_weights(y, score, weights, descending=False)
    below = np.cumsum(neg, axis=0) - neg
    total = pos.sum(0) * neg.sum(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, (pos * (below + 0.5 * neg)).sum(0) / total, np.nan)


def weighted_auprc(y: np.ndarray, score: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Average precision (step-wise, as scikit-learn) per weight row; NaN without positives."""
    pos, neg = _sorted_class_weights(y, score, weights, descending=True)
    tp = np.cumsum(pos, axis=0)
    predicted = tp + np.cumsum(neg, axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(predicted > 0, tp / predicted, 0.0)
        n_pos = pos.sum(0)
        return np.where(n_pos > 0, (pos * precision).sum(0) / n_pos, np.nan)


def weighted_tpr_at_fpr(y: np.ndarray, score: np.ndarray, weights: np.ndarray, fpr: float = 0.05) -> np.ndarray:
    """Highest TPR at an FPR <= ``fpr`` per weight row (higher score = flagged)."""
    return weighted_detection(y, score, weights, fpr)[1]


def weighted_detection(y: np.ndarray, score: np.ndarray, weights: np.ndarray,
                       fpr: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """(AUROC, TPR at FPR <= ``fpr``) per weight row from one sort, for the input checks."""
    pos, neg = _sorted_class_weights(y, score, weights, descending=True)
    tp, fp = np.cumsum(pos, axis=0), np.cumsum(neg, axis=0)
    n_pos, n_neg = tp[-1], fp[-1]
    ok = (n_pos > 0) & (n_neg > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        below = n_neg - fp  # negatives scored strictly lower than each group
        auroc = (pos * (below + 0.5 * neg)).sum(0) / (n_pos * n_neg)
        tpr, fpr_c = tp / n_pos, fp / n_neg
    best = np.where(fpr_c <= fpr + 1e-12, tpr, 0.0).max(axis=0)
    return np.where(ok, auroc, np.nan), np.where(ok, best, np.nan)


def predicted_target(p_death: np.ndarray, target: int) -> np.ndarray:
    """Which stays a victim assigns to ``target`` at the 0.5 decision threshold."""
    return (p_death >= 0.5) if target == 1 else (p_death < 0.5)


def weighted_share(hit: np.ndarray, among: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Weighted share of ``hit`` among the items where ``among`` is true, per weight row."""
    weights = np.atleast_2d(weights)
    denom = (weights * among).sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denom > 0, (weights * (among & hit)).sum(1) / denom, np.nan)


@dataclass
class MetricSink:
    """Collects (key, point value, replicates, n) of one job; key = (model, attack, defense, setting, metric)."""

    n_boot: int
    keys: list[tuple[str, str, str, str, str]] = field(default_factory=list)
    values: list[float] = field(default_factory=list)
    replicates: list[np.ndarray] = field(default_factory=list)
    ns: list[int] = field(default_factory=list)

    def add(self, key: tuple[str, str, str, str, str], with_point: np.ndarray, n: int) -> np.ndarray:
        """``with_point``: (B + 1,) values, row 0 on the full test set, rows 1.. on the resamples."""
        with_point = np.asarray(with_point, dtype=float)
        if not np.isfinite(with_point[0]):
            return with_point
        self.keys.append(key)
        self.values.append(float(with_point[0]))
        self.replicates.append(with_point[1:])
        self.ns.append(int(n))
        return with_point

    def arrays(self) -> dict[str, np.ndarray]:
        return {"keys": np.array(["|".join(k) for k in self.keys], dtype=str),
                "values": np.asarray(self.values, dtype=float),
                "replicates": (np.stack(self.replicates) if self.replicates
                               else np.zeros((0, self.n_boot))),
                "n": np.asarray(self.ns, dtype=np.int64)}


def job_weights(base_seed: int, model: str, seed_index: int, n: int, n_boot: int) -> np.ndarray:
    """The (B + 1, n) test weights of one (model, seed) job: the full set, then its resamples.

    A pure function of its arguments, so ``ehr_collect`` can rebuild a job's resamples exactly.
    """
    return with_full_sample(resample_counts(n, n_boot, make_rng(base_seed, "ehr", "bootstrap", model, seed_index)))


def with_full_sample(counts: np.ndarray) -> np.ndarray:
    """Prepend a row of ones (the full test set) to resample counts; Fortran order (see above).

    float32 halves the memory traffic; counts and their sums stay exact far beyond 10^6 stays.
    """
    return np.asfortranarray(np.vstack([np.ones((1, counts.shape[1])), counts]), dtype=np.float32)


def seed_bootstrap(replicates: np.ndarray, rng: np.random.Generator, alpha: float = 0.05) -> tuple[float, float, np.ndarray]:
    """Two-level percentile CI from (S seeds, B) replicates; also returns the B combined replicates."""
    s, b = replicates.shape
    pick = rng.integers(0, s, size=(b, s)) if s > 1 else np.zeros((b, 1), dtype=int)
    combined = np.nanmean(replicates[pick, np.arange(b)[:, None]], axis=1) if b else np.zeros(0)
    finite = combined[np.isfinite(combined)]
    if len(finite) < max(10, b // 10):
        return float("nan"), float("nan"), combined
    low, high = np.quantile(finite, [alpha / 2, 1 - alpha / 2])
    return float(low), float(high), combined
